/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Snapshots (docs/FORMAT.md "Snapshots"): coffer_snapshot_parse on raw
 * bytes; an accepted snapshot must serialise and parse again. */
#include "fuzz-common.h"
#include "coffer-snapshot.h"

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
  g_autoptr(CofferSnapshot) snap = coffer_snapshot_parse (bytes, &error);

  g_assert ((snap == NULL) == (error != NULL));
  if (snap != NULL)
    {
      g_autoptr(GBytes) again = coffer_snapshot_serialize (snap);
      g_autoptr(CofferSnapshot) reparsed = coffer_snapshot_parse (again, NULL);

      g_assert_nonnull (reparsed);
      g_assert_cmpint (reparsed->seq, ==, snap->seq);
    }
  return 0;
}
