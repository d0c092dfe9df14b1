/* SPDX-License-Identifier: GPL-3.0-or-later */
/* WebDAV (RFC 4918) and Nextcloud over libsoup 3.
 *
 * put: MKCOL the parent collections (cached), PUT to ".tmp-<random>" in the
 * same collection, then MOVE onto the name with "Overwrite: F" (create-only;
 * 412 -> EXISTS) or "Overwrite: T" (replace). Objects at least
 * chunk_threshold bytes long go through Nextcloud's chunked upload (v2) when
 * the location is a Nextcloud files URL. list: PROPFIND Depth 1, walked
 * recursively. get: GET with Range (a 200 with the whole body is sliced). */
#include "coffer-store-private.h"
#include "coffer-error.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#define DEFAULT_CHUNK_THRESHOLD (64 * 1024 * 1024)
#define DEFAULT_CHUNK_SIZE (16 * 1024 * 1024)
/* A repository has 262 folders per category (docs/FORMAT.md §1) and a few
 * dozen more: a listing that visits more folders than 1000 categories
 * have is not a Coffer repository, but a server making the walk go on
 * without end (a reply naming sub-collections by relative references
 * makes every level deeper than the last). docs/SECURITY.md "Size limits". */
#define DEFAULT_MAX_LIST_COLLECTIONS (1000 * 262 + 1024)

static const char propfind_body[] =
  "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
  "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop>"
  "</D:propfind>";

struct _CofferStoreWebdav
{
  GObject parent_instance;

  SoupSession *session;
  GUri *base;              /* path ends with '/' */
  char *base_str;          /* base as a string, path encoded, no credentials */
  char *base_path;         /* decoded path, ends with '/' */
  char *user;
  CofferSecret *password;  /* NUL-terminated */

  char *nc_uploads;        /* Nextcloud uploads collection URL, or NULL */
  guint64 chunk_threshold;
  guint64 chunk_size;

  guint max_list_collections;

  GMutex lock;
  GHashTable *collections; /* relative collection paths known to exist ("" = base) */
};

static void coffer_store_webdav_iface_init (CofferStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CofferStoreWebdav, coffer_store_webdav, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (COFFER_TYPE_STORE,
                                                      coffer_store_webdav_iface_init))

/* ---- requests ---- */

static gint
port_of (GUri *uri)
{
  gint port = g_uri_get_port (uri);

  if (port > 0)
    return port;
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

static gboolean
same_origin (GUri *a, GUri *b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0
         && g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0
         && port_of (a) == port_of (b);
}

/* Answers a challenge only from the configured origin (scheme, host, port)
 * and never a proxy's: the password belongs to this server alone. Basic
 * authentication sends the password as it is, so over plain HTTP it is
 * only given to a loopback address (a test server, an SSH tunnel); anything
 * else needs webdavs:// (or a server that asks for Digest). The refusal is
 * remembered on the message so the 401 becomes an error saying why. */
static gboolean
on_authenticate (SoupMessage *msg, SoupAuth *auth, gboolean retrying, gpointer user_data)
{
  CofferStoreWebdav *self = user_data;

  if (retrying || self->user == NULL || self->password == NULL)
    return FALSE; /* let the 401 through: wrong or missing credentials */
  if (soup_auth_is_for_proxy (auth) || !same_origin (soup_message_get_uri (msg), self->base))
    {
      g_object_set_data (G_OBJECT (msg), "coffer-auth-refused", (gpointer) "origin");
      return FALSE;
    }
  if (g_ascii_strcasecmp (soup_auth_get_scheme_name (auth), "Basic") == 0
      && g_str_equal (g_uri_get_scheme (self->base), "http")
      && !coffer_store_http_is_loopback_host (g_uri_get_host (self->base)))
    {
      g_object_set_data (G_OBJECT (msg), "coffer-auth-refused", (gpointer) "basic");
      return FALSE;
    }
  soup_auth_authenticate (auth, self->user, (const char *) self->password->data);
  return TRUE;
}

static char *
url_for (CofferStoreWebdav *self, const char *rel)
{
  g_autofree char *esc = coffer_store_escape_path (rel);
  return g_strconcat (self->base_str, esc, NULL);
}

static SoupMessage *
dav_message (CofferStoreWebdav *self, const char *method, const char *url)
{
  SoupMessage *msg = soup_message_new (method, url);

  g_assert (msg != NULL);
  g_signal_connect (msg, "authenticate", G_CALLBACK (on_authenticate), self);
  return msg;
}

/* libsoup 3.2 does not rewind a request body when it re-sends a message
 * after a 401 challenge: the second request announces Content-Length but
 * sends nothing, and the server waits until its timeout (Apache: 60 s, then
 * 408). Setting the body again whenever the message restarts avoids that. */
static void
on_restarted (SoupMessage *msg, gpointer user_data)
{
  GBytes *body = g_object_get_data (G_OBJECT (msg), "coffer-body");
  const char *content_type = g_object_get_data (G_OBJECT (msg), "coffer-content-type");

  if (body != NULL)
    soup_message_set_request_body_from_bytes (msg, content_type, body);
}

/* Sends msg; returns the body (never NULL on success). */
static GBytes *
dav_send (CofferStoreWebdav *self, SoupMessage *msg, GBytes *body, const char *content_type,
          GCancellable *cancellable, GError **error)
{
  GBytes *result;
  const char *refused;

  if (body != NULL)
    {
      soup_message_set_request_body_from_bytes (msg, content_type, body);
      g_object_set_data_full (G_OBJECT (msg), "coffer-body", g_bytes_ref (body),
                              (GDestroyNotify) g_bytes_unref);
      g_object_set_data_full (G_OBJECT (msg), "coffer-content-type", g_strdup (content_type),
                              g_free);
      g_signal_connect (msg, "restarted", G_CALLBACK (on_restarted), NULL);
    }
  result = coffer_store_http_send (self->session, msg, cancellable, error);
  refused = g_object_get_data (G_OBJECT (msg), "coffer-auth-refused");
  if (result != NULL && refused != NULL && soup_message_get_status (msg) == 401)
    {
      g_bytes_unref (result);
      if (g_str_equal (refused, "basic"))
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                     _("The server %s asks for the password with Basic authentication over unencrypted "
                     "HTTP, which would send it in the clear; Coffer refuses. Use a webdavs:// "
                     "(HTTPS) address."), g_uri_get_host (self->base));
      else
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                     _("%s asked for the password, but it is not the server that was set up (%s); "
                     "Coffer gives the password only to that server."),
                     g_uri_get_host (soup_message_get_uri (msg)), g_uri_get_host (self->base));
      return NULL;
    }
  return result;
}

static gboolean
status_ok (guint status)
{
  return status >= 200 && status < 300;
}

/* Best-effort DELETE (temporary objects after a failure): a few quick tries
 * while the connection fails or the server answers 5xx, since the failure
 * that brought us here is likely to hit the clean-up too. A leftover is
 * harmless (list() never reports temporary names) but takes space. */
static void
dav_delete_quietly (CofferStoreWebdav *self, const char *url)
{
  for (guint attempt = 0; attempt < 3; attempt++)
    {
      g_autoptr(SoupMessage) msg = dav_message (self, "DELETE", url);
      g_autoptr(GBytes) body = dav_send (self, msg, NULL, NULL, NULL, NULL);
      guint status = soup_message_get_status (msg);

      if (body != NULL && status < 500 && status != 408 && status != 429)
        return;
    }
}

/* ---- collections ---- */

static gboolean
mkcol (CofferStoreWebdav *self, const char *url, const char *what, GCancellable *cancellable,
       GError **error)
{
  /* Two uploads can create the same folder at the same moment; Apache then
   * answers the loser 403 instead of 405. Asking again tells that race
   * (now 405: it exists) from a real refusal (403 again). */
  for (guint attempt = 0; ; attempt++)
    {
      g_autoptr(SoupMessage) msg = dav_message (self, "MKCOL", url);
      g_autoptr(GBytes) body = dav_send (self, msg, NULL, NULL, cancellable, error);
      guint status;

      if (body == NULL)
        return FALSE;
      status = soup_message_get_status (msg);
      /* 405: it exists already. */
      if (status == 201 || status == 405 || status_ok (status))
        return TRUE;
      if (status == 409)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                       _("The folder above “%s” does not exist on %s."), what,
                       g_uri_get_host (self->base));
          return FALSE;
        }
      /* rclone serve webdav locks the path for the length of each write:
       * the loser of the same race gets 423 Locked until the winner's
       * MKCOL is done (slow on SFTP), so wait a little and ask again. */
      if (status == 423 && attempt < 8)
        {
          g_usleep ((attempt + 1) * 25 * 1000);
          continue;
        }
      if ((attempt > 0 && status != 423) || (status != 403 && status != 423))
        {
          coffer_store_http_set_error (error, msg, C_("store action", "create the folder"), what);
          return FALSE;
        }
    }
}

static gboolean
ensure_collections (CofferStoreWebdav *self, const char *name, GCancellable *cancellable,
                    GError **error)
{
  g_auto(GStrv) parts = g_strsplit (name, "/", -1);
  guint n = g_strv_length (parts);
  g_autoptr(GString) rel = g_string_new (NULL);

  /* "" is the base collection; then every parent of name, top-down. */
  for (guint i = 0; i < n; i++)
    {
      gboolean known;

      if (i > 0)
        {
          g_string_append (rel, parts[i - 1]);
          g_string_append_c (rel, '/');
        }
      g_mutex_lock (&self->lock);
      known = g_hash_table_contains (self->collections, rel->str);
      g_mutex_unlock (&self->lock);
      if (known)
        continue;
      {
        g_autofree char *url = url_for (self, rel->str);
        if (!mkcol (self, url, rel->len ? rel->str : self->base_path, cancellable, error))
          return FALSE;
      }
      g_mutex_lock (&self->lock);
      g_hash_table_add (self->collections, g_strdup (rel->str));
      g_mutex_unlock (&self->lock);
    }
  return TRUE;
}

static void
forget_collections (CofferStoreWebdav *self)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove_all (self->collections);
  g_mutex_unlock (&self->lock);
}

/* ---- put ---- */

static gboolean
dav_move (CofferStoreWebdav *self, const char *from_url, const char *to_url, const char *name,
          gboolean overwrite, gint64 total_length, GCancellable *cancellable, GError **error)
{
  g_autoptr(SoupMessage) msg = dav_message (self, "MOVE", from_url);
  g_autoptr(GBytes) body = NULL;
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  guint status;

  soup_message_headers_replace (h, "Destination", to_url);
  soup_message_headers_replace (h, "Overwrite", overwrite ? "T" : "F");
  if (total_length >= 0)
    {
      g_autofree char *len = g_strdup_printf ("%" G_GINT64_FORMAT, total_length);
      soup_message_headers_replace (h, "OC-Total-Length", len);
    }
  body = dav_send (self, msg, NULL, NULL, cancellable, error);
  if (body == NULL)
    return FALSE;
  status = soup_message_get_status (msg);
  if (status_ok (status))
    return TRUE;
  if (status == 412)
    g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                 _("The object “%s” already exists."), name);
  else
    coffer_store_http_set_error (error, msg, C_("store action", "store"), name);
  return FALSE;
}

static gboolean
dav_put_url (CofferStoreWebdav *self, const char *url, GBytes *data, const char *name,
             const char *destination, gint64 total_length, guint *status_out,
             GCancellable *cancellable, GError **error)
{
  g_autoptr(SoupMessage) msg = dav_message (self, "PUT", url);
  g_autoptr(GBytes) body = NULL;
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  guint status;

  if (destination)
    soup_message_headers_replace (h, "Destination", destination);
  if (total_length >= 0)
    {
      g_autofree char *len = g_strdup_printf ("%" G_GINT64_FORMAT, total_length);
      soup_message_headers_replace (h, "OC-Total-Length", len);
    }
  body = dav_send (self, msg, data, "application/octet-stream", cancellable, error);
  if (body == NULL)
    return FALSE;
  status = soup_message_get_status (msg);
  *status_out = status;
  if (status_ok (status))
    return TRUE;
  coffer_store_http_set_error (error, msg, C_("store action", "upload"), name);
  return FALSE;
}

static gboolean
put_chunked (CofferStoreWebdav *self, const char *name, const char *dest_url, GBytes *data,
             gboolean overwrite, GCancellable *cancellable, GError **error)
{
  g_autofree char *token = coffer_store_random_token ();
  g_autofree char *dir = g_strdup_printf ("%scoffer-%s/", self->nc_uploads, token);
  g_autofree char *file_url = g_strconcat (dir, ".file", NULL);
  gsize total = g_bytes_get_size (data);
  guint n = 0;

  {
    g_autoptr(SoupMessage) msg = dav_message (self, "MKCOL", dir);
    g_autoptr(GBytes) body = NULL;

    soup_message_headers_replace (soup_message_get_request_headers (msg), "Destination",
                                  dest_url);
    body = dav_send (self, msg, NULL, NULL, cancellable, error);
    if (body == NULL)
      return FALSE;
    if (!status_ok (soup_message_get_status (msg)))
      {
        coffer_store_http_set_error (error, msg, C_("store action", "start uploading"), name);
        return FALSE;
      }
  }
  for (gsize off = 0; off < total; off += self->chunk_size)
    {
      g_autoptr(GBytes) slice = g_bytes_new_from_bytes (data, off,
                                                        MIN (self->chunk_size, total - off));
      g_autofree char *url = g_strdup_printf ("%s%05u", dir, ++n);
      guint status = 0;

      if (!dav_put_url (self, url, slice, name, dest_url, total, &status, cancellable, error))
        goto fail;
    }
  if (!dav_move (self, file_url, dest_url, name, overwrite, total, cancellable, error))
    goto fail;
  return TRUE;

fail:
  dav_delete_quietly (self, dir);
  return FALSE;
}

static gboolean
dav_exists (CofferStoreWebdav *self, const char *name, gboolean *exists,
            GCancellable *cancellable, GError **error);

static gboolean
coffer_store_webdav_put (CofferStore *store, const char *name, GBytes *data,
                         CofferPutMode mode, GCancellable *cancellable, GError **error)
{
  CofferStoreWebdav *self = COFFER_STORE_WEBDAV (store);
  g_autofree char *dest = url_for (self, name);
  g_autofree char *dir = g_path_get_dirname (name);
  g_autofree char *token = coffer_store_random_token ();
  g_autofree char *tmp_rel = NULL;
  g_autofree char *tmp = NULL;
  gboolean overwrite = mode == COFFER_PUT_REPLACE;
  guint status = 0;

  if (!ensure_collections (self, name, cancellable, error))
    return FALSE;

  if (self->nc_uploads != NULL && self->chunk_threshold > 0
      && g_bytes_get_size (data) >= self->chunk_threshold)
    {
      gboolean exists = FALSE;
      /* Nextcloud's final MOVE may not honour Overwrite: F; ask first. */
      if (!overwrite)
        {
          if (!dav_exists (self, name, &exists, cancellable, error))
            return FALSE;
          if (exists)
            {
              g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                           _("The object “%s” already exists."), name);
              return FALSE;
            }
        }
      return put_chunked (self, name, dest, data, overwrite, cancellable, error);
    }

  tmp_rel = g_str_equal (dir, ".") ? g_strconcat (COFFER_STORE_TMP_PREFIX, token, NULL)
                                   : g_strconcat (dir, "/" COFFER_STORE_TMP_PREFIX, token, NULL);
  tmp = url_for (self, tmp_rel);
  if (!dav_put_url (self, tmp, data, name, NULL, -1, &status, cancellable, error))
    {
      /* 409: a collection vanished (someone pruned it): create and retry once. */
      if (status != 409)
        {
          /* A cut-off connection or a 5xx may come after the server stored
           * the temporary object. */
          if ((status == 0 || status >= 500)
              && !g_cancellable_is_cancelled (cancellable))
            dav_delete_quietly (self, tmp);
          return FALSE;
        }
      g_clear_error (error);
      forget_collections (self);
      if (!ensure_collections (self, name, cancellable, error)
          || !dav_put_url (self, tmp, data, name, NULL, -1, &status, cancellable, error))
        return FALSE;
    }
  if (!dav_move (self, tmp, dest, name, overwrite, -1, cancellable, error))
    {
      dav_delete_quietly (self, tmp);
      return FALSE;
    }
  return TRUE;
}

/* ---- get ---- */

static GBytes *
webdav_get_full (CofferStore *store, const char *name, guint64 offset, guint64 length, guint64 max_size,
                 GCancellable *cancellable, GError **error)
{
  CofferStoreWebdav *self = COFFER_STORE_WEBDAV (store);
  g_autofree char *url = url_for (self, name);
  g_autoptr(SoupMessage) msg = dav_message (self, "GET", url);
  g_autoptr(GBytes) body = NULL;
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  guint status;
  gsize got;

  if (max_size > 0)
    coffer_store_http_set_max_body (msg, max_size);
  if (length > 0)
    soup_message_headers_set_range (h, offset, offset + length - 1);
  else if (offset > 0)
    soup_message_headers_set_range (h, offset, -1);
  /* Byte ranges of a compressed representation would be useless. */
  soup_message_headers_replace (h, "Accept-Encoding", "identity");

  body = dav_send (self, msg, NULL, NULL, cancellable, error);
  if (body == NULL)
    return NULL;
  status = soup_message_get_status (msg);
  got = g_bytes_get_size (body);
  if (status == 206)
    {
      if (length > 0 && got != length)
        goto short_object;
      return g_steal_pointer (&body);
    }
  if (status == 200)
    {
      if (offset > got || (length > 0 && offset + length > got))
        goto short_object;
      if (offset == 0 && (length == 0 || length == got))
        return g_steal_pointer (&body);
      return g_bytes_new_from_bytes (body, offset, length ? length : got - offset);
    }
  if (status == 416)
    goto short_object;
  coffer_store_http_set_error (error, msg, C_("store action", "download"), name);
  return NULL;

short_object:
  g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
               _("The object “%s” is shorter than the requested range."), name);
  return NULL;
}

static GBytes *
coffer_store_webdav_get (CofferStore *store, const char *name, guint64 offset, guint64 length,
                         GCancellable *cancellable, GError **error)
{
  return webdav_get_full (store, name, offset, length, 0, cancellable, error);
}

static GBytes *
coffer_store_webdav_get_limited (CofferStore *store, const char *name, guint64 max_size,
                                 GCancellable *cancellable, GError **error)
{
  return webdav_get_full (store, name, 0, 0, max_size, cancellable, error);
}

/* ---- PROPFIND ---- */

typedef struct
{
  char *path;        /* decoded path from href */
  gboolean is_collection;
  gboolean has_length;
  guint64 length;
} DavEntry;

static void
dav_entry_free (gpointer p)
{
  DavEntry *e = p;
  g_free (e->path);
  g_free (e);
}

static gboolean
is_dav (xmlNodePtr n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST name)
         && n->ns != NULL && xmlStrEqual (n->ns->href, BAD_CAST "DAV:");
}

static void
parse_prop (xmlNodePtr prop, DavEntry *e)
{
  for (xmlNodePtr p = prop->children; p; p = p->next)
    {
      if (is_dav (p, "resourcetype"))
        {
          for (xmlNodePtr t = p->children; t; t = t->next)
            if (is_dav (t, "collection"))
              e->is_collection = TRUE;
        }
      else if (is_dav (p, "getcontentlength"))
        {
          xmlChar *t = xmlNodeGetContent (p);
          const char *s = (const char *) t;
          guint64 v;
          if (s && g_ascii_string_to_unsigned (g_strstrip ((char *) s), 10, 0, G_MAXUINT64, &v,
                                               NULL))
            {
              e->length = v;
              e->has_length = TRUE;
            }
          xmlFree (t);
        }
    }
}

/* Parses a multistatus document; request_uri resolves relative hrefs. */
static GPtrArray *
parse_multistatus (GBytes *body, GUri *request_uri, GError **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (dav_entry_free);
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);
  xmlDocPtr doc = NULL;
  xmlNodePtr root;

  if (len > 0)
    doc = xmlReadMemory (data, len, "propfind.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  root = doc ? xmlDocGetRootElement (doc) : NULL;
  if (root == NULL || !is_dav (root, "multistatus"))
    {
      if (doc)
        xmlFreeDoc (doc);
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The WebDAV server %s sent a folder listing that could not be read."),
                   g_uri_get_host (request_uri));
      return NULL;
    }
  for (xmlNodePtr r = root->children; r; r = r->next)
    {
      DavEntry *e;
      g_autofree char *href = NULL;
      gboolean have_ok_prop = FALSE;

      if (!is_dav (r, "response"))
        continue;
      e = g_new0 (DavEntry, 1);
      for (xmlNodePtr c = r->children; c; c = c->next)
        {
          if (is_dav (c, "href") && href == NULL)
            {
              xmlChar *t = xmlNodeGetContent (c);
              href = g_strstrip (g_strdup ((const char *) t));
              xmlFree (t);
            }
          else if (is_dav (c, "propstat"))
            {
              gboolean ok = TRUE;
              xmlNodePtr prop = NULL;
              for (xmlNodePtr p = c->children; p; p = p->next)
                {
                  if (is_dav (p, "status"))
                    {
                      xmlChar *t = xmlNodeGetContent (p);
                      ok = t && strstr ((const char *) t, " 200") != NULL;
                      xmlFree (t);
                    }
                  else if (is_dav (p, "prop"))
                    prop = p;
                }
              if (ok && prop)
                {
                  parse_prop (prop, e);
                  have_ok_prop = TRUE;
                }
            }
        }
      if (href != NULL)
        {
          g_autoptr(GUri) abs = g_uri_parse_relative (request_uri, href, G_URI_FLAGS_ENCODED,
                                                      NULL);
          if (abs != NULL)
            e->path = g_uri_unescape_string (g_uri_get_path (abs), NULL);
        }
      if (e->path == NULL || !have_ok_prop)
        {
          dav_entry_free (e);
          continue;
        }
      g_ptr_array_add (entries, e);
    }
  xmlFreeDoc (doc);
  return g_steal_pointer (&entries);
}

/* PROPFIND on url; returns NULL with NOT_FOUND when absent. */
static GPtrArray *
dav_propfind (CofferStoreWebdav *self, const char *url, const char *depth, const char *name,
              GCancellable *cancellable, GError **error)
{
  g_autoptr(SoupMessage) msg = dav_message (self, "PROPFIND", url);
  g_autoptr(GBytes) req = g_bytes_new_static (propfind_body, sizeof propfind_body - 1);
  g_autoptr(GBytes) body = NULL;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Depth", depth);
  body = dav_send (self, msg, req, "application/xml; charset=utf-8", cancellable, error);
  if (body == NULL)
    return NULL;
  if (soup_message_get_status (msg) != 207)
    {
      if (soup_message_get_status (msg) == 200)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                     _("The server %s does not look like a WebDAV server (PROPFIND answered "
                     "HTTP 200)."), g_uri_get_host (self->base));
      else
        coffer_store_http_set_error (error, msg, C_("store action", "list"), name);
      return NULL;
    }
  return parse_multistatus (body, soup_message_get_uri (msg), error);
}

static gboolean
dav_head_size (CofferStoreWebdav *self, const char *url, const char *name, guint64 *size,
               GCancellable *cancellable, GError **error)
{
  g_autoptr(SoupMessage) msg = dav_message (self, "HEAD", url);
  g_autoptr(GBytes) body = NULL;
  goffset len;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept-Encoding",
                                "identity");
  body = dav_send (self, msg, NULL, NULL, cancellable, error);
  if (body == NULL)
    return FALSE;
  if (!status_ok (soup_message_get_status (msg)))
    {
      coffer_store_http_set_error (error, msg, C_("store action", "look up"), name);
      return FALSE;
    }
  len = soup_message_headers_get_content_length (soup_message_get_response_headers (msg));
  if (len < 0 || soup_message_headers_get_encoding (soup_message_get_response_headers (msg))
                 != SOUP_ENCODING_CONTENT_LENGTH)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The WebDAV server %s did not tell the size of “%s”."),
                   g_uri_get_host (self->base), name);
      return FALSE;
    }
  *size = len;
  return TRUE;
}

static gboolean
coffer_store_webdav_stat (CofferStore *store, const char *name, guint64 *size,
                          GCancellable *cancellable, GError **error)
{
  CofferStoreWebdav *self = COFFER_STORE_WEBDAV (store);
  g_autofree char *url = url_for (self, name);
  g_autoptr(GPtrArray) entries = dav_propfind (self, url, "0", name, cancellable, error);
  DavEntry *e;

  if (entries == NULL)
    return FALSE;
  if (entries->len == 0 || ((DavEntry *) entries->pdata[0])->is_collection)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                   _("The object “%s” does not exist on %s."), name, g_uri_get_host (self->base));
      return FALSE;
    }
  e = entries->pdata[0];
  if (e->has_length)
    {
      if (size)
        *size = e->length;
      return TRUE;
    }
  {
    guint64 s = 0;
    if (!dav_head_size (self, url, name, &s, cancellable, error))
      return FALSE;
    if (size)
      *size = s;
    return TRUE;
  }
}

static gboolean
dav_exists (CofferStoreWebdav *self, const char *name, gboolean *exists,
            GCancellable *cancellable, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  *exists = coffer_store_webdav_stat (COFFER_STORE (self), name, NULL, cancellable,
                                      &local_error);
  if (*exists || g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

typedef struct
{
  const char *prefix;
  CofferStoreListFunc func;
  gpointer user_data;
  GCancellable *cancellable;
  gboolean stopped;
  guint collections;       /* PROPFINDs sent so far */
} ListCtx;

static gboolean
walk (CofferStoreWebdav *self, const char *rel, ListCtx *ctx, int depth, GError **error)
{
  g_autofree char *dir_rel = rel[0] ? g_strconcat (rel, "/", NULL) : g_strdup ("");
  g_autofree char *url = url_for (self, dir_rel);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  gsize blen = strlen (self->base_path);

  if (depth > 64)
    return TRUE;
  if (++ctx->collections > self->max_list_collections)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The WebDAV server %s listed more than %u folders; that is not a Coffer "
                     "backup, and the listing would not end."),
                   g_uri_get_host (self->base), self->max_list_collections);
      return FALSE;
    }
  entries = dav_propfind (self, url, "1", rel[0] ? rel : "/", ctx->cancellable, &local_error);
  if (entries == NULL)
    {
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  for (guint i = 0; i < entries->len && !ctx->stopped; i++)
    {
      DavEntry *e = entries->pdata[i];
      g_autofree char *child = NULL;
      const char *bn;
      gsize clen;

      if (!g_str_has_prefix (e->path, self->base_path))
        {
          /* Some servers drop the trailing '/' of the base itself. */
          continue;
        }
      child = g_strdup (e->path + blen);
      clen = strlen (child);
      while (clen > 0 && child[clen - 1] == '/')
        child[--clen] = '\0';
      if (g_str_equal (child, rel) || clen == 0)
        continue; /* the collection itself */
      /* Only members of this collection: a server that lists other
       * collections (or the same ones again) must not send the walk round
       * in circles. */
      if (rel[0] != '\0' && !(g_str_has_prefix (child, rel) && child[strlen (rel)] == '/'))
        continue;
      bn = strrchr (child, '/');
      bn = bn ? bn + 1 : child;
      if (g_str_has_prefix (bn, COFFER_STORE_TMP_PREFIX))
        continue;
      if (strncmp (child, ctx->prefix, MIN (clen, strlen (ctx->prefix))) != 0)
        continue;
      if (e->is_collection)
        {
          if (!walk (self, child, ctx, depth + 1, error))
            return FALSE;
        }
      else if (g_str_has_prefix (child, ctx->prefix))
        {
          guint64 size = e->length;
          if (!e->has_length)
            {
              g_autofree char *curl = url_for (self, child);
              if (!dav_head_size (self, curl, child, &size, ctx->cancellable, error))
                return FALSE;
            }
          if (!ctx->func (child, size, ctx->user_data))
            ctx->stopped = TRUE;
        }
    }
  return !g_cancellable_set_error_if_cancelled (ctx->cancellable, error);
}

static gboolean
coffer_store_webdav_list (CofferStore *store, const char *prefix, CofferStoreListFunc func,
                          gpointer user_data, GCancellable *cancellable, GError **error)
{
  CofferStoreWebdav *self = COFFER_STORE_WEBDAV (store);
  ListCtx ctx = { prefix, func, user_data, cancellable, FALSE, 0 };
  const char *slash = strrchr (prefix, '/');
  g_autofree char *rel = slash ? g_strndup (prefix, slash - prefix) : g_strdup ("");

  return walk (self, rel, &ctx, 0, error);
}

static gboolean
coffer_store_webdav_delete (CofferStore *store, const char *name, GCancellable *cancellable,
                            GError **error)
{
  CofferStoreWebdav *self = COFFER_STORE_WEBDAV (store);
  g_autofree char *url = url_for (self, name);
  g_autoptr(SoupMessage) msg = dav_message (self, "DELETE", url);
  g_autoptr(GBytes) body = dav_send (self, msg, NULL, NULL, cancellable, error);

  if (body == NULL)
    return FALSE;
  if (status_ok (soup_message_get_status (msg)))
    return TRUE;
  coffer_store_http_set_error (error, msg, C_("store action", "delete"), name);
  return FALSE;
}

static char *
coffer_store_webdav_describe (CofferStore *store)
{
  CofferStoreWebdav *self = COFFER_STORE_WEBDAV (store);
  const char *scheme = g_str_equal (g_uri_get_scheme (self->base), "https") ? "webdavs" : "webdav";
  g_autofree char *path = g_strdup (g_uri_get_path (self->base));
  gsize len = strlen (path);

  if (len > 1 && path[len - 1] == '/')
    path[len - 1] = '\0';
  if (g_uri_get_port (self->base) > 0)
    return g_strdup_printf ("%s://%s:%d%s", scheme, g_uri_get_host (self->base),
                            g_uri_get_port (self->base), path);
  return g_strdup_printf ("%s://%s%s", scheme, g_uri_get_host (self->base), path);
}

static void
coffer_store_webdav_iface_init (CofferStoreInterface *iface)
{
  iface->put = coffer_store_webdav_put;
  iface->get = coffer_store_webdav_get;
  iface->get_limited = coffer_store_webdav_get_limited;
  iface->list = coffer_store_webdav_list;
  iface->delete = coffer_store_webdav_delete;
  iface->stat = coffer_store_webdav_stat;
  iface->describe = coffer_store_webdav_describe;
}

static void
coffer_store_webdav_finalize (GObject *object)
{
  CofferStoreWebdav *self = COFFER_STORE_WEBDAV (object);

  g_clear_object (&self->session);
  g_clear_pointer (&self->base, g_uri_unref);
  g_free (self->base_str);
  g_free (self->base_path);
  g_free (self->user);
  g_free (self->nc_uploads);
  g_clear_pointer (&self->password, coffer_secret_free);
  g_clear_pointer (&self->collections, g_hash_table_unref);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (coffer_store_webdav_parent_class)->finalize (object);
}

static void
coffer_store_webdav_class_init (CofferStoreWebdavClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = coffer_store_webdav_finalize;
}

static void
coffer_store_webdav_init (CofferStoreWebdav *self)
{
  g_mutex_init (&self->lock);
  self->collections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->chunk_threshold = DEFAULT_CHUNK_THRESHOLD;
  self->chunk_size = DEFAULT_CHUNK_SIZE;
  self->max_list_collections = DEFAULT_MAX_LIST_COLLECTIONS;
}

/* "…/remote.php/dav/files/USER/…" -> "…/remote.php/dav/uploads/USER/" */
static char *
nextcloud_uploads_url (GUri *base)
{
  const char *path = g_uri_get_path (base);
  const char *at = strstr (path, "/remote.php/dav/files/");
  const char *user, *end;
  g_autofree char *prefix = NULL;
  g_autofree char *upath = NULL;
  g_autoptr(GUri) u = NULL;

  if (at == NULL)
    return NULL;
  user = at + strlen ("/remote.php/dav/files/");
  end = strchr (user, '/');
  if (end == NULL || end == user)
    return NULL;
  prefix = g_strndup (path, at - path);
  upath = g_strdup_printf ("%s/remote.php/dav/uploads/%.*s/", prefix, (int) (end - user), user);
  u = g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (base), NULL, g_uri_get_host (base),
                   g_uri_get_port (base), upath, NULL, NULL);
  return g_uri_to_string (u);
}

CofferStore *
coffer_store_webdav_new (const char *base_uri, const char *user, const CofferSecret *password,
                         const char *ca_file, GError **error)
{
  g_autoptr(CofferStoreWebdav) self = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *path = NULL;
  const char *scheme;

  uri = g_uri_parse (base_uri, G_URI_FLAGS_ENCODED, NULL);
  scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0'
      || (!g_str_equal (scheme, "http") && !g_str_equal (scheme, "https")))
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("“%s” is not a valid WebDAV address."), base_uri);
      return NULL;
    }
  self = g_object_new (COFFER_TYPE_STORE_WEBDAV, NULL);
  path = g_str_has_suffix (g_uri_get_path (uri), "/") ? g_strdup (g_uri_get_path (uri))
                                                      : g_strconcat (g_uri_get_path (uri), "/", NULL);
  if (path[0] != '/')
    {
      g_autofree char *p = g_strconcat ("/", path, NULL);
      g_free (path);
      path = g_steal_pointer (&p);
    }
  self->base = g_uri_build (G_URI_FLAGS_ENCODED, scheme, NULL, g_uri_get_host (uri),
                            g_uri_get_port (uri), path, NULL, NULL);
  self->base_str = g_uri_to_string (self->base);
  self->base_path = g_uri_unescape_string (path, NULL);
  if (self->base_path == NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("“%s” is not a valid WebDAV address."), base_uri);
      return NULL;
    }
  self->user = g_strdup (user);
  if (password != NULL)
    {
      self->password = coffer_secret_new (password->len + 1);
      memcpy (self->password->data, password->data, password->len);
      self->password->len = password->len;
    }
  self->nc_uploads = nextcloud_uploads_url (self->base);
  self->session = coffer_store_http_session_new (ca_file, 0, error);
  if (self->session == NULL)
    return NULL;
  return COFFER_STORE (g_steal_pointer (&self));
}

void
coffer_store_webdav_set_chunking (CofferStoreWebdav *self, guint64 threshold, guint64 chunk_size)
{
  g_return_if_fail (COFFER_IS_STORE_WEBDAV (self));
  self->chunk_threshold = threshold;
  if (chunk_size > 0)
    self->chunk_size = chunk_size;
}

void
coffer_store_webdav_set_max_list_collections (CofferStoreWebdav *self, guint max)
{
  g_return_if_fail (COFFER_IS_STORE_WEBDAV (self));
  g_return_if_fail (max > 0);
  self->max_list_collections = max;
}
