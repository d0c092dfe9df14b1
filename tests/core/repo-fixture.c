/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "coffer-crypto.h"
#include "repo-fixture.h"

static char *root_dir;
static guint fresh_counter;

static void
remove_root (void)
{
  if (root_dir != NULL && g_getenv ("COFFER_TEST_KEEP") == NULL)
    coffer_test_rmtree (root_dir);
}

void
fixture_init (int *argc, char ***argv)
{
  g_autofree char *home = NULL, *data = NULL, *cache = NULL, *config = NULL;

  root_dir = coffer_test_mkdtemp ();
  home = g_build_filename (root_dir, "home", NULL);
  data = g_build_filename (root_dir, "data", NULL);
  cache = g_build_filename (root_dir, "cache", NULL);
  config = g_build_filename (root_dir, "config", NULL);
  g_mkdir_with_parents (home, 0700);
  g_setenv ("HOME", home, TRUE);
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("COFFER_TESTING", "1", TRUE);
  g_setenv ("COFFER_KEYRING", "none", TRUE);
  coffer_kdf_set_test_profile (TRUE);
  atexit (remove_root);
  g_test_init (argc, argv, NULL);
}

const char *
fixture_root (void)
{
  return root_dir;
}

char *
fixture_dir (const char *name)
{
  char *path = g_build_filename (root_dir, name, NULL);

  coffer_test_rmtree (path);
  g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
  return path;
}

void
fixture_fresh_computer (void)
{
  const char *dirs[] = { g_get_user_data_dir (), g_get_user_cache_dir () };

  fresh_counter++;
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *aside = g_strdup_printf ("%s.old-%u", dirs[i], fresh_counter);
      if (g_file_test (dirs[i], G_FILE_TEST_EXISTS))
        g_assert_cmpint (g_rename (dirs[i], aside), ==, 0);
      g_assert_cmpint (g_mkdir_with_parents (dirs[i], 0700), ==, 0);
    }
}

CofferSecret *
fixture_secret (const char *text)
{
  return coffer_secret_new_from_string (text);
}

CofferStore *
fixture_store (const char *dir)
{
  g_autoptr(GError) error = NULL;
  CofferStore *store = coffer_store_open (dir, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

CofferRepository *
fixture_create (const char *dir, const char *password, CofferSecret **rk)
{
  g_autoptr(CofferStore) store = fixture_store (dir);
  g_autoptr(CofferSecret) pw = password ? fixture_secret (password) : NULL;
  g_autoptr(GError) error = NULL;
  CofferRepository *repo = coffer_repository_create (store, pw, "test computer", rk, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (repo);
  g_assert_nonnull (*rk);
  return repo;
}

void
fixture_close (CofferRepository **repo)
{
  if (*repo != NULL)
    g_assert_finalize_object (g_steal_pointer (repo));
}

CofferRepository *
fixture_open (const char *dir, const char *password, const CofferSecret *rk, GError **error)
{
  g_autoptr(CofferStore) store = fixture_store (dir);
  g_autoptr(CofferRepository) repo = coffer_repository_open (store, NULL, error);

  if (repo == NULL)
    return NULL;
  if (password != NULL)
    {
      g_autoptr(CofferSecret) pw = fixture_secret (password);
      coffer_repository_set_password (repo, pw);
    }
  if (rk != NULL)
    coffer_repository_set_recovery_key (repo, rk);
  if (!coffer_repository_unlock (repo, NULL, error))
    return NULL;
  return g_steal_pointer (&repo);
}

char *
fixture_add_category (CofferRepository *repo, const char *name, CofferLevel level, const char *path)
{
  const char *paths[] = { path, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferCategory) cat = coffer_repository_add_category (repo, name, level, paths, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (cat);
  return g_strdup (cat->id);
}

CofferSnapshot *
fixture_backup (CofferRepository *repo, const char *cid)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) skipped = NULL;
  CofferSnapshot *snap = coffer_backup_run (repo, cid, NULL, NULL, &skipped, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (snap);
  if (skipped != NULL && skipped->len > 0)
    g_error ("backup skipped %s", (char *) g_ptr_array_index (skipped, 0));
  g_assert_false (snap->partial);
  return snap;
}

void
fixture_restore (CofferRepository *repo, const char *cid, const CofferSnapshot *snap, const char *target)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  gboolean ok = coffer_restore_run (repo, cid, snap, NULL, target, COFFER_RESTORE_DEFAULT, NULL, NULL,
                                    &conflicts, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (conflicts->len, ==, 0);
}

void
fixture_assert_check_clean (CofferRepository *repo, const char *cid, gdouble percent)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  gboolean ok = coffer_check_run (repo, cid, percent, NULL, NULL, &problems, NULL, &error);

  if (problems != NULL && problems->len > 0)
    g_error ("check found: %s", (char *) g_ptr_array_index (problems, 0));
  g_assert_no_error (error);
  g_assert_true (ok);
}

char *
fixture_restored (const char *target, const char *src)
{
  return g_build_filename (target, src, NULL);
}

guint64
fixture_tree_bytes (const char *path)
{
  GStatBuf st;
  guint64 total = 0;

  if (g_lstat (path, &st) != 0)
    return 0;
  if (S_ISREG (st.st_mode))
    return st.st_size;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          total += fixture_tree_bytes (child);
        }
    }
  return total;
}

static void
list_into (const char *base, const char *rel, GPtrArray *out)
{
  g_autofree char *path = g_build_filename (base, rel, NULL);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child_rel = *rel ? g_strconcat (rel, "/", name, NULL) : g_strdup (name);
      g_autofree char *child = g_build_filename (base, child_rel, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        list_into (base, child_rel, out);
      else if (!g_str_has_prefix (name, ".tmp"))
        g_ptr_array_add (out, g_steal_pointer (&child_rel));
    }
}

/* g_ptr_array_sort passes pointers to the elements. */
static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

GPtrArray *
fixture_list_objects (const char *store_dir, const char *prefix)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  list_into (store_dir, "", all);
  for (guint i = 0; i < all->len; i++)
    if (g_str_has_prefix (g_ptr_array_index (all, i), prefix))
      g_ptr_array_add (out, g_strdup (g_ptr_array_index (all, i)));
  g_ptr_array_sort (out, compare_names);
  return out;
}

void
fixture_make_small_tree (const char *root, guint32 seed)
{
  g_autofree char *a = g_build_filename (root, "a", NULL);
  g_autofree char *ab = g_build_filename (root, "a", "b", NULL);
  g_autofree char *f1 = g_build_filename (root, "one.txt", NULL);
  g_autofree char *f2 = g_build_filename (ab, "two.bin", NULL);
  g_autofree char *f3 = g_build_filename (a, "empty", NULL);
  g_autofree char *link = g_build_filename (a, "link", NULL);

  g_assert_cmpint (g_mkdir_with_parents (ab, 0755), ==, 0);
  g_assert_true (g_file_set_contents (f1, "the first file, in plain text\n", -1, NULL));
  coffer_test_write_random (f2, 300 * 1024 + seed % 1000, seed);
  g_assert_true (g_file_set_contents (f3, "", 0, NULL));
  g_assert_cmpint (symlink ("../one.txt", link), ==, 0);
}

GBytes *
fixture_read (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, len);
}

gboolean
fixture_contains_bytes (GBytes *haystack, GBytes *needle)
{
  gsize hl, nl;
  const guint8 *h = g_bytes_get_data (haystack, &hl);
  const guint8 *n = g_bytes_get_data (needle, &nl);

  if (nl == 0 || nl > hl)
    return FALSE;
  return memmem (h, hl, n, nl) != NULL;
}
