/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Attack: the WebDAV server (or whoever answers in its name) redirects a
 * request to a host of its choosing and asks there for the password. If the
 * client followed the redirect and answered any challenge, the user's
 * WebDAV password would go to that host: the storage adversary would turn
 * its position into the user's cloud account.
 *
 * Two tiny HTTP servers run inside the test, on 127.0.0.1 (the configured
 * repository) and on 127.0.0.2 (the attacker's host; both are loopback).
 * The first answers 302 to the second, which answers 401 with a Basic
 * challenge and records every Authorization header it is sent. Coffer must
 * refuse the redirect with an error naming the target, and the second host
 * must never see the credentials. The configured host itself still gets
 * them when it asks. */
#include <string.h>
#include <gio/gio.h>
#include <libsoup/soup.h>

#include "coffer-error.h"
#include "coffer-secret.h"
#include "coffer-store-private.h"
#include "repo-fixture.h"

#define USER "alice"
#define PASSWORD "webdav-password-that-must-stay-home"

typedef struct
{
  SoupServer   *server;
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  const char   *address;   /* "127.0.0.1" */
  guint         port;
  char         *redirect_to; /* base URL of the other server, or NULL */
  GMutex        lock;
  guint         requests;
  guint         with_authorization;
  GCond         ready_cond;
  gboolean      ready;
} Server;

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer user_data)
{
  Server *s = user_data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const char *authorization = soup_message_headers_get_one (req, "Authorization");
  g_autofree char *expected = NULL;
  g_autofree char *plain = g_strdup_printf ("%s:%s", USER, PASSWORD);
  g_autofree char *b64 = g_base64_encode ((const guchar *) plain, strlen (plain));

  g_mutex_lock (&s->lock);
  s->requests++;
  if (authorization != NULL)
    s->with_authorization++;
  g_mutex_unlock (&s->lock);

  expected = g_strconcat ("Basic ", b64, NULL);
  if (s->redirect_to != NULL && !g_str_has_prefix (path, "/home/"))
    {
      g_autofree char *location = g_strconcat (s->redirect_to, path + 1, NULL);
      soup_server_message_set_redirect (msg, 302, location);
      return;
    }
  if (g_strcmp0 (authorization, expected) != 0)
    {
      soup_message_headers_replace (resp, "WWW-Authenticate", "Basic realm=\"coffer\"");
      soup_server_message_set_status (msg, 401, NULL);
      return;
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/octet-stream", SOUP_MEMORY_COPY, "hello", 5);
}

static gpointer
server_thread (gpointer data)
{
  Server *s = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (s->address);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (inet, 0);
  GSList *uris;

  g_main_context_push_thread_default (s->context);
  s->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (s->server, NULL, handle, s, NULL);
  g_assert_true (soup_server_listen (s->server, addr, 0, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (s->server);
  s->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_mutex_lock (&s->lock);
  s->ready = TRUE;
  g_cond_signal (&s->ready_cond);
  g_mutex_unlock (&s->lock);

  g_main_loop_run (s->loop);
  soup_server_disconnect (s->server);
  g_clear_object (&s->server);
  g_main_context_pop_thread_default (s->context);
  return NULL;
}

static Server *
server_start (const char *address, const char *redirect_to)
{
  Server *s = g_new0 (Server, 1);

  s->address = address;
  s->redirect_to = g_strdup (redirect_to);
  s->context = g_main_context_new ();
  s->loop = g_main_loop_new (s->context, FALSE);
  g_mutex_init (&s->lock);
  g_cond_init (&s->ready_cond);
  s->thread = g_thread_new ("http-server", server_thread, s);
  g_mutex_lock (&s->lock);
  while (!s->ready)
    g_cond_wait (&s->ready_cond, &s->lock);
  g_mutex_unlock (&s->lock);
  return s;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
server_stop (Server *s)
{
  g_main_context_invoke (s->context, quit_loop, s->loop);
  g_thread_join (s->thread);
  g_main_loop_unref (s->loop);
  g_main_context_unref (s->context);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->ready_cond);
  g_free (s->redirect_to);
  g_free (s);
}

static char *
server_url (Server *s, const char *path)
{
  return g_strdup_printf ("http://%s:%u%s", s->address, s->port, path);
}

static CofferStore *
open_store (Server *s, const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  g_autofree char *url = server_url (s, path);
  CofferStore *store = coffer_store_webdav_new (url, USER, password, NULL, &error);

  g_assert_no_error (error);
  return store;
}

static void
test_redirect_to_other_host (void)
{
  Server *attacker = server_start ("127.0.0.2", NULL);
  g_autofree char *attacker_base = server_url (attacker, "/");
  Server *home = server_start ("127.0.0.1", attacker_base);
  g_autoptr(CofferStore) store = open_store (home, "/repo/");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = NULL;
  guint64 size = 0;

  /* Each kind of request the store makes. */
  data = coffer_store_get (store, "config", 0, 0, NULL, &error);
  g_test_message ("get: %s", error ? error->message : "(no error)");
  g_assert_null (data);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "127.0.0.2"));
  g_assert_nonnull (strstr (error->message, "redirect"));
  g_clear_error (&error);

  g_assert_false (coffer_store_stat (store, "config", &size, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  {
    g_autoptr(GBytes) body = g_bytes_new_static ("x", 1);
    g_assert_false (coffer_store_put (store, "keys/x", body, COFFER_PUT_CREATE, NULL, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
  }

  /* The attacker's host never saw the password; with redirects refused it
   * was not even contacted. */
  g_mutex_lock (&attacker->lock);
  g_assert_cmpuint (attacker->with_authorization, ==, 0);
  g_assert_cmpuint (attacker->requests, ==, 0);
  g_mutex_unlock (&attacker->lock);
  g_mutex_lock (&home->lock);
  g_assert_cmpuint (home->requests, >, 0);
  g_mutex_unlock (&home->lock);

  server_stop (home);
  server_stop (attacker);
}

/* The configured server still gets the password when it asks (over plain
 * HTTP only because it is a loopback address). */
static void
test_home_still_authenticates (void)
{
  Server *home = server_start ("127.0.0.1", NULL);
  g_autoptr(CofferStore) store = open_store (home, "/home/");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = NULL;

  data = coffer_store_get (store, "config", 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (data, NULL), g_bytes_get_size (data), "hello", 5);
  g_mutex_lock (&home->lock);
  g_assert_cmpuint (home->with_authorization, ==, 1);
  g_mutex_unlock (&home->lock);
  server_stop (home);
}

/* Basic over plain HTTP goes only to loopback hosts; the decision is made
 * from the configured name, without resolving it. */
static void
test_loopback_names (void)
{
  g_assert_true (coffer_store_http_is_loopback_host ("localhost"));
  g_assert_true (coffer_store_http_is_loopback_host ("127.0.0.1"));
  g_assert_true (coffer_store_http_is_loopback_host ("127.0.0.2"));
  g_assert_true (coffer_store_http_is_loopback_host ("[::1]"));
  g_assert_true (coffer_store_http_is_loopback_host ("::1"));
  g_assert_false (coffer_store_http_is_loopback_host ("nas.local"));
  g_assert_false (coffer_store_http_is_loopback_host ("192.0.2.7"));
  g_assert_false (coffer_store_http_is_loopback_host ("localhost.example.org"));
  g_assert_false (coffer_store_http_is_loopback_host (NULL));
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/attacks/webdav-redirect/other-host", test_redirect_to_other_host);
  g_test_add_func ("/attacks/webdav-redirect/home-authenticates", test_home_still_authenticates);
  g_test_add_func ("/attacks/webdav-redirect/loopback-names", test_loopback_names);
  return g_test_run ();
}
