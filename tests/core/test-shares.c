/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Recovery shares: test vectors (computed with an independent Python
 * implementation of docs/FORMAT.md "Recovery shares"), exhaustive k-of-n
 * reconstruction, typo location, and shares of another repository or of a
 * replaced recovery key refused by name, on a real repository. */
#include <string.h>

#include <sodium.h>

#include <sys/stat.h>
#include <glib/gstdio.h>

#include "coffer-emergency-kit.h"
#include "coffer-error.h"
#include "coffer-recovery-key.h"
#include "coffer-repository-shares.h"
#include "coffer-shares.h"
#include "repo-fixture.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static const guint8 vector_repo[16] = {
  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};

static CofferSecret *
vector_key (void)
{
  guint8 bytes[16];

  for (guint i = 0; i < 16; i++)
    bytes[i] = (guint8) i;
  return coffer_secret_new_from_data (bytes, sizeof bytes);
}

static CofferSecret *
counting_coefficients (guint8 first, guint len)
{
  g_autoptr(CofferSecret) c = coffer_secret_new (len);

  for (guint i = 0; i < len; i++)
    c->data[i] = (guint8) (first + i);
  return g_steal_pointer (&c);
}

static CofferShare *
parse_ok (const char *text)
{
  g_autoptr(GError) error = NULL;
  CofferShare *share = coffer_share_parse (text, &error);

  g_assert_no_error (error);
  g_assert_nonnull (share);
  return share;
}

static void
test_vectors (void)
{
  static const struct
  {
    guint k, n;
    guint8 coefficient0;
    guint8 set_id[2];
    const char *shares[5];
  } vectors[] = {
    { 2, 3, 0xa0, { 0x5e, 0x75 }, {
      "2881-24PH-E5F7-B850-M2GA-5J18-50M2-GA18-50M2-GA18-2W5A",
      "4881-24PH-E5F7-APTR-BNF5-WXEN-2HA9-1M0H-A69X-64JJ-HP2A",
      "6881-24PH-E5F7-BYZS-ZZYZ-087W-FQYQ-NYKV-ZDWF-GYFS-E0TN" } },
    { 3, 5, 0x20, { 0x01, 0x02 }, {
      "2C81-24PH-E40G-440H-289H-N085-8P2W-C1J6-GV3G-EHW7-X26Y",
      "4C81-24PH-E40G-5047-HT4S-Z8S6-WJJP-WBZD-NHMJ-HTNB-AT33",
      "6C81-24PH-E40G-544Q-KTCR-WZS2-W2GP-MAZ9-N1PJ-SVNF-D7QN",
      "8C81-24PH-E40G-5BDR-GY9F-PWKV-6KRR-2H0B-STA5-27PV-QHS5",
      "AC81-24PH-E40G-5FD8-JY1E-NBKZ-63TR-AG0F-SA85-A6PZ-PMNW" } },
  };
  g_autoptr(CofferSecret) key = vector_key ();
  guint8 generation[3];
  static const guint8 expected_generation[3] = { 0x12, 0xd1, 0x71 };

  coffer_recovery_generation_id (key, vector_repo, generation);
  g_assert_cmpmem (generation, 3, expected_generation, 3);

  for (guint v = 0; v < G_N_ELEMENTS (vectors); v++)
    {
      g_autoptr(CofferSecret) coefficients =
        counting_coefficients (vectors[v].coefficient0, (vectors[v].k - 1) * 16);
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) shares = coffer_shares_split_with (key, vector_repo, vectors[v].k, vectors[v].n,
                                                              coefficients, vectors[v].set_id, &error);
      g_autoptr(GPtrArray) parsed = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_share_free);
      g_autoptr(CofferSecret) combined = NULL;

      g_assert_no_error (error);
      g_assert_cmpuint (shares->len, ==, vectors[v].n);
      for (guint i = 0; i < shares->len; i++)
        {
          g_autoptr(CofferSecret) text = coffer_share_format (g_ptr_array_index (shares, i));

          g_assert_cmpstr ((const char *) text->data, ==, vectors[v].shares[i]);
          g_ptr_array_add (parsed, parse_ok (vectors[v].shares[i]));
        }
      /* The last k shares, in reverse order, give the key back. */
      {
        CofferShare *subset[10];

        for (guint i = 0; i < vectors[v].k; i++)
          subset[i] = g_ptr_array_index (parsed, vectors[v].n - 1 - i);
        combined = coffer_shares_combine (subset, vectors[v].k, vector_repo, &error);
        g_assert_no_error (error);
        g_assert_true (coffer_secret_equal (combined, key));
      }
    }
}

/* Every subset of n shares: k or more give the key, fewer say how many more. */
static void
check_all_subsets (const CofferSecret *key, guint k, guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) shares = coffer_shares_split (key, vector_repo, k, n, &error);

  g_assert_no_error (error);
  for (guint mask = 1; mask < (1u << n); mask++)
    {
      CofferShare *subset[10];
      guint m = 0;
      g_autoptr(CofferSecret) combined = NULL;
      g_autoptr(GError) local_error = NULL;

      /* Larger n: only the subsets of exactly k and k - 1 shares. */
      if (n > 6 && (guint) __builtin_popcount (mask) != k &&
          (guint) __builtin_popcount (mask) != k - 1)
        continue;
      for (guint i = 0; i < n; i++)
        if (mask & (1u << i))
          subset[m++] = g_ptr_array_index (shares, i);
      combined = coffer_shares_combine (subset, m, vector_repo, &local_error);
      g_assert_cmpuint (coffer_shares_missing (subset, m), ==, m >= k ? 0 : k - m);
      if (m >= k)
        {
          g_assert_no_error (local_error);
          g_assert_true (coffer_secret_equal (combined, key));
        }
      else
        {
          g_autofree char *more = g_strdup_printf ("%u more share", k - m);

          g_assert_error (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY);
          g_assert_nonnull (strstr (local_error->message, more));
          g_assert_null (combined);
        }
    }
}

static void
test_reconstruction (void)
{
  for (guint round = 0; round < 3; round++)
    {
      g_autoptr(CofferSecret) key = round == 0 ? vector_key () : coffer_recovery_key_generate ();

      for (guint n = 2; n <= 6; n++)
        for (guint k = 2; k <= n; k++)
          check_all_subsets (key, k, n);
    }
  {
    g_autoptr(CofferSecret) key = coffer_recovery_key_generate ();

    for (guint k = 2; k <= 10; k++)
      check_all_subsets (key, k, 10);
  }
}

static void
test_limits (void)
{
  g_autoptr(CofferSecret) key = vector_key ();
  static const guint bad[][2] = { { 1, 3 }, { 4, 3 }, { 2, 11 }, { 0, 0 } };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) shares = coffer_shares_split (key, vector_repo, bad[i][0], bad[i][1], &error);

      g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID);
      g_assert_null (shares);
    }
}

/* Index in the formatted text of symbol i (0..43). */
static guint
char_index (guint i)
{
  return i + i / 4;
}

static void
test_every_typo_located (void)
{
  g_autoptr(CofferSecret) key = coffer_recovery_key_generate ();
  g_autoptr(GPtrArray) shares = coffer_shares_split (key, vector_repo, 2, 3, NULL);

  for (guint s = 0; s < shares->len; s++)
    {
      g_autoptr(CofferSecret) text = coffer_share_format (g_ptr_array_index (shares, s));

      for (guint i = 0; i < COFFER_SHARE_CHARS; i++)
        {
          char *c = (char *) text->data + char_index (i);
          char saved = *c;
          g_autofree char *expected = g_strdup_printf ("check character %u of group %u", i % 4 + 1, i / 4 + 1);

          for (guint v = 0; v < 32; v++)
            {
              g_autoptr(GError) error = NULL;
              g_autoptr(CofferShare) parsed = NULL;

              if (alphabet[v] == saved)
                continue;
              *c = alphabet[v];
              parsed = coffer_share_parse ((const char *) text->data, &error);
              g_assert_null (parsed);
              g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO);
              if (strstr (error->message, expected) == NULL)
                g_error ("typo at symbol %u not located: %s", i, error->message);
            }
          *c = saved;
        }

      /* Every swap of two different neighbours is caught as a typo. */
      for (guint i = 0; i + 1 < COFFER_SHARE_CHARS; i++)
        {
          char *a = (char *) text->data + char_index (i);
          char *b = (char *) text->data + char_index (i + 1);
          char tmp;
          g_autoptr(GError) error = NULL;
          g_autoptr(CofferShare) parsed = NULL;

          if (*a == *b)
            continue;
          tmp = *a; *a = *b; *b = tmp;
          parsed = coffer_share_parse ((const char *) text->data, &error);
          g_assert_null (parsed);
          g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO);
          tmp = *a; *a = *b; *b = tmp;
        }

      /* Tolerant input: lower case, spaces, O for 0. */
      {
        g_autofree char *lower = g_ascii_strdown ((const char *) text->data, -1);
        g_autoptr(GString) spaced = g_string_new (NULL);
        g_autoptr(CofferShare) a = NULL;

        for (const char *p = lower; *p; p++)
          g_string_append_c (spaced, *p == '-' ? ' ' : (*p == '0' ? 'o' : *p));
        a = parse_ok (spaced->str);
        g_assert_true (coffer_secret_equal (a->value, ((CofferShare *) g_ptr_array_index (shares, s))->value));
      }
    }
}

static void
test_not_a_share (void)
{
  g_autoptr(CofferSecret) key = vector_key ();
  g_autoptr(CofferSecret) formatted = coffer_recovery_key_format (key);
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferShare) share = coffer_share_parse ((const char *) formatted->data, &error);

  g_assert_null (share);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "like a recovery key"));
  g_clear_error (&error);

  share = coffer_share_parse ("2881-24PH-E5F7", &error);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "has 12 characters"));
  g_clear_error (&error);

  share = coffer_share_parse ("2881-24PH-E5F7-B850-M2GA-5J18-50M2-GA18-50M2-GA18-2W5U", &error);
  g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "“U”"));
}

static void
test_wrong_repository_and_generation (void)
{
  g_autoptr(CofferSecret) key = vector_key ();
  g_autoptr(CofferSecret) newer = coffer_recovery_key_generate ();
  g_autoptr(GPtrArray) shares = coffer_shares_split (key, vector_repo, 2, 3, NULL);
  g_autoptr(GPtrArray) new_shares = coffer_shares_split (newer, vector_repo, 2, 3, NULL);
  g_autoptr(GPtrArray) again = coffer_shares_split (key, vector_repo, 2, 3, NULL);
  g_autoptr(GArray) generations = g_array_new (FALSE, TRUE, sizeof (CofferRecoveryGeneration));
  CofferRecoveryGeneration old = { { 0 } }, current = { { 0 } };
  guint8 other_repo[16];
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) serialized = NULL;
  g_autoptr(GArray) reparsed = NULL;
  CofferShare *mixed[2];
  g_autoptr(CofferSecret) combined = NULL;

  memcpy (other_repo, vector_repo, 16);
  other_repo[1] ^= 0x40;
  g_assert_false (coffer_share_check (g_ptr_array_index (shares, 0), other_repo, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_assert_nonnull (strstr (error->message, "Share 1 belongs to another repository"));
  g_clear_error (&error);

  coffer_recovery_generation_id (key, vector_repo, old.generation);
  old.replaced = 1772539200;   /* 3 March 2026, 12:00 UTC: the 3rd in every time zone */
  old.shares_made = 1772000000;
  old.needed = 2;
  old.count = 3;
  coffer_recovery_generation_id (newer, vector_repo, current.generation);
  g_array_append_val (generations, old);
  g_array_append_val (generations, current);

  /* The record survives serialisation. */
  serialized = coffer_recovery_generations_serialize (generations);
  g_assert_cmpuint (g_bytes_get_size (serialized), ==, 12 + 2 * 24);
  reparsed = coffer_recovery_generations_parse (serialized, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (reparsed->len, ==, 2);
  g_assert_cmpint (g_array_index (reparsed, CofferRecoveryGeneration, 0).replaced, ==, 1772539200);
  g_assert_cmpuint (g_array_index (reparsed, CofferRecoveryGeneration, 0).count, ==, 3);

  g_assert_false (coffer_share_check (g_ptr_array_index (shares, 1), vector_repo, reparsed, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_assert_nonnull (strstr (error->message, "Share 2 belongs to the recovery key replaced on 3 March 2026"));
  g_clear_error (&error);

  g_assert_true (coffer_share_check (g_ptr_array_index (new_shares, 1), vector_repo, reparsed, &error));
  g_assert_no_error (error);

  /* A generation the repository never recorded, while it knows its current one. */
  g_array_remove_index (reparsed, 0);
  g_assert_false (coffer_share_check (g_ptr_array_index (shares, 2), vector_repo, reparsed, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);

  /* Shares of two sets of one key are never combined into garbage. */
  mixed[0] = g_ptr_array_index (shares, 0);
  mixed[1] = g_ptr_array_index (again, 1);
  combined = coffer_shares_combine (mixed, 2, vector_repo, &error);
  g_assert_null (combined);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_assert_nonnull (strstr (error->message, "not made together"));
  g_clear_error (&error);

  /* An altered share value is caught by the generation id of the result. */
  mixed[1] = g_ptr_array_index (shares, 1);
  ((CofferShare *) mixed[1])->value->data[5] ^= 1;
  combined = coffer_shares_combine (mixed, 2, vector_repo, &error);
  g_assert_null (combined);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_assert_nonnull (strstr (error->message, "do not fit together"));
}

/* On a real repository: make shares, combine two of them, replace the key,
 * and see the old shares refused by name. */
static void
test_repository (void)
{
  g_autofree char *dir = fixture_dir ("repo");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = fixture_create (dir, NULL, &rk);
  g_autoptr(CofferSecret) wrong = coffer_recovery_key_generate ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) shares = NULL;
  g_autoptr(GPtrArray) none = NULL;
  g_autoptr(CofferSecret) combined = NULL;
  g_autoptr(CofferSecret) new_rk = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *today = g_date_time_format (now, "replaced on %-d %B %Y");
  CofferShare *two[2];
  guint k = 0, n = 0;
  gint64 made = 0;

  g_assert_false (coffer_repository_get_shares_info (repo, &k, &n, &made, NULL, &error));
  g_assert_no_error (error);

  /* A key that does not open the repository makes no shares. */
  none = coffer_repository_make_shares (repo, wrong, 2, 3, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  g_clear_error (&error);

  shares = coffer_repository_make_shares (repo, rk, 2, 3, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (shares->len, ==, 3);
  g_assert_true (coffer_repository_get_shares_info (repo, &k, &n, &made, NULL, &error));
  g_assert_cmpuint (k, ==, 2);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpint (made, >, 0);

  two[0] = g_ptr_array_index (shares, 2);
  two[1] = g_ptr_array_index (shares, 0);
  combined = coffer_repository_combine_shares (repo, two, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_secret_equal (combined, rk));

  /* Replacing the key: the old shares are refused by name, and no shares
   * of the new key exist. */
  new_rk = coffer_repository_begin_recovery_key_replacement (repo, &error);
  g_assert_no_error (error);
  g_assert_true (coffer_repository_commit_recovery_key_replacement (repo, new_rk, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (coffer_repository_get_shares_info (repo, &k, &n, &made, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&combined, coffer_secret_free);
  combined = coffer_repository_combine_shares (repo, two, 2, NULL, &error);
  g_assert_null (combined);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  if (strstr (error->message, today) == NULL)
    g_error ("expected “%s” in: %s", today, error->message);
}

/* The share sheet: a PDF, mode 0600, never over an existing file. */
static void
test_sheet (void)
{
  g_autofree char *dir = fixture_dir ("sheet");
  g_autofree char *path = g_build_filename (dir, "share-1-of-3.pdf", NULL);
  g_autoptr(CofferSecret) key = vector_key ();
  g_autoptr(GPtrArray) shares = coffer_shares_split (key, vector_repo, 2, 3, NULL);
  g_autoptr(CofferSecret) text = coffer_share_format (g_ptr_array_index (shares, 0));
  g_autoptr(CofferSecret) not_a_share = coffer_recovery_key_format (key);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) before = NULL;
  g_autoptr(GBytes) after = NULL;
  GStatBuf st;

  g_assert_true (coffer_share_sheet_write_pdf (path, text, "Ada", 1, 2, 3, "/media/disk/backup",
                                               "101112131415161718191a1b1c1d1e1f", now, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
  before = fixture_read (path);
  g_assert_true (g_bytes_get_size (before) > 1000);
  g_assert_cmpmem (g_bytes_get_data (before, NULL), 5, "%PDF-", 5);

  g_assert_false (coffer_share_sheet_write_pdf (path, text, "Ada", 1, 2, 3, "/media/disk/backup",
                                                "101112131415161718191a1b1c1d1e1f", now, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  after = fixture_read (path);
  g_assert_true (g_bytes_equal (before, after));

  /* A recovery key is not printed as a share. */
  g_assert_false (coffer_share_sheet_write_pdf (path, not_a_share, "Ada", 1, 2, 3, "/media/disk/backup",
                                                "101112131415161718191a1b1c1d1e1f", now, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  coffer_core_init ();

  g_test_add_func ("/shares/vectors", test_vectors);
  g_test_add_func ("/shares/reconstruction", test_reconstruction);
  g_test_add_func ("/shares/limits", test_limits);
  g_test_add_func ("/shares/every-typo-located", test_every_typo_located);
  g_test_add_func ("/shares/not-a-share", test_not_a_share);
  g_test_add_func ("/shares/wrong-repository-and-generation", test_wrong_repository_and_generation);
  g_test_add_func ("/shares/repository", test_repository);
  g_test_add_func ("/shares/sheet", test_sheet);
  return g_test_run ();
}
