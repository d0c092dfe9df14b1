/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Backup and restore end to end on a real local store: every kind of file,
 * sizes around the chunk bounds, a sparse file above 4 GiB, extended
 * attributes, the files cache, skipped paths, newer files on restore,
 * partial restores, the per-category lock, forget and prune, a run over
 * several categories. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"

#define PASSWORD "backup test password"
#define KiB 1024
#define MiB (1024 * 1024)

typedef struct
{
  char             *store_dir;
  char             *src;
  CofferRepository *repo;
  CofferSecret     *rk;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->store_dir = fixture_dir ("store");
  f->src = fixture_dir ("src");
  fixture_fresh_computer ();
  f->repo = fixture_create (f->store_dir, PASSWORD, &f->rk);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  fixture_close (&f->repo);
  g_clear_pointer (&f->rk, coffer_secret_free);
  coffer_test_rmtree (f->src);
  coffer_test_rmtree (f->store_dir);
  g_free (f->store_dir);
  g_free (f->src);
}

static void
set_mtime (const char *path, gint64 sec, long nsec)
{
  struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

  g_assert_cmpint (utimensat (AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), ==, 0);
}

static char *
child (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

/* Does this filesystem take user.* extended attributes? */
static gboolean
xattrs_supported (const char *dir)
{
  g_autofree char *probe = child (dir, ".xattr-probe");
  gboolean ok;

  g_assert_true (g_file_set_contents (probe, "", 0, NULL));
  ok = setxattr (probe, "user.coffer-probe", "1", 1, 0) == 0;
  if (!ok)
    g_assert_cmpint (errno, ==, ENOTSUP);
  g_unlink (probe);
  return ok;
}

static void
assert_same_mtime_ns (const char *a, const char *b)
{
  struct stat sa, sb;

  g_assert_cmpint (lstat (a, &sa), ==, 0);
  g_assert_cmpint (lstat (b, &sb), ==, 0);
  g_assert_cmpint (sa.st_mtim.tv_sec, ==, sb.st_mtim.tv_sec);
  g_assert_cmpint (sa.st_mtim.tv_nsec, ==, sb.st_mtim.tv_nsec);
}

/* ---- round trip ---- */

static void
make_tree (const char *src, gboolean with_xattrs)
{
  static const gsize sizes[] = {
    0, 1, 2, 4095, 4096, 65537,
    512 * KiB - 1, 512 * KiB, 512 * KiB + 1,
    MiB - 1, MiB, MiB + 1,
    8 * MiB - 1, 8 * MiB + 1,
  };
  g_autofree char *nested = g_build_filename (src, "n1", "n2", "n3", "n4", NULL);
  g_autofree char *empty = g_build_filename (src, "empty-folder", NULL);
  g_autofree char *empty2 = g_build_filename (src, "n1", "empty-too", NULL);
  g_autofree char *sizes_dir = child (src, "sizes");
  g_autofree char *ro_dir = child (src, "read-only-folder");

  g_assert_cmpint (g_mkdir_with_parents (nested, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (empty, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (empty2, 0750), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (sizes_dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (ro_dir, 0755), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *name = g_strdup_printf ("size-%" G_GSIZE_FORMAT, sizes[i]);
      g_autofree char *path = child (sizes_dir, name);
      coffer_test_write_random (path, sizes[i], 1000 + i);
    }
  /* The same content twice (deduplicated) and a compressible file. */
  {
    g_autofree char *a = child (src, "dup-a");
    g_autofree char *b = g_build_filename (src, "n1", "dup-b", NULL);
    g_autofree char *text = child (src, "text.txt");
    g_autoptr(GString) s = g_string_new (NULL);

    coffer_test_write_random (a, 3 * MiB + 17, 42);
    coffer_test_write_random (b, 3 * MiB + 17, 42);
    for (guint i = 0; i < 50000; i++)
      g_string_append_printf (s, "line %u of a very compressible text\n", i);
    g_assert_true (g_file_set_contents (text, s->str, s->len, NULL));
  }
  /* Modes. */
  {
    const struct { const char *name; mode_t mode; } modes[] = {
      { "private-0600", 0600 }, { "script-0755", 0755 }, { "read-only-0444", 0444 },
      { "odd-0640", 0640 },
    };
    for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
      {
        g_autofree char *path = child (src, modes[i].name);
        g_assert_true (g_file_set_contents (path, modes[i].name, -1, NULL));
        g_assert_cmpint (chmod (path, modes[i].mode), ==, 0);
      }
  }
  /* Symbolic links: relative, absolute, dangling, to a folder. */
  {
    g_autofree char *l1 = child (src, "link-relative");
    g_autofree char *l2 = child (src, "link-absolute");
    g_autofree char *l3 = child (src, "link-dangling");
    g_autofree char *l4 = g_build_filename (src, "n1", "link-folder", NULL);

    g_assert_cmpint (symlink ("sizes/size-1", l1), ==, 0);
    g_assert_cmpint (symlink ("/etc/hostname", l2), ==, 0);
    g_assert_cmpint (symlink ("does/not/exist", l3), ==, 0);
    g_assert_cmpint (symlink ("n2/n3", l4), ==, 0);
  }
  /* A name that is not UTF-8, deep in the tree. */
  {
    g_autofree char *path = g_build_filename (nested, "caf\xe9", NULL);
    g_autofree char *dir = g_build_filename (src, "dossier-\xff\xfe", NULL);
    g_autofree char *inner = child (dir, "r\xe9sum\xe9.txt");
    g_assert_true (g_file_set_contents (path, "latin-1 name\n", -1, NULL));
    g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
    g_assert_true (g_file_set_contents (inner, "inside a latin-1 folder\n", -1, NULL));
  }
  /* Extended attributes. */
  if (with_xattrs)
    {
      g_autofree char *path = child (src, "private-0600");
      g_autofree char *dir = child (src, "n1");
      static const guint8 binary[] = { 0, 1, 2, 255, 0, 7 };
      g_assert_cmpint (setxattr (path, "user.comment", "hello xattr", 11, 0), ==, 0);
      g_assert_cmpint (setxattr (path, "user.binary", binary, sizeof binary, 0), ==, 0);
      g_assert_cmpint (setxattr (dir, "user.folder", "on a folder", 11, 0), ==, 0);
    }
  /* A file inside a read-only folder; then times, set last, deepest first. */
  {
    g_autofree char *path = child (ro_dir, "inside");
    g_assert_true (g_file_set_contents (path, "inside a read-only folder\n", -1, NULL));
    set_mtime (path, 1000000000, 123456789);
    g_assert_cmpint (chmod (ro_dir, 0555), ==, 0);
  }
  {
    g_autofree char *path = child (sizes_dir, "size-1");
    g_autofree char *l1 = child (src, "link-relative");
    set_mtime (path, 946684800, 5);          /* 2000-01-01 */
    set_mtime (l1, 1234567890, 987654321);
    set_mtime (nested, 1500000000, 1);
    set_mtime (ro_dir, 1600000000, 0);
  }
}

static void
assert_xattr (const char *path, const char *name, const void *value, gsize len)
{
  char buf[256];
  ssize_t n = lgetxattr (path, name, buf, sizeof buf);

  if (n < 0)
    g_error ("%s: xattr %s missing: %s", path, name, g_strerror (errno));
  g_assert_cmpmem (buf, n, value, len);
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  gboolean with_xattrs = xattrs_supported (f->src);
  g_autofree char *cid = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autofree char *target = fixture_dir ("restore");
  g_autofree char *copy = NULL;

  /* CI runs on ext4/tmpfs as root: xattrs must work there. If they did
   * not, the test says so instead of silently passing. */
  g_assert_true (with_xattrs);
  make_tree (f->src, with_xattrs);
  cid = fixture_add_category (f->repo, "Everything", COFFER_LEVEL_STANDARD, f->src);
  snap = fixture_backup (f->repo, cid);
  g_assert_cmpuint (snap->bytes, ==, fixture_tree_bytes (f->src));
  g_assert_cmpuint (snap->files, ==, 24);
  g_assert_cmpuint (snap->skipped, ==, 0);
  /* The duplicate 3 MiB file is stored once; the text compresses: less
   * was uploaded than the total. */
  g_assert_cmpuint (snap->added_bytes, <, snap->bytes);

  fixture_restore (f->repo, cid, snap, target);
  copy = fixture_restored (target, f->src);
  coffer_test_assert_same_tree (f->src, copy, TRUE);

  /* Nanosecond times of files, links and folders. */
  {
    const char *paths[] = { "sizes/size-1", "link-relative", "n1/n2/n3/n4", "read-only-folder",
                            "read-only-folder/inside", NULL };
    for (guint i = 0; paths[i] != NULL; i++)
      {
        g_autofree char *a = child (f->src, paths[i]);
        g_autofree char *b = child (copy, paths[i]);
        assert_same_mtime_ns (a, b);
      }
  }
  if (with_xattrs)
    {
      g_autofree char *p = child (copy, "private-0600");
      g_autofree char *d = child (copy, "n1");
      static const guint8 binary[] = { 0, 1, 2, 255, 0, 7 };
      assert_xattr (p, "user.comment", "hello xattr", 11);
      assert_xattr (p, "user.binary", binary, sizeof binary);
      assert_xattr (d, "user.folder", "on a folder", 11);
    }
  fixture_assert_check_clean (f->repo, cid, 100);

  /* A fresh computer with only the password gets the same tree. */
  {
    g_autoptr(GError) error = NULL;
    g_auto(FixtureRepository) repo = NULL;
    g_autofree char *target2 = fixture_dir ("restore2");
    g_autofree char *copy2 = fixture_restored (target2, f->src);

    fixture_fresh_computer ();
    repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
    g_assert_no_error (error);
    fixture_restore (repo, cid, snap, target2);
    coffer_test_assert_same_tree (f->src, copy2, TRUE);
  }
  g_chmod (target, 0700);
}

/* ---- sparse file above 4 GiB ---- */

/* Compares two (sparse) files by their data extents: a range that is a
 * hole in both reads as zeros in both, so only ranges holding data in
 * either file are read. */
static void
compare_extents (int fd, int other, guint64 size)
{
  g_autofree guint8 *ba = g_malloc (MiB);
  g_autofree guint8 *bb = g_malloc (MiB);
  off_t pos = 0;

  while ((guint64) pos < size)
    {
      off_t data = lseek (fd, pos, SEEK_DATA);
      off_t hole;

      if (data < 0)
        break;
      hole = lseek (fd, data, SEEK_HOLE);
      g_assert_cmpint (hole, >, data);
      for (off_t off = data; off < hole; off += MiB)
        {
          gsize n = MIN ((off_t) MiB, hole - off);
          g_assert_cmpint (pread (fd, ba, n, off), ==, (gssize) n);
          g_assert_cmpint (pread (other, bb, n, off), ==, (gssize) n);
          if (memcmp (ba, bb, n) != 0)
            g_error ("sparse copies differ near offset %" G_GINT64_FORMAT, (gint64) off);
        }
      pos = hole;
    }
}

static void
compare_sparse_files (const char *a, const char *b)
{
  int fa = open (a, O_RDONLY), fb = open (b, O_RDONLY);
  struct stat sa, sb;

  g_assert_cmpint (fa, >=, 0);
  g_assert_cmpint (fb, >=, 0);
  g_assert_cmpint (fstat (fa, &sa), ==, 0);
  g_assert_cmpint (fstat (fb, &sb), ==, 0);
  g_assert_cmpint (sa.st_size, ==, sb.st_size);
  compare_extents (fa, fb, sa.st_size);
  compare_extents (fb, fa, sa.st_size);
  close (fa);
  close (fb);
}

static void
test_sparse (Fixture *f, gconstpointer data)
{
  const guint64 size = G_GUINT64_CONSTANT (5) << 30;
  const guint64 offsets[] = { 0, G_GUINT64_CONSTANT (1) << 30, (G_GUINT64_CONSTANT (9) << 29) + 12345,
                              size - 4096 };
  g_autofree char *path = child (f->src, "disk.img");
  g_autofree char *cid = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autofree char *target = fixture_dir ("restore");
  g_autofree char *copy = NULL;
  struct stat st;
  int fd;

  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      char block[4096];
      memset (block, 'a' + i, sizeof block);
      g_snprintf (block, 64, "block %u at %" G_GUINT64_FORMAT, i, offsets[i]);
      g_assert_cmpint (pwrite (fd, block, sizeof block, offsets[i]), ==, sizeof block);
    }
  close (fd);

  cid = fixture_add_category (f->repo, "Disk images", COFFER_LEVEL_STANDARD, f->src);
  g_test_timer_start ();
  snap = fixture_backup (f->repo, cid);
  g_test_message ("backup of a 5 GiB sparse file: %.1f s", g_test_timer_elapsed ());
  g_assert_cmpuint (snap->bytes, ==, size);
  /* Five gigabytes of zeros are a handful of distinct blobs. */
  g_assert_cmpuint (snap->added_bytes, <, 64 * MiB);

  g_test_timer_start ();
  fixture_restore (f->repo, cid, snap, target);
  g_test_message ("restore: %.1f s", g_test_timer_elapsed ());
  copy = fixture_restored (target, path);
  g_assert_cmpint (stat (copy, &st), ==, 0);
  g_assert_cmpuint (st.st_size, ==, size);
  /* Holes stay holes: far less than the size is allocated. */
  g_assert_cmpuint ((guint64) st.st_blocks * 512, <, 64 * MiB);
  compare_sparse_files (path, copy);
}

/* ---- holes of a sparse file ---- */

/* The (offset, length) holes of a file as SEEK_DATA/SEEK_HOLE report them. */
static GArray *
file_holes (const char *path)
{
  GArray *holes = g_array_new (FALSE, FALSE, sizeof (guint64));
  int fd = open (path, O_RDONLY);
  struct stat st;
  off_t pos = 0;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  while (pos < st.st_size)
    {
      off_t data = lseek (fd, pos, SEEK_DATA);
      guint64 pair[2];

      if (data < 0)
        data = st.st_size;
      if (data > pos)
        {
          pair[0] = pos;
          pair[1] = data - pos;
          g_array_append_vals (holes, pair, 2);
        }
      if (data >= st.st_size)
        break;
      pos = lseek (fd, data, SEEK_HOLE);
    }
  close (fd);
  return holes;
}

static void
assert_same_holes (GArray *a, GArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    g_assert_cmpuint (g_array_index (a, guint64, i), ==, g_array_index (b, guint64, i));
}

/* A file with a real hole inside its first chunk (next to data) and an
 * allocated run of zeros: the snapshot records the hole, and the restore
 * brings back the hole where it was and the written zeros as written
 * zeros. Also after an unchanged backup that took the content from the
 * files cache. */
static void
test_holes (Fixture *f, gconstpointer data)
{
  const gsize K = 1024;
  g_autofree char *path = child (f->src, "vm.img");
  g_autofree char *cid = NULL;
  g_autoptr(GArray) holes = NULL;
  g_autofree guint8 *block = g_malloc (256 * K);
  g_autofree guint8 *zeros = g_malloc0 (256 * K);
  int fd;

  memset (block, 'x', 256 * K);
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 2048 * K), ==, 0);
  g_assert_cmpint (pwrite (fd, block, 256 * K, 0), ==, (gssize) (256 * K));           /* data */
  /* [256 K, 768 K): a hole */
  g_assert_cmpint (pwrite (fd, block, 256 * K, 768 * K), ==, (gssize) (256 * K));     /* data */
  g_assert_cmpint (pwrite (fd, zeros, 256 * K, 1024 * K), ==, (gssize) (256 * K));    /* written zeros */
  g_assert_cmpint (pwrite (fd, block, 256 * K, 1280 * K), ==, (gssize) (256 * K));    /* data */
  /* [1536 K, 2048 K): a hole up to the end */
  g_assert_cmpint (fsync (fd), ==, 0);
  close (fd);
  holes = file_holes (path);
  /* This test needs a file system with holes (ext4, xfs, btrfs, tmpfs). */
  g_assert_cmpuint (holes->len, ==, 4);
  g_assert_cmpuint (g_array_index (holes, guint64, 0), ==, 256 * K);
  g_assert_cmpuint (g_array_index (holes, guint64, 1), ==, 512 * K);

  cid = fixture_add_category (f->repo, "Disk images", COFFER_LEVEL_STANDARD, f->src);
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(CofferSnapshot) snap = fixture_backup (f->repo, cid);
      g_autofree char *target = fixture_dir (round == 0 ? "restore-holes" : "restore-holes-cached");
      g_autofree char *copy = fixture_restored (target, path);
      g_autofree char *dir = g_path_get_dirname (path);
      g_autoptr(GPtrArray) entries = NULL;
      g_autoptr(GArray) restored = NULL;
      g_autoptr(GError) error = NULL;
      const CofferTreeEntry *e = NULL;

      entries = coffer_repository_list_dir (f->repo, cid, snap, dir, NULL, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < entries->len; i++)
        if (strcmp (((CofferTreeEntry *) g_ptr_array_index (entries, i))->name, "vm.img") == 0)
          e = g_ptr_array_index (entries, i);
      g_assert_nonnull (e);
      g_assert_nonnull (e->holes);
      assert_same_holes (holes, e->holes);

      fixture_restore (f->repo, cid, snap, target);
      restored = file_holes (copy);
      assert_same_holes (holes, restored);
      compare_sparse_files (path, copy);
    }
}

/* ---- hard links ---- */

static void
assert_same_inode (const char *a, const char *b, gboolean same)
{
  struct stat sa, sb;

  g_assert_cmpint (stat (a, &sa), ==, 0);
  g_assert_cmpint (stat (b, &sb), ==, 0);
  if (same)
    g_assert_cmpuint (sa.st_ino, ==, sb.st_ino);
  else
    g_assert_cmpuint (sa.st_ino, !=, sb.st_ino);
}

/* Three names of one file (two folders) come back as three names of one
 * file; a copy with the same bytes stays a file of its own; restoring one
 * name alone gives a complete file. */
static void
test_hard_links (Fixture *f, gconstpointer data)
{
  g_autofree char *a = child (f->src, "a.txt");
  g_autofree char *sub = child (f->src, "sub");
  g_autofree char *b = g_build_filename (sub, "b.txt", NULL);
  g_autofree char *c = child (f->src, "c.txt");
  g_autofree char *d = child (f->src, "d.txt");
  g_autofree char *target = fixture_dir ("restore-links");
  g_autofree char *one = fixture_dir ("restore-one-link");
  g_autofree char *cid = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  struct stat st;

  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  coffer_test_write_random (a, 300 * 1024, 41);
  g_assert_cmpint (link (a, b), ==, 0);
  g_assert_cmpint (link (a, c), ==, 0);
  coffer_test_write_random (d, 300 * 1024, 41);
  cid = fixture_add_category (f->repo, "Documents", COFFER_LEVEL_STANDARD, f->src);
  snap = fixture_backup (f->repo, cid);

  fixture_restore (f->repo, cid, snap, target);
  {
    g_autofree char *ra = fixture_restored (target, a);
    g_autofree char *rb = fixture_restored (target, b);
    g_autofree char *rc = fixture_restored (target, c);
    g_autofree char *rd = fixture_restored (target, d);
    g_autofree char *rsrc = fixture_restored (target, f->src);

    coffer_test_assert_same_tree (f->src, rsrc, TRUE);
    assert_same_inode (ra, rb, TRUE);
    assert_same_inode (ra, rc, TRUE);
    assert_same_inode (ra, rd, FALSE);
    g_assert_cmpint (stat (ra, &st), ==, 0);
    g_assert_cmpuint (st.st_nlink, ==, 3);
  }

  /* One name of the group alone. */
  {
    const char *paths[] = { b, NULL };
    g_autofree char *rb = fixture_restored (one, b);
    g_autofree char *ra = fixture_restored (one, a);

    g_assert_true (coffer_restore_run (f->repo, cid, snap, paths, one, COFFER_RESTORE_DEFAULT, NULL, NULL,
                                       &conflicts, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (stat (rb, &st), ==, 0);
    g_assert_cmpuint (st.st_size, ==, 300 * 1024);
    g_assert_cmpuint (st.st_nlink, ==, 1);
    g_assert_false (g_file_test (ra, G_FILE_TEST_EXISTS));
  }
}

/* ---- files cache ---- */

static guint64
read_chars (void)
{
  g_autofree char *io = NULL;
  const char *p;

  g_assert_true (g_file_get_contents ("/proc/self/io", &io, NULL, NULL));
  p = strstr (io, "rchar: ");
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + 7, NULL, 10);
}

static void
test_files_cache (Fixture *f, gconstpointer data)
{
  g_autofree char *cid = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL, s2 = NULL, s3 = NULL;
  guint64 total, r0, r1, r2;
  g_autofree char *changed = NULL;

  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *name = g_strdup_printf ("file-%u", i);
      g_autofree char *path = child (f->src, name);
      coffer_test_write_random (path, 4 * MiB + i, 500 + i);
      /* Older than the scan start, so the cache trusts them. */
      set_mtime (path, 1600000000 + i, 0);
    }
  total = fixture_tree_bytes (f->src);
  cid = fixture_add_category (f->repo, "Cache", COFFER_LEVEL_STANDARD, f->src);

  r0 = read_chars ();
  s1 = fixture_backup (f->repo, cid);
  r1 = read_chars ();
  g_assert_cmpuint (r1 - r0, >=, total);
  g_assert_cmpuint (s1->added_bytes, >=, total * 9 / 10);

  /* Nothing changed: nothing is read, nothing is uploaded. */
  s2 = fixture_backup (f->repo, cid);
  r2 = read_chars ();
  g_test_message ("first backup read %" G_GUINT64_FORMAT " bytes, second %" G_GUINT64_FORMAT,
                  r1 - r0, r2 - r1);
  g_assert_cmpuint (r2 - r1, <, total / 8);
  g_assert_cmpuint (s2->added_bytes, ==, 0);
  g_assert_cmpuint (s2->bytes, ==, total);
  g_assert_cmpmem (s2->tree, COFFER_ID_BYTES, s1->tree, COFFER_ID_BYTES);
  g_assert_cmpstr (s2->parent, ==, s1->id);
  g_assert_cmpuint (s2->seq, ==, s1->seq + 1);

  /* One changed file is read again, and only it. */
  changed = child (f->src, "file-3");
  coffer_test_write_random (changed, 4 * MiB + 3, 777);
  set_mtime (changed, 1700000000, 0);
  r1 = read_chars ();
  s3 = fixture_backup (f->repo, cid);
  r2 = read_chars ();
  g_assert_cmpuint (r2 - r1, >=, 4 * MiB);
  g_assert_cmpuint (r2 - r1, <, 4 * MiB + total / 8);
  g_assert_cmpuint (s3->added_bytes, >, 4 * MiB);
  {
    g_autofree char *target = fixture_dir ("restore");
    g_autofree char *copy = fixture_restored (target, f->src);
    fixture_restore (f->repo, cid, s3, target);
    coffer_test_assert_same_tree (f->src, copy, TRUE);
  }
}

/* ---- skipped paths ---- */

static void
test_skipped (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = child (fixture_root (), "no-such-folder");
  /* A file even root cannot read: /proc/<pid>/mem is a regular file whose
   * read at offset 0 fails with EIO (address 0 is never mapped). */
  g_autofree char *unreadable = g_strdup_printf ("/proc/%d/mem", (int) getpid ());
  const char *paths[] = { f->src, missing, unreadable, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferCategory) cat = NULL;
  g_autoptr(GPtrArray) skipped = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  gboolean saw_missing = FALSE, saw_unreadable = FALSE;
  struct stat st;

  g_assert_cmpint (lstat (unreadable, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  fixture_make_small_tree (f->src, 3);
  cat = coffer_repository_add_category (f->repo, "Skips", COFFER_LEVEL_STANDARD, paths, NULL, NULL, &error);
  g_assert_no_error (error);

  snap = coffer_backup_run (f->repo, cat->id, NULL, NULL, &skipped, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (snap);
  g_assert_true (snap->partial);
  g_assert_cmpuint (snap->skipped, ==, 2);
  g_assert_cmpuint (skipped->len, ==, 2);
  for (guint i = 0; i < skipped->len; i++)
    {
      const char *s = g_ptr_array_index (skipped, i);
      g_test_message ("skipped: %s", s);
      if (g_str_has_prefix (s, missing) && strlen (s) > strlen (missing) + 2)
        saw_missing = TRUE;
      if (g_str_has_prefix (s, unreadable) && strlen (s) > strlen (unreadable) + 2)
        saw_unreadable = TRUE;
    }
  g_assert_true (saw_missing);
  g_assert_true (saw_unreadable);

  /* The partial snapshot is listed as such and restores what was read. */
  {
    g_autoptr(CofferSnapshot) latest = coffer_repository_find_snapshot (f->repo, cat->id, "latest", NULL, &error);
    g_autofree char *target = fixture_dir ("restore");
    g_autofree char *copy = fixture_restored (target, f->src);
    g_autofree char *proc = child (target, "proc");

    g_assert_no_error (error);
    g_assert_true (latest->partial);
    fixture_restore (f->repo, cat->id, latest, target);
    coffer_test_assert_same_tree (f->src, copy, TRUE);
    /* The file that could not be read is not in the snapshot: its folder
     * holds nothing. */
    if (g_file_test (proc, G_FILE_TEST_EXISTS))
      {
        g_autofree char *mem = g_strdup_printf ("%s/proc/%d/mem", target, (int) getpid ());
        g_assert_false (g_file_test (mem, G_FILE_TEST_EXISTS));
      }
  }
}

/* ---- restore: newer files, selected paths ---- */

static void
test_restore_newer (Fixture *f, gconstpointer data)
{
  g_autofree char *cid = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autofree char *target = fixture_dir ("restore");
  g_autofree char *copy = NULL, *one = NULL, *two = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autofree char *contents = NULL;
  gint64 future = g_get_real_time () / G_USEC_PER_SEC + 3600;

  fixture_make_small_tree (f->src, 11);
  cid = fixture_add_category (f->repo, "Docs", COFFER_LEVEL_STANDARD, f->src);
  snap = fixture_backup (f->repo, cid);
  fixture_restore (f->repo, cid, snap, target);
  copy = fixture_restored (target, f->src);
  one = child (copy, "one.txt");
  two = g_build_filename (copy, "a", "b", "two.bin", NULL);

  /* The user edited one.txt after the backup, and deleted two.bin. */
  g_assert_true (g_file_set_contents (one, "my newer edit\n", -1, NULL));
  set_mtime (one, future, 0);
  g_assert_cmpint (g_unlink (two), ==, 0);

  g_assert_false (coffer_restore_run (f->repo, cid, snap, NULL, target, COFFER_RESTORE_DEFAULT, NULL, NULL,
                                      &conflicts, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEWER_FILE);
  g_clear_error (&error);
  g_assert_cmpuint (conflicts->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (conflicts, 0), "one.txt"));
  g_assert_true (g_file_get_contents (one, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "my newer edit\n");
  g_clear_pointer (&contents, g_free);
  /* Everything else was restored anyway. */
  g_assert_true (g_file_test (two, G_FILE_TEST_IS_REGULAR));
  g_clear_pointer (&conflicts, g_ptr_array_unref);

  /* A dry run changes nothing. */
  g_assert_cmpint (g_unlink (two), ==, 0);
  coffer_restore_run (f->repo, cid, snap, NULL, target, COFFER_RESTORE_DRY_RUN | COFFER_RESTORE_OVERWRITE,
                      NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (two, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_get_contents (one, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "my newer edit\n");
  g_clear_pointer (&contents, g_free);

  /* Asked to overwrite, it does. */
  g_assert_true (coffer_restore_run (f->repo, cid, snap, NULL, target, COFFER_RESTORE_OVERWRITE, NULL, NULL,
                                     &conflicts, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (conflicts->len, ==, 0);
  coffer_test_assert_same_tree (f->src, copy, TRUE);
}

static void
test_restore_selected (Fixture *f, gconstpointer data)
{
  g_autofree char *cid = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autofree char *target = fixture_dir ("restore");
  g_autofree char *file = NULL, *folder = NULL, *copy = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *other = fixture_dir ("src/other");
  g_autofree char *other_file = child (other, "not wanted");

  fixture_make_small_tree (f->src, 5);
  g_assert_true (g_file_set_contents (other_file, "not selected\n", -1, NULL));
  cid = fixture_add_category (f->repo, "Docs", COFFER_LEVEL_STANDARD, f->src);
  snap = fixture_backup (f->repo, cid);
  file = child (f->src, "one.txt");
  folder = g_build_filename (f->src, "a", "b", NULL);
  {
    g_autofree char *folder_slash = g_strconcat (folder, "/", NULL);
    const char *paths[] = { file, folder_slash, NULL };
    g_assert_true (coffer_restore_run (f->repo, cid, snap, paths, target, COFFER_RESTORE_DEFAULT, NULL, NULL,
                                       NULL, NULL, &error));
    g_assert_no_error (error);
  }
  copy = fixture_restored (target, f->src);
  {
    g_autofree char *c_file = child (copy, "one.txt");
    g_autofree char *c_folder = g_build_filename (copy, "a", "b", NULL);
    g_autofree char *c_other = child (copy, "other");
    g_autofree char *c_empty = g_build_filename (copy, "a", "empty", NULL);
    g_autofree char *c_link = g_build_filename (copy, "a", "link", NULL);

    coffer_test_assert_same_tree (file, c_file, TRUE);
    coffer_test_assert_same_tree (folder, c_folder, TRUE);
    g_assert_false (g_file_test (c_other, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (c_empty, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (c_link, G_FILE_TEST_EXISTS) || g_file_test (c_link, G_FILE_TEST_IS_SYMLINK));
  }
}

/* ---- one backup per category at a time ---- */

typedef struct
{
  const char *store_dir;
  const char *cid;
  gboolean    tried;
  GError     *error;
} Busy;

static void
busy_progress (const CofferProgress *progress, gpointer user_data)
{
  Busy *busy = user_data;
  g_auto(FixtureRepository) second = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autoptr(GError) error = NULL;

  if (busy->tried)
    return;
  busy->tried = TRUE;
  /* While the first backup runs, a second one (another repository object,
   * as a second app instance would have) must be refused. */
  second = fixture_open (busy->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
  snap = coffer_backup_run (second, busy->cid, NULL, NULL, NULL, NULL, &busy->error);
  g_assert_null (snap);
}

static void
test_busy (Fixture *f, gconstpointer data)
{
  g_autofree char *cid = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autoptr(GError) error = NULL;
  Busy busy = { f->store_dir, NULL, FALSE, NULL };

  fixture_make_small_tree (f->src, 1);
  cid = fixture_add_category (f->repo, "Docs", COFFER_LEVEL_STANDARD, f->src);
  busy.cid = cid;
  snap = coffer_backup_run (f->repo, cid, busy_progress, &busy, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (snap);
  g_assert_true (busy.tried);
  g_assert_error (busy.error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_BUSY);
  g_assert_cmpstr (busy.error->message, !=, "");
  g_clear_error (&busy.error);

  /* Once it has finished, the next one runs. */
  g_clear_pointer (&snap, coffer_snapshot_free);
  snap = fixture_backup (f->repo, cid);
  g_assert_nonnull (snap);
}

/* ---- forget and prune ---- */

static guint64
store_bytes (const char *store_dir, const char *prefix)
{
  g_autoptr(GPtrArray) names = fixture_list_objects (store_dir, prefix);
  guint64 total = 0;

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = child (store_dir, g_ptr_array_index (names, i));
      struct stat st;
      g_assert_cmpint (stat (path, &st), ==, 0);
      total += st.st_size;
    }
  return total;
}

static void
test_forget_prune (Fixture *f, gconstpointer data)
{
  g_autofree char *cid = NULL;
  g_autofree char *packs = NULL;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GPtrArray) forgotten = NULL;
  g_autoptr(GError) error = NULL;
  CofferRetention keep_none = { 0 };
  CofferRetention keep_last = { .keep_last = 1 };
  guint64 before, after, deleted = 0;
  g_autoptr(CofferSnapshot) last = NULL;

  cid = fixture_add_category (f->repo, "Rotating", COFFER_LEVEL_STANDARD, f->src);
  packs = g_strdup_printf ("categories/%s/packs/", cid);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("generation-%u", i);
      g_autofree char *prev = g_strdup_printf ("generation-%u", i - 1);
      g_autofree char *path = child (f->src, name);
      g_autofree char *prev_path = child (f->src, prev);
      g_autoptr(CofferSnapshot) s = NULL;

      coffer_test_write_random (path, 6 * MiB, 900 + i);
      if (i > 0)
        g_unlink (prev_path);
      s = fixture_backup (f->repo, cid);
    }
  before = store_bytes (f->store_dir, packs);
  g_assert_cmpuint (before, >=, 18 * MiB);

  /* A policy that keeps nothing is refused. */
  g_assert_false (coffer_forget_run (f->repo, cid, &keep_none, FALSE, NULL, NULL, &error));
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (coffer_forget_run (f->repo, cid, &keep_last, FALSE, &forgotten, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (forgotten->len, ==, 2);
  snaps = coffer_repository_list_snapshots (f->repo, cid, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (snaps->len, ==, 1);

  g_assert_true (coffer_prune_run (f->repo, cid, 0, NULL, NULL, &deleted, NULL, &error));
  g_assert_no_error (error);
  after = store_bytes (f->store_dir, packs);
  g_test_message ("packs: %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " bytes, deleted %" G_GUINT64_FORMAT,
                  before, after, deleted);
  g_assert_cmpuint (deleted, >=, 12 * MiB);
  g_assert_cmpuint (after, <, 8 * MiB);
  g_assert_cmpuint (before - after, ==, deleted);

  fixture_assert_check_clean (f->repo, cid, 100);
  last = coffer_repository_find_snapshot (f->repo, cid, "latest", NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *target = fixture_dir ("restore");
    g_autofree char *copy = fixture_restored (target, f->src);
    fixture_restore (f->repo, cid, last, target);
    coffer_test_assert_same_tree (f->src, copy, TRUE);
  }
  /* A second prune has nothing left to do, and a new computer agrees. */
  g_assert_true (coffer_prune_run (f->repo, cid, 0, NULL, NULL, &deleted, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (deleted, ==, 0);
  {
    g_auto(FixtureRepository) repo = NULL;
    fixture_fresh_computer ();
    repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
    g_assert_no_error (error);
    fixture_assert_check_clean (repo, cid, 100);
  }
}

/* ---- several categories in one run (the app's scheduled backup) ---- */

/* Records "before:ID" and "after:ID" as coffer_backup_categories_run calls. */
static void
each_category_cb (const char *category_id, const CofferCategoryBackup *backup, gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup_printf ("%s:%s", backup ? "after" : "before", category_id));
  if (backup != NULL)
    g_assert_cmpstr (backup->category_id, ==, category_id);
}

static void
test_categories_run (Fixture *f, gconstpointer data)
{
  g_autofree char *other_src = fixture_dir ("src-other");
  g_autofree char *a = NULL, *b = NULL;
  g_autoptr(GHashTable) excludes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                          (GDestroyNotify) g_strfreev);
  const char *skip[] = { "*.skip", NULL };
  CofferRetention keep_last = { .keep_last = 1 };
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GError) error = NULL;

  fixture_make_small_tree (f->src, 71);
  fixture_make_small_tree (other_src, 72);
  a = fixture_add_category (f->repo, "First", COFFER_LEVEL_STANDARD, f->src);
  b = fixture_add_category (f->repo, "Second", COFFER_LEVEL_STANDARD, other_src);
  g_hash_table_insert (excludes, g_strdup (a), g_strdupv ((char **) skip));

  for (guint run = 0; run < 2; run++)
    {
      const char *ids[] = { a, "0000000000000000", b, NULL };

      g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);

      g_clear_pointer (&results, g_ptr_array_unref);
      g_assert_true (coffer_backup_categories_run (f->repo, ids, excludes, &keep_last, NULL, NULL,
                                                   each_category_cb, seen, &results, NULL, &error));
      g_assert_no_error (error);
      /* Before and after each category, in order. */
      g_assert_cmpuint (seen->len, ==, 6);
      for (guint i = 0; i < 3; i++)
        {
          g_autofree char *before = g_strdup_printf ("before:%s", ids[i]);
          g_autofree char *after = g_strdup_printf ("after:%s", ids[i]);

          g_assert_cmpstr (g_ptr_array_index (seen, 2 * i), ==, before);
          g_assert_cmpstr (g_ptr_array_index (seen, 2 * i + 1), ==, after);
        }
      /* One result per category, in order; the failing one does not stop
       * the one after it. */
      g_assert_cmpuint (results->len, ==, 3);
      for (guint i = 0; i < 3; i++)
        {
          const CofferCategoryBackup *r = g_ptr_array_index (results, i);

          g_assert_cmpstr (r->category_id, ==, ids[i]);
          g_assert_true ((r->snapshot == NULL) == (i == 1));
          g_assert_true ((r->error != NULL) == (i == 1));
          g_assert_null (r->forget_error);
        }
    }
  /* The exclude patterns were stored, and retention kept one backup each. */
  {
    g_autoptr(CofferCategory) first = coffer_repository_find_category (f->repo, a, NULL, &error);
    g_autoptr(GPtrArray) snaps_a = coffer_repository_list_snapshots (f->repo, a, NULL, &error);
    g_autoptr(GPtrArray) snaps_b = coffer_repository_list_snapshots (f->repo, b, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstrv (first->excludes, skip);
    g_assert_cmpuint (snaps_a->len, ==, 1);
    g_assert_cmpuint (snaps_b->len, ==, 1);
  }

  /* Cancelled: FALSE, no results. */
  g_clear_pointer (&results, g_ptr_array_unref);
  g_cancellable_cancel (cancelled);
  {
    const char *ids[] = { a, b, NULL };

    g_assert_false (coffer_backup_categories_run (f->repo, ids, NULL, NULL, NULL, NULL, NULL, NULL, &results,
                                                  cancelled, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_null (results);
  }
  coffer_test_rmtree (other_src);
}

static void
test_prune_repack (Fixture *f, gconstpointer data)
{
  g_autofree char *cid = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *big = child (f->src, "big");
  g_autofree char *small = child (f->src, "small");
  g_autoptr(GPtrArray) packs_before = NULL, packs_after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSnapshot) s1 = NULL, s2 = NULL;
  CofferRetention keep_last = { .keep_last = 1 };
  guint64 deleted = 0;
  guint shared = 0;

  /* Both files land in one data pack (below the 16 MiB pack size). */
  coffer_test_write_random (big, 12 * MiB, 1);
  coffer_test_write_random (small, 1 * MiB + 333, 2);
  cid = fixture_add_category (f->repo, "Repack", COFFER_LEVEL_STANDARD, f->src);
  prefix = g_strdup_printf ("categories/%s/packs/", cid);
  s1 = fixture_backup (f->repo, cid);
  g_unlink (big);
  s2 = fixture_backup (f->repo, cid);
  g_assert_true (coffer_forget_run (f->repo, cid, &keep_last, FALSE, NULL, NULL, &error));
  g_assert_no_error (error);
  packs_before = fixture_list_objects (f->store_dir, prefix);
  g_assert_true (coffer_prune_run (f->repo, cid, 0, NULL, NULL, &deleted, NULL, &error));
  g_assert_no_error (error);
  packs_after = fixture_list_objects (f->store_dir, prefix);

  /* The mostly-unused pack was rewritten: gone, and the live small file
   * now lives in a new pack. */
  g_assert_cmpuint (deleted, >=, 11 * MiB);
  for (guint i = 0; i < packs_after->len; i++)
    for (guint j = 0; j < packs_before->len; j++)
      if (g_strcmp0 (g_ptr_array_index (packs_after, i), g_ptr_array_index (packs_before, j)) == 0)
        shared++;
  g_assert_cmpuint (shared, <, packs_before->len);
  g_assert_cmpuint (store_bytes (f->store_dir, prefix), <, 3 * MiB);

  fixture_assert_check_clean (f->repo, cid, 100);
  {
    g_auto(FixtureRepository) repo = NULL;
    g_autofree char *target = fixture_dir ("restore");
    g_autofree char *copy = fixture_restored (target, f->src);

    fixture_fresh_computer ();
    repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
    g_assert_no_error (error);
    fixture_assert_check_clean (repo, cid, 100);
    fixture_restore (repo, cid, s2, target);
    coffer_test_assert_same_tree (f->src, copy, TRUE);
    /* And the next backup after the prune still works. */
    {
      g_autoptr(CofferSnapshot) s3 = NULL;
      coffer_test_write_random (big, 2 * MiB, 3);
      s3 = fixture_backup (repo, cid);
      fixture_assert_check_clean (repo, cid, 100);
    }
  }
}

/* ---- the local index cache across runs ---- */

static void
reopen (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  fixture_close (&f->repo);
  f->repo = fixture_open (f->store_dir, PASSWORD, NULL, &error);
  g_assert_no_error (error);
}

/* Each run after the first loads the index from this computer's cache plus
 * the index objects added since; after a prune (objects removed and
 * superseded) it is rebuilt. A file whose blobs the prune deleted, backed
 * up again, must be uploaded again, not found in a stale index. */
static void
test_index_cache (Fixture *f, gconstpointer data)
{
  g_autofree char *cid = NULL;
  g_autofree char *gen0 = child (f->src, "generation-0");
  g_autoptr(GPtrArray) forgotten = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSnapshot) last = NULL;
  CofferRetention keep_last = { .keep_last = 1 };
  guint64 deleted = 0;

  cid = fixture_add_category (f->repo, "Cached", COFFER_LEVEL_STANDARD, f->src);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("generation-%u", i);
      g_autofree char *prev = g_strdup_printf ("generation-%u", i - 1);
      g_autofree char *path = child (f->src, name);
      g_autofree char *prev_path = child (f->src, prev);
      g_autoptr(CofferSnapshot) s = NULL;

      coffer_test_write_random (path, 2 * MiB, 700 + i);
      if (i > 0)
        g_unlink (prev_path);
      s = fixture_backup (f->repo, cid);
      g_assert_cmpuint (s->added_bytes, >, MiB);
      reopen (f);
    }
  g_assert_true (coffer_forget_run (f->repo, cid, &keep_last, FALSE, &forgotten, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (coffer_prune_run (f->repo, cid, 0, NULL, NULL, &deleted, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (deleted, >=, 2 * MiB);
  reopen (f);

  /* generation-0 again: its blobs were pruned. */
  coffer_test_write_random (gen0, 2 * MiB, 700);
  last = fixture_backup (f->repo, cid);
  g_assert_cmpuint (last->added_bytes, >, MiB);
  reopen (f);
  fixture_assert_check_clean (f->repo, cid, 100);
  {
    g_autofree char *target = fixture_dir ("restore");
    g_autofree char *copy = fixture_restored (target, f->src);
    fixture_restore (f->repo, cid, last, target);
    coffer_test_assert_same_tree (f->src, copy, TRUE);
  }
}

/* ---- repository and restore folders on other file systems ---- */

/* Names below dir starting with prefix (left-overs of a restore). */
static guint
count_prefixed (const char *dir, const char *prefix)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, prefix))
      n++;
  return n;
}

/* Every folder below src has the same modification time in copy (the end
 * of a restore must not leave a trace in any of them). */
static void
assert_folder_times (const char *src, const char *copy)
{
  g_autoptr(GDir) d = g_dir_open (src, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  assert_same_mtime_ns (src, copy);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *a = child (src, name);
      g_autofree char *b = child (copy, name);

      if (g_file_test (a, G_FILE_TEST_IS_DIR) && !g_file_test (a, G_FILE_TEST_IS_SYMLINK))
        assert_folder_times (a, b);
    }
}

/* The repository on tmpfs (/dev/shm) while the data, the restore folder and
 * the working folder are elsewhere, and the other way round: the packs and
 * index objects are made durable file by file (no syncfs of whichever file
 * system the working folder is on), and so is every restored file, more
 * of them than one batch of the restore's syncing. */
static void
test_other_filesystems (Fixture *f, gconstpointer data)
{
  g_autofree char *shm = NULL;
  g_autofree char *shm_store = NULL;
  g_autofree char *shm_target = NULL;
  g_autofree char *target = fixture_dir ("restore-elsewhere");
  g_autofree char *many = child (f->src, "many");
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *cid = NULL;
  g_autofree char *cid2 = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autoptr(CofferSnapshot) snap2 = NULL;
  CofferRepository *repo;
  CofferSecret *rk = NULL;

  shm = g_strdup ("/dev/shm/coffer-test-XXXXXX");
  /* /dev/shm is a tmpfs on every Linux system the tests run on (Debian,
   * CI as root): a second file system is what this test is about, so its
   * absence is a failure, not a reason to skip. */
  if (g_mkdtemp (shm) == NULL)
    g_error ("cannot make a folder in /dev/shm: %s", g_strerror (errno));
  shm_store = g_build_filename (shm, "store", NULL);
  shm_target = g_build_filename (shm, "restore", NULL);

  fixture_make_small_tree (f->src, 7);
  g_assert_cmpint (g_mkdir_with_parents (many, 0755), ==, 0);
  for (guint i = 0; i < 700; i++)
    {
      g_autofree char *name = g_strdup_printf ("file-%04u", i);
      g_autofree char *path = child (many, name);
      coffer_test_write_random (path, 100 + i * 7, i);
    }

  /* Repository on tmpfs, working folder on the data's file system. */
  g_assert_cmpint (chdir (f->src), ==, 0);
  repo = fixture_create (shm_store, PASSWORD, &rk);
  coffer_secret_free (rk);
  cid = fixture_add_category (repo, "Elsewhere", COFFER_LEVEL_STANDARD, f->src);
  snap = fixture_backup (repo, cid);
  g_assert_cmpuint (snap->files, ==, 703);
  fixture_restore (repo, cid, snap, target);
  {
    g_autofree char *copy = fixture_restored (target, f->src);
    coffer_test_assert_same_tree (f->src, copy, TRUE);
    assert_folder_times (f->src, copy);
    g_assert_cmpuint (count_prefixed (target, ".coffer-restore"), ==, 0);
    g_assert_cmpuint (count_prefixed (copy, ".coffer-restore"), ==, 0);
  }

  /* Restored onto tmpfs, working folder there too. */
  g_assert_cmpint (g_mkdir_with_parents (shm_target, 0700), ==, 0);
  g_assert_cmpint (chdir (shm), ==, 0);
  fixture_restore (repo, cid, snap, shm_target);
  {
    g_autofree char *copy = fixture_restored (shm_target, f->src);
    coffer_test_assert_same_tree (f->src, copy, TRUE);
  }
  fixture_assert_check_clean (repo, cid, 100);
  fixture_close (&repo);

  /* The fixture's repository (not on tmpfs) while the working folder is. */
  cid2 = fixture_add_category (f->repo, "Here", COFFER_LEVEL_STANDARD, f->src);
  snap2 = fixture_backup (f->repo, cid2);
  g_assert_cmpuint (snap2->files, ==, 703);

  g_assert_cmpint (chdir (cwd), ==, 0);
  coffer_test_rmtree (shm);
}

/* Checkpoints (an index object every CHECKPOINT_PACKS packs, here every
 * pack) are written by the pack sink's own thread while the walk goes on:
 * the run writes several index objects, all before its snapshot, and the
 * repository checks clean and restores. 80 files of 1 MiB: the walk can
 * hand over the last ones only after three 12 MiB packs were filled, and
 * the third waited for one to land, so a checkpoint is due while it
 * walks. */
static void
test_checkpoints (Fixture *f, gconstpointer data)
{
  g_autofree char *cid = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autofree char *target = fixture_dir ("restore");
  g_autofree char *index_dir = NULL;
  g_autofree char *snap_dir = NULL;
  g_autoptr(GDir) d = NULL;
  const char *name;
  struct timespec newest_index = { 0, 0 }, oldest_snapshot = { G_MAXINT64, 0 };
  guint n_index = 0;

  for (guint i = 0; i < 80; i++)
    {
      g_autofree char *file = g_strdup_printf ("photo-%02u.jpg", i);
      g_autofree char *path = child (f->src, file);
      coffer_test_write_random (path, MiB, 7000 + i);
    }
  cid = fixture_add_category (f->repo, "Photos", COFFER_LEVEL_STANDARD, f->src);
  g_setenv ("COFFER_TEST_CHECKPOINT_PACKS", "1", TRUE);
  snap = fixture_backup (f->repo, cid);
  g_unsetenv ("COFFER_TEST_CHECKPOINT_PACKS");
  g_assert_cmpuint (snap->files, ==, 80);

  index_dir = g_build_filename (f->store_dir, "categories", cid, "index", NULL);
  snap_dir = g_build_filename (f->store_dir, "categories", cid, "snapshots", NULL);
  d = g_dir_open (index_dir, 0, NULL);
  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = child (index_dir, name);
      struct stat st;

      g_assert_cmpint (stat (path, &st), ==, 0);
      n_index++;
      if (st.st_mtim.tv_sec > newest_index.tv_sec
          || (st.st_mtim.tv_sec == newest_index.tv_sec && st.st_mtim.tv_nsec > newest_index.tv_nsec))
        newest_index = st.st_mtim;
    }
  g_clear_pointer (&d, g_dir_close);
  /* At least one checkpoint during the walk, and the final one. */
  g_assert_cmpuint (n_index, >=, 2);
  d = g_dir_open (snap_dir, 0, NULL);
  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = child (snap_dir, name);
      struct stat st;

      g_assert_cmpint (stat (path, &st), ==, 0);
      if (st.st_mtim.tv_sec < oldest_snapshot.tv_sec
          || (st.st_mtim.tv_sec == oldest_snapshot.tv_sec && st.st_mtim.tv_nsec < oldest_snapshot.tv_nsec))
        oldest_snapshot = st.st_mtim;
    }
  g_assert_cmpint (oldest_snapshot.tv_sec, <, G_MAXINT64);
  g_assert_true (newest_index.tv_sec < oldest_snapshot.tv_sec
                 || (newest_index.tv_sec == oldest_snapshot.tv_sec
                     && newest_index.tv_nsec <= oldest_snapshot.tv_nsec));

  fixture_assert_check_clean (f->repo, cid, 100);
  fixture_restore (f->repo, cid, snap, target);
  {
    g_autofree char *copy = fixture_restored (target, f->src);
    coffer_test_assert_same_tree (f->src, copy, TRUE);
  }
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);

#define ADD(path, func) g_test_add (path, Fixture, NULL, setup, func, teardown)
  ADD ("/backup/round-trip", test_round_trip);
  ADD ("/backup/sparse", test_sparse);
  ADD ("/backup/holes", test_holes);
  ADD ("/backup/hard-links", test_hard_links);
  ADD ("/backup/files-cache", test_files_cache);
  ADD ("/backup/skipped", test_skipped);
  ADD ("/backup/restore-newer", test_restore_newer);
  ADD ("/backup/restore-selected", test_restore_selected);
  ADD ("/backup/busy", test_busy);
  ADD ("/backup/forget-prune", test_forget_prune);
  ADD ("/backup/categories-run", test_categories_run);
  ADD ("/backup/prune-repack", test_prune_repack);
  ADD ("/backup/other-filesystems", test_other_filesystems);
  ADD ("/backup/index-cache", test_index_cache);
  ADD ("/backup/checkpoints", test_checkpoints);
#undef ADD
  return g_test_run ();
}
