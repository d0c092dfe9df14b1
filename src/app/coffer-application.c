/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-app"

#include <glib/gi18n.h>

#include "coffer-application.h"
#include "coffer-help-window.h"
#include "coffer-category-item.h"
#include "coffer-destination-item.h"
#include "coffer-error.h"
#include "coffer-keyring.h"
#include "coffer-preferences-window.h"
#include "coffer-restore-window.h"
#include "coffer-setup-assistant.h"
#include "coffer-window.h"
#include "coffer-worker-pool.h"

struct _CofferApplication
{
  AdwApplication     parent_instance;

  GSettings         *settings;
  CofferEngine      *engine;
  GListStore        *categories;
  GListStore        *destinations;    /* CofferDestinationItem: the places besides the first */
  CofferHistory     *history;
  CofferDestination *destination;     /* credentials of this session */
  GCancellable      *cancellable;

  CofferAppState     state;
  char              *state_message;

  CofferBackupProblem problem;
  char              *problem_message;
  GNotification     *last_notification;
  /* While the destination folder is missing: wait for it to come back. */
  GVolumeMonitor    *volume_monitor;
  GFileMonitor      *destination_monitor;

  guint              schedule_source;
  guint              inhibit_cookie;
  guint              held : 1;
  guint              pending_backup : 1;
  guint              scheduled_run : 1;
  /* The run over the other destinations, one after another, after the first. */
  guint              more_running : 1;
  guint              more_scheduled : 1;
  guint              more_cancelled : 1;
  guint              more_index;
  guint              was_busy : 1;
  guint              first_running : 1;   /* from the first destination's start to the others' */
  CofferDestinationItem *more_item;   /* the one being backed up */
  GPtrArray         *more_categories;   /* CofferCategory there, while its categories are synced */
};

G_DEFINE_FINAL_TYPE (CofferApplication, coffer_application, ADW_TYPE_APPLICATION)

enum { PROP_0, PROP_STATE, PROP_PROBLEM, PROP_BUSY, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void reschedule (CofferApplication *self);
static void watch_destination (CofferApplication *self);
static void unwatch_destination (CofferApplication *self);
static void engine_busy_cb (CofferApplication *self);
static void start_more_destinations (CofferApplication *self, gboolean scheduled);

/* ---- accessors ---- */

GSettings *coffer_application_get_settings (CofferApplication *self) { return self->settings; }
CofferEngine *coffer_application_get_engine (CofferApplication *self) { return self->engine; }
GListStore *coffer_application_get_categories (CofferApplication *self) { return self->categories; }
GListStore *coffer_application_get_destinations (CofferApplication *self) { return self->destinations; }

gboolean
coffer_application_get_busy (CofferApplication *self)
{
  g_return_val_if_fail (COFFER_IS_APPLICATION (self), FALSE);
  if (self->first_running || self->more_running || coffer_engine_get_busy (self->engine))
    return TRUE;
  /* A restore from another destination (the restore window) runs on that
   * destination's engine. */
  for (guint i = 0; self->destinations != NULL && i < g_list_model_get_n_items (G_LIST_MODEL (self->destinations)); i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (G_LIST_MODEL (self->destinations), i);
      if (coffer_engine_get_busy (coffer_destination_item_get_engine (item)))
        return TRUE;
    }
  return FALSE;
}

void
coffer_application_save_destinations (CofferApplication *self)
{
  coffer_destination_items_save (self->settings, G_LIST_MODEL (self->destinations));
}
CofferHistory *coffer_application_get_history (CofferApplication *self) { return self->history; }
CofferAppState coffer_application_get_state (CofferApplication *self) { return self->state; }
const char *coffer_application_get_state_message (CofferApplication *self) { return self->state_message; }

CofferBackupProblem
coffer_application_get_problem (CofferApplication *self, const char **message)
{
  g_return_val_if_fail (COFFER_IS_APPLICATION (self), COFFER_BACKUP_PROBLEM_NONE);
  if (message != NULL)
    *message = self->problem_message;
  return self->problem;
}

GNotification *
coffer_application_get_last_notification (CofferApplication *self)
{
  g_return_val_if_fail (COFFER_IS_APPLICATION (self), NULL);
  return self->last_notification;
}

static void
set_problem (CofferApplication *self, CofferBackupProblem problem, const char *message)
{
  if (self->problem == problem && g_strcmp0 (self->problem_message, message) == 0)
    return;
  g_free (self->problem_message);
  self->problem_message = g_strdup (message);
  self->problem = problem;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROBLEM]);
}

/* The path of a local destination, NULL for servers. */
static char *
local_destination_path (CofferApplication *self)
{
  g_autofree char *location = g_settings_get_string (self->settings, "destination");

  return coffer_destination_local_path (location);
}

char *
coffer_application_dup_destination_name (CofferApplication *self)
{
  g_autofree char *location = g_settings_get_string (self->settings, "destination");

  return coffer_destination_name_for_location (location);
}

static void
set_state (CofferApplication *self, CofferAppState state, const char *message)
{
  g_free (self->state_message);
  self->state_message = g_strdup (message);
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

CofferDestination *
coffer_application_dup_destination (CofferApplication *self)
{
  g_autofree char *location = g_settings_get_string (self->settings, "destination");
  CofferDestination *dest;

  if (self->destination != NULL && g_strcmp0 (self->destination->location, location) == 0)
    dest = coffer_destination_copy (self->destination);
  else
    {
      dest = coffer_destination_new (location);
      dest->user = g_settings_get_string (self->settings, "destination-user");
      dest->s3_endpoint = g_settings_get_string (self->settings, "s3-endpoint");
      dest->s3_region = g_settings_get_string (self->settings, "s3-region");
    }
  dest->bandwidth_limit = (guint64) g_settings_get_uint (self->settings, "bandwidth-limit") * 1024;
  return dest;
}

void
coffer_application_save_categories (CofferApplication *self)
{
  coffer_category_items_save (self->settings, G_LIST_MODEL (self->categories));
}

static CofferWindow *
get_main_window (CofferApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (COFFER_IS_WINDOW (l->data))
      return l->data;
  return NULL;
}

static gboolean
window_is_visible (CofferApplication *self)
{
  CofferWindow *window = get_main_window (self);
  return window != NULL && gtk_widget_get_visible (GTK_WIDGET (window)) &&
         gtk_window_is_active (GTK_WINDOW (window));
}

/* ---- opening the repository ---- */

static void
credentials_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_open_finish (self->engine, result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_debug ("Opening the repository failed: %s", error->message);
      if (error->domain == COFFER_REPO_ERROR &&
          (error->code == COFFER_REPO_ERROR_NO_KEY || error->code == COFFER_REPO_ERROR_WRONG_PASSWORD))
        set_state (self, COFFER_APP_STATE_LOCKED,
                   error->code == COFFER_REPO_ERROR_WRONG_PASSWORD ? message : NULL);
      else if (error->domain == COFFER_KEYRING_ERROR)
        set_state (self, COFFER_APP_STATE_LOCKED, NULL);
      else
        {
          if (g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE))
            {
              set_problem (self, COFFER_BACKUP_PROBLEM_DISCONNECTED, message);
              watch_destination (self);   /* opened again when the drive is back */
            }
          set_state (self, COFFER_APP_STATE_ERROR, message);
        }
      return;
    }
  /* Opened: the drive is there, and credentials that were refused (the
   * status row's "Sign In Again") are accepted now. */
  if (self->problem == COFFER_BACKUP_PROBLEM_DISCONNECTED || self->problem == COFFER_BACKUP_PROBLEM_AUTH)
    set_problem (self, COFFER_BACKUP_PROBLEM_NONE, NULL);
  set_state (self, COFFER_APP_STATE_READY, NULL);
  if (self->pending_backup)
    {
      self->pending_backup = FALSE;
      coffer_application_start_backup (self, self->scheduled_run);
    }
}

void
coffer_application_open_repository (CofferApplication *self, const CofferSecret *password)
{
  g_autoptr(CofferDestination) dest = NULL;

  g_return_if_fail (COFFER_IS_APPLICATION (self));
  if (!g_settings_get_boolean (self->settings, "setup-done"))
    {
      set_state (self, COFFER_APP_STATE_NOT_SET_UP, NULL);
      return;
    }
  dest = coffer_application_dup_destination (self);
  set_state (self, COFFER_APP_STATE_OPENING, NULL);

  /* Remote credentials come from the keyring on the first open. */
  if (password == NULL && dest->secret == NULL && !g_str_has_prefix (dest->location, "/") &&
      (g_str_has_prefix (dest->location, "webdav") || g_str_has_prefix (dest->location, "s3://")))
    {
      coffer_engine_lookup_credentials_async (self->engine, dest, self->cancellable, credentials_lookup_cb,
                                              g_object_ref (self));
      return;
    }
  coffer_engine_open_async (self->engine, dest, password, self->cancellable, open_cb, g_object_ref (self));
}

static void
credentials_lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferApplication) self = user_data;
  g_autoptr(CofferDestination) dest = coffer_application_dup_destination (self);
  g_autoptr(GError) error = NULL;
  CofferSecret *secret = coffer_engine_lookup_credentials_finish (COFFER_ENGINE (source), result, &error);

  if (secret == NULL)
    g_debug ("No credentials in the keyring: %s", error->message);
  dest->secret = secret;
  g_clear_pointer (&self->destination, coffer_destination_free);
  self->destination = coffer_destination_copy (dest);
  coffer_engine_open_async (self->engine, dest, NULL, self->cancellable, open_cb, g_object_ref (self));
}

/* ---- background portal ---- */

static void
request_background_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GVariant) ret = NULL;
  g_autoptr(GError) error = NULL;

  ret = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (ret == NULL)
    g_debug ("The Background portal is not available: %s", error->message);
}

static void
request_background (CofferApplication *self)
{
  GDBusConnection *bus = g_application_get_dbus_connection (G_APPLICATION (self));
  GVariantBuilder options;
  const char *commandline[] = { "coffer-app", "--background", NULL };

  if (bus == NULL || g_getenv ("COFFER_TESTING") != NULL)
    return;
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "reason",
                         g_variant_new_string (_("Coffer backs up your files on a schedule.")));
  g_variant_builder_add (&options, "{sv}", "autostart", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&options, "{sv}", "commandline", g_variant_new_strv (commandline, -1));
  g_variant_builder_add (&options, "{sv}", "dbus-activatable", g_variant_new_boolean (FALSE));
  g_dbus_connection_call (bus, "org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop",
                          "org.freedesktop.portal.Background", "RequestBackground",
                          g_variant_new ("(sa{sv})", "", &options), NULL, G_DBUS_CALL_FLAGS_NONE,
                          -1, NULL, request_background_cb, NULL);
  g_settings_set_boolean (self->settings, "background-requested", TRUE);
}

/* ---- setup ---- */

void
coffer_application_finish_setup (CofferApplication *self, const CofferDestination *dest,
                                 gboolean start_backup)
{
  g_return_if_fail (COFFER_IS_APPLICATION (self));

  g_clear_pointer (&self->destination, coffer_destination_free);
  self->destination = coffer_destination_copy (dest);
  g_settings_set_string (self->settings, "destination", dest->location);
  g_settings_set_string (self->settings, "destination-user", dest->user ? dest->user : "");
  g_settings_set_string (self->settings, "s3-endpoint", dest->s3_endpoint ? dest->s3_endpoint : "");
  g_settings_set_string (self->settings, "s3-region", dest->s3_region ? dest->s3_region : "");
  if (dest->secret != NULL)
    coffer_engine_save_credentials_async (self->engine, dest, NULL, NULL, NULL);
  coffer_application_save_categories (self);
  g_settings_set_boolean (self->settings, "setup-done", TRUE);
  set_state (self, COFFER_APP_STATE_READY, NULL);
  request_background (self);
  reschedule (self);

  g_application_activate (G_APPLICATION (self));
  if (start_backup)
    coffer_application_start_backup (self, FALSE);
}

/* Saves a new location of the same repository (or of the new one already
 * open in the engine) and opens it there. */
void
coffer_application_change_destination (CofferApplication *self, const CofferDestination *dest, gboolean reopen)
{
  g_return_if_fail (COFFER_IS_APPLICATION (self));

  g_clear_pointer (&self->destination, coffer_destination_free);
  self->destination = coffer_destination_copy (dest);
  g_settings_set_string (self->settings, "destination", dest->location);
  g_settings_set_string (self->settings, "destination-user", dest->user ? dest->user : "");
  if (dest->secret != NULL)
    coffer_engine_save_credentials_async (self->engine, dest, NULL, NULL, NULL);
  coffer_application_save_categories (self);
  if (reopen)
    coffer_application_open_repository (self, NULL);
}

/* ---- backups ---- */

static void
notify_result (CofferApplication *self, gboolean success, const char *title, const char *body)
{
  CofferWindow *window = get_main_window (self);

  if (window_is_visible (self))
    {
      coffer_window_show_toast (window, title);
      return;
    }
  {
    g_autoptr(GNotification) notification = g_notification_new (title);
    g_autoptr(GIcon) icon = g_themed_icon_new (success ? APP_ID "-symbolic" : "dialog-warning-symbolic");
    if (body != NULL)
      g_notification_set_body (notification, body);
    g_notification_set_icon (notification, icon);
    g_notification_set_default_action (notification, "app.show");
    if (!success)
      g_notification_set_priority (notification, G_NOTIFICATION_PRIORITY_HIGH);
    g_set_object (&self->last_notification, notification);
    if (g_getenv ("COFFER_TESTING") != NULL)
      {
        /* Test sessions have no notification service (the warning would be
         * fatal there); tests read coffer_application_get_last_notification(). */
        g_debug ("Notification: %s: %s", title, body ? body : "");
        return;
      }
    g_application_send_notification (G_APPLICATION (self), "backup-result", notification);
  }
}

static void
uninhibit (CofferApplication *self)
{
  if (self->inhibit_cookie != 0)
    {
      gtk_application_uninhibit (GTK_APPLICATION (self), self->inhibit_cookie);
      self->inhibit_cookie = 0;
    }
}

/* The history entry of a backup that found the drive unplugged: what
 * happened, not "Backup failed". */
static char *
not_connected_summary (CofferApplication *self)
{
  g_autofree char *name = coffer_application_dup_destination_name (self);

  /* Translators: %s is the name of a drive, such as "Backup" */
  return g_strdup_printf (_("Not backed up: the drive “%s” was not connected"), name);
}

/* A history entry of the first destination; with other destinations it
 * names the place, as theirs do. */
static void
first_history_add (CofferApplication *self, gint64 start, gint64 end, gboolean success, const char *summary,
                   const char *details)
{
  g_autofree char *name = NULL;
  g_autofree char *named = NULL;
  g_autofree char *more_details = NULL;

  if (g_list_model_get_n_items (G_LIST_MODEL (self->destinations)) == 0)
    {
      coffer_history_add (self->history, start, end, success, summary, details);
      return;
    }
  name = coffer_application_dup_destination_name (self);
  named = success ? g_strdup_printf (_("Backed up to “%s”"), name)
                  : g_strdup_printf (_("Backup to “%s” failed"), name);
  more_details = details != NULL && *details != '\0' ? g_strdup_printf ("%s\n%s", summary, details)
                                                     : g_strdup (summary);
  coffer_history_add (self->history, start, end, success, named, more_details);
}

static gboolean
first_backup_done (CofferApplication *self, GAsyncResult *result)
{
  g_autoptr(CofferBackupReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *details = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  report = coffer_engine_backup_finish (self->engine, result, &error);
  if (report == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          coffer_history_add (self->history, now, now, FALSE, _("Backup cancelled"), NULL);
          return FALSE;
        }
      if (g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE))
        {
          if (self->problem != COFFER_BACKUP_PROBLEM_DISCONNECTED)
            {
              g_autofree char *title = not_connected_summary (self);
              coffer_history_add (self->history, now, now, FALSE, title, message);
            }
          set_problem (self, COFFER_BACKUP_PROBLEM_DISCONNECTED, message);
          watch_destination (self);
          reschedule (self);
          return TRUE;
        }
      first_history_add (self, now, now, FALSE, _("Backup failed"), message);
      set_problem (self, COFFER_BACKUP_PROBLEM_FAILED, message);
      notify_result (self, FALSE, _("Backup failed"), message);
      reschedule (self);
      return TRUE;
    }

  /* Remember per category when it was last backed up and how big it is. */
  for (guint i = 0; i < report->snapshots->len; i++)
    {
      const CofferSnapshot *snapshot = g_ptr_array_index (report->snapshots, i);
      for (guint j = 0; j < g_list_model_get_n_items (G_LIST_MODEL (self->categories)); j++)
        {
          g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->categories), j);
          if (g_strcmp0 (coffer_category_item_get_id (item), snapshot->category_id) == 0)
            coffer_category_item_set_last_backup (item, snapshot->end_time / G_USEC_PER_SEC
                                                        ? snapshot->end_time / G_USEC_PER_SEC : now,
                                                  snapshot->bytes);
        }
    }
  coffer_application_save_categories (self);

  if (report->n_ok > 0)
    {
      g_autofree char *size = g_format_size (report->bytes);
      g_autofree char *added = g_format_size (report->added_bytes);
      summary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                              "Backed up %u category: %s, %s uploaded",
                                              "Backed up %u categories: %s, %s uploaded",
                                              report->n_ok),
                                 report->n_ok, size, added);
    }
  else
    /* Nothing was backed up: never "Backed up 0 categories". */
    summary = g_strdup (_("Backup failed"));
  g_ptr_array_add (report->messages, NULL);
  details = g_strjoinv ("\n", (char **) report->messages->pdata);
  g_ptr_array_remove_index (report->messages, report->messages->len - 1);

  if (report->n_failed == 0)
    {
      guint64 skipped = 0;

      for (guint i = 0; i < report->snapshots->len; i++)
        skipped += ((const CofferSnapshot *) g_ptr_array_index (report->snapshots, i))->skipped;
      g_settings_set_int64 (self->settings, "last-backup", now);
      unwatch_destination (self);
      first_history_add (self, report->start_time, report->end_time, TRUE, summary, details);
      if (skipped > 0)
        {
          /* A backup that left files out is not the green "Last backed up":
           * the status row keeps a warning until a backup has them all.
           * The same files again are not announced at every scheduled run. */
          gboolean again = self->problem == COFFER_BACKUP_PROBLEM_SKIPPED
                           && g_strcmp0 (self->problem_message, details) == 0;

          set_problem (self, COFFER_BACKUP_PROBLEM_SKIPPED, details);
          if (!again)
            notify_result (self, FALSE, _("Some files could not be backed up"), details);
        }
      else
        {
          set_problem (self, COFFER_BACKUP_PROBLEM_NONE, NULL);
          notify_result (self, TRUE, _("Backup finished"), summary);
        }
    }
  else if (g_error_matches (report->first_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE)
           && report->n_ok == 0)
    {
      /* An unplugged drive is a normal state: say so in the status, wait
       * for the drive, and do not shout about it at every scheduled try. */
      gboolean already = self->problem == COFFER_BACKUP_PROBLEM_DISCONNECTED;
      g_autofree char *title = not_connected_summary (self);

      set_problem (self, COFFER_BACKUP_PROBLEM_DISCONNECTED, details);
      watch_destination (self);
      if (!already)
        coffer_history_add (self->history, report->start_time, report->end_time, FALSE, title, details);
    }
  else
    {
      CofferBackupProblem problem = COFFER_BACKUP_PROBLEM_FAILED;

      if (report->n_ok > 0)
        problem = COFFER_BACKUP_PROBLEM_PARTIAL;
      else if (g_error_matches (report->first_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH))
        problem = COFFER_BACKUP_PROBLEM_AUTH;
      else if (g_error_matches (report->first_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NETWORK))
        problem = COFFER_BACKUP_PROBLEM_NETWORK;
      else if (g_error_matches (report->first_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE)
               || g_error_matches (report->first_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_READ_ONLY))
        problem = COFFER_BACKUP_PROBLEM_SETTINGS;
      set_problem (self, problem, details);
      first_history_add (self, report->start_time, report->end_time, FALSE, summary, details);
      notify_result (self, FALSE, report->n_ok > 0 ? _("Some categories could not be backed up")
                                                   : _("Backup failed"), details);
    }
  reschedule (self);
  return TRUE;
}

static void
backup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferApplication) self = user_data;

  uninhibit (self);
  if (first_backup_done (self, result))
    start_more_destinations (self, self->scheduled_run);
  self->first_running = FALSE;
  engine_busy_cb (self);
  g_application_release (G_APPLICATION (self));
}

/* The category's own exclude patterns plus those from Preferences. */
static char **
category_excludes (CofferApplication *self, CofferCategoryItem *item)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) global_excludes = g_settings_get_strv (self->settings, "global-excludes");
  const char * const *own = coffer_category_item_get_excludes (item);

  g_strv_builder_addv (builder, (const char **) own);
  for (guint j = 0; global_excludes[j] != NULL; j++)
    if (!g_strv_contains (own, global_excludes[j]))
      g_strv_builder_add (builder, global_excludes[j]);
  return g_strv_builder_end (builder);
}

/* The categories that are switched on and exist in the first destination. */
static GPtrArray *
enabled_categories (CofferApplication *self)
{
  GPtrArray *items = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->categories)); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->categories), i);
      if (coffer_category_item_get_enabled (item) && coffer_category_item_get_id (item) != NULL)
        g_ptr_array_add (items, g_steal_pointer (&item));
    }
  return items;
}

static void
apply_retention (CofferApplication *self, CofferEngine *engine)
{
  CofferRetention retention = {
    .keep_last = g_settings_get_uint (self->settings, "retention-keep-last"),
    .keep_hourly = g_settings_get_uint (self->settings, "retention-keep-hourly"),
    .keep_daily = g_settings_get_uint (self->settings, "retention-keep-daily"),
    .keep_weekly = g_settings_get_uint (self->settings, "retention-keep-weekly"),
    .keep_monthly = g_settings_get_uint (self->settings, "retention-keep-monthly"),
    .keep_yearly = g_settings_get_uint (self->settings, "retention-keep-yearly"),
  };
  coffer_engine_set_retention (engine, &retention);
}

static gboolean
is_due (gint64 next)
{
  return next != 0 && next <= g_get_real_time () / G_USEC_PER_SEC;
}

void
coffer_application_start_backup (CofferApplication *self, gboolean scheduled)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  g_autoptr(GHashTable) excludes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                          (GDestroyNotify) g_strfreev);
  g_autoptr(GPtrArray) items = NULL;
  gboolean first = TRUE;
  gboolean more = g_list_model_get_n_items (G_LIST_MODEL (self->destinations)) > 0;
  CofferWindow *window;

  g_return_if_fail (COFFER_IS_APPLICATION (self));

  if (coffer_application_get_busy (self))
    return;
  if (self->state == COFFER_APP_STATE_OPENING)
    {
      self->pending_backup = TRUE;
      self->scheduled_run = scheduled;
      return;
    }
  if (self->state != COFFER_APP_STATE_READY)
    {
      /* Only a locked backup needs the user; a destination that could not
       * be opened is on the window's page, and an unplugged drive is waited
       * for without a notification every hour. The other destinations do
       * not wait for the first one. */
      if (scheduled && self->state == COFFER_APP_STATE_LOCKED)
        notify_result (self, FALSE, _("Backup skipped"),
                       _("Open Coffer and enter your backup password to continue backing up."));
      if (self->state != COFFER_APP_STATE_ERROR || !more)
        return;
      first = FALSE;
    }
  if (scheduled)
    {
      GNetworkMonitor *network = g_network_monitor_get_default ();
      GPowerProfileMonitor *power = g_power_profile_monitor_dup_default ();
      gboolean saver = power != NULL && g_power_profile_monitor_get_power_saver_enabled (power);

      g_clear_object (&power);
      if (g_settings_get_boolean (self->settings, "skip-metered") &&
          g_network_monitor_get_network_metered (network))
        {
          g_debug ("Scheduled backup skipped: metered network");
          return;
        }
      if (g_settings_get_boolean (self->settings, "skip-power-saver") && saver)
        {
          g_debug ("Scheduled backup skipped: power saver");
          return;
        }
      /* Each destination has its own due time. */
      if (first && !is_due (coffer_application_get_next_backup (self)))
        first = FALSE;
    }

  items = enabled_categories (self);
  for (guint i = 0; i < items->len; i++)
    {
      CofferCategoryItem *item = g_ptr_array_index (items, i);

      g_ptr_array_add (ids, (gpointer) coffer_category_item_get_id (item));
      g_hash_table_insert (excludes, g_strdup (coffer_category_item_get_id (item)),
                           category_excludes (self, item));
    }
  if (ids->len == 0)
    {
      window = get_main_window (self);
      if (window != NULL)
        coffer_window_show_toast (window, _("Turn on a category to back it up"));
      return;
    }
  if (!first)
    {
      start_more_destinations (self, scheduled);
      return;
    }
  g_ptr_array_add (ids, NULL);

  window = get_main_window (self);
  self->inhibit_cookie = gtk_application_inhibit (GTK_APPLICATION (self),
                                                  window ? GTK_WINDOW (window) : NULL,
                                                  GTK_APPLICATION_INHIBIT_SUSPEND,
                                                  _("Backing up your files"));
  apply_retention (self, self->engine);
  self->scheduled_run = scheduled;
  self->first_running = TRUE;

  /* Keep running (without a window) until the backup is done. */
  g_application_hold (G_APPLICATION (self));
  coffer_engine_backup_async (self->engine, (const char * const *) ids->pdata, excludes, backup_cb,
                              g_object_ref (self));
}

/* ---- the other destinations ---- */

static gint64 next_backup_after (CofferApplication *self, gint64 last);
static void more_next (CofferApplication *self);

static void
more_finish_one (CofferApplication *self)
{
  g_clear_object (&self->more_item);
  g_clear_pointer (&self->more_categories, g_ptr_array_unref);
  self->more_index++;
  more_next (self);
}

static void
more_backup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferApplication) self = user_data;
  CofferDestinationItem *item = self->more_item;
  g_autoptr(CofferBackupReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = coffer_destination_item_dup_name (item);
  g_autofree char *details = NULL;
  g_autofree char *summary = NULL;
  gboolean was_unplugged = FALSE;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 start = now;

  report = coffer_engine_backup_finish (COFFER_ENGINE (source), result, &error);
  if (report != NULL)
    {
      g_ptr_array_add (report->messages, NULL);
      details = g_strjoinv ("\n", (char **) report->messages->pdata);
      g_ptr_array_remove_index (report->messages, report->messages->len - 1);
      start = report->start_time;
      if (report->n_failed > 0 && report->first_error != NULL)
        error = g_error_copy (report->first_error);
    }
  else
    details = coffer_engine_describe_error (error);

  /* The status before this run, to say "not connected" only once. */
  was_unplugged = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (item), "was-unplugged"));
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      coffer_destination_item_set_status (item, COFFER_DESTINATION_STATUS_IDLE, NULL);
      self->more_cancelled = TRUE;
    }
  else if (report != NULL && report->n_failed == 0)
    {
      g_autofree char *size = g_format_size (report->bytes);
      g_autofree char *added = g_format_size (report->added_bytes);

      coffer_destination_item_set_last_backup (item, now);
      coffer_application_save_destinations (self);
      coffer_destination_item_set_status (item, COFFER_DESTINATION_STATUS_OK, NULL);
      /* Translators: %s is the name of a destination (a drive, folder or server) */
      summary = g_strdup_printf (_("Backed up to “%s”"), name);
      g_free (details);
      details = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                              "%u category: %s, %s uploaded",
                                              "%u categories: %s, %s uploaded",
                                              report->n_ok),
                                 report->n_ok, size, added);
      coffer_history_add (self->history, start, now, TRUE, summary, details);
    }
  else if (g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE)
           && (report == NULL || report->n_ok == 0))
    {
      coffer_destination_item_set_status (item, COFFER_DESTINATION_STATUS_UNPLUGGED, details);
      coffer_destination_item_watch (item);
      if (!was_unplugged)
        {
          /* Translators: %s is the name of a destination (a drive, folder or server) */
          summary = g_strdup_printf (_("“%s” is not connected"), name);
          coffer_history_add (self->history, start, now, FALSE, summary, details);
        }
    }
  else
    {
      coffer_destination_item_set_status (item, COFFER_DESTINATION_STATUS_FAILED, details);
      /* Translators: %s is the name of a destination (a drive, folder or server) */
      summary = g_strdup_printf (_("Backup to “%s” failed"), name);
      coffer_history_add (self->history, start, now, FALSE, summary, details);
      notify_result (self, FALSE, summary, details);
    }
  more_finish_one (self);
}

static void more_add_categories (CofferApplication *self);

static void
more_failed (CofferApplication *self, const GError *error)
{
  CofferDestinationItem *item = self->more_item;
  g_autofree char *message = coffer_engine_describe_error (error);
  g_autofree char *name = coffer_destination_item_dup_name (item);
  g_autofree char *summary = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      coffer_destination_item_set_status (item, COFFER_DESTINATION_STATUS_IDLE, NULL);
      self->more_cancelled = TRUE;
    }
  else if (g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE))
    {
      gboolean was_unplugged = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (item), "was-unplugged"));

      coffer_destination_item_set_status (item, COFFER_DESTINATION_STATUS_UNPLUGGED, message);
      coffer_destination_item_watch (item);
      if (!was_unplugged)
        {
          summary = g_strdup_printf (_("“%s” is not connected"), name);
          coffer_history_add (self->history, now, now, FALSE, summary, message);
        }
    }
  else
    {
      coffer_destination_item_set_status (item, COFFER_DESTINATION_STATUS_FAILED, message);
      summary = g_strdup_printf (_("Backup to “%s” failed"), name);
      coffer_history_add (self->history, now, now, FALSE, summary, message);
      notify_result (self, FALSE, summary, message);
    }
  more_finish_one (self);
}

/* The categories of the destination being backed up, as it holds them. */
static CofferCategory *
more_find_category (CofferApplication *self, const char *id, const char *name)
{
  for (guint i = 0; self->more_categories != NULL && i < self->more_categories->len; i++)
    {
      CofferCategory *category = g_ptr_array_index (self->more_categories, i);
      if (id != NULL ? g_strcmp0 (category->id, id) == 0 : g_strcmp0 (category->name, name) == 0)
        return category;
    }
  return NULL;
}

static gboolean
strv_equal0 (const char * const *a, const char * const *b)
{
  if (a == NULL || b == NULL)
    return (a == NULL || a[0] == NULL) && (b == NULL || b[0] == NULL);
  return g_strv_equal (a, b);
}

/* One step of a sync finished: any error fails this destination's run. */
static void
more_step_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferApplication) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (g_async_result_is_tagged (result, coffer_engine_add_category_async))
    {
      g_autofree char *id = coffer_engine_add_category_finish (COFFER_ENGINE (source), result, &error);
      ok = id != NULL;
      g_clear_pointer (&self->more_categories, g_ptr_array_unref);   /* listed again */
    }
  else if (g_async_result_is_tagged (result, coffer_engine_set_level_async))
    ok = coffer_engine_set_level_finish (COFFER_ENGINE (source), result, &error);
  else
    ok = coffer_engine_update_category_finish (COFFER_ENGINE (source), result, &error);
  if (!ok)
    {
      more_failed (self, error);
      return;
    }
  more_add_categories (self);
}

static void
more_listed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferApplication) self = user_data;
  g_autoptr(GError) error = NULL;
  GPtrArray *categories = coffer_engine_list_categories_finish (COFFER_ENGINE (source), result, &error);

  if (categories == NULL)
    {
      more_failed (self, error);
      return;
    }
  g_clear_pointer (&self->more_categories, g_ptr_array_unref);
  self->more_categories = categories;
  more_add_categories (self);
}

/* The same categories go to every destination. Before each backup there,
 * its categories are brought in line with the first destination's: one
 * that is missing is made (or one of the same name is used), and the name,
 * this computer's folders and the protection level follow the first
 * destination's (a category made Advanced there must not stay openable with
 * the password here). Then every category is backed up. */
static void
more_add_categories (CofferApplication *self)
{
  CofferDestinationItem *item = self->more_item;
  CofferEngine *engine = coffer_destination_item_get_engine (item);
  g_autoptr(GPtrArray) items = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  g_autoptr(GHashTable) excludes = NULL;

  if (self->more_categories == NULL)
    {
      coffer_engine_list_categories_async (engine, NULL, more_listed_cb, g_object_ref (self));
      return;
    }
  items = enabled_categories (self);
  for (guint i = 0; i < items->len; i++)
    {
      CofferCategoryItem *category = g_ptr_array_index (items, i);
      const char *first_id = coffer_category_item_get_id (category);
      const char *name = coffer_category_item_get_name (category);
      const char *own = coffer_destination_item_lookup_category (item, first_id);
      CofferCategory *there = own != NULL ? more_find_category (self, own, NULL) : NULL;

      if (there == NULL)
        {
          /* Not mapped, or gone from there: one of the same name that no
           * other category uses, else a new one. */
          there = more_find_category (self, NULL, name);
          for (guint j = 0; there != NULL && j < items->len; j++)
            if (j != i && g_strcmp0 (coffer_destination_item_lookup_category (
                                       item, coffer_category_item_get_id (g_ptr_array_index (items, j))),
                                     there->id) == 0)
              there = NULL;
          if (there == NULL)
            {
              coffer_engine_add_category_async (engine, name, coffer_category_item_get_level (category),
                                                coffer_category_item_get_paths (category),
                                                coffer_category_item_get_excludes (category), NULL,
                                                more_step_cb, g_object_ref (self));
              /* Mapped once listed again, by its name. */
              coffer_destination_item_set_category (item, first_id, NULL);
              return;
            }
          coffer_destination_item_set_category (item, first_id, there->id);
          coffer_application_save_destinations (self);
        }
      if (g_strcmp0 (there->name, name) != 0
          || !strv_equal0 ((const char * const *) there->paths, coffer_category_item_get_paths (category)))
        {
          g_free (there->name);
          there->name = g_strdup (name);
          g_strfreev (there->paths);
          there->paths = g_strdupv ((char **) coffer_category_item_get_paths (category));
          coffer_engine_update_category_async (engine, there->id, name, coffer_category_item_get_paths (category),
                                               (const char * const *) there->excludes, NULL, more_step_cb,
                                               g_object_ref (self));
          return;
        }
      if (there->level != coffer_category_item_get_level (category))
        {
          there->level = coffer_category_item_get_level (category);
          coffer_engine_set_level_async (engine, there->id, there->level, NULL, more_step_cb,
                                         g_object_ref (self));
          return;
        }
    }

  excludes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_strfreev);
  for (guint i = 0; i < items->len; i++)
    {
      CofferCategoryItem *category = g_ptr_array_index (items, i);
      const char *own = coffer_destination_item_lookup_category (item, coffer_category_item_get_id (category));

      g_ptr_array_add (ids, (gpointer) own);
      g_hash_table_insert (excludes, g_strdup (own), category_excludes (self, category));
    }
  g_ptr_array_add (ids, NULL);
  g_clear_pointer (&self->more_categories, g_ptr_array_unref);
  apply_retention (self, engine);
  coffer_engine_backup_async (engine, (const char * const *) ids->pdata, excludes, more_backup_cb,
                              g_object_ref (self));
}

static void
more_open_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferApplication) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_open_finish (COFFER_ENGINE (source), result, &error))
    {
      more_failed (self, error);
      return;
    }
  more_add_categories (self);
}

static void
more_credentials_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferApplication) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) secret = coffer_engine_lookup_credentials_finish (COFFER_ENGINE (source), result,
                                                                            &error);
  g_autoptr(CofferDestination) dest = NULL;

  if (secret == NULL)
    g_debug ("No credentials in the keyring: %s", error->message);
  coffer_destination_item_set_secret (self->more_item, secret);
  g_object_set_data (G_OBJECT (self->more_item), "looked-up", GINT_TO_POINTER (TRUE));
  dest = coffer_destination_item_dup_destination (self->more_item);
  dest->bandwidth_limit = (guint64) g_settings_get_uint (self->settings, "bandwidth-limit") * 1024;
  coffer_engine_open_async (coffer_destination_item_get_engine (self->more_item), dest,
                            coffer_engine_get_password (self->engine), self->cancellable, more_open_cb,
                            g_object_ref (self));
}

static void
more_next (CofferApplication *self)
{
  GListModel *model = G_LIST_MODEL (self->destinations);

  while (!self->more_cancelled && self->more_index < g_list_model_get_n_items (model))
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (model, self->more_index);
      g_autoptr(CofferDestination) dest = coffer_destination_item_dup_destination (item);
      CofferEngine *engine = coffer_destination_item_get_engine (item);

      if (self->more_scheduled &&
          !is_due (next_backup_after (self, coffer_destination_item_get_last_backup (item))))
        {
          self->more_index++;
          continue;
        }
      g_object_set_data (G_OBJECT (item), "was-unplugged",
                         GINT_TO_POINTER (coffer_destination_item_get_status (item, NULL)
                                          == COFFER_DESTINATION_STATUS_UNPLUGGED));
      self->more_item = g_steal_pointer (&item);
      coffer_destination_item_set_status (self->more_item, COFFER_DESTINATION_STATUS_BUSY, NULL);
      if (coffer_engine_get_repository (engine) != NULL)
        {
          more_add_categories (self);
          return;
        }
      /* Its own repository, opened with this computer's key or the backup
       * password of this session. Server credentials come from the keyring. */
      if (dest->secret == NULL && coffer_destination_local_path (dest->location) == NULL
          && !g_object_get_data (G_OBJECT (self->more_item), "looked-up")
          && (g_str_has_prefix (dest->location, "webdav") || g_str_has_prefix (dest->location, "s3://")))
        {
          coffer_engine_lookup_credentials_async (engine, dest, self->cancellable, more_credentials_cb,
                                                  g_object_ref (self));
          return;
        }
      dest->bandwidth_limit = (guint64) g_settings_get_uint (self->settings, "bandwidth-limit") * 1024;
      coffer_engine_open_async (engine, dest, coffer_engine_get_password (self->engine), self->cancellable,
                                more_open_cb, g_object_ref (self));
      return;
    }
  self->more_running = FALSE;
  self->more_cancelled = FALSE;
  uninhibit (self);
  engine_busy_cb (self);
  reschedule (self);
  g_application_release (G_APPLICATION (self));
}

/* Backs up every other destination, one after another (scheduled: only
 * those that are due). One that cannot be reached is marked and skipped. */
static void
start_more_destinations (CofferApplication *self, gboolean scheduled)
{
  if (self->more_running || g_list_model_get_n_items (G_LIST_MODEL (self->destinations)) == 0)
    return;
  self->more_running = TRUE;
  self->more_cancelled = FALSE;
  self->more_scheduled = scheduled;
  self->more_index = 0;
  g_application_hold (G_APPLICATION (self));
  if (self->inhibit_cookie == 0)
    {
      CofferWindow *window = get_main_window (self);
      self->inhibit_cookie = gtk_application_inhibit (GTK_APPLICATION (self),
                                                      window ? GTK_WINDOW (window) : NULL,
                                                      GTK_APPLICATION_INHIBIT_SUSPEND,
                                                      _("Backing up your files"));
    }
  engine_busy_cb (self);
  more_next (self);
}

/* ---- re-encryption ---- */

static char *
category_name (CofferApplication *self, const char *category_id)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->categories)); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (self->categories), i);
      if (g_strcmp0 (coffer_category_item_get_id (item), category_id) == 0)
        return g_strdup (coffer_category_item_get_name (item));
    }
  return g_strdup (category_id);
}

typedef struct
{
  CofferApplication *app;
  char              *category_id;
  gint64             start;
} ReencryptRun;

static void
reencrypt_run_free (ReencryptRun *run)
{
  g_object_unref (run->app);
  g_free (run->category_id);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ReencryptRun, reencrypt_run_free)

static void
reencrypt_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(ReencryptRun) run = user_data;
  CofferApplication *self = run->app;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = category_name (self, run->category_id);
  g_autofree char *summary = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  uninhibit (self);
  g_application_release (G_APPLICATION (self));
  if (!coffer_engine_reencrypt_finish (self->engine, result, &error))
    {
      g_autofree char *message = coffer_engine_describe_error (error);

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* Translators: %s is a category name */
          summary = g_strdup_printf (_("Re-encryption of %s cancelled"), name);
          coffer_history_add (self->history, run->start, now, FALSE, summary,
                              _("What was done is kept; the next run continues from there."));
          return;
        }
      /* Translators: %s is a category name */
      summary = g_strdup_printf (_("Older backups of %s could not be re-encrypted"), name);
      coffer_history_add (self->history, run->start, now, FALSE, summary, message);
      notify_result (self, FALSE, summary, message);
      return;
    }
  /* Translators: %s is a category name */
  summary = g_strdup_printf (_("Older backups of %s re-encrypted"), name);
  coffer_history_add (self->history, run->start, now, TRUE, summary,
                      _("An old copy of the password envelope can no longer open them."));
  notify_result (self, TRUE, summary, NULL);
}

void
coffer_application_start_reencrypt (CofferApplication *self, const char *category_id)
{
  CofferWindow *window = get_main_window (self);
  ReencryptRun *run;

  g_return_if_fail (COFFER_IS_APPLICATION (self));
  g_return_if_fail (category_id != NULL);

  if (coffer_application_get_busy (self))
    {
      if (window != NULL)
        coffer_window_show_toast (window, _("Wait until the running backup or restore is done"));
      return;
    }
  run = g_new0 (ReencryptRun, 1);
  run->app = g_object_ref (self);
  run->category_id = g_strdup (category_id);
  run->start = g_get_real_time () / G_USEC_PER_SEC;
  self->inhibit_cookie = gtk_application_inhibit (GTK_APPLICATION (self),
                                                  window ? GTK_WINDOW (window) : NULL,
                                                  GTK_APPLICATION_INHIBIT_SUSPEND,
                                                  _("Re-encrypting older backups"));
  /* Keep running (without a window) until it is done. */
  g_application_hold (G_APPLICATION (self));
  coffer_engine_reencrypt_async (self->engine, category_id, reencrypt_cb, run);
}

/* ---- waiting for an unplugged drive ---- */

/* The destination folder exists again: open the repository if that is
 * what failed, and back up if a backup is due. */
static void
destination_check (CofferApplication *self)
{
  g_autofree char *path = local_destination_path (self);
  gint64 next;

  if (path == NULL || !g_file_test (path, G_FILE_TEST_IS_DIR))
    return;
  g_debug ("The destination %s is back", path);
  unwatch_destination (self);
  next = coffer_application_get_next_backup (self);
  if (self->state == COFFER_APP_STATE_ERROR)
    {
      self->pending_backup = next != 0 && next <= g_get_real_time () / G_USEC_PER_SEC;
      self->scheduled_run = TRUE;
      coffer_application_open_repository (self, NULL);
      return;
    }
  set_problem (self, COFFER_BACKUP_PROBLEM_NONE, NULL);
  if (next != 0 && next <= g_get_real_time () / G_USEC_PER_SEC)
    coffer_application_start_backup (self, TRUE);
}

static void
mount_added_cb (GVolumeMonitor *monitor, GMount *mount, CofferApplication *self)
{
  destination_check (self);
}

static void
destination_changed_cb (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                        CofferApplication *self)
{
  if (event == G_FILE_MONITOR_EVENT_CREATED || event == G_FILE_MONITOR_EVENT_MOVED_IN
      || event == G_FILE_MONITOR_EVENT_RENAMED)
    destination_check (self);
}

static void
watch_destination (CofferApplication *self)
{
  g_autofree char *path = local_destination_path (self);
  if (path == NULL || self->destination_monitor != NULL)
    return;
  /* A drive appears as a new mount; a folder (or a mount point under an
   * existing folder) appears in its nearest existing parent. */
  if (self->volume_monitor == NULL)
    {
      self->volume_monitor = g_volume_monitor_get ();
      g_signal_connect_object (self->volume_monitor, "mount-added", G_CALLBACK (mount_added_cb), self, 0);
    }
  self->destination_monitor = coffer_monitor_nearest_folder (path);
  if (self->destination_monitor != NULL)
    g_signal_connect_object (self->destination_monitor, "changed", G_CALLBACK (destination_changed_cb),
                             self, 0);
}

static void
unwatch_destination (CofferApplication *self)
{
  if (self->destination_monitor != NULL)
    g_file_monitor_cancel (self->destination_monitor);
  g_clear_object (&self->destination_monitor);
  if (self->volume_monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->volume_monitor, self);
  g_clear_object (&self->volume_monitor);
}

/* ---- schedule ---- */

gint64
coffer_application_get_next_backup (CofferApplication *self)
{
  return next_backup_after (self, g_settings_get_int64 (self->settings, "last-backup"));
}

/* When a destination whose last successful backup was at last is due. */
static gint64
next_backup_after (CofferApplication *self, gint64 last)
{
  int schedule = g_settings_get_enum (self->settings, "schedule");
  guint minutes = g_settings_get_uint (self->settings, "schedule-time");
  guint weekday = g_settings_get_uint (self->settings, "schedule-weekday");
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) last_dt = NULL;
  g_autoptr(GDateTime) today = NULL;
  g_autoptr(GDateTime) due = NULL;

  switch (schedule)
    {
    case 1: /* hourly */
      return last > 0 ? last + 3600 : g_date_time_to_unix (now);
    case 2: /* daily */
    case 3: /* weekly */
      today = g_date_time_new_local (g_date_time_get_year (now), g_date_time_get_month (now),
                                     g_date_time_get_day_of_month (now), minutes / 60, minutes % 60, 0);
      if (schedule == 3)
        due = g_date_time_add_days (today, ((int) weekday - g_date_time_get_day_of_week (today) + 7) % 7);
      else
        due = g_date_time_ref (today);
      /* Already done after that time: the next day (week). */
      if (last >= g_date_time_to_unix (due))
        {
          GDateTime *next = g_date_time_add_days (due, schedule == 3 ? 7 : 1);
          g_date_time_unref (due);
          due = next;
        }
      else if (schedule == 3 && g_date_time_compare (due, now) > 0)
        {
          /* This week's slot is still ahead, but a missed earlier week is due now. */
          last_dt = g_date_time_add_days (due, -7);
          if (last < g_date_time_to_unix (last_dt))
            return g_date_time_to_unix (now);
        }
      return g_date_time_to_unix (due);
    default:
      return 0;
    }
}

/* The earliest due time of all destinations, 0 when off. */
static gint64
next_run (CofferApplication *self)
{
  gint64 next = coffer_application_get_next_backup (self);

  for (guint i = 0; next != 0 && i < g_list_model_get_n_items (G_LIST_MODEL (self->destinations)); i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (G_LIST_MODEL (self->destinations), i);
      next = MIN (next, next_backup_after (self, coffer_destination_item_get_last_backup (item)));
    }
  return next;
}

static gboolean
schedule_cb (gpointer user_data)
{
  CofferApplication *self = user_data;
  gint64 next = next_run (self);

  self->schedule_source = 0;
  if (next != 0 && next <= g_get_real_time () / G_USEC_PER_SEC)
    coffer_application_start_backup (self, TRUE);
  reschedule (self);
  return G_SOURCE_REMOVE;
}

static void
reschedule (CofferApplication *self)
{
  gint64 next, now = g_get_real_time () / G_USEC_PER_SEC;

  g_clear_handle_id (&self->schedule_source, g_source_remove);
  if (!g_settings_get_boolean (self->settings, "setup-done"))
    return;
  next = next_run (self);
  if (next == 0)
    return;
  /* Wake at least every hour: suspend makes long timeouts late. */
  self->schedule_source = g_timeout_add_seconds ((guint) CLAMP (next - now, 60, 3600), schedule_cb, self);
}

/* ---- actions ---- */

static void
backup_now_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  coffer_application_start_backup (COFFER_APPLICATION (user_data), FALSE);
}

static void
cancel_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  CofferApplication *self = COFFER_APPLICATION (user_data);

  coffer_engine_cancel (self->engine);
  if (self->more_running)
    self->more_cancelled = TRUE;
  /* The backup to another destination, or a restore from one. */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->destinations)); i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (G_LIST_MODEL (self->destinations), i);
      coffer_engine_cancel (coffer_destination_item_get_engine (item));
    }
}

static void
show_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  g_application_activate (G_APPLICATION (user_data));
}

static void
preferences_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  CofferApplication *self = user_data;
  CofferPreferencesWindow *prefs = coffer_preferences_window_new (self);

  gtk_window_set_transient_for (GTK_WINDOW (prefs), GTK_WINDOW (get_main_window (self)));
  gtk_window_present (GTK_WINDOW (prefs));
}

static void
restore_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  CofferApplication *self = user_data;
  CofferRestoreWindow *window = coffer_restore_window_new (self);

  gtk_window_set_transient_for (GTK_WINDOW (window), GTK_WINDOW (get_main_window (self)));
  gtk_window_present (GTK_WINDOW (window));
}

static void
about_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  CofferApplication *self = user_data;
  const char *developers[] = { "The Coffer developers", NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", get_main_window (self),
                        "application-icon", APP_ID,
                        "application-name", _("Coffer"),
                        "developer-name", _("The Coffer developers"),
                        "version", PACKAGE_VERSION,
                        "website", "https://github.com/cofferapp/coffer",
                        "issue-url", "https://github.com/cofferapp/coffer/issues",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "developers", developers,
                        /* Translators: your name and e-mail, one a line */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
help_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  CofferApplication *self = user_data;
  GtkWindow *active = gtk_application_get_active_window (GTK_APPLICATION (self));

  gtk_window_present (coffer_help_window_new (active ? active : GTK_WINDOW (get_main_window (self))));
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  CofferApplication *self = user_data;

  if (self->held)
    {
      self->held = FALSE;
      g_application_release (G_APPLICATION (self));
    }
  /* Each destroyed window leaves the list. */
  while (gtk_application_get_windows (GTK_APPLICATION (self)) != NULL)
    gtk_window_destroy (gtk_application_get_windows (GTK_APPLICATION (self))->data);
}

static const GActionEntry app_actions[] = {
  { "backup-now", backup_now_activated },
  { "cancel", cancel_activated },
  { "show", show_activated },
  { "preferences", preferences_activated },
  { "restore", restore_activated },
  { "about", about_activated },
  { "help", help_activated },
  { "quit", quit_activated },
};

static void
engine_busy_cb (CofferApplication *self)
{
  gboolean busy = coffer_application_get_busy (self);
  gboolean more = g_list_model_get_n_items (G_LIST_MODEL (self->destinations)) > 0;
  GAction *action;

  /* With other destinations, a first one that cannot be opened does not
   * stop backing up to them. */
  action = g_action_map_lookup_action (G_ACTION_MAP (self), "backup-now");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (action),
                               !busy && (self->state == COFFER_APP_STATE_READY
                                         || (more && self->state == COFFER_APP_STATE_ERROR)));
  action = g_action_map_lookup_action (G_ACTION_MAP (self), "cancel");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), busy);
  /* The restore window reads the other destinations too (the first one
   * unplugged is when a backup is needed most). */
  action = g_action_map_lookup_action (G_ACTION_MAP (self), "restore");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (action),
                               self->state == COFFER_APP_STATE_READY
                               || (more && self->state == COFFER_APP_STATE_ERROR));
  if (busy != self->was_busy)
    {
      self->was_busy = busy;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }
}

/* A drive of another destination is back: back up to it if it is due. */
static void
destination_reconnected_cb (CofferDestinationItem *item, CofferApplication *self)
{
  if (next_backup_after (self, coffer_destination_item_get_last_backup (item))
      <= g_get_real_time () / G_USEC_PER_SEC)
    {
      if (coffer_application_get_busy (self))
        return;
      start_more_destinations (self, TRUE);
    }
}

static void
destinations_changed_cb (GListModel *model, guint position, guint removed, guint added,
                         CofferApplication *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (model, i);
      g_signal_connect_object (item, "reconnected", G_CALLBACK (destination_reconnected_cb), self, 0);
      g_signal_connect_object (coffer_destination_item_get_engine (item), "notify::busy",
                               G_CALLBACK (engine_busy_cb), self, G_CONNECT_SWAPPED);
    }
  engine_busy_cb (self);
  reschedule (self);
}

/* ---- GApplication ---- */

static void
coffer_application_startup (GApplication *app)
{
  CofferApplication *self = COFFER_APPLICATION (app);
  static const char *quit_accels[] = { "<primary>q", NULL };
  static const char *backup_accels[] = { "<primary>b", NULL };
  static const char *prefs_accels[] = { "<primary>comma", NULL };
  static const char *restore_accels[] = { "<primary>r", NULL };
  static const char *help_accels[] = { "F1", NULL };
  /* Every window and dialog of the app closes with Ctrl+W (GtkWindow's own
   * window.close action); Escape is bound per window. */
  static const char *close_accels[] = { "<primary>w", NULL };

  G_APPLICATION_CLASS (coffer_application_parent_class)->startup (app);
  /* Backups and restores run below the window's priority: a backup keeps
   * every core busy, and the window must still draw and answer. */
  coffer_worker_pool_set_nice (COFFER_WORKER_NICE_APP);

  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);
  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.backup-now", backup_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", prefs_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.restore", restore_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.help", help_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);

  self->settings = g_settings_new (APP_ID);
  self->engine = coffer_engine_new ();
  self->categories = g_list_store_new (COFFER_TYPE_CATEGORY_ITEM);
  self->destinations = g_list_store_new (COFFER_TYPE_DESTINATION_ITEM);
  self->history = coffer_history_new (NULL);
  self->cancellable = g_cancellable_new ();
  coffer_category_items_load (self->settings, self->categories);
  g_signal_connect_object (self->destinations, "items-changed", G_CALLBACK (destinations_changed_cb), self, 0);
  coffer_destination_items_load (self->settings, self->destinations);

  g_signal_connect_swapped (self->engine, "notify::busy", G_CALLBACK (engine_busy_cb), self);
  g_signal_connect_swapped (self, "notify::state", G_CALLBACK (engine_busy_cb), self);
  g_signal_connect_swapped (self->settings, "changed::schedule", G_CALLBACK (reschedule), self);
  g_signal_connect_swapped (self->settings, "changed::schedule-time", G_CALLBACK (reschedule), self);
  g_signal_connect_swapped (self->settings, "changed::schedule-weekday", G_CALLBACK (reschedule), self);
  engine_busy_cb (self);

  coffer_application_open_repository (self, NULL);
  reschedule (self);
}

static void
coffer_application_activate (GApplication *app)
{
  CofferApplication *self = COFFER_APPLICATION (app);
  CofferWindow *window;

  if (!g_settings_get_boolean (self->settings, "setup-done"))
    {
      for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
        if (COFFER_IS_SETUP_ASSISTANT (l->data))
          {
            gtk_window_present (l->data);
            return;
          }
      gtk_window_present (GTK_WINDOW (coffer_setup_assistant_new (self)));
      return;
    }

  window = get_main_window (self);
  if (window == NULL)
    window = coffer_window_new (self);
  gtk_window_present (GTK_WINDOW (window));
}

static int
coffer_application_command_line (GApplication *app, GApplicationCommandLine *cmdline)
{
  CofferApplication *self = COFFER_APPLICATION (app);
  GVariantDict *options = g_application_command_line_get_options_dict (cmdline);

  if (g_variant_dict_contains (options, "background"))
    {
      /* Service mode: no window; the schedule keeps running. */
      if (!self->held)
        {
          self->held = TRUE;
          g_application_hold (app);
        }
      return 0;
    }
  g_application_activate (app);
  return 0;
}

static void
coffer_application_shutdown (GApplication *app)
{
  CofferApplication *self = COFFER_APPLICATION (app);

  g_cancellable_cancel (self->cancellable);
  if (self->engine != NULL)
    coffer_engine_close (self->engine);
  for (guint i = 0; self->destinations != NULL && i < g_list_model_get_n_items (G_LIST_MODEL (self->destinations)); i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (G_LIST_MODEL (self->destinations), i);
      coffer_engine_close (coffer_destination_item_get_engine (item));
    }
  g_clear_handle_id (&self->schedule_source, g_source_remove);
  G_APPLICATION_CLASS (coffer_application_parent_class)->shutdown (app);
}

static void
coffer_application_dispose (GObject *object)
{
  CofferApplication *self = COFFER_APPLICATION (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->engine);
  g_clear_object (&self->categories);
  g_clear_object (&self->more_item);
  g_clear_pointer (&self->more_categories, g_ptr_array_unref);
  g_clear_object (&self->destinations);
  g_clear_object (&self->history);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->destination, coffer_destination_free);
  g_clear_pointer (&self->state_message, g_free);
  g_clear_pointer (&self->problem_message, g_free);
  g_clear_object (&self->last_notification);
  unwatch_destination (self);
  G_OBJECT_CLASS (coffer_application_parent_class)->dispose (object);
}

static void
coffer_application_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, COFFER_APPLICATION (object)->state);
      break;
    case PROP_PROBLEM:
      g_value_set_int (value, COFFER_APPLICATION (object)->problem);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, coffer_application_get_busy (COFFER_APPLICATION (object)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
coffer_application_class_init (CofferApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = coffer_application_dispose;
  object_class->get_property = coffer_application_get_property;
  app_class->startup = coffer_application_startup;
  app_class->activate = coffer_application_activate;
  app_class->command_line = coffer_application_command_line;
  app_class->shutdown = coffer_application_shutdown;

  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL, 0, COFFER_APP_STATE_ERROR, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PROBLEM] =
    g_param_spec_int ("problem", NULL, NULL, 0, COFFER_BACKUP_PROBLEM_NETWORK, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
coffer_application_init (CofferApplication *self)
{
  const GOptionEntry options[] = {
    { "background", 0, 0, G_OPTION_ARG_NONE, NULL,
      N_("Run without a window and back up on schedule"), NULL },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), options);
}

CofferApplication *
coffer_application_new (void)
{
  return g_object_new (COFFER_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE,
                       "resource-base-path", "/io/github/cofferapp/Coffer",
                       NULL);
}
