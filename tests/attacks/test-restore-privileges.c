/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Attack: a snapshot that grants privileges when restored. Anyone who ever
 * held a category's keys (a removed device keeps them) can write a snapshot
 * that Coffer accepts as authentic. If restoring it, as root, to the
 * original place wrote what the snapshot says, it would plant a setuid
 * binary, a file capability (security.capability), a device node that opens
 * the raw hardware, or a FIFO that hangs whoever opens it.
 *
 * The hostile snapshot is made the way such a device would make it: by
 * backing up a tree that holds those things. The restore must drop the
 * setuid/setgid/sticky bits, skip security.* and trusted.* attributes and
 * create no device node or FIFO, and it must say how many entries it
 * withheld; with COFFER_RESTORE_KEEP_PRIVILEGES (coffer restore
 * --keep-privileges) it restores them.
 *
 * As root every part is asserted. A user cannot set security.* attributes
 * or create device nodes, so without root the test asserts what a user's
 * restore could still be tricked into: setuid/setgid/sticky bits and FIFOs,
 * and the withheld count. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "repo-fixture.h"

#define PASSWORD "correct horse battery staple"

/* A version 2 file capability granting CAP_NET_RAW (bit 13), effective:
 * struct vfs_cap_data { le32 magic_etc; { le32 permitted, inheritable }[2] }. */
static const guint8 capability[20] = {
  0x01, 0x00, 0x00, 0x02,  /* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE */
  0x00, 0x20, 0x00, 0x00,  /* permitted: CAP_NET_RAW */
  0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00,
};

typedef struct
{
  char             *repo_dir;
  char             *src;
  CofferRepository *repo;
  char             *cid;
  CofferSnapshot   *snap;
  gboolean          is_root;
  guint             hostile;   /* entries the snapshot would grant privileges through */
} Fixture;

static void
write_file (const char *path, const char *text, mode_t mode)
{
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  /* chmod, not the umask-filtered open mode: the bits must be exactly these. */
  g_assert_cmpint (chmod (path, mode), ==, 0);
}

static void
make_hostile_tree (Fixture *f)
{
  g_autofree char *p = NULL;

  f->src = fixture_dir ("hostile");
  f->hostile = 0;

#define AT(name) (g_free (p), p = g_build_filename (f->src, name, NULL))
  write_file (AT ("plain.txt"), "an ordinary file\n", 0644);
  write_file (AT ("setuid-shell"), "#!/bin/sh\nexec /bin/sh\n", 04755);
  f->hostile++;
  write_file (AT ("setgid-tool"), "#!/bin/sh\n", 02755);
  f->hostile++;
  write_file (AT ("sticky-file"), "sticky\n", 01644);
  f->hostile++;
  g_assert_cmpint (mkfifo (AT ("trap.fifo"), 0644), ==, 0);
  f->hostile++;

  if (f->is_root)
    {
      write_file (AT ("raw-socket-tool"), "#!/bin/sh\n", 0755);
      g_assert_cmpint (setxattr (p, "security.capability", capability, sizeof capability, 0), ==, 0);
      f->hostile++;
      write_file (AT ("trusted-note"), "note\n", 0644);
      g_assert_cmpint (setxattr (p, "trusted.coffer-test", "forged", 6, 0), ==, 0);
      f->hostile++;
      /* A world-writable twin of /dev/null's numbers stands for any disk. */
      g_assert_cmpint (mknod (AT ("disk"), S_IFCHR | 0666, makedev (1, 3)), ==, 0);
      f->hostile++;
    }
#undef AT
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(CofferSecret) rk = NULL;

  f->is_root = geteuid () == 0;
  f->repo_dir = fixture_dir ("repo");
  make_hostile_tree (f);
  f->repo = fixture_create (f->repo_dir, PASSWORD, &rk);
  f->cid = fixture_add_category (f->repo, "System", COFFER_LEVEL_STANDARD, f->src);
  f->snap = fixture_backup (f->repo, f->cid);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->snap, coffer_snapshot_free);
  fixture_close (&f->repo);
  g_free (f->cid);
  g_free (f->src);
  g_free (f->repo_dir);
}

static mode_t
mode_of (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  return st.st_mode;
}

static gboolean
exists (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  struct stat st;

  return lstat (path, &st) == 0;
}

static gssize
xattr_size (const char *dir, const char *name, const char *attr)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return lgetxattr (path, attr, NULL, 0);
}

/* dir holds the restored copy of the hostile tree. */
static void
assert_withheld (Fixture *f, const char *dir)
{
  g_autofree char *plain = g_build_filename (dir, "plain.txt", NULL);
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents (plain, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "an ordinary file\n");

  g_assert_cmpint (mode_of (dir, "setuid-shell") & 07777, ==, 0755);
  g_assert_cmpint (mode_of (dir, "setgid-tool") & 07777, ==, 0755);
  g_assert_cmpint (mode_of (dir, "sticky-file") & 07777, ==, 0644);
  g_assert_false (exists (dir, "trap.fifo"));
  if (f->is_root)
    {
      g_assert_cmpint (mode_of (dir, "raw-socket-tool") & 07777, ==, 0755);
      g_assert_cmpint (xattr_size (dir, "raw-socket-tool", "security.capability"), <, 0);
      g_assert_cmpint (xattr_size (dir, "trusted-note", "trusted.coffer-test"), <, 0);
      g_assert_false (exists (dir, "disk"));
    }
}

static void
assert_kept (Fixture *f, const char *dir)
{
  g_assert_cmpint (mode_of (dir, "setuid-shell") & 07777, ==, 04755);
  g_assert_cmpint (mode_of (dir, "setgid-tool") & 07777, ==, 02755);
  g_assert_cmpint (mode_of (dir, "sticky-file") & 07777, ==, 01644);
  g_assert_true (S_ISFIFO (mode_of (dir, "trap.fifo")));
  if (f->is_root)
    {
      g_assert_cmpint (xattr_size (dir, "raw-socket-tool", "security.capability"), ==, sizeof capability);
      g_assert_cmpint (xattr_size (dir, "trusted-note", "trusted.coffer-test"), ==, 6);
      g_assert_true (S_ISCHR (mode_of (dir, "disk")));
    }
}

/* The attack as described: the original tree is gone and the snapshot is
 * restored to the original place. */
static void
test_original_place (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  CofferRestoreResult result = { 0 };

  coffer_test_rmtree (f->src);
  g_assert_true (coffer_restore_run_full (f->repo, f->cid, f->snap, NULL, NULL, COFFER_RESTORE_DEFAULT,
                                          NULL, NULL, NULL, &result, NULL, &error));
  g_assert_no_error (error);
  assert_withheld (f, f->src);
  /* Reported, not silently dropped. */
  g_assert_cmpuint (result.withheld, ==, f->hostile);
}

static void
test_target_and_keep (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *t1 = fixture_dir ("target-default");
  g_autofree char *t2 = fixture_dir ("target-keep");
  g_autofree char *r1 = fixture_restored (t1, f->src);
  g_autofree char *r2 = fixture_restored (t2, f->src);
  CofferRestoreResult result = { 0 };

  /* The old entry point withholds as well. */
  g_assert_true (coffer_restore_run (f->repo, f->cid, f->snap, NULL, t1, COFFER_RESTORE_DEFAULT,
                                     NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_withheld (f, r1);

  g_assert_true (coffer_restore_run_full (f->repo, f->cid, f->snap, NULL, t2,
                                          COFFER_RESTORE_KEEP_PRIVILEGES, NULL, NULL, NULL, &result,
                                          NULL, &error));
  g_assert_no_error (error);
  assert_kept (f, r2);
  g_assert_cmpuint (result.withheld, ==, 0);
}

static char *
run_cli (const char *repo_dir, const char * const *extra, int *status)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  g_subprocess_launcher_setenv (launcher, "COFFER_PASSWORD", PASSWORD, TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_TEST_FAST_KDF", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  g_ptr_array_add (argv, (char *) g_getenv ("COFFER_BIN"));
  g_ptr_array_add (argv, (char *) "restore");
  g_ptr_array_add (argv, (char *) "--repo");
  g_ptr_array_add (argv, (char *) repo_dir);
  g_ptr_array_add (argv, (char *) "--category");
  g_ptr_array_add (argv, (char *) "System");
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) extra[i]);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  *status = g_subprocess_get_exit_status (proc);
  return out;
}

static void
test_cli (Fixture *f, gconstpointer data)
{
  g_autofree char *t1 = fixture_dir ("cli-default");
  g_autofree char *t2 = fixture_dir ("cli-keep");
  g_autofree char *r1 = fixture_restored (t1, f->src);
  g_autofree char *r2 = fixture_restored (t2, f->src);
  g_autofree char *out1 = NULL, *out2 = NULL;
  g_autofree char *count = g_strdup_printf ("%u files or folders were restored without", f->hostile);
  int status;

  g_assert_nonnull (g_getenv ("COFFER_BIN"));
  out1 = run_cli (f->repo_dir, (const char *[]) { "--target", t1, NULL }, &status);
  g_test_message ("%s", out1);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out1, count));
  g_assert_nonnull (strstr (out1, "--keep-privileges"));
  assert_withheld (f, r1);

  out2 = run_cli (f->repo_dir, (const char *[]) { "--target", t2, "--keep-privileges", NULL }, &status);
  g_test_message ("%s", out2);
  g_assert_cmpint (status, ==, 0);
  g_assert_null (strstr (out2, "without"));
  assert_kept (f, r2);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add ("/attacks/restore-privileges/original-place", Fixture, NULL, fixture_set_up,
              test_original_place, fixture_tear_down);
  g_test_add ("/attacks/restore-privileges/target-and-keep", Fixture, NULL, fixture_set_up,
              test_target_and_keep, fixture_tear_down);
  g_test_add ("/attacks/restore-privileges/cli", Fixture, NULL, fixture_set_up, test_cli,
              fixture_tear_down);
  return g_test_run ();
}
