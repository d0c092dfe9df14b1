/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Destination failures are reported as what they are: a folder that is
 * not there (unplugged drive) is COFFER_STORE_ERROR_UNREACHABLE, never
 * "rolled back or tampered with" and never "no repository"; a read-only
 * destination is _READ_ONLY, not refused credentials; a full one is
 * _NO_SPACE. coffer_store_probe_write() and coffer_repository_create()
 * find each of these before anything is written.
 *
 * The tests run as root here and in CI, where permissions do not stop
 * writes: read-only is a read-only tmpfs mount (EROFS refuses root too),
 * full is a tiny tmpfs. Where mounting is not allowed (an unprivileged
 * container) read-only falls back to a 0555 folder, which refuses a
 * non-root user, and full to a file size limit (EFBIG, reported as full
 * just as ENOSPC). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "coffer-store-private.h"
#include "repo-fixture.h"

#define PASSWORD "destination password"

static GPtrArray *mounts;

static void
unmount_all (void)
{
  for (guint i = 0; mounts != NULL && i < mounts->len; i++)
    umount2 (g_ptr_array_index (mounts, i), MNT_DETACH);
}

static gboolean
try_mount (const char *dir, const char *options, unsigned long flags)
{
  if (mount ("tmpfs", dir, "tmpfs", flags, options) != 0)
    {
      g_test_message ("cannot mount a tmpfs on %s (%s): using the fallback", dir, g_strerror (errno));
      return FALSE;
    }
  if (mounts == NULL)
    {
      mounts = g_ptr_array_new_with_free_func (g_free);
      atexit (unmount_all);
    }
  g_ptr_array_add (mounts, g_strdup (dir));
  return TRUE;
}

static void
test_read_only (void)
{
  g_autofree char *dir = fixture_dir ("read-only");
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(CofferSecret) pw = fixture_secret (PASSWORD);
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) listing = NULL;

  if (!try_mount (dir, "size=1m,mode=0755", MS_RDONLY))
    g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
  store = fixture_store (dir);

  g_assert_false (coffer_store_probe_write (store, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_READ_ONLY);
  g_test_message ("probe: %s", error->message);
  g_clear_error (&error);

  repo = coffer_repository_create (store, pw, "test", &rk, NULL, &error);
  g_assert_null (repo);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_READ_ONLY);
  g_clear_error (&error);

  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  g_assert_null (g_dir_read_name (listing));
}

static void
test_full (void)
{
  g_autofree char *dir = fixture_dir ("full");
  g_autofree char *filler = g_build_filename (dir, "filler", NULL);
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(CofferSecret) pw = fixture_secret (PASSWORD);
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GError) error = NULL;
  struct rlimit saved, lim;
  gboolean tmpfs = try_mount (dir, "size=1m,mode=0700", 0);

  if (tmpfs)
    {
      /* Fill the filesystem to the last block. */
      static const char block[4096];
      int fd = open (filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);

      g_assert_cmpint (fd, >=, 0);
      while (write (fd, block, sizeof block) > 0)
        ;
      g_assert_cmpint (errno, ==, ENOSPC);
      close (fd);
    }
  else
    {
      g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
      lim = saved;
      lim.rlim_cur = 16;   /* less than the probe */
      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &lim), ==, 0);
    }
  store = fixture_store (dir);

  g_assert_false (coffer_store_probe_write (store, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE);
  g_test_message ("probe: %s", error->message);
  g_clear_error (&error);
  repo = coffer_repository_create (store, pw, "test", &rk, NULL, &error);
  g_assert_null (repo);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE);

  if (!tmpfs)
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
}

/* A drive that is unplugged and plugged in again: the repository folder
 * disappears (renamed away here, as an unmount makes it vanish) and
 * comes back. */
static void
test_missing (void)
{
  g_autofree char *base = fixture_dir ("unplugged");
  g_autofree char *drive = g_build_filename (base, "Backup", NULL);
  g_autofree char *away = g_build_filename (base, "Backup-away", NULL);
  g_autofree char *where = g_build_filename (drive, "coffer", NULL);
  g_autofree char *src = fixture_dir ("unplugged-src");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_auto(FixtureRepository) reopened = NULL;
  g_autoptr(CofferSnapshot) first = NULL;
  g_autoptr(CofferSnapshot) again = NULL;
  g_autoptr(CofferSnapshot) failed = NULL;
  g_autoptr(GPtrArray) snapshots = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;

  g_assert_cmpint (g_mkdir (drive, 0700), ==, 0);
  fixture_make_small_tree (src, 7);
  repo = fixture_create (where, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Docs", COFFER_LEVEL_STANDARD, src);
  first = fixture_backup (repo, cid);

  g_assert_cmpint (g_rename (drive, away), ==, 0);

  /* The open repository: its snapshot list is not "rolled back". */
  snapshots = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_null (snapshots);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
  g_assert_null (strstr (error->message, "tamper"));
  g_test_message ("list: %s", error->message);
  g_clear_error (&error);

  /* A backup fails the same way and does not create the folder on the
   * computer's own disk where the drive was mounted. */
  failed = coffer_backup_run (repo, cid, NULL, NULL, NULL, NULL, &error);
  g_assert_null (failed);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
  g_clear_error (&error);
  g_assert_false (g_file_test (drive, G_FILE_TEST_EXISTS));

  /* Opening anew: not there, which is not "no repository here". */
  reopened = fixture_open (where, PASSWORD, NULL, &error);
  g_assert_null (reopened);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
  g_clear_error (&error);
  {
    g_autoptr(CofferStore) store = fixture_store (where);
    g_assert_false (coffer_store_probe_write (store, NULL, &error));
    g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
    g_clear_error (&error);
  }
  g_assert_false (g_file_test (drive, G_FILE_TEST_EXISTS));

  /* Plugged in again: backups go on. */
  g_assert_cmpint (g_rename (away, drive), ==, 0);
  again = fixture_backup (repo, cid);
  g_assert_cmpuint (again->seq, ==, first->seq + 1);
}

/* The other case must stay what it is: the repository is there, but
 * older than what this computer has seen. */
static void
test_rolled_back_still_detected (void)
{
  g_autofree char *where = fixture_dir ("rolled-back");
  g_autofree char *src = fixture_dir ("rolled-back-src");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) first = NULL;
  g_autoptr(CofferSnapshot) second = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) snapshots = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *prefix = NULL;

  fixture_make_small_tree (src, 9);
  repo = fixture_create (where, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Docs", COFFER_LEVEL_STANDARD, src);
  first = fixture_backup (repo, cid);
  second = fixture_backup (repo, cid);
  prefix = g_strdup_printf ("categories/%s/snapshots/", cid);
  names = fixture_list_objects (where, prefix);
  g_assert_cmpuint (names->len, ==, 2);
  snapshots = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < snapshots->len; i++)
    {
      CofferSnapshot *snap = g_ptr_array_index (snapshots, i);
      if (snap->seq == second->seq)
        {
          g_autofree char *path = g_build_filename (where, prefix, snap->id, NULL);
          g_assert_cmpint (g_unlink (path), ==, 0);
        }
    }
  g_clear_pointer (&snapshots, g_ptr_array_unref);
  snapshots = coffer_repository_list_snapshots (repo, cid, NULL, &error);
  g_assert_null (snapshots);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK);
}

static gboolean
count_cb (const char *name, guint64 size, gpointer user_data)
{
  (*(guint *) user_data)++;
  return TRUE;
}

/* The store's own answers, on both code paths (POSIX and GIO): a missing
 * root is UNREACHABLE for every call, a put creates the root only when its
 * parent exists, and a read-only folder is READ_ONLY. */
static void
test_store_paths (gconstpointer use_gio)
{
  g_autofree char *base = fixture_dir (use_gio ? "paths-gio" : "paths-posix");
  g_autofree char *drive = g_build_filename (base, "Drive", NULL);
  g_autofree char *root = g_build_filename (drive, "coffer", NULL);
  g_autofree char *ro = g_build_filename (base, "ro", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (root);
  g_autoptr(GFile) ro_file = g_file_new_for_path (ro);
  g_autoptr(CofferStore) store = coffer_store_local_new (file);
  g_autoptr(CofferStore) ro_store = coffer_store_local_new (ro_file);
  g_autoptr(GBytes) data = g_bytes_new_static ("x", 1);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  guint n = 0;

  coffer_store_local_set_use_gio (COFFER_STORE_LOCAL (store), use_gio != NULL);
  coffer_store_local_set_use_gio (COFFER_STORE_LOCAL (ro_store), use_gio != NULL);

  g_assert_false (coffer_store_list (store, "categories/", count_cb, &n, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
  g_clear_error (&error);
  got = coffer_store_get (store, "config", 0, 0, NULL, &error);
  g_assert_null (got);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
  g_clear_error (&error);
  g_assert_false (coffer_store_stat (store, "config", NULL, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
  g_clear_error (&error);
  g_assert_false (coffer_store_delete (store, "config", NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
  g_clear_error (&error);
  g_assert_false (coffer_store_put (store, "a/b", data, COFFER_PUT_CREATE, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
  g_clear_error (&error);
  g_assert_false (g_file_test (drive, G_FILE_TEST_EXISTS));

  /* The drive is there: the repository folder is created on the first put. */
  g_assert_cmpint (g_mkdir (drive, 0700), ==, 0);
  g_assert_true (coffer_store_put (store, "a/b", data, COFFER_PUT_CREATE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (coffer_store_list (store, "", count_cb, &n, NULL, &error));
  g_assert_cmpuint (n, ==, 1);
  /* An object that is missing in a folder that is there stays NOT_FOUND. */
  g_assert_false (coffer_store_stat (store, "config", NULL, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_cmpint (g_mkdir (ro, 0755), ==, 0);
  if (!try_mount (ro, "size=1m,mode=0755", MS_RDONLY))
    g_assert_cmpint (g_chmod (ro, 0555), ==, 0);
  g_assert_false (coffer_store_put (ro_store, "a/b", data, COFFER_PUT_CREATE, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_READ_ONLY);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/destination/read-only", test_read_only);
  g_test_add_func ("/destination/full", test_full);
  g_test_add_func ("/destination/missing", test_missing);
  g_test_add_func ("/destination/rolled-back", test_rolled_back_still_detected);
  g_test_add_data_func ("/destination/store-posix", NULL, test_store_paths);
  g_test_add_data_func ("/destination/store-gio", "gio", test_store_paths);
  return g_test_run ();
}
