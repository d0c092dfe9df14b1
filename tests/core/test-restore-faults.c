/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Faults on the restore side (the repository is fine, the target is not):
 *
 *  /restore-faults/full-disk  the target is a 3 MiB tmpfs mounted by the
 *      test when it may (root), otherwise a file size limit
 *      (RLIMIT_FSIZE, SIGXFSZ ignored) stands in for it: the restore
 *      fails with G_IO_ERROR_NO_SPACE and a message that says the disk is
 *      full and names the target; every file under its final name is
 *      complete, no temporary is left; with space again, the next restore
 *      completes byte for byte.
 *  /restore-faults/file-size-limit  the same with the file size limit
 *      always (a file too large for the target's file system).
 *  /restore-faults/target-vanishes  the target folder is moved away while
 *      the first file is being written: the restore stops with
 *      G_IO_ERROR_NOT_FOUND and a message naming the folder, nothing in the
 *      moved folder is half-written under a final name, and it does not
 *      make the folder again (on an unmounted drive that would write to
 *      the disk underneath). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"

#define PASSWORD "restore faults password"
#define MiB (1024 * 1024)

typedef struct
{
  char             *store;
  char             *src;
  char             *cid;
  CofferRepository *repo;
  CofferSnapshot   *snap;
} Setup;

static void
setup (Setup *s, const char *name)
{
  g_autofree char *store = g_strconcat (name, "-store", NULL);
  g_autofree char *src = g_strconcat (name, "-src", NULL);
  g_autofree char *media = NULL;
  g_autoptr(CofferSecret) rk = NULL;

  fixture_fresh_computer ();
  s->store = fixture_dir (store);
  s->src = fixture_dir (src);
  fixture_make_small_tree (s->src, 5);
  media = g_build_filename (s->src, "media", NULL);
  g_assert_cmpint (g_mkdir (media, 0755), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/big-%u", media, i);
      coffer_test_write_random (path, 2 * MiB + i, 300 + i);
    }
  s->repo = fixture_create (s->store, PASSWORD, &rk);
  s->cid = fixture_add_category (s->repo, "Docs", COFFER_LEVEL_STANDARD, s->src);
  s->snap = fixture_backup (s->repo, s->cid);
}

static void
teardown (Setup *s)
{
  coffer_snapshot_free (s->snap);
  g_object_unref (s->repo);
  g_free (s->cid);
  coffer_test_rmtree (s->src);
  g_free (s->src);
  g_free (s->store);
}

/* Every regular file below restored is complete (the same as in src);
 * unless temps_ok, no restore temporary is left. Returns how many there are. */
static guint
assert_nothing_half_written (const char *src, const char *restored, gboolean temps_ok)
{
  g_autoptr(GDir) d = g_dir_open (restored, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *a = g_build_filename (src, name, NULL);
      g_autofree char *b = g_build_filename (restored, name, NULL);
      struct stat st;

      if (g_str_has_prefix (name, ".coffer-restore-") && temps_ok)
        continue;
      if (g_str_has_prefix (name, ".coffer-restore-"))
        g_error ("a restore temporary was left behind: %s", b);
      g_assert_cmpint (lstat (b, &st), ==, 0);
      if (S_ISDIR (st.st_mode))
        n += assert_nothing_half_written (a, b, temps_ok);
      else if (S_ISREG (st.st_mode))
        {
          g_autoptr(GBytes) x = fixture_read (a);
          g_autoptr(GBytes) y = fixture_read (b);
          if (!g_bytes_equal (x, y))
            g_error ("half-written under its final name: %s", b);
          n++;
        }
    }
  return n;
}

static gboolean
restore (Setup *s, const char *target, CofferProgressFunc progress, gpointer data, GError **error)
{
  g_autoptr(GPtrArray) conflicts = NULL;

  return coffer_restore_run (s->repo, s->cid, s->snap, NULL, target, COFFER_RESTORE_DEFAULT, progress, data,
                             &conflicts, NULL, error);
}

static void
run_full (gboolean tmpfs)
{
  Setup s = { 0 };
  g_autofree char *target = fixture_dir (tmpfs ? "small-target" : "limited-target");
  g_autofree char *restored = NULL;
  g_autoptr(GError) error = NULL;
  struct rlimit saved, lim;
  guint complete;

  setup (&s, tmpfs ? "full" : "limit");
  restored = fixture_restored (target, s.src);
  if (tmpfs)
    g_assert_cmpint (mount ("tmpfs", target, "tmpfs", 0, "size=3m,mode=0700"), ==, 0);
  else
    {
      g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
      lim = saved;
      lim.rlim_cur = 1 * MiB;
      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &lim), ==, 0);
    }
  g_assert_false (restore (&s, target, NULL, NULL, &error));
  if (!tmpfs)
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  g_test_message ("restore to a full target: %s", error->message);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, target));
  g_assert_nonnull (strstr (error->message, tmpfs ? "full" : "too large"));
  complete = assert_nothing_half_written (s.src, restored, FALSE);
  g_test_message ("%u files complete under their names, none half-written", complete);

  /* Space again: the restore completes. */
  if (tmpfs)
    g_assert_cmpint (mount ("tmpfs", target, "tmpfs", MS_REMOUNT, "size=64m,mode=0700"), ==, 0);
  g_clear_error (&error);
  g_assert_true (restore (&s, target, NULL, NULL, &error));
  g_assert_no_error (error);
  coffer_test_assert_same_tree (s.src, restored, TRUE);
  if (tmpfs)
    g_assert_cmpint (umount2 (target, MNT_DETACH), ==, 0);
  teardown (&s);
}

static void
test_full_disk (void)
{
  g_autofree char *probe = fixture_dir ("probe");
  gboolean tmpfs = mount ("tmpfs", probe, "tmpfs", 0, "size=1m") == 0;

  if (tmpfs)
    umount2 (probe, MNT_DETACH);
  else
    g_test_message ("cannot mount a tmpfs (%s): using a file size limit instead", g_strerror (errno));
  run_full (tmpfs);
}

static void
test_file_size_limit (void)
{
  run_full (FALSE);
}

typedef struct
{
  const char *target;
  const char *moved;
  gboolean    done;
} Vanish;

/* Called from the restore while it writes: the first time data was
 * written, the target goes away (as when a drive is pulled). */
static void
vanish (const CofferProgress *p, gpointer data)
{
  Vanish *v = data;

  if (!v->done && p->bytes_done > 0 && !p->finished)
    {
      g_assert_cmpint (rename (v->target, v->moved), ==, 0);
      v->done = TRUE;
    }
}

static void
test_target_vanishes (void)
{
  Setup s = { 0 };
  g_autofree char *target = fixture_dir ("vanishing");
  g_autofree char *moved = g_strconcat (target, "-moved", NULL);
  g_autoptr(GError) error = NULL;
  Vanish v = { target, moved, FALSE };

  setup (&s, "vanish");
  g_assert_false (restore (&s, target, vanish, &v, &error));
  g_assert_true (v.done);
  g_test_message ("restore into a folder that went away: %s", error->message);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, target));
  g_assert_nonnull (strstr (error->message, "gone"));
  /* Not made again: nothing was written where the folder was. */
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
  {
    g_autofree char *restored = fixture_restored (moved, s.src);
    /* The files being written when it went stay there as temporaries
     * (hidden, never under a final name): their paths are gone. */
    g_test_message ("%u files complete in the moved folder",
                    assert_nothing_half_written (s.src, restored, TRUE));
  }
  coffer_test_rmtree (moved);
  teardown (&s);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);

  g_test_add_func ("/restore-faults/full-disk", test_full_disk);
  g_test_add_func ("/restore-faults/file-size-limit", test_file_size_limit);
  g_test_add_func ("/restore-faults/target-vanishes", test_target_vanishes);
  return g_test_run ();
}
