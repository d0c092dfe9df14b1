/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A hostile HTTP server on 127.0.0.1 for the WebDAV and S3 targets: a real
 * SoupServer in its own thread that answers EVERY request with the current
 * fuzz input: byte 0 picks the status, the rest is the body. The store code
 * under test is the real one, talking real HTTP to it. */
#include <libsoup/soup.h>

#include "fuzz-common.h"

static GMutex fuzz_http_lock;
static GBytes *fuzz_http_body;
static guint fuzz_http_status = 200;
static guint fuzz_http_requests;
static char *fuzz_http_base;   /* "http://127.0.0.1:PORT/" */

static const guint fuzz_http_statuses[] = { 200, 207, 200, 207, 404, 403, 500, 400, 501, 412, 409, 301 };

static void
fuzz_http_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
                   GHashTable *query, gpointer user_data)
{
  g_autoptr(GBytes) body = NULL;
  guint status;

  g_mutex_lock (&fuzz_http_lock);
  body = fuzz_http_body ? g_bytes_ref (fuzz_http_body) : g_bytes_new (NULL, 0);
  status = fuzz_http_status;
  fuzz_http_requests++;
  g_mutex_unlock (&fuzz_http_lock);

  soup_server_message_set_status (msg, status, NULL);
  if (status == 301)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location",
                                  "/elsewhere/");
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "ETag", "\"fuzz\"");
  if (g_bytes_get_size (body) > 0)
    soup_message_body_append_bytes (soup_server_message_get_response_body (msg), body);
}

static gpointer
fuzz_http_thread (gpointer data)
{
  GMainContext *ctx = g_main_context_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (ctx, FALSE);
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (ctx);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, fuzz_http_handler, NULL, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  g_mutex_lock (&fuzz_http_lock);
  fuzz_http_base = g_uri_to_string (uris->data);
  g_mutex_unlock (&fuzz_http_lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_main_loop_run (loop);
  return NULL;
}

/* Starts the server; returns its base URL. */
static inline const char *
fuzz_http_start (void)
{
  g_thread_new ("fuzz-http", fuzz_http_thread, NULL);
  for (;;)
    {
      gboolean up;
      g_mutex_lock (&fuzz_http_lock);
      up = fuzz_http_base != NULL;
      g_mutex_unlock (&fuzz_http_lock);
      if (up)
        return fuzz_http_base;
      g_usleep (1000);   /* start-up only, not test synchronisation */
    }
}

/* Sets what every request gets from now on. */
static inline void
fuzz_http_answer (const uint8_t *data, size_t size)
{
  g_mutex_lock (&fuzz_http_lock);
  g_clear_pointer (&fuzz_http_body, g_bytes_unref);
  fuzz_http_status = size > 0 ? fuzz_http_statuses[data[0] % G_N_ELEMENTS (fuzz_http_statuses)] : 200;
  fuzz_http_body = size > 0 ? g_bytes_new (data + 1, size - 1) : g_bytes_new (NULL, 0);
  fuzz_http_requests = 0;
  g_mutex_unlock (&fuzz_http_lock);
}

static inline guint
fuzz_http_request_count (void)
{
  guint n;
  g_mutex_lock (&fuzz_http_lock);
  n = fuzz_http_requests;
  g_mutex_unlock (&fuzz_http_lock);
  return n;
}
