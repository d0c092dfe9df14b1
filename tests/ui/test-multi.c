/* SPDX-License-Identifier: GPL-3.0-or-later */
/* More than one destination: a second one is added in Preferences (a new
 * repository with the same backup password and its own recovery key, which
 * opens it), Back Up Now backs up to both, one after the other; one that is
 * unplugged (a folder renamed away, what an unmount looks like to Coffer)
 * neither blocks nor fails the other, and the main window shows each one's
 * state; plugged back, it is backed up on its own and turns green. Real
 * repositories in folders, real windows. */
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-destination-item.h"
#include "coffer-preferences-window.h"
#include "coffer-recovery-key.h"
#include "coffer-recovery-wizard.h"
#include "coffer-repository.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;

static guint idle_count;

static void
busy_changed_cb (CofferApplication *app)
{
  if (!coffer_application_get_busy (app))
    idle_count++;
}

static gboolean
idle_grew (gpointer data)
{
  return idle_count >= GPOINTER_TO_UINT (data);
}

/* Back Up Now, and wait until every destination had its turn. */
static void
backup_now_and_wait (CofferApplication *app)
{
  guint want = idle_count + 1;

  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (app), "backup-now"));
  g_action_group_activate_action (G_ACTION_GROUP (app), "backup-now", NULL);
  g_assert_true (coffer_application_get_busy (app));
  ui_test_wait_for (idle_grew, GUINT_TO_POINTER (want), 120, "backup to every destination");
}

/* The newest snapshot's sequence number in the repository at dir (0 when
 * none), read with the core as it is on disk. Counting snapshots would not
 * do: retention forgets older ones of the same hour. */
static guint64
latest_seq (const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (dir, NULL, &error);
  g_autoptr(CofferRepository) repository = NULL;
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  g_autoptr(GPtrArray) snapshots = NULL;

  g_assert_no_error (error);
  repository = coffer_repository_open (store, NULL, &error);
  g_assert_no_error (error);
  coffer_repository_set_password (repository, password);
  coffer_repository_unlock (repository, NULL, &error);
  g_assert_no_error (error);
  snapshots = coffer_repository_list_snapshots (repository, NULL, NULL, &error);
  g_assert_no_error (error);
  {
    guint64 seq = 0;
    for (guint i = 0; i < snapshots->len; i++)
      seq = MAX (seq, ((CofferSnapshot *) g_ptr_array_index (snapshots, i))->seq);
    return seq;
  }
}

/* The subtitle of row i of the main window's destination list. */
static const char *
row_text (CofferWindow *window, int i, const char **title)
{
  GtkListBox *list = GTK_LIST_BOX (gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW,
                                                                  "destinations_list"));
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (list, i);

  g_assert_nonnull (row);
  g_assert_true (ADW_IS_ACTION_ROW (row));
  if (title != NULL)
    *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row));
  return adw_action_row_get_subtitle (ADW_ACTION_ROW (row));
}

/* Runs the CLI as another computer (its own home, no device key there)
 * with the backup password; TRUE when it succeeded. */
static gboolean G_GNUC_NULL_TERMINATED
run_cli_elsewhere (const char *repo, const char *first, ...)
{
  g_autofree char *home = g_build_filename (tmp, "other-computer", NULL);
  g_autofree char *output = NULL;
  va_list ap;

  g_mkdir_with_parents (home, 0700);
  va_start (ap, first);
  output = ui_test_run_cli_va ("other computer", home, repo, PASSWORD, first, ap);
  va_end (ap);
  return output != NULL;
}

static GtkWidget *
find_by_tooltip (GtkWidget *widget, const char *tooltip)
{
  if (g_strcmp0 (gtk_widget_get_tooltip_text (widget), tooltip) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_by_tooltip (child, tooltip);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
label_tested (gpointer data)
{
  return g_strcmp0 (gtk_label_get_text (data), "Testing…") != 0;
}

static gboolean
add_done (gpointer data)
{
  return coffer_preferences_window_get_add_status (data) != NULL;
}

static gboolean
status_is_ok (gpointer data)
{
  return coffer_destination_item_get_status (data, NULL) == COFFER_DESTINATION_STATUS_OK;
}

static void
test_multi (void)
{
  g_autoptr(CofferApplication) app = ui_test_app_new ();
  g_autofree char *first = g_build_filename (tmp, "First", NULL);
  g_autofree char *second = g_build_filename (tmp, "Second", NULL);
  g_autofree char *away = g_build_filename (tmp, "Second-unplugged", NULL);
  g_autofree char *source = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *key_text = NULL;
  g_autoptr(CofferCategoryItem) category = NULL;
  g_autoptr(CofferDestinationItem) item = NULL;
  g_autoptr(GError) error = NULL;
  const char *paths[] = { source, NULL };
  const char *title = NULL;
  CofferPreferencesWindow *prefs;
  CofferWindow *window;
  GSettings *settings;
  GObject *unlock;
  guint64 first_n, second_n;

  g_mkdir_with_parents (source, 0755);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/IMG_%04u.jpg", source, i);
      coffer_test_write_random (file, 30000 + i * 1000, 20 + i);
    }
  {
    g_autoptr(CofferStore) store = coffer_store_open (first, NULL, &error);
    g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
    g_autoptr(CofferSecret) key = NULL;
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferCategory) made = NULL;
    const char *excludes[] = { NULL };

    g_assert_no_error (error);
    repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
    g_assert_no_error (error);
    made = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, paths, excludes,
                                           NULL, &error);
    g_assert_no_error (error);
    category = coffer_category_item_new ("Photos", paths);
    coffer_category_item_set_id (category, made->id);
  }

  settings = coffer_application_get_settings (app);
  g_list_store_append (coffer_application_get_categories (app), category);
  coffer_application_save_categories (app);
  g_settings_set_string (settings, "destination", first);
  g_settings_set_string (settings, "schedule", "hourly");
  g_settings_set_boolean (settings, "setup-done", TRUE);
  g_signal_connect (app, "notify::busy", G_CALLBACK (busy_changed_cb), NULL);
  coffer_application_open_repository (app, NULL);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);
  ui_test_wait_for (ui_test_app_is_locked, app, 60, "locked");
  unlock = gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "unlock_entry");
  gtk_editable_set_text (GTK_EDITABLE (unlock), PASSWORD);
  g_signal_emit_by_name (unlock, "entry-activated");
  ui_test_wait_for (ui_test_app_is_ready, app, 60, "ready");
  /* One destination: no list, as before. */
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window),
                                                      COFFER_TYPE_WINDOW, "destinations_group"))));

  /* Preferences: add an empty folder as a second destination. */
  prefs = coffer_preferences_window_new (app);
  gtk_window_set_transient_for (GTK_WINDOW (prefs), GTK_WINDOW (window));
  gtk_window_present (GTK_WINDOW (prefs));
  /* Through its dialog: the folder typed, Test Connection, Add. */
  {
    GtkWindow *dialog;
    GtkLabel *result;

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (prefs), "prefs.add-destination", NULL));
    dialog = ui_test_find_window (ADW_TYPE_MESSAGE_DIALOG);
    g_assert_nonnull (dialog);
    gtk_editable_set_text (g_object_get_data (G_OBJECT (dialog), "location"), second);
    result = g_object_get_data (G_OBJECT (dialog), "result");
    g_signal_emit_by_name (ui_test_find (GTK_WIDGET (dialog), GTK_TYPE_BUTTON, "_Test Connection"), "clicked");
    ui_test_wait_for (label_tested, result, 60, "test connection");
    g_assert_cmpstr (gtk_label_get_text (result), ==, "Connected. A new backup is started there.");
    ui_test_screenshot (GTK_WIDGET (dialog), "multi-add-dialog");
    g_object_ref (dialog);
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "add");
    gtk_window_destroy (dialog);
    g_object_unref (dialog);
  }
  ui_test_wait_for (add_done, prefs, 60, "second destination added");
  g_assert_cmpstr (coffer_preferences_window_get_add_status (prefs), ==, "");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (coffer_application_get_destinations (app))), ==, 1);
  item = g_list_model_get_item (G_LIST_MODEL (coffer_application_get_destinations (app)), 0);
  g_assert_cmpstr (coffer_destination_item_get_location (item), ==, second);
  /* Adding the same place again is refused. */
  {
    g_autoptr(CofferDestination) dest = coffer_destination_new (second);
    coffer_preferences_window_add_destination (prefs, dest);
    g_assert_cmpstr (coffer_preferences_window_get_add_status (prefs), ==,
                     "Coffer already backs up to this place.");
  }
  /* Its own recovery key is shown, and it opens the new repository. */
  for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
    {
      GtkWidget *wizard = ui_test_find (l->data, COFFER_TYPE_RECOVERY_WIZARD, NULL);
      if (wizard != NULL && key_text == NULL)
        {
          key_text = g_strdup (coffer_recovery_wizard_get_key_text (COFFER_RECOVERY_WIZARD (wizard)));
          /* It says whose key it is: not the first destination's. */
          g_assert_nonnull (ui_test_find (wizard, GTK_TYPE_LABEL, "The Recovery Key of “Second”"));
          ui_test_screenshot (wizard, "multi-new-recovery-key");
          gtk_window_destroy (l->data);
        }
    }
  g_assert_nonnull (key_text);
  {
    g_autoptr(CofferSecret) key = coffer_recovery_key_parse (key_text, &error);
    g_autoptr(CofferStore) store = NULL;
    g_autoptr(CofferRepository) repository = NULL;

    g_assert_no_error (error);
    store = coffer_store_open (second, NULL, &error);
    g_assert_no_error (error);
    repository = coffer_repository_open (store, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (coffer_repository_verify_recovery_key (repository, key, NULL, &error));
    g_assert_no_error (error);
  }
  ui_test_flush (GTK_WIDGET (prefs));
  ui_test_screenshot (GTK_WIDGET (prefs), "multi-preferences");
  gtk_window_destroy (GTK_WINDOW (prefs));

  /* Back Up Now goes to both; the categories are made in the second one. */
  backup_now_and_wait (app);
  first_n = latest_seq (first);
  second_n = latest_seq (second);
  g_assert_cmpuint (first_n, >, 0);
  g_assert_cmpuint (second_n, >, 0);
  g_assert_cmpint (coffer_destination_item_get_status (item, NULL), ==, COFFER_DESTINATION_STATUS_OK);
  g_assert_nonnull (coffer_destination_item_lookup_category (item, coffer_category_item_get_id (category)));
  g_assert_cmpint (coffer_destination_item_get_last_backup (item), >, 0);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window),
                                                     COFFER_TYPE_WINDOW, "destinations_group"))));
  g_assert_true (g_str_has_prefix (row_text (window, 0, &title), "Last successful backup"));
  g_assert_cmpstr (title, ==, "First");
  g_assert_true (g_str_has_prefix (row_text (window, 1, &title), "Last successful backup"));
  g_assert_cmpstr (title, ==, "Second");
  {
    GObject *title_widget = gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "window_title");
    g_assert_nonnull (strstr (adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title_widget)),
                              "First and 1 other place"));
  }
  ui_test_screenshot (GTK_WIDGET (window), "multi-both-backed-up");
  /* The progress card says where a backup to another destination goes. */
  {
    CofferProgress progress = { .operation = "backup", .category = "Photos", .eta_seconds = -1 };
    GtkWidget *label = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW,
                                                                  "progress_title"));

    g_signal_emit_by_name (coffer_destination_item_get_engine (item), "progress", &progress);
    g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, "Backing up Photos to “Second”");
  }

  /* The second drive is unplugged: the first is still backed up, and each
   * row says its own state. */
  g_assert_cmpint (g_rename (second, away), ==, 0);
  backup_now_and_wait (app);
  g_assert_cmpuint (latest_seq (first), ==, first_n + 1);
  g_assert_false (g_file_test (second, G_FILE_TEST_EXISTS));
  g_assert_cmpint (coffer_destination_item_get_status (item, NULL), ==, COFFER_DESTINATION_STATUS_UNPLUGGED);
  g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_NONE);
  g_test_message ("first: %s", row_text (window, 0, NULL));
  g_test_message ("second: %s", row_text (window, 1, NULL));
  g_assert_true (g_str_has_prefix (row_text (window, 0, NULL), "Last successful backup"));
  g_assert_true (g_str_has_prefix (row_text (window, 1, NULL), "Not connected."));
  g_assert_nonnull (strstr (row_text (window, 1, NULL), "Last successful backup"));
  g_assert_true (g_str_has_prefix (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (
                   gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "status_row"))),
                 "Last backed up"));
  {
    const CofferHistoryEntry *entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
    g_assert_false (entry->success);
    g_assert_cmpstr (entry->summary, ==, "“Second” is not connected");
  }
  ui_test_flush (GTK_WIDGET (window));
  ui_test_screenshot (GTK_WIDGET (window), "multi-second-unplugged");

  /* Plugged back while a backup there is due (its last good one two hours
   * ago): it is backed up on its own, without Back Up Now, and turns
   * green; the first one, not due, is left alone. */
  g_assert_cmpuint (latest_seq (away), ==, second_n);
  first_n = latest_seq (first);
  g_assert_cmpint (g_rename (away, second), ==, 0);
  coffer_destination_item_set_last_backup (item, g_get_real_time () / G_USEC_PER_SEC - 2 * 3600);
  ui_test_wait_for (status_is_ok, item, 60, "second destination backed up after it came back");
  ui_test_wait_for (idle_grew, GUINT_TO_POINTER (idle_count + (coffer_application_get_busy (app) ? 1 : 0)), 60,
                    "idle");
  g_assert_cmpuint (latest_seq (second), ==, second_n + 1);
  g_assert_cmpuint (latest_seq (first), ==, first_n);
  g_assert_true (g_str_has_prefix (row_text (window, 1, NULL), "Last successful backup"));
  ui_test_screenshot (GTK_WIDGET (window), "multi-second-back");

  /* Now the first one is unplugged: the second is still backed up. */
  g_assert_cmpint (g_rename (first, away), ==, 0);
  backup_now_and_wait (app);
  g_assert_cmpuint (latest_seq (second), ==, second_n + 2);
  g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_DISCONNECTED);
  g_assert_cmpint (coffer_destination_item_get_status (item, NULL), ==, COFFER_DESTINATION_STATUS_OK);
  g_assert_true (g_str_has_prefix (row_text (window, 0, NULL), "Not connected."));
  g_assert_true (g_str_has_prefix (row_text (window, 1, NULL), "Last successful backup"));
  ui_test_flush (GTK_WIDGET (window));
  ui_test_screenshot (GTK_WIDGET (window), "multi-first-unplugged");
  {
    const CofferHistoryEntry *entry = coffer_history_get_entry (coffer_application_get_history (app), 1);
    g_assert_false (entry->success);
    g_assert_cmpstr (entry->summary, ==, "Not backed up: the drive “First” was not connected");
    entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
    g_assert_true (entry->success);
    g_assert_cmpstr (entry->summary, ==, "Backed up to “Second”");
  }

  /* Coffer starts while the first drive is away: its backup cannot even be
   * opened, yet the main page (not the error page) shows both, and Back Up
   * Now still backs up to the second one. */
  coffer_application_open_repository (app, NULL);
  ui_test_wait_for (ui_test_app_is_error, app, 60, "first destination cannot be opened");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (GTK_STACK (gtk_widget_get_template_child (
                     GTK_WIDGET (window), COFFER_TYPE_WINDOW, "stack"))), ==, "main");
  g_assert_true (g_str_has_prefix (row_text (window, 0, NULL), "Not connected."));
  backup_now_and_wait (app);
  g_assert_cmpuint (latest_seq (second), ==, second_n + 3);
  g_assert_cmpint (coffer_destination_item_get_status (item, NULL), ==, COFFER_DESTINATION_STATUS_OK);
  ui_test_screenshot (GTK_WIDGET (window), "multi-first-missing-at-start");

  /* The first drive is back: it is opened again. */
  g_assert_cmpint (g_rename (away, first), ==, 0);
  ui_test_wait_for (ui_test_app_is_ready, app, 60, "first destination opened again");

  /* What changes in the first destination's categories follows at the next
   * backup: another folder, and Advanced protection (a category made
   * Advanced must not stay openable with the password over there). */
  {
    g_autofree char *more = g_build_filename (g_get_home_dir (), "Camera", NULL);
    const char *new_paths[] = { source, more, NULL };
    g_autoptr(GPtrArray) categories = NULL;
    g_autoptr(CofferStore) store = NULL;
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
    const CofferCategory *there;

    /* Standard: the password opens the second backup on another computer. */
    g_assert_true (run_cli_elsewhere (second, "snapshots", "--category", "Photos", NULL));
    g_mkdir_with_parents (more, 0755);
    coffer_category_item_set_paths (category, new_paths);
    coffer_category_item_set_level (category, COFFER_LEVEL_ADVANCED);
    backup_now_and_wait (app);
    g_assert_cmpint (coffer_destination_item_get_status (item, NULL), ==, COFFER_DESTINATION_STATUS_OK);
    store = coffer_store_open (second, NULL, &error);
    g_assert_no_error (error);
    repository = coffer_repository_open (store, NULL, &error);
    g_assert_no_error (error);
    coffer_repository_set_password (repository, password);
    coffer_repository_unlock (repository, NULL, &error);
    g_clear_error (&error);
    categories = coffer_repository_list_categories (repository, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (categories->len, ==, 1);
    there = g_ptr_array_index (categories, 0);
    g_assert_cmpstr (there->name, ==, "Photos");
    g_assert_cmpint (there->level, ==, COFFER_LEVEL_ADVANCED);
    g_assert_true (g_strv_equal ((const char * const *) there->paths, new_paths));
    g_assert_false (run_cli_elsewhere (second, "snapshots", "--category", "Photos", NULL));
  }

  /* Removed in Preferences: the backups there are kept. Added again, the
   * backup already there is opened and its Photos is used, not a second
   * category of the same name. */
  {
    g_autofree char *own = g_strdup (coffer_destination_item_lookup_category (item,
                                                                              coffer_category_item_get_id (category)));
    g_autofree char *config = g_build_filename (second, "config", NULL);
    g_autoptr(CofferDestinationItem) again = NULL;
    GtkWidget *remove;
    GtkWindow *dialog;

    prefs = coffer_preferences_window_new (app);
    gtk_window_set_transient_for (GTK_WINDOW (prefs), GTK_WINDOW (window));
    gtk_window_present (GTK_WINDOW (prefs));
    remove = find_by_tooltip (GTK_WIDGET (prefs), "Stop backing up to Second");
    g_assert_nonnull (remove);
    g_signal_emit_by_name (remove, "clicked");
    dialog = ui_test_find_window (ADW_TYPE_MESSAGE_DIALOG);
    g_assert_nonnull (dialog);
    g_assert_nonnull (ui_test_find (GTK_WIDGET (dialog), GTK_TYPE_LABEL, "Stop Backing Up to “Second”?"));
    ui_test_screenshot (GTK_WIDGET (dialog), "multi-remove-dialog");
    g_object_ref (dialog);
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "remove");
    gtk_window_destroy (dialog);
    g_object_unref (dialog);
    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (coffer_application_get_destinations (app))), ==, 0);
    g_assert_true (g_file_test (config, G_FILE_TEST_IS_REGULAR));
    g_assert_false (gtk_widget_get_visible (GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window),
                                                        COFFER_TYPE_WINDOW, "destinations_group"))));

    {
      g_autoptr(CofferDestination) dest = coffer_destination_new (second);
      coffer_preferences_window_add_destination (prefs, dest);
    }
    ui_test_wait_for (add_done, prefs, 60, "existing backup added");
    g_assert_cmpstr (coffer_preferences_window_get_add_status (prefs), ==, "");
    again = g_list_model_get_item (G_LIST_MODEL (coffer_application_get_destinations (app)), 0);
    g_assert_cmpstr (coffer_destination_item_lookup_category (again, coffer_category_item_get_id (category)), ==, own);
    /* No new recovery key for a backup that has one. */
    for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
      g_assert_null (ui_test_find (l->data, COFFER_TYPE_RECOVERY_WIZARD, NULL));
    gtk_window_destroy (GTK_WINDOW (prefs));
  }

  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/multi/two-destinations-one-unplugged", test_multi);
  return ui_test_run (tmp);
}
