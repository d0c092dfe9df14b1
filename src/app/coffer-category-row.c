/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-category-row"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-a11y.h"
#include "coffer-authority-dialog.h"
#include "coffer-category-row.h"
#include "coffer-error.h"
#include "coffer-recovery-wizard.h"

struct _CofferCategoryRow
{
  AdwExpanderRow      parent_instance;

  CofferApplication  *app;
  CofferCategoryItem *item;
  GPtrArray          *folder_rows;
  GtkWidget          *add_folder_row_ref;
  GtkWidget          *dialog;
  GtkCheckButton     *reencrypt_check;      /* in the dialog, while it is open */
  GCancellable       *cancellable;
  CofferLevel         requested_level;
  guint               updating : 1;
  guint               reencrypt_after : 1;

  GtkSwitch          *enabled_switch;
  AdwComboRow        *level_row;
  AdwActionRow       *add_folder_row;
  AdwActionRow       *reencrypt_row;
  GtkWidget          *reencrypt_button;
  GtkImage           *icon;
};

G_DEFINE_FINAL_TYPE (CofferCategoryRow, coffer_category_row, ADW_TYPE_EXPANDER_ROW)

static void
toast (CofferCategoryRow *self, const char *message)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (message));
  else
    g_message ("%s", message);
}

static const char *
icon_for (const char *name)
{
  if (g_str_equal (name, _("Photos"))) return "image-x-generic-symbolic";
  if (g_str_equal (name, _("Documents"))) return "x-office-document-symbolic";
  if (g_str_equal (name, _("Notes"))) return "accessories-text-editor-symbolic";
  if (g_str_equal (name, _("Messages"))) return "mail-unread-symbolic";
  if (g_str_equal (name, _("App Data"))) return "application-x-executable-symbolic";
  return "folder-symbolic";
}

static void
update_level_subtitle (CofferCategoryRow *self)
{
  if (adw_combo_row_get_selected (self->level_row) == COFFER_LEVEL_ADVANCED)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->level_row),
                                 _("Only your computers and the recovery key open it"));
  else
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->level_row),
                                 _("Your backup password opens it too"));
}

static void remove_folder_cb (GtkButton *button, CofferCategoryRow *self);

/* ---- re-encrypting older backups ---- */

static void
count_old_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferCategoryRow) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = coffer_engine_count_old_backups_finish (COFFER_ENGINE (source), result, &error);

  if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Could not count the older backups: %s", error->message);
      return;
    }
  /* Why it matters depends on how the older epoch came about. */
  adw_action_row_set_subtitle (self->reencrypt_row,
                               coffer_category_item_get_level (self->item) == COFFER_LEVEL_ADVANCED
                               ? _("Until then an old copy of the password envelope, for example in your "
                                   "provider’s file history, could still open them.")
                               : _("They are still under older keys, which a removed computer may know."));
  gtk_widget_set_visible (GTK_WIDGET (self->reencrypt_row), n > 0);
}

/* The action is offered for a category with backups still under an older
 * key epoch: after a switch to Advanced, or after a device was removed
 * (which gives every category, Standard ones too, a new epoch). */
static void
update_reencrypt_row (CofferCategoryRow *self)
{
  CofferEngine *engine = coffer_application_get_engine (self->app);

  gtk_widget_set_sensitive (self->reencrypt_button, !coffer_engine_get_busy (engine));
  if (coffer_category_item_get_id (self->item) == NULL || coffer_engine_get_repository (engine) == NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->reencrypt_row), FALSE);
      return;
    }
  if (coffer_engine_get_busy (engine))
    return;   /* asked again when the engine is free */
  g_cancellable_cancel (self->cancellable);
  g_set_object (&self->cancellable, g_cancellable_new ());
  g_object_unref (self->cancellable);
  coffer_engine_count_old_backups_async (engine, coffer_category_item_get_id (self->item), self->cancellable,
                                         count_old_cb, g_object_ref (self));
}

static void
reencrypt_clicked_cb (CofferCategoryRow *self)
{
  if (coffer_category_item_get_id (self->item) != NULL)
    coffer_application_start_reencrypt (self->app, coffer_category_item_get_id (self->item));
}

static void
sync_from_item (CofferCategoryRow *self)
{
  const char * const *paths = coffer_category_item_get_paths (self->item);
  g_autofree char *description = coffer_category_item_describe (self->item);
  g_autofree char *switch_label = NULL;

  self->updating = TRUE;
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (self), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), coffer_category_item_get_name (self->item));
  adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (self), description);
  gtk_switch_set_active (self->enabled_switch, coffer_category_item_get_enabled (self->item));
  gtk_switch_set_state (self->enabled_switch, coffer_category_item_get_enabled (self->item));
  switch_label = g_strdup_printf (_("Back up %s"), coffer_category_item_get_name (self->item));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->enabled_switch), switch_label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->enabled_switch),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, switch_label, -1);
  adw_combo_row_set_selected (self->level_row, coffer_category_item_get_level (self->item));
  gtk_image_set_from_icon_name (self->icon, icon_for (coffer_category_item_get_name (self->item)));
  update_level_subtitle (self);
  update_reencrypt_row (self);

  for (guint i = 0; i < self->folder_rows->len; i++)
    adw_expander_row_remove (ADW_EXPANDER_ROW (self), g_ptr_array_index (self->folder_rows, i));
  g_ptr_array_set_size (self->folder_rows, 0);
  adw_expander_row_remove (ADW_EXPANDER_ROW (self), GTK_WIDGET (self->add_folder_row));

  for (guint i = 0; paths[i] != NULL; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *button = gtk_button_new_from_icon_name ("list-remove-symbolic");
      GtkWidget *image = gtk_image_new_from_icon_name ("folder-symbolic");
      g_autofree char *home_relative = NULL;
      g_autofree char *tip = g_strdup_printf (_("Stop backing up %s"), paths[i]);

      if (g_str_has_prefix (paths[i], g_get_home_dir ()))
        home_relative = g_strconcat ("~", paths[i] + strlen (g_get_home_dir ()), NULL);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), home_relative ? home_relative : paths[i]);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), image);
      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (button, "flat");
      gtk_widget_set_tooltip_text (button, tip);
      coffer_a11y_set_name (button, tip);
      g_object_set_data_full (G_OBJECT (button), "path", g_strdup (paths[i]), g_free);
      g_signal_connect (button, "clicked", G_CALLBACK (remove_folder_cb), self);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
      adw_expander_row_add_row (ADW_EXPANDER_ROW (self), row);
      g_ptr_array_add (self->folder_rows, row);
    }
  adw_expander_row_add_row (ADW_EXPANDER_ROW (self), GTK_WIDGET (self->add_folder_row));
  self->updating = FALSE;
}

/* ---- folders ---- */

static void
update_category_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferCategoryRow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_update_category_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      toast (self, message);
    }
}

static void
set_paths (CofferCategoryRow *self, const char * const *paths)
{
  CofferEngine *engine = coffer_application_get_engine (self->app);

  coffer_category_item_set_paths (self->item, paths);
  coffer_application_save_categories (self->app);
  sync_from_item (self);
  if (coffer_category_item_get_id (self->item) != NULL && coffer_engine_get_repository (engine) != NULL)
    coffer_engine_update_category_async (engine, coffer_category_item_get_id (self->item),
                                         coffer_category_item_get_name (self->item), paths,
                                         coffer_category_item_get_excludes (self->item), NULL,
                                         update_category_cb, g_object_ref (self));
}

static void
remove_folder_cb (GtkButton *button, CofferCategoryRow *self)
{
  const char *path = g_object_get_data (G_OBJECT (button), "path");
  const char * const *paths = coffer_category_item_get_paths (self->item);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) new_paths = NULL;

  for (guint i = 0; paths[i] != NULL; i++)
    if (g_strcmp0 (paths[i], path) != 0)
      g_strv_builder_add (builder, paths[i]);
  new_paths = g_strv_builder_end (builder);
  set_paths (self, (const char * const *) new_paths);
}

static void
folder_chosen_cb (GtkNativeDialog *dialog, int response, CofferCategoryRow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;

      if (path != NULL && !g_strv_contains (coffer_category_item_get_paths (self->item), path))
        {
          g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
          g_auto(GStrv) new_paths = NULL;

          g_strv_builder_addv (builder, (const char **) coffer_category_item_get_paths (self->item));
          g_strv_builder_add (builder, path);
          new_paths = g_strv_builder_end (builder);
          set_paths (self, (const char * const *) new_paths);
        }
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
add_folder_cb (CofferCategoryRow *self)
{
  GtkFileChooserNative *chooser;
  g_autofree char *title = g_strdup_printf (_("Add a Folder to %s"), coffer_category_item_get_name (self->item));

  chooser = gtk_file_chooser_native_new (title, GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Add"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (folder_chosen_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- protected switch ---- */

static void add_category (CofferCategoryRow *self);

static void
add_after_key_cb (CofferRecoveryWizard *wizard, CofferCategoryRow *self)
{
  add_category (self);
}

static void
add_category_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferCategoryRow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = coffer_engine_add_category_finish (COFFER_ENGINE (source), result, &error);

  if (id == NULL && g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY))
    {
      /* An Advanced category needs a confirmed recovery key first. */
      CofferRecoveryWizard *wizard = NULL;
      sync_from_item (self);
      coffer_recovery_wizard_present_dialog (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                             self->app, COFFER_RECOVERY_WIZARD_TEST, &wizard);
      g_signal_connect_object (wizard, "confirmed", G_CALLBACK (add_after_key_cb), self, 0);
      return;
    }
  if (id == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      coffer_category_item_set_enabled (self->item, FALSE);
      sync_from_item (self);
      toast (self, message);
      return;
    }
  coffer_category_item_set_id (self->item, id);
  coffer_category_item_set_enabled (self->item, TRUE);
  coffer_application_save_categories (self->app);
  sync_from_item (self);
}

static void
add_category (CofferCategoryRow *self)
{
  coffer_engine_add_category_async (coffer_application_get_engine (self->app),
                                    coffer_category_item_get_name (self->item),
                                    coffer_category_item_get_level (self->item),
                                    coffer_category_item_get_paths (self->item),
                                    coffer_category_item_get_excludes (self->item), NULL,
                                    add_category_cb, g_object_ref (self));
}

/* The level most categories in the repository use (Standard on a tie): the
 * default offered when a category is switched on for the first time. */
static CofferLevel
usual_level (CofferCategoryRow *self)
{
  GListModel *categories = G_LIST_MODEL (coffer_application_get_categories (self->app));
  guint counts[2] = { 0, 0 };

  for (guint i = 0; i < g_list_model_get_n_items (categories); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (categories, i);
      if (coffer_category_item_get_id (item) != NULL && coffer_category_item_get_level (item) <= COFFER_LEVEL_ADVANCED)
        counts[coffer_category_item_get_level (item)]++;
    }
  return counts[COFFER_LEVEL_ADVANCED] > counts[COFFER_LEVEL_STANDARD] ? COFFER_LEVEL_ADVANCED
                                                                       : COFFER_LEVEL_STANDARD;
}

static void
switch_dialog_response_cb (AdwMessageDialog *dialog, const char *response, CofferCategoryRow *self)
{
  self->dialog = NULL;
  if (g_strcmp0 (response, "standard") == 0 || g_strcmp0 (response, "advanced") == 0)
    {
      coffer_category_item_set_level (self->item, g_str_equal (response, "advanced") ? COFFER_LEVEL_ADVANCED
                                                                                      : COFFER_LEVEL_STANDARD);
      add_category (self);   /* the switch follows when it exists */
    }
  else if (g_strcmp0 (response, "stop") == 0)
    {
      coffer_category_item_set_enabled (self->item, FALSE);
      coffer_application_save_categories (self->app);
      sync_from_item (self);
    }
  else
    sync_from_item (self);   /* cancelled: the switch goes back */
}

static gboolean
enabled_state_set_cb (CofferCategoryRow *self, gboolean state)
{
  const char *name = coffer_category_item_get_name (self->item);
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  if (self->updating)
    return FALSE;
  if (state && coffer_category_item_get_id (self->item) == NULL)
    {
      /* First time on: ask for the level, then the category is created in
       * the repository; the default is what most categories use. */
      CofferLevel usual = usual_level (self);

      heading = g_strdup_printf (_("Back Up %s?"), name);
      body = g_strdup_printf (usual == COFFER_LEVEL_ADVANCED
                              ? _("Choose how to protect it. Most of your categories use Advanced: only your "
                                  "trusted computers and the recovery key open them.")
                              : _("Choose how to protect it. Most of your categories use Standard: your backup "
                                  "password opens them on any computer."));
      dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), heading, body);
      adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                        "standard", _("_Standard"), "advanced", _("_Advanced"), NULL);
      adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog),
                                                  usual == COFFER_LEVEL_ADVANCED ? "advanced" : "standard",
                                                  ADW_RESPONSE_SUGGESTED);
      adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog),
                                               usual == COFFER_LEVEL_ADVANCED ? "advanced" : "standard");
    }
  else if (!state && coffer_category_item_get_id (self->item) != NULL)
    {
      heading = g_strdup_printf (_("Stop Backing Up %s?"), name);
      /* Translators: %s is the category name, in a command line */
      body = g_strdup_printf (_("New changes are no longer backed up. Its older backups are kept and can "
                                "still be restored. To delete them for good, run “coffer category remove "
                                "%s” and then “coffer prune” in a terminal."), name);
      dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), heading, body);
      adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                        "stop", _("_Stop Backing Up"), NULL);
      adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
    }
  else
    {
      coffer_category_item_set_enabled (self->item, state);
      coffer_application_save_categories (self->app);
      sync_from_item (self);
      return FALSE;
    }
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (switch_dialog_response_cb), self);
  self->dialog = dialog;
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;   /* the switch's state follows the answer */
}

/* ---- protection level ---- */

static void
set_level_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
do_set_level (CofferCategoryRow *self)
{
  coffer_engine_set_level_async (coffer_application_get_engine (self->app),
                                 coffer_category_item_get_id (self->item), self->requested_level,
                                 NULL, set_level_cb, g_object_ref (self));
}

static void
wizard_confirmed_cb (CofferRecoveryWizard *wizard, CofferCategoryRow *self)
{
  do_set_level (self);
}

static void
set_level_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferCategoryRow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_set_level_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);

      sync_from_item (self);
      if (self->requested_level == COFFER_LEVEL_ADVANCED &&
          g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY))
        {
          /* The recovery key must be confirmed first. */
          CofferRecoveryWizard *wizard = NULL;
          coffer_recovery_wizard_present_dialog (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                                 self->app, COFFER_RECOVERY_WIZARD_TEST, &wizard);
          g_signal_connect_object (wizard, "confirmed", G_CALLBACK (wizard_confirmed_cb), self, 0);
          return;
        }
      toast (self, message);
      return;
    }
  coffer_category_item_set_level (self->item, self->requested_level);
  coffer_application_save_categories (self->app);
  sync_from_item (self);
  toast (self, self->requested_level == COFFER_LEVEL_ADVANCED
               ? _("Advanced protection is on")
               : _("Standard protection is on"));
  if (self->requested_level == COFFER_LEVEL_ADVANCED && self->reencrypt_after)
    coffer_application_start_reencrypt (self->app, coffer_category_item_get_id (self->item));
  else
    update_reencrypt_row (self);
  self->reencrypt_after = FALSE;
}

static void
level_dialog_response_cb (AdwMessageDialog *dialog, const char *response, CofferCategoryRow *self)
{
  self->dialog = NULL;
  self->reencrypt_after = self->reencrypt_check != NULL && gtk_check_button_get_active (self->reencrypt_check);
  self->reencrypt_check = NULL;
  if (g_strcmp0 (response, "change") == 0)
    {
      if (coffer_category_item_get_id (self->item) == NULL)
        {
          /* Not in the repository yet: it is created with this level. */
          coffer_category_item_set_level (self->item, self->requested_level);
          coffer_application_save_categories (self->app);
          sync_from_item (self);
        }
      else
        do_set_level (self);
    }
  else
    sync_from_item (self);
}

static void
standard_granted_cb (CofferAuthorityDialog *dialog, CofferCategoryRow *self)
{
  self->dialog = NULL;
  self->reencrypt_after = FALSE;
  do_set_level (self);
}

static void
standard_dialog_destroyed_cb (CofferCategoryRow *self)
{
  /* Closed without the authority: the switch goes back. */
  if (self->dialog != NULL)
    {
      self->dialog = NULL;
      sync_from_item (self);
    }
}

void
coffer_category_row_request_level (CofferCategoryRow *self, CofferLevel level)
{
  const char *name = coffer_category_item_get_name (self->item);
  g_autofree char *heading = NULL;
  g_autofree char *owned_body = NULL;
  const char *body;
  GtkWidget *dialog;

  g_return_if_fail (COFFER_IS_CATEGORY_ROW (self));
  if (level == coffer_category_item_get_level (self->item))
    return;

  self->requested_level = level;
  if (level == COFFER_LEVEL_STANDARD && coffer_category_item_get_id (self->item) != NULL)
    {
      /* A downgrade: the backup password becomes a way in, so authority
       * must be typed now (the password or the recovery key), as a phone
       * asks for its passcode. */
      CofferAuthorityDialog *authority;

      heading = g_strdup_printf (_("Use Standard Protection for %s?"), name);
      authority = coffer_authority_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), self->app,
                                               heading,
                                               _("Your backup password will also open the backups of this "
                                                 "category, so anyone who learns the password and has the "
                                                 "cloud copy can open them. To confirm that this is you, type "
                                                 "the backup password or your recovery key."),
                                               _("_Use Standard"), TRUE);
      g_signal_connect_object (authority, "granted", G_CALLBACK (standard_granted_cb), self, 0);
      g_signal_connect_object (authority, "destroy", G_CALLBACK (standard_dialog_destroyed_cb), self,
                               G_CONNECT_SWAPPED);
      self->dialog = GTK_WIDGET (authority);
      gtk_window_present (GTK_WINDOW (authority));
      return;
    }
  if (level == COFFER_LEVEL_ADVANCED && coffer_category_item_get_id (self->item) != NULL
      && coffer_category_item_get_size (self->item) > 0)
    {
      g_autofree char *size = g_format_size (coffer_category_item_get_size (self->item));

      heading = g_strdup_printf (_("Turn On Advanced Protection for %s?"), name);
      /* Translators: %s is a size like "3.2 GB" */
      owned_body = g_strdup_printf (_("Only your trusted computers and your recovery key will open new backups of "
                                      "this category. Your backup password will no longer open them, and nobody "
                                      "can recover them for you if you lose every computer and the recovery key. "
                                      "New backups get a new key, so the next one uploads everything again: about "
                                      "%s, and your backups grow by that much until the older ones are "
                                      "re-encrypted or pruned."), size);
      body = owned_body;
    }
  else if (level == COFFER_LEVEL_ADVANCED && coffer_category_item_get_id (self->item) != NULL)
    {
      /* No backup from this computer yet: the amount is not known here. */
      heading = g_strdup_printf (_("Turn On Advanced Protection for %s?"), name);
      body = _("Only your trusted computers and your recovery key will open new backups of this category. "
               "Your backup password will no longer open them, and nobody can recover them for you if you "
               "lose every computer and the recovery key. New backups get a new key, so the next one uploads "
               "everything again, and your backups grow by its full size until the older ones are "
               "re-encrypted or pruned.");
    }
  else if (level == COFFER_LEVEL_ADVANCED)
    {
      heading = g_strdup_printf (_("Turn On Advanced Protection for %s?"), name);
      body = _("Only your trusted computers and your recovery key will open new backups of this category. "
               "Your backup password will no longer open them, and nobody can recover them for you if you "
               "lose every computer and the recovery key.");
    }
  else
    {
      heading = g_strdup_printf (_("Use Standard Protection for %s?"), name);
      body = _("Your backup password will also open the backups of this category, so you can recover them "
               "on a new computer with the password alone. Anyone who learns the password and has the cloud "
               "copy can open them too.");
    }

  dialog = adw_message_dialog_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))), heading, body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "change", level == COFFER_LEVEL_ADVANCED ? _("_Turn On") : _("_Use Standard"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "change",
                                              level == COFFER_LEVEL_ADVANCED ? ADW_RESPONSE_SUGGESTED
                                                                             : ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  self->reencrypt_check = NULL;
  if (level == COFFER_LEVEL_ADVANCED && coffer_category_item_get_id (self->item) != NULL
      && coffer_category_item_get_size (self->item) > 0)
    {
      /* Older backups: offered, on by default, with the reason. */
      GtkWidget *check = gtk_check_button_new_with_mnemonic (_("Also _re-encrypt older backups"));
      GtkWidget *label = gtk_label_new (_("Until then an old copy of the password envelope, for example in "
                                          "your provider’s file history, could still open them."));
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);

      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
      gtk_label_set_wrap (GTK_LABEL (label), TRUE);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
      gtk_widget_add_css_class (label, "dim-label");
      gtk_widget_add_css_class (label, "caption");
      gtk_widget_set_margin_start (label, 28);
      gtk_accessible_update_relation (GTK_ACCESSIBLE (check), GTK_ACCESSIBLE_RELATION_DESCRIBED_BY, label, NULL, -1);
      gtk_box_append (GTK_BOX (box), check);
      gtk_box_append (GTK_BOX (box), label);
      adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);
      self->reencrypt_check = GTK_CHECK_BUTTON (check);
    }
  g_signal_connect (dialog, "response", G_CALLBACK (level_dialog_response_cb), self);
  self->dialog = dialog;
  gtk_window_present (GTK_WINDOW (dialog));
}

GtkWidget *
coffer_category_row_get_dialog (CofferCategoryRow *self)
{
  return self->dialog;
}

gboolean
coffer_category_row_get_reencrypt_offered (CofferCategoryRow *self)
{
  g_return_val_if_fail (COFFER_IS_CATEGORY_ROW (self), FALSE);
  return gtk_widget_get_visible (GTK_WIDGET (self->reencrypt_row));
}

static void
level_selected_cb (CofferCategoryRow *self)
{
  update_level_subtitle (self);
  if (self->updating || self->item == NULL)
    return;
  coffer_category_row_request_level (self, adw_combo_row_get_selected (self->level_row));
}

/* ---- GObject ---- */

static void
coffer_category_row_dispose (GObject *object)
{
  CofferCategoryRow *self = COFFER_CATEGORY_ROW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->item);
  g_clear_pointer (&self->folder_rows, g_ptr_array_unref);
  g_clear_object (&self->add_folder_row_ref);
  G_OBJECT_CLASS (coffer_category_row_parent_class)->dispose (object);
}

static void
coffer_category_row_class_init (CofferCategoryRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = coffer_category_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cofferapp/Coffer/coffer-category-row.ui");
  gtk_widget_class_bind_template_child (widget_class, CofferCategoryRow, enabled_switch);
  gtk_widget_class_bind_template_child (widget_class, CofferCategoryRow, level_row);
  gtk_widget_class_bind_template_child (widget_class, CofferCategoryRow, add_folder_row);
  gtk_widget_class_bind_template_child (widget_class, CofferCategoryRow, icon);
  gtk_widget_class_bind_template_child (widget_class, CofferCategoryRow, reencrypt_row);
  gtk_widget_class_bind_template_child (widget_class, CofferCategoryRow, reencrypt_button);
  gtk_widget_class_bind_template_callback (widget_class, reencrypt_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, enabled_state_set_cb);
  gtk_widget_class_bind_template_callback (widget_class, level_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_folder_cb);
}

static void
coffer_category_row_init (CofferCategoryRow *self)
{
  self->folder_rows = g_ptr_array_new ();
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
  coffer_a11y_name_controls (GTK_WIDGET (self));
  /* Kept alive while it is taken out and put back after the folders. */
  self->add_folder_row_ref = g_object_ref (GTK_WIDGET (self->add_folder_row));
}

CofferCategoryRow *
coffer_category_row_new (CofferApplication *app, CofferCategoryItem *item)
{
  CofferCategoryRow *self = g_object_new (COFFER_TYPE_CATEGORY_ROW, NULL);

  self->app = app;
  self->item = g_object_ref (item);
  g_signal_connect_object (item, "notify::description", G_CALLBACK (sync_from_item), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (item, "notify::id", G_CALLBACK (sync_from_item), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (coffer_application_get_engine (app), "notify::busy",
                           G_CALLBACK (update_reencrypt_row), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (coffer_application_get_engine (app), "notify::repository",
                           G_CALLBACK (update_reencrypt_row), self, G_CONNECT_SWAPPED);
  sync_from_item (self);
  return self;
}

CofferCategoryItem *
coffer_category_row_get_item (CofferCategoryRow *self)
{
  return self->item;
}
