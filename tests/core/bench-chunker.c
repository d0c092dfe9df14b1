/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Chunker throughput benchmark (not a test):
 *   bench-chunker [MiB]   chunks MiB (default 1024) of random data in memory. */
#include <stdlib.h>
#include <glib.h>
#include <sodium.h>

#include "coffer-chunker.h"

int
main (int argc, char **argv)
{
  gsize mib = argc > 1 ? (gsize) g_ascii_strtoull (argv[1], NULL, 10) : 1024;
  gsize len = mib * 1024 * 1024;
  guint8 key_bytes[32];
  CofferSecret key = { sizeof key_bytes, key_bytes };
  g_autofree guint8 *buf = NULL;
  g_autoptr(CofferChunker) chunker = NULL;
  gsize pos = 0, n_chunks = 0;
  gint64 start, elapsed;
  double best = 0;

  if (sodium_init () < 0)
    return 1;
  randombytes_buf (key_bytes, sizeof key_bytes);
  buf = g_malloc (len);
  randombytes_buf (buf, len);
  chunker = coffer_chunker_new (&key, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);

  for (int round = 0; round < 5; round++)
    {
      pos = 0;
      n_chunks = 0;
      start = g_get_monotonic_time ();
      while (pos < len)
        {
          gsize cut = coffer_chunker_cut (chunker, buf + pos, len - pos, TRUE);
          pos += cut;
          n_chunks++;
        }
      elapsed = g_get_monotonic_time () - start;
      best = MAX (best, (double) len / elapsed);  /* bytes per microsecond = MB/s */
    }

  g_print ("%" G_GSIZE_FORMAT " MiB, %" G_GSIZE_FORMAT " chunks, mean %.0f KiB, best %.0f MB/s\n",
           mib, n_chunks, (double) len / n_chunks / 1024, best);
  return 0;
}
