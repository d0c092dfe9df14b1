/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-setup"

#include <glib/gi18n.h>

#include "coffer-a11y.h"
#include "coffer-category-item.h"
#include "coffer-error.h"
#include "coffer-keyring.h"
#include "coffer-password-strength.h"
#include "coffer-setup-assistant.h"
#include "coffer-shares-dialog.h"

struct _CofferSetupAssistant
{
  AdwApplicationWindow  parent_instance;

  CofferApplication    *app;
  GListStore           *categories;
  GCancellable         *cancellable;
  CofferSecret         *recovery_key;
  GPtrArray            *history;           /* page names visited, for Back */
  guint                 pending_adds;
  guint                 join_source;
  char                 *join_code_text;
  guint                 busy : 1;
  guint                 joined : 1;          /* opened with the recovery key or by approval */
  guint                 join_requested : 1;
  guint                 connection_ok : 1;
  guint                 has_repository : 1;
  guint                 repository_ready : 1;
  guint                 add_failed : 1;
  guint                 restore_mode : 1;    /* "Restore from an existing backup" */
  guint                 password_given : 1;  /* opened with the password: not asked again */
  guint                 working_stage;       /* the step the "working" page counts as */
  GPtrArray            *restore_queue;       /* RestoreStep, done one after another */
  guint                 restore_conflicts;
  guint                 restore_failures;

  AdwWindowTitle       *window_title;
  GtkWidget            *back_button;
  GtkButton            *next_button;
  AdwToastOverlay      *toast_overlay;
  GtkStack             *stack;
  CofferDestinationPage *destination_page;
  GtkListBox           *categories_list;
  GtkListBox           *restore_list;
  GtkListBox           *levels_list;
  AdwPreferencesGroup  *password_group;
  AdwPasswordEntryRow  *password_entry;
  AdwPasswordEntryRow  *password_confirm;
  GtkLevelBar          *strength_bar;
  GtkLabel             *strength_label;
  AdwStatusPage        *working_page;
  GtkSpinner           *working_spinner;
  AdwBin               *recovery_bin;
  GtkCheckButton       *way_password;
  GtkCheckButton       *way_key;
  GtkCheckButton       *way_code;
  AdwEntryRow          *key_entry;
  AdwStatusPage        *join_page;
  GtkLabel             *join_code;
  GtkSpinner           *join_spinner;
  GtkLabel             *join_status;
  GtkWidget            *join_password_group;
  AdwPasswordEntryRow  *join_password;
  CofferRecoveryWizard *wizard;
};

G_DEFINE_FINAL_TYPE (CofferSetupAssistant, coffer_setup_assistant, ADW_TYPE_APPLICATION_WINDOW)

static void update_buttons (CofferSetupAssistant *self);
static gboolean fill_restore_list (CofferSetupAssistant *self, GPtrArray *categories);

static void
toast (CofferSetupAssistant *self, const char *message)
{
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

static const char *
page (CofferSetupAssistant *self)
{
  return gtk_stack_get_visible_child_name (self->stack);
}

static void
set_busy (CofferSetupAssistant *self, gboolean busy)
{
  self->busy = !!busy;
  update_buttons (self);
}

static gboolean
any_level (CofferSetupAssistant *self, CofferLevel level)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->categories)); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->categories), i);
      if (coffer_category_item_get_enabled (item) && coffer_category_item_get_level (item) == level)
        return TRUE;
    }
  return FALSE;
}

/* Enabled categories of that level that do not exist in the repository yet. */
static gboolean
any_new_level (CofferSetupAssistant *self, CofferLevel level)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->categories)); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->categories), i);
      if (coffer_category_item_get_enabled (item) && coffer_category_item_get_level (item) == level &&
          coffer_category_item_get_id (item) == NULL)
        return TRUE;
    }
  return FALSE;
}

/* The step counter counts stages, not pages, so it never jumps or changes
 * its total while the user goes forward, whichever pages a stage needs:
 *   new backup:   1 where, 2 what, 3 protection, 4 keys (password, recovery
 *                 key, creating);
 *   existing one: 1 where, 2 way in, 3 opening (key, approval or password),
 *                 4 restore, 5 what, 6 protection and keys.
 * Welcome and the last page are not counted. The total is known from the
 * welcome choice, or when the chosen place turns out to hold a backup. */
static guint
stage (CofferSetupAssistant *self, const char *name, guint *total)
{
  gboolean existing = self->restore_mode || self->has_repository;

  *total = existing ? 6 : 4;
  if (g_str_equal (name, "working"))
    return self->working_stage;
  if (g_str_equal (name, "destination"))
    return 1;
  if (!existing)
    {
      if (g_str_equal (name, "categories")) return 2;
      if (g_str_equal (name, "protection")) return 3;
      if (g_str_equal (name, "password") || g_str_equal (name, "recovery")) return 4;
      return 0;
    }
  if (g_str_equal (name, "way-in")) return 2;
  if (g_str_equal (name, "recovery-key") || g_str_equal (name, "join")) return 3;
  if (g_str_equal (name, "password")) return self->joined ? 6 : 3;
  if (g_str_equal (name, "restore")) return 4;
  if (g_str_equal (name, "categories")) return 5;
  if (g_str_equal (name, "protection") || g_str_equal (name, "recovery")) return 6;
  return 0;
}

static gboolean
any_restore_checked (CofferSetupAssistant *self)
{
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->restore_list)); row;
       row = gtk_widget_get_next_sibling (row))
    {
      GtkCheckButton *check = g_object_get_data (G_OBJECT (row), "check");
      if (check != NULL && gtk_check_button_get_active (check))
        return TRUE;
    }
  return FALSE;
}

static void
update_buttons (CofferSetupAssistant *self)
{
  const char *name = page (self);
  guint total = 0;
  guint step = stage (self, name, &total);
  g_autofree char *subtitle = NULL;

  if (step > 0)
    /* Translators: progress through the setup assistant */
    subtitle = g_strdup_printf (_("Step %u of %u"), step, total);
  adw_window_title_set_subtitle (self->window_title, subtitle);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "assistant.back",
                                 !self->busy && self->history->len > 0 && !self->repository_ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "assistant.next",
                                 !self->busy && !g_str_equal (name, "working") &&
                                 !(g_str_equal (name, "join") && self->join_requested) &&
                                 (!g_str_equal (name, "recovery") ||
                                  (self->wizard && coffer_recovery_wizard_get_confirmed (self->wizard))));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "assistant.test-connection", !self->busy);
  gtk_button_set_label (self->next_button, g_str_equal (name, "done") ? _("_Start Backup")
                                          : g_str_equal (name, "welcome") ? _("_Get Started")
                                          : g_str_equal (name, "restore") ? (any_restore_checked (self) ? _("_Restore")
                                                                                                        : _("_Skip"))
                                          : _("_Next"));
  /* The welcome page has its own two buttons. */
  gtk_widget_set_visible (GTK_WIDGET (self->next_button), !g_str_equal (name, "welcome"));
  gtk_widget_set_visible (self->back_button, !g_str_equal (name, "welcome") && !self->repository_ready);
}

static void
show_page (CofferSetupAssistant *self, const char *name, gboolean remember)
{
  if (remember)
    g_ptr_array_add (self->history, g_strdup (page (self)));
  gtk_stack_set_visible_child_name (self->stack, name);
  update_buttons (self);
}

/* ---- destination ---- */

static CofferDestination *
build_destination (CofferSetupAssistant *self, GError **error)
{
  return coffer_destination_page_build (self->destination_page, error);
}

static void
set_test_result (CofferSetupAssistant *self, const char *icon, const char *css, const char *message)
{
  coffer_destination_page_set_test_result (self->destination_page, icon, css, message);
}

static void
destination_changed_cb (CofferSetupAssistant *self)
{
  self->connection_ok = FALSE;
  set_test_result (self, "network-server-symbolic", NULL, _("Not tested yet"));
}

void
coffer_setup_assistant_set_folder (CofferSetupAssistant *self, const char *path)
{
  g_return_if_fail (COFFER_IS_SETUP_ASSISTANT (self));
  coffer_destination_page_set_folder (self->destination_page, path);
}

CofferDestinationPage *
coffer_setup_assistant_get_destination_page (CofferSetupAssistant *self)
{
  g_return_val_if_fail (COFFER_IS_SETUP_ASSISTANT (self), NULL);
  return self->destination_page;
}

static void go_next (CofferSetupAssistant *self);

static void
test_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean has_repository = FALSE;
  gboolean proceed = GPOINTER_TO_UINT (g_object_steal_data (G_OBJECT (self), "proceed"));

  coffer_destination_page_set_testing (self->destination_page, FALSE);
  set_busy (self, FALSE);
  if (!coffer_engine_test_connection_finish (COFFER_ENGINE (source), result, &has_repository, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      self->connection_ok = FALSE;
      set_test_result (self, "dialog-error-symbolic", "error", message);
      return;
    }
  if (self->restore_mode && !has_repository)
    {
      self->connection_ok = FALSE;
      set_test_result (self, "dialog-error-symbolic", "error",
                       _("Connected, but there is no Coffer backup here. Choose the folder, server or bucket "
                         "that holds it."));
      return;
    }
  self->connection_ok = TRUE;
  self->has_repository = has_repository;
  set_test_result (self, "emblem-ok-symbolic", "success",
                   has_repository ? _("Connected. A Coffer backup is already here: you will need its password.")
                                  : _("Connected. Coffer can back up here."));
  if (proceed)
    go_next (self);
}

static void
prepared_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferDestination) dest = NULL;

  if (!coffer_destination_page_prepare_finish (self->destination_page, result, &error)
      || (dest = build_destination (self, &error)) == NULL)
    {
      g_autofree char *message = NULL;

      coffer_destination_page_set_testing (self->destination_page, FALSE);
      set_busy (self, FALSE);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      message = error->domain == COFFER_REPO_ERROR ? g_strdup (error->message)
                                                   : coffer_engine_describe_error (error);
      set_test_result (self, "dialog-error-symbolic", "error", message);
      return;
    }
  coffer_engine_test_connection_async (coffer_application_get_engine (self->app), dest, self->cancellable,
                                       test_cb, g_object_ref (self));
}

static void
start_test (CofferSetupAssistant *self, gboolean proceed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferDestination) dest = build_destination (self, &error);

  if (dest == NULL)
    {
      set_test_result (self, "dialog-error-symbolic", "error", error->message);
      return;
    }
  g_object_set_data (G_OBJECT (self), "proceed", GUINT_TO_POINTER (proceed));
  set_test_result (self, "network-server-symbolic", NULL, _("Connecting…"));
  coffer_destination_page_set_testing (self->destination_page, TRUE);
  set_busy (self, TRUE);
  /* Saves an SFTP destination's remote first (in a thread). */
  coffer_destination_page_prepare_async (self->destination_page, self->cancellable, prepared_cb,
                                         g_object_ref (self));
}

static void
test_connection_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  start_test (COFFER_SETUP_ASSISTANT (widget), FALSE);
}

/* ---- categories ---- */

static void
category_folder_remove_cb (GtkButton *button, CofferCategoryItem *item)
{
  const char *path = g_object_get_data (G_OBJECT (button), "path");
  const char * const *paths = coffer_category_item_get_paths (item);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) result = NULL;

  for (guint i = 0; paths[i]; i++)
    if (g_strcmp0 (paths[i], path) != 0)
      g_strv_builder_add (builder, paths[i]);
  result = g_strv_builder_end (builder);
  coffer_category_item_set_paths (item, (const char * const *) result);
}

static void
category_folder_added_cb (GtkNativeDialog *dialog, int response, CofferCategoryItem *item)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path != NULL && !g_strv_contains (coffer_category_item_get_paths (item), path))
        {
          g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
          g_auto(GStrv) result = NULL;
          g_strv_builder_addv (builder, (const char **) coffer_category_item_get_paths (item));
          g_strv_builder_add (builder, path);
          result = g_strv_builder_end (builder);
          coffer_category_item_set_paths (item, (const char * const *) result);
        }
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  g_object_unref (item);
}

static void
category_add_folder_cb (AdwActionRow *row, CofferCategoryItem *item)
{
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Add a Folder"), GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (row))),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Add"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (category_folder_added_cb), g_object_ref (item));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void fill_category_row (AdwExpanderRow *row, CofferCategoryItem *item);

static void
category_paths_changed_cb (CofferCategoryItem *item, GParamSpec *pspec, AdwExpanderRow *row)
{
  fill_category_row (row, item);
}

static void
fill_category_row (AdwExpanderRow *row, CofferCategoryItem *item)
{
  GPtrArray *children = g_object_get_data (G_OBJECT (row), "children");
  const char * const *paths = coffer_category_item_get_paths (item);
  GtkWidget *add_row;
  g_autofree char *subtitle = NULL;

  for (guint i = 0; i < children->len; i++)
    adw_expander_row_remove (row, g_ptr_array_index (children, i));
  g_ptr_array_set_size (children, 0);

  subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u folder", "%u folders", g_strv_length ((char **) paths)),
                              g_strv_length ((char **) paths));
  adw_expander_row_set_subtitle (row, subtitle);

  for (guint i = 0; paths[i] != NULL; i++)
    {
      GtkWidget *folder = adw_action_row_new ();
      GtkWidget *remove = gtk_button_new_from_icon_name ("list-remove-symbolic");
      g_autofree char *tip = g_strdup_printf (_("Remove %s"), paths[i]);

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (folder), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (folder), paths[i]);
      adw_action_row_add_prefix (ADW_ACTION_ROW (folder), gtk_image_new_from_icon_name ("folder-symbolic"));
      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "flat");
      gtk_widget_set_tooltip_text (remove, tip);
      coffer_a11y_set_name (remove, tip);
      g_object_set_data_full (G_OBJECT (remove), "path", g_strdup (paths[i]), g_free);
      g_signal_connect (remove, "clicked", G_CALLBACK (category_folder_remove_cb), item);
      adw_action_row_add_suffix (ADW_ACTION_ROW (folder), remove);
      adw_expander_row_add_row (row, folder);
      g_ptr_array_add (children, folder);
    }
  add_row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (add_row), _("Add Folder…"));
  adw_action_row_add_prefix (ADW_ACTION_ROW (add_row), gtk_image_new_from_icon_name ("list-add-symbolic"));
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (add_row), TRUE);
  g_signal_connect (add_row, "activated", G_CALLBACK (category_add_folder_cb), item);
  adw_expander_row_add_row (row, add_row);
  g_ptr_array_add (children, add_row);
}

static GtkWidget *
create_category_row (gpointer object, gpointer user_data)
{
  CofferCategoryItem *item = object;
  GtkWidget *row = adw_expander_row_new ();
  g_autofree char *label = g_strdup_printf (_("Back up %s"), coffer_category_item_get_name (item));

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), coffer_category_item_get_name (item));
  adw_expander_row_set_show_enable_switch (ADW_EXPANDER_ROW (row), TRUE);
  g_object_bind_property (item, "enabled", row, "enable-expansion", G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  gtk_widget_set_tooltip_text (row, label);
  g_object_set_data_full (G_OBJECT (row), "children", g_ptr_array_new (), (GDestroyNotify) g_ptr_array_unref);
  fill_category_row (ADW_EXPANDER_ROW (row), item);
  coffer_a11y_name_controls (row);
  g_signal_connect_object (item, "notify::paths", G_CALLBACK (category_paths_changed_cb), row, 0);
  return row;
}

/* ---- protection ---- */

static void
level_selected_cb (AdwComboRow *row, GParamSpec *pspec, CofferCategoryItem *item)
{
  coffer_category_item_set_level (item, adw_combo_row_get_selected (row));
}

static void
fill_levels (CofferSetupAssistant *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->levels_list))))
    gtk_list_box_remove (self->levels_list, child);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->categories)); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->categories), i);
      const char *levels[] = { _("Standard"), _("Advanced"), NULL };
      GtkWidget *row;

      if (!coffer_category_item_get_enabled (item))
        continue;
      row = adw_combo_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), coffer_category_item_get_name (item));
      adw_combo_row_set_model (ADW_COMBO_ROW (row), G_LIST_MODEL (gtk_string_list_new (levels)));
      adw_combo_row_set_selected (ADW_COMBO_ROW (row), coffer_category_item_get_level (item));
      g_signal_connect_object (row, "notify::selected", G_CALLBACK (level_selected_cb), item, 0);
      gtk_widget_set_name (row, coffer_category_item_get_name (item));
      gtk_list_box_append (self->levels_list, row);
    }
}

/* ---- password ---- */

static void
password_changed_cb (CofferSetupAssistant *self)
{
  coffer_password_meter_update (self->strength_bar, self->strength_label,
                                gtk_editable_get_text (GTK_EDITABLE (self->password_entry)));
  gtk_widget_remove_css_class (GTK_WIDGET (self->strength_label), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->password_confirm), "error");
}

static gboolean
check_password (CofferSetupAssistant *self)
{
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_entry));
  const char *confirm = gtk_editable_get_text (GTK_EDITABLE (self->password_confirm));

  if (self->has_repository)
    {
      if (password == NULL || *password == '\0')
        {
          toast (self, _("Enter the password of the existing backup."));
          return FALSE;
        }
      return TRUE;
    }
  if (coffer_password_strength (password, NULL) < COFFER_PASSWORD_MIN_BITS)
    {
      gtk_label_set_text (self->strength_label,
                          _("This password is too easy to guess. Add more words or characters."));
      gtk_widget_add_css_class (GTK_WIDGET (self->strength_label), "error");
      return FALSE;
    }
  if (g_strcmp0 (password, confirm) != 0)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->password_confirm), "error");
      gtk_label_set_text (self->strength_label, _("The passwords do not match."));
      gtk_widget_add_css_class (GTK_WIDGET (self->strength_label), "error");
      return FALSE;
    }
  return TRUE;
}

/* ---- repository creation and categories ---- */

static void
finish_categories (CofferSetupAssistant *self)
{
  CofferCategoryItem **items;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->categories));
  GListStore *app_categories = coffer_application_get_categories (self->app);

  items = g_new0 (CofferCategoryItem *, n + 1);
  for (guint i = 0; i < n; i++)
    items[i] = g_list_model_get_item (G_LIST_MODEL (self->categories), i);
  g_list_store_splice (app_categories, 0, g_list_model_get_n_items (G_LIST_MODEL (app_categories)),
                       (gpointer *) items, n);
  for (guint i = 0; i < n; i++)
    g_object_unref (items[i]);
  g_free (items);

  set_busy (self, FALSE);
  g_ptr_array_set_size (self->history, 0);
  show_page (self, "done", FALSE);
}

static void category_written (CofferSetupAssistant *self);

static void
add_category_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CofferCategoryItem *item = user_data;
  CofferSetupAssistant *self = g_object_steal_data (G_OBJECT (item), "assistant");
  g_autoptr(GError) error = NULL;
  g_autofree char *id = coffer_engine_add_category_finish (COFFER_ENGINE (source), result, &error);

  if (id == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      g_autofree char *text = g_strdup_printf (_("%s could not be added: %s"),
                                               coffer_category_item_get_name (item), message);
      self->add_failed = TRUE;
      toast (self, text);
    }
  else
    coffer_category_item_set_id (item, id);
  g_object_unref (item);
  category_written (self);
}

/* A category that already exists (another computer made it): its folders
 * here are this computer's own, written as this computer's entry. */
static void
set_folders_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CofferCategoryItem *item = user_data;
  CofferSetupAssistant *self = g_object_steal_data (G_OBJECT (item), "assistant");
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_update_category_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      g_autofree char *text = g_strdup_printf (_("The folders of %s could not be saved: %s"),
                                               coffer_category_item_get_name (item), message);
      self->add_failed = TRUE;
      toast (self, text);
    }
  g_object_unref (item);
  category_written (self);
}

static void
category_written (CofferSetupAssistant *self)
{
  if (--self->pending_adds == 0)
    {
      if (self->add_failed)
        {
          /* Let the user try again from the same page. */
          self->add_failed = FALSE;
          set_busy (self, FALSE);
        }
      else
        finish_categories (self);
    }
  g_object_unref (self);
}

static void
add_categories (CofferSetupAssistant *self)
{
  CofferEngine *engine = coffer_application_get_engine (self->app);

  set_busy (self, TRUE);
  self->pending_adds = 1;   /* guard while starting */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->categories)); i++)
    {
      CofferCategoryItem *item = g_list_model_get_item (G_LIST_MODEL (self->categories), i);

      /* Only a computer that joined has folders of its own to write; a
       * session without a device acts for the category's first computer. */
      if (self->joined && coffer_category_item_get_enabled (item) && coffer_category_item_get_id (item) != NULL
          && coffer_category_item_get_paths (item)[0] != NULL)
        {
          self->pending_adds++;
          g_object_set_data (G_OBJECT (item), "assistant", g_object_ref (self));
          coffer_engine_update_category_async (engine, coffer_category_item_get_id (item),
                                               coffer_category_item_get_name (item),
                                               coffer_category_item_get_paths (item),
                                               coffer_category_item_get_excludes (item), NULL,
                                               set_folders_cb, item);
          continue;
        }
      if (!coffer_category_item_get_enabled (item) || coffer_category_item_get_id (item) != NULL)
        {
          g_object_unref (item);
          continue;
        }
      self->pending_adds++;
      g_object_set_data (G_OBJECT (item), "assistant", g_object_ref (self));
      coffer_engine_add_category_async (engine, coffer_category_item_get_name (item),
                                        coffer_category_item_get_level (item),
                                        coffer_category_item_get_paths (item),
                                        coffer_category_item_get_excludes (item), NULL,
                                        add_category_cb, item);
    }
  if (--self->pending_adds == 0)
    finish_categories (self);
}

static void
wizard_confirmed_cb (CofferSetupAssistant *self)
{
  update_buttons (self);
}

static void
after_repository (CofferSetupAssistant *self)
{
  self->repository_ready = TRUE;
  set_busy (self, FALSE);
  gtk_spinner_stop (self->working_spinner);
  if (any_new_level (self, COFFER_LEVEL_ADVANCED))
    {
      coffer_recovery_wizard_start (self->wizard,
                                    self->recovery_key ? COFFER_RECOVERY_WIZARD_NEW : COFFER_RECOVERY_WIZARD_TEST,
                                    self->recovery_key);
      g_clear_pointer (&self->recovery_key, coffer_secret_free);
      show_page (self, "recovery", FALSE);
    }
  else
    {
      g_clear_pointer (&self->recovery_key, coffer_secret_free);
      add_categories (self);
    }
}

static void
repository_failed (CofferSetupAssistant *self, GError *error)
{
  g_autofree char *message = coffer_engine_describe_error (error);

  gtk_spinner_stop (self->working_spinner);
  set_busy (self, FALSE);
  if (self->history->len > 0)
    {
      g_autofree char *previous = g_ptr_array_steal_index (self->history, self->history->len - 1);
      show_page (self, previous, FALSE);
    }
  toast (self, message);
}

static void
create_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;

  self->recovery_key = coffer_engine_create_finish (COFFER_ENGINE (source), result, &error);
  if (self->recovery_key == NULL)
    {
      repository_failed (self, error);
      return;
    }
  after_repository (self);
}


/* Folders belong to a computer: a category that another computer made has
 * none here yet. Offered instead: the other computers' folders moved to the
 * same place below this home (/home/alice/Pictures there is ~/Pictures
 * here, the mapping "restore from an existing backup" uses), where they
 * exist. */
static char **
folders_here (const CofferCategory *category)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (category->paths != NULL && category->paths[0] != NULL)
    return g_strdupv (category->paths);
  for (guint i = 0; category->other_folders != NULL && i < category->other_folders->len; i++)
    {
      const CofferCategoryFolders *f = g_ptr_array_index (category->other_folders, i);

      for (guint j = 0; f->paths[j] != NULL; j++)
        {
          g_autofree char *strip = coffer_old_home_of (f->paths[j]);
          g_autofree char *here = g_build_filename (g_get_home_dir (), f->paths[j] + strlen (strip), NULL);

          if (g_file_test (here, G_FILE_TEST_IS_DIR) && !g_hash_table_contains (seen, here))
            {
              g_strv_builder_add (builder, here);
              g_hash_table_add (seen, g_steal_pointer (&here));
            }
        }
    }
  return g_strv_builder_end (builder);
}

/* An existing backup: categories with the same name are joined rather than
 * created twice, and the others are listed (off) so they can be restored. */
static void
existing_categories_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) categories = coffer_engine_list_categories_finish (COFFER_ENGINE (source), result, &error);

  if (categories == NULL)
    {
      repository_failed (self, error);
      return;
    }
  for (guint i = 0; i < categories->len; i++)
    {
      const CofferCategory *category = g_ptr_array_index (categories, i);
      gboolean found = FALSE;

      if (!category->unlocked || category->name == NULL)
        continue;
      for (guint j = 0; j < g_list_model_get_n_items (G_LIST_MODEL (self->categories)); j++)
        {
          g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->categories), j);
          if (g_strcmp0 (coffer_category_item_get_name (item), category->name) == 0)
            {
              coffer_category_item_set_id (item, category->id);
              coffer_category_item_set_level (item, category->level);
              found = TRUE;
            }
        }
      if (!found)
        {
          g_auto(GStrv) paths = folders_here (category);
          g_autoptr(CofferCategoryItem) item = coffer_category_item_new (category->name,
                                                                         (const char * const *) paths);
          coffer_category_item_set_id (item, category->id);
          coffer_category_item_set_level (item, category->level);
          /* A computer that joined backs up what the others do (its own
           * folders of it), unless the user switches it off on the next page. */
          coffer_category_item_set_enabled (item, self->joined && paths[0] != NULL);
          g_list_store_append (self->categories, item);
        }
    }
  if (self->joined)
    {
      /* The keys are there: choose what this computer backs up. */
      self->repository_ready = TRUE;
      set_busy (self, FALSE);
      gtk_spinner_stop (self->working_spinner);
      g_ptr_array_set_size (self->history, 0);
      if (fill_restore_list (self, categories))
        show_page (self, "restore", FALSE);
      else
        show_page (self, "categories", FALSE);
      return;
    }
  after_repository (self);
}

/* ---- ways into an existing backup: recovery key, approval by code ---- */

static void
joined_ready (CofferSetupAssistant *self)
{
  self->joined = TRUE;
  coffer_engine_list_categories_async (coffer_application_get_engine (self->app), self->cancellable,
                                       existing_categories_cb, g_object_ref (self));
}

static void
open_rk_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_open_with_recovery_key_finish (COFFER_ENGINE (source), result, &error))
    {
      repository_failed (self, error);
      return;
    }
  joined_ready (self);
}

static void
open_with_recovery_key (CofferSetupAssistant *self)
{
  g_autoptr(CofferDestination) dest = build_destination (self, NULL);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->key_entry));

  g_return_if_fail (dest != NULL);
  if (text == NULL || *text == '\0')
    {
      toast (self, _("Enter the recovery key."));
      return;
    }
  adw_status_page_set_title (self->working_page, _("Opening Your Backup…"));
  self->working_stage = 3;
  show_page (self, "working", TRUE);
  gtk_spinner_start (self->working_spinner);
  set_busy (self, TRUE);
  coffer_engine_open_with_recovery_key_async (coffer_application_get_engine (self->app), dest, text,
                                              self->cancellable, open_rk_cb, g_object_ref (self));
}

/* "I don't have my recovery key": k shares typed in the shares dialog give
 * the recovery key, which then opens the backup exactly like a typed one. */
static void
shares_key_cb (CofferSharesDialog *dialog, const CofferSecret *formatted, CofferSetupAssistant *self)
{
  g_autoptr(CofferDestination) dest = build_destination (self, NULL);

  g_return_if_fail (dest != NULL);
  adw_status_page_set_title (self->working_page, _("Opening Your Backup…"));
  show_page (self, "working", TRUE);
  gtk_spinner_start (self->working_spinner);
  set_busy (self, TRUE);
  coffer_engine_open_with_recovery_key_async (coffer_application_get_engine (self->app), dest,
                                              (const char *) formatted->data, self->cancellable, open_rk_cb,
                                              g_object_ref (self));
}

static void
use_shares_cb (CofferSetupAssistant *self)
{
  g_autoptr(CofferDestination) dest = build_destination (self, NULL);
  CofferSharesDialog *dialog;

  g_return_if_fail (dest != NULL);
  dialog = coffer_shares_dialog_new_combine (GTK_WINDOW (self), self->app, dest);
  g_signal_connect_object (dialog, "recovery-key", G_CALLBACK (shares_key_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
set_join_status (CofferSetupAssistant *self, const char *text, gboolean waiting)
{
  gtk_label_set_text (self->join_status, text);
  gtk_widget_set_visible (GTK_WIDGET (self->join_spinner), waiting);
  if (waiting)
    gtk_spinner_start (self->join_spinner);
  else
    gtk_spinner_stop (self->join_spinner);
}

static void
stop_join_polling (CofferSetupAssistant *self)
{
  g_clear_handle_id (&self->join_source, g_source_remove);
}

static gboolean join_poll_cb (gpointer user_data);

static void
schedule_join_poll (CofferSetupAssistant *self)
{
  stop_join_polling (self);
  if (g_str_equal (page (self), "join"))
    self->join_source = g_timeout_add_seconds (2, join_poll_cb, self);
}

static void
complete_join_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_complete_join_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      set_join_status (self, message, FALSE);
      self->join_requested = FALSE;
      update_buttons (self);
      return;
    }
  set_join_status (self, _("Approved. Opening your backup…"), TRUE);
  joined_ready (self);
}

static void
join_status_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  gboolean approved = FALSE;

  if (!coffer_engine_get_join_status_finish (COFFER_ENGINE (source), result, &code, &approved, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      /* Storage hiccups are retried; the message says what happened. */
      g_debug ("Join status: %s", error->message);
      set_join_status (self, message, TRUE);
      schedule_join_poll (self);
      return;
    }
  if (code != NULL && g_strcmp0 (code, self->join_code_text) != 0)
    {
      g_free (self->join_code_text);
      self->join_code_text = g_strdup (code);
      gtk_label_set_text (self->join_code, code);
      gtk_widget_set_visible (GTK_WIDGET (self->join_code), TRUE);
      adw_status_page_set_description (self->join_page,
                                       _("On a computer that already backs up here, open Preferences → "
                                         "Trusted Devices → Approve, and type this code."));
      set_join_status (self, _("Waiting for the approval…"), TRUE);
    }
  if (approved)
    {
      stop_join_polling (self);
      coffer_engine_complete_join_async (COFFER_ENGINE (source), self->cancellable, complete_join_cb,
                                         g_object_ref (self));
      return;
    }
  schedule_join_poll (self);
}

static gboolean
join_poll_cb (gpointer user_data)
{
  CofferSetupAssistant *self = user_data;

  self->join_source = 0;
  coffer_engine_get_join_status_async (coffer_application_get_engine (self->app), self->cancellable,
                                       join_status_cb, g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
request_join_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = coffer_engine_request_join_finish (COFFER_ENGINE (source), result, &error);
  g_autofree char *description = NULL;

  set_busy (self, FALSE);
  if (id == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (g_error_matches (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE))
        {
          gtk_widget_set_visible (self->join_password_group, TRUE);
          set_join_status (self, _("Enter your backup password, then choose Next."), FALSE);
          gtk_widget_grab_focus (GTK_WIDGET (self->join_password));
          return;
        }
      set_join_status (self, message, FALSE);
      return;
    }
  self->join_requested = TRUE;
  gtk_widget_set_visible (self->join_password_group, FALSE);
  /* Translators: %s is this computer's name */
  description = g_strdup_printf (_("On a computer that already backs up here, open Preferences → Trusted "
                                   "Devices and choose Approve next to “%s”. A code then appears here to "
                                   "type on that computer."), g_get_host_name ());
  adw_status_page_set_description (self->join_page, description);
  set_join_status (self, _("Waiting for the other computer…"), TRUE);
  update_buttons (self);
  schedule_join_poll (self);
}

static void
start_join (CofferSetupAssistant *self)
{
  g_autoptr(CofferDestination) dest = build_destination (self, NULL);
  CofferEngine *engine = coffer_application_get_engine (self->app);
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->join_password));

  g_return_if_fail (dest != NULL);
  if (self->join_requested)
    return;
  if (gtk_widget_get_visible (self->join_password_group))
    {
      g_autoptr(CofferSecret) secret = NULL;

      if (password == NULL || *password == '\0')
        {
          toast (self, _("Enter the password of the existing backup."));
          return;
        }
      secret = coffer_secret_new_from_string (password);
      coffer_engine_set_password (engine, secret);
    }
  g_clear_pointer (&self->join_code_text, g_free);
  gtk_widget_set_visible (GTK_WIDGET (self->join_code), FALSE);
  adw_status_page_set_description (self->join_page, NULL);
  set_join_status (self, _("Sending the request…"), TRUE);
  set_busy (self, TRUE);
  coffer_engine_request_join_async (engine, dest, NULL, self->cancellable, request_join_cb, g_object_ref (self));
}

static void
open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_open_finish (COFFER_ENGINE (source), result, &error))
    {
      repository_failed (self, error);
      return;
    }
  /* Opened with the password: like the other ways in, restore first, then
   * choose what this computer backs up; the password is not asked again. */
  self->joined = TRUE;
  self->password_given = TRUE;
  coffer_engine_list_categories_async (COFFER_ENGINE (source), self->cancellable, existing_categories_cb,
                                       g_object_ref (self));
}

static void
make_repository (CofferSetupAssistant *self)
{
  g_autoptr(CofferDestination) dest = build_destination (self, NULL);
  g_autoptr(CofferSecret) password = NULL;
  CofferEngine *engine = coffer_application_get_engine (self->app);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->password_entry));

  g_return_if_fail (dest != NULL);
  if ((any_level (self, COFFER_LEVEL_STANDARD) || self->has_repository) && text != NULL && *text)
    password = coffer_secret_new_from_string (text);

  adw_status_page_set_title (self->working_page, self->has_repository ? _("Opening Your Backup…")
                                                                      : _("Setting Up Your Backup…"));
  self->working_stage = self->has_repository ? 3 : 4;
  show_page (self, "working", TRUE);
  gtk_spinner_start (self->working_spinner);
  set_busy (self, TRUE);
  if (self->has_repository)
    coffer_engine_open_async (engine, dest, password, self->cancellable, open_cb, g_object_ref (self));
  else
    coffer_engine_create_async (engine, dest, password, self->cancellable, create_cb, g_object_ref (self));
}

/* ---- restoring onto this computer after joining ---- */

/* "/home/alice/Pictures → ~/Pictures" */
static char *
describe_mapping (const char *root)
{
  g_autofree char *strip = coffer_old_home_of (root);
  g_autofree char *from = g_filename_display_name (root);
  g_autofree char *to = g_filename_display_name (root + strlen (strip));

  return g_strdup_printf ("%s → ~%s", from, to);
}

typedef struct
{
  char *category_id;
  char *name;
} RestoreStep;

static void
restore_step_free (gpointer data)
{
  RestoreStep *step = data;
  g_free (step->category_id);
  g_free (step->name);
  g_free (step);
}

static void
restore_row_toggled_cb (CofferSetupAssistant *self)
{
  update_buttons (self);
}

/* One row per category that can be opened; FALSE when there is none. */
static gboolean
fill_restore_list (CofferSetupAssistant *self, GPtrArray *categories)
{
  GtkWidget *child;
  gboolean any = FALSE;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->restore_list))))
    gtk_list_box_remove (self->restore_list, child);
  for (guint i = 0; i < categories->len; i++)
    {
      const CofferCategory *category = g_ptr_array_index (categories, i);
      g_autoptr(GString) mapping = g_string_new (NULL);
      GtkWidget *row, *check;

      if (!category->unlocked || category->name == NULL)
        continue;
      /* Folders belong to a computer: this one has none yet when it just
       * joined; the folders shown are those of the computers that back the
       * category up. */
      for (guint p = 0; category->paths != NULL && category->paths[p] != NULL; p++)
        {
          g_autofree char *line = describe_mapping (category->paths[p]);
          if (mapping->len > 0)
            g_string_append_c (mapping, '\n');
          g_string_append (mapping, line);
        }
      for (guint o = 0; mapping->len == 0 && category->other_folders != NULL && o < category->other_folders->len; o++)
        {
          const CofferCategoryFolders *f = g_ptr_array_index (category->other_folders, o);
          for (guint p = 0; f->paths[p] != NULL; p++)
            {
              g_autofree char *line = describe_mapping (f->paths[p]);
              if (mapping->len > 0)
                g_string_append_c (mapping, '\n');
              g_string_append (mapping, line);
            }
        }
      if (mapping->len == 0)
        continue;
      row = adw_action_row_new ();
      check = gtk_check_button_new ();
      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
      gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
      gtk_accessible_update_property (GTK_ACCESSIBLE (check), GTK_ACCESSIBLE_PROPERTY_LABEL, category->name, -1);
      g_signal_connect_object (check, "toggled", G_CALLBACK (restore_row_toggled_cb), self, G_CONNECT_SWAPPED);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), category->name);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), mapping->str);
      adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
      gtk_widget_set_name (row, category->name);
      g_object_set_data (G_OBJECT (row), "check", check);
      g_object_set_data_full (G_OBJECT (row), "category-id", g_strdup (category->id), g_free);
      gtk_list_box_append (self->restore_list, row);
      any = TRUE;
    }
  return any;
}

static void restore_next (CofferSetupAssistant *self);

static void
restore_finished (CofferSetupAssistant *self)
{
  g_autofree char *message = NULL;

  gtk_spinner_stop (self->working_spinner);
  set_busy (self, FALSE);
  g_ptr_array_set_size (self->history, 0);
  if (self->restore_failures > 0)
    message = g_strdup (_("Some files could not be restored; the others are in your home folder."));
  else if (self->restore_conflicts > 0)
    message = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                            "Files restored. %u newer file on this computer was kept.",
                                            "Files restored. %u newer files on this computer were kept.",
                                            self->restore_conflicts), self->restore_conflicts);
  else
    message = g_strdup (_("Files restored into your home folder."));
  toast (self, message);
  show_page (self, "categories", FALSE);
}

static void
restore_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;

  if (!coffer_engine_restore_finish (COFFER_ENGINE (source), result, &conflicts, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->restore_queue == NULL)
        return;
      if (conflicts != NULL && conflicts->len > 0)
        self->restore_conflicts += conflicts->len;
      else
        {
          g_autofree char *message = coffer_engine_describe_error (error);
          g_warning ("Restoring after joining: %s", message);
          self->restore_failures++;
        }
    }
  restore_next (self);
}

static void
restore_snapshots_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) snapshots = coffer_engine_list_snapshots_finish (COFFER_ENGINE (source), result, &error);
  RestoreStep *step;
  const CofferSnapshot *latest;
  g_autofree char *category_id = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->restore_queue == NULL)
    return;
  step = g_ptr_array_index (self->restore_queue, 0);
  category_id = g_strdup (step->category_id);

  g_ptr_array_remove_index (self->restore_queue, 0);
  if (snapshots == NULL || snapshots->len == 0)
    {
      if (snapshots == NULL)
        self->restore_failures++;
      restore_next (self);
      return;
    }
  latest = g_ptr_array_index (snapshots, 0);   /* newest first */
  /* Each backed-up folder goes to the same place of this home folder; one
   * restore per folder, since each may have its own prefix to leave out. */
  for (guint i = 1; latest->paths != NULL && latest->paths[i] != NULL; i++)
    {
      RestoreStep *more = g_new0 (RestoreStep, 1);
      more->category_id = g_strdup (category_id);
      more->name = g_strdup (latest->paths[i]);
      g_ptr_array_insert (self->restore_queue, i - 1, more);
    }
  if (latest->paths == NULL || latest->paths[0] == NULL)
    {
      restore_next (self);
      return;
    }
  {
    g_autofree char *strip = coffer_old_home_of (latest->paths[0]);
    const char *paths[] = { latest->paths[0], NULL };
    /* later folders of this snapshot: the queue keeps the snapshot here */
    g_object_set_data_full (G_OBJECT (self), "restore-snapshots", g_ptr_array_ref (snapshots),
                            (GDestroyNotify) g_ptr_array_unref);
    coffer_engine_restore_mapped_async (COFFER_ENGINE (source), category_id, latest, paths, g_get_home_dir (),
                                        strip, COFFER_RESTORE_DEFAULT, restore_done_cb, g_object_ref (self));
  }
}

static void
restore_next (CofferSetupAssistant *self)
{
  CofferEngine *engine = coffer_application_get_engine (self->app);
  RestoreStep *step;

  if (self->restore_queue->len == 0)
    {
      g_object_set_data (G_OBJECT (self), "restore-snapshots", NULL);
      restore_finished (self);
      return;
    }
  step = g_ptr_array_index (self->restore_queue, 0);
  if (step->name != NULL)
    {
      /* A further folder of the snapshot restored just before. */
      GPtrArray *snapshots = g_object_get_data (G_OBJECT (self), "restore-snapshots");
      const CofferSnapshot *latest = snapshots ? g_ptr_array_index (snapshots, 0) : NULL;
      g_autofree char *strip = coffer_old_home_of (step->name);
      g_autofree char *category_id = g_strdup (step->category_id);
      g_autofree char *root = g_strdup (step->name);
      const char *paths[] = { root, NULL };

      g_ptr_array_remove_index (self->restore_queue, 0);
      if (latest == NULL)
        {
          restore_next (self);
          return;
        }
      coffer_engine_restore_mapped_async (engine, category_id, latest, paths, g_get_home_dir (), strip,
                                          COFFER_RESTORE_DEFAULT, restore_done_cb, g_object_ref (self));
      return;
    }
  coffer_engine_list_snapshots_async (engine, step->category_id, self->cancellable, restore_snapshots_cb,
                                      g_object_ref (self));
}

static void
start_restoring (CofferSetupAssistant *self)
{
  g_ptr_array_set_size (self->restore_queue, 0);
  self->restore_conflicts = self->restore_failures = 0;
  for (GtkWidget *row = gtk_widget_get_first_child (GTK_WIDGET (self->restore_list)); row;
       row = gtk_widget_get_next_sibling (row))
    {
      GtkCheckButton *check = g_object_get_data (G_OBJECT (row), "check");
      if (check != NULL && gtk_check_button_get_active (check))
        {
          RestoreStep *step = g_new0 (RestoreStep, 1);
          step->category_id = g_strdup (g_object_get_data (G_OBJECT (row), "category-id"));
          g_ptr_array_add (self->restore_queue, step);
        }
    }
  if (self->restore_queue->len == 0)
    {
      show_page (self, "categories", FALSE);   /* skipped */
      return;
    }
  adw_status_page_set_title (self->working_page, _("Restoring Your Files…"));
  adw_status_page_set_description (self->working_page,
                                   _("Your files are put into the same folders of this home folder."));
  self->working_stage = 4;
  show_page (self, "working", FALSE);
  gtk_spinner_start (self->working_spinner);
  set_busy (self, TRUE);
  restore_next (self);
}

/* ---- navigation ---- */

static gboolean
any_enabled (CofferSetupAssistant *self)
{
  return any_level (self, COFFER_LEVEL_STANDARD) || any_level (self, COFFER_LEVEL_ADVANCED);
}

static void
go_next (CofferSetupAssistant *self)
{
  const char *name = page (self);

  if (self->busy)
    return;
  if (g_str_equal (name, "welcome"))
    {
      self->restore_mode = FALSE;
      show_page (self, "destination", TRUE);
    }
  else if (g_str_equal (name, "destination"))
    {
      if (!self->connection_ok)
        start_test (self, TRUE);
      else if (self->has_repository)
        show_page (self, "way-in", TRUE);
      else
        show_page (self, "categories", TRUE);
    }
  else if (g_str_equal (name, "way-in"))
    {
      if (gtk_check_button_get_active (self->way_key))
        {
          show_page (self, "recovery-key", TRUE);
          gtk_widget_grab_focus (GTK_WIDGET (self->key_entry));
        }
      else if (gtk_check_button_get_active (self->way_code))
        {
          show_page (self, "join", TRUE);
          start_join (self);
        }
      else
        {
          /* The password opens the backup first, so its files can be
           * restored before choosing what to back up. */
          adw_preferences_group_set_title (self->password_group, _("Enter the Backup Password"));
          gtk_widget_set_visible (GTK_WIDGET (self->password_confirm), FALSE);
          show_page (self, "password", TRUE);
          gtk_widget_grab_focus (GTK_WIDGET (self->password_entry));
        }
    }
  else if (g_str_equal (name, "restore"))
    start_restoring (self);
  else if (g_str_equal (name, "recovery-key"))
    open_with_recovery_key (self);
  else if (g_str_equal (name, "join"))
    start_join (self);
  else if (g_str_equal (name, "categories"))
    {
      if (!any_enabled (self))
        {
          toast (self, _("Switch on at least one category."));
          return;
        }
      fill_levels (self);
      show_page (self, "protection", TRUE);
    }
  else if (g_str_equal (name, "protection") && self->joined)
    {
      /* Already open; new Standard categories need the password (unless
       * it opened the backup). */
      if (any_new_level (self, COFFER_LEVEL_STANDARD) && !self->password_given)
        {
          adw_preferences_group_set_title (self->password_group, _("Enter the Backup Password"));
          gtk_widget_set_visible (GTK_WIDGET (self->password_confirm), FALSE);
          show_page (self, "password", TRUE);
          gtk_widget_grab_focus (GTK_WIDGET (self->password_entry));
        }
      else
        after_repository (self);
    }
  else if (g_str_equal (name, "password") && self->joined)
    {
      if (check_password (self))
        {
          g_autoptr(CofferSecret) password =
            coffer_secret_new_from_string (gtk_editable_get_text (GTK_EDITABLE (self->password_entry)));
          coffer_engine_set_password (coffer_application_get_engine (self->app), password);
          after_repository (self);
        }
    }
  else if (g_str_equal (name, "protection"))
    {
      if (any_level (self, COFFER_LEVEL_STANDARD) || self->has_repository)
        {
          adw_preferences_group_set_title (self->password_group,
                                           self->has_repository ? _("Enter the Backup Password")
                                                                : _("Choose a Backup Password"));
          gtk_widget_set_visible (GTK_WIDGET (self->password_confirm), !self->has_repository);
          show_page (self, "password", TRUE);
          gtk_widget_grab_focus (GTK_WIDGET (self->password_entry));
        }
      else
        make_repository (self);
    }
  else if (g_str_equal (name, "password"))
    {
      if (check_password (self))
        make_repository (self);
    }
  else if (g_str_equal (name, "recovery"))
    {
      if (coffer_recovery_wizard_get_confirmed (self->wizard))
        add_categories (self);
    }
  else if (g_str_equal (name, "done"))
    {
      g_autoptr(CofferDestination) dest = build_destination (self, NULL);
      coffer_application_finish_setup (self->app, dest, TRUE);
      gtk_window_destroy (GTK_WINDOW (self));
    }
}

static void
restore_existing_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferSetupAssistant *self = COFFER_SETUP_ASSISTANT (widget);

  if (self->busy || !g_str_equal (page (self), "welcome"))
    return;
  self->restore_mode = TRUE;
  show_page (self, "destination", TRUE);
}

static void
next_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  go_next (COFFER_SETUP_ASSISTANT (widget));
}

static void
next_cb (CofferSetupAssistant *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "assistant.next", NULL);
}

static void
back_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferSetupAssistant *self = COFFER_SETUP_ASSISTANT (widget);
  g_autofree char *previous = NULL;

  if (self->history->len == 0 || self->busy || self->repository_ready)
    return;
  previous = g_ptr_array_steal_index (self->history, self->history->len - 1);
  if (g_str_equal (page (self), "join"))
    {
      /* The request stays open; choosing this way again sends a new one. */
      stop_join_polling (self);
      self->join_requested = FALSE;
    }
  show_page (self, previous, FALSE);
}

/* ---- public ---- */

const char *
coffer_setup_assistant_get_page (CofferSetupAssistant *self)
{
  return page (self);
}

GListStore *
coffer_setup_assistant_get_categories (CofferSetupAssistant *self)
{
  return self->categories;
}

CofferRecoveryWizard *
coffer_setup_assistant_get_wizard (CofferSetupAssistant *self)
{
  return self->wizard;
}

gboolean
coffer_setup_assistant_get_busy (CofferSetupAssistant *self)
{
  return self->busy;
}

const char *
coffer_setup_assistant_get_join_code (CofferSetupAssistant *self)
{
  g_return_val_if_fail (COFFER_IS_SETUP_ASSISTANT (self), NULL);
  return self->join_code_text;
}

gboolean
coffer_setup_assistant_get_join_requested (CofferSetupAssistant *self)
{
  g_return_val_if_fail (COFFER_IS_SETUP_ASSISTANT (self), FALSE);
  return self->join_requested;
}

/* ---- GObject ---- */

static void
coffer_setup_assistant_dispose (GObject *object)
{
  CofferSetupAssistant *self = COFFER_SETUP_ASSISTANT (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  stop_join_polling (self);
  g_clear_pointer (&self->join_code_text, g_free);
  g_clear_object (&self->categories);
  g_clear_pointer (&self->recovery_key, coffer_secret_free);
  g_clear_pointer (&self->history, g_ptr_array_unref);
  g_clear_pointer (&self->restore_queue, g_ptr_array_unref);
  G_OBJECT_CLASS (coffer_setup_assistant_parent_class)->dispose (object);
}

static void
coffer_setup_assistant_class_init (CofferSetupAssistantClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = coffer_setup_assistant_dispose;

  g_type_ensure (COFFER_TYPE_DESTINATION_PAGE);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cofferapp/Coffer/coffer-setup-assistant.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, CofferSetupAssistant, name)
  BIND (window_title); BIND (back_button); BIND (next_button); BIND (toast_overlay); BIND (stack);
  BIND (destination_page); BIND (categories_list); BIND (levels_list);
  BIND (password_group); BIND (password_entry); BIND (password_confirm); BIND (strength_bar);
  BIND (strength_label); BIND (working_page); BIND (working_spinner); BIND (recovery_bin);
  BIND (way_password); BIND (way_key); BIND (way_code); BIND (key_entry); BIND (join_page); BIND (join_code);
  BIND (join_spinner); BIND (join_status); BIND (join_password_group); BIND (join_password);
  BIND (restore_list);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, use_shares_cb);
  gtk_widget_class_bind_template_callback (widget_class, destination_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, password_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, next_cb);

  gtk_widget_class_install_action (widget_class, "assistant.next", NULL, next_activated);
  gtk_widget_class_install_action (widget_class, "assistant.back", NULL, back_activated);
  gtk_widget_class_install_action (widget_class, "assistant.restore-existing", NULL, restore_existing_activated);
  gtk_widget_class_install_action (widget_class, "assistant.test-connection", NULL, test_connection_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Left, GDK_ALT_MASK, "assistant.back", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Right, GDK_ALT_MASK, "assistant.next", NULL);
}

static void
coffer_setup_assistant_init (CofferSetupAssistant *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  coffer_a11y_name_controls (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->history = g_ptr_array_new_with_free_func (g_free);
  self->restore_queue = g_ptr_array_new_with_free_func (restore_step_free);
  self->categories = coffer_category_items_detect ();
  gtk_list_box_bind_model (self->categories_list, G_LIST_MODEL (self->categories),
                           create_category_row, self, NULL);
  coffer_password_meter_init (self->strength_bar);
  password_changed_cb (self);
}

CofferSetupAssistant *
coffer_setup_assistant_new (CofferApplication *app)
{
  CofferSetupAssistant *self = g_object_new (COFFER_TYPE_SETUP_ASSISTANT, "application", app, NULL);

  self->app = app;
  coffer_destination_page_set_engine (self->destination_page, coffer_application_get_engine (app));
  self->wizard = coffer_recovery_wizard_new (app);
  adw_bin_set_child (self->recovery_bin, GTK_WIDGET (self->wizard));
  g_signal_connect_object (self->wizard, "confirmed", G_CALLBACK (wizard_confirmed_cb), self, G_CONNECT_SWAPPED);
  update_buttons (self);
  return self;
}
