/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <sodium.h>

#include "coffer-error.h"
#include "coffer-recovery-key.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Index in the formatted string of symbol i (0..27). */
static guint
char_index (guint i)
{
  return i + i / 4;
}

static CofferSecret *
key_from_bytes (const guint8 *bytes)
{
  return coffer_secret_new_from_data (bytes, COFFER_RECOVERY_KEY_BYTES);
}

static void
test_known_answer (void)
{
  static const struct { guint8 key[16]; const char *text; } vectors[] = {
    { { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f }, "000G-40R4-0M30-E209-185G-R38E-1Y2W" },
    { { 0 }, "0000-0000-0000-0000-0000-0000-0000" },
    { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZXDS" },
  };

  for (guint v = 0; v < G_N_ELEMENTS (vectors); v++)
    {
      g_autoptr(CofferSecret) key = key_from_bytes (vectors[v].key);
      g_autoptr(CofferSecret) text = coffer_recovery_key_format (key);
      g_autoptr(CofferSecret) parsed = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_cmpstr ((const char *) text->data, ==, vectors[v].text);
      g_assert_cmpuint (text->len, ==, 34);

      parsed = coffer_recovery_key_parse (vectors[v].text, &error);
      g_assert_no_error (error);
      g_assert_true (coffer_secret_equal (parsed, key));
    }
}

static void
test_round_trip (void)
{
  for (guint n = 0; n < 2000; n++)
    {
      g_autoptr(CofferSecret) key = coffer_recovery_key_generate ();
      g_autoptr(CofferSecret) text = coffer_recovery_key_format (key);
      g_autoptr(CofferSecret) parsed = NULL;
      g_autoptr(GError) error = NULL;
      const char *s = (const char *) text->data;

      g_assert_cmpuint (key->len, ==, COFFER_RECOVERY_KEY_BYTES);
      g_assert_cmpuint (strlen (s), ==, 34);
      for (guint i = 0; i < 34; i++)
        {
          if (i % 5 == 4)
            g_assert_cmpint (s[i], ==, '-');
          else
            g_assert_nonnull (strchr (alphabet, s[i]));
        }

      parsed = coffer_recovery_key_parse (s, &error);
      g_assert_no_error (error);
      g_assert_true (coffer_secret_equal (parsed, key));
    }
}

static void
test_single_substitution (void)
{
  guint ambiguous = 0, total = 0;

  for (guint n = 0; n < 20; n++)
    {
      g_autoptr(CofferSecret) key = coffer_recovery_key_generate ();
      g_autoptr(CofferSecret) text = coffer_recovery_key_format (key);

      for (guint i = 0; i < COFFER_RECOVERY_KEY_CHARS; i++)
        {
          g_autofree char *expected = g_strdup_printf ("check character %u of group %u",
                                                       i % 4 + 1, i / 4 + 1);

          for (guint v = 0; v < 32; v++)
            {
              g_autofree char *typo = g_strdup ((const char *) text->data);
              g_autoptr(CofferSecret) parsed = NULL;
              g_autoptr(GError) error = NULL;

              if (typo[char_index (i)] == alphabet[v])
                continue;
              typo[char_index (i)] = alphabet[v];

              parsed = coffer_recovery_key_parse (typo, &error);
              g_assert_null (parsed);
              g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO);
              if (!g_str_has_prefix (error->message, "The recovery key looks mistyped: ") ||
                  strstr (error->message, expected) == NULL)
                g_error ("substitution at %u: got “%s”, expected a message with “%s”",
                         i, error->message, expected);
              if (strstr (error->message, "swap") != NULL)
                ambiguous++;
              total++;
            }
        }
    }

  /* The exact sentence of the brief. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(CofferSecret) parsed = NULL;
    char typo[] = "000G-40R4-0M30-E209-1X5G-R38E-1Y2W";   /* group 5, char 2: 8 -> X */

    parsed = coffer_recovery_key_parse (typo, &error);
    g_assert_null (parsed);
    g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO);
    g_assert_cmpstr (error->message, ==, "The recovery key looks mistyped: check character 2 of group 5.");
  }

  g_test_message ("%u of %u substitutions also fit a swap of neighbours", ambiguous, total);
  g_assert_cmpuint (ambiguous * 50, <, total);
}

static void
test_transpositions (void)
{
  guint swaps = 0, named = 0, other = 0;

  for (guint n = 0; n < 300; n++)
    {
      g_autoptr(CofferSecret) key = coffer_recovery_key_generate ();
      g_autoptr(CofferSecret) text = coffer_recovery_key_format (key);

      for (guint i = 0; i + 1 < COFFER_RECOVERY_KEY_CHARS; i++)
        {
          g_autofree char *typo = g_strdup ((const char *) text->data);
          g_autoptr(CofferSecret) parsed = NULL;
          g_autoptr(GError) error = NULL;
          g_autofree char *expected = NULL;
          char c;

          if (typo[char_index (i)] == typo[char_index (i + 1)])
            continue;
          /* Swapping across a dash is also a plausible slip. */
          c = typo[char_index (i)];
          typo[char_index (i)] = typo[char_index (i + 1)];
          typo[char_index (i + 1)] = c;

          parsed = coffer_recovery_key_parse (typo, &error);
          g_assert_null (parsed);
          g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO);
          swaps++;

          if (i / 4 == (i + 1) / 4)
            expected = g_strdup_printf ("characters %u and %u of group %u are swapped",
                                        i % 4 + 1, i % 4 + 2, i / 4 + 1);
          else
            expected = g_strdup_printf ("character 4 of group %u and character 1 of group %u are swapped",
                                        i / 4 + 1, i / 4 + 2);
          if (strstr (error->message, expected) != NULL)
            named++;
          else if (strstr (error->message, "swap") != NULL)
            other++;
          /* Never a lone single-character location for a swap. */
          if (strstr (error->message, "check character") != NULL &&
              strstr (error->message, "swap") == NULL)
            g_error ("swap at %u reported as “%s”", i, error->message);
        }
    }
  g_test_message ("%u adjacent swaps: %u named exactly, %u with a vaguer swap hint",
                  swaps, named, other);
  g_assert_cmpuint (named * 100, >=, swaps * 99);
}

static void
test_double_substitution (void)
{
  guint located = 0, total = 20000;

  for (guint n = 0; n < total; n++)
    {
      g_autoptr(CofferSecret) key = coffer_recovery_key_generate ();
      g_autoptr(CofferSecret) text = coffer_recovery_key_format (key);
      g_autofree char *typo = g_strdup ((const char *) text->data);
      g_autoptr(CofferSecret) parsed = NULL;
      g_autoptr(GError) error = NULL;
      guint i = randombytes_uniform (COFFER_RECOVERY_KEY_CHARS);
      guint j = (i + 1 + randombytes_uniform (COFFER_RECOVERY_KEY_CHARS - 1)) % COFFER_RECOVERY_KEY_CHARS;

      typo[char_index (i)] = alphabet[(strchr (alphabet, typo[char_index (i)]) - alphabet + 1 + randombytes_uniform (31)) % 32];
      typo[char_index (j)] = alphabet[(strchr (alphabet, typo[char_index (j)]) - alphabet + 1 + randombytes_uniform (31)) % 32];

      parsed = coffer_recovery_key_parse (typo, &error);
      g_assert_null (parsed);
      g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO);
      if (strstr (error->message, "check character") != NULL)
        located++;
    }

  /* Two check symbols alone would mislocate about 28 in 31 double errors as
   * one typo; the hash bits must turn away three out of four of those. */
  g_test_message ("%u of %u double substitutions were (mis)located as one typo", located, total);
  g_assert_cmpuint (located * 100, <, total * 30);
}

static void
test_tolerant_input (void)
{
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(CofferSecret) text = NULL;

  /* A key whose text holds both a 0 and a 1, to exercise O/I/L. */
  do
    {
      g_clear_pointer (&key, coffer_secret_free);
      g_clear_pointer (&text, coffer_secret_free);
      key = coffer_recovery_key_generate ();
      text = coffer_recovery_key_format (key);
    }
  while (strchr ((const char *) text->data, '0') == NULL ||
         strchr ((const char *) text->data, '1') == NULL);

  {
    const char *s = (const char *) text->data;
    g_autofree char *lower = g_ascii_strdown (s, -1);
    g_autoptr(GString) bare = g_string_new (NULL);
    g_autoptr(GString) spaced = g_string_new ("  ");
    g_autoptr(GString) confused = g_string_new (NULL);
    g_autoptr(GString) unicode = g_string_new (NULL);
    const char *forms[5];

    for (const char *p = s; *p; p++)
      {
        if (*p != '-')
          g_string_append_c (bare, *p);
        g_string_append_c (spaced, *p == '-' ? ' ' : *p);
        if (*p == '0')
          g_string_append_c (confused, 'o');
        else if (*p == '1')
          g_string_append_c (confused, (p - s) % 2 ? 'I' : 'l');
        else
          g_string_append_c (confused, *p);
        if (*p == '-')
          g_string_append (unicode, "\u2013");   /* en dash from a PDF */
        else
          g_string_append_c (unicode, *p);
      }
    g_string_append (spaced, " \n");

    forms[0] = lower;
    forms[1] = bare->str;
    forms[2] = spaced->str;
    forms[3] = confused->str;
    forms[4] = unicode->str;
    for (guint f = 0; f < G_N_ELEMENTS (forms); f++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(CofferSecret) parsed = coffer_recovery_key_parse (forms[f], &error);

        g_assert_no_error (error);
        g_assert_true (coffer_secret_equal (parsed, key));
      }
  }
}

static void
test_invalid (void)
{
  static const struct { const char *text; const char *fragment; } cases[] = {
    { "000G-40R4-0M30-E209-185G-R38E-1Y2", "has 27 characters, but a recovery key has 28" },
    { "000G-40R4-0M30-E209-185G-R38E-1Y2W0", "has 29 characters, but a recovery key has 28" },
    { "", "has 0 characters" },
    { "0", "has 1 character," },
    { "000G-40R4-0M30-E209-185G-R38E-1Y2U", "letter “U”" },
    { "000G-40R4-0M30-E209-185G-R38E-1Y2!", "cannot contain “!”" },
    { "000G-40R4-0M30-E209-185G-R38E-1Y2\xc3\xa9", "cannot contain “é”" },
    { "000G-40R4-0M30-E209-185G-R38E-1Y2\xff", "not text" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(CofferSecret) parsed = coffer_recovery_key_parse (cases[i].text, &error);

      g_assert_null (parsed);
      g_assert_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID);
      if (strstr (error->message, cases[i].fragment) == NULL)
        g_error ("“%s”: message “%s” lacks “%s”", cases[i].text, error->message, cases[i].fragment);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  coffer_core_init ();

  g_test_add_func ("/recovery-key/known-answer", test_known_answer);
  g_test_add_func ("/recovery-key/round-trip", test_round_trip);
  g_test_add_func ("/recovery-key/single-substitution", test_single_substitution);
  g_test_add_func ("/recovery-key/transpositions", test_transpositions);
  g_test_add_func ("/recovery-key/double-substitution", test_double_substitution);
  g_test_add_func ("/recovery-key/tolerant-input", test_tolerant_input);
  g_test_add_func ("/recovery-key/invalid", test_invalid);

  return g_test_run ();
}
