/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Secret hygiene: after real use (Standard and Advanced categories,
 * backups, a switch to Advanced with re-encryption, a prune) no file in
 * the repository, the data, cache or state directories holds the
 * password, the recovery key (typed form or raw bytes), the account key,
 * any category key or subkey, the password key or the device secret key,
 * raw or as hex. The coffer CLI runs without core dumps. The emergency
 * kit command verifies the key first and never overwrites a file. */
#include <string.h>
#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sodium.h>
#include <glib/gstdio.h>

#include "coffer-recovery-key.h"
#include "coffer-secret.h"
#include "coffer-repository-private.h"
#include "repo-fixture.h"

#define PASSWORD "Tr0ub4dor&3-hygiene-test-password"

typedef struct
{
  char   *what;
  GBytes *bytes;
} Needle;

static void
needle_free (gpointer data)
{
  Needle *n = data;

  g_free (n->what);
  g_bytes_unref (n->bytes);
  g_free (n);
}

static void
add_needle (GPtrArray *needles, const char *what, const guint8 *data, gsize len)
{
  Needle *n = g_new0 (Needle, 1);
  g_autofree char *hex = coffer_hex_encode (data, len);
  Needle *h = g_new0 (Needle, 1);

  g_assert_cmpuint (len, >=, 16);
  n->what = g_strdup (what);
  n->bytes = g_bytes_new (data, len);
  g_ptr_array_add (needles, n);
  h->what = g_strdup_printf ("%s (hex)", what);
  h->bytes = g_bytes_new (hex, strlen (hex));
  g_ptr_array_add (needles, h);
}

static void
add_secret (GPtrArray *needles, const char *what, const CofferSecret *secret)
{
  g_assert_nonnull (secret);
  add_needle (needles, what, secret->data, secret->len);
}

static void
add_category_keys (GPtrArray *needles, CofferRepository *repo, const char *cid)
{
  g_autoptr(GError) error = NULL;
  CofferCategoryKeys *keys = _coffer_repository_get_category (repo, cid, NULL, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < keys->epochs->len; i++)
    {
      CofferEpochKeys *ek = g_ptr_array_index (keys->epochs, i);
      g_autofree char *label = g_strdup_printf ("category %s epoch %u", keys->info->name, ek->epoch);
      g_autofree char *data = g_strdup_printf ("%s data subkey", label);
      g_autofree char *blob = g_strdup_printf ("%s blob-id subkey", label);
      g_autofree char *gear = g_strdup_printf ("%s gear subkey", label);
      g_autofree char *meta = g_strdup_printf ("%s meta subkey", label);

      add_secret (needles, label, ek->key);
      add_secret (needles, data, ek->data_key);
      add_secret (needles, blob, ek->blob_id_key);
      add_secret (needles, gear, ek->gear_key);
      add_secret (needles, meta, ek->meta_key);
    }
}

/* Reads every regular file below path and fails on any needle. */
static void
scan (const char *path, GPtrArray *needles, guint *files)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          scan (child, needles, files);
        }
      return;
    }
  if (S_ISREG (st.st_mode))
    {
      g_autoptr(GBytes) contents = fixture_read (path);

      for (guint i = 0; i < needles->len; i++)
        {
          Needle *n = g_ptr_array_index (needles, i);
          if (fixture_contains_bytes (contents, n->bytes))
            g_error ("%s was found in %s", n->what, path);
        }
      (*files)++;
    }
}

static void
test_no_secrets_at_rest (void)
{
  g_autofree char *store_dir = fixture_dir ("store");
  g_autofree char *src_std = fixture_dir ("src-standard");
  g_autofree char *src_adv = fixture_dir ("src-advanced");
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) formatted = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(GPtrArray) needles = g_ptr_array_new_with_free_func (needle_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *std = NULL;
  g_autofree char *adv = NULL;
  g_autofree char *moved = NULL;
  g_autofree char *compact = NULL;
  g_autofree char *index_cache = NULL;
  g_autofree char *files_cache = NULL;
  CofferKdfParams params;
  const char *dirs[4];
  guint files = 0;

  repo = fixture_create (store_dir, PASSWORD, &rk);
  fixture_make_small_tree (src_std, 1);
  fixture_make_small_tree (src_adv, 2);
  std = fixture_add_category (repo, "Standard things", COFFER_LEVEL_STANDARD, src_std);
  adv = fixture_add_category (repo, "Advanced things", COFFER_LEVEL_ADVANCED, src_adv);
  moved = fixture_add_category (repo, "Moved to Advanced", COFFER_LEVEL_STANDARD, src_std);
  coffer_snapshot_free (fixture_backup (repo, std));
  coffer_snapshot_free (fixture_backup (repo, adv));
  coffer_snapshot_free (fixture_backup (repo, moved));
  g_assert_true (coffer_repository_set_level (repo, moved, COFFER_LEVEL_ADVANCED, NULL, &error));
  g_assert_no_error (error);
  coffer_snapshot_free (fixture_backup (repo, moved));
  g_assert_true (coffer_repository_reencrypt_category (repo, moved, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (coffer_prune_run (repo, NULL, 0, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  fixture_assert_check_clean (repo, std, 100);

  /* What must never be at rest. */
  add_needle (needles, "the password", (const guint8 *) PASSWORD, strlen (PASSWORD));
  formatted = coffer_recovery_key_format (rk);
  add_needle (needles, "the recovery key as shown", formatted->data, formatted->len);
  {
    GString *s = g_string_new (NULL);
    for (gsize i = 0; i < formatted->len; i++)
      if (formatted->data[i] != '-')
        g_string_append_c (s, formatted->data[i]);
    compact = g_string_free (s, FALSE);
  }
  add_needle (needles, "the recovery key without dashes", (const guint8 *) compact, strlen (compact));
  add_secret (needles, "the raw recovery key", rk);
  add_secret (needles, "the account key", repo->account_key);
  g_assert_true (_coffer_repository_get_kdf_params (repo, &params));
  add_secret (needles, "the password key", _coffer_repository_password_key (repo, &params, &error));
  g_assert_no_error (error);
  {
    g_autoptr(CofferSecret) device_sk = _coffer_repository_load_device_key (repo, &error);
    g_assert_no_error (error);
    add_secret (needles, "the device secret key", device_sk);
  }
  add_category_keys (needles, repo, std);
  add_category_keys (needles, repo, adv);
  add_category_keys (needles, repo, moved);
  sodium_memzero (compact, strlen (compact));
  {
    g_autofree char *cache_dir = coffer_state_get_cache_dir (repo->state, std);
    index_cache = g_build_filename (cache_dir, "index.cache", NULL);
    files_cache = g_build_filename (cache_dir, "files.sqlite", NULL);
  }
  fixture_close (&repo);

  /* The scan covers the places that matter (not a vacuous pass). */
  g_assert_true (g_file_test (index_cache, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (files_cache, G_FILE_TEST_IS_REGULAR));
  dirs[0] = store_dir;
  dirs[1] = g_get_user_data_dir ();
  dirs[2] = g_get_user_cache_dir ();
  dirs[3] = g_get_user_state_dir ();
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    scan (dirs[i], needles, &files);
  g_test_message ("%u files searched for %u byte strings", files, needles->len);
  g_assert_cmpuint (files, >, 20);
  g_assert_cmpuint (needles->len, >, 40);
}

/* ---- the CLI ---- */

static const char *
coffer_bin (void)
{
  const char *bin = g_getenv ("COFFER_BIN");

  g_assert_nonnull (bin);
  g_assert_true (g_file_test (bin, G_FILE_TEST_IS_EXECUTABLE));
  return bin;
}

static GSubprocessLauncher *
launcher_with (const char *const *env)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                                                             | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                             | G_SUBPROCESS_FLAGS_STDERR_PIPE);

  g_subprocess_launcher_unsetenv (launcher, "COFFER_PASSWORD");
  g_subprocess_launcher_unsetenv (launcher, "COFFER_RECOVERY_KEY");
  g_subprocess_launcher_unsetenv (launcher, "COFFER_REPO");
  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, env[i], env[i + 1], TRUE);
  return launcher;
}

/* Runs coffer to completion; returns its exit status. */
static int
run_cli (const char *const *env, const char *const *argv, char **out_stderr)
{
  g_autoptr(GSubprocessLauncher) launcher = launcher_with (env);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_ptr_array_add (args, (gpointer) coffer_bin ());
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) argv[i]);
  g_ptr_array_add (args, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("coffer %s: %s%s", argv[0], out ? out : "", err ? err : "");
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&err);
  return g_subprocess_get_exit_status (proc);
}

/* Runs first: this test process has not called coffer_core_init yet, so
 * the child can start from a non-zero core size limit and the test shows
 * the CLI lowering it (soft and hard) by itself. */
static void
test_cli_no_core_dumps (void)
{
  g_autofree char *store_dir = fixture_dir ("store-cli");
  const char *env[] = { "COFFER_PASSWORD", PASSWORD, "COFFER_TESTING", "1", "COFFER_TEST_HOLD", "1", NULL };
  g_autoptr(GSubprocessLauncher) launcher = launcher_with (env);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *limits_path = NULL;
  g_autofree char *limits = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean found = FALSE;
  struct rlimit lim;

  g_assert_cmpint (getrlimit (RLIMIT_CORE, &lim), ==, 0);
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? 1024 * 1024 : lim.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_CORE, &lim), ==, 0);
  if (lim.rlim_max == 0)
    g_test_message ("the hard core size limit is 0 here; the child inherits it");

  proc = g_subprocess_launcher_spawn (launcher, &error, coffer_bin (), "snapshots", "--repo", store_dir, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "held");

  limits_path = g_strdup_printf ("/proc/%s/limits", g_subprocess_get_identifier (proc));
  g_assert_true (g_file_get_contents (limits_path, &limits, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (limits, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "Max core file size"))
      {
        g_auto(GStrv) fields = g_strsplit_set (lines[i] + strlen ("Max core file size"), " \t", -1);
        guint n = 0;

        for (guint j = 0; fields[j] != NULL; j++)
          if (*fields[j] != '\0' && n++ < 2)
            g_assert_cmpstr (fields[j], ==, "0");   /* soft and hard */
        found = TRUE;
      }
  g_assert_true (found);

  /* There is no repository at store_dir: the run then fails normally. */
  g_output_stream_close (g_subprocess_get_stdin_pipe (proc), NULL, NULL);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));

  /* The same initialisation in this process: not dumpable, no core. */
  coffer_core_init ();
  g_assert_cmpint (prctl (PR_GET_DUMPABLE, 0, 0, 0, 0), ==, 0);
  g_assert_cmpint (getrlimit (RLIMIT_CORE, &lim), ==, 0);
  g_assert_cmpuint (lim.rlim_cur, ==, 0);
  g_assert_cmpuint (lim.rlim_max, ==, 0);
}

static void
test_cli_emergency_kit (void)
{
  g_autofree char *store_dir = fixture_dir ("store-kit");
  g_autofree char *kit_dir = fixture_dir ("kit");
  g_autofree char *kit = g_build_filename (kit_dir, "kit.pdf", NULL);
  g_autofree char *init_kit = g_build_filename (kit_dir, "init-kit.pdf", NULL);
  g_autofree char *other_store = fixture_dir ("store-kit-other");
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) other_rk = NULL;
  g_autoptr(CofferSecret) formatted = NULL;
  g_autoptr(CofferSecret) other_formatted = NULL;
  g_auto(FixtureRepository) repo = fixture_create (store_dir, PASSWORD, &rk);
  g_auto(FixtureRepository) other = fixture_create (other_store, PASSWORD, &other_rk);
  g_autofree char *err = NULL;
  g_autoptr(GBytes) pdf = NULL;
  GStatBuf st;

  fixture_close (&repo);
  fixture_close (&other);
  formatted = coffer_recovery_key_format (rk);
  other_formatted = coffer_recovery_key_format (other_rk);

  /* Another repository's key: refused, nothing written. */
  {
    const char *env[] = { "COFFER_RECOVERY_KEY", (const char *) other_formatted->data, NULL };
    const char *argv[] = { "recovery-key", "kit", "--output", kit, "--repo", store_dir, NULL };
    g_assert_cmpint (run_cli (env, argv, NULL), ==, 2);
    g_assert_false (g_file_test (kit, G_FILE_TEST_EXISTS));
  }
  /* The right key: a PDF, readable only by its owner. */
  {
    const char *env[] = { "COFFER_RECOVERY_KEY", (const char *) formatted->data, NULL };
    const char *argv[] = { "recovery-key", "kit", "--output", kit, "--repo", store_dir, NULL };
    g_assert_cmpint (run_cli (env, argv, NULL), ==, 0);
    pdf = fixture_read (kit);
    g_assert_cmpuint (g_bytes_get_size (pdf), >, 1000);
    g_assert_cmpmem (g_bytes_get_data (pdf, NULL), 5, "%PDF-", 5);
    g_assert_cmpint (g_stat (kit, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0077, ==, 0);
  }
  /* Never over an existing file. */
  {
    const char *env[] = { "COFFER_RECOVERY_KEY", (const char *) formatted->data, NULL };
    const char *argv[] = { "recovery-key", "kit", "--output", kit, "--repo", store_dir, NULL };
    g_autoptr(GBytes) again = NULL;

    g_assert_cmpint (run_cli (env, argv, &err), ==, 1);
    g_assert_nonnull (strstr (err, "already exists"));
    again = fixture_read (kit);
    g_assert_true (g_bytes_equal (again, pdf));
  }
  /* init --emergency-kit writes it at creation. */
  {
    g_autofree char *new_store = fixture_dir ("store-kit-init");
    const char *env[] = { "COFFER_PASSWORD", PASSWORD, NULL };
    const char *argv[] = { "init", "--repo", new_store, "--emergency-kit", init_kit, NULL };
    g_autoptr(GBytes) init_pdf = NULL;

    g_assert_cmpint (run_cli (env, argv, NULL), ==, 0);
    init_pdf = fixture_read (init_kit);
    g_assert_cmpmem (g_bytes_get_data (init_pdf, NULL), 5, "%PDF-", 5);
  }
}

int
main (int argc, char **argv)
{
  g_autofree char *state = NULL;

  fixture_init (&argc, &argv);
  state = g_build_filename (fixture_root (), "state", NULL);
  g_assert_cmpint (g_mkdir_with_parents (state, 0700), ==, 0);
  g_setenv ("XDG_STATE_HOME", state, TRUE);
  /* First, before anything in this process calls coffer_core_init. */
  g_test_add_func ("/secret-hygiene/cli-no-core-dumps", test_cli_no_core_dumps);
  g_test_add_func ("/secret-hygiene/at-rest", test_no_secrets_at_rest);
  g_test_add_func ("/secret-hygiene/cli-emergency-kit", test_cli_emergency_kit);
  return g_test_run ();
}
