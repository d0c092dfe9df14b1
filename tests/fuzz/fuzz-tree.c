/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Trees (docs/FORMAT.md "Trees"): coffer_tree_parse on raw bytes, and a
 * parsed tree must serialise again without complaint. */
#include "fuzz-common.h"
#include "coffer-tree.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = coffer_tree_parse (bytes, &error);

  g_assert ((entries == NULL) == (error != NULL));
  if (entries != NULL)
    {
      g_autoptr(GBytes) again = coffer_tree_serialize (entries);
      g_autoptr(GPtrArray) reparsed = NULL;

      /* What the parser accepted must round-trip. */
      if (again != NULL)
        {
          reparsed = coffer_tree_parse (again, NULL);
          g_assert_nonnull (reparsed);
          g_assert_cmpuint (reparsed->len, ==, entries->len);
        }
    }
  return 0;
}
