/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AWS Signature V4 inputs (src/core/store/coffer-sigv4.c): object names come
 * from server listings, query strings and header values from the store's
 * requests. The input is split at newlines into method, path, query,
 * header name, header value, region and date; every string function and
 * the whole Authorization header are computed. */
#include "fuzz-common.h"
#include "coffer-sigv4.h"

static CofferSecret *secret;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  secret = coffer_secret_new_from_data ((const guint8 *) "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 40);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_auto(GStrv) f = g_strsplit (text, "\n", 8);
  const char *field[8] = { "GET", "/", "", "x-amz-meta", "v", "us-east-1", "20240101T000000Z", "" };
  g_autofree char *enc = NULL, *enc_slash = NULL, *query = NULL, *hash = NULL;
  g_autofree char *request = NULL, *signed_headers = NULL, *auth = NULL;
  CofferSigv4Header headers[2];

  for (guint i = 0; i < 8 && f[i] != NULL; i++)
    field[i] = f[i];

  enc = coffer_sigv4_uri_encode (field[1], FALSE);
  enc_slash = coffer_sigv4_uri_encode (field[1], TRUE);
  g_assert_nonnull (enc);
  g_assert_nonnull (enc_slash);
  query = coffer_sigv4_canonical_query (field[2]);
  hash = coffer_sigv4_sha256_hex (data, size);
  headers[0].name = "Host";
  headers[0].value = "bucket.example";
  headers[1].name = field[3];
  headers[1].value = field[4];
  request = coffer_sigv4_canonical_request (field[0], field[1], field[2], headers, 2, hash,
                                            &signed_headers);
  auth = coffer_sigv4_authorization ("AKIDEXAMPLE", secret, field[5], "s3", field[6], field[0],
                                     field[1], field[2], headers, 2, hash);
  return 0;
}
