/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A real repository in a temporary folder for fuzz-repo and the seed
 * generator: password and recovery key, one Standard category backed up
 * once from a small generated folder. The harness keeps the writing session
 * open: it holds the keys (as a removed device or a stolen password would)
 * and seals hostile objects with the engine's own functions. */
#include <glib/gstdio.h>

#include "coffer-repository.h"
#include "coffer-repository-private.h"
#include "coffer-store.h"

#define FUZZ_REPO_PASSWORD "fuzz repository password"

typedef struct
{
  char               *root;      /* temporary folder */
  char               *store_dir; /* the repository */
  CofferStore        *store;
  CofferRepository   *writer;
  CofferSecret       *rk;
  char               *cid;
  CofferCategoryKeys *keys;      /* owned by writer */
  CofferSnapshot     *snapshot;
} FuzzRepo;

static inline void
fuzz_repo_setup (FuzzRepo *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) pw = coffer_secret_new_from_string (FUZZ_REPO_PASSWORD);
  g_autoptr(CofferCategory) cat = NULL;
  g_autofree char *src = NULL, *sub = NULL, *home = NULL, *data = NULL, *cache = NULL, *config = NULL;
  g_autoptr(GPtrArray) skipped = NULL;
  const char *paths[2] = { NULL, NULL };

  r->root = g_dir_make_tmp ("coffer-fuzz-repo-XXXXXX", &error);
  g_assert_no_error (error);
  home = g_build_filename (r->root, "home", NULL);
  data = g_build_filename (r->root, "data", NULL);
  cache = g_build_filename (r->root, "cache", NULL);
  config = g_build_filename (r->root, "config", NULL);
  g_mkdir_with_parents (home, 0700);
  g_setenv ("HOME", home, TRUE);
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);

  r->store_dir = g_build_filename (r->root, "store", NULL);
  src = g_build_filename (r->root, "src", NULL);
  sub = g_build_filename (src, "sub", NULL);
  g_mkdir_with_parents (r->store_dir, 0700);
  g_mkdir_with_parents (sub, 0700);
  {
    g_autofree char *a = g_build_filename (src, "a.txt", NULL);
    g_autofree char *b = g_build_filename (sub, "b.bin", NULL);
    g_autofree char *l = g_build_filename (src, "link", NULL);
    guint8 buf[3000];

    for (guint i = 0; i < sizeof buf; i++)
      buf[i] = (guint8) (i * 7 + i / 13);
    fuzz_write_file (a, (const guint8 *) "hello fuzzer\n", 13);
    fuzz_write_file (b, buf, sizeof buf);
    g_assert_cmpint (symlink ("a.txt", l), ==, 0);
  }

  r->store = coffer_store_open (r->store_dir, NULL, &error);
  g_assert_no_error (error);
  r->writer = coffer_repository_create (r->store, pw, "fuzz computer", &r->rk, NULL, &error);
  g_assert_no_error (error);
  paths[0] = src;
  cat = coffer_repository_add_category (r->writer, "Docs", COFFER_LEVEL_STANDARD, paths, NULL,
                                        NULL, &error);
  g_assert_no_error (error);
  r->cid = g_strdup (cat->id);
  r->snapshot = coffer_backup_run (r->writer, r->cid, NULL, NULL, &skipped, NULL, &error);
  g_assert_no_error (error);
  r->keys = _coffer_repository_get_category (r->writer, r->cid, NULL, &error);
  g_assert_no_error (error);
}

/* The names of the objects below prefix (sorted). */
static gboolean
fuzz_repo_collect (const char *name, guint64 size, gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup (name));
  return TRUE;
}

static inline GPtrArray *
fuzz_repo_list (FuzzRepo *r, const char *prefix)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  coffer_store_list (r->store, prefix, fuzz_repo_collect, names, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_sort (names, _coffer_compare_strings);
  return names;
}
