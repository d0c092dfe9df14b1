/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Known answers for AWS Signature Version 4: cases of the public AWS SigV4
 * test suite (credentials AKIDEXAMPLE, 20150830T123600Z, us-east-1,
 * service "service") and the IAM ListUsers example of the AWS documentation
 * ("Examples of the complete Signature Version 4 signing process"). The
 * expected values were checked against several independent implementations
 * and against botocore's signer. */
#include "coffer-sigv4.h"
#include "coffer-secret.h"

#include <string.h>

#define DATE "20150830T123600Z"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SUITE_PREFIX "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static char *
suite_sign (const char *method, const char *path, const char *query,
            const CofferSigv4Header *extra, guint n_extra, const char *body)
{
  g_autoptr(CofferSecret) secret = coffer_secret_new_from_string (SECRET);
  g_autoptr(GArray) hs = g_array_new (FALSE, FALSE, sizeof (CofferSigv4Header));
  CofferSigv4Header host = { "Host", "example.amazonaws.com" };
  CofferSigv4Header date = { "X-Amz-Date", DATE };
  g_autofree char *payload = coffer_sigv4_sha256_hex (body, strlen (body));

  g_array_append_val (hs, host);
  g_array_append_vals (hs, extra, n_extra);
  g_array_append_val (hs, date);
  return coffer_sigv4_authorization ("AKIDEXAMPLE", secret, "us-east-1", "service", DATE,
                                     method, path, query,
                                     (CofferSigv4Header *) hs->data, hs->len, payload);
}

static void
test_get_vanilla (void)
{
  CofferSigv4Header hs[] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", DATE } };
  g_autofree char *signed_headers = NULL;
  g_autofree char *creq = coffer_sigv4_canonical_request ("GET", "/", NULL, hs, 2,
                                                          EMPTY_SHA256, &signed_headers);
  g_autofree char *auth = suite_sign ("GET", "/", NULL, NULL, 0, "");

  g_assert_cmpstr (creq, ==,
                   "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:" DATE "\n\n"
                   "host;x-amz-date\n" EMPTY_SHA256);
  g_assert_cmpstr (signed_headers, ==, "host;x-amz-date");
  g_assert_cmpstr (auth, ==, SUITE_PREFIX "SignedHeaders=host;x-amz-date, "
                   "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void
test_get_vanilla_query_order_key_case (void)
{
  g_autofree char *auth = suite_sign ("GET", "/", "Param2=value2&Param1=value1", NULL, 0, "");
  g_autofree char *cq = coffer_sigv4_canonical_query ("Param2=value2&Param1=value1");

  g_assert_cmpstr (cq, ==, "Param1=value1&Param2=value2");
  g_assert_cmpstr (auth, ==, SUITE_PREFIX "SignedHeaders=host;x-amz-date, "
                   "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

static void
test_post_vanilla (void)
{
  g_autofree char *auth = suite_sign ("POST", "/", NULL, NULL, 0, "");

  g_assert_cmpstr (auth, ==, SUITE_PREFIX "SignedHeaders=host;x-amz-date, "
                   "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

static void
test_get_header_value_trim (void)
{
  CofferSigv4Header extra[] = { { "My-Header1", " value1" }, { "My-Header2", " \"a   b   c\"" } };
  CofferSigv4Header hs[] = { { "Host", "example.amazonaws.com" }, extra[0], extra[1],
                             { "X-Amz-Date", DATE } };
  g_autofree char *creq = coffer_sigv4_canonical_request ("GET", "/", NULL, hs, 4,
                                                          EMPTY_SHA256, NULL);
  g_autofree char *auth = suite_sign ("GET", "/", NULL, extra, 2, "");

  g_assert_nonnull (strstr (creq, "\nmy-header1:value1\nmy-header2:\"a b c\"\n"));
  g_assert_cmpstr (auth, ==, SUITE_PREFIX "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
                   "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

static void
test_post_x_www_form_urlencoded (void)
{
  CofferSigv4Header extra[] = { { "Content-Type", "application/x-www-form-urlencoded" } };
  g_autofree char *hash = coffer_sigv4_sha256_hex ("Param1=value1", 13);
  g_autofree char *auth = suite_sign ("POST", "/", NULL, extra, 1, "Param1=value1");

  g_assert_cmpstr (hash, ==, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  g_assert_cmpstr (auth, ==, SUITE_PREFIX "SignedHeaders=content-type;host;x-amz-date, "
                   "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

static void
test_get_utf8 (void)
{
  g_autofree char *auth = suite_sign ("GET", "/\xe1\x88\xb4", NULL, NULL, 0, "");

  g_assert_cmpstr (auth, ==, SUITE_PREFIX "SignedHeaders=host;x-amz-date, "
                   "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

static void
test_iam_example (void)
{
  g_autoptr(CofferSecret) secret = coffer_secret_new_from_string (SECRET);
  g_autoptr(CofferSecret) key = NULL;
  CofferSigv4Header hs[] = {
    { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
    { "Host", "iam.amazonaws.com" },
    { "X-Amz-Date", DATE },
  };
  const char *query = "Action=ListUsers&Version=2010-05-08";
  g_autofree char *creq = coffer_sigv4_canonical_request ("GET", "/", query, hs, 3,
                                                          EMPTY_SHA256, NULL);
  g_autofree char *creq_hash = coffer_sigv4_sha256_hex (creq, strlen (creq));
  g_autofree char *sts = coffer_sigv4_string_to_sign (DATE, "20150830/us-east-1/iam/aws4_request",
                                                      creq);
  g_autofree char *key_hex = NULL;
  g_autofree char *sig = NULL;
  g_autofree char *auth = NULL;

  g_assert_cmpstr (creq, ==,
                   "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                   "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                   "host:iam.amazonaws.com\nx-amz-date:" DATE "\n\n"
                   "content-type;host;x-amz-date\n" EMPTY_SHA256);
  g_assert_cmpstr (creq_hash, ==, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  g_assert_cmpstr (sts, ==, "AWS4-HMAC-SHA256\n" DATE "\n20150830/us-east-1/iam/aws4_request\n"
                   "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");

  key = coffer_sigv4_signing_key (secret, "20150830", "us-east-1", "iam");
  g_assert_cmpuint (key->len, ==, 32);
  key_hex = g_malloc (65);
  for (guint i = 0; i < 32; i++)
    g_snprintf (key_hex + 2 * i, 3, "%02x", key->data[i]);
  g_assert_cmpstr (key_hex, ==, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");

  sig = coffer_sigv4_signature (key, sts);
  g_assert_cmpstr (sig, ==, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");

  auth = coffer_sigv4_authorization ("AKIDEXAMPLE", secret, "us-east-1", "iam", DATE, "GET", "/",
                                     query, hs, 3, EMPTY_SHA256);
  g_assert_cmpstr (auth, ==,
                   "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                   "SignedHeaders=content-type;host;x-amz-date, "
                   "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

static void
test_encoding (void)
{
  g_autofree char *a = coffer_sigv4_uri_encode ("a b/c~d*e+é", FALSE);
  g_autofree char *b = coffer_sigv4_uri_encode ("/bucket/dir x/obj", TRUE);
  g_autofree char *q = coffer_sigv4_canonical_query ("prefix=a%2Fb%20c&list-type=2&continuation-token=x%2By%3D");
  g_autofree char *e = coffer_sigv4_canonical_query ("uploads");

  g_assert_cmpstr (a, ==, "a%20b%2Fc~d%2Ae%2B%C3%A9");
  g_assert_cmpstr (b, ==, "/bucket/dir%20x/obj");
  g_assert_cmpstr (q, ==, "continuation-token=x%2By%3D&list-type=2&prefix=a%2Fb%20c");
  g_assert_cmpstr (e, ==, "uploads=");
}

int
main (int argc, char **argv)
{
  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sigv4/suite/get-vanilla", test_get_vanilla);
  g_test_add_func ("/sigv4/suite/get-vanilla-query-order-key-case",
                   test_get_vanilla_query_order_key_case);
  g_test_add_func ("/sigv4/suite/post-vanilla", test_post_vanilla);
  g_test_add_func ("/sigv4/suite/get-header-value-trim", test_get_header_value_trim);
  g_test_add_func ("/sigv4/suite/post-x-www-form-urlencoded", test_post_x_www_form_urlencoded);
  g_test_add_func ("/sigv4/suite/get-utf8", test_get_utf8);
  g_test_add_func ("/sigv4/iam-example", test_iam_example);
  g_test_add_func ("/sigv4/encoding", test_encoding);
  return g_test_run ();
}
