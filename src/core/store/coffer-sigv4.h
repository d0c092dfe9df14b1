/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* AWS Signature Version 4 (header signing), split into the steps AWS
 * documents so that each can be checked against the published test suite:
 * canonical request -> string to sign -> signing key -> signature. */

#include <glib.h>
#include "coffer-secret.h"

G_BEGIN_DECLS

typedef struct
{
  const char *name;   /* any case; lower-cased for signing */
  const char *value;  /* trimmed, inner runs of spaces collapsed for signing */
} CofferSigv4Header;

/* Hex SHA-256 of data (the payload hash). */
char *coffer_sigv4_sha256_hex (const void *data, gsize len);

/* URI-encodes s the AWS way: unreserved characters (A-Z a-z 0-9 - . _ ~) stay,
 * everything else becomes %XX (upper case); '/' stays when keep_slash. */
char *coffer_sigv4_uri_encode (const char *s, gboolean keep_slash);

/* Canonical query string from a query as it appears in a URL ("b=2&a=1",
 * NULL or "" for none): each name and value percent-decoded, re-encoded,
 * sorted by name then value. */
char *coffer_sigv4_canonical_query (const char *query);

/* path is the decoded path ("/", "/bucket/key with space"); it is encoded
 * once (as S3 requires, and as the test suite expects for unencoded paths).
 * Returns the canonical request; *signed_headers gets "host;x-amz-date". */
char *coffer_sigv4_canonical_request (const char *method, const char *path,
                                      const char *query,
                                      const CofferSigv4Header *headers, guint n_headers,
                                      const char *payload_hash, char **signed_headers);

/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>" */
char *coffer_sigv4_string_to_sign (const char *amz_date, const char *scope,
                                   const char *canonical_request);

/* kSigning = HMAC chain over "AWS4"+secret, date (YYYYMMDD), region, service,
 * "aws4_request". Returned in secure memory (32 bytes). */
CofferSecret *coffer_sigv4_signing_key (const CofferSecret *secret_key, const char *date,
                                        const char *region, const char *service);

/* Hex HMAC-SHA256(signing_key, string_to_sign). */
char *coffer_sigv4_signature (const CofferSecret *signing_key, const char *string_to_sign);

/* The whole Authorization header value. amz_date is "YYYYMMDDTHHMMSSZ". */
char *coffer_sigv4_authorization (const char *access_key_id, const CofferSecret *secret_key,
                                  const char *region, const char *service,
                                  const char *amz_date, const char *method,
                                  const char *path, const char *query,
                                  const CofferSigv4Header *headers, guint n_headers,
                                  const char *payload_hash);

G_END_DECLS
