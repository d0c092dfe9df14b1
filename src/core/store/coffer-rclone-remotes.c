/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Remotes Coffer manages for rclone. The non-secret settings live in
 * $XDG_CONFIG_HOME/coffer/remotes.ini; the secret (SFTP password, OAuth
 * token, B2 key) lives in the keyring. rclone gets both only through its
 * environment (RCLONE_CONFIG_<NAME>_<KEY>), never in a file in the clear
 * or in argv. */
#include "coffer-rclone.h"
#include "coffer-keyring.h"
#include "coffer-error.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixinputstream.h>
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

/* ---- sign-in (rclone authorize) ---- */

/* The OAuth token `rclone authorize` prints between these markers. */
#define TOKEN_BEGIN "--->"
#define TOKEN_END "<---End paste"
/* Where rclone authorize waits for the browser. */
#define AUTH_LISTEN "127.0.0.1:53682"
#define AUTH_URL_PREFIX "http://" AUTH_LISTEN "/auth"

/* Runs in the child between fork and exec: die with the thread that waits
 * for it (it lives as long as the sign-in). */
static void
authorize_child_setup (gpointer user_data)
{
  pid_t parent = (pid_t) GPOINTER_TO_INT (user_data);

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (127);
}

/* Appends what fd has to buf; FALSE at end of file or error. */
static gboolean
read_some (int fd, GByteArray *buf)
{
  guint8 chunk[1024];
  ssize_t n;

  do
    n = read (fd, chunk, sizeof chunk);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return FALSE;
  g_byte_array_append (buf, chunk, n);
  sodium_memzero (chunk, sizeof chunk);
  return TRUE;
}

static void
byte_array_wipe (GByteArray *buf)
{
  if (buf->len > 0)
    sodium_memzero (buf->data, buf->len);
  g_byte_array_unref (buf);
}

/* Writes what rclone said on stderr to ours, for a terminal user to see
 * the address to open if the browser does not (it carries no secret: the
 * token comes on stdout). */
static void
pass_on (const guint8 *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (STDERR_FILENO, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      data += n;
      len -= n;
    }
}

/* The sign-in address in what rclone wrote to stderr so far, or NULL. */
static char *
find_auth_url (GByteArray *err)
{
  g_autofree char *text = g_strndup ((const char *) err->data, err->len);
  const char *start = strstr (text, AUTH_URL_PREFIX);
  const char *end;

  if (start == NULL)
    return NULL;
  for (end = start; *end && !g_ascii_isspace (*end); end++)
    ;
  if (*end == '\0')
    return NULL;   /* not the whole line yet */
  return g_strndup (start, end - start);
}

/* The token rclone authorize printed between its markers on stdout, or
 * NULL with an error that quotes what it said on stderr. */
static CofferSecret *
token_from_output (GSubprocess *p, GByteArray *out, GByteArray *err, const char *backend,
                   GError **error)
{
  const char *text = (const char *) out->data;
  gsize len = out->len;
  const char *begin = len ? g_strstr_len (text, len, TOKEN_BEGIN) : NULL;
  const char *end = begin ? g_strstr_len (begin, len - (begin - text), TOKEN_END) : NULL;

  if (!g_subprocess_get_if_exited (p) || g_subprocess_get_exit_status (p) != 0
      || begin == NULL || end == NULL)
    {
      g_autofree char *said = err->len ? g_strndup ((const char *) err->data, err->len)
                                       : g_strdup ("");
      g_strstrip (said);
      if (strstr (said, AUTH_LISTEN) != NULL && strstr (said, "address already in use") != NULL)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                     _("Another sign-in is still waiting for its browser: rclone could not "
                       "listen on %s, which something else is using. Finish or close that "
                       "sign-in (or the other rclone), then try again."), AUTH_LISTEN);
      else if (said[0] != '\0')
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                     _("rclone authorize %s did not return a token (was the sign-in in the "
                       "browser cancelled?). rclone said: %s"), backend, said);
      else
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                     _("rclone authorize %s did not return a token (was the sign-in in the browser "
                       "cancelled?)."), backend);
      return NULL;
    }
  begin += strlen (TOKEN_BEGIN);
  while (begin < end && g_ascii_isspace (*begin))
    begin++;
  while (end > begin && g_ascii_isspace (end[-1]))
    end--;
  return coffer_secret_new_from_data ((const guint8 *) begin, end - begin);
}

CofferSecret *
coffer_rclone_authorize (const char *backend, CofferRcloneUrlFunc url_func, gpointer user_data,
                         GCancellable *cancellable, GError **error)
{
  g_autoptr(GSubprocessLauncher) l = NULL;
  g_autoptr(GSubprocess) p = NULL;
  GByteArray *out = g_byte_array_new ();
  g_autoptr(GByteArray) err = g_byte_array_new ();
  const char *argv[] = { "rclone", "authorize", backend, NULL, NULL };
  gboolean url_seen = FALSE;
  int out_fd, err_fd = -1;
  CofferSecret *token = NULL;

  g_return_val_if_fail (backend != NULL, NULL);

  /* With url_func the caller opens the browser (through the OpenURI portal
   * inside Flatpak); otherwise rclone opens it and says on stderr what to
   * open if it cannot, which goes on to ours. Its stderr is kept either way
   * for the error message. */
  if (url_func != NULL)
    argv[3] = "--auth-no-open-browser";
  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (l, "/dev/null");
  g_subprocess_launcher_setenv (l, "RCLONE_ASK_PASSWORD", "false", TRUE);
  g_subprocess_launcher_set_child_setup (l, authorize_child_setup, GINT_TO_POINTER (getpid ()),
                                         NULL);
  p = g_subprocess_launcher_spawnv (l, argv, error);
  if (p == NULL)
    {
      g_prefix_error (error, _("Could not run rclone (is it installed?): "));
      byte_array_wipe (out);
      return NULL;
    }
  out_fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (g_subprocess_get_stdout_pipe (p)));
  err_fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (g_subprocess_get_stderr_pipe (p)));

  while (out_fd >= 0 || err_fd >= 0)
    {
      struct pollfd pfd[3] = {
        { .fd = out_fd, .events = POLLIN },
        { .fd = err_fd, .events = POLLIN },
        { .fd = g_cancellable_get_fd (cancellable), .events = POLLIN },
      };
      int r = poll (pfd, 3, -1);

      g_cancellable_release_fd (cancellable);
      if (r < 0 && errno != EINTR)
        break;
      if (g_cancellable_is_cancelled (cancellable))
        break;
      if (pfd[0].revents && !read_some (out_fd, out))
        out_fd = -1;
      if (pfd[1].revents)
        {
          guint seen = err->len;

          if (!read_some (err_fd, err))
            err_fd = -1;
          else if (url_func == NULL)
            pass_on (err->data + seen, err->len - seen);
          else if (!url_seen)
            {
              g_autofree char *url = find_auth_url (err);
              if (url != NULL)
                {
                  url_seen = TRUE;
                  url_func (url, user_data);
                }
            }
        }
    }

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      /* Stop waiting for the browser: nothing may keep the port. */
      g_subprocess_force_exit (p);
      g_subprocess_wait (p, NULL, NULL);
      byte_array_wipe (out);
      return NULL;
    }
  g_subprocess_wait (p, NULL, NULL);

  token = token_from_output (p, out, err, backend, error);
  byte_array_wipe (out);
  return token;
}

/* ---- adding remotes ---- */

gboolean
coffer_rclone_remote_add (const char *name, const char *type, const char *host, gint port,
                          const char *user, const char *key_file, const char *account,
                          const CofferSecret *secret, GCancellable *cancellable, GError **error)
{
  g_autoptr(GKeyFile) kf = NULL;
  g_autofree char *repo = NULL, *label = NULL;

  if (!coffer_rclone_remote_name_valid (name, error))
    return FALSE;
  if (coffer_rclone_backend_for_type (type) == NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("Unknown remote type “%s”."), type ? type : "");
      return FALSE;
    }
  kf = coffer_rclone_remotes_load (error);
  if (kf == NULL)
    return FALSE;
  if (g_key_file_has_group (kf, name))
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                   _("A remote named “%s” exists already; remove it first."), name);
      return FALSE;
    }
  if (secret != NULL)
    {
      repo = g_strconcat ("rclone:", name, NULL);
      label = g_strdup_printf ("Coffer: storage account %s", name);
      if (!coffer_keyring_store_sync (repo, COFFER_KEY_KIND_RCLONE_REMOTE, label, secret,
                                      cancellable, error))
        return FALSE;
    }
  g_key_file_set_string (kf, name, "type", type);
  if (host != NULL && host[0] != '\0')
    g_key_file_set_string (kf, name, "host", host);
  if (port > 0)
    g_key_file_set_integer (kf, name, "port", port);
  if (user != NULL && user[0] != '\0')
    g_key_file_set_string (kf, name, "user", user);
  if (account != NULL && account[0] != '\0')
    g_key_file_set_string (kf, name, "account", account);
  if (key_file != NULL && key_file[0] != '\0')
    {
      g_autofree char *key_path = g_canonicalize_filename (key_file, NULL);
      g_key_file_set_string (kf, name, "key_file", key_path);
    }
  return coffer_rclone_remotes_save (kf, error);
}

char *
coffer_rclone_remote_unused_name (const char *base)
{
  g_autoptr(GKeyFile) kf = coffer_rclone_remotes_load (NULL);
  g_auto(GStrv) own = coffer_rclone_list_own_remotes (NULL);

  for (guint i = 1;; i++)
    {
      g_autofree char *name = i == 1 ? g_strdup (base) : g_strdup_printf ("%s_%u", base, i);
      if ((kf == NULL || !g_key_file_has_group (kf, name))
          && (own == NULL || !g_strv_contains ((const char * const *) own, name)))
        return g_steal_pointer (&name);
    }
}

char **
coffer_rclone_list_own_remotes (GCancellable *cancellable)
{
  const char *argv[] = { "rclone", "listremotes", NULL };
  g_autoptr(GSubprocess) p = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                                 | G_SUBPROCESS_FLAGS_STDERR_SILENCE);

  /* An encrypted rclone.conf must not make rclone wait for its password. */
  g_subprocess_launcher_set_stdin_file_path (l, "/dev/null");
  g_subprocess_launcher_setenv (l, "RCLONE_ASK_PASSWORD", "false", TRUE);
  p = g_subprocess_launcher_spawnv (l, argv, NULL);
  if (p == NULL || !g_subprocess_communicate_utf8 (p, NULL, cancellable, &text, NULL, NULL)
      || text == NULL)
    return g_strv_builder_end (b);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *n = g_strstrip (lines[i]);
      gsize len = strlen (n);
      if (len > 0 && n[len - 1] == ':')
        n[--len] = '\0';
      if (len > 0)
        g_strv_builder_add (b, n);
    }
  return g_strv_builder_end (b);
}

gboolean
coffer_rclone_remote_remove (const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr(GKeyFile) kf = coffer_rclone_remotes_load (error);
  g_autofree char *repo = g_strconcat ("rclone:", name, NULL);
  g_autoptr(GError) local_error = NULL;

  if (kf == NULL)
    return FALSE;
  if (!g_key_file_remove_group (kf, name, NULL))
    return TRUE;
  if (!coffer_keyring_clear_sync (repo, COFFER_KEY_KIND_RCLONE_REMOTE, cancellable, &local_error)
      && !g_error_matches (local_error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND)
      && !g_error_matches (local_error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return coffer_rclone_remotes_save (kf, error);
}
