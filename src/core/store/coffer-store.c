/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "coffer-store.h"
#include "coffer-store-private.h"
#include "coffer-error.h"

#include <string.h>
#include <glib/gi18n-lib.h>

G_DEFINE_INTERFACE (CofferStore, coffer_store, G_TYPE_OBJECT)

static void
coffer_store_default_init (CofferStoreInterface *iface)
{
}

gboolean
coffer_store_put (CofferStore *self, const char *name, GBytes *data, CofferPutMode mode,
                  GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (COFFER_IS_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!coffer_store_check_name (name, error))
    return FALSE;
  /* Stores whose puts are durable on return need no deferred mode. */
  if (mode == COFFER_PUT_CREATE_UNSYNCED && COFFER_STORE_GET_IFACE (self)->flush == NULL)
    mode = COFFER_PUT_CREATE;
  return COFFER_STORE_GET_IFACE (self)->put (self, name, data, mode, cancellable, error);
}

GBytes *
coffer_store_get (CofferStore *self, const char *name, guint64 offset, guint64 length,
                  GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (COFFER_IS_STORE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!coffer_store_check_name (name, error))
    return NULL;
  return COFFER_STORE_GET_IFACE (self)->get (self, name, offset, length, cancellable, error);
}

gboolean
coffer_store_read_into (CofferStore *self, const char *name, guint64 offset, guint64 length,
                        guint8 *buf, GCancellable *cancellable, GError **error)
{
  CofferStoreInterface *iface;
  g_autoptr(GBytes) bytes = NULL;

  g_return_val_if_fail (COFFER_IS_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (length > 0 && buf != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!coffer_store_check_name (name, error))
    return FALSE;
  iface = COFFER_STORE_GET_IFACE (self);
  if (iface->read_into != NULL)
    return iface->read_into (self, name, offset, length, buf, cancellable, error);
  bytes = iface->get (self, name, offset, length, cancellable, error);
  if (bytes == NULL)
    return FALSE;
  if (g_bytes_get_size (bytes) != length)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The object “%s” is shorter than the requested range."), name);
      return FALSE;
    }
  memcpy (buf, g_bytes_get_data (bytes, NULL), length);
  return TRUE;
}

static void
set_too_large (GError **error, const char *name, guint64 size, guint64 max_size)
{
  g_autofree char *have = g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *limit = g_format_size_full (max_size, G_FORMAT_SIZE_IEC_UNITS);

  g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
               _("The object “%s” is %s, more than the %s such an object may have; it was not read. "
               "The repository may have been tampered with."), name, have, limit);
}

void
coffer_store_set_too_large_error (GError **error, const char *name, guint64 size, guint64 max_size)
{
  set_too_large (error, name, size, max_size);
}

GBytes *
coffer_store_get_limited (CofferStore *self, const char *name, guint64 max_size,
                          GCancellable *cancellable, GError **error)
{
  CofferStoreInterface *iface;
  guint64 size = 0;

  g_return_val_if_fail (COFFER_IS_STORE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (max_size > 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!coffer_store_check_name (name, error))
    return NULL;
  iface = COFFER_STORE_GET_IFACE (self);
  if (iface->get_limited != NULL)
    return iface->get_limited (self, name, max_size, cancellable, error);
  if (!iface->stat (self, name, &size, cancellable, error))
    return NULL;
  if (size > max_size)
    {
      set_too_large (error, name, size, max_size);
      return NULL;
    }
  if (size == 0)
    return g_bytes_new (NULL, 0);
  return iface->get (self, name, 0, size, cancellable, error);
}

gboolean
coffer_store_list (CofferStore *self, const char *prefix, CofferStoreListFunc func,
                   gpointer user_data, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (COFFER_IS_STORE (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (prefix == NULL)
    prefix = "";
  if (prefix[0] == '/' || strstr (prefix, "..") != NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The prefix “%s” is not a valid object name prefix."), prefix);
      return FALSE;
    }
  return COFFER_STORE_GET_IFACE (self)->list (self, prefix, func, user_data, cancellable, error);
}

gboolean
coffer_store_delete (CofferStore *self, const char *name, GCancellable *cancellable,
                     GError **error)
{
  g_return_val_if_fail (COFFER_IS_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!coffer_store_check_name (name, error))
    return FALSE;
  return COFFER_STORE_GET_IFACE (self)->delete (self, name, cancellable, error);
}

gboolean
coffer_store_stat (CofferStore *self, const char *name, guint64 *size,
                   GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (COFFER_IS_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!coffer_store_check_name (name, error))
    return FALSE;
  return COFFER_STORE_GET_IFACE (self)->stat (self, name, size, cancellable, error);
}

gboolean
coffer_store_flush (CofferStore *self, GCancellable *cancellable, GError **error)
{
  CofferStoreInterface *iface;

  g_return_val_if_fail (COFFER_IS_STORE (self), FALSE);

  iface = COFFER_STORE_GET_IFACE (self);
  if (iface->flush == NULL)
    return TRUE;
  return iface->flush (self, cancellable, error);
}

gboolean
coffer_store_remove_stale_temporaries (CofferStore *self, const char *prefix, gint64 max_age_seconds,
                                       guint64 *removed_bytes, GCancellable *cancellable, GError **error)
{
  CofferStoreInterface *iface;
  guint64 removed = 0;
  gboolean ok = TRUE;

  g_return_val_if_fail (COFFER_IS_STORE (self), FALSE);
  g_return_val_if_fail (prefix != NULL, FALSE);

  iface = COFFER_STORE_GET_IFACE (self);
  if (iface->remove_stale_temporaries != NULL)
    ok = iface->remove_stale_temporaries (self, prefix, MAX (max_age_seconds, 0), &removed,
                                          cancellable, error);
  if (removed_bytes != NULL)
    *removed_bytes += removed;
  return ok;
}

char *
coffer_store_describe (CofferStore *self)
{
  g_return_val_if_fail (COFFER_IS_STORE (self), NULL);

  return COFFER_STORE_GET_IFACE (self)->describe (self);
}

/* ---- helpers shared by the backends ---- */

gboolean
coffer_store_check_name (const char *name, GError **error)
{
  g_auto(GStrv) parts = NULL;

  if (name[0] == '\0' || name[0] == '/' || g_str_has_suffix (name, "/"))
    goto bad;
  parts = g_strsplit (name, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (parts[i][0] == '\0' || g_str_equal (parts[i], ".") || g_str_equal (parts[i], "..")
          || g_str_has_prefix (parts[i], COFFER_STORE_TMP_PREFIX))
        goto bad;
    }
  if (!g_utf8_validate (name, -1, NULL))
    goto bad;
  return TRUE;

bad:
  g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
               _("The object name “%s” is not valid."), name);
  return FALSE;
}

char *
coffer_store_escape_path (const char *path)
{
  GString *out = g_string_new (NULL);
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_autofree char *seg = g_uri_escape_string (parts[i], NULL, FALSE);
      if (i > 0)
        g_string_append_c (out, '/');
      g_string_append (out, seg);
    }
  return g_string_free (out, FALSE);
}

char *
coffer_store_random_token (void)
{
  return g_strdup_printf ("%08x%08x%08x", g_random_int (), g_random_int (), g_random_int ());
}

gboolean
coffer_store_http_is_loopback_host (const char *host)
{
  g_autoptr(GInetAddress) addr = NULL;
  g_autofree char *bare = NULL;

  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  bare = host[0] == '[' && g_str_has_suffix (host, "]") ? g_strndup (host + 1, strlen (host) - 2)
                                                      : g_strdup (host);
  addr = g_inet_address_new_from_string (bare);
  return addr != NULL && g_inet_address_get_is_loopback (addr);
}

SoupSession *
coffer_store_http_session_new (const char *ca_file, guint max_conns, GError **error)
{
  g_autoptr(SoupSession) session = NULL;

  if (max_conns == 0)
    max_conns = 8;
  session = soup_session_new_with_options ("max-conns", max_conns + 2,
                                           "max-conns-per-host", max_conns + 2,
                                           "timeout", 120,
                                           "idle-timeout", 60,
                                           "user-agent", "Coffer/" PACKAGE_VERSION " ",
                                           NULL);
  if (ca_file != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GTlsDatabase) db = g_tls_file_database_new (ca_file, &local_error);
      if (db == NULL)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_TLS,
                       _("Could not load the certificate authorities from “%s”: %s"),
                       ca_file, local_error->message);
          return NULL;
        }
      soup_session_set_tls_database (session, db);
    }
  return g_steal_pointer (&session);
}

#define MAX_BODY_KEY "coffer-max-body"
/* An error response's body is only read for its message. */
#define MAX_ERROR_BODY (64 * 1024)

void
coffer_store_http_set_max_body (SoupMessage *msg, guint64 max_body)
{
  g_object_set_data_full (G_OBJECT (msg), MAX_BODY_KEY, g_memdup2 (&max_body, sizeof max_body), g_free);
}

/* Sends msg and reads at most max_body bytes of a successful response
 * (MAX_ERROR_BODY of another): an announced Content-Length above the limit
 * is refused before a byte of the body is read, and so is a body that goes
 * on past it. *too_large tells the caller which. */
static GBytes *
send_and_read_limited (SoupSession *session, SoupMessage *msg, guint64 max_body, guint64 *too_large,
                       GCancellable *cancellable, GError **error)
{
  g_autoptr(GInputStream) in = soup_session_send (session, msg, cancellable, error);
  g_autoptr(GByteArray) buf = NULL;
  SoupMessageHeaders *h;
  guint64 cap;

  if (in == NULL)
    return NULL;
  h = soup_message_get_response_headers (msg);
  cap = SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (msg)) ? max_body : MAX_ERROR_BODY;
  if (cap == max_body && soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH
      && (guint64) soup_message_headers_get_content_length (h) > cap)
    {
      *too_large = soup_message_headers_get_content_length (h);
      g_input_stream_close (in, NULL, NULL);
      return g_bytes_new (NULL, 0);
    }
  buf = g_byte_array_new ();
  for (;;)
    {
      guint8 chunk[16384];
      gssize n = g_input_stream_read (in, chunk, sizeof chunk, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      if (buf->len + (guint64) n > cap)
        {
          g_input_stream_close (in, NULL, NULL);
          if (cap != max_body)
            {
              g_byte_array_append (buf, chunk, cap - buf->len);
              break;   /* an error page: its start is enough */
            }
          *too_large = buf->len + (guint64) n;
          return g_bytes_new (NULL, 0);
        }
      g_byte_array_append (buf, chunk, n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}

GBytes *
coffer_store_http_send (SoupSession *session, SoupMessage *msg, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr(GError) local_error = NULL;
  GBytes *body;
  const guint64 *max_body = g_object_get_data (G_OBJECT (msg), MAX_BODY_KEY);
  guint64 too_large = 0;

  /* Never follow a redirect: libsoup would re-send the request, with the
   * Authorization header or signature it carries and the body, to whatever
   * host the answer names, and would answer that host's challenge too. The
   * storage is not trusted to choose where credentials go. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  if (max_body != NULL)
    body = send_and_read_limited (session, msg, *max_body, &too_large, cancellable, &local_error);
  else
    body = soup_session_send_and_read (session, msg, cancellable, &local_error);
  if (body != NULL && too_large > 0)
    {
      g_bytes_unref (body);
      set_too_large (error, g_uri_get_path (soup_message_get_uri (msg)), too_large, *max_body);
      return NULL;
    }
  if (body != NULL)
    {
      SoupMessageHeaders *h = soup_message_get_response_headers (msg);
      guint status = soup_message_get_status (msg);

      if (SOUP_STATUS_IS_REDIRECTION (status) && status != 304)
        {
          const char *location = soup_message_headers_get_one (h, "Location");
          g_autoptr(GUri) target = location ? g_uri_parse_relative (soup_message_get_uri (msg), location,
                                                                    G_URI_FLAGS_NONE, NULL)
                                            : NULL;
          g_autofree char *shown = target ? g_uri_to_string_partial (target, G_URI_HIDE_USERINFO
                                                                              | G_URI_HIDE_QUERY
                                                                              | G_URI_HIDE_FRAGMENT)
                                          : g_strdup (location ? C_("redirect target", "an invalid address")
                                                               : C_("redirect target", "nowhere"));

          g_bytes_unref (body);
          /* TRANSLATORS: the last %s is an address or a "redirect target" message. */
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The server %s redirected the request (HTTP %u) to %s. Coffer does not follow "
                       "redirects, so that credentials and data only go to the address you set up; "
                       "if you trust the new address, use it as the repository location."),
                       g_uri_get_host (soup_message_get_uri (msg)), status, shown);
          return NULL;
        }

      /* A connection cut off mid-body can reach us as a short body without
       * an error: treat it as the network failure it is. */
      if (g_strcmp0 (soup_message_get_method (msg), "HEAD") != 0 && status != 204
          && status != 304 && soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH
          && (goffset) g_bytes_get_size (body) != soup_message_headers_get_content_length (h))
        {
          g_bytes_unref (body);
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NETWORK,
                       _("The connection to %s was cut off during a response."),
                       g_uri_get_host (soup_message_get_uri (msg)));
          return NULL;
        }
      return body;
    }

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (local_error->domain == G_TLS_ERROR
      || soup_message_get_tls_peer_certificate_errors (msg) != 0)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_TLS,
                   _("The server’s certificate for %s is not trusted: %s"),
                   g_uri_get_host (soup_message_get_uri (msg)), local_error->message);
      return NULL;
    }
  g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NETWORK,
               _("Could not talk to %s: %s"), g_uri_get_host (soup_message_get_uri (msg)),
               local_error->message);
  return NULL;
}

gboolean
coffer_store_probe_write (CofferStore *self, GCancellable *cancellable, GError **error)
{
  g_autofree char *token = coffer_store_random_token ();
  /* Not a temporary (".tmp-"): those may live on some stores under rules
   * of their own; a plain top-level name takes the path every object takes. */
  g_autofree char *name = g_strconcat ("probe-", token, NULL);
  guint8 data[64];
  g_autoptr(GBytes) written = NULL;
  g_autoptr(GBytes) read = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (COFFER_IS_STORE (self), FALSE);

  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guint8) g_random_int ();
  written = g_bytes_new (data, sizeof data);
  if (!coffer_store_put (self, name, written, COFFER_PUT_CREATE, cancellable, error))
    return FALSE;
  read = coffer_store_get (self, name, 0, 0, cancellable, &local_error);
  if (read != NULL && !g_bytes_equal (read, written))
    g_set_error (&local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                 _("The backup location returned other data than was written to it."));
  /* Delete even when the read failed; the first error is the one to tell. */
  {
    g_autoptr(GError) delete_error = NULL;
    if (!coffer_store_delete (self, name, cancellable, &delete_error) && local_error == NULL)
      local_error = g_steal_pointer (&delete_error);
  }
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

void
coffer_store_http_set_error (GError **error, SoupMessage *msg, const char *what,
                             const char *name)
{
  guint status = soup_message_get_status (msg);
  const char *reason = soup_message_get_reason_phrase (msg);
  const char *host = g_uri_get_host (soup_message_get_uri (msg));
  int code;

  if (reason == NULL)
    reason = "";
  /* 401 is a refused login; 403 on a write is a login that may read but
   * not write (a read-only share or account). */
  if (status == 403)
    {
      const char *method = soup_message_get_method (msg);
      if (g_strcmp0 (method, "GET") != 0 && g_strcmp0 (method, "HEAD") != 0
          && g_strcmp0 (method, "PROPFIND") != 0)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_READ_ONLY,
                       _("The server %s does not allow writing “%s” (HTTP %u %s): the account or "
                       "folder is read-only."), host, name, status, reason);
          return;
        }
    }
  switch (status)
    {
    case 401:
    case 403:
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                   _("The server %s refused access to “%s” (HTTP %u %s). Check the user name and password or keys."),
                   host, name, status, reason);
      return;
    case 404:
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                   _("The object “%s” does not exist on %s."), name, host);
      return;
    case 412:
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                   _("The object “%s” already exists on %s."), name, host);
      return;
    case 507:
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE,
                   _("The server %s has no space left for “%s” (HTTP %u %s)."),
                   host, name, status, reason);
      return;
    case 408:
    case 429:
      code = COFFER_STORE_ERROR_SERVER;
      break;
    default:
      if (status >= 500)
        code = COFFER_STORE_ERROR_SERVER;
      else if (status >= 400)
        code = COFFER_STORE_ERROR_FAILED;
      else
        code = COFFER_STORE_ERROR_INVALID;
      break;
    }
  /* TRANSLATORS: the action is a "store action" message such as "write";
   * translate those to fit this sentence (German uses a participle). */
  g_set_error (error, COFFER_STORE_ERROR, code,
               _("Could not %s “%s” on %s: the server answered HTTP %u %s."),
               what, name, host, status, reason);
}
