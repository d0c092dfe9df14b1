/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sodium.h>
#include <zstd.h>

#include "coffer-crypto.h"
#include "coffer-error.h"
#include "coffer-nonce.h"
#include "coffer-secret.h"

static void
assert_hex (const guint8 *data, gsize len, const char *expected)
{
  g_autofree char *hex = coffer_hex_encode (data, len);

  g_assert_cmpstr (hex, ==, expected);
}

static CofferSecret *
counting_key (gsize len)
{
  CofferSecret *key = coffer_secret_new (len);

  for (gsize i = 0; i < len; i++)
    key->data[i] = i;
  return key;
}

/* ---- Known answers ---- */

static void
test_blake2b_vectors (void)
{
  guint8 out64[64];
  guint8 out32[32];
  g_autoptr(CofferSecret) key32 = counting_key (32);
  g_autoptr(CofferSecret) key64 = counting_key (64);

  /* RFC 7693, Appendix A: BLAKE2b-512("abc") */
  crypto_generichash (out64, 64, (const guint8 *) "abc", 3, NULL, 0);
  assert_hex (out64, 64,
              "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
              "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  /* BLAKE2b-512("") */
  crypto_generichash (out64, 64, NULL, 0, NULL, 0);
  assert_hex (out64, 64,
              "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419"
              "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce");
  /* BLAKE2 reference blake2b-kat.txt, first keyed vector (key 00..3f, empty input) */
  crypto_generichash (out64, 64, NULL, 0, key64->data, 64);
  assert_hex (out64, 64,
              "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
              "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568");

  /* BLAKE2b-256 through coffer_hash (hash suite 0) */
  coffer_hash (COFFER_HASH_SUITE_BLAKE2B, (const guint8 *) "abc", 3, out32);
  assert_hex (out32, 32, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  coffer_hash (COFFER_HASH_SUITE_BLAKE2B, NULL, 0, out32);
  assert_hex (out32, 32, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");

  /* Keyed BLAKE2b-256 blob id (checked with Python's hashlib.blake2b) */
  coffer_blob_id (COFFER_HASH_SUITE_BLAKE2B, key32, (const guint8 *) "abc", 3, out32);
  assert_hex (out32, 32, "d63a32d3e44738d7907f964316c241adaba0abfeabc32349677578a15a203f7f");
}

/* The CPU check agrees with what the kernel says the CPU has
 * (/proc/cpuinfo: "sha_ni" on x86, "sha2" on arm64), and new epochs take
 * SHA-256 exactly then, unless a test forces a suite. */
static void
test_cpu_suite (void)
{
  g_autofree char *cpuinfo = NULL;
  g_autofree char *testing = g_strdup (g_getenv ("COFFER_TESTING"));
  g_auto(GStrv) lines = NULL;
  gboolean listed = FALSE;

  g_assert_true (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL));
  lines = g_strsplit (cpuinfo, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *colon = strchr (lines[i], ':');
      g_auto(GStrv) words = NULL;

      if (colon == NULL
          || !(g_str_has_prefix (lines[i], "flags") || g_str_has_prefix (lines[i], "Features")))
        continue;
      words = g_strsplit (colon + 1, " ", -1);
      listed = g_strv_contains ((const char * const *) words, "sha_ni")
               || g_strv_contains ((const char * const *) words, "sha2");
      break;
    }
  g_test_message ("this CPU %s SHA-256 instructions", listed ? "has" : "has no");
  g_assert_cmpint (coffer_cpu_has_sha256 (), ==, listed);

  g_unsetenv ("COFFER_TEST_HASH_SUITE");
  g_assert_cmpint (coffer_hash_suite_for_new_epoch (), ==,
                   listed ? COFFER_HASH_SUITE_SHA256 : COFFER_HASH_SUITE_BLAKE2B);
  g_setenv ("COFFER_TESTING", "1", TRUE);
  g_setenv ("COFFER_TEST_HASH_SUITE", "0", TRUE);
  g_assert_cmpint (coffer_hash_suite_for_new_epoch (), ==, COFFER_HASH_SUITE_BLAKE2B);
  g_setenv ("COFFER_TEST_HASH_SUITE", "1", TRUE);
  g_assert_cmpint (coffer_hash_suite_for_new_epoch (), ==, COFFER_HASH_SUITE_SHA256);
  /* Not without COFFER_TESTING=1. */
  g_setenv ("COFFER_TESTING", "0", TRUE);
  g_assert_cmpint (coffer_hash_suite_for_new_epoch (), ==,
                   listed ? COFFER_HASH_SUITE_SHA256 : COFFER_HASH_SUITE_BLAKE2B);
  if (testing != NULL)
    g_setenv ("COFFER_TESTING", testing, TRUE);
  else
    g_unsetenv ("COFFER_TESTING");
  g_unsetenv ("COFFER_TEST_HASH_SUITE");
}

/* Hash suite 1: pack names SHA-256 (FIPS 180-2 "abc" and the empty
 * string), blob ids HMAC-SHA-256 (RFC 2104; values from Python's hmac and
 * hashlib), also over 1 MiB, where nettle's SHA-NI code runs. */
static void
test_sha256_suite (void)
{
  g_autoptr(CofferSecret) key32 = counting_key (32);
  g_autofree guint8 *big = g_malloc (1 << 20);
  guint8 out32[32];

  for (gsize i = 0; i < (1 << 20); i++)
    big[i] = (guint8) (i * 7 + 3);
  coffer_hash (COFFER_HASH_SUITE_SHA256, (const guint8 *) "abc", 3, out32);
  assert_hex (out32, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  coffer_hash (COFFER_HASH_SUITE_SHA256, NULL, 0, out32);
  assert_hex (out32, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  coffer_hash (COFFER_HASH_SUITE_SHA256, big, 1 << 20, out32);
  assert_hex (out32, 32, "172c15dc2e12b50e523d8e657cbe7fbb11c1053252bbf1e1431077d57d8128fd");
  coffer_blob_id (COFFER_HASH_SUITE_SHA256, key32, (const guint8 *) "abc", 3, out32);
  assert_hex (out32, 32, "f0133729c4163dede81e21cd47839256da58171238c8a0d874397c73b14e1e47");
  coffer_blob_id (COFFER_HASH_SUITE_SHA256, key32, big, 1 << 20, out32);
  assert_hex (out32, 32, "de701a6f52ce2bc8667246ef322a990a1a64c59490b34b33c9b91d2e52538af4");
}

static void
test_subkeys (void)
{
  /* BLAKE2b-256(key=K, salt = u64 LE 1 || 8 zero bytes,
   *             personal = context || 8 zero bytes, empty message),
   * computed independently with Python's hashlib. */
  static const char *expected[] = {
    [COFFER_SUBKEY_DATA]    = "c71e3cf5027968e87c0531864eb82b28221337a9553e9e486a0f45bf4ac6166f",
    [COFFER_SUBKEY_BLOB_ID] = "8c31edfff087ef603e4c46997a47ba7797888bb6e11b06f1832f38071e3eccaf",
    [COFFER_SUBKEY_GEAR]    = "72e7bf732830670f5f6f6813c3e31d0f9fda2c6c9de797e0e4617e3ab7b0cc14",
    [COFFER_SUBKEY_META]    = "cabfc264ba1d0b460a57123adbffcc39c374689422a819ac801fdd026a6e3dc5",
  };
  g_autoptr(CofferSecret) key = counting_key (32);

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(CofferSecret) subkey = coffer_crypto_derive_subkey (key, i);

      g_assert_cmpuint (subkey->len, ==, 32);
      assert_hex (subkey->data, 32, expected[i]);
    }
}

static void
test_hex (void)
{
  guint8 out[4];
  const guint8 in[4] = { 0x00, 0xab, 0xcd, 0xff };
  g_autofree char *hex = coffer_hex_encode (in, 4);

  g_assert_cmpstr (hex, ==, "00abcdff");
  g_assert_true (coffer_hex_decode ("00ABcdff", out, 4));
  g_assert_cmpmem (out, 4, in, 4);
  g_assert_false (coffer_hex_decode ("00abcd", out, 4));
  g_assert_false (coffer_hex_decode ("00abcdff00", out, 4));
  g_assert_false (coffer_hex_decode ("00abcdfg", out, 4));
  g_assert_false (coffer_hex_decode ("00ab cdf", out, 4));
}

/* ---- Secrets ---- */

static void
test_secret_basics (void)
{
  g_autoptr(CofferSecret) zero = coffer_secret_new (16);
  g_autoptr(CofferSecret) random = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) dup = coffer_secret_dup (random);
  g_autoptr(CofferSecret) other = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) str = coffer_secret_new_from_string ("hunter2");
  g_autoptr(CofferSecret) empty = coffer_secret_new (0);

  for (guint i = 0; i < 16; i++)
    g_assert_cmpuint (zero->data[i], ==, 0);
  g_assert_true (coffer_secret_equal (random, dup));
  g_assert_false (coffer_secret_equal (random, other));
  g_assert_false (coffer_secret_equal (random, zero));
  g_assert_cmpuint (str->len, ==, 7);
  g_assert_cmpstr ((const char *) str->data, ==, "hunter2");
  g_assert_cmpuint (empty->len, ==, 0);
  g_assert_nonnull (empty->data);
}

static void
test_secret_from_file (void)
{
  static const struct { const char *content; gssize len; const char *expected; } cases[] = {
    { "correct horse\n", -1, "correct horse" },
    { "correct horse\r\nsecond line\n", -1, "correct horse" },
    { "no newline", -1, "no newline" },
    { " spaces kept \n", -1, " spaces kept " },
  };
  g_autofree char *dir = g_dir_make_tmp ("coffer-secret-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "password", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CofferSecret) secret = NULL;

      g_assert_true (g_file_set_contents (path, cases[i].content, cases[i].len, NULL));
      secret = coffer_secret_new_from_file (path, &error);
      g_assert_no_error (error);
      g_assert_cmpstr ((const char *) secret->data, ==, cases[i].expected);
      g_assert_cmpuint (secret->len, ==, strlen (cases[i].expected));
    }

  /* Empty, too long, NUL inside, missing */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *long_line = g_strnfill (5000, 'x');

    g_assert_true (g_file_set_contents (path, "\nsecond", -1, NULL));
    g_assert_null (coffer_secret_new_from_file (path, &error));
    g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
    g_clear_error (&error);

    g_assert_true (g_file_set_contents (path, long_line, -1, NULL));
    g_assert_null (coffer_secret_new_from_file (path, &error));
    g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
    g_clear_error (&error);

    g_assert_true (g_file_set_contents (path, "ab\0cd\n", 6, NULL));
    g_assert_null (coffer_secret_new_from_file (path, &error));
    g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
    g_clear_error (&error);

    g_assert_null (coffer_secret_new_from_file (missing, &error));
    g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_assert_nonnull (strstr (error->message, "missing"));
  }

  g_unlink (path);
  g_rmdir (dir);
}

/* ---- Envelopes ---- */

static const guint8 repo_id[COFFER_REPO_ID_BYTES] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
};

static void
test_envelope_round_trip (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  const char *message = "the account key goes here";
  gsize lens[] = { 0, 1, 32, strlen (message), 1000 };

  for (guint i = 0; i < G_N_ELEMENTS (lens); i++)
    {
      g_autofree guint8 *plain = g_malloc0 (MAX (lens[i], 1));
      g_autoptr(GBytes) env = NULL;
      g_autoptr(GBytes) env2 = NULL;
      g_autoptr(CofferSecret) opened = NULL;
      g_autoptr(GError) error = NULL;

      randombytes_buf (plain, lens[i]);
      env = coffer_envelope_seal (key, repo_id, COFFER_OBJECT_RECOVERY_ENVELOPE, "keys/recovery",
                                  plain, lens[i]);
      env2 = coffer_envelope_seal (key, repo_id, COFFER_OBJECT_RECOVERY_ENVELOPE, "keys/recovery",
                                   plain, lens[i]);
      g_assert_cmpuint (g_bytes_get_size (env), ==, 80 + lens[i]);
      g_assert_cmpmem (g_bytes_get_data (env, NULL), 4, "CFE1", 4);
      g_assert_cmpuint (((const guint8 *) g_bytes_get_data (env, NULL))[4], ==, 1);
      /* Random nonce: sealing twice differs. */
      g_assert_false (g_bytes_equal (env, env2));

      opened = coffer_envelope_open (key, repo_id, COFFER_OBJECT_RECOVERY_ENVELOPE, "keys/recovery",
                                     env, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (opened->data, opened->len, plain, lens[i]);
    }
}

static void
test_envelope_tamper (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) wrong = coffer_secret_new_random (32);
  const char *name = "categories/abc/keys/account";
  const guint8 plain[] = "a category key set, 48 bytes long, more or less";
  g_autoptr(GBytes) env = coffer_envelope_seal (key, repo_id, COFFER_OBJECT_CATEGORY_ACCOUNT, name,
                                                plain, sizeof plain);
  gsize len;
  const guint8 *data = g_bytes_get_data (env, &len);

  /* Flip each bit position class of every byte. */
  for (gsize i = 0; i < len; i++)
    for (guint bit = 0; bit < 8; bit += 3)
      {
        g_autofree guint8 *copy = g_memdup2 (data, len);
        g_autoptr(GBytes) bad = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(CofferSecret) opened = NULL;

        copy[i] ^= 1 << bit;
        bad = g_bytes_new (copy, len);
        opened = coffer_envelope_open (key, repo_id, COFFER_OBJECT_CATEGORY_ACCOUNT, name, bad, &error);
        g_assert_null (opened);
        g_assert_nonnull (error);
        g_assert_true (error->domain == COFFER_CRYPTO_ERROR);
        if (i == 3)                        /* format version in the magic */
          g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
        else if (i < 8)                    /* magic, type, reserved */
          g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
        else if (i < 8 + 24 + 32)          /* nonce and commitment: the key no longer matches */
          g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY);
        else                               /* ciphertext and tag */
          g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
      }

  /* Truncation at every length */
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr(GBytes) bad = g_bytes_new (data, cut);
      g_autoptr(GError) error = NULL;

      g_assert_null (coffer_envelope_open (key, repo_id, COFFER_OBJECT_CATEGORY_ACCOUNT, name, bad, &error));
      g_assert_nonnull (error);
      g_assert_true (error->domain == COFFER_CRYPTO_ERROR);
      g_assert_true (error->code == COFFER_CRYPTO_ERROR_CORRUPT);
    }

  /* Appended byte */
  {
    g_autoptr(GByteArray) longer = g_byte_array_new ();
    g_autoptr(GBytes) bad = NULL;
    g_autoptr(GError) error = NULL;

    g_byte_array_append (longer, data, len);
    g_byte_array_append (longer, (const guint8 *) "x", 1);
    bad = g_byte_array_free_to_bytes (g_steal_pointer (&longer));
    g_assert_null (coffer_envelope_open (key, repo_id, COFFER_OBJECT_CATEGORY_ACCOUNT, name, bad, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
  }

  /* Wrong type, name, repository id: the same bytes in another place */
  {
    g_autoptr(GError) error = NULL;
    guint8 other_repo[COFFER_REPO_ID_BYTES];

    g_assert_null (coffer_envelope_open (key, repo_id, COFFER_OBJECT_CATEGORY_PASSWORD, name, env, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);

    g_assert_null (coffer_envelope_open (key, repo_id, COFFER_OBJECT_CATEGORY_ACCOUNT,
                                         "categories/abd/keys/account", env, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);

    memcpy (other_repo, repo_id, sizeof other_repo);
    other_repo[15] ^= 0x80;
    g_assert_null (coffer_envelope_open (key, other_repo, COFFER_OBJECT_CATEGORY_ACCOUNT, name, env, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);

    /* Re-typed in the header too: still bound by the AD. */
    {
      g_autofree guint8 *copy = g_memdup2 (data, len);
      g_autoptr(GBytes) retyped = NULL;

      copy[4] = COFFER_OBJECT_CATEGORY_PASSWORD;
      retyped = g_bytes_new (copy, len);
      g_assert_null (coffer_envelope_open (key, repo_id, COFFER_OBJECT_CATEGORY_PASSWORD, name,
                                           retyped, &error));
      g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
      g_clear_error (&error);
    }

    g_assert_null (coffer_envelope_open (wrong, repo_id, COFFER_OBJECT_CATEGORY_ACCOUNT, name, env, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY);
  }
}

/* ---- Padmé ---- */

static guint64
padme_reference (guint64 len)
{
  /* Straight from the paper (Nikitin et al., PETS 2019), in floating point. */
  double e, s;
  guint64 last_bits, mask;

  if (len < 2)
    return len;
  e = floor (log2 ((double) len));
  s = floor (log2 (e)) + 1;
  last_bits = (guint64) (e - s);
  mask = (G_GUINT64_CONSTANT (1) << last_bits) - 1;
  return (len + mask) & ~mask;
}

static void
test_padme (void)
{
  static const struct { guint64 in, out; } known[] = {
    { 0, 0 }, { 1, 1 }, { 5, 5 }, { 7, 7 }, { 9, 10 }, { 17, 18 }, { 100, 104 },
    { 1000, 1024 }, { 1025, 1088 }, { 1048576, 1048576 }, { 1048581, 1081344 },
    { 524293, 540672 }, { 8388608, 8388608 }, { 8388613, 8650752 },
  };
  guint64 prev = 0;

  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    g_assert_cmpuint (coffer_padme_length (known[i].in), ==, known[i].out);

  for (guint64 l = 0; l < 300000; l++)
    {
      guint64 p = coffer_padme_length (l);

      g_assert_cmpuint (p, ==, padme_reference (l));
      g_assert_cmpuint (p, >=, l);
      g_assert_cmpuint (p, >=, prev);      /* monotone */
      /* At most ~12 % for tiny sizes, ~3 % around a MiB. */
      if (l >= 1024)
        g_assert_cmpuint ((p - l) * 100, <=, l * 7);
      prev = p;
    }
  for (guint64 l = 1 << 19; l < (1 << 24); l += 4093)
    {
      guint64 p = coffer_padme_length (l);

      g_assert_cmpuint ((p - l) * 1000, <=, l * 32);
    }
}

/* ---- Blobs ---- */

static guint8 *
make_text (gsize len)
{
  static const char *words[] = { "backup ", "photo ", "encrypted ", "the ", "of ",
                                 "coffer ", "recovery ", "key\n", "and ", "2024 " };
  guint8 *buf = g_malloc (len);
  GRand *rand = g_rand_new_with_seed (42);
  gsize pos = 0;

  while (pos < len)
    {
      const char *w = words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))];
      gsize n = MIN (strlen (w), len - pos);

      memcpy (buf + pos, w, n);
      pos += n;
    }
  g_rand_free (rand);
  return buf;
}

typedef enum { RAW, HALF, SMALLER, SHRUNK } Expect;

static void
blob_round_trip (const CofferSecret *key,
                 const guint8       *data,
                 gsize               len,
                 Expect              expect)
{
  guint8 id[32];
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GBytes) opened = NULL;
  g_autoptr(GError) error = NULL;
  gsize sealed_len;

  randombytes_buf (id, sizeof id);
  sealed = coffer_blob_seal (key, id, COFFER_BLOB_DATA, data, len);
  sealed_len = g_bytes_get_size (sealed);
  g_assert_cmpuint (sealed_len, <=, coffer_blob_sealed_max (len));
  if (expect == HALF)
    g_assert_cmpuint (sealed_len, <, len / 2);
  else if (expect == SMALLER)
    g_assert_cmpuint (sealed_len, <, coffer_blob_sealed_max (len) * 9 / 10);
  else if (expect == SHRUNK)
    g_assert_cmpuint (sealed_len, <, coffer_blob_sealed_max (len));
  else
    g_assert_cmpuint (sealed_len, ==, coffer_blob_sealed_max (len));
  /* The frame is always a Padmé length. */
  g_assert_cmpuint (coffer_padme_length (sealed_len - 40), ==, sealed_len - 40);

  opened = coffer_blob_open (key, id, COFFER_BLOB_DATA, g_bytes_get_data (sealed, NULL), sealed_len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened), data, len);
}

static void
test_blob_round_trip (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autofree guint8 *random = g_malloc (1 << 20);
  g_autofree guint8 *text = make_text (1 << 20);
  g_autofree guint8 *mixed = g_malloc (1 << 20);

  randombytes_buf (random, 1 << 20);
  blob_round_trip (key, random, 1 << 20, RAW);
  blob_round_trip (key, text, 1 << 20, HALF);
  blob_round_trip (key, (const guint8 *) "", 0, RAW);
  blob_round_trip (key, text, 1, RAW);
  blob_round_trip (key, text, 31, RAW);
  blob_round_trip (key, random, 100, RAW);
  blob_round_trip (key, text, 10000, HALF);
  blob_round_trip (key, random, 65536 + 1, RAW);

  /* Incompressible start, compressible rest: the spread sample still finds it. */
  memcpy (mixed, random, 1 << 18);
  memcpy (mixed + (1 << 18), text, (1 << 20) - (1 << 18));
  blob_round_trip (key, mixed, 1 << 20, SMALLER);

  /* The documented sampling rule: four 16 KiB pieces at 0, 1/3, 2/3 and the
   * end decide. Random there and zeros elsewhere is stored raw, although
   * the whole blob would compress; the reverse is compressed (a little). */
  {
    gsize len = 1 << 20, span = len - 16384;
    g_autofree guint8 *holes = g_malloc0 (len);
    g_autofree guint8 *islands = g_malloc (len);
    gsize offsets[4] = { 0, span / 3, span / 3 * 2, span };

    memcpy (islands, random, len);
    for (guint i = 0; i < 4; i++)
      {
        memcpy (holes + offsets[i], random + offsets[i], 16384);
        memset (islands + offsets[i], 'a', 16384);
      }
    blob_round_trip (key, holes, len, RAW);
    blob_round_trip (key, islands, len, SHRUNK);
  }

  /* Sizes around the sample and padding boundaries */
  for (gsize len = 65530; len < 65545; len++)
    {
      blob_round_trip (key, random, len, RAW);
      blob_round_trip (key, text, len, HALF);
    }
}

/* Blobs stored raw are encrypted straight from the plaintext
 * (encrypt_raw_frame), not by libsodium's one-shot function: every length
 * around the 64-byte block layout (the 5-byte frame header shifts the
 * plaintext against the blocks) and the padding must open with libsodium's
 * decryption, for data and tree blobs, and a flipped byte anywhere must
 * not. */
static void
test_blob_seal_raw_direct (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  gsize max = (1 << 20) + 4099;
  g_autofree guint8 *random = g_malloc (max);
  g_autofree guint8 *out = g_malloc (coffer_blob_sealed_max (max));
  gsize lens[] = { 0, 1, 2, 58, 59, 60, 61, 63, 64, 65, 122, 123, 124, 125, 187, 188, 1000, 4096,
                   4097, 65536 + 7, 1 << 20, (1 << 20) + 4099 };

  randombytes_buf (random, max);
  for (guint i = 0; i < G_N_ELEMENTS (lens) + 40; i++)
    {
      gsize len = i < G_N_ELEMENTS (lens) ? lens[i] : 1 + randombytes_uniform (300000);
      CofferBlobType type = i % 2 ? COFFER_BLOB_TREE : COFFER_BLOB_DATA;
      guint8 id[32];
      g_autoptr(GBytes) opened = NULL;
      g_autoptr(GError) error = NULL;
      gsize n, at;

      randombytes_buf (id, sizeof id);
      n = coffer_blob_seal_into (key, id, type, random, len, out);
      g_assert_cmpuint (n, ==, coffer_blob_sealed_max (len));   /* stored raw */
      opened = coffer_blob_open (key, id, type, out, n, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened), random, len);
      g_clear_pointer (&opened, g_bytes_unref);

      at = randombytes_uniform (n);
      out[at] ^= 0x01;
      opened = coffer_blob_open (key, id, type, out, n, &error);
      g_assert_null (opened);
      g_assert_nonnull (error);
    }
}

static gpointer
unref_elsewhere (gpointer data)
{
  g_bytes_unref (data);
  return NULL;
}

typedef struct
{
  const CofferSecret *key;
  const guint8       *id;
  GBytes             *sealed;
} OpenData;

static gpointer
open_elsewhere (gpointer data)
{
  OpenData *od = data;

  return coffer_blob_open (od->key, od->id, COFFER_BLOB_DATA, g_bytes_get_data (od->sealed, NULL),
                           g_bytes_get_size (od->sealed), NULL);
}

/* Opening blob after blob, each freed before the next: the buffers are
 * reused (a compressed blob needs two: the decrypted frame and the
 * inflated data), and the bytes are right every time. Bytes freed on
 * another thread, or after the thread that opened them ended, are fine. */
static void
test_blob_open_reuses (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autofree guint8 *text = make_text (300000);
  g_autofree guint8 *random = g_malloc (200000);
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GBytes) packed = NULL;
  guint8 id_raw[32], id_packed[32];
  guint made;

  randombytes_buf (random, 200000);
  randombytes_buf (id_raw, sizeof id_raw);
  randombytes_buf (id_packed, sizeof id_packed);
  raw = coffer_blob_seal (key, id_raw, COFFER_BLOB_DATA, random, 200000);
  packed = coffer_blob_seal (key, id_packed, COFFER_BLOB_DATA, text, 300000);
  g_assert_cmpuint (g_bytes_get_size (packed), <, 150000);

  made = _coffer_blob_get_buffers_made ();
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean is_raw = i % 2 == 0;
      GBytes *sealed = is_raw ? raw : packed;
      g_autoptr(GBytes) opened = coffer_blob_open (key, is_raw ? id_raw : id_packed, COFFER_BLOB_DATA,
                                                   g_bytes_get_data (sealed, NULL),
                                                   g_bytes_get_size (sealed), &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened),
                       is_raw ? random : text, is_raw ? 200000 : 300000);
    }
  g_assert_cmpuint (_coffer_blob_get_buffers_made () - made, <=, 3);

  {
    g_autoptr(GError) error = NULL;
    GBytes *opened = coffer_blob_open (key, id_packed, COFFER_BLOB_DATA, g_bytes_get_data (packed, NULL),
                                       g_bytes_get_size (packed), &error);
    g_assert_no_error (error);
    g_thread_join (g_thread_new ("unref", unref_elsewhere, opened));
  }
  {
    OpenData od = { key, id_raw, raw };
    g_autoptr(GBytes) opened = g_thread_join (g_thread_new ("open", open_elsewhere, &od));
    g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened), random, 200000);
  }
}

static void
test_blob_seal_into (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autofree guint8 *text = make_text (300000);
  g_autofree guint8 *out = g_malloc (coffer_blob_sealed_max (300000));
  g_autoptr(GBytes) opened = NULL;
  g_autoptr(GError) error = NULL;
  guint8 id[32] = { 7 };
  gsize n;

  n = coffer_blob_seal_into (key, id, COFFER_BLOB_TREE, text, 300000, out);
  g_assert_cmpuint (n, >, 40);
  g_assert_cmpuint (n, <, 300000);
  opened = coffer_blob_open (key, id, COFFER_BLOB_TREE, out, n, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened), text, 300000);
}

static void
test_blob_tamper (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  g_autoptr(CofferSecret) wrong = coffer_secret_new_random (32);
  g_autofree guint8 *text = make_text (5000);
  guint8 id[32], other_id[32];
  g_autoptr(GBytes) sealed = NULL;
  const guint8 *data;
  gsize len;

  randombytes_buf (id, sizeof id);
  memcpy (other_id, id, sizeof id);
  other_id[31] ^= 1;
  sealed = coffer_blob_seal (key, id, COFFER_BLOB_TREE, text, 5000);
  data = g_bytes_get_data (sealed, &len);

  for (gsize i = 0; i < len; i++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, len);
      g_autoptr(GError) error = NULL;

      copy[i] ^= 0x40;
      g_assert_null (coffer_blob_open (key, id, COFFER_BLOB_TREE, copy, len, &error));
      g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    }
  for (gsize cut = 0; cut < len; cut += (cut < 100 ? 1 : 97))
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (coffer_blob_open (key, id, COFFER_BLOB_TREE, data, cut, &error));
      g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    }

  {
    g_autoptr(GError) error = NULL;

    /* Re-typed */
    g_assert_null (coffer_blob_open (key, id, COFFER_BLOB_DATA, data, len, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);
    /* Swapped under another id */
    g_assert_null (coffer_blob_open (key, other_id, COFFER_BLOB_TREE, data, len, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
    g_clear_error (&error);
    /* Wrong key */
    g_assert_null (coffer_blob_open (wrong, id, COFFER_BLOB_TREE, data, len, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
  }
}

typedef struct
{
  const CofferSecret *key;
  const guint8       *text;
  const guint8       *random;
  gsize               len;
} ThreadData;

static gpointer
blob_thread (gpointer user_data)
{
  ThreadData *td = user_data;

  for (guint i = 0; i < 40; i++)
    {
      const guint8 *src = (i % 2) ? td->text : td->random;
      gsize len = td->len - i * 997;
      guint8 id[32];
      g_autoptr(GBytes) sealed = NULL;
      g_autoptr(GBytes) opened = NULL;
      g_autoptr(GError) error = NULL;

      randombytes_buf (id, sizeof id);
      sealed = coffer_blob_seal (td->key, id, COFFER_BLOB_DATA, src, len);
      opened = coffer_blob_open (td->key, id, COFFER_BLOB_DATA, g_bytes_get_data (sealed, NULL),
                                 g_bytes_get_size (sealed), &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened), src, len);
    }
  return NULL;
}

static void
test_blob_threads (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  gsize len = 256 * 1024;
  g_autofree guint8 *text = make_text (len);
  g_autofree guint8 *random = g_malloc (len);
  ThreadData td = { key, text, random, len };
  GThread *threads[6];

  randombytes_buf (random, len);
  /* Each thread gets its own zstd contexts, freed when it exits. */
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("blob", blob_thread, &td);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}

/* Seals a hand-made frame exactly as coffer_blob_seal would. */
static GBytes *
seal_frame (const CofferSecret *key,
            const guint8       *id,
            const guint8       *frame,
            gsize               frame_len)
{
  guint8 ad[11 + 32 + 1];
  guint8 *out = g_malloc (24 + frame_len + 16);
  unsigned long long clen;

  memcpy (ad, "coffer-blob", 11);
  memcpy (ad + 11, id, 32);
  ad[43] = COFFER_BLOB_DATA;
  randombytes_buf (out, 24);
  crypto_aead_xchacha20poly1305_ietf_encrypt (out + 24, &clen, frame, frame_len, ad, sizeof ad,
                                              NULL, out, key->data);
  return g_bytes_new_take (out, 24 + clen);
}

static guint8 *
make_frame (guint8 flags, const guint8 *payload, gsize payload_len, gsize frame_len)
{
  guint8 *frame = g_malloc0 (MAX (frame_len, 5 + payload_len));

  frame[0] = flags;
  frame[1] = payload_len & 0xff;
  frame[2] = (payload_len >> 8) & 0xff;
  frame[3] = (payload_len >> 16) & 0xff;
  frame[4] = (payload_len >> 24) & 0xff;
  memcpy (frame + 5, payload, payload_len);
  return frame;
}

static void
expect_hostile (const CofferSecret *key,
                const guint8       *id,
                const guint8       *frame,
                gsize               frame_len,
                const char         *fragment)
{
  g_autoptr(GBytes) sealed = seal_frame (key, id, frame, frame_len);
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (sealed, &len);

  g_assert_null (coffer_blob_open (key, id, COFFER_BLOB_DATA, data, len, &error));
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_CORRUPT);
  if (strstr (error->message, fragment) == NULL)
    g_error ("message “%s” lacks “%s”", error->message, fragment);
}

static void
test_blob_hostile_frames (void)
{
  g_autoptr(CofferSecret) key = coffer_secret_new_random (32);
  guint8 id[32] = { 1, 2, 3 };
  g_autofree guint8 *zeros = g_malloc0 (100 << 20);
  gsize bound = ZSTD_compressBound (100 << 20);
  g_autofree guint8 *bomb = g_malloc (bound);
  gsize bomb_len = ZSTD_compress (bomb, bound, zeros, 100 << 20, 1);
  guint8 small[32] = "some payload bytes for a frame";

  g_assert_false (ZSTD_isError (bomb_len));

  /* A valid hand-made frame opens (so the helper is right). */
  {
    gsize flen = coffer_padme_length (5 + sizeof small);
    g_autofree guint8 *frame = make_frame (0, small, sizeof small, flen);
    g_autoptr(GBytes) sealed = seal_frame (key, id, frame, flen);
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) opened = coffer_blob_open (key, id, COFFER_BLOB_DATA,
                                                 g_bytes_get_data (sealed, NULL),
                                                 g_bytes_get_size (sealed), &error);

    g_assert_no_error (error);
    g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened), small, sizeof small);
  }

  /* Decompression bomb: 100 MiB declared, above the 64 MiB cap; refused
   * without inflating. */
  {
    gsize flen = coffer_padme_length (5 + bomb_len);
    g_autofree guint8 *frame = make_frame (1, bomb, bomb_len, flen);

    expect_hostile (key, id, frame, flen, "declares a size larger");
  }

  /* zstd frame without a content size */
  {
    ZSTD_CCtx *cctx = ZSTD_createCCtx ();
    guint8 out[256];
    gsize n, flen;
    g_autofree guint8 *frame = NULL;

    ZSTD_CCtx_setParameter (cctx, ZSTD_c_contentSizeFlag, 0);
    n = ZSTD_compress2 (cctx, out, sizeof out, small, sizeof small);
    g_assert_false (ZSTD_isError (n));
    ZSTD_freeCCtx (cctx);
    flen = coffer_padme_length (5 + n);
    frame = make_frame (1, out, n, flen);
    expect_hostile (key, id, frame, flen, "no valid size");
  }

  /* Trailing bytes after the zstd frame, inside the payload: junk, and a
   * skippable frame that zstd itself would accept. */
  {
    static const guint8 skippable[12] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'j', 'u', 'n', 'k' };
    guint8 out[256];
    gsize n = ZSTD_compress (out, sizeof out - 16, small, sizeof small, 3);
    gsize flen;
    g_autofree guint8 *frame = NULL;
    g_autofree guint8 *frame2 = NULL;

    g_assert_false (ZSTD_isError (n));
    memcpy (out + n, "junk", 4);
    flen = coffer_padme_length (5 + n + 4);
    frame = make_frame (1, out, n + 4, flen);
    expect_hostile (key, id, frame, flen, "malformed");

    memcpy (out + n, skippable, sizeof skippable);
    flen = coffer_padme_length (5 + n + sizeof skippable);
    frame2 = make_frame (1, out, n + sizeof skippable, flen);
    expect_hostile (key, id, frame2, flen, "malformed");
  }

  /* Non-zero padding */
  {
    gsize flen = coffer_padme_length (5 + 100);
    guint8 payload[100] = { 0 };
    g_autofree guint8 *frame = NULL;

    g_assert_cmpuint (flen, >, 105);
    frame = make_frame (0, payload, sizeof payload, flen);
    frame[flen - 1] = 1;
    expect_hostile (key, id, frame, flen, "padding");
  }

  /* Frame length not the Padmé length of the payload */
  {
    gsize flen = coffer_padme_length (5 + sizeof small) + 64;
    g_autofree guint8 *frame = make_frame (0, small, sizeof small, flen);

    expect_hostile (key, id, frame, flen, "length");
  }

  /* Payload length beyond the frame */
  {
    gsize flen = coffer_padme_length (5 + sizeof small);
    g_autofree guint8 *frame = make_frame (0, small, sizeof small, flen);

    frame[3] = 0x10;
    expect_hostile (key, id, frame, flen, "length");
  }

  /* Unknown flag */
  {
    gsize flen = coffer_padme_length (5 + sizeof small);
    g_autofree guint8 *frame = make_frame (0x02, small, sizeof small, flen);

    expect_hostile (key, id, frame, flen, "features");
  }
}

/* ---- KDF ---- */

static void
test_kdf (void)
{
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string ("correct horse battery staple");
  g_autoptr(CofferSecret) other = coffer_secret_new_from_string ("correct horse battery stapler");
  g_autoptr(CofferSecret) k1 = NULL;
  g_autoptr(CofferSecret) k2 = NULL;
  g_autoptr(CofferSecret) k3 = NULL;
  g_autoptr(CofferSecret) k4 = NULL;
  g_autoptr(GError) error = NULL;
  CofferKdfParams params, params2;

  g_assert_cmpstr (g_getenv ("COFFER_TESTING"), ==, "1");

  coffer_kdf_set_test_profile (TRUE);
  coffer_kdf_params_new (&params);
  coffer_kdf_params_new (&params2);
  g_assert_cmpuint (params.opslimit, ==, crypto_pwhash_OPSLIMIT_MIN);
  g_assert_cmpuint (params.memlimit, ==, crypto_pwhash_MEMLIMIT_MIN);
  g_assert_true (memcmp (params.salt, params2.salt, COFFER_SALT_BYTES) != 0);

  k1 = coffer_kdf_derive (password, &params, &error);
  g_assert_no_error (error);
  k2 = coffer_kdf_derive (password, &params, &error);
  g_assert_no_error (error);
  k3 = coffer_kdf_derive (password, &params2, &error);
  g_assert_no_error (error);
  k4 = coffer_kdf_derive (other, &params, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (k1->len, ==, 32);
  g_assert_true (coffer_secret_equal (k1, k2));
  g_assert_false (coffer_secret_equal (k1, k3));
  g_assert_false (coffer_secret_equal (k1, k4));

  /* Same as libsodium's crypto_pwhash with Argon2id directly. */
  {
    guint8 direct[32];

    g_assert_cmpint (crypto_pwhash (direct, 32, "correct horse battery staple", 28, params.salt,
                                    params.opslimit, params.memlimit, crypto_pwhash_ALG_ARGON2ID13), ==, 0);
    g_assert_cmpmem (direct, 32, k1->data, 32);
  }

  coffer_kdf_set_test_profile (FALSE);
  coffer_kdf_params_new (&params2);
  g_assert_cmpuint (params2.opslimit, ==, crypto_pwhash_OPSLIMIT_MODERATE);
  g_assert_cmpuint (params2.memlimit, ==, crypto_pwhash_MEMLIMIT_MODERATE);
}

static void
test_kdf_known_answer (void)
{
  /* Argon2id v1.3, t = 2, m = 64 MiB, p = 1, 32 bytes; checked with the
   * reference implementation: echo -n 'correct horse battery staple' |
   *   argon2 ABCDEFGHIJKLMNOP -id -t 2 -k 65536 -p 1 -l 32 -r */
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string ("correct horse battery staple");
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(GError) error = NULL;
  CofferKdfParams params;

  memcpy (params.salt, "ABCDEFGHIJKLMNOP", 16);
  params.opslimit = 2;
  params.memlimit = 64 * 1024 * 1024;
  key = coffer_kdf_derive (password, &params, &error);
  g_assert_no_error (error);
  assert_hex (key->data, key->len, "853ef402bce49c5cc98f9b27cf5c20a21fb95e1cf2b7bdbc52e2a3bf3fb0d313");
}

static void
test_kdf_test_switch_needs_testing (void)
{
  CofferKdfParams params;
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string ("pw");
  g_autoptr(GError) error = NULL;

  /* Without COFFER_TESTING=1 neither switch weakens anything. */
  g_unsetenv ("COFFER_TESTING");
  g_setenv ("COFFER_TEST_FAST_KDF", "1", TRUE);
  g_setenv ("COFFER_TEST_KDF_OPS", "1", TRUE);
  coffer_kdf_set_test_profile (TRUE);
  coffer_kdf_params_new (&params);
  g_assert_cmpuint (params.opslimit, ==, crypto_pwhash_OPSLIMIT_MODERATE);
  g_assert_cmpuint (params.memlimit, ==, crypto_pwhash_MEMLIMIT_MODERATE);

  /* ... and the minimum parameters are refused on read. */
  params.opslimit = crypto_pwhash_OPSLIMIT_MIN;
  params.memlimit = crypto_pwhash_MEMLIMIT_MIN;
  g_assert_null (coffer_kdf_derive (password, &params, &error));
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  params.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE - 1;
  params.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  g_assert_null (coffer_kdf_derive (password, &params, &error));
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  g_setenv ("COFFER_TESTING", "1", TRUE);
  coffer_kdf_params_new (&params);
  g_assert_cmpuint (params.opslimit, ==, crypto_pwhash_OPSLIMIT_MIN);
  g_assert_cmpuint (params.memlimit, ==, crypto_pwhash_MEMLIMIT_MIN);

  /* Environment only (what the CLI tests use) */
  coffer_kdf_set_test_profile (FALSE);
  g_unsetenv ("COFFER_TEST_KDF_OPS");
  coffer_kdf_params_new (&params);
  g_assert_cmpuint (params.opslimit, ==, crypto_pwhash_OPSLIMIT_MIN);
  g_unsetenv ("COFFER_TEST_FAST_KDF");
  coffer_kdf_params_new (&params);
  g_assert_cmpuint (params.opslimit, ==, crypto_pwhash_OPSLIMIT_MODERATE);
}

static void
test_kdf_caps (void)
{
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string ("pw");
  CofferKdfParams params;
  gint64 start;

  coffer_kdf_set_test_profile (TRUE);
  coffer_kdf_params_new (&params);
  coffer_kdf_set_test_profile (FALSE);

  start = g_get_monotonic_time ();
  {
    g_autoptr(GError) error = NULL;
    CofferKdfParams huge = params;

    /* 1 TiB: refused at once, never allocated. */
    huge.memlimit = G_GUINT64_CONSTANT (1) << 40;
    g_assert_null (coffer_kdf_derive (password, &huge, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
    g_clear_error (&error);

    huge.memlimit = (G_GUINT64_CONSTANT (1) << 30) + 1024;
    g_assert_null (coffer_kdf_derive (password, &huge, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
    g_clear_error (&error);

    huge.memlimit = params.memlimit;
    huge.opslimit = 21;
    g_assert_null (coffer_kdf_derive (password, &huge, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
    g_clear_error (&error);

    huge.opslimit = G_MAXUINT64;
    g_assert_null (coffer_kdf_derive (password, &huge, &error));
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_UNSUPPORTED);
  }
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
}

/* Nonces come from a per-thread buffer: distinct, one system call per
 * ~170 of them, and a forked child never hands out what its parent will. */
static void
test_public_random (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                                      (GDestroyNotify) g_bytes_unref, NULL);
  guint before = _coffer_public_random_get_refills ();
  guint8 big[300] = { 0 }, zero[300] = { 0 };
  guint8 mine[24], theirs[24];
  int fds[2];
  pid_t pid;
  int status;

  for (guint i = 0; i < 1000; i++)
    {
      guint8 n[24];

      _coffer_public_random (n, sizeof n);
      g_assert_true (g_hash_table_add (seen, g_bytes_new (n, sizeof n)));
    }
  /* 24 000 bytes from 4 KiB fills: at most 6 more (one per call before). */
  g_assert_cmpuint (_coffer_public_random_get_refills () - before, <=, 7);
  g_assert_cmpuint (_coffer_public_random_get_refills () - before, >=, 5);

  /* Large requests go to the generator directly. */
  before = _coffer_public_random_get_refills ();
  _coffer_public_random (big, sizeof big);
  g_assert_cmpint (memcmp (big, zero, sizeof big), !=, 0);
  g_assert_cmpuint (_coffer_public_random_get_refills (), ==, before);

  /* After fork() the child refills: what it draws next differs from what
   * the parent draws next from the same buffer. */
  _coffer_public_random (mine, 1);   /* the buffer is filled and in use */
  g_assert_no_errno (pipe (fds));
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      guint8 n[24];

      _coffer_public_random (n, sizeof n);
      _exit (write (fds[1], n, sizeof n) == sizeof n ? 0 : 1);
    }
  close (fds[1]);
  g_assert_cmpint (read (fds[0], theirs, sizeof theirs), ==, sizeof theirs);
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  _coffer_public_random (mine, sizeof mine);
  g_assert_cmpint (memcmp (mine, theirs, sizeof mine), !=, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  coffer_core_init ();

  g_test_add_func ("/crypto/blake2b-vectors", test_blake2b_vectors);
  g_test_add_func ("/crypto/sha256-suite", test_sha256_suite);
  g_test_add_func ("/crypto/cpu-suite", test_cpu_suite);
  g_test_add_func ("/crypto/subkeys", test_subkeys);
  g_test_add_func ("/crypto/hex", test_hex);
  g_test_add_func ("/crypto/secret/basics", test_secret_basics);
  g_test_add_func ("/crypto/secret/from-file", test_secret_from_file);
  g_test_add_func ("/crypto/envelope/round-trip", test_envelope_round_trip);
  g_test_add_func ("/crypto/envelope/tamper", test_envelope_tamper);
  g_test_add_func ("/crypto/padme", test_padme);
  g_test_add_func ("/crypto/public-random", test_public_random);
  g_test_add_func ("/crypto/blob/round-trip", test_blob_round_trip);
  g_test_add_func ("/crypto/blob/seal-into", test_blob_seal_into);
  g_test_add_func ("/crypto/blob/seal-raw-direct", test_blob_seal_raw_direct);
  g_test_add_func ("/crypto/blob/open-reuses-buffers", test_blob_open_reuses);
  g_test_add_func ("/crypto/blob/tamper", test_blob_tamper);
  g_test_add_func ("/crypto/blob/threads", test_blob_threads);
  g_test_add_func ("/crypto/blob/hostile-frames", test_blob_hostile_frames);
  g_test_add_func ("/crypto/kdf/derive", test_kdf);
  g_test_add_func ("/crypto/kdf/known-answer", test_kdf_known_answer);
  g_test_add_func ("/crypto/kdf/caps", test_kdf_caps);
  g_test_add_func ("/crypto/kdf/test-switch-needs-testing", test_kdf_test_switch_needs_testing);

  return g_test_run ();
}
