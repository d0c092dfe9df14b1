/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferEngine: the recovery key and its emergency kit, the password,
 * trusted devices and join approval. */
#define G_LOG_DOMAIN "coffer-engine"

#include <string.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "coffer-engine-private.h"
#include "coffer-error.h"
#include "coffer-recovery-key.h"
#include "coffer-repository-shares.h"
#include "coffer-emergency-kit.h"

/* ---- recovery key and password ---- */

/* Operations on a recovery key as the user typed it. */
typedef struct
{
  char *text;
} RecoveryKeyData;

COFFER_ENGINE_DEFINE_DATA (RecoveryKeyData, recovery_key_data)

static void
recovery_key_data_clear (RecoveryKeyData *data)
{
  g_free (data->text);
}

static GTask *
recovery_key_task_new (CofferEngine *self, gpointer source_tag, const char *text, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data, RecoveryKeyData **out_data)
{
  GTask *task = _coffer_engine_task_new (self, source_tag, COFFER_ENGINE_NEEDS_REPOSITORY, cancellable,
                                         callback, user_data);

  if (task == NULL)
    return NULL;
  *out_data = recovery_key_data_new ();
  (*out_data)->text = g_strdup (text);
  return task;
}

static gboolean
verify_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  RecoveryKeyData *data = task_data;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (data->text, error);

  return key != NULL && coffer_repository_verify_recovery_key (repository, key, cancellable, error);
}

void
coffer_engine_verify_recovery_key_async (CofferEngine *self, const char *text,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  RecoveryKeyData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = recovery_key_task_new (self, coffer_engine_verify_recovery_key_async, text, cancellable, callback,
                                user_data, &data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, verify_call, data, recovery_key_data_free);
}

gboolean
coffer_engine_verify_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

gint64
coffer_engine_get_recovery_key_tested (CofferEngine *self)
{
  g_return_val_if_fail (COFFER_IS_ENGINE (self), 0);
  if (self->repository == NULL)
    return 0;
  return coffer_repository_get_recovery_key_tested (self->repository);
}

typedef struct
{
  char         *path;
  CofferSecret *formatted_key;
  char         *location;
  char         *repo_id;
} EmergencyKitData;

COFFER_ENGINE_DEFINE_DATA (EmergencyKitData, emergency_kit_data)

static void
emergency_kit_data_clear (EmergencyKitData *data)
{
  g_free (data->path);
  g_clear_pointer (&data->formatted_key, coffer_secret_free);
  g_free (data->location);
  g_free (data->repo_id);
}

static gboolean
emergency_kit_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  EmergencyKitData *data = task_data;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();

  /* The file chooser already asked before replacing a file. */
  g_unlink (data->path);
  return coffer_emergency_kit_write_pdf (data->path, data->formatted_key, data->location, data->repo_id, now,
                                         error);
}

void
coffer_engine_save_emergency_kit_async (CofferEngine *self, const char *path, const CofferSecret *formatted_key,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  EmergencyKitData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (path != NULL && formatted_key != NULL);
  task = _coffer_engine_task_new (self, coffer_engine_save_emergency_kit_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = emergency_kit_data_new ();
  data->path = g_strdup (path);
  data->formatted_key = coffer_secret_dup (formatted_key);
  data->location = self->repository ? coffer_repository_describe (self->repository) : g_strdup ("");
  data->repo_id = g_strdup (self->repository ? coffer_repository_get_id (self->repository) : "");
  _coffer_engine_task_run (task, emergency_kit_call, data, emergency_kit_data_free);
}

gboolean
coffer_engine_save_emergency_kit_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  CofferSecret *key;   /* out: the new recovery key, not written yet */
} ReplaceKeyData;

COFFER_ENGINE_DEFINE_DATA (ReplaceKeyData, replace_key_data)

static void
replace_key_data_clear (ReplaceKeyData *data)
{
  g_clear_pointer (&data->key, coffer_secret_free);
}

static gboolean
replace_key_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ReplaceKeyData *data = task_data;

  data->key = coffer_repository_begin_recovery_key_replacement (repository, error);
  return data->key != NULL;
}

void
coffer_engine_replace_recovery_key_async (CofferEngine *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_replace_recovery_key_async,
                                  COFFER_ENGINE_NEEDS_REPOSITORY, cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, replace_key_call, replace_key_data_new (), replace_key_data_free);
}

CofferSecret *
coffer_engine_replace_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ReplaceKeyData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->key);
}

static gboolean
commit_key_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  RecoveryKeyData *data = task_data;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (data->text, error);

  return key != NULL && coffer_repository_commit_recovery_key_replacement (repository, key, cancellable, error);
}

void
coffer_engine_commit_recovery_key_async (CofferEngine *self, const char *text, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  RecoveryKeyData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = recovery_key_task_new (self, coffer_engine_commit_recovery_key_async, text, cancellable, callback,
                                user_data, &data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, commit_key_call, data, recovery_key_data_free);
}

gboolean
coffer_engine_commit_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
coffer_engine_cancel_recovery_key_replacement (CofferEngine *self)
{
  g_return_if_fail (COFFER_IS_ENGINE (self));
  if (self->repository != NULL)
    coffer_repository_cancel_recovery_key_replacement (self->repository);
}

gboolean
coffer_engine_has_pending_recovery_key (CofferEngine *self)
{
  g_return_val_if_fail (COFFER_IS_ENGINE (self), FALSE);
  return self->repository != NULL && coffer_repository_has_pending_recovery_key (self->repository);
}

/* Checking authority and changing the password: a secret typed now. */
typedef struct
{
  CofferSecret *secret;
} SecretData;

COFFER_ENGINE_DEFINE_DATA (SecretData, secret_data)

static void
secret_data_clear (SecretData *data)
{
  g_clear_pointer (&data->secret, coffer_secret_free);
}

/* Authority typed now (docs/SECURITY.md "Authority for security
 * downgrades"): text that reads as a recovery key is checked as one (a typo
 * in it is reported as such); anything else as the backup password. */
static gboolean
check_authority_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                      GError **error)
{
  SecretData *data = task_data;
  g_autoptr(CofferSecret) text = coffer_secret_new (data->secret->len + 1);
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(GError) parse_error = NULL;

  memcpy (text->data, data->secret->data, data->secret->len);
  text->data[data->secret->len] = '\0';
  key = coffer_recovery_key_parse ((const char *) text->data, &parse_error);
  if (key != NULL)
    return coffer_repository_check_authority (repository, NULL, key, cancellable, error);
  if (g_error_matches (parse_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO))
    {
      g_propagate_error (error, g_steal_pointer (&parse_error));
      return FALSE;
    }
  return coffer_repository_check_authority (repository, data->secret, NULL, cancellable, error);
}

void
coffer_engine_check_authority_async (CofferEngine *self, const CofferSecret *typed, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  SecretData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (typed != NULL);
  task = _coffer_engine_task_new (self, coffer_engine_check_authority_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = secret_data_new ();
  data->secret = coffer_secret_dup (typed);
  _coffer_engine_task_run (task, check_authority_call, data, secret_data_free);
}

gboolean
coffer_engine_check_authority_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
change_password_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                      GError **error)
{
  SecretData *data = task_data;

  if (!coffer_repository_change_password (repository, data->secret, cancellable, error))
    return FALSE;
  coffer_repository_set_password (repository, data->secret);
  return TRUE;
}

void
coffer_engine_change_password_async (CofferEngine *self, const CofferSecret *password,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  SecretData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (password != NULL);
  task = _coffer_engine_task_new (self, coffer_engine_change_password_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = secret_data_new ();
  data->secret = coffer_secret_dup (password);
  _coffer_engine_task_run (task, change_password_call, data, secret_data_free);
}

gboolean
coffer_engine_change_password_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  SecretData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  coffer_engine_set_password (self, data->secret);
  return TRUE;
}

/* ---- devices ---- */

typedef struct
{
  GPtrArray *devices;    /* out */
} ListDevicesData;

COFFER_ENGINE_DEFINE_DATA (ListDevicesData, list_devices_data)

static void
list_devices_data_clear (ListDevicesData *data)
{
  g_clear_pointer (&data->devices, g_ptr_array_unref);
}

static gboolean
list_devices_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ListDevicesData *data = task_data;

  data->devices = coffer_repository_list_devices (repository, cancellable, error);
  return data->devices != NULL;
}

void
coffer_engine_list_devices_async (CofferEngine *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_devices_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, list_devices_call, list_devices_data_new (), list_devices_data_free);
}

GPtrArray *
coffer_engine_list_devices_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ListDevicesData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->devices);
}

/* Answering, approving and removing a device. */
typedef struct
{
  char  *device_id;
  char  *code;           /* approve: the code read on the new computer */
  char  *recovery_key;   /* remove: the typed recovery key */
  char **lost;           /* out (remove): names of computers that lost access */
} DeviceData;

COFFER_ENGINE_DEFINE_DATA (DeviceData, device_data)

static void
device_data_clear (DeviceData *data)
{
  g_free (data->device_id);
  g_free (data->code);
  g_free (data->recovery_key);
  g_strfreev (data->lost);
}

static GTask *
device_task_new (CofferEngine *self, gpointer source_tag, const char *device_id, GCancellable *cancellable,
                 GAsyncReadyCallback callback, gpointer user_data, DeviceData **out_data)
{
  GTask *task = _coffer_engine_task_new (self, source_tag, COFFER_ENGINE_NEEDS_REPOSITORY, cancellable,
                                         callback, user_data);

  if (task == NULL)
    return NULL;
  *out_data = device_data_new ();
  (*out_data)->device_id = g_strdup (device_id);
  return task;
}

static gboolean
answer_join_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  DeviceData *data = task_data;
  g_autofree char *code = NULL;

  return coffer_repository_get_join_code (repository, data->device_id, &code, cancellable, error);
}

void
coffer_engine_answer_join_async (CofferEngine *self, const char *device_id, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  DeviceData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = device_task_new (self, coffer_engine_answer_join_async, device_id, cancellable, callback, user_data,
                          &data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, answer_join_call, data, device_data_free);
}

gboolean
coffer_engine_answer_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
approve_device_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                     GError **error)
{
  DeviceData *data = task_data;
  g_autofree char *code = NULL;

  /* Answers the request first when that has not happened yet. */
  return coffer_repository_get_join_code (repository, data->device_id, &code, cancellable, error) &&
         coffer_repository_approve_device (repository, data->device_id, data->code, cancellable, error);
}

void
coffer_engine_approve_device_async (CofferEngine *self, const char *device_id, const char *code,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  DeviceData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = device_task_new (self, coffer_engine_approve_device_async, device_id, cancellable, callback,
                          user_data, &data);
  if (task == NULL)
    return;
  data->code = g_strdup (code);
  _coffer_engine_task_run (task, approve_device_call, data, device_data_free);
}

gboolean
coffer_engine_approve_device_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
remove_device_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  DeviceData *data = task_data;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (data->recovery_key, error);
  g_autoptr(GPtrArray) lost = NULL;
  g_autoptr(GStrvBuilder) names = NULL;

  if (key == NULL || !coffer_repository_verify_recovery_key (repository, key, cancellable, error))
    return FALSE;
  coffer_repository_set_recovery_key (repository, key);
  /* No unverified device is confirmed from the app yet: those lose access
   * and join again (docs/SECURITY.md "Devices and rotation"); the app
   * names them. */
  if (!coffer_repository_remove_device (repository, data->device_id, NULL, &lost, cancellable, error))
    return FALSE;
  names = g_strv_builder_new ();
  for (guint i = 0; lost != NULL && i < lost->len; i++)
    {
      const CofferDevice *device = g_ptr_array_index (lost, i);
      g_strv_builder_add (names, device->name != NULL ? device->name : device->id);
    }
  data->lost = g_strv_builder_end (names);
  return TRUE;
}

void
coffer_engine_remove_device_async (CofferEngine *self, const char *device_id, const char *recovery_key_text,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  DeviceData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = device_task_new (self, coffer_engine_remove_device_async, device_id, cancellable, callback,
                          user_data, &data);
  if (task == NULL)
    return;
  data->recovery_key = g_strdup (recovery_key_text);
  _coffer_engine_task_run (task, remove_device_call, data, device_data_free);
}

/* out_lost: the names of the computers that could not be verified and
 * lost access (they must join again); may be NULL. */
gboolean
coffer_engine_remove_device_finish (CofferEngine *self, GAsyncResult *result, char ***out_lost, GError **error)
{
  DeviceData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_lost != NULL)
    *out_lost = g_steal_pointer (&data->lost);
  return TRUE;
}
