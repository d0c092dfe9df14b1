/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The --repo location (src/core/store/coffer-store-open.c): a path, file://,
 * webdav(s):// or s3:// URL, or another GIO URI. Credentials come from the
 * environment set here; opening contacts no server. */
#include "fuzz-common.h"
#include "coffer-store.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  g_setenv ("COFFER_WEBDAV_PASSWORD", "fuzz-password", TRUE);
  g_setenv ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", "fuzz-secret", TRUE);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *location = g_strndup ((const char *) data, size);
  CofferStoreOptions options = { 0 };
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(GError) error = NULL;

  if (size > 0 && (data[0] & 1))
    {
      options.s3_endpoint = "http://127.0.0.1:9";
      options.s3_region = "eu-central-1";
    }
  store = coffer_store_open (location, &options, &error);
  g_assert ((store == NULL) == (error != NULL));
  if (store != NULL)
    {
      g_autofree char *what = coffer_store_describe (store);
      g_assert_nonnull (what);
    }
  return 0;
}
