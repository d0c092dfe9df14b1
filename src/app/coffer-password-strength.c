/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-password"

#include <math.h>
#include <string.h>
#include <glib/gi18n.h>

#include "coffer-password-strength.h"

static const char * const common[] = {
  "password", "passwort", "123456", "qwerty", "azerty", "letmein", "welcome", "admin",
  "iloveyou", "monkey", "dragon", "sunshine", "secret", "coffer", "backup", NULL
};

double
coffer_password_strength (const char *password, const char **out_label)
{
  gboolean lower = FALSE, upper = FALSE, digit = FALSE, other = FALSE;
  double pool = 0, bits = 0;
  g_autofree char *folded = NULL;
  gunichar prev = 0;
  glong length = 0;
  int delta = 0, run = 0;

  if (password == NULL)
    password = "";
  for (const char *p = password; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      double weight = 1.0;

      if (g_unichar_islower (c)) lower = TRUE;
      else if (g_unichar_isupper (c)) upper = TRUE;
      else if (g_unichar_isdigit (c)) digit = TRUE;
      else other = TRUE;

      /* Repeats and runs ("aaaa", "1234") add little. */
      if (length > 0 && (int) c - (int) prev == delta && (delta == 0 || delta == 1 || delta == -1))
        run++;
      else
        run = 0;
      if (length > 0)
        delta = (int) c - (int) prev;
      if (run > 0)
        weight = 0.25;
      bits += weight;
      prev = c;
      length++;
    }

  if (lower) pool += 26;
  if (upper) pool += 26;
  if (digit) pool += 10;
  if (other) pool += 33;
  if (pool < 1)
    pool = 1;
  bits *= log2 (pool);

  folded = g_utf8_casefold (password, -1);
  for (guint i = 0; common[i] != NULL; i++)
    if (strstr (folded, common[i]) != NULL)
      bits -= 4.0 * strlen (common[i]);
  if (bits < 0)
    bits = 0;

  if (out_label != NULL)
    {
      if (length == 0)
        *out_label = _("Enter a password");
      else if (bits < 35)
        *out_label = _("Very weak: easy to guess");
      else if (bits < COFFER_PASSWORD_MIN_BITS)
        *out_label = _("Weak: add more words or characters");
      else if (bits < COFFER_PASSWORD_GOOD_BITS)
        *out_label = _("Fair");
      else if (bits < 90)
        *out_label = _("Strong");
      else
        *out_label = _("Very strong");
    }
  return bits;
}
