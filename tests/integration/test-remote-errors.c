/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Remote destinations fail as what they are, in the engine and in the
 * `coffer` command: refused credentials are AUTH (exit 1, "refused the
 * credentials"), a server that does not answer is NETWORK (exit 5, "not
 * answering"), and `coffer init` finds both with its write probe before
 * anything is written. Real servers on 127.0.0.1 (tests/integration/servers.h). */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-error.h"
#include "coffer-store-private.h"
#include "servers.h"
#include "test-utils.h"

typedef struct
{
  int   status;
  char *err;
} Run;

/* Runs `coffer init` on location with env (NAME=value strings). */
static Run
coffer_init (const char *s3_endpoint, const char *location, const char * const *env)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                                                | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *home = coffer_test_mkdtemp ();
  g_autofree char *key_file = g_build_filename (home, "key.txt", NULL);
  Run run = { 0 };

  g_subprocess_launcher_setenv (l, "HOME", home, TRUE);
  g_subprocess_launcher_setenv (l, "XDG_DATA_HOME", home, TRUE);
  g_subprocess_launcher_setenv (l, "XDG_CACHE_HOME", home, TRUE);
  g_subprocess_launcher_setenv (l, "LC_ALL", "C.UTF-8", TRUE);
  g_subprocess_launcher_setenv (l, "COFFER_PASSWORD", "remote errors password", TRUE);
  g_subprocess_launcher_setenv (l, "COFFER_TEST_FAST_KDF", "1", TRUE);
  for (guint i = 0; env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env[i], "=", 2);
      g_subprocess_launcher_setenv (l, kv[0], kv[1], TRUE);
    }
  g_ptr_array_add (argv, (char *) g_getenv ("COFFER_BIN"));
  g_ptr_array_add (argv, (char *) "init");
  g_ptr_array_add (argv, (char *) "--repo");
  g_ptr_array_add (argv, (char *) location);
  g_ptr_array_add (argv, (char *) "--recovery-key-file");
  g_ptr_array_add (argv, key_file);
  if (s3_endpoint != NULL)
    {
      g_ptr_array_add (argv, (char *) "--s3-endpoint");
      g_ptr_array_add (argv, (char *) s3_endpoint);
    }
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_launcher_spawnv (l, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &run.err, &error);
  g_assert_no_error (error);
  run.status = g_subprocess_get_exit_status (p);
  g_test_message ("coffer init %s -> %d: %s", location, run.status, run.err);
  /* Nothing was written, not even the key file. */
  g_assert_false (g_file_test (key_file, G_FILE_TEST_EXISTS));
  coffer_test_rmtree (home);
  return run;
}

static CofferStore *
open_store (CofferTestServer *s)
{
  g_autoptr(GError) error = NULL;
  CofferStoreOptions options = *coffer_test_server_get_options (s);
  CofferStore *store;

  /* The retry layer would wait out a dead server; one try tells. */
  options.max_tries = 1;
  store = coffer_store_open (coffer_test_server_get_location (s), &options, &error);
  g_assert_no_error (error);
  return store;
}

/* Credentials typed in a session (CofferStoreOptions.user/secret, as the app
 * passes them) win over the environment and the keyring, either way. */
static void
check_typed_credentials (CofferTestServer *s, gboolean env_is_wrong)
{
  CofferStoreOptions options = *coffer_test_server_get_options (s);
  g_autoptr(CofferSecret) secret = coffer_secret_new_from_string (env_is_wrong ? coffer_test_server_get_password (s)
                                                                               : "wrong-secret");
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(GError) error = NULL;

  options.user = coffer_test_server_get_user (s);
  options.secret = secret;
  store = coffer_store_open (coffer_test_server_get_location (s), &options, &error);
  g_assert_no_error (error);
  if (env_is_wrong)
    {
      g_assert_true (coffer_store_probe_write (store, NULL, &error));
      g_assert_no_error (error);
    }
  else
    {
      g_assert_false (coffer_store_probe_write (store, NULL, &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH);
    }
}

static void
test_remote (gconstpointer data)
{
  CofferTestServerKind kind = GPOINTER_TO_INT (data);
  CofferTestServer *s = coffer_test_server_start (kind);
  gboolean s3 = kind == COFFER_TEST_SERVER_S3;
  g_autofree char *location = g_strdup (coffer_test_server_get_location (s));
  g_autofree char *endpoint = s3 ? g_strdup (coffer_test_server_get_options (s)->s3_endpoint) : NULL;
  g_autofree char *user_env = g_strdup_printf ("%s=%s", s3 ? "AWS_ACCESS_KEY_ID" : "COFFER_WEBDAV_USER",
                                               coffer_test_server_get_user (s));
  g_autofree char *bad_env = g_strdup_printf ("%s=wrong-secret",
                                              s3 ? "AWS_SECRET_ACCESS_KEY" : "COFFER_WEBDAV_PASSWORD");
  g_autofree char *good_env = g_strdup_printf ("%s=%s",
                                               s3 ? "AWS_SECRET_ACCESS_KEY" : "COFFER_WEBDAV_PASSWORD",
                                               coffer_test_server_get_password (s));
  const char *bad[] = { user_env, bad_env, NULL };
  const char *good[] = { user_env, good_env, NULL };
  g_autoptr(GError) error = NULL;
  Run run;

  /* Good credentials: the probe writes, reads back and deletes. */
  coffer_test_server_set_env (s);
  {
    g_autoptr(CofferStore) store = open_store (s);
    g_assert_true (coffer_store_probe_write (store, NULL, &error));
    g_assert_no_error (error);
  }
  check_typed_credentials (s, FALSE);

  /* Refused credentials. */
  g_setenv (s3 ? "AWS_SECRET_ACCESS_KEY" : "COFFER_WEBDAV_PASSWORD", "wrong-secret", TRUE);
  {
    g_autoptr(CofferStore) store = open_store (s);
    g_assert_false (coffer_store_probe_write (store, NULL, &error));
    g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH);
    g_clear_error (&error);
  }
  check_typed_credentials (s, TRUE);
  run = coffer_init (endpoint, location, bad);
  g_assert_cmpint (run.status, ==, 1);
  g_assert_nonnull (strstr (run.err, "refused the credentials"));
  g_free (run.err);

  /* The server goes away: not answering, exit 5, not "wrong password". */
  coffer_test_server_set_env (s);
  {
    g_autoptr(CofferStore) store = open_store (s);
    coffer_test_server_stop (s);
    g_assert_false (coffer_store_probe_write (store, NULL, &error));
    g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NETWORK);
    /* CofferStoreOptions.max_tries: one try, not the default retries. */
    g_assert_cmpuint (coffer_store_retry_get_retries (COFFER_STORE_RETRY (store)), ==, 0);
    g_test_message ("dead server: %s", error->message);
    g_clear_error (&error);
  }
  run = coffer_init (endpoint, location, good);
  g_assert_cmpint (run.status, ==, 5);
  g_assert_nonnull (strstr (run.err, "not answering"));
  g_assert_null (strstr (run.err, "password"));
  g_free (run.err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_setenv ("COFFER_TESTING", "1", TRUE);
  g_test_add_data_func ("/remote-errors/apache-basic", GINT_TO_POINTER (COFFER_TEST_SERVER_APACHE_BASIC),
                        test_remote);
  g_test_add_data_func ("/remote-errors/s3", GINT_TO_POINTER (COFFER_TEST_SERVER_S3), test_remote);
  return g_test_run ();
}
