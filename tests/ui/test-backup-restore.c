/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An existing repository opened by the app (unlocked with the password on
 * the locked page), a backup started from the window, restored by the CLI
 * and by the restore window; a newer local file is not silently replaced. */
#include <glib/gstdio.h>

#include "coffer-authority-dialog.h"
#include "coffer-category-item.h"
#include "coffer-repository.h"
#include "coffer-category-row.h"
#include "coffer-file-item.h"
#include "coffer-recovery-key.h"
#include "coffer-recovery-wizard.h"
#include "coffer-preferences-window.h"
#include "coffer-restore-window.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"
#define NEW_PASSWORD "another quite different passphrase 2025"

static char *tmp;
static char *letters_id;

static gboolean
state_is (gpointer data)
{
  CofferApplication *app = g_object_get_data (G_OBJECT (data), "app");
  return coffer_application_get_state (app) == GPOINTER_TO_INT (g_object_get_data (G_OBJECT (data), "state"));
}

static void
wait_state (CofferApplication *app, CofferAppState state)
{
  g_autoptr(GObject) holder = g_object_new (G_TYPE_OBJECT, NULL);
  g_object_set_data (holder, "app", app);
  g_object_set_data (holder, "state", GINT_TO_POINTER (state));
  ui_test_wait_for (state_is, holder, 60, "application state");
}

static gboolean
backup_done (gpointer data)
{
  CofferApplication *app = data;
  return coffer_history_get_n_entries (coffer_application_get_history (app)) > 0 &&
         !coffer_engine_get_busy (coffer_application_get_engine (app));
}

static gboolean
restore_idle (gpointer data)
{
  return !coffer_restore_window_get_loading (data);
}

static gboolean
devices_listed (gpointer data)
{
  GtkWidget *row = gtk_widget_get_first_child (data);
  return row != NULL && ADW_IS_ACTION_ROW (row) &&
         g_strcmp0 (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "This computer") == 0;
}

static GtkWindow *
wizard_window (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* transfer none */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);
      if (gtk_widget_get_mapped (window) && ui_test_find (window, COFFER_TYPE_RECOVERY_WIZARD, NULL) != NULL)
        return GTK_WINDOW (window);
    }
  return NULL;
}

static gboolean
entry_empty (gpointer data)
{
  return *gtk_editable_get_text (GTK_EDITABLE (data)) == '\0';
}

/* Runs the CLI with COFFER_REPO and COFFER_PASSWORD; TRUE when it succeeded. */
static gboolean G_GNUC_NULL_TERMINATED
run_cli (const char *repo, const char *password, ...)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE |
                                                                       G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) cli = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) g_getenv ("COFFER_CLI"));
  va_start (ap, password);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_setenv (launcher, "COFFER_REPO", repo, TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_PASSWORD", password, TRUE);
  cli = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (cli, NULL, NULL, &output, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("coffer %s: %s", (const char *) argv->pdata[1], output);
  return g_subprocess_get_successful (cli);
}

static gboolean
wizard_shown (gpointer data)
{
  return wizard_window () != NULL;
}

static gboolean
level_advanced (gpointer data)
{
  return coffer_category_item_get_level (data) == COFFER_LEVEL_ADVANCED;
}

static char *
create_repository (const char *repo, const char *source, char **out_id, char **out_key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(CofferRepository) repository = NULL;
  g_autoptr(CofferCategory) category = NULL;
  const char *paths[] = { source, NULL };
  const char *excludes[] = { NULL };

  g_assert_no_error (error);
  repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
  g_assert_no_error (error);
  category = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, paths, excludes,
                                             NULL, &error);
  g_assert_no_error (error);
  *out_id = g_strdup (category->id);
  {
    /* A second category, for searching all categories. */
    g_autofree char *letters = g_build_filename (g_get_home_dir (), "Letters", NULL);
    const char *letter_paths[] = { letters, NULL };
    g_autoptr(CofferCategory) second = NULL;

    second = coffer_repository_add_category (repository, "Letters", COFFER_LEVEL_STANDARD, letter_paths,
                                             excludes, NULL, &error);
    g_assert_no_error (error);
    letters_id = g_strdup (second->id);
  }
  {
    g_autoptr(CofferSecret) text = coffer_recovery_key_format (key);
    *out_key = g_strdup ((const char *) text->data);
  }
  return g_strdup (coffer_repository_get_id (repository));
}

static void
test_backup_and_restore (void)
{
  g_autofree char *repo = g_build_filename (tmp, "repo", NULL);
  g_autofree char *source = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *sub = g_build_filename (source, "2024", "Holiday", NULL);
  g_autofree char *cli_target = g_build_filename (tmp, "cli-restore", NULL);
  g_autofree char *app_target = g_build_filename (tmp, "app-restore", NULL);
  g_autofree char *cli_restored = NULL;
  g_autofree char *app_restored = NULL;
  g_autofree char *category_id = NULL;
  g_autofree char *repo_id = NULL;
  g_autofree char *recovery_key = NULL;
  g_autoptr(CofferApplication) app = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferCategoryItem) item = NULL;
  CofferRestoreWindow *restore;
  CofferWindow *window;
  GSettings *settings;
  GObject *unlock;
  const char *paths[] = { source, NULL };

  g_mkdir_with_parents (sub, 0755);
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/IMG_%04u.jpg", i < 4 ? source : sub, i);
      coffer_test_write_random (file, 4096 + i * 100003, 100 + i);
    }
  repo_id = create_repository (repo, source, &category_id, &recovery_key);

  /* The app as it is after setup on this computer. */
  app = ui_test_app_new ();
  settings = coffer_application_get_settings (app);
  item = coffer_category_item_new ("Photos", paths);
  coffer_category_item_set_id (item, category_id);
  g_list_store_append (coffer_application_get_categories (app), item);
  {
    g_autofree char *letters = g_build_filename (g_get_home_dir (), "Letters", NULL);
    g_autofree char *letter = g_build_filename (letters, "To Grandma.txt", NULL);
    const char *letter_paths[] = { letters, NULL };
    g_autoptr(CofferCategoryItem) second = coffer_category_item_new ("Letters", letter_paths);

    g_mkdir_with_parents (letters, 0755);
    g_assert_true (g_file_set_contents (letter, "Dear Grandma,\n", -1, NULL));
    coffer_category_item_set_id (second, letters_id);
    g_list_store_append (coffer_application_get_categories (app), second);
  }
  coffer_application_save_categories (app);
  g_settings_set_string (settings, "destination", repo);
  g_settings_set_boolean (settings, "setup-done", TRUE);
  coffer_application_open_repository (app, NULL);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);

  /* Without a keyring the device key is sealed under the password. */
  wait_state (app, COFFER_APP_STATE_LOCKED);
  unlock = gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "unlock_entry");
  gtk_editable_set_text (GTK_EDITABLE (unlock), "not the password at all");
  ui_test_screenshot (GTK_WIDGET (window), "unlock");
  g_signal_emit_by_name (unlock, "entry-activated");
  wait_state (app, COFFER_APP_STATE_LOCKED);
  g_assert_nonnull (coffer_application_get_state_message (app));
  ui_test_screenshot (GTK_WIDGET (window), "unlock-wrong-password");
  gtk_editable_set_text (GTK_EDITABLE (unlock), PASSWORD);
  g_signal_emit_by_name (unlock, "entry-activated");
  wait_state (app, COFFER_APP_STATE_READY);

  /* Back Up Now from the window. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.backup-now", NULL));
  g_assert_true (coffer_engine_get_busy (coffer_application_get_engine (app)));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window),
                                                                                    COFFER_TYPE_WINDOW,
                                                                                    "progress_group"))));
  ui_test_screenshot (GTK_WIDGET (window), "backup-progress");
  ui_test_wait_for (backup_done, app, 120, "backup");
  {
    const CofferHistoryEntry *entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
    if (!entry->success)
      g_error ("backup failed: %s / %s", entry->summary, entry->details);
  }
  ui_test_screenshot (GTK_WIDGET (window), "main-window-after-backup");

  /* The CLI restores that snapshot. */
  {
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE |
                                                                         G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_autoptr(GSubprocess) cli = NULL;
    g_autofree char *output = NULL;

    g_subprocess_launcher_setenv (launcher, "COFFER_REPO", repo, TRUE);
    g_subprocess_launcher_setenv (launcher, "COFFER_PASSWORD", PASSWORD, TRUE);
    cli = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("COFFER_CLI"), "restore", "--category", "Photos",
                                       "--target", cli_target, NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (cli, NULL, NULL, &output, NULL, &error);
    g_assert_no_error (error);
    g_test_message ("coffer restore: %s", output);
    g_assert_true (g_subprocess_get_successful (cli));
  }
  cli_restored = g_build_filename (cli_target, source, NULL);
  coffer_test_assert_same_tree (source, cli_restored, FALSE);

  /* Change the backup password in Preferences; the CLI then needs the new one. */
  {
    CofferPreferencesWindow *prefs = coffer_preferences_window_new (app);
    GObject *pw = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW, "new_password");
    GObject *confirm = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW,
                                                      "new_password_confirm");

    gtk_window_present (GTK_WINDOW (prefs));
    gtk_editable_set_text (GTK_EDITABLE (pw), NEW_PASSWORD);
    gtk_editable_set_text (GTK_EDITABLE (confirm), NEW_PASSWORD);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (prefs), "prefs.change-password", NULL));
    /* The current password is asked first (tests/ui/test-authority.c). */
    coffer_authority_dialog_confirm (COFFER_AUTHORITY_DIALOG (ui_test_find_window (COFFER_TYPE_AUTHORITY_DIALOG)),
                                     PASSWORD);
    ui_test_wait_for (entry_empty, pw, 60, "password change");
    gtk_window_destroy (GTK_WINDOW (prefs));
    g_assert_false (run_cli (repo, PASSWORD, "snapshots", "--category", "Photos", NULL));
    g_assert_true (run_cli (repo, NEW_PASSWORD, "snapshots", "--category", "Photos", NULL));
  }

  /* The restore window: browse, then restore everything into a folder. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.restore", NULL));
  restore = COFFER_RESTORE_WINDOW (ui_test_find_window (COFFER_TYPE_RESTORE_WINDOW));
  g_assert_nonnull (restore);
  ui_test_wait_for (ui_test_restore_loaded, restore, 60, "snapshot listing");
  g_assert_cmpstr (coffer_restore_window_get_path (restore), ==, source);
  ui_test_screenshot (GTK_WIDGET (restore), "restore");
  coffer_restore_window_open_folder (restore, sub);
  ui_test_wait_for (ui_test_restore_loaded, restore, 60, "folder listing");
  g_assert_cmpuint (g_list_model_get_n_items (coffer_restore_window_get_files (restore)), ==, 4);
  coffer_restore_window_open_folder (restore, source);
  ui_test_wait_for (ui_test_restore_loaded, restore, 60, "folder listing");

  /* Search walks the snapshot. */
  {
    GObject *search = gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW,
                                                     "search_entry");
    g_autoptr(CofferFileItem) found = NULL;

    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (restore),
                                                                                    COFFER_TYPE_RESTORE_WINDOW,
                                                                                    "search_button")), TRUE);
    gtk_editable_set_text (GTK_EDITABLE (search), "img_0006");
    g_signal_emit_by_name (search, "search-changed");
    ui_test_wait_for (ui_test_restore_loaded, restore, 60, "search");
    g_assert_cmpuint (g_list_model_get_n_items (coffer_restore_window_get_files (restore)), ==, 1);
    found = g_list_model_get_item (coffer_restore_window_get_files (restore), 0);
    g_assert_true (g_str_has_suffix (coffer_file_item_get_path (found), "/2024/Holiday/IMG_0006.jpg"));
    ui_test_screenshot (GTK_WIDGET (restore), "restore-search");
    /* All categories: a letter is found while Photos is shown, and
     * restoring it uses the Letters backup. */
    {
      GObject *all = gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW,
                                                    "search_all_check");
      GObject *view = gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW,
                                                     "column_view");
      g_autofree char *letter_target = g_build_filename (tmp, "letter-restore", NULL);
      g_autofree char *letter_copy = g_build_filename (letter_target, "To Grandma.txt", NULL);
      g_autofree char *contents = NULL;
      g_autoptr(CofferFileItem) letter = NULL;

      gtk_editable_set_text (GTK_EDITABLE (search), "grandma");
      g_signal_emit_by_name (search, "search-changed");
      ui_test_wait_for (restore_idle, restore, 60, "search");
      g_assert_cmpuint (g_list_model_get_n_items (coffer_restore_window_get_files (restore)), ==, 0);
      gtk_check_button_set_active (GTK_CHECK_BUTTON (all), TRUE);
      ui_test_wait_for (ui_test_restore_loaded, restore, 60, "search in all categories");
      g_assert_cmpuint (g_list_model_get_n_items (coffer_restore_window_get_files (restore)), ==, 1);
      letter = g_list_model_get_item (coffer_restore_window_get_files (restore), 0);
      g_assert_true (g_str_has_suffix (coffer_file_item_get_path (letter), "/Letters/To Grandma.txt"));
      ui_test_screenshot (GTK_WIDGET (restore), "restore-search-all");
      gtk_selection_model_select_item (gtk_column_view_get_model (GTK_COLUMN_VIEW (view)), 0, TRUE);
      coffer_restore_window_restore (restore, NULL, letter_target);
      ui_test_wait_for (ui_test_restore_finished, restore, 120, "restore of a letter");
      g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");
      g_assert_true (g_file_get_contents (letter_copy, &contents, NULL, NULL));
      g_assert_cmpstr (contents, ==, "Dear Grandma,\n");
      gtk_selection_model_unselect_all (gtk_column_view_get_model (GTK_COLUMN_VIEW (view)));
      gtk_check_button_set_active (GTK_CHECK_BUTTON (all), FALSE);
    }
    gtk_editable_set_text (GTK_EDITABLE (search), "");
    g_signal_emit_by_name (search, "search-changed");
    ui_test_wait_for (ui_test_restore_loaded, restore, 60, "folder listing");
  }

  /* Restore To… with nothing selected asks first; the folder shown then
   * lands directly in the chosen folder (app-restore/Pictures), and the
   * toast's Open Folder shows that folder. */
  coffer_restore_window_restore (restore, NULL, app_target);
  g_assert_nonnull (coffer_restore_window_get_dialog (restore));
  g_assert_false (g_file_test (app_target, G_FILE_TEST_EXISTS));   /* nothing restored before the answer */
  ui_test_screenshot (coffer_restore_window_get_dialog (restore), "restore-everything-question");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (coffer_restore_window_get_dialog (restore)), "restore");
  ui_test_wait_for (ui_test_restore_finished, restore, 120, "restore");
  g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");
  app_restored = g_build_filename (app_target, "Pictures", NULL);
  coffer_test_assert_same_tree (source, app_restored, FALSE);
  {
    g_autofree char *nested = g_build_filename (app_target, source, NULL);
    g_autofree char *uri = g_filename_to_uri (app_target, NULL, NULL);
    g_assert_false (g_file_test (nested, G_FILE_TEST_EXISTS));
    ui_test_screenshot (GTK_WIDGET (restore), "restore-to-done");
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (restore), "restore.open-target", NULL));
    g_assert_cmpstr (coffer_restore_window_get_opened_uri (restore), ==, uri);
  }

  /* One selected file goes straight into the chosen folder. */
  {
    g_autofree char *one_target = g_build_filename (tmp, "one-restore", NULL);
    g_autofree char *one = g_build_filename (one_target, "IMG_0003.jpg", NULL);
    g_autofree char *original = g_build_filename (source, "IMG_0003.jpg", NULL);
    GObject *view = gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW, "column_view");
    GtkSelectionModel *model = gtk_column_view_get_model (GTK_COLUMN_VIEW (view));
    GListModel *files = coffer_restore_window_get_files (restore);
    gboolean selected = FALSE;

    for (guint i = 0; i < g_list_model_get_n_items (files); i++)
      {
        g_autoptr(CofferFileItem) file = g_list_model_get_item (files, i);
        if (g_str_equal (coffer_file_item_get_path (file), original))
          selected = gtk_selection_model_select_item (model, i, TRUE);
      }
    g_assert_true (selected);
    coffer_restore_window_restore (restore, NULL, one_target);
    ui_test_wait_for (ui_test_restore_finished, restore, 120, "restore of one file");
    g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");
    coffer_test_assert_same_tree (original, one, FALSE);
    gtk_selection_model_unselect_all (model);
  }

  /* Two snapshots in the same minute, from two computers, are told apart. */
  {
    g_autoptr(GPtrArray) snapshots = g_ptr_array_new ();
    CofferSnapshot a = { 0 }, b = { 0 }, c = { 0 };
    g_autofree char *la = NULL, *lb = NULL, *lc = NULL;

    a.time = G_GINT64_CONSTANT (1767225625) * G_USEC_PER_SEC;   /* hh:mm:25 */
    b.time = a.time - 20 * G_USEC_PER_SEC;                      /* hh:mm:05 */
    c.time = a.time - (gint64) 3 * 3600 * G_USEC_PER_SEC;
    a.hostname = (char *) "laptop";
    b.hostname = (char *) "laptop";
    c.hostname = (char *) "desktop";
    g_ptr_array_add (snapshots, &a);
    g_ptr_array_add (snapshots, &b);
    g_ptr_array_add (snapshots, &c);
    la = coffer_restore_window_describe_snapshot (snapshots, 0);
    lb = coffer_restore_window_describe_snapshot (snapshots, 1);
    lc = coffer_restore_window_describe_snapshot (snapshots, 2);
    g_test_message ("snapshot labels: %s | %s | %s", la, lb, lc);
    g_assert_cmpstr (la, !=, lb);
    g_assert_nonnull (strstr (la, ":25"));
    g_assert_nonnull (strstr (lc, "desktop"));
  }

  /* To the original place: a file changed since is newer and is kept when
   * the user says so; a deleted one comes back. */
  {
    g_autofree char *changed = g_build_filename (source, "IMG_0001.jpg", NULL);
    g_autofree char *deleted = g_build_filename (source, "IMG_0002.jpg", NULL);
    g_autofree char *contents = NULL;
    const char *everything[] = { source, NULL };
    gsize len;

    g_assert_true (g_file_set_contents (changed, "edited after the backup", -1, NULL));
    g_assert_cmpint (g_unlink (deleted), ==, 0);
    coffer_restore_window_restore (restore, everything, NULL);
    ui_test_wait_for (ui_test_restore_finished, restore, 120, "restore to the original place");
    g_assert_nonnull (coffer_restore_window_get_dialog (restore));
    ui_test_screenshot (coffer_restore_window_get_dialog (restore), "restore-conflict");
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (coffer_restore_window_get_dialog (restore)), "keep");
    g_assert_true (g_file_get_contents (changed, &contents, &len, NULL));
    g_assert_cmpstr (contents, ==, "edited after the backup");
    g_assert_true (g_file_test (deleted, G_FILE_TEST_EXISTS));

    /* Keep Both: the edited file stays, the backup's copy comes beside it. */
    {
      g_autofree char *beside = g_build_filename (source, "IMG_0001 (restored).jpg", NULL);
      g_autofree char *backed_up = g_build_filename (app_restored, "IMG_0001.jpg", NULL);

      coffer_restore_window_restore (restore, everything, NULL);
      ui_test_wait_for (ui_test_restore_finished, restore, 120, "restore to the original place again");
      g_assert_nonnull (coffer_restore_window_get_dialog (restore));
      adw_message_dialog_response (ADW_MESSAGE_DIALOG (coffer_restore_window_get_dialog (restore)), "keep-both");
      ui_test_wait_for (ui_test_restore_finished, restore, 120, "keep both");
      g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");
      g_clear_pointer (&contents, g_free);
      g_assert_true (g_file_get_contents (changed, &contents, &len, NULL));
      g_assert_cmpstr (contents, ==, "edited after the backup");
      coffer_test_assert_same_tree (backed_up, beside, FALSE);
      ui_test_screenshot (GTK_WIDGET (restore), "restore-keep-both");
      g_unlink (beside);
    }
  }

  /* Advanced in a later session: the recovery key must be confirmed first;
   * the wizard opens, refuses nothing typed, accepts the key, and the level
   * changes. */
  gtk_window_destroy (GTK_WINDOW (restore));
  {
    GtkWidget *row = ui_test_find (GTK_WIDGET (window), COFFER_TYPE_CATEGORY_ROW, "Photos");
    g_autofree char *envelope = g_build_filename (repo, "categories", category_id, "keys", "password", NULL);
    GtkWindow *dialog;
    CofferRecoveryWizard *wizard;

    g_assert_nonnull (row);
    g_assert_true (g_file_test (envelope, G_FILE_TEST_EXISTS));
    coffer_category_row_request_level (COFFER_CATEGORY_ROW (row), COFFER_LEVEL_ADVANCED);
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (coffer_category_row_get_dialog (COFFER_CATEGORY_ROW (row))),
                                 "change");
    ui_test_wait_for (wizard_shown, NULL, 60, "recovery key dialog");
    dialog = wizard_window ();
    g_assert_nonnull (dialog);
    wizard = COFFER_RECOVERY_WIZARD (ui_test_find (GTK_WIDGET (dialog), COFFER_TYPE_RECOVERY_WIZARD, NULL));
    g_assert_cmpstr (coffer_recovery_wizard_get_page (wizard), ==, "verify");
    ui_test_screenshot (GTK_WIDGET (dialog), "recovery-key-test");
    coffer_recovery_wizard_verify (wizard, recovery_key);
    ui_test_wait_for (level_advanced, item, 60, "level change after the key test");
    g_assert_true (coffer_recovery_wizard_get_confirmed (wizard));
    g_assert_false (g_file_test (envelope, G_FILE_TEST_EXISTS));
    gtk_window_destroy (dialog);
  }

  /* Preferences show the schedule and the recovery key status. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  {
    GtkWindow *prefs = ui_test_find_window (ADW_TYPE_PREFERENCES_WINDOW);
    GObject *devices;

    g_assert_nonnull (prefs);
    ui_test_screenshot (GTK_WIDGET (prefs), "preferences");
    /* The trusted devices list comes from the repository. */
    devices = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW, "devices_list");
    ui_test_wait_for (devices_listed, devices, 30, "device list");
    adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "security");
    ui_test_screenshot (GTK_WIDGET (prefs), "preferences-security");
    gtk_window_destroy (prefs);
  }

  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/backup-restore", test_backup_and_restore);
  return ui_test_run (tmp);
}
