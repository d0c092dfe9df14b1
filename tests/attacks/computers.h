/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Several "computers" in one test program, for the device attacks: each
 * computer is its own XDG data and cache folder (local state, device key
 * sealed under the password since COFFER_KEYRING=none), swapped into place
 * by renaming, so the engine sees exactly what that computer would see.
 * Header-only so that a test stays one file plus repo-fixture.c. */
#include <string.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"
#include "coffer-device.h"
#include "coffer-repository-private.h"

#define COMPUTERS_PASSWORD "correct horse battery staple"

static char *computers_current;

/* Makes `name` the computer the following engine calls run on. Every
 * CofferRepository of the previous computer must be released first. */
static void
use_computer (const char *name)
{
  const char *dirs[] = { g_get_user_data_dir (), g_get_user_cache_dir () };

  if (g_strcmp0 (computers_current, name) == 0)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *mine = g_strdup_printf ("%s.computer-%s", dirs[i], name);

      if (computers_current != NULL)
        {
          g_autofree char *aside = g_strdup_printf ("%s.computer-%s", dirs[i], computers_current);
          g_assert_cmpint (g_rename (dirs[i], aside), ==, 0);
        }
      else if (g_file_test (dirs[i], G_FILE_TEST_EXISTS))
        coffer_test_rmtree (dirs[i]);
      if (g_file_test (mine, G_FILE_TEST_EXISTS))
        g_assert_cmpint (g_rename (mine, dirs[i]), ==, 0);
      else
        g_assert_cmpint (g_mkdir_with_parents (dirs[i], 0700), ==, 0);
    }
  g_free (computers_current);
  computers_current = g_strdup (name);
}

/* Opens on the current computer, unlocked with its device key (and the
 * recovery key when rk is not NULL); asserts success. */
static CofferRepository *
open_as (const char *store_dir, const CofferSecret *rk)
{
  g_autoptr(GError) error = NULL;
  CofferRepository *repo = fixture_open (store_dir, COMPUTERS_PASSWORD, rk, &error);

  g_assert_no_error (error);
  return repo;
}

static CofferRepository *
open_locked (const char *store_dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = fixture_store (store_dir);
  g_autoptr(CofferSecret) pw = fixture_secret (COMPUTERS_PASSWORD);
  CofferRepository *repo = coffer_repository_open (store, NULL, &error);

  g_assert_no_error (error);
  coffer_repository_set_password (repo, pw);
  return repo;
}

/* The whole join of computer `who`, approved on computer `by` (which
 * holds the recovery key only when rk is not NULL). Returns the device id. */
static char *
join_computer (const char *store_dir, const char *who, const char *name, const char *by, const CofferSecret *rk)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *code = NULL;
  g_autofree char *none = NULL;

  use_computer (who);
  {
    g_auto(FixtureRepository) repo = open_locked (store_dir);
    g_assert_true (coffer_repository_request_join (repo, name, &id, NULL, NULL, &error));
    g_assert_no_error (error);
  }
  use_computer (by);
  {
    g_auto(FixtureRepository) repo = open_as (store_dir, rk);
    g_assert_true (coffer_repository_get_join_code (repo, id, &none, NULL, &error));
    g_assert_null (none);
  }
  use_computer (who);
  {
    g_auto(FixtureRepository) repo = open_locked (store_dir);
    g_assert_true (coffer_repository_get_join_status (repo, &code, NULL, NULL, &error));
    g_assert_nonnull (code);
  }
  use_computer (by);
  {
    g_auto(FixtureRepository) repo = open_as (store_dir, rk);
    g_assert_true (coffer_repository_approve_device (repo, id, code, NULL, &error));
    g_assert_no_error (error);
  }
  use_computer (who);
  {
    g_auto(FixtureRepository) repo = open_locked (store_dir);
    g_assert_true (coffer_repository_complete_join (repo, NULL, &error));
    g_assert_no_error (error);
  }
  return g_steal_pointer (&id);
}

static char *
store_path (const char *store_dir, const char *object)
{
  return g_build_filename (store_dir, object, NULL);
}

static GBytes *
read_object (const char *store_dir, const char *object)
{
  g_autofree char *path = store_path (store_dir, object);
  return fixture_read (path);
}

static void
write_object (const char *store_dir, const char *object, GBytes *bytes)
{
  g_autofree char *path = store_path (store_dir, object);
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL));
}

/* A small Advanced category "Notes" with a backup; returns its id. */
static char *
notes_category (CofferRepository *repo, const char *src)
{
  g_autofree char *file = g_build_filename (src, "n.txt", NULL);
  g_autoptr(CofferSnapshot) snap = NULL;
  char *cid;

  g_assert_cmpint (g_mkdir_with_parents (src, 0700), ==, 0);
  coffer_test_write_random (file, 5000, 1);
  cid = fixture_add_category (repo, "Notes", COFFER_LEVEL_ADVANCED, src);
  snap = fixture_backup (repo, cid);
  return cid;
}

/* Restores the latest Notes snapshot; FALSE (with the reason logged) when
 * this computer cannot. */
static gboolean
try_restore_latest (CofferRepository *repo, const char *cid, const char *target)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSnapshot) snap = coffer_repository_find_snapshot (repo, cid, "latest", NULL, &error);
  g_autoptr(GPtrArray) conflicts = NULL;

  if (snap == NULL || !coffer_restore_run (repo, cid, snap, NULL, target, COFFER_RESTORE_DEFAULT, NULL, NULL,
                                           &conflicts, NULL, &error))
    {
      g_test_message ("restore refused: %s", error->message);
      return FALSE;
    }
  return TRUE;
}
