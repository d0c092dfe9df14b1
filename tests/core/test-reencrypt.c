/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Re-encrypting a category's older backups after a switch to Advanced:
 * nothing stays sealed under the old epoch, an old copy of the password
 * envelope opens nothing, the recovery key restores every backup, and an
 * interrupted run resumes. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-pack.h"
#include "coffer-repository-private.h"
#include "repo-fixture.h"

#define PASSWORD "correct horse battery staple"

typedef struct
{
  guint    reports;
  guint64  last_files_done;
  guint64  files_total;
  gboolean saw_finished;
  gboolean wrong_operation;
  GCancellable *cancel_after_first;
} Progress;

static void
on_progress (const CofferProgress *p, gpointer user_data)
{
  Progress *pr = user_data;

  pr->reports++;
  if (g_strcmp0 (p->operation, "reencrypt") != 0)
    pr->wrong_operation = TRUE;
  pr->last_files_done = p->files_done;
  pr->files_total = p->files_total;
  if (p->finished)
    pr->saw_finished = TRUE;
  if (pr->cancel_after_first != NULL && p->files_done >= 1)
    g_cancellable_cancel (pr->cancel_after_first);
}

/* Source tree version 1 (seed) in dir: the small tree plus a file of
 * several chunks, shared by later versions. */
static void
make_v1 (const char *dir, guint32 seed)
{
  g_autofree char *big = g_build_filename (dir, "big.bin", NULL);

  fixture_make_small_tree (dir, seed);
  coffer_test_write_random (big, 3 * 1024 * 1024 + 12345, seed + 1);
}

static void
make_v2 (const char *dir, guint32 seed)
{
  g_autofree char *extra = g_build_filename (dir, "a", "later.bin", NULL);

  coffer_test_write_random (extra, 700 * 1024, seed + 2);
}

static GBytes *
read_object (const char *store_dir, const char *name)
{
  g_autofree char *path = g_build_filename (store_dir, name, NULL);
  return fixture_read (path);
}

/* Every object of the category is sealed under the newest epoch only:
 * pack trailers and headers, every blob inside (and no blob opens with
 * an older data key), snapshots, index objects, prune plans, meta. */
static void
assert_all_newest (CofferRepository *repo, const char *store_dir, const char *cid)
{
  g_autoptr(GError) error = NULL;
  CofferCategoryKeys *keys = _coffer_repository_get_category (repo, cid, NULL, &error);
  g_autofree char *prefix = g_strdup_printf ("categories/%s/", cid);
  g_autofree char *meta = g_strdup_printf ("meta/%s", cid);
  g_autoptr(GPtrArray) names = fixture_list_objects (store_dir, prefix);
  CofferEpochKeys *newest;
  guint packs = 0, blobs = 0, objects = 0;

  g_assert_no_error (error);
  g_assert_nonnull (keys);
  g_assert_cmpuint (keys->epochs->len, >=, 2);
  newest = coffer_category_keys_newest (keys);
  g_ptr_array_add (names, g_strdup (meta));

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autoptr(GBytes) obj = read_object (store_dir, name);
      gsize len;
      const guint8 *data = g_bytes_get_data (obj, &len);

      if (strstr (name, "/packs/") != NULL)
        {
          guint32 header_len, epoch;
          g_autoptr(GArray) entries = NULL;

          g_assert_true (coffer_pack_parse_trailer (data + len - COFFER_PACK_TRAILER_BYTES, len,
                                                    &header_len, &epoch, &error));
          g_assert_no_error (error);
          g_assert_cmpuint (epoch, ==, newest->epoch);
          entries = coffer_pack_read_header (newest->data_key, epoch, data + len - COFFER_PACK_TRAILER_BYTES - header_len,
                                             header_len, len, &error);
          g_assert_no_error (error);
          for (guint j = 0; j < entries->len; j++)
            {
              CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, j);
              g_autoptr(GBytes) plain = coffer_blob_open (newest->data_key, e->id, e->type,
                                                          data + e->offset, e->length, &error);
              g_assert_no_error (error);
              g_assert_nonnull (plain);
              for (guint k = 0; k + 1 < keys->epochs->len; k++)
                {
                  CofferEpochKeys *old = g_ptr_array_index (keys->epochs, k);
                  g_autoptr(GError) old_error = NULL;
                  g_autoptr(GBytes) no = coffer_blob_open (old->data_key, e->id, e->type,
                                                           data + e->offset, e->length, &old_error);
                  g_assert_null (no);
                }
              blobs++;
            }
          packs++;
        }
      else if (strstr (name, "/keys/") == NULL)
        {
          guint32 epoch;

          /* snapshots, index, prune plans, meta: "CFO1" | epoch */
          g_assert_cmpuint (len, >, 8);
          g_assert_cmpmem (data, 4, "CFO1", 4);
          memcpy (&epoch, data + 4, 4);
          g_assert_cmpuint (GUINT32_FROM_LE (epoch), ==, newest->epoch);
          objects++;
        }
    }
  g_assert_cmpuint (packs, >, 0);
  g_assert_cmpuint (blobs, >, 0);
  g_assert_cmpuint (objects, >, 0);
}

static void
assert_snapshots_newest (CofferRepository *repo, const char *cid, guint expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) snaps = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  CofferCategoryKeys *keys = _coffer_repository_get_category (repo, cid, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, expected);
  for (guint i = 0; i < snaps->len; i++)
    g_assert_cmpuint (((CofferSnapshot *) g_ptr_array_index (snaps, i))->epoch, ==,
                      coffer_category_keys_newest (keys)->epoch);
}

static void
reencrypt_ok (CofferRepository *repo, const char *cid, Progress *pr)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (coffer_repository_reencrypt_category (repo, cid, on_progress, pr, NULL, &error));
  g_assert_no_error (error);
}

static void
test_reencrypt (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *src = fixture_dir ("src");
  g_autofree char *expect1 = fixture_dir ("expect1");
  g_autofree char *cid = NULL;
  g_autofree char *pw_name = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL;
  g_autoptr(CofferSnapshot) s2 = NULL;
  g_autoptr(GBytes) old_pw_env = NULL;
  g_autoptr(GPtrArray) old_packs = NULL;
  g_autoptr(GPtrArray) new_packs = NULL;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pack_prefix = NULL;
  Progress pr = { 0 };

  fixture_fresh_computer ();
  repo = fixture_create (store_dir, PASSWORD, &rk);
  make_v1 (src, 7);
  make_v1 (expect1, 7);
  cid = fixture_add_category (repo, "Documents", COFFER_LEVEL_STANDARD, src);
  pack_prefix = g_strdup_printf ("categories/%s/packs/", cid);
  s1 = fixture_backup (repo, cid);
  make_v2 (src, 7);
  s2 = fixture_backup (repo, cid);
  g_assert_cmpuint (s1->epoch, ==, 0);
  g_assert_cmpuint (s2->epoch, ==, 0);
  old_packs = fixture_list_objects (store_dir, pack_prefix);
  pw_name = g_strdup_printf ("categories/%s/keys/password", cid);
  /* The copy an attacker keeps (the provider's file history). */
  old_pw_env = read_object (store_dir, pw_name);

  g_assert_true (coffer_repository_set_level (repo, cid, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);
  reencrypt_ok (repo, cid, &pr);
  g_assert_false (pr.wrong_operation);
  g_assert_true (pr.saw_finished);
  g_assert_cmpuint (pr.files_total, ==, 2);
  g_assert_cmpuint (pr.last_files_done, ==, 2);

  /* Same backups (time and sequence), now under the newest epoch. */
  snaps = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, 2);
  g_assert_cmpint (((CofferSnapshot *) g_ptr_array_index (snaps, 0))->time, ==, s1->time);
  g_assert_cmpuint (((CofferSnapshot *) g_ptr_array_index (snaps, 0))->seq, ==, s1->seq);
  g_assert_cmpint (((CofferSnapshot *) g_ptr_array_index (snaps, 1))->time, ==, s2->time);
  g_assert_cmpuint (((CofferSnapshot *) g_ptr_array_index (snaps, 1))->seq, ==, s2->seq);
  g_assert_cmpstr (((CofferSnapshot *) g_ptr_array_index (snaps, 1))->parent, ==,
                   ((CofferSnapshot *) g_ptr_array_index (snaps, 0))->id);
  assert_snapshots_newest (repo, cid, 2);
  assert_all_newest (repo, store_dir, cid);
  /* Not one of the old packs is left. */
  new_packs = fixture_list_objects (store_dir, pack_prefix);
  for (guint i = 0; i < old_packs->len; i++)
    for (guint j = 0; j < new_packs->len; j++)
      g_assert_cmpstr (g_ptr_array_index (old_packs, i), !=, g_ptr_array_index (new_packs, j));
  fixture_assert_check_clean (repo, cid, 100);

  /* Running it again has nothing to do. */
  {
    Progress again = { 0 };
    reencrypt_ok (repo, cid, &again);
    g_assert_cmpuint (again.files_total, ==, 0);
  }

  /* The files cache does not offer old ids: a backup of the unchanged
   * tree still makes a complete snapshot. */
  {
    g_autoptr(CofferSnapshot) s3 = fixture_backup (repo, cid);
    g_assert_cmpuint (s3->epoch, ==, coffer_category_keys_newest (
                        _coffer_repository_get_category (repo, cid, NULL, NULL))->epoch);
    fixture_assert_check_clean (repo, cid, 100);
  }
  fixture_close (&repo);

  /* A fresh computer with the old password envelope written back into
   * the repository opens nothing. */
  {
    g_autofree char *path = g_build_filename (store_dir, pw_name, NULL);
    g_autofree char *target = fixture_dir ("attacker");
    g_autoptr(CofferCategory) cat = NULL;
    g_autoptr(GPtrArray) found = NULL;
    g_autoptr(GDir) dir = NULL;

    g_assert_true (g_file_set_contents (path, g_bytes_get_data (old_pw_env, NULL),
                                        g_bytes_get_size (old_pw_env), NULL));
    fixture_fresh_computer ();
    repo = fixture_open (store_dir, PASSWORD, NULL, &error);
    g_assert_no_error (error);
    cat = coffer_repository_find_category (repo, cid, NULL, &error);
    g_assert_null (cat);
    g_assert_nonnull (error);
    g_clear_error (&error);
    found = coffer_repository_list_snapshots (repo, cid, NULL, &error);
    g_assert_null (found);
    g_assert_nonnull (error);
    g_clear_error (&error);
    g_assert_false (coffer_restore_run (repo, cid, s1, NULL, target, COFFER_RESTORE_DEFAULT, NULL, NULL,
                                        NULL, NULL, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    dir = g_dir_open (target, 0, NULL);
    g_assert_null (g_dir_read_name (dir));
    fixture_close (&repo);
    g_assert_cmpint (g_unlink (path), ==, 0);
  }

  /* The recovery key restores both backups byte for byte. */
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, NULL, rk, &error);
  g_assert_no_error (error);
  g_clear_pointer (&snaps, g_ptr_array_unref);
  snaps = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *t1 = fixture_dir ("restore1");
    g_autofree char *t2 = fixture_dir ("restore2");
    g_autofree char *c1 = fixture_restored (t1, src);
    g_autofree char *c2 = fixture_restored (t2, src);

    fixture_restore (repo, cid, g_ptr_array_index (snaps, 0), t1);
    fixture_restore (repo, cid, g_ptr_array_index (snaps, 1), t2);
    coffer_test_assert_same_tree (expect1, c1, FALSE);
    coffer_test_assert_same_tree (src, c2, TRUE);
  }
  fixture_assert_check_clean (repo, cid, 100);
}

static void
test_resume (void)
{
  g_autofree char *store_dir = fixture_dir ("store-resume");
  g_autofree char *src = fixture_dir ("src-resume");
  g_autofree char *cid = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GBytes) first_obj = NULL;
  g_autofree char *first_name = NULL;
  CofferCategoryKeys *keys;
  guint newest_count = 0;
  Progress pr = { 0 };

  fixture_fresh_computer ();
  repo = fixture_create (store_dir, PASSWORD, &rk);
  make_v1 (src, 11);
  cid = fixture_add_category (repo, "Photos", COFFER_LEVEL_STANDARD, src);
  g_clear_pointer (&snaps, g_ptr_array_unref);
  coffer_snapshot_free (fixture_backup (repo, cid));
  make_v2 (src, 11);
  coffer_snapshot_free (fixture_backup (repo, cid));
  {
    g_autofree char *more = g_build_filename (src, "more.bin", NULL);
    coffer_test_write_random (more, 1024 * 1024, 99);
  }
  coffer_snapshot_free (fixture_backup (repo, cid));
  snaps = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_no_error (error);
  first_name = g_strdup_printf ("categories/%s/snapshots/%s", cid,
                                ((CofferSnapshot *) g_ptr_array_index (snaps, 0))->id);
  first_obj = read_object (store_dir, first_name);
  g_clear_pointer (&snaps, g_ptr_array_unref);

  g_assert_true (coffer_repository_set_level (repo, cid, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);

  /* Cancelled after the first snapshot. */
  pr.cancel_after_first = cancellable;
  g_assert_false (coffer_repository_reencrypt_category (repo, cid, on_progress, &pr, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  keys = _coffer_repository_get_category (repo, cid, NULL, &error);
  g_assert_no_error (error);
  snaps = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, 3);
  for (guint i = 0; i < snaps->len; i++)
    if (((CofferSnapshot *) g_ptr_array_index (snaps, i))->epoch == coffer_category_keys_newest (keys)->epoch)
      newest_count++;
  g_assert_cmpuint (newest_count, ==, 1);
  g_clear_pointer (&snaps, g_ptr_array_unref);
  /* What is there is consistent. */
  fixture_assert_check_clean (repo, cid, 100);

  /* The next run completes; no backup is lost or doubled. */
  {
    Progress again = { 0 };
    reencrypt_ok (repo, cid, &again);
    g_assert_cmpuint (again.files_total, ==, 2);
  }
  assert_snapshots_newest (repo, cid, 3);
  assert_all_newest (repo, store_dir, cid);
  fixture_assert_check_clean (repo, cid, 100);

  /* Interrupted between writing a copy and deleting the original: the
   * original comes back; the next run only deletes it. */
  {
    g_autofree char *path = g_build_filename (store_dir, first_name, NULL);
    Progress again = { 0 };

    g_assert_true (g_file_set_contents (path, g_bytes_get_data (first_obj, NULL),
                                        g_bytes_get_size (first_obj), NULL));
    reencrypt_ok (repo, cid, &again);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  }
  assert_snapshots_newest (repo, cid, 3);
  fixture_assert_check_clean (repo, cid, 100);
  fixture_close (&repo);

  fixture_fresh_computer ();
  repo = fixture_open (store_dir, NULL, rk, &error);
  g_assert_no_error (error);
  {
    g_autofree char *target = fixture_dir ("restore-resume");
    g_autofree char *copy = fixture_restored (target, src);
    g_autoptr(CofferSnapshot) latest = coffer_repository_find_snapshot (repo, cid, "latest", NULL, &error);

    g_assert_no_error (error);
    fixture_restore (repo, cid, latest, target);
    coffer_test_assert_same_tree (src, copy, TRUE);
  }
  fixture_assert_check_clean (repo, cid, 100);
}

/* Prune copies live blobs of half-empty packs into new packs without
 * decrypting them. A pack never mixes key epochs: every blob in a pack
 * opens with the data key of the epoch its trailer names (the key that
 * also seals its header), also after prune repacked packs of two epochs
 * at once. */
static void
assert_packs_single_epoch (CofferRepository *repo, const char *store_dir, const char *cid)
{
  g_autoptr(GError) error = NULL;
  CofferCategoryKeys *keys = _coffer_repository_get_category (repo, cid, NULL, &error);
  g_autofree char *prefix = g_strdup_printf ("categories/%s/packs/", cid);
  g_autoptr(GPtrArray) names = fixture_list_objects (store_dir, prefix);
  g_autoptr(GHashTable) epochs = g_hash_table_new (NULL, NULL);

  g_assert_no_error (error);
  for (guint i = 0; i < names->len; i++)
    {
      g_autoptr(GBytes) obj = read_object (store_dir, g_ptr_array_index (names, i));
      gsize len;
      const guint8 *data = g_bytes_get_data (obj, &len);
      guint32 header_len, epoch;
      CofferEpochKeys *ek;
      g_autoptr(GArray) entries = NULL;

      g_assert_true (coffer_pack_parse_trailer (data + len - COFFER_PACK_TRAILER_BYTES, len,
                                                &header_len, &epoch, &error));
      g_assert_no_error (error);
      ek = coffer_category_keys_epoch (keys, epoch);
      g_assert_nonnull (ek);
      entries = coffer_pack_read_header (ek->data_key, epoch, data + len - COFFER_PACK_TRAILER_BYTES - header_len,
                                         header_len, len, &error);
      g_assert_no_error (error);
      for (guint j = 0; j < entries->len; j++)
        {
          CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, j);
          g_autoptr(GBytes) plain = coffer_blob_open (ek->data_key, e->id, e->type,
                                                      data + e->offset, e->length, &error);
          g_assert_no_error (error);
        }
      g_hash_table_add (epochs, GUINT_TO_POINTER (epoch + 1));
    }
  /* Both epochs still have live data. */
  g_assert_cmpuint (g_hash_table_size (epochs), ==, 2);
}

static void
test_prune_keeps_epochs_apart (void)
{
  g_autofree char *store_dir = fixture_dir ("store-prune");
  g_autofree char *src = fixture_dir ("src-prune");
  g_autofree char *f1 = g_build_filename (src, "f1.bin", NULL);
  g_autofree char *f2 = g_build_filename (src, "f2.bin", NULL);
  g_autofree char *g1 = g_build_filename (src, "g1.bin", NULL);
  g_autofree char *g2 = g_build_filename (src, "g2.bin", NULL);
  g_autofree char *expect_b = fixture_dir ("expect-b");
  g_autofree char *cid = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) a = NULL;
  g_autoptr(CofferSnapshot) b = NULL;
  g_autoptr(CofferSnapshot) c = NULL;
  g_autoptr(CofferSnapshot) d = NULL;
  g_autoptr(GError) error = NULL;

  fixture_fresh_computer ();
  repo = fixture_create (store_dir, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Photos", COFFER_LEVEL_STANDARD, src);
  /* Epoch 0: a = {f1, f2}, b = {f1}. */
  coffer_test_write_random (f1, 600 * 1024, 31);
  coffer_test_write_random (f2, 600 * 1024, 32);
  a = fixture_backup (repo, cid);
  g_assert_cmpint (g_unlink (f2), ==, 0);
  b = fixture_backup (repo, cid);
  {
    g_autofree char *expect_f1 = g_build_filename (expect_b, "f1.bin", NULL);
    coffer_test_write_random (expect_f1, 600 * 1024, 31);
  }
  /* Epoch 1: c = {f1, g1, g2}, d = {f1, g1}. */
  g_assert_true (coffer_repository_set_level (repo, cid, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);
  coffer_test_write_random (g1, 10 * 1024, 33);
  coffer_test_write_random (g2, 600 * 1024, 34);
  c = fixture_backup (repo, cid);
  g_assert_cmpint (g_unlink (g2), ==, 0);
  d = fixture_backup (repo, cid);
  g_assert_cmpuint (a->epoch, ==, b->epoch);
  g_assert_cmpuint (c->epoch, ==, d->epoch);
  g_assert_cmpuint (b->epoch, <, d->epoch);

  /* Forget a and c: the first pack of each epoch is now half unused, and
   * prune repacks both in one run. */
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("categories/%s/snapshots/%s", cid, (i == 0 ? a : c)->id);
      g_assert_true (coffer_store_delete (coffer_repository_get_store (repo), name, NULL, &error));
      g_assert_no_error (error);
    }
  fixture_close (&repo);
  repo = fixture_open (store_dir, NULL, rk, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_prune_run (repo, cid, 0, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (coffer_prune_run (repo, cid, 0, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  assert_packs_single_epoch (repo, store_dir, cid);
  fixture_assert_check_clean (repo, cid, 100);
  {
    g_autofree char *target_b = fixture_dir ("restore-b");
    g_autofree char *target_d = fixture_dir ("restore-d");
    g_autofree char *copy_b = fixture_restored (target_b, src);
    g_autofree char *copy_d = fixture_restored (target_d, src);

    fixture_restore (repo, cid, b, target_b);
    coffer_test_assert_same_tree (expect_b, copy_b, FALSE);
    fixture_restore (repo, cid, d, target_d);
    coffer_test_assert_same_tree (src, copy_d, TRUE);
  }
}

static gboolean
collect_name (const char *name, guint64 size, gpointer user_data)
{
  g_ptr_array_add (user_data, g_path_get_basename (name));
  return TRUE;
}

static GPtrArray *
index_objects (CofferRepository *repo, const char *cid)
{
  g_autofree char *prefix = g_strdup_printf ("categories/%s/index/", cid);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  g_assert_true (coffer_store_list (coffer_repository_get_store (repo), prefix, collect_name, names,
                                    NULL, &error));
  g_assert_no_error (error);
  return names;
}

/* A prune killed after it wrote its complete index X (superseding I1 and
 * I2) but before it deleted them leaves I1 and I2 superseded by X. The
 * next prune writes its own complete index and deletes what its index
 * replaced: if that were only X (the live object), deleting X would bring
 * I1 and I2 back to life, naming the pack of a forgotten snapshot that
 * this prune deletes ("pack ... is missing", found by the chaos test). The
 * new index must supersede, and the prune delete, every index object it
 * listed. */
static void
test_prune_superseded_stay_superseded (void)
{
  g_autofree char *store_dir = fixture_dir ("store-superseded");
  g_autofree char *src = fixture_dir ("src-superseded");
  g_autofree char *f1 = g_build_filename (src, "f1.bin", NULL);
  g_autofree char *f2 = g_build_filename (src, "f2.bin", NULL);
  g_autofree char *cid = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) a = NULL;
  g_autoptr(CofferSnapshot) b = NULL;
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(GError) error = NULL;

  fixture_fresh_computer ();
  repo = fixture_create (store_dir, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Photos", COFFER_LEVEL_STANDARD, src);
  coffer_test_write_random (f1, 600 * 1024, 41);
  a = fixture_backup (repo, cid);
  g_assert_cmpint (g_unlink (f1), ==, 0);
  coffer_test_write_random (f2, 600 * 1024, 42);
  b = fixture_backup (repo, cid);

  /* X: what the killed prune wrote. */
  before = index_objects (repo, cid);
  g_assert_cmpuint (before->len, ==, 2);
  {
    CofferCategoryKeys *keys = _coffer_repository_get_category (repo, cid, NULL, &error);
    CofferIndex *index;

    g_assert_no_error (error);
    _coffer_repository_drop_index (repo, keys);
    index = _coffer_repository_get_index (repo, keys, NULL, &error);
    g_assert_no_error (error);
    g_ptr_array_add (before, NULL);
    g_assert_true (_coffer_repository_write_index (repo, keys, index, NULL,
                                                   (const char * const *) before->pdata, NULL, NULL, &error));
    g_assert_no_error (error);
  }
  /* Forget a: the pack of f1 is unused. */
  {
    g_autofree char *name = g_strdup_printf ("categories/%s/snapshots/%s", cid, a->id);
    g_assert_true (coffer_store_delete (coffer_repository_get_store (repo), name, NULL, &error));
    g_assert_no_error (error);
  }
  fixture_close (&repo);
  repo = fixture_open (store_dir, NULL, rk, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_prune_run (repo, cid, 0, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  /* One index object is left: the new one. */
  after = index_objects (repo, cid);
  g_assert_cmpuint (after->len, ==, 1);
  for (guint i = 0; i + 1 < before->len; i++)
    g_assert_cmpstr (g_ptr_array_index (after, 0), !=, g_ptr_array_index (before, i));

  /* Another computer (no index cache) finds every pack it is told of. */
  fixture_close (&repo);
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, NULL, rk, &error);
  g_assert_no_error (error);
  fixture_assert_check_clean (repo, cid, 100);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/reencrypt/after-advanced", test_reencrypt);
  g_test_add_func ("/reencrypt/resume", test_resume);
  g_test_add_func ("/prune/epochs-apart", test_prune_keeps_epochs_apart);
  g_test_add_func ("/prune/superseded-stay-superseded", test_prune_superseded_stay_superseded);
  return g_test_run ();
}
