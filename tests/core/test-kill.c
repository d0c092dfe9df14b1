/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Kill test: the real `coffer` binary backs up ~60 MB across many files and
 * is killed with SIGKILL at 20 points in time (deterministic seed, spread
 * between 5 ms and the duration of an uninterrupted run). Afterwards the
 * next backup completes, `coffer check --read-data` is clean, the last
 * snapshot restores byte for byte, and the repository is about as large as
 * one clean backup (what landed before a kill was not uploaded again). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-utils.h"

#define MiB (1024 * 1024)
#define KILLS 20
#define PASSWORD "kill test password"

static char *root;
static char *coffer_bin;

static char **
make_env (void)
{
  char **env = g_get_environ ();
  g_autofree char *home = g_build_filename (root, "home", NULL);
  g_autofree char *data = g_build_filename (root, "data", NULL);
  g_autofree char *cache = g_build_filename (root, "cache", NULL);

  env = g_environ_setenv (env, "HOME", home, TRUE);
  env = g_environ_setenv (env, "XDG_DATA_HOME", data, TRUE);
  env = g_environ_setenv (env, "XDG_CACHE_HOME", cache, TRUE);
  env = g_environ_setenv (env, "COFFER_TESTING", "1", TRUE);
  env = g_environ_setenv (env, "COFFER_TEST_FAST_KDF", "1", TRUE);
  env = g_environ_setenv (env, "COFFER_KEYRING", "none", TRUE);
  env = g_environ_setenv (env, "COFFER_PASSWORD", PASSWORD, TRUE);
  env = g_environ_unsetenv (env, "COFFER_REPO");
  return env;
}

static GPid
spawn (const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) env = make_env ();
  g_autoptr(GError) error = NULL;
  GPid pid;

  g_ptr_array_add (argv, coffer_bin);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_async (NULL, (char **) argv->pdata, env, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                 NULL, NULL, &pid, &error);
  g_assert_no_error (error);
  return pid;
}

/* Runs coffer to the end; returns its exit status. */
static int
run (const char * const *args)
{
  GPid pid = spawn (args);
  int status;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

#define ARGS(...) ((const char * const[]) { __VA_ARGS__, NULL })

static guint64
store_size (const char *path, guint64 *tmp_bytes)
{
  struct stat st;
  guint64 total = 0;

  if (lstat (path, &st) != 0)
    return 0;
  if (S_ISREG (st.st_mode))
    {
      g_autofree char *base = g_path_get_basename (path);
      if (g_str_has_prefix (base, ".tmp-"))
        {
          *tmp_bytes += st.st_size;
          return 0;
        }
      return st.st_size;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          total += store_size (child, tmp_bytes);
        }
    }
  return total;
}

static void
make_tree (const char *src)
{
  /* 60 MiB: 200 files of 192-320 KiB in 10 folders, and 3 of 4 MiB. */
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/folder-%02u", src, i % 10);
      g_autofree char *path = g_strdup_printf ("%s/file-%03u", dir, i);
      g_mkdir_with_parents (dir, 0755);
      coffer_test_write_random (path, 192 * 1024 + (i * 4099) % (128 * 1024), i);
    }
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/big-%u", src, i);
      coffer_test_write_random (path, 4 * MiB + i, 1000 + i);
    }
}

static void
init_repo (const char *repo, const char *src)
{
  g_autofree char *key = g_strconcat (repo, ".key", NULL);

  g_assert_cmpint (run (ARGS ("init", "--repo", repo, "--recovery-key-file", key)), ==, 0);
  g_assert_cmpint (run (ARGS ("category", "add", "Data", "--repo", repo, src)), ==, 0);
}

static int
compare_gint64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static void
test_kill (void)
{
  g_autofree char *src = g_build_filename (root, "src", NULL);
  g_autofree char *clean = g_build_filename (root, "clean-repo", NULL);
  g_autofree char *repo = g_build_filename (root, "repo", NULL);
  g_autofree char *target = g_build_filename (root, "restore", NULL);
  g_autofree char *copy = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (20240601);
  guint64 clean_size, size, tmp_bytes = 0, clean_tmp = 0;
  gint64 start, duration;
  guint completed = 0, killed = 0;
  gint64 delays[KILLS];

  make_tree (src);

  /* An uninterrupted run: its duration and its size are the reference. */
  init_repo (clean, src);
  start = g_get_monotonic_time ();
  g_assert_cmpint (run (ARGS ("backup", "--repo", clean)), ==, 0);
  duration = g_get_monotonic_time () - start;
  clean_size = store_size (clean, &clean_tmp);
  g_test_message ("uninterrupted backup: %.2f s, %" G_GUINT64_FORMAT " bytes",
                  duration / 1e6, clean_size);
  g_assert_cmpuint (clean_size, >=, 55 * MiB);
  g_assert_cmpuint (clean_tmp, ==, 0);

  /* Kill points in ascending order: each resumed run gets a little
   * further than the one before, so most of the 20 kills land in the middle
   * of real work (reading, sealing, uploading, writing the index). */
  for (guint i = 0; i < KILLS; i++)
    delays[i] = 5000 + (gint64) (g_rand_double (rand) * MAX (duration - 5000, 1000));
  qsort (delays, KILLS, sizeof delays[0], compare_gint64);

  init_repo (repo, src);
  for (guint i = 0; i < KILLS; i++)
    {
      gint64 delay = delays[i];
      GPid pid = spawn (ARGS ("backup", "--repo", repo));
      gint64 deadline = g_get_monotonic_time () + delay;
      int status = 0;
      pid_t done = 0;

      /* Not synchronisation: the kill point itself is the random variable. */
      while ((done = waitpid (pid, &status, WNOHANG)) == 0 && g_get_monotonic_time () < deadline)
        g_usleep (500);
      if (done == 0)
        {
          g_test_message ("run %u: SIGKILL at %.0f ms", i, delay / 1e3);
          kill (pid, SIGKILL);
          g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
        }
      /* The run may also have finished between the last poll and the kill. */
      if (WIFSIGNALED (status))
        {
          g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
          killed++;
        }
      else
        {
          g_assert_true (WIFEXITED (status));
          g_assert_cmpint (WEXITSTATUS (status), ==, 0);
          completed++;
          g_test_message ("run %u completed within %.0f ms", i, delay / 1e3);
        }
      g_spawn_close_pid (pid);
    }
  g_test_message ("%u runs killed, %u completed before their kill point", killed, completed);
  g_assert_cmpuint (killed, >=, KILLS / 4);

  /* The next backup completes, the repository checks clean. */
  g_assert_cmpint (run (ARGS ("backup", "--repo", repo)), ==, 0);
  g_assert_cmpint (run (ARGS ("check", "--repo", repo, "--read-data")), ==, 0);

  /* The last snapshot restores byte for byte. */
  g_assert_cmpint (run (ARGS ("restore", "--repo", repo, "--target", target)), ==, 0);
  copy = g_build_filename (target, src, NULL);
  coffer_test_assert_same_tree (src, copy, TRUE);

  /* What landed before a kill was reused, not uploaded again. */
  size = store_size (repo, &tmp_bytes);
  g_test_message ("after %u kills: %" G_GUINT64_FORMAT " bytes (clean: %" G_GUINT64_FORMAT
                  "), %" G_GUINT64_FORMAT " bytes in unfinished temporary files",
                  killed, size, clean_size, tmp_bytes);
  g_assert_cmpuint (size, <=, clean_size + 4 * MiB);
  g_assert_cmpuint (size + 4 * MiB, >=, clean_size);
}

static void
remove_root (void)
{
  if (root != NULL && g_getenv ("COFFER_TEST_KEEP") == NULL)
    coffer_test_rmtree (root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  coffer_bin = g_strdup (g_getenv ("COFFER_BIN"));
  /* Run by meson, COFFER_BIN names the built binary; a missing binary is a
   * failure, not a skip. */
  g_assert_nonnull (coffer_bin);
  g_assert_true (g_file_test (coffer_bin, G_FILE_TEST_IS_EXECUTABLE));
  root = coffer_test_mkdtemp ();
  atexit (remove_root);

  g_test_add_func ("/kill/backup", test_kill);
  return g_test_run ();
}
