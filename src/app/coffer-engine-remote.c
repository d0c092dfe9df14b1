/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferEngine: signing in to cloud accounts through rclone, saving and
 * listing rclone remotes. These operations need no repository
 * (COFFER_ENGINE_NEEDS_NOTHING) and run beside the repository ones. */
#define G_LOG_DOMAIN "coffer-engine"

#include <glib/gi18n.h>

#include "coffer-engine-private.h"
#include "coffer-error.h"
#include "coffer-rclone.h"

typedef struct
{
  char                *type;
  char                *name;      /* the remote to sign in again, or NULL */
  CofferEngineUrlFunc  url_func;
  gpointer             url_data;
  GMainContext        *context;
  char                *signed_in; /* out: the remote's name */
} SignInData;

COFFER_ENGINE_DEFINE_DATA (SignInData, sign_in_data)

static void
sign_in_data_clear (SignInData *s)
{
  g_free (s->type);
  g_free (s->name);
  g_clear_pointer (&s->context, g_main_context_unref);
  g_free (s->signed_in);
}

typedef struct
{
  CofferEngineUrlFunc  func;
  gpointer             data;
  char                *url;
} UrlCall;

static gboolean
url_call_run (gpointer data)
{
  UrlCall *call = data;

  call->func (call->url, call->data);
  return G_SOURCE_REMOVE;
}

static void
url_call_free (gpointer data)
{
  UrlCall *call = data;

  g_free (call->url);
  g_free (call);
}

/* In the worker thread: hand the address to the caller's main context. The
 * sign-in's own completion is queued after it, so url_data is still alive. */
static void
url_from_thread (const char *url, gpointer user_data)
{
  SignInData *s = user_data;
  UrlCall *call;

  if (s->url_func == NULL)
    return;
  call = g_new0 (UrlCall, 1);
  call->func = s->url_func;
  call->data = s->url_data;
  call->url = g_strdup (url);
  g_main_context_invoke_full (s->context, G_PRIORITY_DEFAULT, url_call_run, call, url_call_free);
}

static gboolean
sign_in_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  SignInData *s = task_data;
  g_autoptr(CofferSecret) token = NULL;
  g_autofree char *name = NULL;

  token = coffer_rclone_authorize (coffer_rclone_backend_for_type (s->type), url_from_thread, s,
                                   cancellable, error);
  if (token == NULL)
    return FALSE;
  /* Signing in again replaces the token of the same remote, so that
   * backups already set up on "rclone:NAME:…" work again. Only after the
   * new sign-in succeeded: a cancelled one keeps the old. */
  if (s->name != NULL)
    {
      name = g_strdup (s->name);
      if (!coffer_rclone_remote_remove (name, cancellable, error))
        return FALSE;
    }
  else
    name = coffer_rclone_remote_unused_name (s->type);
  if (!coffer_rclone_remote_add (name, s->type, NULL, 0, NULL, NULL, NULL, token, cancellable, error))
    return FALSE;
  s->signed_in = g_steal_pointer (&name);
  return TRUE;
}

void
coffer_engine_sign_in_async (CofferEngine *self, const char *type, const char *name,
                             CofferEngineUrlFunc url_func, gpointer url_data, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  SignInData *s;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_sign_in_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  if (!coffer_rclone_type_is_oauth (type))
    {
      g_task_return_new_error (task, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                               _("Coffer cannot sign in to “%s” by itself."), type);
      g_object_unref (task);
      return;
    }
  s = sign_in_data_new ();
  s->type = g_strdup (type);
  s->name = g_strdup (name);
  s->url_func = url_func;
  s->url_data = url_data;
  s->context = g_main_context_ref_thread_default ();
  /* No check_cancellable: cancelling must reach rclone, which the call
   * then stops; the result comes only once it has. */
  g_task_set_return_on_cancel (task, FALSE);
  _coffer_engine_task_run (task, sign_in_call, s, sign_in_data_free);
}

char *
coffer_engine_sign_in_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  SignInData *s;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  s = _coffer_engine_task_get_data (result);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&s->signed_in);
}

/* ---- saving a remote ---- */

typedef struct
{
  char         *name, *type, *host, *user, *key_file;
  gint          port;
  CofferSecret *secret;
} SaveRemoteData;

COFFER_ENGINE_DEFINE_DATA (SaveRemoteData, save_remote_data)

static void
save_remote_data_clear (SaveRemoteData *r)
{
  g_free (r->name);
  g_free (r->type);
  g_free (r->host);
  g_free (r->user);
  g_free (r->key_file);
  g_clear_pointer (&r->secret, coffer_secret_free);
}

static gboolean
save_remote_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  SaveRemoteData *r = task_data;

  /* Replaced each time: the password may have been corrected. */
  return coffer_rclone_remote_remove (r->name, cancellable, error)
         && coffer_rclone_remote_add (r->name, r->type, r->host, r->port, r->user, r->key_file, NULL,
                                      r->secret, cancellable, error);
}

void
coffer_engine_save_remote_async (CofferEngine *self, const char *name, const char *type,
                                 const char *host, gint port, const char *user, const char *key_file,
                                 const CofferSecret *secret, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  SaveRemoteData *r;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_save_remote_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  r = save_remote_data_new ();
  r->name = g_strdup (name);
  r->type = g_strdup (type);
  r->host = g_strdup (host);
  r->port = port;
  r->user = g_strdup (user);
  r->key_file = g_strdup (key_file);
  r->secret = secret ? coffer_secret_dup (secret) : NULL;
  _coffer_engine_task_run (task, save_remote_call, r, save_remote_data_free);
}

gboolean
coffer_engine_save_remote_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- rclone's own remotes ---- */

typedef struct
{
  char **remotes;   /* out */
} ListRemotesData;

COFFER_ENGINE_DEFINE_DATA (ListRemotesData, list_remotes_data)

static void
list_remotes_data_clear (ListRemotesData *data)
{
  g_strfreev (data->remotes);
}

static gboolean
list_remotes_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ListRemotesData *data = task_data;

  data->remotes = coffer_rclone_list_own_remotes (cancellable);
  return TRUE;
}

void
coffer_engine_list_rclone_remotes_async (CofferEngine *self, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_rclone_remotes_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  _coffer_engine_task_run (task, list_remotes_call, list_remotes_data_new (), list_remotes_data_free);
}

char **
coffer_engine_list_rclone_remotes_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ListRemotesData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  data = _coffer_engine_task_get_data (result);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->remotes);
}
