/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Attack: counting blobs and sizing chunks from the outside. The storage
 * sees every pack's size and, from the trailer, the length of its encrypted
 * header. If the header grew by one entry's size per blob, its length would
 * give the exact blob count of every pack, and a small pack (the last one of
 * a backup) would show the padded sizes of the few chunks it holds: the raw
 * material of chunk-size fingerprinting (IACR ePrint 2025/532, 2025/558).
 *
 * The test writes packs of 1 to 16 blobs and asserts they cannot be told
 * apart by header length or pack size; it backs up a real tree and asserts
 * every pack has a padded size; and it reads a pack in the 0.1.0 format
 * (unpadded, header version 1) built byte for byte from docs/FORMAT.md, as
 * an independent writer would. */
#include <string.h>
#include <sodium.h>

#include "coffer-crypto.h"
#include "coffer-pack.h"
#include "repo-fixture.h"

typedef struct
{
  guint8  id[COFFER_ID_BYTES];
  GBytes *plain;
  GBytes *sealed;
} Blob;

static void
blob_clear (gpointer data)
{
  Blob *b = data;

  g_clear_pointer (&b->plain, g_bytes_unref);
  g_clear_pointer (&b->sealed, g_bytes_unref);
}

/* n blobs of random (incompressible) content of random sizes in
 * [min_len, max_len]. */
static GArray *
make_blobs (const CofferSecret *key, const CofferSecret *id_key, guint n, gsize min_len, gsize max_len)
{
  GArray *blobs = g_array_new (FALSE, TRUE, sizeof (Blob));

  g_array_set_clear_func (blobs, blob_clear);
  for (guint i = 0; i < n; i++)
    {
      Blob b = { { 0 } };
      gsize len = min_len + g_test_rand_int_range (0, max_len - min_len + 1);
      guint8 *data = g_malloc (len);

      randombytes_buf (data, len);
      coffer_blob_id (COFFER_HASH_SUITE_SHA256, id_key, data, len, b.id);
      b.sealed = coffer_blob_seal (key, b.id, COFFER_BLOB_DATA, data, len);
      b.plain = g_bytes_new_take (data, len);
      g_array_append_val (blobs, b);
    }
  return blobs;
}

static GBytes *
write_pack (const CofferSecret *key, GArray *blobs)
{
  g_autoptr(CofferPackWriter) writer = coffer_pack_writer_new (key, 3, COFFER_HASH_SUITE_SHA256);
  guint8 id[COFFER_ID_BYTES];

  for (guint i = 0; i < blobs->len; i++)
    {
      Blob *b = &g_array_index (blobs, Blob, i);
      coffer_pack_writer_add (writer, b->id, COFFER_BLOB_DATA, b->sealed, g_bytes_get_size (b->plain));
    }
  return coffer_pack_writer_finish (writer, id, NULL);
}

static guint32
header_length (GBytes *pack)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (pack, &size);
  guint32 header_len = 0, epoch = 0;
  g_autoptr(GError) error = NULL;

  g_assert_true (coffer_pack_parse_trailer (data + size - COFFER_PACK_TRAILER_BYTES, size, &header_len,
                                            &epoch, &error));
  g_assert_no_error (error);
  return header_len;
}

/* Reads every blob of pack back and compares it with blobs. */
static void
assert_pack_reads (const CofferSecret *key, GBytes *pack, GArray *blobs)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (pack, &size);
  guint32 header_len, epoch;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) entries = NULL;

  g_assert_true (coffer_pack_parse_trailer (data + size - COFFER_PACK_TRAILER_BYTES, size, &header_len,
                                            &epoch, &error));
  entries = coffer_pack_read_header (key, epoch, data + size - COFFER_PACK_TRAILER_BYTES - header_len,
                                     header_len, size, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, blobs->len);
  for (guint i = 0; i < blobs->len; i++)
    {
      Blob *b = &g_array_index (blobs, Blob, i);
      gboolean found = FALSE;

      for (guint j = 0; j < entries->len && !found; j++)
        {
          CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, j);
          g_autoptr(GBytes) plain = NULL;

          if (memcmp (e->id, b->id, COFFER_ID_BYTES) != 0)
            continue;
          found = TRUE;
          plain = coffer_blob_open (key, e->id, e->type, data + e->offset, e->length, &error);
          g_assert_no_error (error);
          g_assert_true (g_bytes_equal (plain, b->plain));
        }
      g_assert_true (found);
    }
}

/* Packs of 1 to 16 small blobs look the same from the outside. */
static void
test_small_packs_alike (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (COFFER_KEY_BYTES);
  g_autoptr(CofferSecret) id_key = coffer_secret_new_random (COFFER_KEY_BYTES);
  const guint counts[] = { 1, 2, 3, 5, 8, 13, 16 };
  guint32 first_header = 0;
  gsize first_size = 0;

  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      g_autoptr(GArray) blobs = make_blobs (key, id_key, counts[i], 100, 3000);
      g_autoptr(GBytes) pack = write_pack (key, blobs);
      guint32 hl = header_length (pack);

      g_test_message ("%u blobs: pack %zu bytes, header %u bytes", counts[i], g_bytes_get_size (pack), hl);
      if (i == 0)
        {
          first_header = hl;
          first_size = g_bytes_get_size (pack);
        }
      /* The header length does not tell the blob count ... */
      g_assert_cmpuint (hl, ==, first_header);
      /* ... nor the pack size the chunk sizes. */
      g_assert_cmpuint (g_bytes_get_size (pack), ==, first_size);
      assert_pack_reads (key, pack, blobs);
    }
}

/* Larger packs: sizes fall into few buckets, the header into the bucket of
 * its count. */
static void
test_bucketed (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (COFFER_KEY_BYTES);
  g_autoptr(CofferSecret) id_key = coffer_secret_new_random (COFFER_KEY_BYTES);
  g_autoptr(GHashTable) sizes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr(GHashTable) headers = g_hash_table_new (g_direct_hash, g_direct_equal);

  /* 17 to 32 blobs of 4 to 20 KiB: 68 to 640 KiB of sealed blobs. */
  for (guint n = 17; n <= 32; n++)
    {
      g_autoptr(GArray) blobs = make_blobs (key, id_key, n, 4096, 20480);
      g_autoptr(GBytes) pack = write_pack (key, blobs);
      gint64 *size = g_new (gint64, 1);

      *size = g_bytes_get_size (pack);
      g_hash_table_add (sizes, size);
      g_hash_table_add (headers, GUINT_TO_POINTER (header_length (pack)));
      assert_pack_reads (key, pack, blobs);
    }
  /* 16 different counts share one header length, 16 different contents at
   * most four sizes (128, 256, 512 KiB, 1 MiB). */
  g_assert_cmpuint (g_hash_table_size (headers), ==, 1);
  g_assert_cmpuint (g_hash_table_size (sizes), <=, 4);
}

static gboolean
is_power_of_two (guint64 v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

/* A real backup: every pack is padded (a power of two of at least 64 KiB up
 * to 1 MiB, its own Padmé length above), and the repository checks clean
 * and restores. Reports the overhead. */
static void
test_backup_packs (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *src = fixture_dir ("src");
  g_autofree char *target = fixture_dir ("target");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *prefix = NULL;
  g_autoptr(GPtrArray) packs = NULL;
  guint64 total = 0;

  fixture_make_small_tree (src, 11);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/random-%u.bin", src, i);
      coffer_test_write_random (name, 300 * 1024 * (i + 1), 40 + i);
    }
  repo = fixture_create (store_dir, "pack padding password", &rk);
  cid = fixture_add_category (repo, "Padded", COFFER_LEVEL_STANDARD, src);
  snap = fixture_backup (repo, cid);
  prefix = g_strdup_printf ("categories/%s/packs/", cid);
  packs = fixture_list_objects (store_dir, prefix);
  g_assert_cmpuint (packs->len, >, 0);
  for (guint i = 0; i < packs->len; i++)
    {
      g_autofree char *path = g_build_filename (store_dir, g_ptr_array_index (packs, i), NULL);
      g_autoptr(GBytes) data = fixture_read (path);
      guint64 size = g_bytes_get_size (data);

      g_test_message ("pack %s: %" G_GUINT64_FORMAT " bytes", (char *) g_ptr_array_index (packs, i), size);
      g_assert_cmpuint (size, >=, 64 * 1024);
      if (size <= 1024 * 1024)
        g_assert_true (is_power_of_two (size));
      else
        g_assert_cmpuint (coffer_padme_length (size), ==, size);
      total += size;
    }
  g_test_message ("%" G_GUINT64_FORMAT " bytes of files in %u packs of %" G_GUINT64_FORMAT " bytes",
                  fixture_tree_bytes (src), packs->len, total);
  fixture_assert_check_clean (repo, cid, 100);
  fixture_restore (repo, cid, snap, target);
  {
    g_autofree char *restored = fixture_restored (target, src);
    coffer_test_assert_same_tree (src, restored, TRUE);
  }
}

static void
put_u32 (guint8 *p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

/* A pack as Coffer 0.1.0 wrote it (docs/FORMAT.md, "Packs", version 1):
 * blobs back to back, then the sealed GVariant "(ua(ayyuuu))" (1, entries)
 * with no padding, then the trailer. */
static void
test_reads_0_1_0_packs (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (COFFER_KEY_BYTES);
  g_autoptr(CofferSecret) id_key = coffer_secret_new_random (COFFER_KEY_BYTES);
  g_autoptr(GArray) blobs = make_blobs (key, id_key, 5, 10, 5000);
  g_autoptr(GByteArray) pack = g_byte_array_new ();
  GVariantBuilder builder;
  g_autoptr(GVariant) header = NULL;
  guint8 ad[22];
  guint8 nonce[24];
  guint8 *sealed;
  unsigned long long clen;
  guint8 trailer[12];

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ayyuuu)"));
  for (guint i = 0; i < blobs->len; i++)
    {
      Blob *b = &g_array_index (blobs, Blob, i);
      g_variant_builder_add (&builder, "(@ayyuuu)",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, b->id, COFFER_ID_BYTES, 1),
                             (guint8) COFFER_BLOB_DATA, (guint32) pack->len,
                             (guint32) g_bytes_get_size (b->sealed), (guint32) g_bytes_get_size (b->plain));
      g_byte_array_append (pack, g_bytes_get_data (b->sealed, NULL), g_bytes_get_size (b->sealed));
    }
  header = g_variant_ref_sink (g_variant_new ("(ua(ayyuuu))", 1, &builder));

  memcpy (ad, "coffer-pack-header", 18);
  put_u32 (ad + 18, 7);
  randombytes_buf (nonce, sizeof nonce);
  sealed = g_malloc (g_variant_get_size (header) + 16);
  crypto_aead_xchacha20poly1305_ietf_encrypt (sealed, &clen, g_variant_get_data (header),
                                              g_variant_get_size (header), ad, sizeof ad, NULL, nonce,
                                              key->data);
  g_byte_array_append (pack, nonce, sizeof nonce);
  g_byte_array_append (pack, sealed, clen);
  g_free (sealed);
  put_u32 (trailer, sizeof nonce + clen);
  put_u32 (trailer + 4, 7);
  memcpy (trailer + 8, "CFP1", 4);
  g_byte_array_append (pack, trailer, sizeof trailer);

  {
    g_autoptr(GBytes) bytes = g_byte_array_free_to_bytes (g_steal_pointer (&pack));
    assert_pack_reads (key, bytes, blobs);
  }
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/attacks/pack-padding/small-packs-alike", test_small_packs_alike);
  g_test_add_func ("/attacks/pack-padding/bucketed", test_bucketed);
  g_test_add_func ("/attacks/pack-padding/backup-packs", test_backup_packs);
  g_test_add_func ("/attacks/pack-padding/reads-0.1.0-packs", test_reads_0_1_0_packs);
  return g_test_run ();
}
