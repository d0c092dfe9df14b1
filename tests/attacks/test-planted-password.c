/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The storage plants categories/<cid>/keys/password for an Advanced
 * category (docs/SECURITY.md "Freshness of category descriptions"). The
 * level used to be read from the presence of that object: a normal
 * "devices remove" then asked for the password and wrote a genuine
 * Argon2id envelope holding every epoch key, which the password opened.
 * The level now comes only from the authenticated, fresh meta/<cid>; the
 * planted object is deleted, never opened or re-sealed. */
#include <string.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"

#define PASSWORD "planted password test"

typedef struct
{
  char         *store_dir;
  char         *src;
  char         *cid;
  char         *pw_env;
  char         *first_device;
  CofferSecret *rk;
} Env;

static gboolean
object_exists (const Env *e, const char *name)
{
  g_autofree char *path = g_build_filename (e->store_dir, name, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
plant (const Env *e)
{
  g_autofree char *path = g_build_filename (e->store_dir, e->pw_env, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, "junk", 4, &error);
  g_assert_no_error (error);
}

/* Computer 1 makes an Advanced category and backs it up; computer 2 joins
 * with the recovery key. Ends on computer 2. */
static void
env_init (Env *e)
{
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GError) error = NULL;

  fixture_fresh_computer ();
  e->store_dir = fixture_dir ("store");
  e->src = fixture_dir ("src");
  fixture_make_small_tree (e->src, 7);
  repo = fixture_create (e->store_dir, PASSWORD, &e->rk);
  e->cid = fixture_add_category (repo, "Private", COFFER_LEVEL_ADVANCED, e->src);
  e->pw_env = g_strdup_printf ("categories/%s/keys/password", e->cid);
  snap = fixture_backup (repo, e->cid);
  devices = coffer_repository_list_devices (repo, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (devices->len, ==, 1);
  e->first_device = g_strdup (((CofferDevice *) devices->pdata[0])->id);
  fixture_close (&repo);

  fixture_fresh_computer ();
  repo = fixture_open (e->store_dir, PASSWORD, e->rk, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_repository_trust_this_device (repo, "second", NULL, &error));
  g_assert_no_error (error);
}

static void
env_clear (Env *e)
{
  g_free (e->store_dir);
  g_free (e->src);
  g_free (e->cid);
  g_free (e->pw_env);
  g_free (e->first_device);
  coffer_secret_free (e->rk);
}

/* The password alone, on a new computer, opens nothing of the category. */
static void
assert_password_opens_nothing (const Env *e)
{
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GError) error = NULL;

  fixture_fresh_computer ();
  repo = fixture_open (e->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  snaps = coffer_repository_list_snapshots (repo, e->cid, NULL, &error);
  g_assert_null (snaps);
  /* "Advanced: needs the recovery key", or junk still planted: malformed. */
  g_assert_true (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY)
                 || g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT));
}

/* Planted right before a device removal that is given the password: the
 * removal must not write a password envelope. */
static void
test_remove_with_password (void)
{
  Env e = { 0 };
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) pw = fixture_secret (PASSWORD);
  g_autoptr(CofferStore) store = NULL;

  env_init (&e);
  plant (&e);
  /* A fresh session of computer 2 (nothing loaded before the plant). */
  store = fixture_store (e.store_dir);
  repo = coffer_repository_open (store, NULL, &error);
  g_assert_no_error (error);
  coffer_repository_set_password (repo, pw);
  coffer_repository_set_recovery_key (repo, e.rk);
  g_assert_true (coffer_repository_unlock (repo, NULL, &error));
  g_assert_no_error (error);
  {
    gboolean removed = coffer_repository_remove_device (repo, e.first_device, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (removed);
  }
  g_assert_false (object_exists (&e, e.pw_env));
  fixture_close (&repo);
  assert_password_opens_nothing (&e);
  env_clear (&e);
}

/* A client holding the account key deletes a planted envelope when it
 * meets it; a password change does not re-seal it. */
static void
test_unlock_deletes (void)
{
  Env e = { 0 };
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) cats = NULL;
  g_autoptr(CofferSecret) new_pw = fixture_secret ("another password");

  env_init (&e);
  plant (&e);
  repo = fixture_open (e.store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_repository_has_account_key (repo));
  cats = coffer_repository_list_categories (repo, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (cats->len, ==, 1);
  g_assert_cmpint (((CofferCategory *) cats->pdata[0])->level, ==, COFFER_LEVEL_ADVANCED);
  g_assert_false (object_exists (&e, e.pw_env));
  plant (&e);
  g_assert_true (coffer_repository_change_password (repo, new_pw, NULL, &error));
  g_assert_no_error (error);
  {
    g_autofree char *path = g_build_filename (e.store_dir, e.pw_env, NULL);
    g_autofree char *text = NULL;
    gsize len = 0;

    /* Untouched junk (deleted on the next load), never a real envelope. */
    if (g_file_get_contents (path, &text, &len, NULL))
      g_assert_cmpuint (len, ==, 4);
  }
  fixture_close (&repo);
  assert_password_opens_nothing (&e);
  env_clear (&e);
}

/* A genuine-looking password envelope for the Advanced category, sealed by
 * the storage under a password of its choosing, must not pass as the
 * user's authority for a security change (coffer_repository_check_authority). */
static void
plant_envelope (const Env *e, const char *repo_id_hex, const char *password)
{
  g_autoptr(CofferSecret) pw = fixture_secret (password);
  g_autoptr(CofferSecret) pkey = NULL;
  g_autoptr(CofferSecret) keyset = coffer_secret_new (8 + 4 + 32);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(GByteArray) obj = g_byte_array_new ();
  g_autofree char *path = g_build_filename (e->store_dir, e->pw_env, NULL);
  static const guint8 head[8] = { 'C', 'F', 'P', 'W', 1, 0, 0, 0 };
  guint8 repo_id[16];
  CofferKdfParams params;
  guint64 le;

  g_assert_true (coffer_hex_decode (repo_id_hex, repo_id, sizeof repo_id));
  coffer_kdf_params_new (&params);
  pkey = coffer_kdf_derive (pw, &params, NULL);
  g_assert_nonnull (pkey);
  /* "CKS1", one epoch (0) with a key the attacker knows. */
  memcpy (keyset->data, "CKS1\1\0\0\0\0\0\0\0", 12);
  memset (keyset->data + 12, 0x42, 32);
  env = coffer_envelope_seal (pkey, repo_id, COFFER_OBJECT_CATEGORY_PASSWORD, e->pw_env,
                              keyset->data, keyset->len);
  g_byte_array_append (obj, head, sizeof head);
  g_byte_array_append (obj, params.salt, COFFER_SALT_BYTES);
  le = GUINT64_TO_LE (params.opslimit);
  g_byte_array_append (obj, (guint8 *) &le, 8);
  le = GUINT64_TO_LE (params.memlimit);
  g_byte_array_append (obj, (guint8 *) &le, 8);
  g_byte_array_append (obj, g_bytes_get_data (env, NULL), g_bytes_get_size (env));
  g_assert_true (g_file_set_contents (path, (const char *) obj->data, obj->len, NULL));
}

static void
test_authority (void)
{
  Env e = { 0 };
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSecret) chosen = fixture_secret ("chosen by the storage");
  g_autoptr(CofferSecret) real = fixture_secret (PASSWORD);
  g_autoptr(GError) error = NULL;

  env_init (&e);
  repo = fixture_open (e.store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  plant_envelope (&e, coffer_repository_get_id (repo), "chosen by the storage");
  g_assert_false (coffer_repository_check_authority (repo, chosen, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  /* The real password still counts (it seals this computer's key file). */
  g_assert_true (coffer_repository_check_authority (repo, real, NULL, NULL, &error));
  g_assert_no_error (error);
  env_clear (&e);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/planted-password/remove-with-password", test_remove_with_password);
  g_test_add_func ("/planted-password/unlock-deletes", test_unlock_deletes);
  g_test_add_func ("/planted-password/authority", test_authority);
  return g_test_run ();
}
