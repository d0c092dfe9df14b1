/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The repository's keys: the password keys (Argon2id, cached per session),
 * this device's secret key (keyring, or a password-sealed local file), the
 * account key and the recovery envelope that holds it, and unlocking with
 * them. The rotation chain and the device records that vouch for the
 * account key follow below. */
#include <string.h>
#include <sodium.h>

#include "coffer-device.h"
#include "coffer-error.h"
#include "coffer-keyring.h"
#include "coffer-repository-private.h"

#define RECOVERY_NAME "keys/recovery"
#define DEVICE_KEY_FILE "device.key"

/* A session (one CofferRepository) derives at most this many distinct
 * password keys and spends at most this much Argon2id work (opslimit ×
 * memlimit) on them. A genuine repository needs one or two (one set of
 * parameters per computer that wrote password envelopes, one for the local
 * device key file); objects planted by the storage, each with its own salt,
 * would otherwise cost a derivation each. */
#define PASSWORD_KEYS_MAX      16
#define PASSWORD_WORK_BUDGET   (G_GUINT64_CONSTANT (16) << 30)

/* Derives (or returns the cached) password key for a set of KDF parameters. */
const CofferSecret *
_coffer_repository_password_key (CofferRepository *self, const CofferKdfParams *params, GError **error)
{
  static GQuark work_quark;
  g_autofree char *salt = coffer_hex_encode (params->salt, sizeof params->salt);
  g_autofree char *cache_key = g_strdup_printf ("%s:%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                                                salt, params->opslimit, params->memlimit);
  CofferSecret *key;

  if (self->password == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                   "A backup password is needed.");
      return NULL;
    }
  g_rec_mutex_lock (&self->lock);
  key = g_hash_table_lookup (self->password_keys, cache_key);
  if (key == NULL)
    {
      guint64 *spent;

      if (work_quark == 0)
        work_quark = g_quark_from_static_string ("coffer-password-work");
      spent = g_object_get_qdata (G_OBJECT (self), work_quark);
      if (spent == NULL)
        {
          spent = g_new0 (guint64, 1);
          g_object_set_qdata_full (G_OBJECT (self), work_quark, spent, g_free);
        }
      /* Checked before deriving; the per-derivation caps are in
       * coffer_kdf_derive. Saturating: a hostile product cannot wrap. */
      if (g_hash_table_size (self->password_keys) >= PASSWORD_KEYS_MAX
          || params->opslimit > PASSWORD_WORK_BUDGET / MAX (params->memlimit, 1)
          || *spent + params->opslimit * params->memlimit > PASSWORD_WORK_BUDGET)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       "The repository asks for the password to be tried with more different settings "
                       "than a genuine repository has (%u so far); the rest were not tried. The repository "
                       "may have been tampered with.", g_hash_table_size (self->password_keys));
          g_rec_mutex_unlock (&self->lock);
          return NULL;
        }
      key = coffer_kdf_derive (self->password, params, error);
      if (key != NULL)
        {
          *spent += params->opslimit * params->memlimit;
          g_hash_table_insert (self->password_keys, g_steal_pointer (&cache_key), key);
        }
    }
  g_rec_mutex_unlock (&self->lock);
  return key;
}

/* The repository-wide KDF parameters for new password envelopes: reused
 * so that one derivation opens every Standard category. */
gboolean
_coffer_repository_get_kdf_params (CofferRepository *self, CofferKdfParams *params)
{
  g_autofree char *salt = coffer_state_get_string (self->state, "password", "salt");
  guint64 ops = coffer_state_get_uint (self->state, "password", "opslimit");
  guint64 mem = coffer_state_get_uint (self->state, "password", "memlimit");

  if (salt == NULL || !coffer_hex_decode (salt, params->salt, sizeof params->salt) || ops == 0 || mem == 0)
    {
      g_autofree char *hex = NULL;

      coffer_kdf_params_new (params);
      hex = coffer_hex_encode (params->salt, sizeof params->salt);
      coffer_state_set_string (self->state, "password", "salt", hex);
      coffer_state_set_uint (self->state, "password", "opslimit", params->opslimit);
      coffer_state_set_uint (self->state, "password", "memlimit", params->memlimit);
      coffer_state_save (self->state, NULL);
      return TRUE;
    }
  params->opslimit = ops;
  params->memlimit = mem;
  return TRUE;
}

void
_coffer_repository_set_kdf_params (CofferRepository *self, const CofferKdfParams *params)
{
  g_autofree char *hex = coffer_hex_encode (params->salt, sizeof params->salt);

  coffer_state_set_string (self->state, "password", "salt", hex);
  coffer_state_set_uint (self->state, "password", "opslimit", params->opslimit);
  coffer_state_set_uint (self->state, "password", "memlimit", params->memlimit);
  coffer_state_save (self->state, NULL);
}

static char *
device_key_path (CofferRepository *self)
{
  return g_build_filename (coffer_state_get_data_dir (self->state), DEVICE_KEY_FILE, NULL);
}

/* File layout: "CFDK" | version 1 | 3 zero | salt 16 | ops u64 | mem u64 | envelope */
gboolean
_coffer_repository_save_local_device_key (CofferRepository *self, const CofferSecret *device_sk, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (coffer_keyring_is_available ())
    {
      g_autofree char *label = g_strdup_printf ("Coffer device key for repository %s", self->id);
      if (coffer_keyring_store_sync (self->id, COFFER_KEY_KIND_DEVICE, label, device_sk, NULL, &local_error))
        {
          coffer_state_set_string (self->state, "device", "storage", "keyring");
          return TRUE;
        }
      g_debug ("keyring store failed: %s", local_error->message);
      g_clear_error (&local_error);
    }

  if (self->password != NULL)
    {
      CofferKdfParams params;
      const CofferSecret *pkey;
      g_autoptr(GBytes) env = NULL;
      g_autoptr(GByteArray) file = g_byte_array_new ();
      g_autofree char *path = device_key_path (self);
      static const guint8 head[8] = { 'C', 'F', 'D', 'K', 1, 0, 0, 0 };
      guint64 le;

      /* Its own, lighter parameters: this file never leaves the computer
       * (docs/SECURITY.md, "Local device key"). */
      coffer_kdf_params_new_local (&params);
      pkey = _coffer_repository_password_key (self, &params, error);
      if (pkey == NULL)
        return FALSE;
      env = coffer_envelope_seal (pkey, self->raw_id, COFFER_OBJECT_DEVICE_ENVELOPE,
                                  "local/device.key", device_sk->data, device_sk->len);
      g_byte_array_append (file, head, sizeof head);
      g_byte_array_append (file, params.salt, sizeof params.salt);
      le = GUINT64_TO_LE (params.opslimit);
      g_byte_array_append (file, (guint8 *) &le, 8);
      le = GUINT64_TO_LE (params.memlimit);
      g_byte_array_append (file, (guint8 *) &le, 8);
      g_byte_array_append (file, g_bytes_get_data (env, NULL), g_bytes_get_size (env));
      if (!g_file_set_contents_full (path, (const char *) file->data, file->len,
                                     G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                     0600, error))
        return FALSE;
      coffer_state_set_string (self->state, "device", "storage", "file");
      return TRUE;
    }

  g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE,
               "No keyring is available and no password was given, so this computer cannot remember its key.");
  return FALSE;
}

CofferSecret *
_coffer_repository_load_device_key (CofferRepository *self, GError **error)
{
  g_autofree char *storage = coffer_state_get_string (self->state, "device", "storage");

  if (g_strcmp0 (storage, "keyring") == 0)
    return coffer_keyring_lookup_sync (self->id, COFFER_KEY_KIND_DEVICE, NULL, error);

  if (g_strcmp0 (storage, "file") == 0)
    {
      g_autofree char *path = device_key_path (self);
      g_autofree char *contents = NULL;
      gsize len;
      CofferKdfParams params;
      const CofferSecret *pkey;
      g_autoptr(GBytes) env = NULL;
      g_autoptr(GError) local_error = NULL;
      CofferSecret *sk;

      if (!g_file_get_contents (path, &contents, &len, error))
        return NULL;
      if (len < 40 || memcmp (contents, "CFDK\1", 5) != 0)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       "The local device key file %s is damaged.", path);
          return NULL;
        }
      memcpy (params.salt, contents + 8, 16);
      memcpy (&params.opslimit, contents + 24, 8);
      memcpy (&params.memlimit, contents + 32, 8);
      params.opslimit = GUINT64_FROM_LE (params.opslimit);
      params.memlimit = GUINT64_FROM_LE (params.memlimit);
      pkey = _coffer_repository_password_key (self, &params, error);
      if (pkey == NULL)
        return NULL;
      env = g_bytes_new (contents + 40, len - 40);
      sk = coffer_envelope_open (pkey, self->raw_id, COFFER_OBJECT_DEVICE_ENVELOPE,
                                 "local/device.key", env, &local_error);
      if (sk == NULL)
        {
          if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
            g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD,
                         "The password is wrong.");
          else
            g_propagate_error (error, g_steal_pointer (&local_error));
        }
      return sk;
    }

  g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND,
               "This computer is not a trusted device of this repository.");
  return NULL;
}

static gboolean
check_account_key_id (CofferRepository *self, const CofferSecret *ak, GError **error)
{
  guint8 akid[COFFER_ACCOUNT_KEY_ID_BYTES];
  g_autofree char *hex = NULL;
  g_autofree char *known = coffer_state_get_string (self->state, "account", "key-id");

  coffer_account_key_id (ak, akid);
  hex = coffer_hex_encode (akid, sizeof akid);
  if (known != NULL && strcmp (known, hex) != 0)
    {
      g_autoptr(GError) rotation_error = NULL;

      /* A rotation (a device was removed) is followed only when it is
       * signed with the rotation key this computer pinned
       * (coffer-repository-devices.c). */
      if (_coffer_repository_follow_rotation (self, known, hex, NULL, &rotation_error))
        {
          coffer_state_set_string (self->state, "account", "key-id", hex);
          coffer_state_save (self->state, NULL);
          return TRUE;
        }
      g_debug ("account key rotation not followed: %s", rotation_error->message);
      if (g_error_matches (rotation_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY)
          || g_error_matches (rotation_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK))
        {
          g_propagate_error (error, g_steal_pointer (&rotation_error));
          return FALSE;
        }
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   "The repository offers an account key that this computer has never seen. "
                   "It may have been tampered with; nothing was read or written.");
      return FALSE;
    }
  /* The key it already uses must not have been replaced meanwhile: the
   * storage could hand back this computer's envelope of before a removal
   * (whose key the removed device knows) together with old key sets. */
  if (!_coffer_repository_check_current_key (self, hex, NULL, error))
    return FALSE;
  if (known == NULL)
    {
      coffer_state_set_string (self->state, "account", "key-id", hex);
      coffer_state_save (self->state, NULL);
    }
  return TRUE;
}

/* Takes ownership of ak. */
static gboolean
set_account_key (CofferRepository *self, CofferSecret *ak, GError **error)
{
  if (!check_account_key_id (self, ak, error))
    {
      coffer_secret_free (ak);
      return FALSE;
    }
  g_rec_mutex_lock (&self->lock);
  g_clear_pointer (&self->account_key, coffer_secret_free);
  self->account_key = ak;
  g_rec_mutex_unlock (&self->lock);
  return TRUE;
}

static CofferSecret *
recovery_wrap_key (CofferRepository *self, const CofferSecret *rk)
{
  CofferSecret *key = coffer_secret_new (COFFER_KEY_BYTES);
  crypto_generichash_state st;
  static const char domain[] = "coffer-recovery-wrap";

  crypto_generichash_init (&st, rk->data, rk->len, COFFER_KEY_BYTES);
  crypto_generichash_update (&st, (const guint8 *) domain, sizeof domain - 1);
  crypto_generichash_update (&st, self->raw_id, COFFER_REPO_ID_BYTES);
  crypto_generichash_final (&st, key->data, COFFER_KEY_BYTES);
  sodium_memzero (&st, sizeof st);
  return key;
}

gboolean
_coffer_repository_write_recovery (CofferRepository *self, const CofferSecret *rk, const CofferSecret *ak,
                         CofferPutMode mode, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) wrap = recovery_wrap_key (self, rk);
  g_autoptr(GBytes) env = coffer_envelope_seal (wrap, self->raw_id, COFFER_OBJECT_RECOVERY_ENVELOPE,
                                                RECOVERY_NAME, ak->data, ak->len);

  return coffer_store_put (self->store, RECOVERY_NAME, env, mode, cancellable, error);
}

CofferSecret *
_coffer_repository_open_recovery (CofferRepository *self, const CofferSecret *rk,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) wrap = NULL;
  g_autoptr(GError) local_error = NULL;
  CofferSecret *ak;

  env = coffer_store_get_limited (self->store, RECOVERY_NAME, COFFER_MAX_KEY_OBJECT_BYTES, cancellable,
                                  &local_error);
  if (env == NULL)
    {
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     "The repository has no recovery key envelope (keys/recovery is missing).");
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  wrap = recovery_wrap_key (self, rk);
  ak = coffer_envelope_open (wrap, self->raw_id, COFFER_OBJECT_RECOVERY_ENVELOPE,
                             RECOVERY_NAME, env, &local_error);
  if (ak == NULL)
    {
      /* A key commitment cannot tell a wrong key from a damaged envelope;
       * the key this computer has seen open the repository can. */
      if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY)
          && _coffer_repository_recovery_key_is_pinned (self, rk))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     "This is the recovery key that opened this repository on this computer before, "
                     "but the recovery key envelope (keys/recovery) no longer opens with it: it looks "
                     "damaged, or the recovery key was replaced on another computer.");
      else if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                     "This recovery key does not belong to this repository.");
      else
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     "The recovery key envelope is damaged: %s", local_error->message);
      return NULL;
    }
  /* The plaintext is the account key itself: anything else is a damaged or
   * planted envelope (its tag only proves who wrote it). */
  if (ak->len != COFFER_KEY_BYTES)
    {
      coffer_secret_free (ak);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   "The recovery key envelope is damaged: it does not hold a %u-byte account key.",
                   (guint) COFFER_KEY_BYTES);
      return NULL;
    }
  return ak;
}

gboolean
_coffer_repository_write_device_envelope (CofferRepository *self, const char *device_id, const guint8 pk[32],
                       const char *name, GCancellable *cancellable, GError **error)
{
  g_autofree char *obj = g_strdup_printf ("keys/devices/%s", device_id);
  g_autoptr(GBytes) env = coffer_device_envelope_seal (pk, self->account_key, self->raw_id, device_id, name);

  if (env == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   "The device name is not valid.");
      return FALSE;
    }
  return coffer_store_put (self->store, obj, env, COFFER_PUT_REPLACE, cancellable, error);
}

void
coffer_repository_set_password (CofferRepository *self, const CofferSecret *password)
{
  g_return_if_fail (COFFER_IS_REPOSITORY (self));
  g_rec_mutex_lock (&self->lock);
  g_clear_pointer (&self->password, coffer_secret_free);
  if (password != NULL && password->len > 0)
    self->password = coffer_secret_dup (password);
  g_hash_table_remove_all (self->password_keys);
  g_rec_mutex_unlock (&self->lock);
}

void
coffer_repository_set_recovery_key (CofferRepository *self, const CofferSecret *recovery_key)
{
  g_return_if_fail (COFFER_IS_REPOSITORY (self));
  g_rec_mutex_lock (&self->lock);
  g_clear_pointer (&self->recovery_key, coffer_secret_free);
  if (recovery_key != NULL)
    self->recovery_key = coffer_secret_dup (recovery_key);
  g_rec_mutex_unlock (&self->lock);
}

gboolean
coffer_repository_has_account_key (CofferRepository *self)
{
  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  return self->account_key != NULL;
}

static gboolean
unlock_with_device (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) sk = NULL;
  g_autoptr(GBytes) env = NULL;
  g_autofree char *obj = NULL;
  g_autofree char *pk_hex = NULL;
  guint8 pk[32];
  CofferSecret *ak;
  g_autoptr(GError) local_error = NULL;

  if (self->device_id == NULL)
    {
      g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND,
                   "This computer is not a trusted device of this repository.");
      return FALSE;
    }
  sk = _coffer_repository_load_device_key (self, error);
  if (sk == NULL)
    return FALSE;
  coffer_device_public_key (sk, pk);
  obj = g_strdup_printf ("keys/devices/%s", self->device_id);
  env = coffer_store_get_limited (self->store, obj, COFFER_MAX_KEY_OBJECT_BYTES, cancellable, &local_error);
  if (env == NULL)
    {
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                     "This computer was removed from the trusted devices of this repository.");
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  ak = coffer_device_envelope_open (sk, pk, self->raw_id, self->device_id, env, NULL, &local_error);
  if (ak == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   "This computer's key envelope could not be opened: %s", local_error->message);
      return FALSE;
    }
  return set_account_key (self, ak, error);
}

gboolean
coffer_repository_unlock (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  g_autoptr(GError) device_error = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (self->account_key != NULL)
    return TRUE;

  if (self->recovery_key != NULL)
    {
      CofferSecret *ak = _coffer_repository_open_recovery (self, self->recovery_key, cancellable, error);
      if (ak == NULL)
        return FALSE;
      /* The remembered account key id only moves forward (the storage
       * may put back an older recovery envelope). */
      if (!_coffer_repository_trust_recovery (self, self->recovery_key, ak, cancellable, error))
        {
          coffer_secret_free (ak);
          return FALSE;
        }
      self->recovery_confirmed = TRUE;
      return set_account_key (self, ak, error);
    }

  if (unlock_with_device (self, cancellable, &device_error))
    return TRUE;

  /* A wrong password or a tampered repository is an error; a computer that
   * simply is not a trusted device can still open Standard categories with
   * the password. */
  if (device_error->domain == COFFER_REPO_ERROR
      && (device_error->code == COFFER_REPO_ERROR_WRONG_PASSWORD
          || device_error->code == COFFER_REPO_ERROR_CORRUPT
          || device_error->code == COFFER_REPO_ERROR_ROLLED_BACK))
    {
      g_propagate_error (error, g_steal_pointer (&device_error));
      return FALSE;
    }
  g_debug ("device unlock: %s", device_error->message);
  if (self->password != NULL)
    return TRUE;

  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
               "No way to unlock the repository was given: %s "
               "Give the backup password or the recovery key.", device_error->message);
  return FALSE;
}

gboolean
coffer_repository_verify_recovery_key (CofferRepository *self, const CofferSecret *recovery_key,
                                       GCancellable *cancellable, GError **error)
{
  CofferSecret *ak;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (recovery_key != NULL, FALSE);

  ak = _coffer_repository_open_recovery (self, recovery_key, cancellable, error);
  if (ak == NULL)
    return FALSE;
  if (self->account_key != NULL && !coffer_secret_equal (ak, self->account_key))
    {
      coffer_secret_free (ak);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   "The recovery key opens a different account key than this computer uses.");
      return FALSE;
    }
  if (self->account_key == NULL)
    {
      if (!_coffer_repository_trust_recovery (self, recovery_key, ak, cancellable, error))
        {
          coffer_secret_free (ak);
          return FALSE;
        }
      if (!set_account_key (self, ak, error))
        return FALSE;
    }
  else
    {
      _coffer_repository_pin_rotation_key (self, recovery_key);
      coffer_secret_free (ak);
    }
  self->recovery_confirmed = TRUE;
  coffer_state_set_uint (self->state, "recovery-key", "tested", (guint64) (g_get_real_time () / G_USEC_PER_SEC));
  coffer_state_save (self->state, NULL);
  return TRUE;
}

gint64
coffer_repository_get_recovery_key_tested (CofferRepository *self)
{
  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), 0);
  return (gint64) coffer_state_get_uint (self->state, "recovery-key", "tested");
}

/* After a password change the local device key file (used when there is no
 * keyring) must be sealed under the new password. old_sk is the device key
 * loaded with the old password, or NULL when it is kept elsewhere. */
CofferSecret *
_coffer_repository_load_local_device_key (CofferRepository *self, GError **error)
{
  g_autofree char *storage = coffer_state_get_string (self->state, "device", "storage");

  if (g_strcmp0 (storage, "file") != 0)
    return NULL;
  return _coffer_repository_load_device_key (self, error);
}

void
_coffer_repository_set_device_id (CofferRepository *self, const char *device_id)
{
  g_rec_mutex_lock (&self->lock);
  g_free (self->device_id);
  self->device_id = g_strdup (device_id);
  g_rec_mutex_unlock (&self->lock);
}

void
_coffer_repository_replace_account_key (CofferRepository *self, const CofferSecret *ak)
{
  guint8 akid[COFFER_ACCOUNT_KEY_ID_BYTES];
  g_autofree char *hex = NULL;

  coffer_account_key_id (ak, akid);
  hex = coffer_hex_encode (akid, sizeof akid);
  g_rec_mutex_lock (&self->lock);
  g_clear_pointer (&self->account_key, coffer_secret_free);
  self->account_key = coffer_secret_dup (ak);
  coffer_state_set_string (self->state, "account", "key-id", hex);
  coffer_state_save (self->state, NULL);
  g_rec_mutex_unlock (&self->lock);
}

/* The local device key file, opened with a password given here rather than
 * the session's (same layout as _coffer_repository_load_device_key). */
gboolean
_coffer_repository_password_opens_device_key_file (CofferRepository *self, const CofferSecret *password, GError **error)
{
  g_autofree char *path = device_key_path (self);
  g_autofree char *contents = NULL;
  g_autoptr(CofferSecret) pkey = NULL;
  g_autoptr(CofferSecret) sk = NULL;
  g_autoptr(GBytes) env = NULL;
  g_autoptr(GError) local_error = NULL;
  CofferKdfParams params;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, error))
    return FALSE;
  if (len < 40 || memcmp (contents, "CFDK\1", 5) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   "The local device key file %s is damaged.", path);
      return FALSE;
    }
  memcpy (params.salt, contents + 8, 16);
  memcpy (&params.opslimit, contents + 24, 8);
  memcpy (&params.memlimit, contents + 32, 8);
  params.opslimit = GUINT64_FROM_LE (params.opslimit);
  params.memlimit = GUINT64_FROM_LE (params.memlimit);
  pkey = coffer_kdf_derive (password, &params, error);
  if (pkey == NULL)
    return FALSE;
  env = g_bytes_new (contents + 40, len - 40);
  sk = coffer_envelope_open (pkey, self->raw_id, COFFER_OBJECT_DEVICE_ENVELOPE, "local/device.key", env, &local_error);
  if (sk == NULL)
    {
      if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD, "The password is wrong.");
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}
