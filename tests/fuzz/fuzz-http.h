/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A hostile HTTP server on 127.0.0.1 for the WebDAV and S3 targets: a real
 * SoupServer in its own thread that answers EVERY request with the current
 * fuzz input: byte 0 picks the status, the rest is the body. The store code
 * under test is the real one, talking real HTTP to it. */
#include <libsoup/soup.h>

#include "fuzz-common.h"
#include "test-http-server.h"

static GMutex fuzz_http_lock;
static GBytes *fuzz_http_body;
static guint fuzz_http_status = 200;
static guint fuzz_http_requests;

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

/* Starts the server; returns its base URL. */
static inline const char *
fuzz_http_start (void)
{
  return test_http_server_start (fuzz_http_handler);
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
