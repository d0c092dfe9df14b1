/* SPDX-License-Identifier: GPL-3.0-or-later */
/* FastCDC content-defined chunking with normalised chunking level 2 and a
 * gear table derived from the category's gear subkey.  The exact algorithm is
 * specified in docs/FORMAT.md, section "Chunking"; keep the two in step. */

#include <string.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-chunker.h"
#include "coffer-error.h"

#define GEAR_ENTRIES 256
#define GEAR_NONCE "coffer-gear\0"   /* 12 bytes including the explicit NUL */
#define MASK_SPAN 48                 /* mask bits live in bit positions 16..63 */
#define FALLBACK_WINDOW 65536        /* see fallback_cut () */
#define GEAR_SPAN 64                 /* the gear hash depends on the last 64 bytes only */

struct _CofferChunker
{
  guint64 *gear;        /* 256 entries, sodium_malloc (derived from a key) */
  guint64  mask_s;      /* bits(avg) + 2 one bits: before the normal point */
  guint64  mask_l;      /* bits(avg) - 2 one bits: after the normal point */
  gsize    min_size;
  gsize    avg_size;
  gsize    max_size;
};

/* n one bits spread evenly over bit positions 63 down to 16: bit i (for
 * i = 0 .. n-1) is at position 63 - floor (i * 48 / n). */
static guint64
spread_mask (guint n)
{
  guint64 mask = 0;

  g_assert (n >= 1 && n <= MASK_SPAN);
  for (guint i = 0; i < n; i++)
    mask |= G_GUINT64_CONSTANT (1) << (63 - (i * MASK_SPAN) / n);
  return mask;
}

/* floor (log2 (v)), v > 0 */
static guint
floor_log2 (gsize v)
{
  return g_bit_storage (v) - 1;
}

/**
 * coffer_chunker_check_params:
 * Whether the sizes are usable: 64 <= min <= avg <= max <= 2^31 and
 * 8 <= avg (so that both masks have between 1 and 48 bits).  Repository
 * configs are untrusted input; the engine checks them with this before
 * calling coffer_chunker_new().
 */
gboolean
coffer_chunker_check_params (gsize    min_size,
                             gsize    avg_size,
                             gsize    max_size,
                             GError **error)
{
  if (min_size < 64 || min_size > avg_size || avg_size > max_size ||
      max_size > G_MAXINT32 || floor_log2 (avg_size) + 2 > MASK_SPAN)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_UNSUPPORTED_VERSION,
                   _("The chunk sizes %zu, %zu"
                   " and %zu are not supported."),
                   min_size, avg_size, max_size);
      return FALSE;
    }
  return TRUE;
}

CofferChunker *
coffer_chunker_new (const CofferSecret *gear_key,
                    gsize               min_size,
                    gsize               avg_size,
                    gsize               max_size)
{
  static const guint8 nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = GEAR_NONCE;
  CofferChunker *chunker;
  guint bits;

  G_STATIC_ASSERT (sizeof GEAR_NONCE == crypto_stream_chacha20_ietf_NONCEBYTES + 1);
  g_return_val_if_fail (gear_key != NULL, NULL);
  g_return_val_if_fail (gear_key->len == crypto_stream_chacha20_ietf_KEYBYTES, NULL);
  g_return_val_if_fail (coffer_chunker_check_params (min_size, avg_size, max_size, NULL), NULL);

  if (sodium_init () < 0)
    g_error ("libsodium could not be initialised");

  chunker = g_new0 (CofferChunker, 1);
  chunker->gear = sodium_malloc (GEAR_ENTRIES * sizeof (guint64));
  if (chunker->gear == NULL)
    g_error ("Out of secure memory for the chunker gear table");

  crypto_stream_chacha20_ietf ((guint8 *) chunker->gear, GEAR_ENTRIES * sizeof (guint64),
                               nonce, gear_key->data);
  for (guint i = 0; i < GEAR_ENTRIES; i++)
    chunker->gear[i] = GUINT64_FROM_LE (chunker->gear[i]);

  bits = floor_log2 (avg_size);
  chunker->mask_s = spread_mask (bits + 2);
  chunker->mask_l = spread_mask (bits - 2);
  chunker->min_size = min_size;
  chunker->avg_size = avg_size;
  chunker->max_size = max_size;

  return chunker;
}

void
coffer_chunker_free (CofferChunker *chunker)
{
  if (chunker == NULL)
    return;
  sodium_free (chunker->gear);  /* wipes */
  sodium_memzero (chunker, sizeof *chunker);
  g_free (chunker);
}

gsize
coffer_chunker_get_max_size (const CofferChunker *chunker)
{
  g_return_val_if_fail (chunker != NULL, 0);
  return chunker->max_size;
}

/* Returns the offset one past the first byte at which the gear hash, started
 * at 0 at buf[start], has (fp & mask) == 0, or 0 when there is none in
 * [start, end). */
static inline gsize
scan (const guint64 *gear,
      const guint8  *buf,
      gsize          start,
      gsize          end,
      guint64        mask,
      guint64       *fp_inout)
{
  guint64 fp = *fp_inout;
  gsize i = start;

  /* Unrolled by four; the cut test stays per byte. */
  for (; i + 4 <= end; i += 4)
    {
      fp = (fp << 1) + gear[buf[i]];
      if (G_UNLIKELY ((fp & mask) == 0))
        return i + 1;
      fp = (fp << 1) + gear[buf[i + 1]];
      if (G_UNLIKELY ((fp & mask) == 0))
        return i + 2;
      fp = (fp << 1) + gear[buf[i + 2]];
      if (G_UNLIKELY ((fp & mask) == 0))
        return i + 3;
      fp = (fp << 1) + gear[buf[i + 3]];
      if (G_UNLIKELY ((fp & mask) == 0))
        return i + 4;
    }
  for (; i < end; i++)
    {
      fp = (fp << 1) + gear[buf[i]];
      if (G_UNLIKELY ((fp & mask) == 0))
        return i + 1;
    }

  *fp_inout = fp;
  return 0;
}

/* For max_size bytes without a cut point (zeros, a repeated line: the hash
 * runs through the same few values and never meets the mask). A fixed
 * max_size chunk would make every later chunk depend on where the file
 * started, so one inserted byte would change them all. Instead, cut after
 * the first smallest hash value among the last w bytes before max_size
 * (w = 64 KiB, or a quarter of max - min when that is less): for data
 * that repeats with a period below w that position has the same phase in
 * every chunk, so the chunks repeat and fall back into step after an
 * insertion. The hash is started GEAR_SPAN bytes before the window, where
 * it only depends on the bytes it has seen. */
static gsize
fallback_cut (const CofferChunker *chunker,
              const guint8        *buf)
{
  gsize w = MIN (FALLBACK_WINDOW, (chunker->max_size - chunker->min_size) / 4);
  gsize from = chunker->max_size - w;
  gsize best_at = from;
  guint64 best = G_MAXUINT64;
  guint64 fp = 0;

  for (gsize i = from - MIN (GEAR_SPAN, from - chunker->min_size); i < chunker->max_size; i++)
    {
      fp = (fp << 1) + chunker->gear[buf[i]];
      if (i >= from && fp < best)
        {
          best = fp;
          best_at = i;
        }
    }
  return best_at + 1;
}

gsize
coffer_chunker_cut (const CofferChunker *chunker,
                    const guint8        *buf,
                    gsize                len,
                    gboolean             eof)
{
  gsize end, normal, cut;
  guint64 fp = 0;

  g_return_val_if_fail (chunker != NULL, 0);
  g_return_val_if_fail (buf != NULL || len == 0, 0);

  if (len <= chunker->min_size && len < chunker->max_size)
    return eof ? len : 0;

  end = MIN (len, chunker->max_size);
  normal = MIN (end, chunker->avg_size);

  cut = scan (chunker->gear, buf, chunker->min_size, normal, chunker->mask_s, &fp);
  if (cut != 0)
    return cut;
  cut = scan (chunker->gear, buf, normal, end, chunker->mask_l, &fp);
  if (cut != 0)
    return cut;

  if (len >= chunker->max_size)
    return fallback_cut (chunker, buf);
  return eof ? len : 0;
}
