/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-secret.h"
#include "coffer-crypto.h"

G_BEGIN_DECLS

/* Device keys and the primitives of the join protocol (docs/ARCHITECTURE.md "Keys",
 * docs/FORMAT.md "Device envelopes" and "Join requests"). Pure functions:
 * no I/O, no keyring, no GTK. Errors in COFFER_CRYPTO_ERROR. */

#define COFFER_DEVICE_PUBLIC_KEY_BYTES 32   /* X25519 (crypto_box) */
#define COFFER_DEVICE_SECRET_KEY_BYTES 32
#define COFFER_DEVICE_ID_MAX           64   /* bytes of a device id */
#define COFFER_DEVICE_NAME_MAX         256  /* bytes of UTF-8 in a device name */
#define COFFER_ACCOUNT_KEY_ID_BYTES    32

/* A new X25519 key pair (crypto_box_keypair). Returns the secret key (32
 * bytes, secure memory) and writes the public key to public_key. */
CofferSecret *coffer_device_keypair_new (guint8 public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES]);

/* Recomputes the public key of a device secret key. */
void          coffer_device_public_key (const CofferSecret *device_sk,
                                        guint8              public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES]);

/* A fresh device id: 32 lowercase hex characters (16 random bytes). */
char         *coffer_device_id_new (void);
/* A device id is 1..64 characters of [a-z0-9_-] (it is used in object
 * names such as keys/devices/<device-id>). */
gboolean      coffer_device_id_is_valid (const char *device_id);
/* A device name is valid UTF-8, 1..COFFER_DEVICE_NAME_MAX bytes, without
 * control characters. */
gboolean      coffer_device_name_is_valid (const char *name);
/* FALSE for keys that are all zero or of small order (crypto_box would
 * derive a predictable shared secret from them). */
gboolean      coffer_device_public_key_is_valid (const guint8 public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES]);

/* Signing key pair of a device (Ed25519), derived from its X25519 secret
 * key: seed = BLAKE2b-256(key = device secret key, "coffer-device-sign-v1"
 * || repository id). A trusted device signs the records of the devices it
 * approves with it (docs/FORMAT.md "Joining and rotation"). Writes the
 * public key; returns the 64-byte libsodium secret key in secure memory. */
#define COFFER_DEVICE_SIGN_PUBLIC_KEY_BYTES 32
CofferSecret *coffer_device_signing_keypair (const CofferSecret *device_sk,
                                             const guint8        repo_id[COFFER_REPO_ID_BYTES],
                                             guint8              sign_pk[COFFER_DEVICE_SIGN_PUBLIC_KEY_BYTES]);
/* What a user compares to confirm a device: the first 8 bytes of
 * BLAKE2b-256("coffer-device-fingerprint-v1" || X25519 public key) as four
 * groups of four hex digits, "1a2b 3c4d 5e6f 7a8b". */
char         *coffer_device_fingerprint (const guint8 public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES]);

/* Account key id: BLAKE2b-256(key=AK, "coffer-account-key-id"). Public: it
 * names an account key without revealing it, so a device can notice that
 * the account key it is given is not the one it knew. */
void          coffer_account_key_id (const CofferSecret *ak,
                                     guint8              out[COFFER_ACCOUNT_KEY_ID_BYTES]);

/* ---- Device envelopes: keys/devices/<device-id> ----
 * The account key sealed to a device public key (crypto_box_seal), with
 * the repository id, the device id and the object type bound inside the
 * sealed plaintext, plus the device name encrypted under the account key.
 * Returns NULL only for invalid arguments (invalid ids, names or keys). */
GBytes       *coffer_device_envelope_seal (const guint8        device_pk[COFFER_DEVICE_PUBLIC_KEY_BYTES],
                                           const CofferSecret *account_key,
                                           const guint8        repo_id[COFFER_REPO_ID_BYTES],
                                           const char         *device_id,
                                           const char         *device_name);
/* Opens an envelope with this device's key pair and returns the account
 * key (secure memory) and, when out_name is not NULL, the device name.
 * Errors: COFFER_CRYPTO_ERROR_WRONG_KEY when the envelope was sealed to
 * another device key, COFFER_CRYPTO_ERROR_CORRUPT when it was damaged or
 * belongs to another device id or repository, COFFER_CRYPTO_ERROR_UNSUPPORTED
 * for an unknown version. */
CofferSecret *coffer_device_envelope_open (const CofferSecret *device_sk,
                                           const guint8        device_pk[COFFER_DEVICE_PUBLIC_KEY_BYTES],
                                           const guint8        repo_id[COFFER_REPO_ID_BYTES],
                                           const char         *device_id,
                                           GBytes             *envelope,
                                           char              **out_name,
                                           GError            **error);
/* The account key id stored in clear in an envelope (to compare it with the
 * one this device remembers without opening the envelope). FALSE when the
 * envelope is too short or not a device envelope. */
gboolean      coffer_device_envelope_peek_account_key_id (GBytes *envelope,
                                                          guint8  out[COFFER_ACCOUNT_KEY_ID_BYTES]);

/* ---- Join requests: keys/pending/<device-id> (plaintext) ---- */
typedef struct
{
  char   *device_id;
  guint8  public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES];
  char   *device_name;
  gint64  time;         /* Unix seconds, UTC, when the request was made */
} CofferJoinRequest;

CofferJoinRequest *coffer_join_request_new   (const char   *device_id,
                                              const guint8  public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES],
                                              const char   *device_name,
                                              gint64        time);
void               coffer_join_request_free  (CofferJoinRequest *request);
/* Serialised GVariant "(ysaysx)" in normal form, little-endian. NULL when a
 * field is invalid. */
GBytes            *coffer_join_request_serialize (const CofferJoinRequest *request);
/* Parses and validates a request read from storage (hostile input). When
 * expected_device_id is not NULL the request must carry that id (the name
 * of the object it was read from). Errors: COFFER_CRYPTO_ERROR_CORRUPT for
 * malformed input, COFFER_CRYPTO_ERROR_UNSUPPORTED for an unknown version,
 * COFFER_CRYPTO_ERROR_INVALID for invalid field values. */
CofferJoinRequest *coffer_join_request_parse (GBytes      *bytes,
                                              const char  *expected_device_id,
                                              GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferJoinRequest, coffer_join_request_free)

G_END_DECLS
