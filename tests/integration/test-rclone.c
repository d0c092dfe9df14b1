/* SPDX-License-Identifier: GPL-3.0-or-later */
/* --repo rclone:REMOTE:path: the real `coffer` CLI through a real rclone
 * (Debian's), which coffer starts as `rclone serve webdav` itself.
 *
 *  /rclone/roundtrip/local  a local-disk remote configured only through the
 *      environment (RCLONE_CONFIG_LOC_TYPE=local, i.e. an rclone remote of
 *      the user's own): init, category add, backup, an unchanged backup,
 *      restore (byte-exact), check --read-data, a changed tree and a third
 *      backup, forget --keep-last 1, prune --grace 0, check --read-data,
 *      restore again. After every command no rclone is left running.
 *  /rclone/roundtrip/sftp  the same against a real OpenSSH sshd on
 *      127.0.0.1 (throwaway host and user keys), through a remote made with
 *      `coffer remote add sftp … --key-file`, listed by `coffer remote
 *      list` and removed by `coffer remote remove`.
 *  /rclone/sftp-password  (under run-with-keyring.sh) `coffer remote add
 *      sftp … --password-file` against rclone's own SFTP server with password
 *      authentication: the password goes to the keyring (not remotes.ini),
 *      is obscured through a pipe for rclone, and the round trip works;
 *      after `remote remove` the address no longer opens.
 *  /rclone/kill-rclone  a rate-limited backup's rclone is killed with
 *      SIGKILL once a pack landed: the backup recovers (coffer starts rclone
 *      again) or fails cleanly; the next backup completes, check
 *      --read-data is clean, the restore is byte-exact.
 *  /rclone/kill-coffer  coffer is killed with SIGKILL mid-backup: its
 *      rclone dies with it (checked through a pidfd on its pid); the next
 *      backup completes and check --read-data is clean.
 *  /rclone/child-env  (in process) what the store gives its rclone child:
 *      the settings that save CPU time (RCLONE_IGNORE_CHECKSUM only for
 *      local-disk remotes, whether the environment or a config file
 *      defines them; RCLONE_SFTP_DISABLE_HASHCHECK, RCLONE_SFTP_CONCURRENCY)
 *      are in its environment, a user's own setting wins, argv holds no
 *      password, and objects go up and come back through it. */
#include "servers.h"
#include "test-utils.h"
#include "coffer-rclone.h"
#include "coffer-store.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define MiB (1024 * 1024)
#define PASSWORD "rclone test password"
#define CATEGORY "Docs"

typedef struct
{
  char *root;      /* private temporary directory */
  char *src;       /* the backed-up tree */
  char *storage;   /* where the remote keeps the repository on this machine */
  char *location;  /* --repo */
  char **env;
  GSubprocess *sshd;
  char *ssh_dir;
  guint16 ssh_port;
} Ctx;

static Ctx *
ctx_new (void)
{
  Ctx *c = g_new0 (Ctx, 1);
  g_autofree char *home = NULL, *data = NULL, *cache = NULL, *config = NULL, *runtime = NULL;

  c->root = coffer_test_mkdtemp ();
  c->src = g_build_filename (c->root, "tree", "src", NULL);
  c->storage = g_build_filename (c->root, "storage", "repo", NULL);
  home = g_build_filename (c->root, "home", NULL);
  data = g_build_filename (c->root, "data", NULL);
  cache = g_build_filename (c->root, "cache", NULL);
  config = g_build_filename (c->root, "config", NULL);
  runtime = g_build_filename (c->root, "runtime", NULL);
  g_assert_cmpint (g_mkdir_with_parents (runtime, 0700), ==, 0);

  c->env = g_get_environ ();
  c->env = g_environ_setenv (c->env, "HOME", home, TRUE);
  c->env = g_environ_setenv (c->env, "XDG_DATA_HOME", data, TRUE);
  c->env = g_environ_setenv (c->env, "XDG_CACHE_HOME", cache, TRUE);
  c->env = g_environ_setenv (c->env, "XDG_CONFIG_HOME", config, TRUE);
  c->env = g_environ_setenv (c->env, "XDG_RUNTIME_DIR", runtime, TRUE);
  c->env = g_environ_setenv (c->env, "COFFER_TESTING", "1", TRUE);
  c->env = g_environ_setenv (c->env, "COFFER_TEST_FAST_KDF", "1", TRUE);
  c->env = g_environ_setenv (c->env, "COFFER_KEYRING", "none", TRUE);
  c->env = g_environ_setenv (c->env, "COFFER_PASSWORD", PASSWORD, TRUE);
  /* rclone's own configuration: only what the environment says. */
  c->env = g_environ_setenv (c->env, "RCLONE_CONFIG", "/dev/null", TRUE);
  c->env = g_environ_setenv (c->env, "RCLONE_CONFIG_LOC_TYPE", "local", TRUE);
  c->env = g_environ_unsetenv (c->env, "COFFER_REPO");
  c->location = g_strdup_printf ("rclone:loc:%s", c->storage);
  return c;
}

static void
ctx_free (Ctx *c)
{
  if (c->sshd != NULL)
    {
      g_subprocess_force_exit (c->sshd);
      g_subprocess_wait (c->sshd, NULL, NULL);
      g_object_unref (c->sshd);
    }
  coffer_test_rmtree (c->root);
  g_free (c->root);
  g_free (c->src);
  g_free (c->storage);
  g_free (c->location);
  g_free (c->ssh_dir);
  g_strfreev (c->env);
  g_free (c);
}

/* ---- processes ---- */

/* The test's servers and rclones go when the test does. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
coffer_spawn (Ctx *c, const char * const *args, GSubprocessFlags flags)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *bin = g_getenv ("COFFER_BIN");
  GSubprocess *p;

  g_assert_nonnull (bin);
  g_subprocess_launcher_set_environ (l, c->env);
  g_ptr_array_add (argv, (char *) bin);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  if (!g_str_equal (args[0], "remote"))
    {
      g_ptr_array_add (argv, (char *) "--repo");
      g_ptr_array_add (argv, c->location);
    }
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_launcher_spawnv (l, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return p;
}

/* Waits until process pid has exited (a pidfd becomes readable), at most
 * timeout_ms; TRUE if it did. */
static gboolean
wait_pid_gone (pid_t pid, int timeout_ms)
{
  int fd = (int) syscall (SYS_pidfd_open, pid, 0);
  struct pollfd pfd;
  int r;

  if (fd < 0)
    return errno == ESRCH;
  pfd.fd = fd;
  pfd.events = POLLIN;
  r = poll (&pfd, 1, timeout_ms);
  close (fd);
  return r == 1;
}

/* Every running `rclone serve webdav` whose command line names this test's folder
 * (its own remote paths all lie below c->root). */
static GArray *
find_rclones (Ctx *c, pid_t parent)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  g_assert_nonnull (proc);
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *cmdline_path = g_build_filename ("/proc", name, "cmdline", NULL);
      g_autofree char *stat_path = g_build_filename ("/proc", name, "stat", NULL);
      g_autofree char *cmdline = NULL, *stat = NULL;
      gsize len = 0;
      pid_t pid = (pid_t) g_ascii_strtoll (name, NULL, 10);
      gboolean ours = FALSE;
      const char *paren;

      if (pid <= 0 || !g_file_get_contents (cmdline_path, &cmdline, &len, NULL)
          || !g_file_get_contents (stat_path, &stat, NULL, NULL))
        continue;
      if (len == 0 || !g_str_has_suffix (cmdline, "rclone"))
        continue;
      /* argv is NUL-separated: look at every argument. */
      for (gsize off = 0; off < len; off += strlen (cmdline + off) + 1)
        if (strstr (cmdline + off, c->root) != NULL)
          ours = TRUE;
      /* Coffer's, not a test server (rclone serve sftp). */
      if (memmem (cmdline, len, "\0webdav\0", strlen ("webdav") + 2) == NULL)
        ours = FALSE;
      paren = strrchr (stat, ')');
      if (!ours || paren == NULL || paren[2] == 'Z')
        continue;
      if (parent != 0 && (pid_t) g_ascii_strtoll (paren + 4, NULL, 10) != parent)
        continue;
      g_array_append_val (pids, pid);
    }
  return pids;
}

/* No rclone of this test is left (a process just exiting may still be
 * there for a moment: wait for it, boundedly, through its pidfd). */
static void
assert_no_rclone_left (Ctx *c)
{
  g_autoptr(GArray) pids = find_rclones (c, 0);

  for (guint i = 0; i < pids->len; i++)
    g_assert_true (wait_pid_gone (g_array_index (pids, pid_t, i), 10000));
}

static int
coffer_run (Ctx *c, char **out, const char * const *args)
{
  g_autoptr(GSubprocess) p = coffer_spawn (c, args, G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                    | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GBytes) so = NULL, se = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cmd = g_strjoinv (" ", (char **) args);
  int status;

  g_subprocess_communicate (p, NULL, NULL, &so, &se, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  status = g_subprocess_get_exit_status (p);
  if (status != 0 || g_test_verbose ())
    g_test_message ("coffer %s -> %d\nstdout: %.*s\nstderr: %.*s", cmd, status,
                    (int) g_bytes_get_size (so), (const char *) g_bytes_get_data (so, NULL),
                    (int) g_bytes_get_size (se), (const char *) g_bytes_get_data (se, NULL));
  if (out != NULL)
    *out = g_strndup (g_bytes_get_data (so, NULL), g_bytes_get_size (so));
  assert_no_rclone_left (c);
  return status;
}

#define ARGS(...) ((const char * const[]) { __VA_ARGS__, NULL })

static void
coffer_ok (Ctx *c, const char * const *args)
{
  g_assert_cmpint (coffer_run (c, NULL, args), ==, 0);
}

static guint64
backup (Ctx *c)
{
  g_autofree char *out = NULL;
  const char *p;

  g_assert_cmpint (coffer_run (c, &out, ARGS ("backup", "--json")), ==, 0);
  p = strstr (out, "\"added_bytes\"");
  g_assert_nonnull (p);
  p = strchr (p, ':');
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + 1, NULL, 10);
}

/* ---- data ---- */

static void
make_tree (Ctx *c, guint small, const gsize *big, guint n_big, guint32 seed)
{
  g_autofree char *media = g_build_filename (c->src, "media", NULL);
  g_autofree char *link = g_build_filename (c->src, "link", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);

  g_assert_cmpint (g_mkdir_with_parents (media, 0755), ==, 0);
  for (guint i = 0; i < small; i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/docs/dir-%02u", c->src, i % 8);
      g_autofree char *path = g_strdup_printf ("%s/file-%03u.txt", dir, i);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      coffer_test_write_random (path, g_rand_int_range (rand, 100, 8192), seed * 1000 + i);
    }
  for (guint i = 0; i < n_big; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/big-%u.bin", media, i);
      coffer_test_write_random (path, big[i], seed * 7 + i);
    }
  g_assert_cmpint (symlink ("docs/dir-00/file-000.txt", link), ==, 0);
}

static void
restore_and_compare (Ctx *c, const char *name)
{
  g_autofree char *target = g_build_filename (c->root, name, NULL);
  g_autofree char *restored = g_build_filename (target, c->src, NULL);

  coffer_ok (c, ARGS ("restore", "--category", CATEGORY, "--snapshot", "latest",
                      "--target", target));
  coffer_test_assert_same_tree (c->src, restored, TRUE);
  coffer_test_rmtree (target);
}

/* TRUE when the storage holds a whole pack (named by its 64-hex hash:
 * rclone shows it under that name only after the MOVE). */
static gboolean
has_pack (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          if (has_pack (path))
            return TRUE;
        }
      else if (strstr (dir, "/packs/") != NULL && strlen (name) == 64
               && strspn (name, "0123456789abcdef") == 64)
        return TRUE;
    }
  return FALSE;
}

/* ---- sshd ---- */

static void
run_ok (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error);

  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (p, NULL, &error));
  g_assert_no_error (error);
}

static gboolean
port_open (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  return conn != NULL;
}

/* A real OpenSSH sshd on 127.0.0.1 as the current user, with a throwaway
 * host key and a user key allowed to log in. */
static void
start_sshd (Ctx *c)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autofree char *host_key = NULL, *user_key = NULL, *pub = NULL, *auth = NULL;
  g_autofree char *conf = NULL, *conf_path = NULL, *log = NULL, *pidfile = NULL, *text = NULL;
  gint64 deadline;

  c->ssh_dir = g_build_filename (c->root, "ssh", NULL);
  g_assert_cmpint (g_mkdir_with_parents (c->ssh_dir, 0700), ==, 0);
  host_key = g_build_filename (c->ssh_dir, "host_key", NULL);
  user_key = g_build_filename (c->ssh_dir, "user_key", NULL);
  pub = g_strconcat (user_key, ".pub", NULL);
  auth = g_build_filename (c->ssh_dir, "authorized_keys", NULL);
  conf_path = g_build_filename (c->ssh_dir, "sshd_config", NULL);
  log = g_build_filename (c->ssh_dir, "sshd.log", NULL);
  pidfile = g_build_filename (c->ssh_dir, "sshd.pid", NULL);
  run_ok (ARGS ("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key));
  run_ok (ARGS ("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", user_key));
  g_assert_true (g_file_get_contents (pub, &text, NULL, NULL));
  g_assert_true (g_file_set_contents (auth, text, -1, NULL));
  /* As root sshd wants its privilege separation directory. */
  if (getuid () == 0)
    g_assert_cmpint (g_mkdir_with_parents ("/run/sshd", 0755), ==, 0);

  c->ssh_port = coffer_test_free_port ();
  conf = g_strdup_printf ("Port %u\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\n"
                          "AuthorizedKeysFile %s\nStrictModes no\nUsePAM no\n"
                          "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                          "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n",
                          c->ssh_port, host_key, pidfile, auth);
  g_assert_true (g_file_set_contents (conf_path, conf, -1, NULL));

  g_subprocess_launcher_set_stdout_file_path (l, log);
  g_subprocess_launcher_set_stderr_file_path (l, log);
  g_subprocess_launcher_set_child_setup (l, die_with_parent, NULL, NULL);
  c->sshd = g_subprocess_launcher_spawnv (l, ARGS ("/usr/sbin/sshd", "-D", "-e", "-f", conf_path),
                                          &error);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!port_open (c->ssh_port))
    {
      if (g_subprocess_get_identifier (c->sshd) == NULL || g_get_monotonic_time () > deadline)
        {
          g_autofree char *l_text = NULL;
          g_file_get_contents (log, &l_text, NULL, NULL);
          g_error ("sshd did not start: %s", l_text ? l_text : "(no log)");
        }
      g_usleep (20 * 1000);
    }
}

/* ---- the tests ---- */

static void
roundtrip (Ctx *c)
{
  static const gsize big[] = { 5 * MiB + 17, 3 * MiB };
  g_autofree char *key = g_build_filename (c->root, "recovery.key", NULL);
  g_autofree char *gone = g_build_filename (c->src, "media", "big-0.bin", NULL);
  g_autofree char *added = g_build_filename (c->src, "media", "new.bin", NULL);
  guint64 added_bytes;

  make_tree (c, 120, big, G_N_ELEMENTS (big), 5);
  coffer_ok (c, ARGS ("init", "--recovery-key-file", key));
  coffer_ok (c, ARGS ("category", "add", CATEGORY, c->src));
  added_bytes = backup (c);
  g_assert_cmpuint (added_bytes, >=, 8 * MiB);
  g_assert_true (has_pack (c->storage));
  /* Nothing changed: no file data goes up again (only tree blobs of
   * ancestors that something else touched). */
  g_assert_cmpuint (backup (c), <, 4096);
  restore_and_compare (c, "restore-1");
  coffer_ok (c, ARGS ("check", "--read-data"));

  g_assert_cmpint (g_unlink (gone), ==, 0);
  coffer_test_write_random (added, 2 * MiB, 99);
  added_bytes = backup (c);
  g_assert_cmpuint (added_bytes, >=, 2 * MiB);
  g_assert_cmpuint (added_bytes, <, 3 * MiB);
  coffer_ok (c, ARGS ("forget", "--category", CATEGORY, "--keep-last", "1"));
  coffer_ok (c, ARGS ("prune", "--grace", "0"));
  coffer_ok (c, ARGS ("check", "--read-data"));
  restore_and_compare (c, "restore-2");
}

static void
test_roundtrip_local (void)
{
  Ctx *c = ctx_new ();

  roundtrip (c);
  ctx_free (c);
}

static void
test_roundtrip_sftp (void)
{
  Ctx *c = ctx_new ();
  g_autofree char *port = NULL, *user_key = NULL, *out = NULL;

  start_sshd (c);
  port = g_strdup_printf ("%u", c->ssh_port);
  user_key = g_build_filename (c->ssh_dir, "user_key", NULL);
  /* A key file needs no keyring (there is none here): no secret is kept. */
  coffer_ok (c, ARGS ("remote", "add", "sftp", "nas", "--host", "127.0.0.1", "--port", port,
                      "--user", g_get_user_name (), "--key-file", user_key));
  g_assert_cmpint (coffer_run (c, &out, ARGS ("remote", "list", "--json")), ==, 0);
  g_assert_nonnull (strstr (out, "\"name\":\"nas\",\"type\":\"sftp\""));
  g_free (c->location);
  c->location = g_strdup_printf ("rclone:nas:%s", c->storage);

  roundtrip (c);

  /* Without a keyring a remote with a password cannot be managed by
   * Coffer, and says so. */
  {
    g_autofree char *pw_file = g_build_filename (c->root, "sftp-password", NULL);
    g_autofree char *conf_dir = g_build_filename (c->root, "config", "coffer", NULL);
    g_autofree char *ini = g_build_filename (conf_dir, "remotes.ini", NULL);
    g_autofree char *ini_text = NULL, *more = NULL;
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GBytes) se = NULL;

    g_assert_true (g_file_set_contents (pw_file, "not stored anywhere\n", -1, NULL));
    p = coffer_spawn (c, ARGS ("remote", "add", "sftp", "other", "--host", "127.0.0.1",
                               "--user", "someone", "--password-file", pw_file),
                      G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_assert_true (g_subprocess_communicate (p, NULL, NULL, NULL, &se, NULL));
    g_assert_cmpint (g_subprocess_get_exit_status (p), !=, 0);
    g_assert_nonnull (g_strstr_len (g_bytes_get_data (se, NULL), g_bytes_get_size (se),
                                    "no keyring is available"));
    /* The same for such a remote written by hand. */
    g_assert_true (g_file_get_contents (ini, &ini_text, NULL, NULL));
    g_assert_null (strstr (ini_text, "other"));
    more = g_strconcat (ini_text, "\n[other]\ntype=sftp\nhost=127.0.0.1\nuser=someone\n", NULL);
    g_assert_true (g_file_set_contents (ini, more, -1, NULL));
    g_clear_object (&p);
    g_clear_pointer (&se, g_bytes_unref);
    g_free (c->location);
    c->location = g_strdup_printf ("rclone:other:%s", c->storage);
    p = coffer_spawn (c, ARGS ("snapshots"), G_SUBPROCESS_FLAGS_STDERR_PIPE
                                              | G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_assert_true (g_subprocess_communicate (p, NULL, NULL, NULL, &se, NULL));
    g_assert_cmpint (g_subprocess_get_exit_status (p), !=, 0);
    g_assert_nonnull (g_strstr_len (g_bytes_get_data (se, NULL), g_bytes_get_size (se),
                                    "no keyring is available"));
    g_assert_true (g_file_set_contents (ini, ini_text, -1, NULL));
    g_free (c->location);
    c->location = g_strdup_printf ("rclone:nas:%s", c->storage);
  }

  coffer_ok (c, ARGS ("remote", "remove", "nas"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (coffer_run (c, &out, ARGS ("remote", "list", "--json")), ==, 0);
  g_assert_null (strstr (out, "\"nas\""));
  /* Without the remote the address no longer works, and says why. */
  g_assert_cmpint (coffer_run (c, NULL, ARGS ("snapshots")), !=, 0);
  ctx_free (c);
}

/* A remote with a password (kept in the keyring, obscured through
 * `rclone obscure -`, given to rclone in its environment) against rclone's
 * own SFTP server with password authentication. Runs under
 * run-with-keyring.sh. */
static void
test_sftp_password (void)
{
  Ctx *c = ctx_new ();
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *served = g_build_filename (c->root, "sftp-root", NULL);
  g_autofree char *pw_file = g_build_filename (c->root, "sftp-password", NULL);
  g_autofree char *ini = g_build_filename (c->root, "config", "coffer", "remotes.ini", NULL);
  g_autofree char *addr = NULL, *port = NULL, *log = NULL, *text = NULL;
  const char *secret = "Sftp-Secret-4711";
  guint16 p = coffer_test_free_port ();
  gint64 deadline;

  c->env = g_environ_unsetenv (c->env, "COFFER_KEYRING");
  g_assert_cmpint (g_mkdir_with_parents (served, 0700), ==, 0);
  addr = g_strdup_printf ("127.0.0.1:%u", p);
  port = g_strdup_printf ("%u", p);
  log = g_build_filename (c->root, "sftp-server.log", NULL);
  g_subprocess_launcher_set_stdout_file_path (l, log);
  g_subprocess_launcher_set_stderr_file_path (l, log);
  g_subprocess_launcher_setenv (l, "RCLONE_CONFIG", "/dev/null", TRUE);
  g_subprocess_launcher_set_child_setup (l, die_with_parent, NULL, NULL);
  /* The test server's own password may be in its argv: it is not Coffer. */
  server = g_subprocess_launcher_spawnv (l, ARGS ("rclone", "serve", "sftp", served, "--addr", addr,
                                                  "--user", "tester", "--pass", secret), &error);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!port_open (p))
    {
      g_assert_nonnull (g_subprocess_get_identifier (server));
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }

  g_assert_true (g_file_set_contents (pw_file, secret, -1, NULL));
  coffer_ok (c, ARGS ("remote", "add", "sftp", "pw", "--host", "127.0.0.1", "--port", port,
                      "--user", "tester", "--password-file", pw_file));
  g_assert_cmpint (g_unlink (pw_file), ==, 0);
  /* The password is in the keyring, not in Coffer's configuration. */
  g_assert_true (g_file_get_contents (ini, &text, NULL, NULL));
  g_assert_null (strstr (text, secret));
  g_assert_nonnull (strstr (text, "user=tester"));

  g_free (c->location);
  c->location = g_strdup ("rclone:pw:repo");
  g_free (c->storage);
  c->storage = g_build_filename (served, "repo", NULL);
  roundtrip (c);

  coffer_ok (c, ARGS ("remote", "remove", "pw"));
  /* Its password left the keyring with it. */
  g_assert_cmpint (coffer_run (c, NULL, ARGS ("snapshots")), !=, 0);
  g_subprocess_force_exit (server);
  g_subprocess_wait (server, NULL, NULL);
  ctx_free (c);
}

/* Starts a rate-limited backup of 30 MB and waits until a pack landed;
 * returns the running coffer. */
static GSubprocess *
start_slow_backup (Ctx *c)
{
  static const gsize big[] = { 10 * MiB, 10 * MiB, 10 * MiB };
  g_autofree char *key = g_build_filename (c->root, "recovery.key", NULL);
  GSubprocess *p;
  gint64 deadline;

  make_tree (c, 20, big, G_N_ELEMENTS (big), 41);
  coffer_ok (c, ARGS ("init", "--recovery-key-file", key));
  coffer_ok (c, ARGS ("category", "add", CATEGORY, c->src));
  p = coffer_spawn (c, ARGS ("backup", "--limit-upload", "6144"),
                    G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!has_pack (c->storage))
    {
      g_assert_nonnull (g_subprocess_get_identifier (p));
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (2000);
    }
  return p;
}

static pid_t
rclone_of (Ctx *c, GSubprocess *coffer)
{
  g_autoptr(GArray) pids = find_rclones (c, (pid_t) atoi (g_subprocess_get_identifier (coffer)));

  g_autofree char *cmdline_path = NULL, *cmdline = NULL;
  gsize len = 0;

  g_assert_cmpuint (pids->len, ==, 1);
  /* Its credentials are in an htpasswd file, not in argv. */
  cmdline_path = g_strdup_printf ("/proc/%d/cmdline", g_array_index (pids, pid_t, 0));
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &len, NULL));
  for (gsize off = 0; off < len; off += strlen (cmdline + off) + 1)
    {
      g_assert_cmpstr (cmdline + off, !=, "--pass");
      g_assert_cmpstr (cmdline + off, !=, "--user");
    }
  g_assert_nonnull (memmem (cmdline, len, "--htpasswd", strlen ("--htpasswd") + 1));
  return g_array_index (pids, pid_t, 0);
}

static void
test_kill_rclone (void)
{
  Ctx *c = ctx_new ();
  g_autoptr(GSubprocess) p = start_slow_backup (c);
  g_autoptr(GBytes) err = NULL;
  pid_t rclone = rclone_of (c, p);

  g_assert_cmpint (kill (rclone, SIGKILL), ==, 0);
  g_assert_true (wait_pid_gone (rclone, 10000));
  g_assert_true (g_subprocess_communicate (p, NULL, NULL, NULL, &err, NULL));
  /* Recovered (a new rclone took over) or failed cleanly: never a crash. */
  g_assert_true (g_subprocess_get_if_exited (p));
  g_test_message ("backup with rclone killed: exit %d, %.*s", g_subprocess_get_exit_status (p),
                  (int) g_bytes_get_size (err), (const char *) g_bytes_get_data (err, NULL));
  assert_no_rclone_left (c);

  backup (c);
  coffer_ok (c, ARGS ("check", "--read-data"));
  restore_and_compare (c, "restore");
  ctx_free (c);
}

/* Coffer's private rclone folders in the test's $XDG_RUNTIME_DIR. */
static guint
count_runtime_dirs (Ctx *c)
{
  g_autofree char *runtime = g_build_filename (c->root, "runtime", NULL);
  g_autoptr(GDir) dir = g_dir_open (runtime, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    n += g_str_has_prefix (name, "coffer-rclone-");
  return n;
}

static void
test_kill_coffer (void)
{
  Ctx *c = ctx_new ();
  g_autoptr(GSubprocess) p = start_slow_backup (c);
  pid_t rclone = rclone_of (c, p);

  g_subprocess_force_exit (p);
  g_subprocess_wait (p, NULL, NULL);
  g_assert_true (g_subprocess_get_if_signaled (p));
  /* PR_SET_PDEATHSIG: rclone goes with coffer. */
  g_assert_true (wait_pid_gone (rclone, 10000));
  assert_no_rclone_left (c);
  /* The killed coffer left its htpasswd folder; the next run removes it. */
  g_assert_cmpuint (count_runtime_dirs (c), ==, 1);

  backup (c);
  g_assert_cmpuint (count_runtime_dirs (c), ==, 0);
  coffer_ok (c, ARGS ("check", "--read-data"));
  restore_and_compare (c, "restore");
  ctx_free (c);
}

/* ---- the child's environment ---- */

/* The value of name in process pid's initial environment, or NULL. */
static char *
proc_getenv (GPid pid, const char *name)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/environ", (int) pid);
  g_autofree char *text = NULL;
  gsize len = 0, n = strlen (name);

  g_assert_true (g_file_get_contents (path, &text, &len, NULL));
  for (gsize off = 0; off < len; off += strlen (text + off) + 1)
    if (strncmp (text + off, name, n) == 0 && text[off + n] == '=')
      return g_strdup (text + off + n + 1);
  return NULL;
}

/* Opens a store on remote_path, checks a put and a get through it, and
 * returns the value of name in its rclone's environment. */
static char *
child_env_of (Ctx *c, const char *remote_path, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_rclone_new (remote_path, NULL, NULL, &error);
  g_autoptr(GBytes) data = g_bytes_new_static ("pack bytes", 10);
  g_autoptr(GBytes) back = NULL;
  g_autofree char *cmdline_path = NULL, *cmdline = NULL, *htpasswd = NULL;
  static guint serial;
  g_autofree char *obj = g_strdup_printf ("categories/x/packs/ab/obj-%u", serial++);
  gsize len = 0;
  gboolean ok;
  GPid pid;

  g_assert_no_error (error);
  pid = coffer_store_rclone_get_pid (COFFER_STORE_RCLONE (store));
  g_assert_cmpint (pid, >, 0);
  ok = coffer_store_put (store, obj, data, COFFER_PUT_CREATE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  back = coffer_store_get (store, obj, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (back, data));
  /* The password is only in the htpasswd file, never in argv. */
  cmdline_path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &len, NULL));
  for (gsize off = 0; off < len; off += strlen (cmdline + off) + 1)
    {
      g_assert_null (strstr (cmdline + off, "{SHA}"));
      if (g_str_has_suffix (cmdline + off, "/htpasswd"))
        htpasswd = g_strdup (cmdline + off);
    }
  g_assert_nonnull (htpasswd);
  {
    g_autofree char *line = NULL;
    g_assert_true (g_file_get_contents (htpasswd, &line, NULL, NULL));
    g_assert_nonnull (strstr (line, ":{SHA}"));
  }
  return proc_getenv (pid, name);
}

static void
test_child_env (void)
{
  Ctx *c = ctx_new ();
  g_autofree char *conf = g_build_filename (c->root, "rclone.conf", NULL);
  g_autofree char *conf_text = NULL;
  g_autofree char *loc = g_strdup_printf ("loc:%s", c->storage);
  g_autofree char *cfg = g_strdup_printf ("cfg:%s", c->storage);
  g_autofree char *other = g_strdup_printf ("other:%s", c->storage);
  char *v;

  /* In process: the store reads this process's environment. */
  for (guint i = 0; c->env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (c->env[i], "=", 2);
      if (g_str_has_prefix (kv[0], "XDG_") || g_str_has_prefix (kv[0], "RCLONE_"))
        g_setenv (kv[0], kv[1], TRUE);
    }
  /* A remote of rclone's own configuration file: rclone is asked for its
   * type. An alias is not a local disk (to Coffer: its backend is not
   * known to hash each upload in vain), so rclone's check stays on. */
  conf_text = g_strdup_printf ("[cfg]\ntype = local\n\n[other]\ntype = alias\nremote = %s\n",
                               c->root);
  g_assert_true (g_file_set_contents (conf, conf_text, -1, NULL));
  g_setenv ("RCLONE_CONFIG", conf, TRUE);
  g_unsetenv ("RCLONE_IGNORE_CHECKSUM");

  /* Defined in the environment (RCLONE_CONFIG_LOC_TYPE=local). */
  v = child_env_of (c, loc, "RCLONE_IGNORE_CHECKSUM");
  g_assert_cmpstr (v, ==, "true");
  g_free (v);
  /* Not this one: with it rclone 1.60 calls an SFTP upload that took
   * longer than a second "corrupted on transfer". */
  v = child_env_of (c, loc, "RCLONE_SFTP_SET_MODTIME");
  g_assert_null (v);
  v = child_env_of (c, loc, "RCLONE_SFTP_DISABLE_HASHCHECK");
  g_assert_cmpstr (v, ==, "true");
  g_free (v);
  v = child_env_of (c, loc, "RCLONE_SFTP_CONCURRENCY");
  g_assert_cmpstr (v, ==, "16");
  g_free (v);
  v = child_env_of (c, loc, "RCLONE_ASK_PASSWORD");
  g_assert_cmpstr (v, ==, "false");
  g_free (v);

  v = child_env_of (c, cfg, "RCLONE_IGNORE_CHECKSUM");
  g_assert_cmpstr (v, ==, "true");
  g_free (v);

  v = child_env_of (c, other, "RCLONE_IGNORE_CHECKSUM");
  g_assert_null (v);

  /* The user's own setting wins. */
  g_setenv ("RCLONE_IGNORE_CHECKSUM", "false", TRUE);
  v = child_env_of (c, loc, "RCLONE_IGNORE_CHECKSUM");
  g_assert_cmpstr (v, ==, "false");
  g_free (v);
  g_unsetenv ("RCLONE_IGNORE_CHECKSUM");

  assert_no_rclone_left (c);
  ctx_free (c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rclone/roundtrip/local", test_roundtrip_local);
  g_test_add_func ("/rclone/roundtrip/sftp", test_roundtrip_sftp);
  g_test_add_func ("/rclone/sftp-password", test_sftp_password);
  g_test_add_func ("/rclone/kill-rclone", test_kill_rclone);
  g_test_add_func ("/rclone/kill-coffer", test_kill_coffer);
  g_test_add_func ("/rclone/child-env", test_child_env);
  return g_test_run ();
}
