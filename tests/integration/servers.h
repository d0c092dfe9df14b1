/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Real storage servers for integration tests, started on 127.0.0.1 with
 * free ports in a private temporary directory and stopped by
 * coffer_test_server_stop(). Reusable by any test:
 *
 *   CofferTestServer *s = coffer_test_server_start (COFFER_TEST_SERVER_APACHE_BASIC, &error);
 *   coffer_test_server_set_env (s);   // COFFER_WEBDAV_* or AWS_* variables
 *   store = coffer_store_open (coffer_test_server_get_location (s),
 *                              coffer_test_server_get_options (s), &error);
 *   …
 *   coffer_test_server_stop (s);
 */

#include <glib.h>
#include "coffer-store.h"

G_BEGIN_DECLS

typedef enum
{
  COFFER_TEST_SERVER_APACHE_BASIC,   /* Apache httpd + mod_dav, Basic auth */
  COFFER_TEST_SERVER_APACHE_DIGEST,  /* Apache httpd + mod_dav, Digest auth */
  COFFER_TEST_SERVER_RCLONE,         /* rclone serve webdav, Basic auth */
  COFFER_TEST_SERVER_S3,             /* @20minutes/s3rver (checks SigV4) */
} CofferTestServerKind;

typedef struct _CofferTestServer CofferTestServer;

/* Fails the test (g_error) if the server cannot be started. */
CofferTestServer *coffer_test_server_start (CofferTestServerKind kind);
void        coffer_test_server_stop       (CofferTestServer *server);

const char *coffer_test_server_get_name   (CofferTestServer *server);
/* "webdav://127.0.0.1:PORT/dav/repo" or "s3://coffer/repo" */
const char *coffer_test_server_get_location (CofferTestServer *server);
/* http://127.0.0.1:PORT/dav/ (WebDAV) or http://127.0.0.1:PORT (S3 endpoint) */
const char *coffer_test_server_get_http_url (CofferTestServer *server);
const char *coffer_test_server_get_user   (CofferTestServer *server);   /* or access key id */
const char *coffer_test_server_get_password (CofferTestServer *server); /* or secret key */
guint16     coffer_test_server_get_port   (CofferTestServer *server);
/* Options for coffer_store_open (S3 endpoint etc.); owned by the server. */
const CofferStoreOptions *coffer_test_server_get_options (CofferTestServer *server);
/* Apache Basic only: the account's password is now password (as when a
 * user changes it at their provider); clients with the old one get 401. */
void        coffer_test_server_change_password (CofferTestServer *server, const char *password);
/* Sets COFFER_WEBDAV_USER/PASSWORD or AWS_ACCESS_KEY_ID/SECRET_ACCESS_KEY. */
void        coffer_test_server_set_env    (CofferTestServer *server);
/* Writes an rclone config with a remote named "srv" for this server and
 * returns its path (for cross-checks with an independent client). */
const char *coffer_test_server_get_rclone_config (CofferTestServer *server);
/* The rclone path of the location, e.g. "srv:dav/repo" or "srv:coffer/repo". */
const char *coffer_test_server_get_rclone_path (CofferTestServer *server);

/* The folder on this machine where the server keeps the location's
 * objects (Apache: …/root/dav/repo, rclone: …/data/repo, s3rver:
 * …/data/coffer/repo, where each object is NAME._S3rver_object plus
 * metadata files). For tests that watch uploads arrive. */
const char *coffer_test_server_get_storage_dir (CofferTestServer *server);

/* A free TCP port on 127.0.0.1. */
guint16 coffer_test_free_port (void);

G_END_DECLS
