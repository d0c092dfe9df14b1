/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-cli-de.c: the built `coffer` binary speaks German under
 * LANGUAGE=de LANG=de_DE.UTF-8: --help (the command list, the option
 * descriptions of a command), errors and hints, and plural forms. The test
 * compiles po/de.po itself and points the CLI at it with
 * COFFER_TEST_LOCALEDIR, so it needs neither an installed catalogue nor a
 * generated de_DE locale (the CLI falls back to C.UTF-8, in which gettext
 * honours LANGUAGE). Every check also asserts that the English text is
 * absent. */
#include <string.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "test-utils.h"

#define PASSWORD "Tr0ub4dor-and-3-horses"

static char *cli_path;
static char *tmp_dir;
static char *locale_dir;

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

/* Runs coffer in German with args (NULL-terminated) and, when given, the
 * backup password in the environment. */
static Result *
run_de (gboolean            with_password,
        const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *runtime = g_build_filename (tmp_dir, "run", NULL);
  const char *empty_env[] = { NULL };
  Result *r = g_new0 (Result, 1);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_environ (launcher, (char **) empty_env);
  g_subprocess_launcher_setenv (launcher, "PATH", "/usr/bin:/bin", TRUE);
  g_subprocess_launcher_setenv (launcher, "HOME", tmp_dir, TRUE);
  g_mkdir_with_parents (runtime, 0700);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  /* What a German desktop sets; de_DE.UTF-8 need not be generated. */
  g_subprocess_launcher_setenv (launcher, "LANGUAGE", "de", TRUE);
  g_subprocess_launcher_setenv (launcher, "LANG", "de_DE.UTF-8", TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_TESTING", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_TEST_LOCALEDIR", locale_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_TEST_FAST_KDF", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_KEYRING", "none", TRUE);
  g_subprocess_launcher_setenv (launcher, "G_DEBUG", "gc-friendly,fatal-warnings", TRUE);
  if (with_password)
    g_subprocess_launcher_setenv (launcher, "COFFER_PASSWORD", PASSWORD, TRUE);

  g_ptr_array_add (argv, cli_path);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
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
  if (g_test_verbose ())
    g_test_message ("-> %d\nstdout: %s\nstderr: %s", r->status, r->out, r->err);
  return r;
}

#define ARGS(...) ((const char * const []) { __VA_ARGS__, NULL })

static void
assert_status (Result *r,
               int     expected)
{
  if (r->status != expected)
    g_error ("exit status %d, expected %d\nstdout: %s\nstderr: %s", r->status, expected, r->out, r->err);
}

/* German present, English absent. */
static void
assert_german (const char *text,
               const char *german,
               const char *english)
{
  if (strstr (text, german) == NULL)
    g_error ("“%s” not found in:\n%s", german, text);
  if (english != NULL && strstr (text, english) != NULL)
    g_error ("English “%s” found in:\n%s", english, text);
}

static void
test_help (void)
{
  g_autoptr(Result) general = run_de (FALSE, ARGS ("--help"));
  g_autoptr(Result) backup = run_de (FALSE, ARGS ("backup", "--help"));
  g_autoptr(Result) restore = run_de (FALSE, ARGS ("help", "restore"));

  assert_status (general, 0);
  assert_german (general->out, "Befehle:", "Commands:");
  assert_german (general->out, "Kategorien sichern", "Back up categories");
  assert_german (general->out, "Das Repository auf Schäden prüfen", "Check the repository for damage");
  assert_german (general->out, "Globale Optionen: --repo ORT", "Global options:");
  assert_german (general->out, "[GLOBALE OPTIONEN] BEFEHL", "[GLOBAL OPTIONS] COMMAND");

  /* A command's summary, its own options, the global options, the
   * placeholders and the closing notes. */
  assert_status (backup, 0);
  assert_german (backup->out, "Kategorien sichern.", "Back up categories.");
  assert_german (backup->out, "Nur diese Kategorie sichern", "Back up only this category");
  assert_german (backup->out, "Globale Optionen (jeder Befehl):", "Global options (every command):");
  assert_german (backup->out, "--repo=ORT", "--repo=LOCATION");
  assert_german (backup->out, "Das Sicherungspasswort aus der ersten Zeile von DATEI lesen",
                 "Read the backup password");
  assert_german (backup->out, "Geheimnisse werden nie aus Argumenten übernommen",
                 "Secrets are never taken from arguments");

  assert_status (restore, 0);
  assert_german (restore->out, "[PFAD…]", "[PATH…]");
  assert_german (restore->out, "Vorhandene Dateien auch dann ersetzen, wenn sie neuer sind",
                 "Replace existing files");
}

static void
test_errors (void)
{
  g_autofree char *empty = g_build_filename (tmp_dir, "empty", NULL);
  g_autoptr(Result) none = run_de (FALSE, ARGS (NULL));
  g_autoptr(Result) typo = NULL;
  g_autoptr(Result) no_repo = NULL;
  g_autoptr(Result) missing = NULL;
  g_autoptr(Result) bad_value = NULL;
  g_autoptr(Result) sub_help = NULL;
  g_autoptr(Result) sub_typo = NULL;

  assert_status (none, 2);
  assert_german (none->err, "Kein Befehl angegeben.", "No command given.");
  assert_german (none->err, "Führen Sie 'coffer --help' aus", "Run 'coffer --help'");

  typo = run_de (FALSE, ARGS ("bakup"));
  assert_status (typo, 2);
  assert_german (typo->err, "„bakup“ ist kein coffer-Befehl.", "is not a coffer command");
  assert_german (typo->err, "Meinten Sie 'backup'?", "Did you mean");

  no_repo = run_de (FALSE, ARGS ("snapshots"));
  assert_status (no_repo, 2);
  assert_german (no_repo->err, "Kein Repository angegeben.", "No repository");
  assert_german (no_repo->err, "Umgebungsvariable COFFER_REPO", "environment variable");

  /* A command group: its help, and a word that is not one of its
   * subcommands. */
  sub_help = run_de (FALSE, ARGS ("devices", "--help"));
  assert_status (sub_help, 0);
  assert_german (sub_help->out, "Führen Sie 'coffer devices UNTERBEFEHL --help' für Einzelheiten aus.",
                 "for details");
  sub_typo = run_de (FALSE, ARGS ("devices", "lsit"));
  assert_status (sub_typo, 2);
  assert_german (sub_typo->err, "„lsit“ ist kein Unterbefehl von „coffer devices“.", "is not a subcommand of");

  g_assert_cmpint (g_mkdir_with_parents (empty, 0700), ==, 0);
  missing = run_de (FALSE, ARGS ("snapshots", "--repo", empty));
  assert_status (missing, 1);
  assert_german (missing->err, "gibt es kein Coffer-Repository", "There is no Coffer repository");

  bad_value = run_de (FALSE, ARGS ("backup", "--limit-upload", "fast", "--repo", empty));
  assert_status (bad_value, 2);
  assert_german (bad_value->err, "erwartet eine Zahl von KiB pro Sekunde, nicht „fast“",
                 "needs a number of KiB");
}

/* A real repository: plural forms of counts, and the hint after a wrong
 * password. */
static void
test_repository (void)
{
  g_autofree char *repo = g_build_filename (tmp_dir, "repo", NULL);
  g_autofree char *key_file = g_build_filename (tmp_dir, "recovery-key.txt", NULL);
  g_autofree char *a = g_build_filename (tmp_dir, "a", NULL);
  g_autofree char *b = g_build_filename (tmp_dir, "b", NULL);
  g_autofree char *c = g_build_filename (tmp_dir, "c", NULL);
  g_autofree char *file = g_build_filename (a, "only.txt", NULL);
  g_autoptr(Result) init = NULL;
  g_autoptr(Result) one = NULL;
  g_autoptr(Result) two = NULL;
  g_autoptr(Result) backup = NULL;
  g_autoptr(Result) wrong = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (a, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (b, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (c, 0700), ==, 0);
  g_file_set_contents (file, "eins\n", -1, &error);
  g_assert_no_error (error);

  init = run_de (TRUE, ARGS ("init", "--repo", repo, "--recovery-key-file", key_file));
  assert_status (init, 0);
  assert_german (init->out, "Coffer-Repository unter", "Created a Coffer repository");

  one = run_de (TRUE, ARGS ("category", "add", "Eins", "--repo", repo, a));
  assert_status (one, 0);
  assert_german (one->out, "Die Kategorie „Eins“ (Schutz: Standard) mit 1 Ordner wurde hinzugefügt.",
                 "Added the");
  two = run_de (TRUE, ARGS ("category", "add", "Zwei", "--repo", repo, b, c));
  assert_status (two, 0);
  assert_german (two->out, "mit 2 Ordnern wurde hinzugefügt.", "folders");

  backup = run_de (TRUE, ARGS ("backup", "--category", "Eins", "--repo", repo));
  assert_status (backup, 0);
  assert_german (backup->out, "Eins: 1 Datei, ", "1 file");
  assert_german (backup->out, "Snapshot ", "snapshot ");

  /* The recovery key file's first line is not the backup password. */
  wrong = run_de (FALSE, ARGS ("snapshots", "--repo", repo, "--password-file", key_file));
  assert_status (wrong, 2);
  assert_german (wrong->err, "Prüfen Sie das Sicherungspasswort", "Check the backup password");
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *messages = NULL;
  g_autofree char *mo = NULL;
  const char *msgfmt = g_getenv ("MSGFMT");
  const char *po = g_getenv ("COFFER_DE_PO");
  int exit_status = 0;
  int status;

  g_test_init (&argc, &argv, NULL);

  cli_path = g_strdup (g_getenv ("COFFER_CLI"));
  g_assert_nonnull (cli_path);
  g_assert_nonnull (msgfmt);
  g_assert_nonnull (po);

  tmp_dir = coffer_test_mkdtemp ();
  locale_dir = g_build_filename (tmp_dir, "locale", NULL);
  messages = g_build_filename (locale_dir, "de", "LC_MESSAGES", NULL);
  g_assert_cmpint (g_mkdir_with_parents (messages, 0700), ==, 0);
  mo = g_build_filename (messages, "coffer.mo", NULL);
  {
    const char *args[] = { msgfmt, "--check", "-o", mo, po, NULL };
    g_autoptr(GError) error = NULL;

    g_spawn_sync (NULL, (char **) args, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error);
    g_assert_no_error (error);
    g_spawn_check_wait_status (status, &error);
    g_assert_no_error (error);
  }

  g_test_add_func ("/cli-de/help", test_help);
  g_test_add_func ("/cli-de/errors", test_errors);
  g_test_add_func ("/cli-de/repository", test_repository);

  exit_status = g_test_run ();
  coffer_test_rmtree (tmp_dir);
  g_free (tmp_dir);
  g_free (locale_dir);
  g_free (cli_path);
  return exit_status;
}
