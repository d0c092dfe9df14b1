/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A repository on a full disk. The store lives on a tiny filesystem: an
 * 8 MiB tmpfs mounted by the test when it may (root with CAP_SYS_ADMIN),
 * otherwise (an unprivileged container) a file size limit
 * (setrlimit RLIMIT_FSIZE, SIGXFSZ ignored) makes every write past 4 MiB
 * fail with EFBIG, which the local store reports as "no space" just as
 * ENOSPC. The second case always uses the file size limit, so both paths
 * run wherever the tests run; neither skips.
 *
 * A backup of more than fits must fail with a clear no-space error, leave
 * the earlier snapshot intact, restorable and checking clean, and the next
 * backup after space was freed must complete. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"

#define PASSWORD "full disk password"
#define MiB (1024 * 1024)

typedef enum { MODE_TMPFS, MODE_FSIZE } Mode;

static char *mounted;

static void
unmount_at_exit (void)
{
  if (mounted != NULL)
    umount2 (mounted, MNT_DETACH);
}

static struct rlimit saved_limit;

static void
limit_space (Mode mode, const char *store_dir)
{
  if (mode == MODE_TMPFS)
    return;   /* the tmpfs is full by itself */
  {
    struct rlimit lim;

    g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved_limit), ==, 0);
    lim = saved_limit;
    lim.rlim_cur = 4 * MiB;
    signal (SIGXFSZ, SIG_IGN);
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &lim), ==, 0);
  }
}

static void
unlimit_space (Mode mode)
{
  if (mode == MODE_FSIZE)
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved_limit), ==, 0);
}

/* "The user frees space": a bigger filesystem, or no file size limit. */
static void
free_space (Mode mode, const char *store_dir)
{
  if (mode == MODE_TMPFS)
    g_assert_cmpint (mount ("tmpfs", store_dir, "tmpfs", MS_REMOUNT, "size=96m,mode=0700"), ==, 0);
}

static gboolean
try_mount_tmpfs (const char *dir)
{
  if (mount ("tmpfs", dir, "tmpfs", 0, "size=8m,mode=0700") != 0)
    {
      g_test_message ("cannot mount a tmpfs (%s): using a file size limit instead", g_strerror (errno));
      return FALSE;
    }
  mounted = g_strdup (dir);
  atexit (unmount_at_exit);
  return TRUE;
}

static void
run_full_disk (Mode mode, const char *store_dir)
{
  g_autofree char *src = fixture_dir ("src");
  g_autofree char *big_dir = g_build_filename (src, "big", NULL);
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL, s3 = NULL, failed = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autofree char *cid = NULL;

  fixture_fresh_computer ();
  fixture_make_small_tree (src, 21);
  repo = fixture_create (store_dir, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Docs", COFFER_LEVEL_STANDARD, src);
  s1 = fixture_backup (repo, cid);

  /* Now more than fits: 24 MiB of incompressible data. */
  g_assert_cmpint (g_mkdir (big_dir, 0755), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("big-%u", i);
      g_autofree char *path = g_build_filename (big_dir, name, NULL);
      coffer_test_write_random (path, 8 * MiB, 70 + i);
    }
  limit_space (mode, store_dir);
  failed = coffer_backup_run (repo, cid, NULL, NULL, NULL, NULL, &error);
  unlimit_space (mode);
  g_assert_null (failed);
  g_assert_nonnull (error);
  g_test_message ("backup on a full disk: %s", error->message);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE);
  g_assert_cmpuint (strlen (error->message), >, 10);
  g_clear_error (&error);

  /* The earlier snapshot is intact: listed alone, checks clean (from
   * another computer too), restores byte for byte. */
  fixture_close (&repo);
  repo = fixture_open (store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  snaps = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, 1);
  g_assert_cmpstr (((CofferSnapshot *) g_ptr_array_index (snaps, 0))->id, ==, s1->id);
  fixture_assert_check_clean (repo, cid, 100);
  {
    g_autofree char *target = fixture_dir ("restore1");
    g_autofree char *copy = fixture_restored (target, src);
    g_autofree char *copy_big = g_build_filename (copy, "big", NULL);

    fixture_restore (repo, cid, s1, target);
    g_assert_false (g_file_test (copy_big, G_FILE_TEST_EXISTS));
    coffer_test_rmtree (big_dir);
    coffer_test_assert_same_tree (src, copy, TRUE);
  }

  /* Space freed: the next backup completes and everything checks out. */
  g_assert_cmpint (g_mkdir (big_dir, 0755), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("big-%u", i);
      g_autofree char *path = g_build_filename (big_dir, name, NULL);
      coffer_test_write_random (path, 8 * MiB, 70 + i);
    }
  free_space (mode, store_dir);
  s3 = fixture_backup (repo, cid);
  g_assert_cmpuint (s3->bytes, ==, fixture_tree_bytes (src));
  fixture_assert_check_clean (repo, cid, 100);
  {
    g_autofree char *target = fixture_dir ("restore2");
    g_autofree char *copy = fixture_restored (target, src);

    fixture_restore (repo, cid, s3, target);
    coffer_test_assert_same_tree (src, copy, TRUE);
  }
  coffer_test_rmtree (src);
}

static void
test_full_disk (void)
{
  g_autofree char *store_dir = fixture_dir ("small-disk");
  Mode mode = try_mount_tmpfs (store_dir) ? MODE_TMPFS : MODE_FSIZE;

  g_test_message ("full disk by %s", mode == MODE_TMPFS ? "an 8 MiB tmpfs" : "a 4 MiB file size limit");
  run_full_disk (mode, store_dir);
  if (mounted != NULL)
    {
      g_assert_cmpint (umount2 (mounted, MNT_DETACH), ==, 0);
      g_clear_pointer (&mounted, g_free);
    }
}

static void
test_file_size_limit (void)
{
  g_autofree char *store_dir = fixture_dir ("limited");

  run_full_disk (MODE_FSIZE, store_dir);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);

  g_test_add_func ("/full-disk/backup", test_full_disk);
  g_test_add_func ("/full-disk/file-size-limit", test_file_size_limit);
  return g_test_run ();
}
