/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Recovery contacts through the real windows. Computer A (the CLI with its
 * own home) makes a backup with an Advanced category and splits its
 * recovery key into 2-of-3 share sheets. Computer B (the app under test,
 * nothing but the backup folder) chooses "Use Shares From My Recovery
 * Contacts", types a share with a typo (located), a share of another
 * backup (named), the same share twice (refused), then two good shares,
 * and lands in the opened backup. Then B makes new sheets from Preferences'
 * dialog and Preferences shows "Any 2 of 3". */
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "coffer-preferences-window.h"
#include "coffer-setup-assistant.h"
#include "coffer-shares-dialog.h"
#include "coffer-shares-row.h"
#include "test-utils.h"
#include "ui-test-utils.h"
#include "coffer-recovery-key.h"

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

/* The first line of a share or key file. */
static char *
first_line (const char *path)
{
  g_autofree char *contents = NULL;
  char *nl;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  nl = strchr (contents, '\n');
  if (nl != NULL)
    *nl = '\0';
  return g_steal_pointer (&contents);
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
dialog_page_is (gpointer data)
{
  return !coffer_shares_dialog_get_busy (data) &&
         g_strcmp0 (coffer_shares_dialog_get_page (data), g_object_get_data (G_OBJECT (data), "wanted-page")) == 0;
}

static void
wait_dialog_page (CofferSharesDialog *dialog, const char *name)
{
  g_object_set_data_full (G_OBJECT (dialog), "wanted-page", g_strdup (name), g_free);
  ui_test_wait_for (dialog_page_is, dialog, 60, name);
}

static gboolean
shares_dialog_shown (gpointer data)
{
  return ui_test_find_window (COFFER_TYPE_SHARES_DIALOG) != NULL;
}

static void
next (CofferSetupAssistant *assistant)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.next", NULL));
}

static void
assert_status (CofferSharesDialog *dialog, const char *expected)
{
  const char *status = coffer_shares_dialog_get_status (dialog);

  if (strstr (status, expected) == NULL)
    g_error ("expected “%s” in the status line, got “%s”", expected, status);
}

static void
type_share (CofferSharesDialog *dialog, const char *row_title, const char *text)
{
  GtkWidget *row = ui_test_find (GTK_WIDGET (dialog), ADW_TYPE_ENTRY_ROW, row_title);

  g_assert_nonnull (row);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
  ui_test_flush (GTK_WIDGET (dialog));
}

static gboolean
row_says_two_of_three (gpointer data)
{
  const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (data));
  return subtitle != NULL && strstr (subtitle, "Any 2 of 3") != NULL;
}

static gboolean
row_says_replaced (gpointer data)
{
  const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (data));
  return subtitle != NULL && strstr (subtitle, "no longer work") != NULL;
}

static void
committed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (coffer_engine_commit_recovery_key_finish (COFFER_ENGINE (source), result, &error));
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

/* Replacement is two-phase: the new key takes effect once typed back. */
static void
replaced_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) key = coffer_engine_replace_recovery_key_finish (COFFER_ENGINE (source), result, &error);
  g_autoptr(CofferSecret) text = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (key);
  text = coffer_recovery_key_format (key);
  coffer_engine_commit_recovery_key_async (COFFER_ENGINE (source), (const char *) text->data, NULL,
                                           committed_cb, user_data);
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
test_shares (void)
{
  g_autofree char *diary = g_build_filename (home_a, "Diary", NULL);
  g_autofree char *rk_file = g_build_filename (tmp, "rk.txt", NULL);
  g_autofree char *sheets = g_build_filename (tmp, "sheets", NULL);
  g_autofree char *other = g_build_filename (tmp, "other-repo", NULL);
  g_autofree char *other_sheets = g_build_filename (tmp, "other-sheets", NULL);
  g_autofree char *share1 = NULL, *share2 = NULL, *share3 = NULL, *foreign = NULL, *rk = NULL;
  g_autofree char *typo = NULL;
  g_autofree char *new_sheets = g_build_filename (tmp, "new-sheets", NULL);
  g_autoptr(CofferApplication) app = NULL;
  g_autoptr(GFile) folder = NULL;
  CofferSetupAssistant *assistant;
  CofferSharesDialog *dialog;
  GObject *use_shares;
  GtkWidget *action;
  CofferPreferencesWindow *prefs;
  GtkWidget *shares_row;

  /* Computer A: an Advanced category, and 2-of-3 shares of its key. */
  g_mkdir_with_parents (diary, 0755);
  coffer_test_write_random (g_build_filename (diary, "day1.txt", NULL), 3000, 7);
  RUN_A_OK ("init", "--recovery-key-file", rk_file, NULL);
  RUN_A_OK ("category", "add", "Diary", "--level", "advanced", "--recovery-key-file", rk_file, diary, NULL);
  RUN_A_OK ("backup", NULL);
  RUN_A_OK ("recovery-key", "share", "--recovery-key-file", rk_file, "--output", sheets, "--owner", "Ada",
            NULL);
  RUN_A_OK ("init", "--repo", other, "--recovery-key-file", g_build_filename (tmp, "rk-other", NULL), NULL);
  RUN_A_OK ("recovery-key", "share", "--repo", other, "--recovery-key-file", g_build_filename (tmp, "rk-other", NULL),
            "--output", other_sheets, NULL);
  share1 = first_line (g_build_filename (sheets, "share-1-of-3.txt", NULL));
  share2 = first_line (g_build_filename (sheets, "share-2-of-3.txt", NULL));
  share3 = first_line (g_build_filename (sheets, "share-3-of-3.txt", NULL));
  foreign = first_line (g_build_filename (other_sheets, "share-2-of-3.txt", NULL));
  rk = first_line (rk_file);
  (void) share2;

  /* Computer B: the backup folder and nothing else. */
  app = ui_test_app_new ();
  g_application_activate (G_APPLICATION (app));
  assistant = COFFER_SETUP_ASSISTANT (ui_test_find_window (COFFER_TYPE_SETUP_ASSISTANT));
  g_assert_nonnull (assistant);
  next (assistant);
  coffer_setup_assistant_set_folder (assistant, repo);
  next (assistant);
  wait_page (assistant, "way-in");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (assistant),
                                                                                COFFER_TYPE_SETUP_ASSISTANT,
                                                                                "way_key")), TRUE);
  next (assistant);
  g_assert_cmpstr (coffer_setup_assistant_get_page (assistant), ==, "recovery-key");
  ui_test_screenshot (GTK_WIDGET (assistant), "shares-no-recovery-key");

  /* "I don't have my recovery key" → "Use shares from my recovery contacts" */
  use_shares = G_OBJECT (ui_test_find (GTK_WIDGET (assistant), ADW_TYPE_ACTION_ROW,
                                       "Use Shares From My Recovery Contacts"));
  g_assert_nonnull (use_shares);
  g_signal_emit_by_name (use_shares, "activated");
  ui_test_wait_for (shares_dialog_shown, NULL, 10, "shares dialog");
  dialog = COFFER_SHARES_DIALOG (ui_test_find_window (COFFER_TYPE_SHARES_DIALOG));
  wait_dialog_page (dialog, "combine");
  assert_status (dialog, "Type the first share");
  action = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (dialog), COFFER_TYPE_SHARES_DIALOG,
                                                      "action_button"));
  g_assert_false (gtk_widget_get_sensitive (action));

  /* A typo in group 5 (character 2) is located as soon as the share is complete. */
  typo = g_strdup (share1);
  typo[21] = typo[21] == 'X' ? 'Y' : 'X';
  type_share (dialog, "Contact 1", typo);
  assert_status (dialog, "Contact 1: The share looks mistyped: check character 2 of group 5");
  g_assert_false (gtk_widget_get_sensitive (action));
  ui_test_screenshot (GTK_WIDGET (dialog), "shares-typo-located");

  /* Fixed: one more is needed. Another backup's share is named as such. */
  type_share (dialog, "Contact 1", share1);
  assert_status (dialog, "1 more share is needed");
  type_share (dialog, "Contact 2", foreign);
  assert_status (dialog, "Contact 2: Share 2 belongs to another repository");
  ui_test_screenshot (GTK_WIDGET (dialog), "shares-other-repository");
  type_share (dialog, "Contact 2", share1);
  assert_status (dialog, "Contact 2: This is the same share as one above");
  g_assert_false (gtk_widget_get_sensitive (action));

  type_share (dialog, "Contact 2", share3);
  assert_status (dialog, "All shares fit together");
  g_assert_true (gtk_widget_get_sensitive (action));
  ui_test_screenshot (GTK_WIDGET (dialog), "shares-ready");
  gtk_widget_activate (action);

  /* The combined key opened the backup like the recovery key would; the
   * offer to restore the files here is declined (every row unticked: Skip). */
  wait_page (assistant, "restore");
  {
    GObject *list = gtk_widget_get_template_child (GTK_WIDGET (assistant), COFFER_TYPE_SETUP_ASSISTANT,
                                                   "restore_list");
    for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (list)); row; row = gtk_widget_get_next_sibling (row))
      if (g_object_get_data (G_OBJECT (row), "check") != NULL)
        gtk_check_button_set_active (g_object_get_data (G_OBJECT (row), "check"), FALSE);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.next", NULL));
  }
  wait_page (assistant, "categories");
  g_assert_null (ui_test_find_window (COFFER_TYPE_SHARES_DIALOG));
  ui_test_screenshot (GTK_WIDGET (assistant), "shares-opened");

  /* Preferences: make new sheets from the recovery key typed now. */
  prefs = coffer_preferences_window_new (app);
  gtk_window_present (GTK_WINDOW (prefs));
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "security");
  shares_row = ui_test_find (GTK_WIDGET (prefs), COFFER_TYPE_SHARES_ROW, NULL);
  g_assert_nonnull (shares_row);
  ui_test_wait_for (row_says_two_of_three, shares_row, 30, "shares row");
  ui_test_screenshot (GTK_WIDGET (prefs), "shares-preferences");

  dialog = coffer_shares_dialog_new_make (GTK_WINDOW (prefs), app);
  gtk_window_present (GTK_WINDOW (dialog));
  wait_dialog_page (dialog, "make");
  gtk_editable_set_text (GTK_EDITABLE (gtk_widget_get_template_child (GTK_WIDGET (dialog), COFFER_TYPE_SHARES_DIALOG,
                                                                      "owner_entry")), "Ada Lovelace");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (dialog),
                                                                             COFFER_TYPE_SHARES_DIALOG,
                                                                             "count_spin")), 5);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (dialog),
                                                                             COFFER_TYPE_SHARES_DIALOG,
                                                                             "needed_spin")), 3);
  /* A wrong key makes nothing. */
  gtk_editable_set_text (GTK_EDITABLE (gtk_widget_get_template_child (GTK_WIDGET (dialog), COFFER_TYPE_SHARES_DIALOG,
                                                                      "key_entry")),
                         first_line (g_build_filename (tmp, "rk-other", NULL)));
  g_mkdir_with_parents (new_sheets, 0700);
  folder = g_file_new_for_path (new_sheets);
  coffer_shares_dialog_save_to (dialog, folder);
  wait_dialog_page (dialog, "make");
  assert_status (dialog, "not the recovery key of this backup");
  g_assert_false (g_file_test (g_build_filename (new_sheets, "share-1-of-5.pdf", NULL), G_FILE_TEST_EXISTS));

  gtk_editable_set_text (GTK_EDITABLE (gtk_widget_get_template_child (GTK_WIDGET (dialog), COFFER_TYPE_SHARES_DIALOG,
                                                                      "key_entry")), rk);
  ui_test_screenshot (GTK_WIDGET (dialog), "shares-make");
  coffer_shares_dialog_save_to (dialog, folder);
  wait_dialog_page (dialog, "made");
  ui_test_screenshot (GTK_WIDGET (dialog), "shares-made");
  for (guint i = 1; i <= 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("share-%u-of-5.pdf", i);
      g_autofree char *path = g_build_filename (new_sheets, name, NULL);
      GStatBuf st;

      g_assert_cmpint (g_stat (path, &st), ==, 0);
      g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
    }
  /* The key typed is not kept in the dialog. */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (gtk_widget_get_template_child (GTK_WIDGET (dialog),
                                                                                       COFFER_TYPE_SHARES_DIALOG,
                                                                                       "key_entry"))), ==, "");
  /* Saving again into the same folder writes nothing over the sheets. */
  gtk_editable_set_text (GTK_EDITABLE (gtk_widget_get_template_child (GTK_WIDGET (dialog), COFFER_TYPE_SHARES_DIALOG,
                                                                      "key_entry")), rk);
  {
    g_autofree char *first = g_build_filename (new_sheets, "share-1-of-5.pdf", NULL);
    g_autoptr(GBytes) before = NULL;
    g_autoptr(GBytes) after = NULL;
    g_autoptr(GMappedFile) map = g_mapped_file_new (first, FALSE, NULL);

    before = g_mapped_file_get_bytes (map);
    coffer_shares_dialog_save_to (dialog, folder);
    wait_dialog_page (dialog, "make");
    assert_status (dialog, "already has a file “share-1-of-5.pdf”");
    g_clear_pointer (&map, g_mapped_file_unref);
    map = g_mapped_file_new (first, FALSE, NULL);
    after = g_mapped_file_get_bytes (map);
    g_assert_true (g_bytes_equal (before, after));
  }
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_test_flush (GTK_WIDGET (prefs));

  /* Replacing the recovery key: Preferences says the shares stopped
   * working and offers new sheets. */
  {
    gboolean replaced = FALSE;
    GtkWidget *button;

    coffer_engine_replace_recovery_key_async (coffer_application_get_engine (app), NULL, replaced_cb, &replaced);
    ui_test_wait_for (flag_set, &replaced, 60, "recovery key replaced");
    coffer_shares_row_refresh (COFFER_SHARES_ROW (shares_row));
    ui_test_wait_for (row_says_replaced, shares_row, 30, "shares row after replacement");
    button = ui_test_find (shares_row, GTK_TYPE_BUTTON, "Make New Sheets…");
    g_assert_nonnull (button);
    ui_test_screenshot (GTK_WIDGET (prefs), "shares-preferences-replaced");
  }

  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  int ret;

  tmp = ui_test_init (&argc, &argv);
  home_a = g_build_filename (tmp, "computer-a", NULL);
  repo = g_build_filename (tmp, "shared-repo", NULL);
  g_mkdir_with_parents (home_a, 0700);
  g_test_add_func ("/ui/shares", test_shares);
  ret = ui_test_run (tmp);
  g_free (home_a);
  g_free (repo);
  return ret;
}
