/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>
#include <glib.h>
#include <sodium.h>

#include "coffer-chunker.h"
#include "coffer-error.h"

#define MiB (1024 * 1024)

/* The tests build the key by hand so they only need the chunker itself. */
typedef struct
{
  guint8       bytes[32];
  CofferSecret secret;
} TestKey;

static void
test_key_init (TestKey *key, guint8 first)
{
  for (guint i = 0; i < sizeof key->bytes; i++)
    key->bytes[i] = first + i;
  key->secret.len = sizeof key->bytes;
  key->secret.data = key->bytes;
}

static guint8 *
random_data (gsize len, guint8 seed_byte)
{
  guint8 seed[randombytes_SEEDBYTES];
  guint8 *buf = g_malloc (len);

  memset (seed, seed_byte, sizeof seed);
  randombytes_buf_deterministic (buf, len, seed);
  return buf;
}

/* Chunk lengths of buf, whole buffer at once. */
static GArray *
chunk_all (const CofferChunker *chunker, const guint8 *buf, gsize len)
{
  GArray *cuts = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize pos = 0;

  while (pos < len)
    {
      gsize cut = coffer_chunker_cut (chunker, buf + pos, len - pos, TRUE);

      g_assert_cmpuint (cut, >, 0);
      g_assert_cmpuint (cut, <=, len - pos);
      g_array_append_val (cuts, cut);
      pos += cut;
    }
  return cuts;
}

/* Chunk lengths of buf fed in pieces of step bytes, as a streaming reader
 * would: grow the window until the chunker returns a cut. */
static GArray *
chunk_streaming (const CofferChunker *chunker, const guint8 *buf, gsize len, gsize step)
{
  GArray *cuts = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize pos = 0, avail = 0;

  while (pos < len)
    {
      gsize cut;
      gboolean eof;

      avail = MIN (avail + step, len - pos);
      eof = pos + avail == len;
      cut = coffer_chunker_cut (chunker, buf + pos, avail, eof);
      if (cut == 0)
        {
          g_assert_false (eof);
          g_assert_cmpuint (avail, <, coffer_chunker_get_max_size (chunker));
          continue;
        }
      g_assert_cmpuint (cut, <=, avail);
      g_array_append_val (cuts, cut);
      pos += cut;
      avail -= cut;
    }
  return cuts;
}

static void
assert_same_cuts (GArray *a, GArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    g_assert_cmpuint (g_array_index (a, gsize, i), ==, g_array_index (b, gsize, i));
}

static void
test_chunker_determinism (void)
{
  TestKey key;
  gsize len = 32 * MiB;
  g_autofree guint8 *buf = random_data (len, 1);
  g_autoptr(CofferChunker) c1 = NULL;
  g_autoptr(CofferChunker) c2 = NULL;
  g_autoptr(GArray) a = NULL;
  g_autoptr(GArray) b = NULL;
  g_autoptr(GArray) s = NULL;

  test_key_init (&key, 7);
  c1 = coffer_chunker_new (&key.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);
  c2 = coffer_chunker_new (&key.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);
  a = chunk_all (c1, buf, len);
  b = chunk_all (c2, buf, len);
  assert_same_cuts (a, b);
  g_assert_cmpuint (a->len, >, 10);

  /* Feeding the data in small or odd pieces gives the same cut points. */
  s = chunk_streaming (c1, buf, len, 64 * 1024);
  assert_same_cuts (a, s);
  g_clear_pointer (&s, g_array_unref);
  s = chunk_streaming (c1, buf, len, 1000003);
  assert_same_cuts (a, s);
}

static void
test_chunker_keys_differ (void)
{
  TestKey k1, k2;
  gsize len = 32 * MiB;
  g_autofree guint8 *buf = random_data (len, 2);
  g_autoptr(CofferChunker) c1 = NULL;
  g_autoptr(CofferChunker) c2 = NULL;
  g_autoptr(GArray) a = NULL;
  g_autoptr(GArray) b = NULL;
  g_autoptr(GHashTable) ends = g_hash_table_new (NULL, NULL);
  gsize pos = 0;
  guint shared = 0;

  test_key_init (&k1, 0);
  test_key_init (&k2, 1);
  c1 = coffer_chunker_new (&k1.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);
  c2 = coffer_chunker_new (&k2.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);
  a = chunk_all (c1, buf, len);
  b = chunk_all (c2, buf, len);

  for (guint i = 0; i < a->len; i++)
    {
      pos += g_array_index (a, gsize, i);
      g_hash_table_add (ends, GSIZE_TO_POINTER (pos));
    }
  pos = 0;
  for (guint i = 0; i + 1 < b->len; i++)
    {
      pos += g_array_index (b, gsize, i);
      if (g_hash_table_contains (ends, GSIZE_TO_POINTER (pos)))
        shared++;
    }
  /* Independent cut points almost never coincide. */
  g_assert_cmpuint (shared, <=, 1);
}

static void
test_chunker_bounds (void)
{
  TestKey key;
  gsize len = 48 * MiB;
  g_autofree guint8 *buf = random_data (len, 3);
  g_autofree guint8 *zeros = g_malloc0 (len);
  g_autoptr(CofferChunker) chunker = NULL;
  g_autoptr(GArray) cuts = NULL;
  g_autoptr(GArray) zcuts = NULL;

  test_key_init (&key, 3);
  chunker = coffer_chunker_new (&key.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);
  cuts = chunk_all (chunker, buf, len);
  for (guint i = 0; i + 1 < cuts->len; i++)
    {
      gsize c = g_array_index (cuts, gsize, i);
      g_assert_cmpuint (c, >, COFFER_CHUNK_MIN);
      g_assert_cmpuint (c, <=, COFFER_CHUNK_MAX);
    }

  /* Data without a cut point by the mask (zeros) is cut inside the last
   * 64 KiB before max_size, every chunk at the same length. */
  zcuts = chunk_all (chunker, zeros, len);
  g_assert_cmpuint (zcuts->len, >=, len / COFFER_CHUNK_MAX);
  for (guint i = 0; i + 1 < zcuts->len; i++)
    {
      g_assert_cmpuint (g_array_index (zcuts, gsize, i), >, COFFER_CHUNK_MAX - 65536);
      g_assert_cmpuint (g_array_index (zcuts, gsize, i), <=, COFFER_CHUNK_MAX);
      g_assert_cmpuint (g_array_index (zcuts, gsize, i), ==, g_array_index (zcuts, gsize, 0));
    }

  /* Small parameters: the same bounds hold. */
  {
    g_autoptr(CofferChunker) small = coffer_chunker_new (&key.secret, 256, 1024, 4096);
    g_autoptr(GArray) scuts = chunk_all (small, buf, 4 * MiB);
    gsize total = 0;

    for (guint i = 0; i < scuts->len; i++)
      {
        gsize c = g_array_index (scuts, gsize, i);
        if (i + 1 < scuts->len)
          {
            g_assert_cmpuint (c, >, 256);
            g_assert_cmpuint (c, <=, 4096);
          }
        total += c;
      }
    g_assert_cmpuint (total, ==, 4 * MiB);
    g_assert_cmpuint (scuts->len, >, 1000);
  }
}

static void
test_chunker_shift (void)
{
  static const gsize shifts[] = { 1, 1000, 3 * MiB + 12345 };
  TestKey key;
  gsize len = 64 * MiB, max_shift = shifts[G_N_ELEMENTS (shifts) - 1];
  g_autofree guint8 *buf = random_data (len + max_shift, 4);
  g_autoptr(CofferChunker) chunker = NULL;
  g_autoptr(GArray) a = NULL;
  g_autoptr(GHashTable) ends = g_hash_table_new (NULL, NULL);
  gsize pos = 0;

  test_key_init (&key, 4);
  chunker = coffer_chunker_new (&key.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);

  /* a: the original data; b: the same data with shift bytes inserted in
   * front of it.  Only the first few chunks of b may differ. */
  a = chunk_all (chunker, buf + max_shift, len);
  g_assert_cmpuint (a->len, >, 40);
  for (guint i = 0; i < a->len; i++)
    {
      pos += g_array_index (a, gsize, i);
      g_hash_table_add (ends, GSIZE_TO_POINTER (pos));
    }

  for (guint s = 0; s < G_N_ELEMENTS (shifts); s++)
    {
      gsize shift = shifts[s];
      g_autoptr(GArray) b = chunk_all (chunker, buf + max_shift - shift, len + shift);
      guint same = 0;

      pos = 0;
      for (guint i = 0; i < b->len; i++)
        {
          pos += g_array_index (b, gsize, i);
          if (pos >= shift && g_hash_table_contains (ends, GSIZE_TO_POINTER (pos - shift)))
            same++;
          else
            g_assert_cmpuint (i, <, 4);
        }
      g_assert_cmpuint (same, >=, a->len - 2);
    }
}

static void
test_chunker_eof (void)
{
  TestKey key;
  g_autofree guint8 *buf = random_data (COFFER_CHUNK_MAX * 2, 5);
  g_autofree guint8 *zeros = g_malloc0 (COFFER_CHUNK_MAX * 2);
  g_autoptr(CofferChunker) chunker = NULL;
  gsize first;

  test_key_init (&key, 5);
  chunker = coffer_chunker_new (&key.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);
  g_assert_cmpuint (coffer_chunker_get_max_size (chunker), ==, COFFER_CHUNK_MAX);

  /* Empty input and small files. */
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, 0, TRUE), ==, 0);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, 0, FALSE), ==, 0);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, 1, TRUE), ==, 1);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, 1, FALSE), ==, 0);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, COFFER_CHUNK_MIN, TRUE), ==, COFFER_CHUNK_MIN);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, COFFER_CHUNK_MIN, FALSE), ==, 0);

  /* A cut found in a prefix is the cut of the whole. */
  first = coffer_chunker_cut (chunker, buf, COFFER_CHUNK_MAX * 2, FALSE);
  g_assert_cmpuint (first, >, COFFER_CHUNK_MIN);
  g_assert_cmpuint (first, <=, COFFER_CHUNK_MAX);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, first, FALSE), ==, first);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, first, TRUE), ==, first);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, first - 1, FALSE), ==, 0);
  g_assert_cmpuint (coffer_chunker_cut (chunker, buf, first - 1, TRUE), ==, first - 1);

  /* No cut point: read more until max_size, then the fallback cut in the
   * last 64 KiB before it (for zeros, its first byte); at eof the rest. */
  g_assert_cmpuint (coffer_chunker_cut (chunker, zeros, COFFER_CHUNK_MAX - 1, FALSE), ==, 0);
  g_assert_cmpuint (coffer_chunker_cut (chunker, zeros, COFFER_CHUNK_MAX - 1, TRUE), ==, COFFER_CHUNK_MAX - 1);
  g_assert_cmpuint (coffer_chunker_cut (chunker, zeros, COFFER_CHUNK_MAX, FALSE), ==, COFFER_CHUNK_MAX - 65535);
  g_assert_cmpuint (coffer_chunker_cut (chunker, zeros, COFFER_CHUNK_MAX * 2, FALSE), ==, COFFER_CHUNK_MAX - 65535);
  g_assert_cmpuint (coffer_chunker_cut (chunker, zeros, COFFER_CHUNK_MAX * 2, TRUE), ==, COFFER_CHUNK_MAX - 65535);
}

static void
test_chunker_average (void)
{
  TestKey key;
  gsize len = 64 * MiB;
  g_autofree guint8 *buf = random_data (len, 6);
  g_autoptr(CofferChunker) chunker = NULL;
  g_autoptr(GArray) cuts = NULL;
  double mean;

  test_key_init (&key, 6);
  chunker = coffer_chunker_new (&key.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);
  cuts = chunk_all (chunker, buf, len);
  mean = (double) len / cuts->len;
  g_test_message ("%u chunks, mean %.0f KiB", cuts->len, mean / 1024);
  g_assert_cmpfloat (mean, >=, 0.75 * COFFER_CHUNK_AVG);
  g_assert_cmpfloat (mean, <=, 1.25 * COFFER_CHUNK_AVG);
}

/* Known answer, also given in docs/FORMAT.md: key = bytes 0x00..0x1f,
 * data = 64 KiB of crypto_stream_chacha20_ietf with key 0x20..0x3f and nonce
 * all zeros, sizes 256 / 1024 / 4096. */
static const gsize known_cuts[] = {
  1037, 1168, 1420, 1057, 1334, 686, 1449, 2109,
  607, 1159, 1080, 1611, 1248, 1485, 677, 1219,
};

static void
test_chunker_known_answer (void)
{
  TestKey key, dkey;
  guint8 nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };
  gsize len = 64 * 1024;
  g_autofree guint8 *buf = g_malloc (len);
  g_autoptr(CofferChunker) chunker = NULL;
  g_autoptr(GArray) cuts = NULL;

  test_key_init (&key, 0);
  test_key_init (&dkey, 0x20);
  crypto_stream_chacha20_ietf (buf, len, nonce, dkey.bytes);
  chunker = coffer_chunker_new (&key.secret, 256, 1024, 4096);
  cuts = chunk_all (chunker, buf, len);
  g_assert_cmpuint (cuts->len, ==, 57);
  for (guint i = 0; i < G_N_ELEMENTS (known_cuts); i++)
    g_assert_cmpuint (g_array_index (cuts, gsize, i), ==, known_cuts[i]);
}

static void
test_chunker_params (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (coffer_chunker_check_params (COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX, NULL));
  g_assert_true (coffer_chunker_check_params (64, 64, 64, NULL));
  g_assert_false (coffer_chunker_check_params (0, 1024, 4096, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_UNSUPPORTED_VERSION);
  g_clear_error (&error);
  g_assert_false (coffer_chunker_check_params (2048, 1024, 4096, NULL));
  g_assert_false (coffer_chunker_check_params (256, 8192, 4096, NULL));
  g_assert_false (coffer_chunker_check_params (256, 1024, G_MAXSIZE, NULL));
}

/* Periodic data (a file of one repeated line) has no cut point by the
 * mask, yet its chunks are still content-defined: after one byte is
 * inserted at the start, every chunk but the first is one seen before.
 * (Cutting at max_size would shift every chunk by the inserted byte.) */
static void
test_chunker_periodic (void)
{
  static const char line[] = "2026-12-05 06:00:01 backup finished, nothing changed\n";
  gsize line_len = sizeof line - 1;
  gsize len = 40 * MiB;
  g_autofree guint8 *buf = g_malloc (len + 1);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(CofferChunker) chunker = NULL;
  g_autoptr(GArray) before = NULL;
  g_autoptr(GArray) after = NULL;
  TestKey key;
  gsize pos = 0;
  guint shared = 0;

  buf[0] = 'X';
  for (gsize i = 0; i < len; i++)
    buf[i + 1] = line[i % line_len];
  test_key_init (&key, 9);
  chunker = coffer_chunker_new (&key.secret, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);

  before = chunk_all (chunker, buf + 1, len);
  for (guint i = 0; i < before->len; i++)
    {
      gsize c = g_array_index (before, gsize, i);
      g_hash_table_add (seen, g_compute_checksum_for_data (G_CHECKSUM_SHA256, buf + 1 + pos, c));
      pos += c;
    }
  after = chunk_all (chunker, buf, len + 1);
  g_assert_cmpuint (after->len, >=, 4);
  pos = 0;
  for (guint i = 0; i < after->len; i++)
    {
      gsize c = g_array_index (after, gsize, i);
      g_autofree char *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, buf + pos, c);

      if (g_hash_table_contains (seen, sum))
        shared++;
      pos += c;
    }
  /* The first chunk holds the new byte and the last one the end of the file. */
  g_assert_cmpuint (shared, >=, after->len - 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);

  g_test_add_func ("/chunker/determinism", test_chunker_determinism);
  g_test_add_func ("/chunker/keys-differ", test_chunker_keys_differ);
  g_test_add_func ("/chunker/bounds", test_chunker_bounds);
  g_test_add_func ("/chunker/shift", test_chunker_shift);
  g_test_add_func ("/chunker/periodic", test_chunker_periodic);
  g_test_add_func ("/chunker/eof", test_chunker_eof);
  g_test_add_func ("/chunker/average", test_chunker_average);
  g_test_add_func ("/chunker/known-answer", test_chunker_known_answer);
  g_test_add_func ("/chunker/params", test_chunker_params);

  return g_test_run ();
}
