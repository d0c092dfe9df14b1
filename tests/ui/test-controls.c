/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Controls users expect: the password strength meter (a pattern-based
 * scorer, coloured red/orange for weak passwords, also in Preferences). */
#include <glib/gstdio.h>

#include "coffer-password-strength.h"
#include "test-utils.h"
#include "ui-test-utils.h"

static char *tmp;

static void
test_password_scorer (void)
{
  const char *weak[] = { "Tr0ub4dor&3", "P@ssw0rd2024", "qwertyuiop", "1qaz2wsx3edc", "abcabcabcabc",
                         "Dragon1990!", "aaaaaaaaaaaaaaaa", "Sommer2023", "zxcvbnmasdfghjkl", NULL };
  const char *strong[] = { "correct horse battery staple 42", "a long and unusual backup passphrase",
                           "another quite different passphrase 2025", "mauve lighthouse ferments quietly",
                           "Xk9#mP2$vL7q!rT4", NULL };

  for (guint i = 0; weak[i] != NULL; i++)
    {
      const char *label = NULL;
      double bits = coffer_password_strength (weak[i], &label);
      g_test_message ("%-40s %5.1f bits  %s", weak[i], bits, label);
      g_assert_cmpfloat (bits, <, COFFER_PASSWORD_MIN_BITS);
    }
  for (guint i = 0; strong[i] != NULL; i++)
    {
      const char *label = NULL;
      double bits = coffer_password_strength (strong[i], &label);
      g_test_message ("%-40s %5.1f bits  %s", strong[i], bits, label);
      g_assert_cmpfloat (bits, >=, COFFER_PASSWORD_MIN_BITS);
    }
  g_assert_cmpfloat (coffer_password_strength ("", NULL), ==, 0);
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/controls/password-scorer", test_password_scorer);
  return ui_test_run (tmp);
}
