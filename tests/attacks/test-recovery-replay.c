/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Attacks on the freshness of the account key (docs/SECURITY.md "Devices
 * and rotation"):
 * 1. The storage puts back the keys/recovery of before a device removal.
 *    Unlocking with the recovery key used to adopt the old account key,
 *    which the removed device knows, so a category added afterwards was
 *    readable by it. The remembered account key id now only moves forward.
 * 2. A device offline across two removals (AK0 → AK1 removing D1, AK1 →
 *    AK2 removing D2) is handed its envelope of after the first removal.
 *    Following the signed chain AK0 → AK1 used to be enough; AK1 is known
 *    to D2. Or it is handed back its envelope of before both, with the key
 *    it already knew (and D1 too). A key superseded by a signed record the
 *    store lists is now refused. */
#include "computers.h"

static void
remove_with_rk (const char *store, const CofferSecret *rk, const char *id)
{
  g_auto(FixtureRepository) repo = open_as (store, rk);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lost = NULL;

  g_assert_true (coffer_repository_remove_device (repo, id, NULL, &lost, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (lost->len, ==, 0);
}

static void
test_replayed_recovery (void)
{
  g_autofree char *store = fixture_dir ("store-replay");
  g_autofree char *src = fixture_dir ("src-replay");
  g_autofree char *src2 = fixture_dir ("src-replay-2");
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) d_ak = NULL;
  g_autoptr(GBytes) old_recovery = NULL;
  g_autoptr(GBytes) new_recovery = NULL;
  g_autofree char *cid = NULL, *d = NULL;

  use_computer ("a");
  {
    g_auto(FixtureRepository) repo = fixture_create (store, COMPUTERS_PASSWORD, &rk);
    cid = notes_category (repo, src);
  }
  d = join_computer (store, "d", "Laptop", "a", NULL);
  use_computer ("d");
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    d_ak = coffer_secret_dup (repo->account_key);   /* D keeps it */
  }
  old_recovery = read_object (store, "keys/recovery");
  use_computer ("a");
  remove_with_rk (store, rk, d);
  new_recovery = read_object (store, "keys/recovery");
  g_assert_false (g_bytes_equal (old_recovery, new_recovery));

  /* The storage puts the old recovery envelope back. */
  write_object (store, "keys/recovery", old_recovery);

  /* The computer that made the removal refuses it, whatever it is asked to do. */
  use_computer ("a");
  {
    g_autoptr(GError) error = NULL;
    g_auto(FixtureRepository) repo = fixture_open (store, COMPUTERS_PASSWORD, rk, &error);
    g_assert_null (repo);
    g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
    g_assert_nonnull (strstr (error->message, "older recovery envelope"));
  }
  {
    g_autoptr(GError) error = NULL;
    g_auto(FixtureRepository) repo = open_as (store, NULL);   /* its device key: the new AK */
    g_assert_false (coffer_repository_verify_recovery_key (repo, rk, NULL, &error));
    g_assert_nonnull (error);
  }
  /* A computer that never saw the repository sees the signed record that
   * replaced the old key, and refuses it too. */
  use_computer ("fresh");
  {
    g_autoptr(GError) error = NULL;
    g_auto(FixtureRepository) repo = fixture_open (store, NULL, rk, &error);
    g_assert_null (repo);
    g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
  }

  /* With the genuine envelope back, an Advanced category added with the
   * recovery key is sealed under the new account key, which D never had. */
  write_object (store, "keys/recovery", new_recovery);
  use_computer ("a");
  {
    g_auto(FixtureRepository) repo = open_as (store, rk);
    g_autofree char *cid2 = fixture_add_category (repo, "Secrets", COFFER_LEVEL_ADVANCED, src2);
    g_assert_false (coffer_secret_equal (repo->account_key, d_ak));
  }
  use_computer ("d");
  {
    g_auto(FixtureRepository) repo = open_locked (store);
    g_autoptr(GError) error = NULL;

    _coffer_repository_replace_account_key (repo, d_ak);
    g_assert_null (coffer_repository_find_category (repo, "Secrets", NULL, &error));
  }
}

static void
test_two_removals (void)
{
  g_autofree char *store = fixture_dir ("store-two");
  g_autofree char *src = fixture_dir ("src-two");
  g_autofree char *target = fixture_dir ("restore-two");
  g_autofree char *after = g_build_filename (src, "after.txt", NULL);
  g_autofree char *restored = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(GBytes) c_env_ak0 = NULL;
  g_autoptr(GBytes) c_env_ak1 = NULL;
  g_autoptr(GBytes) c_env_ak2 = NULL;
  g_autofree char *cid = NULL, *c = NULL, *d1 = NULL, *d2 = NULL, *c_env = NULL, *known = NULL;

  use_computer ("a3");
  {
    g_auto(FixtureRepository) repo = fixture_create (store, COMPUTERS_PASSWORD, &rk);
    cid = notes_category (repo, src);
  }
  c = join_computer (store, "c3", "Offline desktop", "a3", NULL);
  d1 = join_computer (store, "d31", "First laptop", "a3", NULL);
  d2 = join_computer (store, "d32", "Second laptop", "a3", NULL);
  c_env = g_strdup_printf ("keys/devices/%s", c);
  use_computer ("c3");
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);   /* C knows AK0, then goes offline */
    known = coffer_state_get_string (repo->state, "account", "key-id");
  }

  c_env_ak0 = read_object (store, c_env);
  use_computer ("a3");
  remove_with_rk (store, rk, d1);                     /* AK0 → AK1 */
  c_env_ak1 = read_object (store, c_env);
  remove_with_rk (store, rk, d2);                     /* AK1 → AK2 */
  c_env_ak2 = read_object (store, c_env);
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    g_autoptr(CofferSnapshot) snap = NULL;
    coffer_test_write_random (after, 2000, 5);
    snap = fixture_backup (repo, cid);
  }

  /* The storage hands C its envelope of after the first removal: AK1 is
   * signed and chained to AK0, but superseded by the second record. */
  write_object (store, c_env, c_env_ak1);
  use_computer ("c3");
  {
    g_autoptr(GError) error = NULL;
    g_auto(FixtureRepository) repo = fixture_open (store, COMPUTERS_PASSWORD, NULL, &error);
    g_autofree char *still = NULL;

    g_assert_null (repo);
    g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
    /* nothing adopted */
    repo = open_locked (store);
    still = coffer_state_get_string (repo->state, "account", "key-id");
    g_assert_cmpstr (still, ==, known);
  }

  /* Nor does it keep the key it already has when the storage hands back
   * its envelope of before both removals: signed records replace that key. */
  write_object (store, c_env, c_env_ak0);
  {
    g_autoptr(GError) error = NULL;
    g_auto(FixtureRepository) repo = fixture_open (store, COMPUTERS_PASSWORD, NULL, &error);

    g_assert_null (repo);
    g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
  }

  /* With its current envelope, C follows both rotations and reads the
   * backup made after them. */
  write_object (store, c_env, c_env_ak2);
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    g_assert_true (try_restore_latest (repo, cid, target));
  }
  restored = fixture_restored (target, after);
  g_assert_true (g_file_test (restored, G_FILE_TEST_IS_REGULAR));
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/attacks/recovery-replay/replayed-recovery", test_replayed_recovery);
  g_test_add_func ("/attacks/recovery-replay/two-removals", test_two_removals);
  return g_test_run ();
}
