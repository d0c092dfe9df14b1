/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli.c: drives the built `coffer` binary through a whole session in a
 * temporary HOME: usage errors, init, categories, backup, listing, restore
 * (byte for byte), check, forget/prune, password change, Advanced
 * protection, recovery key checks, and that secrets never leak into argv,
 * the environment block or the output. The tests run in order and share
 * one repository. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/mount.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "coffer-recovery-key.h"
#include "coffer-secret.h"
#include "test-utils.h"

#define PASSWORD     "Tr0ub4dor-and-3-horses"
#ifndef NEW_PASSWORD
#define NEW_PASSWORD "correct horse battery staple 77"
#endif

static char *cli_path;
static char *tmp_dir;
static char *home;       /* this computer */
static char *home2;      /* "another computer": no device key */
static char *repo;
static char *src;        /* backed-up data */
static char *docs, *media, *secrets;
static char *recovery_key;  /* as shown by init */
static GString *all_output; /* everything the tool printed (except init's key) */

typedef struct
{
  int   status;
  char *out;
  char *err;
} Result;

static void
result_free (Result *r)
{
  g_free (r->out);
  g_free (r->err);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Result, result_free)

static GSubprocessLauncher *
make_launcher (const char *home_dir,
               const char * const *env)
{
  GSubprocessLauncher *launcher;
  g_autofree char *data = g_build_filename (home_dir, ".local", "share", NULL);
  g_autofree char *config = g_build_filename (home_dir, ".config", NULL);
  g_autofree char *cache = g_build_filename (home_dir, ".cache", NULL);
  g_autofree char *state = g_build_filename (home_dir, ".local", "state", NULL);
  g_autofree char *runtime = g_build_filename (home_dir, "run", NULL);
  const char *empty_env[] = { NULL };

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_environ (launcher, (char **) empty_env);
  g_subprocess_launcher_setenv (launcher, "PATH", "/usr/bin:/bin", TRUE);
  g_subprocess_launcher_setenv (launcher, "HOME", home_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", state, TRUE);
  g_mkdir_with_parents (runtime, 0700);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_TESTING", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_TEST_FAST_KDF", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_KEYRING", "none", TRUE);
  g_subprocess_launcher_setenv (launcher, "G_DEBUG", "gc-friendly,fatal-warnings", TRUE);
  /* The sanitizer build (build-aux/fuzz.sh) configures its runtime here. */
  for (guint i = 0; i < 3; i++)
    {
      static const char *const san[] = { "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS" };
      if (g_getenv (san[i]) != NULL)
        g_subprocess_launcher_setenv (launcher, san[i], g_getenv (san[i]), TRUE);
    }
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) kv = g_strsplit (env[i], "=", 2);
      g_subprocess_launcher_setenv (launcher, kv[0], kv[1] ? kv[1] : "", TRUE);
    }
  return launcher;
}

/* Runs coffer with argv (NULL-terminated) and the given extra environment
 * ("NAME=value"). Secrets must only ever travel in the environment: the
 * helper asserts that no argument holds one. */
static Result *
run_full (const char         *home_dir,
          const char * const *env,
          gboolean            record_output,
          const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = make_launcher (home_dir, env);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) error = NULL;
  Result *r = g_new0 (Result, 1);

  g_ptr_array_add (argv, cli_path);
  for (guint i = 0; args[i] != NULL; i++)
    {
      g_assert_null (strstr (args[i], PASSWORD));
      g_assert_null (strstr (args[i], NEW_PASSWORD));
      if (recovery_key != NULL)
        g_assert_null (strstr (args[i], recovery_key));
      g_ptr_array_add (argv, (char *) args[i]);
    }
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  stdin_bytes = g_bytes_new (NULL, 0);
  g_subprocess_communicate (proc, stdin_bytes, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  r->status = g_subprocess_get_exit_status (proc);
  r->out = g_strndup (g_bytes_get_size (out) ? g_bytes_get_data (out, NULL) : "", g_bytes_get_size (out));
  r->err = g_strndup (g_bytes_get_size (err) ? g_bytes_get_data (err, NULL) : "", g_bytes_get_size (err));
  if (record_output)
    {
      g_string_append (all_output, r->out);
      g_string_append (all_output, r->err);
    }
  if (g_test_verbose ())
    {
      g_autofree char *cmd = g_strjoinv (" ", (char **) argv->pdata);
      g_test_message ("$ %s\n-> %d\nstdout: %s\nstderr: %s", cmd, r->status, r->out, r->err);
    }
  return r;
}

#define ENV(...) ((const char * const []) { __VA_ARGS__, NULL })
#define ARGS(...) ((const char * const []) { __VA_ARGS__, NULL })
#define NOENV ((const char * const []) { NULL })

static Result *
run (const char * const *env,
     const char * const *args)
{
  return run_full (home, env, TRUE, args);
}

static void
assert_status (Result *r,
               int     expected)
{
  if (r->status != expected)
    g_error ("exit status %d, expected %d\nstdout: %s\nstderr: %s", r->status, expected, r->out, r->err);
}

#define assert_contains(hay, needle) G_STMT_START { \
  if (strstr ((hay), (needle)) == NULL) \
    g_error ("“%s” not found in:\n%s", (needle), (hay)); \
} G_STMT_END

static const char * const pw_env[] = { "COFFER_PASSWORD=" PASSWORD, NULL };

/* ---- Fixtures ---- */

static void
write_file (const char *dir,
            const char *name,
            const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
make_tree (void)
{
  g_autofree char *sub = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *big = NULL;
  g_autofree char *link = NULL;

  docs = g_build_filename (src, "docs", NULL);
  media = g_build_filename (src, "media", NULL);
  secrets = g_build_filename (src, "secrets", NULL);
  sub = g_build_filename (docs, "sub", "deeper", NULL);
  empty = g_build_filename (docs, "empty folder", NULL);
  g_assert_cmpint (g_mkdir_with_parents (sub, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (empty, 0750), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (media, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (secrets, 0700), ==, 0);

  write_file (docs, "notes.txt", "Buy milk.\n");
  write_file (docs, "report.txt", "Quarterly numbers\n");
  write_file (sub, "deep.txt", "deep down\n");
  write_file (docs, "caf\xe9-latin1.txt", "a name that is not UTF-8\n");
  write_file (docs, "empty.txt", "");
  big = g_build_filename (docs, "big.bin", NULL);
  coffer_test_write_random (big, 3 * 1024 * 1024 + 123, 42);
  link = g_build_filename (docs, "link-to-notes", NULL);
  g_assert_cmpint (symlink ("notes.txt", link), ==, 0);
  {
    g_autofree char *dangling = g_build_filename (docs, "dangling", NULL);
    g_assert_cmpint (symlink ("/nonexistent/target", dangling), ==, 0);
  }
  {
    g_autofree char *exe = g_build_filename (docs, "script.sh", NULL);
    write_file (docs, "script.sh", "#!/bin/sh\necho hi\n");
    g_assert_cmpint (g_chmod (exe, 0755), ==, 0);
  }

  write_file (media, "song.ogg", "not really music");
  write_file (secrets, "diary.txt", "Dear diary, the code is 1234.\n");
}

/* ---- Usage errors ---- */

static void
test_no_command (void)
{
  g_autoptr(Result) r = run (NOENV, ARGS (NULL));

  assert_status (r, 2);
  assert_contains (r->err, "coffer: ");
  assert_contains (r->err, "No command");
  assert_contains (r->err, "coffer --help");
}

static void
test_unknown_command (void)
{
  g_autoptr(Result) r = run (NOENV, ARGS ("bakup", "--repo", "/nowhere"));
  g_autoptr(Result) r2 = run (NOENV, ARGS ("resotre"));
  g_autoptr(Result) r3 = run (NOENV, ARGS ("xyzzy-frobnicate"));

  assert_status (r, 2);
  assert_contains (r->err, "not a coffer command");
  assert_contains (r->err, "Did you mean 'backup'?");
  assert_status (r2, 2);
  assert_contains (r2->err, "Did you mean 'restore'?");
  assert_status (r3, 2);
  g_assert_null (strstr (r3->err, "Did you mean"));
}

static void
test_help (void)
{
  g_autoptr(Result) r = run (NOENV, ARGS ("--help"));
  g_autoptr(Result) v = run (NOENV, ARGS ("--version"));
  g_autoptr(Result) b = run (NOENV, ARGS ("backup", "--help"));
  g_autoptr(Result) c = run (NOENV, ARGS ("category", "add", "--help"));
  g_autoptr(Result) h = run (NOENV, ARGS ("help", "restore"));
  const char *commands[] = { "init", "category", "backup", "snapshots", "ls", "find", "restore",
                             "check", "forget", "prune", "protect", "password", "recovery-key" };

  assert_status (r, 0);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    assert_contains (r->out, commands[i]);
  assert_status (v, 0);
  assert_contains (v->out, "coffer ");
  assert_status (b, 0);
  assert_contains (b->out, "--category");
  assert_contains (b->out, "--repo");
  assert_contains (b->out, "--password-file");
  assert_status (c, 0);
  assert_contains (c->out, "--level");
  assert_contains (c->out, "--exclude");
  assert_status (h, 0);
  assert_contains (h->out, "--target");
  assert_contains (h->out, "--overwrite");
}

/* An option that takes a value may come before the command or subcommand
 * word; its value is not taken for the word. Which options take a value
 * comes from the commands' own option tables (--confirm-file, -l and
 * --keep were once missing from a hand-kept list). */
static void
test_options_before_command (void)
{
  g_autoptr(Result) a = run (NOENV, ARGS ("recovery-key", "--confirm-file", "key.txt", "replace", "--help"));
  g_autoptr(Result) b = run (NOENV, ARGS ("category", "-l", "advanced", "add", "--help"));
  g_autoptr(Result) c = run (NOENV, ARGS ("devices", "--keep", "abc", "remove", "--help"));
  g_autoptr(Result) d = run (NOENV, ARGS ("--repo", "backup", "snapshots", "--help"));
  g_autoptr(Result) e = run (NOENV, ARGS ("remote", "--host", "nas", "add", "--help"));

  assert_status (a, 0);
  assert_contains (a->out, "--confirm-file");
  assert_status (b, 0);
  assert_contains (b->out, "--level");
  assert_status (c, 0);
  assert_contains (c->out, "--keep");
  assert_status (d, 0);
  assert_contains (d->out, "coffer snapshots");
  assert_status (e, 0);
  assert_contains (e->out, "--host");
}

static void
test_missing_repo (void)
{
  g_autoptr(Result) r = run (pw_env, ARGS ("backup"));

  assert_status (r, 2);
  assert_contains (r->err, "--repo");
  assert_contains (r->err, "COFFER_REPO");
}

static void
test_password_argument_refused (void)
{
  g_autoptr(Result) r = run (NOENV, ARGS ("backup", "--repo", "/nowhere", "--password=hunter2xyz"));
  g_autoptr(Result) r2 = run (NOENV, ARGS ("--password", "hunter2xyz", "init", "--repo", "/nowhere"));

  assert_status (r, 2);
  assert_contains (r->err, "COFFER_PASSWORD");
  assert_contains (r->err, "--password-file");
  g_assert_null (strstr (r->err, "hunter2xyz"));
  g_assert_null (strstr (r->out, "hunter2xyz"));
  assert_status (r2, 2);
  g_assert_null (strstr (r2->err, "hunter2xyz"));
}

static void
test_nonexistent_repo (void)
{
  g_autofree char *nowhere = g_build_filename (tmp_dir, "no-such-repo", NULL);
  g_autoptr(Result) r = run (pw_env, ARGS ("snapshots", "--repo", nowhere));

  g_assert_cmpint (r->status, !=, 0);
  assert_contains (r->err, "coffer: ");
  assert_contains (r->err, "no Coffer repository");
}

/* init proves the destination takes writes before writing anything, and
 * names the real reason: a read-only destination (a read-only mount, which
 * refuses root too; a 0555 folder where mounting is not allowed) is "read-
 * only", not refused credentials, and not even the recovery key file is
 * written. A missing drive exits 5 (try again later). */
static void
test_init_read_only (void)
{
  g_autofree char *ro = g_build_filename (tmp_dir, "read-only-dest", NULL);
  g_autofree char *key_file = g_build_filename (tmp_dir, "ro-key.txt", NULL);
  g_autofree char *gone = g_build_filename (tmp_dir, "unplugged", "Backup", "coffer", NULL);
  g_autoptr(Result) r = NULL;
  g_autoptr(Result) missing = NULL;
  gboolean mounted;

  g_mkdir_with_parents (ro, 0755);
  mounted = mount ("tmpfs", ro, "tmpfs", MS_RDONLY, "size=1m") == 0;
  if (!mounted)
    g_assert_cmpint (g_chmod (ro, 0555), ==, 0);
  r = run (pw_env, ARGS ("init", "--repo", ro, "--recovery-key-file", key_file));
  if (mounted)
    umount2 (ro, MNT_DETACH);
  assert_status (r, 1);
  assert_contains (r->err, "is read-only");
  g_assert_null (strstr (r->err, "password"));
  g_assert_false (g_file_test (key_file, G_FILE_TEST_EXISTS));

  missing = run (pw_env, ARGS ("init", "--repo", gone));
  assert_status (missing, 5);
  assert_contains (missing->err, "not connected");
}

/* ---- The session ----
 * Each session test runs on a repository of its own, made by
 * session_setup up to the stage it needs (see add_session_test), so that
 * any test can run alone (-p /cli/session/X) or in any order. */

typedef enum
{
  SESSION_EMPTY,          /* a fresh location, nothing there yet */
  SESSION_INIT,           /* `coffer init` (password PASSWORD) */
  SESSION_CATEGORIES,     /* + Docs (standard), Media (standard), Secrets (advanced) */
  SESSION_BACKED_UP,      /* + one backup of every category */
  SESSION_NEW_PASSWORD,   /* + the backup password changed to NEW_PASSWORD */
  SESSION_DOCS_ADVANCED,  /* + Docs switched to Advanced protection */
} SessionStage;

typedef struct
{
  SessionStage  stage;
  GTestFunc     func;
} SessionTest;

/* The recovery key that init printed on stdout. */
static char *
parse_recovery_key (const char *out)
{
  g_autoptr(GRegex) regex = g_regex_new ("\\b([0-9A-Z]{4}(-[0-9A-Z]{4}){6})\\b", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;

  g_assert_true (g_regex_match (regex, out, 0, &match));
  return g_match_info_fetch (match, 1);
}

/* Points repo at a new location and brings it up to stage; recovery_key
 * is its key (NULL before init). */
static void
session_setup (SessionStage stage)
{
  static guint n_sessions;
  g_autofree char *rk_var = NULL;

  g_free (repo);
  repo = g_strdup_printf ("%s/repo-%u", tmp_dir, ++n_sessions);
  g_clear_pointer (&recovery_key, g_free);
  if (stage >= SESSION_INIT)
    {
      g_autoptr(Result) r = run_full (home, pw_env, FALSE, ARGS ("init", "--repo", repo, "--device-name",
                                                                 "test-box"));

      assert_status (r, 0);
      g_string_append (all_output, r->err);
      recovery_key = parse_recovery_key (r->out);
      rk_var = g_strconcat ("COFFER_RECOVERY_KEY=", recovery_key, NULL);
    }
  if (stage >= SESSION_CATEGORIES)
    {
      g_autoptr(Result) d = run (pw_env, ARGS ("category", "add", "Docs", "--repo", repo, "--level",
                                               "standard", docs));
      g_autoptr(Result) m = run (pw_env, ARGS ("category", "add", "Media", "--repo", repo, media));
      g_autoptr(Result) s = run (ENV ("COFFER_PASSWORD=" PASSWORD, rk_var),
                                 ARGS ("category", "add", "Secrets", "--repo", repo, "--level", "advanced",
                                       secrets));

      assert_status (d, 0);
      assert_status (m, 0);
      assert_status (s, 0);
    }
  if (stage >= SESSION_BACKED_UP)
    {
      g_autoptr(Result) b = run (pw_env, ARGS ("backup", "--repo", repo));

      assert_status (b, 0);
    }
  if (stage >= SESSION_NEW_PASSWORD)
    {
      g_autoptr(Result) p = run (ENV ("COFFER_PASSWORD=" PASSWORD, "COFFER_NEW_PASSWORD=" NEW_PASSWORD),
                                 ARGS ("password", "--repo", repo));

      assert_status (p, 0);
    }
  if (stage >= SESSION_DOCS_ADVANCED)
    {
      g_autoptr(Result) a = run (ENV ("COFFER_PASSWORD=" NEW_PASSWORD, rk_var),
                                 ARGS ("protect", "Docs", "--advanced", "--repo", repo));

      assert_status (a, 0);
    }
}

static void
run_session_test (gconstpointer data)
{
  const SessionTest *test = data;

  session_setup (test->stage);
  test->func ();
}

/* Adds a test that runs on a repository of its own at stage. */
static void
add_session_test (const char   *path,
                  SessionStage  stage,
                  GTestFunc     func)
{
  SessionTest *test = g_new0 (SessionTest, 1);

  test->stage = stage;
  test->func = func;
  g_test_add_data_func_full (path, test, run_session_test, g_free);
}

static void
test_init (void)
{
  g_autoptr(Result) r = NULL;
  g_autoptr(Result) again = NULL;
  g_autoptr(Result) nopw = NULL;

  /* no password and no terminal: refused, nothing created */
  nopw = run (NOENV, ARGS ("init", "--repo", repo));
  assert_status (nopw, 2);
  assert_contains (nopw->err, "password");

  r = run_full (home, pw_env, FALSE, ARGS ("init", "--repo", repo, "--device-name", "test-box"));
  assert_status (r, 0);
  assert_contains (r->out, "recovery key");
  assert_contains (r->out, "offline");
  recovery_key = parse_recovery_key (r->out);
  g_assert_cmpuint (strlen (recovery_key), ==, 34);
  g_assert_null (strstr (r->out, PASSWORD));
  g_assert_null (strstr (r->err, PASSWORD));
  g_string_append (all_output, r->err);

  again = run (pw_env, ARGS ("init", "--repo", repo));
  g_assert_cmpint (again->status, !=, 0);
  assert_contains (again->err, "coffer: ");
}

static void
test_init_key_file (void)
{
  g_autofree char *repo2 = g_build_filename (tmp_dir, "repo2", NULL);
  g_autofree char *repo3 = g_build_filename (tmp_dir, "repo3", NULL);
  g_autofree char *key_file = g_build_filename (tmp_dir, "rk.txt", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(Result) r = NULL;
  g_autoptr(Result) r2 = NULL;
  GStatBuf st;

  r = run (pw_env, ARGS ("init", "--repo", repo2, "--recovery-key-file", key_file));
  assert_status (r, 0);
  g_assert_cmpint (g_stat (key_file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (key_file, &contents, NULL, NULL));
  /* the key went to the file, not to stdout */
  {
    g_autoptr(GRegex) regex = g_regex_new ("[0-9A-Z]{4}(-[0-9A-Z]{4}){6}", 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;
    g_autofree char *key = NULL;

    g_assert_true (g_regex_match (regex, contents, 0, &m));
    key = g_match_info_fetch (m, 0);
    g_assert_null (strstr (r->out, key));
  }

  /* an existing file is never overwritten */
  r2 = run (pw_env, ARGS ("init", "--repo", repo3, "--recovery-key-file", key_file));
  g_assert_cmpint (r2->status, !=, 0);
  assert_contains (r2->err, "already exists");
  {
    g_autofree char *after = NULL;
    g_autofree char *config = g_build_filename (repo3, "config", NULL);

    g_assert_true (g_file_get_contents (key_file, &after, NULL, NULL));
    g_assert_cmpstr (after, ==, contents);
    g_assert_false (g_file_test (config, G_FILE_TEST_EXISTS));
  }
}

static void
test_category_add (void)
{
  const char *rk_env[] = { "COFFER_PASSWORD=" PASSWORD, NULL, NULL };
  g_autofree char *rk_var = g_strconcat ("COFFER_RECOVERY_KEY=", recovery_key, NULL);
  g_autoptr(Result) a = NULL;
  g_autoptr(Result) b = NULL;
  g_autoptr(Result) c = NULL;
  g_autoptr(Result) list = NULL;
  g_autoptr(Result) bad = NULL;
  g_autofree char *cwd = g_get_current_dir ();

  /* the exact form the benchmark uses */
  a = run (pw_env, ARGS ("category", "add", "Docs", "--repo", repo, "--level", "standard", docs));
  assert_status (a, 0);

  /* relative paths are made absolute */
  g_assert_cmpint (g_chdir (src), ==, 0);
  b = run (pw_env, ARGS ("category", "add", "Media", "--repo", repo, "media"));
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  assert_status (b, 0);

  rk_env[1] = rk_var;
  c = run (rk_env, ARGS ("category", "add", "Secrets", "--repo", repo, "--level", "advanced", secrets));
  assert_status (c, 0);

  bad = run (pw_env, ARGS ("category", "add", "Bad", "--repo", repo, "--level", "ultra", docs));
  assert_status (bad, 2);

  list = run (pw_env, ARGS ("category", "list", "--repo", repo, "--json"));
  assert_status (list, 0);
  g_assert_true (list->out[0] == '[');
  assert_contains (list->out, "\"name\":\"Docs\"");
  assert_contains (list->out, "\"name\":\"Media\"");
  assert_contains (list->out, "\"name\":\"Secrets\"");
  assert_contains (list->out, "\"level\":\"advanced\"");
  assert_contains (list->out, media);
}

static void
test_backup (void)
{
  g_autoptr(Result) r = run (pw_env, ARGS ("backup", "--repo", repo));

  assert_status (r, 0);
  assert_contains (r->out, "Docs");
  assert_contains (r->out, "Media");
  assert_contains (r->out, "Secrets");
  assert_contains (r->out, "snapshot");
}

static void
test_snapshots_json (void)
{
  g_autoptr(Result) r = run (pw_env, ARGS ("snapshots", "--repo", repo, "--json"));
  g_autoptr(Result) t = run (pw_env, ARGS ("snapshots", "--repo", repo, "--category", "Docs"));

  assert_status (r, 0);
  g_assert_true (r->out[0] == '[');
  assert_contains (r->out, "\"category\":\"Docs\"");
  assert_contains (r->out, "\"category\":\"Secrets\"");
  assert_contains (r->out, "\"hostname\":");
  assert_contains (r->out, "\"files\":");
  g_assert_true (g_utf8_validate (r->out, -1, NULL));
  assert_status (t, 0);
  assert_contains (t->out, "Docs");
  g_assert_null (strstr (t->out, "Media"));
}

static void
test_ls (void)
{
  g_autoptr(Result) r = run (pw_env, ARGS ("ls", "--repo", repo, "--category", "Docs", "--snapshot",
                                           "latest", "--recursive"));
  g_autoptr(Result) j = run (pw_env, ARGS ("ls", "--repo", repo, "--category", "Docs", docs, "--json"));
  g_autoptr(Result) l = run (pw_env, ARGS ("ls", "--repo", repo, "--category", "Docs", docs, "--long"));
  g_autoptr(Result) f = run (pw_env, ARGS ("find", "--repo", repo, "--category", "Docs", "deep*"));
  g_autofree char *b64 = g_base64_encode ((const guchar *) "caf\xe9-latin1.txt", strlen ("caf\xe9-latin1.txt"));

  assert_status (r, 0);
  assert_contains (r->out, "notes.txt");
  assert_contains (r->out, "sub/deeper/deep.txt");
  assert_contains (r->out, "empty folder");
  assert_contains (r->out, "caf\xe9-latin1.txt");   /* raw bytes on stdout */

  assert_status (j, 0);
  g_assert_true (g_utf8_validate (j->out, -1, NULL));
  assert_contains (j->out, "\"name\":\"notes.txt\"");
  assert_contains (j->out, "\"type\":\"symlink\"");
  assert_contains (j->out, b64);                     /* lossless name_raw */
  assert_contains (j->out, "\"name_raw\"");

  assert_status (l, 0);
  assert_contains (l->out, "link-to-notes -> notes.txt");
  assert_contains (l->out, "-rwxr-xr-x");

  assert_status (f, 0);
  assert_contains (f->out, "deep.txt");
  g_assert_null (strstr (f->out, "notes.txt"));
}

static char *
target_path (const char *target,
             const char *original)
{
  return g_build_filename (target, original, NULL);
}

static void
test_restore_target (void)
{
  g_autofree char *target = g_build_filename (tmp_dir, "restored", NULL);
  g_autofree char *copy = target_path (target, docs);
  g_autofree char *media_copy = target_path (target, media);
  g_autoptr(Result) r = NULL;

  /* the exact form the benchmark uses */
  r = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--snapshot", "latest",
                         "--target", target));
  assert_status (r, 0);
  coffer_test_assert_same_tree (docs, copy, TRUE);
  g_assert_false (g_file_test (media_copy, G_FILE_TEST_EXISTS));
}

static void
test_restore_single_path_and_conflict (void)
{
  g_autofree char *target = g_build_filename (tmp_dir, "restored-one", NULL);
  g_autofree char *wanted = g_build_filename (docs, "sub", NULL);
  g_autofree char *copy = target_path (target, wanted);
  g_autofree char *notes_copy = NULL;
  g_autofree char *notes = g_build_filename (docs, "notes.txt", NULL);
  g_autoptr(Result) r = NULL;
  g_autoptr(Result) c = NULL;
  g_autoptr(Result) o = NULL;
  g_autoptr(Result) orig = NULL;
  g_autofree char *contents = NULL;

  r = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--target", target, wanted));
  assert_status (r, 0);
  coffer_test_assert_same_tree (wanted, copy, TRUE);
  notes_copy = target_path (target, notes);
  g_assert_false (g_file_test (notes_copy, G_FILE_TEST_EXISTS));

  /* a newer, different file at the target is not overwritten */
  {
    g_autofree char *dir = g_path_get_dirname (notes_copy);
    g_mkdir_with_parents (dir, 0755);
    g_assert_true (g_file_set_contents (notes_copy, "my newer notes\n", -1, NULL));
  }
  c = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--target", target, notes));
  assert_status (c, 4);
  assert_contains (c->err, "notes.txt");
  g_assert_true (g_file_get_contents (notes_copy, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "my newer notes\n");

  o = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--target", target,
                         "--overwrite", notes));
  assert_status (o, 0);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (notes_copy, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "Buy milk.\n");

  /* to the original place: without a terminal --yes is required */
  orig = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs"));
  assert_status (orig, 2);
  assert_contains (orig->err, "--yes");
}

/* --strip-prefix: the backed-up home folder maps onto the target, so
 * /…/docs/sub lands in TARGET/sub, not TARGET/…/docs/sub; a PATH outside
 * the prefix and a prefix without --target are usage errors. */
static void
test_restore_strip_prefix (void)
{
  g_autofree char *target = g_build_filename (tmp_dir, "restored-strip", NULL);
  g_autofree char *wanted = g_build_filename (docs, "sub", NULL);
  g_autofree char *copy = g_build_filename (target, "sub", NULL);
  g_autofree char *full_copy = target_path (target, wanted);
  g_autofree char *all_target = g_build_filename (tmp_dir, "restored-strip-all", NULL);
  g_autofree char *notes_copy = g_build_filename (all_target, "notes.txt", NULL);
  g_autoptr(Result) r = NULL;
  g_autoptr(Result) all = NULL;
  g_autoptr(Result) outside = NULL;
  g_autoptr(Result) no_target = NULL;

  r = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--target", target,
                         "--strip-prefix", docs, wanted));
  assert_status (r, 0);
  coffer_test_assert_same_tree (wanted, copy, TRUE);
  g_assert_false (g_file_test (full_copy, G_FILE_TEST_EXISTS));

  /* the whole snapshot: the folder's contents straight into the target
   * (which keeps its own mode, so it is made like the source) */
  g_assert_cmpint (g_mkdir (all_target, 0755), ==, 0);
  all = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--target", all_target,
                           "--strip-prefix", docs));
  assert_status (all, 0);
  coffer_test_assert_same_tree (docs, all_target, FALSE);
  g_assert_true (g_file_test (notes_copy, G_FILE_TEST_IS_REGULAR));

  outside = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--target", target,
                               "--strip-prefix", wanted, docs));
  assert_status (outside, 2);
  assert_contains (outside->err, "--strip-prefix");

  no_target = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--yes",
                                 "--strip-prefix", docs));
  assert_status (no_target, 2);
  assert_contains (no_target->err, "--target");
}

static void
test_restore_original_place (void)
{
  g_autofree char *deep = g_build_filename (docs, "sub", "deeper", "deep.txt", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(Result) r = NULL;

  g_assert_cmpint (g_unlink (deep), ==, 0);
  r = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--yes"));
  assert_status (r, 0);
  g_assert_true (g_file_get_contents (deep, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "deep down\n");
}

static void
test_check (void)
{
  g_autoptr(Result) r = run (pw_env, ARGS ("check", "--repo", repo));
  g_autoptr(Result) d = run (pw_env, ARGS ("check", "--repo", repo, "--category", "Docs", "--read-data"));
  g_autoptr(Result) p = run (pw_env, ARGS ("check", "--repo", repo, "--read-data=50"));
  g_autoptr(Result) bad = run (pw_env, ARGS ("check", "--repo", repo, "--read-data=250"));

  assert_status (r, 0);
  assert_status (d, 0);
  assert_status (p, 0);
  assert_status (bad, 2);
}

static void
test_check_finds_damage (void)
{
  /* A copy of the repository with one pack removed: check must say so. */
  g_autofree char *copy = g_build_filename (tmp_dir, "damaged", NULL);
  g_autofree char *cmd = g_strdup_printf ("cp -a '%s' '%s'", repo, copy);
  g_autofree char *find = g_strdup_printf ("find '%s/categories' -path '*/packs/*' -type f", copy);
  g_autofree char *packs = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(Result) r = NULL;
  int wait_status = 0;

  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, &wait_status, NULL));
  g_assert_true (g_spawn_check_wait_status (wait_status, NULL));
  g_assert_true (g_spawn_command_line_sync (find, &packs, NULL, &wait_status, NULL));
  lines = g_strsplit (g_strstrip (packs), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), >, 0);
  for (guint i = 0; lines[i] != NULL; i++)
    g_unlink (lines[i]);

  r = run (pw_env, ARGS ("check", "--repo", copy));
  assert_status (r, 1);
  assert_contains (r->err, "problem");
}

static void
test_missing_source_path (void)
{
  g_autofree char *ghost = g_build_filename (src, "does-not-exist", NULL);
  g_autoptr(Result) a = run (pw_env, ARGS ("category", "add", "Ghost", "--repo", repo, ghost, media));
  g_autoptr(Result) b = NULL;
  g_autoptr(Result) rm = NULL;
  g_autoptr(Result) rm2 = NULL;

  assert_status (a, 0);
  assert_contains (a->err, "does not exist");
  b = run (pw_env, ARGS ("backup", "--repo", repo, "--category", "Ghost"));
  assert_status (b, 3);
  assert_contains (b->err, ghost);
  assert_contains (b->out, "Ghost");

  /* remove needs --yes without a terminal */
  rm = run (pw_env, ARGS ("category", "remove", "Ghost", "--repo", repo));
  assert_status (rm, 2);
  rm2 = run (pw_env, ARGS ("category", "remove", "Ghost", "--repo", repo, "--yes"));
  assert_status (rm2, 0);
}

static void
test_forget_prune (void)
{
  g_autoptr(Result) b = NULL;
  g_autoptr(Result) before = NULL;
  g_autoptr(Result) dry = NULL;
  g_autoptr(Result) f = NULL;
  g_autoptr(Result) after = NULL;
  g_autoptr(Result) p1 = NULL;
  g_autoptr(Result) p2 = NULL;
  g_autoptr(Result) c = NULL;
  g_autoptr(Result) none = NULL;
  g_autofree char *target = g_build_filename (tmp_dir, "restored-after-prune", NULL);
  g_autofree char *copy = NULL;
  g_autoptr(Result) r = NULL;

  write_file (docs, "new-after-first.txt", "second backup\n");
  b = run (pw_env, ARGS ("backup", "--repo", repo, "--category", "Docs"));
  assert_status (b, 0);

  before = run (pw_env, ARGS ("snapshots", "--repo", repo, "--category", "Docs", "--json"));
  assert_status (before, 0);
  assert_contains (before->out, "\"category\":\"Docs\"");
  g_assert_nonnull (strstr (strstr (before->out, "\"category\":\"Docs\"") + 1, "\"category\":\"Docs\""));

  none = run (pw_env, ARGS ("forget", "--repo", repo, "--category", "Docs"));
  assert_status (none, 2);

  dry = run (pw_env, ARGS ("forget", "--repo", repo, "--category", "Docs", "--keep-last", "1", "--dry-run"));
  assert_status (dry, 0);
  assert_contains (dry->out, "would");

  f = run (pw_env, ARGS ("forget", "--repo", repo, "--category", "Docs", "--keep-last", "1"));
  assert_status (f, 0);
  assert_contains (f->out, "forgot");

  after = run (pw_env, ARGS ("snapshots", "--repo", repo, "--category", "Docs", "--json"));
  assert_status (after, 0);
  assert_contains (after->out, "\"category\":\"Docs\"");
  g_assert_null (strstr (strstr (after->out, "\"category\":\"Docs\"") + 1, "\"category\":\"Docs\""));

  p1 = run (pw_env, ARGS ("prune", "--repo", repo, "--grace", "0"));
  assert_status (p1, 0);
  assert_contains (p1->err, "warning");
  p2 = run (pw_env, ARGS ("prune", "--repo", repo, "--grace", "0"));
  assert_status (p2, 0);
  c = run (pw_env, ARGS ("check", "--repo", repo, "--read-data"));
  assert_status (c, 0);

  r = run (pw_env, ARGS ("restore", "--repo", repo, "--category", "Docs", "--target", target));
  assert_status (r, 0);
  copy = target_path (target, docs);
  coffer_test_assert_same_tree (docs, copy, TRUE);
}

static void
test_wrong_password (void)
{
  g_autoptr(Result) r = run (ENV ("COFFER_PASSWORD=not-the-password"), ARGS ("backup", "--repo", repo));

  assert_status (r, 2);
  assert_contains (r->err, "coffer: ");
  assert_contains (r->err, "password");
}

static void
test_password_file (void)
{
  g_autofree char *file = g_build_filename (tmp_dir, "pw.txt", NULL);
  g_autoptr(Result) r = NULL;

  g_assert_true (g_file_set_contents (file, PASSWORD "\n", -1, NULL));
  r = run (NOENV, ARGS ("snapshots", "--repo", repo, "--password-file", file));
  assert_status (r, 0);
  assert_contains (r->out, "Docs");
}

static void
test_change_password (void)
{
  g_autoptr(Result) r = run (ENV ("COFFER_PASSWORD=" PASSWORD, "COFFER_NEW_PASSWORD=" NEW_PASSWORD),
                             ARGS ("password", "--repo", repo));
  g_autoptr(Result) old = NULL;
  g_autoptr(Result) new = NULL;
  g_autoptr(Result) old2 = NULL;

  assert_status (r, 0);
  old = run (pw_env, ARGS ("snapshots", "--repo", repo));
  assert_status (old, 2);
  assert_contains (old->err, "password");
  new = run (ENV ("COFFER_PASSWORD=" NEW_PASSWORD), ARGS ("snapshots", "--repo", repo));
  assert_status (new, 0);
  /* another computer (no device key) with the old password: refused too */
  old2 = run_full (home2, pw_env, TRUE, ARGS ("ls", "--repo", repo, "--category", "Media"));
  assert_status (old2, 2);
}

static void
test_protect_advanced (void)
{
  g_autofree char *rk_var = g_strconcat ("COFFER_RECOVERY_KEY=", recovery_key, NULL);
  const char *rk_only[] = { rk_var, NULL };
  const char *pw_rk[] = { "COFFER_PASSWORD=" NEW_PASSWORD, rk_var, NULL };
  const char *new_pw[] = { "COFFER_PASSWORD=" NEW_PASSWORD, NULL };
  g_autoptr(Result) no_key = NULL;
  g_autoptr(Result) p = NULL;
  g_autoptr(Result) locked = NULL;
  g_autoptr(Result) locked_secrets = NULL;
  g_autoptr(Result) media_ok = NULL;
  g_autoptr(Result) with_rk = NULL;
  g_autoptr(Result) list = NULL;
  g_autoptr(Result) back = NULL;
  g_autoptr(Result) std_again = NULL;

  /* without the recovery key (and no terminal) it refuses */
  no_key = run (new_pw, ARGS ("protect", "Docs", "--advanced", "--repo", repo));
  assert_status (no_key, 2);
  assert_contains (no_key->err, "recovery key");

  p = run (pw_rk, ARGS ("protect", "Docs", "--advanced", "--repo", repo));
  assert_status (p, 0);
  assert_contains (p->out, "Advanced");

  /* On another computer the password alone no longer opens Docs… */
  locked = run_full (home2, new_pw, TRUE, ARGS ("ls", "--repo", repo, "--category", "Docs"));
  assert_status (locked, 2);
  assert_contains (locked->err, "recovery key");
  locked_secrets = run_full (home2, new_pw, TRUE, ARGS ("ls", "--repo", repo, "--category", "Secrets"));
  assert_status (locked_secrets, 2);
  assert_contains (locked_secrets->err, "recovery key");
  /* …but still opens the Standard category */
  media_ok = run_full (home2, new_pw, TRUE, ARGS ("ls", "--repo", repo, "--category", "Media", "--recursive"));
  assert_status (media_ok, 0);
  assert_contains (media_ok->out, "song.ogg");
  list = run_full (home2, new_pw, TRUE, ARGS ("category", "list", "--repo", repo));
  assert_status (list, 0);
  assert_contains (list->out, "locked");

  /* and the recovery key opens everything */
  with_rk = run_full (home2, rk_only, TRUE, ARGS ("ls", "--repo", repo, "--category", "Docs", "--recursive"));
  assert_status (with_rk, 0);
  assert_contains (with_rk->out, "notes.txt");

  /* Standard again needs the password, then the password opens it anywhere */
  back = run (pw_rk, ARGS ("protect", "Secrets", "--standard", "--repo", repo));
  assert_status (back, 0);
  std_again = run_full (home2, new_pw, TRUE, ARGS ("ls", "--repo", repo, "--category", "Secrets", "--recursive"));
  assert_status (std_again, 0);
  assert_contains (std_again->out, "diary.txt");
}

/* config put back at format version 1: refused as rolled back until the
 * user accepts it with the recovery key (check --accept-rollback). */
static void
test_accept_rollback (void)
{
  g_autofree char *config = g_build_filename (repo, "config", NULL);
  g_autofree char *text = NULL;
  g_autofree char *rk_var = g_strconcat ("COFFER_RECOVERY_KEY=", recovery_key, NULL);
  g_autoptr(GString) v1 = NULL;
  g_autoptr(Result) refused = NULL;
  g_autoptr(Result) no_key = NULL;
  g_autoptr(Result) accepted = NULL;
  g_autoptr(Result) again = NULL;
  const char *new_pw[] = { "COFFER_PASSWORD=" NEW_PASSWORD, NULL };

  g_assert_true (g_file_get_contents (config, &text, NULL, NULL));
  v1 = g_string_new (text);
  g_assert_cmpuint (g_string_replace (v1, "version=3\n", "version=1\n", 1), ==, 1);
  g_chmod (config, 0644);
  g_assert_true (g_file_set_contents (config, v1->str, v1->len, NULL));

  refused = run (new_pw, ARGS ("check", "--repo", repo));
  g_assert_cmpint (refused->status, !=, 0);
  assert_contains (refused->err, "rolled back");
  assert_contains (refused->err, "--accept-rollback");
  no_key = run (new_pw, ARGS ("check", "--repo", repo, "--accept-rollback"));
  assert_status (no_key, 2);
  assert_contains (no_key->err, "recovery key");
  accepted = run (ENV (rk_var), ARGS ("check", "--repo", repo, "--accept-rollback"));
  assert_status (accepted, 0);
  assert_contains (accepted->out, "accepted");
  again = run (new_pw, ARGS ("check", "--repo", repo));
  assert_status (again, 0);
}

static void
test_recovery_key_verify (void)
{
  g_autofree char *rk_var = g_strconcat ("COFFER_RECOVERY_KEY=", recovery_key, NULL);
  g_autofree char *typo = g_strdup (recovery_key);
  g_autofree char *typo_var = NULL;
  g_autofree char *wrong_var = NULL;
  g_autofree char *lower_var = NULL;
  g_autofree char *file = g_build_filename (tmp_dir, "rk-input.txt", NULL);
  g_autoptr(CofferSecret) other = coffer_recovery_key_generate ();
  g_autoptr(CofferSecret) other_text = coffer_recovery_key_format (other);
  g_autoptr(Result) ok = NULL;
  g_autoptr(Result) lower = NULL;
  g_autoptr(Result) t = NULL;
  g_autoptr(Result) w = NULL;
  g_autoptr(Result) f = NULL;
  g_autoptr(Result) none = NULL;
  g_autoptr(Result) status = NULL;
  char *p;

  ok = run (ENV (rk_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (ok, 0);
  assert_contains (ok->out, "correct");

  /* input is tolerant: lower case, no dashes */
  lower_var = g_ascii_strdown (rk_var, -1);
  memcpy (lower_var, "COFFER_RECOVERY_KEY=", 20);
  for (p = lower_var + 20; *p; p++)
    if (*p == '-')
      *p = ' ';
  lower = run (ENV (lower_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (lower, 0);

  /* one wrong character in group 3: a typo, located */
  typo[11] = typo[11] == 'X' ? 'Y' : 'X';
  typo_var = g_strconcat ("COFFER_RECOVERY_KEY=", typo, NULL);
  t = run (ENV (typo_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (t, 2);
  assert_contains (t->err, "typo");
  g_assert_null (strstr (t->err, "not the one"));

  /* a well-formed key of another repository: a wrong key, no typo */
  wrong_var = g_strconcat ("COFFER_RECOVERY_KEY=", (const char *) other_text->data, NULL);
  w = run (ENV (wrong_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (w, 2);
  assert_contains (w->err, "not the one");
  g_assert_null (strstr (w->err, "typo"));

  /* from a file */
  g_assert_true (g_file_set_contents (file, recovery_key, -1, NULL));
  f = run (NOENV, ARGS ("recovery-key", "verify", "--repo", repo, "--recovery-key-file", file));
  assert_status (f, 0);

  none = run (NOENV, ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (none, 2);

  status = run (NOENV, ARGS ("recovery-key", "status", "--repo", repo));
  assert_status (status, 0);
  assert_contains (status->out, "last tested");
}

/* ---- devices remove: who is kept ---- */

static char *
cli_join (const char *dev_repo, const char *who, const char *by)
{
  g_autoptr(Result) req = NULL, answer = NULL, status = NULL, approve = NULL, done = NULL;
  g_autofree char *id = NULL;
  g_autofree char *code = NULL;
  const char *p;

  req = run_full (who, pw_env, TRUE, ARGS ("devices", "join", "--repo", dev_repo, "--name", who, "--no-wait", "--json"));
  assert_status (req, 0);
  p = strstr (req->out, "\"id\":\"");
  g_assert_nonnull (p);
  id = g_strndup (p + 6, 32);
  answer = run_full (by, pw_env, TRUE, ARGS ("devices", "approve", id, "--repo", dev_repo));
  assert_status (answer, 0);
  status = run_full (who, pw_env, TRUE, ARGS ("devices", "join", "--repo", dev_repo, "--status", "--json"));
  assert_status (status, 0);
  p = strstr (status->out, "\"verification_code\":\"");
  g_assert_nonnull (p);
  code = g_strndup (p + 21, 7);
  approve = run_full (by, pw_env, TRUE, ARGS ("devices", "approve", id, "--repo", dev_repo, "--code", code));
  assert_status (approve, 0);
  done = run_full (who, pw_env, TRUE, ARGS ("devices", "join", "--repo", dev_repo, "--complete"));
  assert_status (done, 0);
  return g_steal_pointer (&id);
}

/* A removal lists the devices it cannot verify without the removed one,
 * keeps those named with --keep and reports the others as lost. */
static void
test_devices_remove_keep (void)
{
  g_autofree char *dev_repo = g_build_filename (tmp_dir, "devices-repo", NULL);
  g_autofree char *rk_file = g_build_filename (tmp_dir, "devices-rk", NULL);
  g_autofree char *ha = g_build_filename (tmp_dir, "dev-a", NULL);
  g_autofree char *hb = g_build_filename (tmp_dir, "dev-b", NULL);
  g_autofree char *hc = g_build_filename (tmp_dir, "dev-c", NULL);
  g_autofree char *he = g_build_filename (tmp_dir, "dev-e", NULL);
  g_autofree char *b = NULL, *c = NULL, *e = NULL, *lost = NULL;
  g_autoptr(Result) init = NULL, list = NULL, rm = NULL, after = NULL;

  g_mkdir_with_parents (ha, 0700);
  g_mkdir_with_parents (hb, 0700);
  g_mkdir_with_parents (hc, 0700);
  g_mkdir_with_parents (he, 0700);
  init = run_full (ha, pw_env, FALSE, ARGS ("init", "--repo", dev_repo, "--recovery-key-file", rk_file));
  assert_status (init, 0);
  b = cli_join (dev_repo, hb, ha);
  c = cli_join (dev_repo, hc, hb);   /* approved by b, which is removed next */
  e = cli_join (dev_repo, he, hb);

  list = run_full (ha, pw_env, TRUE, ARGS ("devices", "list", "--repo", dev_repo));
  assert_status (list, 0);
  assert_contains (list->out, "fingerprint");
  g_assert_null (strstr (list->out, "unverified"));

  rm = run_full (ha, pw_env, TRUE, ARGS ("devices", "remove", b, "--keep", c, "--yes", "--repo", dev_repo,
                                         "--recovery-key-file", rk_file));
  assert_status (rm, 0);
  assert_contains (rm->out, "cannot be verified");
  assert_contains (rm->out, c);
  assert_contains (rm->out, "approved by device");
  assert_contains (rm->out, b);
  lost = g_strdup_printf ("must join again:\n  %s", e);
  assert_contains (rm->out, lost);

  after = run_full (hc, pw_env, TRUE, ARGS ("devices", "list", "--json", "--repo", dev_repo));
  assert_status (after, 0);
  assert_contains (after->out, "\"verified\":true");
  g_assert_null (strstr (after->out, "\"verified\":false"));
  g_assert_null (strstr (after->out, e));
  g_assert_null (strstr (after->out, b));
}

/* Folders belong to a computer: a computer that joins sees the category
 * with none of its own folders (and the first computer's, named), sets its
 * own with 'category set --add-path', and its backup holds its folder only;
 * 'snapshots' names the computer of each snapshot. */
static void
test_category_folders_per_computer (void)
{
  g_autofree char *dev_repo = g_build_filename (tmp_dir, "folders-repo", NULL);
  g_autofree char *rk_file = g_build_filename (tmp_dir, "folders-rk", NULL);
  g_autofree char *ha = g_build_filename (tmp_dir, "folders-a", NULL);
  g_autofree char *hb = g_build_filename (tmp_dir, "folders-b", NULL);
  g_autofree char *docs_a = g_build_filename (ha, "Documents", NULL);
  g_autofree char *docs_b = g_build_filename (hb, "Documents", NULL);
  g_autofree char *file_b = g_build_filename (docs_b, "from-b.txt", NULL);
  g_autofree char *b_id = NULL;
  g_autofree char *expect = NULL;
  g_autoptr(Result) init = NULL, add = NULL, list_b = NULL, json_b = NULL, set = NULL, backup = NULL,
                    snaps = NULL, text_snaps = NULL, list_a = NULL, early = NULL;

  g_mkdir_with_parents (docs_a, 0700);
  g_mkdir_with_parents (docs_b, 0700);
  g_assert_true (g_file_set_contents (file_b, "b", -1, NULL));
  init = run_full (ha, pw_env, FALSE, ARGS ("init", "--repo", dev_repo, "--recovery-key-file", rk_file));
  assert_status (init, 0);
  add = run_full (ha, pw_env, TRUE, ARGS ("category", "add", "Docs", "--repo", dev_repo, docs_a));
  assert_status (add, 0);
  b_id = cli_join (dev_repo, hb, ha);

  json_b = run_full (hb, pw_env, TRUE, ARGS ("category", "list", "--json", "--repo", dev_repo));
  assert_status (json_b, 0);
  assert_contains (json_b->out, "\"paths\":[],");
  /* init names the first computer after the host */
  expect = g_strdup_printf ("\"name\":\"%s\",\"paths\":[\"%s\"]", g_get_host_name (), docs_a);
  assert_contains (json_b->out, expect);
  list_b = run_full (hb, pw_env, TRUE, ARGS ("category", "list", "--repo", dev_repo));
  assert_status (list_b, 0);
  assert_contains (list_b->out, "no folders on this computer yet");
  g_clear_pointer (&expect, g_free);
  expect = g_strdup_printf ("on %s: %s", g_get_host_name (), docs_a);
  assert_contains (list_b->out, expect);

  /* Nothing of Docs is backed up from B yet, and that is no failure. */
  early = run_full (hb, pw_env, TRUE, ARGS ("backup", "--repo", dev_repo));
  assert_status (early, 0);
  assert_contains (early->out, "has no folders on this computer");

  set = run_full (hb, pw_env, TRUE, ARGS ("category", "set", "Docs", "--add-path", docs_b, "--repo", dev_repo));
  assert_status (set, 0);
  backup = run_full (hb, pw_env, TRUE, ARGS ("backup", "--repo", dev_repo));
  assert_status (backup, 0);
  snaps = run_full (hb, pw_env, TRUE, ARGS ("snapshots", "--json", "--repo", dev_repo));
  assert_status (snaps, 0);
  g_clear_pointer (&expect, g_free);
  expect = g_strdup_printf ("\"device_id\":\"%s\",\"hostname\":", b_id);
  assert_contains (snaps->out, expect);
  g_clear_pointer (&expect, g_free);
  expect = g_strdup_printf ("\"computer\":\"%s\",\"category_id\"", hb);
  assert_contains (snaps->out, expect);
  g_clear_pointer (&expect, g_free);
  expect = g_strdup_printf ("\"paths\":[\"%s\"]", docs_b);
  assert_contains (snaps->out, expect);
  g_assert_null (strstr (snaps->out, docs_a));
  text_snaps = run_full (hb, pw_env, TRUE, ARGS ("snapshots", "--repo", dev_repo));
  assert_status (text_snaps, 0);
  assert_contains (text_snaps->out, hb);

  /* The first computer keeps its folder and sees the second one's. */
  list_a = run_full (ha, pw_env, TRUE, ARGS ("category", "list", "--json", "--repo", dev_repo));
  assert_status (list_a, 0);
  g_clear_pointer (&expect, g_free);
  expect = g_strdup_printf ("\"paths\":[\"%s\"],\"excludes\":[],\"other_computers\":[{\"device_id\":\"%s\","
                            "\"name\":\"%s\",\"paths\":[\"%s\"]", docs_a, b_id, hb, docs_b);
  assert_contains (list_a->out, expect);
}

/* A new recovery key takes effect only when typed back: without a terminal
 * and without --confirm-file, or with the wrong key in it, nothing changes,
 * the written key file is removed and the old key keeps working. */
static void
test_recovery_key_replace_confirm (void)
{
  g_autofree char *rk_var = g_strconcat ("COFFER_RECOVERY_KEY=", recovery_key, NULL);
  const char *new_pw[] = { "COFFER_PASSWORD=" NEW_PASSWORD, NULL };
  g_autofree char *out1 = g_build_filename (tmp_dir, "new-key-1.txt", NULL);
  g_autofree char *out2 = g_build_filename (tmp_dir, "new-key-2.txt", NULL);
  g_autofree char *out3 = g_build_filename (tmp_dir, "new-key-3.txt", NULL);
  g_autofree char *wrong_file = g_build_filename (tmp_dir, "wrong-key.txt", NULL);
  g_autoptr(CofferSecret) other = coffer_recovery_key_generate ();
  g_autoptr(CofferSecret) other_text = coffer_recovery_key_format (other);
  g_autofree char *contents = NULL;
  g_autofree char *new_var = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(Result) bare = NULL;
  g_autoptr(Result) unconfirmed = NULL;
  g_autoptr(Result) wrong = NULL;
  g_autoptr(Result) ok = NULL;
  g_autoptr(Result) still = NULL;
  g_autoptr(Result) old = NULL;
  g_autoptr(Result) status = NULL;
  g_autoptr(Result) fresh = NULL;
  GStatBuf st;

  still = run (ENV (rk_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (still, 0);
  g_clear_pointer (&still, result_free);

  bare = run (new_pw, ARGS ("recovery-key", "replace", "--repo", repo));
  assert_status (bare, 2);
  assert_contains (bare->err, "Nothing was changed");

  unconfirmed = run (new_pw, ARGS ("recovery-key", "replace", "--repo", repo, "--output", out1));
  assert_status (unconfirmed, 2);
  assert_contains (unconfirmed->err, "not confirmed");
  g_assert_false (g_file_test (out1, G_FILE_TEST_EXISTS));
  still = run (ENV (rk_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (still, 0);
  g_clear_pointer (&still, result_free);

  g_assert_true (g_file_set_contents (wrong_file, (const char *) other_text->data, -1, NULL));
  wrong = run (new_pw, ARGS ("recovery-key", "replace", "--repo", repo, "--output", out2,
                             "--confirm-file", wrong_file));
  assert_status (wrong, 2);
  assert_contains (wrong->err, "not the new recovery key");
  g_assert_false (g_file_test (out2, G_FILE_TEST_EXISTS));
  still = run (ENV (rk_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (still, 0);
  g_clear_pointer (&still, result_free);

  /* Read back from where it was stored: now it is the key. */
  ok = run (new_pw, ARGS ("recovery-key", "replace", "--repo", repo, "--output", out3, "--confirm-file", out3));
  assert_status (ok, 0);
  assert_contains (ok->out, "confirmed");
  g_assert_cmpint (g_stat (out3, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  old = run (ENV (rk_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (old, 2);
  /* "last tested" belonged to the old key */
  status = run (NOENV, ARGS ("recovery-key", "status", "--repo", repo));
  assert_status (status, 0);
  assert_contains (status->out, "never been tested");

  g_assert_true (g_file_get_contents (out3, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", 2);
  g_free (recovery_key);
  recovery_key = g_strdup (lines[0]);
  new_var = g_strconcat ("COFFER_RECOVERY_KEY=", recovery_key, NULL);
  fresh = run (ENV (new_var), ARGS ("recovery-key", "verify", "--repo", repo));
  assert_status (fresh, 0);
}

/* Standard protection with a password that is not the backup password is
 * refused even when the recovery key opened the repository. */
static void
test_protect_standard_needs_current_password (void)
{
  g_autofree char *rk_var = g_strconcat ("COFFER_RECOVERY_KEY=", recovery_key, NULL);
  const char *other_pw[] = { "COFFER_PASSWORD=" "a different password 12345", rk_var, NULL };
  g_autoptr(Result) r = run_full (home2, other_pw, TRUE, ARGS ("protect", "Docs", "--standard", "--repo", repo));
  g_autoptr(Result) list = NULL;

  assert_status (r, 2);
  assert_contains (r->err, "current backup password");
  list = run_full (home2, ENV (rk_var), TRUE, ARGS ("category", "list", "--repo", repo));
  assert_status (list, 0);
  assert_contains (list->out, "Docs                 advanced");
}

/* The secret taken from the environment is wiped in the process's own
 * environment block and never in its command line. */
static void
test_secrets_not_in_process (void)
{
  g_autoptr(GSubprocessLauncher) launcher = make_launcher (home, ENV ("COFFER_PASSWORD=" NEW_PASSWORD,
                                                                      "COFFER_TEST_HOLD=1"));
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  g_autofree char *environ_path = NULL;
  g_autofree char *cmdline_path = NULL;
  g_autofree char *env_data = NULL;
  g_autofree char *cmd_data = NULL;
  gsize env_len = 0, cmd_len = 0;

  proc = g_subprocess_launcher_spawn (launcher, &error, cli_path, "snapshots", "--repo", repo, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "held");

  environ_path = g_strdup_printf ("/proc/%s/environ", g_subprocess_get_identifier (proc));
  cmdline_path = g_strdup_printf ("/proc/%s/cmdline", g_subprocess_get_identifier (proc));
  g_assert_true (g_file_get_contents (environ_path, &env_data, &env_len, NULL));
  g_assert_true (g_file_get_contents (cmdline_path, &cmd_data, &cmd_len, NULL));
  /* memmem, not g_strstr_len: the blocks are NUL-separated */
  g_assert_null (memmem (env_data, env_len, NEW_PASSWORD, strlen (NEW_PASSWORD)));
  g_assert_null (memmem (cmd_data, cmd_len, NEW_PASSWORD, strlen (NEW_PASSWORD)));
  /* the block was read whole, and the variable was there but is wiped */
  g_assert_nonnull (memmem (env_data, env_len, "COFFER_TEST_HOLD=1", 18));
  g_assert_nonnull (memmem (env_data, env_len, "COFFER_PASSWORD=", 16));
  g_assert_nonnull (memmem (cmd_data, cmd_len, "snapshots", 9));

  g_output_stream_close (g_subprocess_get_stdin_pipe (proc), NULL, NULL);
  g_subprocess_wait_check (proc, NULL, &error);
  g_assert_no_error (error);
}

static void
test_no_secret_in_output (void)
{
  g_assert_null (strstr (all_output->str, PASSWORD));
  g_assert_null (strstr (all_output->str, NEW_PASSWORD));
  g_assert_null (strstr (all_output->str, recovery_key));
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  coffer_core_init ();

  cli_path = g_strdup (g_getenv ("COFFER_CLI"));
  if (cli_path == NULL)
    cli_path = g_test_build_filename (G_TEST_BUILT, "..", "..", "src", "cli", "coffer", NULL);
  g_assert_true (g_file_test (cli_path, G_FILE_TEST_IS_EXECUTABLE));

  tmp_dir = coffer_test_mkdtemp ();
  home = g_build_filename (tmp_dir, "home", NULL);
  home2 = g_build_filename (tmp_dir, "home-other-computer", NULL);
  src = g_build_filename (tmp_dir, "data", NULL);
  g_mkdir_with_parents (home, 0700);
  g_mkdir_with_parents (home2, 0700);
  g_mkdir_with_parents (src, 0755);
  make_tree ();
  all_output = g_string_new (NULL);

  g_test_add_func ("/cli/usage/no-command", test_no_command);
  g_test_add_func ("/cli/usage/unknown-command", test_unknown_command);
  g_test_add_func ("/cli/usage/help", test_help);
  g_test_add_func ("/cli/usage/options-before-command", test_options_before_command);
  g_test_add_func ("/cli/usage/missing-repo", test_missing_repo);
  g_test_add_func ("/cli/usage/password-argument", test_password_argument_refused);
  g_test_add_func ("/cli/usage/nonexistent-repo", test_nonexistent_repo);
  g_test_add_func ("/cli/usage/init-read-only", test_init_read_only);
  add_session_test ("/cli/session/init", SESSION_EMPTY, test_init);
  add_session_test ("/cli/session/init-key-file", SESSION_EMPTY, test_init_key_file);
  add_session_test ("/cli/session/category-add", SESSION_INIT, test_category_add);
  add_session_test ("/cli/session/backup", SESSION_CATEGORIES, test_backup);
  add_session_test ("/cli/session/snapshots", SESSION_BACKED_UP, test_snapshots_json);
  add_session_test ("/cli/session/ls", SESSION_BACKED_UP, test_ls);
  add_session_test ("/cli/session/restore-target", SESSION_BACKED_UP, test_restore_target);
  add_session_test ("/cli/session/restore-path-conflict", SESSION_BACKED_UP, test_restore_single_path_and_conflict);
  add_session_test ("/cli/session/restore-strip-prefix", SESSION_BACKED_UP, test_restore_strip_prefix);
  add_session_test ("/cli/session/restore-original", SESSION_BACKED_UP, test_restore_original_place);
  add_session_test ("/cli/session/check", SESSION_BACKED_UP, test_check);
  add_session_test ("/cli/session/check-damage", SESSION_BACKED_UP, test_check_finds_damage);
  add_session_test ("/cli/session/missing-source", SESSION_INIT, test_missing_source_path);
  add_session_test ("/cli/session/forget-prune", SESSION_BACKED_UP, test_forget_prune);
  add_session_test ("/cli/session/wrong-password", SESSION_INIT, test_wrong_password);
  add_session_test ("/cli/session/password-file", SESSION_BACKED_UP, test_password_file);
  add_session_test ("/cli/session/change-password", SESSION_CATEGORIES, test_change_password);
  add_session_test ("/cli/session/protect-advanced", SESSION_NEW_PASSWORD, test_protect_advanced);
  add_session_test ("/cli/session/recovery-key-verify", SESSION_INIT, test_recovery_key_verify);
  g_test_add_func ("/cli/devices/remove-keep", test_devices_remove_keep);
  g_test_add_func ("/cli/devices/category-folders", test_category_folders_per_computer);
  add_session_test ("/cli/session/accept-rollback", SESSION_NEW_PASSWORD, test_accept_rollback);
  add_session_test ("/cli/session/protect-standard-current-password", SESSION_DOCS_ADVANCED,
                    test_protect_standard_needs_current_password);
  add_session_test ("/cli/session/recovery-key-replace-confirm", SESSION_NEW_PASSWORD,
                    test_recovery_key_replace_confirm);
  add_session_test ("/cli/secrets/not-in-process", SESSION_NEW_PASSWORD, test_secrets_not_in_process);
  /* Last: it looks through everything the tool printed in this run (with
   * its own session, so that it has something to look at when run alone). */
  add_session_test ("/cli/secrets/not-in-output", SESSION_DOCS_ADVANCED, test_no_secret_in_output);

  ret = g_test_run ();
  coffer_test_rmtree (tmp_dir);
  return ret;
}
