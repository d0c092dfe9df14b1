/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer_rclone_classify_error on log lines rclone 1.60 writes for cloud
 * problems. The real cases (an expired, revoked Google Drive sign-in; a
 * full local remote) run end to end in tests/integration
 * test-rclone-signin.sh; rate limits and provider quotas cannot be
 * provoked without the providers, so their log lines are checked here. */
#include <string.h>

#include "coffer-rclone.h"
#include "coffer-error.h"

static GError *
classify (const char *log, const char *backend, int code)
{
  GError *error = g_error_new (COFFER_STORE_ERROR, code, "HTTP 405 Method Not Allowed");

  coffer_rclone_classify_error (log, backend, "cloud", &error);
  return error;
}

static void
test_auth (void)
{
  g_autoptr(GError) e1 = classify ("ERROR : couldn't fetch token - maybe it has expired? - refresh "
                                    "with \"rclone config reconnect cloud:\": oauth2: cannot fetch "
                                    "token: 400 Bad Request\nResponse: {\"error\": \"invalid_grant\"}",
                                    "drive", COFFER_STORE_ERROR_FAILED);
  g_autoptr(GError) e2 = classify ("Failed to create file system: unauthorized_client", NULL,
                                   COFFER_STORE_ERROR_FAILED);
  g_autoptr(GError) e3 = classify ("ERROR : x: Failed to copy: Error 401: Invalid Credentials",
                                   "dropbox", COFFER_STORE_ERROR_SERVER);

  g_assert_error (e1, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH);
  g_assert_true (g_str_has_prefix (e1->message, "Sign in to Google Drive again"));
  g_assert_nonnull (strstr (e1->message, "coffer remote add gdrive cloud"));
  g_assert_error (e2, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH);
  g_assert_nonnull (strstr (e2->message, "rclone config reconnect cloud:"));
  g_assert_error (e3, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH);
  g_assert_true (g_str_has_prefix (e3->message, "Sign in to Dropbox again"));
}

static void
test_quota (void)
{
  g_autoptr(GError) e1 = classify ("ERROR : packs/ab: Failed to copy: googleapi: Error 403: The "
                                   "user's Drive storage quota has been exceeded., "
                                   "storageQuotaExceeded", "drive", COFFER_STORE_ERROR_FAILED);
  g_autoptr(GError) e2 = classify ("ERROR : x: upload failed: insufficient_space/", "dropbox",
                                   COFFER_STORE_ERROR_FAILED);
  g_autoptr(GError) e3 = classify ("ERROR : x: Failed to copy: quotaLimitReached (507 Insufficient "
                                   "Storage)", "onedrive", COFFER_STORE_ERROR_FAILED);

  g_assert_error (e1, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE);
  g_assert_true (g_str_has_prefix (e1->message, "Google Drive is full"));
  g_assert_error (e2, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE);
  g_assert_error (e3, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE);
}

static void
test_rate_limit (void)
{
  g_autoptr(GError) e1 = classify ("ERROR : x: Failed to copy: googleapi: Error 403: User Rate "
                                   "Limit Exceeded, userRateLimitExceeded", "drive",
                                   COFFER_STORE_ERROR_FAILED);
  g_autoptr(GError) e2 = classify ("ERROR : x: too_many_requests/", NULL, COFFER_STORE_ERROR_FAILED);

  /* SERVER: the transfer layer retries it with backoff before it shows. */
  g_assert_error (e1, COFFER_STORE_ERROR, COFFER_STORE_ERROR_SERVER);
  g_assert_nonnull (strstr (e1->message, "rate limit"));
  g_assert_error (e2, COFFER_STORE_ERROR, COFFER_STORE_ERROR_SERVER);
  g_assert_true (g_str_has_prefix (e2->message, "The remote “cloud” is limiting"));
}

static void
test_untouched (void)
{
  g_autoptr(GError) e1 = classify ("NOTICE: Config file not found - using defaults", "drive",
                                   COFFER_STORE_ERROR_FAILED);
  g_autoptr(GError) e2 = classify ("ERROR : invalid_grant", "drive", COFFER_STORE_ERROR_NOT_FOUND);

  g_assert_error (e1, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED);
  g_assert_cmpstr (e1->message, ==, "HTTP 405 Method Not Allowed");
  /* "not there" stays "not there": Coffer relies on it. */
  g_assert_error (e2, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rclone-errors/auth", test_auth);
  g_test_add_func ("/rclone-errors/quota", test_quota);
  g_test_add_func ("/rclone-errors/rate-limit", test_rate_limit);
  g_test_add_func ("/rclone-errors/untouched", test_untouched);
  return g_test_run ();
}
