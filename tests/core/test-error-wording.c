/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Damage is not blamed on the user: a damaged envelope is reported as
 * damaged where the key or password was verified some other way, and a
 * truncated config as damaged; a truly wrong key or password still is. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-recovery-key.h"
#include "repo-fixture.h"

#define PASSWORD "wording test password"
/* Envelope: "CFE1" | type | 3 zero bytes | nonce (24) | commitment (32) ... */
#define COMMITMENT_OFFSET 32
/* Password object: "CFPW" 1 0 0 0 | salt (16) | opslimit (8) | memlimit (8) | envelope */
#define PASSWORD_HEADER 40

static void
flip_byte (const char *path, gsize offset)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_cmpuint (offset, <, len);
  data[offset] ^= 0x01;
  g_assert_true (g_file_set_contents (path, data, len, NULL));
}

static void
test_recovery_envelope (void)
{
  g_autofree char *store_dir = fixture_dir ("store-rk");
  g_autofree char *path = g_build_filename (store_dir, "keys", "recovery", NULL);
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) other = coffer_secret_new_random (16);
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;

  fixture_fresh_computer ();
  repo = fixture_create (store_dir, PASSWORD, &rk);
  fixture_close (&repo);
  flip_byte (path, COMMITMENT_OFFSET + 3);

  /* This computer has seen the key open the repository: damage. */
  repo = fixture_open (store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (coffer_repository_verify_recovery_key (repo, rk, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "damaged"));
  g_clear_error (&error);
  /* Another key is still just wrong. */
  g_assert_false (coffer_repository_verify_recovery_key (repo, other, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);
  fixture_close (&repo);

  /* A computer that never saw the key cannot tell (key commitment). */
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, NULL, rk, &error);
  g_assert_null (repo);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
}

static void
test_password_envelope (void)
{
  g_autofree char *store_dir = fixture_dir ("store-pw");
  g_autofree char *src = fixture_dir ("src-pw");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *path = NULL;
  g_autoptr(CofferCategory) cat = NULL;

  fixture_fresh_computer ();
  repo = fixture_create (store_dir, PASSWORD, &rk);
  fixture_make_small_tree (src, 5);
  a = fixture_add_category (repo, "Alpha", COFFER_LEVEL_STANDARD, src);
  b = fixture_add_category (repo, "Beta", COFFER_LEVEL_STANDARD, src);
  fixture_close (&repo);
  path = g_strdup_printf ("%s/categories/%s/keys/password", store_dir, b);
  flip_byte (path, PASSWORD_HEADER + COMMITMENT_OFFSET + 5);

  /* The password opens Alpha, so Beta's envelope is damaged. */
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  cat = coffer_repository_find_category (repo, b, NULL, &error);
  g_assert_null (cat);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "damaged"));
  g_clear_error (&error);
  cat = coffer_repository_find_category (repo, a, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cat);
  g_clear_pointer (&cat, coffer_category_free);
  fixture_close (&repo);

  /* A wrong password is still a wrong password. */
  fixture_fresh_computer ();
  repo = fixture_open (store_dir, "not the password", NULL, &error);
  g_assert_no_error (error);
  cat = coffer_repository_find_category (repo, b, NULL, &error);
  g_assert_null (cat);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD);
}

static void
test_truncated_config (void)
{
  g_autofree char *store_dir = fixture_dir ("store-config");
  g_autofree char *path = g_build_filename (store_dir, "config", NULL);
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;

  repo = fixture_create (store_dir, PASSWORD, &rk);
  fixture_close (&repo);
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  /* Cut inside the chunker group, and right after a line. */
  for (guint cut = 0; cut < 2; cut++)
    {
      gsize keep = cut == 0 ? len - 5 : (gsize) (strstr (data, "[chunker]") - data);

      g_assert_true (g_file_set_contents (path, data, keep, NULL));
      store = fixture_store (store_dir);
      repo = coffer_repository_open (store, NULL, &error);
      g_assert_null (repo);
      g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
      g_assert_nonnull (strstr (error->message, "damaged"));
      g_assert_null (strstr (error->message, "chunker"));
      g_clear_error (&error);
      g_clear_object (&store);
    }
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/error-wording/recovery-envelope", test_recovery_envelope);
  g_test_add_func ("/error-wording/password-envelope", test_password_envelope);
  g_test_add_func ("/error-wording/truncated-config", test_truncated_config);
  return g_test_run ();
}
