/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <libsecret/secret.h>
#include <glib/gi18n-lib.h>

#include "coffer-error.h"
#include "coffer-keyring.h"

#define CONTENT_TYPE "application/octet-stream"

static const SecretSchema *
coffer_keyring_schema (void)
{
  static const SecretSchema schema = {
    "io.github.cofferapp.Coffer.Key", SECRET_SCHEMA_NONE,
    {
      { "repository", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "kind", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  };

  return &schema;
}

static gboolean
session_bus_reachable (void)
{
  const char *address = g_getenv ("DBUS_SESSION_BUS_ADDRESS");
  const char *runtime_dir;
  g_autofree char *socket_path = NULL;

  if (address != NULL && *address != '\0')
    return TRUE;

  /* GLib falls back to $XDG_RUNTIME_DIR/bus before trying to autolaunch
   * dbus-daemon (which needs X11 and may hang): only that socket counts. */
  runtime_dir = g_getenv ("XDG_RUNTIME_DIR");
  if (runtime_dir == NULL || *runtime_dir == '\0')
    return FALSE;
  socket_path = g_build_filename (runtime_dir, "bus", NULL);
  return g_file_test (socket_path, G_FILE_TEST_EXISTS);
}

/* Decides from the environment alone, without touching D-Bus. */
static gboolean
check_available (GError **error)
{
  const char *setting = g_getenv ("COFFER_KEYRING");
  const char *backend = g_getenv ("SECRET_BACKEND");

  if (g_strcmp0 (setting, "none") == 0)
    {
      g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE,
                   _("The keyring is turned off (COFFER_KEYRING=none)."));
      return FALSE;
    }

  /* libsecret's file backend (used inside Flatpak, or when asked for) works
   * without the Secret Service; it may still use the Secret portal. */
  if (g_strcmp0 (backend, "file") == 0)
    return TRUE;

  if (!session_bus_reachable ())
    {
      g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE,
                   _("No keyring can be reached: this session has no D-Bus session bus."));
      return FALSE;
    }
  return TRUE;
}

gboolean
coffer_keyring_is_available (void)
{
  return check_available (NULL);
}

/* Maps libsecret and D-Bus errors onto COFFER_KEYRING_ERROR, keeping
 * G_IO_ERROR_CANCELLED when the caller cancelled. */
static void
propagate_error (GError      **dest,
                 GError       *src,
                 GCancellable *cancellable,
                 const char   *action)
{
  CofferKeyringError code = COFFER_KEYRING_ERROR_FAILED;
  const char *message;

  if (g_error_matches (src, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      g_cancellable_is_cancelled (cancellable))
    {
      g_propagate_error (dest, src);
      return;
    }

  if (g_error_matches (src, SECRET_ERROR, SECRET_ERROR_IS_LOCKED) ||
      g_error_matches (src, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches (src, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ||
      g_error_matches (src, G_DBUS_ERROR, G_DBUS_ERROR_AUTH_FAILED))
    {
      code = COFFER_KEYRING_ERROR_LOCKED;
    }
  else if (src->domain == G_DBUS_ERROR ||
           g_error_matches (src, G_IO_ERROR, G_IO_ERROR_DBUS_ERROR) ||
           g_error_matches (src, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
           g_error_matches (src, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED) ||
           g_error_matches (src, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
           g_error_matches (src, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
           g_error_matches (src, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
           g_error_matches (src, SECRET_ERROR, SECRET_ERROR_PROTOCOL))
    {
      code = COFFER_KEYRING_ERROR_UNAVAILABLE;
    }

  switch (code)
    {
    case COFFER_KEYRING_ERROR_LOCKED:
      message = _("The keyring is locked. Unlock it (for example by logging in again) and try again.");
      break;
    case COFFER_KEYRING_ERROR_UNAVAILABLE:
      message = _("No keyring service is running, so Coffer cannot keep its keys in the keyring.");
      break;
    case COFFER_KEYRING_ERROR_NOT_FOUND:
    case COFFER_KEYRING_ERROR_FAILED:
    default:
      message = _("The keyring reported an error.");
      break;
    }

  g_debug ("keyring: %s failed: %s (%s %d)", action, src->message,
           g_quark_to_string (src->domain), src->code);
  g_set_error (dest, COFFER_KEYRING_ERROR, code, "%s (%s)", message, src->message);
  g_error_free (src);
}

static gboolean
check_args (const char *repo_id,
            const char *kind)
{
  return repo_id != NULL && *repo_id != '\0' && g_utf8_validate (repo_id, -1, NULL) &&
         kind != NULL && *kind != '\0' && g_utf8_validate (kind, -1, NULL);
}

gboolean
coffer_keyring_store_sync (const char         *repo_id,
                           const char         *kind,
                           const char         *label,
                           const CofferSecret *secret,
                           GCancellable       *cancellable,
                           GError            **error)
{
  GError *local_error = NULL;
  SecretValue *value;
  gboolean ok;

  g_return_val_if_fail (check_args (repo_id, kind), FALSE);
  g_return_val_if_fail (label != NULL, FALSE);
  g_return_val_if_fail (secret != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_available (error))
    return FALSE;

  /* secret_value_new copies into libsecret's own secure memory, which
   * secret_value_unref wipes. */
  value = secret_value_new ((const char *) secret->data, secret->len, CONTENT_TYPE);
  ok = secret_password_store_binary_sync (coffer_keyring_schema (), SECRET_COLLECTION_DEFAULT,
                                          label, value, cancellable, &local_error,
                                          "repository", repo_id,
                                          "kind", kind,
                                          NULL);
  secret_value_unref (value);

  if (!ok)
    {
      if (local_error == NULL)
        g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_LOCKED,
                     _("The keyring is locked. Unlock it (for example by logging in again) and try again."));
      else
        propagate_error (error, local_error, cancellable, "store");
      return FALSE;
    }
  return TRUE;
}

/* When a lookup finds nothing, tells a missing item from a locked one. */
static gboolean
has_locked_item (const char   *repo_id,
                 const char   *kind,
                 GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  GList *items;
  gboolean locked = FALSE;

  items = secret_password_search_sync (coffer_keyring_schema (), SECRET_SEARCH_ALL,
                                       cancellable, &error,
                                       "repository", repo_id,
                                       "kind", kind,
                                       NULL);
  for (GList *l = items; l != NULL; l = l->next)
    {
      if (SECRET_IS_ITEM (l->data) && secret_item_get_locked (SECRET_ITEM (l->data)))
        locked = TRUE;
    }
  g_list_free_full (items, g_object_unref);
  return locked;
}

CofferSecret *
coffer_keyring_lookup_sync (const char   *repo_id,
                            const char   *kind,
                            GCancellable *cancellable,
                            GError      **error)
{
  GError *local_error = NULL;
  SecretValue *value;
  const char *data;
  gsize len = 0;
  CofferSecret *secret;

  g_return_val_if_fail (check_args (repo_id, kind), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_available (error))
    return NULL;

  value = secret_password_lookup_binary_sync (coffer_keyring_schema (), cancellable, &local_error,
                                              "repository", repo_id,
                                              "kind", kind,
                                              NULL);
  if (local_error != NULL)
    {
      propagate_error (error, local_error, cancellable, "lookup");
      return NULL;
    }
  if (value == NULL)
    {
      if (has_locked_item (repo_id, kind, cancellable))
        g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_LOCKED,
                     _("The keyring is locked. Unlock it (for example by logging in again) and try again."));
      else
        g_set_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND,
                     _("The keyring holds no key of this kind (%s) for this repository."), kind);
      return NULL;
    }

  data = secret_value_get (value, &len);
  secret = coffer_secret_new_from_data ((const guint8 *) data, len);
  secret_value_unref (value);
  return secret;
}

gboolean
coffer_keyring_clear_sync (const char   *repo_id,
                           const char   *kind,
                           GCancellable *cancellable,
                           GError      **error)
{
  GError *local_error = NULL;

  g_return_val_if_fail (check_args (repo_id, kind), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_available (error))
    return FALSE;

  /* FALSE without an error only means there was nothing to remove. */
  secret_password_clear_sync (coffer_keyring_schema (), cancellable, &local_error,
                              "repository", repo_id,
                              "kind", kind,
                              NULL);
  if (local_error != NULL)
    {
      propagate_error (error, local_error, cancellable, "clear");
      return FALSE;
    }
  return TRUE;
}

/* ---- Async wrappers: the sync calls on a worker thread ---- */

typedef struct
{
  char         *repo_id;
  char         *kind;
  char         *label;
  CofferSecret *secret;
} KeyringTaskData;

static void
keyring_task_data_free (gpointer data)
{
  KeyringTaskData *td = data;

  g_free (td->repo_id);
  g_free (td->kind);
  g_free (td->label);
  coffer_secret_free (td->secret);
  g_free (td);
}

static void
store_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  KeyringTaskData *td = task_data;
  GError *error = NULL;

  if (coffer_keyring_store_sync (td->repo_id, td->kind, td->label, td->secret, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
coffer_keyring_store_async (const char          *repo_id,
                            const char          *kind,
                            const char          *label,
                            const CofferSecret  *secret,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  KeyringTaskData *td;

  g_return_if_fail (check_args (repo_id, kind));
  g_return_if_fail (label != NULL);
  g_return_if_fail (secret != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, coffer_keyring_store_async);
  td = g_new0 (KeyringTaskData, 1);
  td->repo_id = g_strdup (repo_id);
  td->kind = g_strdup (kind);
  td->label = g_strdup (label);
  td->secret = coffer_secret_dup (secret);
  g_task_set_task_data (task, td, keyring_task_data_free);
  g_task_run_in_thread (task, store_thread);
}

gboolean
coffer_keyring_store_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == coffer_keyring_store_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
lookup_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  KeyringTaskData *td = task_data;
  GError *error = NULL;
  CofferSecret *secret;

  secret = coffer_keyring_lookup_sync (td->repo_id, td->kind, cancellable, &error);
  if (secret != NULL)
    g_task_return_pointer (task, secret, (GDestroyNotify) coffer_secret_free);
  else
    g_task_return_error (task, error);
}

void
coffer_keyring_lookup_async (const char          *repo_id,
                             const char          *kind,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  KeyringTaskData *td;

  g_return_if_fail (check_args (repo_id, kind));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, coffer_keyring_lookup_async);
  td = g_new0 (KeyringTaskData, 1);
  td->repo_id = g_strdup (repo_id);
  td->kind = g_strdup (kind);
  g_task_set_task_data (task, td, keyring_task_data_free);
  g_task_run_in_thread (task, lookup_thread);
}

CofferSecret *
coffer_keyring_lookup_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == coffer_keyring_lookup_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
