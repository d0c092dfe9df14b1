/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Folders belong to a computer (docs/FORMAT.md §3.5 "folders"): a second
 * computer that joins sees the category but none of the first computer's
 * folders as its own; it backs up its own folders once they are set, the
 * first computer keeps backing up its own, each sees the other's, and the
 * per-computer description keeps the freshness rules (a replayed older
 * description is refused). Two computers share one local store; each is
 * its own XDG data and cache folder (tests/attacks/computers.h). */
/* Shared with the attack tests; this test uses only part of it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../attacks/computers.h"
#pragma GCC diagnostic pop

static gboolean
tree_has (const char *target, const char *src, const char *file)
{
  g_autofree char *root = fixture_restored (target, src);
  g_autofree char *path = g_build_filename (root, file, NULL);
  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static const CofferCategoryFolders *
folders_of (const CofferCategory *cat, const char *device_id)
{
  for (guint i = 0; cat->other_folders != NULL && i < cat->other_folders->len; i++)
    {
      const CofferCategoryFolders *f = g_ptr_array_index (cat->other_folders, i);
      if (g_str_equal (f->device_id, device_id))
        return f;
    }
  return NULL;
}

static void
test_two_computers (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *docs_a = fixture_dir ("a-home-Documents");
  g_autofree char *docs_b = fixture_dir ("b-home-Documents");
  g_autofree char *cid = NULL;
  g_autofree char *id_a = NULL;
  g_autofree char *id_b = NULL;
  g_autofree char *meta_path = NULL;
  g_autofree char *old_meta = NULL;
  gsize old_len = 0;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(GError) error = NULL;

  write_file (docs_a, "a-only.txt", "written on the first computer");
  write_file (docs_b, "b-only.txt", "written on the second computer");

  use_computer ("a");
  {
    g_auto(FixtureRepository) repo = fixture_create (store_dir, COMPUTERS_PASSWORD, &rk);
    g_autoptr(CofferSnapshot) snap = NULL;

    cid = fixture_add_category (repo, "Documents", COFFER_LEVEL_STANDARD, docs_a);
    snap = fixture_backup (repo, cid);
    id_a = g_strdup (snap->device_id);
    g_assert_cmpstr (id_a, !=, "");
  }
  id_b = join_computer (store_dir, "b", "Laptop", "a", NULL);
  meta_path = g_strdup_printf ("%s/meta/%s", store_dir, cid);

  /* B sees the category with no folders of its own, A's as A's. */
  use_computer ("b");
  {
    g_auto(FixtureRepository) repo = open_as (store_dir, NULL);
    g_autoptr(CofferCategory) cat = coffer_repository_find_category (repo, cid, NULL, &error);
    g_autoptr(CofferSnapshot) none = NULL;
    g_autoptr(CofferSnapshot) snap = NULL;
    g_autofree char *target = fixture_dir ("b-restore");
    const CofferCategoryFolders *fa;

    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (cat->paths), ==, 0);
    fa = folders_of (cat, id_a);
    g_assert_nonnull (fa);
    g_assert_cmpuint (g_strv_length (fa->paths), ==, 1);
    g_assert_cmpstr (fa->paths[0], ==, docs_a);

    /* Nothing to back up here until B's folders are chosen. */
    none = coffer_backup_run (repo, cid, NULL, NULL, NULL, NULL, &error);
    g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "no folders on this computer"));
    g_clear_error (&error);

    g_assert_true (g_file_get_contents (meta_path, &old_meta, &old_len, &error));
    g_strfreev (cat->paths);
    cat->paths = g_strdupv ((char *[]) { docs_b, NULL });
    g_assert_true (coffer_repository_update_category (repo, cat, NULL, &error));
    g_assert_no_error (error);

    snap = fixture_backup (repo, cid);
    g_assert_cmpstr (snap->device_id, ==, id_b);
    g_assert_cmpuint (g_strv_length (snap->paths), ==, 1);
    g_assert_cmpstr (snap->paths[0], ==, docs_b);
    fixture_restore (repo, cid, snap, target);
    g_assert_true (tree_has (target, docs_b, "b-only.txt"));
    g_assert_false (tree_has (target, docs_a, "a-only.txt"));
  }

  /* A keeps backing up its own folder, and sees B's. */
  use_computer ("a");
  {
    g_auto(FixtureRepository) repo = open_as (store_dir, NULL);
    g_autoptr(CofferCategory) cat = coffer_repository_find_category (repo, cid, NULL, &error);
    g_autoptr(CofferSnapshot) snap = NULL;
    g_autofree char *target = fixture_dir ("a-restore");
    const CofferCategoryFolders *fb;

    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (cat->paths), ==, 1);
    g_assert_cmpstr (cat->paths[0], ==, docs_a);
    fb = folders_of (cat, id_b);
    g_assert_nonnull (fb);
    g_assert_cmpstr (fb->paths[0], ==, docs_b);

    write_file (docs_a, "a-later.txt", "added after B joined");
    snap = fixture_backup (repo, cid);
    g_assert_cmpstr (snap->device_id, ==, id_a);
    g_assert_cmpuint (g_strv_length (snap->paths), ==, 1);
    g_assert_cmpstr (snap->paths[0], ==, docs_a);
    fixture_restore (repo, cid, snap, target);
    g_assert_true (tree_has (target, docs_a, "a-later.txt"));
    g_assert_false (tree_has (target, docs_b, "b-only.txt"));

    /* Retention applies per computer: keeping the last one keeps A's
     * newest and B's (other folders), not only the newest overall. */
    {
      CofferRetention keep_one = { .keep_last = 1 };
      g_autoptr(GPtrArray) forgotten = NULL;
      g_autoptr(GPtrArray) left = NULL;
      gboolean seen_a = FALSE, seen_b = FALSE;

      g_assert_true (coffer_forget_run (repo, cid, &keep_one, FALSE, &forgotten, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (forgotten->len, ==, 1);   /* A's first backup */
      left = coffer_repository_list_snapshots (repo, cid, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (left->len, ==, 2);
      for (guint i = 0; i < left->len; i++)
        {
          const CofferSnapshot *s = g_ptr_array_index (left, i);
          seen_a |= g_str_equal (s->device_id, id_a);
          seen_b |= g_str_equal (s->device_id, id_b);
        }
      g_assert_true (seen_a && seen_b);
    }

    /* A renames the category: B's folders stay B's. */
    g_free (cat->name);
    cat->name = g_strdup ("Papers");
    g_assert_true (coffer_repository_update_category (repo, cat, NULL, &error));
    g_assert_no_error (error);
  }
  use_computer ("b");
  {
    g_auto(FixtureRepository) repo = open_as (store_dir, NULL);
    g_autoptr(CofferCategory) cat = coffer_repository_find_category (repo, cid, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (cat->name, ==, "Papers");
    g_assert_cmpuint (g_strv_length (cat->paths), ==, 1);
    g_assert_cmpstr (cat->paths[0], ==, docs_b);
    g_assert_nonnull (folders_of (cat, id_a));
  }

  /* A third computer opened with the recovery key is no device yet: it
   * acts for the category's first computer (A). Once trusted, it is a
   * computer of its own, with no folders yet. */
  use_computer ("c");
  {
    g_auto(FixtureRepository) repo = open_as (store_dir, rk);
    g_autoptr(CofferCategory) before = coffer_repository_find_category (repo, cid, NULL, &error);
    g_autoptr(CofferCategory) after = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (before->paths), ==, 1);
    g_assert_cmpstr (before->paths[0], ==, docs_a);
    g_assert_true (coffer_repository_trust_this_device (repo, "Desktop", NULL, &error));
    g_assert_no_error (error);
    after = coffer_repository_find_category (repo, cid, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (after->paths), ==, 0);
    g_assert_nonnull (folders_of (after, id_a));
    g_assert_nonnull (folders_of (after, id_b));
  }

  /* The storage puts back the description from before B set its folders:
   * both computers have seen a newer one and refuse it. */
  g_chmod (meta_path, 0644);
  g_assert_true (g_file_set_contents (meta_path, old_meta, old_len, &error));
  for (guint i = 0; i < 2; i++)
    {
      use_computer (i == 0 ? "a" : "b");
      {
        g_auto(FixtureRepository) repo = open_as (store_dir, NULL);
        g_autoptr(GPtrArray) cats = coffer_repository_list_categories (repo, NULL, &error);

        g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
        g_assert_null (cats);
        g_clear_error (&error);
      }
    }
}

/* Writes a version 2 description (no "folders", no "device"), as Coffer
 * before folders were kept per computer did, with the next counter. */
static void
write_legacy_meta (CofferRepository *repo, const char *cid, const char *path)
{
  g_autoptr(GError) error = NULL;
  CofferCategoryKeys *keys = _coffer_repository_get_category (repo, cid, NULL, &error);
  g_autofree char *name = g_strdup_printf ("meta/%s", cid);
  const char *paths[] = { path, NULL };
  const char *none[] = { NULL };
  GVariantBuilder b;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) obj = NULL;

  g_assert_no_error (error);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "version", g_variant_new_uint32 (2));
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string ("Old"));
  g_variant_builder_add (&b, "{sv}", "level", g_variant_new_string ("standard"));
  g_variant_builder_add (&b, "{sv}", "paths", g_variant_new_strv (paths, -1));
  g_variant_builder_add (&b, "{sv}", "excludes", g_variant_new_strv (none, -1));
  g_variant_builder_add (&b, "{sv}", "counter", g_variant_new_uint64 (keys->meta_counter + 1));
  v = g_variant_ref_sink (g_variant_builder_end (&b));
  obj = _coffer_repository_seal_object (repo, keys, COFFER_OBJECT_CATEGORY_META, name,
                                        g_variant_get_data (v), g_variant_get_size (v));
  g_assert_true (coffer_store_put (coffer_repository_get_store (repo), name, obj, COFFER_PUT_REPLACE, NULL, &error));
  g_assert_no_error (error);
}

static CofferCategory *
find (const char *store_dir, const char *cid)
{
  g_auto(FixtureRepository) repo = open_as (store_dir, NULL);
  g_autoptr(GError) error = NULL;
  CofferCategory *cat = coffer_repository_find_category (repo, cid, NULL, &error);

  g_assert_no_error (error);
  return cat;
}

/* A description from before folders were kept per computer: its folders
 * stay the first computer's (which knew the category), a computer that
 * joins later sees them as "the first computer's" and has none of its own;
 * the first write by each computer keeps the other's folders. */
static void
test_legacy (void)
{
  g_autofree char *store_dir = fixture_dir ("legacy-store");
  g_autofree char *docs_a = fixture_dir ("legacy-a");
  g_autofree char *docs_b = fixture_dir ("legacy-b");
  g_autofree char *cid = NULL;
  g_autofree char *id_b = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(GError) error = NULL;

  use_computer ("legacy-a");
  {
    g_auto(FixtureRepository) repo = fixture_create (store_dir, COMPUTERS_PASSWORD, &rk);
    cid = fixture_add_category (repo, "Old", COFFER_LEVEL_STANDARD, docs_a);
    write_legacy_meta (repo, cid, docs_a);
  }
  {
    g_autoptr(CofferCategory) cat = find (store_dir, cid);
    g_assert_cmpuint (g_strv_length (cat->paths), ==, 1);
    g_assert_cmpstr (cat->paths[0], ==, docs_a);
  }
  id_b = join_computer (store_dir, "legacy-b", "Laptop", "legacy-a", NULL);

  use_computer ("legacy-b");
  {
    g_auto(FixtureRepository) repo = open_as (store_dir, NULL);
    g_autoptr(CofferCategory) cat = coffer_repository_find_category (repo, cid, NULL, &error);
    const CofferCategoryFolders *first;

    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (cat->paths), ==, 0);
    first = folders_of (cat, "");
    g_assert_nonnull (first);
    g_assert_cmpstr (first->paths[0], ==, docs_a);
    g_strfreev (cat->paths);
    cat->paths = g_strdupv ((char *[]) { docs_b, NULL });
    g_assert_true (coffer_repository_update_category (repo, cat, NULL, &error));
    g_assert_no_error (error);
  }
  {
    /* Read again in a new session: still no claim on the first computer's. */
    g_autoptr(CofferCategory) cat = find (store_dir, cid);
    g_assert_cmpstr (cat->paths[0], ==, docs_b);
    g_assert_nonnull (folders_of (cat, ""));
  }

  use_computer ("legacy-a");
  {
    g_auto(FixtureRepository) repo = open_as (store_dir, NULL);
    g_autoptr(CofferCategory) cat = coffer_repository_find_category (repo, cid, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (cat->paths), ==, 1);
    g_assert_cmpstr (cat->paths[0], ==, docs_a);
    g_assert_nonnull (folders_of (cat, id_b));
    g_assert_null (folders_of (cat, ""));
    g_free (cat->name);
    cat->name = g_strdup ("Older");
    g_assert_true (coffer_repository_update_category (repo, cat, NULL, &error));
    g_assert_no_error (error);
  }
  use_computer ("legacy-b");
  {
    g_autoptr(CofferCategory) cat = find (store_dir, cid);
    const CofferCategoryFolders *fa;

    g_assert_cmpstr (cat->name, ==, "Older");
    g_assert_cmpstr (cat->paths[0], ==, docs_b);
    g_assert_null (folders_of (cat, ""));
    g_assert_cmpuint (cat->other_folders->len, ==, 1);
    fa = g_ptr_array_index (cat->other_folders, 0);
    g_assert_cmpstr (fa->paths[0], ==, docs_a);
  }
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/folders/two-computers", test_two_computers);
  g_test_add_func ("/folders/legacy", test_legacy);
  return g_test_run ();
}
