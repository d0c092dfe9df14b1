/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Servers that would keep a listing going forever (docs/SECURITY.md "Size
 * limits"). A real SoupServer on 127.0.0.1 plays the hostile server:
 *  - WebDAV: every PROPFIND is answered with two sub-collections named by
 *    relative references ("a/", "b/"), which resolve below whatever was
 *    asked, so each level of the walk finds two deeper ones (found by the
 *    hour-long run of fuzz-webdav: 2^64 requests before);
 *  - S3: every ListObjectsV2 page is truncated, with a token never sent
 *    before.
 * Each listing must fail as INVALID after the store's cap of requests. */
#include <string.h>
#include <libsoup/soup.h>

#include "coffer-error.h"
#include "coffer-store.h"
#include "coffer-store-private.h"
#include "test-http-server.h"

static GMutex lock;
static guint requests;

static void
handler (SoupServer *server, SoupServerMessage *msg, const char *path,
         GHashTable *query, gpointer user_data)
{
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree char *body = NULL;
  guint n;

  g_mutex_lock (&lock);
  n = ++requests;
  g_mutex_unlock (&lock);

  if (g_str_equal (method, "PROPFIND"))
    {
      body = g_strdup (
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
        "<D:multistatus xmlns:D=\"DAV:\">"
        "<D:response><D:href>a/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/>"
        "</D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        "<D:response><D:href>b/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/>"
        "</D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        "</D:multistatus>");
      soup_server_message_set_status (msg, 207, NULL);
      soup_message_headers_replace (headers, "Content-Type", "application/xml");
    }
  else if (g_str_equal (method, "GET") && query != NULL && g_hash_table_contains (query, "list-type"))
    {
      body = g_strdup_printf (
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>bucket</Name><Prefix></Prefix><KeyCount>1</KeyCount>"
        "<IsTruncated>true</IsTruncated><NextContinuationToken>token-%u</NextContinuationToken>"
        "<Contents><Key>snapshots/%08u</Key><Size>1</Size></Contents>"
        "</ListBucketResult>", n, n);
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_headers_replace (headers, "Content-Type", "application/xml");
    }
  else
    {
      soup_server_message_set_status (msg, 404, NULL);
      return;
    }
  soup_server_message_set_response (msg, "application/xml", SOUP_MEMORY_COPY, body, strlen (body));
}

static guint
take_requests (void)
{
  guint n;

  g_mutex_lock (&lock);
  n = requests;
  requests = 0;
  g_mutex_unlock (&lock);
  return n;
}

static gboolean
count_name (const char *name, guint64 size, gpointer user_data)
{
  (*(guint *) user_data)++;
  return TRUE;
}

static void
test_webdav_endless_walk (void)
{
  g_autofree char *base = g_strconcat (test_http_server_start (handler), "dav/repo/", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_webdav_new (base, NULL, NULL, NULL, &error);
  guint names = 0;

  g_assert_no_error (error);
  coffer_store_webdav_set_max_list_collections (COFFER_STORE_WEBDAV (store), 300);
  take_requests ();
  g_assert_false (coffer_store_list (store, "", count_name, &names, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "more than 300 folders"));
  g_assert_cmpuint (take_requests (), ==, 300);
  g_clear_error (&error);

  /* Below a prefix too. */
  g_assert_false (coffer_store_list (store, "categories/", count_name, &names, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
  g_assert_cmpuint (take_requests (), ==, 300);
}

static void
test_s3_endless_pages (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) secret = coffer_secret_new_from_data ((const guint8 *) "secret-key", 10);
  g_autoptr(CofferStore) store = NULL;
  guint names = 0;

  store = coffer_store_s3_new (test_http_server_start (handler), "us-east-1", TRUE, "bucket", "repo",
                               "access-key", secret, NULL, &error);
  g_assert_no_error (error);
  coffer_store_s3_set_max_list_pages (COFFER_STORE_S3 (store), 250);
  take_requests ();
  g_assert_false (coffer_store_list (store, "", count_name, &names, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "more than 250 pages"));
  g_assert_cmpuint (take_requests (), ==, 250);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store-hostile/webdav-endless-walk", test_webdav_endless_walk);
  g_test_add_func ("/store-hostile/s3-endless-pages", test_s3_endless_pages);
  return g_test_run ();
}
