/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The core's messages reach the user translated: the German catalogue,
 * compiled from po/de.po here, turns them into German sentences (plurals,
 * the typo advice, a store action inside its sentence), and without it
 * they stay the English text the tests elsewhere compare with. */
#include <locale.h>
#include <libintl.h>
#include <string.h>

#include <glib/gstdio.h>

#include "coffer-error.h"
#include "coffer-recovery-key.h"
#include "coffer-store-private.h"
#include "test-utils.h"

/* A key whose last group has two characters swapped: the codec points at
 * one character to check. */
#define MISTYPED_KEY "0123-4567-89AB-CDEF-GHJK-MNPQ-RSVT"

static char *catalog_dir;

static void
compile_catalog (void)
{
  g_autofree char *po = g_test_build_filename (G_TEST_DIST, "..", "po", "de.po", NULL);
  g_autofree char *dir = NULL;
  g_autofree char *mo = NULL;
  g_autoptr(GError) error = NULL;
  int status = -1;

  catalog_dir = coffer_test_mkdtemp ();
  dir = g_build_filename (catalog_dir, "de", "LC_MESSAGES", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  mo = g_build_filename (dir, GETTEXT_PACKAGE ".mo", NULL);
  {
    const char *argv[] = { "msgfmt", "-o", mo, po, NULL };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                  &status, &error);
  }
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (bindtextdomain (GETTEXT_PACKAGE, catalog_dir));
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

/* LANGUAGE is honoured in any locale but "C"; setlocale () also drops
 * gettext's cache of looked-up messages. */
static void
use_language (const char *language)
{
  if (language != NULL)
    {
      g_setenv ("LANGUAGE", language, TRUE);
      g_assert_nonnull (setlocale (LC_ALL, "C.UTF-8"));
    }
  else
    {
      g_unsetenv ("LANGUAGE");
      g_assert_nonnull (setlocale (LC_ALL, "C"));
    }
}

static char *
key_error (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (text, &error);

  g_assert_null (key);
  g_assert_error (error, COFFER_CRYPTO_ERROR, error->code);
  return g_strdup (error->message);
}

/* A folder store whose object "f" is a file, so that storing "f/x" cannot
 * create the folder "f". */
static char *
store_folder_error (void)
{
  g_autofree char *root = coffer_test_mkdtemp ();
  g_autofree char *file = g_build_filename (root, "f", NULL);
  g_autoptr(GFile) root_file = g_file_new_for_path (root);
  g_autoptr(CofferStore) store = coffer_store_local_new (root_file);
  g_autoptr(GBytes) data = g_bytes_new_static ("x", 1);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (file, "", 0, NULL));
  g_assert_false (coffer_store_put (store, "f/x", data, COFFER_PUT_CREATE, NULL, &error));
  g_assert_nonnull (error);
  coffer_test_rmtree (root);
  return g_strdup (error->message);
}

static char *
store_missing_error (void)
{
  g_autofree char *root = coffer_test_mkdtemp ();
  g_autoptr(GFile) root_file = g_file_new_for_path (root);
  g_autoptr(CofferStore) store = coffer_store_local_new (root_file);
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GError) error = NULL;

  data = coffer_store_get (store, "missing", 0, 0, NULL, &error);
  g_assert_null (data);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
  coffer_test_rmtree (root);
  return g_strdup (error->message);
}

/* A message with a 64-bit number: %<PRIu64> in the catalogue. */
static char *
store_short_error (void)
{
  g_autofree char *root = coffer_test_mkdtemp ();
  g_autoptr(GFile) root_file = g_file_new_for_path (root);
  g_autoptr(CofferStore) store = coffer_store_local_new (root_file);
  g_autoptr(GBytes) data = g_bytes_new_static ("x", 1);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (coffer_store_put (store, "short", data, COFFER_PUT_CREATE, NULL, NULL));
  got = coffer_store_get (store, "short", 0, 10, NULL, &error);
  g_assert_null (got);
  g_assert_nonnull (error);
  coffer_test_rmtree (root);
  return g_strdup (error->message);
}

static void
test_german (void)
{
  g_autofree char *count = NULL;
  g_autofree char *typo = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *shorter = NULL;

  use_language ("de");
  count = key_error ("ABC");
  typo = key_error (MISTYPED_KEY);
  folder = store_folder_error ();
  missing = store_missing_error ();
  shorter = store_short_error ();
  use_language (NULL);

  g_assert_cmpstr (count, ==, "Der Wiederherstellungsschlüssel hat 3 Zeichen, ein "
                              "Wiederherstellungsschlüssel hat aber 28.");
  g_assert_cmpstr (typo, ==, "Der Wiederherstellungsschlüssel scheint vertippt zu sein: "
                             "Prüfen Sie Zeichen 3 von Gruppe 7.");
  g_assert_cmpstr (missing, ==, "Das Objekt „missing“ existiert nicht.");
  g_assert_cmpstr (shorter, ==, "Das Objekt „short“ ist 1 Bytes lang, kürzer als der angeforderte Bereich.");
  /* The store action is translated to fit the German sentence. */
  g_assert_nonnull (strstr (folder, "konnte nicht als Ordner angelegt werden: "));
}

static void
test_english_without_catalog (void)
{
  g_autofree char *one = NULL;
  g_autofree char *many = NULL;
  g_autofree char *typo = NULL;
  g_autofree char *folder = NULL;

  use_language (NULL);
  one = key_error ("A");
  many = key_error ("ABC");
  typo = key_error (MISTYPED_KEY);
  folder = store_folder_error ();

  g_assert_cmpstr (one, ==, "The recovery key has 1 character, but a recovery key has 28.");
  g_assert_cmpstr (many, ==, "The recovery key has 3 characters, but a recovery key has 28.");
  g_assert_cmpstr (typo, ==, "The recovery key looks mistyped: check character 3 of group 7.");
  g_assert_true (g_str_has_prefix (folder, "Could not create the folder "));
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  compile_catalog ();
  g_test_add_func ("/i18n/german", test_german);
  g_test_add_func ("/i18n/english-in-c-locale", test_english_without_catalog);
  status = g_test_run ();
  coffer_test_rmtree (catalog_dir);
  g_free (catalog_dir);
  return status;
}
