/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The local index cache file (index.cache, docs/FORMAT.md "Local state"):
 * it lives on this computer, but a damaged or planted one must still only
 * be refused. The input is written to a file and loaded with
 * coffer_index_load; every entry it yields must be looked up again. */
#include <unistd.h>
#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "coffer-index.h"

static char *path;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autofree char *dir = NULL;

  fuzz_setup ();
  dir = g_dir_make_tmp ("coffer-fuzz-index-cache-XXXXXX", NULL);
  g_assert_nonnull (dir);
  path = g_build_filename (dir, "index.cache", NULL);
  return 0;
}

static void
each (const CofferIndexEntry *entry, const guint8 *pack_id, gpointer user_data)
{
  CofferIndex *index = user_data;
  CofferIndexEntry found;

  g_assert_nonnull (pack_id);
  g_assert_true (coffer_index_lookup (index, entry->id, &found));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(CofferIndex) index = NULL;
  g_autoptr(GError) error = NULL;

  fuzz_write_file (path, data, size);
  index = coffer_index_load (path, &error);
  g_assert ((index == NULL) == (error != NULL));
  if (index != NULL)
    {
      coffer_index_foreach (index, each, index);
      for (guint i = 0; i < coffer_index_get_n_packs (index); i++)
        g_assert_nonnull (coffer_index_get_pack_id (index, i));
    }
  return 0;
}
