/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The storage puts back an old, authentic meta/<cid> (docs/SECURITY.md
 * "Freshness of category descriptions"):
 *
 *   downgrade  a Standard category's description, saved before the switch
 *              to Advanced: listed as "standard", and the next password
 *              change sealed the Advanced-only epoch under the new
 *              password, so a new computer restored the post-switch backup
 *              with the password alone;
 *   counter    an older description under the same epoch (old folders);
 *   removed    a removed category put back;
 *   config     config rolled back from format version 3 to 1;
 *   accept     the user accepts a rollback with the recovery key.
 *
 * The adversary only copies and writes files in the local store folder. */
#include <string.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"

#define PASSWORD "meta replay password"
#define NEW_PASSWORD "a new password after the replay"
#define SECRET "POST-SWITCH-SECRET-51c0"

typedef struct
{
  char *store_dir;
  char *src;
} Env;

static void
env_init (Env *e)
{
  e->store_dir = fixture_dir ("store");
  e->src = fixture_dir ("src");
  fixture_make_small_tree (e->src, 3);
}

static void
env_clear (Env *e)
{
  g_free (e->store_dir);
  g_free (e->src);
}

static GBytes *
get_object (const Env *e, const char *name)
{
  g_autofree char *path = g_build_filename (e->store_dir, name, NULL);
  return fixture_read (path);
}

/* The adversary writes an object (store files are read-only). */
static void
put_object (const Env *e, const char *name, GBytes *bytes)
{
  g_autofree char *path = g_build_filename (e->store_dir, name, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_mkdir_with_parents (dir, 0700);
  g_chmod (path, 0644);
  g_file_set_contents (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
}

static gboolean
object_exists (const Env *e, const char *name)
{
  g_autofree char *path = g_build_filename (e->store_dir, name, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
test_downgrade (void)
{
  Env e;
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_auto(FixtureRepository) again = NULL;
  g_autoptr(CofferSecret) new_pw = fixture_secret (NEW_PASSWORD);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) old_meta = NULL;
  g_autoptr(CofferSnapshot) before = NULL, after = NULL;
  g_autoptr(GPtrArray) cats = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *meta = NULL;
  g_autofree char *pw_env = NULL;
  g_autofree char *secret_path = NULL;

  env_init (&e);
  repo = fixture_create (e.store_dir, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Diary", COFFER_LEVEL_STANDARD, e.src);
  meta = g_strdup_printf ("meta/%s", cid);
  pw_env = g_strdup_printf ("categories/%s/keys/password", cid);
  before = fixture_backup (repo, cid);
  old_meta = get_object (&e, meta);

  g_assert_true (coffer_repository_set_level (repo, cid, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (object_exists (&e, pw_env));
  secret_path = g_build_filename (e.src, "after-the-switch.txt", NULL);
  g_assert_true (g_file_set_contents (secret_path, SECRET, -1, NULL));
  after = fixture_backup (repo, cid);
  fixture_close (&repo);

  /* The storage puts the pre-switch description back. */
  put_object (&e, meta, old_meta);

  /* This computer: refused as rolled back, naming the cause, not listed
   * as "standard". */
  repo = fixture_open (e.store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
  g_assert_null (cats);
  g_assert_nonnull (strstr (error->message, "epoch"));
  g_assert_nonnull (strstr (error->message, "rolled back"));
  g_clear_error (&error);

  /* The password change does not seal the Advanced-only epoch. */
  g_assert_false (coffer_repository_change_password (repo, new_pw, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
  g_clear_error (&error);
  g_assert_false (object_exists (&e, pw_env));
  fixture_close (&repo);

  /* A new computer with either password alone gets nothing of it. */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GPtrArray) snaps = NULL;

      fixture_fresh_computer ();
      again = fixture_open (e.store_dir, i == 0 ? PASSWORD : NEW_PASSWORD, NULL, &error);
      g_assert_no_error (error);
      snaps = coffer_repository_list_snapshots (again, cid, NULL, &error);
      g_assert_null (snaps);
      g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY);
      g_clear_error (&error);
      fixture_close (&again);
    }
  env_clear (&e);
}

static void
test_counter (void)
{
  Env e;
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) old_meta = NULL;
  g_autoptr(CofferCategory) cat = NULL;
  g_autoptr(GPtrArray) cats = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *meta = NULL;
  g_autofree char *other = NULL;

  fixture_fresh_computer ();
  env_init (&e);
  other = fixture_dir ("other-folder");
  repo = fixture_create (e.store_dir, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Work", COFFER_LEVEL_ADVANCED, e.src);
  meta = g_strdup_printf ("meta/%s", cid);
  old_meta = get_object (&e, meta);

  /* The user moves the category to another folder; same key epoch. */
  cat = coffer_repository_find_category (repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_strfreev (cat->paths);
  cat->paths = g_strdupv ((char *[]) { other, NULL });
  g_assert_true (coffer_repository_update_category (repo, cat, NULL, &error));
  g_assert_no_error (error);
  fixture_close (&repo);

  put_object (&e, meta, old_meta);
  repo = fixture_open (e.store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
  g_assert_null (cats);
  g_assert_nonnull (strstr (error->message, "older than the one this computer has seen"));
  g_clear_error (&error);

  /* Accepting needs the recovery key; a wrong one changes nothing. */
  {
    g_autoptr(CofferSecret) wrong = NULL;
    guint8 raw[16] = { 1, 2, 3 };

    wrong = coffer_secret_new_from_data (raw, sizeof raw);
    g_assert_false (coffer_repository_accept_rollback (repo, wrong, NULL, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    cats = coffer_repository_list_categories (repo, NULL, &error);
    g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
    g_clear_error (&error);
  }
  g_assert_true (coffer_repository_accept_rollback (repo, rk, NULL, &error));
  g_assert_no_error (error);
  fixture_close (&repo);

  /* Accepted: the old folders are the state now, also in a new session. */
  repo = fixture_open (e.store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cats->len, ==, 1);
  g_assert_cmpstr (((CofferCategory *) cats->pdata[0])->paths[0], ==, e.src);
  env_clear (&e);
}

static void
test_removed (void)
{
  Env e;
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) saved = NULL;
  g_autoptr(GPtrArray) saved_bytes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GPtrArray) cats = NULL;
  g_autoptr(CofferCategory) found = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autofree char *keep = NULL;
  g_autofree char *gone = NULL;
  g_autofree char *meta = NULL;
  g_autofree char *prefix = NULL;

  fixture_fresh_computer ();
  env_init (&e);
  repo = fixture_create (e.store_dir, PASSWORD, &rk);
  keep = fixture_add_category (repo, "Kept", COFFER_LEVEL_STANDARD, e.src);
  gone = fixture_add_category (repo, "Removed", COFFER_LEVEL_STANDARD, e.src);
  snap = fixture_backup (repo, gone);
  meta = g_strdup_printf ("meta/%s", gone);
  prefix = g_strdup_printf ("categories/%s", gone);
  saved = fixture_list_objects (e.store_dir, prefix);
  g_ptr_array_add (saved, g_strdup (meta));
  for (guint i = 0; i < saved->len; i++)
    g_ptr_array_add (saved_bytes, get_object (&e, saved->pdata[i]));
  g_assert_true (coffer_repository_remove_category (repo, gone, NULL, &error));
  g_assert_no_error (error);
  fixture_close (&repo);

  /* Everything of the removed category comes back. */
  for (guint i = 0; i < saved->len; i++)
    put_object (&e, saved->pdata[i], saved_bytes->pdata[i]);

  repo = fixture_open (e.store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cats->len, ==, 1);
  g_assert_cmpstr (((CofferCategory *) cats->pdata[0])->id, ==, keep);
  found = coffer_repository_find_category (repo, gone, NULL, &error);
  g_assert_null (found);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
  g_assert_nonnull (strstr (error->message, "was removed on this computer"));
  env_clear (&e);
}

static void
test_config (void)
{
  Env e;
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) cats = NULL;
  g_autoptr(GBytes) config = NULL;
  g_autoptr(GString) v1 = NULL;
  g_autoptr(GBytes) v1_bytes = NULL;
  g_autofree char *cid = NULL;

  fixture_fresh_computer ();
  env_init (&e);
  repo = fixture_create (e.store_dir, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Docs", COFFER_LEVEL_STANDARD, e.src);
  fixture_close (&repo);

  config = get_object (&e, "config");
  v1 = g_string_new_len (g_bytes_get_data (config, NULL), g_bytes_get_size (config));
  g_assert_nonnull (strstr (v1->str, "version=3\n"));
  g_string_replace (v1, "version=3\n", "version=1\n", 1);
  v1_bytes = g_bytes_new (v1->str, v1->len);
  put_object (&e, "config", v1_bytes);

  /* This computer has seen version 3: refused. */
  repo = fixture_open (e.store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
  g_assert_nonnull (strstr (error->message, "format version 1"));
  g_assert_nonnull (strstr (error->message, "--accept-rollback"));
  g_clear_error (&error);
  fixture_close (&repo);

  /* A new computer cannot tell; its next write (with version-3 objects)
   * makes the config say version 3 again, so older clients refuse it. */
  fixture_fresh_computer ();
  repo = fixture_open (e.store_dir, PASSWORD, rk, &error);
  g_assert_no_error (error);
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&config, g_bytes_unref);
  config = get_object (&e, "config");
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (config, NULL), g_bytes_get_size (config), "version=1\n"));
  {
    g_autoptr(CofferSnapshot) snap = fixture_backup (repo, cid);
  }
  g_clear_pointer (&config, g_bytes_unref);
  config = get_object (&e, "config");
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (config, NULL), g_bytes_get_size (config), "version=3\n"));
  env_clear (&e);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/meta-replay/downgrade", test_downgrade);
  g_test_add_func ("/meta-replay/counter-and-accept", test_counter);
  g_test_add_func ("/meta-replay/removed-category", test_removed);
  g_test_add_func ("/meta-replay/config-version", test_config);
  return g_test_run ();
}
