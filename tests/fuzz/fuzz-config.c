/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The repository config (docs/FORMAT.md "Config"): the input is planted as
 * the object "config" of a local store in a temporary folder and opened
 * with coffer_repository_open, the real path every command takes first. */
#include "fuzz-common.h"
#include "coffer-repository.h"
#include "coffer-store-private.h"

static char *dir;
static char *config_path;
static CofferStore *store;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GFile) root = NULL;

  fuzz_setup ();
  dir = g_dir_make_tmp ("coffer-fuzz-config-XXXXXX", NULL);
  g_assert_nonnull (dir);
  config_path = g_build_filename (dir, "config", NULL);
  root = g_file_new_for_path (dir);
  store = coffer_store_local_new (root);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(CofferRepository) repo = NULL;
  g_autoptr(GError) error = NULL;

  fuzz_write_file (config_path, data, size);
  repo = coffer_repository_open (store, NULL, &error);
  g_assert ((repo == NULL) == (error != NULL));
  if (repo != NULL)
    g_assert_cmpuint (strlen (coffer_repository_get_id (repo)), ==, 2 * COFFER_REPO_ID_BYTES);
  return 0;
}
