/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-secret.h"

G_BEGIN_DECLS

/* Sizes */
#define COFFER_KEY_BYTES        32
#define COFFER_ID_BYTES         32   /* blob ids, pack ids */
#define COFFER_REPO_ID_BYTES    16
#define COFFER_SALT_BYTES       16
#define COFFER_BLOB_OVERHEAD    40   /* 24-byte nonce + 16-byte tag */

/* Object types: bound into the associated data of every encrypted object.
 * The numeric values are part of the repository format (docs/FORMAT.md). */
typedef enum
{
  COFFER_OBJECT_RECOVERY_ENVELOPE = 1,  /* keys/recovery */
  COFFER_OBJECT_DEVICE_ENVELOPE   = 2,  /* keys/devices/<id> */
  COFFER_OBJECT_PENDING_DEVICE    = 3,  /* keys/pending/<id> (not encrypted, authenticated by code) */
  COFFER_OBJECT_CATEGORY_ACCOUNT  = 4,  /* categories/<cid>/keys/account */
  COFFER_OBJECT_CATEGORY_PASSWORD = 5,  /* categories/<cid>/keys/password */
  COFFER_OBJECT_CATEGORY_META     = 6,  /* categories/<cid>/meta */
  COFFER_OBJECT_INDEX             = 7,  /* categories/<cid>/index/<id> */
  COFFER_OBJECT_SNAPSHOT          = 8,  /* categories/<cid>/snapshots/<id> */
  COFFER_OBJECT_PACK_HEADER       = 9,  /* trailer of a pack */
  COFFER_OBJECT_PRUNE_PLAN        = 10, /* categories/<cid>/prune/<id> */
  COFFER_OBJECT_DEVICE_NAME       = 11,
} CofferObjectType;

/* Blob types inside packs */
typedef enum
{
  COFFER_BLOB_DATA = 1,
  COFFER_BLOB_TREE = 2,
} CofferBlobType;

/* Subkeys of a category key epoch (crypto_kdf_derive_from_key, subkey id 1,
 * 8-byte contexts "cofdata_", "cofblbid", "cofgear_", "cofmeta_"). */
typedef enum
{
  COFFER_SUBKEY_DATA,     /* blob and pack-header encryption */
  COFFER_SUBKEY_BLOB_ID,  /* keyed BLAKE2b-256 blob ids */
  COFFER_SUBKEY_GEAR,     /* chunker gear table */
  COFFER_SUBKEY_META,     /* snapshots, index, category meta */
} CofferSubkey;

CofferSecret *coffer_crypto_derive_subkey (const CofferSecret *key, CofferSubkey which);

/* ---- Envelopes: small objects, key-committing XChaCha20-Poly1305-IETF ----
 *
 * Layout: "CFE1" | type (1) | 3 zero bytes | nonce (24) | commitment (32) |
 *         ciphertext || tag (16)
 * AD = "coffer-v1" || repo_id (16) || type (1) || name (UTF-8 object path)
 * commitment = BLAKE2b-256(key=K, "coffer-commit" || nonce)
 * encryption key = BLAKE2b-256(key=K, "coffer-encrypt" || nonce)
 * A mismatching commitment is COFFER_CRYPTO_ERROR_WRONG_KEY; a failing tag
 * or bad framing is COFFER_CRYPTO_ERROR_CORRUPT. */
GBytes *coffer_envelope_seal (const CofferSecret *key,
                              const guint8        repo_id[COFFER_REPO_ID_BYTES],
                              CofferObjectType     type,
                              const char          *name,
                              const guint8        *plaintext,
                              gsize                len);
/* Plaintext is returned in secure memory because envelopes carry keys. */
CofferSecret *coffer_envelope_open (const CofferSecret *key,
                                    const guint8        repo_id[COFFER_REPO_ID_BYTES],
                                    CofferObjectType     type,
                                    const char          *name,
                                    GBytes              *envelope,
                                    GError             **error);

/* ---- Blobs (inside packs) ----
 * plaintext frame = flags (1: bit0 zstd) | payload length (u32 LE) | payload |
 *                   zero padding up to coffer_padme_length (5 + payload length)
 * sealed = nonce (24) | XChaCha20-Poly1305(frame) | tag (16)
 * AD = "coffer-blob" || id (32) || type (1)
 * coffer_blob_seal compresses with zstd (level 3) when that shrinks the blob. */
GBytes *coffer_blob_seal (const CofferSecret *data_key,
                          const guint8        id[COFFER_ID_BYTES],
                          CofferBlobType      type,
                          const guint8       *plaintext,
                          gsize               len);
GBytes *coffer_blob_open (const CofferSecret *data_key,
                          const guint8        id[COFFER_ID_BYTES],
                          CofferBlobType      type,
                          const guint8       *sealed,
                          gsize               sealed_len,
                          GError            **error);
/* coffer_blob_open's buffers are reused: when the bytes it returned are
 * freed, the thread that frees them keeps the buffer (up to two, of at
 * most 12 MiB together) for the next blob it opens. How many it had to allocate so
 * far, for tests. */
guint   _coffer_blob_get_buffers_made (void);
/* The same into caller buffers, for the hot path. out must hold
 * coffer_blob_sealed_max (len) bytes; returns the sealed length. */
gsize   coffer_blob_sealed_max (gsize len);
gsize   coffer_blob_seal_into  (const CofferSecret *data_key,
                                const guint8        id[COFFER_ID_BYTES],
                                CofferBlobType      type,
                                const guint8       *plaintext,
                                gsize               len,
                                guint8             *out);
/* Largest blob payload coffer_blob_open accepts (after decompression). */
#define COFFER_BLOB_MAX_BYTES (64u * 1024 * 1024)

/* The hash functions of a key epoch: how its blob ids and its packs'
 * names are made (docs/FORMAT.md "Hash suites"). Named by each epoch of a
 * category key set; the values are part of the repository format. */
typedef enum
{
  COFFER_HASH_SUITE_BLAKE2B = 0,  /* ids: keyed BLAKE2b-256; pack names: BLAKE2b-256 */
  COFFER_HASH_SUITE_SHA256  = 1,  /* ids: HMAC-SHA-256; pack names: SHA-256 (SHA-NI,
                                     ARMv8 SHA2 where the CPU has them) */
} CofferHashSuite;
#define COFFER_HASH_SUITE_LAST COFFER_HASH_SUITE_SHA256

/* The suite for a key epoch this computer creates: SHA-256 where the CPU
 * runs it in hardware (x86 SHA extensions, ARMv8 SHA2 instructions), else
 * BLAKE2b, which is two to three times faster than SHA-256 in software.
 * With COFFER_TESTING=1, COFFER_TEST_HASH_SUITE=0 or 1 decides instead. */
CofferHashSuite coffer_hash_suite_for_new_epoch (void);
/* Whether this CPU has SHA-256 instructions. */
gboolean        coffer_cpu_has_sha256 (void);

/* The blob id of plaintext: the suite's keyed hash with the blob-id
 * subkey. */
void coffer_blob_id (CofferHashSuite     suite,
                     const CofferSecret *blob_id_key,
                     const guint8       *data,
                     gsize               len,
                     guint8              out[COFFER_ID_BYTES]);

/* The suite's unkeyed hash (pack names). */
void coffer_hash (CofferHashSuite suite, const guint8 *data, gsize len,
                  guint8 out[COFFER_ID_BYTES]);

/* Padmé: the padded length for a length L (leaks O(log log L) bits). */
guint64 coffer_padme_length (guint64 len);

/* ---- Password key: Argon2id ---- */
typedef struct
{
  guint8  salt[COFFER_SALT_BYTES];
  guint64 opslimit;
  guint64 memlimit;
} CofferKdfParams;

/* Fresh random salt, opslimit = crypto_pwhash_OPSLIMIT_MODERATE,
 * memlimit = crypto_pwhash_MEMLIMIT_MODERATE. Test-only, and only while the
 * environment has COFFER_TESTING=1: the fast profile (set with
 * coffer_kdf_set_test_profile or COFFER_TEST_FAST_KDF=1) uses
 * crypto_pwhash_OPSLIMIT_MIN / MEMLIMIT_MIN, and COFFER_TEST_KDF_OPS /
 * COFFER_TEST_KDF_MEM override the values (clamped to [MIN, caps]). */
void coffer_kdf_params_new (CofferKdfParams *params);
/* Parameters for secrets that never leave this computer (the device key
 * file used when there is no keyring): Argon2id with 64 MiB and 4 passes.
 * The same test switches apply. See docs/SECURITY.md, "Local device key". */
void coffer_kdf_params_new_local (CofferKdfParams *params);
/* Selects the fast test profile; has no effect unless COFFER_TESTING=1. */
void coffer_kdf_set_test_profile (gboolean fast);
/* Refuses (COFFER_CRYPTO_ERROR_UNSUPPORTED) parameters above the caps
 * (memlimit > 1 GiB, opslimit > 8, opslimit × memlimit > 4 GiB) or below
 * the minimum (INTERACTIVE;
 * crypto_pwhash_*_MIN only when COFFER_TESTING=1), so a hostile
 * repository cannot make a client allocate gigabytes. */
CofferSecret *coffer_kdf_derive (const CofferSecret    *password,
                                 const CofferKdfParams *params,
                                 GError               **error);

/* Hex helpers */
char   *coffer_hex_encode (const guint8 *data, gsize len);
gboolean coffer_hex_decode (const char *hex, guint8 *out, gsize len);

G_END_DECLS
