/* SPDX-License-Identifier: GPL-3.0-or-later */
/* S3-compatible object stores over libsoup 3 with AWS Signature V4.
 *
 * Create-only writes use "If-None-Match: *" (412 -> EXISTS). Some providers
 * ignore that header; until the store has seen the server honour it, a
 * create-only put first asks HEAD whether the name exists. That is safe for
 * Coffer because object names are content hashes or random: two writers of
 * one name write the same bytes. */
#include "coffer-store-private.h"
#include "coffer-sigv4.h"
#include "coffer-error.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#define DEFAULT_PART_SIZE (64 * 1024 * 1024)
#define PROBE_MAX_SIZE (1024 * 1024)
/* More pages than the largest repository has (100 million objects at S3's
 * 1000 a page): a server handing out a new token for every page. */
#define DEFAULT_MAX_LIST_PAGES 100000

typedef enum
{
  INM_UNKNOWN,
  INM_HONOURED,
  INM_IGNORED,
} InmSupport;

struct _CofferStoreS3
{
  GObject parent_instance;

  SoupSession *session;
  char *scheme;          /* "https" */
  char *host;            /* endpoint host (without bucket) */
  int port;              /* -1 for the scheme's default */
  char *base_path;       /* endpoint path, "" or "/something" */
  char *region;
  char *bucket;
  char *prefix;          /* "" or "some/prefix/" */
  gboolean path_style;
  char *access_key_id;
  CofferSecret *secret_key;
  guint64 part_size;
  guint max_list_pages;

  gint inm;              /* InmSupport, atomic */
  gint no_batch_delete;  /* atomic */
};

static void coffer_store_s3_iface_init (CofferStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CofferStoreS3, coffer_store_s3, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (COFFER_TYPE_STORE,
                                                      coffer_store_s3_iface_init))

/* ---- requests ---- */

typedef struct
{
  guint status;
  GBytes *body;
  SoupMessageHeaders *headers; /* response headers (ref) */
  guint64 max_body;            /* set by the caller: 0 or the largest body to read */
} S3Response;

static void
s3_response_clear (S3Response *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->headers, soup_message_headers_unref);
}

static char *
host_header (CofferStoreS3 *self)
{
  g_autofree char *host = self->path_style ? g_strdup (self->host)
                                           : g_strdup_printf ("%s.%s", self->bucket, self->host);
  if (self->port > 0)
    return g_strdup_printf ("%s:%d", host, self->port);
  return g_steal_pointer (&host);
}

/* The decoded request path for key (NULL: the bucket). */
static char *
request_path (CofferStoreS3 *self, const char *key)
{
  if (self->path_style)
    return g_strdup_printf ("%s/%s%s%s", self->base_path, self->bucket, key ? "/" : "",
                            key ? key : "");
  return g_strdup_printf ("%s/%s", self->base_path, key ? key : "");
}

static char *
amz_now (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  return g_date_time_format (now, "%Y%m%dT%H%M%SZ");
}

/* Extracts Code and Message from an S3 error body. */
static char *
s3_error_detail (GBytes *body)
{
  gsize len = 0;
  const char *data = body ? g_bytes_get_data (body, &len) : NULL;
  xmlDocPtr doc;
  GString *out = g_string_new (NULL);

  if (len == 0)
    return g_string_free (out, FALSE);
  doc = xmlReadMemory (data, len, "error.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR
                       | XML_PARSE_NOWARNING);
  if (doc != NULL)
    {
      xmlNodePtr root = xmlDocGetRootElement (doc);
      for (xmlNodePtr n = root ? root->children : NULL; n; n = n->next)
        {
          if (n->type != XML_ELEMENT_NODE)
            continue;
          if (xmlStrEqual (n->name, BAD_CAST "Code") || xmlStrEqual (n->name, BAD_CAST "Message"))
            {
              xmlChar *t = xmlNodeGetContent (n);
              g_string_append_printf (out, "%s%s", out->len ? ": " : " (", (const char *) t);
              xmlFree (t);
            }
        }
      if (out->len)
        g_string_append_c (out, ')');
      xmlFreeDoc (doc);
    }
  return g_string_free (out, FALSE);
}

static void
s3_set_error (CofferStoreS3 *self, GError **error, S3Response *r, const char *what,
              const char *name)
{
  g_autofree char *detail = s3_error_detail (r->body);
  int code;

  switch (r->status)
    {
    case 401:
    case 403:
      code = COFFER_STORE_ERROR_AUTH;
      break;
    case 404:
      code = COFFER_STORE_ERROR_NOT_FOUND;
      break;
    case 412:
      code = COFFER_STORE_ERROR_EXISTS;
      break;
    case 507:
      code = COFFER_STORE_ERROR_NO_SPACE;
      break;
    case 408:
    case 429:
      code = COFFER_STORE_ERROR_SERVER;
      break;
    default:
      code = r->status >= 500 ? COFFER_STORE_ERROR_SERVER : COFFER_STORE_ERROR_FAILED;
      break;
    }
  /* Providers refuse uploads over a quota with 403 (or 400) and a code
   * naming it (QuotaExceeded, StorageQuotaExceeded, XMinioStorageFull…):
   * that is a full destination, not refused credentials. */
  if (detail != NULL && (strstr (detail, "Quota") != NULL || strstr (detail, "StorageFull") != NULL))
    code = COFFER_STORE_ERROR_NO_SPACE;
  if (code == COFFER_STORE_ERROR_NOT_FOUND && detail && strstr (detail, "NoSuchBucket"))
    g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                 _("The bucket “%s” does not exist on %s%s."), self->bucket, self->host, detail);
  else if (code == COFFER_STORE_ERROR_AUTH)
    /* TRANSLATORS: the action is a "store action" message such as "write";
     * translate those to fit this sentence (German uses a participle). */
    g_set_error (error, COFFER_STORE_ERROR, code,
                 _("The S3 server %s refused to %s “%s” (HTTP %u%s). Check the access key and "
                 "secret key."), self->host, what, name, r->status, detail);
  else if (code == COFFER_STORE_ERROR_EXISTS)
    g_set_error (error, COFFER_STORE_ERROR, code, _("The object “%s” already exists."), name);
  else if (code == COFFER_STORE_ERROR_NO_SPACE)
    /* TRANSLATORS: the action is a "store action" message such as "write";
     * translate those to fit this sentence (German uses a participle). */
    g_set_error (error, COFFER_STORE_ERROR, code,
                 _("The S3 storage on %s is full or over its quota: it refused to %s “%s” (HTTP %u%s)."),
                 self->host, what, name, r->status, detail);
  else
    /* TRANSLATORS: the action is a "store action" message such as "write";
     * translate those to fit this sentence (German uses a participle). */
    g_set_error (error, COFFER_STORE_ERROR, code,
                 _("Could not %s “%s” on %s: the server answered HTTP %u%s."), what, name,
                 self->host, r->status, detail);
}

/* Sends a signed request. key is the full key (with prefix) or NULL for the
 * bucket; query is already encoded ("list-type=2&prefix=a%2F") or NULL. */
static gboolean
s3_request (CofferStoreS3 *self, const char *method, const char *key, const char *query,
            const CofferSigv4Header *extra, guint n_extra, GBytes *body,
            S3Response *resp, GCancellable *cancellable, GError **error)
{
  g_autofree char *path = request_path (self, key);
  g_autofree char *epath = coffer_sigv4_uri_encode (path, TRUE);
  g_autofree char *host = host_header (self);
  g_autofree char *date = amz_now ();
  g_autofree char *payload = NULL;
  g_autofree char *auth = NULL;
  g_autofree char *url = NULL;
  g_autoptr(GArray) hs = g_array_new (FALSE, FALSE, sizeof (CofferSigv4Header));
  g_autoptr(SoupMessage) msg = NULL;
  CofferSigv4Header h;
  SoupMessageHeaders *req_headers;
  gsize len = 0;
  const void *data = body ? g_bytes_get_data (body, &len) : NULL;

  payload = coffer_sigv4_sha256_hex (data ? data : "", len);
  url = g_strdup_printf ("%s://%s%s%s%s", self->scheme, host, epath,
                         query && query[0] ? "?" : "", query && query[0] ? query : "");
  msg = soup_message_new (method, url);
  if (msg == NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The S3 address “%s” is not valid."), url);
      return FALSE;
    }
  req_headers = soup_message_get_request_headers (msg);

  h.name = "host"; h.value = host;
  g_array_append_val (hs, h);
  h.name = "x-amz-content-sha256"; h.value = payload;
  g_array_append_val (hs, h);
  h.name = "x-amz-date"; h.value = date;
  g_array_append_val (hs, h);
  for (guint i = 0; i < n_extra; i++)
    {
      soup_message_headers_replace (req_headers, extra[i].name, extra[i].value);
      if (g_ascii_strncasecmp (extra[i].name, "x-amz-", 6) == 0
          || g_ascii_strcasecmp (extra[i].name, "content-md5") == 0
          || g_ascii_strcasecmp (extra[i].name, "content-type") == 0)
        g_array_append_val (hs, extra[i]);
    }
  auth = coffer_sigv4_authorization (self->access_key_id, self->secret_key, self->region, "s3",
                                     date, method, path, query,
                                     (CofferSigv4Header *) hs->data, hs->len, payload);
  soup_message_headers_replace (req_headers, "x-amz-content-sha256", payload);
  soup_message_headers_replace (req_headers, "x-amz-date", date);
  soup_message_headers_replace (req_headers, "Authorization", auth);
  if (body != NULL)
    soup_message_set_request_body_from_bytes (msg, NULL, body);

  if (resp->max_body > 0)
    coffer_store_http_set_max_body (msg, resp->max_body);
  resp->body = coffer_store_http_send (self->session, msg, cancellable, error);
  if (resp->body == NULL)
    return FALSE;
  resp->status = soup_message_get_status (msg);
  resp->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  return TRUE;
}

static char *
full_key (CofferStoreS3 *self, const char *name)
{
  return g_strconcat (self->prefix, name, NULL);
}

/* ---- put ---- */

static gboolean
s3_head (CofferStoreS3 *self, const char *key, const char *name, guint64 *size,
         GCancellable *cancellable, GError **error)
{
  S3Response r = { 0 };
  gboolean ok;

  if (!s3_request (self, "HEAD", key, NULL, NULL, 0, NULL, &r, cancellable, error))
    return FALSE;
  ok = r.status == 200;
  if (ok && size)
    *size = soup_message_headers_get_content_length (r.headers);
  if (!ok)
    s3_set_error (self, error, &r, C_("store action", "look up"), name);
  s3_response_clear (&r);
  return ok;
}

/* Returns 1 if the object exists, 0 if not, -1 on error. */
static int
s3_exists (CofferStoreS3 *self, const char *key, const char *name, GCancellable *cancellable,
           GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (s3_head (self, key, name, NULL, cancellable, &local_error))
    return 1;
  if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    return 0;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return -1;
}

static char *
xml_child_text (xmlNodePtr parent, const char *name)
{
  for (xmlNodePtr n = parent->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST name))
      {
        xmlChar *t = xmlNodeGetContent (n);
        char *s = g_strdup ((const char *) t);
        xmlFree (t);
        return s;
      }
  return NULL;
}

static xmlDocPtr
parse_xml (GBytes *body)
{
  gsize len = 0;
  const char *data = body ? g_bytes_get_data (body, &len) : NULL;

  if (len == 0)
    return NULL;
  return xmlReadMemory (data, len, "response.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static void
abort_multipart (CofferStoreS3 *self, const char *key, const char *upload_id)
{
  g_autofree char *eid = coffer_sigv4_uri_encode (upload_id, FALSE);
  g_autofree char *query = g_strdup_printf ("uploadId=%s", eid);
  S3Response r = { 0 };

  if (s3_request (self, "DELETE", key, query, NULL, 0, NULL, &r, NULL, NULL))
    s3_response_clear (&r);
}

static gboolean
put_multipart (CofferStoreS3 *self, const char *key, const char *name, GBytes *data,
               gboolean create, GCancellable *cancellable, GError **error)
{
  S3Response r = { 0 };
  g_autofree char *upload_id = NULL;
  g_autofree char *eid = NULL;
  g_autoptr(GString) complete = g_string_new ("<CompleteMultipartUpload>");
  gsize total = g_bytes_get_size (data);
  guint part = 0;
  CofferSigv4Header inm = { "If-None-Match", "*" };

  if (!s3_request (self, "POST", key, "uploads", NULL, 0, NULL, &r, cancellable, error))
    return FALSE;
  if (r.status == 200)
    {
      xmlDocPtr doc = parse_xml (r.body);
      if (doc != NULL)
        {
          upload_id = xml_child_text (xmlDocGetRootElement (doc), "UploadId");
          xmlFreeDoc (doc);
        }
      if (upload_id == NULL)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                     _("The S3 server %s gave no upload id for “%s”."), self->host, name);
    }
  else
    s3_set_error (self, error, &r, C_("store action", "start uploading"), name);
  s3_response_clear (&r);
  if (upload_id == NULL)
    return FALSE;
  eid = coffer_sigv4_uri_encode (upload_id, FALSE);

  for (gsize off = 0; off < total; off += self->part_size)
    {
      g_autoptr(GBytes) slice = g_bytes_new_from_bytes (data, off,
                                                        MIN (self->part_size, total - off));
      g_autofree char *query = g_strdup_printf ("partNumber=%u&uploadId=%s", ++part, eid);
      const char *etag;

      if (!s3_request (self, "PUT", key, query, NULL, 0, slice, &r, cancellable, error))
        goto fail;
      etag = soup_message_headers_get_one (r.headers, "ETag");
      if (r.status != 200 || etag == NULL)
        {
          if (r.status == 200)
            g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                         _("The S3 server %s gave no ETag for a part of “%s”."), self->host, name);
          else
            s3_set_error (self, error, &r, C_("store action", "upload a part of"), name);
          s3_response_clear (&r);
          goto fail;
        }
      {
        g_autofree char *esc = g_markup_escape_text (etag, -1);
        g_string_append_printf (complete, "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
                                part, esc);
      }
      s3_response_clear (&r);
    }
  g_string_append (complete, "</CompleteMultipartUpload>");

  {
    g_autoptr(GBytes) body = g_bytes_new (complete->str, complete->len);
    g_autofree char *query = g_strdup_printf ("uploadId=%s", eid);
    gboolean ok;

    if (!s3_request (self, "POST", key, query, &inm, create ? 1 : 0, body, &r, cancellable,
                     error))
      goto fail;
    /* CompleteMultipartUpload can answer 200 with an error document. */
    ok = r.status == 200;
    if (ok)
      {
        xmlDocPtr doc = parse_xml (r.body);
        xmlNodePtr root = doc ? xmlDocGetRootElement (doc) : NULL;
        if (root && xmlStrEqual (root->name, BAD_CAST "Error"))
          {
            r.status = 500;
            ok = FALSE;
          }
        if (doc)
          xmlFreeDoc (doc);
      }
    if (!ok)
      {
        s3_set_error (self, error, &r, C_("store action", "finish uploading"), name);
        s3_response_clear (&r);
        goto fail;
      }
    s3_response_clear (&r);
  }
  return TRUE;

fail:
  abort_multipart (self, key, upload_id);
  return FALSE;
}

static gboolean
put_single (CofferStoreS3 *self, const char *key, const char *name, GBytes *data,
            gboolean if_none_match, int *status, GCancellable *cancellable, GError **error)
{
  CofferSigv4Header inm = { "If-None-Match", "*" };
  S3Response r = { 0 };
  gboolean ok;

  if (!s3_request (self, "PUT", key, NULL, &inm, if_none_match ? 1 : 0, data, &r,
                   cancellable, error))
    return FALSE;
  *status = r.status;
  ok = r.status == 200 || r.status == 201 || r.status == 204;
  if (!ok && r.status != 501)
    s3_set_error (self, error, &r, C_("store action", "upload"), name);
  s3_response_clear (&r);
  return ok;
}

static gboolean
coffer_store_s3_put (CofferStore *store, const char *name, GBytes *data, CofferPutMode mode,
                     GCancellable *cancellable, GError **error)
{
  CofferStoreS3 *self = COFFER_STORE_S3 (store);
  g_autofree char *key = full_key (self, name);
  gboolean create = mode == COFFER_PUT_CREATE;
  int inm = g_atomic_int_get (&self->inm);
  int status = 0;
  g_autoptr(GError) local_error = NULL;

  if (create && inm != INM_HONOURED)
    {
      int e = s3_exists (self, key, name, cancellable, error);
      if (e < 0)
        return FALSE;
      if (e > 0)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                       _("The object “%s” already exists."), name);
          return FALSE;
        }
    }

  if (g_bytes_get_size (data) > self->part_size)
    return put_multipart (self, key, name, data, create && inm != INM_IGNORED, cancellable,
                          error);

  if (!put_single (self, key, name, data, create && inm != INM_IGNORED, &status, cancellable,
                   &local_error))
    {
      if (status == 501 && create)
        {
          /* The provider rejects conditional writes: HEAD was done above. */
          g_debug ("%s does not implement If-None-Match on PUT", self->host);
          g_atomic_int_set (&self->inm, INM_IGNORED);
          g_clear_error (&local_error);
          return put_single (self, key, name, data, FALSE, &status, cancellable, error);
        }
      if (status == 501)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                     _("The S3 server %s does not implement uploads of “%s”."), self->host, name);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  /* Learn once whether the server honours If-None-Match: sending the same
   * bytes again must be refused with 412; if it is accepted instead, the
   * object was rewritten with identical content, which is harmless. */
  if (create && inm == INM_UNKNOWN && g_bytes_get_size (data) <= PROBE_MAX_SIZE)
    {
      if (put_single (self, key, name, data, TRUE, &status, cancellable, NULL))
        {
          g_debug ("%s ignores If-None-Match; using HEAD before create-only writes", self->host);
          g_atomic_int_set (&self->inm, INM_IGNORED);
        }
      else if (status == 412)
        g_atomic_int_set (&self->inm, INM_HONOURED);
    }
  return TRUE;
}

/* ---- get / stat / delete ---- */

static GBytes *
s3_get_full (CofferStore *store, const char *name, guint64 offset, guint64 length, guint64 max_size,
             GCancellable *cancellable, GError **error)
{
  CofferStoreS3 *self = COFFER_STORE_S3 (store);
  g_autofree char *key = full_key (self, name);
  g_autofree char *range = NULL;
  CofferSigv4Header h = { "Range", NULL };
  S3Response r = { 0 };
  GBytes *result = NULL;
  gsize got;

  r.max_body = max_size;
  if (length > 0)
    range = g_strdup_printf ("bytes=%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, offset,
                             offset + length - 1);
  else if (offset > 0)
    range = g_strdup_printf ("bytes=%" G_GUINT64_FORMAT "-", offset);
  h.value = range;

  if (!s3_request (self, "GET", key, NULL, &h, range ? 1 : 0, NULL, &r, cancellable, error))
    return NULL;
  got = g_bytes_get_size (r.body);
  if (r.status == 206)
    {
      if (length > 0 && got != length)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                     _("The object “%s” is shorter than the requested range."), name);
      else
        result = g_bytes_ref (r.body);
    }
  else if (r.status == 200)
    {
      /* A server that ignores Range sends everything: slice it. */
      if (offset > got || (length > 0 && offset + length > got))
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                     _("The object “%s” is shorter than the requested range."), name);
      else
        result = g_bytes_new_from_bytes (r.body, offset, length ? length : got - offset);
    }
  else if (r.status == 416)
    g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                 _("The object “%s” is shorter than the requested range."), name);
  else
    s3_set_error (self, error, &r, C_("store action", "download"), name);
  s3_response_clear (&r);
  return result;
}

static GBytes *
coffer_store_s3_get (CofferStore *store, const char *name, guint64 offset, guint64 length,
                     GCancellable *cancellable, GError **error)
{
  return s3_get_full (store, name, offset, length, 0, cancellable, error);
}

static GBytes *
coffer_store_s3_get_limited (CofferStore *store, const char *name, guint64 max_size,
                             GCancellable *cancellable, GError **error)
{
  return s3_get_full (store, name, 0, 0, max_size, cancellable, error);
}

static gboolean
coffer_store_s3_stat (CofferStore *store, const char *name, guint64 *size,
                      GCancellable *cancellable, GError **error)
{
  CofferStoreS3 *self = COFFER_STORE_S3 (store);
  g_autofree char *key = full_key (self, name);

  return s3_head (self, key, name, size, cancellable, error);
}

static gboolean
coffer_store_s3_delete (CofferStore *store, const char *name, GCancellable *cancellable,
                        GError **error)
{
  CofferStoreS3 *self = COFFER_STORE_S3 (store);
  g_autofree char *key = full_key (self, name);
  S3Response r = { 0 };
  gboolean ok;

  if (!s3_request (self, "DELETE", key, NULL, NULL, 0, NULL, &r, cancellable, error))
    return FALSE;
  ok = r.status == 204 || r.status == 200;
  if (!ok)
    s3_set_error (self, error, &r, C_("store action", "delete"), name);
  s3_response_clear (&r);
  return ok;
}

/* ---- list ---- */

/* coffer_store_s3_list, one page: hands each key below the store's prefix
 * to func, notes IsTruncated and NextContinuationToken. FALSE when func
 * asked to stop. */
static gboolean
list_page_read (CofferStoreS3       *self,
                xmlNodePtr           root,
                CofferStoreListFunc  func,
                gpointer             user_data,
                gboolean            *truncated,
                char               **token)
{
  gsize plen = strlen (self->prefix);

  for (xmlNodePtr n = root->children; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE)
        continue;
      if (xmlStrEqual (n->name, BAD_CAST "Contents"))
        {
          g_autofree char *k = xml_child_text (n, "Key");
          g_autofree char *sz = xml_child_text (n, "Size");
          if (k == NULL || !g_str_has_prefix (k, self->prefix) || k[plen] == '\0'
              || g_str_has_suffix (k, "/"))
            continue;
          if (!func (k + plen, sz ? g_ascii_strtoull (sz, NULL, 10) : 0, user_data))
            return FALSE;
        }
      else if (xmlStrEqual (n->name, BAD_CAST "IsTruncated"))
        {
          xmlChar *t = xmlNodeGetContent (n);
          *truncated = g_ascii_strcasecmp ((const char *) t, "true") == 0;
          xmlFree (t);
        }
      else if (xmlStrEqual (n->name, BAD_CAST "NextContinuationToken"))
        {
          xmlChar *t = xmlNodeGetContent (n);
          g_free (*token);
          *token = g_strdup ((const char *) t);
          xmlFree (t);
        }
    }
  return TRUE;
}

static gboolean
coffer_store_s3_list (CofferStore *store, const char *prefix, CofferStoreListFunc func,
                      gpointer user_data, GCancellable *cancellable, GError **error)
{
  CofferStoreS3 *self = COFFER_STORE_S3 (store);
  g_autofree char *fprefix = full_key (self, prefix);
  g_autofree char *eprefix = coffer_sigv4_uri_encode (fprefix, FALSE);
  g_autofree char *token = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint page = 0;; page++)
    {
      g_autofree char *query = NULL;
      S3Response r = { 0 };
      xmlDocPtr doc;
      xmlNodePtr root;
      gboolean truncated = FALSE;
      gboolean stopped;

      if (token)
        {
          g_autofree char *etok = coffer_sigv4_uri_encode (token, FALSE);
          query = g_strdup_printf ("continuation-token=%s&list-type=2&prefix=%s", etok, eprefix);
        }
      else
        query = g_strdup_printf ("list-type=2&prefix=%s", eprefix);

      if (!s3_request (self, "GET", NULL, query, NULL, 0, NULL, &r, cancellable, error))
        return FALSE;
      if (r.status != 200)
        {
          s3_set_error (self, error, &r, C_("store action", "list"), prefix[0] ? prefix : "/");
          s3_response_clear (&r);
          return FALSE;
        }
      doc = parse_xml (r.body);
      s3_response_clear (&r);
      root = doc ? xmlDocGetRootElement (doc) : NULL;
      if (root == NULL || !xmlStrEqual (root->name, BAD_CAST "ListBucketResult"))
        {
          if (doc)
            xmlFreeDoc (doc);
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The S3 server %s sent a listing that could not be read."), self->host);
          return FALSE;
        }
      g_clear_pointer (&token, g_free);
      stopped = !list_page_read (self, root, func, user_data, &truncated, &token);
      xmlFreeDoc (doc);
      if (stopped || !truncated)
        return TRUE;
      if (token == NULL || token[0] == '\0')
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The S3 server %s sent a truncated listing without a continuation "
                       "token."), self->host);
          return FALSE;
        }
      /* A server that hands out a new token for every page would list
       * forever (docs/SECURITY.md "Size limits"). */
      if (page + 1 >= self->max_list_pages)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The S3 server %s sent more than %u pages of listing; that is not a "
                         "Coffer backup, and the listing would not end."), self->host, self->max_list_pages);
          return FALSE;
        }
      /* A token seen before would list the same pages forever. */
      if (!g_hash_table_add (seen, g_strdup (token)))
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The S3 server %s sent a continuation token it had sent before; the listing "
                       "would never end."), self->host);
          return FALSE;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
    }
}

/* ---- batch delete (DeleteObjects) ---- */

gboolean
coffer_store_s3_delete_many (CofferStoreS3 *self, const char * const *names,
                             GCancellable *cancellable, GError **error)
{
  guint n = names ? g_strv_length ((char **) names) : 0;

  for (guint start = 0; start < n; start += 1000)
    {
      g_autoptr(GString) xml = g_string_new ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                             "<Delete><Quiet>true</Quiet>");
      g_autoptr(GBytes) body = NULL;
      g_autofree char *md5 = NULL;
      CofferSigv4Header h[2] = { { "Content-MD5", NULL }, { "Content-Type", "application/xml" } };
      S3Response r = { 0 };
      guint8 digest[16];
      gsize dlen = sizeof digest;
      GChecksum *ck;
      gboolean ok;

      if (g_atomic_int_get (&self->no_batch_delete))
        break;
      for (guint i = start; i < MIN (n, start + 1000); i++)
        {
          g_autofree char *key = full_key (self, names[i]);
          g_autofree char *esc = g_markup_escape_text (key, -1);
          g_string_append_printf (xml, "<Object><Key>%s</Key></Object>", esc);
        }
      g_string_append (xml, "</Delete>");
      body = g_bytes_new (xml->str, xml->len);
      ck = g_checksum_new (G_CHECKSUM_MD5);
      g_checksum_update (ck, (const guchar *) xml->str, xml->len);
      g_checksum_get_digest (ck, digest, &dlen);
      g_checksum_free (ck);
      md5 = g_base64_encode (digest, dlen);
      h[0].value = md5;

      /* Not wrapped by the retry layer: a network error (libsoup does not
       * resend a POST on a connection the server closed) or a 5xx is tried
       * again a few times; deleting twice is harmless. */
      for (guint attempt = 1; ; attempt++)
        {
          g_autoptr(GError) local_error = NULL;
          gboolean sent = s3_request (self, "POST", NULL, "delete", h, 2, body, &r, cancellable, &local_error);
          gboolean transient = sent ? r.status >= 500 && r.status != 501
                                    : g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NETWORK);

          if (!transient || attempt == 3)
            {
              if (!sent)
                {
                  g_propagate_error (error, g_steal_pointer (&local_error));
                  return FALSE;
                }
              break;
            }
          if (sent)
            s3_response_clear (&r);
          g_usleep (100 * 1000 * attempt);
        }
      if (r.status == 501 || r.status == 405)
        {
          g_atomic_int_set (&self->no_batch_delete, TRUE);
          s3_response_clear (&r);
          break;
        }
      ok = r.status == 200;
      if (ok)
        {
          xmlDocPtr doc = parse_xml (r.body);
          xmlNodePtr root = doc ? xmlDocGetRootElement (doc) : NULL;
          for (xmlNodePtr c = root ? root->children : NULL; c && ok; c = c->next)
            if (c->type == XML_ELEMENT_NODE && xmlStrEqual (c->name, BAD_CAST "Error"))
              {
                g_autofree char *k = xml_child_text (c, "Key");
                g_autofree char *code = xml_child_text (c, "Code");
                g_set_error (error, COFFER_STORE_ERROR,
                             code && g_str_equal (code, "AccessDenied")
                               ? COFFER_STORE_ERROR_AUTH : COFFER_STORE_ERROR_FAILED,
                             _("Could not delete “%s” on %s (%s)."), k ? k : "?", self->host,
                             code ? code : "error");
                ok = FALSE;
              }
          if (doc)
            xmlFreeDoc (doc);
          s3_response_clear (&r);
          if (!ok)
            return FALSE;
          continue;
        }
      s3_set_error (self, error, &r, C_("store action", "delete objects in"), self->bucket);
      s3_response_clear (&r);
      return FALSE;
    }
  if (g_atomic_int_get (&self->no_batch_delete))
    for (guint i = 0; i < n; i++)
      if (!coffer_store_s3_delete (COFFER_STORE (self), names[i], cancellable, error))
        return FALSE;
  return TRUE;
}

static char *
coffer_store_s3_describe (CofferStore *store)
{
  CofferStoreS3 *self = COFFER_STORE_S3 (store);
  g_autofree char *prefix = g_strdup (self->prefix);

  if (g_str_has_suffix (prefix, "/"))
    prefix[strlen (prefix) - 1] = '\0';
  return g_strdup_printf ("s3://%s%s%s", self->bucket, prefix[0] ? "/" : "", prefix);
}

static void
coffer_store_s3_iface_init (CofferStoreInterface *iface)
{
  iface->put = coffer_store_s3_put;
  iface->get = coffer_store_s3_get;
  iface->get_limited = coffer_store_s3_get_limited;
  iface->list = coffer_store_s3_list;
  iface->delete = coffer_store_s3_delete;
  iface->stat = coffer_store_s3_stat;
  iface->describe = coffer_store_s3_describe;
}

static void
coffer_store_s3_finalize (GObject *object)
{
  CofferStoreS3 *self = COFFER_STORE_S3 (object);

  g_clear_object (&self->session);
  g_free (self->scheme);
  g_free (self->host);
  g_free (self->base_path);
  g_free (self->region);
  g_free (self->bucket);
  g_free (self->prefix);
  g_free (self->access_key_id);
  g_clear_pointer (&self->secret_key, coffer_secret_free);
  G_OBJECT_CLASS (coffer_store_s3_parent_class)->finalize (object);
}

static void
coffer_store_s3_class_init (CofferStoreS3Class *klass)
{
  G_OBJECT_CLASS (klass)->finalize = coffer_store_s3_finalize;
}

static void
coffer_store_s3_init (CofferStoreS3 *self)
{
  self->part_size = DEFAULT_PART_SIZE;
  self->max_list_pages = DEFAULT_MAX_LIST_PAGES;
}

CofferStore *
coffer_store_s3_new (const char *endpoint, const char *region, gboolean path_style,
                     const char *bucket, const char *prefix, const char *access_key_id,
                     const CofferSecret *secret_key, const char *ca_file, GError **error)
{
  g_autoptr(CofferStoreS3) self = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *clean = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (bucket != NULL, NULL);
  g_return_val_if_fail (access_key_id != NULL && secret_key != NULL, NULL);

  if (region == NULL || region[0] == '\0')
    region = "us-east-1";
  if (bucket[0] == '\0' || strchr (bucket, '/') != NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("“%s” is not a valid S3 bucket name."), bucket);
      return NULL;
    }

  self = g_object_new (COFFER_TYPE_STORE_S3, NULL);
  if (endpoint == NULL || endpoint[0] == '\0')
    {
      self->scheme = g_strdup ("https");
      self->host = g_str_equal (region, "us-east-1") ? g_strdup ("s3.amazonaws.com")
                                                     : g_strdup_printf ("s3.%s.amazonaws.com", region);
      self->port = -1;
      self->base_path = g_strdup ("");
      /* Bucket names with dots do not match the wildcard certificate. */
      self->path_style = path_style || strchr (bucket, '.') != NULL;
    }
  else
    {
      uri = g_uri_parse (endpoint, G_URI_FLAGS_NONE, &local_error);
      if (uri == NULL || g_uri_get_host (uri) == NULL
          || (!g_str_equal (g_uri_get_scheme (uri), "http")
              && !g_str_equal (g_uri_get_scheme (uri), "https")))
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The S3 endpoint “%s” is not a valid http:// or https:// address."),
                       endpoint);
          return NULL;
        }
      self->scheme = g_strdup (g_uri_get_scheme (uri));
      self->host = g_strdup (g_uri_get_host (uri));
      self->port = g_uri_get_port (uri);
      if ((self->port == 443 && g_str_equal (self->scheme, "https"))
          || (self->port == 80 && g_str_equal (self->scheme, "http")))
        self->port = -1;
      self->base_path = g_strdup (g_uri_get_path (uri));
      if (g_str_has_suffix (self->base_path, "/"))
        self->base_path[strlen (self->base_path) - 1] = '\0';
      self->path_style = path_style;
    }
  self->region = g_strdup (region);
  self->bucket = g_strdup (bucket);
  clean = g_strdup (prefix ? prefix : "");
  g_strstrip (clean);
  while (clean[0] == '/')
    memmove (clean, clean + 1, strlen (clean));
  while (clean[0] && g_str_has_suffix (clean, "/"))
    clean[strlen (clean) - 1] = '\0';
  self->prefix = clean[0] ? g_strconcat (clean, "/", NULL) : g_strdup ("");
  self->access_key_id = g_strdup (access_key_id);
  self->secret_key = coffer_secret_dup (secret_key);
  self->session = coffer_store_http_session_new (ca_file, 0, error);
  if (self->session == NULL)
    return NULL;
  return COFFER_STORE (g_steal_pointer (&self));
}

void
coffer_store_s3_set_part_size (CofferStoreS3 *self, guint64 part_size)
{
  g_return_if_fail (COFFER_IS_STORE_S3 (self));
  self->part_size = MAX (part_size, 5 * 1024 * 1024);
}

void
coffer_store_s3_set_max_list_pages (CofferStoreS3 *self, guint max)
{
  g_return_if_fail (COFFER_IS_STORE_S3 (self));
  g_return_if_fail (max > 0);
  self->max_list_pages = max;
}
