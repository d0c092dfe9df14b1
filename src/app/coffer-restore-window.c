/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-restore"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-a11y.h"
#include "coffer-category-item.h"
#include "coffer-destination-item.h"
#include "coffer-error.h"
#include "coffer-file-item.h"
#include "coffer-restore-window.h"

/* What the window found out about a destination it tried to read. */
typedef enum
{
  SOURCE_UNKNOWN,
  SOURCE_OK,
  SOURCE_UNPLUGGED,     /* the drive or folder is not there */
  SOURCE_FAILED,        /* anything else: the server, the credentials… */
} SourceState;

#define NO_SOURCE G_MAXUINT

struct _CofferRestoreWindow
{
  AdwWindow           parent_instance;

  CofferApplication  *app;
  CofferEngine       *engine;          /* the chosen destination's */
  GPtrArray          *items;           /* CofferDestinationItem: the destinations besides the first */
  guint               source;          /* 0: the first destination, i: items[i - 1] */
  SourceState        *source_states;   /* one per destination */
  guint               fallback_from;   /* the destination that could not be read at opening, or NO_SOURCE */
  gboolean            choosing;        /* opening: goes on to the next destination that can be read */
  gboolean            updating_sources;
  GCancellable       *cancellable;     /* browsing; replaced on each navigation */
  GPtrArray          *category_ids;
  GPtrArray          *snapshots;       /* CofferSnapshot, newest first */
  GListStore         *files;
  GtkMultiSelection  *selection;
  char               *path;
  char               *result;
  GtkWidget          *dialog;
  char               *last_target;
  GStrv               last_paths;       /* what the last restore was asked for */
  CofferRestoreFlags  last_flags;
  char               *opened_uri;      /* COFFER_TESTING: what "Open Folder" would show */
  char               *mapped_from;     /* the old home the last restore left out, or NULL */
  char               *last_toast;      /* for tests */
  guint               withheld;        /* entries of the last restore without their privileges */
  gboolean            loading;
  gboolean            auto_descend;

  AdwToastOverlay    *toast_overlay;
  AdwWindowTitle     *window_title;
  GtkSearchBar       *search_bar;
  GtkToggleButton    *search_button;
  GtkSearchEntry     *search_entry;
  GtkCheckButton     *search_all_check;
  GHashTable         *latest;          /* category id -> GPtrArray of its snapshots, for searching all */
  guint               searches_pending;
  char               *pending_folder;  /* opened once the category of a search result is shown */
  char               *restore_category;   /* the category the last restore used */
  GPtrArray          *restore_snapshots;  /* with restore_category: [0] is used */
  GtkWidget          *source_box;
  GtkDropDown        *destination_dropdown;
  GtkWidget          *source_note_box;
  GtkLabel           *source_note_label;
  GtkDropDown        *category_dropdown;
  GtkDropDown        *snapshot_dropdown;
  GtkLabel           *path_label;
  GtkStack           *stack;
  GtkColumnView      *column_view;
  GtkSpinner         *loading_spinner;
  AdwStatusPage      *empty_page;
  GtkLabel           *status_label;
  GtkWidget          *where_box;
  GtkLabel           *where_label;
  GtkProgressBar     *progress_bar;
  GtkWidget          *cancel_button;
};

G_DEFINE_FINAL_TYPE (CofferRestoreWindow, coffer_restore_window, ADW_TYPE_WINDOW)

static void
show_toast (CofferRestoreWindow *self, AdwToast *toast)
{
  g_free (self->last_toast);
  self->last_toast = g_strdup (adw_toast_get_title (toast));
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void toast (CofferRestoreWindow *self, const char *message)
{
  show_toast (self, adw_toast_new (message));
}

static const char *current_category (CofferRestoreWindow *self);
static const char *engine_category (CofferRestoreWindow *self, const char *first_id);
static void progress_cb (CofferRestoreWindow *self, const CofferProgress *progress);
static void load_source (CofferRestoreWindow *self);
static void end_choosing (CofferRestoreWindow *self);
static void source_failed (CofferRestoreWindow *self, const GError *error);
static void source_ok (CofferRestoreWindow *self);

/* In an all-categories search each result carries its category; its latest
 * snapshot is in self->latest. */
static const char *
item_category (CofferRestoreWindow *self, CofferFileItem *item)
{
  const char *id = g_object_get_data (G_OBJECT (item), "category-id");
  return id ? id : current_category (self);
}

static const char *
current_category (CofferRestoreWindow *self)
{
  guint i = gtk_drop_down_get_selected (self->category_dropdown);
  return i < self->category_ids->len ? g_ptr_array_index (self->category_ids, i) : NULL;
}

static const CofferSnapshot *
current_snapshot (CofferRestoreWindow *self)
{
  guint i = gtk_drop_down_get_selected (self->snapshot_dropdown);
  return self->snapshots && i < self->snapshots->len ? g_ptr_array_index (self->snapshots, i) : NULL;
}

/* An empty list rather than none: GTK 4.8's drop-down keeps showing the
 * last entry without a model. */
static void
clear_snapshot_list (CofferRestoreWindow *self)
{
  g_autoptr(GtkStringList) none = gtk_string_list_new (NULL);

  gtk_drop_down_set_model (self->snapshot_dropdown, G_LIST_MODEL (none));
}

/* ---- where the original place is on this computer ---- */

static gboolean
path_is_under (const char *path, const char *dir)
{
  gsize n = strlen (dir);

  if (strcmp (dir, "/") == 0)
    return path[0] == '/';
  return strncmp (path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static gboolean
in_a_home (const char *path)
{
  return g_str_has_prefix (path, "/home/") || g_str_has_prefix (path, "/var/home/")
         || g_str_has_prefix (path, "/Users/") || g_str_has_prefix (path, "/root/");
}

/* Whether root is one of this computer's folders of the category. */
static gboolean
is_own_folder (CofferRestoreWindow *self, const char *category_id, const char *root)
{
  GListModel *categories = G_LIST_MODEL (coffer_application_get_categories (self->app));

  for (guint i = 0; i < g_list_model_get_n_items (categories); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (categories, i);
      const char * const *paths = coffer_category_item_get_paths (item);

      if (g_strcmp0 (coffer_category_item_get_id (item), category_id) != 0 || paths == NULL)
        continue;
      if (g_strv_contains (paths, root))
        return TRUE;
    }
  return FALSE;
}

/* For a restore to the original place (paths: NULL = the whole backup):
 * when the backed-up folders are neither in this home folder nor this
 * computer's own folders of the category, and are in another home folder
 * or not on this computer at all, they came from another computer or
 * another home, and their files go to the same place of this home folder
 * (/home/alice/Pictures → ~/Pictures, as after joining). Returns the old
 * home to leave out, or NULL to restore to the very same paths. */
static char *
home_mapping (CofferRestoreWindow *self, const char *category_id, const CofferSnapshot *snapshot,
              const char * const *paths)
{
  const char *home = g_get_home_dir ();
  g_autofree char *strip = NULL;

  if (snapshot == NULL || snapshot->paths == NULL || category_id == NULL)
    return NULL;
  for (guint i = 0; snapshot->paths[i] != NULL; i++)
    {
      const char *root = snapshot->paths[i];
      gboolean involved = paths == NULL;
      g_autofree char *old = NULL;

      for (guint j = 0; !involved && paths[j] != NULL; j++)
        involved = path_is_under (paths[j], root) || path_is_under (root, paths[j]);
      if (!involved)
        continue;
      if (path_is_under (root, home) || is_own_folder (self, category_id, root))
        return NULL;
      /* A folder outside any home that is here (a drive, /srv…; perhaps
       * since removed from the category) is restored where it is. */
      if (!in_a_home (root) && g_file_test (root, G_FILE_TEST_IS_DIR))
        return NULL;
      old = coffer_old_home_of (root);
      if (strip == NULL)
        strip = g_steal_pointer (&old);
      else if (strcmp (strip, old) != 0)
        return NULL;   /* several old homes: no single place to map them to */
    }
  return g_steal_pointer (&strip);
}

/* Says under the file list where Restore puts files of this backup, when
 * that is not the very same path. */
static void
update_where (CofferRestoreWindow *self)
{
  g_autofree char *strip = home_mapping (self, current_category (self), current_snapshot (self), NULL);
  g_autofree char *text = NULL;

  if (strip != NULL)
    {
      g_autofree char *from = g_filename_display_name (strip);
      /* Translators: %s is the home folder on the computer the backup came from, e.g. /home/alice */
      text = g_strdup_printf (_("This backup comes from another computer or home folder (%s). Restore puts "
                                "its files into the same folders of your home folder."), from);
    }
  gtk_label_set_text (self->where_label, text ? text : "");
  gtk_widget_set_visible (self->where_box, text != NULL);
}

static void
set_loading (CofferRestoreWindow *self, gboolean loading)
{
  self->loading = loading;
  if (loading)
    {
      gtk_spinner_start (self->loading_spinner);
      gtk_stack_set_visible_child_name (self->stack, "loading");
    }
  else
    gtk_spinner_stop (self->loading_spinner);
}

static GCancellable *
new_cancellable (CofferRestoreWindow *self)
{
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  return self->cancellable;
}

static void
show_error (CofferRestoreWindow *self, const GError *error)
{
  g_autofree char *message = coffer_engine_describe_error (error);
  g_autofree char *escaped = g_markup_escape_text (message, -1);

  adw_status_page_set_icon_name (self->empty_page, "dialog-warning-symbolic");
  adw_status_page_set_title (self->empty_page, _("This Backup Cannot Be Shown"));
  adw_status_page_set_description (self->empty_page, escaped);
  gtk_stack_set_visible_child_name (self->stack, "empty");
}

/* ---- browsing ---- */

static void
list_dir_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRestoreWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = coffer_engine_list_dir_finish (COFFER_ENGINE (source), result, &error);
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_loading (self, FALSE);
  if (entries == NULL)
    {
      show_error (self, error);
      return;
    }

  /* Skip the folders above the backed-up ones ("/", "home", "me"). */
  if (self->auto_descend && entries->len == 1 &&
      ((CofferTreeEntry *) g_ptr_array_index (entries, 0))->type == COFFER_NODE_DIR)
    {
      const CofferTreeEntry *only = g_ptr_array_index (entries, 0);
      g_autofree char *child = g_build_filename (self->path, only->name, NULL);
      const CofferSnapshot *snapshot = current_snapshot (self);
      gboolean is_root = FALSE;

      for (guint i = 0; snapshot && snapshot->paths && snapshot->paths[i]; i++)
        if (g_str_equal (snapshot->paths[i], self->path))
          is_root = TRUE;
      if (!is_root)
        {
          coffer_restore_window_open_folder (self, child);
          return;
        }
    }
  self->auto_descend = FALSE;

  for (guint i = 0; i < entries->len; i++)
    {
      const CofferTreeEntry *entry = g_ptr_array_index (entries, i);
      g_autofree char *path = g_build_filename (self->path, entry->name, NULL);
      g_ptr_array_add (items, coffer_file_item_new (path, entry));
    }
  g_list_store_splice (self->files, 0, g_list_model_get_n_items (G_LIST_MODEL (self->files)),
                       items->pdata, items->len);
  gtk_stack_set_visible_child_name (self->stack, "files");
}

void
coffer_restore_window_open_folder (CofferRestoreWindow *self, const char *path)
{
  g_autofree char *display = NULL;
  const CofferSnapshot *snapshot = current_snapshot (self);

  g_return_if_fail (COFFER_IS_RESTORE_WINDOW (self));
  if (snapshot == NULL)
    return;
  {
    char *copy = g_strdup (path && *path ? path : "/");  /* path may be self->path */
    g_free (self->path);
    self->path = copy;
  }
  if (g_str_has_prefix (self->path, g_get_home_dir ()) &&
      (self->path[strlen (g_get_home_dir ())] == '/' || self->path[strlen (g_get_home_dir ())] == '\0'))
    {
      g_autofree char *relative = g_strconcat ("~", self->path + strlen (g_get_home_dir ()), NULL);
      display = g_filename_display_name (relative);
    }
  else
    display = g_filename_display_name (self->path);
  gtk_label_set_text (self->path_label, display);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "restore.up", !g_str_equal (self->path, "/"));
  set_loading (self, TRUE);
  coffer_engine_list_dir_async (self->engine, engine_category (self, current_category (self)), snapshot, self->path,
                                new_cancellable (self), list_dir_cb, g_object_ref (self));
}

static void
up_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferRestoreWindow *self = COFFER_RESTORE_WINDOW (widget);
  g_autofree char *parent = g_path_get_dirname (self->path);

  self->auto_descend = FALSE;
  coffer_restore_window_open_folder (self, parent);
}

static void
row_activated_cb (CofferRestoreWindow *self, guint position)
{
  g_autoptr(CofferFileItem) item = g_list_model_get_item (G_LIST_MODEL (self->files), position);

  if (item == NULL)
    return;
  if (g_strcmp0 (item_category (self, item), current_category (self)) != 0)
    {
      /* A result of another category: show that category, then the folder. */
      const char *id = item_category (self, item);
      g_free (self->pending_folder);
      self->pending_folder = coffer_file_item_is_dir (item) ? g_strdup (coffer_file_item_get_path (item))
                                                           : g_path_get_dirname (coffer_file_item_get_path (item));
      gtk_search_bar_set_search_mode (self->search_bar, FALSE);
      for (guint i = 0; i < self->category_ids->len; i++)
        if (g_str_equal (g_ptr_array_index (self->category_ids, i), id))
          gtk_drop_down_set_selected (self->category_dropdown, i);
      return;
    }
  if (coffer_file_item_is_dir (item))
    {
      gtk_search_bar_set_search_mode (self->search_bar, FALSE);
      coffer_restore_window_open_folder (self, coffer_file_item_get_path (item));
    }
  else
    {
      g_autofree char *parent = g_path_get_dirname (coffer_file_item_get_path (item));
      if (!g_str_equal (parent, self->path))
        coffer_restore_window_open_folder (self, parent);
    }
}

static void
search_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRestoreWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) paths = coffer_engine_search_finish (COFFER_ENGINE (source), result, &error);
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_loading (self, FALSE);
  if (paths == NULL)
    {
      show_error (self, error);
      return;
    }
  for (guint i = 0; i < paths->len; i++)
    g_ptr_array_add (items, g_object_ref (g_ptr_array_index (paths, i)));
  g_list_store_splice (self->files, 0, g_list_model_get_n_items (G_LIST_MODEL (self->files)),
                       items->pdata, items->len);
  if (paths->len == 0)
    {
      adw_status_page_set_icon_name (self->empty_page, "system-search-symbolic");
      adw_status_page_set_title (self->empty_page, _("No Files Found"));
      adw_status_page_set_description (self->empty_page, _("No file or folder in this backup has that name."));
      gtk_stack_set_visible_child_name (self->stack, "empty");
    }
  else
    gtk_stack_set_visible_child_name (self->stack, "files");
}

typedef struct
{
  CofferRestoreWindow *self;
  char                *category_id;   /* the first destination's id, as the window knows categories */
  char                *own_id;        /* its id in the chosen destination */
  GCancellable        *cancellable;
} SearchAll;

static void
search_all_free (SearchAll *sa)
{
  g_object_unref (sa->self);
  g_free (sa->category_id);
  g_free (sa->own_id);
  g_object_unref (sa->cancellable);
  g_free (sa);
}

static void
search_all_done (CofferRestoreWindow *self)
{
  if (--self->searches_pending > 0)
    return;
  set_loading (self, FALSE);
  if (g_list_model_get_n_items (G_LIST_MODEL (self->files)) == 0)
    {
      adw_status_page_set_icon_name (self->empty_page, "system-search-symbolic");
      adw_status_page_set_title (self->empty_page, _("No Files Found"));
      adw_status_page_set_description (self->empty_page, _("No file or folder in any category has that name."));
      gtk_stack_set_visible_child_name (self->stack, "empty");
    }
  else
    gtk_stack_set_visible_child_name (self->stack, "files");
}

static void
search_all_results_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SearchAll *sa = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = coffer_engine_search_finish (COFFER_ENGINE (source), result, &error);

  if (!g_cancellable_is_cancelled (sa->cancellable))
    {
      for (guint i = 0; items != NULL && i < items->len; i++)
        {
          CofferFileItem *item = g_ptr_array_index (items, i);
          g_object_set_data_full (G_OBJECT (item), "category-id", g_strdup (sa->category_id), g_free);
          g_list_store_append (sa->self->files, item);
        }
      search_all_done (sa->self);
    }
  search_all_free (sa);
}

static void
search_all_snapshots_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SearchAll *sa = user_data;
  g_autoptr(GError) error = NULL;
  GPtrArray *snapshots = coffer_engine_list_snapshots_finish (COFFER_ENGINE (source), result, &error);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (sa->self->search_entry));

  if (g_cancellable_is_cancelled (sa->cancellable) || snapshots == NULL || snapshots->len == 0)
    {
      if (!g_cancellable_is_cancelled (sa->cancellable))
        search_all_done (sa->self);
      g_clear_pointer (&snapshots, g_ptr_array_unref);
      search_all_free (sa);
      return;
    }
  g_hash_table_replace (sa->self->latest, g_strdup (sa->category_id), snapshots);
  coffer_engine_search_async (COFFER_ENGINE (source), sa->own_id, g_ptr_array_index (snapshots, 0), text,
                              500, sa->cancellable, search_all_results_cb, sa);
}

/* Searches the latest backup of every category; results say their category. */
static void
search_all (CofferRestoreWindow *self)
{
  GCancellable *cancellable = new_cancellable (self);

  g_list_store_remove_all (self->files);
  set_loading (self, TRUE);
  /* One more than the searches, so that none can finish the search before
   * all were started; dropped below. */
  self->searches_pending = 1;
  for (guint i = 0; i < self->category_ids->len; i++)
    {
      const char *own = engine_category (self, g_ptr_array_index (self->category_ids, i));
      SearchAll *sa;

      if (own == NULL)
        continue;   /* never backed up to the chosen destination */
      sa = g_new0 (SearchAll, 1);
      sa->self = g_object_ref (self);
      sa->category_id = g_strdup (g_ptr_array_index (self->category_ids, i));
      sa->own_id = g_strdup (own);
      sa->cancellable = g_object_ref (cancellable);
      self->searches_pending++;
      coffer_engine_list_snapshots_async (self->engine, own, cancellable, search_all_snapshots_cb, sa);
    }
  search_all_done (self);
}

static void
search_changed_cb (CofferRestoreWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  const CofferSnapshot *snapshot = current_snapshot (self);

  if (snapshot == NULL)
    return;
  if (text == NULL || *text == '\0')
    {
      coffer_restore_window_open_folder (self, self->path);
      return;
    }
  if (gtk_check_button_get_active (self->search_all_check) && self->category_ids->len > 1)
    {
      search_all (self);
      return;
    }
  set_loading (self, TRUE);
  coffer_engine_search_async (self->engine, engine_category (self, current_category (self)), snapshot, text, 500,
                              new_cancellable (self), search_cb, g_object_ref (self));
}

/* ---- snapshots ---- */

static void
snapshot_selected_cb (CofferRestoreWindow *self)
{
  const CofferSnapshot *snapshot = current_snapshot (self);

  if (snapshot == NULL)
    return;
  update_where (self);
  if (self->pending_folder != NULL)
    {
      g_autofree char *folder = g_steal_pointer (&self->pending_folder);
      self->auto_descend = FALSE;
      coffer_restore_window_open_folder (self, folder);
      return;
    }
  self->auto_descend = TRUE;
  coffer_restore_window_open_folder (self, "/");
}

/* The label of snapshot i: date and minute, with the seconds when another
 * snapshot has the same minute, and the computer's name when the snapshots
 * come from more than one computer, so no two entries look the same. */
char *
coffer_restore_window_describe_snapshot (GPtrArray *snapshots, guint i)
{
  const CofferSnapshot *snapshot = g_ptr_array_index (snapshots, i);
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (snapshot->time / G_USEC_PER_SEC);
  gboolean same_minute = FALSE, several_hosts = FALSE, same_name = FALSE;
  g_autofree char *when = NULL;

  for (guint j = 0; j < snapshots->len; j++)
    {
      const CofferSnapshot *other = g_ptr_array_index (snapshots, j);
      if (j != i && other->time / (60 * G_USEC_PER_SEC) == snapshot->time / (60 * G_USEC_PER_SEC))
        same_minute = TRUE;
      /* Folders belong to a computer: two computers with the same host
       * name are still two computers. */
      if (g_strcmp0 (other->hostname, snapshot->hostname) != 0
          || g_strcmp0 (other->device_id, snapshot->device_id) != 0)
        several_hosts = TRUE;
      if (g_strcmp0 (other->hostname, snapshot->hostname) == 0
          && g_strcmp0 (other->device_id, snapshot->device_id) != 0)
        same_name = TRUE;
    }
  when = g_date_time_format (dt, same_minute ? "%x %H:%M:%S" : "%x %H:%M");
  if (same_name && snapshot->hostname != NULL && snapshot->device_id != NULL && *snapshot->device_id)
    /* Translators: a point in time, the computer's name and the start of its id,
     * for two computers with the same name */
    return g_strdup_printf (_("%s on %s (%.8s)"), when, snapshot->hostname, snapshot->device_id);
  if (several_hosts && snapshot->hostname != NULL)
    /* Translators: a point in time and the computer it was backed up from */
    return g_strdup_printf (_("%s on %s"), when, snapshot->hostname);
  return g_steal_pointer (&when);
}

static void
list_snapshots_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRestoreWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  GPtrArray *snapshots = coffer_engine_list_snapshots_finish (COFFER_ENGINE (source), result, &error);
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_loading (self, FALSE);
  g_clear_pointer (&self->snapshots, g_ptr_array_unref);
  self->snapshots = snapshots;
  if (snapshots == NULL)
    {
      clear_snapshot_list (self);
      /* The destination itself cannot be read (unplugged, server away,
       * credentials refused): say so, or go on to the next one. */
      if (error->domain == COFFER_STORE_ERROR)
        source_failed (self, error);
      else
        {
          /* The category's trouble, not the destination's: the next
           * destination would not do better. */
          self->choosing = FALSE;
          show_error (self, error);
        }
      return;
    }
  source_ok (self);
  for (guint i = 0; snapshots != NULL && i < snapshots->len; i++)
    {
      g_autofree char *when = coffer_restore_window_describe_snapshot (snapshots, i);
      g_autofree char *label = i == 0 ? g_strdup_printf (_("%s (latest)"), when) : g_strdup (when);
      gtk_string_list_append (names, label);
    }
  if (snapshots->len == 0)
    {
      clear_snapshot_list (self);
      g_list_store_remove_all (self->files);
      adw_status_page_set_icon_name (self->empty_page, "document-open-recent-symbolic");
      adw_status_page_set_title (self->empty_page, _("No Backups Yet"));
      adw_status_page_set_description (self->empty_page,
                                       _("When this category has been backed up, its files can be restored from here."));
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  gtk_drop_down_set_model (self->snapshot_dropdown, G_LIST_MODEL (names));
  gtk_drop_down_set_selected (self->snapshot_dropdown, 0);
  snapshot_selected_cb (self);
}

static void
category_selected_cb (CofferRestoreWindow *self)
{
  const char *id = current_category (self);
  const char *own;

  if (id == NULL || self->engine == NULL)
    return;
  if (coffer_engine_get_repository (self->engine) == NULL)
    {
      /* Not opened (yet): open it, or say why it cannot be. */
      load_source (self);
      return;
    }
  own = engine_category (self, id);
  if (own == NULL)
    {
      g_autofree char *name = NULL;
      g_autofree char *text = NULL;
      CofferDestinationItem *item = g_ptr_array_index (self->items, self->source - 1);

      /* Only another destination can lack one: it gets the categories at
       * its first backup. */
      name = coffer_destination_item_dup_name (item);
      end_choosing (self);
      g_cancellable_cancel (self->cancellable);
      set_loading (self, FALSE);
      g_clear_pointer (&self->snapshots, g_ptr_array_unref);
      clear_snapshot_list (self);
      g_list_store_remove_all (self->files);
      /* Translators: %s is the name of a destination (a drive, folder or server) */
      text = g_strdup_printf (_("This category has not been backed up to “%s” yet."), name);
      adw_status_page_set_icon_name (self->empty_page, "document-open-recent-symbolic");
      adw_status_page_set_title (self->empty_page, _("No Backups Yet"));
      adw_status_page_set_description (self->empty_page, text);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  set_loading (self, TRUE);
  coffer_engine_list_snapshots_async (self->engine, own, new_cancellable (self), list_snapshots_cb,
                                      g_object_ref (self));
}

/* ---- destinations: where the window reads from ---- */

static CofferDestinationItem *
source_item (CofferRestoreWindow *self, guint i)
{
  return i > 0 && i <= self->items->len ? g_ptr_array_index (self->items, i - 1) : NULL;
}

static const char *
engine_category (CofferRestoreWindow *self, const char *first_id)
{
  CofferDestinationItem *item = source_item (self, self->source);

  /* Category ids are per repository: the window knows the first
   * destination's, each other destination maps them to its own. */
  return item != NULL ? coffer_destination_item_lookup_category (item, first_id) : first_id;
}

static char *
source_name (CofferRestoreWindow *self, guint i)
{
  CofferDestinationItem *item = source_item (self, i);

  return item != NULL ? coffer_destination_item_dup_name (item) : coffer_application_dup_destination_name (self->app);
}

static gboolean
source_is_local (CofferRestoreWindow *self, guint i)
{
  CofferDestinationItem *item = source_item (self, i);
  g_autoptr(CofferDestination) first = item == NULL ? coffer_application_dup_destination (self->app) : NULL;
  g_autofree char *path = coffer_destination_local_path (item != NULL ? coffer_destination_item_get_location (item)
                                                                      : first->location);
  return path != NULL;
}

/* The chooser's entries: each destination's name and what is known of it. */
static void
update_sources (CofferRestoreWindow *self)
{
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);
  guint n = self->items->len + 1;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = source_name (self, i);
      g_autofree char *label = NULL;

      if (self->source_states[i] == SOURCE_UNPLUGGED)
        /* Translators: an entry of the "Restore from" chooser; %s is a drive, folder or server */
        label = g_strdup_printf (_("%s — not connected"), name);
      else if (self->source_states[i] == SOURCE_FAILED)
        /* Translators: an entry of the "Restore from" chooser; %s is a drive, folder or server */
        label = g_strdup_printf (_("%s — cannot be read"), name);
      else
        label = g_steal_pointer (&name);
      gtk_string_list_append (names, label);
    }
  self->updating_sources = TRUE;
  gtk_drop_down_set_model (self->destination_dropdown, G_LIST_MODEL (names));
  gtk_drop_down_set_selected (self->destination_dropdown, self->source);
  self->updating_sources = FALSE;
}

static void
set_engine (CofferRestoreWindow *self, CofferEngine *engine)
{
  if (self->engine == engine)
    return;
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_set_object (&self->engine, engine);
  g_signal_connect_object (self->engine, "progress", G_CALLBACK (progress_cb), self, G_CONNECT_SWAPPED);
}

/* At opening, once a destination is shown: when that is not the first
 * one, says why the window shows another. */
static void
end_choosing (CofferRestoreWindow *self)
{
  if (self->choosing)
    {
      self->choosing = FALSE;
      if (self->fallback_from != NO_SOURCE)
        {
          g_autofree char *away = source_name (self, self->fallback_from);
          g_autofree char *here = source_name (self, self->source);
          g_autofree char *text = NULL;

          if (self->source_states[self->fallback_from] != SOURCE_UNPLUGGED)
            /* Translators: both %s are names of destinations (a drive, folder or server) */
            text = g_strdup_printf (_("The backup at “%s” cannot be read — showing the backup at “%s”."), away, here);
          else if (source_is_local (self, self->fallback_from))
            /* Translators: both %s are names of destinations (a drive, folder or server) */
            text = g_strdup_printf (_("The drive “%s” is not connected — showing the backup at “%s”."), away, here);
          else
            /* Translators: both %s are names of destinations (a drive, folder or server) */
            text = g_strdup_printf (_("“%s” cannot be reached — showing the backup at “%s”."), away, here);
          gtk_label_set_text (self->source_note_label, text);
          gtk_widget_set_visible (self->source_note_box, TRUE);
        }
    }
}

/* The chosen destination answered. */
static void
source_ok (CofferRestoreWindow *self)
{
  gboolean changed = self->source_states[self->source] != SOURCE_OK;

  self->source_states[self->source] = SOURCE_OK;
  end_choosing (self);
  if (changed)
    update_sources (self);
}

/* The chosen destination cannot be read (error NULL: the first one, which
 * the application could not open). At opening the next one is tried;
 * otherwise the window says what is wrong instead of showing an empty list
 * that would look like "no backups". */
static void
source_failed (CofferRestoreWindow *self, const GError *error)
{
  g_autofree char *message = NULL;
  g_autofree char *name = source_name (self, self->source);
  gboolean unplugged;

  set_loading (self, FALSE);
  if (error == NULL)
    {
      const char *problem = NULL;

      unplugged = coffer_application_get_problem (self->app, &problem) == COFFER_BACKUP_PROBLEM_DISCONNECTED;
      message = g_strdup (coffer_application_get_state_message (self->app) ? coffer_application_get_state_message (self->app)
                          : problem ? problem : _("The backup could not be opened."));
    }
  else
    {
      unplugged = g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE);
      /* The title says it is not connected; the store's sentence says
       * which folder is missing. */
      message = unplugged ? g_strdup (error->message) : coffer_engine_describe_error (error);
    }
  g_debug ("Destination %u (%s) cannot be read: %s", self->source, name, message);
  self->source_states[self->source] = unplugged ? SOURCE_UNPLUGGED : SOURCE_FAILED;
  if (self->choosing && self->source + 1 < self->items->len + 1)
    {
      if (self->fallback_from == NO_SOURCE)
        self->fallback_from = self->source;
      self->source++;
      update_sources (self);
      load_source (self);
      return;
    }
  self->choosing = FALSE;
  update_sources (self);
  /* Nothing of another destination stays on screen: no point in time, no
   * folder, nothing to restore. */
  clear_snapshot_list (self);
  gtk_label_set_text (self->path_label, "");
  g_list_store_remove_all (self->files);
  gtk_widget_set_visible (self->where_box, FALSE);
  {
    g_autofree char *description = NULL;
    g_autofree char *title = NULL;

    if (unplugged)
      {
        /* Translators: a title; %s is the name of a drive or folder */
        title = g_strdup_printf (_("“%s” Is Not Connected"), name);
        description = self->items->len > 0
                      ? g_strdup_printf ("%s\n\n%s", message,
                                         _("Connect it to restore from it, or choose another place to restore "
                                           "from above."))
                      : g_strdup (message);
      }
    else
      description = g_strdup (message);
    adw_status_page_set_icon_name (self->empty_page, "dialog-warning-symbolic");
    adw_status_page_set_title (self->empty_page, title ? title : _("This Backup Cannot Be Shown"));
    {
      g_autofree char *escaped = g_markup_escape_text (description, -1);
      adw_status_page_set_description (self->empty_page, escaped);
    }
    gtk_stack_set_visible_child_name (self->stack, "empty");
  }
}

static void
source_open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRestoreWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_open_finish (COFFER_ENGINE (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && COFFER_ENGINE (source) == self->engine)
        source_failed (self, error);
      return;
    }
  if (COFFER_ENGINE (source) == self->engine)
    category_selected_cb (self);
}

static void
open_item (CofferRestoreWindow *self, CofferDestinationItem *item)
{
  g_autoptr(CofferDestination) dest = coffer_destination_item_dup_destination (item);
  GSettings *settings = coffer_application_get_settings (self->app);

  /* As the application opens it for a backup: with the backup password
   * of this session (or this computer's key), and the same upload limit,
   * since a backup started meanwhile uses the repository opened here. */
  dest->bandwidth_limit = (guint64) g_settings_get_uint (settings, "bandwidth-limit") * 1024;
  coffer_engine_open_async (coffer_destination_item_get_engine (item), dest,
                            coffer_engine_get_password (coffer_application_get_engine (self->app)),
                            self->cancellable, source_open_cb, g_object_ref (self));
}

static void
source_credentials_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRestoreWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) secret = coffer_engine_lookup_credentials_finish (COFFER_ENGINE (source), result, &error);
  CofferDestinationItem *item = source_item (self, self->source);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || item == NULL
      || coffer_destination_item_get_engine (item) != COFFER_ENGINE (source))
    return;
  if (secret == NULL)
    g_debug ("No credentials in the keyring: %s", error->message);
  else
    coffer_destination_item_set_secret (item, secret);
  g_object_set_data (G_OBJECT (item), "looked-up", GINT_TO_POINTER (TRUE));
  open_item (self, item);
}

/* Reads the chosen destination: its engine, opened when needed, then the
 * snapshots of the category shown. */
static void
load_source (CofferRestoreWindow *self)
{
  CofferDestinationItem *item = source_item (self, self->source);
  g_autoptr(CofferDestination) dest = NULL;
  GCancellable *cancellable = new_cancellable (self);

  g_clear_pointer (&self->snapshots, g_ptr_array_unref);
  clear_snapshot_list (self);
  g_list_store_remove_all (self->files);
  g_hash_table_remove_all (self->latest);
  g_clear_pointer (&self->pending_folder, g_free);
  gtk_label_set_text (self->path_label, "");
  gtk_widget_set_visible (self->where_box, FALSE);
  set_engine (self, item != NULL ? coffer_destination_item_get_engine (item) : coffer_application_get_engine (self->app));
  if (coffer_engine_get_repository (self->engine) != NULL)
    {
      category_selected_cb (self);
      return;
    }
  if (item == NULL)
    {
      source_failed (self, NULL);
      return;
    }
  set_loading (self, TRUE);
  dest = coffer_destination_item_dup_destination (item);
  if (dest->secret == NULL && coffer_destination_local_path (dest->location) == NULL
      && !g_object_get_data (G_OBJECT (item), "looked-up")
      && (g_str_has_prefix (dest->location, "webdav") || g_str_has_prefix (dest->location, "s3://")))
    {
      coffer_engine_lookup_credentials_async (self->engine, dest, cancellable, source_credentials_cb,
                                              g_object_ref (self));
      return;
    }
  open_item (self, item);
}

static void
destination_selected_cb (CofferRestoreWindow *self)
{
  guint i = gtk_drop_down_get_selected (self->destination_dropdown);

  if (self->updating_sources || i == GTK_INVALID_LIST_POSITION || i > self->items->len)
    return;
  /* Chosen by the user: this one, also when it cannot be read. */
  self->choosing = FALSE;
  self->fallback_from = NO_SOURCE;
  gtk_widget_set_visible (self->source_note_box, FALSE);
  self->source = i;
  load_source (self);
}

/* ---- restoring ---- */

static void restore_with_flags (CofferRestoreWindow *self, const char * const *paths, const char *target,
                                CofferRestoreFlags flags);

static void
conflict_response_cb (AdwMessageDialog *dialog, const char *response, CofferRestoreWindow *self)
{
  const char * const *conflicts = g_object_get_data (G_OBJECT (dialog), "conflicts");

  self->dialog = NULL;
  (void) conflicts;
  /* The same request again: files now equal are left alone, so only the
   * conflicting ones change (the conflict list holds places on disk, not
   * paths inside the backup). */
  if (g_strcmp0 (response, "replace") == 0)
    {
      g_auto(GStrv) paths = g_strdupv (self->last_paths);
      restore_with_flags (self, (const char * const *) paths, self->last_target,
                          (self->last_flags & ~COFFER_RESTORE_KEEP_BOTH) | COFFER_RESTORE_OVERWRITE);
    }
  else if (g_strcmp0 (response, "keep-both") == 0)
    {
      g_auto(GStrv) paths = g_strdupv (self->last_paths);
      restore_with_flags (self, (const char * const *) paths, self->last_target,
                          (self->last_flags & ~COFFER_RESTORE_OVERWRITE) | COFFER_RESTORE_KEEP_BOTH);
    }
  else
    {
      g_free (self->result);
      self->result = g_strdup ("");
      toast (self, _("Restored. Newer files on this computer were kept."));
    }
}

static void
read_only_response_cb (AdwMessageDialog *dialog, const char *response, CofferRestoreWindow *self)
{
  self->dialog = NULL;
  if (g_strcmp0 (response, "restore-to") == 0)
    gtk_widget_activate_action (GTK_WIDGET (self), "restore.restore-to", NULL);
}

static void
restore_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRestoreWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), FALSE);
  gtk_widget_set_visible (self->cancel_button, FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "restore.restore", TRUE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "restore.restore-to", TRUE);
  gtk_label_set_text (self->status_label, "");
  update_where (self);

  if (coffer_engine_restore_finish (COFFER_ENGINE (source), result, &conflicts, &error))
    {
      guint withheld = coffer_engine_restore_get_withheld (COFFER_ENGINE (source), result);
      g_autofree char *text = NULL;
      const char *what;
      AdwToast *done;

      g_free (self->result);
      self->result = g_strdup ("");
      if (self->last_flags & COFFER_RESTORE_KEEP_BOTH)
        what = _("Restored. Your newer files were kept; the backup’s copies are beside them, "
                 "marked “(restored)”.");
      else if (self->mapped_from != NULL)
        what = _("Files restored into your home folder.");
      else
        what = _("Files restored");
      self->withheld = withheld;
      if (withheld > 0)
        {
          /* Translators: after "Files restored." */
          g_autofree char *privileges = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                                      "%u file without its privileges.",
                                                                      "%u files without their privileges.",
                                                                      withheld),
                                                         withheld);
          text = g_strdup_printf ("%s %s", what, privileges);
        }
      else
        text = g_strdup (what);
      done = adw_toast_new (text);
      if (withheld > 0)
        {
          adw_toast_set_button_label (done, _("_Details"));
          adw_toast_set_action_name (done, "restore.show-withheld");
        }
      else if (self->last_target != NULL)
        {
          adw_toast_set_button_label (done, _("_Open Folder"));
          adw_toast_set_action_name (done, "restore.open-target");
        }
      show_toast (self, done);
      return;
    }
  if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEWER_FILE) && conflicts && conflicts->len > 0)
    {
      g_autoptr(GString) body = g_string_new (_("These files were changed on this computer after the backup. "
                                                "Everything else has been restored.\n"));
      GtkWidget *dialog;

      for (guint i = 0; i < conflicts->len && i < 8; i++)
        {
          g_autofree char *name = g_filename_display_name (g_ptr_array_index (conflicts, i));
          g_string_append_printf (body, "\n%s", name);
        }
      if (conflicts->len > 8)
        g_string_append_printf (body, g_dngettext (GETTEXT_PACKAGE, "\n…and %u more file", "\n…and %u more files",
                                                   conflicts->len - 8), conflicts->len - 8);
      dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Keep the Newer Files?"), body->str);
      adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                        "keep", _("_Keep Newer Files"),
                                        "keep-both", _("Keep _Both"),
                                        "replace", _("_Replace with Backup"), NULL);
      adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "replace", ADW_RESPONSE_DESTRUCTIVE);
      adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
      adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
      g_ptr_array_add (conflicts, NULL);
      g_object_set_data_full (G_OBJECT (dialog), "conflicts", g_strdupv ((char **) conflicts->pdata),
                              (GDestroyNotify) g_strfreev);
      g_signal_connect (dialog, "response", G_CALLBACK (conflict_response_cb), self);
      self->dialog = dialog;
      gtk_window_present (GTK_WINDOW (dialog));
      return;
    }
  if (self->last_target == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY))
    {
      /* Typically inside the Flatpak sandbox, where only Pictures and
       * Documents can be written (flatpak/README.md). */
      GtkWidget *dialog;

      g_free (self->result);
      self->result = g_strdup (_("The original place is read-only."));
      dialog = adw_message_dialog_new (GTK_WINDOW (self), _("The Original Place Is Read-Only"),
                                       _("Coffer may not write to the folder these files came from. Inside "
                                         "the Flatpak sandbox only your Pictures and Documents folders can be "
                                         "written to.\n\nUse “Restore To…” to put the files into a folder you "
                                         "choose, then move them where they belong."));
      adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                        "close", _("_Close"),
                                        "restore-to", _("_Restore To…"), NULL);
      adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "restore-to",
                                                  ADW_RESPONSE_SUGGESTED);
      adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "restore-to");
      adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
      g_signal_connect (dialog, "response", G_CALLBACK (read_only_response_cb), self);
      self->dialog = dialog;
      gtk_window_present (GTK_WINDOW (dialog));
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      g_autofree char *text = g_strdup_printf (_("Restoring failed: %s"), message);
      g_free (self->result);
      self->result = g_strdup (message);
      toast (self, text);
    }
  else
    {
      g_free (self->result);
      self->result = g_strdup (_("Cancelled"));
    }
}

static void
progress_cb (CofferRestoreWindow *self, const CofferProgress *progress)
{
  g_autofree char *done = g_format_size (progress->bytes_done);
  g_autofree char *text = NULL;

  if (g_strcmp0 (progress->operation, "restore") != 0)
    return;
  if (progress->bytes_total > 0)
    {
      g_autofree char *total = g_format_size (progress->bytes_total);
      gtk_progress_bar_set_fraction (self->progress_bar, (double) progress->bytes_done / progress->bytes_total);
      /* Translators: "Restoring 1.2 MB of 4.5 MB" */
      text = g_strdup_printf (_("Restoring %s of %s"), done, total);
    }
  else
    {
      gtk_progress_bar_pulse (self->progress_bar);
      text = g_strdup_printf (_("Restoring %s"), done);
    }
  gtk_label_set_text (self->status_label, text);
}

static void
restore_with_flags (CofferRestoreWindow *self, const char * const *paths, const char *target,
                    CofferRestoreFlags flags)
{
  const CofferSnapshot *snapshot = self->restore_snapshots ? g_ptr_array_index (self->restore_snapshots, 0)
                                                          : current_snapshot (self);
  const char *category = self->restore_category ? self->restore_category : current_category (self);
  g_autofree char *strip = NULL;

  if (snapshot == NULL)
    return;
  /* To the original place: on this computer that may be below this home. */
  if (target == NULL)
    strip = home_mapping (self, category, snapshot, paths);
  g_free (self->mapped_from);
  self->mapped_from = g_strdup (strip);
  g_clear_pointer (&self->result, g_free);
  if (target != self->last_target)
    {
      g_free (self->last_target);
      self->last_target = g_strdup (target);
    }
  if ((const char * const *) self->last_paths != paths)
    {
      g_strfreev (self->last_paths);
      self->last_paths = g_strdupv ((char **) paths);
    }
  /* Restore To… puts the selection itself into the chosen folder. */
  if (target != NULL)
    flags |= COFFER_RESTORE_INTO_TARGET;
  self->last_flags = flags;
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), TRUE);
  gtk_widget_set_visible (self->cancel_button, TRUE);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_label_set_text (self->status_label, _("Preparing…"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "restore.restore", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "restore.restore-to", FALSE);
  /* The chosen destination's engine, with its own id of the category. */
  if (strip != NULL)
    coffer_engine_restore_mapped_async (self->engine, engine_category (self, category), snapshot, paths,
                                        g_get_home_dir (), strip, flags, restore_cb, g_object_ref (self));
  else
    coffer_engine_restore_async (self->engine, engine_category (self, category), snapshot, paths, target, flags,
                                 restore_cb, g_object_ref (self));
}

/* The category of the selection (results of an all-categories search may
 * belong to another one than shown), or "" when it spans several. */
static const char *
selected_category (CofferRestoreWindow *self)
{
  g_autoptr(GtkBitset) selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  const char *category = NULL;
  GtkBitsetIter iter;
  guint position;

  if (gtk_bitset_iter_init_first (&iter, selected, &position))
    do
      {
        g_autoptr(CofferFileItem) item = g_list_model_get_item (G_LIST_MODEL (self->files), position);
        const char *id = item_category (self, item);
        if (category != NULL && g_strcmp0 (category, id) != 0)
          return "";
        category = id;
      }
    while (gtk_bitset_iter_next (&iter, &position));
  return category;
}

static GStrv
selected_paths (CofferRestoreWindow *self)
{
  g_autoptr(GtkBitset) selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  GtkBitsetIter iter;
  guint position;

  if (gtk_bitset_iter_init_first (&iter, selected, &position))
    do
      {
        g_autoptr(CofferFileItem) item = g_list_model_get_item (G_LIST_MODEL (self->files), position);
        g_strv_builder_add (builder, coffer_file_item_get_path (item));
      }
    while (gtk_bitset_iter_next (&iter, &position));
  return g_strv_builder_end (builder);
}

static void
everything_response_cb (AdwMessageDialog *dialog, const char *response, CofferRestoreWindow *self)
{
  const char * const *paths = g_object_get_data (G_OBJECT (dialog), "paths");
  const char *target = g_object_get_data (G_OBJECT (dialog), "target");

  self->dialog = NULL;
  if (g_strcmp0 (response, "restore") == 0)
    restore_with_flags (self, paths, target, COFFER_RESTORE_DEFAULT);
}

void
coffer_restore_window_restore (CofferRestoreWindow *self, const char * const *paths, const char *target)
{
  g_auto(GStrv) selection = NULL;
  const char *current[] = { self->path, NULL };
  g_autofree char *where = NULL;
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  g_return_if_fail (COFFER_IS_RESTORE_WINDOW (self));
  if (paths != NULL)
    {
      restore_with_flags (self, paths, target, COFFER_RESTORE_DEFAULT);
      return;
    }
  selection = selected_paths (self);
  if (selection[0] != NULL)
    {
      const char *category = selected_category (self);
      GPtrArray *snapshots = category ? g_hash_table_lookup (self->latest, category) : NULL;

      if (category != NULL && *category == '\0')
        {
          toast (self, _("Select files of one category at a time."));
          return;
        }
      g_clear_pointer (&self->restore_category, g_free);
      g_clear_pointer (&self->restore_snapshots, g_ptr_array_unref);
      if (category != NULL && g_strcmp0 (category, current_category (self)) != 0 && snapshots != NULL)
        {
          /* From an all-categories search: that category's latest backup. */
          self->restore_category = g_strdup (category);
          self->restore_snapshots = g_ptr_array_ref (snapshots);
        }
      restore_with_flags (self, (const char * const *) selection, target, COFFER_RESTORE_DEFAULT);
      return;
    }
  g_clear_pointer (&self->restore_category, g_free);
  g_clear_pointer (&self->restore_snapshots, g_ptr_array_unref);
  /* Nothing selected: the whole folder shown, or the whole backup. Ask
   * first, since that may be a lot and may replace files. */
  if (self->path != NULL && !g_str_equal (self->path, "/"))
    paths = current;
  if (target != NULL)
    where = g_filename_display_name (target);
  else
    {
      g_autofree char *strip = home_mapping (self, current_category (self), current_snapshot (self), paths);
      g_autofree char *from = strip ? g_filename_display_name (strip) : NULL;

      where = from != NULL
              /* Translators: where restored files go; %s is the old home folder, e.g. /home/alice */
              ? g_strdup_printf (_("the same folders of your home folder (%s → ~)"), from)
              : g_strdup (_("their original places"));
    }
  if (paths != NULL)
    {
      g_autofree char *folder = g_filename_display_name (self->path);
      /* Translators: %s: a folder in the backup; %s: where it goes */
      body = g_strdup_printf (_("Nothing is selected. Restore everything in %s to %s?"), folder, where);
    }
  else
    body = g_strdup_printf (_("Nothing is selected. Restore the whole backup to %s?"), where);
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Restore Everything?"), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "restore", _("_Restore Everything"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "restore", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "paths", paths ? g_strdupv ((char **) paths) : NULL,
                          (GDestroyNotify) g_strfreev);
  g_object_set_data_full (G_OBJECT (dialog), "target", g_strdup (target), g_free);
  g_signal_connect (dialog, "response", G_CALLBACK (everything_response_cb), self);
  self->dialog = dialog;
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Shows the folder files were restored into. Under COFFER_TESTING the
 * call is recorded instead, so tests see it without a file manager. */
static void
open_target_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferRestoreWindow *self = COFFER_RESTORE_WINDOW (widget);
  g_autoptr(GFile) file = NULL;

  if (self->last_target == NULL)
    return;
  file = g_file_new_for_path (self->last_target);
  g_free (self->opened_uri);
  self->opened_uri = g_file_get_uri (file);
  if (g_getenv ("COFFER_TESTING") != NULL)
    return;
#if GTK_CHECK_VERSION (4, 10, 0)
  {
    g_autoptr(GtkFileLauncher) launcher = gtk_file_launcher_new (file);
    gtk_file_launcher_launch (launcher, GTK_WINDOW (self), NULL, NULL, NULL);
  }
#else
  gtk_show_uri (GTK_WINDOW (self), self->opened_uri, GDK_CURRENT_TIME);
#endif
}

static void
withheld_response_cb (AdwMessageDialog *dialog, const char *response, CofferRestoreWindow *self)
{
  self->dialog = NULL;
  if (g_strcmp0 (response, "open") == 0)
    gtk_widget_activate_action (GTK_WIDGET (self), "restore.open-target", NULL);
}

/* What was withheld and why (the toast has room for the count only). */
static void
show_withheld_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferRestoreWindow *self = COFFER_RESTORE_WINDOW (widget);
  g_autofree char *what = NULL;
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  if (self->withheld == 0)
    return;
  what = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                       "%u file or folder was restored without its privileges (setuid/setgid "
                                       "bit, security or trusted attribute) or, as a device node or FIFO, "
                                       "not created.",
                                       "%u files or folders were restored without their privileges "
                                       "(setuid/setgid bits, security or trusted attributes) or, as device "
                                       "nodes or FIFOs, not created.", self->withheld),
                          self->withheld);
  body = g_strdup_printf ("%s\n\n%s", what,
                          _("A backup is only as trustworthy as every computer that could write to it, "
                            "including computers that were removed, so Coffer does not give restored files "
                            "powers they could misuse. Set such permissions again by hand where you trust "
                            "the file."));
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Privileges Not Restored"), body);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  if (self->last_target != NULL)
    adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "open", _("_Open Folder"));
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "close");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
  g_signal_connect (dialog, "response", G_CALLBACK (withheld_response_cb), self);
  self->dialog = dialog;
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The restore runs on the chosen destination's engine, which the
 * application's app.cancel does not know about. */
static void
cancel_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferRestoreWindow *self = COFFER_RESTORE_WINDOW (widget);

  if (self->engine != NULL)
    coffer_engine_cancel (self->engine);
}

static void
restore_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  coffer_restore_window_restore (COFFER_RESTORE_WINDOW (widget), NULL, NULL);
}

static void
target_response_cb (GtkNativeDialog *dialog, int response, CofferRestoreWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path != NULL)
        coffer_restore_window_restore (self, NULL, path);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
restore_to_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Restore Into a Folder"), GTK_WINDOW (widget),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Restore Here"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (target_response_cb), g_object_ref (widget));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- columns ---- */

static void
setup_name_cb (GtkSignalListItemFactory *factory, GtkListItem *list_item)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_box_append (GTK_BOX (box), gtk_image_new ());
  gtk_box_append (GTK_BOX (box), label);
  gtk_list_item_set_child (list_item, box);
}

static void
bind_name_cb (GtkSignalListItemFactory *factory, GtkListItem *list_item)
{
  CofferFileItem *item = gtk_list_item_get_item (list_item);
  GtkWidget *box = gtk_list_item_get_child (list_item);
  g_autoptr(GIcon) icon = coffer_file_item_get_icon (item);

  gtk_image_set_from_gicon (GTK_IMAGE (gtk_widget_get_first_child (box)), icon);
  gtk_label_set_text (GTK_LABEL (gtk_widget_get_last_child (box)), coffer_file_item_get_name (item));
}

static void
setup_text_cb (GtkSignalListItemFactory *factory, GtkListItem *list_item)
{
  GtkWidget *label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (label), 1);
  gtk_widget_add_css_class (label, "numeric");
  gtk_widget_add_css_class (label, "dim-label");
  gtk_list_item_set_child (list_item, label);
}

static void
bind_size_cb (GtkSignalListItemFactory *factory, GtkListItem *list_item)
{
  g_autofree char *text = coffer_file_item_describe_size (gtk_list_item_get_item (list_item));
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (list_item)), text);
}

static void
bind_mtime_cb (GtkSignalListItemFactory *factory, GtkListItem *list_item)
{
  g_autofree char *text = coffer_file_item_describe_mtime (gtk_list_item_get_item (list_item));
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (list_item)), text);
}

static void
add_column (CofferRestoreWindow *self, const char *title, GCallback setup, GCallback bind, gboolean expand)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkColumnViewColumn *column;

  g_signal_connect (factory, "setup", setup, NULL);
  g_signal_connect (factory, "bind", bind, NULL);
  column = gtk_column_view_column_new (title, factory);
  gtk_column_view_column_set_expand (column, expand);
  gtk_column_view_column_set_resizable (column, TRUE);
  gtk_column_view_append_column (self->column_view, column);
  g_object_unref (column);
}

/* ---- public ---- */

gboolean coffer_restore_window_get_loading (CofferRestoreWindow *self) { return self->loading; }
guint coffer_restore_window_get_n_snapshots (CofferRestoreWindow *self) { return self->snapshots ? self->snapshots->len : 0; }
GListModel *coffer_restore_window_get_files (CofferRestoreWindow *self) { return G_LIST_MODEL (self->files); }
const char *coffer_restore_window_get_path (CofferRestoreWindow *self) { return self->path; }
GtkWidget *coffer_restore_window_get_dialog (CofferRestoreWindow *self) { return self->dialog; }
const char *coffer_restore_window_get_result (CofferRestoreWindow *self) { return self->result; }
const char *coffer_restore_window_get_opened_uri (CofferRestoreWindow *self) { return self->opened_uri; }

/* ---- GObject ---- */

static void
coffer_restore_window_dispose (GObject *object)
{
  CofferRestoreWindow *self = COFFER_RESTORE_WINDOW (object);

  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->engine);
  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->source_states, g_free);
  g_clear_object (&self->files);
  g_clear_object (&self->selection);
  g_clear_pointer (&self->category_ids, g_ptr_array_unref);
  g_clear_pointer (&self->snapshots, g_ptr_array_unref);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->result, g_free);
  g_clear_pointer (&self->last_target, g_free);
  g_clear_pointer (&self->mapped_from, g_free);
  g_clear_pointer (&self->last_toast, g_free);
  g_clear_pointer (&self->last_paths, g_strfreev);
  g_clear_pointer (&self->opened_uri, g_free);
  g_clear_pointer (&self->latest, g_hash_table_unref);
  g_clear_pointer (&self->pending_folder, g_free);
  g_clear_pointer (&self->restore_category, g_free);
  g_clear_pointer (&self->restore_snapshots, g_ptr_array_unref);
  G_OBJECT_CLASS (coffer_restore_window_parent_class)->dispose (object);
}

static void
coffer_restore_window_class_init (CofferRestoreWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = coffer_restore_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cofferapp/Coffer/coffer-restore-window.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, CofferRestoreWindow, name)
  BIND (toast_overlay); BIND (window_title); BIND (search_bar); BIND (search_button); BIND (search_entry); BIND (category_dropdown);
  BIND (search_all_check); BIND (source_box); BIND (destination_dropdown); BIND (source_note_box);
  BIND (source_note_label);
  BIND (snapshot_dropdown); BIND (path_label); BIND (stack); BIND (column_view); BIND (loading_spinner);
  BIND (empty_page); BIND (status_label); BIND (where_box); BIND (where_label); BIND (progress_bar); BIND (cancel_button);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, category_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, destination_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, snapshot_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, row_activated_cb);

  gtk_widget_class_install_action (widget_class, "restore.up", NULL, up_activated);
  gtk_widget_class_install_action (widget_class, "restore.restore", NULL, restore_activated);
  gtk_widget_class_install_action (widget_class, "restore.restore-to", NULL, restore_to_activated);
  gtk_widget_class_install_action (widget_class, "restore.cancel", NULL, cancel_activated);
  gtk_widget_class_install_action (widget_class, "restore.open-target", NULL, open_target_activated);
  gtk_widget_class_install_action (widget_class, "restore.show-withheld", NULL, show_withheld_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Up, GDK_ALT_MASK, "restore.up", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
coffer_restore_window_init (CofferRestoreWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  coffer_a11y_name_controls (GTK_WIDGET (self));
  self->files = g_list_store_new (COFFER_TYPE_FILE_ITEM);
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (g_object_ref (self->files)));
  self->category_ids = g_ptr_array_new_with_free_func (g_free);
  self->latest = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  self->path = g_strdup ("/");
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->fallback_from = NO_SOURCE;
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
  add_column (self, _("Name"), G_CALLBACK (setup_name_cb), G_CALLBACK (bind_name_cb), TRUE);
  add_column (self, _("Size"), G_CALLBACK (setup_text_cb), G_CALLBACK (bind_size_cb), FALSE);
  add_column (self, _("Modified"), G_CALLBACK (setup_text_cb), G_CALLBACK (bind_mtime_cb), FALSE);
  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));
  gtk_search_bar_set_key_capture_widget (self->search_bar, GTK_WIDGET (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "restore.up", FALSE);
}

CofferRestoreWindow *
coffer_restore_window_new (CofferApplication *app)
{
  CofferRestoreWindow *self = g_object_new (COFFER_TYPE_RESTORE_WINDOW, "application", app, NULL);
  GListModel *categories = G_LIST_MODEL (coffer_application_get_categories (app));
  g_autoptr(GtkStringList) names = gtk_string_list_new (NULL);

  GListModel *destinations = G_LIST_MODEL (coffer_application_get_destinations (app));
  const char *problem = NULL;

  self->app = app;
  /* With more than one destination the window reads any of them: at
   * opening the first one that can be read, then the one chosen. */
  for (guint i = 0; i < g_list_model_get_n_items (destinations); i++)
    g_ptr_array_add (self->items, g_list_model_get_item (destinations, i));
  self->source_states = g_new0 (SourceState, self->items->len + 1);
  if (coffer_application_get_problem (app, &problem) == COFFER_BACKUP_PROBLEM_DISCONNECTED)
    self->source_states[0] = SOURCE_UNPLUGGED;
  for (guint i = 0; i < self->items->len; i++)
    if (coffer_destination_item_get_status (g_ptr_array_index (self->items, i), NULL)
        == COFFER_DESTINATION_STATUS_UNPLUGGED)
      self->source_states[i + 1] = SOURCE_UNPLUGGED;
  self->choosing = self->items->len > 0;
  gtk_widget_set_visible (self->source_box, self->items->len > 0);
  if (self->items->len > 0)
    update_sources (self);

  for (guint i = 0; i < g_list_model_get_n_items (categories); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (categories, i);
      if (coffer_category_item_get_id (item) == NULL)
        continue;
      g_ptr_array_add (self->category_ids, g_strdup (coffer_category_item_get_id (item)));
      gtk_string_list_append (names, coffer_category_item_get_name (item));
    }
  if (self->category_ids->len == 0)
    gtk_stack_set_visible_child_name (self->stack, "empty");
  gtk_drop_down_set_model (self->category_dropdown, G_LIST_MODEL (names));
  if (self->category_ids->len > 0)
    {
      gtk_drop_down_set_selected (self->category_dropdown, 0);
      load_source (self);
    }
  return self;
}

const char *
coffer_restore_window_get_toast (CofferRestoreWindow *self)
{
  g_return_val_if_fail (COFFER_IS_RESTORE_WINDOW (self), NULL);
  return self->last_toast;
}
