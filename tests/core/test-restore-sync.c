/* SPDX-License-Identifier: GPL-3.0-or-later */
/* How a restore makes its files durable, on real file systems of each
 * kind (coffer-restore-sync.h), each a loop-mounted image the test makes:
 *
 *  /restore-sync/kinds  ext4 with a journal is ORDERED, ext4 made without
 *      one and ext2 are WHOLE (no journal orders anything there), XFS is
 *      ORDERED, btrfs FILE, tmpfs NONE.
 *  /restore-sync/strategies  a restore of 300 files (more than two of
 *      the waiting batches) onto each: on ext4 with a journal every file's
 *      data is waited on and one journal commit ends it, no syncfs() (XFS
 *      the same); on ext4 without a journal and ext2 one syncfs() and no
 *      per-file wait (whose durability would rest on a commit that never
 *      comes); on btrfs an fdatasync per file and an fsync per folder; on
 *      tmpfs nothing. Then, with the folders there and their files
 *      deleted, inotify watches the folders while the restore runs again:
 *      only final names appear (the files are made unnamed, O_TMPFILE, and
 *      linked when complete), never a temporary one (only the empty file
 *      whose fsync is the journal commit). And a file that is
 *      there with other, older content is replaced. Every
 *      file comes back byte for byte each time.
 *
 *  /restore-sync/direct  large files are written past the page cache
 *      (O_DIRECT) on each, tmpfs excepted, and come back byte for byte.
 *
 * Mounting needs root, as the tests run here and in CI (mkfs.ext4 and
 * mkfs.xfs and mkfs.btrfs from e2fsprogs, xfsprogs and btrfs-progs,
 * build-aux/install-deps.sh). */
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "coffer-restore-direct.h"
#include "coffer-restore-sync.h"
#include "repo-fixture.h"

#define PASSWORD "restore sync password"
#define N_FILES 300

typedef struct
{
  const char *name;
  const char *mkfs;            /* NULL: tmpfs */
  const char *options;         /* for mkfs */
  const char *size;            /* of the image: XFS needs 300 MiB, btrfs 114 */
  CofferSyncKind kind;
} Fs;

static const Fs file_systems[] = {
  { "ext4-journal", "mkfs.ext4", "-q", "64M", COFFER_SYNC_ORDERED },
  { "ext4-no-journal", "mkfs.ext4", "-q -O ^has_journal", "64M", COFFER_SYNC_WHOLE },
  { "ext2", "mkfs.ext2", "-q", "64M", COFFER_SYNC_WHOLE },
  { "xfs", "mkfs.xfs", "-q", "320M", COFFER_SYNC_ORDERED },
  { "btrfs", "mkfs.btrfs", "-q", "128M", COFFER_SYNC_FILE },
  { "tmpfs", NULL, NULL, NULL, COFFER_SYNC_NONE },
};

static void
run (const char *command)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!g_spawn_command_line_sync (command, &out, &err, &status, &error))
    g_error ("%s: %s", command, error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s%s", command, out, err);
}

/* A new mount of fs below the fixture's root; returns its folder. */
static char *
mount_fs (const Fs *fs)
{
  g_autofree char *image = NULL;
  g_autofree char *command = NULL;
  char *dir = fixture_dir (fs->name);

  if (fs->mkfs == NULL)
    {
      if (mount ("tmpfs", dir, "tmpfs", 0, "size=32m") != 0)
        g_error ("cannot mount a tmpfs on %s: %s", dir, g_strerror (errno));
      return dir;
    }
  image = g_strconcat (dir, ".img", NULL);
  command = g_strdup_printf ("truncate -s %s %s", fs->size, image);
  run (command);
  g_free (command);
  command = g_strdup_printf ("%s %s %s", fs->mkfs, fs->options, image);
  run (command);
  g_free (command);
  command = g_strdup_printf ("mount -o loop %s %s", image, dir);
  run (command);
  return dir;
}

/* Unmounts and removes the mount's folder and its image. */
static void
unmount_fs (const char *dir)
{
  g_autofree char *image = g_strconcat (dir, ".img", NULL);

  if (umount2 (dir, 0) != 0)
    g_error ("cannot unmount %s: %s", dir, g_strerror (errno));
  g_unlink (image);
  coffer_test_rmtree (dir);
}

static gboolean
can_mount (void)
{
  if (geteuid () == 0)
    return TRUE;
  g_test_skip ("mounting file system images needs root (the tests run as root in CI)");
  return FALSE;
}

static void
test_kinds (void)
{
  if (!can_mount ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (file_systems); i++)
    {
      const Fs *fs = &file_systems[i];
      g_autofree char *dir = mount_fs (fs);
      int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

      g_assert_cmpint (fd, >=, 0);
      g_test_message ("%s: kind %d", fs->name, _coffer_sync_kind_of_fd (fd));
      g_assert_cmpint (_coffer_sync_kind_of_fd (fd), ==, fs->kind);
      close (fd);
      unmount_fs (dir);
    }
}

static void
assert_same_content (const char *a, const char *b)
{
  g_autoptr(GDir) d = g_dir_open (a, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *pa = g_build_filename (a, name, NULL);
      g_autofree char *pb = g_build_filename (b, name, NULL);

      if (g_file_test (pa, G_FILE_TEST_IS_DIR))
        assert_same_content (pa, pb);
      else
        {
          g_autoptr(GBytes) ba = fixture_read (pa);
          g_autoptr(GBytes) bb = fixture_read (pb);
          g_assert_true (g_bytes_equal (ba, bb));
        }
    }
}

/* Restores again into target after deleting the files (not the folders)
 * of the restored copy, watching the folders: only the files' final names
 * may appear in them. Then one file gets older, different content and is
 * replaced by the next restore. */
static void
assert_no_temporary_names (CofferRepository *repo, const char *cid, const CofferSnapshot *snap,
                           const char *src, const char *target, const char *copy)
{
  const char *subs[] = { "even", "odd" };
  g_autofree char *changed = g_build_filename (copy, "odd", "file-001", NULL);
  g_autoptr(GError) error = NULL;
  int ifd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  guint created = 0;
  char buf[64 * 1024];
  ssize_t n;

  g_assert_cmpint (ifd, >=, 0);
  for (guint i = 0; i < G_N_ELEMENTS (subs); i++)
    {
      g_autofree char *dir = g_build_filename (copy, subs[i], NULL);
      g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
      const char *name;

      g_assert_nonnull (d);
      while ((name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_assert_cmpint (g_unlink (path), ==, 0);
        }
      g_assert_cmpint (inotify_add_watch (ifd, dir, IN_CREATE | IN_MOVED_TO), >=, 0);
    }
  if (!coffer_restore_run_full (repo, cid, snap, NULL, target, 0, NULL, NULL, NULL, NULL, NULL, &error))
    g_error ("restore again: %s", error->message);
  while ((n = read (ifd, buf, sizeof buf)) > 0)
    for (gsize off = 0; off + sizeof (struct inotify_event) <= (gsize) n;)
      {
        struct inotify_event ev;
        const char *name = buf + off + sizeof ev;

        memcpy (&ev, buf + off, sizeof ev);
        off += sizeof ev + ev.len;
        /* The empty file whose fsync is the journal commit (ORDERED). */
        if (g_str_has_prefix (name, ".coffer-restore-commit-"))
          continue;
        if (!g_str_has_prefix (name, "file-"))
          g_error ("a name other than a restored file's appeared: %s", name);
        created++;
      }
  close (ifd);
  g_assert_cmpuint (created, ==, N_FILES);
  assert_same_content (src, copy);

  {
    struct timespec old[2] = { { 1, 0 }, { 1, 0 } };
    g_assert_true (g_file_set_contents (changed, "other content", -1, NULL));
    g_assert_cmpint (utimensat (AT_FDCWD, changed, old, 0), ==, 0);
  }
  if (!coffer_restore_run_full (repo, cid, snap, NULL, target, 0, NULL, NULL, NULL, NULL, NULL, &error))
    g_error ("restore over an older file: %s", error->message);
  assert_same_content (src, copy);
}

static void
test_strategies (void)
{
  g_autofree char *store = NULL;
  g_autofree char *src = NULL;
  g_autofree char *cid = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  CofferRepository *repo;

  if (!can_mount ())
    return;
  store = fixture_dir ("store");
  src = fixture_dir ("src");
  /* Plain files in two folders. */
  for (guint i = 0; i < N_FILES; i++)
    {
      g_autofree char *sub = g_build_filename (src, i % 2 ? "odd" : "even", NULL);
      g_autofree char *name = g_strdup_printf ("file-%03u", i);
      g_autofree char *path = g_build_filename (sub, name, NULL);

      g_mkdir_with_parents (sub, 0755);
      coffer_test_write_random (path, 50 + i * 13, i);
    }
  repo = fixture_create (store, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Files", COFFER_LEVEL_STANDARD, src);
  snap = fixture_backup (repo, cid);
  g_assert_cmpuint (snap->files, ==, N_FILES);

  for (guint i = 0; i < G_N_ELEMENTS (file_systems); i++)
    {
      const Fs *fs = &file_systems[i];
      g_autofree char *dir = mount_fs (fs);
      g_autofree char *target = g_build_filename (dir, "restored", NULL);
      g_autofree char *copy = NULL;
      g_autoptr(GError) error = NULL;
      CofferRestoreSyncStats before, after;

      _coffer_restore_sync_get_stats (&before);
      if (!coffer_restore_run_full (repo, cid, snap, NULL, target, 0, NULL, NULL, NULL, NULL, NULL, &error))
        g_error ("restore onto %s: %s", fs->name, error->message);
      _coffer_restore_sync_get_stats (&after);
      copy = fixture_restored (target, src);
      assert_same_content (src, copy);
      g_test_message ("%s: %u range waits, %u fdatasyncs, %u commits, %u syncfs, %u folder fsyncs", fs->name,
                      after.range_waits - before.range_waits, after.fdatasyncs - before.fdatasyncs,
                      after.commits - before.commits, after.syncfs - before.syncfs,
                      after.dir_fsyncs - before.dir_fsyncs);
      g_assert_cmpuint (after.range_waits - before.range_waits, ==, fs->kind == COFFER_SYNC_ORDERED ? N_FILES : 0);
      g_assert_cmpuint (after.commits - before.commits, ==, fs->kind == COFFER_SYNC_ORDERED ? 1 : 0);
      g_assert_cmpuint (after.syncfs - before.syncfs, ==, fs->kind == COFFER_SYNC_WHOLE ? 1 : 0);
      g_assert_cmpuint (after.fdatasyncs - before.fdatasyncs, ==, fs->kind == COFFER_SYNC_FILE ? N_FILES : 0);
      /* The restore folder, the folders on the way to src, and src's two. */
      if (fs->kind == COFFER_SYNC_FILE)
        g_assert_cmpuint (after.dir_fsyncs - before.dir_fsyncs, >=, 3);
      else
        g_assert_cmpuint (after.dir_fsyncs - before.dir_fsyncs, ==, 0);
      assert_no_temporary_names (repo, cid, snap, src, target, copy);
      unmount_fs (dir);
    }
  fixture_close (&repo);
  coffer_test_rmtree (src);
}

/* Pages of path in the page cache (mincore of a mapping). */
static gsize
resident_pages (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  gsize pages, n = 0;
  guint8 *vec;
  void *map;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  pages = (st.st_size + 4095) / 4096;
  map = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  g_assert_true (map != MAP_FAILED);
  vec = g_malloc (pages);
  g_assert_cmpint (mincore (map, st.st_size, vec), ==, 0);
  for (gsize i = 0; i < pages; i++)
    n += vec[i] & 1;
  g_free (vec);
  munmap (map, st.st_size);
  close (fd);
  return n;
}

/* Large restored files are written past the page cache (O_DIRECT, whole
 * 4 KiB blocks; the last partial block and files under
 * COFFER_DIRECT_MIN_FILE through it), on every file system that takes
 * O_DIRECT, and come back byte for byte; not on tmpfs (nothing to gain).
 * On ext4, ext2 and XFS mincore() then finds at most the last page of the
 * large file in the page cache (before anything reads it). */
static void
test_direct (void)
{
  static const struct { const char *name; gsize size; } files[] = {
    { "big", 3 * 1024 * 1024 + 123 },
    { "exact", 1024 * 1024 },
    { "edge", COFFER_DIRECT_MIN_FILE + 4097 },
    { "below", COFFER_DIRECT_MIN_FILE - 1 },
    { "small", 100 * 1024 },
  };
  g_autofree char *store = NULL;
  g_autofree char *src = NULL;
  g_autofree char *cid = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  CofferRepository *repo;
  guint64 expected = 0;

  if (!can_mount ())
    return;
  store = fixture_dir ("store");
  src = fixture_dir ("src");
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (src, files[i].name, NULL);

      coffer_test_write_random (path, files[i].size, 900 + i);
      if (files[i].size >= COFFER_DIRECT_MIN_FILE)
        expected += files[i].size & ~(gsize) 4095;
    }
  repo = fixture_create (store, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Large", COFFER_LEVEL_STANDARD, src);
  snap = fixture_backup (repo, cid);

  for (guint i = 0; i < G_N_ELEMENTS (file_systems); i++)
    {
      const Fs *fs = &file_systems[i];
      g_autofree char *dir = mount_fs (fs);
      g_autofree char *target = g_build_filename (dir, "restored", NULL);
      g_autofree char *copy = NULL;
      g_autofree char *big = NULL;
      g_autoptr(GError) error = NULL;
      guint64 before = _coffer_direct_out_get_bytes ();
      guint64 direct;

      if (!coffer_restore_run_full (repo, cid, snap, NULL, target, 0, NULL, NULL, NULL, NULL, NULL, &error))
        g_error ("restore onto %s: %s", fs->name, error->message);
      direct = _coffer_direct_out_get_bytes () - before;
      copy = fixture_restored (target, src);
      big = g_build_filename (copy, "big", NULL);
      g_test_message ("%s: %" G_GUINT64_FORMAT " bytes written directly, %" G_GSIZE_FORMAT
                      " pages of big cached", fs->name, direct, resident_pages (big));
      g_assert_cmpuint (direct, ==, fs->kind == COFFER_SYNC_NONE ? 0 : expected);
      if (fs->kind == COFFER_SYNC_ORDERED || fs->kind == COFFER_SYNC_WHOLE)
        g_assert_cmpuint (resident_pages (big), <=, 1);
      assert_same_content (src, copy);
      unmount_fs (dir);
    }
  fixture_close (&repo);
  coffer_test_rmtree (src);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/restore-sync/kinds", test_kinds);
  g_test_add_func ("/restore-sync/strategies", test_strategies);
  g_test_add_func ("/restore-sync/direct", test_direct);
  return g_test_run ();
}
