/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Attack: the device about to be removed (D) knows the account key, so it
 * can write any keys/devices/ and keys/device-keys/ object. Before signed
 * device records, a removal re-sealed the new account key to every device
 * listed there: D planted "laptopA (backup)" with a key pair of its own and
 * received the new account key through it, opening backups made after its
 * removal. Now a removal keeps a device by itself only when its record is
 * signed along a chain back to the recovery key that avoids D; everything
 * else needs the user's explicit confirmation (docs/SECURITY.md "Devices
 * and rotation"). */
#include <sodium.h>

#include "computers.h"

typedef struct
{
  char          id[40];
  guint8        pk[32];
  CofferSecret *sk;
} Fake;

static GBytes *
seal_record (const CofferSecret *ak, const guint8 *repo_id, const char *device_id, const guint8 *plain, gsize len)
{
  g_autofree char *name = g_strdup_printf ("keys/device-keys/%s", device_id);
  return coffer_envelope_seal (ak, repo_id, COFFER_OBJECT_DEVICE_NAME, name, plain, len);
}

/* A v2 record (docs/FORMAT.md "Joining and rotation"), signed with sign_sk
 * (NULL: 64 random bytes in place of a signature). */
static GByteArray *
v2_record (const guint8 *repo_id, const char *device_id, const guint8 pk[32], const guint8 sign_pk[32],
           const CofferSecret *ak, const char *approver, const CofferSecret *sign_sk)
{
  GByteArray *plain = g_byte_array_new ();
  g_autoptr(GByteArray) msg = g_byte_array_new ();
  static const guint8 header[8] = { 'C', 'F', 'D', 'R', 2, 0, 0, 0 };
  gint64 now = GINT64_TO_LE (g_get_real_time () / G_USEC_PER_SEC);
  guint8 akid[32], alen = approver ? strlen (approver) : 0, idlen = strlen (device_id), sig[64];

  coffer_account_key_id (ak, akid);
  g_byte_array_append (plain, header, 8);
  g_byte_array_append (plain, pk, 32);
  g_byte_array_append (plain, sign_pk, 32);
  g_byte_array_append (plain, (const guint8 *) &now, 8);
  g_byte_array_append (plain, akid, 32);
  g_byte_array_append (plain, &alen, 1);
  g_byte_array_append (plain, (const guint8 *) approver, alen);
  g_byte_array_append (msg, (const guint8 *) "coffer-device-record-v2", 23);
  g_byte_array_append (msg, repo_id, 16);
  g_byte_array_append (msg, &idlen, 1);
  g_byte_array_append (msg, (const guint8 *) device_id, idlen);
  g_byte_array_append (msg, plain->data, plain->len);
  if (sign_sk != NULL)
    crypto_sign_detached (sig, NULL, msg->data, msg->len, sign_sk->data);
  else
    randombytes_buf (sig, sizeof sig);
  g_byte_array_append (plain, sig, sizeof sig);
  return plain;
}

/* Plants a trusted-looking device: its envelope (the account key sealed
 * to a key pair D holds) and a record of the chosen kind. */
static void
plant (const char *store, CofferRepository *d_repo, Fake *fake, const char *id, int kind)
{
  const CofferSecret *ak = d_repo->account_key;
  const guint8 *repo_id = d_repo->raw_id;
  g_autoptr(GBytes) env = NULL;
  g_autoptr(GBytes) rec = NULL;
  g_autofree char *env_name = g_strdup_printf ("keys/devices/%s", id);
  g_autofree char *rec_name = g_strdup_printf ("keys/device-keys/%s", id);

  g_strlcpy (fake->id, id, sizeof fake->id);
  fake->sk = coffer_device_keypair_new (fake->pk);
  env = coffer_device_envelope_seal (fake->pk, ak, repo_id, id, "laptopA (backup)");
  if (kind == 1)
    {
      /* the legacy record, exactly as before signed records */
      guint8 plain[48] = { 'C', 'F', 'D', 'R', 1, 0, 0, 0 };
      memcpy (plain + 8, fake->pk, 32);
      rec = seal_record (ak, repo_id, id, plain, sizeof plain);
    }
  else
    {
      g_autoptr(GByteArray) plain = NULL;
      g_autoptr(CofferSecret) fake_sign_sk = NULL;
      guint8 fake_sign_pk[32];

      fake_sign_sk = coffer_device_signing_keypair (fake->sk, repo_id, fake_sign_pk);
      if (kind == 2)
        {
          /* approved by D itself, with D's genuine signing key */
          g_autoptr(GError) error = NULL;
          g_autoptr(CofferSecret) d_sk = _coffer_repository_load_device_key (d_repo, &error);
          guint8 d_sign_pk[32];
          g_autoptr(CofferSecret) d_sign_sk = coffer_device_signing_keypair (d_sk, repo_id, d_sign_pk);

          g_assert_no_error (error);
          plain = v2_record (repo_id, id, fake->pk, fake_sign_pk, ak, d_repo->device_id,
                             d_sign_sk);
        }
      else
        /* claims the recovery key, which D cannot sign with */
        plain = v2_record (repo_id, id, fake->pk, fake_sign_pk, ak, NULL, NULL);
      rec = seal_record (ak, repo_id, id, plain->data, plain->len);
    }
  write_object (store, env_name, env);
  write_object (store, rec_name, rec);
}

static gboolean
lost_has (GPtrArray *lost, const char *id)
{
  for (guint i = 0; i < lost->len; i++)
    if (strcmp (((CofferDevice *) g_ptr_array_index (lost, i))->id, id) == 0)
      return TRUE;
  return FALSE;
}

/* No object under keys/devices/ gives the planted key pairs anything. */
static void
assert_fakes_get_nothing (const char *store, const guint8 *repo_id, Fake *fakes, guint n)
{
  g_autoptr(GPtrArray) names = fixture_list_objects (store, "keys/devices/");

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autoptr(GBytes) env = read_object (store, name);

      for (guint j = 0; j < n; j++)
        {
          g_autoptr(CofferSecret) ak = coffer_device_envelope_open (fakes[j].sk, fakes[j].pk, repo_id,
                                                                     name + strlen ("keys/devices/"),
                                                                     env, NULL, NULL);
          g_assert_null (ak);
        }
    }
}

static void
test_planted_devices (void)
{
  g_autofree char *store = fixture_dir ("store-planted");
  g_autofree char *src = fixture_dir ("src-planted");
  g_autofree char *target = fixture_dir ("restore-planted");
  g_autofree char *after = g_build_filename (src, "after-removal.txt", NULL);
  g_autofree char *restored = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(GBytes) e_plain = NULL;
  g_autofree char *cid = NULL, *c = NULL, *e = NULL, *d = NULL, *g = NULL;
  guint8 repo_id[16];
  Fake fakes[3];

  use_computer ("a");
  {
    g_auto(FixtureRepository) repo = fixture_create (store, COMPUTERS_PASSWORD, &rk);
    cid = notes_category (repo, src);
    memcpy (repo_id, repo->raw_id, 16);
  }
  c = join_computer (store, "c", "Desktop", "a", NULL);
  g = join_computer (store, "g", "Tablet", "c", NULL);    /* a chain: recovery → a → c → g */
  e = join_computer (store, "e", "Old phone", "a", NULL);
  d = join_computer (store, "d", "Stolen laptop", "a", NULL);

  /* D keeps E's genuine signed record while it can read it. */
  use_computer ("d");
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    g_autofree char *name = g_strdup_printf ("keys/device-keys/%s", e);
    g_autoptr(GBytes) env = read_object (store, name);
    g_autoptr(CofferSecret) plain = coffer_envelope_open (repo->account_key, repo_id,
                                                          COFFER_OBJECT_DEVICE_NAME, name, env, NULL);
    g_assert_nonnull (plain);
    e_plain = g_bytes_new (plain->data, plain->len);
  }
  /* E is removed; everybody else is verified and stays. */
  use_computer ("a");
  {
    g_auto(FixtureRepository) repo = open_as (store, rk);
    g_autoptr(GPtrArray) lost = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true (coffer_repository_remove_device (repo, e, NULL, &lost, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (lost->len, ==, 0);
  }

  /* D, before it is removed, plants devices of every kind it can make, and
   * puts E back with its old (authentic) record, sealed under the new key. */
  use_computer ("d");
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    const CofferSecret *ak = repo->account_key;
    g_autofree char *env_name = g_strdup_printf ("keys/devices/%s", e);
    g_autoptr(GBytes) env = coffer_device_envelope_seal ((const guint8 *) g_bytes_get_data (e_plain, NULL) + 8,
                                                         ak, repo_id, e, "Old phone");
    g_autoptr(GBytes) rec = seal_record (ak, repo_id, e, g_bytes_get_data (e_plain, NULL),
                                         g_bytes_get_size (e_plain));

    plant (store, repo, &fakes[0], "f0000000000000000000000000000001", 1);
    plant (store, repo, &fakes[1], "f0000000000000000000000000000002", 2);
    plant (store, repo, &fakes[2], "f0000000000000000000000000000003", 3);
    write_object (store, env_name, env);
    {
      g_autofree char *rec_name = g_strdup_printf ("keys/device-keys/%s", e);
      write_object (store, rec_name, rec);
    }
  }

  /* The removal of D lists every one of them for confirmation and keeps
   * none without it; the genuine devices (one by a chain) stay. */
  use_computer ("a");
  {
    g_auto(FixtureRepository) repo = open_as (store, rk);
    g_autoptr(GPtrArray) plan = NULL;
    g_autoptr(GPtrArray) lost = NULL;
    g_autoptr(GPtrArray) listed = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(CofferSnapshot) snap = NULL;

    plan = coffer_repository_plan_device_removal (repo, d, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (plan->len, ==, 4);
    g_assert_true (lost_has (plan, e));
    for (guint i = 0; i < 3; i++)
      g_assert_true (lost_has (plan, fakes[i].id));
    g_assert_true (coffer_repository_remove_device (repo, d, NULL, &lost, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (lost->len, ==, 4);
    g_assert_true (lost_has (lost, e));
    for (guint i = 0; i < 3; i++)
      g_assert_true (lost_has (lost, fakes[i].id));
    g_assert_false (lost_has (lost, c));
    g_assert_false (lost_has (lost, g));

    listed = coffer_repository_list_devices (repo, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (listed->len, ==, 3);   /* a, c, g */
    for (guint i = 0; i < listed->len; i++)
      g_assert_true (((CofferDevice *) g_ptr_array_index (listed, i))->verified);

    coffer_test_write_random (after, 3000, 9);
    snap = fixture_backup (repo, cid);
  }

  /* No planted key pair opens anything, E cannot open the repository ... */
  assert_fakes_get_nothing (store, repo_id, fakes, G_N_ELEMENTS (fakes));
  use_computer ("e");
  {
    g_auto(FixtureRepository) repo = open_locked (store);
    g_autoptr(GError) error = NULL;
    coffer_repository_unlock (repo, NULL, &error);
    g_assert_false (coffer_repository_has_account_key (repo));
  }
  /* ... while the genuine devices read the backup made after the removal. */
  use_computer ("g");
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    g_assert_true (try_restore_latest (repo, cid, target));
  }
  restored = fixture_restored (target, after);
  g_assert_true (g_file_test (restored, G_FILE_TEST_IS_REGULAR));
  for (guint i = 0; i < G_N_ELEMENTS (fakes); i++)
    coffer_secret_free (fakes[i].sk);
}

/* A legacy (v1, unsigned) record and a device approved by D are not kept
 * unless confirmed; a confirmed one gets the new key. */
static void
test_confirmation (void)
{
  g_autofree char *store = fixture_dir ("store-confirm");
  g_autofree char *src = fixture_dir ("src-confirm");
  g_autofree char *target = fixture_dir ("restore-confirm");
  g_autoptr(CofferSecret) rk = NULL;
  g_autofree char *cid = NULL, *c = NULL, *d = NULL, *h = NULL;

  use_computer ("a2");
  {
    g_auto(FixtureRepository) repo = fixture_create (store, COMPUTERS_PASSWORD, &rk);
    cid = notes_category (repo, src);
  }
  c = join_computer (store, "c2", "Desktop", "a2", NULL);
  d = join_computer (store, "d2", "Laptop", "a2", NULL);
  h = join_computer (store, "h2", "Phone", "d2", NULL);   /* approved by the device to be removed */

  use_computer ("a2");
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    const CofferSecret *ak = repo->account_key;
    g_autofree char *name = g_strdup_printf ("keys/device-keys/%s", c);
    g_autoptr(GBytes) env = read_object (store, name);
    g_autoptr(CofferSecret) plain = coffer_envelope_open (ak, repo->raw_id,
                                                          COFFER_OBJECT_DEVICE_NAME, name, env, NULL);
    guint8 legacy[48] = { 'C', 'F', 'D', 'R', 1, 0, 0, 0 };
    g_autoptr(GBytes) rec = NULL;
    g_autoptr(GPtrArray) listed = NULL;
    g_autoptr(GError) error = NULL;

    /* C's record as a repository of format 0.1.0 has it. */
    memcpy (legacy + 8, plain->data + 8, 32);
    rec = seal_record (ak, repo->raw_id, c, legacy, sizeof legacy);
    write_object (store, name, rec);
    listed = coffer_repository_list_devices (repo, NULL, &error);
    for (guint i = 0; i < listed->len; i++)
      {
        CofferDevice *dev = g_ptr_array_index (listed, i);
        g_assert_cmpint (dev->verified, ==, strcmp (dev->id, c) != 0);
      }
  }
  use_computer ("a2");
  {
    g_auto(FixtureRepository) repo = open_as (store, rk);
    g_autoptr(GPtrArray) plan = NULL;
    g_autoptr(GPtrArray) lost = NULL;
    g_autoptr(GError) error = NULL;
    const char *keep[] = { c, NULL };
    const char *bad_keep[] = { d, NULL };
    g_autoptr(CofferSnapshot) snap = NULL;

    plan = coffer_repository_plan_device_removal (repo, d, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (plan->len, ==, 2);
    g_assert_true (lost_has (plan, c) && lost_has (plan, h));
    for (guint i = 0; i < plan->len; i++)
      {
        CofferDevice *dev = g_ptr_array_index (plan, i);
        /* legacy: no approver, but a fingerprint to compare */
        g_assert_nonnull (dev->fingerprint);
        if (strcmp (dev->id, c) == 0)
          g_assert_null (dev->approver);
        else
          g_assert_cmpstr (dev->approver, ==, d);
      }
    g_assert_false (coffer_repository_remove_device (repo, d, bad_keep, NULL, NULL, &error));
    g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_true (coffer_repository_remove_device (repo, d, keep, &lost, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (lost->len, ==, 1);
    g_assert_true (lost_has (lost, h));
    snap = fixture_backup (repo, cid);
  }
  use_computer ("c2");
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    g_assert_true (try_restore_latest (repo, cid, target));
  }
  use_computer ("h2");
  {
    g_auto(FixtureRepository) repo = open_locked (store);
    g_autoptr(GError) error = NULL;
    coffer_repository_unlock (repo, NULL, &error);
    g_assert_false (coffer_repository_has_account_key (repo));
  }
}

/* A new recovery key re-approves the verified devices, so the next
 * removal (made with the new key) still keeps them by itself. */
static void
test_new_recovery_key (void)
{
  g_autofree char *store = fixture_dir ("store-newrk");
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) rk2 = NULL;
  g_autofree char *c = NULL, *d = NULL;

  use_computer ("a4");
  {
    g_auto(FixtureRepository) repo = fixture_create (store, COMPUTERS_PASSWORD, &rk);
  }
  c = join_computer (store, "c4", "Desktop", "a4", NULL);
  d = join_computer (store, "d4", "Laptop", "a4", NULL);
  use_computer ("a4");
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    g_autoptr(GError) error = NULL;
    rk2 = coffer_repository_begin_recovery_key_replacement (repo, &error);
    g_assert_no_error (error);
    g_assert_true (coffer_repository_commit_recovery_key_replacement (repo, rk2, NULL, &error));
    g_assert_no_error (error);
  }
  {
    g_auto(FixtureRepository) repo = open_as (store, rk2);
    g_autoptr(GPtrArray) lost = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true (coffer_repository_remove_device (repo, d, NULL, &lost, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (lost->len, ==, 0);
  }
  /* C learns the new recovery key's rotation key once (docs/SECURITY.md:
   * a recovery key replaced elsewhere is entered once), then opens with
   * its own device key, which the removal re-sealed. */
  use_computer ("c4");
  {
    g_auto(FixtureRepository) repo = open_as (store, rk2);
    g_assert_true (coffer_repository_has_account_key (repo));
  }
  {
    g_auto(FixtureRepository) repo = open_as (store, NULL);
    g_assert_true (coffer_repository_has_account_key (repo));
  }
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/attacks/device-forgery/planted-devices", test_planted_devices);
  g_test_add_func ("/attacks/device-forgery/confirmation", test_confirmation);
  g_test_add_func ("/attacks/device-forgery/new-recovery-key", test_new_recovery_key);
  return g_test_run ();
}
