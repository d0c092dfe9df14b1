/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "servers.h"

#include <gio/gio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "test-utils.h"

struct _CofferTestServer
{
  CofferTestServerKind kind;
  char *dir;
  guint16 port;
  GSubprocess *proc;
  char *location;
  char *http_url;
  char *user;
  char *password;
  char *rclone_config;
  char *rclone_path;
  CofferStoreOptions options;
  char *endpoint;
  char *storage_dir;
};

guint16
coffer_test_free_port (void)
{
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (sock);
  g_assert_true (g_socket_bind (sock, any, FALSE, &error));
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
write_file (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static char *
checksum_hex (GChecksumType type, const char *s)
{
  return g_compute_checksum_for_string (type, s, -1);
}

/* "{SHA}" + base64 (sha1 (password)): accepted by Apache on every platform. */
static char *
htpasswd_line (const char *user, const char *password)
{
  guint8 digest[20];
  gsize len = sizeof digest;
  GChecksum *ck = g_checksum_new (G_CHECKSUM_SHA1);
  g_autofree char *b64 = NULL;

  g_checksum_update (ck, (const guchar *) password, strlen (password));
  g_checksum_get_digest (ck, digest, &len);
  g_checksum_free (ck);
  b64 = g_base64_encode (digest, len);
  return g_strdup_printf ("%s:{SHA}%s\n", user, b64);
}

static void
write_apache_config (CofferTestServer *s, gboolean digest)
{
  g_autofree char *conf = NULL;
  g_autofree char *users = NULL;
  const char *mods = "/usr/lib/apache2/modules";
  g_autofree char *root = g_build_filename (s->dir, "root", NULL);
  g_autofree char *dav = g_build_filename (s->dir, "root", "dav", NULL);
  g_autofree char *locks = g_build_filename (s->dir, "locks", NULL);

  g_assert_cmpint (g_mkdir_with_parents (dav, 0777), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (locks, 0777), ==, 0);
  /* When the tests run as root, Apache's children run as nobody. */
  chmod (s->dir, 0755);
  chmod (root, 0777);
  chmod (dav, 0777);
  chmod (locks, 0777);

  if (digest)
    {
      g_autofree char *ha1_src = g_strdup_printf ("%s:coffer:%s", s->user, s->password);
      g_autofree char *ha1 = checksum_hex (G_CHECKSUM_MD5, ha1_src);
      users = g_strdup_printf ("%s:coffer:%s\n", s->user, ha1);
    }
  else
    users = htpasswd_line (s->user, s->password);
  write_file (s->dir, "users", users);

  conf = g_strdup_printf (
    "ServerRoot \"%s\"\n"
    "PidFile \"%s/httpd.pid\"\n"
    "Listen 127.0.0.1:%u\n"
    "ServerName 127.0.0.1\n"
    "%s"
    "LoadModule mpm_event_module %s/mod_mpm_event.so\n"
    "LoadModule authn_core_module %s/mod_authn_core.so\n"
    "LoadModule authn_file_module %s/mod_authn_file.so\n"
    "LoadModule authz_core_module %s/mod_authz_core.so\n"
    "LoadModule authz_user_module %s/mod_authz_user.so\n"
    "LoadModule %s %s/%s\n"
    "LoadModule dav_module %s/mod_dav.so\n"
    "LoadModule dav_fs_module %s/mod_dav_fs.so\n"
    "ErrorLog \"%s/error.log\"\n"
    "LogLevel warn\n"
    "DavLockDB \"%s/DavLock\"\n"
    "DocumentRoot \"%s\"\n"
    "StartServers 1\nServerLimit 2\nThreadsPerChild 25\nMaxRequestWorkers 50\n"
    "LimitRequestBody 0\n"
    "<Directory \"%s\">\n"
    "  AllowOverride None\n"
    "  Require all denied\n"
    "</Directory>\n"
    "<Directory \"%s\">\n"
    "  Dav On\n"
    "  AuthType %s\n"
    "  AuthName \"coffer\"\n"
    "  %s \"%s/users\"\n"
    "  %s"
    "  Require valid-user\n"
    "</Directory>\n",
    s->dir, s->dir, s->port,
    getuid () == 0 ? "User nobody\nGroup nogroup\n" : "",
    mods, mods, mods, mods, mods,
    digest ? "auth_digest_module" : "auth_basic_module", mods,
    digest ? "mod_auth_digest.so" : "mod_auth_basic.so",
    mods, mods, s->dir, locks, root, root, dav,
    digest ? "Digest" : "Basic",
    digest ? "AuthUserFile" : "AuthUserFile", s->dir,
    digest ? "AuthDigestProvider file\n" : "");
  write_file (s->dir, "httpd.conf", conf);
}

static char *
run_capture (const char * const *argv)
{
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                         &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (p));
  return g_strstrip (g_steal_pointer (&out));
}

static void
write_rclone_config (CofferTestServer *s)
{
  const char *argv[] = { "rclone", "obscure", s->password, NULL };
  g_autofree char *obscured = run_capture (argv);
  g_autofree char *conf = NULL;

  if (s->kind == COFFER_TEST_SERVER_S3)
    conf = g_strdup_printf ("[srv]\ntype = s3\nprovider = Other\naccess_key_id = %s\n"
                            "secret_access_key = %s\nendpoint = %s\nregion = us-east-1\n"
                            "force_path_style = true\n",
                            s->user, s->password, s->endpoint);
  else if (s->kind == COFFER_TEST_SERVER_APACHE_DIGEST)
    /* rclone speaks only Basic auth to WebDAV: check the server's own
     * storage folder instead (still an independent reader). */
    conf = g_strdup_printf ("[srv]\ntype = alias\nremote = %s/root/dav\n", s->dir);
  else
    conf = g_strdup_printf ("[srv]\ntype = webdav\nurl = %s\nvendor = other\nuser = %s\npass = %s\n",
                            s->http_url, s->user, obscured);
  s->rclone_config = g_build_filename (s->dir, "rclone.conf", NULL);
  write_file (s->dir, "rclone.conf", conf);
}

static gboolean
port_open (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  return conn != NULL;
}

/* The server goes when the test does, even when the test crashes or is
 * killed on a timeout (Apache's foreground parent then stops its children). */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
launch (CofferTestServer *s, const char * const *argv)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *log = g_build_filename (s->dir, "server.log", NULL);
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  g_subprocess_launcher_set_stdout_file_path (l, log);
  g_subprocess_launcher_set_stderr_file_path (l, log);
  g_subprocess_launcher_setenv (l, "RCLONE_CONFIG", s->rclone_config ? s->rclone_config : "/dev/null", TRUE);
  g_subprocess_launcher_set_child_setup (l, die_with_parent, NULL, NULL);
  s->proc = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);

  /* Wait until the server accepts connections (or has died). */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!port_open (s->port))
    {
      if (g_subprocess_get_identifier (s->proc) == NULL || g_get_monotonic_time () > deadline)
        {
          g_autofree char *text = NULL;
          g_file_get_contents (log, &text, NULL, NULL);
          g_error ("The %s test server did not start: %s", coffer_test_server_get_name (s),
                   text ? text : "(no log)");
        }
      g_usleep (20 * 1000);
    }
}

CofferTestServer *
coffer_test_server_start (CofferTestServerKind kind)
{
  CofferTestServer *s = g_new0 (CofferTestServer, 1);

  s->kind = kind;
  s->dir = coffer_test_mkdtemp ();
  s->port = coffer_test_free_port ();
  s->user = g_strdup ("coffer");
  s->password = g_strdup_printf ("pw-%08x", g_random_int ());

  switch (kind)
    {
    case COFFER_TEST_SERVER_APACHE_BASIC:
    case COFFER_TEST_SERVER_APACHE_DIGEST:
      {
        g_autofree char *conf = g_build_filename (s->dir, "httpd.conf", NULL);
        const char *argv[] = { "/usr/sbin/apache2", "-f", conf, "-DFOREGROUND", NULL };

        s->http_url = g_strdup_printf ("http://127.0.0.1:%u/dav/", s->port);
        s->location = g_strdup_printf ("webdav://127.0.0.1:%u/dav/repo", s->port);
        s->rclone_path = g_strdup ("srv:repo");
        s->storage_dir = g_build_filename (s->dir, "root", "dav", "repo", NULL);
        write_apache_config (s, kind == COFFER_TEST_SERVER_APACHE_DIGEST);
        write_rclone_config (s);
        launch (s, argv);
        break;
      }
    case COFFER_TEST_SERVER_RCLONE:
      {
        g_autofree char *data = g_build_filename (s->dir, "data", NULL);
        g_autofree char *addr = g_strdup_printf ("127.0.0.1:%u", s->port);
        const char *argv[] = { "rclone", "serve", "webdav", "--addr", addr, "--user", s->user,
                               "--pass", s->password, data, NULL };

        g_assert_cmpint (g_mkdir_with_parents (data, 0700), ==, 0);
        s->http_url = g_strdup_printf ("http://127.0.0.1:%u/", s->port);
        s->location = g_strdup_printf ("webdav://127.0.0.1:%u/repo", s->port);
        s->rclone_path = g_strdup ("srv:repo");
        s->storage_dir = g_build_filename (data, "repo", NULL);
        write_rclone_config (s);
        launch (s, argv);
        break;
      }
    case COFFER_TEST_SERVER_S3:
      {
        g_autofree char *data = g_build_filename (s->dir, "data", NULL);
        g_autofree char *script = g_test_build_filename (G_TEST_DIST, "integration",
                                                         "s3-server.js", NULL);
        g_autofree char *port = g_strdup_printf ("%u", s->port);
        const char *argv[] = { "node", NULL, port, data, "coffer", NULL };

        if (!g_file_test (script, G_FILE_TEST_EXISTS))
          {
            g_free (script);
            script = g_test_build_filename (G_TEST_DIST, "s3-server.js", NULL);
          }
        argv[1] = script;

        g_assert_cmpint (g_mkdir_with_parents (data, 0700), ==, 0);
        g_free (s->user);
        g_free (s->password);
        s->user = g_strdup ("S3RVER");
        s->password = g_strdup ("S3RVER");
        s->endpoint = g_strdup_printf ("http://127.0.0.1:%u", s->port);
        s->http_url = g_strdup (s->endpoint);
        s->location = g_strdup ("s3://coffer/repo");
        s->rclone_path = g_strdup ("srv:coffer/repo");
        s->storage_dir = g_build_filename (data, "coffer", "repo", NULL);
        s->options.s3_endpoint = s->endpoint;
        s->options.s3_region = "us-east-1";
        s->options.s3_path_style = TRUE;
        write_rclone_config (s);
        launch (s, argv);
        break;
      }
    default:
      g_assert_not_reached ();
    }
  return s;
}

void
coffer_test_server_stop (CofferTestServer *s)
{
  if (s == NULL)
    return;
  if (s->proc != NULL)
    {
      g_subprocess_send_signal (s->proc, SIGTERM);
      g_subprocess_wait (s->proc, NULL, NULL);
      g_clear_object (&s->proc);
    }
  coffer_test_rmtree (s->dir);
  g_free (s->dir);
  g_free (s->location);
  g_free (s->http_url);
  g_free (s->user);
  g_free (s->password);
  g_free (s->rclone_config);
  g_free (s->rclone_path);
  g_free (s->endpoint);
  g_free (s->storage_dir);
  g_free (s);
}

const char *
coffer_test_server_get_name (CofferTestServer *s)
{
  switch (s->kind)
    {
    case COFFER_TEST_SERVER_APACHE_BASIC: return "apache-basic";
    case COFFER_TEST_SERVER_APACHE_DIGEST: return "apache-digest";
    case COFFER_TEST_SERVER_RCLONE: return "rclone-webdav";
    case COFFER_TEST_SERVER_S3: return "s3rver";
    default: return "?";
    }
}

const char *coffer_test_server_get_location (CofferTestServer *s) { return s->location; }
const char *coffer_test_server_get_http_url (CofferTestServer *s) { return s->http_url; }
const char *coffer_test_server_get_user (CofferTestServer *s) { return s->user; }
const char *coffer_test_server_get_password (CofferTestServer *s) { return s->password; }
guint16 coffer_test_server_get_port (CofferTestServer *s) { return s->port; }
const CofferStoreOptions *coffer_test_server_get_options (CofferTestServer *s) { return &s->options; }
const char *coffer_test_server_get_rclone_config (CofferTestServer *s) { return s->rclone_config; }
const char *coffer_test_server_get_rclone_path (CofferTestServer *s) { return s->rclone_path; }
const char *coffer_test_server_get_storage_dir (CofferTestServer *s) { return s->storage_dir; }

void
coffer_test_server_change_password (CofferTestServer *s, const char *password)
{
  g_autofree char *users = NULL;

  g_assert_true (s->kind == COFFER_TEST_SERVER_APACHE_BASIC);
  g_free (s->password);
  s->password = g_strdup (password);
  /* mod_authn_file reads the file at each request: no restart. */
  users = htpasswd_line (s->user, s->password);
  write_file (s->dir, "users", users);
}

void
coffer_test_server_set_env (CofferTestServer *s)
{
  if (s->kind == COFFER_TEST_SERVER_S3)
    {
      g_setenv ("AWS_ACCESS_KEY_ID", s->user, TRUE);
      g_setenv ("AWS_SECRET_ACCESS_KEY", s->password, TRUE);
    }
  else
    {
      g_setenv ("COFFER_WEBDAV_USER", s->user, TRUE);
      g_setenv ("COFFER_WEBDAV_PASSWORD", s->password, TRUE);
    }
}
