/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Attack: the storage decides how large an object is and what password
 * settings an envelope asks for. If a reader allocated and read whatever
 * it is offered before checking it, a 1 TiB "config" or a server that
 * announces (or just keeps sending) a gigabyte would exhaust the client's
 * memory; and password envelopes planted under many category ids, each
 * with its own salt and the heaviest Argon2id settings, would each cost a
 * derivation.
 *
 * - A local store whose config is a 1 TiB sparse file: refused from its
 *   size, nothing allocated.
 * - A WebDAV server (a raw socket server on 127.0.0.1 inside the test)
 *   that announces 256 MiB for the config, and one that sends an endless
 *   body without a length: the client refuses after at most the limit, and
 *   the server manages to send only a few MiB (socket buffers).
 * - Argon2id settings above what this client writes (plus tolerance) are
 *   refused before deriving, and one session derives at most 16 distinct
 *   password keys. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>

#include "coffer-crypto.h"
#include "coffer-repository-private.h"
#include "coffer-store-private.h"
#include "repo-fixture.h"

#define PASSWORD "size limits password"
#define MiB (1024 * 1024)

/* ---- a raw HTTP server that sends as much as it is allowed to ---- */

typedef struct
{
  GSocketListener *listener;
  guint16          port;
  GThread         *thread;
  GCancellable    *cancel;
  gboolean         announce;    /* Content-Length: 256 MiB, else endless, connection-delimited */
  guint64          sent;        /* body bytes written until the client hung up */
  guint            requests;
} RawServer;

static gpointer
raw_server_thread (gpointer data)
{
  RawServer *s = data;
  const guint64 announced = 256 * MiB;

  /* Serves requests until the test closes the listener. */
  for (;;)
    {
      g_autoptr(GSocketConnection) conn = g_socket_listener_accept (s->listener, NULL, s->cancel, NULL);
      GInputStream *in;
      GOutputStream *out;
      g_autoptr(GString) request = g_string_new (NULL);
      g_autofree char *head = NULL;
      guint8 zeros[65536] = { 0 };
      guint64 sent = 0;

      if (conn == NULL)
        return NULL;
      in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
      out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
      while (strstr (request->str, "\r\n\r\n") == NULL)
        {
          char c;
          if (g_input_stream_read (in, &c, 1, NULL, NULL) != 1)
            break;
          g_string_append_c (request, c);
        }
      if (s->announce)
        head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Length: %" G_GUINT64_FORMAT "\r\n"
                                "Content-Type: application/octet-stream\r\n\r\n", announced);
      else
        head = g_strdup ("HTTP/1.1 200 OK\r\nConnection: close\r\n"
                         "Content-Type: application/octet-stream\r\n\r\n");
      g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL);
      /* Until the client closes the connection (or 256 MiB). */
      while (sent < announced)
        {
          gsize n = 0;
          if (!g_output_stream_write_all (out, zeros, sizeof zeros, &n, NULL, NULL))
            break;
          sent += n;
        }
      g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
      g_atomic_int_inc (&s->requests);
      s->sent = MAX (s->sent, sent);
    }
}

static RawServer *
raw_server_start (gboolean announce)
{
  RawServer *s = g_new0 (RawServer, 1);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  s->announce = announce;
  s->cancel = g_cancellable_new ();
  s->listener = g_socket_listener_new ();
  g_assert_true (g_socket_listener_add_address (s->listener, addr, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error));
  g_assert_no_error (error);
  s->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  s->thread = g_thread_new ("raw-http", raw_server_thread, s);
  return s;
}

static void
raw_server_stop (RawServer *s, guint64 *sent)
{
  g_cancellable_cancel (s->cancel);
  g_thread_join (s->thread);
  *sent = s->sent;
  g_socket_listener_close (s->listener);
  g_object_unref (s->listener);
  g_object_unref (s->cancel);
  g_free (s);
}

static void
assert_too_large (const GError *error)
{
  g_assert_nonnull (error);
  g_test_message ("refused: %s", error->message);
  g_assert_true (error->domain == COFFER_STORE_ERROR || error->domain == COFFER_REPO_ERROR);
  g_assert_nonnull (strstr (error->message, "it was not read"));
}

static void
check_webdav (gboolean announce)
{
  RawServer *s = raw_server_start (announce);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/repo/", s->port);
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) inner = coffer_store_webdav_new (url, NULL, NULL, NULL, &error);
  g_autoptr(CofferStore) store = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GBytes) meta = NULL;

  g_assert_no_error (error);
  store = coffer_store_retry_new (inner, 2, 0);
  repo = coffer_repository_open (store, NULL, &error);
  g_assert_null (repo);
  assert_too_large (error);
  g_clear_error (&error);

  /* A key object through the store API, as the engine asks for it. */
  meta = coffer_store_get_limited (store, "keys/recovery", COFFER_MAX_KEY_OBJECT_BYTES, NULL, &error);
  g_assert_null (meta);
  assert_too_large (error);

  /* The client has closed its connections: the server's writes fail. */
  fixture_close (&repo);
  g_clear_object (&store);
  g_clear_object (&inner);
  {
    guint64 sent;

    raw_server_stop (s, &sent);
    g_test_message ("the server sent %" G_GUINT64_FORMAT " bytes", sent);
    /* Not 256 MiB: the client stopped at the limit (what the kernel's
     * socket buffers took on top is all the server could push). */
    g_assert_cmpuint (sent, <, 16 * MiB);
  }
}

static void
test_webdav_announced (void)
{
  check_webdav (TRUE);
}

static void
test_webdav_endless (void)
{
  check_webdav (FALSE);
}

/* A 1 TiB sparse file as config: a reader that allocated first would ask
 * for a terabyte. */
static void
test_local_sparse_config (void)
{
  g_autofree char *dir = fixture_dir ("sparse");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = fixture_create (dir, PASSWORD, &rk);
  g_autofree char *config = g_build_filename (dir, "config", NULL);
  g_autofree char *recovery = g_build_filename (dir, "keys", "recovery", NULL);
  g_autoptr(GError) error = NULL;
  g_auto(FixtureRepository) again = NULL;
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(GBytes) bytes = NULL;

  fixture_close (&repo);
  g_assert_cmpint (truncate (config, G_GUINT64_CONSTANT (1) << 40), ==, 0);
  again = fixture_open (dir, PASSWORD, NULL, &error);
  g_assert_null (again);
  assert_too_large (error);
  g_clear_error (&error);

  /* The same for a key object, read through the GIO code path too. */
  g_assert_cmpint (truncate (recovery, G_GUINT64_CONSTANT (1) << 40), ==, 0);
  store = fixture_store (dir);
  bytes = coffer_store_get_limited (store, "keys/recovery", COFFER_MAX_KEY_OBJECT_BYTES, NULL, &error);
  g_assert_null (bytes);
  assert_too_large (error);
  g_clear_error (&error);
  coffer_store_local_set_use_gio (COFFER_STORE_LOCAL (store), TRUE);
  bytes = coffer_store_get_limited (store, "keys/recovery", COFFER_MAX_KEY_OBJECT_BYTES, NULL, &error);
  g_assert_null (bytes);
  assert_too_large (error);
}

/* Settings no Coffer writes are refused before any work: 20 passes would
 * have been accepted before (at the test minimum of memory, so the old
 * behaviour costs nothing to show). */
static void
test_kdf_settings_capped (void)
{
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) key = NULL;
  CofferKdfParams params;

  coffer_kdf_params_new (&params);   /* the fast test profile */
  params.opslimit = 20;
  key = coffer_kdf_derive (password, &params, &error);
  g_assert_null (key);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  /* 1 GiB and 8 passes: each within its own cap, together too much work. */
  params.opslimit = 8;
  params.memlimit = G_GUINT64_CONSTANT (1) << 30;
  key = coffer_kdf_derive (password, &params, &error);
  g_assert_null (key);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
}

/* Planted envelopes each bring their own salt: a session derives at most
 * 16 distinct keys, and asking again for one it has costs nothing. */
static void
test_kdf_session_budget (void)
{
  g_autofree char *dir = fixture_dir ("budget");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) created = fixture_create (dir, PASSWORD, &rk);
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  guint derived = 0;

  g_clear_object (&created);
  fixture_fresh_computer ();
  repo = fixture_open (dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < 40; i++)
    {
      CofferKdfParams params;
      const CofferSecret *key;

      coffer_kdf_params_new (&params);
      memset (params.salt, 0, sizeof params.salt);
      params.salt[0] = 0xa0;
      params.salt[1] = i;
      key = _coffer_repository_password_key (repo, &params, &error);
      if (key == NULL)
        {
          g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
          g_test_message ("refused after %u: %s", derived, error->message);
          g_clear_error (&error);
          /* Asking again for a key it has is still answered. */
          params.salt[1] = 0;
          g_assert_nonnull (_coffer_repository_password_key (repo, &params, &error));
          g_assert_no_error (error);
          continue;
        }
      derived++;
    }
  /* The opening itself may have derived one or two. */
  g_assert_cmpuint (derived, <=, 16);
  g_assert_cmpuint (derived, >=, 13);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/attacks/size-limits/local-sparse-config", test_local_sparse_config);
  g_test_add_func ("/attacks/size-limits/webdav-announced", test_webdav_announced);
  g_test_add_func ("/attacks/size-limits/webdav-endless", test_webdav_endless);
  g_test_add_func ("/attacks/size-limits/kdf-settings-capped", test_kdf_settings_capped);
  g_test_add_func ("/attacks/size-limits/kdf-session-budget", test_kdf_session_budget);
  return g_test_run ();
}
