/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Not a test: single-thread throughput of coffer_blob_seal / coffer_blob_open
 * on 1 MiB blobs of random bytes and of text.
 * usage: bench-blob [seconds per case, default 2] */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "coffer-crypto.h"

static guint8 *
make_text (gsize len)
{
  static const char *words[] = { "backup ", "photo ", "encrypted ", "the ", "of ", "coffer ",
                                 "recovery ", "key\n", "and ", "2024 ", "Documents/", "report.odt " };
  guint8 *buf = g_malloc (len);
  GRand *rand = g_rand_new_with_seed (1);
  gsize pos = 0;

  while (pos < len)
    {
      const char *w = words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))];
      gsize n = MIN (strlen (w), len - pos);

      memcpy (buf + pos, w, n);
      pos += n;
    }
  g_rand_free (rand);
  return buf;
}

static void
bench (const char *label, const CofferSecret *key, const guint8 *data, gsize len, double seconds)
{
  g_autofree guint8 *out = g_malloc (coffer_blob_sealed_max (len));
  guint8 id[32] = { 0 };
  gint64 start = g_get_monotonic_time (), elapsed;
  guint n = 0;
  gsize sealed_len = 0;

  do
    {
      sealed_len = coffer_blob_seal_into (key, id, COFFER_BLOB_DATA, data, len, out);
      n++;
      elapsed = g_get_monotonic_time () - start;
    }
  while (elapsed < seconds * G_USEC_PER_SEC);
  g_print ("%-8s seal %8.1f MB/s   (sealed %zu of %zu bytes)\n", label,
           (double) n * len / elapsed, sealed_len, len);

  start = g_get_monotonic_time ();
  n = 0;
  do
    {
      g_autoptr(GBytes) opened = coffer_blob_open (key, id, COFFER_BLOB_DATA, out, sealed_len, NULL);

      g_assert (opened != NULL && g_bytes_get_size (opened) == len);
      n++;
      elapsed = g_get_monotonic_time () - start;
    }
  while (elapsed < seconds * G_USEC_PER_SEC);
  g_print ("%-8s open %8.1f MB/s\n", label, (double) n * len / elapsed);
}

int
main (int argc, char **argv)
{
  g_autoptr(CofferSecret) key = NULL;
  g_autofree guint8 *random = NULL;
  g_autofree guint8 *text = NULL;
  double seconds = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 2.0;
  const gsize len = 1 << 20;

  coffer_core_init ();
  key = coffer_secret_new_random (32);
  random = g_malloc (len);
  randombytes_buf (random, len);
  text = make_text (len);

  /* Baseline: XChaCha20-Poly1305 alone over the same 1 MiB. */
  {
    g_autofree guint8 *out = g_malloc (len + 16);
    guint8 nonce[24] = { 0 };
    unsigned long long clen;
    gint64 start = g_get_monotonic_time (), elapsed;
    guint n = 0;

    do
      {
        crypto_aead_xchacha20poly1305_ietf_encrypt (out, &clen, random, len, NULL, 0, NULL,
                                                    nonce, key->data);
        n++;
        elapsed = g_get_monotonic_time () - start;
      }
    while (elapsed < seconds * G_USEC_PER_SEC);
    g_print ("%-8s aead %8.1f MB/s   (XChaCha20-Poly1305 only, for comparison)\n", "baseline",
             (double) n * len / elapsed);
  }

  bench ("random", key, random, len, seconds);
  bench ("text", key, text, len, seconds);
  return 0;
}
