/* SPDX-License-Identifier: GPL-3.0-or-later */
/* prune deletes the ".tmp-*" files that killed uploads leave in a local
 * store, once they are older than the grace period, and nothing else. */
#include <string.h>
#include <sys/time.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"

#define PASSWORD "temporaries test password"

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static char *
plant (const char *dir, const char *name, gsize len, gint64 age_seconds)
{
  char *path = g_build_filename (dir, name, NULL);
  struct timeval tv[2];

  coffer_test_write_random (path, len, (guint32) len);
  tv[0].tv_sec = tv[1].tv_sec = g_get_real_time () / G_USEC_PER_SEC - age_seconds;
  tv[0].tv_usec = tv[1].tv_usec = 0;
  g_assert_cmpint (utimes (path, tv), ==, 0);
  return path;
}

static void
test_prune_temporaries (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *src = fixture_dir ("src");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = fixture_create (store_dir, PASSWORD, &rk);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) packs = NULL;
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *pack_dir = NULL;
  g_autofree char *index_dir = NULL;
  g_autofree char *old_pack_tmp = NULL;
  g_autofree char *old_index_tmp = NULL;
  g_autofree char *fresh_tmp = NULL;
  g_autofree char *outside_tmp = NULL;
  g_autofree char *other_tmp = NULL;
  g_autofree char *other_dir = NULL;
  guint64 deleted = 0;

  fixture_make_small_tree (src, 3);
  cid = fixture_add_category (repo, "Temporaries", COFFER_LEVEL_STANDARD, src);
  coffer_snapshot_free (fixture_backup (repo, cid));
  {
    g_autofree char *pack_prefix = g_strdup_printf ("categories/%s/packs/", cid);
    packs = fixture_list_objects (store_dir, pack_prefix);
  }
  g_assert_cmpuint (packs->len, >, 0);
  {
    g_autofree char *first = g_build_filename (store_dir, g_ptr_array_index (packs, 0), NULL);
    pack_dir = g_path_get_dirname (first);
  }
  index_dir = g_strdup_printf ("%s/categories/%s/index", store_dir, cid);
  other_dir = g_strdup_printf ("%s/categories/%s/packs/zz", store_dir, "0123456789abcdef0123456789abcdef");
  g_assert_cmpint (g_mkdir_with_parents (other_dir, 0700), ==, 0);

  /* What a killed upload leaves: a day old, an hour old, just now. */
  old_pack_tmp = plant (pack_dir, ".tmp-killedpack", 3 * 1024 * 1024, 86400 * 2);
  old_index_tmp = plant (index_dir, ".tmp-killedindex", 4096, 3600);
  fresh_tmp = plant (pack_dir, ".tmp-stillwriting", 1024 * 1024, 0);
  /* Not this category's: the root of the store, another category. */
  outside_tmp = plant (store_dir, ".tmp-rootlevel", 1000, 86400 * 2);
  other_tmp = plant (other_dir, ".tmp-othercategory", 1000, 86400 * 2);
  before = fixture_list_objects (store_dir, "");

  /* Grace of 2 hours: only the two-day-old one goes. */
  g_assert_true (coffer_prune_run (repo, cid, 7200, NULL, NULL, &deleted, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (old_pack_tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (old_index_tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh_tmp, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (deleted, >=, 3 * 1024 * 1024);

  /* Grace 0: every temporary of the category goes; objects stay. */
  deleted = 0;
  g_assert_true (coffer_prune_run (repo, cid, 0, NULL, NULL, &deleted, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (old_index_tmp, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (fresh_tmp, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (deleted, >=, 1024 * 1024 + 4096);
  g_assert_true (g_file_test (outside_tmp, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (other_tmp, G_FILE_TEST_EXISTS));
  after = fixture_list_objects (store_dir, "");
  g_ptr_array_sort (before, compare_strings);
  g_ptr_array_sort (after, compare_strings);
  g_assert_cmpuint (after->len, ==, before->len);
  for (guint i = 0; i < before->len; i++)
    g_assert_cmpstr (g_ptr_array_index (before, i), ==, g_ptr_array_index (after, i));
  fixture_assert_check_clean (repo, cid, 100);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/prune/temporaries", test_prune_temporaries);
  return g_test_run ();
}
