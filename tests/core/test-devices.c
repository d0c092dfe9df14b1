/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Trusted devices: join (commit-then-reveal), approve, complete, remove and
 * the account key rotation. Each "computer" is this program run as a
 * subprocess with its own XDG data and cache directories, so each has its
 * own local state and device key (COFFER_KEYRING=none: the key is sealed
 * under the password in a local file). */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-repository.h"
#include "coffer-repository-private.h"
#include "coffer-error.h"
#include "coffer-recovery-key.h"
#include "repo-fixture.h"
#include "test-utils.h"

#define PASSWORD "correct horse battery staple"

/* ---- roles (run in a subprocess: test-devices --role ROLE REPO [ARGS]) ---- */

static CofferRepository *
open_repo (const char *location, gboolean unlock)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (location, NULL, &error);
  g_autoptr(CofferSecret) pw = coffer_secret_new_from_string (PASSWORD);
  CofferRepository *repo;

  g_assert_no_error (error);
  repo = coffer_repository_open (store, NULL, &error);
  g_assert_no_error (error);
  coffer_repository_set_password (repo, pw);
  if (unlock)
    {
      if (!coffer_repository_unlock (repo, NULL, &error))
        {
          g_printerr ("unlock: %s\n", error->message);
          exit (3);
        }
    }
  return repo;
}

static CofferSecret *
read_rk (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "rk", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  return coffer_recovery_key_parse (g_strstrip (text), &error);
}

static int
do_backup (CofferRepository *repo, const char *category)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSnapshot) snap = coffer_backup_run (repo, category, NULL, NULL, NULL, NULL, &error);

  if (snap == NULL)
    {
      g_printerr ("backup %s: %s\n", category, error->message);
      return 3;
    }
  return 0;
}

/* Restores the latest snapshot of category into target; 3 on failure. */
static int
do_restore (CofferRepository *repo, const char *category, const char *target)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferCategory) cat = coffer_repository_find_category (repo, category, NULL, &error);
  g_autoptr(CofferSnapshot) snap = NULL;

  if (cat == NULL)
    {
      g_printerr ("find %s: %s\n", category, error->message);
      return 3;
    }
  snap = coffer_repository_find_snapshot (repo, cat->id, "latest", NULL, &error);
  if (snap == NULL || !coffer_restore_run (repo, cat->id, snap, NULL, target, COFFER_RESTORE_DEFAULT,
                                           NULL, NULL, NULL, NULL, &error))
    {
      g_printerr ("restore %s: %s\n", category, error->message);
      return 3;
    }
  return 0;
}

static int
run_role (int argc, char **argv)
{
  const char *role = argv[2];
  const char *repo_dir = argv[3];
  g_autofree char *location = g_build_filename (repo_dir, "store", NULL);
  g_autoptr(GError) error = NULL;
  g_auto(FixtureRepository) repo = NULL;

  coffer_kdf_set_test_profile (TRUE);

  if (strcmp (role, "create") == 0)   /* create SRC_DIR */
    {
      g_autoptr(CofferStore) store = coffer_store_open (location, NULL, &error);
      g_autoptr(CofferSecret) pw = coffer_secret_new_from_string (PASSWORD);
      g_autoptr(CofferSecret) rk = NULL;
      g_autoptr(CofferSecret) text = NULL;
      g_autofree char *rk_path = g_build_filename (repo_dir, "rk", NULL);
      g_autofree char *photos = g_build_filename (argv[4], "photos", NULL);
      g_autofree char *notes = g_build_filename (argv[4], "notes", NULL);
      const char *p1[] = { photos, NULL }, *p2[] = { notes, NULL };
      g_autoptr(CofferCategory) c1 = NULL, c2 = NULL;

      repo = coffer_repository_create (store, pw, "First", &rk, NULL, &error);
      g_assert_no_error (error);
      text = coffer_recovery_key_format (rk);
      g_assert_true (g_file_set_contents (rk_path, (const char *) text->data, text->len, NULL));
      c1 = coffer_repository_add_category (repo, "Photos", COFFER_LEVEL_STANDARD, p1, NULL, NULL, &error);
      g_assert_no_error (error);
      c2 = coffer_repository_add_category (repo, "Notes", COFFER_LEVEL_ADVANCED, p2, NULL, NULL, &error);
      g_assert_no_error (error);
      return do_backup (repo, "Photos") || do_backup (repo, "Notes");
    }
  if (strcmp (role, "request") == 0)   /* prints the device id */
    {
      g_autofree char *id = NULL;
      g_autofree char *code = NULL;

      repo = open_repo (location, FALSE);
      if (!coffer_repository_request_join (repo, argv[4], &id, &code, NULL, &error))
        {
          g_printerr ("request: %s\n", error->message);
          return 3;
        }
      g_assert_null (code);
      g_print ("%s\n", id);
      return 0;
    }
  if (strcmp (role, "status") == 0)   /* prints the code or "none", and "approved" */
    {
      g_autofree char *code = NULL;
      gboolean approved;

      repo = open_repo (location, FALSE);
      if (!coffer_repository_get_join_status (repo, &code, &approved, NULL, &error))
        {
          g_printerr ("status: %s\n", error->message);
          return 3;
        }
      g_print ("%s%s\n", code ? code : "none", approved ? " approved" : "");
      return 0;
    }
  if (strcmp (role, "code") == 0)   /* code ID: prints the code or "none" */
    {
      g_autofree char *code = NULL;

      repo = open_repo (location, TRUE);
      if (!coffer_repository_get_join_code (repo, argv[4], &code, NULL, &error))
        {
          g_printerr ("code: %s\n", error->message);
          return 3;
        }
      g_print ("%s\n", code ? code : "none");
      return 0;
    }
  if (strcmp (role, "approve") == 0)   /* approve ID CODE */
    {
      repo = open_repo (location, TRUE);
      if (!coffer_repository_approve_device (repo, argv[4], argv[5], NULL, &error))
        {
          g_printerr ("approve: %s\n", error->message);
          return g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID) ? 4 : 3;
        }
      return 0;
    }
  if (strcmp (role, "complete") == 0)
    {
      repo = open_repo (location, FALSE);
      if (!coffer_repository_complete_join (repo, NULL, &error))
        {
          g_printerr ("complete: %s\n", error->message);
          return 3;
        }
      return 0;
    }
  if (strcmp (role, "list") == 0)   /* prints "id pending|trusted [this] name [code]" */
    {
      g_autoptr(GPtrArray) devices = NULL;

      repo = open_repo (location, TRUE);
      devices = coffer_repository_list_devices (repo, NULL, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < devices->len; i++)
        {
          CofferDevice *d = g_ptr_array_index (devices, i);
          g_print ("%s %s%s %s %s%s\n", d->id, d->pending ? "pending" : "trusted",
                   d->is_this_device ? " this" : "", d->name ? d->name : "-",
                   d->verification_code ? d->verification_code : "-",
                   d->pending ? "" : d->verified ? " verified" : " unverified");
        }
      return 0;
    }
  if (strcmp (role, "restore") == 0)   /* restore CATEGORY TARGET: with this device's key only */
    {
      g_autoptr(CofferStore) store = coffer_store_open (location, NULL, &error);

      /* No password: only the device key may open anything. */
      repo = coffer_repository_open (store, NULL, &error);
      g_assert_no_error (error);
      {
        g_autoptr(CofferSecret) pw = coffer_secret_new_from_string (PASSWORD);
        /* the local device key file is sealed under the password */
        coffer_repository_set_password (repo, pw);
        if (!coffer_repository_unlock (repo, NULL, &error))
          {
            g_printerr ("unlock: %s\n", error->message);
            return 3;
          }
        if (!coffer_repository_has_account_key (repo))
          {
            g_printerr ("not a trusted device\n");
            return 3;
          }
      }
      return do_restore (repo, argv[4], argv[5]);
    }
  if (strcmp (role, "steal") == 0)   /* steal FILE: writes the account key (a device that will be removed) */
    {
      const CofferSecret *ak;

      repo = open_repo (location, TRUE);
      ak = repo->account_key;
      g_assert_nonnull (ak);
      g_assert_true (g_file_set_contents (argv[4], (const char *) ak->data, ak->len, NULL));
      return 0;
    }
  if (strcmp (role, "attack") == 0)   /* attack FILE CATEGORY TARGET: use a kept old account key */
    {
      g_autofree char *data = NULL;
      gsize len;
      g_autoptr(CofferSecret) ak = NULL;
      g_autoptr(CofferStore) store = coffer_store_open (location, NULL, &error);

      g_assert_true (g_file_get_contents (argv[4], &data, &len, NULL));
      ak = coffer_secret_new_from_data ((const guint8 *) data, len);
      repo = coffer_repository_open (store, NULL, &error);
      g_assert_no_error (error);
      _coffer_repository_replace_account_key (repo, ak);
      return do_restore (repo, argv[5], argv[6]);
    }
  if (strcmp (role, "remove") == 0)   /* remove ID [with-rk [KEEP-ID...]]: prints "lost ID" per device */
    {
      g_autoptr(GPtrArray) lost = NULL;

      repo = open_repo (location, TRUE);
      if (argc > 5 && strcmp (argv[5], "with-rk") == 0)
        {
          g_autoptr(CofferSecret) rk = read_rk (repo_dir);
          coffer_repository_set_recovery_key (repo, rk);
        }
      if (!coffer_repository_remove_device (repo, argv[4], argc > 6 ? (const char *const *) argv + 6 : NULL,
                                            &lost, NULL, &error))
        {
          g_printerr ("remove: %s\n", error->message);
          return g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY) ? 5 : 3;
        }
      for (guint i = 0; i < lost->len; i++)
        g_print ("lost %s\n", ((CofferDevice *) g_ptr_array_index (lost, i))->id);
      return 0;
    }
  if (strcmp (role, "epochs") == 0)   /* prints "name epoch" per category */
    {
      g_autoptr(GPtrArray) cats = NULL;

      repo = open_repo (location, TRUE);
      cats = coffer_repository_list_categories (repo, NULL, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < cats->len; i++)
        {
          CofferCategory *c = g_ptr_array_index (cats, i);
          g_print ("%s %u\n", c->name, c->epoch);
        }
      return 0;
    }
  if (strcmp (role, "backup") == 0)   /* backup CATEGORY */
    {
      repo = open_repo (location, TRUE);
      return do_backup (repo, argv[4]);
    }
  g_printerr ("unknown role %s\n", role);
  return 2;
}

/* ---- the test side ---- */

typedef struct
{
  char *tmp;
  char *src;
} Fixture;

static int
run (Fixture *f, const char *computer, char **out, const char *role, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *home = g_build_filename (f->tmp, computer, NULL);
  g_autofree char *data = g_build_filename (home, "data", NULL);
  g_autofree char *cache = g_build_filename (home, "cache", NULL);
  g_auto(GStrv) env = g_get_environ ();
  g_autofree char *sout = NULL;
  g_autofree char *serr = NULL;
  g_autoptr(GError) error = NULL;
  const char *arg;
  va_list ap;
  int status;

  g_ptr_array_add (args, (gpointer) "/proc/self/exe");
  g_ptr_array_add (args, (gpointer) "--role");
  g_ptr_array_add (args, (gpointer) role);
  g_ptr_array_add (args, f->tmp);
  va_start (ap, role);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  env = g_environ_setenv (env, "XDG_DATA_HOME", data, TRUE);
  env = g_environ_setenv (env, "XDG_CACHE_HOME", cache, TRUE);
  env = g_environ_setenv (env, "COFFER_KEYRING", "none", TRUE);
  env = g_environ_setenv (env, "COFFER_TESTING", "1", TRUE);
  g_assert_true (g_spawn_sync (NULL, (char **) args->pdata, env, G_SPAWN_DEFAULT, NULL, NULL,
                               &sout, &serr, &status, &error));
  g_assert_no_error (error);
  if (serr != NULL && *serr)
    g_test_message ("%s %s: %s", computer, role, serr);
  if (out != NULL)
    *out = g_strdup (g_strstrip (sout));
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 100;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autofree char *photos = NULL;
  g_autofree char *notes = NULL;
  g_autofree char *p = NULL;

  f->tmp = coffer_test_mkdtemp ();
  f->src = g_build_filename (f->tmp, "src", NULL);
  photos = g_build_filename (f->src, "photos", NULL);
  notes = g_build_filename (f->src, "notes", NULL);
  g_mkdir_with_parents (photos, 0700);
  g_mkdir_with_parents (notes, 0700);
  p = g_build_filename (photos, "a.jpg", NULL);
  coffer_test_write_random (p, 100000, 1);
  g_free (p);
  p = g_build_filename (notes, "n.txt", NULL);
  coffer_test_write_random (p, 5000, 2);
  g_assert_cmpint (run (f, "a", NULL, "create", f->src, NULL), ==, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  coffer_test_rmtree (f->tmp);
  g_free (f->tmp);
  g_free (f->src);
}

/* Joins computer `who` through computer "a"; returns its device id. */
static char *
join (Fixture *f, const char *who, const char *name)
{
  g_autofree char *id = NULL;
  g_autofree char *out = NULL;
  g_autofree char *code_new = NULL;
  g_autofree char *code_trusted = NULL;

  g_assert_cmpint (run (f, who, &id, "request", name, NULL), ==, 0);
  g_assert_cmpuint (strlen (id), ==, 32);
  /* Nobody answered: no code yet on either side. */
  g_assert_cmpint (run (f, who, &out, "status", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "none");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run (f, "a", &out, "code", id, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "none");   /* answered, but the new side has not revealed */
  /* The new computer reveals and shows its code; the trusted one agrees. */
  g_assert_cmpint (run (f, who, &code_new, "status", NULL), ==, 0);
  g_assert_true (g_regex_match_simple ("^[0-9]{3} [0-9]{3}$", code_new, 0, 0));
  g_assert_cmpint (run (f, "a", &code_trusted, "code", id, NULL), ==, 0);
  g_assert_cmpstr (code_new, ==, code_trusted);
  /* Both sides keep showing the same code when asked again. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run (f, who, &out, "status", NULL), ==, 0);
  g_assert_cmpstr (out, ==, code_new);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run (f, "a", &out, "list", NULL), ==, 0);
  g_assert_nonnull (strstr (out, code_new));
  g_assert_nonnull (strstr (out, "pending"));

  g_assert_cmpint (run (f, "a", NULL, "approve", id, code_new, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run (f, who, &out, "status", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "approved"));
  g_assert_cmpint (run (f, who, NULL, "complete", NULL), ==, 0);
  return g_steal_pointer (&id);
}

static void
test_join_roundtrip (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *out = NULL;
  g_autofree char *t1 = g_build_filename (f->tmp, "restore-photos", NULL);
  g_autofree char *t2 = g_build_filename (f->tmp, "restore-notes", NULL);
  g_autofree char *s1 = g_build_filename (f->src, "photos", NULL);
  g_autofree char *s2 = g_build_filename (f->src, "notes", NULL);
  g_autofree char *r1 = NULL;
  g_autofree char *r2 = NULL;

  /* Before joining, "b" cannot open the Advanced category. */
  g_assert_cmpint (run (f, "b", NULL, "restore", "Notes", t2, NULL), ==, 3);
  id = join (f, "b", "Laptop");
  /* Now "b" opens every category, Advanced included, with its own key. */
  g_assert_cmpint (run (f, "b", NULL, "restore", "Photos", t1, NULL), ==, 0);
  g_assert_cmpint (run (f, "b", NULL, "restore", "Notes", t2, NULL), ==, 0);
  r1 = g_build_filename (t1, s1, NULL);
  r2 = g_build_filename (t2, s2, NULL);
  coffer_test_assert_same_tree (s1, r1, FALSE);
  coffer_test_assert_same_tree (s2, r2, FALSE);
  /* Both computers are listed as trusted, with names. */
  g_assert_cmpint (run (f, "b", &out, "list", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "trusted this Laptop"));
  g_assert_nonnull (strstr (out, "trusted First"));
  g_assert_null (strstr (out, "pending"));
}

static void
test_wrong_code (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *code = NULL;
  g_autofree char *out = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *t = g_build_filename (f->tmp, "restore", NULL);

  g_assert_cmpint (run (f, "b", &id, "request", "Laptop", NULL), ==, 0);
  /* Approving before the new computer has answered fails without harm. */
  g_assert_cmpint (run (f, "a", NULL, "approve", id, "000 000", NULL), ==, 3);
  g_assert_cmpint (run (f, "b", &code, "status", NULL), ==, 0);
  g_assert_true (g_regex_match_simple ("^[0-9]{3} [0-9]{3}$", code, 0, 0));
  wrong = g_strdup (code);
  wrong[0] = wrong[0] == '9' ? '0' : wrong[0] + 1;
  g_assert_cmpint (run (f, "a", NULL, "approve", id, wrong, NULL), ==, 4);
  /* The request is gone: the right code does not work any more either. */
  g_assert_cmpint (run (f, "a", NULL, "approve", id, code, NULL), !=, 0);
  g_assert_cmpint (run (f, "a", &out, "list", NULL), ==, 0);
  g_assert_null (strstr (out, id));
  g_assert_cmpint (run (f, "b", NULL, "complete", NULL), ==, 3);
  g_assert_cmpint (run (f, "b", NULL, "restore", "Notes", t, NULL), ==, 3);
}

static void
test_tampered_reveal (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *code = NULL;
  g_autofree char *out = NULL;
  g_autofree char *reveal = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_cmpint (run (f, "b", &id, "request", "Laptop", NULL), ==, 0);
  g_assert_cmpint (run (f, "a", &out, "code", id, NULL), ==, 0);
  g_assert_cmpint (run (f, "b", &code, "status", NULL), ==, 0);
  /* The storage changes the revealed nonce: it no longer fits the
   * commitment, and the trusted computer refuses to show a code. */
  reveal = g_strdup_printf ("%s/store/keys/join/%s/reveal", f->tmp, id);
  g_assert_true (g_file_get_contents (reveal, &contents, &len, NULL));
  contents[len - 1] ^= 1;
  g_assert_true (g_file_set_contents (reveal, contents, len, NULL));
  g_assert_cmpint (run (f, "a", NULL, "code", id, NULL), ==, 3);
  g_assert_cmpint (run (f, "a", NULL, "approve", id, code, NULL), ==, 3);
}

static void
test_remove_rotates (Fixture *f, gconstpointer data)
{
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;
  g_autofree char *out = NULL;
  g_autofree char *stolen = g_build_filename (f->tmp, "stolen-ak", NULL);
  g_autofree char *t1 = g_build_filename (f->tmp, "t1", NULL);
  g_autofree char *t2 = g_build_filename (f->tmp, "t2", NULL);
  g_autofree char *t3 = g_build_filename (f->tmp, "t3", NULL);
  g_autofree char *t4 = g_build_filename (f->tmp, "t4", NULL);
  g_autofree char *newfile = g_build_filename (f->src, "notes", "after-removal.txt", NULL);
  g_autofree char *restored = NULL;

  b = join (f, "b", "Stolen laptop");
  c = join (f, "c", "Desktop");
  g_assert_cmpint (run (f, "a", &out, "epochs", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Photos 0"));
  g_assert_nonnull (strstr (out, "Notes 0"));
  /* "b" keeps a copy of the account key before it is removed. */
  g_assert_cmpint (run (f, "b", NULL, "steal", stolen, NULL), ==, 0);

  /* Removal needs the recovery key. */
  g_assert_cmpint (run (f, "a", NULL, "remove", b, NULL), ==, 5);
  g_assert_cmpint (run (f, "a", NULL, "remove", b, "with-rk", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run (f, "a", &out, "epochs", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Photos 1"));
  g_assert_nonnull (strstr (out, "Notes 1"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (run (f, "a", &out, "list", NULL), ==, 0);
  g_assert_null (strstr (out, b));
  g_assert_nonnull (strstr (out, "Desktop"));

  /* A backup made after the removal. */
  coffer_test_write_random (newfile, 3000, 7);
  g_assert_cmpint (run (f, "a", NULL, "backup", "Notes", NULL), ==, 0);

  /* The removed computer: its envelope is gone ... */
  g_assert_cmpint (run (f, "b", NULL, "restore", "Notes", t1, NULL), ==, 3);
  /* ... and the account key it kept opens nothing written afterwards. */
  g_assert_cmpint (run (f, "b", NULL, "attack", stolen, "Notes", t2, NULL), ==, 3);

  /* The computer that stays follows the signed rotation and reads it. */
  g_assert_cmpint (run (f, "c", NULL, "restore", "Notes", t3, NULL), ==, 0);
  restored = g_build_filename (t3, newfile, NULL);
  g_assert_true (g_file_test (restored, G_FILE_TEST_IS_REGULAR));
  /* And so does the one that removed it. */
  g_assert_cmpint (run (f, "a", NULL, "restore", "Notes", t4, NULL), ==, 0);
}

static void
test_forged_rotation (Fixture *f, gconstpointer data)
{
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;
  g_autofree char *rot_dir = NULL;
  g_autofree char *t = g_build_filename (f->tmp, "t", NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  b = join (f, "b", "Laptop");
  c = join (f, "c", "Desktop");
  g_assert_cmpint (run (f, "a", NULL, "remove", b, "with-rk", NULL), ==, 0);
  /* Damage the signature of the rotation record: "c" must refuse the new
   * account key rather than adopt a key it cannot verify. */
  rot_dir = g_build_filename (f->tmp, "store", "keys", "rotations", NULL);
  dir = g_dir_open (rot_dir, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (rot_dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize len;

      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      contents[len - 1] ^= 0x40;
      g_assert_true (g_file_set_contents (path, contents, len, NULL));
    }
  g_assert_cmpint (run (f, "c", NULL, "restore", "Notes", t, NULL), ==, 3);
}

/* Moves every category's keys/account aside and puts a folder in its
 * place (the removal then stops after the new key reached keys/recovery,
 * as after a crash there), or puts them back. */
static void
block_category_keys (Fixture *f, gboolean block)
{
  g_autofree char *cats = g_build_filename (f->tmp, "store", "categories", NULL);
  g_autoptr(GDir) dir = g_dir_open (cats, 0, NULL);
  const char *cid;

  g_assert_nonnull (dir);
  while ((cid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (cats, cid, "keys", "account", NULL);
      g_autofree char *aside = g_strconcat (path, ".aside", NULL);

      if (block)
        {
          g_assert_cmpint (g_rename (path, aside), ==, 0);
          g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
        }
      else
        {
          g_assert_cmpint (g_rmdir (path), ==, 0);
          g_assert_cmpint (g_rename (aside, path), ==, 0);
        }
    }
}

static void
test_remove_resumes (Fixture *f, gconstpointer data)
{
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;
  g_autofree char *out = NULL;
  g_autofree char *stolen = g_build_filename (f->tmp, "stolen-ak", NULL);
  g_autofree char *t1 = g_build_filename (f->tmp, "t1", NULL);
  g_autofree char *t2 = g_build_filename (f->tmp, "t2", NULL);
  g_autofree char *b_env = NULL;
  g_autofree char *newfile = g_build_filename (f->src, "notes", "after-resume.txt", NULL);

  b = join (f, "b", "Laptop");
  c = join (f, "c", "Desktop");
  g_assert_cmpint (run (f, "b", NULL, "steal", stolen, NULL), ==, 0);
  b_env = g_build_filename (f->tmp, "store", "keys", "devices", b, NULL);

  /* Interrupted after the removed device went and the new key reached
   * keys/recovery, before the categories were rotated. */
  block_category_keys (f, TRUE);
  g_assert_cmpint (run (f, "a", NULL, "remove", b, "with-rk", NULL), ==, 3);
  g_assert_false (g_file_test (b_env, G_FILE_TEST_EXISTS));
  block_category_keys (f, FALSE);

  /* Run again with the same id: it resumes with the key in keys/recovery,
   * and every device kept follows the signed rotation. */
  g_assert_cmpint (run (f, "a", NULL, "remove", b, "with-rk", NULL), ==, 0);
  g_assert_cmpint (run (f, "a", &out, "list", NULL), ==, 0);
  g_assert_null (strstr (out, b));
  g_assert_nonnull (strstr (out, "Desktop - verified"));
  coffer_test_write_random (newfile, 3000, 8);
  g_assert_cmpint (run (f, "a", NULL, "backup", "Notes", NULL), ==, 0);
  g_assert_cmpint (run (f, "c", NULL, "restore", "Notes", t1, NULL), ==, 0);
  g_assert_cmpint (run (f, "b", NULL, "attack", stolen, "Notes", t2, NULL), ==, 3);
}

int
main (int argc, char **argv)
{
  if (argc > 3 && strcmp (argv[1], "--role") == 0)
    return run_role (argc, argv);

  g_test_init (&argc, &argv, NULL);
  g_test_add ("/devices/join-roundtrip", Fixture, NULL, fixture_setup, test_join_roundtrip, fixture_teardown);
  g_test_add ("/devices/wrong-code", Fixture, NULL, fixture_setup, test_wrong_code, fixture_teardown);
  g_test_add ("/devices/tampered-reveal", Fixture, NULL, fixture_setup, test_tampered_reveal, fixture_teardown);
  g_test_add ("/devices/remove-rotates", Fixture, NULL, fixture_setup, test_remove_rotates, fixture_teardown);
  g_test_add ("/devices/forged-rotation", Fixture, NULL, fixture_setup, test_forged_rotation, fixture_teardown);
  g_test_add ("/devices/remove-resumes", Fixture, NULL, fixture_setup, test_remove_resumes, fixture_teardown);
  return g_test_run ();
}
