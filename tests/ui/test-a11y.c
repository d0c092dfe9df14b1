/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every control has a name a screen reader speaks. The real windows (main
 * window with a category expanded and the backup progress shown,
 * preferences, setup assistant pages, restore window with the search bar
 * open and its "Restore from" chooser, recovery key dialog) are put on screen, and tests/ui/a11y-walk.py
 * walks their AT-SPI tree over a private accessibility bus (a11y-test.sh):
 * any button, toggle, switch, entry, drop-down or progress bar without a
 * name fails the test. The app keeps iterating its main loop while the
 * walker asks, since GTK answers AT-SPI calls there. */
#include <string.h>

#include "coffer-authority-dialog.h"
#include "coffer-category-item.h"
#include "coffer-destination-item.h"
#include "coffer-category-row.h"
#include "coffer-preferences-window.h"
#include "coffer-recovery-key.h"
#include "coffer-recovery-wizard.h"
#include "coffer-repository.h"
#include "coffer-restore-window.h"
#include "coffer-setup-assistant.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;

static gboolean
app_ready (gpointer data)
{
  return coffer_application_get_state (data) == COFFER_APP_STATE_READY;
}

static gboolean
subprocess_done (gpointer data)
{
  return g_object_get_data (data, "done") != NULL;
}

static void
walker_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_object_set_data (user_data, "done", GINT_TO_POINTER (1));
}

/* Walks the showing windows of this process (those titled as given, when
 * any) and fails on unnamed controls, and on a name of expect ("A|B", or
 * NULL) that no control has; name is used for the screenshot. */
static void
assert_all_named_expect (GtkWidget *shown, const char *name, const char * const *titles, const char *expect)
{
  g_autofree char *walker = g_test_build_filename (G_TEST_DIST, "a11y-walk.py", NULL);
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GObject) holder = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) out = NULL;
  g_autofree char *text = NULL;
  char buf[65536];
  gsize len = 0;

  ui_test_flush (shown);
  ui_test_screenshot (shown, name);
  g_ptr_array_add (argv, (char *) "/usr/bin/python3");
  g_ptr_array_add (argv, walker);
  g_ptr_array_add (argv, pid);
  for (guint i = 0; titles != NULL && titles[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) titles[i]);
  g_ptr_array_add (argv, NULL);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  if (expect != NULL)
    g_subprocess_launcher_setenv (launcher, "A11Y_EXPECT", expect, TRUE);
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_wait_async (proc, NULL, walker_done_cb, holder);
  ui_test_wait_for (subprocess_done, holder, 60, "AT-SPI walk");
  out = g_object_ref (g_subprocess_get_stdout_pipe (proc));
  g_input_stream_read_all (out, buf, sizeof buf - 1, &len, NULL, &error);
  g_assert_no_error (error);
  buf[len] = '\0';
  text = g_strdelimit (g_strdup (buf), "\n", ' ');
  g_test_message ("%s: %s", name, text);
  if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    {
      /* Go on with the other windows, so that one run lists every problem. */
      g_printerr ("%s: controls without an accessible name (or no AT-SPI tree):\n%s", name, buf);
      g_test_fail ();
    }
}

static void
assert_all_named (GtkWidget *shown, const char *name, const char * const *titles)
{
  assert_all_named_expect (shown, name, titles, NULL);
}

#define TITLES(...) ((const char * const []) { __VA_ARGS__, NULL })

static GtkWidget *
template_child (GtkWidget *widget, GType type, const char *name)
{
  GObject *child = gtk_widget_get_template_child (widget, type, name);
  g_assert_nonnull (child);
  return GTK_WIDGET (child);
}

static gboolean
assistant_page_is (gpointer data)
{
  CofferSetupAssistant *assistant = data;
  return !coffer_setup_assistant_get_busy (assistant)
         && g_strcmp0 (coffer_setup_assistant_get_page (assistant), g_object_get_data (data, "want")) == 0;
}

/* The setup assistant, page by page (a second application in the same
 * process could not register on the test's session bus). */
static void
check_setup_assistant (CofferApplication *app)
{
  g_autofree char *repo = g_build_filename (tmp, "setup-repo", NULL);
  CofferSetupAssistant *assistant = coffer_setup_assistant_new (app);
  static const char *pages[] = { "welcome", "destination", "categories", "protection", "password" };

  gtk_window_present (GTK_WINDOW (assistant));
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *shot = g_strdup_printf ("a11y-setup-%s", pages[i]);

      if (i > 0)
        {
          g_object_set_data (G_OBJECT (assistant), "want", (gpointer) pages[i]);
          g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.next", NULL));
          ui_test_wait_for (assistant_page_is, assistant, 60, pages[i]);
        }
      if (g_str_equal (pages[i], "destination"))
        coffer_setup_assistant_set_folder (assistant, repo);
      assert_all_named (GTK_WIDGET (assistant), shot, NULL);
    }
  gtk_window_destroy (GTK_WINDOW (assistant));
}

static void
test_main_windows (void)
{
  g_autofree char *repo = g_build_filename (tmp, "repo", NULL);
  g_autofree char *source = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *file = g_build_filename (source, "IMG_0001.jpg", NULL);
  g_autofree char *category_id = NULL;
  g_autoptr(CofferApplication) app = NULL;
  g_autoptr(CofferCategoryItem) item = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  const char *paths[] = { source, NULL };
  const char *excludes[] = { NULL };
  const char *global_excludes[] = { "*.tmp", NULL };
  CofferWindow *window;
  GtkWindow *prefs, *restore, *wizard;
  GtkWidget *row;

  g_mkdir_with_parents (source, 0755);
  coffer_test_write_random (file, 4000, 3);
  {
    g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
    g_autoptr(CofferSecret) key = NULL;
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferCategory) category = NULL;
    g_autoptr(CofferSnapshot) snapshot = NULL;

    g_assert_no_error (error);
    repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
    g_assert_no_error (error);
    category = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, paths, excludes,
                                               NULL, &error);
    g_assert_no_error (error);
    category_id = g_strdup (category->id);
    snapshot = coffer_backup_run (repository, category_id, NULL, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
  }

  app = ui_test_app_new ();
  item = coffer_category_item_new ("Photos", paths);
  coffer_category_item_set_id (item, category_id);
  g_list_store_append (coffer_application_get_categories (app), item);
  coffer_application_save_categories (app);
  g_settings_set_string (coffer_application_get_settings (app), "destination", repo);
  g_settings_set_boolean (coffer_application_get_settings (app), "setup-done", TRUE);
  g_settings_set_strv (coffer_application_get_settings (app), "global-excludes", global_excludes);
  /* A second destination: its row in the main window and in Preferences
   * (with its remove button). */
  {
    g_autofree char *other = g_build_filename (g_get_home_dir (), "Other drive", NULL);
    g_autoptr(CofferDestination) dest = coffer_destination_new (other);
    g_autoptr(CofferDestinationItem) more = coffer_destination_item_new (dest);
    g_list_store_append (coffer_application_get_destinations (app), more);
  }
  coffer_application_open_repository (app, password);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);
  ui_test_wait_for (app_ready, app, 60, "repository open");

  /* Main window: the category expanded (folder rows and their remove
   * buttons) and the backup progress group as during a backup. */
  row = ui_test_find (GTK_WIDGET (window), COFFER_TYPE_CATEGORY_ROW, "Photos");
  g_assert_nonnull (row);
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), TRUE);
  gtk_widget_set_visible (template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "progress_group"), TRUE);
  assert_all_named (GTK_WIDGET (window), "a11y-main-window", NULL);
  gtk_widget_set_visible (template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "progress_group"), FALSE);

  /* Preferences, each page. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  prefs = ui_test_find_window (COFFER_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (prefs);
  {
    AdwPreferencesWindow *pw = ADW_PREFERENCES_WINDOW (prefs);
    GtkWidget *page = GTK_WIDGET (adw_preferences_window_get_visible_page (pw));
    guint n = 0;

    /* Every page of the window, in turn. */
    for (GtkWidget *p = gtk_widget_get_first_child (gtk_widget_get_parent (page)); p != NULL;
         p = gtk_widget_get_next_sibling (p))
      if (ADW_IS_PREFERENCES_PAGE (p))
        {
          g_autofree char *shot = g_strdup_printf ("a11y-preferences-%u", n++);
          adw_preferences_window_set_visible_page (pw, ADW_PREFERENCES_PAGE (p));
          assert_all_named (GTK_WIDGET (prefs), shot, NULL);
        }
    g_assert_cmpuint (n, >, 0);
  }
  /* The authority dialog a new password asks for. */
  {
    GObject *pw = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW, "new_password");
    GObject *confirm = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW,
                                                      "new_password_confirm");
    GtkWindow *authority;

    gtk_editable_set_text (GTK_EDITABLE (pw), "another quite different passphrase 2025");
    gtk_editable_set_text (GTK_EDITABLE (confirm), "another quite different passphrase 2025");
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (prefs), "prefs.change-password", NULL));
    authority = ui_test_find_window (COFFER_TYPE_AUTHORITY_DIALOG);
    g_assert_nonnull (authority);
    assert_all_named (GTK_WIDGET (authority), "a11y-authority-dialog", NULL);
    gtk_window_destroy (authority);
  }
  /* The dialog that adds another destination. */
  {
    GtkWindow *add;

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (prefs), "prefs.add-destination", NULL));
    add = ui_test_find_window (ADW_TYPE_MESSAGE_DIALOG);
    g_assert_nonnull (add);
    assert_all_named (GTK_WIDGET (add), "a11y-add-destination", NULL);
    gtk_window_destroy (add);
  }
  gtk_window_destroy (prefs);

  /* Restore window with the search bar open. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.restore", NULL));
  restore = ui_test_find_window (COFFER_TYPE_RESTORE_WINDOW);
  g_assert_nonnull (restore);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (template_child (GTK_WIDGET (restore),
                                                                   COFFER_TYPE_RESTORE_WINDOW,
                                                                   "search_button")), TRUE);
  /* With two destinations it has the "Restore from" chooser. */
  g_assert_true (gtk_widget_get_visible (template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW,
                                                         "source_box")));
  assert_all_named_expect (GTK_WIDGET (restore), "a11y-restore-window", NULL, "Restore from");
  gtk_window_destroy (restore);

  /* The recovery key dialog: testing the key, and replacing it (intro). */
  wizard = coffer_recovery_wizard_present_dialog (GTK_WINDOW (window), app, COFFER_RECOVERY_WIZARD_TEST, NULL);
  assert_all_named (GTK_WIDGET (wizard), "a11y-recovery-wizard-test", TITLES (gtk_window_get_title (wizard)));
  gtk_window_destroy (wizard);
  wizard = coffer_recovery_wizard_present_dialog (GTK_WINDOW (window), app, COFFER_RECOVERY_WIZARD_REPLACE, NULL);
  assert_all_named (GTK_WIDGET (wizard), "a11y-recovery-wizard-replace", TITLES (gtk_window_get_title (wizard)));
  gtk_window_destroy (wizard);

  check_setup_assistant (app);
  ui_test_quit (app);
}

int
main (int argc, char **argv)
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/a11y/main-windows", test_main_windows);
  return ui_test_run (tmp);
}
