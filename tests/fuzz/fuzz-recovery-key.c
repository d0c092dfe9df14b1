/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The recovery key as typed or read from a file (docs/FORMAT.md
 * "Recovery key"): coffer_recovery_key_parse; an accepted key must format
 * and parse back to the same bytes. */
#include "fuzz-common.h"
#include "coffer-recovery-key.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (text, &error);

  g_assert ((key == NULL) == (error != NULL));
  if (key != NULL)
    {
      g_autoptr(CofferSecret) formatted = coffer_recovery_key_format (key);
      g_autoptr(CofferSecret) again = coffer_recovery_key_parse ((const char *) formatted->data, NULL);

      g_assert_nonnull (again);
      g_assert_true (coffer_secret_equal (key, again));
    }
  return 0;
}
