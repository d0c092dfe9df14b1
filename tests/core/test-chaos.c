/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Chaos: the real `coffer` binary is killed with SIGKILL at random points
 * during the four operations that change a repository:
 *
 *   backup            a new version of the tree
 *   devices remove    another computer (trusted just before) is removed,
 *                     which rotates the account key and every category key
 *   reencrypt         the backups sealed under older epochs are rewritten
 *   prune             forget --keep-last 1, then prune --grace 0 (killed)
 *
 * CHAOS_KILLS_PER_OP kills each (100 in all). Before each killed run the
 * repository and this computer's state are copied and the same operation
 * runs there to the end: its duration is the range of the kill point
 * (uniform, from a seeded RNG: COFFER_CHAOS_SEED reproduces a run; the
 * seed is printed) and what it writes is the reference. After each kill
 * (after a removal: once it was run again, see below): `coffer check
 * --read-data` is clean, every snapshot in the repository
 * restores byte for byte (each holds a version.txt naming the tree it was
 * made from, which is regenerated and compared), and the operation, run
 * again, completes; together the killed run and the completing run wrote
 * no more new objects than the uninterrupted reference run did (plus a
 * little slack for padding and metadata), so what landed before the kill
 * was not uploaded again.
 *
 *   /chaos/concurrent  two computers (separate local state, the second
 *       joined through `devices trust`) back up the same category at the
 *       same time while a third runs forget and prune --grace 2 (longer
 *       than a backup here: a backup running meanwhile must stay safe, and
 *       one round's marks are swept during the next); then check --read-data
 *       is clean and every snapshot restores byte for byte. CHAOS_ROUNDS
 *       rounds.
 *   /chaos/restore-kills  a restore killed at random points: nothing under
 *       a final name is half-written, and run again it completes byte for
 *       byte and leaves no temporaries. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-utils.h"

#define KiB 1024
#define PASSWORD "chaos test password"
#define CATEGORY "Data"
#define CHAOS_KILLS_PER_OP 25   /* COFFER_CHAOS_KILLS overrides, for a quick look */
#define CHAOS_ROUNDS 4

static char *root;
static char *coffer_bin;
static char *recovery_key;   /* the file */
static GRand *rng;
static guint kills_per_op = CHAOS_KILLS_PER_OP;

typedef enum { OP_BACKUP, OP_DEVICES_REMOVE, OP_REENCRYPT, OP_PRUNE, N_OPS } Op;
static const char *op_names[N_OPS] = { "backup", "devices remove", "reencrypt", "prune" };

/* ---- computers and the CLI ---- */

static char **
computer_env (const char *computer)
{
  char **env = g_get_environ ();
  static const char *vars[][2] = {
    { "HOME", "home" }, { "XDG_DATA_HOME", "data" }, { "XDG_CACHE_HOME", "cache" },
    { "XDG_CONFIG_HOME", "config" }, { "XDG_STATE_HOME", "state" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (vars); i++)
    {
      g_autofree char *dir = g_build_filename (computer, vars[i][1], NULL);
      env = g_environ_setenv (env, vars[i][0], dir, TRUE);
    }
  env = g_environ_setenv (env, "COFFER_TESTING", "1", TRUE);
  env = g_environ_setenv (env, "COFFER_TEST_FAST_KDF", "1", TRUE);
  env = g_environ_setenv (env, "COFFER_KEYRING", "none", TRUE);
  env = g_environ_setenv (env, "COFFER_PASSWORD", PASSWORD, TRUE);
  env = g_environ_unsetenv (env, "COFFER_REPO");
  env = g_environ_unsetenv (env, "COFFER_RECOVERY_KEY");
  return env;
}

static GPtrArray *
make_argv (const char *repo, const char * const *args)
{
  GPtrArray *argv = g_ptr_array_new ();

  g_ptr_array_add (argv, coffer_bin);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, (char *) "--repo");
  g_ptr_array_add (argv, (char *) repo);
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* Runs coffer as computer to the end; returns its exit status; *out gets
 * stdout. A failure is logged with both outputs. */
static int
run_out (const char *computer, const char *repo, char **out, const char * const *args)
{
  g_autoptr(GPtrArray) argv = make_argv (repo, args);
  g_auto(GStrv) env = computer_env (computer);
  g_autofree char *so = NULL, *se = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, &so, &se, &status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) != 0)
    {
      g_autofree char *cmd = g_strjoinv (" ", (char **) args);
      g_test_message ("coffer %s -> %d\nstdout: %s\nstderr: %s", cmd, WEXITSTATUS (status), so, se);
    }
  if (out != NULL)
    *out = g_steal_pointer (&so);
  return WEXITSTATUS (status);
}

#define ARGS(...) ((const char * const[]) { __VA_ARGS__, NULL })
#define RUN_OK(computer, repo, ...) \
  g_assert_cmpint (run_out ((computer), (repo), NULL, ARGS (__VA_ARGS__)), ==, 0)

static GPid
spawn (const char *computer, const char *repo, const char * const *args)
{
  g_autoptr(GPtrArray) argv = make_argv (repo, args);
  g_auto(GStrv) env = computer_env (computer);
  g_autoptr(GError) error = NULL;
  GPid pid;

  g_spawn_async (NULL, (char **) argv->pdata, env,
                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                 NULL, NULL, &pid, &error);
  g_assert_no_error (error);
  return pid;
}

/* Like spawn, with stderr going to the file err (shown when it fails). */
static GPid
spawn_logged (const char *computer, const char *repo, const char *err, const char * const *args)
{
  g_autoptr(GPtrArray) argv = make_argv (repo, args);
  g_auto(GStrv) env = computer_env (computer);
  g_autoptr(GError) error = NULL;
  int fd = open (err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int null = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  GPid pid;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (null, >=, 0);
  /* stdout away from the TAP stream */
  g_spawn_async_with_fds (NULL, (char **) argv->pdata, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                          -1, null, fd, &error);
  close (fd);
  close (null);
  g_assert_no_error (error);
  return pid;
}

/* Every string value of "key" in a JSON text, in order. */
static GPtrArray *
json_strings (const char *json, const char *key)
{
  GPtrArray *values = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *needle = g_strdup_printf ("\"%s\":\"", key);
  const char *p = json;

  while ((p = strstr (p, needle)) != NULL)
    {
      const char *end;
      p += strlen (needle);
      end = strchr (p, '"');
      g_assert_nonnull (end);
      g_ptr_array_add (values, g_strndup (p, end - p));
      p = end;
    }
  return values;
}

static void
copy_tree (const char *from, const char *to)
{
  g_autoptr(GError) error = NULL;
  int status;

  coffer_test_rmtree (to);
  g_spawn_sync (NULL, (char *[]) { (char *) "cp", (char *) "-a", (char *) from, (char *) to, NULL },
                NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* ---- the data: versions of one tree ---- */

/* Version v: 12 files that never change (about 300 KiB), the 4 files of
 * version v - 1 and 4 new ones (about 360 KiB of new data per version),
 * and version.txt. Forgetting old versions leaves their files unreferenced,
 * so prune has something to delete and repack. */
static void
make_version (const char *dir, guint v)
{
  g_autofree char *stable = g_build_filename (dir, "stable", NULL);
  g_autofree char *changing = g_build_filename (dir, "changing", NULL);
  g_autofree char *version = g_build_filename (dir, "version.txt", NULL);
  g_autofree char *text = g_strdup_printf ("%u\n", v);

  coffer_test_rmtree (dir);
  g_assert_cmpint (g_mkdir_with_parents (stable, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (changing, 0755), ==, 0);
  for (guint i = 0; i < 12; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/file-%02u", stable, i);
      coffer_test_write_random (path, 20 * KiB + i * 1000, 7 + i);
    }
  for (guint w = (v > 0 ? v - 1 : 0); w <= v; w++)
    for (guint i = 0; i < 4; i++)
      {
        g_autofree char *path = g_strdup_printf ("%s/v%03u-%u", changing, w, i);
        coffer_test_write_random (path, 60 * KiB + (w * 7919 + i * 104729) % (60 * KiB),
                                  100000 + w * 10 + i);
      }
  g_assert_true (g_file_set_contents (version, text, -1, NULL));
}

/* ---- the store ---- */

static void
store_scan (GHashTable *objects, const char *path, const char *rel)
{
  struct stat st;

  if (lstat (path, &st) != 0)
    return;
  if (S_ISREG (st.st_mode))
    {
      g_autofree char *base = g_path_get_basename (path);
      if (!g_str_has_prefix (base, ".tmp-"))
        g_hash_table_insert (objects, g_strdup (rel), GSIZE_TO_POINTER ((gsize) st.st_size));
    }
  else if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          g_autofree char *child_rel = g_build_filename (rel, name, NULL);
          store_scan (objects, child, child_rel);
        }
    }
}

/* The objects (relative path -> size) of a local repository. */
static GHashTable *
store_objects (const char *repo)
{
  GHashTable *objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  store_scan (objects, repo, "");
  return objects;
}

/* Bytes of the objects in after that are not in before (new or rewritten). */
static guint64
new_bytes (GHashTable *before, GHashTable *after)
{
  GHashTableIter it;
  gpointer name, size;
  guint64 total = 0;

  g_hash_table_iter_init (&it, after);
  while (g_hash_table_iter_next (&it, &name, &size))
    {
      gpointer old;
      if (!g_hash_table_lookup_extended (before, name, NULL, &old) || old != size)
        total += GPOINTER_TO_SIZE (size);
    }
  return total;
}

/* ---- checks ---- */

static GPtrArray *
snapshot_ids (const char *computer, const char *repo, gboolean with_recovery_key)
{
  g_autofree char *out = NULL;

  if (with_recovery_key)
    g_assert_cmpint (run_out (computer, repo, &out, ARGS ("snapshots", "--json", "--recovery-key-file",
                                                          recovery_key)), ==, 0);
  else
    g_assert_cmpint (run_out (computer, repo, &out, ARGS ("snapshots", "--json")), ==, 0);
  return json_strings (out, "id");
}

/* check --read-data is clean and every snapshot restores byte for byte:
 * each is compared with its version of the tree (from its version.txt),
 * regenerated. Returns the number of snapshots. */
static guint
verify_repo_srcs (const char *computer, const char *repo, const char * const *srcs,
                  gboolean with_recovery_key);

static guint
verify_repo (const char *computer, const char *repo, const char *src, gboolean with_recovery_key)
{
  return verify_repo_srcs (computer, repo, (const char * const[]) { src, NULL }, with_recovery_key);
}

/* The same, for snapshots of any of srcs (one per computer). */
static guint
verify_repo_srcs (const char *computer, const char *repo, const char * const *srcs,
                  gboolean with_recovery_key)
{
  g_autoptr(GPtrArray) ids = NULL;
  g_autofree char *target = g_build_filename (root, "restore", NULL);
  g_autofree char *expect = g_build_filename (root, "expect", NULL);

  if (with_recovery_key)
    RUN_OK (computer, repo, "check", "--read-data", "--recovery-key-file", recovery_key);
  else
    RUN_OK (computer, repo, "check", "--read-data");
  ids = snapshot_ids (computer, repo, with_recovery_key);
  g_assert_cmpuint (ids->len, >, 0);
  for (guint i = 0; i < ids->len; i++)
    {
      g_autofree char *restored = NULL;
      g_autofree char *version = NULL;
      g_autofree char *text = NULL;

      coffer_test_rmtree (target);
      if (with_recovery_key)
        RUN_OK (computer, repo, "restore", "--category", CATEGORY, "--snapshot", ids->pdata[i],
                "--target", target, "--recovery-key-file", recovery_key);
      else
        RUN_OK (computer, repo, "restore", "--category", CATEGORY, "--snapshot", ids->pdata[i],
                "--target", target);
      for (guint j = 0; srcs[j] != NULL && restored == NULL; j++)
        {
          restored = g_build_filename (target, srcs[j], NULL);
          if (!g_file_test (restored, G_FILE_TEST_IS_DIR))
            g_clear_pointer (&restored, g_free);
        }
      g_assert_nonnull (restored);
      version = g_build_filename (restored, "version.txt", NULL);
      g_assert_true (g_file_get_contents (version, &text, NULL, NULL));
      make_version (expect, (guint) g_ascii_strtoull (text, NULL, 10));
      coffer_test_assert_same_tree (expect, restored, FALSE);
    }
  coffer_test_rmtree (target);
  return ids->len;
}

/* ---- the operations ---- */

typedef struct
{
  char *computer;    /* "A": made the repository */
  char *repo;
  char *src;
  guint version;
  guint rounds[N_OPS];
  guint kills[N_OPS];
  guint finished[N_OPS];   /* runs that ended before their kill point */
  char *removing;          /* the device id "devices remove" works on */
} Chaos;

/* The newest key epoch of the category. */
static guint
category_epoch (Chaos *c)
{
  g_autofree char *out = NULL;
  const char *p;

  g_assert_cmpint (run_out (c->computer, c->repo, &out, ARGS ("category", "list", "--json")), ==, 0);
  p = strstr (out, "\"epoch\":");
  g_assert_nonnull (p);
  return (guint) g_ascii_strtoull (p + strlen ("\"epoch\":"), NULL, 10);
}

/* The arguments of op's killable run (the preparation is done). */
static GPtrArray *
op_args (Chaos *c, Op op)
{
  GPtrArray *args = g_ptr_array_new ();

  switch (op)
    {
    case OP_BACKUP:
      g_ptr_array_add (args, (char *) "backup");
      break;
    case OP_DEVICES_REMOVE:
      g_ptr_array_add (args, (char *) "devices");
      g_ptr_array_add (args, (char *) "remove");
      g_ptr_array_add (args, c->removing);
      g_ptr_array_add (args, (char *) "--yes");
      g_ptr_array_add (args, (char *) "--recovery-key-file");
      g_ptr_array_add (args, recovery_key);
      break;
    case OP_REENCRYPT:
      g_ptr_array_add (args, (char *) "reencrypt");
      g_ptr_array_add (args, (char *) "--category");
      g_ptr_array_add (args, (char *) CATEGORY);
      g_ptr_array_add (args, (char *) "--recovery-key-file");
      g_ptr_array_add (args, recovery_key);
      break;
    case OP_PRUNE:
    case N_OPS:
    default:
      g_ptr_array_add (args, (char *) "prune");
      g_ptr_array_add (args, (char *) "--grace");
      g_ptr_array_add (args, (char *) "0");
      break;
    }
  g_ptr_array_add (args, NULL);
  return args;
}

/* Makes op have work to do. */
static void
op_prepare (Chaos *c, Op op)
{
  switch (op)
    {
    case OP_BACKUP:
      make_version (c->src, ++c->version);
      break;
    case OP_DEVICES_REMOVE:
      {
        /* Another computer becomes trusted, to be removed. */
        g_autofree char *other = g_build_filename (root, "other", NULL);
        g_autofree char *name = g_strdup_printf ("other-%u", c->rounds[op]);
        g_autofree char *out = NULL;
        g_autoptr(GPtrArray) ids = NULL;
        const char *mine;

        coffer_test_rmtree (other);
        RUN_OK (other, c->repo, "devices", "trust", "--name", name, "--recovery-key-file", recovery_key);
        g_assert_cmpint (run_out (other, c->repo, &out, ARGS ("devices", "list", "--json")), ==, 0);
        mine = strstr (out, "\"this_device\":true");
        g_assert_nonnull (mine);
        /* the id of the object that says "this_device": true */
        while (mine > out && !g_str_has_prefix (mine, "{\"id\":\""))
          mine--;
        ids = json_strings (mine, "id");
        g_free (c->removing);
        c->removing = g_strdup (ids->pdata[0]);
      }
      break;
    case OP_REENCRYPT:
      break;   /* the removal before rotated the keys */
    case OP_PRUNE:
    case N_OPS:
    default:
      RUN_OK (c->computer, c->repo, "forget", "--category", CATEGORY, "--keep-last", "1");
      break;
    }
}

/* One round of op: prepared; the reference run on a copy; the killed run;
 * the checks; the completing run. */
static void
chaos_round (Chaos *c, Op op, gboolean do_kill)
{
  g_autofree char *ref_computer = g_build_filename (root, "ref-computer", NULL);
  g_autofree char *ref_repo = g_build_filename (root, "ref-repo", NULL);
  g_autoptr(GHashTable) start = NULL, ref_start = NULL, ref_end = NULL, end = NULL;
  g_autoptr(GPtrArray) args = NULL;
  guint64 reference, written, slack;
  gint64 t0, duration, delay, deadline;
  GPid pid;
  int status = 0;
  pid_t done;
  guint epoch_before;

  op_prepare (c, op);
  args = op_args (c, op);
  if (!do_kill)
    {
      g_assert_cmpint (run_out (c->computer, c->repo, NULL, (const char * const *) args->pdata), ==, 0);
      return;
    }
  c->rounds[op]++;

  /* The reference: the same operation, uninterrupted, on copies. */
  copy_tree (c->computer, ref_computer);
  copy_tree (c->repo, ref_repo);
  ref_start = store_objects (ref_repo);
  t0 = g_get_monotonic_time ();
  g_assert_cmpint (run_out (ref_computer, ref_repo, NULL, (const char * const *) args->pdata), ==, 0);
  duration = g_get_monotonic_time () - t0;
  ref_end = store_objects (ref_repo);
  reference = new_bytes (ref_start, ref_end);

  /* The kill point is the random variable; the wait is not synchronisation. */
  start = store_objects (c->repo);
  epoch_before = op == OP_DEVICES_REMOVE ? category_epoch (c) : 0;
  delay = (gint64) (g_rand_double (rng) * duration);
  pid = spawn (c->computer, c->repo, (const char * const *) args->pdata);
  deadline = g_get_monotonic_time () + delay;
  while ((done = waitpid (pid, &status, WNOHANG)) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (200);
  if (done == 0)
    {
      kill (pid, SIGKILL);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    }
  g_spawn_close_pid (pid);
  if (WIFSIGNALED (status))
    {
      g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
      c->kills[op]++;
    }
  else
    {
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 0);
      c->finished[op]++;
    }

  /* Whatever the kill left, the repository is sound. Except after a
   * removal: documented as "run it again to finish", and until then the
   * computer that ran it cannot open a category whose keys it already
   * rotated (its own envelope still holds the old account key, the
   * category's the new one); that is checked once the removal was run
   * again (docs/SECURITY.md, "Chaos and faults"). */
  g_test_message ("%s round %u: %s at %.0f of %.0f ms", op_names[op], c->rounds[op],
                  WIFSIGNALED (status) ? "killed" : "finished before the kill point",
                  delay / 1e3, duration / 1e3);
  if (op != OP_DEVICES_REMOVE)
    verify_repo (c->computer, c->repo, c->src, FALSE);

  /* Run again, the operation completes, without writing again what landed.
   * A removal killed after its last write (it had saved this computer's
   * state too) is complete: run again, it says there is no such device,
   * and the keys are new. */
  if (op == OP_DEVICES_REMOVE)
    {
      int again = run_out (c->computer, c->repo, NULL, (const char * const *) args->pdata);
      if (again != 0)
        {
          g_autofree char *out = NULL;
          g_assert_cmpint (again, ==, 2);
          g_assert_cmpint (run_out (c->computer, c->repo, &out, ARGS ("devices", "list", "--json")), ==, 0);
          g_assert_null (strstr (out, c->removing));
          g_assert_cmpuint (category_epoch (c), >, epoch_before);
          g_test_message ("%s round %u: the killed run had finished the removal", op_names[op],
                          c->rounds[op]);
        }
    }
  else
    g_assert_cmpint (run_out (c->computer, c->repo, NULL, (const char * const *) args->pdata), ==, 0);
  if (op == OP_DEVICES_REMOVE)
    verify_repo (c->computer, c->repo, c->src, FALSE);
  end = store_objects (c->repo);
  written = new_bytes (start, end);
  /* Pack padding, index and snapshot objects, trees of ancestors. */
  slack = 96 * KiB + reference / 5;
  g_test_message ("%s round %u: reference wrote %" G_GUINT64_FORMAT
                  " bytes, killed + completing run %" G_GUINT64_FORMAT,
                  op_names[op], c->rounds[op], reference, written);
  g_assert_cmpuint (written, <=, reference + slack);

  coffer_test_rmtree (ref_computer);
  coffer_test_rmtree (ref_repo);
}

static guint64
seed_from_env (void)
{
  const char *s = g_getenv ("COFFER_CHAOS_SEED");

  if (s != NULL && *s != '\0')
    return g_ascii_strtoull (s, NULL, 10);
  return (guint64) g_get_real_time ();
}

static void
chaos_setup (Chaos *c)
{
  c->computer = g_build_filename (root, "A", NULL);
  c->repo = g_build_filename (root, "repo", NULL);
  c->src = g_build_filename (root, "tree", "src", NULL);
  recovery_key = g_build_filename (root, "recovery.key", NULL);
  make_version (c->src, 0);
  RUN_OK (c->computer, c->repo, "init", "--recovery-key-file", recovery_key, "--device-name", "A");
  RUN_OK (c->computer, c->repo, "category", "add", CATEGORY, c->src);
  RUN_OK (c->computer, c->repo, "backup");
}

static void
chaos_report (Chaos *c, guint32 seed)
{
  guint total = 0;

  for (Op op = 0; op < N_OPS; op++)
    {
      if (c->rounds[op] == 0)
        continue;
      g_test_message ("%s: %u runs, %u killed, %u finished before their kill point", op_names[op],
                      c->rounds[op], c->kills[op], c->finished[op]);
      total += c->kills[op];
    }
  g_test_message ("%u SIGKILLs in all (seed %u)", total, seed);
}

static void
chaos_free (Chaos *c)
{
  g_free (c->computer);
  g_free (c->repo);
  g_free (c->src);
  g_free (c->removing);
  g_clear_pointer (&rng, g_rand_free);
}

static guint32
chaos_start (Chaos *c)
{
  guint32 seed = (guint32) seed_from_env ();

  if (g_getenv ("COFFER_CHAOS_KILLS") != NULL)
    kills_per_op = MAX (1, (guint) g_ascii_strtoull (g_getenv ("COFFER_CHAOS_KILLS"), NULL, 10));
  g_test_message ("COFFER_CHAOS_SEED=%u", seed);
  rng = g_rand_new_with_seed (seed);
  chaos_setup (c);
  return seed;
}

/* backup, a removal of another computer (which rotates the keys), the
 * re-encryption that calls for, prune: until each was killed kills_per_op
 * times (25: 100 in all). A run that finished before its kill point does
 * not count. */
static void
test_kills (void)
{
  Chaos c = { 0 };
  guint32 seed = chaos_start (&c);

  while (c.kills[OP_BACKUP] < kills_per_op || c.kills[OP_DEVICES_REMOVE] < kills_per_op
         || c.kills[OP_REENCRYPT] < kills_per_op || c.kills[OP_PRUNE] < kills_per_op)
    {
      chaos_round (&c, OP_BACKUP, c.kills[OP_BACKUP] < kills_per_op);
      /* The re-encryption needs the rotation a removal makes. */
      if (c.kills[OP_DEVICES_REMOVE] < kills_per_op || c.kills[OP_REENCRYPT] < kills_per_op)
        {
          chaos_round (&c, OP_DEVICES_REMOVE, c.kills[OP_DEVICES_REMOVE] < kills_per_op);
          chaos_round (&c, OP_REENCRYPT, c.kills[OP_REENCRYPT] < kills_per_op);
        }
      if (c.kills[OP_PRUNE] < kills_per_op)
        chaos_round (&c, OP_PRUNE, TRUE);
      for (Op op = 0; op < N_OPS; op++)
        g_assert_cmpuint (c.rounds[op], <, 4 * kills_per_op);
    }
  chaos_report (&c, seed);
  chaos_free (&c);
}

/* Every regular file below restored is complete (the same as in expect);
 * restore temporaries (hidden, never a final name) are allowed. */
static guint
assert_nothing_half_written (const char *expect, const char *restored)
{
  g_autoptr(GDir) d = g_dir_open (restored, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *a = g_build_filename (expect, name, NULL);
      g_autofree char *b = g_build_filename (restored, name, NULL);
      struct stat st;

      if (g_str_has_prefix (name, ".coffer-restore-"))
        continue;
      g_assert_cmpint (lstat (b, &st), ==, 0);
      if (S_ISDIR (st.st_mode))
        n += assert_nothing_half_written (a, b);
      else if (S_ISREG (st.st_mode))
        {
          g_autofree char *da = NULL, *db = NULL;
          gsize la = 0, lb = 0;
          g_assert_true (g_file_get_contents (a, &da, &la, NULL));
          g_assert_true (g_file_get_contents (b, &db, &lb, NULL));
          if (la != lb || memcmp (da, db, la) != 0)
            g_error ("half-written under its final name: %s", b);
          n++;
        }
    }
  return n;
}

/* A restore killed at random points, CHAOS_RESTORE_KILLS times: no file
 * under its final name is half-written, and the same restore run again
 * completes byte for byte, with no temporaries left. */
#define CHAOS_RESTORE_KILLS 10

static void
test_restore_kills (void)
{
  Chaos c = { 0 };
  g_autofree char *target = g_build_filename (root, "restore-killed", NULL);
  g_autofree char *restored = NULL;
  g_autofree char *expect = g_build_filename (root, "expect", NULL);
  guint32 seed = chaos_start (&c);
  guint kills = 0, rounds = 0;

  restored = g_build_filename (target, c.src, NULL);
  make_version (expect, 0);
  while (kills < CHAOS_RESTORE_KILLS)
    {
      g_autofree char *ref = g_build_filename (root, "restore-ref", NULL);
      gint64 t0, duration, delay, deadline;
      int status = 0;
      pid_t done;
      GPid pid;

      g_assert_cmpuint (++rounds, <, 4 * CHAOS_RESTORE_KILLS);
      coffer_test_rmtree (ref);
      t0 = g_get_monotonic_time ();
      RUN_OK (c.computer, c.repo, "restore", "--target", ref);
      duration = g_get_monotonic_time () - t0;
      coffer_test_rmtree (ref);

      coffer_test_rmtree (target);
      delay = (gint64) (g_rand_double (rng) * duration);
      pid = spawn (c.computer, c.repo, ARGS ("restore", "--target", target));
      deadline = g_get_monotonic_time () + delay;
      while ((done = waitpid (pid, &status, WNOHANG)) == 0 && g_get_monotonic_time () < deadline)
        g_usleep (200);   /* the kill point is the random variable */
      if (done == 0)
        {
          kill (pid, SIGKILL);
          g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
        }
      g_spawn_close_pid (pid);
      if (WIFSIGNALED (status))
        kills++;
      g_test_message ("restore round %u: %s at %.0f of %.0f ms, %u files complete", rounds,
                      WIFSIGNALED (status) ? "killed" : "finished before the kill point", delay / 1e3,
                      duration / 1e3, assert_nothing_half_written (expect, restored));
      RUN_OK (c.computer, c.repo, "restore", "--target", target);
      coffer_test_assert_same_tree (expect, restored, FALSE);
    }
  g_test_message ("restore: %u runs, %u killed (seed %u)", rounds, kills, seed);
  chaos_free (&c);
}

/* Two computers back up the same category at once (each its own folder)
 * while a third forgets and prunes (grace 2 s: longer than a backup here,
 * so the marks of one round are swept during the next round's backups). */
static void
test_concurrent (void)
{
  Chaos c = { 0 };
  g_autofree char *b = g_build_filename (root, "B", NULL);
  g_autofree char *pruner = g_build_filename (root, "C", NULL);
  g_autofree char *src_b = g_build_filename (root, "tree", "src-b", NULL);
  g_autoptr(GHashTable) first_round = NULL;
  g_autofree char *err_a = g_build_filename (root, "a.err", NULL);
  g_autofree char *err_b = g_build_filename (root, "b.err", NULL);
  g_autofree char *err_c = g_build_filename (root, "c.err", NULL);
  const char *errs[3] = { err_a, err_b, err_c };
  guint32 seed = chaos_start (&c);

  make_version (src_b, 500);
  RUN_OK (b, c.repo, "devices", "trust", "--name", "B", "--recovery-key-file", recovery_key);
  RUN_OK (b, c.repo, "category", "set", CATEGORY, "--add-path", src_b);
  RUN_OK (b, c.repo, "backup");
  RUN_OK (pruner, c.repo, "devices", "trust", "--name", "C", "--recovery-key-file", recovery_key);

  for (guint round = 0; round < CHAOS_ROUNDS; round++)
    {
      GPid pids[3];
      int status;
      guint n;

      make_version (c.src, ++c.version);
      make_version (src_b, 501 + round);
      pids[0] = spawn_logged (c.computer, c.repo, errs[0], ARGS ("backup"));
      pids[1] = spawn_logged (b, c.repo, errs[1], ARGS ("backup"));
      pids[2] = spawn_logged (pruner, c.repo, errs[2],
                              ARGS ("forget", "--category", CATEGORY, "--keep-last", "1"));
      g_assert_cmpint (waitpid (pids[2], &status, 0), ==, pids[2]);
      g_spawn_close_pid (pids[2]);
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        {
          g_autofree char *text = NULL;
          g_file_get_contents (errs[2], &text, NULL, NULL);
          g_error ("round %u: C's forget exited with status %d: %s", round, status, text);
        }
      pids[2] = spawn_logged (pruner, c.repo, errs[2], ARGS ("prune", "--grace", "2"));
      for (guint i = 0; i < 3; i++)
        {
          g_assert_cmpint (waitpid (pids[i], &status, 0), ==, pids[i]);
          g_spawn_close_pid (pids[i]);
          if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
            {
              g_autofree char *text = NULL;
              g_file_get_contents (errs[i], &text, NULL, NULL);
              g_error ("round %u: %s exited with status %d: %s", round,
                       i == 0 ? "A's backup" : i == 1 ? "B's backup" : "C's prune", status, text);
            }
        }
      /* Nothing referenced went: check is clean, every snapshot restores. */
      n = verify_repo_srcs (c.computer, c.repo, (const char * const[]) { c.src, src_b, NULL }, FALSE);
      g_test_message ("round %u: both backups and the prune completed; %u snapshots check and restore",
                      round + 1, n);
      g_assert_cmpuint (n, >=, 2);
      if (round == 0)
        first_round = store_objects (c.repo);
    }
  /* The prunes did delete: once the grace period has passed, what the
   * rounds forgot is gone, and what is referenced still restores. */
  g_usleep (2100 * 1000);   /* the grace period itself, not synchronisation */
  RUN_OK (pruner, c.repo, "prune", "--grace", "2");
  verify_repo_srcs (c.computer, c.repo, (const char * const[]) { c.src, src_b, NULL }, FALSE);
  {
    g_autoptr(GHashTable) now = store_objects (c.repo);
    GHashTableIter it;
    gpointer name;
    guint gone = 0;

    g_hash_table_iter_init (&it, first_round);
    while (g_hash_table_iter_next (&it, &name, NULL))
      gone += strstr (name, "/packs/") != NULL && !g_hash_table_contains (now, name);
    g_test_message ("%u packs of the first round were deleted by the prunes", gone);
    g_assert_cmpuint (gone, >, 0);
  }
  g_test_message ("%u concurrent rounds (seed %u)", CHAOS_ROUNDS, seed);
  chaos_free (&c);
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
  g_assert_nonnull (coffer_bin);
  g_assert_true (g_file_test (coffer_bin, G_FILE_TEST_IS_EXECUTABLE));
  root = coffer_test_mkdtemp ();
  atexit (remove_root);

  g_test_add_func ("/chaos/kills", test_kills);
  g_test_add_func ("/chaos/concurrent", test_concurrent);
  g_test_add_func ("/chaos/restore-kills", test_restore_kills);
  return g_test_run ();
}
