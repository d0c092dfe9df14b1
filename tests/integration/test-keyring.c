/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Runs against a real keyring: tests/integration/run-with-keyring.sh starts
 * it (gnome-keyring-daemon on a private session bus, or libsecret's file
 * backend) in a temporary HOME. */
#define _GNU_SOURCE 1   /* memmem */
#include <string.h>

#include <libsecret/secret.h>

#include <glib/gstdio.h>

#include "coffer-crypto.h"
#include "coffer-error.h"
#include "coffer-keyring.h"

#define REPO_A "0123456789abcdef0123456789abcdef"
#define REPO_B "fedcba9876543210fedcba9876543210"

static void
clear_all (void)
{
  const char *repos[] = { REPO_A, REPO_B };
  const char *kinds[] = { COFFER_KEY_KIND_DEVICE, COFFER_KEY_KIND_WEBDAV, COFFER_KEY_KIND_S3 };

  for (guint r = 0; r < G_N_ELEMENTS (repos); r++)
    for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
      {
        g_autoptr(GError) error = NULL;

        g_assert_true (coffer_keyring_clear_sync (repos[r], kinds[k], NULL, &error));
        g_assert_no_error (error);
      }
}

static void
test_available (void)
{
  g_assert_true (coffer_keyring_is_available ());
}

static void
test_roundtrip (void)
{
  g_autoptr(CofferSecret) secret = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) back = NULL;
  g_autoptr(GError) error = NULL;

  clear_all ();

  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND);
  g_assert_null (back);
  g_clear_error (&error);

  g_assert_true (coffer_keyring_store_sync (REPO_A, COFFER_KEY_KIND_DEVICE, "Coffer device key",
                                            secret, NULL, &error));
  g_assert_no_error (error);

  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_true (coffer_secret_equal (back, secret));
  g_clear_pointer (&back, coffer_secret_free);

  /* Storing again replaces the item. */
  {
    g_autoptr(CofferSecret) newer = coffer_secret_new_random (32);

    g_assert_true (coffer_keyring_store_sync (REPO_A, COFFER_KEY_KIND_DEVICE, "Coffer device key",
                                              newer, NULL, &error));
    g_assert_no_error (error);
    back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (coffer_secret_equal (back, newer));
    g_clear_pointer (&back, coffer_secret_free);
  }

  g_assert_true (coffer_keyring_clear_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error));
  g_assert_no_error (error);
  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND);
  g_assert_null (back);
  g_clear_error (&error);

  /* Clearing nothing is not an error. */
  g_assert_true (coffer_keyring_clear_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error));
  g_assert_no_error (error);
}

static void
test_binary (void)
{
  static const guint8 raw[] = { 0x00, 0x01, 0x00, 0xff, 0x00, 0x80, 0x0a, 0x00, 0xc3, 0x28, 0x00 };
  g_autoptr(CofferSecret) secret = coffer_secret_new_from_data (raw, sizeof raw);
  g_autoptr(CofferSecret) zeros = coffer_secret_new (32);
  g_autoptr(CofferSecret) back = NULL;
  g_autoptr(GError) error = NULL;

  clear_all ();

  g_assert_true (coffer_keyring_store_sync (REPO_A, COFFER_KEY_KIND_DEVICE, "Coffer device key",
                                            secret, NULL, &error));
  g_assert_no_error (error);
  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (back->data, back->len, raw, sizeof raw);
  g_clear_pointer (&back, coffer_secret_free);

  /* All zero bytes */
  g_assert_true (coffer_keyring_store_sync (REPO_A, COFFER_KEY_KIND_S3, "Coffer S3 key",
                                            zeros, NULL, &error));
  g_assert_no_error (error);
  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_S3, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_secret_equal (back, zeros));

  clear_all ();
}

static const SecretSchema *
schema (void)
{
  static const SecretSchema s = {
    "io.github.cofferapp.Coffer.Key", SECRET_SCHEMA_NONE,
    {
      { "repository", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "kind", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  };

  return &s;
}

static void
test_attributes (void)
{
  g_autoptr(CofferSecret) secret = coffer_secret_new_random (32);
  g_autoptr(GError) error = NULL;
  g_autofree char *hex = NULL;
  g_autofree char *b64 = NULL;
  GList *items;
  guint n = 0;

  clear_all ();
  g_assert_true (coffer_keyring_store_sync (REPO_A, COFFER_KEY_KIND_DEVICE, "Coffer device key",
                                            secret, NULL, &error));
  g_assert_no_error (error);

  hex = coffer_hex_encode (secret->data, secret->len);
  b64 = g_base64_encode (secret->data, secret->len);

  items = secret_password_search_sync (schema (), SECRET_SEARCH_ALL | SECRET_SEARCH_UNLOCK,
                                       NULL, &error,
                                       "repository", REPO_A,
                                       NULL);
  g_assert_no_error (error);
  for (GList *l = items; l != NULL; l = l->next)
    {
      g_autoptr(GHashTable) attributes = secret_retrievable_get_attributes (l->data);
      g_autofree char *label = secret_retrievable_get_label (l->data);
      GHashTableIter iter;
      gpointer key, value;

      n++;
      g_assert_cmpstr (g_hash_table_lookup (attributes, "repository"), ==, REPO_A);
      g_assert_cmpstr (g_hash_table_lookup (attributes, "kind"), ==, COFFER_KEY_KIND_DEVICE);
      g_hash_table_iter_init (&iter, attributes);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          /* Only the schema's attributes (and libsecret's schema name). */
          g_assert_true (g_str_equal (key, "repository") || g_str_equal (key, "kind") ||
                         g_str_equal (key, "xdg:schema"));
          g_assert_null (strstr (value, hex));
          g_assert_null (strstr (value, b64));
          g_assert_null (memmem (value, strlen (value), secret->data, 4));
        }
      g_assert_cmpstr (label, ==, "Coffer device key");
    }
  g_list_free_full (items, g_object_unref);
  g_assert_cmpuint (n, ==, 1);

  clear_all ();
}

static void
test_isolation (void)
{
  g_autoptr(CofferSecret) a = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) b = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) back = NULL;
  g_autoptr(GError) error = NULL;

  clear_all ();
  g_assert_true (coffer_keyring_store_sync (REPO_A, COFFER_KEY_KIND_DEVICE, "A", a, NULL, &error));
  g_assert_no_error (error);

  /* B sees nothing of A's, nor does another kind of A. */
  back = coffer_keyring_lookup_sync (REPO_B, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND);
  g_clear_error (&error);
  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_WEBDAV, NULL, &error);
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (coffer_keyring_store_sync (REPO_B, COFFER_KEY_KIND_DEVICE, "B", b, NULL, &error));
  g_assert_no_error (error);

  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_secret_equal (back, a));
  g_clear_pointer (&back, coffer_secret_free);
  back = coffer_keyring_lookup_sync (REPO_B, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_secret_equal (back, b));
  g_clear_pointer (&back, coffer_secret_free);

  /* Clearing A leaves B. */
  g_assert_true (coffer_keyring_clear_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error));
  g_assert_no_error (error);
  back = coffer_keyring_lookup_sync (REPO_B, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_secret_equal (back, b));

  clear_all ();
}

typedef struct
{
  GMainLoop    *loop;
  gboolean      stored;
  CofferSecret *found;
  GError       *error;
} AsyncData;

static void
on_stored (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  AsyncData *data = user_data;

  data->stored = coffer_keyring_store_finish (result, &data->error);
  g_main_loop_quit (data->loop);
}

static void
on_found (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  AsyncData *data = user_data;

  data->found = coffer_keyring_lookup_finish (result, &data->error);
  g_main_loop_quit (data->loop);
}

static void
test_async (void)
{
  g_autoptr(CofferSecret) secret = coffer_secret_new_random (32);
  AsyncData data = { 0 };

  clear_all ();
  data.loop = g_main_loop_new (NULL, FALSE);

  coffer_keyring_store_async (REPO_A, COFFER_KEY_KIND_WEBDAV, "Coffer WebDAV password", secret,
                              NULL, on_stored, &data);
  g_main_loop_run (data.loop);
  g_assert_no_error (data.error);
  g_assert_true (data.stored);

  coffer_keyring_lookup_async (REPO_A, COFFER_KEY_KIND_WEBDAV, NULL, on_found, &data);
  g_main_loop_run (data.loop);
  g_assert_no_error (data.error);
  g_assert_true (coffer_secret_equal (data.found, secret));
  g_clear_pointer (&data.found, coffer_secret_free);

  coffer_keyring_lookup_async (REPO_B, COFFER_KEY_KIND_WEBDAV, NULL, on_found, &data);
  g_main_loop_run (data.loop);
  g_assert_error (data.error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND);
  g_assert_null (data.found);
  g_clear_error (&data.error);

  g_main_loop_unref (data.loop);
  clear_all ();
}

/* Secret Service only: a locked keyring whose unlock prompt cannot be shown
 * (no display here) must give LOCKED, not NOT_FOUND and not a hang. */
static void
test_locked (void)
{
  g_autoptr(CofferSecret) secret = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) back = NULL;
  g_autoptr(SecretService) service = NULL;
  g_autoptr(SecretCollection) collection = NULL;
  g_autoptr(GError) error = NULL;
  GList *objects;

  clear_all ();
  g_assert_true (coffer_keyring_store_sync (REPO_A, COFFER_KEY_KIND_DEVICE, "A", secret, NULL, &error));
  g_assert_no_error (error);

  service = secret_service_get_sync (SECRET_SERVICE_NONE, NULL, &error);
  g_assert_no_error (error);
  collection = secret_collection_for_alias_sync (service, SECRET_COLLECTION_DEFAULT,
                                                 SECRET_COLLECTION_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (collection);
  objects = g_list_append (NULL, collection);
  secret_service_lock_sync (service, objects, NULL, NULL, &error);
  g_list_free (objects);
  g_assert_no_error (error);
  g_assert_true (secret_collection_get_locked (collection));

  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_LOCKED);
  g_assert_null (back);
}

/* In a subprocess: the environment says there is no keyring. Every call must
 * fail with UNAVAILABLE at once (well under a second: no D-Bus timeout, no
 * autolaunch). */
static void
check_unavailable_now (void)
{
  g_autoptr(CofferSecret) secret = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) back = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  AsyncData data = { 0 };

  g_assert_false (coffer_keyring_is_available ());

  back = coffer_keyring_lookup_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error);
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE);
  g_assert_null (back);
  g_clear_error (&error);

  g_assert_false (coffer_keyring_store_sync (REPO_A, COFFER_KEY_KIND_DEVICE, "x", secret, NULL, &error));
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE);
  g_clear_error (&error);

  g_assert_false (coffer_keyring_clear_sync (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, &error));
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE);
  g_clear_error (&error);

  data.loop = g_main_loop_new (NULL, FALSE);
  coffer_keyring_lookup_async (REPO_A, COFFER_KEY_KIND_DEVICE, NULL, on_found, &data);
  g_main_loop_run (data.loop);
  g_assert_error (data.error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE);
  g_clear_error (&data.error);
  g_main_loop_unref (data.loop);

  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);
}

static void
test_disabled (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("COFFER_KEYRING", "none", TRUE);
      check_unavailable_now ();
      return;
    }
  g_test_trap_subprocess (NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_no_bus (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *empty = g_dir_make_tmp ("coffer-nobus-XXXXXX", NULL);

      g_assert_nonnull (empty);
      g_unsetenv ("COFFER_KEYRING");
      g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
      g_unsetenv ("SECRET_BACKEND");
      g_setenv ("XDG_RUNTIME_DIR", empty, TRUE);
      /* A display would let D-Bus autolaunch try X11: it must not be used. */
      g_setenv ("DISPLAY", ":99", TRUE);
      check_unavailable_now ();
      g_rmdir (empty);
      return;
    }
  g_test_trap_subprocess (NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/keyring/available", test_available);
  g_test_add_func ("/keyring/roundtrip", test_roundtrip);
  g_test_add_func ("/keyring/binary", test_binary);
  g_test_add_func ("/keyring/attributes", test_attributes);
  g_test_add_func ("/keyring/isolation", test_isolation);
  g_test_add_func ("/keyring/async", test_async);
  g_test_add_func ("/keyring/disabled", test_disabled);
  /* The file backend has no locked state; the service run covers it. */
  if (g_strcmp0 (g_getenv ("SECRET_BACKEND"), "file") != 0)
    g_test_add_func ("/keyring/locked", test_locked);
  g_test_add_func ("/keyring/no-bus", test_no_bus);

  return g_test_run ();
}
