/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The repository's keys: the password keys (Argon2id, cached per session),
 * this device's secret key (keyring, or a password-sealed local file), the
 * account key and the recovery envelope that holds it, and unlocking with
 * them. The rotation chain and the device records that vouch for the
 * account key follow below. */
#include <string.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

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

#define MAX_ROTATION_CHAIN 256

/* The rotation chain, defined below (after unlocking, which uses it). */
/* The recovery key opened ak: pin the rotation key and accept ak's id,
 * but only forward: when it differs from the id this computer knows, a
 * signed chain must lead from the known id to it and no signed record may
 * supersede it (COFFER_REPO_ERROR_ROLLED_BACK for an older envelope put
 * back, COFFER_REPO_ERROR_CORRUPT otherwise). */
static gboolean trust_recovery (CofferRepository *self, const CofferSecret *rk,
                                const CofferSecret *ak, GCancellable *cancellable,
                                GError **error);
/* The account key this computer already uses (hex id) is still current:
 * no signed record listed under keys/rotations/ replaces it, except the
 * one of this computer's own removal in progress
 * (COFFER_REPO_ERROR_ROLLED_BACK otherwise). */
static gboolean check_current_key (CofferRepository *self, const char *hex,
                                   GCancellable *cancellable, GError **error);

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
                   _("A backup password is needed."));
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
                       _("The repository asks for the password to be tried with more different settings "
                         "than a genuine repository has (%u so far); the rest were not tried. The repository "
                         "may have been tampered with."), g_hash_table_size (self->password_keys));
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
               _("No keyring is available and no password was given, so this computer cannot remember its key."));
  return FALSE;
}

/* Reads the local device key file (layout above): its KDF parameters, and
 * the envelope that holds the key. */
static GBytes *
device_key_file_read (CofferRepository *self, CofferKdfParams *params, GError **error)
{
  g_autofree char *path = device_key_path (self);
  g_autofree char *contents = NULL;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, error))
    return NULL;
  if (len < 40 || memcmp (contents, "CFDK\1", 5) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The local device key file %s is damaged."), path);
      return NULL;
    }
  memcpy (params->salt, contents + 8, 16);
  memcpy (&params->opslimit, contents + 24, 8);
  memcpy (&params->memlimit, contents + 32, 8);
  params->opslimit = GUINT64_FROM_LE (params->opslimit);
  params->memlimit = GUINT64_FROM_LE (params->memlimit);
  return g_bytes_new (contents + 40, len - 40);
}

/* Opens the envelope of the local device key file with a password key. */
static CofferSecret *
device_key_file_open (CofferRepository *self, const CofferSecret *pkey, GBytes *env, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  CofferSecret *sk;

  sk = coffer_envelope_open (pkey, self->raw_id, COFFER_OBJECT_DEVICE_ENVELOPE,
                             "local/device.key", env, &local_error);
  if (sk == NULL)
    {
      if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD,
                     _("The password is wrong."));
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return sk;
}

CofferSecret *
_coffer_repository_load_device_key (CofferRepository *self, GError **error)
{
  g_autofree char *storage = coffer_state_get_string (self->state, "device", "storage");

  if (g_strcmp0 (storage, "keyring") == 0)
    return coffer_keyring_lookup_sync (self->id, COFFER_KEY_KIND_DEVICE, NULL, error);

  if (g_strcmp0 (storage, "file") == 0)
    {
      CofferKdfParams params;
      const CofferSecret *pkey;
      g_autoptr(GBytes) env = device_key_file_read (self, &params, error);

      if (env == NULL)
        return NULL;
      pkey = _coffer_repository_password_key (self, &params, error);
      if (pkey == NULL)
        return NULL;
      return device_key_file_open (self, pkey, env, error);
    }

  g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND,
               _("This computer is not a trusted device of this repository."));
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
       * signed with the rotation key this computer pinned (the rotation
       * chain below). */
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
                   _("The repository offers an account key that this computer has never seen. "
                     "It may have been tampered with; nothing was read or written."));
      return FALSE;
    }
  /* The key it already uses must not have been replaced meanwhile: the
   * storage could hand back this computer's envelope of before a removal
   * (whose key the removed device knows) together with old key sets. */
  if (!check_current_key (self, hex, NULL, error))
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
                     _("The repository has no recovery key envelope (keys/recovery is missing)."));
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
                     _("This is the recovery key that opened this repository on this computer before, "
                       "but the recovery key envelope (keys/recovery) no longer opens with it: it looks "
                       "damaged, or the recovery key was replaced on another computer."));
      else if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                     _("This recovery key does not belong to this repository."));
      else
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The recovery key envelope is damaged: %s"), local_error->message);
      return NULL;
    }
  /* The plaintext is the account key itself: anything else is a damaged or
   * planted envelope (its tag only proves who wrote it). */
  if (ak->len != COFFER_KEY_BYTES)
    {
      coffer_secret_free (ak);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The recovery key envelope is damaged: it does not hold a %u-byte account key."),
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
                   _("The device name is not valid."));
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
                   _("This computer is not a trusted device of this repository."));
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
                     _("This computer was removed from the trusted devices of this repository."));
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  ak = coffer_device_envelope_open (sk, pk, self->raw_id, self->device_id, env, NULL, &local_error);
  if (ak == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("This computer's key envelope could not be opened: %s"), local_error->message);
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
      if (!trust_recovery (self, self->recovery_key, ak, cancellable, error))
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
               _("No way to unlock the repository was given: %s "
                 "Give the backup password or the recovery key."), device_error->message);
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
                   _("The recovery key opens a different account key than this computer uses."));
      return FALSE;
    }
  if (self->account_key == NULL)
    {
      if (!trust_recovery (self, recovery_key, ak, cancellable, error))
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
 * the session's (read as _coffer_repository_load_device_key reads it). */
gboolean
_coffer_repository_password_opens_device_key_file (CofferRepository *self, const CofferSecret *password, GError **error)
{
  g_autoptr(CofferSecret) pkey = NULL;
  g_autoptr(CofferSecret) sk = NULL;
  g_autoptr(GBytes) env = NULL;
  CofferKdfParams params;

  env = device_key_file_read (self, &params, error);
  if (env == NULL)
    return FALSE;
  pkey = coffer_kdf_derive (password, &params, error);
  if (pkey == NULL)
    return FALSE;
  sk = device_key_file_open (self, pkey, env, error);
  return sk != NULL;
}

/* Rotation key pair: Ed25519 from seed = BLAKE2b-256(key = RK,
 * "coffer-rotation-sign-v1" || repo id). Only recovery key holders can sign. */
void
_coffer_rotation_keypair (const CofferSecret *rk, const guint8 *repo_id, guint8 pk[crypto_sign_PUBLICKEYBYTES],
                          CofferSecret **out_sk)
{
  g_autoptr(CofferSecret) seed = coffer_secret_new (crypto_sign_SEEDBYTES);
  g_autoptr(CofferSecret) sk = coffer_secret_new (crypto_sign_SECRETKEYBYTES);
  crypto_generichash_state st;
  static const char domain[] = "coffer-rotation-sign-v1";

  crypto_generichash_init (&st, rk->data, rk->len, crypto_sign_SEEDBYTES);
  crypto_generichash_update (&st, (const guint8 *) domain, sizeof domain - 1);
  crypto_generichash_update (&st, repo_id, COFFER_REPO_ID_BYTES);
  crypto_generichash_final (&st, seed->data, crypto_sign_SEEDBYTES);
  crypto_sign_seed_keypair (pk, sk->data, seed->data);
  if (out_sk != NULL)
    *out_sk = g_steal_pointer (&sk);
}

void
_coffer_repository_pin_rotation_key (CofferRepository *self, const CofferSecret *rk)
{
  guint8 pk[crypto_sign_PUBLICKEYBYTES];
  CofferState *state = self->state;

  _coffer_rotation_keypair (rk, self->raw_id, pk, NULL);
  _coffer_state_set_hex (state, "account", "rotation-key", pk, sizeof pk);
  coffer_state_save (state, NULL);
}

gboolean
_coffer_repository_recovery_key_is_pinned (CofferRepository *self, const CofferSecret *rk)
{
  guint8 pk[crypto_sign_PUBLICKEYBYTES];
  guint8 pinned[crypto_sign_PUBLICKEYBYTES];

  if (!_coffer_state_get_hex (self->state, "account", "rotation-key", pinned, sizeof pinned))
    return FALSE;
  _coffer_rotation_keypair (rk, self->raw_id, pk, NULL);
  return sodium_memcmp (pk, pinned, sizeof pk) == 0;
}

gsize
_coffer_rotation_message (guint version, const guint8 *repo_id, const guint8 old_id[32], const guint8 new_id[32],
                          guint64 seq, guint8 out[COFFER_ROTATION_MSG_MAX])
{
  guint64 le = GUINT64_TO_LE (seq);

  memcpy (out, version == 1 ? "coffer-rotation-v1" : "coffer-rotation-v2", 18);
  memcpy (out + 18, repo_id, COFFER_REPO_ID_BYTES);
  memcpy (out + 34, old_id, 32);
  memcpy (out + 66, new_id, 32);
  if (version == 1)
    return 98;
  memcpy (out + 98, &le, 8);
  return 106;
}

/* Parses and verifies keys/rotations/<hex>: v1 = old 32 | new 32 | rotation
 * pk 32 | signature 64; v2 = old 32 | new 32 | seq 8 | rotation pk 32 |
 * signature 64. FALSE unless it is signed with the pinned rotation key and
 * names the new id its object name says. */
static gboolean
parse_rotation (CofferRepository *self, GBytes *bytes, const char *new_hex, const guint8 pinned[32],
                CofferRotation *out)
{
  const guint8 *body;
  guint8 msg[COFFER_ROTATION_MSG_MAX], name_id[32];
  gsize msg_len;
  const guint8 *pk, *sig;

  if (_coffer_parse_fixed_version (bytes, "CFRT", 1, 160, &body))
    {
      out->version = 1;
      out->seq = 0;
      pk = body + 64;
      sig = body + 96;
    }
  else if (_coffer_parse_fixed_version (bytes, "CFRT", 2, 168, &body))
    {
      guint64 le;
      out->version = 2;
      memcpy (&le, body + 64, 8);
      out->seq = GUINT64_FROM_LE (le);
      pk = body + 72;
      sig = body + 104;
    }
  else
    return FALSE;
  memcpy (out->old_id, body, 32);
  memcpy (out->new_id, body + 32, 32);
  if (!_coffer_hex_to (new_hex, name_id, 32) || sodium_memcmp (out->new_id, name_id, 32) != 0
      || sodium_memcmp (pk, pinned, 32) != 0)
    return FALSE;
  msg_len = _coffer_rotation_message (out->version, self->raw_id, out->old_id, out->new_id,
                                      out->seq, msg);
  return crypto_sign_verify_detached (sig, msg, msg_len, pinned) == 0;
}

gboolean
_coffer_repository_read_rotation (CofferRepository *self, const char *new_hex, const guint8 pinned[32], CofferRotation *out,
                                  GCancellable *cancellable, GError **error)
{
  g_autofree char *name = g_strdup_printf (COFFER_ROTATION_FMT, new_hex);
  g_autoptr(GBytes) bytes = NULL;
  gboolean missing;

  bytes = _coffer_repository_get_small (self, name, &missing, cancellable, error);
  if (bytes == NULL)
    {
      if (missing)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The account key changed but there is no record of the change (%s)."), name);
      return FALSE;
    }
  if (!parse_rotation (self, bytes, new_hex, pinned, out))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The record of an account key change (%s) is not valid or not signed with this "
                     "repository's recovery key."), name);
      return FALSE;
    }
  return TRUE;
}

/* Walks keys/rotations/<new> → old → … until old_hex; *top_seq gets the
 * sequence number of the first (newest) record. */
static gboolean
walk_rotations (CofferRepository *self, const char *new_hex, const char *old_hex, const guint8 pinned[32],
                guint64 *top_seq, GCancellable *cancellable, GError **error)
{
  g_autofree char *cur = g_strdup (new_hex);

  for (guint i = 0; i < MAX_ROTATION_CHAIN; i++)
    {
      CofferRotation r;

      if (!_coffer_repository_read_rotation (self, cur, pinned, &r, cancellable, error))
        return FALSE;
      if (i == 0 && top_seq != NULL)
        *top_seq = r.seq;
      g_free (cur);
      cur = coffer_hex_encode (r.old_id, 32);
      if (strcmp (cur, old_hex) == 0)
        return TRUE;
    }
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("The chain of account key changes is too long or loops."));
  return FALSE;
}

/* A key is current only if no signed record the store lists replaces it
 * (except the record of this computer's own removal in progress, named by
 * allow_hex). Records whose signature was checked once are remembered in
 * local state ("rotations": new id → old id), so an unlock costs one
 * listing. (A store that hides the newest record cannot be caught this
 * way: see docs/SECURITY.md "Devices and rotation".) */
static gboolean
check_not_superseded (CofferRepository *self, const char *hex, const guint8 pinned[32], const char *allow_hex,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  CofferState *state = self->state;
  gboolean cached_new = FALSE;

  if (!coffer_store_list (self->store, "keys/rotations/", _coffer_collect_names, names,
                          cancellable, error))
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *rec_hex = (const char *) g_ptr_array_index (names, i) + strlen ("keys/rotations/");
      g_autofree char *old_hex = NULL;
      guint8 check[32];

      if (!_coffer_hex_to (rec_hex, check, 32))
        continue;
      old_hex = coffer_state_get_string (state, "rotations", rec_hex);
      if (old_hex == NULL)
        {
          g_autoptr(GBytes) bytes = NULL;
          gboolean missing;
          CofferRotation r;

          bytes = _coffer_repository_get_small (self, g_ptr_array_index (names, i), &missing, cancellable, NULL);
          /* Unsigned or damaged records prove nothing either way. */
          if (bytes == NULL || !parse_rotation (self, bytes, rec_hex, pinned, &r))
            continue;
          old_hex = coffer_hex_encode (r.old_id, 32);
          coffer_state_set_string (state, "rotations", rec_hex, old_hex);
          cached_new = TRUE;
        }
      if (strcmp (old_hex, hex) == 0 && g_strcmp0 (rec_hex, allow_hex) != 0)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
                       _("The account key offered to this computer was already replaced by a newer one "
                         "(keys/rotations/%s): the storage handed out an old key envelope. This computer "
                         "needs the newest key: wait until a running device removal has finished, enter "
                         "the recovery key, or join this computer again."), rec_hex);
          return FALSE;
        }
    }
  if (cached_new)
    coffer_state_save (state, NULL);
  return TRUE;
}

static gboolean
check_current_key (CofferRepository *self, const char *hex, GCancellable *cancellable,
                   GError **error)
{
  CofferState *state = self->state;
  g_autofree char *rotating_to = coffer_state_get_string (state, "account", "rotating-to");
  guint8 pinned[crypto_sign_PUBLICKEYBYTES];

  /* Without a pinned rotation key no record can be checked; such a
   * computer refuses every change of key anyway. */
  if (!_coffer_state_get_hex (state, "account", "rotation-key", pinned, sizeof pinned))
    return TRUE;
  return check_not_superseded (self, hex, pinned, rotating_to, cancellable, error);
}

static gboolean
get_pinned (CofferRepository *self, guint8 pinned[crypto_sign_PUBLICKEYBYTES], GError **error)
{
  if (_coffer_state_get_hex (self->state, "account", "rotation-key", pinned,
                             crypto_sign_PUBLICKEYBYTES))
    return TRUE;
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY,
               _("The account key of this repository was replaced (a device was removed), and this "
                 "computer has no way to verify the change. Enter the recovery key once, or join "
                 "this computer again from a trusted one."));
  return FALSE;
}

/* Moving forward to new_hex: remember the sequence number reached, and
 * refuse one lower than a number already seen. */
static gboolean
accept_seq (CofferRepository *self, guint64 seq, GError **error)
{
  CofferState *state = self->state;

  if (seq < coffer_state_get_uint (state, "account", "rotation-seq"))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
                   _("The account key offered is older than one this computer already followed."));
      return FALSE;
    }
  coffer_state_set_uint (state, "account", "rotation-seq", seq);
  return TRUE;
}

static gboolean
trust_recovery (CofferRepository *self, const CofferSecret *rk, const CofferSecret *ak,
                GCancellable *cancellable, GError **error)
{
  guint8 akid[COFFER_ACCOUNT_KEY_ID_BYTES];
  guint8 pinned[crypto_sign_PUBLICKEYBYTES];
  CofferState *state = self->state;
  g_autofree char *hex = NULL;
  g_autofree char *known = coffer_state_get_string (state, "account", "key-id");
  g_autoptr(GError) forward_error = NULL;
  guint64 seq = 0;

  /* The recovery envelope is authenticated by the recovery key, but the
   * storage may put back an OLDER authentic one (from before a device was
   * removed, whose key that device knows). So the remembered id only
   * moves forward along the signed chain of rotations. */
  _coffer_repository_pin_rotation_key (self, rk);
  _coffer_rotation_keypair (rk, self->raw_id, pinned, NULL);
  coffer_account_key_id (ak, akid);
  hex = coffer_hex_encode (akid, sizeof akid);
  if (known != NULL && strcmp (known, hex) == 0)
    return TRUE;
  if (known == NULL
      || walk_rotations (self, hex, known, pinned, &seq, cancellable, &forward_error))
    {
      if (!check_not_superseded (self, hex, pinned, NULL, cancellable, error)
          || (known != NULL && !accept_seq (self, seq, error)))
        return FALSE;
      coffer_state_set_string (state, "account", "key-id", hex);
      coffer_state_save (state, NULL);
      return TRUE;
    }
  if (walk_rotations (self, known, hex, pinned, NULL, cancellable, NULL))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
                   _("The recovery key envelope (keys/recovery) holds an older account key than this "
                     "computer already uses: the storage put back an older recovery envelope. Nothing "
                     "was read or written with it."));
      return FALSE;
    }
  g_debug ("recovery envelope not followed: %s", forward_error->message);
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("The recovery key envelope (keys/recovery) holds an account key that no signed record "
                 "connects to the one this computer uses. It may have been tampered with; nothing was "
                 "read or written."));
  return FALSE;
}

gboolean
_coffer_repository_follow_rotation (CofferRepository *self, const char *known_hex, const char *new_hex,
                                    GCancellable *cancellable, GError **error)
{
  guint8 pinned[crypto_sign_PUBLICKEYBYTES];
  guint64 seq = 0;

  if (!get_pinned (self, pinned, error))
    return FALSE;
  /* Back from the new key to the known one, and the new key must be the
   * newest one listed: a device offline across two removals must not be
   * moved onto the intermediate key, which the second removed device knows. */
  return walk_rotations (self, new_hex, known_hex, pinned, &seq, cancellable, error)
         && check_not_superseded (self, new_hex, pinned, NULL, cancellable, error)
         && accept_seq (self, seq, error);
}
