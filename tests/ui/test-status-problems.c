/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The status row after backups that did not fully work, each reached
 * through the real engine on a real WebDAV server (Apache mod_dav, Basic
 * auth, tests/integration/servers.c):
 * - a file that cannot be read: the backup is stored, but the row is a
 *   warning naming the file, not the green "Last backed up";
 * - a category that fails while the other works (another backup of it
 *   holds its lock, as a running `coffer backup` does): a warning naming
 *   the category, with the time of the last complete backup;
 * - the server refuses the password (changed at the provider): an error
 *   with "Sign In Again", which asks for the password used there now,
 *   refuses a wrong one and clears the error with the right one;
 * - the server is down: a warning that it is not answering.
 * When the tests run as root, the process leaves out CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH from its effective set, so that a chmod 000 file is
 * unreadable as it is for a user. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-repository.h"
#include "coffer-window.h"
#include "servers.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;

/* Drops (or raises again) the capabilities that let root read any file,
 * in the calling thread's effective set; threads created afterwards
 * inherit it. The permitted set is kept, so they can be raised again. */
static void
set_dac_override (gboolean on)
{
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = { { 0 } };
  guint32 bits = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH);

  if (geteuid () != 0)
    return;
  g_assert_cmpint (syscall (SYS_capget, &header, data), ==, 0);
  if (on)
    data[0].effective |= bits & data[0].permitted;
  else
    data[0].effective &= ~bits;
  g_assert_cmpint (syscall (SYS_capset, &header, data), ==, 0);
}

static GtkWidget *
child (CofferWindow *window, const char *name)
{
  return GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, name));
}

static void
assert_green (CofferApplication *app, CofferWindow *window)
{
  g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_NONE);
  g_assert_true (g_str_has_prefix (ui_test_status_title (window), "Last backed up"));
  g_assert_true (gtk_widget_has_css_class (child (window, "status_icon"), "success"));
  g_assert_false (gtk_widget_get_visible (child (window, "status_button")));
}

static void
assert_style (CofferWindow *window, const char *style)
{
  GtkWidget *icon = child (window, "status_icon");

  g_assert_true (gtk_widget_has_css_class (icon, style));
  g_assert_false (gtk_widget_has_css_class (icon, "success"));
}

/* The category's lock file below $XDG_CACHE_HOME (…/<id>/lock). */
static char *
find_lock (const char *dir, const char *category_id)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      char *found;

      if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (strcmp (name, category_id) == 0)
        {
          g_autofree char *lock = g_build_filename (path, "lock", NULL);
          if (g_file_test (lock, G_FILE_TEST_EXISTS))
            return g_steal_pointer (&lock);
        }
      if ((found = find_lock (path, category_id)) != NULL)
        return found;
    }
  return NULL;
}

static gboolean
sign_in_asked (gpointer data)
{
  return coffer_window_get_sign_in_dialog (data) != NULL;
}

/* data: the status button; the connection test of a sign-in is over when
 * its action (win.sign-in) is enabled again. */
static gboolean
sign_in_done (gpointer data)
{
  return gtk_widget_get_sensitive (data);
}

static void
test_problems (void)
{
  g_autoptr(CofferApplication) app = ui_test_app_new ();
  CofferTestServer *server = coffer_test_server_start (COFFER_TEST_SERVER_APACHE_BASIC);
  g_autofree char *pictures = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *documents = g_build_filename (g_get_home_dir (), "Documents", NULL);
  g_autofree char *private_file = g_build_filename (pictures, "private.jpg", NULL);
  g_autofree char *photos_id = NULL;
  g_autofree char *documents_id = NULL;
  g_autofree char *lock = NULL;
  const char *photo_paths[] = { pictures, NULL };
  const char *document_paths[] = { documents, NULL };
  const CofferHistoryEntry *entry;
  GSettings *settings = coffer_application_get_settings (app);
  CofferWindow *window;
  GtkWidget *button;
  GObject *unlock;
  gint64 last_good;

  g_mkdir_with_parents (pictures, 0755);
  g_mkdir_with_parents (documents, 0755);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *photo = g_strdup_printf ("%s/IMG_%04u.jpg", pictures, i);
      g_autofree char *doc = g_strdup_printf ("%s/letter-%u.odt", documents, i);
      coffer_test_write_random (photo, 20000 + i * 1000, 10 + i);
      coffer_test_write_random (doc, 5000 + i * 100, 20 + i);
    }

  /* The repository on the server; the app reaches it with the account's
   * user name and password (from the environment: no keyring in tests). */
  coffer_test_server_set_env (server);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(CofferStore) store = coffer_store_open (coffer_test_server_get_location (server),
                                                      coffer_test_server_get_options (server), &error);
    g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
    g_autoptr(CofferSecret) key = NULL;
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferCategory) photos = NULL;
    g_autoptr(CofferCategory) docs = NULL;
    const char *excludes[] = { NULL };

    g_assert_no_error (error);
    repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
    g_assert_no_error (error);
    photos = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, photo_paths,
                                             excludes, NULL, &error);
    g_assert_no_error (error);
    docs = coffer_repository_add_category (repository, "Documents", COFFER_LEVEL_STANDARD, document_paths,
                                           excludes, NULL, &error);
    g_assert_no_error (error);
    photos_id = g_strdup (photos->id);
    documents_id = g_strdup (docs->id);
  }
  {
    g_autoptr(CofferCategoryItem) photos = coffer_category_item_new ("Photos", photo_paths);
    g_autoptr(CofferCategoryItem) docs = coffer_category_item_new ("Documents", document_paths);

    coffer_category_item_set_id (photos, photos_id);
    coffer_category_item_set_id (docs, documents_id);
    g_list_store_append (coffer_application_get_categories (app), photos);
    g_list_store_append (coffer_application_get_categories (app), docs);
  }
  coffer_application_save_categories (app);
  g_settings_set_string (settings, "destination", coffer_test_server_get_location (server));
  g_settings_set_string (settings, "destination-user", coffer_test_server_get_user (server));
  g_settings_set_string (settings, "schedule", "off");
  g_settings_set_boolean (settings, "setup-done", TRUE);
  coffer_application_open_repository (app, NULL);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);
  ui_test_wait_for (ui_test_app_is_locked, app, 60, "locked");
  unlock = gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "unlock_entry");
  gtk_editable_set_text (GTK_EDITABLE (unlock), PASSWORD);
  g_signal_emit_by_name (unlock, "entry-activated");
  ui_test_wait_for (ui_test_app_is_ready, app, 60, "ready");
  button = child (window, "status_button");

  ui_test_backup_now_and_wait (app);
  entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
  g_assert_true (entry->success);
  assert_green (app, window);

  /* 1. A file that cannot be read: backed up without it, and said so. */
  coffer_test_write_random (private_file, 3000, 77);
  g_assert_cmpint (g_chmod (private_file, 0), ==, 0);
  ui_test_backup_now_and_wait (app);
  entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
  g_test_message ("skipped: %s / %s", entry->summary, entry->details);
  g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_SKIPPED);
  g_assert_cmpstr (ui_test_status_title (window), ==, "Some files could not be backed up");
  g_assert_nonnull (strstr (ui_test_status_subtitle (window), "Skipped ~/Pictures/private.jpg"));
  g_assert_nonnull (strstr (ui_test_status_subtitle (window), g_strerror (EACCES)));
  g_assert_nonnull (strstr (ui_test_status_subtitle (window), "Everything else was backed up just now"));
  assert_style (window, "warning");
  g_assert_true (gtk_widget_get_visible (button));
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (button)), ==, "_Try Again");
  ui_test_screenshot (GTK_WIDGET (window), "status-files-skipped");
  /* With the window closed the same file again is not announced again;
   * another one is. */
  gtk_window_close (GTK_WINDOW (window));
  {
    GNotification *before = coffer_application_get_last_notification (app);
    g_autofree char *other = g_build_filename (pictures, "other.jpg", NULL);

    ui_test_backup_now_and_wait (app);
    g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_SKIPPED);
    g_assert_true (coffer_application_get_last_notification (app) == before);
    coffer_test_write_random (other, 2000, 78);
    g_assert_cmpint (g_chmod (other, 0), ==, 0);
    ui_test_backup_now_and_wait (app);
    g_assert_true (coffer_application_get_last_notification (app) != before);
    g_assert_cmpint (g_unlink (other), ==, 0);
  }
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);
  button = child (window, "status_button");
  g_assert_cmpstr (ui_test_status_title (window), ==, "Some files could not be backed up");
  /* Readable again: Try Again makes it green. */
  g_assert_cmpint (g_chmod (private_file, 0644), ==, 0);
  {
    guint n = coffer_history_get_n_entries (coffer_application_get_history (app));
    g_object_set_data (G_OBJECT (app), "want", GUINT_TO_POINTER (n + 1));
    g_assert_true (gtk_widget_activate (button));
    ui_test_wait_for (ui_test_history_grew, app, 120, "backup after Try Again");
  }
  assert_green (app, window);

  /* 2. One category fails, the other works: another backup of Documents
   * is running (it holds the category's lock). */
  lock = find_lock (g_getenv ("XDG_CACHE_HOME"), documents_id);
  g_assert_nonnull (lock);
  last_good = g_get_real_time () / G_USEC_PER_SEC - 3 * 3600;
  g_settings_set_int64 (settings, "last-backup", last_good);
  {
    int fd = open (lock, O_RDWR | O_CLOEXEC);

    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (flock (fd, LOCK_EX | LOCK_NB), ==, 0);
    ui_test_backup_now_and_wait (app);
    close (fd);
  }
  entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
  g_test_message ("partial: %s / %s", entry->summary, entry->details);
  g_assert_false (entry->success);
  g_assert_true (g_str_has_prefix (entry->summary, "Backed up 1 category"));
  g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_PARTIAL);
  g_assert_cmpstr (ui_test_status_title (window), ==, "Some categories could not be backed up");
  g_assert_nonnull (strstr (ui_test_status_subtitle (window), "Documents: Another backup of this category is running"));
  /* Not a successful backup: the time is still that of the last full one. */
  g_assert_cmpint (g_settings_get_int64 (settings, "last-backup"), ==, last_good);
  g_assert_nonnull (strstr (ui_test_status_subtitle (window), "Last successful backup 3 hours ago"));
  assert_style (window, "warning");
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (button)), ==, "_Try Again");
  ui_test_screenshot (GTK_WIDGET (window), "status-partial");
  ui_test_backup_now_and_wait (app);
  assert_green (app, window);

  /* 3. The password was changed at the provider: the server refuses the
   * one Coffer has. */
  coffer_test_server_change_password (server, "changed-at-the-provider");
  ui_test_backup_now_and_wait (app);
  entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
  g_test_message ("auth: %s / %s", entry->summary, entry->details);
  g_assert_false (entry->success);
  g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_AUTH);
  g_assert_cmpstr (ui_test_status_title (window), ==, "The backup server refused the sign-in");
  g_assert_nonnull (strstr (ui_test_status_subtitle (window),
                            "127.0.0.1 does not accept the user name or password Coffer has."));
  g_assert_nonnull (strstr (entry->details, "HTTP 401"));
  g_assert_nonnull (strstr (ui_test_status_subtitle (window), "Last successful backup just now"));
  assert_style (window, "error");
  g_assert_true (gtk_widget_get_visible (button));
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (button)), ==, "_Sign In Again");
  ui_test_screenshot (GTK_WIDGET (window), "status-auth-refused");

  /* Sign In Again asks for the password used there now: a wrong one is
   * refused and changes nothing; the new one is kept and clears the error. */
  for (guint attempt = 0; attempt < 2; attempt++)
    {
      GtkWidget *dialog, *user_entry, *secret_entry;

      g_assert_true (gtk_widget_activate (button));
      ui_test_wait_for (sign_in_asked, window, 10, "the sign-in question");
      dialog = coffer_window_get_sign_in_dialog (window);
      user_entry = ui_test_find (dialog, GTK_TYPE_ENTRY, NULL);
      secret_entry = ui_test_find (dialog, GTK_TYPE_PASSWORD_ENTRY, NULL);
      g_assert_nonnull (user_entry);
      g_assert_nonnull (secret_entry);
      g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (user_entry)), ==, coffer_test_server_get_user (server));
      gtk_editable_set_text (GTK_EDITABLE (secret_entry), attempt == 0 ? "a wrong guess" : "changed-at-the-provider");
      if (attempt == 0)
        ui_test_screenshot (dialog, "status-sign-in-again");
      adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "sign-in");
      g_assert_null (coffer_window_get_sign_in_dialog (window));
      g_assert_false (gtk_widget_get_sensitive (button));
      ui_test_wait_for (sign_in_done, button, 60, "sign-in attempt");
      if (attempt == 0)
        {
          g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_AUTH);
          g_assert_cmpstr (ui_test_status_title (window), ==, "The backup server refused the sign-in");
        }
    }
  ui_test_wait_for (ui_test_app_is_ready, app, 60, "opened with the new password");
  g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_NONE);
  ui_test_backup_now_and_wait (app);
  entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
  g_assert_true (entry->success);
  assert_green (app, window);

  /* 4. The server is down: a calm warning that it is not answering. */
  set_dac_override (TRUE);   /* to remove what the server's children wrote */
  coffer_test_server_stop (server);
  ui_test_backup_now_and_wait (app);
  entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
  g_test_message ("network: %s / %s", entry->summary, entry->details);
  g_assert_false (entry->success);
  g_assert_cmpint (coffer_application_get_problem (app, NULL), ==, COFFER_BACKUP_PROBLEM_NETWORK);
  g_assert_cmpstr (ui_test_status_title (window), ==, "127.0.0.1 is not answering");
  g_assert_nonnull (strstr (ui_test_status_subtitle (window), "Last successful backup just now"));
  assert_style (window, "warning");
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (button)), ==, "_Try Again");
  ui_test_screenshot (GTK_WIDGET (window), "status-server-not-answering");

  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  /* Before any thread exists, so that every thread inherits it. */
  set_dac_override (FALSE);
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/status/problems", test_problems);
  return ui_test_run (tmp);
}
