/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-buffer-pool.h"
#include "coffer-bytes.h"
#include "coffer-nonce.h"
#include "coffer-pack.h"
#include "coffer-variant-writer.h"
#include "coffer-error.h"

#define PACK_MAGIC          "CFP1"
#define PACK_HEADER_AD      "coffer-pack-header"
#define PACK_HEADER_VERSION 2
#define PACK_HEADER_V1_TYPE "(ua(ayyuuu))"   /* 0.1.0: read, never written */
#define PACK_ENTRIES_TYPE   "a(ayyuuu)"
/* Version 2 header plaintext: version (u32 LE) | entries length g (u32 LE)
 * | entries GVariant (g bytes) | zero bytes up to 8 + 64·B, B the bucket
 * of the entry count. One serialised entry takes at most 56 bytes. */
#define PACK_HEADER_PREFIX  8
#define PACK_ENTRY_SLOT     64
#define PACK_MIN_BUCKET     16
/* Packs are padded to at least this size, and to a power of two up to
 * PACK_POW2_LIMIT; larger ones to their Padmé length (at most about 3 %
 * more, where a power of two would cost up to 100 %). */
#define PACK_MIN_SIZE       (64 * 1024)
#define PACK_POW2_LIMIT     (1024 * 1024)
#define NONCE_BYTES         crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES           crypto_aead_xchacha20poly1305_ietf_ABYTES
/* Smallest sealed blob: nonce, a 5-byte frame, tag. */
#define MIN_SEALED_BLOB     (COFFER_BLOB_OVERHEAD + 5)

typedef struct
{
  guint8   id[COFFER_ID_BYTES];
  guint8   type;
  guint32  raw_length;
  GBytes  *sealed;
} PendingBlob;

struct _CofferPackWriter
{
  CofferSecret *data_key;
  guint32       epoch;
  CofferHashSuite suite;
  GArray       *blobs;   /* PendingBlob */
  gsize         size;
  gboolean      finished;
  /* Repacking: everything random is derived from what goes in. */
  gboolean      deterministic;
  crypto_generichash_state input;
};

#define REPACK_SEED_LABEL "coffer-repack-v1"

static void
header_ad (guint32 epoch,
           guint8  ad[sizeof PACK_HEADER_AD - 1 + 4])
{
  memcpy (ad, PACK_HEADER_AD, sizeof PACK_HEADER_AD - 1);
  coffer_put_u32_le (ad + sizeof PACK_HEADER_AD - 1, epoch);
}

static void
pending_blob_clear (gpointer data)
{
  PendingBlob *blob = data;

  g_clear_pointer (&blob->sealed, g_bytes_unref);
}

CofferPackWriter *
coffer_pack_writer_new (const CofferSecret *data_key,
                        guint32             epoch,
                        CofferHashSuite     suite)
{
  CofferPackWriter *writer;

  g_return_val_if_fail (data_key != NULL, NULL);
  g_return_val_if_fail (data_key->len == COFFER_KEY_BYTES, NULL);
  g_return_val_if_fail (suite <= COFFER_HASH_SUITE_LAST, NULL);

  writer = g_new0 (CofferPackWriter, 1);
  writer->data_key = coffer_secret_dup (data_key);
  writer->epoch = epoch;
  writer->suite = suite;
  writer->blobs = g_array_new (FALSE, TRUE, sizeof (PendingBlob));
  g_array_set_clear_func (writer->blobs, pending_blob_clear);
  return writer;
}

void
coffer_pack_writer_set_deterministic (CofferPackWriter *writer)
{
  g_return_if_fail (writer != NULL);
  g_return_if_fail (writer->blobs->len == 0);

  writer->deterministic = TRUE;
  crypto_generichash_init (&writer->input, writer->data_key->data, writer->data_key->len, 32);
  crypto_generichash_update (&writer->input, (const guint8 *) REPACK_SEED_LABEL, strlen (REPACK_SEED_LABEL));
}

/* seed of the deterministic mode, for one use (label) */
static void
derive (const guint8 seed[32], const char *label, guint8 *out, gsize len)
{
  crypto_generichash (out, len, (const guint8 *) label, strlen (label), seed, 32);
}

void
coffer_pack_writer_free (CofferPackWriter *writer)
{
  if (writer == NULL)
    return;

  g_clear_pointer (&writer->data_key, coffer_secret_free);
  g_clear_pointer (&writer->blobs, g_array_unref);
  sodium_memzero (&writer->input, sizeof writer->input);
  g_free (writer);
}

void
coffer_pack_writer_add (CofferPackWriter *writer,
                        const guint8      id[COFFER_ID_BYTES],
                        CofferBlobType    type,
                        GBytes           *sealed,
                        guint32           raw_length)
{
  PendingBlob blob = { { 0 }, 0, 0, NULL };

  g_return_if_fail (writer != NULL);
  g_return_if_fail (!writer->finished);
  g_return_if_fail (id != NULL);
  g_return_if_fail (type == COFFER_BLOB_DATA || type == COFFER_BLOB_TREE);
  g_return_if_fail (sealed != NULL);
  g_return_if_fail (g_bytes_get_size (sealed) >= MIN_SEALED_BLOB);
  g_return_if_fail (writer->size + g_bytes_get_size (sealed) < G_MAXUINT32 / 2);

  memcpy (blob.id, id, COFFER_ID_BYTES);
  blob.type = (guint8) type;
  blob.raw_length = raw_length;
  blob.sealed = g_bytes_ref (sealed);
  if (writer->deterministic)
    {
      guint8 fields[1 + 4 + 8];
      gsize len = g_bytes_get_size (sealed);

      fields[0] = blob.type;
      coffer_put_u32_le (fields + 1, raw_length);
      coffer_put_u32_le (fields + 5, (guint32) len);
      coffer_put_u32_le (fields + 9, (guint32) ((guint64) len >> 32));
      crypto_generichash_update (&writer->input, id, COFFER_ID_BYTES);
      crypto_generichash_update (&writer->input, fields, sizeof fields);
      crypto_generichash_update (&writer->input, g_bytes_get_data (sealed, NULL), len);
    }
  g_array_append_val (writer->blobs, blob);
  writer->size += g_bytes_get_size (sealed);
}

gsize
coffer_pack_writer_get_size (CofferPackWriter *writer)
{
  g_return_val_if_fail (writer != NULL, 0);

  return writer->size;
}

guint
coffer_pack_writer_get_count (CofferPackWriter *writer)
{
  g_return_val_if_fail (writer != NULL, 0);

  return writer->blobs->len;
}

/* Finished packs reuse a few large buffers instead of a fresh allocation
 * each: a new pack-sized buffer costs a page fault for every page written,
 * which was a large part of a backup's system time. One buffer is kept:
 * measured on the benchmark, it saves most of those faults, while each
 * further one raised peak memory more than it saved time. The pool lives
 * as long as the process. */
#define POOL_BUFFERS     1
#define POOL_BUFFER_SIZE (32 * 1024 * 1024)

static CofferBufferPool *
pack_pool (void)
{
  static CofferBufferPool *pool;

  if (g_once_init_enter (&pool))
    g_once_init_leave (&pool, _coffer_buffer_pool_new (POOL_BUFFERS,
                                                       POOL_BUFFERS * (gsize) POOL_BUFFER_SIZE,
                                                       POOL_BUFFER_SIZE));
  return pool;
}

guint
_coffer_pack_get_buffers_made (void)
{
  return _coffer_buffer_pool_get_made (pack_pool ());
}

guint
coffer_pack_entry_bucket (guint n)
{
  guint b = PACK_MIN_BUCKET;

  while (b < n)
    b *= 2;
  return b;
}

guint64
coffer_pack_padded_size (guint64 size)
{
  guint64 p = PACK_MIN_SIZE;

  if (size > PACK_POW2_LIMIT)
    return coffer_padme_length (size);
  while (p < size)
    p *= 2;
  return p;
}

/* coffer_pack_writer_finish, step 1. Fisher-Yates driven by a keyed
 * stream with 64 bits per draw (bias below 2^-40 for any pack), keyed by
 * a fresh random seed (one system call per pack instead of one per blob),
 * or, repacking, by one derived from seed: the order in the pack says
 * nothing about the order of the data. */
static void
pack_writer_shuffle (CofferPackWriter *writer,
                     const guint8      seed[32])
{
  guint n = writer->blobs->len;
  guint8 shuffle_key[randombytes_SEEDBYTES];
  g_autofree guint64 *shuffle = NULL;

  if (n < 2)
    return;
  if (writer->deterministic)
    derive (seed, "shuffle", shuffle_key, sizeof shuffle_key);
  else
    randombytes_buf (shuffle_key, sizeof shuffle_key);
  shuffle = g_malloc (n * sizeof (guint64));
  randombytes_buf_deterministic (shuffle, n * sizeof (guint64), shuffle_key);
  sodium_memzero (shuffle_key, sizeof shuffle_key);

  for (guint i = n; i > 1; i--)
    {
      guint j = (guint) (shuffle[i - 1] % i);
      PendingBlob tmp = g_array_index (writer->blobs, PendingBlob, i - 1);

      g_array_index (writer->blobs, PendingBlob, i - 1) = g_array_index (writer->blobs, PendingBlob, j);
      g_array_index (writer->blobs, PendingBlob, j) = tmp;
    }
}

/* Step 2: each blob's entry, at offsets in the order of the blobs, added
 * to result; returns the header's "a(ayyuuu)" in GVariant's normal form,
 * little-endian, and the blobs' total size. Offsets first, so the pack can
 * be built in one buffer of exactly its size (a GByteArray would round 16
 * MiB up to 32). Written directly (coffer-variant-writer.h): every entry
 * is 49 bytes (id, type, 3 zero bytes, three u32, one framing offset: 32)
 * and entries start 4-aligned; GVariantBuilder cost ~11 000 instructions
 * per entry. */
#define HEADER_ENTRY_BYTES  49
#define HEADER_ENTRY_STRIDE 52

static GByteArray *
pack_writer_layout (CofferPackWriter *writer,
                    GArray           *result,
                    gsize            *blob_area_out)
{
  guint n = writer->blobs->len;
  GByteArray *out = g_byte_array_sized_new (n * (HEADER_ENTRY_STRIDE + 4));
  g_autofree gsize *ends = g_new (gsize, MAX (n, 1));
  gsize blob_area = 0;

  for (guint i = 0; i < n; i++)
    {
      PendingBlob *blob = &g_array_index (writer->blobs, PendingBlob, i);
      CofferPackEntry entry;

      memcpy (entry.id, blob->id, COFFER_ID_BYTES);
      entry.type = blob->type;
      entry.offset = blob_area;
      entry.length = g_bytes_get_size (blob->sealed);
      entry.raw_length = blob->raw_length;
      g_array_append_val (result, entry);
      blob_area += entry.length;

      if (i > 0)
        _coffer_gvw_put_zeros (out, HEADER_ENTRY_STRIDE - HEADER_ENTRY_BYTES);
      g_byte_array_append (out, entry.id, COFFER_ID_BYTES);
      _coffer_gvw_put_le (out, entry.type, 1);
      _coffer_gvw_put_zeros (out, 3);
      _coffer_gvw_put_le (out, entry.offset, 4);
      _coffer_gvw_put_le (out, entry.length, 4);
      _coffer_gvw_put_le (out, entry.raw_length, 4);
      _coffer_gvw_put_le (out, COFFER_ID_BYTES, 1);
      ends[i] = out->len;
    }
  _coffer_gvw_put_offsets (out, out->len, ends, n, FALSE);
  *blob_area_out = blob_area;
  return out;
}

/* Step 3: the sealed header at dest: nonce | ciphertext | tag, the
 * plaintext padded to header_plain_len. */
static void
pack_writer_seal_header (CofferPackWriter *writer,
                         GByteArray       *header,
                         gsize             header_plain_len,
                         const guint8      seed[32],
                         guint8           *dest)
{
  guint8 ad[sizeof PACK_HEADER_AD - 1 + 4];
  unsigned long long clen = 0;
  guint8 *plain;

  plain = g_malloc0 (header_plain_len);
  coffer_put_u32_le (plain, PACK_HEADER_VERSION);
  coffer_put_u32_le (plain + 4, header->len);
  if (header->len > 0)   /* an empty pack's header has no entries (and no data) */
    memcpy (plain + PACK_HEADER_PREFIX, header->data, header->len);

  if (writer->deterministic)
    derive (seed, "header-nonce", dest, NONCE_BYTES);
  else
    _coffer_public_random (dest, NONCE_BYTES);
  header_ad (writer->epoch, ad);
  crypto_aead_xchacha20poly1305_ietf_encrypt (dest + NONCE_BYTES, &clen,
                                              plain, header_plain_len,
                                              ad, sizeof ad, NULL,
                                              dest, writer->data_key->data);
  g_assert (clen == header_plain_len + TAG_BYTES);
  g_free (plain);
}

GBytes *
coffer_pack_writer_finish (CofferPackWriter *writer,
                           guint8            out_id[COFFER_ID_BYTES],
                           GArray          **entries)
{
  g_autoptr(GArray) result = NULL;
  g_autoptr(GByteArray) header = NULL;
  CofferPoolBuffer *buffer;
  guint8 *data;
  gsize total;
  gsize header_plain_len;
  gsize blob_area;
  gsize filler;
  guint n, bucket;
  guint8 seed[32] = { 0 };  /* only repacking uses it */

  g_return_val_if_fail (writer != NULL, NULL);
  g_return_val_if_fail (!writer->finished, NULL);
  g_return_val_if_fail (out_id != NULL, NULL);

  coffer_core_init ();
  writer->finished = TRUE;
  n = writer->blobs->len;
  if (writer->deterministic)
    {
      /* Keyed hash of every blob that goes in (id, type, lengths, sealed
       * bytes): the same blobs make the same pack, byte for byte, so a
       * prune run again after a kill finds the pack it already stored.
       * The header nonce is derived from it too, so it repeats only with
       * the same header plaintext (SIV-style); the shuffle and filler stay
       * unpredictable to anyone without the data key. */
      crypto_generichash_final (&writer->input, seed, sizeof seed);
    }
  pack_writer_shuffle (writer, seed);

  result = g_array_sized_new (FALSE, TRUE, sizeof (CofferPackEntry), n);
  header = pack_writer_layout (writer, result, &blob_area);
  /* The header's length tells only the bucket of the entry count, and the
   * pack's size only a bucket of its contents (filler of random bytes
   * between the blobs and the header, which no entry points into): see
   * docs/SECURITY.md, "What the storage still learns". */
  bucket = coffer_pack_entry_bucket (n);
  while (header->len > (gsize) PACK_ENTRY_SLOT * bucket)
    bucket *= 2;
  header_plain_len = PACK_HEADER_PREFIX + (gsize) PACK_ENTRY_SLOT * bucket;
  total = blob_area + NONCE_BYTES + header_plain_len + TAG_BYTES + COFFER_PACK_TRAILER_BYTES;
  filler = coffer_pack_padded_size (total) - total;
  total += filler;
  buffer = _coffer_buffer_pool_take (pack_pool (), total);
  data = buffer->data;

  for (guint i = 0; i < n; i++)
    {
      PendingBlob *blob = &g_array_index (writer->blobs, PendingBlob, i);
      CofferPackEntry *entry = &g_array_index (result, CofferPackEntry, i);

      memcpy (data + entry->offset, g_bytes_get_data (blob->sealed, NULL), entry->length);
      /* Drop each blob once copied, so a finishing pack does not hold its
       * data twice. */
      g_clear_pointer (&blob->sealed, g_bytes_unref);
    }
  g_array_set_size (writer->blobs, 0);

  /* Random, not zeros: it must look like the ciphertext around it. */
  if (writer->deterministic)
    {
      guint8 filler_key[randombytes_SEEDBYTES];

      derive (seed, "filler", filler_key, sizeof filler_key);
      randombytes_buf_deterministic (data + blob_area, filler, filler_key);
      sodium_memzero (filler_key, sizeof filler_key);
    }
  else
    _coffer_public_random (data + blob_area, filler);
  blob_area += filler;

  pack_writer_seal_header (writer, header, header_plain_len, seed, data + blob_area);
  sodium_memzero (seed, sizeof seed);

  {
    guint8 *trailer = data + total - COFFER_PACK_TRAILER_BYTES;

    coffer_put_u32_le (trailer, NONCE_BYTES + header_plain_len + TAG_BYTES);
    coffer_put_u32_le (trailer + 4, writer->epoch);
    memcpy (trailer + 8, PACK_MAGIC, 4);
  }

  coffer_hash (writer->suite, data, total, out_id);

  if (entries != NULL)
    *entries = g_steal_pointer (&result);

  return _coffer_pool_buffer_to_bytes (buffer, total);
}

gboolean
coffer_pack_parse_trailer (const guint8  *trailer,
                           guint64        pack_size,
                           guint32       *header_len,
                           guint32       *epoch,
                           GError       **error)
{
  guint32 len;

  g_return_val_if_fail (trailer != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (pack_size < COFFER_PACK_TRAILER_BYTES + NONCE_BYTES + TAG_BYTES ||
      memcmp (trailer + 8, PACK_MAGIC, 3) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The pack is damaged: it does not end with a Coffer pack trailer."));
      return FALSE;
    }
  if (trailer[11] != PACK_MAGIC[3])
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED,
                   _("The pack uses a format this version of Coffer does not know."));
      return FALSE;
    }

  len = coffer_get_u32_le (trailer);
  if (len < NONCE_BYTES + TAG_BYTES || len > pack_size - COFFER_PACK_TRAILER_BYTES)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The pack is damaged: its header length does not fit its size."));
      return FALSE;
    }

  if (header_len != NULL)
    *header_len = len;
  if (epoch != NULL)
    *epoch = coffer_get_u32_le (trailer + 4);
  return TRUE;
}

static int
compare_entry_offset (gconstpointer a,
                      gconstpointer b)
{
  const CofferPackEntry *ea = a;
  const CofferPackEntry *eb = b;

  return (ea->offset > eb->offset) - (ea->offset < eb->offset);
}

/* coffer_pack_read_header, step 1: the header's plaintext, authenticated
 * under the data key and the epoch. */
static GBytes *
pack_header_decrypt (const CofferSecret  *data_key,
                     guint32              epoch,
                     const guint8        *header,
                     gsize                header_len,
                     GError             **error)
{
  guint8 ad[sizeof PACK_HEADER_AD - 1 + 4];
  unsigned long long mlen = 0;
  guint8 *buffer;

  header_ad (epoch, ad);
  buffer = g_malloc (MAX (header_len - NONCE_BYTES - TAG_BYTES, 1));
  if (crypto_aead_xchacha20poly1305_ietf_decrypt (buffer, &mlen, NULL,
                                                  header + NONCE_BYTES, header_len - NONCE_BYTES,
                                                  ad, sizeof ad, header, data_key->data) != 0)
    {
      g_free (buffer);
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The pack header is damaged or was modified: it failed authentication."));
      return NULL;
    }
  return g_bytes_new_take (buffer, mlen);
}

static void
set_bad_format (GError **error)
{
  g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
               _("The pack header is damaged: it is not in the expected format."));
}

/* Step 2: an iterator over the "(ayyuuu)" entries of the plaintext, in
 * either version of the header. */
static GVariantIter *
pack_header_entries_iter (GBytes  *plain,
                          GError **error)
{
  g_autoptr(GVariant) variant = NULL;
  g_autoptr(GBytes) entries_bytes = NULL;
  GVariantIter *iter = NULL;
  gsize plain_len;
  const guint8 *p = g_bytes_get_data (plain, &plain_len);
  guint32 version;

  /* Both versions start with the version as a u32 LE: in version 1 it is
   * the first member of the GVariant "(ua(ayyuuu))" that is the whole
   * plaintext. */
  version = plain_len >= 4 ? coffer_get_u32_le (p) : 0;
  if (version == 1)
    {
      guint32 inner;

      variant = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (PACK_HEADER_V1_TYPE), plain, FALSE));
      if (!g_variant_is_normal_form (variant))
        goto bad_format;
      g_variant_get (variant, "(ua(ayyuuu))", &inner, &iter);
    }
  else if (version == PACK_HEADER_VERSION)
    {
      guint32 g;

      /* Checked before subtracting: a 4-byte plaintext must not wrap. */
      if (plain_len < PACK_HEADER_PREFIX)
        goto bad_format;
      g = coffer_get_u32_le (p + 4);
      if (g > plain_len - PACK_HEADER_PREFIX)
        goto bad_format;
      for (gsize i = PACK_HEADER_PREFIX + g; i < plain_len; i++)
        if (p[i] != 0)
          goto bad_format;
      entries_bytes = g_bytes_new_from_bytes (plain, PACK_HEADER_PREFIX, g);
      variant = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (PACK_ENTRIES_TYPE),
                                                              entries_bytes, FALSE));
      if (!g_variant_is_normal_form (variant))
        goto bad_format;
      iter = g_variant_iter_new (variant);
    }
  else
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED,
                   _("The pack header has version %u, which this version of Coffer does not know."),
                   version);
      return NULL;
    }
  return iter;

bad_format:
  set_bad_format (error);
  return NULL;
}

/* Step 3: the entries, each within the blob area and well formed. */
static GArray *
pack_header_read_entries (GVariantIter  *iter,
                          guint64        blob_area,
                          GError       **error)
{
  g_autoptr(GArray) entries = NULL;
  GVariant *id_variant;
  guint8 type;
  guint32 offset, length, raw_length;

  entries = g_array_sized_new (FALSE, TRUE, sizeof (CofferPackEntry), g_variant_iter_n_children (iter));
  while (g_variant_iter_next (iter, "(@ayyuuu)", &id_variant, &type, &offset, &length, &raw_length))
    {
      g_autoptr(GVariant) owned_id = id_variant;
      CofferPackEntry entry;
      gsize id_len = 0;
      const guint8 *id = g_variant_get_fixed_array (owned_id, &id_len, 1);

      if (id_len != COFFER_ID_BYTES ||
          (type != COFFER_BLOB_DATA && type != COFFER_BLOB_TREE) ||
          length < MIN_SEALED_BLOB ||
          (guint64) offset + length > blob_area ||
          raw_length > COFFER_BLOB_MAX_BYTES)
        {
          g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                       _("The pack header is damaged: entry %u is out of bounds or malformed."),
                       entries->len + 1);
          return NULL;
        }

      memcpy (entry.id, id, COFFER_ID_BYTES);
      entry.type = type;
      entry.offset = offset;
      entry.length = length;
      entry.raw_length = raw_length;
      g_array_append_val (entries, entry);
    }
  return g_steal_pointer (&entries);
}

/* Step 4: no two entries overlap. */
static gboolean
pack_entries_check_overlap (GArray  *entries,
                            GError **error)
{
  g_autoptr(GArray) sorted = g_array_copy (entries);

  g_array_sort (sorted, compare_entry_offset);
  for (guint i = 1; i < sorted->len; i++)
    {
      const CofferPackEntry *prev = &g_array_index (sorted, CofferPackEntry, i - 1);
      const CofferPackEntry *cur = &g_array_index (sorted, CofferPackEntry, i);

      if ((guint64) prev->offset + prev->length > cur->offset)
        {
          g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                       _("The pack header is damaged: two entries overlap."));
          return FALSE;
        }
    }
  return TRUE;
}

GArray *
coffer_pack_read_header (const CofferSecret  *data_key,
                         guint32              epoch,
                         const guint8        *header,
                         gsize                header_len,
                         guint64              pack_size,
                         GError             **error)
{
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  g_autoptr(GBytes) plain = NULL;
  guint64 blob_area;

  g_return_val_if_fail (data_key != NULL && data_key->len == COFFER_KEY_BYTES, NULL);
  g_return_val_if_fail (header != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  coffer_core_init ();

  if (header_len < NONCE_BYTES + TAG_BYTES ||
      pack_size < COFFER_PACK_TRAILER_BYTES ||
      header_len > pack_size - COFFER_PACK_TRAILER_BYTES)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The pack is damaged: its header length does not fit its size."));
      return NULL;
    }
  blob_area = pack_size - COFFER_PACK_TRAILER_BYTES - header_len;

  plain = pack_header_decrypt (data_key, epoch, header, header_len, error);
  if (plain == NULL)
    return NULL;
  iter = pack_header_entries_iter (plain, error);
  if (iter == NULL)
    return NULL;
  entries = pack_header_read_entries (iter, blob_area, error);
  if (entries == NULL || !pack_entries_check_overlap (entries, error))
    return NULL;
  return g_steal_pointer (&entries);
}
