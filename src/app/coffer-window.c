/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-window"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-a11y.h"
#include "coffer-category-item.h"
#include "coffer-category-row.h"
#include "coffer-destination-item.h"
#include "coffer-destination-page.h"
#include "coffer-rclone.h"
#include "coffer-recovery-wizard.h"
#include "coffer-window.h"

struct _CofferWindow
{
  AdwApplicationWindow parent_instance;

  CofferApplication   *app;
  GSettings           *settings;
  gint64               progress_started;

  AdwToastOverlay     *toast_overlay;
  GtkStack            *stack;
  AdwPasswordEntryRow *unlock_entry;
  GtkLabel            *unlock_error;
  AdwStatusPage       *error_page;
  AdwPreferencesGroup *progress_group;
  GtkLabel            *progress_title;
  GtkLabel            *progress_file;
  GtkLabel            *progress_details;
  GtkProgressBar      *progress_bar;
  AdwActionRow        *status_row;
  AdwActionRow        *reminder_row;
  GtkImage            *status_icon;
  GtkButton           *status_button;
  GtkListBox          *categories_list;
  GtkListBox          *history_list;
  AdwPreferencesGroup *destinations_group;
  GtkListBox          *destinations_list;
  AdwWindowTitle      *window_title;

  CofferDestination   *sign_in;        /* the credentials being tried, or NULL */
  GtkWidget           *sign_in_dialog;
  GCancellable        *sign_in_cancellable;  /* an OAuth sign-in waiting for the browser */
};

G_DEFINE_FINAL_TYPE (CofferWindow, coffer_window, ADW_TYPE_APPLICATION_WINDOW)

void
coffer_window_show_toast (CofferWindow *self, const char *title)
{
  g_return_if_fail (COFFER_IS_WINDOW (self));
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (title));
}

/* ---- state ---- */

/* Where the backups go, under the window title; changed in Preferences. */
static void
update_destination (CofferWindow *self)
{
  CofferRepository *repository = coffer_engine_get_repository (coffer_application_get_engine (self->app));
  g_autofree char *location = repository ? coffer_repository_describe (repository)
                                         : g_settings_get_string (self->settings, "destination");
  g_autofree char *subtitle = NULL;
  guint more = g_list_model_get_n_items (G_LIST_MODEL (coffer_application_get_destinations (self->app)));

  if (location != NULL && *location != '\0' && more > 0)
    /* Translators: %s is the first backup location (a folder or an address);
     * %u the number of other destinations */
    {
      /* The short name: the full location of each is in Preferences. */
      g_autofree char *name = coffer_application_dup_destination_name (self->app);
      subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Backing up to %s and %u other place",
                                               "Backing up to %s and %u other places", more),
                                  name, more);
    }
  else if (location != NULL && *location != '\0')
    /* Translators: %s is the backup location (a folder or an address) */
    subtitle = g_strdup_printf (_("Backing up to %s"), location);
  adw_window_title_set_subtitle (self->window_title, subtitle);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->window_title), subtitle);
}

#define RECOVERY_KEY_TEST_INTERVAL (180 * 24 * 3600)

/* A reminder to test the recovery key when Advanced categories depend on it
 * and it was not tested here for half a year. */
static void
update_reminder (CofferWindow *self)
{
  GListModel *categories = G_LIST_MODEL (coffer_application_get_categories (self->app));
  CofferEngine *engine = coffer_application_get_engine (self->app);
  gboolean advanced = FALSE;
  gint64 tested, now = g_get_real_time () / G_USEC_PER_SEC;

  for (guint i = 0; i < g_list_model_get_n_items (categories); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (categories, i);
      if (coffer_category_item_get_enabled (item) && coffer_category_item_get_level (item) == COFFER_LEVEL_ADVANCED)
        advanced = TRUE;
    }
  tested = coffer_engine_get_recovery_key_tested (engine);
  gtk_widget_set_visible (GTK_WIDGET (self->reminder_row),
                          advanced && coffer_application_get_state (self->app) == COFFER_APP_STATE_READY &&
                          now - tested > RECOVERY_KEY_TEST_INTERVAL);
}

static void
set_status_style (CofferWindow *self, const char *icon, const char *style)
{
  static const char * const styles[] = { "success", "warning", "error" };

  gtk_image_set_from_icon_name (self->status_icon, icon);
  for (guint i = 0; i < G_N_ELEMENTS (styles); i++)
    if (g_strcmp0 (styles[i], style) != 0)
      gtk_widget_remove_css_class (GTK_WIDGET (self->status_icon), styles[i]);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_icon), style);
}

/* "~/Pictures/a.jpg" for a path in this home folder, in a message. */
static char *
shorten_home (const char *text)
{
  g_autofree char *home = g_strconcat (g_get_home_dir (), "/", NULL);
  g_auto(GStrv) parts = g_strsplit (text, home, -1);

  return g_strjoinv ("~/", parts);
}

/* After a failed or partial backup the row says what is wrong, how long
 * ago the last good backup was, and offers the button that fixes it.
 * Returns FALSE when there is no problem to show. */
static gboolean
update_problem (CofferWindow *self, gint64 last)
{
  const char *reason = NULL;
  CofferBackupProblem problem = coffer_application_get_problem (self->app, &reason);
  g_autofree char *name = NULL;
  g_autofree char *title = NULL;
  g_autofree char *since = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *first_line = NULL;
  g_autofree char *short_reason = NULL;
  const char *button = NULL;
  const char *action = "app.backup-now";

  if (problem == COFFER_BACKUP_PROBLEM_NONE
      || coffer_engine_get_busy (coffer_application_get_engine (self->app)))
    return FALSE;
  /* The first problem fits the row; the history entry holds them all. */
  if (reason != NULL)
    {
      first_line = strchr (reason, '\n') != NULL ? g_strndup (reason, strchr (reason, '\n') - reason)
                                                 : g_strdup (reason);
      short_reason = shorten_home (first_line);
      reason = short_reason;
    }

  if (last > 0)
    {
      g_autofree char *ago = coffer_format_time_ago (last);
      /* Translators: "2 hours ago" */
      since = g_strdup_printf (_("Last successful backup %s"), ago);
    }
  else
    since = g_strdup (_("No backup has succeeded yet"));

  switch (problem)
    {
    case COFFER_BACKUP_PROBLEM_DISCONNECTED:
      /* A normal state, said calmly: the backup runs when the drive is back. */
      name = coffer_application_dup_destination_name (self->app);
      /* Translators: %s is the name of a drive, such as "Backup" */
      title = g_strdup_printf (_("The drive “%s” is not connected"), name);
      subtitle = g_strdup_printf (_("%s. Coffer backs up when the drive is connected."), since);
      set_status_style (self, "drive-harddisk-symbolic", "warning");
      button = _("_Try Again");
      break;
    case COFFER_BACKUP_PROBLEM_PARTIAL:
      title = g_strdup (_("Some categories could not be backed up"));
      subtitle = g_strdup_printf ("%s\n%s", reason ? reason : "", since);
      set_status_style (self, "dialog-warning-symbolic", "warning");
      button = _("_Try Again");
      break;
    case COFFER_BACKUP_PROBLEM_SKIPPED:
      {
        /* The rest is backed up: say when, but not in green. */
        g_autofree char *ago = coffer_format_time_ago (last);
        title = g_strdup (_("Some files could not be backed up"));
        /* Translators: the second line under the first unreadable file; %s is "2 minutes ago" */
        subtitle = g_strdup_printf (_("%s\nEverything else was backed up %s"), reason ? reason : "", ago);
        set_status_style (self, "dialog-warning-symbolic", "warning");
        button = _("_Try Again");
      }
      break;
    case COFFER_BACKUP_PROBLEM_NETWORK:
      /* Usually passing (offline, the server restarting): no alarm. */
      name = coffer_application_dup_destination_name (self->app);
      /* Translators: %s is the server, such as "cloud.example.org" */
      title = g_strdup_printf (_("%s is not answering"), name);
      /* Translators: the second line is "Last successful backup 2 hours ago" */
      subtitle = g_strdup_printf (_("The network may be down, or the server. Coffer tries again at the next "
                                    "backup.\n%s"), since);
      set_status_style (self, "network-offline-symbolic", "warning");
      button = _("_Try Again");
      break;
    case COFFER_BACKUP_PROBLEM_AUTH:
      /* The server's own words are in the history; here what to do. */
      name = coffer_application_dup_destination_name (self->app);
      title = g_strdup (_("The backup server refused the sign-in"));
      /* Translators: %s is the server, such as "cloud.example.org"; the second line is "Last successful backup 2 hours ago" */
      subtitle = g_strdup_printf (_("%s does not accept the user name or password Coffer has. If you changed "
                                    "the password, sign in again.\n%s"), name, since);
      set_status_style (self, "dialog-error-symbolic", "error");
      button = _("_Sign In Again");
      action = "win.sign-in";
      break;
    case COFFER_BACKUP_PROBLEM_SETTINGS:
      title = g_strdup (_("The backup location does not accept the backup"));
      /* "… does not allow writing: Could not create the folder “/long/path”…":
       * the kind fits the row, the details are in the history. */
      if (reason != NULL && strstr (reason, ": ") != NULL)
        {
          g_autofree char *kind = g_strndup (reason, strstr (reason, ": ") - reason);
          subtitle = g_strdup_printf ("%s.\n%s", kind, since);
        }
      else
        subtitle = g_strdup_printf ("%s\n%s", reason ? reason : "", since);
      set_status_style (self, "dialog-error-symbolic", "error");
      button = _("Open _Preferences");
      action = "app.preferences";
      break;
    case COFFER_BACKUP_PROBLEM_FAILED:
    case COFFER_BACKUP_PROBLEM_NONE:
    default:
      title = g_strdup (_("The last backup failed"));
      subtitle = g_strdup_printf ("%s\n%s", reason ? reason : "", since);
      set_status_style (self, "dialog-error-symbolic", "error");
      button = _("_Try Again");
      break;
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->status_row), title);
  adw_action_row_set_subtitle (self->status_row, subtitle);
  gtk_button_set_label (self->status_button, button);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->status_button), action);
  gtk_widget_set_visible (GTK_WIDGET (self->status_button), TRUE);
  return TRUE;
}

static void
update_status (CofferWindow *self)
{
  gint64 last = g_settings_get_int64 (self->settings, "last-backup");
  gint64 next = coffer_application_get_next_backup (self->app);
  g_autofree char *ago = coffer_format_time_ago (last);
  g_autofree char *subtitle = NULL;
  g_autofree char *title = NULL;

  if (update_problem (self, last))
    {
      update_reminder (self);
      return;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->status_button), FALSE);

  if (next > 0)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (next);
      g_autofree char *when = g_date_time_format (dt, "%x %H:%M");
      /* Translators: time of the next automatic backup */
      subtitle = g_strdup_printf (_("Next backup: %s"), when);
    }
  else
    subtitle = g_strdup (_("Automatic backups are off"));

  if (last > 0)
    {
      /* Translators: "2 hours ago" */
      title = g_strdup_printf (_("Last backed up %s"), ago);
      set_status_style (self, "emblem-ok-symbolic", "success");
    }
  else
    {
      title = g_strdup (_("Not backed up yet"));
      set_status_style (self, "dialog-warning-symbolic", "warning");
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->status_row), title);
  adw_action_row_set_subtitle (self->status_row, subtitle);
  update_reminder (self);
}

static void
state_changed_cb (CofferWindow *self)
{
  switch (coffer_application_get_state (self->app))
    {
    case COFFER_APP_STATE_OPENING:
      gtk_stack_set_visible_child_name (self->stack, "opening");
      break;
    case COFFER_APP_STATE_LOCKED:
      {
        const char *message = coffer_application_get_state_message (self->app);
        gtk_label_set_text (self->unlock_error, message ? message : "");
        gtk_widget_set_visible (GTK_WIDGET (self->unlock_error), message != NULL);
        gtk_stack_set_visible_child_name (self->stack, "locked");
        gtk_widget_grab_focus (GTK_WIDGET (self->unlock_entry));
      }
      break;
    case COFFER_APP_STATE_ERROR:
      if (coffer_application_get_problem (self->app, NULL) == COFFER_BACKUP_PROBLEM_DISCONNECTED
          && g_list_model_get_n_items (G_LIST_MODEL (coffer_application_get_destinations (self->app))) > 0)
        {
          /* The other destinations are still backed up: the main page shows
           * each one's state, the first one's as "not connected". */
          gtk_stack_set_visible_child_name (self->stack, "main");
          break;
        }
      {
        g_autofree char *escaped = g_markup_escape_text (coffer_application_get_state_message (self->app)
                                                         ? coffer_application_get_state_message (self->app) : "", -1);
        adw_status_page_set_description (self->error_page, escaped);
        if (coffer_application_get_problem (self->app, NULL) == COFFER_BACKUP_PROBLEM_DISCONNECTED)
          {
            /* Not an error to shout about: the backup opens when the drive
             * is back. */
            g_autofree char *name = coffer_application_dup_destination_name (self->app);
            g_autofree char *title = g_strdup_printf (_("The drive “%s” is not connected"), name);
            adw_status_page_set_title (self->error_page, title);
            adw_status_page_set_icon_name (self->error_page, "drive-harddisk-symbolic");
            adw_status_page_set_description (self->error_page,
                                             _("Coffer opens the backup and backs up when the drive is connected."));
          }
        else
          {
            adw_status_page_set_title (self->error_page, _("Backup Location Unavailable"));
            adw_status_page_set_icon_name (self->error_page, "network-offline-symbolic");
          }
      }
      gtk_stack_set_visible_child_name (self->stack, "error");
      break;
    case COFFER_APP_STATE_NOT_SET_UP:
    case COFFER_APP_STATE_READY:
    default:
      gtk_stack_set_visible_child_name (self->stack, "main");
      break;
    }
  update_status (self);
}

static void
unlock_cb (CofferWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->unlock_entry));
  g_autoptr(CofferSecret) password = NULL;

  if (text == NULL || *text == '\0')
    return;
  password = coffer_secret_new_from_string (text);
  gtk_editable_set_text (GTK_EDITABLE (self->unlock_entry), "");
  coffer_application_open_repository (self->app, password);
}

static void
retry_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferWindow *self = COFFER_WINDOW (widget);
  coffer_application_open_repository (self->app, NULL);
}

static void
recovery_key_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferWindow *self = COFFER_WINDOW (widget);
  CofferRecoveryWizard *wizard = NULL;

  coffer_recovery_wizard_present_dialog (GTK_WINDOW (self), self->app, COFFER_RECOVERY_WIZARD_TEST, &wizard);
  g_signal_connect_object (wizard, "confirmed", G_CALLBACK (update_reminder), self, G_CONNECT_SWAPPED);
}

/* ---- signing in again ---- */

/* After the server refused the password (changed at the provider): the
 * same place with the credentials typed now, checked with a connection
 * test (which writes) before they replace the old ones. */
static void
sign_in_tested_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferWindow) self = user_data;
  g_autoptr(CofferDestination) dest = g_steal_pointer (&self->sign_in);
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_test_connection_finish (COFFER_ENGINE (source), result, NULL, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      /* Translators: %s is why, such as "The server refused the user name or password: …" */
      g_autofree char *text = g_strdup_printf (_("Could not sign in: %s"), message);
      adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sign-in", TRUE);
      return;
    }
  /* Kept in the keyring; opening again clears the problem. */
  coffer_application_change_destination (self->app, dest, TRUE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sign-in", TRUE);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (_("Signed in again")));
}

static void
sign_in_response_cb (AdwMessageDialog *dialog, const char *response, CofferWindow *self)
{
  GtkEditable *user = g_object_get_data (G_OBJECT (dialog), "user");
  GtkEditable *secret = g_object_get_data (G_OBJECT (dialog), "secret");
  g_autoptr(CofferDestination) dest = NULL;

  self->sign_in_dialog = NULL;
  if (g_strcmp0 (response, "sign-in") != 0 || *gtk_editable_get_text (secret) == '\0')
    return;
  dest = coffer_application_dup_destination (self->app);
  g_free (dest->user);
  dest->user = g_strdup (gtk_editable_get_text (user));
  g_clear_pointer (&dest->secret, coffer_secret_free);
  dest->secret = coffer_secret_new_from_string (gtk_editable_get_text (secret));
  gtk_editable_set_text (secret, "");
  g_clear_pointer (&self->sign_in, coffer_destination_free);
  self->sign_in = coffer_destination_copy (dest);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sign-in", FALSE);
  coffer_engine_test_connection_async (coffer_application_get_engine (self->app), dest, NULL, sign_in_tested_cb,
                                       g_object_ref (self));
}

/* For "rclone:NAME:path" where NAME is a remote Coffer signed in to with
 * OAuth (Google Drive, Dropbox): its name and type. */
static gboolean
oauth_remote_of (const CofferDestination *dest, char **name, char **type)
{
  g_autoptr(GKeyFile) remotes = NULL;
  const char *colon;

  if (dest->location == NULL || !g_str_has_prefix (dest->location, "rclone:"))
    return FALSE;
  colon = strchr (dest->location + strlen ("rclone:"), ':');
  if (colon == NULL)
    return FALSE;
  *name = g_strndup (dest->location + strlen ("rclone:"), colon - dest->location - strlen ("rclone:"));
  remotes = coffer_rclone_remotes_load (NULL);
  *type = remotes != NULL ? g_key_file_get_string (remotes, *name, "type", NULL) : NULL;
  if (*type != NULL && coffer_rclone_type_is_oauth (*type))
    return TRUE;
  g_clear_pointer (name, g_free);
  g_clear_pointer (type, g_free);
  return FALSE;
}

static void
oauth_open_url (const char *url, gpointer user_data)
{
  CofferWindow *self = user_data;

  /* GTK asks the OpenURI portal inside Flatpak. */
  gtk_show_uri (GTK_WINDOW (self), url, GDK_CURRENT_TIME);
}

static void
oauth_signed_in_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = coffer_engine_sign_in_finish (COFFER_ENGINE (source), result, &error);

  if (self->sign_in_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->sign_in_dialog));
  g_clear_object (&self->sign_in_cancellable);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sign-in", TRUE);
  if (name == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *message = coffer_engine_describe_error (error);
          /* Translators: %s is why, such as "rclone authorize did not return a token" */
          g_autofree char *text = g_strdup_printf (_("Could not sign in: %s"), message);
          adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
        }
      return;
    }
  {
    g_autoptr(CofferDestination) dest = coffer_application_dup_destination (self->app);
    /* The new token is in the keyring; opening again clears the problem. */
    coffer_application_change_destination (self->app, dest, TRUE);
  }
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (_("Signed in again")));
}

static void
oauth_dialog_response_cb (AdwMessageDialog *dialog, const char *response, CofferWindow *self)
{
  self->sign_in_dialog = NULL;
  if (self->sign_in_cancellable != NULL)
    g_cancellable_cancel (self->sign_in_cancellable);
}

/* A cloud account's sign-in expired or was revoked: sign in again in the
 * browser (rclone authorize, like the setup's destination page), not a
 * password typed here. */
static void
sign_in_oauth (CofferWindow *self, const char *name, const char *type)
{
  const char *provider = coffer_destination_page_provider_name (type);
  /* Translators: %s is Google Drive or Dropbox */
  g_autofree char *heading = g_strdup_printf (_("Sign In to %s Again"), provider);
  /* Translators: %s is Google Drive or Dropbox */
  g_autofree char *body = g_strdup_printf (_("Waiting for you to sign in to %s in your browser…"), provider);
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), heading, body);
  GtkWidget *spinner = gtk_spinner_new ();

  gtk_spinner_start (GTK_SPINNER (spinner));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), spinner);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), NULL);
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (oauth_dialog_response_cb), self, 0);
  self->sign_in_dialog = dialog;
  g_set_object (&self->sign_in_cancellable, g_cancellable_new ());
  g_object_unref (self->sign_in_cancellable);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sign-in", FALSE);
  coffer_engine_sign_in_async (coffer_application_get_engine (self->app), type, name, oauth_open_url, self,
                               self->sign_in_cancellable, oauth_signed_in_cb, g_object_ref (self));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
sign_in_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferWindow *self = COFFER_WINDOW (widget);
  g_autoptr(CofferDestination) dest = coffer_application_dup_destination (self->app);
  g_autofree char *oauth_name = NULL;
  g_autofree char *oauth_type = NULL;
  g_autofree char *name = coffer_application_dup_destination_name (self->app);
  g_autofree char *body = NULL;
  GtkWidget *dialog, *box, *user, *secret;

  if (oauth_remote_of (dest, &oauth_name, &oauth_type))
    {
      sign_in_oauth (self, oauth_name, oauth_type);
      return;
    }

  /* Translators: %s is the server, such as "cloud.example.org" */
  body = g_strdup_printf (_("%s refused the user name or password Coffer has. Type the ones you use there now; "
                            "Coffer keeps them in your keyring."), name);
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Sign In Again"), body);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  user = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (user), dest->user ? dest->user : "");
  gtk_entry_set_placeholder_text (GTK_ENTRY (user), _("User name or access key ID"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (user), GTK_ACCESSIBLE_PROPERTY_LABEL, _("User name"), -1);
  secret = gtk_password_entry_new ();
  gtk_password_entry_set_show_peek_icon (GTK_PASSWORD_ENTRY (secret), TRUE);
  g_object_set (secret, "placeholder-text", _("Password or secret key"), "activates-default", TRUE, NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (secret), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Password or secret key"), -1);
  gtk_box_append (GTK_BOX (box), user);
  gtk_box_append (GTK_BOX (box), secret);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                    "sign-in", _("_Sign In"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "sign-in", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "sign-in");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "user", user);
  g_object_set_data (G_OBJECT (dialog), "secret", secret);
  g_signal_connect_object (dialog, "response", G_CALLBACK (sign_in_response_cb), self, 0);
  self->sign_in_dialog = dialog;
  gtk_window_present (GTK_WINDOW (dialog));
}

GtkWidget *
coffer_window_get_sign_in_dialog (CofferWindow *self)
{
  g_return_val_if_fail (COFFER_IS_WINDOW (self), NULL);
  return self->sign_in_dialog;
}

/* ---- destinations ---- */

static GtkWidget *
destination_row_new (const char *name, const char *text, gint64 last, const char *icon, const char *style)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *image = gtk_image_new_from_icon_name (icon);
  g_autofree char *since = NULL;
  g_autofree char *subtitle = NULL;

  if (last > 0)
    {
      g_autofree char *ago = coffer_format_time_ago (last);
      /* Translators: "2 hours ago" */
      since = g_strdup_printf (_("Last successful backup %s"), ago);
    }
  else
    since = g_strdup (_("No backup has succeeded yet"));
  subtitle = text != NULL ? g_strdup_printf ("%s\n%s", text, since) : g_steal_pointer (&since);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_add_css_class (image, style);
  gtk_accessible_update_property (GTK_ACCESSIBLE (image), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  g_str_equal (style, "success") ? _("Backed up")
                                  : g_str_equal (style, "warning") ? _("Waiting") : _("Failed"), -1);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), image);
  return row;
}

/* With more than one destination: one row each, with its own state and
 * its last successful backup. The status row above stays the first
 * destination's. */
static void
update_destinations (CofferWindow *self)
{
  GListModel *model = G_LIST_MODEL (coffer_application_get_destinations (self->app));
  guint n = g_list_model_get_n_items (model);
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->destinations_list))))
    gtk_list_box_remove (self->destinations_list, child);
  gtk_widget_set_visible (GTK_WIDGET (self->destinations_group), n > 0);
  if (n == 0)
    return;

  {
    g_autofree char *name = coffer_application_dup_destination_name (self->app);
    gint64 last = g_settings_get_int64 (self->settings, "last-backup");
    const char *reason = NULL;
    CofferBackupProblem problem = coffer_application_get_problem (self->app, &reason);
    CofferAppState state = coffer_application_get_state (self->app);
    g_autofree char *first_line = NULL;

    if (reason != NULL && strchr (reason, '\n') != NULL)
      reason = first_line = g_strndup (reason, strchr (reason, '\n') - reason);
    if (coffer_engine_get_busy (coffer_application_get_engine (self->app)))
      child = destination_row_new (name, _("Backing up now"), last, "emblem-synchronizing-symbolic", "accent");
    else if (problem == COFFER_BACKUP_PROBLEM_DISCONNECTED)
      child = destination_row_new (name, _("Not connected. Coffer backs up when it is connected."), last,
                                   "drive-harddisk-symbolic", "warning");
    else if (problem != COFFER_BACKUP_PROBLEM_NONE)
      child = destination_row_new (name, reason ? reason : _("The last backup failed"), last,
                                   "dialog-error-symbolic", "error");
    else if (state == COFFER_APP_STATE_ERROR || state == COFFER_APP_STATE_LOCKED)
      child = destination_row_new (name, state == COFFER_APP_STATE_LOCKED ? _("Locked: needs the backup password")
                                   : coffer_application_get_state_message (self->app)
                                     ? coffer_application_get_state_message (self->app)
                                     : _("The backup there could not be opened"), last,
                                   "dialog-error-symbolic", "error");
    else if (last > 0)
      child = destination_row_new (name, NULL, last, "emblem-ok-symbolic", "success");
    else
      child = destination_row_new (name, NULL, last, "dialog-warning-symbolic", "warning");
    gtk_list_box_append (self->destinations_list, child);
  }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (model, i);
      g_autofree char *name = coffer_destination_item_dup_name (item);
      gint64 last = coffer_destination_item_get_last_backup (item);
      const char *message = NULL;
      g_autofree char *first_line = NULL;

      switch (coffer_destination_item_get_status (item, &message))
        {
        case COFFER_DESTINATION_STATUS_BUSY:
          child = destination_row_new (name, _("Backing up now"), last, "emblem-synchronizing-symbolic", "accent");
          break;
        case COFFER_DESTINATION_STATUS_UNPLUGGED:
          child = destination_row_new (name, _("Not connected. Coffer backs up when it is connected."), last,
                                       "drive-harddisk-symbolic", "warning");
          break;
        case COFFER_DESTINATION_STATUS_FAILED:
          if (message != NULL && strchr (message, '\n') != NULL)
            message = first_line = g_strndup (message, strchr (message, '\n') - message);
          child = destination_row_new (name, message ? message : _("The last backup failed"), last,
                                       "dialog-error-symbolic", "error");
          break;
        case COFFER_DESTINATION_STATUS_OK:
        case COFFER_DESTINATION_STATUS_IDLE:
        default:
          child = last > 0 ? destination_row_new (name, NULL, last, "emblem-ok-symbolic", "success")
                           : destination_row_new (name, _("Not backed up yet"), last,
                                                  "dialog-warning-symbolic", "warning");
          break;
        }
      gtk_list_box_append (self->destinations_list, child);
    }
}

static void progress_cb (CofferWindow *self, const CofferProgress *progress, GObject *engine);

static void
destinations_changed_cb (GListModel *model, guint position, guint removed, guint added, CofferWindow *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (model, i);
      g_signal_connect_object (item, "notify::status", G_CALLBACK (update_destinations), self, G_CONNECT_SWAPPED);
      /* Its progress says where it goes. */
      g_object_set_data_full (G_OBJECT (coffer_destination_item_get_engine (item)), "coffer-destination-name",
                              coffer_destination_item_dup_name (item), g_free);
      g_signal_connect_object (coffer_destination_item_get_engine (item), "progress", G_CALLBACK (progress_cb),
                               self, G_CONNECT_SWAPPED);
    }
  update_destinations (self);
  update_destination (self);
  if (removed != 0 || added != 0)
    state_changed_cb (self);
}

/* ---- progress ---- */

static char *
format_duration (gint64 seconds)
{
  if (seconds < 60)
    return g_strdup (_("less than a minute left"));
  if (seconds < 3600)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d minute left", "%d minutes left",
                                         (int) (seconds / 60)), (int) (seconds / 60));
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d hour left", "%d hours left",
                                       (int) (seconds / 3600)), (int) (seconds / 3600));
}

static void
progress_cb (CofferWindow *self, const CofferProgress *progress, GObject *engine)
{
  const char *destination = engine ? g_object_get_data (engine, "coffer-destination-name") : NULL;
  g_autofree char *title = NULL;
  g_autofree char *done = g_format_size (progress->bytes_done);
  g_autofree char *total = g_format_size (progress->bytes_total);
  g_autofree char *rate = g_format_size ((guint64) progress->rate);
  g_autofree char *eta = progress->eta_seconds >= 0 ? format_duration (progress->eta_seconds) : NULL;
  g_autofree char *details = NULL;
  g_autofree char *file = NULL;

  if (g_strcmp0 (progress->operation, "restore") == 0)
    title = g_strdup_printf (_("Restoring %s"), progress->category ? progress->category : "");
  else if (g_strcmp0 (progress->operation, "reencrypt") == 0)
    title = progress->category != NULL
            /* Translators: %s is a category name such as "Photos" */
            ? g_strdup_printf (_("Re-encrypting older backups of %s"), progress->category)
            : g_strdup (_("Re-encrypting older backups"));
  else
    title = destination != NULL
            /* Translators: "Backing up Photos to “Cloud”": a category, then another destination */
            ? g_strdup_printf (_("Backing up %s to “%s”"), progress->category ? progress->category : "",
                               destination)
            : g_strdup_printf (_("Backing up %s"), progress->category ? progress->category : "");
  gtk_label_set_text (self->progress_title, title);

  if (progress->current_file != NULL)
    file = g_filename_display_name (progress->current_file);
  gtk_label_set_text (self->progress_file, file ? file : "");

  if (progress->scanning)
    {
      /* The totals are still being counted: say how much was found so far,
       * no fraction and no time left that would be made up. */
      gtk_progress_bar_pulse (self->progress_bar);
      /* Translators: "120 MB done · 1.2 GB found so far, still counting" */
      details = g_strdup_printf (_("%s done · %s found so far, still counting"), done, total);
    }
  else if (progress->bytes_total > 0)
    {
      gtk_progress_bar_set_fraction (self->progress_bar,
                                     CLAMP ((double) progress->bytes_done / progress->bytes_total, 0, 1));
      /* Translators: "1.2 GB of 4.0 GB · 12 MB/s · 5 minutes left" */
      details = g_strdup_printf (_("%s of %s · %s/s · %s"), done, total, rate,
                                 eta ? eta
                                     : progress->bytes_done >= progress->bytes_total ? _("finishing")
                                                                                     : _("estimating time left"));
    }
  else
    {
      gtk_progress_bar_pulse (self->progress_bar);
      /* Translators: "120 files, 1.2 GB" while the total is not known yet */
      details = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u file, %s", "%u files, %s",
                                              (gulong) progress->files_done),
                                 (guint) progress->files_done, done);
    }
  gtk_label_set_text (self->progress_details, details);
}

static void
busy_cb (CofferWindow *self)
{
  gboolean busy = coffer_application_get_busy (self->app);

  gtk_widget_set_visible (GTK_WIDGET (self->progress_group), busy);
  if (busy)
    {
      gtk_label_set_text (self->progress_title, _("Preparing…"));
      gtk_label_set_text (self->progress_file, "");
      gtk_label_set_text (self->progress_details, "");
      gtk_progress_bar_set_fraction (self->progress_bar, 0);
    }
  update_status (self);
  update_destinations (self);
}

/* ---- categories and history ---- */

static GtkWidget *
create_category_row (gpointer item, gpointer user_data)
{
  CofferWindow *self = user_data;
  return GTK_WIDGET (coffer_category_row_new (self->app, item));
}

static void
history_changed_cb (CofferWindow *self)
{
  CofferHistory *history = coffer_application_get_history (self->app);
  GtkWidget *child;
  guint n = MIN (coffer_history_get_n_entries (history), 10);

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->history_list))))
    gtk_list_box_remove (self->history_list, child);

  if (n == 0)
    {
      GtkWidget *row = adw_action_row_new ();
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No backups yet"));
      gtk_widget_add_css_class (row, "dim-label");
      gtk_list_box_append (self->history_list, row);
    }
  for (guint i = 0; i < n; i++)
    {
      const CofferHistoryEntry *entry = coffer_history_get_entry (history, i);
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (entry->start_time);
      g_autofree char *when = g_date_time_format (dt, "%x %X");
      GtkWidget *icon = gtk_image_new_from_icon_name (entry->success ? "emblem-ok-symbolic"
                                                                     : "dialog-warning-symbolic");
      GtkWidget *row;

      gtk_widget_add_css_class (icon, entry->success ? "success" : "warning");
      if (entry->details != NULL)
        {
          GtkWidget *details = gtk_label_new (entry->details);
          row = adw_expander_row_new ();
          adw_expander_row_set_subtitle (ADW_EXPANDER_ROW (row), when);
          adw_expander_row_add_prefix (ADW_EXPANDER_ROW (row), icon);
          gtk_label_set_wrap (GTK_LABEL (details), TRUE);
          gtk_label_set_xalign (GTK_LABEL (details), 0);
          gtk_label_set_selectable (GTK_LABEL (details), TRUE);
          gtk_widget_set_margin_top (details, 12);
          gtk_widget_set_margin_bottom (details, 12);
          gtk_widget_set_margin_start (details, 12);
          gtk_widget_set_margin_end (details, 12);
          adw_expander_row_add_row (ADW_EXPANDER_ROW (row), details);
        }
      else
        {
          row = adw_action_row_new ();
          adw_action_row_set_subtitle (ADW_ACTION_ROW (row), when);
          adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
        }
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), entry->summary);
      gtk_list_box_append (self->history_list, row);
    }
  update_status (self);
}

/* ---- GObject ---- */

static gboolean
coffer_window_close_request (GtkWindow *window)
{
  CofferWindow *self = COFFER_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));

  /* A running backup goes on without the window: the application holds
   * itself while the engine is busy. */
  return GTK_WINDOW_CLASS (coffer_window_parent_class)->close_request (window);
}

static void
coffer_window_dispose (GObject *object)
{
  CofferWindow *self = COFFER_WINDOW (object);

  /* The handlers were connected with g_signal_connect_object, which only
   * disconnects them when the window is finalized; from here on its
   * template children are gone, so a late "progress" or "notify" must not
   * reach it. */
  if (self->app != NULL)
    {
      GListModel *destinations = G_LIST_MODEL (coffer_application_get_destinations (self->app));

      for (guint i = 0; i < g_list_model_get_n_items (destinations); i++)
        {
          g_autoptr(CofferDestinationItem) item = g_list_model_get_item (destinations, i);

          g_signal_handlers_disconnect_by_data (item, self);
          g_signal_handlers_disconnect_by_data (coffer_destination_item_get_engine (item), self);
        }
      g_signal_handlers_disconnect_by_data (destinations, self);
      g_signal_handlers_disconnect_by_data (coffer_application_get_engine (self->app), self);
      g_signal_handlers_disconnect_by_data (coffer_application_get_history (self->app), self);
      g_signal_handlers_disconnect_by_data (self->app, self);
    }
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->sign_in, coffer_destination_free);
  if (self->sign_in_cancellable != NULL)
    g_cancellable_cancel (self->sign_in_cancellable);
  g_clear_object (&self->sign_in_cancellable);
  G_OBJECT_CLASS (coffer_window_parent_class)->dispose (object);
}

static void
coffer_window_class_init (CofferWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = coffer_window_dispose;
  window_class->close_request = coffer_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cofferapp/Coffer/coffer-window.ui");
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, unlock_entry);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, unlock_error);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, error_page);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, progress_group);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, progress_title);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, progress_file);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, progress_details);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, status_row);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, reminder_row);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, status_icon);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, status_button);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, categories_list);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, history_list);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, destinations_group);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, destinations_list);
  gtk_widget_class_bind_template_child (widget_class, CofferWindow, window_title);
  gtk_widget_class_bind_template_callback (widget_class, unlock_cb);

  gtk_widget_class_install_action (widget_class, "win.retry", NULL, retry_activated);
  gtk_widget_class_install_action (widget_class, "win.recovery-key", NULL, recovery_key_activated);
  gtk_widget_class_install_action (widget_class, "win.sign-in", NULL, sign_in_activated);
}

static void
coffer_window_init (CofferWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  coffer_a11y_name_controls (GTK_WIDGET (self));
}

CofferWindow *
coffer_window_new (CofferApplication *app)
{
  CofferWindow *self = g_object_new (COFFER_TYPE_WINDOW, "application", app, NULL);
  CofferEngine *engine = coffer_application_get_engine (app);

  self->app = app;
  self->settings = g_object_ref (coffer_application_get_settings (app));
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  gtk_list_box_bind_model (self->categories_list, G_LIST_MODEL (coffer_application_get_categories (app)),
                           create_category_row, self, NULL);
  g_signal_connect_object (app, "notify::state", G_CALLBACK (state_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (app, "notify::problem", G_CALLBACK (update_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (app, "notify::busy", G_CALLBACK (busy_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (engine, "notify::busy", G_CALLBACK (update_destinations), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (app, "notify::state", G_CALLBACK (update_destinations), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (app, "notify::problem", G_CALLBACK (update_destinations), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::last-backup", G_CALLBACK (update_destinations), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::destination", G_CALLBACK (update_destinations), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (coffer_application_get_destinations (app), "items-changed",
                           G_CALLBACK (destinations_changed_cb), self, 0);
  destinations_changed_cb (G_LIST_MODEL (coffer_application_get_destinations (app)), 0, 0,
                           g_list_model_get_n_items (G_LIST_MODEL (coffer_application_get_destinations (app))),
                           self);
  g_signal_connect_object (engine, "progress", G_CALLBACK (progress_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (coffer_application_get_history (app), "changed",
                           G_CALLBACK (history_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::last-backup", G_CALLBACK (update_status), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::schedule", G_CALLBACK (update_status), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (app, "notify::state", G_CALLBACK (update_destination), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::destination", G_CALLBACK (update_destination), self,
                           G_CONNECT_SWAPPED);
  state_changed_cb (self);
  busy_cb (self);
  history_changed_cb (self);
  update_destination (self);
  return self;
}
