/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Restore with more than one destination, when the first one is away: the
 * restore window opens on the second destination, says that the first
 * drive is not connected, lists the second one's backups (its own category
 * id, mapped from the first's), searches and restores a file byte-exact
 * from there; chosen again, the first one shows that it is not connected,
 * not an empty list that would look like "no backups"; plugged back, it is
 * read again. With one destination there is no chooser. Real repositories
 * (a folder renamed away is what an unmount looks like to Coffer), the
 * second one in a folder and, when the integration tests are built, on a
 * real Apache WebDAV server (the USB drive and the cloud); real backups,
 * real windows. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-destination-item.h"
#include "coffer-repository.h"
#include "coffer-restore-window.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"
#ifdef COFFER_TEST_SERVERS
#include "servers.h"
#endif

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;

/* Both destinations had their backup: the second one's status is set when
 * its turn is over, and the application is idle after the last. */
static gboolean
both_backed_up (gpointer data)
{
  CofferApplication *app = data;
  g_autoptr(CofferDestinationItem) item = g_list_model_get_item (G_LIST_MODEL (coffer_application_get_destinations (app)), 0);

  return !coffer_application_get_busy (app)
         && coffer_destination_item_get_status (item, NULL) == COFFER_DESTINATION_STATUS_OK;
}

static GObject *
child (CofferRestoreWindow *restore, const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (restore), COFFER_TYPE_RESTORE_WINDOW, name);
  g_assert_nonnull (object);
  return object;
}

/* The chooser's entry i as shown. */
static const char *
chooser_entry (CofferRestoreWindow *restore, guint i)
{
  GListModel *model = gtk_drop_down_get_model (GTK_DROP_DOWN (child (restore, "destination_dropdown")));

  g_assert_nonnull (model);
  g_assert_cmpuint (i, <, g_list_model_get_n_items (model));
  return gtk_string_list_get_string (GTK_STRING_LIST (model), i);
}

static const char *
visible_page (CofferRestoreWindow *restore)
{
  return gtk_stack_get_visible_child_name (GTK_STACK (child (restore, "stack")));
}

/* The snapshots of Photos in the repository at dir, read with the core. */
static guint
count_snapshots (const char *location, const CofferStoreOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (location, options, &error);
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
  return snapshots->len;
}

/* A repository at dir with a category Photos; returns its id there. */
static char *
make_repository (const char *location, const CofferStoreOptions *options, const char * const *paths)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (location, options, &error);
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(CofferRepository) repository = NULL;
  g_autoptr(CofferCategory) made = NULL;
  const char *excludes[] = { NULL };

  g_assert_no_error (error);
  repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
  g_assert_no_error (error);
  made = coffer_repository_add_category (repository, "Photos", COFFER_LEVEL_STANDARD, paths, excludes, NULL, &error);
  g_assert_no_error (error);
  return g_strdup (made->id);
}

static CofferRestoreWindow *
open_restore_window (CofferWindow *window)
{
  CofferRestoreWindow *restore;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.restore", NULL));
  restore = COFFER_RESTORE_WINDOW (ui_test_find_window (COFFER_TYPE_RESTORE_WINDOW));
  g_assert_nonnull (restore);
  return restore;
}

/* The first destination is a folder named first_name (the drive); second
 * is the location of the other one, opened with options. shot: a prefix
 * for the screenshots. */
static void
multi_restore (const char *first_name, const char *second, const CofferStoreOptions *options, const char *shot)
{
  g_autoptr(CofferApplication) app = ui_test_app_new ();
  g_autofree char *first = g_build_filename (tmp, first_name, NULL);
  g_autofree char *away = g_strconcat (first, "-unplugged", NULL);
  g_autofree char *source = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *lost = g_build_filename (source, "IMG_0001.jpg", NULL);
  g_autofree char *second_name = coffer_destination_name_for_location (second);
  g_autofree char *note = NULL;
  g_autofree char *unplugged_entry = g_strdup_printf ("%s — not connected", first_name);
  g_autofree char *unplugged_title = g_strdup_printf ("“%s” Is Not Connected", first_name);
  g_autofree char *shot_second = g_strconcat (shot, "-from-second", NULL);
  g_autofree char *shot_first = g_strconcat (shot, "-first-away", NULL);
  g_autofree char *first_id = NULL;
  g_autofree char *second_id = NULL;
  g_autofree char *original = NULL;
  g_autoptr(CofferCategoryItem) category = NULL;
  g_autoptr(CofferDestinationItem) item = NULL;
  gsize original_len = 0;
  const char *paths[] = { source, NULL };
  CofferRestoreWindow *restore;
  CofferWindow *window;
  GSettings *settings;
  GObject *unlock;

  coffer_test_rmtree (source);
  g_mkdir_with_parents (source, 0755);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *file = g_strdup_printf ("%s/IMG_%04u.jpg", source, i);
      coffer_test_write_random (file, 30000 + i * 1000, 40 + i);
    }
  g_assert_true (g_file_get_contents (lost, &original, &original_len, NULL));
  /* Two repositories, each with its own id of Photos. */
  first_id = make_repository (first, NULL, paths);
  second_id = make_repository (second, options, paths);
  g_assert_cmpstr (first_id, !=, second_id);

  settings = coffer_application_get_settings (app);
  category = coffer_category_item_new ("Photos", paths);
  coffer_category_item_set_id (category, first_id);
  g_list_store_append (coffer_application_get_categories (app), category);
  coffer_application_save_categories (app);
  g_settings_set_string (settings, "destination", first);
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

  /* One destination: the window looks as it always did, no chooser. */
  restore = open_restore_window (window);
  ui_test_wait_for (ui_test_restore_idle, restore, 60, "restore window with one destination");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (child (restore, "source_box"))));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (child (restore, "source_note_box"))));
  gtk_window_destroy (GTK_WINDOW (restore));

  /* The second destination, as Preferences keeps it; its Photos is found
   * by name at the first backup and mapped. */
  {
    g_autoptr(CofferDestination) dest = coffer_destination_new (second);
    item = coffer_destination_item_new (dest);
    g_list_store_append (coffer_application_get_destinations (app), item);
    coffer_application_save_destinations (app);
  }
  g_action_group_activate_action (G_ACTION_GROUP (app), "backup-now", NULL);
  ui_test_wait_for (both_backed_up, app, 120, "backup to both destinations");
  g_assert_cmpstr (coffer_destination_item_lookup_category (item, first_id), ==, second_id);
  g_assert_cmpuint (count_snapshots (first, NULL), ==, 1);
  g_assert_cmpuint (count_snapshots (second, options), ==, 1);
  /* A category made since, not backed up to the second destination yet. */
  {
    g_autofree char *documents = g_build_filename (g_get_home_dir (), "Documents", NULL);
    const char *doc_paths[] = { documents, NULL };
    const char *excludes[] = { NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(CofferStore) store = coffer_store_open (first, NULL, &error);
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
    g_autoptr(CofferCategory) made = NULL;
    g_autoptr(CofferCategoryItem) later = coffer_category_item_new ("Documents", doc_paths);

    g_assert_no_error (error);
    repository = coffer_repository_open (store, NULL, &error);
    g_assert_no_error (error);
    coffer_repository_set_password (repository, password);
    coffer_repository_unlock (repository, NULL, &error);
    g_assert_no_error (error);
    made = coffer_repository_add_category (repository, "Documents", COFFER_LEVEL_STANDARD, doc_paths, excludes,
                                           NULL, &error);
    g_assert_no_error (error);
    coffer_category_item_set_id (later, made->id);
    g_list_store_append (coffer_application_get_categories (app), later);
    coffer_application_save_categories (app);
  }

  /* The first drive is unplugged, and Coffer starts without it. */
  g_assert_cmpint (g_rename (first, away), ==, 0);
  coffer_application_open_repository (app, NULL);
  ui_test_wait_for (ui_test_app_is_error, app, 60, "first destination cannot be opened");
  g_assert_cmpint (g_unlink (lost), ==, 0);

  /* Restore still opens, on the second destination, and says why. */
  restore = open_restore_window (window);
  ui_test_wait_for (ui_test_restore_loaded, restore, 60, "the second destination's backup");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (child (restore, "source_box"))));
  g_assert_cmpuint (gtk_drop_down_get_selected (GTK_DROP_DOWN (child (restore, "destination_dropdown"))), ==, 1);
  g_assert_cmpstr (chooser_entry (restore, 0), ==, unplugged_entry);
  g_assert_cmpstr (chooser_entry (restore, 1), ==, second_name);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (child (restore, "source_note_box"))));
  note = g_strdup_printf ("The drive “%s” is not connected — showing the backup at “%s”.", first_name, second_name);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (child (restore, "source_note_label"))), ==, note);
  g_assert_cmpuint (coffer_restore_window_get_n_snapshots (restore), ==, 1);
  g_assert_cmpstr (coffer_restore_window_get_path (restore), ==, source);
  g_assert_cmpuint (g_list_model_get_n_items (coffer_restore_window_get_files (restore)), ==, 3);
  ui_test_flush (GTK_WIDGET (restore));
  ui_test_screenshot (GTK_WIDGET (restore), shot_second);

  /* A category not backed up there yet says so (its id is not mapped). */
  {
    g_autofree char *not_yet = g_strdup_printf ("This category has not been backed up to “%s” yet.", second_name);

    gtk_drop_down_set_selected (GTK_DROP_DOWN (child (restore, "category_dropdown")), 1);
    ui_test_wait_for (ui_test_restore_idle, restore, 60, "a category not backed up to the second destination");
    g_assert_cmpstr (visible_page (restore), ==, "empty");
    g_assert_cmpstr (adw_status_page_get_description (ADW_STATUS_PAGE (child (restore, "empty_page"))), ==, not_yet);
    gtk_drop_down_set_selected (GTK_DROP_DOWN (child (restore, "category_dropdown")), 0);
    ui_test_wait_for (ui_test_restore_loaded, restore, 60, "Photos again");
    g_assert_cmpstr (coffer_restore_window_get_path (restore), ==, source);
  }

  /* Search works on the chosen destination. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (child (restore, "search_button")), TRUE);
  gtk_editable_set_text (GTK_EDITABLE (child (restore, "search_entry")), "IMG_0002");
  g_signal_emit_by_name (child (restore, "search_entry"), "search-changed");
  ui_test_wait_for (ui_test_restore_loaded, restore, 60, "search in the second destination");
  g_assert_cmpuint (g_list_model_get_n_items (coffer_restore_window_get_files (restore)), ==, 1);
  gtk_editable_set_text (GTK_EDITABLE (child (restore, "search_entry")), "");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (child (restore, "search_button")), FALSE);

  /* Restored byte-exact from the second destination. */
  {
    const char *one[] = { lost, NULL };
    g_autofree char *got = NULL;
    gsize got_len = 0;

    g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (app), "backup-now"));
    coffer_restore_window_restore (restore, one, NULL);
    /* The restore runs on the second destination's engine: the
     * application is busy, so no backup starts there meanwhile. */
    g_assert_true (coffer_application_get_busy (app));
    g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (app), "backup-now"));
    ui_test_wait_for (ui_test_restore_finished, restore, 60, "restore from the second destination");
    g_assert_false (coffer_application_get_busy (app));
    g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");
    g_assert_true (g_file_get_contents (lost, &got, &got_len, NULL));
    g_assert_cmpmem (got, got_len, original, original_len);
  }
  /* Restore To… also reads the chosen destination. */
  {
    g_autofree char *target = g_strconcat (tmp, "/restored-", shot, NULL);
    g_autofree char *copy = g_build_filename (target, "IMG_0001.jpg", NULL);
    g_autofree char *got = NULL;
    const char *one[] = { lost, NULL };
    gsize got_len = 0;

    g_mkdir_with_parents (target, 0755);
    coffer_restore_window_restore (restore, one, target);
    ui_test_wait_for (ui_test_restore_finished, restore, 60, "restore into a folder from the second destination");
    g_assert_cmpstr (coffer_restore_window_get_result (restore), ==, "");
    g_assert_true (g_file_get_contents (copy, &got, &got_len, NULL));
    g_assert_cmpmem (got, got_len, original, original_len);
  }

  /* Chosen again, the first one says it is not connected: no list that
   * looks like "no backups". */
  gtk_drop_down_set_selected (GTK_DROP_DOWN (child (restore, "destination_dropdown")), 0);
  ui_test_wait_for (ui_test_restore_idle, restore, 60, "the first destination");
  g_assert_cmpstr (visible_page (restore), ==, "empty");
  g_assert_cmpstr (adw_status_page_get_title (ADW_STATUS_PAGE (child (restore, "empty_page"))), ==,
                   unplugged_title);
  g_test_message ("first: %s", adw_status_page_get_description (ADW_STATUS_PAGE (child (restore, "empty_page"))));
  g_assert_nonnull (strstr (adw_status_page_get_description (ADW_STATUS_PAGE (child (restore, "empty_page"))),
                            "not connected"));
  g_assert_cmpuint (coffer_restore_window_get_n_snapshots (restore), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (coffer_restore_window_get_files (restore)), ==, 0);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (child (restore, "source_note_box"))));
  ui_test_flush (GTK_WIDGET (restore));
  ui_test_screenshot (GTK_WIDGET (restore), shot_first);
  gtk_window_destroy (GTK_WINDOW (restore));

  /* Plugged back: the application opens it again, and the window reads
   * it first, as before. */
  g_assert_cmpint (g_rename (away, first), ==, 0);
  ui_test_wait_for (ui_test_app_is_ready, app, 60, "first destination opened again");
  restore = open_restore_window (window);
  ui_test_wait_for (ui_test_restore_loaded, restore, 60, "the first destination's backup");
  g_assert_cmpuint (gtk_drop_down_get_selected (GTK_DROP_DOWN (child (restore, "destination_dropdown"))), ==, 0);
  g_assert_cmpstr (chooser_entry (restore, 0), ==, first_name);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (child (restore, "source_note_box"))));

  /* Unplugged while the window is open: the first one, read from its open
   * repository, says so too. */
  g_assert_cmpint (g_rename (first, away), ==, 0);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (child (restore, "destination_dropdown")), 1);
  ui_test_wait_for (ui_test_restore_loaded, restore, 60, "the second destination, chosen");
  gtk_drop_down_set_selected (GTK_DROP_DOWN (child (restore, "destination_dropdown")), 0);
  ui_test_wait_for (ui_test_restore_idle, restore, 60, "the first destination, unplugged");
  g_assert_cmpstr (visible_page (restore), ==, "empty");
  g_assert_cmpstr (adw_status_page_get_title (ADW_STATUS_PAGE (child (restore, "empty_page"))), ==,
                   unplugged_title);
  g_assert_cmpstr (chooser_entry (restore, 0), ==, unplugged_entry);
  gtk_window_destroy (GTK_WINDOW (restore));
  g_assert_cmpint (g_rename (away, first), ==, 0);

  ui_test_quit (app);
}

static void
test_multi_restore_folders (void)
{
  g_autofree char *second = g_build_filename (tmp, "Second", NULL);

  multi_restore ("First", second, NULL, "multi-restore");
}

#ifdef COFFER_TEST_SERVERS
/* The USB drive and the cloud: the second destination on Apache mod_dav. */
static void
test_multi_restore_webdav (void)
{
  CofferTestServer *server = coffer_test_server_start (COFFER_TEST_SERVER_APACHE_BASIC);

  /* Its credentials as the keyring would give them. */
  coffer_test_server_set_env (server);
  multi_restore ("USB", coffer_test_server_get_location (server), coffer_test_server_get_options (server),
                 "multi-restore-webdav");
  coffer_test_server_stop (server);
}
#endif

/* One application per process (a second one could not register on the
 * test's session bus): meson runs each case on its own with -p. */
int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/multi-restore/first-unplugged", test_multi_restore_folders);
#ifdef COFFER_TEST_SERVERS
  g_test_add_func ("/ui/multi-restore/first-unplugged-second-on-webdav", test_multi_restore_webdav);
#endif
  return ui_test_run (tmp);
}
