/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferEngine: signing in to cloud accounts through rclone. Kept apart
 * from coffer-engine.c: it needs no repository and runs beside the
 * repository jobs. */
#define G_LOG_DOMAIN "coffer-engine"

#include <glib/gi18n.h>

#include "coffer-engine.h"
#include "coffer-error.h"
#include "coffer-rclone.h"

typedef struct
{
  char                *type;
  char                *name;      /* the remote to sign in again, or NULL */
  CofferEngineUrlFunc  url_func;
  gpointer             url_data;
  GMainContext        *context;
} SignIn;

static void
sign_in_free (SignIn *s)
{
  g_free (s->type);
  g_free (s->name);
  g_main_context_unref (s->context);
  g_free (s);
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
  SignIn *s = user_data;
  UrlCall *call;

  if (s->url_func == NULL)
    return;
  call = g_new0 (UrlCall, 1);
  call->func = s->url_func;
  call->data = s->url_data;
  call->url = g_strdup (url);
  g_main_context_invoke_full (s->context, G_PRIORITY_DEFAULT, url_call_run, call, url_call_free);
}

static void
sign_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  SignIn *s = task_data;
  g_autoptr(CofferSecret) token = NULL;
  g_autofree char *name = NULL;
  GError *error = NULL;

  token = coffer_rclone_authorize (coffer_rclone_backend_for_type (s->type), url_from_thread, s,
                                   cancellable, &error);
  if (token == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Signing in again replaces the token of the same remote, so that
   * backups already set up on "rclone:NAME:…" work again. Only after the
   * new sign-in succeeded: a cancelled one keeps the old. */
  if (s->name != NULL)
    {
      name = g_strdup (s->name);
      if (!coffer_rclone_remote_remove (name, cancellable, &error))
        {
          g_task_return_error (task, error);
          return;
        }
    }
  else
    name = coffer_rclone_remote_unused_name (s->type);
  if (!coffer_rclone_remote_add (name, s->type, NULL, 0, NULL, NULL, NULL, token, cancellable,
                                 &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&name), g_free);
}

void
coffer_engine_sign_in_async (CofferEngine *self, const char *type, const char *name,
                             CofferEngineUrlFunc url_func, gpointer url_data, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  SignIn *s;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, coffer_engine_sign_in_async);
  if (!coffer_rclone_type_is_oauth (type))
    {
      g_task_return_new_error (task, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                               _("Coffer cannot sign in to “%s” by itself."), type);
      return;
    }
  s = g_new0 (SignIn, 1);
  s->type = g_strdup (type);
  s->name = g_strdup (name);
  s->url_func = url_func;
  s->url_data = url_data;
  s->context = g_main_context_ref_thread_default ();
  g_task_set_task_data (task, s, (GDestroyNotify) sign_in_free);
  /* No check_cancellable: cancelling must reach rclone, which the thread
   * then stops; the result comes only once it has. */
  g_task_set_return_on_cancel (task, FALSE);
  g_task_run_in_thread (task, sign_in_thread);
}

char *
coffer_engine_sign_in_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- saving a remote ---- */

typedef struct
{
  char         *name, *type, *host, *user, *key_file;
  gint          port;
  CofferSecret *secret;
} SaveRemote;

static void
save_remote_free (SaveRemote *r)
{
  g_free (r->name);
  g_free (r->type);
  g_free (r->host);
  g_free (r->user);
  g_free (r->key_file);
  g_clear_pointer (&r->secret, coffer_secret_free);
  g_free (r);
}

static void
save_remote_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  SaveRemote *r = task_data;
  GError *error = NULL;

  /* Replaced each time: the password may have been corrected. */
  if (!coffer_rclone_remote_remove (r->name, cancellable, &error)
      || !coffer_rclone_remote_add (r->name, r->type, r->host, r->port, r->user, r->key_file, NULL,
                                    r->secret, cancellable, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
coffer_engine_save_remote_async (CofferEngine *self, const char *name, const char *type,
                                 const char *host, gint port, const char *user, const char *key_file,
                                 const CofferSecret *secret, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;
  SaveRemote *r = g_new0 (SaveRemote, 1);

  g_return_if_fail (COFFER_IS_ENGINE (self));
  r->name = g_strdup (name);
  r->type = g_strdup (type);
  r->host = g_strdup (host);
  r->port = port;
  r->user = g_strdup (user);
  r->key_file = g_strdup (key_file);
  r->secret = secret ? coffer_secret_dup (secret) : NULL;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, coffer_engine_save_remote_async);
  g_task_set_task_data (task, r, (GDestroyNotify) save_remote_free);
  g_task_run_in_thread (task, save_remote_thread);
}

gboolean
coffer_engine_save_remote_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- rclone's own remotes ---- */

static void
list_remotes_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  g_task_return_pointer (task, coffer_rclone_list_own_remotes (cancellable), (GDestroyNotify) g_strfreev);
}

void
coffer_engine_list_rclone_remotes_async (CofferEngine *self, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, coffer_engine_list_rclone_remotes_async);
  g_task_run_in_thread (task, list_remotes_thread);
}

char **
coffer_engine_list_rclone_remotes_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
