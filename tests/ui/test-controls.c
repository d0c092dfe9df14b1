/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Controls users expect: the password strength meter (a pattern-based
 * scorer, coloured red/orange for weak passwords, also in Preferences),
 * retention presets, what the upload limit applies to, F1 help, Escape and
 * Ctrl+W, and the questions when a category is switched on or off. */
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-category-row.h"
#include "coffer-password-strength.h"
#include "coffer-preferences-window.h"
#include "coffer-recovery-key.h"
#include "coffer-recovery-wizard.h"
#include "coffer-repository.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;
static CofferApplication *the_app;   /* one per process: GApplication registers once */

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

/* Is there a shortcut TRIGGER → ACTION among widget's own controllers? */
static gboolean
has_shortcut (GtkWidget *widget, const char *trigger, const char *action)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);
      if (!GTK_IS_SHORTCUT_CONTROLLER (controller))
        continue;
      for (guint j = 0; j < g_list_model_get_n_items (G_LIST_MODEL (controller)); j++)
        {
          g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), j);
          g_autofree char *t = gtk_shortcut_trigger_to_string (gtk_shortcut_get_trigger (shortcut));
          GtkShortcutAction *a = gtk_shortcut_get_action (shortcut);
          if (g_str_equal (t, trigger) && GTK_IS_NAMED_ACTION (a) &&
              g_str_equal (gtk_named_action_get_action_name (GTK_NAMED_ACTION (a)), action))
            return TRUE;
        }
    }
  return FALSE;
}

static gboolean
dialog_shown (gpointer data)
{
  return coffer_category_row_get_dialog (data) != NULL && gtk_widget_get_mapped (coffer_category_row_get_dialog (data));
}

static gboolean
item_added (gpointer data)
{
  return coffer_category_item_get_id (data) != NULL && coffer_category_item_get_enabled (data);
}

static void
test_password_scorer (void)
{
  const char *weak[] = { "Tr0ub4dor&3", "P@ssw0rd2024", "qwertyuiop", "1qaz2wsx3edc", "abcabcabcabc",
                         "Dragon1990!", "aaaaaaaaaaaaaaaa", "Sommer2023", "zxcvbnmasdfghjkl", NULL };
  const char *strong[] = { "correct horse battery staple 42", "a long and unusual backup passphrase",
                           "another quite different passphrase 2025", "mauve lighthouse ferments quietly",
                           "Xk9#mP2$vL7q!rT4", NULL };

  for (guint i = 0; weak[i] != NULL; i++)
    {
      const char *label = NULL;
      double bits = coffer_password_strength (weak[i], &label);
      g_test_message ("%-40s %5.1f bits  %s", weak[i], bits, label);
      g_assert_cmpfloat (bits, <, COFFER_PASSWORD_MIN_BITS);
    }
  for (guint i = 0; strong[i] != NULL; i++)
    {
      const char *label = NULL;
      double bits = coffer_password_strength (strong[i], &label);
      g_test_message ("%-40s %5.1f bits  %s", strong[i], bits, label);
      g_assert_cmpfloat (bits, >=, COFFER_PASSWORD_MIN_BITS);
    }
  g_assert_cmpfloat (coffer_password_strength ("", NULL), ==, 0);
}

static void
test_preferences (void)
{
  CofferApplication *app = the_app;
  GSettings *settings = coffer_application_get_settings (app);
  CofferPreferencesWindow *prefs = coffer_preferences_window_new (app);
  GObject *retention = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW,
                                                      "retention_row");
  GObject *daily_row = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW,
                                                      "keep_daily_row");
  GObject *daily = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW,
                                                  "keep_daily_spin");
  GObject *password = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW,
                                                     "new_password");
  GtkWidget *upload, *meter;
  double value;

  gtk_window_set_default_size (GTK_WINDOW (prefs), 640, 1000);   /* the retention rows in the picture */
  gtk_window_present (GTK_WINDOW (prefs));

  /* Retention: a preset, no numbers shown; Custom reveals them. */
  g_assert_nonnull (retention);
  g_assert_cmpuint (adw_combo_row_get_selected (ADW_COMBO_ROW (retention)), ==, 1);   /* thin out */
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (daily_row)));
  g_assert_cmpuint (g_settings_get_uint (settings, "retention-keep-hourly"), ==, 24);
  g_assert_cmpuint (g_settings_get_uint (settings, "retention-keep-weekly"), ==, 52);
  ui_test_screenshot (GTK_WIDGET (prefs), "controls-retention-preset");
  adw_combo_row_set_selected (ADW_COMBO_ROW (retention), 0);    /* everything */
  g_assert_cmpuint (g_settings_get_uint (settings, "retention-keep-last"), ==, 0);
  g_assert_cmpuint (g_settings_get_uint (settings, "retention-keep-daily"), ==, 0);
  g_assert_cmpuint (g_settings_get_uint (settings, "retention-keep-monthly"), ==, 0);
  g_assert_cmpuint (adw_combo_row_get_selected (ADW_COMBO_ROW (retention)), ==, 0);
  adw_combo_row_set_selected (ADW_COMBO_ROW (retention), 2);    /* custom */
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (daily_row)));
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (daily), 5);
  g_assert_cmpuint (g_settings_get_uint (settings, "retention-keep-daily"), ==, 5);
  g_assert_cmpuint (adw_combo_row_get_selected (ADW_COMBO_ROW (retention)), ==, 2);
  ui_test_screenshot (GTK_WIDGET (prefs), "controls-retention-custom");

  /* The upload limit says what it applies to (network places, not local). */
  upload = ui_test_find (GTK_WIDGET (prefs), ADW_TYPE_ACTION_ROW, "Upload Limit (KiB/s)");
  g_assert_nonnull (upload);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (upload)), "WebDAV"));
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (upload)), "never"));

  /* The strength meter beside the new password: red for a leaked pattern. */
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "security");
  meter = ui_test_find (GTK_WIDGET (password), GTK_TYPE_LEVEL_BAR, NULL);
  g_assert_nonnull (meter);
  gtk_editable_set_text (GTK_EDITABLE (password), "Tr0ub4dor&3");
  g_assert_cmpfloat (gtk_level_bar_get_value (GTK_LEVEL_BAR (meter)), <=, 1);
  g_assert_true (gtk_level_bar_get_offset_value (GTK_LEVEL_BAR (meter), "strength-very-weak", &value));
  g_assert_cmpfloat (gtk_level_bar_get_value (GTK_LEVEL_BAR (meter)), <=, value);
  g_assert_cmpstr (gtk_widget_get_tooltip_text (meter), !=, "Strong");
  ui_test_screenshot (GTK_WIDGET (prefs), "controls-password-weak");
  gtk_editable_set_text (GTK_EDITABLE (password), "mauve lighthouse ferments quietly");
  g_assert_cmpfloat (gtk_level_bar_get_value (GTK_LEVEL_BAR (meter)), >=, 3);
  ui_test_screenshot (GTK_WIDGET (prefs), "controls-password-strong");
  gtk_editable_set_text (GTK_EDITABLE (password), "");

  /* Escape closes Preferences; Ctrl+W closes any window; F1 opens help. */
  g_assert_true (has_shortcut (GTK_WIDGET (prefs), "Escape", "window.close"));
  {
    g_auto(GStrv) close = gtk_application_get_actions_for_accel (GTK_APPLICATION (app), "<Control>w");
    g_auto(GStrv) help = gtk_application_get_actions_for_accel (GTK_APPLICATION (app), "F1");
    g_assert_true (g_strv_contains ((const char * const *) close, "window.close"));
    g_assert_true (g_strv_contains ((const char * const *) help, "app.help"));
  }
  g_action_group_activate_action (G_ACTION_GROUP (app), "help", NULL);
  {
    GListModel *toplevels = gtk_window_get_toplevels ();
    GtkWidget *help = NULL;
    for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
      {
        g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);
        if (g_strcmp0 (gtk_widget_get_name (w), "coffer-help") == 0)
          help = w;
      }
    g_assert_nonnull (help);
    g_assert_nonnull (ui_test_find (help, ADW_TYPE_PREFERENCES_GROUP, NULL));
    g_assert_true (has_shortcut (help, "Escape", "window.close"));
    ui_test_screenshot (help, "controls-help");
    g_assert_true (gtk_widget_activate_action (help, "window.close", NULL));
  }
  gtk_window_destroy (GTK_WINDOW (prefs));
}

static char *
create_repository (const char *repo, const char *source, char **out_id)
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
  return g_strdup (coffer_repository_get_id (repository));
}

/* Switching a category on asks for the level (default: the usual one);
 * switching it off says the older backups stay and how to delete them. */
static void
test_category_switch (void)
{
  CofferApplication *app = the_app;
  g_autofree char *repo = g_build_filename (tmp, "switch-repo", NULL);
  g_autofree char *source = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *notes_dir = g_build_filename (g_get_home_dir (), "Notes", NULL);
  g_autofree char *category_id = NULL;
  g_autofree char *repo_id = NULL;
  g_autoptr(CofferCategoryItem) photos = NULL;
  g_autoptr(CofferCategoryItem) notes = NULL;
  GSettings *settings;
  CofferWindow *window;
  GObject *unlock;
  GtkWidget *row;
  GtkWidget *dialog;
  const char *paths[] = { source, NULL };
  const char *notes_paths[] = { notes_dir, NULL };

  g_mkdir_with_parents (source, 0755);
  g_mkdir_with_parents (notes_dir, 0755);
  repo_id = create_repository (repo, source, &category_id);
  settings = coffer_application_get_settings (app);
  photos = coffer_category_item_new ("Photos", paths);
  coffer_category_item_set_id (photos, category_id);
  notes = coffer_category_item_new ("Notes", notes_paths);
  coffer_category_item_set_enabled (notes, FALSE);
  g_list_store_append (coffer_application_get_categories (app), photos);
  g_list_store_append (coffer_application_get_categories (app), notes);
  coffer_application_save_categories (app);
  g_settings_set_string (settings, "destination", repo);
  g_settings_set_boolean (settings, "setup-done", TRUE);
  coffer_application_open_repository (app, NULL);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);
  wait_state (app, COFFER_APP_STATE_LOCKED);
  unlock = gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "unlock_entry");
  gtk_editable_set_text (GTK_EDITABLE (unlock), PASSWORD);
  g_signal_emit_by_name (unlock, "entry-activated");
  wait_state (app, COFFER_APP_STATE_READY);

  /* On: the level question, Standard suggested (what Photos uses). */
  row = ui_test_find (GTK_WIDGET (window), COFFER_TYPE_CATEGORY_ROW, "Notes");
  g_assert_nonnull (row);
  gtk_switch_set_active (GTK_SWITCH (gtk_widget_get_template_child (row, COFFER_TYPE_CATEGORY_ROW,
                                                                    "enabled_switch")), TRUE);
  ui_test_wait_for (dialog_shown, row, 10, "level question");
  dialog = coffer_category_row_get_dialog (COFFER_CATEGORY_ROW (row));
  g_assert_cmpstr (adw_message_dialog_get_default_response (ADW_MESSAGE_DIALOG (dialog)), ==, "standard");
  g_assert_true (adw_message_dialog_has_response (ADW_MESSAGE_DIALOG (dialog), "advanced"));
  g_assert_null (coffer_category_item_get_id (notes));
  ui_test_screenshot (dialog, "controls-category-on");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "standard");
  ui_test_wait_for (item_added, notes, 60, "category added");
  g_assert_cmpint (coffer_category_item_get_level (notes), ==, COFFER_LEVEL_STANDARD);

  /* Off: the older backups stay, and the way to delete them is named. */
  row = ui_test_find (GTK_WIDGET (window), COFFER_TYPE_CATEGORY_ROW, "Photos");
  g_assert_nonnull (row);
  gtk_switch_set_active (GTK_SWITCH (gtk_widget_get_template_child (row, COFFER_TYPE_CATEGORY_ROW,
                                                                    "enabled_switch")), FALSE);
  ui_test_wait_for (dialog_shown, row, 10, "switch-off question");
  dialog = coffer_category_row_get_dialog (COFFER_CATEGORY_ROW (row));
  g_assert_true (coffer_category_item_get_enabled (photos));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "kept"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)),
                            "coffer category remove Photos"));
  ui_test_screenshot (dialog, "controls-category-off");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "stop");
  g_assert_false (coffer_category_item_get_enabled (photos));
  g_assert_nonnull (coffer_category_item_get_id (photos));
  ui_test_screenshot (GTK_WIDGET (window), "controls-category-switched");
}

static gboolean
destination_changed (gpointer data)
{
  return coffer_preferences_window_get_destination_status (data) != NULL;
}

static const char *
change_destination (CofferPreferencesWindow *prefs, const char *location)
{
  g_autoptr(CofferDestination) dest = coffer_destination_new (location);

  coffer_preferences_window_change_destination (prefs, dest);
  ui_test_wait_for (destination_changed, prefs, 60, "destination change");
  g_test_message ("change to %s: \"%s\"", location, coffer_preferences_window_get_destination_status (prefs));
  return coffer_preferences_window_get_destination_status (prefs);
}

/* The main window shows where backups go; Preferences changes it to a copy
 * of the repository (same id: opened there), refuses another repository,
 * and starts a new one at an empty place with the same categories. */
static void
test_destination (void)
{
  CofferApplication *app = the_app;
  GSettings *settings = coffer_application_get_settings (app);
  CofferWindow *window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  GObject *title = gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "window_title");
  g_autofree char *repo = g_build_filename (tmp, "switch-repo", NULL);
  g_autofree char *copy = g_build_filename (tmp, "copy-repo", NULL);
  g_autofree char *other = g_build_filename (tmp, "other-repo", NULL);
  g_autofree char *empty = g_build_filename (tmp, "empty-place", NULL);
  g_autofree char *other_id = NULL;
  g_autofree char *other_category = NULL;
  g_autofree char *old_id = NULL;
  g_autofree char *config = g_build_filename (empty, "config", NULL);
  CofferPreferencesWindow *prefs;
  const char *argv[] = { "cp", "-a", repo, copy, NULL };
  int status = 0;
  g_autoptr(CofferCategoryItem) notes = g_list_model_get_item (G_LIST_MODEL (coffer_application_get_categories (app)), 1);

  g_assert_nonnull (window);
  g_assert_nonnull (strstr (adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title)), "switch-repo"));
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL));
  g_assert_cmpint (status, ==, 0);
  other_id = create_repository (other, g_get_home_dir (), &other_category);

  prefs = coffer_preferences_window_new (app);
  gtk_window_present (GTK_WINDOW (prefs));
  g_assert_cmpstr (change_destination (prefs, copy), ==, "");
  g_assert_cmpint (coffer_application_get_state (app), ==, COFFER_APP_STATE_READY);
  g_assert_cmpstr (g_settings_get_string (settings, "destination"), ==, copy);
  g_assert_nonnull (strstr (adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title)), "copy-repo"));
  ui_test_screenshot (GTK_WIDGET (prefs), "controls-destination-changed");
  ui_test_screenshot (GTK_WIDGET (window), "controls-main-window-destination");

  g_assert_nonnull (strstr (change_destination (prefs, other), "different"));
  g_assert_cmpstr (g_settings_get_string (settings, "destination"), ==, copy);

  old_id = g_strdup (coffer_category_item_get_id (notes));
  g_assert_cmpint (g_mkdir (empty, 0700), ==, 0);   /* an empty folder, e.g. on a new drive */
  g_assert_cmpstr (change_destination (prefs, empty), ==, "");
  g_assert_true (g_file_test (config, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpstr (g_settings_get_string (settings, "destination"), ==, empty);
  g_assert_nonnull (coffer_category_item_get_id (notes));
  g_assert_cmpstr (coffer_category_item_get_id (notes), !=, old_id);
  {
    GtkWindow *wizard = NULL;
    GListModel *toplevels = gtk_window_get_toplevels ();
    for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
      {
        g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);
        if (gtk_widget_get_mapped (w) && ui_test_find (w, COFFER_TYPE_RECOVERY_WIZARD, NULL) != NULL)
          wizard = GTK_WINDOW (w);
      }
    g_assert_nonnull (wizard);   /* the new backup's recovery key is shown */
    ui_test_screenshot (GTK_WIDGET (wizard), "controls-destination-new-key");
    gtk_window_destroy (wizard);
  }
  gtk_window_destroy (GTK_WINDOW (prefs));
  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  int ret;

  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/controls/password-scorer", test_password_scorer);
  g_test_add_func ("/ui/controls/preferences", test_preferences);
  g_test_add_func ("/ui/controls/category-switch", test_category_switch);
  g_test_add_func ("/ui/controls/destination", test_destination);
  the_app = ui_test_app_new ();
  ret = ui_test_run (tmp);
  g_object_unref (the_app);
  return ret;
}
