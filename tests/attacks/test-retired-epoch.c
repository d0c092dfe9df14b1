/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Objects forged under a retired key epoch (docs/SECURITY.md "Retired key
 * epochs"). Whoever kept an old epoch's keys (a removed device, or anyone
 * with an old password envelope and its password) used to be able to seal
 * a snapshot with a later time under that epoch: it was listed and became
 * "latest". The key set now records when each epoch was retired, and such
 * a snapshot is refused: not listed, not restorable, reported by check,
 * on this computer and on a new one alike (the times are inside the key
 * set, which only the account key opens). */
#include <string.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"
#include "coffer-repository-private.h"
#include "coffer-snapshot.h"

#define PASSWORD "retired epoch test"

/* What the adversary kept: the keys of one epoch. */
typedef struct
{
  guint32       epoch;
  CofferSecret *meta_key;
} Kept;

static Kept
keep_epoch (CofferRepository *repo, const char *cid, guint32 epoch)
{
  g_autoptr(GError) error = NULL;
  CofferCategoryKeys *keys = _coffer_repository_get_category (repo, cid, NULL, &error);
  CofferEpochKeys *ek;

  g_assert_no_error (error);
  ek = coffer_category_keys_epoch (keys, epoch);
  g_assert_nonnull (ek);
  return (Kept) { epoch, coffer_secret_dup (ek->meta_key) };
}

/* Seals a copy of model (time_us 0: an hour from now; a high sequence
 * number; data_epoch for its blobs) under the kept epoch, and writes it
 * into the store folder. */
static char *
forge_snapshot_full (const char *store_dir, const char *repo_id, const Kept *kept, const CofferSnapshot *model,
                     gint64 time_us, guint32 data_epoch)
{
  g_autoptr(GBytes) plain = coffer_snapshot_serialize (model);
  g_autoptr(CofferSnapshot) snap = coffer_snapshot_parse (plain, NULL);
  g_autoptr(GBytes) forged = NULL;
  g_autoptr(GBytes) env = NULL;
  g_autoptr(GByteArray) obj = g_byte_array_new ();
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  guint8 raw_repo[16], raw_id[16];
  guint32 le = GUINT32_TO_LE (kept->epoch);

  g_assert_nonnull (snap);
  g_assert_true (coffer_hex_decode (repo_id, raw_repo, sizeof raw_repo));
  for (guint i = 0; i < sizeof raw_id; i++)
    raw_id[i] = (guint8) g_random_int ();
  id = coffer_hex_encode (raw_id, sizeof raw_id);
  name = g_strdup_printf ("categories/%s/snapshots/%s", model->category_id, id);
  snap->time = time_us != 0 ? time_us : g_get_real_time () + (gint64) 3600 * G_USEC_PER_SEC;
  snap->end_time = snap->time;
  snap->seq = model->seq + 1000;
  snap->epoch = data_epoch;
  forged = coffer_snapshot_serialize (snap);
  env = coffer_envelope_seal (kept->meta_key, raw_repo, COFFER_OBJECT_SNAPSHOT, name,
                              g_bytes_get_data (forged, NULL), g_bytes_get_size (forged));
  g_byte_array_append (obj, (const guint8 *) "CFO1", 4);
  g_byte_array_append (obj, (const guint8 *) &le, 4);
  g_byte_array_append (obj, g_bytes_get_data (env, NULL), g_bytes_get_size (env));
  path = g_build_filename (store_dir, name, NULL);
  dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0700);
  g_assert_true (g_file_set_contents (path, (const char *) obj->data, obj->len, NULL));
  return g_steal_pointer (&id);
}

static char *
forge_snapshot (const char *store_dir, const char *repo_id, const Kept *kept, const CofferSnapshot *model)
{
  return forge_snapshot_full (store_dir, repo_id, kept, model, 0, kept->epoch);
}

/* The forged snapshot is not listed, "latest" is the genuine one, it
 * cannot be found for a restore, and check names it. */
static void
assert_refused (CofferRepository *repo, const char *cid, const char *forged_id, const char *latest_id,
                guint genuine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) snaps = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_autoptr(CofferSnapshot) latest = NULL;
  g_autoptr(CofferSnapshot) found = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  gboolean named = FALSE;

  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, genuine);
  for (guint i = 0; i < snaps->len; i++)
    g_assert_cmpstr (((CofferSnapshot *) snaps->pdata[i])->id, !=, forged_id);
  latest = coffer_repository_find_snapshot (repo, cid, "latest", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (latest->id, ==, latest_id);
  found = coffer_repository_find_snapshot (repo, cid, forged_id, NULL, &error);
  g_assert_null (found);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_SNAPSHOT);
  g_clear_error (&error);

  /* Reported as tampering ("The check found 1 problems"). */
  g_assert_false (coffer_check_run (repo, cid, 0, NULL, NULL, &problems, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
  for (guint i = 0; problems != NULL && i < problems->len; i++)
    if (strstr (problems->pdata[i], forged_id) != NULL && strstr (problems->pdata[i], "tampered") != NULL)
      named = TRUE;
  g_assert_true (named);
}

/* The holder of the pre-switch password envelope (and the password) knows
 * epoch 0 of a category switched to Advanced. */
static void
test_after_switch (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *src = fixture_dir ("src");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL, s2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *repo_id = NULL;
  g_autofree char *forged = NULL;
  g_autofree char *later = NULL;
  Kept kept;

  fixture_fresh_computer ();
  fixture_make_small_tree (src, 11);
  repo = fixture_create (store_dir, PASSWORD, &rk);
  repo_id = g_strdup (coffer_repository_get_id (repo));
  cid = fixture_add_category (repo, "Letters", COFFER_LEVEL_STANDARD, src);
  s1 = fixture_backup (repo, cid);
  kept = keep_epoch (repo, cid, 0);
  g_assert_true (coffer_repository_set_level (repo, cid, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);
  later = g_build_filename (src, "after-the-switch.txt", NULL);
  g_assert_true (g_file_set_contents (later, "new and private", -1, NULL));
  s2 = fixture_backup (repo, cid);
  g_assert_cmpuint (s2->epoch, ==, 1);
  fixture_close (&repo);

  forged = forge_snapshot (store_dir, repo_id, &kept, s1);

  repo = fixture_open (store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  assert_refused (repo, cid, forged, s2->id, 2);
  fixture_close (&repo);

  fixture_fresh_computer ();
  repo = fixture_open (store_dir, NULL, rk, &error);
  g_assert_no_error (error);
  assert_refused (repo, cid, forged, s2->id, 2);

  /* Dated before the retirement, but claiming the newer epoch for its
   * data (to have its trees opened with the newer keys): also refused. */
  {
    g_autofree char *borrowing = forge_snapshot_full (store_dir, repo_id, &kept, s1, s1->time + 1, 1);
    assert_refused (repo, cid, borrowing, s2->id, 2);
  }
  coffer_secret_free (kept.meta_key);
}

/* A removed device kept the epoch that was current when it was removed. */
static void
test_removed_device (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *src = fixture_dir ("src");
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) pw = fixture_secret (PASSWORD);
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL, s2 = NULL;
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *repo_id = NULL;
  g_autofree char *removed = NULL;
  g_autofree char *forged = NULL;
  Kept kept;

  /* Computer 1, soon removed, keeps epoch 0. */
  fixture_fresh_computer ();
  fixture_make_small_tree (src, 12);
  repo = fixture_create (store_dir, PASSWORD, &rk);
  repo_id = g_strdup (coffer_repository_get_id (repo));
  cid = fixture_add_category (repo, "Mail", COFFER_LEVEL_ADVANCED, src);
  s1 = fixture_backup (repo, cid);
  kept = keep_epoch (repo, cid, 0);
  devices = coffer_repository_list_devices (repo, NULL, &error);
  g_assert_no_error (error);
  removed = g_strdup (((CofferDevice *) devices->pdata[0])->id);
  fixture_close (&repo);

  /* Computer 2 joins with the recovery key and removes computer 1. */
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, PASSWORD, rk, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_repository_trust_this_device (repo, "second", NULL, &error));
  g_assert_no_error (error);
  coffer_repository_set_password (repo, pw);
  {
    gboolean ok = coffer_repository_remove_device (repo, removed, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  {
    /* Folders belong to a computer: computer 2 backs up its own (here the
     * same folder). */
    g_autoptr(CofferCategory) cat = coffer_repository_find_category (repo, cid, NULL, &error);
    g_assert_no_error (error);
    g_strfreev (cat->paths);
    cat->paths = g_strdupv ((char *[]) { (char *) src, NULL });
    g_assert_true (coffer_repository_update_category (repo, cat, NULL, &error));
    g_assert_no_error (error);
  }
  s2 = fixture_backup (repo, cid);
  g_assert_cmpuint (s2->epoch, ==, 1);
  fixture_close (&repo);

  forged = forge_snapshot (store_dir, repo_id, &kept, s1);

  repo = fixture_open (store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  assert_refused (repo, cid, forged, s2->id, 2);
  coffer_secret_free (kept.meta_key);
}

/* Not an attack, the honest side of the same rule: a session that loaded
 * a category's keys before another session retired its epoch must not
 * write a backup that readers would refuse; it says so and the next
 * backup uses the new keys. */
static void
test_stale_session (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *src = fixture_dir ("src");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) old_session = NULL;
  g_auto(FixtureRepository) other = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL, s2 = NULL, s3 = NULL;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;

  fixture_fresh_computer ();
  fixture_make_small_tree (src, 13);
  old_session = fixture_create (store_dir, PASSWORD, &rk);
  cid = fixture_add_category (old_session, "Photos", COFFER_LEVEL_STANDARD, src);
  s1 = fixture_backup (old_session, cid);

  other = fixture_open (store_dir, PASSWORD, rk, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_repository_set_level (other, cid, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);

  s2 = coffer_backup_run (old_session, cid, NULL, NULL, NULL, NULL, &error);
  g_assert_null (s2);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "run the backup again"));
  g_clear_error (&error);
  s3 = fixture_backup (old_session, cid);
  g_assert_cmpuint (s3->epoch, ==, 1);
  snaps = coffer_repository_list_snapshots (other, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, 2);
  g_assert_cmpstr (((CofferSnapshot *) snaps->pdata[1])->id, ==, s3->id);
}

/* The account key set as "CKS1"/"CKS3" (what a 0.1.0 client wrote / this one writes). */
static GByteArray *
read_key_set (CofferRepository *repo, const char *store_dir, const char *cid)
{
  g_autofree char *name = g_strdup_printf ("categories/%s/keys/account", cid);
  g_autofree char *path = g_build_filename (store_dir, name, NULL);
  g_autoptr(GBytes) env = fixture_read (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) plain = coffer_envelope_open (repo->account_key,
                                                        repo->raw_id,
                                                        COFFER_OBJECT_CATEGORY_ACCOUNT, name, env, &error);
  GByteArray *out = g_byte_array_new ();

  g_assert_no_error (error);
  g_byte_array_append (out, plain->data, plain->len);
  return out;
}

/* Rewrites the account key set in the version-1 layout, as Coffer 0.1.0
 * left it: same epochs and keys, no retirement times (and no hash suite:
 * read back as BLAKE2b, which only matters to blob ids, which this test
 * does not check). */
static void
make_legacy_key_set (CofferRepository *repo, const char *store_dir, const char *cid)
{
  g_autoptr(GByteArray) v3 = read_key_set (repo, store_dir, cid);
  g_autoptr(GByteArray) v1 = g_byte_array_new ();
  g_autofree char *name = g_strdup_printf ("categories/%s/keys/account", cid);
  g_autofree char *path = g_build_filename (store_dir, name, NULL);
  g_autoptr(GBytes) env = NULL;
  guint32 count;

  g_assert_cmpmem (v3->data, 4, "CKS3", 4);
  memcpy (&count, v3->data + 4, 4);
  g_byte_array_append (v1, (const guint8 *) "CKS1", 4);
  g_byte_array_append (v1, v3->data + 4, 4);
  for (guint i = 0; i < GUINT32_FROM_LE (count); i++)
    {
      const guint8 *entry = v3->data + 8 + i * 45;
      g_byte_array_append (v1, entry, 4);
      g_byte_array_append (v1, entry + 13, 32);
    }
  env = coffer_envelope_seal (repo->account_key, repo->raw_id,
                              COFFER_OBJECT_CATEGORY_ACCOUNT, name, v1->data, v1->len);
  g_chmod (path, 0644);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (env, NULL), g_bytes_get_size (env), NULL));
}

/* What a legacy key set does not get (docs/SECURITY.md): without
 * retirement times a forged snapshot under its old epoch is believed,
 * until the key set is next rewritten with the account key; from then on
 * every older epoch counts as retired at that moment. */
static void
test_legacy_key_set (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *src = fixture_dir ("src");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL, s2 = NULL;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GByteArray) upgraded = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *repo_id = NULL;
  g_autofree char *forged = NULL;
  Kept kept;

  fixture_fresh_computer ();
  fixture_make_small_tree (src, 14);
  repo = fixture_create (store_dir, PASSWORD, &rk);
  repo_id = g_strdup (coffer_repository_get_id (repo));
  cid = fixture_add_category (repo, "Old", COFFER_LEVEL_STANDARD, src);
  s1 = fixture_backup (repo, cid);
  kept = keep_epoch (repo, cid, 0);
  g_assert_true (coffer_repository_set_level (repo, cid, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);
  s2 = fixture_backup (repo, cid);
  make_legacy_key_set (repo, store_dir, cid);
  fixture_close (&repo);

  forged = forge_snapshot (store_dir, repo_id, &kept, s1);
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, NULL, rk, &error);
  g_assert_no_error (error);
  snaps = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, 3);
  g_assert_cmpstr (((CofferSnapshot *) snaps->pdata[2])->id, ==, forged);
  g_clear_pointer (&snaps, g_ptr_array_unref);
  fixture_close (&repo);

  /* Rewritten with the account key (a rotation, here on another new
   * computer: the one above remembers backup number 1001 and would now
   * report the newest backups as missing): CKS3, and the forged snapshot,
   * dated after that moment, is refused from then on. */
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, PASSWORD, rk, &error);
  g_assert_no_error (error);
  /* Back to Standard: the password envelope is written from the legacy set
   * (as CKS3, every older epoch retired now) and must stay readable. */
  g_assert_true (coffer_repository_set_level (repo, cid, COFFER_LEVEL_STANDARD, NULL, &error));
  g_assert_no_error (error);
  {
    g_auto(FixtureRepository) by_password = fixture_open (store_dir, PASSWORD, NULL, &error);
    g_autoptr(GPtrArray) listed = NULL;

    g_assert_no_error (error);
    g_assert_false (coffer_repository_has_account_key (by_password));
    listed = coffer_repository_list_snapshots (by_password, cid, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (listed->len, ==, 2);
  }
  {
    gboolean ok = _coffer_repository_rotate_category (repo, cid, repo->account_key,
                                                      repo->account_key, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  upgraded = read_key_set (repo, store_dir, cid);
  g_assert_cmpmem (upgraded->data, 4, "CKS3", 4);
  assert_refused (repo, cid, forged, s2->id, 2);
  fixture_close (&repo);

  /* The password alone, on a new computer, reads the same rule from the
   * password envelope. */
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (coffer_repository_has_account_key (repo));
  assert_refused (repo, cid, forged, s2->id, 2);
  coffer_secret_free (kept.meta_key);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/retired-epoch/after-switch", test_after_switch);
  g_test_add_func ("/retired-epoch/removed-device", test_removed_device);
  g_test_add_func ("/retired-epoch/stale-session", test_stale_session);
  g_test_add_func ("/retired-epoch/legacy-key-set", test_legacy_key_set);
  return g_test_run ();
}
