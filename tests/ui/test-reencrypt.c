/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Switching a category to Advanced with "Also re-encrypt older backups":
 * afterwards every pack of the category names the newest key epoch in its
 * trailer, and the CLI restores with the recovery key alone. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-category-row.h"
#include "coffer-recovery-key.h"
#include "coffer-recovery-wizard.h"
#include "coffer-repository.h"
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
history_has (gpointer data)
{
  CofferApplication *app = g_object_get_data (data, "app");
  const char *needle = g_object_get_data (data, "needle");
  CofferHistory *history = coffer_application_get_history (app);

  if (coffer_engine_get_busy (coffer_application_get_engine (app)))
    return FALSE;
  for (guint i = 0; i < coffer_history_get_n_entries (history); i++)
    if (strstr (coffer_history_get_entry (history, i)->summary, needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
wait_history (CofferApplication *app, const char *needle)
{
  g_autoptr(GObject) holder = g_object_new (G_TYPE_OBJECT, NULL);
  g_object_set_data (holder, "app", app);
  g_object_set_data (holder, "needle", (gpointer) needle);
  ui_test_wait_for (history_has, holder, 120, needle);
}

static GtkWindow *
wizard_window (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);
      if (gtk_widget_get_mapped (window) && ui_test_find (window, COFFER_TYPE_RECOVERY_WIZARD, NULL) != NULL)
        return GTK_WINDOW (window);
    }
  return NULL;
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

static gboolean
engine_busy (gpointer data)
{
  return coffer_engine_get_busy (data);
}

/* Collects the key epoch named in the trailer of every pack file under dir:
 * the last 12 bytes are (header length u32 LE, epoch u32 LE, "CFP1"). */
static void
collect_pack_epochs (const char *dir, GArray *epochs)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *data = NULL;
      gsize len = 0;
      guint32 epoch;

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          collect_pack_epochs (path, epochs);
          continue;
        }
      if (g_str_has_prefix (name, ".tmp"))
        continue;
      g_assert_true (g_file_get_contents (path, &data, &len, NULL));
      g_assert_cmpuint (len, >=, 12);
      g_assert_cmpmem (data + len - 4, 4, "CFP1", 4);
      memcpy (&epoch, data + len - 8, 4);
      epoch = GUINT32_FROM_LE (epoch);
      g_array_append_val (epochs, epoch);
    }
}

static GArray *
pack_epochs (const char *repo, const char *category_id)
{
  g_autofree char *dir = g_build_filename (repo, "categories", category_id, "packs", NULL);
  GArray *epochs = g_array_new (FALSE, FALSE, sizeof (guint32));

  collect_pack_epochs (dir, epochs);
  return epochs;
}

static void
test_reencrypt (void)
{
  g_autofree char *repo = g_build_filename (tmp, "repo", NULL);
  g_autofree char *source = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *target = g_build_filename (tmp, "restored", NULL);
  g_autofree char *restored = NULL;
  g_autofree char *recovery_key = NULL;
  g_autofree char *category_id = NULL;
  g_autoptr(CofferApplication) app = NULL;
  g_autoptr(CofferCategoryItem) item = NULL;
  g_autoptr(GArray) before = NULL;
  g_autoptr(GArray) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  const char *paths[] = { source, NULL };
  CofferWindow *window;
  GtkWidget *row, *dialog, *check;
  guint32 old_epoch;

  g_mkdir_with_parents (source, 0755);
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/IMG_%04u.jpg", source, i);
      coffer_test_write_random (file, 3000 + i * 70001, 7 + i);
    }
  {
    g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
    g_autoptr(CofferSecret) key = NULL;
    g_autoptr(CofferSecret) text = NULL;
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferCategory) category = NULL;
    const char *excludes[] = { NULL };

    g_assert_no_error (error);
    repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
    g_assert_no_error (error);
    category = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, paths, excludes,
                                               NULL, &error);
    g_assert_no_error (error);
    category_id = g_strdup (category->id);
    text = coffer_recovery_key_format (key);
    recovery_key = g_strdup ((const char *) text->data);
  }

  app = ui_test_app_new ();
  item = coffer_category_item_new ("Photos", paths);
  coffer_category_item_set_id (item, category_id);
  g_list_store_append (coffer_application_get_categories (app), item);
  coffer_application_save_categories (app);
  g_settings_set_string (coffer_application_get_settings (app), "destination", repo);
  g_settings_set_boolean (coffer_application_get_settings (app), "setup-done", TRUE);
  coffer_application_open_repository (app, password);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);
  ui_test_wait_for (app_ready, app, 60, "repository open");

  /* Two backups under the Standard epoch. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.backup-now", NULL));
  wait_history (app, "Backed up");
  before = pack_epochs (repo, category_id);
  g_assert_cmpuint (before->len, >, 0);
  old_epoch = g_array_index (before, guint32, 0);
  for (guint i = 0; i < before->len; i++)
    g_assert_cmpuint (g_array_index (before, guint32, i), ==, old_epoch);

  /* Advanced, with the re-encryption offered and on by default. */
  row = ui_test_find (GTK_WIDGET (window), COFFER_TYPE_CATEGORY_ROW, "Photos");
  g_assert_nonnull (row);
  g_assert_false (coffer_category_row_get_reencrypt_offered (COFFER_CATEGORY_ROW (row)));
  coffer_category_row_request_level (COFFER_CATEGORY_ROW (row), COFFER_LEVEL_ADVANCED);
  dialog = coffer_category_row_get_dialog (COFFER_CATEGORY_ROW (row));
  g_assert_nonnull (dialog);
  check = ui_test_find (dialog, GTK_TYPE_CHECK_BUTTON, NULL);
  g_assert_nonnull (check);
  g_assert_true (gtk_check_button_get_active (GTK_CHECK_BUTTON (check)));
  /* Said before: everything is uploaded again, how much, and that the
   * backups grow by it until the old ones are re-encrypted or pruned. */
  {
    CofferCategoryItem *photos = g_list_model_get_item (G_LIST_MODEL (coffer_application_get_categories (app)), 0);
    g_autofree char *size = g_format_size (coffer_category_item_get_size (photos));
    g_autofree char *amount = g_strdup_printf ("uploads everything again: about %s", size);
    const char *body = adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog));

    g_test_message ("%s", body);
    g_assert_cmpuint (coffer_category_item_get_size (photos), >, 0);
    g_assert_nonnull (strstr (body, amount));
    g_assert_nonnull (strstr (body, "grow by that much"));
    g_object_unref (photos);
  }
  ui_test_screenshot (dialog, "advanced-reencrypt-dialog");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "change");

  /* The recovery key is confirmed first (not tested in this session). */
  ui_test_wait_for (wizard_shown, NULL, 60, "recovery key dialog");
  coffer_recovery_wizard_verify (COFFER_RECOVERY_WIZARD (ui_test_find (GTK_WIDGET (wizard_window ()),
                                                                       COFFER_TYPE_RECOVERY_WIZARD, NULL)),
                                 recovery_key);
  ui_test_wait_for (level_advanced, item, 60, "level change");
  gtk_window_destroy (wizard_window ());
  ui_test_wait_for (engine_busy, coffer_application_get_engine (app), 30, "re-encryption start");
  ui_test_screenshot (GTK_WIDGET (window), "reencrypt-progress");
  wait_history (app, "re-encrypted");
  ui_test_screenshot (GTK_WIDGET (window), "reencrypt-done");
  {
    const CofferHistoryEntry *entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
    g_assert_true (entry->success);
  }

  after = pack_epochs (repo, category_id);
  g_assert_cmpuint (after->len, >, 0);
  for (guint i = 0; i < after->len; i++)
    g_assert_cmpuint (g_array_index (after, guint32, i), ==, g_array_index (after, guint32, 0));
  g_assert_cmpuint (g_array_index (after, guint32, 0), >, old_epoch);

  /* The CLI on "another computer" (no device key, no password): the
   * recovery key alone restores. */
  {
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE |
                                                                         G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_autoptr(GSubprocess) cli = NULL;
    g_autofree char *output = NULL;
    g_autofree char *other = g_build_filename (tmp, "other", NULL);

    g_mkdir_with_parents (other, 0700);
    g_subprocess_launcher_unsetenv (launcher, "COFFER_PASSWORD");
    g_subprocess_launcher_setenv (launcher, "HOME", other, TRUE);
    g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", other, TRUE);
    g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", other, TRUE);
    g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", other, TRUE);
    g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", other, TRUE);
    g_subprocess_launcher_setenv (launcher, "COFFER_REPO", repo, TRUE);
    g_subprocess_launcher_setenv (launcher, "COFFER_RECOVERY_KEY", recovery_key, TRUE);
    cli = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("COFFER_CLI"), "restore", "--category",
                                       "Photos", "--target", target, NULL);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (cli, NULL, NULL, &output, NULL, &error);
    g_assert_no_error (error);
    g_test_message ("coffer restore: %s", output);
    g_assert_true (g_subprocess_get_successful (cli));
  }
  restored = g_build_filename (target, source, NULL);
  coffer_test_assert_same_tree (source, restored, FALSE);

  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/reencrypt", test_reencrypt);
  return ui_test_run (tmp);
}
