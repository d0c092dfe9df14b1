/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-device.h"
#include "coffer-error.h"

/* Outer frame of a device envelope (docs/FORMAT.md "Device envelopes"):
 *   0  "CFDE"
 *   4  version (1)
 *   5  object type (COFFER_OBJECT_DEVICE_ENVELOPE)
 *   6  two zero bytes
 *   8  account key id (32)
 *  40  recipient: BLAKE2b-256("coffer-device-pk" || device public key) (32)
 *  72  sealed box (crypto_box_seal of the inner plaintext, 168 bytes)
 * 240  device name envelope (coffer_envelope_seal under the account key)
 *
 * Inner plaintext (120 bytes):
 *   0  "CFDK"
 *   4  version (1)
 *   5  object type (COFFER_OBJECT_DEVICE_ENVELOPE)
 *   6  two zero bytes
 *   8  repository id (16)
 *  24  BLAKE2b-256("coffer-device-id" || device id) (32)
 *  56  account key id (32)
 *  88  account key (32) */
#define ENVELOPE_VERSION      1
#define OUTER_HEADER_LEN      72
#define INNER_LEN             120
#define SEALED_LEN            (INNER_LEN + crypto_box_SEALBYTES)
#define NAME_OFFSET           (OUTER_HEADER_LEN + SEALED_LEN)

#define JOIN_REQUEST_VERSION  1
#define JOIN_REQUEST_TYPE     "(ysaysx)"
#define JOIN_REQUEST_MAX      4096

G_STATIC_ASSERT (COFFER_DEVICE_PUBLIC_KEY_BYTES == crypto_box_PUBLICKEYBYTES);
G_STATIC_ASSERT (COFFER_DEVICE_SECRET_KEY_BYTES == crypto_box_SECRETKEYBYTES);
G_STATIC_ASSERT (SEALED_LEN == 168);

CofferSecret *
coffer_device_keypair_new (guint8 public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES])
{
  CofferSecret *sk;

  g_return_val_if_fail (public_key != NULL, NULL);

  sk = coffer_secret_new (COFFER_DEVICE_SECRET_KEY_BYTES);
  crypto_box_keypair (public_key, sk->data);
  return sk;
}

void
coffer_device_public_key (const CofferSecret *device_sk,
                          guint8              public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES])
{
  g_return_if_fail (device_sk != NULL && device_sk->len == COFFER_DEVICE_SECRET_KEY_BYTES);
  g_return_if_fail (public_key != NULL);

  crypto_scalarmult_base (public_key, device_sk->data);
}

CofferSecret *
coffer_device_signing_keypair (const CofferSecret *device_sk,
                               const guint8        repo_id[COFFER_REPO_ID_BYTES],
                               guint8              sign_pk[COFFER_DEVICE_SIGN_PUBLIC_KEY_BYTES])
{
  g_autoptr(CofferSecret) seed = NULL;
  CofferSecret *sk;
  crypto_generichash_state st;
  static const char domain[] = "coffer-device-sign-v1";

  g_return_val_if_fail (device_sk != NULL && device_sk->len == COFFER_DEVICE_SECRET_KEY_BYTES, NULL);

  /* A separate key for signing (never the X25519 scalar itself), bound to
   * the repository so a device's signatures mean nothing elsewhere. */
  seed = coffer_secret_new (crypto_sign_SEEDBYTES);
  sk = coffer_secret_new (crypto_sign_SECRETKEYBYTES);
  crypto_generichash_init (&st, device_sk->data, device_sk->len, crypto_sign_SEEDBYTES);
  crypto_generichash_update (&st, (const guint8 *) domain, sizeof domain - 1);
  crypto_generichash_update (&st, repo_id, COFFER_REPO_ID_BYTES);
  crypto_generichash_final (&st, seed->data, crypto_sign_SEEDBYTES);
  crypto_sign_seed_keypair (sign_pk, sk->data, seed->data);
  return sk;
}

char *
coffer_device_fingerprint (const guint8 public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES])
{
  static const char domain[] = "coffer-device-fingerprint-v1";
  crypto_generichash_state st;
  guint8 h[32];

  crypto_generichash_init (&st, NULL, 0, sizeof h);
  crypto_generichash_update (&st, (const guint8 *) domain, sizeof domain - 1);
  crypto_generichash_update (&st, public_key, COFFER_DEVICE_PUBLIC_KEY_BYTES);
  crypto_generichash_final (&st, h, sizeof h);
  return g_strdup_printf ("%02x%02x %02x%02x %02x%02x %02x%02x", h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
}

char *
coffer_device_id_new (void)
{
  guint8 raw[16];

  coffer_core_init ();
  randombytes_buf (raw, sizeof raw);
  return coffer_hex_encode (raw, sizeof raw);
}

gboolean
coffer_device_id_is_valid (const char *device_id)
{
  gsize len;

  if (device_id == NULL)
    return FALSE;
  len = strlen (device_id);
  if (len == 0 || len > COFFER_DEVICE_ID_MAX)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = device_id[i];

      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        return FALSE;
    }
  return TRUE;
}

gboolean
coffer_device_name_is_valid (const char *name)
{
  gsize len;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len == 0 || len > COFFER_DEVICE_NAME_MAX)
    return FALSE;
  if (!g_utf8_validate (name, len, NULL))
    return FALSE;
  for (const char *p = name; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029)
        return FALSE;
    }
  return TRUE;
}

gboolean
coffer_device_public_key_is_valid (const guint8 public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES])
{
  guint8 scalar[crypto_scalarmult_SCALARBYTES];
  guint8 shared[crypto_scalarmult_BYTES];
  gboolean ok;

  if (public_key == NULL)
    return FALSE;
  if (sodium_is_zero (public_key, COFFER_DEVICE_PUBLIC_KEY_BYTES))
    return FALSE;

  /* crypto_scalarmult refuses points of small order (the shared secret
   * would be all zeroes whatever the scalar). */
  coffer_core_init ();
  randombytes_buf (scalar, sizeof scalar);
  ok = crypto_scalarmult (shared, scalar, public_key) == 0;
  sodium_memzero (scalar, sizeof scalar);
  sodium_memzero (shared, sizeof shared);
  return ok;
}

void
coffer_account_key_id (const CofferSecret *ak,
                       guint8              out[COFFER_ACCOUNT_KEY_ID_BYTES])
{
  static const char domain[] = "coffer-account-key-id";

  g_return_if_fail (ak != NULL && ak->len >= crypto_generichash_KEYBYTES_MIN &&
                    ak->len <= crypto_generichash_KEYBYTES_MAX);
  g_return_if_fail (out != NULL);

  crypto_generichash (out, COFFER_ACCOUNT_KEY_ID_BYTES,
                      (const guint8 *) domain, strlen (domain),
                      ak->data, ak->len);
}

/* BLAKE2b-256(domain || data) */
static void
hash_with_domain (const char   *domain,
                  const guint8 *data,
                  gsize         len,
                  guint8        out[32])
{
  crypto_generichash_state state;

  crypto_generichash_init (&state, NULL, 0, 32);
  crypto_generichash_update (&state, (const guint8 *) domain, strlen (domain));
  crypto_generichash_update (&state, data, len);
  crypto_generichash_final (&state, out, 32);
}

static void
device_id_hash (const char *device_id,
                guint8      out[32])
{
  hash_with_domain ("coffer-device-id", (const guint8 *) device_id, strlen (device_id), out);
}

static void
recipient_hash (const guint8 device_pk[COFFER_DEVICE_PUBLIC_KEY_BYTES],
                guint8       out[32])
{
  hash_with_domain ("coffer-device-pk", device_pk, COFFER_DEVICE_PUBLIC_KEY_BYTES, out);
}

static char *
name_object (const char *device_id)
{
  return g_strdup_printf ("keys/devices/%s", device_id);
}

GBytes *
coffer_device_envelope_seal (const guint8        device_pk[COFFER_DEVICE_PUBLIC_KEY_BYTES],
                             const CofferSecret *account_key,
                             const guint8        repo_id[COFFER_REPO_ID_BYTES],
                             const char         *device_id,
                             const char         *device_name)
{
  g_autoptr(CofferSecret) inner = NULL;
  g_autoptr(GBytes) name_env = NULL;
  g_autofree char *object = NULL;
  const guint8 *name_data;
  gsize name_len;
  guint8 *out;
  gsize out_len;

  g_return_val_if_fail (device_pk != NULL, NULL);
  g_return_val_if_fail (account_key != NULL && account_key->len == COFFER_KEY_BYTES, NULL);
  g_return_val_if_fail (repo_id != NULL, NULL);
  g_return_val_if_fail (coffer_device_id_is_valid (device_id), NULL);
  g_return_val_if_fail (coffer_device_name_is_valid (device_name), NULL);

  if (!coffer_device_public_key_is_valid (device_pk))
    return NULL;

  object = name_object (device_id);
  name_env = coffer_envelope_seal (account_key, repo_id, COFFER_OBJECT_DEVICE_NAME, object,
                                   (const guint8 *) device_name, strlen (device_name));
  if (name_env == NULL)
    return NULL;
  name_data = g_bytes_get_data (name_env, &name_len);

  /* The inner plaintext holds the account key: keep it in secure memory. */
  inner = coffer_secret_new (INNER_LEN);
  memcpy (inner->data, "CFDK", 4);
  inner->data[4] = ENVELOPE_VERSION;
  inner->data[5] = COFFER_OBJECT_DEVICE_ENVELOPE;
  memcpy (inner->data + 8, repo_id, COFFER_REPO_ID_BYTES);
  device_id_hash (device_id, inner->data + 24);
  coffer_account_key_id (account_key, inner->data + 56);
  memcpy (inner->data + 88, account_key->data, COFFER_KEY_BYTES);

  out_len = NAME_OFFSET + name_len;
  out = g_malloc0 (out_len);
  memcpy (out, "CFDE", 4);
  out[4] = ENVELOPE_VERSION;
  out[5] = COFFER_OBJECT_DEVICE_ENVELOPE;
  memcpy (out + 8, inner->data + 56, COFFER_ACCOUNT_KEY_ID_BYTES);
  recipient_hash (device_pk, out + 40);
  if (crypto_box_seal (out + OUTER_HEADER_LEN, inner->data, INNER_LEN, device_pk) != 0)
    {
      g_free (out);
      return NULL;
    }
  memcpy (out + NAME_OFFSET, name_data, name_len);

  return g_bytes_new_take (out, out_len);
}

gboolean
coffer_device_envelope_peek_account_key_id (GBytes *envelope,
                                            guint8  out[COFFER_ACCOUNT_KEY_ID_BYTES])
{
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (envelope != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  data = g_bytes_get_data (envelope, &len);
  if (len < NAME_OFFSET || memcmp (data, "CFDE", 4) != 0 ||
      data[4] != ENVELOPE_VERSION || data[5] != COFFER_OBJECT_DEVICE_ENVELOPE)
    return FALSE;
  memcpy (out, data + 8, COFFER_ACCOUNT_KEY_ID_BYTES);
  return TRUE;
}

/* coffer_device_envelope_open, step 1: the clear header of the envelope,
 * and that it was sealed to device_pk. */
static gboolean
device_envelope_check_outer (const guint8  *data,
                             gsize          len,
                             const guint8   device_pk[COFFER_DEVICE_PUBLIC_KEY_BYTES],
                             GError       **error)
{
  guint8 expected[32];

  if (len < NAME_OFFSET || memcmp (data, "CFDE", 4) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The device key envelope is damaged: it is too short or not a device envelope."));
      return FALSE;
    }
  if (data[4] != ENVELOPE_VERSION)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED,
                   _("The device key envelope has version %u, which this version of Coffer does not know."),
                   data[4]);
      return FALSE;
    }
  if (data[5] != COFFER_OBJECT_DEVICE_ENVELOPE || data[6] != 0 || data[7] != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The device key envelope is damaged: its header is not valid."));
      return FALSE;
    }

  recipient_hash (device_pk, expected);
  if (sodium_memcmp (expected, data + 40, 32) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY,
                   _("The device key envelope was made for another device, so this computer cannot open it."));
      return FALSE;
    }
  return TRUE;
}

/* Step 2: the sealed header, for this repository and this device. */
static gboolean
device_envelope_check_inner (const CofferSecret  *inner,
                             const guint8         repo_id[COFFER_REPO_ID_BYTES],
                             const char          *device_id,
                             GError             **error)
{
  guint8 expected[32];

  if (memcmp (inner->data, "CFDK", 4) != 0 || inner->data[4] != ENVELOPE_VERSION ||
      inner->data[5] != COFFER_OBJECT_DEVICE_ENVELOPE || inner->data[6] != 0 || inner->data[7] != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The device key envelope is damaged: its sealed header is not valid."));
      return FALSE;
    }
  if (sodium_memcmp (inner->data + 8, repo_id, COFFER_REPO_ID_BYTES) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The device key envelope belongs to another repository."));
      return FALSE;
    }
  device_id_hash (device_id, expected);
  if (sodium_memcmp (inner->data + 24, expected, 32) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The device key envelope belongs to another device."));
      return FALSE;
    }
  return TRUE;
}

CofferSecret *
coffer_device_envelope_open (const CofferSecret *device_sk,
                             const guint8        device_pk[COFFER_DEVICE_PUBLIC_KEY_BYTES],
                             const guint8        repo_id[COFFER_REPO_ID_BYTES],
                             const char         *device_id,
                             GBytes             *envelope,
                             char              **out_name,
                             GError            **error)
{
  g_autoptr(CofferSecret) inner = NULL;
  g_autoptr(CofferSecret) account_key = NULL;
  g_autoptr(CofferSecret) name = NULL;
  g_autoptr(GBytes) name_env = NULL;
  g_autofree char *object = NULL;
  guint8 key_id[COFFER_ACCOUNT_KEY_ID_BYTES];
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (device_sk != NULL && device_sk->len == COFFER_DEVICE_SECRET_KEY_BYTES, NULL);
  g_return_val_if_fail (device_pk != NULL, NULL);
  g_return_val_if_fail (repo_id != NULL, NULL);
  g_return_val_if_fail (coffer_device_id_is_valid (device_id), NULL);
  g_return_val_if_fail (envelope != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (envelope, &len);
  if (!device_envelope_check_outer (data, len, device_pk, error))
    return NULL;

  inner = coffer_secret_new (INNER_LEN);
  if (crypto_box_seal_open (inner->data, data + OUTER_HEADER_LEN, SEALED_LEN,
                            device_pk, device_sk->data) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The device key envelope is damaged or was not sealed to this computer's key."));
      return NULL;
    }

  if (!device_envelope_check_inner (inner, repo_id, device_id, error))
    return NULL;

  account_key = coffer_secret_new_from_data (inner->data + 88, COFFER_KEY_BYTES);
  coffer_account_key_id (account_key, key_id);
  if (sodium_memcmp (key_id, inner->data + 56, COFFER_ACCOUNT_KEY_ID_BYTES) != 0 ||
      sodium_memcmp (key_id, data + 8, COFFER_ACCOUNT_KEY_ID_BYTES) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The device key envelope is damaged: its account key id does not match its key."));
      return NULL;
    }

  object = name_object (device_id);
  name_env = g_bytes_new_from_bytes (envelope, NAME_OFFSET, len - NAME_OFFSET);
  name = coffer_envelope_open (account_key, repo_id, COFFER_OBJECT_DEVICE_NAME, object,
                               name_env, error);
  if (name == NULL)
    {
      g_prefix_error (error, _("The device name in the key envelope cannot be read: "));
      return NULL;
    }

  if (out_name != NULL)
    {
      g_autofree char *text = g_strndup ((const char *) name->data, name->len);

      if (strlen (text) != name->len || !coffer_device_name_is_valid (text))
        {
          g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                       _("The device key envelope is damaged: the device name is not valid."));
          return NULL;
        }
      *out_name = g_steal_pointer (&text);
    }

  return g_steal_pointer (&account_key);
}

/* ---- Join requests ---- */

CofferJoinRequest *
coffer_join_request_new (const char   *device_id,
                         const guint8  public_key[COFFER_DEVICE_PUBLIC_KEY_BYTES],
                         const char   *device_name,
                         gint64        time)
{
  CofferJoinRequest *request;

  g_return_val_if_fail (device_id != NULL, NULL);
  g_return_val_if_fail (public_key != NULL, NULL);
  g_return_val_if_fail (device_name != NULL, NULL);

  request = g_new0 (CofferJoinRequest, 1);
  request->device_id = g_strdup (device_id);
  memcpy (request->public_key, public_key, COFFER_DEVICE_PUBLIC_KEY_BYTES);
  request->device_name = g_strdup (device_name);
  request->time = time;
  return request;
}

void
coffer_join_request_free (CofferJoinRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->device_id);
  g_free (request->device_name);
  g_free (request);
}

static gboolean
join_request_check (const char   *device_id,
                    const guint8 *public_key,
                    const char   *device_name,
                    gint64        time,
                    GError      **error)
{
  if (!coffer_device_id_is_valid (device_id))
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The request to join carries an invalid device id."));
      return FALSE;
    }
  if (!coffer_device_public_key_is_valid (public_key))
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The request to join carries an invalid public key."));
      return FALSE;
    }
  if (!coffer_device_name_is_valid (device_name))
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The request to join carries an invalid device name."));
      return FALSE;
    }
  if (time < 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The request to join carries an invalid time."));
      return FALSE;
    }
  return TRUE;
}

GBytes *
coffer_join_request_serialize (const CofferJoinRequest *request)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) normal = NULL;
  GVariant *pk;

  g_return_val_if_fail (request != NULL, NULL);

  if (!join_request_check (request->device_id, request->public_key,
                           request->device_name, request->time, NULL))
    return NULL;

  pk = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, request->public_key,
                                  COFFER_DEVICE_PUBLIC_KEY_BYTES, 1);
  value = g_variant_ref_sink (g_variant_new ("(ys@aysx)",
                                             (guchar) JOIN_REQUEST_VERSION,
                                             request->device_id, pk,
                                             request->device_name,
                                             (gint64) request->time));
  normal = g_variant_get_normal_form (value);
  if (G_BYTE_ORDER == G_BIG_ENDIAN)
    {
      g_autoptr(GVariant) swapped = g_variant_byteswap (normal);

      return g_variant_get_data_as_bytes (swapped);
    }
  return g_variant_get_data_as_bytes (normal);
}

CofferJoinRequest *
coffer_join_request_parse (GBytes      *bytes,
                           const char  *expected_device_id,
                           GError     **error)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) pk = NULL;
  const char *device_id = NULL;
  const char *device_name = NULL;
  const guint8 *pk_data;
  gsize pk_len = 0;
  guchar version = 0;
  gint64 time = 0;

  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_bytes_get_size (bytes) == 0 || g_bytes_get_size (bytes) > JOIN_REQUEST_MAX)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The request to join is damaged: it has an impossible size."));
      return NULL;
    }

  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (JOIN_REQUEST_TYPE),
                                                        bytes, FALSE));
  if (G_BYTE_ORDER == G_BIG_ENDIAN)
    {
      GVariant *swapped = g_variant_byteswap (value);

      g_variant_unref (value);
      value = swapped;
    }
  if (!g_variant_is_normal_form (value))
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT,
                   _("The request to join is damaged: it is not a valid serialised request."));
      return NULL;
    }

  g_variant_get (value, "(y&s@ay&sx)", &version, &device_id, &pk, &device_name, &time);
  if (version != JOIN_REQUEST_VERSION)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED,
                   _("The request to join has version %u, which this version of Coffer does not know."),
                   version);
      return NULL;
    }
  pk_data = g_variant_get_fixed_array (pk, &pk_len, 1);
  if (pk_len != COFFER_DEVICE_PUBLIC_KEY_BYTES)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The request to join carries an invalid public key."));
      return NULL;
    }
  if (!join_request_check (device_id, pk_data, device_name, time, error))
    return NULL;
  if (expected_device_id != NULL && strcmp (device_id, expected_device_id) != 0)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The request to join names another device than the one it was stored for."));
      return NULL;
    }

  return coffer_join_request_new (device_id, pk_data, device_name, time);
}

