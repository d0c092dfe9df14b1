/* SPDX-License-Identifier: GPL-3.0-or-later */
/* S3 replies (src/core/store/coffer-store-s3.c): a hostile server answers every
 * request with the fuzz input: ListObjectsV2 (ListBucketResult, with
 * continuation tokens), DeleteObjects results, error documents (Code,
 * Message) and odd statuses. The real store lists, deletes many, gets and
 * stats against it. A listing must end even when the server keeps saying
 * "truncated". */
#include "fuzz-http.h"
#include "coffer-store.h"
#include "coffer-store-private.h"

static CofferStore *store;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) secret = coffer_secret_new_from_string ("fuzz-secret-key");
  g_autofree char *endpoint = NULL;

  fuzz_setup ();
  endpoint = g_strdup (fuzz_http_start ());
  endpoint[strlen (endpoint) - 1] = '\0';   /* no trailing '/' */
  store = coffer_store_s3_new (endpoint, "us-east-1", TRUE, "bucket", "repo", "AKIDFUZZ", secret,
                               NULL, &error);
  g_assert_no_error (error);
  return 0;
}

static gboolean
count_names (const char *name, guint64 size, gpointer user_data)
{
  guint *n = user_data;

  g_assert_nonnull (name);
  (*n)++;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const many[] = { "a", "b/c", "keys/pending/x", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  guint64 sz = 0;
  guint names = 0;

  fuzz_http_answer (data, size);
  coffer_store_list (store, "categories/", count_names, &names, NULL, &error);
  g_clear_error (&error);
  g_assert_cmpuint (fuzz_http_request_count (), <, 10000);
  coffer_store_s3_delete_many (COFFER_STORE_S3 (store), many, NULL, &error);
  g_clear_error (&error);
  coffer_store_stat (store, "keys/recovery", &sz, NULL, &error);
  g_clear_error (&error);
  got = coffer_store_get (store, "config", 0, 0, NULL, &error);
  return 0;
}
