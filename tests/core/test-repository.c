/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The repository and its ways in: create/open, format version, password,
 * recovery key, Standard vs Advanced on a computer that has never seen the
 * repository, password change, the hash suites of key epochs. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-recovery-key.h"
#include "coffer-repository-private.h"
#include "repo-fixture.h"

#define PASSWORD "correct horse battery staple"

typedef struct
{
  char             *store_dir;
  char             *src;
  CofferRepository *repo;
  CofferSecret     *rk;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->store_dir = fixture_dir ("store");
  f->src = fixture_dir ("src");
  fixture_make_small_tree (f->src, 7);
  fixture_fresh_computer ();
  f->repo = fixture_create (f->store_dir, PASSWORD, &f->rk);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  fixture_close (&f->repo);
  g_clear_pointer (&f->rk, coffer_secret_free);
  g_free (f->store_dir);
  g_free (f->src);
}

/* Restores the latest snapshot of cid into a new folder and compares. */
static void
assert_restores (CofferRepository *repo, const char *cid, const char *src)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSnapshot) snap = coffer_repository_find_snapshot (repo, cid, "latest", NULL, &error);
  g_autofree char *target = fixture_dir ("restore");
  g_autofree char *copy = fixture_restored (target, src);

  g_assert_no_error (error);
  fixture_restore (repo, cid, snap, target);
  coffer_test_assert_same_tree (src, copy, TRUE);
}

static void
test_create_open (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *empty = fixture_dir ("empty");
  g_autoptr(CofferStore) empty_store = fixture_store (empty);
  g_autoptr(CofferStore) store = fixture_store (f->store_dir);
  g_auto(FixtureRepository) none = NULL;
  g_auto(FixtureRepository) again = NULL;
  g_auto(FixtureRepository) twice = NULL;
  g_autoptr(CofferSecret) rk2 = NULL;
  g_autoptr(CofferSecret) pw = fixture_secret (PASSWORD);
  g_autofree char *cid = fixture_add_category (f->repo, "Documents", COFFER_LEVEL_STANDARD, f->src);
  g_autoptr(CofferSnapshot) snap = fixture_backup (f->repo, cid);
  g_autoptr(GPtrArray) cats = NULL;

  g_assert_cmpuint (strlen (coffer_repository_get_id (f->repo)), ==, 32);
  g_assert_true (g_file_test (f->store_dir, G_FILE_TEST_IS_DIR));

  /* An empty folder is not a repository. */
  none = coffer_repository_open (empty_store, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND);
  g_assert_null (none);
  g_assert_cmpstr (error->message, !=, "");
  g_clear_error (&error);

  /* A second create never overwrites. */
  twice = coffer_repository_create (store, pw, NULL, &rk2, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_EXISTS);
  g_assert_null (twice);
  g_assert_null (rk2);
  g_clear_error (&error);

  /* Reopened on the same computer, the device key (sealed under the
   * password, no keyring) gives the account key. */
  again = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (coffer_repository_get_id (again), ==, coffer_repository_get_id (f->repo));
  g_assert_true (coffer_repository_has_account_key (again));
  cats = coffer_repository_list_categories (again, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cats->len, ==, 1);
  g_assert_cmpstr (((CofferCategory *) g_ptr_array_index (cats, 0))->name, ==, "Documents");
  assert_restores (again, cid, f->src);
}

static void
test_unsupported_version (Fixture *f, gconstpointer data)
{
  g_autofree char *config = g_build_filename (f->store_dir, "config", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GString) changed = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferStore) store = fixture_store (f->store_dir);

  g_assert_true (g_file_get_contents (config, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "version=3\n"));
  changed = g_string_new (text);
  g_string_replace (changed, "version=3\n", "version=4\n", 1);
  g_chmod (config, 0644);
  g_assert_true (g_file_set_contents (config, changed->str, changed->len, NULL));

  repo = coffer_repository_open (store, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_UNSUPPORTED_VERSION);
  g_assert_null (repo);
  /* Names both versions and what to do. */
  g_assert_nonnull (strstr (error->message, "version 4"));
  g_assert_nonnull (strstr (error->message, "3"));
  g_assert_nonnull (strstr (error->message, "newer Coffer"));
}

static void
test_wrong_password (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = fixture_add_category (f->repo, "Documents", COFFER_LEVEL_STANDARD, f->src);
  g_autoptr(CofferSnapshot) snap = fixture_backup (f->repo, cid);
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferCategory) cat = NULL;

  fixture_close (&f->repo);

  /* This computer: the device key file is sealed under the password. */
  repo = fixture_open (f->store_dir, "not the password", NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD);
  g_assert_null (repo);
  g_clear_error (&error);

  /* Another computer: the category's password envelope refuses it. */
  fixture_fresh_computer ();
  repo = fixture_open (f->store_dir, "not the password", NULL, &error);
  g_assert_no_error (error);
  g_assert_false (coffer_repository_has_account_key (repo));
  cat = coffer_repository_find_category (repo, cid, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD);
  g_assert_null (cat);
  g_clear_error (&error);
  g_assert_null (coffer_repository_list_snapshots (repo, cid, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD);
}

static void
test_standard_fresh_computer (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = fixture_add_category (f->repo, "Documents", COFFER_LEVEL_STANDARD, f->src);
  g_autoptr(CofferSnapshot) snap = fixture_backup (f->repo, cid);
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GPtrArray) cats = NULL;

  fixture_close (&f->repo);
  fixture_fresh_computer ();
  repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  /* No device key, no recovery key: only the password. */
  g_assert_false (coffer_repository_has_account_key (repo));
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cats->len, ==, 1);
  g_assert_true (((CofferCategory *) g_ptr_array_index (cats, 0))->unlocked);
  /* By name too. */
  {
    g_autoptr(CofferCategory) cat = coffer_repository_find_category (repo, "Documents", NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (cat->id, ==, cid);
  }
  assert_restores (repo, cid, f->src);
  fixture_assert_check_clean (repo, cid, 100);
}

static void
test_recovery_key_alone (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *src2 = fixture_dir ("src2");
  g_autofree char *std = NULL, *adv = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL, s2 = NULL;
  g_auto(FixtureRepository) repo = NULL;

  fixture_make_small_tree (src2, 99);
  std = fixture_add_category (f->repo, "Standard", COFFER_LEVEL_STANDARD, f->src);
  adv = fixture_add_category (f->repo, "Advanced", COFFER_LEVEL_ADVANCED, src2);
  s1 = fixture_backup (f->repo, std);
  s2 = fixture_backup (f->repo, adv);
  fixture_close (&f->repo);

  fixture_fresh_computer ();
  /* The recovery key as the user types it back (formatted, lower case). */
  {
    g_autoptr(CofferSecret) text = coffer_recovery_key_format (f->rk);
    g_autofree char *lower = g_ascii_strdown ((const char *) text->data, text->len);
    g_autoptr(CofferSecret) parsed = coffer_recovery_key_parse (lower, &error);
    g_assert_no_error (error);
    repo = fixture_open (f->store_dir, NULL, parsed, &error);
  }
  g_assert_no_error (error);
  g_assert_true (coffer_repository_has_account_key (repo));
  assert_restores (repo, std, f->src);
  assert_restores (repo, adv, src2);
}

static void
test_advanced (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = fixture_add_category (f->repo, "Private", COFFER_LEVEL_STANDARD, f->src);
  g_autoptr(CofferSnapshot) before = fixture_backup (f->repo, cid);
  g_autoptr(CofferSnapshot) after = NULL;
  g_autofree char *pw_obj = g_strdup_printf ("%s/categories/%s/keys/password", f->store_dir, cid);
  g_autofree char *acct_obj = g_strdup_printf ("%s/categories/%s/keys/account", f->store_dir, cid);
  g_autofree char *extra = g_build_filename (f->src, "after-switch.txt", NULL);
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferCategory) cat = NULL;
  g_autoptr(GPtrArray) cats = NULL;

  g_assert_true (g_file_test (pw_obj, G_FILE_TEST_EXISTS));
  g_assert_true (coffer_repository_set_level (f->repo, cid, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);
  /* The password envelope is gone from the store; the account one stays. */
  g_assert_false (g_file_test (pw_obj, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (acct_obj, G_FILE_TEST_EXISTS));
  /* New data uses a new key epoch. */
  g_assert_true (g_file_set_contents (extra, "written after the switch\n", -1, NULL));
  after = fixture_backup (f->repo, cid);
  g_assert_cmpuint (after->epoch, >, before->epoch);
  fixture_close (&f->repo);

  /* A new computer with only the password cannot open it. */
  fixture_fresh_computer ();
  repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  cat = coffer_repository_find_category (repo, cid, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY);
  g_assert_null (cat);
  g_assert_nonnull (strstr (error->message, "recovery key"));
  g_clear_error (&error);
  cat = coffer_repository_find_category (repo, "Private", NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY);
  g_assert_nonnull (strstr (error->message, "recovery key"));
  g_clear_error (&error);
  /* Listed, but locked and without its name. */
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cats->len, ==, 1);
  g_assert_false (((CofferCategory *) g_ptr_array_index (cats, 0))->unlocked);
  g_assert_null (((CofferCategory *) g_ptr_array_index (cats, 0))->name);
  fixture_close (&repo);

  /* The recovery key opens both the old and the new epoch. */
  fixture_fresh_computer ();
  repo = fixture_open (f->store_dir, NULL, f->rk, &error);
  g_assert_no_error (error);
  {
    g_autofree char *target = fixture_dir ("restore-before");
    g_autofree char *copy = fixture_restored (target, f->src);
    g_autofree char *copy_extra = g_build_filename (copy, "after-switch.txt", NULL);

    fixture_restore (repo, cid, before, target);
    g_assert_false (g_file_test (copy_extra, G_FILE_TEST_EXISTS));
  }
  assert_restores (repo, cid, f->src);
  fixture_assert_check_clean (repo, cid, 100);

  /* Back to Standard: needs the password, then the password alone opens
   * every epoch again. */
  g_assert_false (coffer_repository_set_level (repo, cid, COFFER_LEVEL_STANDARD, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY);
  g_clear_error (&error);
  {
    g_autoptr(CofferSecret) pw = fixture_secret (PASSWORD);
    coffer_repository_set_password (repo, pw);
  }
  g_assert_true (coffer_repository_set_level (repo, cid, COFFER_LEVEL_STANDARD, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (pw_obj, G_FILE_TEST_EXISTS));
  fixture_close (&repo);
  fixture_fresh_computer ();
  repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  assert_restores (repo, cid, f->src);
}

static void
test_password_change (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = fixture_add_category (f->repo, "Documents", COFFER_LEVEL_STANDARD, f->src);
  g_autoptr(CofferSnapshot) snap = fixture_backup (f->repo, cid);
  g_autoptr(CofferSecret) new_pw = fixture_secret ("a new and longer password");
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferCategory) cat = NULL;

  g_assert_true (coffer_repository_change_password (f->repo, new_pw, NULL, &error));
  g_assert_no_error (error);
  fixture_close (&f->repo);

  /* This computer, next session: the new password works, the old one not. */
  repo = fixture_open (f->store_dir, "a new and longer password", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_repository_has_account_key (repo));
  fixture_close (&repo);
  repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD);
  g_assert_null (repo);
  g_clear_error (&error);

  /* Another computer: the old password fails, the new one restores. */
  fixture_fresh_computer ();
  repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  cat = coffer_repository_find_category (repo, cid, NULL, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD);
  g_assert_null (cat);
  g_clear_error (&error);
  fixture_close (&repo);

  fixture_fresh_computer ();
  repo = fixture_open (f->store_dir, "a new and longer password", NULL, &error);
  g_assert_no_error (error);
  assert_restores (repo, cid, f->src);
}

static void
test_recovery_key_verify (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) wrong = coffer_recovery_key_generate ();
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSecret) replaced = NULL;

  g_assert_false (coffer_repository_verify_recovery_key (f->repo, wrong, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_assert_cmpstr (error->message, !=, "");
  g_clear_error (&error);
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), ==, 0);

  g_assert_true (coffer_repository_verify_recovery_key (f->repo, f->rk, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), >, 0);

  /* A wrong key as the only way in fails to unlock. */
  fixture_close (&f->repo);
  fixture_fresh_computer ();
  repo = fixture_open (f->store_dir, NULL, wrong, &error);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_assert_null (repo);
  g_clear_error (&error);

  /* Replacing the key: the old one stops working, the new one works. */
  repo = fixture_open (f->store_dir, NULL, f->rk, &error);
  g_assert_no_error (error);
  replaced = coffer_repository_begin_recovery_key_replacement (repo, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_repository_commit_recovery_key_replacement (repo, replaced, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (coffer_repository_verify_recovery_key (repo, f->rk, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);
  g_assert_true (coffer_repository_verify_recovery_key (repo, replaced, NULL, &error));
  g_assert_no_error (error);
}

static GBytes *
read_recovery_envelope (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->store_dir, "keys", "recovery", NULL);
  return fixture_read (path);
}

/* A new recovery key takes effect only once typed back: begin writes
 * nothing, a wrong key, a cancel or a crash (the repository object gone)
 * leave the old key valid; commit replaces it and resets "last tested". */
static void
test_recovery_key_replace_two_phase (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) before = read_recovery_envelope (f);
  g_autoptr(GBytes) after = NULL;
  g_autoptr(CofferSecret) k1 = NULL;
  g_autoptr(CofferSecret) k2 = NULL;
  g_autoptr(CofferSecret) k3 = NULL;
  g_autoptr(CofferSecret) wrong = coffer_recovery_key_generate ();

  g_assert_true (coffer_repository_verify_recovery_key (f->repo, f->rk, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), >, 0);

  /* Shown, not yet typed back: nothing changed. */
  k1 = coffer_repository_begin_recovery_key_replacement (f->repo, &error);
  g_assert_no_error (error);
  g_assert_nonnull (k1);
  g_assert_true (coffer_repository_has_pending_recovery_key (f->repo));
  after = read_recovery_envelope (f);
  g_assert_true (g_bytes_equal (before, after));
  g_clear_pointer (&after, g_bytes_unref);
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), >, 0);

  /* Typed back wrong: refused, the pending key stays for another try. */
  g_assert_false (coffer_repository_commit_recovery_key_replacement (f->repo, wrong, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);
  g_assert_true (coffer_repository_has_pending_recovery_key (f->repo));
  after = read_recovery_envelope (f);
  g_assert_true (g_bytes_equal (before, after));
  g_clear_pointer (&after, g_bytes_unref);

  /* Cancelled (the dialog closed): the new key can no longer be committed. */
  coffer_repository_cancel_recovery_key_replacement (f->repo);
  g_assert_false (coffer_repository_commit_recovery_key_replacement (f->repo, k1, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (coffer_repository_verify_recovery_key (f->repo, f->rk, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (coffer_repository_verify_recovery_key (f->repo, k1, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);

  /* A crash between the two steps: the pending key lived in memory only. */
  k2 = coffer_repository_begin_recovery_key_replacement (f->repo, &error);
  g_assert_no_error (error);
  fixture_close (&f->repo);
  f->repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (coffer_repository_has_pending_recovery_key (f->repo));
  g_assert_false (coffer_repository_verify_recovery_key (f->repo, k2, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);
  g_assert_true (coffer_repository_verify_recovery_key (f->repo, f->rk, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), >, 0);

  /* Typed back right: replaced; "last tested" belonged to the old key. */
  k3 = coffer_repository_begin_recovery_key_replacement (f->repo, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_repository_commit_recovery_key_replacement (f->repo, k3, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (coffer_repository_has_pending_recovery_key (f->repo));
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), ==, 0);
  after = read_recovery_envelope (f);
  g_assert_false (g_bytes_equal (before, after));
  g_assert_false (coffer_repository_verify_recovery_key (f->repo, f->rk, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), ==, 0);
  g_assert_true (coffer_repository_verify_recovery_key (f->repo, k3, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), >, 0);
}

/* Authority typed now: the password is checked against the password
 * envelopes, the recovery key against keys/recovery; the session's own
 * password (already held) does not count. */
static void
test_check_authority (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) right = fixture_secret (PASSWORD);
  g_autoptr(CofferSecret) wrong_pw = fixture_secret ("not the password at all");
  g_autoptr(CofferSecret) wrong_rk = coffer_recovery_key_generate ();
  g_autofree char *cid = fixture_add_category (f->repo, "Docs", COFFER_LEVEL_STANDARD, f->src);

  g_assert_false (coffer_repository_check_authority (f->repo, NULL, NULL, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY);
  g_clear_error (&error);
  g_assert_false (coffer_repository_check_authority (f->repo, wrong_pw, NULL, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD);
  g_clear_error (&error);
  g_assert_false (coffer_repository_check_authority (f->repo, NULL, wrong_rk, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);
  g_assert_true (coffer_repository_check_authority (f->repo, right, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (coffer_repository_check_authority (f->repo, NULL, f->rk, NULL, &error));
  g_assert_no_error (error);
  /* Checking is not testing: the "last tested" time stays never. */
  g_assert_cmpint (coffer_repository_get_recovery_key_tested (f->repo), ==, 0);
}

/* Names of the packs in the store, as a set. */
static GHashTable *
list_packs (const char *store_dir, const char *cid)
{
  g_autofree char *root = g_build_filename (store_dir, "categories", cid, "packs", NULL);
  g_autoptr(GDir) dir = g_dir_open (root, 0, NULL);
  GHashTable *packs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *sub;

  g_assert_nonnull (dir);
  while ((sub = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (root, sub, NULL);
      g_autoptr(GDir) inner = g_dir_open (path, 0, NULL);
      const char *name;

      while (inner != NULL && (name = g_dir_read_name (inner)) != NULL)
        g_hash_table_add (packs, g_build_filename (path, name, NULL));
    }
  return packs;
}

/* Asserts that every pack not in before is named by suite's hash of its
 * bytes (SHA-256 computed by GLib, not by Coffer) and not by the other's;
 * returns how many there were. */
static guint
assert_new_packs_named (GHashTable *before, GHashTable *after, CofferHashSuite suite)
{
  GHashTableIter it;
  gpointer key;
  guint n = 0;

  g_hash_table_iter_init (&it, after);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autofree char *sha256 = NULL;
      g_autofree char *name = g_path_get_basename (key);
      guint8 blake[COFFER_ID_BYTES];
      char blake_hex[2 * COFFER_ID_BYTES + 1];

      if (before != NULL && g_hash_table_contains (before, key))
        continue;
      bytes = fixture_read (key);
      sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
      coffer_hash (COFFER_HASH_SUITE_BLAKE2B, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), blake);
      for (guint i = 0; i < COFFER_ID_BYTES; i++)
        g_snprintf (blake_hex + 2 * i, 3, "%02x", blake[i]);
      g_assert_cmpstr (name, ==, suite == COFFER_HASH_SUITE_SHA256 ? sha256 : blake_hex);
      n++;
    }
  return n;
}

/* A category whose key epoch is of hash suite 0 (every category of a
 * repository before format version 3): new backups into it keep BLAKE2b,
 * its backups restore and pass a full check; a key rotation starts a
 * suite-1 (SHA-256) epoch beside it, and both epochs' backups restore. */
static void
test_hash_suites (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) plain = NULL;
  g_autoptr(GByteArray) v2 = g_byte_array_new ();
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GHashTable) first = NULL;
  g_autoptr(GHashTable) second = NULL;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autofree char *target = fixture_dir ("restore-first");
  g_autofree char *copy = fixture_restored (target, f->src);
  g_autofree char *older = fixture_dir ("src-first");
  CofferCategoryKeys *keys;

  /* This test's new epochs are of suite 1 whatever this computer's CPU
   * (which /crypto/cpu-suite checks): "CKS3", suite byte 1. */
  g_setenv ("COFFER_TEST_HASH_SUITE", "1", TRUE);
  cid = fixture_add_category (f->repo, "Docs", COFFER_LEVEL_ADVANCED, f->src);
  name = g_strdup_printf ("categories/%s/keys/account", cid);
  path = g_build_filename (f->store_dir, name, NULL);
  env = fixture_read (path);
  plain = coffer_envelope_open (f->repo->account_key, f->repo->raw_id, COFFER_OBJECT_CATEGORY_ACCOUNT,
                                name, env, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plain->len, ==, 8 + 45);
  g_assert_cmpmem (plain->data, 4, "CKS3", 4);
  g_assert_cmpuint (plain->data[8 + 12], ==, COFFER_HASH_SUITE_SHA256);

  /* Rewritten as "CKS2" (epoch, retired, key): suite 0, as before. */
  g_byte_array_append (v2, (const guint8 *) "CKS2", 4);
  g_byte_array_append (v2, plain->data + 4, 4);
  g_byte_array_append (v2, plain->data + 8, 12);
  g_byte_array_append (v2, plain->data + 8 + 13, 32);
  sealed = coffer_envelope_seal (f->repo->account_key, f->repo->raw_id, COFFER_OBJECT_CATEGORY_ACCOUNT,
                                 name, v2->data, v2->len);
  g_chmod (path, 0644);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed), NULL));
  fixture_close (&f->repo);
  f->repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  keys = _coffer_repository_get_category (f->repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (coffer_category_keys_newest (keys)->suite, ==, COFFER_HASH_SUITE_BLAKE2B);

  {
    g_autoptr(CofferSnapshot) snap = fixture_backup (f->repo, cid);
  }
  first = list_packs (f->store_dir, cid);
  g_assert_cmpuint (assert_new_packs_named (NULL, first, COFFER_HASH_SUITE_BLAKE2B), >, 0);
  assert_restores (f->repo, cid, f->src);
  fixture_assert_check_clean (f->repo, cid, 100);
  fixture_make_small_tree (older, 7);   /* the same contents as f->src now */

  /* A rotation adds an epoch of suite 1; the old one keeps suite 0. */
  g_assert_true (_coffer_repository_rotate_category (f->repo, cid, f->repo->account_key,
                                                     f->repo->account_key, NULL, &error));
  g_assert_no_error (error);
  keys = _coffer_repository_get_category (f->repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (keys->epochs->len, ==, 2);
  g_assert_cmpuint (((CofferEpochKeys *) keys->epochs->pdata[0])->suite, ==, COFFER_HASH_SUITE_BLAKE2B);
  g_assert_cmpuint (((CofferEpochKeys *) keys->epochs->pdata[1])->suite, ==, COFFER_HASH_SUITE_SHA256);
  {
    g_autofree char *changed = g_build_filename (f->src, "a", "b", "two.bin", NULL);
    coffer_test_write_random (changed, 400 * 1024, 8);
  }
  {
    g_autoptr(CofferSnapshot) snap = fixture_backup (f->repo, cid);
  }
  second = list_packs (f->store_dir, cid);
  g_assert_cmpuint (assert_new_packs_named (first, second, COFFER_HASH_SUITE_SHA256), >, 0);

  /* Read again from the store, by a computer that has never seen it. */
  fixture_close (&f->repo);
  fixture_fresh_computer ();
  f->repo = fixture_open (f->store_dir, PASSWORD, f->rk, &error);
  g_assert_no_error (error);
  assert_restores (f->repo, cid, f->src);
  snaps = coffer_repository_list_snapshots (f->repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, 2);
  fixture_restore (f->repo, cid, snaps->pdata[0], target);
  coffer_test_assert_same_tree (older, copy, FALSE);
  fixture_assert_check_clean (f->repo, cid, 100);

  /* Re-encrypting moves the suite-0 backup into the suite-1 epoch: then
   * every pack left is named by SHA-256, and both backups still restore. */
  g_assert_true (coffer_repository_reencrypt_category (f->repo, cid, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  {
    g_autoptr(GHashTable) left = list_packs (f->store_dir, cid);
    g_autoptr(GPtrArray) again = coffer_repository_list_snapshots (f->repo, cid, NULL, &error);
    g_autofree char *target2 = fixture_dir ("restore-reencrypted");
    g_autofree char *copy2 = fixture_restored (target2, f->src);

    g_assert_no_error (error);
    g_assert_cmpuint (assert_new_packs_named (NULL, left, COFFER_HASH_SUITE_SHA256), ==,
                      g_hash_table_size (left));
    g_assert_cmpuint (again->len, ==, 2);
    fixture_restore (f->repo, cid, again->pdata[0], target2);
    coffer_test_assert_same_tree (older, copy2, FALSE);
  }
  assert_restores (f->repo, cid, f->src);
  fixture_assert_check_clean (f->repo, cid, 100);
  g_unsetenv ("COFFER_TEST_HASH_SUITE");
}

/* A key set naming a hash suite no Coffer knows is refused, not read
 * with a guessed hash (it could only come from someone with the account
 * key: the set is sealed). */
static void
test_unknown_hash_suite (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = fixture_add_category (f->repo, "Docs", COFFER_LEVEL_ADVANCED, f->src);
  g_autofree char *name = g_strdup_printf ("categories/%s/keys/account", cid);
  g_autofree char *path = g_build_filename (f->store_dir, name, NULL);
  g_autoptr(GBytes) env = fixture_read (path);
  g_autoptr(CofferSecret) plain = NULL;
  g_autoptr(GBytes) sealed = NULL;

  plain = coffer_envelope_open (f->repo->account_key, f->repo->raw_id, COFFER_OBJECT_CATEGORY_ACCOUNT,
                                name, env, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (plain->data, 4, "CKS3", 4);
  plain->data[8 + 12] = COFFER_HASH_SUITE_LAST + 1;
  sealed = coffer_envelope_seal (f->repo->account_key, f->repo->raw_id, COFFER_OBJECT_CATEGORY_ACCOUNT,
                                 name, plain->data, plain->len);
  g_chmod (path, 0644);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed), NULL));
  fixture_close (&f->repo);
  f->repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (_coffer_repository_get_category (f->repo, cid, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);

#define ADD(path, func) g_test_add (path, Fixture, NULL, setup, func, teardown)
  ADD ("/repository/create-open", test_create_open);
  ADD ("/repository/unsupported-version", test_unsupported_version);
  ADD ("/repository/wrong-password", test_wrong_password);
  ADD ("/repository/standard-fresh-computer", test_standard_fresh_computer);
  ADD ("/repository/recovery-key-alone", test_recovery_key_alone);
  ADD ("/repository/advanced", test_advanced);
  ADD ("/repository/password-change", test_password_change);
  ADD ("/repository/recovery-key-verify", test_recovery_key_verify);
  ADD ("/repository/recovery-key-replace-two-phase", test_recovery_key_replace_two_phase);
  ADD ("/repository/check-authority", test_check_authority);
  ADD ("/repository/hash-suites", test_hash_suites);
  ADD ("/repository/unknown-hash-suite", test_unknown_hash_suite);
#undef ADD
  return g_test_run ();
}
