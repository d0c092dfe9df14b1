/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* rclone as a transport: the store (coffer-store-rclone.c) and the remotes
 * Coffer manages itself (coffer-rclone-remotes.c). */

#include <gio/gio.h>
#include "coffer-store.h"
#include "coffer-secret.h"

G_BEGIN_DECLS

/* Keyring kind of a Coffer-managed remote's secret (SFTP password or OAuth
 * token); the keyring "repository" attribute is "rclone:NAME". */
#define COFFER_KEY_KIND_RCLONE_REMOTE "rclone-remote"

/* A store on "REMOTE:path" served by a child `rclone serve webdav`.
 * config_env: NULL, or RCLONE_CONFIG_* variable name -> CofferSecret* set
 * only in the child's environment. Starts the child and waits until it
 * answers. */
#define COFFER_TYPE_STORE_RCLONE (coffer_store_rclone_get_type ())
G_DECLARE_FINAL_TYPE (CofferStoreRclone, coffer_store_rclone, COFFER, STORE_RCLONE, GObject)
CofferStore *coffer_store_rclone_new (const char *remote_path, GHashTable *config_env,
                                      GCancellable *cancellable, GError **error);
/* Tests: the process id of the current rclone child, 0 if none. */
GPid coffer_store_rclone_get_pid (CofferStoreRclone *self);

/* Remote types Coffer can set up (coffer remote add TYPE NAME). */
gboolean coffer_rclone_type_is_oauth (const char *type);  /* drive, onedrive, dropbox, … */
/* rclone backend name for a user-facing type ("gdrive" -> "drive"), or NULL. */
const char *coffer_rclone_backend_for_type (const char *type);
/* Names: letters, digits and '_' (they become part of environment
 * variable names). */
gboolean coffer_rclone_remote_name_valid (const char *name, GError **error);

/* $XDG_CONFIG_HOME/coffer/remotes.ini: one group per remote with its
 * non-secret settings (type, host, port, user, key_file). */
char     *coffer_rclone_remotes_path (void);
GKeyFile *coffer_rclone_remotes_load (GError **error);
gboolean  coffer_rclone_remotes_save (GKeyFile *remotes, GError **error);

/* For a remote Coffer manages: the RCLONE_CONFIG_* variables (name ->
 * CofferSecret*), secrets read from the keyring. Sets *env to NULL (and
 * returns TRUE) when name is not a Coffer-managed remote: rclone's own
 * configuration applies. */
gboolean coffer_rclone_remote_env (const char *name, GHashTable **env,
                                   GCancellable *cancellable, GError **error);

/* `rclone obscure` of a password, fed through stdin (never argv). */
CofferSecret *coffer_rclone_obscure (const CofferSecret *password, GCancellable *cancellable,
                                     GError **error);

/* Signs in to an OAuth backend ("drive", "dropbox", …) with `rclone
 * authorize` and returns the token rclone printed (never written to disk).
 * With url_func, rclone does not open the browser itself: url_func gets the
 * address to open (called in the calling thread, once); without, rclone
 * opens it and what rclone says goes on to stderr. Blocks until the
 * sign-in is done; cancelling kills rclone (G_IO_ERROR_CANCELLED). While
 * another sign-in holds 127.0.0.1:53682 it fails at once and says so. */
typedef void (*CofferRcloneUrlFunc) (const char *url, gpointer user_data);
CofferSecret *coffer_rclone_authorize (const char *backend, CofferRcloneUrlFunc url_func,
                                       gpointer user_data, GCancellable *cancellable,
                                       GError **error);

/* Saves a Coffer-managed remote: secret (may be NULL) to the keyring, the
 * rest to remotes.ini. Fails with COFFER_STORE_ERROR_EXISTS if the name is
 * taken. */
gboolean coffer_rclone_remote_add (const char *name, const char *type, const char *host,
                                   gint port, const char *user, const char *key_file,
                                   const char *account, const CofferSecret *secret,
                                   GCancellable *cancellable, GError **error);
/* Forgets a Coffer-managed remote and its secret; TRUE if there was none. */
gboolean coffer_rclone_remote_remove (const char *name, GCancellable *cancellable, GError **error);
/* base, base_2, base_3, …: the first name no remote (Coffer's or rclone's)
 * has. */
char *coffer_rclone_remote_unused_name (const char *base);
/* Names of the remotes in rclone's own configuration (`rclone
 * listremotes`); empty if rclone is missing. */
char **coffer_rclone_list_own_remotes (GCancellable *cancellable);

/* Reads rclone's last log lines after a failed call and, when they name a
 * cloud problem (expired or revoked sign-in, quota, rate limit), replaces
 * *error by a clear one: AUTH ("Sign in to Google Drive again"), NO_SPACE,
 * or SERVER (rate limit: retried by the transfer layer). backend may be
 * NULL (a remote of rclone's own configuration). Returns TRUE if it did. */
gboolean coffer_rclone_classify_error (const char *log_tail, const char *backend,
                                       const char *remote, GError **error);

G_END_DECLS
