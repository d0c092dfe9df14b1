/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The setup assistant driven end to end on a real local repository: a
 * Standard and an Advanced category, the recovery-key wizard refusing a
 * mistyped and a wrong key, the first backup from the main window, and
 * switching a category to Advanced, which removes its password envelope. */
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-category-row.h"
#include "coffer-recovery-key.h"
#include "coffer-setup-assistant.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "correct horse battery staple 42"

static char *tmp;

static gboolean
not_busy (gpointer data)
{
  return !coffer_setup_assistant_get_busy (data);
}

static gboolean
page_is (CofferSetupAssistant *assistant, const char *name)
{
  return g_strcmp0 (coffer_setup_assistant_get_page (assistant), name) == 0;
}

typedef struct { CofferSetupAssistant *assistant; const char *page; } PageWait;

static gboolean
on_page (gpointer data)
{
  PageWait *w = data;
  return !coffer_setup_assistant_get_busy (w->assistant) && page_is (w->assistant, w->page);
}

static void
wait_page (CofferSetupAssistant *assistant, const char *name)
{
  PageWait w = { assistant, name };
  ui_test_wait_for (on_page, &w, 60, name);
}

static gboolean
wizard_idle (gpointer data)
{
  CofferRecoveryWizard *wizard = data;
  GObject *spinner = gtk_widget_get_template_child (GTK_WIDGET (wizard), COFFER_TYPE_RECOVERY_WIZARD,
                                                      "verify_spinner");
  return !gtk_spinner_get_spinning (GTK_SPINNER (spinner));
}

static void
set_text (GtkWidget *widget, GType type, const char *child, const char *text)
{
  GObject *entry = gtk_widget_get_template_child (widget, type, child);
  g_assert_nonnull (entry);
  gtk_editable_set_text (GTK_EDITABLE (entry), text);
}

static char *
make_source (const char *name, guint n_files)
{
  char *dir = g_build_filename (g_get_home_dir (), name, NULL);
  g_autofree char *sub = g_build_filename (dir, "sub folder", NULL);

  g_mkdir_with_parents (sub, 0755);
  for (guint i = 0; i < n_files; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/%s-%u.bin", i % 2 ? sub : dir, name, i);
      coffer_test_write_random (file, 1000 + i * 7919, i + 1);
    }
  return dir;
}

static gboolean
backup_done (gpointer data)
{
  CofferApplication *app = data;
  return coffer_history_get_n_entries (coffer_application_get_history (app)) > 0 &&
         !coffer_engine_get_busy (coffer_application_get_engine (app));
}

typedef struct { CofferCategoryItem *item; CofferLevel level; } LevelWait;

static gboolean
level_is (gpointer data)
{
  LevelWait *w = data;
  return coffer_category_item_get_level (w->item) == w->level;
}

static gboolean
dialog_shown (gpointer data)
{
  return coffer_category_row_get_dialog (data) != NULL &&
         gtk_widget_get_mapped (coffer_category_row_get_dialog (data));
}

/* The "Step N of M" subtitle: going forward it goes up by at most one and
 * never changes its total. */
static void
check_step (CofferSetupAssistant *assistant, guint *last_step, guint *last_total)
{
  GObject *title = gtk_widget_get_template_child (GTK_WIDGET (assistant), COFFER_TYPE_SETUP_ASSISTANT,
                                                  "window_title");
  const char *text = adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title));
  guint step = 0, total = 0;

  g_test_message ("%s: %s", coffer_setup_assistant_get_page (assistant), text);
  g_assert_nonnull (text);
  g_assert_cmpint (sscanf (text, "Step %u of %u", &step, &total), ==, 2);
  if (*last_total != 0)
    {
      g_assert_cmpuint (total, ==, *last_total);
      g_assert_cmpuint (step, >=, *last_step);
      g_assert_cmpuint (step, <=, *last_step + 1);
    }
  else
    g_assert_cmpuint (step, ==, 1);
  *last_step = step;
  *last_total = total;
}

/* The walk through the assistant, one step per page, each picking up where
 * the one before left the assistant. */
typedef struct
{
  CofferApplication *app;
  CofferSetupAssistant *assistant;
  CofferWindow *window;
  char *repo;
  char *photos;
  char *docs;
  char *key_text;
  char *password_envelope;
  CofferCategoryItem *photos_item;   /* owned by the application's list */
  guint step;
  guint total;
} Setup;

static void
next (Setup *s)
{
  gtk_widget_activate_action (GTK_WIDGET (s->assistant), "assistant.next", NULL);
}

static void
step_welcome (Setup *s)
{
  g_application_activate (G_APPLICATION (s->app));
  s->assistant = COFFER_SETUP_ASSISTANT (ui_test_find_window (COFFER_TYPE_SETUP_ASSISTANT));
  g_assert_nonnull (s->assistant);
  g_assert_true (page_is (s->assistant, "welcome"));
  g_assert_nonnull (ui_test_find (GTK_WIDGET (s->assistant), GTK_TYPE_BUTTON, "_Restore from an Existing Backup"));
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-1-welcome");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (s->assistant), "assistant.next", NULL));
}

/* Destination: a WebDAV server that is not there (the test says so, and
 * Next stays), then a local folder and the connection test. */
static void
step_destination (Setup *s)
{
  CofferDestinationPage *dpage = coffer_setup_assistant_get_destination_page (s->assistant);
  GObject *test_row;

  g_assert_true (page_is (s->assistant, "destination"));
  check_step (s->assistant, &s->step, &s->total);

  gtk_check_button_set_active (GTK_CHECK_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (dpage),
                                                                                COFFER_TYPE_DESTINATION_PAGE,
                                                                                "kind_webdav")), TRUE);
  set_text (GTK_WIDGET (dpage), COFFER_TYPE_DESTINATION_PAGE, "webdav_url", "http://127.0.0.1:9/dav");
  set_text (GTK_WIDGET (dpage), COFFER_TYPE_DESTINATION_PAGE, "webdav_user", "me");
  next (s);
  g_assert_true (page_is (s->assistant, "destination"));   /* no password yet: said inline */
  set_text (GTK_WIDGET (dpage), COFFER_TYPE_DESTINATION_PAGE, "webdav_password", "secret");
  next (s);
  ui_test_wait_for (not_busy, s->assistant, 120, "failing connection test");
  g_assert_true (page_is (s->assistant, "destination"));
  test_row = gtk_widget_get_template_child (GTK_WIDGET (dpage), COFFER_TYPE_DESTINATION_PAGE, "test_row");
  g_test_message ("connection error: %s", adw_action_row_get_subtitle (ADW_ACTION_ROW (test_row)));
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (test_row)), "could not be reached"));
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-2-webdav-error");

  coffer_setup_assistant_set_folder (s->assistant, s->repo);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (s->assistant), "assistant.test-connection", NULL));
  ui_test_wait_for (not_busy, s->assistant, 30, "connection test");
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-2-destination");
  next (s);
}

/* Categories: replace what was found with two test folders. */
static void
step_categories (Setup *s)
{
  const char *photos_paths[] = { s->photos, NULL };
  const char *docs_paths[] = { s->docs, NULL };
  g_autoptr(CofferCategoryItem) p = NULL;
  g_autoptr(CofferCategoryItem) d = NULL;
  g_autoptr(CofferCategoryItem) n = NULL;
  GListStore *categories;

  wait_page (s->assistant, "categories");
  check_step (s->assistant, &s->step, &s->total);
  categories = coffer_setup_assistant_get_categories (s->assistant);
  p = coffer_category_item_new ("Photos", photos_paths);
  d = coffer_category_item_new ("Documents", docs_paths);
  n = coffer_category_item_new ("Notes", NULL);
  coffer_category_item_set_enabled (n, FALSE);
  g_list_store_remove_all (categories);
  g_list_store_append (categories, p);
  g_list_store_append (categories, d);
  g_list_store_append (categories, n);
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-3-categories");
  next (s);
}

/* Protection: Documents Advanced through its combo row. */
static void
step_protection (Setup *s)
{
  GtkWidget *row;

  wait_page (s->assistant, "protection");
  check_step (s->assistant, &s->step, &s->total);
  row = ui_test_find (GTK_WIDGET (s->assistant), ADW_TYPE_COMBO_ROW, "Documents");
  g_assert_nonnull (row);
  adw_combo_row_set_selected (ADW_COMBO_ROW (row), COFFER_LEVEL_ADVANCED);
  check_step (s->assistant, &s->step, &s->total);
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-4-protection");
  next (s);
}

/* Password: a weak one is refused, a mismatch too; the right one creates
 * the repository. */
static void
step_password (Setup *s)
{
  GtkWidget *assistant = GTK_WIDGET (s->assistant);

  wait_page (s->assistant, "password");
  check_step (s->assistant, &s->step, &s->total);
  set_text (assistant, COFFER_TYPE_SETUP_ASSISTANT, "password_entry", "abc");
  next (s);
  g_assert_true (page_is (s->assistant, "password"));
  set_text (assistant, COFFER_TYPE_SETUP_ASSISTANT, "password_entry", PASSWORD);
  set_text (assistant, COFFER_TYPE_SETUP_ASSISTANT, "password_confirm", "something else");
  next (s);
  g_assert_true (page_is (s->assistant, "password"));
  set_text (assistant, COFFER_TYPE_SETUP_ASSISTANT, "password_confirm", PASSWORD);
  ui_test_screenshot (assistant, "setup-5-password");
  next (s);
}

/* The repository is created; the wizard shows the new key, Next stays off
 * until it is confirmed, and the emergency kit is written (what the Save
 * button does after the chooser). */
static void
step_recovery_key (Setup *s)
{
  CofferRecoveryWizard *wizard;
  g_autofree char *kit = g_build_filename (tmp, "kit.pdf", NULL);

  wait_page (s->assistant, "recovery");
  check_step (s->assistant, &s->step, &s->total);
  wizard = coffer_setup_assistant_get_wizard (s->assistant);
  g_assert_cmpstr (coffer_recovery_wizard_get_page (wizard), ==, "intro");
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (s->assistant),
                                                                                       COFFER_TYPE_SETUP_ASSISTANT,
                                                                                       "next_button"))));
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-6-recovery-intro");
  gtk_widget_activate_action (GTK_WIDGET (wizard), "wizard.show-key", NULL);
  g_assert_cmpstr (coffer_recovery_wizard_get_page (wizard), ==, "key");
  s->key_text = g_strdup (coffer_recovery_wizard_get_key_text (wizard));
  g_assert_cmpuint (strlen (s->key_text), ==, 34);
  ui_test_screenshot (GTK_WIDGET (s->assistant), "recovery-key");

  coffer_recovery_wizard_save_kit (wizard, kit);
  while (!g_file_test (kit, G_FILE_TEST_EXISTS))
    g_main_context_iteration (NULL, TRUE);
}

/* Verifying the key: a typo (one character changed) is reported as such, a
 * valid key of another repository as the wrong key; the right key, typed
 * sloppily (lower case, spaces), confirms it. */
static void
step_verify_key (Setup *s)
{
  CofferRecoveryWizard *wizard = coffer_setup_assistant_get_wizard (s->assistant);
  g_autofree char *typo = g_strdup (s->key_text);
  g_autofree char *sloppy = g_ascii_strdown (s->key_text, -1);
  g_autoptr(CofferSecret) other_key = NULL;
  g_autoptr(CofferSecret) other_text = NULL;

  gtk_widget_activate_action (GTK_WIDGET (wizard), "wizard.to-verify", NULL);
  g_assert_cmpstr (coffer_recovery_wizard_get_page (wizard), ==, "verify");

  typo[7] = typo[7] == 'A' ? 'B' : 'A';
  coffer_recovery_wizard_verify (wizard, typo);
  ui_test_wait_for (wizard_idle, wizard, 30, "typo check");
  g_assert_false (coffer_recovery_wizard_get_confirmed (wizard));
  g_assert_nonnull (coffer_recovery_wizard_get_error (wizard));
  g_assert_nonnull (strstr (coffer_recovery_wizard_get_error (wizard), "typo"));
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-7-recovery-typo");

  other_key = coffer_recovery_key_generate ();
  other_text = coffer_recovery_key_format (other_key);
  coffer_recovery_wizard_verify (wizard, (const char *) other_text->data);
  ui_test_wait_for (wizard_idle, wizard, 30, "wrong key check");
  g_assert_false (coffer_recovery_wizard_get_confirmed (wizard));
  g_assert_nonnull (strstr (coffer_recovery_wizard_get_error (wizard), "not the one"));
  g_assert_true (page_is (s->assistant, "recovery"));

  g_strdelimit (sloppy, "-", ' ');
  coffer_recovery_wizard_verify (wizard, sloppy);
  ui_test_wait_for (wizard_idle, wizard, 30, "key check");
  g_assert_true (coffer_recovery_wizard_get_confirmed (wizard));
  g_assert_cmpstr (coffer_recovery_wizard_get_page (wizard), ==, "done");
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-8-recovery-done");
  next (s);
}

/* Categories are added; the last page starts the first backup, and both
 * categories have snapshots in the repository. */
static void
step_first_backup (Setup *s)
{
  const CofferHistoryEntry *entry;
  const char *photos_id;

  wait_page (s->assistant, "done");
  ui_test_screenshot (GTK_WIDGET (s->assistant), "setup-9-done");
  g_object_ref (s->assistant);
  next (s);
  g_object_unref (s->assistant);
  s->assistant = NULL;

  s->window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (s->window);
  ui_test_wait_for (backup_done, s->app, 120, "first backup");
  entry = coffer_history_get_entry (coffer_application_get_history (s->app), 0);
  if (!entry->success)
    g_error ("first backup failed: %s / %s", entry->summary, entry->details);
  ui_test_screenshot (GTK_WIDGET (s->window), "main-window");
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_FORCE_DARK);
  ui_test_screenshot (GTK_WIDGET (s->window), "main-window-dark");
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);

  s->photos_item = g_list_model_get_item (G_LIST_MODEL (coffer_application_get_categories (s->app)), 0);
  g_object_unref (s->photos_item);
  photos_id = coffer_category_item_get_id (s->photos_item);
  g_assert_nonnull (photos_id);
  g_assert_cmpint (coffer_category_item_get_last_backup (s->photos_item), >, 0);
  s->password_envelope = g_build_filename (s->repo, "categories", photos_id, "keys", "password", NULL);
  g_assert_true (g_file_test (s->password_envelope, G_FILE_TEST_EXISTS));
}

/* Photos → Advanced through its row: confirmed in the dialog, it removes
 * the category's password envelope. */
static void
step_switch_to_advanced (Setup *s)
{
  GtkWidget *row = ui_test_find (GTK_WIDGET (s->window), COFFER_TYPE_CATEGORY_ROW, "Photos");
  LevelWait w = { s->photos_item, COFFER_LEVEL_ADVANCED };

  g_assert_nonnull (row);
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), TRUE);
  adw_combo_row_set_selected (ADW_COMBO_ROW (gtk_widget_get_template_child (row, COFFER_TYPE_CATEGORY_ROW,
                                                                            "level_row")),
                              COFFER_LEVEL_ADVANCED);
  ui_test_wait_for (dialog_shown, row, 10, "level dialog");
  ui_test_screenshot (coffer_category_row_get_dialog (COFFER_CATEGORY_ROW (row)), "level-dialog");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (coffer_category_row_get_dialog (COFFER_CATEGORY_ROW (row))),
                               "change");
  ui_test_wait_for (level_is, &w, 60, "level change");
  g_assert_false (g_file_test (s->password_envelope, G_FILE_TEST_EXISTS));
  ui_test_screenshot (GTK_WIDGET (s->window), "main-window-advanced");
}

static void
test_setup_end_to_end (void)
{
  g_autoptr(CofferApplication) app = ui_test_app_new ();
  g_autofree char *repo = g_build_filename (tmp, "repo", NULL);
  g_autofree char *photos = make_source ("Photos", 6);
  g_autofree char *docs = make_source ("Documents", 4);
  Setup s = { .app = app, .repo = repo, .photos = photos, .docs = docs };

  step_welcome (&s);
  step_destination (&s);
  step_categories (&s);
  step_protection (&s);
  step_password (&s);
  step_recovery_key (&s);
  step_verify_key (&s);
  step_first_backup (&s);
  step_switch_to_advanced (&s);

  g_free (s.key_text);
  g_free (s.password_envelope);
  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/setup/end-to-end", test_setup_end_to_end);
  return ui_test_run (tmp);
}
