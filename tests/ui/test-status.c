/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The main window's status row tells the truth about the last backup:
 * green "Last backed up" only after a backup that succeeded; an unplugged
 * drive is a calm warning that waits for the drive and backs up when it
 * is back; a destination that refuses writes is an error with the reason,
 * the time of the last good backup and a button that helps, and a desktop
 * notification is built when the window is closed. Real repository, real
 * windows; the drive is a folder renamed away and back (what an unmount
 * and a mount look like to Coffer), the read-only destination a read-only
 * bind mount (which refuses root) or, where mounting is not allowed, a
 * 0555 folder tree. */
#include <errno.h>
#include <sys/mount.h>
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-recovery-key.h"
#include "coffer-repository.h"
#include "coffer-setup-assistant.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;
static GPtrArray *bind_mounted;

static void
unmount_at_exit (void)
{
  for (guint i = 0; bind_mounted != NULL && i < bind_mounted->len; i++)
    umount2 (g_ptr_array_index (bind_mounted, i), MNT_DETACH);
}

static gboolean
state_not_error (gpointer data)
{
  CofferAppState state = coffer_application_get_state (data);
  return state == COFFER_APP_STATE_READY || state == COFFER_APP_STATE_LOCKED;
}

static gboolean
problem_is_disconnected (gpointer data)
{
  return coffer_application_get_problem (data, NULL) == COFFER_BACKUP_PROBLEM_DISCONNECTED &&
         !coffer_engine_get_busy (coffer_application_get_engine (data));
}

static GtkWidget *
child (CofferWindow *window, const char *name)
{
  return GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, name));
}

static void
make_read_only (const char *dir)
{
  if (mount (dir, dir, NULL, MS_BIND, NULL) == 0)
    {
      if (bind_mounted == NULL)
        {
          bind_mounted = g_ptr_array_new_with_free_func (g_free);
          atexit (unmount_at_exit);
        }
      g_ptr_array_add (bind_mounted, g_strdup (dir));
      g_assert_cmpint (mount (NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), ==, 0);
      return;
    }
  g_test_message ("cannot bind-mount (%s): using 0555 folders", g_strerror (errno));
  {
    g_autofree char *cmd = g_strdup_printf ("chmod -R a-w '%s'", dir);
    g_assert_cmpint (system (cmd), ==, 0);
  }
}

/* The status row's walk: each step picks up where the one before left the
 * app, its window and the drive. */
typedef struct
{
  CofferApplication *app;
  GSettings *settings;
  CofferWindow *window;
  GtkWidget *button;   /* the status row's button and icon */
  GtkWidget *icon;
  char *drive;         /* the repository, on a "drive" folder ... */
  char *away;          /* ... renamed here while unplugged */
  char *source;
} Status;

static void
find_window (Status *s)
{
  s->window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (s->window);
  s->button = child (s->window, "status_button");
  s->icon = child (s->window, "status_icon");
}

/* A repository with a Photos category on the drive, set up in the app's
 * settings, opened and unlocked in the main window. */
static void
step_open_and_unlock (Status *s)
{
  const char *paths[] = { s->source, NULL };
  g_autofree char *category_id = NULL;
  g_autoptr(CofferCategoryItem) item = NULL;
  g_autoptr(GError) error = NULL;
  GObject *unlock;

  g_mkdir_with_parents (s->source, 0755);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/IMG_%04u.jpg", s->source, i);
      coffer_test_write_random (file, 20000 + i * 1000, 10 + i);
    }
  {
    g_autoptr(CofferStore) store = coffer_store_open (s->drive, NULL, &error);
    g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
    g_autoptr(CofferSecret) key = NULL;
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferCategory) category = NULL;
    const char *excludes[] = { NULL };

    g_assert_no_error (error);
    repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
    g_assert_no_error (error);
    category = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, paths,
                                               excludes, NULL, &error);
    g_assert_no_error (error);
    category_id = g_strdup (category->id);
  }

  s->settings = coffer_application_get_settings (s->app);
  item = coffer_category_item_new ("Photos", paths);
  coffer_category_item_set_id (item, category_id);
  g_list_store_append (coffer_application_get_categories (s->app), item);
  coffer_application_save_categories (s->app);
  g_settings_set_string (s->settings, "destination", s->drive);
  g_settings_set_string (s->settings, "schedule", "hourly");
  g_settings_set_boolean (s->settings, "setup-done", TRUE);
  coffer_application_open_repository (s->app, NULL);
  g_application_activate (G_APPLICATION (s->app));
  find_window (s);
  ui_test_wait_for (ui_test_app_is_locked, s->app, 60, "locked");
  unlock = gtk_widget_get_template_child (GTK_WIDGET (s->window), COFFER_TYPE_WINDOW, "unlock_entry");
  gtk_editable_set_text (GTK_EDITABLE (unlock), PASSWORD);
  g_signal_emit_by_name (unlock, "entry-activated");
  ui_test_wait_for (ui_test_app_is_ready, s->app, 60, "ready");
}

/* The progress card while the scan still counts: the amount found so far,
 * no fraction of it and no time left; then, scan done and everything
 * counted done but not finished: no "less than a minute left". */
static void
step_progress_card (Status *s)
{
  CofferEngine *engine = coffer_application_get_engine (s->app);
  GtkWidget *details = child (s->window, "progress_details");
  CofferProgress progress = { .operation = "backup", .category = "Photos", .files_done = 40,
                              .files_total = 120, .bytes_done = 383 * 1000 * 1000,
                              .bytes_total = 420 * 1000 * 1000, .rate = 50e6, .eta_seconds = -1,
                              .scanning = TRUE };
  const char *text;

  g_signal_emit_by_name (engine, "progress", &progress);
  text = gtk_label_get_text (GTK_LABEL (details));
  g_test_message ("scanning: %s", text);
  g_assert_cmpstr (text, ==, "383.0\u00a0MB done · 420.0\u00a0MB found so far, still counting");
  gtk_widget_set_visible (child (s->window, "progress_group"), TRUE);
  ui_test_screenshot (GTK_WIDGET (s->window), "progress-scanning");

  progress.scanning = FALSE;
  progress.bytes_done = progress.bytes_total;
  g_signal_emit_by_name (engine, "progress", &progress);
  text = gtk_label_get_text (GTK_LABEL (details));
  g_test_message ("at 100 %%: %s", text);
  g_assert_null (strstr (text, "left"));
  g_assert_nonnull (strstr (text, "finishing"));
  ui_test_screenshot (GTK_WIDGET (s->window), "progress-finishing");
  gtk_widget_set_visible (child (s->window, "progress_group"), FALSE);
}

/* A good backup: green, "Last backed up", no button. */
static void
step_good_backup (Status *s)
{
  const CofferHistoryEntry *entry;

  ui_test_backup_now_and_wait (s->app);
  entry = coffer_history_get_entry (coffer_application_get_history (s->app), 0);
  g_assert_true (entry->success);
  g_assert_true (g_str_has_prefix (ui_test_status_title (s->window), "Last backed up"));
  g_assert_true (gtk_widget_has_css_class (s->icon, "success"));
  g_assert_false (gtk_widget_get_visible (s->button));
  ui_test_screenshot (GTK_WIDGET (s->window), "status-backed-up");
}

/* The drive is unplugged and the last good backup was two hours ago: a due
 * backup finds it missing. Calm: a warning, not an error, and no
 * notification; the next hourly try while it is still missing adds no new
 * history entry to shout about. */
static void
step_drive_unplugged (Status *s)
{
  const CofferHistoryEntry *entry;
  GNotification *before;
  guint n;

  g_settings_set_int64 (s->settings, "last-backup", g_get_real_time () / G_USEC_PER_SEC - 2 * 3600);
  g_assert_cmpint (g_rename (s->drive, s->away), ==, 0);
  before = coffer_application_get_last_notification (s->app);
  ui_test_backup_now_and_wait (s->app);
  g_assert_cmpint (coffer_application_get_problem (s->app, NULL), ==, COFFER_BACKUP_PROBLEM_DISCONNECTED);
  g_assert_cmpstr (ui_test_status_title (s->window), ==, "The drive “Backup” is not connected");
  g_assert_nonnull (strstr (ui_test_status_subtitle (s->window), "Last successful backup 2 hours ago"));
  g_assert_true (gtk_widget_has_css_class (s->icon, "warning"));
  g_assert_false (gtk_widget_has_css_class (s->icon, "error"));
  g_assert_false (gtk_widget_has_css_class (s->icon, "success"));
  g_assert_true (gtk_widget_get_visible (s->button));
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (s->button)), ==, "_Try Again");
  g_assert_true (coffer_application_get_last_notification (s->app) == before);
  /* The failed run did not put an empty folder where the drive was. */
  g_assert_false (g_file_test (s->drive, G_FILE_TEST_EXISTS));
  entry = coffer_history_get_entry (coffer_application_get_history (s->app), 0);
  g_assert_false (entry->success);
  g_assert_cmpstr (entry->summary, ==, "Not backed up: the drive “Backup” was not connected");
  g_assert_null (strstr (entry->details, "tamper"));
  ui_test_screenshot (GTK_WIDGET (s->window), "status-drive-not-connected");

  n = coffer_history_get_n_entries (coffer_application_get_history (s->app));
  g_action_group_activate_action (G_ACTION_GROUP (s->app), "backup-now", NULL);
  ui_test_wait_for (problem_is_disconnected, s->app, 60, "second try");
  g_assert_cmpuint (coffer_history_get_n_entries (coffer_application_get_history (s->app)), ==, n);
}

/* Plugged in again: the due backup runs by itself. */
static void
step_drive_back (Status *s)
{
  guint n = coffer_history_get_n_entries (coffer_application_get_history (s->app));
  const CofferHistoryEntry *entry;

  g_object_set_data (G_OBJECT (s->app), "want", GUINT_TO_POINTER (n + 1));
  g_assert_cmpint (g_rename (s->away, s->drive), ==, 0);
  ui_test_wait_for (ui_test_history_grew, s->app, 120, "backup after the drive came back");
  entry = coffer_history_get_entry (coffer_application_get_history (s->app), 0);
  g_assert_true (entry->success);
  g_assert_cmpint (coffer_application_get_problem (s->app, NULL), ==, COFFER_BACKUP_PROBLEM_NONE);
  g_assert_true (g_str_has_prefix (ui_test_status_title (s->window), "Last backed up"));
  g_assert_false (gtk_widget_get_visible (s->button));
  ui_test_screenshot (GTK_WIDGET (s->window), "status-drive-back");
}

/* A destination that refuses writes, with the window closed: an error
 * state with the reason and a notification; the window opened again shows
 * the error and a button to the preferences. */
static void
step_read_only_destination (Status *s)
{
  g_autofree char *new_file = g_strdup_printf ("%s/IMG_new.jpg", s->source);
  const CofferHistoryEntry *entry;
  GNotification *before;

  make_read_only (s->drive);
  coffer_test_write_random (new_file, 30000, 99);
  gtk_window_close (GTK_WINDOW (s->window));
  before = coffer_application_get_last_notification (s->app);
  ui_test_backup_now_and_wait (s->app);
  g_assert_true (coffer_application_get_last_notification (s->app) != before);
  g_assert_nonnull (coffer_application_get_last_notification (s->app));
  g_assert_cmpint (coffer_application_get_problem (s->app, NULL), ==, COFFER_BACKUP_PROBLEM_SETTINGS);
  entry = coffer_history_get_entry (coffer_application_get_history (s->app), 0);
  g_assert_false (entry->success);
  g_assert_cmpstr (entry->summary, ==, "Backup failed");
  g_assert_nonnull (strstr (entry->details, "does not allow writing"));
  g_assert_null (strstr (entry->details, "password"));

  g_application_activate (G_APPLICATION (s->app));
  find_window (s);
  g_assert_cmpstr (ui_test_status_title (s->window), ==, "The backup location does not accept the backup");
  g_assert_true (g_str_has_prefix (ui_test_status_subtitle (s->window), "The backup location does not allow writing.\n"));
  g_assert_nonnull (strstr (ui_test_status_subtitle (s->window), "Last successful backup"));
  g_assert_true (gtk_widget_has_css_class (s->icon, "error"));
  g_assert_true (gtk_widget_get_visible (s->button));
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (s->button)), ==, "Open _Preferences");
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (s->button)), ==, "app.preferences");
  ui_test_screenshot (GTK_WIDGET (s->window), "status-read-only");
}

/* Opening with the drive unplugged (Coffer starting while it is out): a
 * calm page, and the backup opens by itself when the drive is back. */
static void
step_open_while_unplugged (Status *s)
{
  GtkWidget *page = child (s->window, "error_page");

  if (bind_mounted != NULL)
    g_assert_cmpint (umount2 (s->drive, 0), ==, 0);
  else
    {
      g_autofree char *cmd = g_strdup_printf ("chmod -R u+w '%s'", s->drive);
      g_assert_cmpint (system (cmd), ==, 0);
    }
  g_assert_cmpint (g_rename (s->drive, s->away), ==, 0);
  coffer_application_open_repository (s->app, NULL);
  ui_test_wait_for (ui_test_app_is_error, s->app, 60, "opening fails");
  g_assert_cmpint (coffer_application_get_problem (s->app, NULL), ==, COFFER_BACKUP_PROBLEM_DISCONNECTED);
  g_assert_cmpstr (adw_status_page_get_title (ADW_STATUS_PAGE (page)), ==,
                   "The drive “Backup” is not connected");
  g_assert_cmpstr (adw_status_page_get_icon_name (ADW_STATUS_PAGE (page)), ==, "drive-harddisk-symbolic");
  ui_test_screenshot (GTK_WIDGET (s->window), "status-open-drive-not-connected");
  g_assert_cmpint (g_rename (s->away, s->drive), ==, 0);
  ui_test_wait_for (state_not_error, s->app, 60, "opened again when the drive is back");
}

static void
test_status_row (CofferApplication *app)
{
  g_autofree char *drive = g_build_filename (tmp, "Backup", NULL);
  g_autofree char *away = g_build_filename (tmp, "Backup-unplugged", NULL);
  g_autofree char *source = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  Status s = { .app = app, .drive = drive, .away = away, .source = source };

  step_open_and_unlock (&s);
  step_progress_card (&s);
  step_good_backup (&s);
  step_drive_unplugged (&s);
  step_drive_back (&s);
  step_read_only_destination (&s);
  step_open_while_unplugged (&s);
}

static gboolean
assistant_idle (gpointer data)
{
  return !coffer_setup_assistant_get_busy (data);
}

/* Sets the folder, runs Test Connection and returns the result row's text. */
static const char *
test_connection (CofferSetupAssistant *assistant, const char *folder, const char *screenshot)
{
  GObject *row = gtk_widget_get_template_child (GTK_WIDGET (coffer_setup_assistant_get_destination_page (assistant)),
                                                COFFER_TYPE_DESTINATION_PAGE, "test_row");
  const char *text;

  coffer_setup_assistant_set_folder (assistant, folder);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.test-connection", NULL));
  ui_test_wait_for (assistant_idle, assistant, 60, "connection test");
  text = adw_action_row_get_subtitle (ADW_ACTION_ROW (row));
  g_test_message ("%s: %s", folder, text);
  ui_test_screenshot (GTK_WIDGET (assistant), screenshot);
  return text;
}

/* Test Connection writes (create, read back, delete), so destinations
 * that refuse writes fail in the assistant with the real reason. */
static void
test_assistant_test_connection (CofferApplication *app)
{
  g_autofree char *ro = g_build_filename (tmp, "read-only-drive", NULL);
  g_autofree char *full = g_build_filename (tmp, "full-drive", NULL);
  g_autofree char *filler = g_build_filename (full, "filler", NULL);
  g_autofree char *gone = g_build_filename (tmp, "NoSuchDrive", "Backups", NULL);
  g_autofree char *good = g_build_filename (tmp, "good", NULL);
  CofferSetupAssistant *assistant;
  const char *text;

  g_mkdir_with_parents (ro, 0755);
  g_mkdir_with_parents (full, 0755);
  g_mkdir_with_parents (good, 0755);
  g_application_activate (G_APPLICATION (app));
  assistant = COFFER_SETUP_ASSISTANT (ui_test_find_window (COFFER_TYPE_SETUP_ASSISTANT));
  g_assert_nonnull (assistant);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.next", NULL));
  g_assert_cmpstr (coffer_setup_assistant_get_page (assistant), ==, "destination");

  /* Read-only: a read-only mount refuses root as well. */
  make_read_only (ro);
  text = test_connection (assistant, ro, "setup-test-read-only");
  g_assert_nonnull (strstr (text, "does not allow writing"));
  g_assert_null (strstr (text, "password"));

  /* Full: a tmpfs filled to the last block (a file size limit where
   * mounting is not allowed). */
  if (mount ("tmpfs", full, "tmpfs", 0, "size=256k") == 0)
    {
      static const char block[4096];
      FILE *f = fopen (filler, "w");
      g_assert_nonnull (f);
      while (fwrite (block, 1, sizeof block, f) == sizeof block && fflush (f) == 0)
        ;
      fclose (f);
      text = test_connection (assistant, full, "setup-test-full");
      umount2 (full, MNT_DETACH);
      g_assert_nonnull (strstr (text, "no space left"));
    }
  else
    g_test_message ("cannot mount a tmpfs: the full case runs in the core suite only");

  /* A drive that is not plugged in. */
  text = test_connection (assistant, gone, "setup-test-not-connected");
  g_assert_nonnull (strstr (text, "not connected"));

  /* And a folder that works, with no probe left behind. */
  text = test_connection (assistant, good, "setup-test-ok");
  g_assert_nonnull (strstr (text, "Connected"));
  {
    g_autoptr(GDir) dir = g_dir_open (good, 0, NULL);
    g_assert_null (g_dir_read_name (dir));
  }
  gtk_window_destroy (GTK_WINDOW (assistant));
}

/* One application per test program (it registers on the session bus):
 * first the assistant of an app that is not set up, then the same app
 * set up on a repository. */
static void
test_status (void)
{
  g_autoptr(CofferApplication) app = ui_test_app_new ();

  test_assistant_test_connection (app);
  test_status_row (app);
  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/status/assistant-and-status-row", test_status);
  return ui_test_run (tmp);
}
