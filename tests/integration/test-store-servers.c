/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The same round trip against each real server: Apache mod_dav (Basic and
 * Digest), rclone serve webdav, and an S3 server that checks SigV4. The
 * uploaded objects are cross-checked with rclone as an independent client. */
#include "coffer-store-private.h"
#include "coffer-error.h"
#include "coffer-secret.h"
#include "servers.h"
#include "test-utils.h"

#include <string.h>

static GBytes *
random_bytes (gsize len, guint32 seed)
{
  guint8 *buf = g_malloc (len);
  GRand *r = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < len; i += 4)
    {
      guint32 v = g_rand_int (r);
      memcpy (buf + i, &v, MIN (4, len - i));
    }
  g_rand_free (r);
  return g_bytes_new_take (buf, len);
}

static gboolean
collect (const char *name, guint64 size, gpointer user_data)
{
  g_hash_table_insert (user_data, g_strdup (name), g_memdup2 (&size, sizeof size));
  return TRUE;
}

static void
assert_same (GBytes *got, GBytes *expected, gsize offset, gsize len)
{
  g_assert_nonnull (got);
  g_assert_cmpuint (g_bytes_get_size (got), ==, len);
  g_assert_true (memcmp (g_bytes_get_data (got, NULL),
                         (const guint8 *) g_bytes_get_data (expected, NULL) + offset, len) == 0);
}

/* rclone lsl as an independent client: name -> size */
static GHashTable *
rclone_list (CofferTestServer *s)
{
  const char *argv[] = { "rclone", "--config", coffer_test_server_get_rclone_config (s), "lsf",
                         "-R", "--files-only", "--format", "ps", "--separator", "\t",
                         coffer_test_server_get_rclone_path (s), NULL };
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTable *result = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_autoptr(GSubprocessLauncher) l =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  /* rclone's S3 backend cannot use a custom CA bundle over plain http. */
  g_subprocess_launcher_unsetenv (l, "AWS_CA_BUNDLE");
  p = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (p))
    g_error ("rclone failed: %s", err);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_auto(GStrv) f = g_strsplit (lines[i], "\t", 2);
      guint64 size;
      if (g_strv_length (f) != 2)
        continue;
      size = g_ascii_strtoull (f[1], NULL, 10);
      g_hash_table_insert (result, g_strdup (f[0]), g_memdup2 (&size, sizeof size));
    }
  return result;
}

static CofferStore *
open_store (CofferTestServer *s)
{
  g_autoptr(GError) error = NULL;
  CofferStore *store;

  coffer_test_server_set_env (s);
  store = coffer_store_open (coffer_test_server_get_location (s),
                             coffer_test_server_get_options (s), &error);
  g_assert_no_error (error);
  g_assert_true (COFFER_IS_STORE_RETRY (store));
  return store;
}

static void
measure_put (CofferStore *store, const char *label)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = random_bytes (16 * 1024 * 1024, 99);
  gint64 start = g_get_monotonic_time ();
  double secs;

  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("bench/pack-%u", i);
      g_assert_true (coffer_store_put (store, name, data, COFFER_PUT_CREATE, NULL, &error));
      g_assert_no_error (error);
    }
  secs = (g_get_monotonic_time () - start) / 1e6;
  g_test_message ("THROUGHPUT %s: put 4 x 16 MiB in %.2f s = %.1f MiB/s", label, secs, 64 / secs);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("bench/pack-%u", i);
      g_assert_true (coffer_store_delete (store, name, NULL, &error));
    }
}

static void
round_trip (CofferStore *store, CofferTestServer *s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) config = g_bytes_new_static ("format 1\n", 9);
  g_autoptr(GBytes) config2 = g_bytes_new_static ("format 1 (replaced)\n", 20);
  g_autoptr(GBytes) pack = random_bytes (3 * 1024 * 1024 + 17, 1);
  g_autoptr(GBytes) odd = random_bytes (1000, 2);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GHashTable) listed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *pack_name = "categories/c1/packs/ab/ab0123456789";
  const char *odd_name = "categories/c1/snapshots/odd name é+%";
  guint64 size = 0;

  g_assert_true (coffer_store_put (store, "config", config, COFFER_PUT_CREATE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (coffer_store_put (store, pack_name, pack, COFFER_PUT_CREATE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (coffer_store_put (store, odd_name, odd, COFFER_PUT_CREATE, NULL, &error));
  g_assert_no_error (error);

  /* create-only */
  g_assert_false (coffer_store_put (store, pack_name, odd, COFFER_PUT_CREATE, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS);
  g_clear_error (&error);
  got = coffer_store_get (store, pack_name, 0, 0, NULL, &error);
  g_assert_no_error (error);
  assert_same (got, pack, 0, g_bytes_get_size (pack));
  g_clear_pointer (&got, g_bytes_unref);

  /* replace */
  g_assert_true (coffer_store_put (store, "config", config2, COFFER_PUT_REPLACE, NULL, &error));
  g_assert_no_error (error);
  got = coffer_store_get (store, "config", 0, 0, NULL, &error);
  assert_same (got, config2, 0, 20);
  g_clear_pointer (&got, g_bytes_unref);

  /* ranged */
  got = coffer_store_get (store, pack_name, 1000000, 65536, NULL, &error);
  g_assert_no_error (error);
  assert_same (got, pack, 1000000, 65536);
  g_clear_pointer (&got, g_bytes_unref);
  got = coffer_store_get (store, pack_name, 3 * 1024 * 1024, 0, NULL, &error);
  g_assert_no_error (error);
  assert_same (got, pack, 3 * 1024 * 1024, 17);
  g_clear_pointer (&got, g_bytes_unref);
  got = coffer_store_get (store, odd_name, 0, 0, NULL, &error);
  g_assert_no_error (error);
  assert_same (got, odd, 0, 1000);
  g_clear_pointer (&got, g_bytes_unref);

  /* stat */
  g_assert_true (coffer_store_stat (store, pack_name, &size, NULL, &error));
  g_assert_cmpuint (size, ==, g_bytes_get_size (pack));

  /* list */
  g_assert_true (coffer_store_list (store, "categories/c1/", collect, listed, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (listed), ==, 2);
  g_assert_cmpuint (*(guint64 *) g_hash_table_lookup (listed, pack_name), ==,
                    g_bytes_get_size (pack));
  g_assert_true (g_hash_table_contains (listed, odd_name));
  g_hash_table_remove_all (listed);
  g_assert_true (coffer_store_list (store, "", collect, listed, NULL, &error));
  g_assert_cmpuint (g_hash_table_size (listed), ==, 3);

  /* cross-check with an independent client */
  {
    g_autoptr(GHashTable) theirs = rclone_list (s);
    GHashTableIter it;
    gpointer k, v;

    g_assert_cmpuint (g_hash_table_size (theirs), ==, 3);
    g_hash_table_iter_init (&it, listed);
    while (g_hash_table_iter_next (&it, &k, &v))
      {
        guint64 *their_size = g_hash_table_lookup (theirs, k);
        if (their_size == NULL)
          g_error ("rclone does not see “%s”", (char *) k);
        g_assert_cmpuint (*their_size, ==, *(guint64 *) v);
      }
  }

  /* delete and not-found */
  g_assert_true (coffer_store_delete (store, pack_name, NULL, &error));
  g_assert_no_error (error);
  got = coffer_store_get (store, pack_name, 0, 0, NULL, &error);
  g_assert_null (got);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (coffer_store_stat (store, pack_name, NULL, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
}

static void
test_server (gconstpointer data)
{
  CofferTestServerKind kind = GPOINTER_TO_INT (data);
  CofferTestServer *s = coffer_test_server_start (kind);
  g_autoptr(CofferStore) store = open_store (s);
  g_autoptr(GError) error = NULL;

  round_trip (store, s);
  measure_put (store, coffer_test_server_get_name (s));

  /* Wrong credentials fail at once with AUTH. */
  {
    g_autoptr(CofferStore) bad = NULL;
    g_autoptr(GBytes) x = g_bytes_new_static ("x", 1);

    if (kind == COFFER_TEST_SERVER_S3)
      g_setenv ("AWS_SECRET_ACCESS_KEY", "wrong-secret", TRUE);
    else
      g_setenv ("COFFER_WEBDAV_PASSWORD", "wrong-password", TRUE);
    bad = coffer_store_open (coffer_test_server_get_location (s),
                             coffer_test_server_get_options (s), &error);
    g_assert_no_error (error);
    g_assert_false (coffer_store_put (bad, "config-x", x, COFFER_PUT_CREATE, NULL, &error));
    g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH);
    g_assert_cmpuint (coffer_store_retry_get_retries (COFFER_STORE_RETRY (bad)), ==, 0);
  }
  coffer_test_server_stop (s);
}

/* S3 multipart upload (parts of 5 MiB) against the real server. */
static void
test_s3_multipart (void)
{
  CofferTestServer *s = coffer_test_server_start (COFFER_TEST_SERVER_S3);
  g_autoptr(CofferSecret) secret = coffer_secret_new_from_string (coffer_test_server_get_password (s));
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_s3_new (coffer_test_server_get_http_url (s),
                                                      "us-east-1", TRUE, "coffer", "repo",
                                                      coffer_test_server_get_user (s), secret,
                                                      NULL, &error);
  g_autoptr(GBytes) big = random_bytes (12 * 1024 * 1024 + 5, 7);
  g_autoptr(GBytes) got = NULL;
  const char *names[] = { "a/1", "a/2", "a/3", NULL };

  g_assert_no_error (error);
  coffer_store_s3_set_part_size (COFFER_STORE_S3 (store), 5 * 1024 * 1024);
  g_assert_true (coffer_store_put (store, "big", big, COFFER_PUT_CREATE, NULL, &error));
  g_assert_no_error (error);
  got = coffer_store_get (store, "big", 0, 0, NULL, &error);
  g_assert_no_error (error);
  assert_same (got, big, 0, g_bytes_get_size (big));
  g_assert_false (coffer_store_put (store, "big", big, COFFER_PUT_CREATE, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS);
  g_clear_error (&error);

  /* DeleteObjects batch */
  for (guint i = 0; names[i]; i++)
    g_assert_true (coffer_store_put (store, names[i], big, COFFER_PUT_REPLACE, NULL, &error));
  {
    gboolean deleted = coffer_store_s3_delete_many (COFFER_STORE_S3 (store), names, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (deleted);
  }
  for (guint i = 0; names[i]; i++)
    {
      g_assert_false (coffer_store_stat (store, names[i], NULL, NULL, &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
      g_clear_error (&error);
    }
  coffer_test_server_stop (s);
}

static void
test_local_baseline (void)
{
  g_autofree char *dir = coffer_test_mkdtemp ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (dir, NULL, &error);

  g_assert_no_error (error);
  measure_put (store, "local");
  coffer_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/store-servers/apache-basic",
                        GINT_TO_POINTER (COFFER_TEST_SERVER_APACHE_BASIC), test_server);
  g_test_add_data_func ("/store-servers/apache-digest",
                        GINT_TO_POINTER (COFFER_TEST_SERVER_APACHE_DIGEST), test_server);
  g_test_add_data_func ("/store-servers/rclone-webdav",
                        GINT_TO_POINTER (COFFER_TEST_SERVER_RCLONE), test_server);
  g_test_add_data_func ("/store-servers/s3", GINT_TO_POINTER (COFFER_TEST_SERVER_S3),
                        test_server);
  g_test_add_func ("/store-servers/s3-multipart", test_s3_multipart);
  g_test_add_func ("/store-servers/local-baseline", test_local_baseline);
  return g_test_run ();
}
