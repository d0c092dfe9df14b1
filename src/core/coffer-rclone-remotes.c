/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Remotes Coffer manages for rclone. The non-secret settings live in
 * $XDG_CONFIG_HOME/coffer/remotes.ini; the secret (SFTP password, OAuth
 * token, B2 key) lives in the keyring. rclone gets both only through its
 * environment (RCLONE_CONFIG_<NAME>_<KEY>), never in a file in the clear
 * or in argv. */
#include "coffer-rclone.h"
#include "coffer-keyring.h"
#include "coffer-error.h"

#include <string.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

static const struct
{
  const char *type;     /* as the user writes it */
  const char *backend;  /* rclone's backend name */
  gboolean oauth;
} types[] = {
  { "sftp", "sftp", FALSE },
  { "gdrive", "drive", TRUE },
  { "onedrive", "onedrive", TRUE },
  { "dropbox", "dropbox", TRUE },
  { "pcloud", "pcloud", TRUE },
  { "box", "box", TRUE },
  { "b2", "b2", FALSE },
};

const char *
coffer_rclone_backend_for_type (const char *type)
{
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_strcmp0 (types[i].type, type) == 0)
      return types[i].backend;
  return NULL;
}

gboolean
coffer_rclone_type_is_oauth (const char *type)
{
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_strcmp0 (types[i].type, type) == 0)
      return types[i].oauth;
  return FALSE;
}

gboolean
coffer_rclone_remote_name_valid (const char *name, GError **error)
{
  gboolean ok = name != NULL && name[0] != '\0' && strlen (name) <= 64;

  for (const char *p = name; ok && *p; p++)
    ok = g_ascii_isalnum (*p) || *p == '_';
  if (!ok)
    g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                 _("“%s” is not a valid remote name: use letters, digits and “_” only."),
                 name ? name : "");
  return ok;
}

char *
coffer_rclone_remotes_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "coffer", "remotes.ini", NULL);
}

GKeyFile *
coffer_rclone_remotes_load (GError **error)
{
  g_autofree char *path = coffer_rclone_remotes_path ();
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local_error)
      && !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("Could not read %s: %s"), path, local_error->message);
      return NULL;
    }
  return g_steal_pointer (&kf);
}

gboolean
coffer_rclone_remotes_save (GKeyFile *remotes, GError **error)
{
  g_autofree char *path = coffer_rclone_remotes_path ();
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                   _("Could not create %s: %s"), dir, g_strerror (errno));
      return FALSE;
    }
  return g_key_file_save_to_file (remotes, path, error);
}

static void
env_set (GHashTable *env, const char *prefix, const char *key, const char *value)
{
  g_hash_table_replace (env, g_strconcat (prefix, key, NULL),
                        coffer_secret_new_from_string (value));
}

CofferSecret *
coffer_rclone_obscure (const CofferSecret *password, GCancellable *cancellable, GError **error)
{
  /* "rclone obscure -" reads the first line of stdin. */
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GBytes) in = NULL, out = NULL;
  CofferSecret *result;
  gsize len;
  const guint8 *data;
  const char *argv[] = { "rclone", "obscure", "-", NULL };

  if (memchr (password->data, '\n', password->len) != NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The password contains a line break, which rclone cannot take."));
      return NULL;
    }
  p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                               | G_SUBPROCESS_FLAGS_STDERR_SILENCE, error);
  if (p == NULL)
    {
      g_prefix_error (error, _("Could not run rclone (is it installed?): "));
      return NULL;
    }
  /* GBytes of secure memory: the pipe write copies nothing to the heap. */
  in = g_bytes_new_static (password->data, password->len);
  if (!g_subprocess_communicate (p, in, cancellable, &out, NULL, error))
    return NULL;
  if (!g_subprocess_get_if_exited (p) || g_subprocess_get_exit_status (p) != 0)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                   _("rclone obscure failed."));
      return NULL;
    }
  data = g_bytes_get_data (out, &len);
  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;
  result = coffer_secret_new_from_data (data, len);
  sodium_memzero ((gpointer) g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  return result;
}

gboolean
coffer_rclone_remote_env (const char *name, GHashTable **env_out,
                          GCancellable *cancellable, GError **error)
{
  g_autoptr(GKeyFile) kf = NULL;
  g_autoptr(GHashTable) env = NULL;
  g_autofree char *type = NULL, *upper = NULL, *prefix = NULL, *repo = NULL;
  g_autoptr(CofferSecret) secret = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *backend;

  *env_out = NULL;
  kf = coffer_rclone_remotes_load (error);
  if (kf == NULL)
    return FALSE;
  if (!g_key_file_has_group (kf, name))
    return TRUE;   /* rclone's own remote */

  type = g_key_file_get_string (kf, name, "type", NULL);
  backend = coffer_rclone_backend_for_type (type);
  if (backend == NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The remote “%s” in %s has an unknown type “%s”."), name,
                   coffer_rclone_remotes_path (), type ? type : "");
      return FALSE;
    }
  upper = g_ascii_strup (name, -1);
  prefix = g_strdup_printf ("RCLONE_CONFIG_%s_", upper);
  env = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                               (GDestroyNotify) coffer_secret_free);
  env_set (env, prefix, "TYPE", backend);

  for (const char * const *k = (const char * const[]) { "host", "port", "user", "key_file",
                                                         "account", NULL }; *k; k++)
    {
      g_autofree char *v = g_key_file_get_string (kf, name, *k, NULL);
      g_autofree char *key = g_ascii_strup (*k, -1);
      if (v != NULL && v[0] != '\0')
        env_set (env, prefix, key, v);
    }

  /* No shell commands on the server: rclone would otherwise spend an SSH
   * session each on detecting the shell and probing md5sum and sha1sum
   * at every start, for hashes Coffer does not need. */
  if (g_strcmp0 (type, "sftp") == 0)
    env_set (env, prefix, "SHELL_TYPE", "none");

  /* An SFTP remote with a key file has no secret. */
  if (g_strcmp0 (type, "sftp") == 0 && g_key_file_has_key (kf, name, "key_file", NULL))
    {
      *env_out = g_steal_pointer (&env);
      return TRUE;
    }

  repo = g_strconcat ("rclone:", name, NULL);
  secret = coffer_keyring_lookup_sync (repo, COFFER_KEY_KIND_RCLONE_REMOTE, cancellable,
                                       &local_error);
  if (secret == NULL)
    {
      if (g_error_matches (local_error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE))
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                     _("The remote “%s” is managed by Coffer, whose remotes keep their "
                     "password or token in the keyring, and no keyring is available (%s). "
                     "Unlock the keyring, or set the remote up with “rclone config” instead."),
                     name, local_error->message);
      else
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                     _("The keyring has no password or token for the remote “%s” (%s). "
                     "Add it again with “coffer remote add”."), name, local_error->message);
      return FALSE;
    }

  if (g_strcmp0 (type, "sftp") == 0)
    {
      CofferSecret *obscured = coffer_rclone_obscure (secret, cancellable, error);
      if (obscured == NULL)
        return FALSE;
      g_hash_table_replace (env, g_strconcat (prefix, "PASS", NULL), obscured);
    }
  else if (g_strcmp0 (type, "b2") == 0)
    g_hash_table_replace (env, g_strconcat (prefix, "KEY", NULL), g_steal_pointer (&secret));
  else
    g_hash_table_replace (env, g_strconcat (prefix, "TOKEN", NULL), g_steal_pointer (&secret));

  *env_out = g_steal_pointer (&env);
  return TRUE;
}
