/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-preferences"

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "coffer-a11y.h"
#include "coffer-authority-dialog.h"
#include "coffer-category-item.h"
#include "coffer-destination-item.h"
#include "coffer-password-strength.h"
#include "coffer-preferences-window.h"
#include "coffer-recovery-wizard.h"
#include "coffer-shares-row.h"

/* How often the devices list is read again while Preferences is shown (a
 * listing of keys/devices/ and keys/pending/: a few small requests). */
#define DEVICES_POLL_SECONDS 3

struct _CofferPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  CofferApplication   *app;
  GSettings           *settings;
  guint                devices_poll_id;   /* re-reads the devices while shown */
  char                *devices_shown;     /* what the list shows, to redraw only on change */
  gboolean             devices_listing;   /* a listing is on its way */

  AdwActionRow        *destination_row;
  AdwComboRow         *schedule_row;
  AdwComboRow         *weekday_row;
  AdwActionRow        *time_row;
  GtkSpinButton       *hour_spin;
  GtkSpinButton       *minute_spin;
  GtkSwitch           *metered_switch;
  GtkSwitch           *power_switch;
  GtkSpinButton       *bandwidth_spin;
  AdwComboRow         *retention_row;
  GtkWidget           *keep_last_row;
  GtkWidget           *keep_hourly_row;
  GtkWidget           *keep_daily_row;
  GtkWidget           *keep_weekly_row;
  GtkWidget           *keep_monthly_row;
  GtkWidget           *keep_yearly_row;
  GtkSpinButton       *keep_hourly_spin;
  GtkLevelBar         *strength_bar;
  gboolean             custom_retention;
  gboolean             applying_preset;
  char                *destination_status;   /* last change: NULL running, "" done, else why not */
  CofferDestination   *new_destination;
  GPtrArray           *pending_categories;   /* CofferCategoryItem to add at the new place */
  gboolean             reopening;            /* waiting for the app to open the new place */
  GtkSpinButton       *keep_last_spin;
  GtkSpinButton       *keep_daily_spin;
  GtkSpinButton       *keep_weekly_spin;
  GtkSpinButton       *keep_monthly_spin;
  GtkSpinButton       *keep_yearly_spin;
  GtkListBox          *excludes_list;
  AdwEntryRow         *exclude_entry;
  AdwPasswordEntryRow *new_password;
  AdwPasswordEntryRow *new_password_confirm;
  AdwActionRow        *recovery_row;
  GtkListBox          *devices_list;
  CofferSharesRow     *shares_row;    /* recovery contacts, below recovery_row */
  AdwPreferencesGroup *more_destinations_group;
  GPtrArray           *more_rows;       /* the rows shown in more_destinations_group */
  char                *add_status;      /* last add: NULL running, "" done, else why not */
  CofferDestinationItem *adding;        /* the destination being added */
  GPtrArray           *adding_updates;  /* CofferCategory found there to point at our folders */
};

G_DEFINE_FINAL_TYPE (CofferPreferencesWindow, coffer_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
toast (CofferPreferencesWindow *self, const char *message)
{
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
}

/* ---- schedule ---- */

static gboolean
enum_to_selected (GValue *value, GVariant *variant, gpointer user_data)
{
  const char *nick = g_variant_get_string (variant, NULL);
  static const char * const nicks[] = { "off", "hourly", "daily", "weekly", NULL };

  for (guint i = 0; nicks[i]; i++)
    if (g_str_equal (nick, nicks[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
selected_to_enum (const GValue *value, const GVariantType *type, gpointer user_data)
{
  static const char * const nicks[] = { "off", "hourly", "daily", "weekly" };
  guint i = g_value_get_uint (value);
  return g_variant_new_string (nicks[MIN (i, 3)]);
}

static gboolean
weekday_to_selected (GValue *value, GVariant *variant, gpointer user_data)
{
  g_value_set_uint (value, g_variant_get_uint32 (variant) - 1);
  return TRUE;
}

static GVariant *
selected_to_weekday (const GValue *value, const GVariantType *type, gpointer user_data)
{
  return g_variant_new_uint32 (MIN (g_value_get_uint (value), 6) + 1);
}

static void
schedule_changed_cb (CofferPreferencesWindow *self)
{
  guint schedule = adw_combo_row_get_selected (self->schedule_row);
  guint minutes = g_settings_get_uint (self->settings, "schedule-time");

  gtk_widget_set_visible (GTK_WIDGET (self->weekday_row), schedule == 3);
  gtk_widget_set_visible (GTK_WIDGET (self->time_row), schedule >= 2);
  gtk_spin_button_set_value (self->hour_spin, minutes / 60);
  gtk_spin_button_set_value (self->minute_spin, minutes % 60);
}

static void
time_changed_cb (CofferPreferencesWindow *self)
{
  guint minutes = gtk_spin_button_get_value_as_int (self->hour_spin) * 60 +
                  gtk_spin_button_get_value_as_int (self->minute_spin);
  if (minutes != g_settings_get_uint (self->settings, "schedule-time"))
    g_settings_set_uint (self->settings, "schedule-time", minutes);
}

static gboolean
time_output_cb (GtkSpinButton *spin, gpointer user_data)
{
  g_autofree char *text = g_strdup_printf ("%02d", gtk_spin_button_get_value_as_int (spin));
  gtk_editable_set_text (GTK_EDITABLE (spin), text);
  return TRUE;
}

/* ---- destination ---- */

static void
destination_done (CofferPreferencesWindow *self, const char *error_message)
{
  g_free (self->destination_status);
  self->destination_status = g_strdup (error_message ? error_message : "");
  g_clear_pointer (&self->new_destination, coffer_destination_free);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.change-destination", TRUE);
  if (error_message != NULL)
    toast (self, error_message);
}

static void
update_destination_row (CofferPreferencesWindow *self)
{
  CofferRepository *repository = coffer_engine_get_repository (coffer_application_get_engine (self->app));
  g_autofree char *destination = repository ? coffer_repository_describe (repository)
                                            : g_settings_get_string (self->settings, "destination");

  adw_action_row_set_subtitle (self->destination_row, destination);
}

static void
reopened_cb (CofferPreferencesWindow *self)
{
  CofferAppState state = coffer_application_get_state (self->app);

  if (!self->reopening || state == COFFER_APP_STATE_OPENING)
    return;
  self->reopening = FALSE;
  update_destination_row (self);
  if (state == COFFER_APP_STATE_READY)
    {
      destination_done (self, NULL);
      toast (self, _("Backing up to the new place"));
    }
  else
    destination_done (self, coffer_application_get_state_message (self->app)
                            ? coffer_application_get_state_message (self->app)
                            : _("The backup at the new place could not be opened."));
}

static void add_next_category (CofferPreferencesWindow *self);

static void
category_added_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferCategoryItem) item = g_ptr_array_steal_index (self->pending_categories, 0);
  g_autofree char *id = coffer_engine_add_category_finish (COFFER_ENGINE (source), result, &error);

  if (id == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      g_autofree char *text = g_strdup_printf (_("%s could not be added: %s"),
                                               coffer_category_item_get_name (item), message);
      toast (self, text);
    }
  else
    coffer_category_item_set_id (item, id);
  add_next_category (self);
}

/* The categories are made again at the new place, one after another;
 * Advanced ones once the new recovery key has been typed back. */
static void
add_next_category (CofferPreferencesWindow *self)
{
  CofferCategoryItem *item;

  if (self->pending_categories->len == 0)
    {
      coffer_application_save_categories (self->app);
      update_destination_row (self);
      destination_done (self, NULL);
      toast (self, _("A new backup was started at the new place"));
      return;
    }
  item = g_ptr_array_index (self->pending_categories, 0);
  coffer_engine_add_category_async (coffer_application_get_engine (self->app), coffer_category_item_get_name (item),
                                    coffer_category_item_get_level (item), coffer_category_item_get_paths (item),
                                    coffer_category_item_get_excludes (item), NULL, category_added_cb,
                                    g_object_ref (self));
}

static void
new_key_confirmed_cb (CofferPreferencesWindow *self)
{
  add_next_category (self);
}

static void
created_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) key = coffer_engine_create_finish (COFFER_ENGINE (source), result, &error);
  GListModel *categories = G_LIST_MODEL (coffer_application_get_categories (self->app));
  CofferRecoveryWizard *wizard = NULL;
  gboolean any_advanced = FALSE;
  g_autoptr(CofferDestination) dest = NULL;

  if (key == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      destination_done (self, message);
      return;
    }
  /* The engine works with the new repository now; remember where it is. */
  dest = coffer_destination_copy (self->new_destination);
  coffer_application_change_destination (self->app, dest, FALSE);
  g_ptr_array_set_size (self->pending_categories, 0);
  for (guint level = COFFER_LEVEL_STANDARD; level <= COFFER_LEVEL_ADVANCED; level++)
    for (guint i = 0; i < g_list_model_get_n_items (categories); i++)
      {
        g_autoptr(CofferCategoryItem) item = g_list_model_get_item (categories, i);
        if (coffer_category_item_get_id (item) == NULL || coffer_category_item_get_level (item) != level)
          continue;
        coffer_category_item_set_id (item, NULL);
        g_ptr_array_add (self->pending_categories, g_object_ref (item));
        any_advanced |= level == COFFER_LEVEL_ADVANCED;
      }
  /* A new backup has a new recovery key: it is shown and typed back like
   * at setup; Advanced categories are added after that. */
  coffer_recovery_wizard_present_dialog (GTK_WINDOW (self), self->app, COFFER_RECOVERY_WIZARD_NEW, &wizard);
  coffer_recovery_wizard_start (wizard, COFFER_RECOVERY_WIZARD_NEW, key);
  if (any_advanced)
    g_signal_connect_object (wizard, "confirmed", G_CALLBACK (new_key_confirmed_cb), self, G_CONNECT_SWAPPED);
  else
    add_next_category (self);
}

static void
peeked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  CofferRepository *current = coffer_engine_get_repository (COFFER_ENGINE (source));

  if (!coffer_engine_peek_repository_id_finish (COFFER_ENGINE (source), result, &id, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      destination_done (self, message);
      return;
    }
  if (id != NULL && current != NULL && g_str_equal (id, coffer_repository_get_id (current)))
    {
      /* A copy of this backup: open it there. */
      g_autoptr(CofferDestination) dest = coffer_destination_copy (self->new_destination);
      self->reopening = TRUE;
      coffer_application_change_destination (self->app, dest, TRUE);
      return;   /* reopened_cb finishes */
    }
  if (id != NULL)
    {
      destination_done (self, _("This place holds a different Coffer backup. Choose a copy of this backup, "
                                "or an empty place to start a new backup there."));
      return;
    }
  if (coffer_engine_get_password (COFFER_ENGINE (source)) == NULL)
    {
      destination_done (self, _("Unlock Coffer with your backup password first: a new backup there needs it."));
      return;
    }
  {
    /* A copy: create_async replaces the engine's own. */
    g_autoptr(CofferSecret) password = coffer_secret_dup (coffer_engine_get_password (COFFER_ENGINE (source)));
    coffer_engine_create_async (COFFER_ENGINE (source), self->new_destination, password, NULL, created_cb,
                                g_object_ref (self));
  }
}

void
coffer_preferences_window_change_destination (CofferPreferencesWindow *self, const CofferDestination *dest)
{
  g_return_if_fail (COFFER_IS_PREFERENCES_WINDOW (self));
  g_clear_pointer (&self->destination_status, g_free);
  g_clear_pointer (&self->new_destination, coffer_destination_free);
  {
    GListModel *more = G_LIST_MODEL (coffer_application_get_destinations (self->app));
    for (guint i = 0; i < g_list_model_get_n_items (more); i++)
      {
        g_autoptr(CofferDestinationItem) item = g_list_model_get_item (more, i);
        if (g_strcmp0 (coffer_destination_item_get_location (item), dest->location) == 0)
          {
            destination_done (self, _("Coffer already backs up to this place as another destination. "
                                      "Stop backing up there first."));
            return;
          }
      }
  }
  self->new_destination = coffer_destination_copy (dest);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.change-destination", FALSE);
  /* The same repository (its id) or an empty place: anything else is
   * refused, so backups never mix two repositories. */
  coffer_engine_peek_repository_id_async (coffer_application_get_engine (self->app), dest, NULL, peeked_cb,
                                          g_object_ref (self));
}

const char *
coffer_preferences_window_get_destination_status (CofferPreferencesWindow *self)
{
  return self->destination_status;
}

static void
destination_folder_cb (GtkNativeDialog *chooser, int response, GtkEditable *entry)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      g_autofree char *uri = file && path == NULL ? g_file_get_uri (file) : NULL;
      gtk_editable_set_text (entry, path ? path : uri ? uri : "");
    }
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
  g_object_unref (entry);
}

static void
destination_choose_cb (GtkButton *button, GtkEditable *entry)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (_("Choose the Backup Folder"),
                                                               GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (button))),
                                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                               _("_Select"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (destination_folder_cb), g_object_ref (entry));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* What was typed in the location dialogs, as a destination. */
static CofferDestination *
destination_from_entries (CofferPreferencesWindow *self, GtkEditable *location, GtkEditable *user,
                          GtkEditable *secret)
{
  const char *text = gtk_editable_get_text (location);
  CofferDestination *dest;

  if (text == NULL || *text == '\0')
    return NULL;
  if (g_str_has_prefix (text, "https://"))
    {
      g_autofree char *webdav = g_strconcat ("webdavs://", text + 8, NULL);
      dest = coffer_destination_new (webdav);
    }
  else if (g_str_has_prefix (text, "http://"))
    {
      g_autofree char *webdav = g_strconcat ("webdav://", text + 7, NULL);
      dest = coffer_destination_new (webdav);
    }
  else
    dest = coffer_destination_new (text);
  if (*gtk_editable_get_text (user))
    dest->user = g_strdup (gtk_editable_get_text (user));
  if (*gtk_editable_get_text (secret))
    dest->secret = coffer_secret_new_from_string (gtk_editable_get_text (secret));
  if (g_str_has_prefix (dest->location, "s3://"))
    {
      /* The endpoint and region stay as set up. */
      dest->s3_endpoint = g_settings_get_string (self->settings, "s3-endpoint");
      dest->s3_region = g_settings_get_string (self->settings, "s3-region");
    }
  return dest;
}

static void
destination_response_cb (AdwMessageDialog *dialog, const char *response, CofferPreferencesWindow *self)
{
  g_autoptr(CofferDestination) dest = NULL;

  if (g_strcmp0 (response, "change") != 0)
    return;
  dest = destination_from_entries (self, g_object_get_data (G_OBJECT (dialog), "location"),
                                   g_object_get_data (G_OBJECT (dialog), "user"),
                                   g_object_get_data (G_OBJECT (dialog), "secret"));
  if (dest != NULL)
    coffer_preferences_window_change_destination (self, dest);
}

/* A dialog asking for a location (a folder, with Choose Folder…, or a
 * server address) and, for servers, a user name and a secret; the entries
 * are on the dialog as "location", "user" and "secret". Returns the box the
 * caller may add to. */
static GtkWidget *
location_dialog_new (CofferPreferencesWindow *self, const char *heading, const char *body,
                     const char *location_name, GtkWidget **out_box)
{
  GtkWidget *dialog, *box, *location, *user, *secret, *choose;

  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  location = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (location), _("Folder, webdavs://server/path or s3://bucket/folder"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (location), GTK_ACCESSIBLE_PROPERTY_LABEL, location_name, -1);
  choose = gtk_button_new_with_mnemonic (_("_Choose Folder…"));
  g_signal_connect (choose, "clicked", G_CALLBACK (destination_choose_cb), location);
  user = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (user), _("User name or access key ID (servers only)"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (user), GTK_ACCESSIBLE_PROPERTY_LABEL, _("User name"), -1);
  secret = gtk_password_entry_new ();
  gtk_password_entry_set_show_peek_icon (GTK_PASSWORD_ENTRY (secret), TRUE);
  g_object_set (secret, "placeholder-text", _("Password or secret key (servers only)"), NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (secret), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Password or secret key"), -1);
  gtk_box_append (GTK_BOX (box), location);
  gtk_box_append (GTK_BOX (box), choose);
  gtk_box_append (GTK_BOX (box), user);
  gtk_box_append (GTK_BOX (box), secret);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "location", location);
  g_object_set_data (G_OBJECT (dialog), "user", user);
  g_object_set_data (G_OBJECT (dialog), "secret", secret);
  *out_box = box;
  return dialog;
}

static void
change_destination_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferPreferencesWindow *self = COFFER_PREFERENCES_WINDOW (widget);
  GtkWidget *box;
  GtkWidget *dialog = location_dialog_new (self, _("Change the Backup Location"),
                                           _("Point Coffer at a copy of this backup — moved to another drive, "
                                             "server or bucket — or at an empty place to start a new backup "
                                             "there. Nothing is moved or deleted."),
                                           _("New backup location"), &box);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                    "change", _("_Change Location"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "change", ADW_RESPONSE_SUGGESTED);
  g_signal_connect (dialog, "response", G_CALLBACK (destination_response_cb), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- other destinations ---- */

static void
remove_response_cb (AdwMessageDialog *dialog, const char *response, CofferPreferencesWindow *self)
{
  CofferDestinationItem *item = g_object_get_data (G_OBJECT (dialog), "item");
  GListStore *store = coffer_application_get_destinations (self->app);
  guint position;

  if (g_strcmp0 (response, "remove") != 0)
    return;
  if (coffer_application_get_busy (self->app))
    {
      toast (self, _("Wait until the running backup or restore is done"));
      return;
    }
  if (g_list_store_find (store, item, &position))
    {
      g_list_store_remove (store, position);
      coffer_application_save_destinations (self->app);
    }
}

static void
remove_clicked_cb (GtkButton *button, CofferPreferencesWindow *self)
{
  CofferDestinationItem *item = g_object_get_data (G_OBJECT (button), "item");
  g_autofree char *name = coffer_destination_item_dup_name (item);
  g_autofree char *heading = NULL;
  GtkWidget *dialog;

  /* Translators: %s is the name of a destination (a drive, folder or server) */
  heading = g_strdup_printf (_("Stop Backing Up to “%s”?"), name);
  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading,
                                   _("The backups already there are kept, not deleted: you can restore from "
                                     "them with the coffer command or add the place again later."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                    "remove", _("_Stop Backing Up There"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "item", g_object_ref (item), g_object_unref);
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
fill_more_destinations (CofferPreferencesWindow *self)
{
  GListModel *model = G_LIST_MODEL (coffer_application_get_destinations (self->app));
  guint n = g_list_model_get_n_items (model);

  for (guint i = 0; i < self->more_rows->len; i++)
    adw_preferences_group_remove (self->more_destinations_group, g_ptr_array_index (self->more_rows, i));
  g_ptr_array_set_size (self->more_rows, 0);
  if (n == 0)
    {
      GtkWidget *row = adw_action_row_new ();
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No other destinations"));
      gtk_widget_add_css_class (row, "dim-label");
      adw_preferences_group_add (self->more_destinations_group, row);
      g_ptr_array_add (self->more_rows, row);
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (model, i);
      g_autofree char *name = coffer_destination_item_dup_name (item);
      g_autofree char *label = NULL;
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *button = gtk_button_new_from_icon_name ("user-trash-symbolic");

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), coffer_destination_item_get_location (item));
      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (button, "flat");
      /* Translators: %s is the name of a destination (a drive, folder or server) */
      label = g_strdup_printf (_("Stop backing up to %s"), name);
      gtk_widget_set_tooltip_text (button, label);
      gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
      g_object_set_data_full (G_OBJECT (button), "item", g_object_ref (item), g_object_unref);
      g_signal_connect_object (button, "clicked", G_CALLBACK (remove_clicked_cb), self, 0);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
      adw_preferences_group_add (self->more_destinations_group, row);
      g_ptr_array_add (self->more_rows, row);
    }
}

static void
add_done (CofferPreferencesWindow *self, const char *error_message)
{
  g_free (self->add_status);
  self->add_status = g_strdup (error_message ? error_message : "");
  g_clear_object (&self->adding);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.add-destination", TRUE);
  if (error_message != NULL)
    toast (self, error_message);
}

/* The place is ready: it joins the list and gets the categories at the
 * next backup. */
static void
add_finish (CofferPreferencesWindow *self)
{
  g_autoptr(CofferDestination) dest = coffer_destination_item_dup_destination (self->adding);
  g_autofree char *name = coffer_destination_item_dup_name (self->adding);
  g_autofree char *message = NULL;

  if (dest->secret != NULL)
    coffer_engine_save_credentials_async (coffer_application_get_engine (self->app), dest, NULL, NULL, NULL);
  g_list_store_append (coffer_application_get_destinations (self->app), self->adding);
  coffer_application_save_destinations (self->app);
  /* Translators: %s is the name of a destination (a drive, folder or server) */
  message = g_strdup_printf (_("Coffer also backs up to “%s” now"), name);
  toast (self, message);
  add_done (self, NULL);
}

static void add_next_update (CofferPreferencesWindow *self);

static void
add_updated_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_update_category_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      add_done (self, message);
      return;
    }
  add_next_update (self);
}

/* A backup that was there already: its categories of the same name are
 * used (with this computer's folders); the others are made at the first
 * backup. */
static void
add_next_update (CofferPreferencesWindow *self)
{
  GListModel *categories = G_LIST_MODEL (coffer_application_get_categories (self->app));

  while (self->adding_updates->len > 0)
    {
      CofferCategory *found = g_ptr_array_index (self->adding_updates, 0);

      for (guint i = 0; i < g_list_model_get_n_items (categories); i++)
        {
          g_autoptr(CofferCategoryItem) item = g_list_model_get_item (categories, i);

          if (coffer_category_item_get_id (item) == NULL
              || g_strcmp0 (coffer_category_item_get_name (item), found->name) != 0
              || coffer_destination_item_lookup_category (self->adding, coffer_category_item_get_id (item)))
            continue;
          coffer_destination_item_set_category (self->adding, coffer_category_item_get_id (item), found->id);
          coffer_engine_update_category_async (coffer_destination_item_get_engine (self->adding), found->id,
                                               found->name, coffer_category_item_get_paths (item),
                                               coffer_category_item_get_excludes (item), NULL, add_updated_cb,
                                               g_object_ref (self));
          g_ptr_array_remove_index (self->adding_updates, 0);
          return;
        }
      g_ptr_array_remove_index (self->adding_updates, 0);
    }
  add_finish (self);
}

static void
add_listed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = coffer_engine_list_categories_finish (COFFER_ENGINE (source), result, &error);

  if (found == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      add_done (self, message);
      return;
    }
  g_clear_pointer (&self->adding_updates, g_ptr_array_unref);
  self->adding_updates = g_steal_pointer (&found);
  add_next_update (self);
}

static void
add_opened_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_open_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      add_done (self, message);
      return;
    }
  coffer_engine_list_categories_async (COFFER_ENGINE (source), NULL, add_listed_cb, g_object_ref (self));
}

static void
add_key_confirmed_cb (CofferPreferencesWindow *self)
{
  if (self->adding != NULL)
    add_finish (self);
}

static void
add_created_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) key = coffer_engine_create_finish (COFFER_ENGINE (source), result, &error);
  GListModel *categories = G_LIST_MODEL (coffer_application_get_categories (self->app));
  CofferRecoveryWizard *wizard = NULL;
  gboolean any_advanced = FALSE;

  if (key == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      add_done (self, message);
      return;
    }
  for (guint i = 0; i < g_list_model_get_n_items (categories); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (categories, i);
      any_advanced |= coffer_category_item_get_enabled (item)
                      && coffer_category_item_get_level (item) == COFFER_LEVEL_ADVANCED;
    }
  /* A new backup has its own recovery key (the core makes one per
   * repository): it is shown and typed back like at setup. Advanced
   * categories go there only once it was typed back. */
  coffer_recovery_wizard_present_dialog (GTK_WINDOW (self), self->app, COFFER_RECOVERY_WIZARD_NEW, &wizard);
  coffer_recovery_wizard_set_engine (wizard, COFFER_ENGINE (source));
  coffer_recovery_wizard_start (wizard, COFFER_RECOVERY_WIZARD_NEW, key);
  {
    g_autofree char *name = coffer_destination_item_dup_name (self->adding);
    /* Translators: %s is the name of a destination (a drive, folder or server) */
    g_autofree char *title = g_strdup_printf (_("The Recovery Key of “%s”"), name);
    g_autofree char *text = g_strdup_printf (_("The new backup at “%s” has a recovery key of its own. It opens "
                                               "that backup, not the one at your first destination, whose key "
                                               "stays as it is: keep both. Coffer does not keep a copy."), name);
    coffer_recovery_wizard_set_intro (wizard, title, text);
  }
  if (any_advanced)
    {
      g_free (self->add_status);
      self->add_status = g_strdup (_("Type the new recovery key back to finish adding the place."));
      g_signal_connect_object (wizard, "confirmed", G_CALLBACK (add_key_confirmed_cb), self, G_CONNECT_SWAPPED);
    }
  else
    add_finish (self);
}

static void
add_peeked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr(CofferDestination) dest = NULL;
  CofferEngine *first = coffer_application_get_engine (self->app);
  CofferRepository *current = coffer_engine_get_repository (first);

  if (!coffer_engine_peek_repository_id_finish (COFFER_ENGINE (source), result, &id, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      add_done (self, message);
      return;
    }
  dest = coffer_destination_item_dup_destination (self->adding);
  if (id != NULL && current != NULL && g_str_equal (id, coffer_repository_get_id (current)))
    {
      /* Two places backed up to as one repository would each miss the
       * other's snapshots and index. */
      add_done (self, _("This place holds a copy of the backup at your first destination. Choose an empty "
                        "place, or another backup of yours."));
      return;
    }
  if (id != NULL)
    {
      coffer_engine_open_async (COFFER_ENGINE (source), dest, coffer_engine_get_password (first), NULL,
                                add_opened_cb, g_object_ref (self));
      return;
    }
  if (coffer_engine_get_password (first) == NULL)
    {
      add_done (self, _("Unlock Coffer with your backup password first: a new backup there needs it."));
      return;
    }
  /* The same backup password as the first destination. */
  coffer_engine_create_async (COFFER_ENGINE (source), dest, coffer_engine_get_password (first), NULL,
                              add_created_cb, g_object_ref (self));
}

void
coffer_preferences_window_add_destination (CofferPreferencesWindow *self, const CofferDestination *dest)
{
  GListModel *model;
  g_autofree char *first = NULL;

  g_return_if_fail (COFFER_IS_PREFERENCES_WINDOW (self));
  g_return_if_fail (dest != NULL && dest->location != NULL);
  model = G_LIST_MODEL (coffer_application_get_destinations (self->app));
  first = g_settings_get_string (self->settings, "destination");
  g_clear_pointer (&self->add_status, g_free);
  if (self->adding != NULL)
    return;
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (model, i);
      if (g_strcmp0 (coffer_destination_item_get_location (item), dest->location) == 0)
        {
          add_done (self, _("Coffer already backs up to this place."));
          return;
        }
    }
  if (g_strcmp0 (first, dest->location) == 0)
    {
      add_done (self, _("Coffer already backs up to this place."));
      return;
    }
  {
    /* A new folder the user named inside an existing one is made here; a
     * missing drive is not (its parent is missing too). */
    g_autofree char *path = coffer_destination_local_path (dest->location);
    if (path != NULL && !g_file_test (path, G_FILE_TEST_IS_DIR))
      g_mkdir (path, 0700);
  }
  self->adding = coffer_destination_item_new (dest);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.add-destination", FALSE);
  coffer_engine_peek_repository_id_async (coffer_destination_item_get_engine (self->adding), dest, NULL,
                                          add_peeked_cb, g_object_ref (self));
}

const char *
coffer_preferences_window_get_add_status (CofferPreferencesWindow *self)
{
  g_return_val_if_fail (COFFER_IS_PREFERENCES_WINDOW (self), NULL);
  return self->add_status;
}

static void
add_tested_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GtkLabel) label = user_data;
  g_autoptr(GError) error = NULL;
  gboolean has_repository = FALSE;

  if (!coffer_engine_test_connection_finish (COFFER_ENGINE (source), result, &has_repository, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      gtk_label_set_text (label, message);
      gtk_widget_add_css_class (GTK_WIDGET (label), "error");
    }
  else
    {
      gtk_label_set_text (label, has_repository ? _("Connected. A Coffer backup is already there: it is used.")
                                                : _("Connected. A new backup is started there."));
      gtk_widget_remove_css_class (GTK_WIDGET (label), "error");
    }
  g_object_unref (source);
}

static void
add_test_clicked_cb (GtkButton *button, AdwMessageDialog *dialog)
{
  CofferPreferencesWindow *self = g_object_get_data (G_OBJECT (dialog), "prefs");
  GtkLabel *label = g_object_get_data (G_OBJECT (dialog), "result");
  g_autoptr(CofferDestination) dest = destination_from_entries (self, g_object_get_data (G_OBJECT (dialog), "location"),
                                                                g_object_get_data (G_OBJECT (dialog), "user"),
                                                                g_object_get_data (G_OBJECT (dialog), "secret"));

  if (dest == NULL)
    return;
  gtk_label_set_text (label, _("Testing…"));
  gtk_widget_set_visible (GTK_WIDGET (label), TRUE);
  /* Its own engine: the open backup is not touched. */
  coffer_engine_test_connection_async (coffer_engine_new (), dest, NULL, add_tested_cb, g_object_ref (label));
}

static void
add_response_cb (AdwMessageDialog *dialog, const char *response, CofferPreferencesWindow *self)
{
  g_autoptr(CofferDestination) dest = NULL;

  if (g_strcmp0 (response, "add") != 0)
    return;
  dest = destination_from_entries (self, g_object_get_data (G_OBJECT (dialog), "location"),
                                   g_object_get_data (G_OBJECT (dialog), "user"),
                                   g_object_get_data (G_OBJECT (dialog), "secret"));
  if (dest != NULL)
    coffer_preferences_window_add_destination (self, dest);
}

static void
add_destination_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferPreferencesWindow *self = COFFER_PREFERENCES_WINDOW (widget);
  GtkWidget *box, *test, *result;
  GtkWidget *dialog = location_dialog_new (self, _("Add a Destination"),
                                           _("Choose an empty folder, drive or server to start a new backup of "
                                             "the same categories there, with the same backup password, or a "
                                             "place that holds another Coffer backup of yours."),
                                           _("Location of the other destination"), &box);

  test = gtk_button_new_with_mnemonic (_("_Test Connection"));
  g_signal_connect (test, "clicked", G_CALLBACK (add_test_clicked_cb), dialog);
  result = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (result), TRUE);
  gtk_label_set_xalign (GTK_LABEL (result), 0);
  gtk_widget_set_visible (result, FALSE);
  gtk_box_append (GTK_BOX (box), test);
  gtk_box_append (GTK_BOX (box), result);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                    "add", _("_Add Destination"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "add", ADW_RESPONSE_SUGGESTED);
  g_object_set_data (G_OBJECT (dialog), "prefs", self);
  g_object_set_data (G_OBJECT (dialog), "result", result);
  g_signal_connect_object (dialog, "response", G_CALLBACK (add_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- retention ---- */

/* The presets, in the order of the combo row; Custom shows the numbers.
 * "Thin out": every backup of the last day, one a day for a month, one a
 * week for a year, one a month for good (1000 months), and the latest. */
static const char * const retention_keys[] = {
  "retention-keep-last", "retention-keep-hourly", "retention-keep-daily", "retention-keep-weekly",
  "retention-keep-monthly", "retention-keep-yearly",
};
static const guint retention_presets[2][6] = {
  { 0, 0, 0, 0, 0, 0 },          /* Everything: nothing is ever removed */
  { 1, 24, 31, 52, 1000, 0 },    /* Thin out over time */
};

enum { RETENTION_EVERYTHING, RETENTION_THIN_OUT, RETENTION_CUSTOM };

static guint
current_retention (CofferPreferencesWindow *self)
{
  for (guint p = 0; p < G_N_ELEMENTS (retention_presets); p++)
    {
      gboolean same = TRUE;
      for (guint k = 0; k < G_N_ELEMENTS (retention_keys); k++)
        if (g_settings_get_uint (self->settings, retention_keys[k]) != retention_presets[p][k])
          same = FALSE;
      if (same)
        return p;
    }
  return RETENTION_CUSTOM;
}

static void
show_retention (CofferPreferencesWindow *self, guint preset)
{
  GtkWidget *rows[] = { self->keep_last_row, self->keep_hourly_row, self->keep_daily_row,
                        self->keep_weekly_row, self->keep_monthly_row, self->keep_yearly_row };

  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    gtk_widget_set_visible (rows[i], preset == RETENTION_CUSTOM);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->retention_row),
                               preset == RETENTION_EVERYTHING
                               ? _("No backup is ever removed. The backup place keeps growing.")
                               : preset == RETENTION_THIN_OUT
                               ? _("Hourly for a day, daily for a month, weekly for a year, monthly forever.")
                               : _("Choose how many backups of each kind to keep."));
}

static void
retention_selected_cb (CofferPreferencesWindow *self)
{
  guint preset = adw_combo_row_get_selected (self->retention_row);

  if (self->applying_preset)
    return;
  self->custom_retention = preset == RETENTION_CUSTOM;
  /* The keys change one by one: do not read a half-written preset back. */
  self->applying_preset = TRUE;
  if (preset < G_N_ELEMENTS (retention_presets))
    for (guint k = 0; k < G_N_ELEMENTS (retention_keys); k++)
      g_settings_set_uint (self->settings, retention_keys[k], retention_presets[preset][k]);
  self->applying_preset = FALSE;
  show_retention (self, preset);
}

static void
retention_changed_cb (CofferPreferencesWindow *self)
{
  /* Numbers edited under Custom stay Custom even when they happen to
   * match a preset; otherwise follow the settings. */
  guint preset = self->custom_retention ? RETENTION_CUSTOM : current_retention (self);

  if (self->applying_preset)
    return;
  self->applying_preset = TRUE;
  if (adw_combo_row_get_selected (self->retention_row) != preset)
    adw_combo_row_set_selected (self->retention_row, preset);
  self->applying_preset = FALSE;
  show_retention (self, preset);
}

/* ---- exclusions ---- */

static void fill_excludes (CofferPreferencesWindow *self);

static void
remove_exclude_cb (GtkButton *button, CofferPreferencesWindow *self)
{
  const char *pattern = g_object_get_data (G_OBJECT (button), "pattern");
  g_auto(GStrv) excludes = g_settings_get_strv (self->settings, "global-excludes");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) result = NULL;

  for (guint i = 0; excludes[i]; i++)
    if (g_strcmp0 (excludes[i], pattern) != 0)
      g_strv_builder_add (builder, excludes[i]);
  result = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "global-excludes", (const char * const *) result);
}

static void
add_exclude (CofferPreferencesWindow *self, const char *pattern)
{
  g_auto(GStrv) excludes = g_settings_get_strv (self->settings, "global-excludes");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) result = NULL;

  if (pattern == NULL || *pattern == '\0' || g_strv_contains ((const char * const *) excludes, pattern))
    return;
  g_strv_builder_addv (builder, (const char **) excludes);
  g_strv_builder_add (builder, pattern);
  result = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "global-excludes", (const char * const *) result);
}

static void
fill_excludes (CofferPreferencesWindow *self)
{
  g_auto(GStrv) excludes = g_settings_get_strv (self->settings, "global-excludes");
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->excludes_list))))
    gtk_list_box_remove (self->excludes_list, child);
  for (guint i = 0; excludes[i]; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *button = gtk_button_new_from_icon_name ("list-remove-symbolic");
      g_autofree char *tip = g_strdup_printf (_("Back up %s again"), excludes[i]);

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), excludes[i]);
      gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (button, "flat");
      gtk_widget_set_tooltip_text (button, tip);
      coffer_a11y_set_name (button, tip);
      g_object_set_data_full (G_OBJECT (button), "pattern", g_strdup (excludes[i]), g_free);
      g_signal_connect (button, "clicked", G_CALLBACK (remove_exclude_cb), self);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
      gtk_list_box_append (self->excludes_list, row);
    }
}

static void
exclude_apply_cb (CofferPreferencesWindow *self)
{
  add_exclude (self, gtk_editable_get_text (GTK_EDITABLE (self->exclude_entry)));
  gtk_editable_set_text (GTK_EDITABLE (self->exclude_entry), "");
}

static void
exclude_folder_response_cb (GtkNativeDialog *dialog, int response, CofferPreferencesWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      add_exclude (self, path);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
exclude_folder_cb (CofferPreferencesWindow *self)
{
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (_("Exclude a Folder"), GTK_WINDOW (self),
                                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                               _("_Exclude"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (exclude_folder_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- security ---- */

static void
update_recovery_row (CofferPreferencesWindow *self)
{
  gint64 tested = coffer_engine_get_recovery_key_tested (coffer_application_get_engine (self->app));
  g_autofree char *ago = coffer_format_time_ago (tested);

  adw_action_row_set_subtitle (self->recovery_row, tested > 0 ? ago : _("Not tested on this computer yet"));
  /* A replaced key invalidates its shares: the row says so. */
  if (self->shares_row != NULL)
    coffer_shares_row_refresh (self->shares_row);
}

static void
change_password_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.change-password", TRUE);
  if (!coffer_engine_change_password_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      toast (self, message);
      return;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->new_password), "");
  gtk_editable_set_text (GTK_EDITABLE (self->new_password_confirm), "");
  toast (self, _("Backup password changed"));
}

static void
new_password_changed_cb (CofferPreferencesWindow *self)
{
  const char *text = NULL;

  coffer_password_strength (gtk_editable_get_text (GTK_EDITABLE (self->new_password)), &text);
  coffer_password_meter_update (self->strength_bar, NULL,
                                gtk_editable_get_text (GTK_EDITABLE (self->new_password)));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->strength_bar), text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->strength_bar), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  text, -1);
}

static void
change_password_granted_cb (CofferAuthorityDialog *dialog, CofferPreferencesWindow *self)
{
  const CofferSecret *secret = g_object_get_data (G_OBJECT (dialog), "new-password");

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "prefs.change-password", FALSE);
  coffer_engine_change_password_async (coffer_application_get_engine (self->app), secret, NULL,
                                       change_password_cb, g_object_ref (self));
}

static void
change_password_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferPreferencesWindow *self = COFFER_PREFERENCES_WINDOW (widget);
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->new_password));
  const char *confirm = gtk_editable_get_text (GTK_EDITABLE (self->new_password_confirm));
  g_autoptr(CofferSecret) secret = NULL;
  CofferAuthorityDialog *dialog;

  if (coffer_password_strength (password, NULL) < COFFER_PASSWORD_MIN_BITS)
    {
      toast (self, _("This password is too easy to guess. Add more words or characters."));
      return;
    }
  if (g_strcmp0 (password, confirm) != 0)
    {
      toast (self, _("The passwords do not match."));
      return;
    }
  secret = coffer_secret_new_from_string (password);
  /* A new password is a new way in for everyone who learns it: the
   * current password or the recovery key must be typed now. */
  dialog = coffer_authority_dialog_new (GTK_WINDOW (self), self->app, _("Change the Backup Password?"),
                                        _("Anyone who knows the new password will be able to open your "
                                          "Standard categories, and the old password stops working. To confirm "
                                          "that this is you, type the current backup password or your recovery "
                                          "key."),
                                        _("C_hange Password"), FALSE);
  g_object_set_data_full (G_OBJECT (dialog), "new-password", g_steal_pointer (&secret),
                          (GDestroyNotify) coffer_secret_free);
  g_signal_connect_object (dialog, "granted", G_CALLBACK (change_password_granted_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
test_recovery_key_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferPreferencesWindow *self = COFFER_PREFERENCES_WINDOW (widget);
  CofferRecoveryWizard *wizard = NULL;

  coffer_recovery_wizard_present_dialog (GTK_WINDOW (self), self->app, COFFER_RECOVERY_WIZARD_TEST, &wizard);
  g_signal_connect_object (wizard, "confirmed", G_CALLBACK (update_recovery_row), self, G_CONNECT_SWAPPED);
}

static void
replace_recovery_key_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferPreferencesWindow *self = COFFER_PREFERENCES_WINDOW (widget);
  CofferRecoveryWizard *wizard = NULL;

  coffer_recovery_wizard_present_dialog (GTK_WINDOW (self), self->app, COFFER_RECOVERY_WIZARD_REPLACE, &wizard);
  g_signal_connect_object (wizard, "confirmed", G_CALLBACK (update_recovery_row), self, G_CONNECT_SWAPPED);
}

static void fill_devices (CofferPreferencesWindow *self);

typedef struct
{
  CofferPreferencesWindow *self;
  char                    *device_id;
  GtkEditable             *entry;
} DeviceDialog;

static void
device_dialog_free (DeviceDialog *dd)
{
  g_object_unref (dd->self);
  g_free (dd->device_id);
  g_free (dd);
}

static void
device_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lost = NULL;
  gboolean ok;

  if (g_task_get_source_tag (G_TASK (result)) == coffer_engine_approve_device_async)
    ok = coffer_engine_approve_device_finish (COFFER_ENGINE (source), result, &error);
  else
    ok = coffer_engine_remove_device_finish (COFFER_ENGINE (source), result, &lost, &error);
  if (!ok)
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      toast (self, message);
    }
  else if (lost != NULL && lost[0] != NULL)
    {
      /* Computers whose approval could not be traced back to the recovery
       * key are not trusted with the new keys: say which. */
      g_autofree char *names = g_strjoinv (", ", lost);
      g_autofree char *message =
        g_strdup_printf (ngettext ("The computer was removed and the keys were replaced. %s could not be "
                                   "verified and must join again.",
                                   "The computer was removed and the keys were replaced. These computers "
                                   "could not be verified and must join again: %s.",
                                   g_strv_length (lost)), names);
      toast (self, message);
    }
  else
    toast (self, g_task_get_source_tag (G_TASK (result)) == coffer_engine_approve_device_async
                 ? _("The computer is now trusted")
                 : _("The computer was removed and the keys were replaced. Re-encrypt the older backups "
                     "of each category so that it cannot read them either."));
  fill_devices (self);
}

static void
device_dialog_response_cb (AdwMessageDialog *dialog, const char *response, DeviceDialog *dd)
{
  CofferEngine *engine = coffer_application_get_engine (dd->self->app);
  const char *text = gtk_editable_get_text (dd->entry);

  if (g_strcmp0 (response, "remove") == 0)
    coffer_engine_remove_device_async (engine, dd->device_id, text, NULL, device_done_cb, g_object_ref (dd->self));
  device_dialog_free (dd);
}

static void
device_approve_granted_cb (CofferAuthorityDialog *dialog, DeviceDialog *dd)
{
  coffer_engine_approve_device_async (coffer_application_get_engine (dd->self->app), dd->device_id,
                                      gtk_editable_get_text (dd->entry), NULL, device_done_cb,
                                      g_object_ref (dd->self));
}

/* What the backups of every category came to at their last backup: the
 * data a key rotation makes the next backups upload again. */
static guint64
total_backup_size (CofferPreferencesWindow *self)
{
  GListModel *categories = G_LIST_MODEL (coffer_application_get_categories (self->app));
  guint64 total = 0;

  for (guint i = 0; i < g_list_model_get_n_items (categories); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (categories, i);
      if (coffer_category_item_get_id (item) != NULL)
        total += coffer_category_item_get_size (item);
    }
  return total;
}

/* Trusting a computer hands it every key: authority typed now (the backup
 * password or the recovery key), besides the code from its screen. */
static void
approve_device (CofferPreferencesWindow *self, const CofferDevice *device)
{
  DeviceDialog *dd = g_new0 (DeviceDialog, 1);
  GtkWidget *entry = gtk_entry_new ();
  const char *name = device->name ? device->name : _("Unnamed computer");
  g_autofree char *heading = g_strdup_printf (_("Trust %s?"), name);
  CofferAuthorityDialog *dialog;

  dd->self = g_object_ref (self);
  dd->device_id = g_strdup (device->id);
  dd->entry = GTK_EDITABLE (entry);
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("Code, for example 123 456"));
  gtk_entry_set_input_purpose (GTK_ENTRY (entry), GTK_INPUT_PURPOSE_DIGITS);
  coffer_a11y_set_name (entry, _("Verification code"));
  dialog = coffer_authority_dialog_new (GTK_WINDOW (self), self->app, heading,
                                        _("Approve only a computer you set up yourself: it will open every "
                                          "category, including those with Advanced protection. Type the "
                                          "six-digit code that the new computer shows, then your backup "
                                          "password or recovery key to confirm that this is you."),
                                        _("_Trust Computer"), FALSE);
  coffer_authority_dialog_set_extra_child (dialog, entry);
  g_signal_connect_data (dialog, "granted", G_CALLBACK (device_approve_granted_cb), dd,
                         (GClosureNotify) (void (*) (void)) device_dialog_free, 0);
  /* Answer the request now so the new computer can show its code. */
  coffer_engine_answer_join_async (coffer_application_get_engine (self->app), device->id, NULL, NULL, NULL);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (entry);
}

static void
device_action_cb (GtkButton *button, CofferPreferencesWindow *self)
{
  const CofferDevice *device = g_object_get_data (G_OBJECT (button), "device");
  DeviceDialog *dd;
  GtkWidget *dialog, *entry;
  g_autofree char *heading = NULL;
  g_autofree char *size = NULL;
  g_autofree char *body = NULL;
  const char *name = device->name ? device->name : _("Unnamed computer");

  if (device->pending)
    {
      approve_device (self, device);
      return;
    }
  /* Removing needs the recovery key itself (it writes the new account key
   * under it): that is the authority asked for here. */
  dd = g_new0 (DeviceDialog, 1);
  dd->self = g_object_ref (self);
  dd->device_id = g_strdup (device->id);
  entry = gtk_entry_new ();
  dd->entry = GTK_EDITABLE (entry);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  size = g_format_size (total_backup_size (self));
  heading = g_strdup_printf (_("Remove %s?"), name);
  if (total_backup_size (self) > 0)
    /* Translators: %s is a size like "3.2 GB" */
    body = g_strdup_printf (_("It will no longer open your backups. Every category gets new keys, which "
                              "needs your recovery key, and the next backups upload everything again: "
                              "about %s. Your backups grow by that much until the older backups are "
                              "re-encrypted (offered in each category afterwards) or pruned."), size);
  else
    /* No backup from this computer yet, so the amount is not known here. */
    body = g_strdup (_("It will no longer open your backups. Every category gets new keys, which needs "
                       "your recovery key, and the next backups upload everything again, so your backups "
                       "grow by their full size until the older backups are re-encrypted (offered in each "
                       "category afterwards) or pruned."));
  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("Recovery key"));
  coffer_a11y_set_name (entry, _("Recovery key"));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                    "remove", _("_Remove"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  g_signal_connect (dialog, "response", G_CALLBACK (device_dialog_response_cb), dd);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
list_devices_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) devices = coffer_engine_list_devices_finish (COFFER_ENGINE (source), result, &error);
  g_autoptr(GString) shown = g_string_new (NULL);
  GtkWidget *child;

  self->devices_listing = FALSE;
  /* Redraw only when something changed, so that a join request appears
   * by itself and the rows under the user's focus are left alone. */
  if (devices == NULL)
    g_string_append_printf (shown, "error %s", error->message);
  for (guint i = 0; devices != NULL && i < devices->len; i++)
    {
      const CofferDevice *device = g_ptr_array_index (devices, i);
      g_string_append_printf (shown, "%s|%s|%d|%d|%s|%" G_GINT64_FORMAT "\n", device->id,
                              device->name ? device->name : "", device->pending, device->verified,
                              device->verification_code ? device->verification_code : "", device->time);
    }
  if (g_strcmp0 (shown->str, self->devices_shown) == 0)
    return;
  g_free (self->devices_shown);
  self->devices_shown = g_string_free (g_steal_pointer (&shown), FALSE);

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->devices_list))))
    gtk_list_box_remove (self->devices_list, child);

  if (devices == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      GtkWidget *row = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), message);
      gtk_list_box_append (self->devices_list, row);
      return;
    }
  for (guint i = 0; i < devices->len; i++)
    {
      const CofferDevice *device = g_ptr_array_index (devices, i);
      GtkWidget *row = adw_action_row_new ();
      g_autofree char *subtitle = NULL;

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), device->name ? device->name : _("Unnamed computer"));
      adw_action_row_add_prefix (ADW_ACTION_ROW (row),
                                 gtk_image_new_from_icon_name (device->pending ? "dialog-question-symbolic"
                                                                               : "computer-symbolic"));
      if (device->is_this_device)
        subtitle = g_strdup (_("This computer"));
      else if (device->pending)
        subtitle = g_strdup (_("Asks to be trusted"));
      else if (device->time > 0)
        {
          g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (device->time);
          g_autofree char *when = g_date_time_format (dt, "%x");
          /* Translators: date */
          subtitle = g_strdup_printf (_("Trusted since %s"), when);
        }
      /* A computer whose approval cannot be traced back to the recovery
       * key would lose access at the next removal: say so now. */
      if (!device->is_this_device && !device->pending && !device->verified)
        {
          g_autofree char *plain = g_steal_pointer (&subtitle);
          subtitle = plain != NULL
                     ? g_strdup_printf (_("%s · not verified: would have to join again after a removal"), plain)
                     : g_strdup (_("Not verified: would have to join again after a removal"));
        }
      if (subtitle != NULL)
        adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);

      if (!device->is_this_device)
        {
          GtkWidget *button;
          g_autofree char *tip = NULL;

          if (device->pending)
            {
              button = gtk_button_new_with_mnemonic (_("_Approve…"));
              tip = g_strdup_printf (_("Trust %s"), device->name ? device->name : _("Unnamed computer"));
            }
          else
            {
              button = gtk_button_new_from_icon_name ("user-trash-symbolic");
              gtk_widget_add_css_class (button, "flat");
              tip = g_strdup_printf (_("Remove %s"), device->name ? device->name : _("Unnamed computer"));
            }
          gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
          gtk_widget_set_tooltip_text (button, tip);
          coffer_a11y_set_name (button, tip);
          g_object_set_data_full (G_OBJECT (button), "device", coffer_device_info_copy (device),
                                  (GDestroyNotify) coffer_device_info_free);
          g_signal_connect (button, "clicked", G_CALLBACK (device_action_cb), self);
          adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
        }
      gtk_list_box_append (self->devices_list, row);
    }
}

static void
fill_devices (CofferPreferencesWindow *self)
{
  if (self->devices_listing)
    return;
  self->devices_listing = TRUE;
  coffer_engine_list_devices_async (coffer_application_get_engine (self->app), NULL, list_devices_cb,
                                    g_object_ref (self));
}

/* A new computer asking to join shows up while Preferences is open. */
static gboolean
devices_poll_cb (gpointer user_data)
{
  CofferPreferencesWindow *self = user_data;

  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    fill_devices (self);
  return G_SOURCE_CONTINUE;
}

/* ---- GObject ---- */

static void
coffer_preferences_window_dispose (GObject *object)
{
  CofferPreferencesWindow *self = COFFER_PREFERENCES_WINDOW (object);

  g_clear_handle_id (&self->devices_poll_id, g_source_remove);
  g_clear_pointer (&self->devices_shown, g_free);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->destination_status, g_free);
  g_clear_pointer (&self->new_destination, coffer_destination_free);
  g_clear_pointer (&self->pending_categories, g_ptr_array_unref);
  g_clear_pointer (&self->more_rows, g_ptr_array_unref);
  g_clear_pointer (&self->add_status, g_free);
  g_clear_pointer (&self->adding_updates, g_ptr_array_unref);
  g_clear_object (&self->adding);
  G_OBJECT_CLASS (coffer_preferences_window_parent_class)->dispose (object);
}

static void
coffer_preferences_window_class_init (CofferPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = coffer_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cofferapp/Coffer/coffer-preferences-window.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, CofferPreferencesWindow, name)
  BIND (destination_row); BIND (schedule_row); BIND (weekday_row); BIND (time_row); BIND (hour_spin);
  BIND (minute_spin); BIND (metered_switch); BIND (power_switch); BIND (bandwidth_spin); BIND (keep_last_spin);
  BIND (keep_daily_spin); BIND (keep_weekly_spin); BIND (keep_monthly_spin); BIND (keep_yearly_spin);
  BIND (excludes_list); BIND (exclude_entry); BIND (new_password); BIND (new_password_confirm);
  BIND (recovery_row); BIND (devices_list); BIND (retention_row); BIND (keep_last_row); BIND (keep_hourly_row);
  BIND (keep_daily_row); BIND (keep_weekly_row); BIND (keep_monthly_row); BIND (keep_yearly_row);
  BIND (keep_hourly_spin); BIND (more_destinations_group);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, exclude_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, exclude_folder_cb);

  gtk_widget_class_install_action (widget_class, "prefs.change-password", NULL, change_password_activated);
  gtk_widget_class_install_action (widget_class, "prefs.change-destination", NULL, change_destination_activated);
  gtk_widget_class_install_action (widget_class, "prefs.add-destination", NULL, add_destination_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_install_action (widget_class, "prefs.test-recovery-key", NULL, test_recovery_key_activated);
  gtk_widget_class_install_action (widget_class, "prefs.replace-recovery-key", NULL, replace_recovery_key_activated);
}

static void
coffer_preferences_window_init (CofferPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->pending_categories = g_ptr_array_new_with_free_func (g_object_unref);
  self->more_rows = g_ptr_array_new ();
  /* The strength meter beside the new password, as in the setup assistant. */
  self->strength_bar = GTK_LEVEL_BAR (gtk_level_bar_new ());
  coffer_password_meter_init (self->strength_bar);
  gtk_widget_set_size_request (GTK_WIDGET (self->strength_bar), 80, -1);
  gtk_widget_set_valign (GTK_WIDGET (self->strength_bar), GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->strength_bar), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Password strength"), -1);
  adw_entry_row_add_suffix (ADW_ENTRY_ROW (self->new_password), GTK_WIDGET (self->strength_bar));
  g_signal_connect_object (self->new_password, "changed", G_CALLBACK (new_password_changed_cb), self,
                           G_CONNECT_SWAPPED);
  new_password_changed_cb (self);
  coffer_a11y_name_controls (GTK_WIDGET (self));
}

CofferPreferencesWindow *
coffer_preferences_window_new (CofferApplication *app)
{
  CofferPreferencesWindow *self = g_object_new (COFFER_TYPE_PREFERENCES_WINDOW, NULL);

  self->app = app;
  self->settings = g_object_ref (coffer_application_get_settings (app));

  update_destination_row (self);
  g_signal_connect_object (app, "notify::state", G_CALLBACK (reopened_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (coffer_application_get_destinations (app), "items-changed",
                           G_CALLBACK (fill_more_destinations), self, G_CONNECT_SWAPPED);
  fill_more_destinations (self);

  g_settings_bind_with_mapping (self->settings, "schedule", self->schedule_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, enum_to_selected, selected_to_enum, NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "schedule-weekday", self->weekday_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, weekday_to_selected, selected_to_weekday, NULL, NULL);
  g_settings_bind (self->settings, "skip-metered", self->metered_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "skip-power-saver", self->power_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "bandwidth-limit", self->bandwidth_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "retention-keep-last", self->keep_last_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "retention-keep-hourly", self->keep_hourly_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "retention-keep-daily", self->keep_daily_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "retention-keep-weekly", self->keep_weekly_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "retention-keep-monthly", self->keep_monthly_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "retention-keep-yearly", self->keep_yearly_spin, "value", G_SETTINGS_BIND_DEFAULT);

  self->custom_retention = current_retention (self) == RETENTION_CUSTOM;
  retention_changed_cb (self);
  g_signal_connect_object (self->retention_row, "notify::selected", G_CALLBACK (retention_selected_cb), self,
                           G_CONNECT_SWAPPED);
  for (guint k = 0; k < G_N_ELEMENTS (retention_keys); k++)
    {
      g_autofree char *signal = g_strconcat ("changed::", retention_keys[k], NULL);
      g_signal_connect_object (self->settings, signal, G_CALLBACK (retention_changed_cb), self, G_CONNECT_SWAPPED);
    }
  g_signal_connect_object (self->schedule_row, "notify::selected", G_CALLBACK (schedule_changed_cb), self,
                           G_CONNECT_SWAPPED);
  schedule_changed_cb (self);
  g_signal_connect_object (self->hour_spin, "value-changed", G_CALLBACK (time_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->minute_spin, "value-changed", G_CALLBACK (time_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect (self->hour_spin, "output", G_CALLBACK (time_output_cb), NULL);
  g_signal_connect (self->minute_spin, "output", G_CALLBACK (time_output_cb), NULL);
  g_signal_connect_object (self->settings, "changed::global-excludes", G_CALLBACK (fill_excludes), self,
                           G_CONNECT_SWAPPED);
  fill_excludes (self);
  self->shares_row = coffer_shares_row_new (self->app);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (gtk_widget_get_ancestor (GTK_WIDGET (self->recovery_row),
                                                                             ADW_TYPE_PREFERENCES_GROUP)),
                             GTK_WIDGET (self->shares_row));
  update_recovery_row (self);
  fill_devices (self);
  self->devices_poll_id = g_timeout_add_seconds (DEVICES_POLL_SECONDS, devices_poll_cb, self);
  return self;
}
