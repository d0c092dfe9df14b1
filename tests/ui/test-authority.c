/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Changes that weaken protection ask for authority typed now, checked by
 * the core: a new backup password and Advanced -> Standard each open a
 * dialog that says what the change means and takes the backup password or
 * the recovery key. A wrong one, or closing the dialog, changes nothing. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-authority-dialog.h"
#include "coffer-category-item.h"
#include "coffer-category-row.h"
#include "coffer-error.h"
#include "coffer-preferences-window.h"
#include "coffer-recovery-key.h"
#include "coffer-repository.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"
#define NEW_PASSWORD "another quite different passphrase 2025"

static char *tmp;

static gboolean
app_ready (gpointer data)
{
  return coffer_application_get_state (data) == COFFER_APP_STATE_READY;
}

static gboolean
dialog_answered (gpointer data)
{
  CofferAuthorityDialog *dialog = data;
  return !coffer_authority_dialog_get_busy (dialog);
}

static gboolean
no_authority_dialog (gpointer data)
{
  return ui_test_find_window (COFFER_TYPE_AUTHORITY_DIALOG) == NULL;
}

static gboolean
level_is (gpointer data)
{
  return coffer_category_item_get_level (data) == COFFER_LEVEL_STANDARD;
}

static gboolean
reencrypt_offered (gpointer data)
{
  return coffer_category_row_get_reencrypt_offered (data);
}

static gboolean
entry_empty (gpointer data)
{
  return *gtk_editable_get_text (GTK_EDITABLE (data)) == '\0';
}

/* Whether password opens the Photos category on "another computer". */
static gboolean
password_opens (const char *repo, const char *password)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
  g_autoptr(CofferRepository) repository = coffer_repository_open (store, NULL, &error);
  g_autoptr(CofferSecret) secret = coffer_secret_new_from_string (password);

  g_assert_no_error (error);
  return coffer_repository_check_authority (repository, secret, NULL, NULL, NULL);
}

static CofferAuthorityDialog *
authority_dialog (void)
{
  GtkWindow *window = ui_test_find_window (COFFER_TYPE_AUTHORITY_DIALOG);
  g_assert_nonnull (window);
  return COFFER_AUTHORITY_DIALOG (window);
}

/* Runs the CLI as computer B (its own home); returns stdout, or NULL
 * when it failed. */
static char *
run_b (const char *repo, const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE |
                                                                       G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) cli = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *output = NULL;
  g_autofree char *home_b = g_build_filename (tmp, "computer-b", NULL);
  g_autofree char *data = g_build_filename (home_b, ".local/share", NULL);
  g_autofree char *state = g_build_filename (home_b, ".local/state", NULL);

  g_mkdir_with_parents (home_b, 0700);
  g_subprocess_launcher_setenv (launcher, "HOME", home_b, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", state, TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_REPO", repo, TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_PASSWORD", PASSWORD, TRUE);
  g_ptr_array_add (argv, (gpointer) g_getenv ("COFFER_CLI"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  cli = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (cli, NULL, NULL, &output, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("B: coffer %s: %s", args[0], output);
  return g_subprocess_get_successful (cli) ? g_steal_pointer (&output) : NULL;
}

#define ARGS(...) ((const char * const []) { __VA_ARGS__, NULL })

/* Computer B asks to join. */
static void
request_join (const char *repo)
{
  g_autofree char *out = run_b (repo, ARGS ("devices", "join", "--name", "Laptop", "--no-wait"));
  g_assert_nonnull (out);
}

/* B's code, once A has answered (B reveals its nonce when asked). */
static gboolean
b_shows_code (gpointer data)
{
  g_autofree char *out = run_b (g_object_get_data (data, "repo"),
                                ARGS ("devices", "join", "--status", "--json"));
  const char *start = out ? strstr (out, "\"verification_code\":\"") : NULL;

  if (start == NULL)
    return FALSE;
  g_object_set_data_full (data, "code", g_strndup (start + 21, 7), g_free);
  return TRUE;
}

/* Whether B's request was approved (its device envelope exists). */
static gboolean
b_shows_code_approved (const char *repo)
{
  g_autofree char *out = run_b (repo, ARGS ("devices", "join", "--status"));
  return out != NULL && strstr (out, "approved") != NULL;
}

static gboolean
remove_button_shown (gpointer data)
{
  return ui_test_find (data, GTK_TYPE_BUTTON, NULL) != NULL
         && ui_test_find (data, GTK_TYPE_LABEL, "Laptop") != NULL
         && ui_test_find (data, GTK_TYPE_BUTTON, "_Approve…") == NULL;
}

static gboolean
devices_listed (gpointer data)
{
  return ui_test_find (data, GTK_TYPE_LABEL, "This computer") != NULL;
}

static gboolean
approve_button_shown (gpointer data)
{
  return ui_test_find (data, GTK_TYPE_BUTTON, "_Approve…") != NULL;
}

static void
test_downgrades_need_authority (void)
{
  g_autofree char *repo = g_build_filename (tmp, "repo", NULL);
  g_autofree char *source = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *docs = g_build_filename (g_get_home_dir (), "Documents", NULL);
  g_autofree char *file = g_build_filename (source, "IMG_0001.jpg", NULL);
  g_autofree char *recovery_key = NULL;
  g_autofree char *photos_id = NULL;
  g_autofree char *docs_id = NULL;
  g_autofree char *envelope = NULL;
  g_autoptr(CofferApplication) app = NULL;
  g_autoptr(CofferCategoryItem) photos = NULL;
  g_autoptr(CofferCategoryItem) documents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  const char *paths[] = { source, NULL };
  const char *docs_paths[] = { docs, NULL };
  const char *excludes[] = { NULL };
  CofferAuthorityDialog *dialog;
  CofferWindow *window;
  GtkWindow *prefs;
  GtkWidget *row;

  g_mkdir_with_parents (source, 0755);
  g_mkdir_with_parents (docs, 0755);
  coffer_test_write_random (file, 5000, 1);
  {
    g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferCategory) category = NULL;
    g_autoptr(CofferCategory) advanced = NULL;
    g_autoptr(CofferSecret) key = NULL;
    g_autoptr(CofferSecret) text = NULL;

    g_assert_no_error (error);
    repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
    g_assert_no_error (error);
    category = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, paths, excludes,
                                               NULL, &error);
    g_assert_no_error (error);
    advanced = coffer_repository_add_category (repository, "Documents", COFFER_LEVEL_ADVANCED, docs_paths,
                                               excludes, NULL, &error);
    g_assert_no_error (error);
    photos_id = g_strdup (category->id);
    docs_id = g_strdup (advanced->id);
    /* Photos gets a backup, then a newer key epoch while staying Standard
     * (as a device removal does): its older backups are then offered for
     * re-encryption. */
    {
      g_autoptr(CofferSnapshot) snapshot = coffer_backup_run (repository, photos_id, NULL, NULL, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (coffer_repository_set_level (repository, photos_id, COFFER_LEVEL_ADVANCED, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (coffer_repository_set_level (repository, photos_id, COFFER_LEVEL_STANDARD, NULL, &error));
      g_assert_no_error (error);
    }
    text = coffer_recovery_key_format (key);
    recovery_key = g_strdup ((const char *) text->data);
  }
  envelope = g_build_filename (repo, "categories", docs_id, "keys", "password", NULL);

  app = ui_test_app_new ();
  photos = coffer_category_item_new ("Photos", paths);
  coffer_category_item_set_id (photos, photos_id);
  documents = coffer_category_item_new ("Documents", docs_paths);
  coffer_category_item_set_id (documents, docs_id);
  coffer_category_item_set_level (documents, COFFER_LEVEL_ADVANCED);
  g_list_store_append (coffer_application_get_categories (app), photos);
  g_list_store_append (coffer_application_get_categories (app), documents);
  coffer_application_save_categories (app);
  g_settings_set_string (coffer_application_get_settings (app), "destination", repo);
  g_settings_set_boolean (coffer_application_get_settings (app), "setup-done", TRUE);
  coffer_application_open_repository (app, password);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  ui_test_wait_for (app_ready, app, 60, "repository open");

  /* 0. Re-encryption is offered for a Standard category with older epochs. */
  row = ui_test_find (GTK_WIDGET (window), COFFER_TYPE_CATEGORY_ROW, "Photos");
  g_assert_nonnull (row);
  ui_test_wait_for (reencrypt_offered, row, 60, "re-encryption offered");
  adw_expander_row_set_expanded (ADW_EXPANDER_ROW (row), TRUE);
  ui_test_screenshot (GTK_WIDGET (window), "reencrypt-offered-standard");

  /* 1. Advanced -> Standard: the dialog, a wrong password, then closing:
   * still Advanced, no password envelope. */
  row = ui_test_find (GTK_WIDGET (window), COFFER_TYPE_CATEGORY_ROW, "Documents");
  g_assert_nonnull (row);
  coffer_category_row_request_level (COFFER_CATEGORY_ROW (row), COFFER_LEVEL_STANDARD);
  dialog = authority_dialog ();
  g_assert_true (GTK_WIDGET (dialog) == coffer_category_row_get_dialog (COFFER_CATEGORY_ROW (row)));
  ui_test_screenshot (GTK_WIDGET (dialog), "authority-standard");
  coffer_authority_dialog_confirm (dialog, "not the password at all");
  ui_test_wait_for (dialog_answered, dialog, 60, "wrong password refused");
  g_assert_nonnull (coffer_authority_dialog_get_error (dialog));
  ui_test_screenshot (GTK_WIDGET (dialog), "authority-standard-wrong");
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_test_flush (GTK_WIDGET (window));
  g_assert_cmpint (coffer_category_item_get_level (documents), ==, COFFER_LEVEL_ADVANCED);
  g_assert_false (g_file_test (envelope, G_FILE_TEST_EXISTS));

  /* … and with the recovery key it happens. */
  coffer_category_row_request_level (COFFER_CATEGORY_ROW (row), COFFER_LEVEL_STANDARD);
  dialog = authority_dialog ();
  coffer_authority_dialog_confirm (dialog, recovery_key);
  ui_test_wait_for (level_is, documents, 60, "Standard protection");
  g_assert_true (g_file_test (envelope, G_FILE_TEST_EXISTS));

  /* 2. A new backup password: the current one (or the recovery key) is
   * asked; a wrong one leaves the old password in force. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  prefs = ui_test_find_window (COFFER_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (prefs);
  {
    GObject *pw = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW, "new_password");
    GObject *confirm = gtk_widget_get_template_child (GTK_WIDGET (prefs), COFFER_TYPE_PREFERENCES_WINDOW,
                                                      "new_password_confirm");

    gtk_editable_set_text (GTK_EDITABLE (pw), NEW_PASSWORD);
    gtk_editable_set_text (GTK_EDITABLE (confirm), NEW_PASSWORD);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (prefs), "prefs.change-password", NULL));
    dialog = authority_dialog ();
    ui_test_screenshot (GTK_WIDGET (dialog), "authority-password");
    coffer_authority_dialog_confirm (dialog, NEW_PASSWORD);
    ui_test_wait_for (dialog_answered, dialog, 60, "wrong authority refused");
    g_assert_nonnull (strstr (coffer_authority_dialog_get_error (dialog), "neither"));
    ui_test_screenshot (GTK_WIDGET (dialog), "authority-password-wrong");
    g_assert_true (password_opens (repo, PASSWORD));
    g_assert_false (password_opens (repo, NEW_PASSWORD));

    coffer_authority_dialog_confirm (dialog, PASSWORD);
    ui_test_wait_for (no_authority_dialog, NULL, 60, "authority accepted");
    ui_test_wait_for (entry_empty, pw, 60, "password change");
    g_assert_false (password_opens (repo, PASSWORD));
    g_assert_true (password_opens (repo, NEW_PASSWORD));
  }

  /* 3. Trusting a new computer: the code and the password or recovery
   * key; a wrong one approves nothing. */
  /* The request is made while Preferences is open (and has listed the
   * devices long ago): it must appear without reopening the window. */
  ui_test_wait_for (devices_listed, prefs, 60, "devices listed");
  request_join (repo);
  ui_test_wait_for (approve_button_shown, prefs, 60, "join request listed while Preferences is open");
  ui_test_screenshot (GTK_WIDGET (prefs), "devices-request-appears");
  g_signal_emit_by_name (ui_test_find (GTK_WIDGET (prefs), GTK_TYPE_BUTTON, "_Approve…"), "clicked");
  dialog = authority_dialog ();
  ui_test_screenshot (GTK_WIDGET (dialog), "authority-approve");
  coffer_authority_dialog_confirm (dialog, PASSWORD);   /* the old password: no longer right */
  ui_test_wait_for (dialog_answered, dialog, 60, "wrong authority refused");
  g_assert_nonnull (coffer_authority_dialog_get_error (dialog));
  g_assert_true (approve_button_shown (prefs));
  g_assert_false (b_shows_code_approved (repo));

  /* With the code from B and the current password it is trusted… */
  {
    g_autoptr(GObject) holder = g_object_new (G_TYPE_OBJECT, NULL);
    GtkWidget *code_entry = ui_test_find (GTK_WIDGET (dialog), GTK_TYPE_ENTRY, NULL);

    g_object_set_data_full (holder, "repo", g_strdup (repo), g_free);
    ui_test_wait_for (b_shows_code, holder, 60, "code on computer B");
    g_assert_nonnull (code_entry);
    gtk_editable_set_text (GTK_EDITABLE (code_entry), g_object_get_data (holder, "code"));
    coffer_authority_dialog_confirm (dialog, NEW_PASSWORD);
    ui_test_wait_for (no_authority_dialog, NULL, 60, "authority accepted");
    ui_test_wait_for (remove_button_shown, prefs, 60, "Laptop trusted");
    g_assert_true (b_shows_code_approved (repo));
  }

  /* … and removing it says what it costs (the dialog only: removing needs
   * the recovery key and is tested in tests/core/test-devices.c). */
  {
    GtkWidget *label = ui_test_find (GTK_WIDGET (prefs), GTK_TYPE_LABEL, "Laptop");
    GtkWidget *action_row = gtk_widget_get_ancestor (label, ADW_TYPE_ACTION_ROW);
    GtkWidget *trash = ui_test_find (action_row, GTK_TYPE_BUTTON, NULL);
    GtkWindow *remove_dialog;

    g_signal_emit_by_name (trash, "clicked");
    remove_dialog = ui_test_find_window (ADW_TYPE_MESSAGE_DIALOG);
    g_assert_nonnull (remove_dialog);
    g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (remove_dialog)), "upload everything"));
    ui_test_screenshot (GTK_WIDGET (remove_dialog), "remove-device-dialog");
    adw_message_dialog_response (ADW_MESSAGE_DIALOG (remove_dialog), "cancel");
  }
  gtk_window_destroy (prefs);
  ui_test_quit (app);
}

int
main (int argc, char **argv)
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/authority/downgrades", test_downgrades_need_authority);
  return ui_test_run (tmp);
}
