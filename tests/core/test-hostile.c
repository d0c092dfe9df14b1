/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A malicious repository, written by someone who holds the keys (a removed
 * device, a stolen password): objects sealed with the engine's own
 * functions, so every MAC checks out and only the parsers and the
 * operations stand between them and this computer. Coffer must not write
 * outside the restore target, must not allocate without bound and must not
 * work forever. */
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "coffer-device.h"
#include "coffer-index.h"
#include "coffer-pack.h"
#include "coffer-repository-private.h"
#include "coffer-snapshot.h"
#include "coffer-store.h"
#include "coffer-tree.h"
#include "repo-fixture.h"

#define PASSWORD "hostile test password"

typedef struct
{
  char               *store_dir;
  char               *src;
  char               *cid;
  CofferSecret       *rk;
  CofferRepository   *repo;
  CofferCategoryKeys *keys;
  CofferSnapshot     *snap;   /* a real snapshot, the template for planted ones */
} Hostile;

static void
hostile_setup (Hostile *h)
{
  g_autofree char *file = NULL;
  g_autoptr(GError) error = NULL;

  fixture_fresh_computer ();
  h->store_dir = fixture_dir ("store");
  h->src = fixture_dir ("src");
  file = g_build_filename (h->src, "real.txt", NULL);
  g_assert_true (g_file_set_contents (file, "real data\n", -1, NULL));
  h->repo = fixture_create (h->store_dir, PASSWORD, &h->rk);
  h->cid = fixture_add_category (h->repo, "Docs", COFFER_LEVEL_STANDARD, h->src);
  h->snap = fixture_backup (h->repo, h->cid);
  h->keys = _coffer_repository_get_category (h->repo, h->cid, NULL, &error);
  g_assert_no_error (error);
}

static void
hostile_free (Hostile *h)
{
  fixture_close (&h->repo);
  g_clear_pointer (&h->snap, coffer_snapshot_free);
  g_clear_pointer (&h->rk, coffer_secret_free);
  g_free (h->store_dir);
  g_free (h->src);
  g_free (h->cid);
}

/* One tree entry as raw GVariant, so that names the serializer refuses
 * (programmer errors there) can be written. */
static void
add_entry (GVariantBuilder *b, const char *name, gsize name_len, CofferNodeType type,
           const guint8 *content, gsize content_len, const char *link)
{
  g_variant_builder_add (b, "(@ayyuuutxxtt@ay@a(ayay)@ay@a(tt))",
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, name, name_len, 1),
                         (guint8) type, (guint32) (type == COFFER_NODE_DIR ? 0755 : 0644),
                         (guint32) getuid (), (guint32) getgid (), (guint64) 0,
                         (gint64) 1700000000000000000, (gint64) 1700000000000000000,
                         (guint64) 0, (guint64) 0,
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, link ? link : "",
                                                    link ? strlen (link) : 0, 1),
                         g_variant_new_array (G_VARIANT_TYPE ("(ayay)"), NULL, 0),
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, content ? content : (const guint8 *) "",
                                                    content_len, 1),
                         g_variant_new_array (G_VARIANT_TYPE ("(tt)"), NULL, 0));
}

static GBytes *
tree_end (GVariantBuilder *b)
{
  g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new ("(u@a(ayyuuutxxttaya(ayay)aya(tt)))", 1u,
                                                             g_variant_builder_end (b)));
  return g_variant_get_data_as_bytes (v);
}

/* Seals tree blobs into one pack, stores it and indexes it, as a backup
 * would; returns nothing, ids[i] gets the id of trees[i]. */
static void
plant_trees (Hostile *h, GBytes **trees, guint n, guint8 (*ids)[COFFER_ID_BYTES])
{
  CofferEpochKeys *ek = coffer_category_keys_newest (h->keys);
  g_autoptr(CofferPackWriter) w = coffer_pack_writer_new (ek->data_key, ek->epoch, ek->suite);
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GBytes) pack = NULL;
  g_autoptr(CofferIndex) delta = coffer_index_new ();
  g_autofree char *name = NULL;
  g_autoptr(GError) error = NULL;
  guint8 pack_id[COFFER_ID_BYTES];

  for (guint i = 0; i < n; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (trees[i], &len);
      g_autoptr(GBytes) sealed = NULL;

      coffer_blob_id (ek->suite, ek->blob_id_key, data, len, ids[i]);
      sealed = coffer_blob_seal (ek->data_key, ids[i], COFFER_BLOB_TREE, data, len);
      coffer_pack_writer_add (w, ids[i], COFFER_BLOB_TREE, sealed, len);
    }
  pack = coffer_pack_writer_finish (w, pack_id, &entries);
  name = _coffer_pack_name (h->cid, pack_id);
  g_assert_true (coffer_store_put (coffer_repository_get_store (h->repo), name, pack,
                                   COFFER_PUT_CREATE, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < entries->len; i++)
    {
      const CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, i);
      coffer_index_add (delta, e->id, e->type, pack_id, e->offset, e->length, e->raw_length);
    }
  g_assert_true (_coffer_repository_write_index (h->repo, h->keys, delta, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  _coffer_repository_drop_index (h->repo, h->keys);
}

/* A new snapshot (the real one's fields, a new seq) with root tree root. */
static CofferSnapshot *
plant_snapshot (Hostile *h, const guint8 root[COFFER_ID_BYTES], guint64 files, guint64 dirs)
{
  g_autoptr(GError) error = NULL;
  const char *id = NULL;
  CofferSnapshot *s;

  memcpy (h->snap->tree, root, COFFER_ID_BYTES);
  h->snap->seq++;
  h->snap->time += 1000000;
  h->snap->end_time = h->snap->time;
  h->snap->files = files;
  h->snap->dirs = dirs;
  id = _coffer_repository_write_snapshot (h->repo, h->keys, h->snap, NULL, &error);
  g_assert_no_error (error);
  s = coffer_repository_find_snapshot (h->repo, h->cid, id, NULL, &error);
  g_assert_no_error (error);
  return s;
}

/* Restores snapshot s into a fresh target beside an "outside" folder and
 * returns the error; asserts that nothing appeared outside the target. */
static GError *
restore_expecting_failure (Hostile *h, const CofferSnapshot *s, const char *outside)
{
  g_autofree char *target = fixture_dir ("target");
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autoptr(GDir) dir = NULL;
  GError *error = NULL;

  g_assert_false (coffer_restore_run (h->repo, h->cid, s, NULL, target,
                                      COFFER_RESTORE_OVERWRITE, NULL, NULL, &conflicts, NULL, &error));
  g_assert_nonnull (error);
  dir = g_dir_open (outside, 0, NULL);
  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
  return error;
}

/* Entry names that would leave the folder they are in. The parser refuses
 * each; the restore fails as CORRUPT and writes nothing outside. */
static void
test_bad_names (void)
{
  static const struct { const char *name; gsize len; } bad[] = {
    { "..", 2 }, { ".", 1 }, { "", 0 }, { "../outside", 10 }, { "a/../../b", 9 },
    { "/tmp", 4 }, { "x\0y", 3 },
  };
  Hostile h = { 0 };
  g_autofree char *outside = fixture_dir ("outside");

  hostile_setup (&h);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GVariantBuilder b;
      g_autoptr(GBytes) tree = NULL;
      g_autoptr(CofferSnapshot) s = NULL;
      g_autoptr(GError) error = NULL;
      guint8 id[1][COFFER_ID_BYTES];
      GBytes *trees[1];

      g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ayyuuutxxttaya(ayay)aya(tt))"));
      add_entry (&b, bad[i].name, bad[i].len, COFFER_NODE_SYMLINK, NULL, 0, outside);
      tree = tree_end (&b);
      trees[0] = tree;
      plant_trees (&h, trees, 1, id);
      s = plant_snapshot (&h, id[0], 0, 1);
      error = restore_expecting_failure (&h, s, outside);
      g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
    }
  hostile_free (&h);
}

/* A symlink and a folder of the same name in one listing: restoring the
 * link first and then the folder's files "into" it would write through the
 * link the restore itself made. Duplicate names are refused. */
static void
test_symlink_parent (void)
{
  Hostile h = { 0 };
  g_autofree char *outside = fixture_dir ("outside");
  GVariantBuilder b;
  g_autoptr(GBytes) leaf = NULL, root = NULL;
  g_autoptr(CofferSnapshot) s = NULL;
  g_autoptr(GError) error = NULL;
  guint8 ids[2][COFFER_ID_BYTES];
  GBytes *trees[2];

  hostile_setup (&h);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ayyuuutxxttaya(ayay)aya(tt))"));
  add_entry (&b, "planted", 7, COFFER_NODE_SYMLINK, NULL, 0, "/etc/passwd");
  leaf = tree_end (&b);
  trees[0] = leaf;
  plant_trees (&h, trees, 1, ids);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ayyuuutxxttaya(ayay)aya(tt))"));
  add_entry (&b, "d", 1, COFFER_NODE_SYMLINK, NULL, 0, outside);
  add_entry (&b, "d", 1, COFFER_NODE_DIR, ids[0], COFFER_ID_BYTES, NULL);
  root = tree_end (&b);
  trees[1] = root;
  plant_trees (&h, trees + 1, 1, ids + 1);
  s = plant_snapshot (&h, ids[1], 0, 2);
  error = restore_expecting_failure (&h, s, outside);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
  hostile_free (&h);
}

/* A "tree bomb": LEVELS listings, each naming the next one twice. Tree ids
 * are keyed hashes of the listing, so a cycle cannot be built, but this
 * DAG of 2 * LEVELS objects describes 2^LEVELS folders. A restore must stop
 * once it has met more folders or files than the snapshot records (plus
 * the folders on the way), not work for ever. */
#define LEVELS 48

static gboolean
count_entry (const char *path, const CofferTreeEntry *entry, gpointer user_data)
{
  (*(guint64 *) user_data)++;
  return TRUE;
}

static void
test_tree_bomb (void)
{
  Hostile h = { 0 };
  g_autofree char *outside = fixture_dir ("outside");
  GBytes *trees[LEVELS + 1];
  guint8 ids[LEVELS + 1][COFFER_ID_BYTES];
  g_autoptr(CofferSnapshot) s = NULL;
  g_autoptr(GError) error = NULL;

  hostile_setup (&h);
  for (guint level = 0; level <= LEVELS; level++)
    {
      GVariantBuilder b;

      g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ayyuuutxxttaya(ayay)aya(tt))"));
      if (level == 0)
        add_entry (&b, "f", 1, COFFER_NODE_FILE, NULL, 0, NULL);
      else
        {
          guint8 below[COFFER_ID_BYTES];
          CofferEpochKeys *newest = coffer_category_keys_newest (h.keys);

          coffer_blob_id (newest->suite, newest->blob_id_key,
                          g_bytes_get_data (trees[level - 1], NULL),
                          g_bytes_get_size (trees[level - 1]), below);
          add_entry (&b, "a", 1, COFFER_NODE_DIR, below, COFFER_ID_BYTES, NULL);
          add_entry (&b, "b", 1, COFFER_NODE_DIR, below, COFFER_ID_BYTES, NULL);
        }
      trees[level] = tree_end (&b);
    }
  plant_trees (&h, trees, LEVELS + 1, ids);
  /* What the snapshot claims is what a real backup of a small tree records. */
  s = plant_snapshot (&h, ids[LEVELS], 10, 10);

  error = restore_expecting_failure (&h, s, outside);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
  /* Browsing (coffer ls, find, the restore window's search) stops too. */
  {
    guint64 seen = 0;

    g_clear_error (&error);
    g_assert_false (coffer_repository_walk (h.repo, h.cid, s, NULL, count_entry, &seen, NULL, &error));
    g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
    g_assert_cmpuint (seen, <=, 10 + 10 + 4096);
  }
  for (guint level = 0; level <= LEVELS; level++)
    g_bytes_unref (trees[level]);
  hostile_free (&h);
}

/* An index object whose zstd frame claims more than the loader's cap is
 * refused before anything of that size is allocated. */
static void
test_index_claims_too_much (void)
{
  /* zstd frame header: magic, descriptor with an 8-byte content size and
   * single segment, content size 2^40. */
  static const guint8 frame[] = {
    0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
  };
  g_autoptr(GBytes) bytes = g_bytes_new_static (frame, sizeof frame);
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GError) error = NULL;

  plain = _coffer_decompress (bytes, 512 * 1024 * 1024, &error);
  g_assert_null (plain);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
}

/* A holder of the recovery key signs account key changes that go round in
 * a circle (K1 replaced K2, K2 replaced K1): following them from K1 back
 * to the key this computer knows must stop, not walk for ever. The
 * signing key is derived from the recovery key as
 * coffer-repository-devices.c does (docs/FORMAT.md "Joining and
 * rotation"). */
static void
plant_rotation (Hostile *h, const guint8 *sign_sk, const guint8 *sign_pk, const guint8 old_id[32],
                const guint8 new_id[32], guint64 seq)
{
  const guint8 *repo_id = h->repo->raw_id;
  g_autoptr(GByteArray) rec = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *hex = coffer_hex_encode (new_id, 32);
  g_autofree char *name = g_strdup_printf ("keys/rotations/%s", hex);
  guint8 msg[106], sig[crypto_sign_BYTES];
  guint64 le = GUINT64_TO_LE (seq);
  static const guint8 head[8] = { 'C', 'F', 'R', 'T', 2, 0, 0, 0 };

  memcpy (msg, "coffer-rotation-v2", 18);
  memcpy (msg + 18, repo_id, COFFER_REPO_ID_BYTES);
  memcpy (msg + 34, old_id, 32);
  memcpy (msg + 66, new_id, 32);
  memcpy (msg + 98, &le, 8);
  crypto_sign_detached (sig, NULL, msg, sizeof msg, sign_sk);
  g_byte_array_append (rec, head, sizeof head);
  g_byte_array_append (rec, old_id, 32);
  g_byte_array_append (rec, new_id, 32);
  g_byte_array_append (rec, (const guint8 *) &le, 8);
  g_byte_array_append (rec, sign_pk, crypto_sign_PUBLICKEYBYTES);
  g_byte_array_append (rec, sig, sizeof sig);
  bytes = g_bytes_new (rec->data, rec->len);
  g_assert_true (coffer_store_put (coffer_repository_get_store (h->repo), name, bytes, COFFER_PUT_REPLACE,
                                   NULL, &error));
  g_assert_no_error (error);
}

static void
test_rotation_loop (void)
{
  Hostile h = { 0 };
  guint8 seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  guint8 k0[32], k1[32], k2[32];
  g_autofree char *k0_hex = NULL, *k1_hex = NULL;
  g_autoptr(GError) error = NULL;
  crypto_generichash_state st;
  static const char domain[] = "coffer-rotation-sign-v1";

  hostile_setup (&h);
  crypto_generichash_init (&st, h.rk->data, h.rk->len, sizeof seed);
  crypto_generichash_update (&st, (const guint8 *) domain, sizeof domain - 1);
  crypto_generichash_update (&st, h.repo->raw_id, COFFER_REPO_ID_BYTES);
  crypto_generichash_final (&st, seed, sizeof seed);
  crypto_sign_seed_keypair (pk, sk, seed);
  _coffer_repository_pin_rotation_key (h.repo, h.rk);

  coffer_account_key_id (h.repo->account_key, k0);
  randombytes_buf (k1, sizeof k1);
  randombytes_buf (k2, sizeof k2);
  plant_rotation (&h, sk, pk, k2, k1, 7);
  plant_rotation (&h, sk, pk, k1, k2, 6);
  k0_hex = coffer_hex_encode (k0, 32);
  k1_hex = coffer_hex_encode (k1, 32);
  g_assert_false (_coffer_repository_follow_rotation (h.repo, k0_hex, k1_hex, NULL, &error));
  g_test_message ("a circle of key changes: %s", error->message);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "loops"));
  sodium_memzero (sk, sizeof sk);
  sodium_memzero (seed, sizeof seed);
  hostile_free (&h);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/hostile/bad-names", test_bad_names);
  g_test_add_func ("/hostile/symlink-parent", test_symlink_parent);
  g_test_add_func ("/hostile/tree-bomb", test_tree_bomb);
  g_test_add_func ("/hostile/index-claims-too-much", test_index_claims_too_much);
  g_test_add_func ("/hostile/rotation-loop", test_rotation_loop);
  return g_test_run ();
}
