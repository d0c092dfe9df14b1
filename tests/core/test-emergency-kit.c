/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "coffer-emergency-kit.h"
#include "test-utils.h"

#define KEY_TEXT  "7K3M-Q9TR-WX2A-HB4D-N6PE-YC8F-G1JZ"
#define REPO_ID   "9f2c4e1a7b3d5f60a1b2c3d4e5f60718"
#define LOCATION  "webdav+https://cloud.example.org/remote.php/dav/files/zoe/Backups/coffer-repository-with-a-rather-long-name"

static CofferSecret *
key_secret (void)
{
  return coffer_secret_new_from_string (KEY_TEXT);
}

static gboolean
write_kit (const char  *path,
           GError     **error)
{
  g_autoptr(CofferSecret) key = key_secret ();
  g_autoptr(GDateTime) date = g_date_time_new_utc (2024, 3, 15, 10, 30, 0);

  return coffer_emergency_kit_write_pdf (path, key, LOCATION, REPO_ID, date, error);
}

static char *
pdf_to_text (const char *path)
{
  const char *argv[] = { "pdftotext", "-layout", path, "-", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("pdftotext failed: %s\n%s", error->message, err);
  return g_steal_pointer (&out);
}

/* pdftotext may break lines or insert spaces: compare without white space. */
static char *
squeeze (const char *text)
{
  GString *s = g_string_new (NULL);

  for (const char *p = text; *p; p++)
    if (!g_ascii_isspace (*p))
      g_string_append_c (s, *p);
  return g_string_free (s, FALSE);
}

static void
test_write (void)
{
  g_autofree char *dir = coffer_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "Coffer Emergency Kit.pdf", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *text = NULL;
  g_autofree char *flat = NULL;
  g_auto(GStrv) groups = g_strsplit (KEY_TEXT, "-", -1);
  g_autoptr(GDir) d = NULL;
  gsize len = 0;
  GStatBuf st;

  g_assert_true (write_kit (path, &error));
  g_assert_no_error (error);

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpuint (len, >, 1000);
  g_assert_true (g_str_has_prefix (contents, "%PDF"));

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);

  text = pdf_to_text (path);
  g_assert_nonnull (strstr (text, "Coffer Emergency Kit"));
  g_assert_cmpuint (g_strv_length (groups), ==, 7);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      if (strstr (text, groups[i]) == NULL)
        g_error ("key group %s is not in the PDF text:\n%s", groups[i], text);
    }
  g_assert_nonnull (strstr (text, REPO_ID));
  g_assert_nonnull (strstr (text, "2024-03-15"));
  g_assert_nonnull (strstr (text, "coffer restore --repo"));
  flat = squeeze (text);
  g_assert_nonnull (strstr (flat, LOCATION));

  /* Only the kit is left in the directory: no temporary file. */
  d = g_dir_open (dir, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (d), ==, "Coffer Emergency Kit.pdf");
  g_assert_null (g_dir_read_name (d));

  coffer_test_rmtree (dir);
}

static void
test_no_overwrite (void)
{
  g_autofree char *dir = coffer_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "kit.pdf", NULL);
  g_autofree char *link_path = g_build_filename (dir, "link.pdf", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GDir) d = NULL;
  guint n = 0;

  g_assert_true (g_file_set_contents (path, "precious", -1, NULL));
  g_assert_false (write_kit (path, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious");

  /* A dangling symlink is not followed either. */
  g_assert_cmpint (symlink ("/nonexistent/target.pdf", link_path), ==, 0);
  g_assert_false (write_kit (link_path, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  /* Nothing else was left behind. */
  d = g_dir_open (dir, 0, NULL);
  while (g_dir_read_name (d) != NULL)
    n++;
  g_assert_cmpuint (n, ==, 2);

  coffer_test_rmtree (dir);
}

static void
test_bad_input (void)
{
  g_autofree char *dir = coffer_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "kit.pdf", NULL);
  g_autofree char *missing = g_build_filename (dir, "no", "such", "kit.pdf", NULL);
  g_autoptr(CofferSecret) short_key = coffer_secret_new_from_string ("ABCD-EFGH");
  g_autoptr(GDateTime) date = g_date_time_new_now_utc ();
  g_autoptr(GError) error = NULL;

  g_assert_false (coffer_emergency_kit_write_pdf (path, short_key, LOCATION, REPO_ID, date, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  g_assert_false (write_kit (missing, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  coffer_test_rmtree (dir);
}

int
main (int   argc,
      char *argv[])
{
  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/emergency-kit/write", test_write);
  g_test_add_func ("/emergency-kit/no-overwrite", test_no_overwrite);
  g_test_add_func ("/emergency-kit/bad-input", test_bad_input);

  return g_test_run ();
}
