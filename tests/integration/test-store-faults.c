/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fault tests: a proxy between the store and a real server drops
 * connections, answers 500/503, stalls and truncates responses for a share
 * of the requests. Every store operation must still complete through the
 * retry layer, with the right bytes. */
#include "coffer-store-private.h"
#include "coffer-error.h"
#include "faultproxy.h"
#include "servers.h"
#include "test-utils.h"

#include <string.h>

#define N_OBJECTS 24

static GBytes *
random_bytes (gsize len, guint32 seed)
{
  guint8 *buf = g_malloc (len);
  GRand *r = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < len; i++)
    buf[i] = g_rand_int (r);
  g_rand_free (r);
  return g_bytes_new_take (buf, len);
}

static gboolean
count (const char *name, guint64 size, gpointer user_data)
{
  (*(guint *) user_data)++;
  return TRUE;
}

static void
test_faults (gconstpointer data)
{
  CofferTestServerKind kind = GPOINTER_TO_INT (data);
  CofferTestServer *s = coffer_test_server_start (kind);
  /* About one connection in six is sabotaged. */
  CofferFaultPlan plan = { .drop = 40, .error500 = 25, .error503 = 25, .stall = 30,
                           .truncate = 40, .stall_ms = 200, .seed = 4 };
  CofferFaultProxy *proxy = coffer_fault_proxy_start (coffer_test_server_get_port (s), &plan);
  CofferStoreOptions options = *coffer_test_server_get_options (s);
  g_autofree char *endpoint = NULL;
  g_autofree char *location = NULL;
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(GError) error = NULL;
  GBytes *objects[N_OBJECTS];
  guint listed = 0;

  coffer_test_server_set_env (s);
  if (kind == COFFER_TEST_SERVER_S3)
    {
      endpoint = g_strdup_printf ("http://127.0.0.1:%u", coffer_fault_proxy_get_port (proxy));
      options.s3_endpoint = endpoint;
      location = g_strdup (coffer_test_server_get_location (s));
    }
  else
    {
      const char *loc = coffer_test_server_get_location (s);
      const char *path = strchr (loc + strlen ("webdav://"), '/');
      location = g_strdup_printf ("webdav://127.0.0.1:%u%s", coffer_fault_proxy_get_port (proxy),
                                  path);
    }
  store = coffer_store_open (location, &options, &error);
  g_assert_no_error (error);
  /* Short delays so the test is quick; more tries than the default because
   * a sixth of all connections fail here, far worse than a bad network (a
   * WebDAV listing of 4 folders needs 5 requests to succeed in a row). */
  coffer_store_retry_set_policy (COFFER_STORE_RETRY (store), 14, 5 * 1000, 100 * 1000);

  for (guint i = 0; i < N_OBJECTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("packs/%02x/obj-%u", i % 4, i);
      objects[i] = random_bytes (64 * 1024 + i * 4099, i + 1);
      g_assert_true (coffer_store_put (store, name, objects[i], COFFER_PUT_CREATE, NULL, &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < N_OBJECTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("packs/%02x/obj-%u", i % 4, i);
      g_autoptr(GBytes) got = coffer_store_get (store, name, 0, 0, NULL, &error);
      g_autoptr(GBytes) part = coffer_store_get (store, name, 1000, 5000, NULL, &error);
      guint64 size = 0;

      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (got, objects[i]));
      g_assert_cmpmem (g_bytes_get_data (part, NULL), 5000,
                       (const guint8 *) g_bytes_get_data (objects[i], NULL) + 1000, 5000);
      g_assert_true (coffer_store_stat (store, name, &size, NULL, &error));
      g_assert_cmpuint (size, ==, g_bytes_get_size (objects[i]));
      /* create-only stays create-only through retries (a different size
       * is never mistaken for our own earlier write) */
      g_assert_false (coffer_store_put (store, name, part, COFFER_PUT_CREATE, NULL, &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS);
      g_clear_error (&error);
    }
  g_assert_true (coffer_store_list (store, "packs/", count, &listed, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (listed, ==, N_OBJECTS);
  for (guint i = 0; i < N_OBJECTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("packs/%02x/obj-%u", i % 4, i);
      g_assert_true (coffer_store_delete (store, name, NULL, &error));
      g_assert_no_error (error);
      g_bytes_unref (objects[i]);
    }
  listed = 0;
  g_assert_true (coffer_store_list (store, "packs/", count, &listed, NULL, &error));
  g_assert_cmpuint (listed, ==, 0);

  g_test_message ("%s: %u sabotaged connections, %u retries", coffer_test_server_get_name (s),
                  coffer_fault_proxy_get_faults (proxy),
                  coffer_store_retry_get_retries (COFFER_STORE_RETRY (store)));
  g_assert_cmpuint (coffer_fault_proxy_get_faults (proxy), >, 10);
  g_assert_cmpuint (coffer_store_retry_get_retries (COFFER_STORE_RETRY (store)), >, 0);

  g_clear_object (&store);
  coffer_fault_proxy_stop (proxy);
  coffer_test_server_stop (s);
}

int
main (int argc, char **argv)
{
  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/store-faults/apache", GINT_TO_POINTER (COFFER_TEST_SERVER_APACHE_BASIC),
                        test_faults);
  g_test_add_data_func ("/store-faults/s3", GINT_TO_POINTER (COFFER_TEST_SERVER_S3), test_faults);
  return g_test_run ();
}
