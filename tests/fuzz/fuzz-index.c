/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Index objects (docs/FORMAT.md "Index"). Byte 0 bit 0 set: the rest is
 * the zstd-compressed form, decompressed with the engine's own bound as
 * the index loader does; clear: the rest is the GVariant itself. It is
 * merged into an index; what merged must serialise and merge again, and
 * the fast reading of index objects must agree with GVariant's. */
#include "fuzz-common.h"
#include "coffer-index.h"
#include "coffer-repository-private.h"

/* The loader's cap for one index object (coffer-repository-snapshots.c). */
#define FUZZ_MAX_INDEX_OBJECT (512u * 1024 * 1024)

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(CofferIndex) index = coffer_index_new ();
  g_auto(GStrv) supersedes = NULL;
  g_autoptr(GError) error = NULL;

  if (size < 1)
    return 0;
  bytes = g_bytes_new (data + 1, size - 1);
  if (data[0] & 1)
    {
      plain = _coffer_decompress (bytes, FUZZ_MAX_INDEX_OBJECT, &error);
      if (plain == NULL)
        return 0;
    }
  else
    plain = g_bytes_ref (bytes);

  /* The GVariant way must agree with the fast one (coffer-index.c). */
  {
    g_autoptr(CofferIndex) slow = coffer_index_new ();
    g_autoptr(GError) slow_error = NULL;
    g_auto(GStrv) slow_sup = NULL;
    gboolean slow_ok;

    _coffer_index_set_fast_read (FALSE);
    slow_ok = coffer_index_merge (slow, plain, &slow_sup, &slow_error);
    _coffer_index_set_fast_read (TRUE);
    if (coffer_index_merge (index, plain, &supersedes, &error) != slow_ok)
      g_error ("the fast and the GVariant reading of an index object disagree");
    if (slow_ok)
      {
        g_autoptr(GBytes) a = coffer_index_serialize (index, NULL, (const char * const *) supersedes);
        g_autoptr(GBytes) b = coffer_index_serialize (slow, NULL, (const char * const *) slow_sup);
        if (!g_bytes_equal (a, b))
          g_error ("the fast and the GVariant reading of an index object read different things");
      }
    else
      g_assert_cmpstr (error->message, ==, slow_error->message);
  }

  if (error == NULL)
    {
      g_autoptr(GBytes) again = coffer_index_serialize (index, NULL, (const char * const *) supersedes);
      g_autoptr(CofferIndex) copy = coffer_index_new ();
      g_auto(GStrv) sup2 = NULL;

      g_assert_true (coffer_index_merge (copy, again, &sup2, NULL));
      g_assert_cmpuint (coffer_index_get_n_blobs (copy), ==, coffer_index_get_n_blobs (index));
    }
  else
    g_assert_nonnull (error);
  return 0;
}
