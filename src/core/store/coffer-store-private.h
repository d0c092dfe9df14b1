/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Constructors of the storage backends and helpers they share. Callers
 * outside src/core/ use coffer_store_open(); tests use these directly. */

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "coffer-store.h"
#include "coffer-secret.h"

G_BEGIN_DECLS

/* Prefix of temporary object names; list() never reports them. */
#define COFFER_STORE_TMP_PREFIX ".tmp-"

/* Local folder (POSIX fast path) or any GIO location (GFile). */
#define COFFER_TYPE_STORE_LOCAL (coffer_store_local_get_type ())
G_DECLARE_FINAL_TYPE (CofferStoreLocal, coffer_store_local, COFFER, STORE_LOCAL, GObject)
CofferStore *coffer_store_local_new (GFile *root);
/* Tests: use the GFile code path even for local paths. */
void coffer_store_local_set_use_gio (CofferStoreLocal *self, gboolean use_gio);

/* WebDAV. base_uri is http(s)://host[:port]/path (no credentials). user and
 * password may be NULL (no authentication). */
#define COFFER_TYPE_STORE_WEBDAV (coffer_store_webdav_get_type ())
G_DECLARE_FINAL_TYPE (CofferStoreWebdav, coffer_store_webdav, COFFER, STORE_WEBDAV, GObject)
CofferStore *coffer_store_webdav_new (const char *base_uri, const char *user,
                                      const CofferSecret *password, const char *ca_file,
                                      GError **error);
/* Objects at least this large use Nextcloud chunked upload when the base URI
 * is a Nextcloud files URL (…/remote.php/dav/files/USER/…). 0 = never. */
void coffer_store_webdav_set_chunking (CofferStoreWebdav *self, guint64 threshold,
                                       guint64 chunk_size);
/* A listing that would send more PROPFINDs than this fails (INVALID); the
 * default allows a repository of 1000 categories. Tests lower it. */
void coffer_store_webdav_set_max_list_collections (CofferStoreWebdav *self, guint max);

/* S3. endpoint is "https://s3.amazonaws.com"-like or NULL for AWS;
 * prefix without leading or trailing '/' (may be ""). */
#define COFFER_TYPE_STORE_S3 (coffer_store_s3_get_type ())
G_DECLARE_FINAL_TYPE (CofferStoreS3, coffer_store_s3, COFFER, STORE_S3, GObject)
CofferStore *coffer_store_s3_new (const char *endpoint, const char *region, gboolean path_style,
                                  const char *bucket, const char *prefix,
                                  const char *access_key_id, const CofferSecret *secret_key,
                                  const char *ca_file, GError **error);
/* Objects larger than part_size are sent as multipart uploads of part_size
 * parts (S3 needs parts of at least 5 MiB except the last). */
void coffer_store_s3_set_part_size (CofferStoreS3 *self, guint64 part_size);
/* A listing of more pages than this fails (INVALID); the default allows
 * 100 million objects. Tests lower it. */
void coffer_store_s3_set_max_list_pages (CofferStoreS3 *self, guint max);
/* Deletes many objects with DeleteObjects (1000 per request), or one by one
 * where the provider lacks it. */
gboolean coffer_store_s3_delete_many (CofferStoreS3 *self, const char * const *names,
                                      GCancellable *cancellable, GError **error);

/* The transfer layer: retries, concurrency, bandwidth. */
#define COFFER_TYPE_STORE_RETRY (coffer_store_retry_get_type ())
G_DECLARE_FINAL_TYPE (CofferStoreRetry, coffer_store_retry, COFFER, STORE_RETRY, GObject)
CofferStore *coffer_store_retry_new (CofferStore *inner, guint max_connections,
                                     guint64 bandwidth_limit);
/* Tests: number of tries and the first backoff delay (microseconds). */
void coffer_store_retry_set_policy (CofferStoreRetry *self, guint max_tries,
                                    guint64 initial_delay_us, guint64 max_delay_us);
/* Total retries done so far (for tests and statistics). */
guint coffer_store_retry_get_retries (CofferStoreRetry *self);

/* Shared HTTP helpers (coffer-store.c). */
SoupSession *coffer_store_http_session_new (const char *ca_file, guint max_conns, GError **error);
/* Sends msg with body (may be NULL) and reads the whole response. On a
 * transport failure returns NULL with COFFER_STORE_ERROR_NETWORK or _TLS. */
GBytes *coffer_store_http_send (SoupSession *session, SoupMessage *msg,
                                GCancellable *cancellable, GError **error);
/* TRUE for "localhost" and loopback address literals (127.0.0.0/8, ::1),
 * judged from the name alone, without resolving it. */
gboolean coffer_store_http_is_loopback_host (const char *host);
/* Limits the body coffer_store_http_send reads for msg (see
 * coffer_store_get_limited). */
void coffer_store_http_set_max_body (SoupMessage *msg, guint64 max_body);
/* The error coffer_store_get_limited gives for an object that is too large. */
void coffer_store_set_too_large_error (GError **error, const char *name, guint64 size, guint64 max_size);
/* Maps a non-2xx HTTP status to an error for "what" on "name". */
void coffer_store_http_set_error (GError **error, SoupMessage *msg, const char *what,
                                  const char *name);
/* Percent-encodes each segment of a '/'-separated path (keeps '/'). */
char *coffer_store_escape_path (const char *path);
/* A random name component for temporary objects. */
char *coffer_store_random_token (void);
/* Returns TRUE if name is a well-formed relative object name (no "..", no
 * empty segments, no leading '/'); otherwise sets COFFER_STORE_ERROR_INVALID. */
gboolean coffer_store_check_name (const char *name, GError **error);

G_END_DECLS
