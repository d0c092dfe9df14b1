/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Joining by code through the real windows: computer A (the CLI with its
 * own home and XDG folders) creates the repository and backs up; computer B
 * (the app under test) chooses the same folder in the setup assistant,
 * "Approve From Another Computer", shows the code; A approves with
 * `coffer devices approve ID --code CODE`; B then lists the categories and
 * backs up. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-category-row.h"
#include "coffer-restore-window.h"
#include "coffer-setup-assistant.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;
static char *home_a;
static char *repo;

/* Runs the CLI as computer A; returns its output, NULL when it failed. */
static char * G_GNUC_NULL_TERMINATED
run_a (const char *first, ...)
{
  va_list ap;
  char *output;

  va_start (ap, first);
  output = ui_test_run_cli_va ("A", home_a, repo, PASSWORD, first, ap);
  va_end (ap);
  return output;
}

#define RUN_A_OK(...) G_STMT_START { char *out_ = run_a (__VA_ARGS__); g_assert_nonnull (out_); g_free (out_); } G_STMT_END

static gboolean
join_requested_only (gpointer data)
{
  return coffer_setup_assistant_get_join_requested (data);
}

static gboolean
page_is (gpointer data)
{
  return !coffer_setup_assistant_get_busy (data) &&
         g_strcmp0 (coffer_setup_assistant_get_page (data),
                    g_object_get_data (G_OBJECT (data), "wanted-page")) == 0;
}

static void
wait_page (CofferSetupAssistant *assistant, const char *name)
{
  g_object_set_data_full (G_OBJECT (assistant), "wanted-page", g_strdup (name), g_free);
  ui_test_wait_for (page_is, assistant, 60, name);
}

static gboolean
join_requested (gpointer data)
{
  return coffer_setup_assistant_get_join_requested (data) ||
         gtk_widget_get_visible (GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (data),
                                                                            COFFER_TYPE_SETUP_ASSISTANT,
                                                                            "join_password_group")));
}

static gboolean
join_code_shown (gpointer data)
{
  return coffer_setup_assistant_get_join_code (data) != NULL;
}

static gboolean
main_window_shown (gpointer data)
{
  return ui_test_find_window (COFFER_TYPE_WINDOW) != NULL;
}

static gboolean
backup_done (gpointer data)
{
  CofferApplication *app = data;
  return coffer_history_get_n_entries (coffer_application_get_history (app)) > 0 &&
         !coffer_engine_get_busy (coffer_application_get_engine (app));
}

static gboolean
restore_loaded (gpointer data)
{
  return !coffer_restore_window_get_loading (data) && coffer_restore_window_get_n_snapshots (data) > 0;
}

static gboolean
two_snapshots (gpointer data)
{
  GtkDropDown *dropdown = g_object_get_data (data, "dropdown");
  return restore_loaded (data) && gtk_drop_down_get_model (dropdown) != NULL &&
         g_list_model_get_n_items (gtk_drop_down_get_model (dropdown)) == 2;
}

/* The "Step N of M" subtitle: checks that going forward it goes up by one
 * and keeps its total. */
static void
check_step (CofferSetupAssistant *assistant, guint want_step, guint want_total)
{
  GObject *title = gtk_widget_get_template_child (GTK_WIDGET (assistant), COFFER_TYPE_SETUP_ASSISTANT,
                                                  "window_title");
  g_autofree char *want = g_strdup_printf ("Step %u of %u", want_step, want_total);

  g_test_message ("%s: %s", coffer_setup_assistant_get_page (assistant),
                  adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title)));
  g_assert_cmpstr (adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title)), ==, want);
}

static void
next (CofferSetupAssistant *assistant)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.next", NULL));
}

/* The walk: each step picks up where the one before left computer A, the
 * app on computer B and its windows. */
typedef struct
{
  CofferApplication *app;
  CofferSetupAssistant *assistant;
  CofferWindow *window;
  char *pictures_a;
  char *pictures_b;
  char *papers_a;
  char *papers_b;
  char *device_id;   /* B's, as A lists it */
} Join;

/* Computer A creates the repository with Photos and a category B's
 * assistant does not detect (Papers: offered with A's folder mapped to B's
 * home), and backs up. */
static void
step_computer_a (Join *j)
{
  g_mkdir_with_parents (j->pictures_a, 0755);
  g_mkdir_with_parents (j->pictures_b, 0755);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *a = g_strdup_printf ("%s/A_%u.jpg", j->pictures_a, i);
      g_autofree char *b = g_strdup_printf ("%s/B_%u.jpg", j->pictures_b, i);
      coffer_test_write_random (a, 5000 + i * 1000, 1 + i);
      coffer_test_write_random (b, 7000 + i * 1000, 11 + i);
    }
  RUN_A_OK ("init", NULL);
  RUN_A_OK ("category", "add", "Photos", j->pictures_a, NULL);
  g_mkdir_with_parents (j->papers_a, 0755);
  g_mkdir_with_parents (j->papers_b, 0755);
  RUN_A_OK ("category", "add", "Papers", j->papers_a, NULL);
  RUN_A_OK ("backup", NULL);
}

/* Computer B: the welcome page offers to restore from an existing backup;
 * the assistant finds it in the folder and offers the ways in; B asks to
 * join by code (giving the password: no keyring in the tests). */
static void
step_b_asks_to_join (Join *j)
{
  j->app = ui_test_app_new ();
  g_application_activate (G_APPLICATION (j->app));
  j->assistant = COFFER_SETUP_ASSISTANT (ui_test_find_window (COFFER_TYPE_SETUP_ASSISTANT));
  g_assert_nonnull (j->assistant);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (j->assistant), "assistant.restore-existing", NULL));
  g_assert_cmpstr (coffer_setup_assistant_get_page (j->assistant), ==, "destination");
  check_step (j->assistant, 1, 6);
  coffer_setup_assistant_set_folder (j->assistant, repo);
  next (j->assistant);
  wait_page (j->assistant, "way-in");
  check_step (j->assistant, 2, 6);
  ui_test_screenshot (GTK_WIDGET (j->assistant), "setup-way-in");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (j->assistant),
                                                                                COFFER_TYPE_SETUP_ASSISTANT,
                                                                                "way_code")), TRUE);
  next (j->assistant);
  g_assert_cmpstr (coffer_setup_assistant_get_page (j->assistant), ==, "join");
  check_step (j->assistant, 3, 6);
  ui_test_wait_for (join_requested, j->assistant, 60, "join request");
  if (!coffer_setup_assistant_get_join_requested (j->assistant))
    {
      /* No keyring in the tests: the key is protected by the password. */
      GObject *entry = gtk_widget_get_template_child (GTK_WIDGET (j->assistant), COFFER_TYPE_SETUP_ASSISTANT,
                                                      "join_password");
      ui_test_screenshot (GTK_WIDGET (j->assistant), "setup-join-password");
      gtk_editable_set_text (GTK_EDITABLE (entry), PASSWORD);
      next (j->assistant);
      ui_test_wait_for (join_requested_only, j->assistant, 60, "join request");
    }
  ui_test_screenshot (GTK_WIDGET (j->assistant), "setup-join-waiting");
}

/* A sees the request and answers it; B shows the code (its timer polls
 * every 2 s); the user types it on A. */
static void
step_a_approves (Join *j)
{
  g_autofree char *output = run_a ("--json", "devices", "list", NULL);
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autofree char *code = NULL;

  g_assert_nonnull (output);
  regex = g_regex_new ("\\{\"id\":\"([0-9a-zA-Z]+)\"[^}]*\"pending\":true", 0, 0, NULL);
  g_assert_true (g_regex_match (regex, output, 0, &match));
  j->device_id = g_match_info_fetch (match, 1);
  RUN_A_OK ("devices", "approve", j->device_id, NULL);

  ui_test_wait_for (join_code_shown, j->assistant, 60, "join code");
  code = g_strdup (coffer_setup_assistant_get_join_code (j->assistant));
  ui_test_screenshot (GTK_WIDGET (j->assistant), "setup-join-code");
  RUN_A_OK ("devices", "approve", j->device_id, "--code", code, NULL);
}

/* B completes the join and offers to restore A's files into B's home:
 * computer-a/Pictures → ~/Pictures; B's own files stay. */
static void
step_b_restores (Join *j)
{
  GtkWidget *row;
  g_autofree char *a0 = g_build_filename (j->pictures_a, "A_0.jpg", NULL);
  g_autofree char *a0_on_b = g_build_filename (j->pictures_b, "A_0.jpg", NULL);
  g_autofree char *b0 = g_build_filename (j->pictures_b, "B_0.jpg", NULL);

  wait_page (j->assistant, "restore");
  check_step (j->assistant, 4, 6);
  row = ui_test_find (GTK_WIDGET (j->assistant), ADW_TYPE_ACTION_ROW, "Photos");
  g_assert_nonnull (row);
  g_test_message ("mapping: %s", adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
  g_assert_true (g_str_has_suffix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "Pictures → ~/Pictures"));
  g_assert_false (g_file_test (a0_on_b, G_FILE_TEST_EXISTS));
  ui_test_screenshot (GTK_WIDGET (j->assistant), "setup-restore-offer");
  next (j->assistant);
  wait_page (j->assistant, "categories");
  check_step (j->assistant, 5, 6);
  coffer_test_assert_same_tree (a0, a0_on_b, FALSE);
  g_assert_true (g_file_test (b0, G_FILE_TEST_IS_REGULAR));
  ui_test_screenshot (GTK_WIDGET (j->assistant), "setup-restored");
}

/* The categories page lists A's categories with this computer's folders
 * (Photos: B's Pictures, not A's; Papers: A's folder mapped to B's home);
 * B keeps Photos only and finishes the assistant. */
static void
step_b_categories (Join *j)
{
  GListStore *items = coffer_setup_assistant_get_categories (j->assistant);
  gboolean photos = FALSE, papers = FALSE;

  ui_test_screenshot (GTK_WIDGET (j->assistant), "setup-joined-categories");
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (items)); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (items), i);
      const char * const *paths = coffer_category_item_get_paths (item);

      if (g_strcmp0 (coffer_category_item_get_name (item), "Photos") == 0)
        {
          photos = coffer_category_item_get_id (item) != NULL;
          g_assert_true (g_strv_contains (paths, j->pictures_b));
          g_assert_false (g_strv_contains (paths, j->pictures_a));
          coffer_category_item_set_enabled (item, TRUE);
        }
      else if (g_strcmp0 (coffer_category_item_get_name (item), "Papers") == 0)
        {
          papers = coffer_category_item_get_id (item) != NULL;
          g_assert_cmpuint (g_strv_length ((char **) paths), ==, 1);
          g_assert_cmpstr (paths[0], ==, j->papers_b);
          coffer_category_item_set_enabled (item, FALSE);
        }
      else
        coffer_category_item_set_enabled (item, FALSE);
    }
  g_assert_true (photos);
  g_assert_true (papers);
  next (j->assistant);
  wait_page (j->assistant, "protection");
  check_step (j->assistant, 6, 6);
  next (j->assistant);
  wait_page (j->assistant, "done");
  next (j->assistant);
  j->assistant = NULL;
}

/* The main window lists the categories and B's backup succeeds. */
static void
step_b_backs_up (Join *j)
{
  const CofferHistoryEntry *entry;
  GtkWidget *row;

  ui_test_wait_for (main_window_shown, NULL, 30, "main window");
  j->window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (ui_test_find (GTK_WIDGET (j->window), COFFER_TYPE_CATEGORY_ROW, "Photos"));
  ui_test_wait_for (backup_done, j->app, 120, "backup from B");
  entry = coffer_history_get_entry (coffer_application_get_history (j->app), 0);
  if (!entry->success)
    g_error ("backup from B failed: %s / %s", entry->summary, entry->details);
  ui_test_screenshot (GTK_WIDGET (j->window), "joined-main-window");
  row = ui_test_find (GTK_WIDGET (j->window), COFFER_TYPE_CATEGORY_ROW, "Photos");
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), TRUE);
  ui_test_screenshot (GTK_WIDGET (j->window), "joined-this-computers-folders");
}

/* The restore window: Photos has backups from A and from B, and each
 * backup's label names its computer. */
static void
step_restore_window_names_computers (Join *j)
{
  CofferRestoreWindow *restore;
  GtkDropDown *dropdown;
  GtkDropDown *categories;
  GListModel *labels;
  GListModel *names;
  g_autofree char *on_host = g_strdup_printf (" on %s", g_get_host_name ());

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (j->window), "app.restore", NULL));
  restore = COFFER_RESTORE_WINDOW (ui_test_find_window (COFFER_TYPE_RESTORE_WINDOW));
  g_assert_nonnull (restore);
  ui_test_wait_for (restore_loaded, restore, 60, "snapshot listing");
  categories = GTK_DROP_DOWN (gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW,
                                                             "category_dropdown"));
  names = gtk_drop_down_get_model (categories);
  for (guint i = 0; i < g_list_model_get_n_items (names); i++)
    if (g_strcmp0 (gtk_string_list_get_string (GTK_STRING_LIST (names), i), "Photos") == 0)
      gtk_drop_down_set_selected (categories, i);
  dropdown = GTK_DROP_DOWN (gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW,
                                                           "snapshot_dropdown"));
  g_object_set_data (G_OBJECT (restore), "dropdown", dropdown);
  ui_test_wait_for (two_snapshots, restore, 60, "Photos snapshot listing");
  labels = gtk_drop_down_get_model (dropdown);
  for (guint i = 0; i < g_list_model_get_n_items (labels); i++)
    g_test_message ("snapshot %u: %s", i, gtk_string_list_get_string (GTK_STRING_LIST (labels), i));
  g_assert_cmpuint (g_list_model_get_n_items (labels), ==, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_nonnull (strstr (gtk_string_list_get_string (GTK_STRING_LIST (labels), i), on_host));
  ui_test_screenshot (GTK_WIDGET (restore), "joined-restore-per-computer");
  gtk_window_destroy (GTK_WINDOW (restore));
}

/* Folders belong to a computer: B's snapshot holds B's Pictures only, A
 * sees B's folders next to its own, and A lists B as trusted. */
static void
step_a_sees_b (Join *j)
{
  g_autofree char *snapshots = run_a ("--json", "snapshots", "--category", "Photos", NULL);
  g_autofree char *categories = NULL;
  g_autofree char *devices = NULL;
  g_autofree char *by_b = g_strdup_printf ("\"device_id\":\"%s\"", j->device_id);
  g_autofree char *b_paths = g_strdup_printf ("\"paths\":[\"%s\"]", j->pictures_b);
  g_autofree char *a_and_others = g_strdup_printf ("\"paths\":[\"%s\"],\"excludes\":[],"
                                                   "\"other_computers\":[{\"device_id\":\"%s\"",
                                                   j->pictures_a, j->device_id);

  g_assert_nonnull (snapshots);
  g_assert_nonnull (strstr (snapshots, by_b));
  g_assert_nonnull (strstr (snapshots, b_paths));
  categories = run_a ("--json", "category", "list", NULL);
  g_assert_nonnull (categories);
  g_assert_nonnull (strstr (categories, a_and_others));
  g_assert_nonnull (strstr (categories, b_paths));

  devices = run_a ("--json", "devices", "list", NULL);
  g_assert_nonnull (devices);
  g_assert_nonnull (strstr (devices, j->device_id));
  g_assert_null (strstr (devices, "\"pending\":true"));
}

static void
test_join (void)
{
  g_autofree char *pictures_a = g_build_filename (home_a, "Pictures", NULL);
  g_autofree char *pictures_b = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *papers_a = g_build_filename (home_a, "Papers", NULL);
  g_autofree char *papers_b = g_build_filename (g_get_home_dir (), "Papers", NULL);
  Join j = { .pictures_a = pictures_a, .pictures_b = pictures_b, .papers_a = papers_a, .papers_b = papers_b };

  step_computer_a (&j);
  step_b_asks_to_join (&j);
  step_a_approves (&j);
  step_b_restores (&j);
  step_b_categories (&j);
  step_b_backs_up (&j);
  step_restore_window_names_computers (&j);
  step_a_sees_b (&j);

  ui_test_quit (j.app);
  g_clear_object (&j.app);
  g_free (j.device_id);
}

int
main (int argc, char *argv[])
{
  int ret;

  tmp = ui_test_init (&argc, &argv);
  home_a = g_build_filename (tmp, "computer-a", NULL);
  repo = g_build_filename (tmp, "shared-repo", NULL);
  g_mkdir_with_parents (home_a, 0700);
  g_test_add_func ("/ui/join", test_join);
  ret = ui_test_run (tmp);
  g_free (home_a);
  g_free (repo);
  return ret;
}
