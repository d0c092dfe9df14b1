/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <sodium.h>

#include "coffer-crypto.h"
#include "coffer-error.h"
#include "coffer-pack.h"

typedef struct
{
  guint8  id[COFFER_ID_BYTES];
  guint8  type;
  GBytes *plain;
  GBytes *sealed;
} TestBlob;

static void
test_blob_clear (gpointer data)
{
  TestBlob *blob = data;

  g_clear_pointer (&blob->plain, g_bytes_unref);
  g_clear_pointer (&blob->sealed, g_bytes_unref);
}

static GArray *
make_blobs (const CofferSecret *key,
            guint               n)
{
  g_autoptr(CofferSecret) id_key = coffer_secret_new_random (32);
  GArray *blobs = g_array_new (FALSE, TRUE, sizeof (TestBlob));

  g_array_set_clear_func (blobs, test_blob_clear);
  for (guint i = 0; i < n; i++)
    {
      TestBlob blob;
      gsize len = randombytes_uniform (20000);
      guint8 *data = g_malloc (MAX (len, 1));

      randombytes_buf (data, len);
      blob.plain = g_bytes_new_take (data, len);
      blob.type = (i % 3 == 0) ? COFFER_BLOB_TREE : COFFER_BLOB_DATA;
      coffer_blob_id (COFFER_HASH_SUITE_SHA256, id_key, data, len, blob.id);
      blob.sealed = coffer_blob_seal (key, blob.id, blob.type, data, len);
      g_array_append_val (blobs, blob);
    }
  return blobs;
}

static GBytes *
write_pack_mode (const CofferSecret *key,
                 guint32             epoch,
                 GArray             *blobs,
                 gboolean            deterministic,
                 guint8              id[COFFER_ID_BYTES],
                 GArray            **entries)
{
  g_autoptr(CofferPackWriter) writer = coffer_pack_writer_new (key, epoch, COFFER_HASH_SUITE_SHA256);
  gsize expected_size = 0;

  if (deterministic)
    coffer_pack_writer_set_deterministic (writer);

  for (guint i = 0; i < blobs->len; i++)
    {
      TestBlob *blob = &g_array_index (blobs, TestBlob, i);

      coffer_pack_writer_add (writer, blob->id, blob->type, blob->sealed,
                              g_bytes_get_size (blob->plain));
      expected_size += g_bytes_get_size (blob->sealed);
      g_assert_cmpuint (coffer_pack_writer_get_count (writer), ==, i + 1);
      g_assert_cmpuint (coffer_pack_writer_get_size (writer), ==, expected_size);
    }
  return coffer_pack_writer_finish (writer, id, entries);
}

static GBytes *
write_pack (const CofferSecret *key,
            guint32             epoch,
            GArray             *blobs,
            guint8              id[COFFER_ID_BYTES],
            GArray            **entries)
{
  return write_pack_mode (key, epoch, blobs, FALSE, id, entries);
}

static GArray *
read_pack (const CofferSecret *key,
           GBytes             *pack,
           GError            **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (pack, &size);
  guint32 header_len, epoch;

  if (size < COFFER_PACK_TRAILER_BYTES)
    {
      g_set_error_literal (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT, "short");
      return NULL;
    }
  if (!coffer_pack_parse_trailer (data + size - COFFER_PACK_TRAILER_BYTES, size,
                                  &header_len, &epoch, error))
    return NULL;
  return coffer_pack_read_header (key, epoch,
                                  data + size - COFFER_PACK_TRAILER_BYTES - header_len,
                                  header_len, size, error);
}

static void
test_round_trip (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(GArray) blobs = make_blobs (key, 40);
  g_autoptr(GArray) written = NULL;
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GBytes) pack = NULL;
  g_autoptr(GError) error = NULL;
  guint8 pack_id[32], hash[32];
  gsize size;
  const guint8 *data;
  guint32 header_len, epoch;

  pack = write_pack (key, 7, blobs, pack_id, &written);
  data = g_bytes_get_data (pack, &size);

  /* The name is SHA-256 of the bytes (hash suite 1, what new epochs
   * use): verifiable without keys. */
  coffer_hash (COFFER_HASH_SUITE_SHA256, data, size, hash);
  g_assert_cmpmem (hash, 32, pack_id, 32);
  /* A pack of a suite-0 epoch is named by BLAKE2b-256 of its bytes. */
  {
    g_autoptr(CofferPackWriter) w0 = coffer_pack_writer_new (key, 7, COFFER_HASH_SUITE_BLAKE2B);
    TestBlob *blob = &g_array_index (blobs, TestBlob, 0);
    g_autoptr(GBytes) p0 = NULL;
    guint8 id0[32];

    coffer_pack_writer_add (w0, blob->id, blob->type, blob->sealed, g_bytes_get_size (blob->plain));
    p0 = coffer_pack_writer_finish (w0, id0, NULL);
    coffer_hash (COFFER_HASH_SUITE_BLAKE2B, g_bytes_get_data (p0, NULL), g_bytes_get_size (p0), hash);
    g_assert_cmpmem (hash, 32, id0, 32);
    coffer_hash (COFFER_HASH_SUITE_SHA256, g_bytes_get_data (p0, NULL), g_bytes_get_size (p0), hash);
    g_assert_true (memcmp (hash, id0, 32) != 0);
  }
  g_assert_cmpmem (data + size - 4, 4, "CFP1", 4);

  g_assert_true (coffer_pack_parse_trailer (data + size - 12, size, &header_len, &epoch, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (epoch, ==, 7);

  entries = read_pack (key, pack, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, blobs->len);
  g_assert_cmpuint (written->len, ==, blobs->len);

  for (guint i = 0; i < entries->len; i++)
    {
      CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, i);
      CofferPackEntry *w = &g_array_index (written, CofferPackEntry, i);
      TestBlob *blob = NULL;
      g_autoptr(GBytes) opened = NULL;

      /* Same as the writer said */
      g_assert_cmpmem (e->id, 32, w->id, 32);
      g_assert_cmpuint (e->type, ==, w->type);
      g_assert_cmpuint (e->offset, ==, w->offset);
      g_assert_cmpuint (e->length, ==, w->length);
      g_assert_cmpuint (e->raw_length, ==, w->raw_length);
      for (guint j = 0; j < blobs->len; j++)
        if (memcmp (g_array_index (blobs, TestBlob, j).id, e->id, 32) == 0)
          blob = &g_array_index (blobs, TestBlob, j);
      g_assert_nonnull (blob);
      g_assert_cmpuint (e->type, ==, blob->type);
      g_assert_cmpuint (e->raw_length, ==, g_bytes_get_size (blob->plain));
      g_assert_cmpuint (e->length, ==, g_bytes_get_size (blob->sealed));
      g_assert_cmpuint ((guint64) e->offset + e->length, <=, size - 12 - header_len);

      opened = coffer_blob_open (key, e->id, e->type, data + e->offset, e->length, &error);
      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (opened, blob->plain));
    }
}

/* The header's entries are written in GVariant's normal form without
 * GVariantBuilder; the reader accepts only the normal form, so packs whose
 * header needs 1-, 2- and 4-byte framing offsets (1, 5 and 1300 entries)
 * must read back with every entry as written. */
static void
test_header_sizes (void)
{
  const guint counts[] = { 1, 4, 5, 1300 };

  for (guint c = 0; c < G_N_ELEMENTS (counts); c++)
    {
      g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
      g_autoptr(GArray) blobs = make_blobs (key, counts[c]);
      g_autoptr(GArray) written = NULL;
      g_autoptr(GArray) entries = NULL;
      g_autoptr(GBytes) pack = NULL;
      g_autoptr(GError) error = NULL;
      guint8 pack_id[32];

      pack = write_pack (key, 3, blobs, pack_id, &written);
      entries = read_pack (key, pack, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (entries->len, ==, counts[c]);
      for (guint i = 0; i < entries->len; i++)
        {
          CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, i);
          CofferPackEntry *w = &g_array_index (written, CofferPackEntry, i);

          g_assert_cmpmem (e->id, 32, w->id, 32);
          g_assert_cmpuint (e->type, ==, w->type);
          g_assert_cmpuint (e->offset, ==, w->offset);
          g_assert_cmpuint (e->length, ==, w->length);
          g_assert_cmpuint (e->raw_length, ==, w->raw_length);
        }
    }
}

static void
test_empty_pack (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(GArray) blobs = make_blobs (key, 0);
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GBytes) pack = NULL;
  g_autoptr(GError) error = NULL;
  guint8 pack_id[32];

  pack = write_pack (key, 0, blobs, pack_id, NULL);
  entries = read_pack (key, pack, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 0);
}

static void
test_random_order (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(GArray) blobs = make_blobs (key, 3);
  guint seen[6] = { 0 };

  /* 200 packs of 3 blobs: every one of the 6 orders shows up (the chance
   * that one does not, with a uniform shuffle, is below 1e-15). */
  for (guint n = 0; n < 200; n++)
    {
      g_autoptr(GArray) entries = NULL;
      g_autoptr(GBytes) pack = NULL;
      guint8 pack_id[32];
      guint order[3];
      guint code;

      pack = write_pack (key, 1, blobs, pack_id, &entries);
      for (guint i = 0; i < 3; i++)
        for (guint j = 0; j < 3; j++)
          if (memcmp (g_array_index (entries, CofferPackEntry, i).id,
                      g_array_index (blobs, TestBlob, j).id, 32) == 0)
            order[i] = j;
      /* Entries are in pack order: offsets ascend. */
      g_assert_cmpuint (g_array_index (entries, CofferPackEntry, 0).offset, ==, 0);
      g_assert_cmpuint (g_array_index (entries, CofferPackEntry, 1).offset, >,
                        g_array_index (entries, CofferPackEntry, 0).offset);
      code = order[0] * 2 + (order[1] > order[2] ? 1 : 0);
      seen[code]++;
    }
  for (guint i = 0; i < 6; i++)
    g_assert_cmpuint (seen[i], >, 0);
}

static void
test_tamper_trailer (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(GArray) blobs = make_blobs (key, 5);
  g_autoptr(GBytes) pack = NULL;
  guint8 pack_id[32];
  gsize size;
  const guint8 *data;

  pack = write_pack (key, 3, blobs, pack_id, NULL);
  data = g_bytes_get_data (pack, &size);

  /* Every byte of the trailer */
  for (gsize i = size - 12; i < size; i++)
    for (guint bit = 0; bit < 8; bit++)
      {
        g_autofree guint8 *copy = g_memdup2 (data, size);
        g_autoptr(GBytes) bad = NULL;
        g_autoptr(GArray) entries = NULL;
        g_autoptr(GError) error = NULL;

        copy[i] ^= 1 << bit;
        bad = g_bytes_new (copy, size);
        entries = read_pack (key, bad, &error);
        g_assert_null (entries);
        g_assert_nonnull (error);
        g_assert_true (error->domain == COFFER_CRYPTO_ERROR);
        if (i == size - 1)
          g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
        else
          g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
      }

  /* Header length larger than the pack, or too small to hold nonce + tag */
  {
    guint8 trailer[12];
    guint32 header_len;
    g_autoptr(GError) error = NULL;

    memcpy (trailer, data + size - 12, 12);
    trailer[0] = trailer[1] = trailer[2] = 0xff;
    trailer[3] = 0x7f;
    g_assert_false (coffer_pack_parse_trailer (trailer, size, &header_len, NULL, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);

    memset (trailer, 0, 4);
    trailer[0] = 39;
    g_assert_false (coffer_pack_parse_trailer (trailer, size, &header_len, NULL, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);

    /* A pack too small to hold anything */
    memcpy (trailer, data + size - 12, 12);
    g_assert_false (coffer_pack_parse_trailer (trailer, 20, &header_len, NULL, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);

    /* Truncated pack (trailer read from what is left) */
    for (gsize cut = 1; cut < 200; cut += 13)
      {
        g_autoptr(GBytes) shorter = g_bytes_new (data, size - cut);
        g_autoptr(GArray) entries = read_pack (key, shorter, &error);

        g_assert_null (entries);
        g_assert_nonnull (error);
        g_clear_error (&error);
      }
  }
}

static void
test_tamper_header (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) wrong = coffer_secret_new_random (32);
  g_autoptr(GArray) blobs = make_blobs (key, 4);
  g_autoptr(GBytes) pack = NULL;
  guint8 pack_id[32];
  gsize size;
  const guint8 *data;
  const guint8 *header;
  guint32 header_len, epoch;

  pack = write_pack (key, 3, blobs, pack_id, NULL);
  data = g_bytes_get_data (pack, &size);
  g_assert_true (coffer_pack_parse_trailer (data + size - 12, size, &header_len, &epoch, NULL));
  header = data + size - 12 - header_len;

  for (gsize i = 0; i < header_len; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (header, header_len);
      g_autoptr(GArray) entries = NULL;
      g_autoptr(GError) error = NULL;

      copy[i] ^= 0x08;
      entries = coffer_pack_read_header (key, epoch, copy, header_len, size, &error);
      g_assert_null (entries);
      g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    }

  {
    g_autoptr(GError) error = NULL;

    /* Wrong epoch (bound in the AD) and wrong key */
    g_assert_null (coffer_pack_read_header (key, epoch + 1, header, header_len, size, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);
    g_assert_null (coffer_pack_read_header (wrong, epoch, header, header_len, size, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);
    /* Header length that does not fit the pack size */
    g_assert_null (coffer_pack_read_header (key, epoch, header, header_len, header_len + 11, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
  }
}

/* Encrypts a hand-made header the way the writer does. */
static GBytes *
seal_header (const CofferSecret *key,
             guint32             epoch,
             GVariant           *header)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (header);
  guint8 ad[22];
  gsize len = g_variant_get_size (owned);
  guint8 *out = g_malloc (24 + len + 16);
  unsigned long long clen;

  memcpy (ad, "coffer-pack-header", 18);
  ad[18] = epoch & 0xff;
  ad[19] = (epoch >> 8) & 0xff;
  ad[20] = (epoch >> 16) & 0xff;
  ad[21] = (epoch >> 24) & 0xff;
  randombytes_buf (out, 24);
  crypto_aead_xchacha20poly1305_ietf_encrypt (out + 24, &clen, g_variant_get_data (owned), len,
                                              ad, sizeof ad, NULL, out, key->data);
  return g_bytes_new_take (out, 24 + clen);
}

typedef struct { guint id_len; guint8 type; guint32 offset, length, raw; } FakeEntry;

static GVariant *
make_header (guint32 version, const FakeEntry *entries, guint n)
{
  GVariantBuilder builder;
  guint8 id[64] = { 0 };

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ayyuuu)"));
  for (guint i = 0; i < n; i++)
    {
      id[0] = i;
      g_variant_builder_add (&builder, "(@ayyuuu)",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, id, entries[i].id_len, 1),
                             entries[i].type, entries[i].offset, entries[i].length, entries[i].raw);
    }
  return g_variant_new ("(ua(ayyuuu))", version, &builder);
}

static void
expect_header (const CofferSecret *key,
               GVariant           *header,
               guint64             blob_area,
               gint                code)
{
  g_autoptr(GBytes) sealed = seal_header (key, 9, header);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) entries = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (sealed, &len);

  entries = coffer_pack_read_header (key, 9, data, len, blob_area + len + 12, &error);
  if (code < 0)
    {
      g_assert_no_error (error);
      g_assert_nonnull (entries);
    }
  else
    {
      g_assert_null (entries);
      g_assert_error (error, COFFER_CRYPTO_ERROR, code);
    }
}

static void
test_entries_bounds (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);

  {
    FakeEntry ok[] = { { 32, 1, 0, 100, 50 }, { 32, 2, 100, 100, 50 }, { 32, 1, 300, 700, 50 } };

    expect_header (key, make_header (1, ok, 3), 1000, -1);
    /* Last entry one byte past the blob area */
    expect_header (key, make_header (1, ok, 3), 999, COFFER_CRYPTO_ERROR_CORRUPT);
    /* Unknown header version (2 is the padded format, which has another layout) */
    expect_header (key, make_header (3, ok, 3), 1000, COFFER_CRYPTO_ERROR_UNSUPPORTED);
  }
  {
    FakeEntry overlap[] = { { 32, 1, 0, 100, 50 }, { 32, 1, 300, 100, 50 }, { 32, 2, 99, 100, 50 } };

    expect_header (key, make_header (1, overlap, 3), 1000, COFFER_CRYPTO_ERROR_CORRUPT);
  }
  {
    /* offset + length overflowing 32 bits */
    FakeEntry wrap[] = { { 32, 1, 0xffffff00u, 0x200, 50 } };

    expect_header (key, make_header (1, wrap, 1), 1000, COFFER_CRYPTO_ERROR_CORRUPT);
  }
  {
    FakeEntry short_id[] = { { 31, 1, 0, 100, 50 } };
    FakeEntry long_id[] = { { 33, 1, 0, 100, 50 } };
    FakeEntry bad_type[] = { { 32, 3, 0, 100, 50 } };
    FakeEntry tiny[] = { { 32, 1, 0, 44, 0 } };
    FakeEntry huge_raw[] = { { 32, 1, 0, 100, 64u * 1024 * 1024 + 1 } };

    expect_header (key, make_header (1, short_id, 1), 1000, COFFER_CRYPTO_ERROR_CORRUPT);
    expect_header (key, make_header (1, long_id, 1), 1000, COFFER_CRYPTO_ERROR_CORRUPT);
    expect_header (key, make_header (1, bad_type, 1), 1000, COFFER_CRYPTO_ERROR_CORRUPT);
    expect_header (key, make_header (1, tiny, 1), 1000, COFFER_CRYPTO_ERROR_CORRUPT);
    expect_header (key, make_header (1, huge_raw, 1), 1000, COFFER_CRYPTO_ERROR_CORRUPT);
  }
  /* Not a header at all (wrong GVariant type / not in normal form) */
  expect_header (key, g_variant_new ("(us)", 1, "hello"), 1000, COFFER_CRYPTO_ERROR_CORRUPT);
  expect_header (key, g_variant_new_from_data (G_VARIANT_TYPE ("ay"), "\x01\x00\x00\x00\xff\xff\xff", 7,
                                               TRUE, NULL, NULL),
                 1000, COFFER_CRYPTO_ERROR_CORRUPT);
}

/* Repacking (prune): the same blobs make the same pack byte for byte, so
 * a prune run again after a kill finds the pack it stored; other blobs, or
 * the same under another key, make another; the pack reads as any other
 * and its order is still shuffled. Normal packs stay random. */
static void
test_deterministic (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) other_key = coffer_secret_new_random (32);
  g_autoptr(GArray) blobs = make_blobs (key, 40);
  g_autoptr(GArray) fewer = make_blobs (key, 39);
  g_autoptr(GBytes) a = NULL, b = NULL, c = NULL, d = NULL, e = NULL;
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GArray) read = NULL;
  g_autoptr(GError) error = NULL;
  guint8 id_a[32], id_b[32], id_c[32], id_d[32], id_e[32];
  gboolean shuffled = FALSE;

  a = write_pack_mode (key, 2, blobs, TRUE, id_a, &entries);
  b = write_pack_mode (key, 2, blobs, TRUE, id_b, NULL);
  g_assert_true (g_bytes_equal (a, b));
  g_assert_cmpmem (id_a, 32, id_b, 32);
  c = write_pack_mode (key, 2, fewer, TRUE, id_c, NULL);
  g_assert_false (g_bytes_equal (a, c));
  d = write_pack_mode (other_key, 2, blobs, TRUE, id_d, NULL);
  g_assert_false (memcmp (id_a, id_d, 32) == 0);
  e = write_pack_mode (key, 2, blobs, FALSE, id_e, NULL);
  g_assert_false (memcmp (id_a, id_e, 32) == 0);

  read = read_pack (key, a, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (read->len, ==, 40);
  for (guint i = 0; i < read->len; i++)
    {
      CofferPackEntry *entry = &g_array_index (read, CofferPackEntry, i);
      g_autoptr(GBytes) plain = coffer_blob_open (key, entry->id, entry->type,
                                                  (const guint8 *) g_bytes_get_data (a, NULL) + entry->offset,
                                                  entry->length, &error);
      g_assert_no_error (error);
      if (memcmp (entry->id, g_array_index (blobs, TestBlob, i).id, 32) != 0)
        shuffled = TRUE;
    }
  g_assert_true (shuffled);
}

/* Packs finished one after the other, each freed before the next, share
 * one buffer (a fresh one costs a page fault per page written); a pack
 * still held when the next finishes gets a buffer of its own, and its
 * bytes stay its own. */
static void
test_buffers_reused (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(GArray) blobs = make_blobs (key, 6);
  g_autoptr(GBytes) held = NULL;
  g_autoptr(GBytes) copy = NULL;
  guint8 id[32];
  guint before;

  g_bytes_unref (write_pack (key, 1, blobs, id, NULL));
  before = _coffer_pack_get_buffers_made ();
  for (guint i = 0; i < 5; i++)
    g_bytes_unref (write_pack (key, 1, blobs, id, NULL));
  g_assert_cmpuint (_coffer_pack_get_buffers_made (), ==, before);

  held = write_pack (key, 1, blobs, id, NULL);
  /* Page-aligned, and a multiple of 4 KiB long: the local store writes it
   * with O_DIRECT (test-store-local /store-local/posix/direct-packs). */
  g_assert_cmpuint ((guintptr) g_bytes_get_data (held, NULL) % 4096, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (held) % 4096, ==, 0);
  copy = g_bytes_new (g_bytes_get_data (held, NULL), g_bytes_get_size (held));
  g_bytes_unref (write_pack (key, 2, blobs, id, NULL));
  g_assert_cmpuint (_coffer_pack_get_buffers_made (), ==, before + 1);
  g_assert_true (g_bytes_equal (held, copy));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  coffer_core_init ();

  g_test_add_func ("/pack/round-trip", test_round_trip);
  g_test_add_func ("/pack/empty", test_empty_pack);
  g_test_add_func ("/pack/header-sizes", test_header_sizes);
  g_test_add_func ("/pack/random-order", test_random_order);
  g_test_add_func ("/pack/deterministic", test_deterministic);
  g_test_add_func ("/pack/tamper-trailer", test_tamper_trailer);
  g_test_add_func ("/pack/tamper-header", test_tamper_header);
  g_test_add_func ("/pack/entries-bounds", test_entries_bounds);
  g_test_add_func ("/pack/buffers-reused", test_buffers_reused);

  return g_test_run ();
}
