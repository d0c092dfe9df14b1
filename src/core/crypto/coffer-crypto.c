/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <sodium.h>
#include <zstd.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif
#include <glib/gi18n-lib.h>
#include <inttypes.h>

#include "coffer-bytes.h"
#include "coffer-crypto.h"
#include "coffer-error.h"
#include "coffer-nonce.h"

/* ---- Constants of the repository format (docs/FORMAT.md) ---- */

#define ENVELOPE_MAGIC        "CFE1"
#define ENVELOPE_MAGIC_LEN    4
#define ENVELOPE_NONCE_OFFSET 8
#define ENVELOPE_COMMIT_OFFSET (ENVELOPE_NONCE_OFFSET + NONCE_BYTES)
#define ENVELOPE_CT_OFFSET    (ENVELOPE_COMMIT_OFFSET + COFFER_KEY_BYTES)
#define ENVELOPE_MIN_BYTES    (ENVELOPE_CT_OFFSET + TAG_BYTES)

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  /* 24 */
#define TAG_BYTES   crypto_aead_xchacha20poly1305_ietf_ABYTES     /* 16 */

#define ENVELOPE_AD_PREFIX    "coffer-v1"
#define COMMIT_LABEL          "coffer-commit"
#define ENCRYPT_LABEL         "coffer-encrypt"
#define BLOB_AD_PREFIX        "coffer-blob"
#define BLOB_AD_BYTES         (sizeof BLOB_AD_PREFIX - 1 + COFFER_ID_BYTES + 1)

#define FRAME_HEADER_BYTES    5      /* flags (1) | payload length (u32 LE) */
#define FRAME_FLAG_ZSTD       0x01

/* Compression policy (see docs/FORMAT.md "Blobs"). */
#define ZSTD_LEVEL            3
/* Blobs up to this size (whole small files, tree listings) at level 1:
 * on text of 1-16 KiB it compresses as well as level 3 (within 1 %) in
 * half the time; level 3 wins only on larger blobs (8-17 % smaller at 64
 * KiB-1 MiB). docs/PERFORMANCE.md "Compression level". */
#define ZSTD_SMALL_LEVEL      1
#define ZSTD_SMALL_MAX_BYTES  (16 * 1024)
#define ZSTD_SAMPLE_LEVEL     1
#define COMPRESS_MIN_BYTES    32          /* smaller blobs are stored raw */
#define SAMPLE_PIECE_BYTES    (16 * 1024)
#define SAMPLE_PIECES         4
#define SAMPLE_BYTES          (SAMPLE_PIECE_BYTES * SAMPLE_PIECES)
/* The sample must shrink to at most 97 % to be worth compressing. */
#define SAMPLE_MAX_RATIO_NUM  97
#define SAMPLE_MAX_RATIO_DEN  100

/* Argon2id caps applied when reading parameters. */
/* What a reader accepts from the storage: at most what this client writes
 * (3 passes, 256 MiB) with room for a stronger profile such as libsodium's
 * SENSITIVE (4 passes, 1 GiB), and never more work than that profile. */
#define KDF_OPSLIMIT_CAP      8
#define KDF_MEMLIMIT_CAP      (G_GUINT64_CONSTANT (1) << 30)
#define KDF_WORK_CAP          (G_GUINT64_CONSTANT (4) << 30)   /* opslimit × memlimit */

G_STATIC_ASSERT (NONCE_BYTES + TAG_BYTES == COFFER_BLOB_OVERHEAD);
G_STATIC_ASSERT (crypto_kdf_KEYBYTES == COFFER_KEY_BYTES);
G_STATIC_ASSERT (crypto_aead_xchacha20poly1305_ietf_KEYBYTES == COFFER_KEY_BYTES);
G_STATIC_ASSERT (crypto_pwhash_SALTBYTES == COFFER_SALT_BYTES);

/* ---- Subkeys ---- */

CofferSecret *
coffer_crypto_derive_subkey (const CofferSecret *key,
                             CofferSubkey        which)
{
  CofferSecret *subkey;
  const char *ctx;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (key->len == COFFER_KEY_BYTES, NULL);

  switch (which)
    {
    case COFFER_SUBKEY_DATA:    ctx = "cofdata_"; break;
    case COFFER_SUBKEY_BLOB_ID: ctx = "cofblbid"; break;
    case COFFER_SUBKEY_GEAR:    ctx = "cofgear_"; break;
    case COFFER_SUBKEY_META:    ctx = "cofmeta_"; break;
    default:
      g_return_val_if_reached (NULL);
    }

  coffer_core_init ();
  subkey = coffer_secret_new (COFFER_KEY_BYTES);
  crypto_kdf_derive_from_key (subkey->data, COFFER_KEY_BYTES, 1, ctx, key->data);
  return subkey;
}

/* ---- Hashes ---- */

gboolean
coffer_cpu_has_sha256 (void)
{
#if defined(__x86_64__) || defined(__i386__)
  unsigned int a, b, c, d;

  /* CPUID leaf 7, sub-leaf 0: EBX bit 29 is the SHA extensions. */
  return __get_cpuid_count (7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0;
#elif defined(__aarch64__)
  return (getauxval (AT_HWCAP) & HWCAP_SHA2) != 0;
#else
  return FALSE;
#endif
}

CofferHashSuite
coffer_hash_suite_for_new_epoch (void)
{
  const char *forced = g_getenv ("COFFER_TEST_HASH_SUITE");

  if (forced != NULL && g_strcmp0 (g_getenv ("COFFER_TESTING"), "1") == 0)
    return g_str_equal (forced, "1") ? COFFER_HASH_SUITE_SHA256 : COFFER_HASH_SUITE_BLAKE2B;
  return coffer_cpu_has_sha256 () ? COFFER_HASH_SUITE_SHA256 : COFFER_HASH_SUITE_BLAKE2B;
}

void
coffer_hash (CofferHashSuite suite,
             const guint8   *data,
             gsize           len,
             guint8          out[COFFER_ID_BYTES])
{
  struct sha256_ctx ctx;

  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (suite <= COFFER_HASH_SUITE_LAST);

  coffer_core_init ();
  if (suite == COFFER_HASH_SUITE_BLAKE2B)
    {
      crypto_generichash (out, COFFER_ID_BYTES, data, len, NULL, 0);
      return;
    }
  /* nettle picks SHA-NI / ARMv8 SHA2 instructions where the CPU has them
   * (libsodium's SHA-256 never does). */
  sha256_init (&ctx);
  sha256_update (&ctx, len, data);
  sha256_digest (&ctx, SHA256_DIGEST_SIZE, out);
}

void
coffer_blob_id (CofferHashSuite     suite,
                const CofferSecret *blob_id_key,
                const guint8       *data,
                gsize               len,
                guint8              out[COFFER_ID_BYTES])
{
  struct hmac_sha256_ctx ctx;

  g_return_if_fail (blob_id_key != NULL);
  g_return_if_fail (blob_id_key->len == COFFER_KEY_BYTES);
  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (suite <= COFFER_HASH_SUITE_LAST);

  coffer_core_init ();
  if (suite == COFFER_HASH_SUITE_BLAKE2B)
    {
      crypto_generichash (out, COFFER_ID_BYTES, data, len, blob_id_key->data, blob_id_key->len);
      return;
    }
  /* Keyed per blob: two compressions, nothing against hashing the blob.
   * The keyed state lives on this stack frame only and is wiped. */
  hmac_sha256_set_key (&ctx, blob_id_key->len, blob_id_key->data);
  hmac_sha256_update (&ctx, len, data);
  hmac_sha256_digest (&ctx, SHA256_DIGEST_SIZE, out);
  sodium_memzero (&ctx, sizeof ctx);
}

/* BLAKE2b-256 (key = key, label || nonce) */
static void
keyed_label_hash (const CofferSecret *key,
                  const char         *label,
                  const guint8       *nonce,
                  guint8              out[32])
{
  crypto_generichash_state state;

  crypto_generichash_init (&state, key->data, key->len, 32);
  crypto_generichash_update (&state, (const guint8 *) label, strlen (label));
  crypto_generichash_update (&state, nonce, NONCE_BYTES);
  crypto_generichash_final (&state, out, 32);
  sodium_memzero (&state, sizeof state);
}

/* ---- Envelopes ---- */

static guint8 *
envelope_ad (const guint8     repo_id[COFFER_REPO_ID_BYTES],
             CofferObjectType type,
             const char      *name,
             gsize           *out_len)
{
  gsize prefix_len = sizeof ENVELOPE_AD_PREFIX - 1;
  gsize name_len = strlen (name);
  gsize len = prefix_len + COFFER_REPO_ID_BYTES + 1 + name_len;
  guint8 *ad = g_malloc (len);

  memcpy (ad, ENVELOPE_AD_PREFIX, prefix_len);
  memcpy (ad + prefix_len, repo_id, COFFER_REPO_ID_BYTES);
  ad[prefix_len + COFFER_REPO_ID_BYTES] = (guint8) type;
  memcpy (ad + prefix_len + COFFER_REPO_ID_BYTES + 1, name, name_len);
  *out_len = len;
  return ad;
}

GBytes *
coffer_envelope_seal (const CofferSecret *key,
                      const guint8        repo_id[COFFER_REPO_ID_BYTES],
                      CofferObjectType     type,
                      const char          *name,
                      const guint8        *plaintext,
                      gsize                len)
{
  g_autoptr(CofferSecret) enc_key = NULL;
  g_autofree guint8 *ad = NULL;
  unsigned long long clen = 0;
  gsize ad_len;
  gsize total;
  guint8 *out;

  g_return_val_if_fail (key != NULL && key->len == COFFER_KEY_BYTES, NULL);
  g_return_val_if_fail (repo_id != NULL, NULL);
  g_return_val_if_fail (type > 0 && type < 256, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (plaintext != NULL || len == 0, NULL);
  g_return_val_if_fail (len <= G_MAXSIZE - ENVELOPE_MIN_BYTES, NULL);

  coffer_core_init ();

  total = ENVELOPE_MIN_BYTES + len;
  out = g_malloc (total);
  memcpy (out, ENVELOPE_MAGIC, ENVELOPE_MAGIC_LEN);
  out[4] = (guint8) type;
  out[5] = out[6] = out[7] = 0;
  randombytes_buf (out + ENVELOPE_NONCE_OFFSET, NONCE_BYTES);
  keyed_label_hash (key, COMMIT_LABEL, out + ENVELOPE_NONCE_OFFSET, out + ENVELOPE_COMMIT_OFFSET);

  enc_key = coffer_secret_new (COFFER_KEY_BYTES);
  keyed_label_hash (key, ENCRYPT_LABEL, out + ENVELOPE_NONCE_OFFSET, enc_key->data);

  ad = envelope_ad (repo_id, type, name, &ad_len);
  crypto_aead_xchacha20poly1305_ietf_encrypt (out + ENVELOPE_CT_OFFSET, &clen,
                                              plaintext, len,
                                              ad, ad_len, NULL,
                                              out + ENVELOPE_NONCE_OFFSET,
                                              enc_key->data);
  g_assert (clen == len + TAG_BYTES);

  return g_bytes_new_take (out, total);
}

CofferSecret *
coffer_envelope_open (const CofferSecret *key,
                      const guint8        repo_id[COFFER_REPO_ID_BYTES],
                      CofferObjectType     type,
                      const char          *name,
                      GBytes              *envelope,
                      GError             **error)
{
  g_autoptr(CofferSecret) enc_key = NULL;
  g_autoptr(CofferSecret) plaintext = NULL;
  g_autofree guint8 *ad = NULL;
  guint8 commitment[COFFER_KEY_BYTES];
  unsigned long long mlen = 0;
  const guint8 *data;
  gsize ad_len;
  gsize len;

  g_return_val_if_fail (key != NULL && key->len == COFFER_KEY_BYTES, NULL);
  g_return_val_if_fail (repo_id != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (envelope != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  coffer_core_init ();

  data = g_bytes_get_data (envelope, &len);
  if (len < ENVELOPE_MIN_BYTES || memcmp (data, ENVELOPE_MAGIC, 3) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The repository object “%s” is damaged: it is not a Coffer key envelope."), name);
      return NULL;
    }
  if (data[3] != ENVELOPE_MAGIC[3])
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED,
                   _("The repository object “%s” uses an envelope format this version of Coffer does not know."),
                   name);
      return NULL;
    }
  if (data[4] != (guint8) type || data[5] != 0 || data[6] != 0 || data[7] != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The repository object “%s” is damaged: its header does not match the kind of object expected there."),
                   name);
      return NULL;
    }

  /* Key commitment first, in constant time: a wrong key is told apart from
   * damage before any decryption is attempted. */
  keyed_label_hash (key, COMMIT_LABEL, data + ENVELOPE_NONCE_OFFSET, commitment);
  if (sodium_memcmp (commitment, data + ENVELOPE_COMMIT_OFFSET, COFFER_KEY_BYTES) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY,
                   _("The key does not open the repository object “%s”."), name);
      return NULL;
    }

  enc_key = coffer_secret_new (COFFER_KEY_BYTES);
  keyed_label_hash (key, ENCRYPT_LABEL, data + ENVELOPE_NONCE_OFFSET, enc_key->data);

  ad = envelope_ad (repo_id, type, name, &ad_len);
  plaintext = coffer_secret_new (len - ENVELOPE_MIN_BYTES);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt (plaintext->data, &mlen, NULL,
                                                  data + ENVELOPE_CT_OFFSET,
                                                  len - ENVELOPE_CT_OFFSET,
                                                  ad, ad_len,
                                                  data + ENVELOPE_NONCE_OFFSET,
                                                  enc_key->data) != 0)
    {
      /* plaintext is wiped by sodium_free when it goes out of scope. */
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The repository object “%s” is damaged or was modified: it failed authentication."),
                   name);
      return NULL;
    }
  g_assert (mlen == plaintext->len);

  return g_steal_pointer (&plaintext);
}

/* ---- Padmé ---- */

guint64
coffer_padme_length (guint64 len)
{
  guint e, s, last_bits;
  guint64 mask;

  g_return_val_if_fail (len <= G_MAXUINT64 / 2, len);

  if (len < 2)
    return len;

  e = 63 - __builtin_clzll (len);           /* floor (log2 len) */
  s = (31 - __builtin_clz (e)) + 1;          /* floor (log2 e) + 1, e >= 1 */
  last_bits = e - s;
  mask = (G_GUINT64_CONSTANT (1) << last_bits) - 1;
  return (len + mask) & ~mask;
}

/* ---- Blobs ---- */

/* Key material of encrypt_raw_frame (below), in sodium_malloc memory. */
typedef struct
{
  guint8                            subkey[crypto_core_hchacha20_OUTPUTBYTES];
  guint8                            block0[64];
  crypto_onetimeauth_poly1305_state poly;
} AeadScratch;

/* A buffer a blob is opened into. Given back when its bytes are freed, it
 * waits in the freeing thread's spares for the next blob: fresh memory
 * for every blob costs a page fault per 4 KiB page when it is first
 * written, 40 % of a restore's faults (docs/PERFORMANCE.md "Restore
 * buffers"). What it held is overwritten by the next blob, as freed heap
 * memory would be; keys never go into one. */
typedef struct
{
  gsize   capacity;
  guint8 *data;
} BlobBuffer;

/* Two per thread (a compressed blob is decrypted into one and inflated
 * into the other), of at most 12 MiB together: room for the largest chunk
 * (8 MiB), while a restore's workers keep little more than they use. */
#define SPARE_BLOB_BUFFERS 2
#define SPARE_BLOB_BYTES   (12u * 1024 * 1024)

typedef struct
{
  ZSTD_CCtx   *cctx;
  ZSTD_DCtx   *dctx;
  guint8      *sample;       /* SAMPLE_BYTES */
  guint8      *sample_out;   /* ZSTD_compressBound (SAMPLE_BYTES) */
  AeadScratch *aead;         /* sodium_malloc */
  BlobBuffer  *spare[SPARE_BLOB_BUFFERS];
} ZstdThreadState;

static gint blob_buffers_made;

guint
_coffer_blob_get_buffers_made (void)
{
  return (guint) g_atomic_int_get (&blob_buffers_made);
}

static void
blob_buffer_free (BlobBuffer *b)
{
  g_free (b->data);
  g_free (b);
}

static void
zstd_thread_state_free (gpointer data)
{
  ZstdThreadState *state = data;

  for (guint i = 0; i < SPARE_BLOB_BUFFERS; i++)
    g_clear_pointer (&state->spare[i], blob_buffer_free);
  ZSTD_freeCCtx (state->cctx);
  ZSTD_freeDCtx (state->dctx);
  g_free (state->sample);
  g_free (state->sample_out);
  if (state->aead != NULL)
    sodium_free (state->aead);
  g_free (state);
}

static GPrivate zstd_thread_state = G_PRIVATE_INIT (zstd_thread_state_free);

static ZstdThreadState *
get_zstd_thread_state (void)
{
  ZstdThreadState *state = g_private_get (&zstd_thread_state);

  if (state == NULL)
    {
      state = g_new0 (ZstdThreadState, 1);
      g_private_set (&zstd_thread_state, state);
    }
  return state;
}

/* A buffer of at least length bytes, a spare one of this thread's when
 * one is large enough. */
static BlobBuffer *
blob_buffer_take (gsize length)
{
  ZstdThreadState *state = get_zstd_thread_state ();
  BlobBuffer *b;
  int best = -1;

  for (int i = 0; i < SPARE_BLOB_BUFFERS; i++)
    if (state->spare[i] != NULL && state->spare[i]->capacity >= length
        && (best < 0 || state->spare[i]->capacity < state->spare[best]->capacity))
      best = i;
  if (best >= 0)
    return g_steal_pointer (&state->spare[best]);
  g_atomic_int_inc (&blob_buffers_made);
  b = g_new (BlobBuffer, 1);
  b->capacity = MAX (length, 64 * 1024);
  b->data = g_malloc (b->capacity);
  return b;
}

/* GDestroyNotify of an opened blob's bytes: kept by the thread that frees
 * them (in place of a smaller spare), else freed. */
static void
blob_buffer_give (gpointer data)
{
  BlobBuffer *b = data;
  ZstdThreadState *state = g_private_get (&zstd_thread_state);
  gsize total = 0;
  int slot = -1;

  if (state == NULL || b->capacity > SPARE_BLOB_BYTES)
    {
      blob_buffer_free (b);
      return;
    }
  /* In an empty slot, else in place of the smallest spare when that is
   * smaller. */
  for (int i = 0; i < SPARE_BLOB_BUFFERS && slot < 0; i++)
    if (state->spare[i] == NULL)
      slot = i;
  if (slot < 0)
    {
      slot = 0;
      for (int i = 1; i < SPARE_BLOB_BUFFERS; i++)
        if (state->spare[i]->capacity < state->spare[slot]->capacity)
          slot = i;
      if (state->spare[slot]->capacity >= b->capacity)
        {
          blob_buffer_free (b);
          return;
        }
    }
  g_clear_pointer (&state->spare[slot], blob_buffer_free);
  state->spare[slot] = b;
  /* Then the smallest go until the spares fit SPARE_BLOB_BYTES. */
  for (int i = 0; i < SPARE_BLOB_BUFFERS; i++)
    if (state->spare[i] != NULL)
      total += state->spare[i]->capacity;
  while (total > SPARE_BLOB_BYTES)
    {
      int smallest = -1;
      for (int i = 0; i < SPARE_BLOB_BUFFERS; i++)
        if (state->spare[i] != NULL
            && (smallest < 0 || state->spare[i]->capacity < state->spare[smallest]->capacity))
          smallest = i;
      total -= state->spare[smallest]->capacity;
      g_clear_pointer (&state->spare[smallest], blob_buffer_free);
    }
}

static ZSTD_CCtx *
get_cctx (ZstdThreadState *state)
{
  if (state->cctx == NULL)
    {
      state->cctx = ZSTD_createCCtx ();
      if (state->cctx == NULL)
        g_error ("Out of memory creating a zstd compression context.");
    }
  return state->cctx;
}

static ZSTD_DCtx *
get_dctx (ZstdThreadState *state)
{
  if (state->dctx == NULL)
    {
      state->dctx = ZSTD_createDCtx ();
      if (state->dctx == NULL)
        g_error ("Out of memory creating a zstd decompression context.");
    }
  return state->dctx;
}

/* Cheap test whether compressing is worth it: for blobs larger than the
 * sample, four 16 KiB pieces spread evenly over the blob (start, 1/3, 2/3,
 * end) are compressed together at zstd level 1; unless they shrink to at
 * most 97 %, the blob is stored raw. */
static gboolean
worth_compressing (ZstdThreadState *state,
                   const guint8    *data,
                   gsize            len)
{
  gsize span, bound, csize;

  if (len < COMPRESS_MIN_BYTES)
    return FALSE;
  if (len <= SAMPLE_BYTES)
    return TRUE;

  if (state->sample == NULL)
    {
      state->sample = g_malloc (SAMPLE_BYTES);
      state->sample_out = g_malloc (ZSTD_compressBound (SAMPLE_BYTES));
    }

  span = len - SAMPLE_PIECE_BYTES;
  for (guint i = 0; i < SAMPLE_PIECES; i++)
    {
      gsize offset = span / (SAMPLE_PIECES - 1) * i;

      if (i == SAMPLE_PIECES - 1)
        offset = span;
      memcpy (state->sample + i * SAMPLE_PIECE_BYTES, data + offset, SAMPLE_PIECE_BYTES);
    }

  bound = ZSTD_compressBound (SAMPLE_BYTES);
  csize = ZSTD_compressCCtx (get_cctx (state), state->sample_out, bound,
                             state->sample, SAMPLE_BYTES, ZSTD_SAMPLE_LEVEL);
  if (ZSTD_isError (csize))
    return FALSE;

  return csize * SAMPLE_MAX_RATIO_DEN <= (gsize) SAMPLE_BYTES * SAMPLE_MAX_RATIO_NUM;
}

static void
blob_ad (const guint8   id[COFFER_ID_BYTES],
         CofferBlobType type,
         guint8         ad[BLOB_AD_BYTES])
{
  gsize prefix_len = sizeof BLOB_AD_PREFIX - 1;

  memcpy (ad, BLOB_AD_PREFIX, prefix_len);
  memcpy (ad + prefix_len, id, COFFER_ID_BYTES);
  ad[prefix_len + COFFER_ID_BYTES] = (guint8) type;
}

gsize
coffer_blob_sealed_max (gsize len)
{
  g_return_val_if_fail (len <= G_MAXUINT32 - FRAME_HEADER_BYTES, 0);

  return NONCE_BYTES + coffer_padme_length (FRAME_HEADER_BYTES + (guint64) len) + TAG_BYTES;
}
/* The frame of a blob stored uncompressed (flags, payload length, the
 * plaintext, zero padding to frame_len) sealed into frame without first
 * copying the plaintext there: XChaCha20-Poly1305-IETF computed as
 * libsodium's crypto_aead_xchacha20poly1305_ietf_encrypt does (an
 * HChaCha20 subkey from the key and the nonce's first 16 bytes; ChaCha20
 * with the nonce's last 8 bytes, block 0 the Poly1305 key, the message
 * from block 1; the tag over ad, ciphertext, zero padding to 16 and both
 * lengths), with the keystream applied to the plaintext where it lies.
 * The copy cost 8.7 % of a backup of random data (docs/PERFORMANCE.md
 * "Sealing without a copy"); /crypto/seal-raw-direct opens the result with
 * libsodium's decryption for every boundary of the block layout. Writes
 * frame_len + TAG_BYTES bytes. */
static void
encrypt_raw_frame (ZstdThreadState *state, guint8 *frame, const guint8 *plaintext, gsize len,
                   gsize frame_len, const guint8 *ad, gsize ad_len, const guint8 nonce[NONCE_BYTES],
                   const guint8 *key)
{
  static const guint8 zeros[16] = { 0 };
  AeadScratch *s;
  guint8 n2[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };
  guint8 lengths[16];
  gsize data_end = FRAME_HEADER_BYTES + len;       /* end of the plaintext in the frame */
  gsize first = MIN (frame_len, 64);
  gsize mid_end = MAX (data_end / 64 * 64, 64);    /* block-aligned, <= data_end when > 64 */

  if (state->aead == NULL)
    {
      state->aead = sodium_malloc (sizeof (AeadScratch));
      if (state->aead == NULL)
        g_error ("Out of secure memory.");
    }
  s = state->aead;
  memcpy (n2 + 4, nonce + 16, 8);
  crypto_core_hchacha20 (s->subkey, nonce, key, NULL);
  memset (s->block0, 0, sizeof s->block0);
  crypto_stream_chacha20_ietf_xor_ic (s->block0, s->block0, sizeof s->block0, n2, 0, s->subkey);
  crypto_onetimeauth_poly1305_init (&s->poly, s->block0);

  /* Block 1: the header and the plaintext's first 59 bytes, in place. */
  frame[0] = 0;
  coffer_put_u32_le (frame + 1, (guint32) len);
  if (len > 0)
    memcpy (frame + FRAME_HEADER_BYTES, plaintext, MIN (len, first - FRAME_HEADER_BYTES));
  if (data_end < first)
    memset (frame + data_end, 0, first - data_end);
  crypto_stream_chacha20_ietf_xor_ic (frame, frame, first, n2, 1, s->subkey);
  if (frame_len > 64)
    {
      gsize from_plaintext = data_end > mid_end ? data_end - mid_end : 0;

      /* Whole blocks straight from the plaintext. */
      if (mid_end > 64)
        crypto_stream_chacha20_ietf_xor_ic (frame + 64, plaintext + 64 - FRAME_HEADER_BYTES, mid_end - 64,
                                            n2, 2, s->subkey);
      /* The rest of the plaintext and the padding, in place. */
      memcpy (frame + mid_end, plaintext + mid_end - FRAME_HEADER_BYTES, from_plaintext);
      memset (frame + mid_end + from_plaintext, 0, frame_len - mid_end - from_plaintext);
      crypto_stream_chacha20_ietf_xor_ic (frame + mid_end, frame + mid_end, frame_len - mid_end, n2,
                                          (guint32) (1 + mid_end / 64), s->subkey);
    }

  crypto_onetimeauth_poly1305_update (&s->poly, ad, ad_len);
  crypto_onetimeauth_poly1305_update (&s->poly, zeros, (16 - ad_len % 16) % 16);
  crypto_onetimeauth_poly1305_update (&s->poly, frame, frame_len);
  crypto_onetimeauth_poly1305_update (&s->poly, zeros, (16 - frame_len % 16) % 16);
  for (guint i = 0; i < 8; i++)
    {
      lengths[i] = (guint8) ((guint64) ad_len >> (8 * i));
      lengths[8 + i] = (guint8) ((guint64) frame_len >> (8 * i));
    }
  crypto_onetimeauth_poly1305_update (&s->poly, lengths, sizeof lengths);
  crypto_onetimeauth_poly1305_final (&s->poly, frame + frame_len);
  sodium_memzero (s, sizeof *s);
}


gsize
coffer_blob_seal_into (const CofferSecret *data_key,
                       const guint8        id[COFFER_ID_BYTES],
                       CofferBlobType      type,
                       const guint8       *plaintext,
                       gsize               len,
                       guint8             *out)
{
  ZstdThreadState *state;
  guint8 ad[BLOB_AD_BYTES];
  guint8 *frame = out + NONCE_BYTES;
  guint8 *payload = frame + FRAME_HEADER_BYTES;
  unsigned long long clen = 0;
  gsize payload_len = len;
  gsize frame_len;
  guint8 flags = 0;

  g_return_val_if_fail (data_key != NULL && data_key->len == COFFER_KEY_BYTES, 0);
  g_return_val_if_fail (id != NULL, 0);
  g_return_val_if_fail (type == COFFER_BLOB_DATA || type == COFFER_BLOB_TREE, 0);
  g_return_val_if_fail (plaintext != NULL || len == 0, 0);
  g_return_val_if_fail (len <= COFFER_BLOB_MAX_BYTES, 0);
  g_return_val_if_fail (out != NULL, 0);

  coffer_core_init ();
  state = get_zstd_thread_state ();

  if (worth_compressing (state, plaintext, len))
    {
      /* Capacity len - 1: zstd gives up (dstSize_tooSmall) as soon as the
       * output would not be smaller than the input. */
      gsize csize = ZSTD_compressCCtx (get_cctx (state), payload, len - 1,
                                       plaintext, len,
                                       len <= ZSTD_SMALL_MAX_BYTES ? ZSTD_SMALL_LEVEL : ZSTD_LEVEL);

      if (!ZSTD_isError (csize) && csize < len)
        {
          flags |= FRAME_FLAG_ZSTD;
          payload_len = csize;
        }
    }
  if (!(flags & FRAME_FLAG_ZSTD))
    {
      frame_len = coffer_padme_length (FRAME_HEADER_BYTES + len);
      _coffer_public_random (out, NONCE_BYTES);
      blob_ad (id, type, ad);
      encrypt_raw_frame (state, frame, plaintext, len, frame_len, ad, sizeof ad, out, data_key->data);
      return NONCE_BYTES + frame_len + TAG_BYTES;
    }

  frame[0] = flags;
  coffer_put_u32_le (frame + 1, (guint32) payload_len);
  frame_len = coffer_padme_length (FRAME_HEADER_BYTES + payload_len);
  g_assert (frame_len <= coffer_padme_length (FRAME_HEADER_BYTES + len));
  memset (payload + payload_len, 0, frame_len - FRAME_HEADER_BYTES - payload_len);

  _coffer_public_random (out, NONCE_BYTES);
  blob_ad (id, type, ad);
  /* In place: libsodium allows the ciphertext to overwrite the message. */
  crypto_aead_xchacha20poly1305_ietf_encrypt (frame, &clen, frame, frame_len,
                                              ad, sizeof ad, NULL, out, data_key->data);
  g_assert (clen == frame_len + TAG_BYTES);

  return NONCE_BYTES + clen;
}

GBytes *
coffer_blob_seal (const CofferSecret *data_key,
                  const guint8        id[COFFER_ID_BYTES],
                  CofferBlobType      type,
                  const guint8       *plaintext,
                  gsize               len)
{
  gsize max, sealed_len;
  guint8 *out;

  g_return_val_if_fail (len <= COFFER_BLOB_MAX_BYTES, NULL);

  max = coffer_blob_sealed_max (len);
  out = g_malloc (max);
  sealed_len = coffer_blob_seal_into (data_key, id, type, plaintext, len, out);
  if (sealed_len == 0)
    {
      g_free (out);
      return NULL;
    }
  if (sealed_len < max)
    out = g_realloc (out, sealed_len);
  return g_bytes_new_take (out, sealed_len);
}

static void
set_blob_error (GError       **error,
                const guint8   id[COFFER_ID_BYTES],
                const char    *what)
{
  g_autofree char *hex = coffer_hex_encode (id, COFFER_ID_BYTES);

  g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
               _("The backup blob %s is damaged: %s."), hex, what);
}

/* coffer_blob_open, step 1: the decrypted frame's flags, length fields
 * and padding. */
static gboolean
blob_frame_check (const guint8   id[COFFER_ID_BYTES],
                  const guint8  *frame,
                  gsize          frame_len,
                  guint8        *flags_out,
                  guint32       *payload_len_out,
                  GError       **error)
{
  guint8 flags = frame[0];
  guint32 payload_len = coffer_get_u32_le (frame + 1);

  if ((flags & ~FRAME_FLAG_ZSTD) != 0)
    {
      set_blob_error (error, id, _("it uses features this version of Coffer does not know"));
      return FALSE;
    }
  if ((gsize) payload_len > frame_len - FRAME_HEADER_BYTES ||
      coffer_padme_length (FRAME_HEADER_BYTES + (guint64) payload_len) != frame_len)
    {
      set_blob_error (error, id, _("its length fields are inconsistent"));
      return FALSE;
    }
  for (gsize i = FRAME_HEADER_BYTES + payload_len; i < frame_len; i++)
    {
      if (frame[i] != 0)
        {
          set_blob_error (error, id, _("its padding is not zero"));
          return FALSE;
        }
    }
  *flags_out = flags;
  *payload_len_out = payload_len;
  return TRUE;
}

/* Step 2 of a compressed blob: the payload inflated, within
 * COFFER_BLOB_MAX_BYTES. */
static GBytes *
blob_inflate (const guint8   id[COFFER_ID_BYTES],
              const guint8  *payload,
              guint32        payload_len,
              GError       **error)
{
  unsigned long long content_size;
  gsize frame_size, got;
  BlobBuffer *out;

  /* The declared content size bounds the allocation; a hostile
   * repository cannot make us inflate more than 64 MiB. */
  content_size = ZSTD_getFrameContentSize (payload, payload_len);
  if (content_size == ZSTD_CONTENTSIZE_UNKNOWN || content_size == ZSTD_CONTENTSIZE_ERROR)
    {
      set_blob_error (error, id, _("its compressed data has no valid size"));
      return NULL;
    }
  if (content_size > COFFER_BLOB_MAX_BYTES)
    {
      set_blob_error (error, id, _("it declares a size larger than any blob Coffer writes"));
      return NULL;
    }
  frame_size = ZSTD_findFrameCompressedSize (payload, payload_len);
  if (ZSTD_isError (frame_size) || frame_size != payload_len)
    {
      set_blob_error (error, id, _("its compressed data is malformed"));
      return NULL;
    }

  out = blob_buffer_take (content_size);
  got = ZSTD_decompressDCtx (get_dctx (get_zstd_thread_state ()),
                             out->data, content_size, payload, payload_len);
  if (ZSTD_isError (got) || got != content_size)
    {
      sodium_memzero (out->data, content_size);
      blob_buffer_free (out);
      set_blob_error (error, id, _("its compressed data is malformed"));
      return NULL;
    }
  return g_bytes_new_with_free_func (out->data, content_size, blob_buffer_give, out);
}

GBytes *
coffer_blob_open (const CofferSecret *data_key,
                  const guint8        id[COFFER_ID_BYTES],
                  CofferBlobType      type,
                  const guint8       *sealed,
                  gsize               sealed_len,
                  GError            **error)
{
  g_autoptr(GBytes) frame_bytes = NULL;
  GBytes *result;
  guint8 ad[BLOB_AD_BYTES];
  unsigned long long mlen = 0;
  BlobBuffer *buffer;
  guint8 *frame;
  gsize frame_len;
  guint32 payload_len;
  guint8 flags;

  g_return_val_if_fail (data_key != NULL && data_key->len == COFFER_KEY_BYTES, NULL);
  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (sealed != NULL || sealed_len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  coffer_core_init ();

  if (sealed_len < NONCE_BYTES + FRAME_HEADER_BYTES + TAG_BYTES)
    {
      set_blob_error (error, id, _("it is too short"));
      return NULL;
    }
  frame_len = sealed_len - NONCE_BYTES - TAG_BYTES;
  if (frame_len > coffer_padme_length (FRAME_HEADER_BYTES + (guint64) COFFER_BLOB_MAX_BYTES))
    {
      set_blob_error (error, id, _("it is larger than any blob Coffer writes"));
      return NULL;
    }

  blob_ad (id, type, ad);
  buffer = blob_buffer_take (frame_len);
  frame = buffer->data;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt (frame, &mlen, NULL,
                                                  sealed + NONCE_BYTES, sealed_len - NONCE_BYTES,
                                                  ad, sizeof ad, sealed, data_key->data) != 0)
    {
      blob_buffer_give (buffer);
      set_blob_error (error, id, _("it failed authentication (wrong key, modified, or not the blob of "
                                   "that id and type)"));
      return NULL;
    }
  g_assert (mlen == frame_len);
  /* From here on frame holds plaintext: on failure it is wiped before it
   * is freed, and never returned. */
  frame_bytes = g_bytes_new_with_free_func (frame, frame_len, blob_buffer_give, buffer);

  if (!blob_frame_check (id, frame, frame_len, &flags, &payload_len, error))
    goto fail;

  if (!(flags & FRAME_FLAG_ZSTD))
    {
      if (payload_len > COFFER_BLOB_MAX_BYTES)
        {
          set_blob_error (error, id, _("it is larger than any blob Coffer writes"));
          goto fail;
        }
      return g_bytes_new_from_bytes (frame_bytes, FRAME_HEADER_BYTES, payload_len);
    }
  result = blob_inflate (id, frame + FRAME_HEADER_BYTES, payload_len, error);
  if (result == NULL)
    goto fail;
  return result;

fail:
  sodium_memzero (frame, frame_len);
  return NULL;
}

/* ---- Password key ---- */

static gint kdf_fast_profile = FALSE;

static gboolean
testing_enabled (void)
{
  return g_strcmp0 (g_getenv ("COFFER_TESTING"), "1") == 0;
}

void
coffer_kdf_set_test_profile (gboolean fast)
{
  g_atomic_int_set (&kdf_fast_profile, !!fast);
}

static guint64
env_u64_clamped (const char *variable,
                 guint64     fallback,
                 guint64     min,
                 guint64     max)
{
  const char *value = g_getenv (variable);
  guint64 parsed;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &parsed, NULL))
    return fallback;
  return CLAMP (parsed, min, max);
}

void
coffer_kdf_params_new_local (CofferKdfParams *params)
{
  coffer_kdf_params_new (params);
  if (params->opslimit == crypto_pwhash_OPSLIMIT_MODERATE
      && params->memlimit == crypto_pwhash_MEMLIMIT_MODERATE)
    {
      params->opslimit = 4;
      params->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    }
}

void
coffer_kdf_params_new (CofferKdfParams *params)
{
  g_return_if_fail (params != NULL);

  coffer_core_init ();

  randombytes_buf (params->salt, sizeof params->salt);
  params->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
  params->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;

  /* Test-only switches: without COFFER_TESTING=1 none of them has any
   * effect, so a normal run always gets at least MODERATE. */
  if (!testing_enabled ())
    return;

  if (g_atomic_int_get (&kdf_fast_profile) ||
      g_strcmp0 (g_getenv ("COFFER_TEST_FAST_KDF"), "1") == 0)
    {
      params->opslimit = crypto_pwhash_OPSLIMIT_MIN;
      params->memlimit = crypto_pwhash_MEMLIMIT_MIN;
    }
  params->opslimit = env_u64_clamped ("COFFER_TEST_KDF_OPS", params->opslimit,
                                      crypto_pwhash_OPSLIMIT_MIN, KDF_OPSLIMIT_CAP);
  params->memlimit = env_u64_clamped ("COFFER_TEST_KDF_MEM", params->memlimit,
                                      crypto_pwhash_MEMLIMIT_MIN, KDF_MEMLIMIT_CAP);
}

CofferSecret *
coffer_kdf_derive (const CofferSecret    *password,
                   const CofferKdfParams *params,
                   GError               **error)
{
  g_autoptr(CofferSecret) key = NULL;
  guint64 min_ops, min_mem;

  g_return_val_if_fail (password != NULL, NULL);
  g_return_val_if_fail (params != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  coffer_core_init ();

  /* Checked before anything is allocated. */
  if (params->opslimit > KDF_OPSLIMIT_CAP || params->memlimit > KDF_MEMLIMIT_CAP
      || params->opslimit * params->memlimit > KDF_WORK_CAP)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED,
                   _("The password settings stored in the repository ask for more memory or time than "
                   "Coffer allows (%" PRIu64 " MiB, %" PRIu64 " passes; the limits are "
                   "1024 MiB, %d passes and 4096 MiB × passes together). The repository may have been "
                   "tampered with."),
                   params->memlimit >> 20, params->opslimit, KDF_OPSLIMIT_CAP);
      return NULL;
    }

  if (testing_enabled ())
    {
      min_ops = crypto_pwhash_OPSLIMIT_MIN;
      min_mem = crypto_pwhash_MEMLIMIT_MIN;
    }
  else
    {
      min_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
      min_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    }
  if (params->opslimit < min_ops || params->memlimit < min_mem)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED,
                   _("The password settings stored in the repository are weaker than Coffer accepts. "
                   "The repository may have been tampered with."));
      return NULL;
    }
  if (password->len > crypto_pwhash_PASSWD_MAX)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The password is too long."));
      return NULL;
    }

  key = coffer_secret_new (COFFER_KEY_BYTES);
  if (crypto_pwhash (key->data, key->len,
                     (const char *) password->data, password->len,
                     params->salt, params->opslimit, (gsize) params->memlimit,
                     crypto_pwhash_ALG_ARGON2ID13) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_FAILED,
                   _("There is not enough memory to derive the key from the password "
                   "(%" PRIu64 " MiB are needed)."), params->memlimit >> 20);
      return NULL;
    }

  return g_steal_pointer (&key);
}

/* ---- Hex ---- */

char *
coffer_hex_encode (const guint8 *data,
                   gsize         len)
{
  char *hex;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  hex = g_malloc (len * 2 + 1);
  sodium_bin2hex (hex, len * 2 + 1, data, len);
  return hex;
}

gboolean
coffer_hex_decode (const char *hex,
                   guint8     *out,
                   gsize       len)
{
  size_t bin_len = 0;
  const char *end = NULL;

  g_return_val_if_fail (hex != NULL, FALSE);
  g_return_val_if_fail (out != NULL || len == 0, FALSE);

  if (strlen (hex) != len * 2)
    return FALSE;
  if (len == 0)
    return TRUE;
  if (sodium_hex2bin (out, len, hex, len * 2, NULL, &bin_len, &end) != 0)
    return FALSE;
  return bin_len == len && end == hex + len * 2;
}
