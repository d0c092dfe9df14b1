/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferStoreRclone: any rclone remote (Google Drive, OneDrive, Dropbox,
 * SFTP, …) as a store, without reimplementing the providers' APIs.
 *
 * The store starts `rclone serve webdav REMOTE:path` as a child bound to
 * 127.0.0.1 on a free port, protected by a random per-run user and password
 * (an htpasswd file, 0600, in $XDG_RUNTIME_DIR: the password never appears
 * in argv), waits until it answers, and forwards every call to a
 * CofferStoreWebdav pointed at it. It supervises the child: when a call
 * fails because the child died, the child is started again (a bounded
 * number of times) on a new port and the call is repeated once. The child
 * is stopped when the store is finalized, and dies with Coffer even on
 * SIGKILL (PR_SET_PDEATHSIG, set up in the child before exec).
 *
 * Configuration of Coffer-managed remotes reaches the child only through
 * its environment (RCLONE_CONFIG_<NAME>_<KEY>), never through a file. */
#include "coffer-store-private.h"
#include "coffer-rclone.h"
#include "coffer-error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

/* Restarts of a crashed child per store before calls fail for good. */
#define MAX_RESTARTS 5
/* Attempts to reach a freshly started child, POLL_INTERVAL_MS apart. */
#define READY_ATTEMPTS 600
#define POLL_INTERVAL_MS 50

struct _CofferStoreRclone
{
  GObject parent_instance;

  GMutex lock;
  char *remote_path;      /* "REMOTE:path" as rclone takes it */
  char *remote;           /* "REMOTE" */
  char *backend;          /* rclone backend of a Coffer-managed remote, or NULL */
  char *type;             /* rclone backend of the remote, whoever configured it, or NULL
                           * when rclone could not tell */
  GHashTable *config_env; /* RCLONE_CONFIG_* name -> CofferSecret* (may be NULL) */
  char *dir;              /* private 0700 directory: htpasswd, log */
  char *user;
  CofferSecret *password;
  GSubprocess *child;     /* guarded by lock */
  CofferStore *inner;     /* the WebDAV store pointed at child; guarded by lock */
  guint restarts;
};

static void coffer_store_rclone_iface_init (CofferStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CofferStoreRclone, coffer_store_rclone, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (COFFER_TYPE_STORE,
                                                      coffer_store_rclone_iface_init))

/* ---- spawning from one long-lived thread ----
 *
 * PR_SET_PDEATHSIG fires when the *thread* that forked the child exits,
 * not the process. Stores are opened from worker threads that come and go,
 * so every child is forked by one thread that lives as long as Coffer. */

typedef struct
{
  GSubprocessLauncher *launcher;
  const char * const *argv;
  GSubprocess *result;
  GError *error;
  gboolean done;
} SpawnRequest;

static GMutex spawn_lock;
static GCond spawn_cond;
static GAsyncQueue *spawn_queue;

static gpointer
spawner_thread (gpointer data)
{
  for (;;)
    {
      SpawnRequest *req = g_async_queue_pop (spawn_queue);

      req->result = g_subprocess_launcher_spawnv (req->launcher, req->argv, &req->error);
      g_mutex_lock (&spawn_lock);
      req->done = TRUE;
      g_cond_broadcast (&spawn_cond);
      g_mutex_unlock (&spawn_lock);
    }
  return NULL;
}

static GSubprocess *
spawn_from_spawner (GSubprocessLauncher *launcher, const char * const *argv, GError **error)
{
  static gsize init = 0;
  SpawnRequest req = { launcher, argv, NULL, NULL, FALSE };

  if (g_once_init_enter (&init))
    {
      spawn_queue = g_async_queue_new ();
      g_thread_unref (g_thread_new ("coffer-rclone-spawner", spawner_thread, NULL));
      g_once_init_leave (&init, 1);
    }
  g_async_queue_push (spawn_queue, &req);
  g_mutex_lock (&spawn_lock);
  while (!req.done)
    g_cond_wait (&spawn_cond, &spawn_lock);
  g_mutex_unlock (&spawn_lock);
  if (req.error != NULL)
    g_propagate_error (error, req.error);
  return req.result;
}

/* Runs in the child between fork and exec: die with Coffer. If Coffer (the
 * spawner thread) is already gone, prctl() came too late: exit at once. */
static void
child_setup (gpointer user_data)
{
  pid_t parent = (pid_t) GPOINTER_TO_INT (user_data);

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (127);
}

/* ---- helpers ---- */

static guint16
free_port (GError **error)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint16 port = 0;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0
      && getsockname (fd, (struct sockaddr *) &addr, &len) == 0)
    port = ntohs (addr.sin_port);
  if (port == 0)
    g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                 _("Could not find a free port on 127.0.0.1 for rclone: %s"), g_strerror (errno));
  if (fd >= 0)
    close (fd);
  return port;
}

static gboolean
port_answers (guint16 port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ok = fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
  if (fd >= 0)
    close (fd);
  return ok;
}

/* TRUE when the child has exited (reaped by GLib or not yet). */
static gboolean
child_is_dead (GSubprocess *child)
{
  const char *ident = child ? g_subprocess_get_identifier (child) : NULL;
  siginfo_t info = { 0 };

  if (ident == NULL)
    return TRUE;
  /* WNOWAIT: look without reaping, GLib's child watch still owns it. */
  if (waitid (P_PID, (id_t) atoi (ident), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return errno == ECHILD;
  return info.si_pid != 0;
}

static char *log_tail_lines (CofferStoreRclone *self, int n_lines);

/* The last lines rclone wrote, for error messages. */
static char *
log_tail (CofferStoreRclone *self)
{
  return log_tail_lines (self, 4);
}

/* How much rclone has logged so far: a call's own lines come after. */
static goffset
log_mark (CofferStoreRclone *self)
{
  g_autofree char *path = g_build_filename (self->dir, "rclone.log", NULL);
  GStatBuf st;

  return g_stat (path, &st) == 0 ? st.st_size : 0;
}

/* A failed call: if what rclone logged since mark says why in cloud terms
 * (sign-in expired, quota, rate limit), say that instead. Older lines are
 * not looked at: they belong to other calls. */
static void
classify (CofferStoreRclone *self, goffset mark, GError **error)
{
  g_autofree char *path = NULL, *text = NULL;
  gsize len = 0;
  const char *start;

  if (error == NULL || *error == NULL)
    return;
  path = g_build_filename (self->dir, "rclone.log", NULL);
  if (!g_file_get_contents (path, &text, &len, NULL))
    return;
  start = text + ((gsize) mark <= len ? (gsize) mark : len);
  /* The last 12 lines of them. */
  {
    const char *p = text + len;
    for (int lines = 0; p > start && lines < 13; p--)
      if (p[-1] == '\n')
        lines++;
    if (p > start)
      start = p;
  }
  coffer_rclone_classify_error (start, self->backend, self->remote, error);
}

static char *
log_tail_lines (CofferStoreRclone *self, int n_lines)
{
  g_autofree char *path = g_build_filename (self->dir, "rclone.log", NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  char *start;

  if (!g_file_get_contents (path, &text, &len, NULL) || len == 0)
    return g_strdup (_("(rclone wrote nothing)"));
  g_strstrip (text);
  start = text + strlen (text);
  for (int lines = 0; start > text && lines < n_lines; start--)
    if (start[-1] == '\n')
      lines++;
  return g_strdup (start);
}

static gboolean
wait_interval (GCancellable *cancellable, GError **error)
{
  struct pollfd pfd = { .fd = g_cancellable_get_fd (cancellable), .events = POLLIN };

  poll (&pfd, pfd.fd >= 0 ? 1 : 0, POLL_INTERVAL_MS);
  g_cancellable_release_fd (cancellable);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* Backends on which rclone's post-upload checksum comparison cannot find
 * anything (see start_child_once_locked). */
static gboolean
skips_checksum (const char *type)
{
  return g_strcmp0 (type, "local") == 0;
}

/* The launcher of rclone serve: stdin closed, its log in LOG, Coffer's
 * defaults and the remote's configuration in its environment (never in
 * argv), and a child setup that ends it with Coffer. */
static GSubprocessLauncher *
child_launcher_new (CofferStoreRclone *self, const char *log)
{
  GSubprocessLauncher *l;

  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  /* rclone must never wait for a config password on Coffer's terminal. */
  g_subprocess_launcher_set_stdin_file_path (l, "/dev/null");
  /* rclone logs to stderr; one file opened twice would be overwritten
   * from two offsets. */
  g_subprocess_launcher_set_stdout_file_path (l, "/dev/null");
  g_subprocess_launcher_set_stderr_file_path (l, log);
  g_subprocess_launcher_setenv (l, "RCLONE_ASK_PASSWORD", "false", TRUE);
  /* rclone's SFTP backend checks every upload by running md5sum on the
   * server in a new SSH session (seconds each). Coffer names packs by
   * their hash and authenticates every byte it reads, so it needs no such
   * check. Like the settings below, a default only: Coffer's own
   * environment may set another value, and a remote defined in the
   * environment (RCLONE_CONFIG_NAME_…) keeps its own; a setting in
   * rclone's configuration file does not win over these variables. */
  g_subprocess_launcher_setenv (l, "RCLONE_SFTP_DISABLE_HASHCHECK", "true", FALSE);
  /* rclone keeps 64 SFTP writes of 32 KiB in flight per upload, which
   * fills OpenSSH's whole 2 MiB channel window: sshd then allocates and
   * clears large buffers for every packet and spent 2.2 s of CPU per
   * 240 MiB here, against 0.8 s with 16 (512 KiB in flight per upload,
   * still 10 MB/s per upload at 50 ms round trip, and Coffer uploads two
   * packs at once). Also faster on loopback. */
  g_subprocess_launcher_setenv (l, "RCLONE_SFTP_CONCURRENCY", "16", FALSE);
  /* After every upload rclone compares a hash it computed while receiving
   * with the backend's. On a local disk the backend's hash is computed from
   * the same stream in the same process, so the check can find nothing,
   * but every byte was hashed twice: two thirds of rclone's CPU time. On
   * cloud backends the provider's hash of what it stored is a real check
   * and is kept. (SFTP has no hash here. Its modification time must stay
   * set, RCLONE_SFTP_SET_MODTIME=false: rclone would then compare the
   * upload's start time with the server's and call any upload longer than
   * a second corrupted.) */
  if (skips_checksum (self->type))
    g_subprocess_launcher_setenv (l, "RCLONE_IGNORE_CHECKSUM", "true", FALSE);
  g_subprocess_launcher_set_child_setup (l, child_setup, GINT_TO_POINTER (getpid ()), NULL);
  if (self->config_env != NULL)
    {
      GHashTableIter it;
      gpointer k, v;

      g_hash_table_iter_init (&it, self->config_env);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          /* The launcher copies the value into the child's environment;
           * the copy lives only until the launcher is freed below. */
          g_autofree char *value = g_strndup ((const char *) ((CofferSecret *) v)->data,
                                              ((CofferSecret *) v)->len);
          g_subprocess_launcher_setenv (l, k, value, TRUE);
          sodium_memzero (value, strlen (value));
        }
    }

  return l;
}

/* Waits until the child answers on PORT. When it died or never answered,
 * it is stopped and the error says what rclone logged; *port_taken says
 * that another process took the port first. */
static gboolean
wait_until_serving (CofferStoreRclone *self, GSubprocess *child, guint16 port, const char *addr,
                    gboolean *port_taken, GCancellable *cancellable, GError **error)
{
  for (guint i = 0;; i++)
    {
      if (port_answers (port))
        return TRUE;
      if (child_is_dead (child) || i >= READY_ATTEMPTS)
        {
          g_autofree char *tail = log_tail (self);

          /* Someone took the free port between our probe and rclone's
           * bind: try another one (bounded by the caller's attempts). */
          if (i < READY_ATTEMPTS && strstr (tail, "address already in use") != NULL)
            {
              g_subprocess_wait (child, NULL, NULL);
              *port_taken = TRUE;
              g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NETWORK,
                           _("rclone could not listen on %s: %s"), addr, tail);
              return FALSE;
            }
          g_subprocess_force_exit (child);
          g_subprocess_wait (child, NULL, NULL);
          g_set_error (error, COFFER_STORE_ERROR,
                       i >= READY_ATTEMPTS ? COFFER_STORE_ERROR_NETWORK
                                           : COFFER_STORE_ERROR_FAILED,
                       _("rclone could not serve “%s”: %s"), self->remote_path, tail);
          classify (self, 0, error);
          return FALSE;
        }
      if (!wait_interval (cancellable, error))
        {
          g_subprocess_force_exit (child);
          g_subprocess_wait (child, NULL, NULL);
          return FALSE;
        }
    }
}

/* Starts the child on a free port and points a new inner store at it.
 * Called with lock held. *port_taken says that another process took the
 * port first, so that trying again may help (the message is translated and
 * cannot tell). */
static gboolean
start_child_once_locked (CofferStoreRclone *self, gboolean *port_taken,
                         GCancellable *cancellable, GError **error)
{
  g_autoptr(GSubprocessLauncher) l = NULL;
  g_autofree char *addr = NULL, *log = NULL, *htpasswd = NULL, *base = NULL;
  g_autoptr(GSubprocess) child = NULL;
  CofferStore *inner;
  guint16 port;

  port = free_port (error);
  if (port == 0)
    return FALSE;
  addr = g_strdup_printf ("127.0.0.1:%u", port);
  log = g_build_filename (self->dir, "rclone.log", NULL);
  htpasswd = g_build_filename (self->dir, "htpasswd", NULL);

  l = child_launcher_new (self, log);
  {
    const char *argv[] = {
      "rclone", "serve", "webdav", self->remote_path,
      "--addr", addr,
      "--htpasswd", htpasswd,
      /* Coffer is the only writer through this server, and its listings
       * must see what other computers wrote: do not cache directories. */
      "--dir-cache-time", "0s",
      "--vfs-cache-mode", "off",
      NULL };
    child = spawn_from_spawner (l, argv, error);
  }
  if (child == NULL)
    {
      g_prefix_error (error, _("Could not start rclone (is it installed?): "));
      return FALSE;
    }

  if (!wait_until_serving (self, child, port, addr, port_taken, cancellable, error))
    return FALSE;

  base = g_strdup_printf ("http://%s/", addr);
  inner = coffer_store_webdav_new (base, self->user, self->password, NULL, error);
  if (inner == NULL)
    {
      g_subprocess_force_exit (child);
      g_subprocess_wait (child, NULL, NULL);
      return FALSE;
    }
  g_clear_object (&self->inner);
  self->inner = inner;
  g_set_object (&self->child, child);
  return TRUE;
}

static gboolean
start_child_locked (CofferStoreRclone *self, GCancellable *cancellable, GError **error)
{
  for (guint attempt = 0;; attempt++)
    {
      g_autoptr(GError) local_error = NULL;
      gboolean port_taken = FALSE;

      if (start_child_once_locked (self, &port_taken, cancellable, &local_error))
        return TRUE;
      if (attempt >= 2 || !port_taken)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
}

static void
stop_child_locked (CofferStoreRclone *self)
{
  if (self->child != NULL)
    {
      g_subprocess_force_exit (self->child);
      g_subprocess_wait (self->child, NULL, NULL);
      g_clear_object (&self->child);
    }
  g_clear_object (&self->inner);
}

/* The inner store to use now; restarts a dead child (bounded). */
static CofferStore *
acquire (CofferStoreRclone *self, GCancellable *cancellable, GError **error)
{
  CofferStore *inner = NULL;

  g_mutex_lock (&self->lock);
  if (self->child == NULL || child_is_dead (self->child))
    {
      if (self->restarts >= MAX_RESTARTS)
        {
          g_autofree char *tail = log_tail (self);
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                       _("rclone serving “%s” stopped %u times; giving up: %s"),
                       self->remote_path, self->restarts, tail);
          g_mutex_unlock (&self->lock);
          return NULL;
        }
      self->restarts++;
      g_message ("rclone serving “%s” stopped; starting it again (%u of %u)",
                 self->remote_path, self->restarts, MAX_RESTARTS);
      stop_child_locked (self);
      if (!start_child_locked (self, cancellable, error))
        {
          g_mutex_unlock (&self->lock);
          return NULL;
        }
    }
  inner = g_object_ref (self->inner);
  g_mutex_unlock (&self->lock);
  return inner;
}

/* After a failed call through inner: TRUE if it failed because the child
 * went away (then the call is worth one more try on a new child). */
static gboolean
child_went_away (CofferStoreRclone *self, CofferStore *inner, const GError *error)
{
  gboolean gone;

  if (!g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NETWORK)
      && !g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_SERVER))
    return FALSE;
  g_mutex_lock (&self->lock);
  gone = self->inner != inner || child_is_dead (self->child);
  g_mutex_unlock (&self->lock);
  return gone;
}

/* Runs CALL (an expression using `inner` and `local_error`) with one repeat
 * on a fresh child if the first child died under it. */
#define SUPERVISED(RESULT_OK, CALL)                                            \
  for (guint attempt = 0;; attempt++)                                          \
    {                                                                          \
      g_autoptr(GError) local_error = NULL;                                    \
      g_autoptr(CofferStore) inner = acquire (self, cancellable, error);       \
      goffset mark = log_mark (self);                                          \
      if (inner == NULL)                                                       \
        return RESULT_FAIL;                                                    \
      result = CALL;                                                           \
      if (RESULT_OK)                                                           \
        return result;                                                         \
      if (attempt == 0 && child_went_away (self, inner, local_error))          \
        continue;                                                              \
      classify (self, mark, &local_error);                                     \
      g_propagate_error (error, g_steal_pointer (&local_error));               \
      return result;                                                           \
    }

static gboolean
rclone_put (CofferStore *store, const char *name, GBytes *data, CofferPutMode mode,
            GCancellable *cancellable, GError **error)
{
  CofferStoreRclone *self = COFFER_STORE_RCLONE (store);
  gboolean result;
#define RESULT_FAIL FALSE
  SUPERVISED (result, coffer_store_put (inner, name, data, mode, cancellable, &local_error));
}

static GBytes *
rclone_get (CofferStore *store, const char *name, guint64 offset, guint64 length,
            GCancellable *cancellable, GError **error)
{
  CofferStoreRclone *self = COFFER_STORE_RCLONE (store);
  GBytes *result;
#undef RESULT_FAIL
#define RESULT_FAIL NULL
  SUPERVISED (result != NULL,
              coffer_store_get (inner, name, offset, length, cancellable, &local_error));
}

static GBytes *
rclone_get_limited (CofferStore *store, const char *name, guint64 max_size,
                    GCancellable *cancellable, GError **error)
{
  CofferStoreRclone *self = COFFER_STORE_RCLONE (store);
  GBytes *result;
  SUPERVISED (result != NULL,
              coffer_store_get_limited (inner, name, max_size, cancellable, &local_error));
}

/* A listing is not repeated: func may have seen part of it already. */
static gboolean
rclone_list (CofferStore *store, const char *prefix, CofferStoreListFunc func,
             gpointer user_data, GCancellable *cancellable, GError **error)
{
  CofferStoreRclone *self = COFFER_STORE_RCLONE (store);
  g_autoptr(CofferStore) inner = acquire (self, cancellable, error);
  goffset mark = log_mark (self);

  if (inner == NULL)
    return FALSE;
  if (!coffer_store_list (inner, prefix, func, user_data, cancellable, error))
    {
      classify (self, mark, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
rclone_delete (CofferStore *store, const char *name, GCancellable *cancellable, GError **error)
{
  CofferStoreRclone *self = COFFER_STORE_RCLONE (store);
  gboolean result;
#undef RESULT_FAIL
#define RESULT_FAIL FALSE
  SUPERVISED (result, coffer_store_delete (inner, name, cancellable, &local_error));
}

static gboolean
rclone_stat (CofferStore *store, const char *name, guint64 *size,
             GCancellable *cancellable, GError **error)
{
  CofferStoreRclone *self = COFFER_STORE_RCLONE (store);
  gboolean result;
  SUPERVISED (result, coffer_store_stat (inner, name, size, cancellable, &local_error));
}

static gboolean
rclone_remove_stale_temporaries (CofferStore *store, const char *prefix, gint64 max_age_seconds,
                                 guint64 *removed_bytes, GCancellable *cancellable,
                                 GError **error)
{
  CofferStoreRclone *self = COFFER_STORE_RCLONE (store);
  g_autoptr(CofferStore) inner = acquire (self, cancellable, error);

  if (inner == NULL)
    return FALSE;
  return coffer_store_remove_stale_temporaries (inner, prefix, max_age_seconds, removed_bytes,
                                                cancellable, error);
}
#undef RESULT_FAIL

static char *
rclone_describe (CofferStore *store)
{
  return g_strconcat ("rclone:", COFFER_STORE_RCLONE (store)->remote_path, NULL);
}

static void
coffer_store_rclone_iface_init (CofferStoreInterface *iface)
{
  iface->put = rclone_put;
  iface->get = rclone_get;
  iface->get_limited = rclone_get_limited;
  iface->list = rclone_list;
  iface->delete = rclone_delete;
  iface->stat = rclone_stat;
  iface->describe = rclone_describe;
  iface->remove_stale_temporaries = rclone_remove_stale_temporaries;
}

static void
coffer_store_rclone_finalize (GObject *object)
{
  CofferStoreRclone *self = COFFER_STORE_RCLONE (object);

  stop_child_locked (self);
  if (self->dir != NULL)
    {
      g_autofree char *h = g_build_filename (self->dir, "htpasswd", NULL);
      g_autofree char *l = g_build_filename (self->dir, "rclone.log", NULL);
      g_unlink (h);
      g_unlink (l);
      g_rmdir (self->dir);
    }
  g_free (self->dir);
  g_free (self->remote_path);
  g_free (self->remote);
  g_free (self->backend);
  g_free (self->type);
  g_free (self->user);
  g_clear_pointer (&self->password, coffer_secret_free);
  g_clear_pointer (&self->config_env, g_hash_table_unref);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (coffer_store_rclone_parent_class)->finalize (object);
}

static void
coffer_store_rclone_class_init (CofferStoreRcloneClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = coffer_store_rclone_finalize;
}

static void
coffer_store_rclone_init (CofferStoreRclone *self)
{
  g_mutex_init (&self->lock);
}

/* Writes "user:{SHA}base64(sha1(password))". SHA-1 is enough here: the
 * password is 32 random bytes, lives for one run, and the file is 0600 in
 * a 0700 directory. */
static gboolean
write_htpasswd (CofferStoreRclone *self, GError **error)
{
  g_autofree char *path = g_build_filename (self->dir, "htpasswd", NULL);
  guint8 digest[20];
  gsize dlen = sizeof digest;
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA1);
  g_autofree char *b64 = NULL, *line = NULL;
  int fd;

  g_checksum_update (sum, self->password->data, self->password->len);
  g_checksum_get_digest (sum, digest, &dlen);
  b64 = g_base64_encode (digest, dlen);
  line = g_strdup_printf ("%s:{SHA}%s\n", self->user, b64);
  fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, line, strlen (line)) != (ssize_t) strlen (line))
    {
      int saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                   _("Could not write %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* Folders "coffer-rclone-PID-XXXXXX" of processes that are gone (a Coffer
 * killed with SIGKILL cannot clean up after itself): remove them and the
 * htpasswd and log inside. */
static void
remove_stale_dirs (const char *runtime)
{
  g_autoptr(GDir) dir = g_dir_open (runtime, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL, *h = NULL, *l = NULL;
      char *end = NULL;
      gint64 pid;

      if (!g_str_has_prefix (name, "coffer-rclone-"))
        continue;
      pid = g_ascii_strtoll (name + strlen ("coffer-rclone-"), &end, 10);
      if (pid <= 0 || end == NULL || *end != '-' || pid == getpid ()
          || kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
        continue;
      path = g_build_filename (runtime, name, NULL);
      h = g_build_filename (path, "htpasswd", NULL);
      l = g_build_filename (path, "rclone.log", NULL);
      g_unlink (h);
      g_unlink (l);
      g_rmdir (path);
    }
}

/* The backend of a remote of rclone's own configuration ("local",
 * "sftp", "drive", …), or NULL if rclone cannot tell. A remote defined in
 * the environment (RCLONE_CONFIG_NAME_TYPE) needs no question; otherwise
 * `rclone listremotes --long` says ("name:   type" lines; it prints no
 * settings). Only used to choose defaults that save CPU time. */
static char *
remote_type (const char *remote, GCancellable *cancellable)
{
  g_autofree char *upper = g_ascii_strup (remote, -1);
  g_autofree char *key = g_strdup_printf ("RCLONE_CONFIG_%s_TYPE", upper);
  g_autoptr(GSubprocessLauncher) l = NULL;
  g_autoptr(GSubprocess) p = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  const char *argv[] = { "rclone", "listremotes", "--long", NULL };

  if (g_getenv (key) != NULL && g_getenv (key)[0] != '\0')
    return g_ascii_strdown (g_getenv (key), -1);

  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                 | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_stdin_file_path (l, "/dev/null");
  g_subprocess_launcher_setenv (l, "RCLONE_ASK_PASSWORD", "false", TRUE);
  g_subprocess_launcher_set_child_setup (l, child_setup, GINT_TO_POINTER (getpid ()), NULL);
  p = spawn_from_spawner (l, argv, NULL);
  if (p == NULL || !g_subprocess_communicate_utf8 (p, NULL, cancellable, &out, NULL, NULL))
    {
      if (p != NULL)
        {
          g_subprocess_force_exit (p);
          g_subprocess_wait (p, NULL, NULL);
        }
      return NULL;
    }
  if (!g_subprocess_wait_check (p, cancellable, NULL) || out == NULL)
    return NULL;
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      gsize n = strlen (remote);

      if (strncmp (lines[i], remote, n) == 0 && lines[i][n] == ':')
        return g_strstrip (g_strdup (lines[i] + n + 1));
    }
  return NULL;
}

CofferStore *
coffer_store_rclone_new (const char *remote_path, GHashTable *config_env,
                         GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStoreRclone) self = NULL;
  g_autofree char *tmpl = NULL;
  guint8 raw[32];
  g_autofree char *hex = NULL;
  gboolean ok;

  g_return_val_if_fail (remote_path != NULL, NULL);

  self = g_object_new (COFFER_TYPE_STORE_RCLONE, NULL);
  self->remote_path = g_strdup (remote_path);
  self->remote = g_strndup (remote_path, strcspn (remote_path, ":"));
  self->config_env = config_env ? g_hash_table_ref (config_env) : NULL;
  if (config_env != NULL)
    {
      g_autofree char *upper = g_ascii_strup (self->remote, -1);
      g_autofree char *key = g_strdup_printf ("RCLONE_CONFIG_%s_TYPE", upper);
      CofferSecret *type = g_hash_table_lookup (config_env, key);
      if (type != NULL)
        self->backend = g_strndup ((const char *) type->data, type->len);
    }
  self->type = self->backend ? g_strdup (self->backend) : remote_type (self->remote, cancellable);
  remove_stale_dirs (g_get_user_runtime_dir ());
  {
    g_autofree char *base = g_strdup_printf ("coffer-rclone-%d-XXXXXX", (int) getpid ());
    tmpl = g_build_filename (g_get_user_runtime_dir (), base, NULL);
  }
  if (g_mkdtemp_full (tmpl, 0700) == NULL)
    {
      int saved = errno;
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                   _("Could not create a private folder for rclone in %s: %s"),
                   g_get_user_runtime_dir (), g_strerror (saved));
      return NULL;
    }
  self->dir = g_steal_pointer (&tmpl);

  /* Random per-run credentials: 32 random bytes, as hex (printable for
   * htpasswd and HTTP Basic). */
  self->user = g_strdup_printf ("coffer-%08x", g_random_int ());
  randombytes_buf (raw, sizeof raw);
  hex = g_malloc (2 * sizeof raw + 1);
  sodium_bin2hex (hex, 2 * sizeof raw + 1, raw, sizeof raw);
  sodium_memzero (raw, sizeof raw);
  self->password = coffer_secret_new_from_string (hex);
  sodium_memzero (hex, 2 * sizeof raw);
  if (!write_htpasswd (self, error))
    return NULL;

  g_mutex_lock (&self->lock);
  ok = start_child_locked (self, cancellable, error);
  g_mutex_unlock (&self->lock);
  if (!ok)
    return NULL;
  return COFFER_STORE (g_steal_pointer (&self));
}

GPid
coffer_store_rclone_get_pid (CofferStoreRclone *self)
{
  const char *ident;
  GPid pid = 0;

  g_mutex_lock (&self->lock);
  ident = self->child ? g_subprocess_get_identifier (self->child) : NULL;
  if (ident != NULL)
    pid = atoi (ident);
  g_mutex_unlock (&self->lock);
  return pid;
}

/* ---- cloud errors in rclone's log ---- */

/* The provider's name for messages, or NULL (then the remote's name is
 * used). Brand names: not translated. */
static const char *
provider_name (const char *backend)
{
  static const struct { const char *backend, *name; } names[] = {
    { "drive", "Google Drive" }, { "onedrive", "OneDrive" }, { "dropbox", "Dropbox" },
    { "pcloud", "pCloud" }, { "box", "Box" }, { "b2", "Backblaze B2" },
  };
  for (guint i = 0; backend != NULL && i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (names[i].backend, backend))
      return names[i].name;
  return NULL;
}

static gboolean
contains_any (const char *lower, const char * const *needles)
{
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (lower, needles[i]) != NULL)
      return TRUE;
  return FALSE;
}

/* The last line of text that contains one of needles, for the message. */
static char *
line_with (const char *text, const char *lower, const char * const *needles)
{
  const char *hit = NULL;

  for (guint i = 0; needles[i] != NULL; i++)
    {
      const char *p = lower, *q;
      while ((q = strstr (p, needles[i])) != NULL)
        {
          if (hit == NULL || q > hit)
            hit = q;
          p = q + 1;
        }
    }
  if (hit == NULL)
    return g_strdup ("");
  {
    gsize off = hit - lower;
    const char *start = text + off, *end = text + off;
    while (start > text && start[-1] != '\n')
      start--;
    while (*end && *end != '\n')
      end++;
    return g_strndup (start, end - start);
  }
}

gboolean
coffer_rclone_classify_error (const char *log_tail, const char *backend, const char *remote,
                              GError **error)
{
  static const char * const auth[] = {
    "invalid_grant", "token expired", "expired or revoked", "token has been revoked",
    "couldn't fetch token", "cannot fetch token", "failed to refresh token", "invalid_client",
    "unauthorized_client", "expired_access_token", "invalid_access_token",
    "401 unauthorized", "error 401", "status 401", NULL };
  static const char * const full[] = {
    "storagequotaexceeded", "quotaexceeded", "quota exceeded", "insufficient_space",
    "insufficient storage", "insufficient_storage", "no space left on device", "over quota",
    "quota_exceeded", "error 507", "507 insufficient", NULL };
  static const char * const rate[] = {
    "ratelimitexceeded", "userratelimitexceeded", "too many requests", "too_many_requests",
    "error 429", "429 too many", "rate limit", NULL };
  g_autofree char *lower = NULL, *line = NULL;
  const char *provider = provider_name (backend);

  if (log_tail == NULL || error == NULL || *error == NULL)
    return FALSE;
  if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      || g_error_matches (*error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND)
      || g_error_matches (*error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS))
    return FALSE;
  lower = g_ascii_strdown (log_tail, -1);

  if (contains_any (lower, auth))
    {
      g_autofree char *how = NULL;
      line = line_with (log_tail, lower, auth);
      if (backend != NULL && !g_str_equal (backend, "sftp") && !g_str_equal (backend, "b2"))
        how = g_strdup_printf (_("in Coffer choose this destination again and sign in, or run "
                                 "“coffer remote remove %s” and “coffer remote add %s %s”"),
                               remote, g_str_equal (backend, "drive") ? "gdrive" : backend, remote);
      else if (backend != NULL)
        how = g_strdup_printf (_("check the password or key of the remote “%s”"), remote);
      else
        how = g_strdup_printf (_("run “rclone config reconnect %s:”"), remote);
      g_clear_error (error);
      if (provider != NULL)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                     _("Sign in to %s again: the sign-in of “%s” has expired or was revoked (%s). "
                       "Nothing was lost. rclone said: %s"), provider, remote, how, line);
      else
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                     _("Sign in to the remote “%s” again: its sign-in has expired or was revoked "
                       "(%s). Nothing was lost. rclone said: %s"), remote, how, line);
      return TRUE;
    }
  if (contains_any (lower, full))
    {
      line = line_with (log_tail, lower, full);
      g_clear_error (error);
      if (provider != NULL)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE,
                     _("%s is full (its storage quota or disk is used up). Free space or buy "
                       "more, then back up again; nothing was lost. rclone said: %s"), provider, line);
      else
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE,
                     _("The remote “%s” is full (its storage quota or disk is used up). Free "
                       "space or buy more, then back up again; nothing was lost. rclone said: %s"),
                     remote, line);
      return TRUE;
    }
  if (contains_any (lower, rate))
    {
      line = line_with (log_tail, lower, rate);
      g_clear_error (error);
      if (provider != NULL)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_SERVER,
                     _("%s is limiting how fast Coffer may send (rate limit); Coffer waited and "
                       "tried again, but it still refuses. Try again later; nothing was lost. "
                       "rclone said: %s"), provider, line);
      else
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_SERVER,
                     _("The remote “%s” is limiting how fast Coffer may send (rate limit); Coffer "
                       "waited and tried again, but it still refuses. Try again later; nothing "
                       "was lost. rclone said: %s"), remote, line);
      return TRUE;
    }
  return FALSE;
}
