/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferRepository: the GObject, creating and opening a repository,
 * replacing the recovery key, the authority checks and accepting a
 * rollback. The top of the repository files, which call each other one way
 * (src/core/README.md): -devices.c, -snapshots.c, -shares.c, then
 * -categories.c, -keys.c, and -objects.c / -config.c at the bottom. The
 * struct is in coffer-repository-private.h. */
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>

#include "coffer-chunker.h"
#include "coffer-device.h"
#include "coffer-error.h"
#include "coffer-keyring.h"
#include "coffer-recovery-key.h"
#include "coffer-repository-private.h"
#include "coffer-repository-shares.h"

G_DEFINE_FINAL_TYPE (CofferRepository, coffer_repository, G_TYPE_OBJECT)

static void
coffer_repository_finalize (GObject *object)
{
  CofferRepository *self = COFFER_REPOSITORY (object);

  g_clear_object (&self->store);
  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->state, coffer_state_free);
  g_clear_pointer (&self->password, coffer_secret_free);
  g_clear_pointer (&self->recovery_key, coffer_secret_free);
  g_clear_pointer (&self->account_key, coffer_secret_free);
  g_clear_pointer (&self->device_id, g_free);
  g_clear_pointer (&self->password_keys, g_hash_table_unref);
  g_clear_pointer (&self->categories, g_hash_table_unref);
  g_clear_pointer (&self->pending_recovery_key, coffer_secret_free);
  g_rec_mutex_clear (&self->lock);

  G_OBJECT_CLASS (coffer_repository_parent_class)->finalize (object);
}

static void
coffer_repository_class_init (CofferRepositoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = coffer_repository_finalize;
}

static void
coffer_repository_init (CofferRepository *self)
{
  g_rec_mutex_init (&self->lock);
  self->password_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) coffer_secret_free);
  self->categories = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            _coffer_category_keys_free);
}

static char *
default_device_name (void)
{
  const char *host = g_get_host_name ();
  return g_strdup (host != NULL && *host ? host : "Computer");
}

/* ---- public API ---- */

static CofferRepository *
repository_new (CofferStore *store)
{
  CofferRepository *self = g_object_new (COFFER_TYPE_REPOSITORY, NULL);

  self->store = g_object_ref (store);
  return self;
}

CofferRepository *
coffer_repository_create (CofferStore        *store,
                          const CofferSecret *password,
                          const char         *device_name,
                          CofferSecret      **out_recovery_key,
                          GCancellable       *cancellable,
                          GError            **error)
{
  g_autoptr(CofferRepository) self = NULL;
  g_autoptr(GBytes) config = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) device_sk = NULL;
  g_autofree char *name = NULL;
  g_autofree char *pk_hex = NULL;
  guint8 pk[32];

  g_return_val_if_fail (COFFER_IS_STORE (store), NULL);
  g_return_val_if_fail (out_recovery_key != NULL, NULL);

  coffer_core_init ();
  /* Before anything is written: a destination that refuses writes (or is
   * full, or gone) says so now, with its real reason. */
  if (!coffer_store_probe_write (store, cancellable, error))
    return NULL;
  if (coffer_store_stat (store, COFFER_CONFIG_NAME, NULL, cancellable, &local_error))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_EXISTS,
                   _("There is already a repository at this location."));
      return NULL;
    }
  if (!g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  g_clear_error (&local_error);

  self = repository_new (store);
  randombytes_buf (self->raw_id, sizeof self->raw_id);
  self->id = coffer_hex_encode (self->raw_id, sizeof self->raw_id);
  self->state = coffer_state_new (self->id);
  self->format_version = COFFER_FORMAT_VERSION;
  coffer_state_set_uint (self->state, COFFER_STATE_FORMAT_GROUP, COFFER_STATE_FORMAT_KEY, COFFER_FORMAT_VERSION);
  if (password != NULL && password->len > 0)
    self->password = coffer_secret_dup (password);

  self->account_key = coffer_secret_new_random (COFFER_KEY_BYTES);
  {
    guint8 akid[COFFER_ACCOUNT_KEY_ID_BYTES];
    g_autofree char *hex = NULL;
    coffer_account_key_id (self->account_key, akid);
    hex = coffer_hex_encode (akid, sizeof akid);
    coffer_state_set_string (self->state, "account", "key-id", hex);
  }
  rk = coffer_recovery_key_generate ();
  self->recovery_confirmed = TRUE;   /* shown to the user in this session */
  _coffer_repository_pin_rotation_key (self, rk);

  /* The recovery envelope first, then this device, then the config: a
   * repository without config is not a repository, so a crash before the
   * config leaves nothing that could be mistaken for one. */
  if (!_coffer_repository_write_recovery (self, rk, self->account_key, COFFER_PUT_CREATE, cancellable, error))
    return NULL;

  self->device_id = coffer_device_id_new ();
  device_sk = coffer_device_keypair_new (pk);
  name = device_name != NULL ? g_strdup (device_name) : default_device_name ();
  if (!_coffer_repository_write_device_envelope (self, self->device_id, pk, name, cancellable, error)
      || !_coffer_repository_write_device_record (self, self->account_key, rk, self->device_id, device_sk,
                                                  cancellable, error))
    return NULL;
  coffer_state_set_string (self->state, "device", "id", self->device_id);
  pk_hex = coffer_hex_encode (pk, sizeof pk);
  coffer_state_set_string (self->state, "device", "public-key", pk_hex);
  if (!_coffer_repository_save_local_device_key (self, device_sk, &local_error))
    {
      g_message ("%s Use the recovery key to unlock this repository.", local_error->message);
      g_clear_error (&local_error);
    }

  config = _coffer_repository_config_serialize (self->raw_id);
  if (!coffer_store_put (store, COFFER_CONFIG_NAME, config, COFFER_PUT_CREATE, cancellable, error))
    return NULL;
  if (!coffer_state_save (self->state, error))
    return NULL;

  *out_recovery_key = g_steal_pointer (&rk);
  return g_steal_pointer (&self);
}

CofferRepository *
coffer_repository_open (CofferStore *store, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferRepository) self = NULL;
  g_autoptr(GBytes) config = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (COFFER_IS_STORE (store), NULL);

  coffer_core_init ();
  config = coffer_store_get_limited (store, COFFER_CONFIG_NAME, COFFER_MAX_CONFIG_BYTES, cancellable, &local_error);
  if (config == NULL)
    {
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        {
          g_autofree char *where = coffer_store_describe (store);
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND,
                       _("There is no Coffer repository at %s. Create one with “coffer init”."), where);
        }
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (g_bytes_get_size (config) > 64 * 1024)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The repository configuration is too large to be genuine."));
      return NULL;
    }
  self = repository_new (store);
  if (!_coffer_repository_config_parse (self, config, error))
    return NULL;
  self->state = coffer_state_new (self->id);
  _coffer_repository_config_check_rollback (self);
  self->device_id = coffer_state_get_string (self->state, "device", "id");
  return g_steal_pointer (&self);
}

const char *
coffer_repository_get_id (CofferRepository *self)
{
  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  return self->id;
}

CofferStore *
coffer_repository_get_store (CofferRepository *self)
{
  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  return self->store;
}

char *
coffer_repository_describe (CofferRepository *self)
{
  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  return coffer_store_describe (self->store);
}

/* Replacing is two-phase (docs/SECURITY.md "Replacing the recovery key"):
 * begin only makes the key; commit, once the user has typed it back, writes
 * it. Until then keys/recovery, the pinned rotation key and the "tested"
 * time still belong to the old key, which keeps working. */
CofferSecret *
coffer_repository_begin_recovery_key_replacement (CofferRepository *self, GError **error)
{
  CofferSecret *rk;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  if (self->account_key == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                   _("Replacing the recovery key needs a trusted device or the current recovery key."));
      return NULL;
    }
  rk = coffer_recovery_key_generate ();
  g_rec_mutex_lock (&self->lock);
  g_clear_pointer (&self->pending_recovery_key, coffer_secret_free);
  self->pending_recovery_key = coffer_secret_dup (rk);
  g_rec_mutex_unlock (&self->lock);
  return rk;
}

void
coffer_repository_cancel_recovery_key_replacement (CofferRepository *self)
{
  g_return_if_fail (COFFER_IS_REPOSITORY (self));
  g_rec_mutex_lock (&self->lock);
  g_clear_pointer (&self->pending_recovery_key, coffer_secret_free);
  g_rec_mutex_unlock (&self->lock);
}

/* ---- two-phase recovery key replacement, authority checks ---- */

gboolean
coffer_repository_has_pending_recovery_key (CofferRepository *self)
{
  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  return self->pending_recovery_key != NULL;
}

/* The recovery envelope is written with the account key this session holds;
 * if another computer rotated it (removed a device) since, writing it would
 * point the recovery key at a dead key. This computer's device envelope (or
 * the recovery key the session was opened with) tells the current one. */
static gboolean
account_key_is_current (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) current = NULL;
  g_autoptr(GError) local_error = NULL;

  if (self->device_id != NULL)
    {
      g_autofree char *obj = g_strdup_printf ("keys/devices/%s", self->device_id);
      g_autoptr(GBytes) env = NULL;
      g_autoptr(CofferSecret) sk = NULL;
      guint8 pk[32];

      env = coffer_store_get (self->store, obj, 0, 0, cancellable, &local_error);
      if (env == NULL)
        {
          if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
            g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                         _("This computer was removed from the trusted devices of this repository, "
                           "so it cannot replace the recovery key. Nothing was changed."));
          else
            g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      sk = _coffer_repository_load_device_key (self, &local_error);
      if (sk != NULL)
        {
          coffer_device_public_key (sk, pk);
          current = coffer_device_envelope_open (sk, pk, self->raw_id, self->device_id, env, NULL, NULL);
        }
      else
        g_debug ("device key not available to check the account key: %s", local_error->message);
    }
  else if (self->recovery_key != NULL)
    current = _coffer_repository_open_recovery (self, self->recovery_key, cancellable, NULL);

  if (current != NULL && !coffer_secret_equal (current, self->account_key))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("The account key of this repository changed since it was opened here (a device was "
                     "removed on another computer). Nothing was replaced: open the repository again and "
                     "make a new recovery key."));
      return FALSE;
    }
  return TRUE;
}

gboolean
coffer_repository_commit_recovery_key_replacement (CofferRepository *self, const CofferSecret *typed_back,
                                                   GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) rk = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  g_rec_mutex_lock (&self->lock);
  if (self->pending_recovery_key != NULL)
    rk = coffer_secret_dup (self->pending_recovery_key);
  g_rec_mutex_unlock (&self->lock);
  if (rk == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("No new recovery key is waiting to be confirmed; make a new one first."));
      return FALSE;
    }
  if (self->account_key == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                   _("Replacing the recovery key needs a trusted device or the current recovery key."));
      return FALSE;
    }
  if (typed_back == NULL || typed_back->len != rk->len || sodium_memcmp (typed_back->data, rk->data, rk->len) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                   _("This is not the new recovery key. Check what you wrote down and type it again; "
                     "until you do, the old recovery key stays valid."));
      return FALSE;
    }
  if (!account_key_is_current (self, cancellable, error))
    return FALSE;

  /* The commit point: from here on only the new key opens keys/recovery.
   * Anything derived from the old recovery key (its rotation key, its
   * "tested" time) is replaced together with it. */
  /* Device records first: if this stops half-way the old recovery key
   * still opens everything, and the records re-signed for a key that never
   * took effect are only asked about at the next removal. */
  if (!_coffer_repository_resign_device_records (self, rk, cancellable, error)
      || !_coffer_repository_write_recovery (self, rk, self->account_key, COFFER_PUT_REPLACE, cancellable, error))
    return FALSE;
  /* The old key's recovery shares stop working now: record it so they are
   * refused by name (docs/FORMAT.md "Recovery shares"). */
  _coffer_repository_recovery_replaced (self, rk, cancellable);
  /* Rotation records written from now on are signed with the key derived
   * from the new recovery key; this computer verifies with it. Other
   * computers still pin the old one and follow a later rotation only after
   * the new recovery key is entered there once (docs/SECURITY.md). */
  _coffer_repository_pin_rotation_key (self, rk);
  g_rec_mutex_lock (&self->lock);
  if (self->recovery_key != NULL)
    {
      coffer_secret_free (self->recovery_key);
      self->recovery_key = coffer_secret_dup (rk);
    }
  g_clear_pointer (&self->pending_recovery_key, coffer_secret_free);
  self->recovery_confirmed = TRUE;
  g_rec_mutex_unlock (&self->lock);
  coffer_state_remove (self->state, "recovery-key", "tested");
  coffer_state_save (self->state, NULL);
  return TRUE;
}

gboolean
coffer_repository_check_authority (CofferRepository *self, const CofferSecret *password,
                                   const CofferSecret *recovery_key,
                                   GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) ids = NULL;
  g_autofree char *storage = NULL;
  gboolean any_envelope = FALSE;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (recovery_key != NULL)
    {
      g_autoptr(CofferSecret) ak = _coffer_repository_open_recovery (self, recovery_key, cancellable, error);
      if (ak == NULL)
        return FALSE;
      if (self->account_key != NULL && !coffer_secret_equal (ak, self->account_key))
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       _("The recovery key opens a different account key than this computer uses."));
          return FALSE;
        }
      return TRUE;
    }
  if (password == NULL || password->len == 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                   _("This change needs the backup password or the recovery key, typed now."));
      return FALSE;
    }

  /* Every Standard category's envelope is under the same password; the
   * first one that exists decides. */
  ids = _coffer_repository_list_category_ids (self, cancellable, error);
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(GError) local_error = NULL;

      if (_coffer_repository_password_opens_category (self, g_ptr_array_index (ids, i), password,
                                                      cancellable, &local_error))
        return TRUE;
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        continue;
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD))
        {
          any_envelope = TRUE;
          continue;
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (any_envelope)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD,
                   _("The backup password is wrong."));
      return FALSE;
    }
  /* No Standard category: the password may still seal this computer's key. */
  storage = coffer_state_get_string (self->state, "device", "storage");
  if (g_strcmp0 (storage, "file") == 0)
    return _coffer_repository_password_opens_device_key_file (self, password, error);
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
               _("This backup has no backup password (every category has Advanced protection); "
                 "use the recovery key instead."));
  return FALSE;
}

gboolean
coffer_repository_accept_rollback (CofferRepository *self, const CofferSecret *recovery_key,
                                   GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) ids = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (recovery_key != NULL, FALSE);

  /* Only the owner may tell this computer to forget what it has seen:
   * the recovery key must open the repository's recovery envelope. */
  if (!coffer_repository_verify_recovery_key (self, recovery_key, cancellable, error)
      || !_coffer_repository_accept_config (self, cancellable, error))
    return FALSE;
  ids = _coffer_repository_list_category_ids_raw (self, cancellable, error);
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(GError) local_error = NULL;
      CofferCategoryKeys *keys = _coffer_repository_accept_category (self, g_ptr_array_index (ids, i),
                                                                     cancellable, &local_error);

      if (keys == NULL)
        {
          if (local_error == NULL)
            continue;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      {
        /* Records the highest backup number there is now. */
        g_autoptr(GPtrArray) snaps = _coffer_repository_load_snapshots (self, keys, cancellable, error);
        if (snaps == NULL)
          return FALSE;
      }
    }
  return TRUE;
}
