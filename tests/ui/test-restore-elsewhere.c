/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The restore window on a computer whose home folder is not the one the
 * backup came from: "Restore" puts the files into the same folders of this
 * home folder (<old home>/Pictures/x.jpg → ~/Pictures/x.jpg), the window
 * and the "Restore Everything?" question say so, and nothing is written
 * to the old place (which is not on this computer). A folder outside any
 * home that does exist here is restored in place. The result says how many files had privileges withheld
 * (a setuid file). Real repository in a folder, real backup, real window. */
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-repository.h"
#include "coffer-restore-window.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;

/* path holds what coffer_test_write_random (len, seed) wrote. */
static void
assert_random_contents (const char *path, gsize len, guint32 seed)
{
  g_autofree char *want_path = g_build_filename (tmp, "expected", NULL);
  g_autofree char *want = NULL;
  g_autofree char *got = NULL;
  gsize want_len = 0, got_len = 0;

  coffer_test_write_random (want_path, len, seed);
  g_assert_true (g_file_get_contents (want_path, &want, &want_len, NULL));
  g_assert_true (g_file_get_contents (path, &got, &got_len, NULL));
  g_assert_cmpmem (got, got_len, want, want_len);
  g_unlink (want_path);
}

static const char *
status_text (CofferRestoreWindow *restore)
{
  GObject *label = gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW, "where_label");
  return gtk_label_get_text (GTK_LABEL (label));
}

static void
test_restore_elsewhere (void)
{
  g_autoptr(CofferApplication) app = ui_test_app_new ();
  g_autofree char *repo = g_build_filename (tmp, "Backup", NULL);
  /* The computer the backup came from: another home folder. */
  g_autofree char *old_home = g_build_filename (tmp, "alice", NULL);
  g_autofree char *old_pictures = g_build_filename (old_home, "Pictures", NULL);
  g_autofree char *old_photo = g_build_filename (old_pictures, "x.jpg", NULL);
  g_autofree char *old_tool = g_build_filename (old_pictures, "tool", NULL);
  g_autofree char *pictures = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *photo = g_build_filename (pictures, "x.jpg", NULL);
  g_autofree char *tool = g_build_filename (pictures, "tool", NULL);
  g_autofree char *category_id = NULL;
  g_autofree char *expected = NULL;
  const char *old_paths[] = { old_pictures, NULL };
  const char *paths[] = { pictures, NULL };
  GSettings *settings = coffer_application_get_settings (app);
  CofferRestoreWindow *restore;
  CofferWindow *window;
  GObject *unlock;
  struct stat st;

  g_mkdir_with_parents (old_pictures, 0755);
  coffer_test_write_random (old_photo, 40000, 1);
  coffer_test_write_random (old_tool, 3000, 2);
  g_assert_cmpint (g_chmod (old_tool, 04755), ==, 0);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
    g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
    g_autoptr(CofferSecret) key = NULL;
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferCategory) category = NULL;
    g_autoptr(CofferSnapshot) snapshot = NULL;
    const char *excludes[] = { NULL };

    g_assert_no_error (error);
    repository = coffer_repository_create (store, password, "alice's laptop", &key, NULL, &error);
    g_assert_no_error (error);
    category = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, old_paths,
                                               excludes, NULL, &error);
    g_assert_no_error (error);
    category_id = g_strdup (category->id);
    snapshot = coffer_backup_run (repository, category_id, NULL, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
  }
  /* Alice's computer is gone; this one has no files yet. */
  coffer_test_rmtree (old_home);

  {
    g_autoptr(CofferCategoryItem) item = coffer_category_item_new ("Photos", paths);
    coffer_category_item_set_id (item, category_id);
    g_list_store_append (coffer_application_get_categories (app), item);
  }
  coffer_application_save_categories (app);
  g_settings_set_string (settings, "destination", repo);
  g_settings_set_string (settings, "schedule", "off");
  g_settings_set_boolean (settings, "setup-done", TRUE);
  coffer_application_open_repository (app, NULL);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);
  ui_test_wait_for (ui_test_app_is_locked, app, 60, "locked");
  unlock = gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "unlock_entry");
  gtk_editable_set_text (GTK_EDITABLE (unlock), PASSWORD);
  g_signal_emit_by_name (unlock, "entry-activated");
  ui_test_wait_for (ui_test_app_is_ready, app, 60, "ready");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.restore", NULL));
  restore = COFFER_RESTORE_WINDOW (ui_test_find_window (COFFER_TYPE_RESTORE_WINDOW));
  g_assert_nonnull (restore);
  ui_test_wait_for (ui_test_restore_loaded, restore, 60, "snapshot listing");
  g_assert_cmpstr (coffer_restore_window_get_path (restore), ==, old_pictures);

  /* The window says where Restore puts the files. */
  expected = g_strdup_printf ("This backup comes from another computer or home folder (%s). Restore puts its "
                              "files into the same folders of your home folder.", old_home);
  g_assert_cmpstr (status_text (restore), ==, expected);
  ui_test_screenshot (GTK_WIDGET (restore), "restore-from-another-home");

  /* Nothing selected: the question names the place too. */
  coffer_restore_window_restore (restore, NULL, NULL);
  g_assert_nonnull (coffer_restore_window_get_dialog (restore));
  {
    const char *body = adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (coffer_restore_window_get_dialog (restore)));
    g_autofree char *where = g_strdup_printf ("the same folders of your home folder (%s → ~)", old_home);
    g_test_message ("%s", body);
    g_assert_nonnull (strstr (body, where));
  }
  ui_test_screenshot (coffer_restore_window_get_dialog (restore), "restore-everything-another-home");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (coffer_restore_window_get_dialog (restore)), "restore");
  ui_test_wait_for (ui_test_restore_finished, restore, 60, "restore");
  g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");

  /* In this home folder, and not at the old place. */
  assert_random_contents (photo, 40000, 1);
  g_assert_false (g_file_test (old_home, G_FILE_TEST_EXISTS));
  /* The setuid bit is withheld, and the result says so. */
  g_assert_cmpint (g_stat (tool, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0755);
  g_test_message ("toast: %s", coffer_restore_window_get_toast (restore));
  g_assert_cmpstr (coffer_restore_window_get_toast (restore), ==,
                   "Files restored into your home folder. 1 file without its privileges.");
  ui_test_flush (GTK_WIDGET (restore));
  ui_test_flush (GTK_WIDGET (restore));
  ui_test_screenshot (GTK_WIDGET (restore), "restore-another-home-done");
  /* Its Details say what and why. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (restore), "restore.show-withheld", NULL));
  g_assert_nonnull (coffer_restore_window_get_dialog (restore));
  {
    const char *body = adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (coffer_restore_window_get_dialog (restore)));
    g_assert_true (g_str_has_prefix (body, "1 file or folder was restored without its privileges (setuid/setgid"));
  }
  ui_test_screenshot (coffer_restore_window_get_dialog (restore), "restore-privileges-withheld");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (coffer_restore_window_get_dialog (restore)), "close");
  g_assert_null (coffer_restore_window_get_dialog (restore));

  /* A selected file goes to the same place as well. */
  g_assert_cmpint (g_unlink (photo), ==, 0);
  {
    g_autofree char *in_backup = g_build_filename (old_pictures, "x.jpg", NULL);
    const char *one[] = { in_backup, NULL };

    coffer_restore_window_restore (restore, one, NULL);
    ui_test_wait_for (ui_test_restore_finished, restore, 60, "restore of one file");
  }
  g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");
  assert_random_contents (photo, 40000, 1);
  g_assert_cmpstr (coffer_restore_window_get_toast (restore), ==, "Files restored into your home folder.");
  g_assert_false (g_file_test (old_home, G_FILE_TEST_EXISTS));

  /* A folder outside any home that exists here (a drive, /srv…) is
   * restored where it is, even when it is no longer in the category. */
  g_mkdir_with_parents (old_pictures, 0755);
  {
    g_autofree char *in_backup = g_build_filename (old_pictures, "x.jpg", NULL);
    const char *one[] = { in_backup, NULL };

    coffer_restore_window_restore (restore, one, NULL);
    ui_test_wait_for (ui_test_restore_finished, restore, 60, "restore in place");
    g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");
    assert_random_contents (in_backup, 40000, 1);
    g_assert_cmpstr (coffer_restore_window_get_toast (restore), ==, "Files restored");
    g_assert_false (gtk_widget_get_visible (gtk_widget_get_parent (GTK_WIDGET (
      gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW, "where_label")))));
  }

  gtk_window_destroy (GTK_WINDOW (restore));
  ui_test_quit (app);
}

/* Two computers with the same host name back up in the same second: the
 * labels still differ (the start of each computer's id). */
static void
test_same_name_labels (void)
{
  CofferSnapshot a = { 0 }, b = { 0 };
  g_autoptr(GPtrArray) snapshots = g_ptr_array_new ();
  g_autofree char *la = NULL;
  g_autofree char *lb = NULL;

  a.time = b.time = G_GINT64_CONSTANT (1764900000) * G_USEC_PER_SEC;
  a.hostname = b.hostname = (char *) "laptop";
  a.device_id = (char *) "0123456789abcdef";
  b.device_id = (char *) "fedcba9876543210";
  g_ptr_array_add (snapshots, &a);
  g_ptr_array_add (snapshots, &b);
  la = coffer_restore_window_describe_snapshot (snapshots, 0);
  lb = coffer_restore_window_describe_snapshot (snapshots, 1);
  g_test_message ("%s | %s", la, lb);
  g_assert_cmpstr (la, !=, lb);
  g_assert_true (g_str_has_suffix (la, " on laptop (01234567)"));
  g_assert_true (g_str_has_suffix (lb, " on laptop (fedcba98)"));
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/restore/another-home", test_restore_elsewhere);
  g_test_add_func ("/ui/restore/same-name-labels", test_same_name_labels);
  return ui_test_run (tmp);
}
