/* SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE 1   /* memmem */
#include <string.h>

#include <sodium.h>

#include "coffer-device.h"
#include "coffer-error.h"

static const guint8 repo_a[COFFER_REPO_ID_BYTES] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};
static const guint8 repo_b[COFFER_REPO_ID_BYTES] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17,
};

static void
test_keypair (void)
{
  guint8 pk1[32], pk2[32], again[32];
  g_autoptr(CofferSecret) sk1 = coffer_device_keypair_new (pk1);
  g_autoptr(CofferSecret) sk2 = coffer_device_keypair_new (pk2);

  g_assert_nonnull (sk1);
  g_assert_cmpuint (sk1->len, ==, 32);
  g_assert_false (sodium_is_zero (sk1->data, 32));
  g_assert_true (coffer_device_public_key_is_valid (pk1));
  g_assert_true (memcmp (pk1, pk2, 32) != 0);
  g_assert_false (coffer_secret_equal (sk1, sk2));

  coffer_device_public_key (sk1, again);
  g_assert_cmpmem (again, 32, pk1, 32);
}

static void
test_ids_and_names (void)
{
  g_autofree char *id = coffer_device_id_new ();
  g_autofree char *id2 = coffer_device_id_new ();
  guint8 zero[32] = { 0 };
  /* A point of order 8 on Curve25519 (from the list of small-order points). */
  static const guint8 small_order[32] = {
    0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
    0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
  };

  g_assert_cmpuint (strlen (id), ==, 32);
  g_assert_cmpstr (id, !=, id2);
  g_assert_true (coffer_device_id_is_valid (id));
  g_assert_true (coffer_device_id_is_valid ("laptop-1_a"));
  g_assert_false (coffer_device_id_is_valid (""));
  g_assert_false (coffer_device_id_is_valid ("../x"));
  g_assert_false (coffer_device_id_is_valid ("ABC"));
  g_assert_false (coffer_device_id_is_valid ("a/b"));
  g_assert_false (coffer_device_id_is_valid ("0123456789012345678901234567890123456789012345678901234567890123x"));

  g_assert_true (coffer_device_name_is_valid ("Anna's ThinkPad"));
  g_assert_true (coffer_device_name_is_valid ("Ordinateur de Zoé"));
  g_assert_false (coffer_device_name_is_valid (""));
  g_assert_false (coffer_device_name_is_valid ("two\nlines"));
  g_assert_false (coffer_device_name_is_valid ("bad \xff utf8"));

  g_assert_false (coffer_device_public_key_is_valid (zero));
  g_assert_false (coffer_device_public_key_is_valid (small_order));
}

static void
test_account_key_id (void)
{
  g_autoptr(CofferSecret) ak = coffer_secret_new (32);
  g_autoptr(CofferSecret) ak2 = coffer_secret_new_random (32);
  guint8 id[32], id2[32], expected[32];
  static const char domain[] = "coffer-account-key-id";

  for (guint i = 0; i < 32; i++)
    ak->data[i] = (guint8) i;
  coffer_account_key_id (ak, id);
  crypto_generichash (expected, 32, (const guint8 *) domain, strlen (domain), ak->data, 32);
  g_assert_cmpmem (id, 32, expected, 32);

  coffer_account_key_id (ak2, id2);
  g_assert_true (memcmp (id, id2, 32) != 0);
}

typedef struct
{
  guint8        pk[32];
  CofferSecret *sk;
  CofferSecret *ak;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->sk = coffer_device_keypair_new (f->pk);
  f->ak = coffer_secret_new_random (32);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  coffer_secret_free (f->sk);
  coffer_secret_free (f->ak);
}

static void
test_envelope_roundtrip (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) ak = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  guint8 id[32], peeked[32];

  env = coffer_device_envelope_seal (f->pk, f->ak, repo_a, "device-a", "Zoé's laptop");
  g_assert_nonnull (env);
  /* The key must not appear in the envelope in clear. */
  g_assert_null (memmem (g_bytes_get_data (env, NULL), g_bytes_get_size (env), f->ak->data, 32));

  ak = coffer_device_envelope_open (f->sk, f->pk, repo_a, "device-a", env, &name, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ak);
  g_assert_true (coffer_secret_equal (ak, f->ak));
  g_assert_cmpstr (name, ==, "Zoé's laptop");

  coffer_account_key_id (f->ak, id);
  g_assert_true (coffer_device_envelope_peek_account_key_id (env, peeked));
  g_assert_cmpmem (peeked, 32, id, 32);

  /* out_name is optional */
  g_clear_pointer (&ak, coffer_secret_free);
  ak = coffer_device_envelope_open (f->sk, f->pk, repo_a, "device-a", env, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_secret_equal (ak, f->ak));

  /* Two seals of the same key differ (ephemeral sender key, random nonce). */
  {
    g_autoptr(GBytes) env2 = coffer_device_envelope_seal (f->pk, f->ak, repo_a, "device-a", "Zoé's laptop");

    g_assert_false (g_bytes_equal (env, env2));
  }
}

static void
test_envelope_other_device (Fixture       *f,
                            gconstpointer  data)
{
  guint8 pk_b[32];
  g_autoptr(CofferSecret) sk_b = coffer_device_keypair_new (pk_b);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) ak = NULL;
  g_autoptr(GError) error = NULL;

  env = coffer_device_envelope_seal (f->pk, f->ak, repo_a, "device-a", "A");
  ak = coffer_device_envelope_open (sk_b, pk_b, repo_a, "device-a", env, NULL, &error);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY);
  g_assert_null (ak);
  g_clear_error (&error);

  /* Device B's secret key with device A's public key: the box does not open. */
  ak = coffer_device_envelope_open (sk_b, f->pk, repo_a, "device-a", env, NULL, &error);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
  g_assert_null (ak);
}

static void
test_envelope_moved (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) ak = NULL;
  g_autoptr(GError) error = NULL;

  env = coffer_device_envelope_seal (f->pk, f->ak, repo_a, "device-a", "A");

  ak = coffer_device_envelope_open (f->sk, f->pk, repo_b, "device-a", env, NULL, &error);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
  g_assert_null (ak);
  g_clear_error (&error);

  ak = coffer_device_envelope_open (f->sk, f->pk, repo_a, "device-b", env, NULL, &error);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
  g_assert_null (ak);
}

static void
test_envelope_tampered (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GBytes) env = NULL;
  const guint8 *bytes;
  gsize len;

  env = coffer_device_envelope_seal (f->pk, f->ak, repo_a, "device-a", "A");
  bytes = g_bytes_get_data (env, &len);

  /* Flip each byte in turn: every change must be refused. */
  for (gsize i = 0; i < len; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (bytes, len);
      g_autoptr(GBytes) bad = NULL;
      g_autoptr(CofferSecret) ak = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *name = NULL;

      copy[i] ^= 0x01;
      bad = g_bytes_new (copy, len);
      ak = coffer_device_envelope_open (f->sk, f->pk, repo_a, "device-a", bad, &name, &error);
      if (ak != NULL)
        g_error ("flipping byte %" G_GSIZE_FORMAT " of the envelope went unnoticed", i);
      g_assert_nonnull (error);
      g_assert_true (error->domain == COFFER_CRYPTO_ERROR);
      g_assert_null (name);
    }

  /* Truncated and extended */
  for (gsize cut = 0; cut < len; cut += 7)
    {
      g_autoptr(GBytes) bad = g_bytes_new (bytes, cut);
      g_autoptr(CofferSecret) ak = NULL;
      g_autoptr(GError) error = NULL;

      ak = coffer_device_envelope_open (f->sk, f->pk, repo_a, "device-a", bad, NULL, &error);
      g_assert_null (ak);
      g_assert_nonnull (error);
    }
  {
    g_autofree guint8 *longer = g_malloc0 (len + 1);
    g_autoptr(GBytes) bad = NULL;
    g_autoptr(CofferSecret) ak = NULL;
    g_autoptr(GError) error = NULL;

    memcpy (longer, bytes, len);
    bad = g_bytes_new (longer, len + 1);
    ak = coffer_device_envelope_open (f->sk, f->pk, repo_a, "device-a", bad, NULL, &error);
    g_assert_null (ak);
    g_assert_nonnull (error);
  }

  /* An unknown version is reported as such. */
  {
    g_autofree guint8 *copy = g_memdup2 (bytes, len);
    g_autoptr(GBytes) bad = NULL;
    g_autoptr(CofferSecret) ak = NULL;
    g_autoptr(GError) error = NULL;

    copy[4] = 2;
    bad = g_bytes_new (copy, len);
    ak = coffer_device_envelope_open (f->sk, f->pk, repo_a, "device-a", bad, NULL, &error);
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
  }
}

/* A substituted account key: the sealed box and name are replaced by ones
 * made for another key while the clear account key id is kept. */
static void
test_envelope_substituted_key (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(CofferSecret) other = coffer_secret_new_random (32);
  g_autoptr(GBytes) env = coffer_device_envelope_seal (f->pk, f->ak, repo_a, "device-a", "A");
  g_autoptr(GBytes) env2 = coffer_device_envelope_seal (f->pk, other, repo_a, "device-a", "A");
  g_autoptr(GBytes) mixed = NULL;
  g_autoptr(CofferSecret) ak = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *copy = NULL;
  gsize len;

  copy = g_memdup2 (g_bytes_get_data (env2, &len), g_bytes_get_size (env2));
  memcpy (copy + 8, (const guint8 *) g_bytes_get_data (env, NULL) + 8, 32);
  mixed = g_bytes_new (copy, len);
  ak = coffer_device_envelope_open (f->sk, f->pk, repo_a, "device-a", mixed, NULL, &error);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
  g_assert_null (ak);
}

static void
test_join_request_roundtrip (void)
{
  guint8 pk[32];
  g_autoptr(CofferSecret) sk = coffer_device_keypair_new (pk);
  g_autoptr(CofferJoinRequest) req = coffer_join_request_new ("0a1b2c", pk, "Zoé's desktop", 1700000000);
  g_autoptr(CofferJoinRequest) back = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;

  bytes = coffer_join_request_serialize (req);
  g_assert_nonnull (bytes);

  /* It is a plain GVariant of the documented type. */
  v = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("(ysaysx)"), bytes, FALSE));
  g_assert_true (g_variant_is_normal_form (v));

  back = coffer_join_request_parse (bytes, "0a1b2c", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->device_id, ==, "0a1b2c");
  g_assert_cmpmem (back->public_key, 32, pk, 32);
  g_assert_cmpstr (back->device_name, ==, "Zoé's desktop");
  g_assert_cmpint (back->time, ==, 1700000000);

  g_clear_pointer (&back, coffer_join_request_free);
  back = coffer_join_request_parse (bytes, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);

  /* Stored under another name */
  g_clear_pointer (&back, coffer_join_request_free);
  back = coffer_join_request_parse (bytes, "0a1b2d", &error);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID);
  g_assert_null (back);

  /* Invalid fields are not serialised. */
  {
    g_autoptr(CofferJoinRequest) bad = coffer_join_request_new ("a/b", pk, "x", 1);
    g_autoptr(GBytes) none = coffer_join_request_serialize (bad);

    g_assert_null (none);
  }
}

static GBytes *
make_request (guchar        version,
              const char   *id,
              const guint8 *pk,
              gsize         pk_len,
              const char   *name,
              gint64        time)
{
  GVariant *pkv = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, pk, pk_len, 1);
  g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new ("(ys@aysx)", version, id, pkv, name, time));

  return g_variant_get_data_as_bytes (v);
}

static void
expect_parse_error (GBytes *bytes,
                    gint    code)
{
  g_autoptr(CofferJoinRequest) req = NULL;
  g_autoptr(GError) error = NULL;

  req = coffer_join_request_parse (bytes, NULL, &error);
  g_assert_null (req);
  g_assert_error (error, COFFER_CRYPTO_ERROR, code);
}

static void
test_join_request_hostile (void)
{
  guint8 pk[32], zero[32] = { 0 };
  g_autoptr(CofferSecret) sk = coffer_device_keypair_new (pk);
  g_autoptr(GBytes) good = NULL;
  g_autofree char *long_name = g_strnfill (COFFER_DEVICE_NAME_MAX + 1, 'x');

  { g_autoptr(GBytes) b = make_request (2, "abc", pk, 32, "n", 1); expect_parse_error (b, COFFER_CRYPTO_ERROR_UNSUPPORTED); }
  { g_autoptr(GBytes) b = make_request (1, "ABC", pk, 32, "n", 1); expect_parse_error (b, COFFER_CRYPTO_ERROR_INVALID); }
  { g_autoptr(GBytes) b = make_request (1, "", pk, 32, "n", 1); expect_parse_error (b, COFFER_CRYPTO_ERROR_INVALID); }
  { g_autoptr(GBytes) b = make_request (1, "abc", pk, 31, "n", 1); expect_parse_error (b, COFFER_CRYPTO_ERROR_INVALID); }
  { g_autoptr(GBytes) b = make_request (1, "abc", zero, 32, "n", 1); expect_parse_error (b, COFFER_CRYPTO_ERROR_INVALID); }
  { g_autoptr(GBytes) b = make_request (1, "abc", pk, 32, "", 1); expect_parse_error (b, COFFER_CRYPTO_ERROR_INVALID); }
  { g_autoptr(GBytes) b = make_request (1, "abc", pk, 32, "a\x1b[31mred", 1); expect_parse_error (b, COFFER_CRYPTO_ERROR_INVALID); }
  { g_autoptr(GBytes) b = make_request (1, "abc", pk, 32, long_name, 1); expect_parse_error (b, COFFER_CRYPTO_ERROR_INVALID); }
  { g_autoptr(GBytes) b = make_request (1, "abc", pk, 32, "n", -5); expect_parse_error (b, COFFER_CRYPTO_ERROR_INVALID); }

  /* Empty, garbage, oversized */
  { g_autoptr(GBytes) b = g_bytes_new_static ("", 0); expect_parse_error (b, COFFER_CRYPTO_ERROR_CORRUPT); }
  { g_autoptr(GBytes) b = g_bytes_new_static ("garbage!", 8); expect_parse_error (b, COFFER_CRYPTO_ERROR_CORRUPT); }
  {
    g_autofree guint8 *big = g_malloc0 (100000);
    g_autoptr(GBytes) b = g_bytes_new_take (g_steal_pointer (&big), 100000);

    expect_parse_error (b, COFFER_CRYPTO_ERROR_CORRUPT);
  }

  /* Every truncation and every single-bit flip of a good request either
   * parses to a valid request or fails cleanly. */
  good = make_request (1, "abc", pk, 32, "My computer", 1700000000);
  for (gsize cut = 0; cut < g_bytes_get_size (good); cut++)
    {
      g_autoptr(GBytes) b = g_bytes_new_from_bytes (good, 0, cut);
      g_autoptr(CofferJoinRequest) req = NULL;
      g_autoptr(GError) error = NULL;

      req = coffer_join_request_parse (b, NULL, &error);
      g_assert_true ((req == NULL) != (error == NULL));
    }
  for (gsize i = 0; i < g_bytes_get_size (good) * 8; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (g_bytes_get_data (good, NULL), g_bytes_get_size (good));
      g_autoptr(GBytes) b = NULL;
      g_autoptr(CofferJoinRequest) req = NULL;
      g_autoptr(GError) error = NULL;

      copy[i / 8] ^= 1 << (i % 8);
      b = g_bytes_new (copy, g_bytes_get_size (good));
      req = coffer_join_request_parse (b, NULL, &error);
      g_assert_true ((req == NULL) != (error == NULL));
      if (req != NULL)
        {
          g_assert_true (coffer_device_id_is_valid (req->device_id));
          g_assert_true (coffer_device_name_is_valid (req->device_name));
          g_assert_true (coffer_device_public_key_is_valid (req->public_key));
        }
    }
}

/* The signing key is a function of the device key and the repository
 * (stable across runs, different per repository, never the X25519 key
 * itself), and it signs what Ed25519 verifies. */
static void
test_signing_key (void)
{
  guint8 pk[32], spk1[32], spk1b[32], spk2[32], sig[64];
  guint8 repo1[COFFER_REPO_ID_BYTES] = { 1 }, repo2[COFFER_REPO_ID_BYTES] = { 2 };
  g_autoptr(CofferSecret) sk = coffer_device_keypair_new (pk);
  g_autoptr(CofferSecret) ssk1 = coffer_device_signing_keypair (sk, repo1, spk1);
  g_autoptr(CofferSecret) ssk1b = coffer_device_signing_keypair (sk, repo1, spk1b);
  g_autoptr(CofferSecret) ssk2 = coffer_device_signing_keypair (sk, repo2, spk2);
  static const guint8 msg[] = "record";

  g_assert_cmpmem (spk1, 32, spk1b, 32);
  g_assert_true (memcmp (spk1, spk2, 32) != 0);
  g_assert_true (memcmp (spk1, pk, 32) != 0);
  crypto_sign_detached (sig, NULL, msg, sizeof msg, ssk1->data);
  g_assert_cmpint (crypto_sign_verify_detached (sig, msg, sizeof msg, spk1), ==, 0);
  g_assert_cmpint (crypto_sign_verify_detached (sig, msg, sizeof msg, spk2), !=, 0);
}

/* Fingerprint: 8 bytes of a domain-separated hash, four groups of four. */
static void
test_fingerprint (void)
{
  guint8 a[32], b[32];
  g_autofree char *fa = NULL;
  g_autofree char *fb = NULL;

  for (guint i = 0; i < 32; i++)
    {
      a[i] = i;
      b[i] = 0xff - i;
    }
  fa = coffer_device_fingerprint (a);
  fb = coffer_device_fingerprint (b);
  g_assert_true (g_regex_match_simple ("^[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}$", fa, 0, 0));
  g_assert_cmpstr (fa, ==, "e3cc 325a 0bb7 100d");   /* docs/FORMAT.md "Joining and rotation" */
  g_assert_cmpstr (fa, !=, fb);
  {
    g_autofree char *again = coffer_device_fingerprint (a);
    g_assert_cmpstr (fa, ==, again);
  }
}

int
main (int   argc,
      char *argv[])
{
  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/device/keypair", test_keypair);
  g_test_add_func ("/device/ids-and-names", test_ids_and_names);
  g_test_add_func ("/device/account-key-id", test_account_key_id);
  g_test_add ("/device/envelope/roundtrip", Fixture, NULL, fixture_setup, test_envelope_roundtrip, fixture_teardown);
  g_test_add ("/device/envelope/other-device", Fixture, NULL, fixture_setup, test_envelope_other_device, fixture_teardown);
  g_test_add ("/device/envelope/moved", Fixture, NULL, fixture_setup, test_envelope_moved, fixture_teardown);
  g_test_add ("/device/envelope/tampered", Fixture, NULL, fixture_setup, test_envelope_tampered, fixture_teardown);
  g_test_add ("/device/envelope/substituted-key", Fixture, NULL, fixture_setup, test_envelope_substituted_key, fixture_teardown);
  g_test_add_func ("/device/join-request/roundtrip", test_join_request_roundtrip);
  g_test_add_func ("/device/join-request/hostile", test_join_request_hostile);
  g_test_add_func ("/device/signing-key", test_signing_key);
  g_test_add_func ("/device/fingerprint", test_fingerprint);

  return g_test_run ();
}
