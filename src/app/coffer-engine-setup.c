/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferEngine: testing a destination and its credentials in the keyring,
 * creating and opening a repository,
 * and the ways in on a new computer (recovery key, joining by code). */
#define G_LOG_DOMAIN "coffer-engine"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-engine-private.h"
#include "coffer-error.h"
#include "coffer-keyring.h"
#include "coffer-recovery-key.h"

/* ---- test connection ---- */

typedef struct { gboolean any; } ListProbe;

static gboolean
probe_list_cb (const char *name, guint64 size, gpointer user_data)
{
  ((ListProbe *) user_data)->any = TRUE;
  return FALSE;
}

/* Checks that dest can be reached and written to; *out_has_repository
 * tells whether a Coffer repository is there. */
static gboolean
probe_destination (const CofferDestination *dest, gboolean *out_has_repository,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(GError) local_error = NULL;
  ListProbe probe = { FALSE };
  guint64 size = 0;

  /* The user waits for this answer: one try, no backoff. */
  store = _coffer_engine_open_store (dest, 1, error);
  if (store == NULL)
    return FALSE;
  /* Reading is not enough: a read-only, full or write-denied destination
   * must fail here, with its reason, not at the first backup. */
  if (!coffer_store_probe_write (store, cancellable, error))
    return FALSE;
  if (coffer_store_stat (store, "config", &size, cancellable, &local_error))
    {
      *out_has_repository = TRUE;
      return TRUE;
    }
  if (!g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_error (&local_error);
  /* Listing proves that the location exists and that we may read it; a
   * missing local folder is fine (it is created), so only errors other than
   * "not found" count. */
  if (!coffer_store_list (store, "", probe_list_cb, &probe, cancellable, &local_error) &&
      !g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  *out_has_repository = FALSE;
  return TRUE;
}

typedef struct
{
  CofferDestination *dest;
  gboolean           has_repository;   /* out */
} TestConnectionData;

COFFER_ENGINE_DEFINE_DATA (TestConnectionData, test_connection_data)

static void
test_connection_data_clear (TestConnectionData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
}

static gboolean
test_connection_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  TestConnectionData *data = task_data;

  return probe_destination (data->dest, &data->has_repository, cancellable, error);
}

void
coffer_engine_test_connection_async (CofferEngine *self, const CofferDestination *dest,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  TestConnectionData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_test_connection_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = test_connection_data_new ();
  data->dest = coffer_destination_copy (dest);
  _coffer_engine_task_run (task, test_connection_call, data, test_connection_data_free);
}

gboolean
coffer_engine_test_connection_finish (CofferEngine *self, GAsyncResult *result,
                                      gboolean *out_has_repository, GError **error)
{
  TestConnectionData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_has_repository != NULL)
    *out_has_repository = data->has_repository;
  return TRUE;
}

/* ---- server credentials in the keyring ---- */

typedef struct
{
  char         *location;
  CofferSecret *secret;      /* save: in; lookup: out */
} CredentialsData;

COFFER_ENGINE_DEFINE_DATA (CredentialsData, credentials_data)

static void
credentials_data_clear (CredentialsData *data)
{
  g_free (data->location);
  g_clear_pointer (&data->secret, coffer_secret_free);
}

static const char *
credentials_kind (const char *location)
{
  return g_str_has_prefix (location, "s3://") ? COFFER_KEY_KIND_S3 : COFFER_KEY_KIND_WEBDAV;
}

static gboolean
lookup_credentials_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable,
                         GError **error)
{
  CredentialsData *data = task_data;

  data->secret = coffer_keyring_lookup_sync (data->location, credentials_kind (data->location), cancellable,
                                             error);
  return data->secret != NULL;
}

void
coffer_engine_lookup_credentials_async (CofferEngine *self, const CofferDestination *dest,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  CredentialsData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_lookup_credentials_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = credentials_data_new ();
  data->location = g_strdup (dest->location);
  _coffer_engine_task_run (task, lookup_credentials_call, data, credentials_data_free);
}

CofferSecret *
coffer_engine_lookup_credentials_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  CredentialsData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->secret);
}

static gboolean
save_credentials_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable,
                       GError **error)
{
  CredentialsData *data = task_data;

  return coffer_keyring_store_sync (data->location, credentials_kind (data->location),
                                    _("Coffer backup location"), data->secret, cancellable, error);
}

void
coffer_engine_save_credentials_async (CofferEngine *self, const CofferDestination *dest,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data)
{
  CredentialsData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (dest->secret != NULL);
  task = _coffer_engine_task_new (self, coffer_engine_save_credentials_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = credentials_data_new ();
  data->location = g_strdup (dest->location);
  data->secret = coffer_secret_dup (dest->secret);
  _coffer_engine_task_run (task, save_credentials_call, data, credentials_data_free);
}

gboolean
coffer_engine_save_credentials_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the id of a repository, without keys ---- */

typedef struct
{
  CofferDestination *dest;
  char              *id;     /* out: NULL for an empty place */
} PeekIdData;

COFFER_ENGINE_DEFINE_DATA (PeekIdData, peek_id_data)

static void
peek_id_data_clear (PeekIdData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
  g_free (data->id);
}

static gboolean
peek_id_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  PeekIdData *data = task_data;
  g_autoptr(CofferStore) store = _coffer_engine_open_store (data->dest, 0, error);
  g_autoptr(CofferRepository) found = NULL;
  g_autoptr(GError) local_error = NULL;

  if (store == NULL)
    return FALSE;
  found = coffer_repository_open (store, cancellable, &local_error);
  if (found == NULL && g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND))
    {
      gboolean has_repository = FALSE;

      /* Nothing there yet; a place that cannot be listed fails here. */
      return probe_destination (data->dest, &has_repository, cancellable, error);
    }
  if (found == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  data->id = g_strdup (coffer_repository_get_id (found));
  return TRUE;
}

void
coffer_engine_peek_repository_id_async (CofferEngine *self, const CofferDestination *dest,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  PeekIdData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_peek_repository_id_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = peek_id_data_new ();
  data->dest = coffer_destination_copy (dest);
  _coffer_engine_task_run (task, peek_id_call, data, peek_id_data_free);
}

gboolean
coffer_engine_peek_repository_id_finish (CofferEngine *self, GAsyncResult *result, char **out_id,
                                         GError **error)
{
  PeekIdData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_id != NULL)
    *out_id = g_steal_pointer (&data->id);
  return TRUE;
}

/* ---- create / open ---- */

/* Create, open and open with the recovery key: a destination and the
 * password in, the repository the engine works with from then on out. */
typedef struct
{
  CofferDestination *dest;
  CofferSecret      *password;      /* may be NULL */
  char              *recovery_key;  /* open with the recovery key: the typed text */
  CofferRepository  *opened;        /* out */
  CofferSecret      *new_key;       /* out (create): the recovery key */
} OpenData;

COFFER_ENGINE_DEFINE_DATA (OpenData, open_data)

static void
open_data_clear (OpenData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
  g_clear_pointer (&data->password, coffer_secret_free);
  g_free (data->recovery_key);
  g_clear_object (&data->opened);
  g_clear_pointer (&data->new_key, coffer_secret_free);
}

/* A task and its data for a destination; password NULL = none. */
static GTask *
open_task_new (CofferEngine *self, gpointer source_tag, const CofferDestination *dest,
               const CofferSecret *password, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer user_data, OpenData **out_data)
{
  GTask *task = _coffer_engine_task_new (self, source_tag, COFFER_ENGINE_NEEDS_NOTHING,
                                         cancellable, callback, user_data);
  OpenData *data = open_data_new ();

  data->dest = coffer_destination_copy (dest);
  data->password = password ? coffer_secret_dup (password) : NULL;
  *out_data = data;
  return task;
}

/* Finishes an operation that leaves its repository in OpenData.opened:
 * the engine works with it from now on. */
static gboolean
open_task_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  OpenData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  _coffer_engine_set_repository (self, data->opened);
  return TRUE;
}

static gboolean
create_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  OpenData *data = task_data;
  g_autoptr(CofferStore) store = _coffer_engine_open_store (data->dest, 0, error);

  if (store == NULL)
    return FALSE;
  data->opened = coffer_repository_create (store, data->password, g_get_host_name (), &data->new_key,
                                           cancellable, error);
  if (data->opened == NULL)
    return FALSE;
  if (data->password != NULL)
    coffer_repository_set_password (data->opened, data->password);
  return TRUE;
}

void
coffer_engine_create_async (CofferEngine *self, const CofferDestination *dest,
                            const CofferSecret *password, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  OpenData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = open_task_new (self, coffer_engine_create_async, dest, password, cancellable, callback, user_data,
                        &data);
  if (password != NULL)
    coffer_engine_set_password (self, password);
  _coffer_engine_task_run (task, create_call, data, open_data_free);
}

CofferSecret *
coffer_engine_create_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  OpenData *data = _coffer_engine_task_get_data (result);

  if (!open_task_finish (self, result, error))
    return NULL;
  return g_steal_pointer (&data->new_key);
}

static gboolean
open_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  OpenData *data = task_data;
  g_autoptr(CofferRepository) opened = _coffer_engine_open_repository (data->dest, data->password,
                                                                       cancellable, error);

  /* The core unlocks with this computer's key, or accepts the password for
   * Standard categories on a computer that is not a trusted device; a wrong
   * password is an error. */
  if (opened == NULL || !coffer_repository_unlock (opened, cancellable, error))
    return FALSE;
  data->opened = g_steal_pointer (&opened);
  return TRUE;
}

void
coffer_engine_open_async (CofferEngine *self, const CofferDestination *dest,
                          const CofferSecret *password, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  OpenData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  if (password == NULL && self->password != NULL)
    password = self->password;
  task = open_task_new (self, coffer_engine_open_async, dest, password, cancellable, callback, user_data,
                        &data);
  if (password != NULL && password != self->password)
    coffer_engine_set_password (self, password);
  _coffer_engine_task_run (task, open_call, data, open_data_free);
}

gboolean
coffer_engine_open_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!open_task_finish (self, result, &local_error))
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD))
        g_clear_pointer (&self->password, coffer_secret_free);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* ---- ways in on a new computer ---- */

static gboolean
open_rk_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  OpenData *data = task_data;
  g_autoptr(CofferRepository) repository = NULL;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (data->recovery_key, error);

  if (key == NULL)
    return FALSE;
  repository = _coffer_engine_open_repository (data->dest, data->password, cancellable, error);
  /* verify first: a wrong key is reported as such, not as "no key". */
  if (repository == NULL || !coffer_repository_verify_recovery_key (repository, key, cancellable, error))
    return FALSE;
  coffer_repository_set_recovery_key (repository, key);
  if (!coffer_repository_unlock (repository, cancellable, error))
    return FALSE;
  /* Make this computer a trusted device, so the next session opens
   * without the recovery key. Without a keyring and a password there is
   * nowhere to keep its key: then this session stays the only one. */
  {
    g_autoptr(GError) trust_error = NULL;
    if (!coffer_repository_trust_this_device (repository, NULL, cancellable, &trust_error))
      g_debug ("this computer stays untrusted: %s", trust_error->message);
  }
  data->opened = g_steal_pointer (&repository);
  return TRUE;
}

void
coffer_engine_open_with_recovery_key_async (CofferEngine *self, const CofferDestination *dest,
                                            const char *recovery_key_text, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data)
{
  OpenData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = open_task_new (self, coffer_engine_open_with_recovery_key_async, dest, self->password, cancellable,
                        callback, user_data, &data);
  data->recovery_key = g_strdup (recovery_key_text);
  _coffer_engine_task_run (task, open_rk_call, data, open_data_free);
}

gboolean
coffer_engine_open_with_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return open_task_finish (self, result, error);
}

/* ---- joining by code ---- */

typedef struct
{
  CofferDestination *dest;
  CofferSecret      *password;     /* may be NULL */
  char              *device_name;
  CofferRepository  *opened;       /* out: opened, join requested, no keys */
  char              *device_id;    /* out */
} RequestJoinData;

COFFER_ENGINE_DEFINE_DATA (RequestJoinData, request_join_data)

static void
request_join_data_clear (RequestJoinData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
  g_clear_pointer (&data->password, coffer_secret_free);
  g_free (data->device_name);
  g_clear_object (&data->opened);
  g_free (data->device_id);
}

static gboolean
request_join_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  RequestJoinData *data = task_data;
  g_autoptr(CofferRepository) repository = _coffer_engine_open_repository (data->dest, data->password,
                                                                           cancellable, error);
  g_autofree char *code = NULL;

  if (repository == NULL ||
      !coffer_repository_request_join (repository, data->device_name, &data->device_id, &code,
                                       cancellable, error))
    return FALSE;
  data->opened = g_steal_pointer (&repository);
  return TRUE;
}

void
coffer_engine_request_join_async (CofferEngine *self, const CofferDestination *dest,
                                  const char *device_name, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  RequestJoinData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_request_join_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = request_join_data_new ();
  data->dest = coffer_destination_copy (dest);
  data->device_name = g_strdup (device_name);
  data->password = self->password ? coffer_secret_dup (self->password) : NULL;
  _coffer_engine_task_run (task, request_join_call, data, request_join_data_free);
}

char *
coffer_engine_request_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  RequestJoinData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  g_set_object (&self->joining, data->opened);
  return g_steal_pointer (&data->device_id);
}

typedef struct
{
  char     *code;        /* out */
  gboolean  approved;    /* out */
} JoinStatusData;

COFFER_ENGINE_DEFINE_DATA (JoinStatusData, join_status_data)

static void
join_status_data_clear (JoinStatusData *data)
{
  g_free (data->code);
}

static gboolean
join_status_call (CofferRepository *joining, gpointer task_data, GCancellable *cancellable, GError **error)
{
  JoinStatusData *data = task_data;

  return coffer_repository_get_join_status (joining, &data->code, &data->approved, cancellable, error);
}

void
coffer_engine_get_join_status_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_get_join_status_async, COFFER_ENGINE_NEEDS_JOINING,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, join_status_call, join_status_data_new (), join_status_data_free);
}

gboolean
coffer_engine_get_join_status_finish (CofferEngine *self, GAsyncResult *result, char **out_code,
                                      gboolean *out_approved, GError **error)
{
  JoinStatusData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_code != NULL)
    *out_code = g_steal_pointer (&data->code);
  if (out_approved != NULL)
    *out_approved = data->approved;
  return TRUE;
}

typedef struct
{
  CofferRepository *joining;     /* becomes the engine's repository */
} CompleteJoinData;

COFFER_ENGINE_DEFINE_DATA (CompleteJoinData, complete_join_data)

static void
complete_join_data_clear (CompleteJoinData *data)
{
  g_clear_object (&data->joining);
}

static gboolean
complete_join_call (CofferRepository *joining, gpointer task_data, GCancellable *cancellable, GError **error)
{
  return coffer_repository_complete_join (joining, cancellable, error);
}

void
coffer_engine_complete_join_async (CofferEngine *self, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  CompleteJoinData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_complete_join_async, COFFER_ENGINE_NEEDS_JOINING,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = complete_join_data_new ();
  data->joining = g_object_ref (self->joining);
  _coffer_engine_task_run (task, complete_join_call, data, complete_join_data_free);
}

gboolean
coffer_engine_complete_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  CompleteJoinData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  _coffer_engine_set_repository (self, data->joining);
  g_clear_object (&self->joining);
  return TRUE;
}
