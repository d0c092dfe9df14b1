/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-destination"

#include <glib/gi18n.h>

#include "coffer-destination-page.h"
#include "coffer-error.h"
#include "coffer-rclone.h"

struct _CofferDestinationPage
{
  AdwPreferencesPage    parent_instance;

  CofferEngine         *engine;
  char                 *folder;
  char                 *key_file;
  GCancellable         *sign_in;           /* non-NULL while waiting for the browser */
  char                 *signed_in_type;    /* "gdrive", "dropbox" */
  char                 *signed_in_remote;

  GtkCheckButton       *kind_local;
  GtkCheckButton       *kind_gdrive;
  GtkCheckButton       *kind_onedrive;
  GtkCheckButton       *kind_dropbox;
  GtkCheckButton       *kind_sftp;
  GtkCheckButton       *kind_webdav;
  GtkCheckButton       *kind_s3;
  GtkCheckButton       *kind_other;
  GtkWidget            *local_group;
  GtkWidget            *oauth_group;
  GtkWidget            *onedrive_group;
  GtkWidget            *sftp_group;
  GtkWidget            *webdav_group;
  GtkWidget            *s3_group;
  GtkWidget            *other_group;
  AdwActionRow         *folder_row;
  AdwActionRow         *signin_row;
  GtkSpinner           *signin_spinner;
  GtkWidget            *signin_button;
  GtkWidget            *cancel_signin_button;
  GtkWidget            *link_row;
  GtkLinkButton        *signin_link;
  AdwEntryRow          *oauth_folder;
  AdwEntryRow          *sftp_host;
  AdwEntryRow          *sftp_port;
  AdwEntryRow          *sftp_user;
  AdwPasswordEntryRow  *sftp_password;
  AdwActionRow         *sftp_key_row;
  AdwEntryRow          *sftp_folder;
  AdwEntryRow          *webdav_url;
  AdwEntryRow          *webdav_user;
  AdwPasswordEntryRow  *webdav_password;
  AdwEntryRow          *s3_endpoint;
  AdwEntryRow          *s3_bucket;
  AdwEntryRow          *s3_region;
  AdwEntryRow          *s3_access_key;
  AdwPasswordEntryRow  *s3_secret;
  AdwEntryRow          *other_remote;
  AdwEntryRow          *other_path;
  AdwActionRow         *test_row;
  GtkImage             *test_icon;
  GtkSpinner           *test_spinner;
};

G_DEFINE_FINAL_TYPE (CofferDestinationPage, coffer_destination_page, ADW_TYPE_PREFERENCES_PAGE)

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *
text (gpointer editable)
{
  return gtk_editable_get_text (GTK_EDITABLE (editable));
}

static gboolean
active (GtkCheckButton *button)
{
  return gtk_check_button_get_active (button);
}

/* "gdrive" or "dropbox" when one of them is chosen, else NULL. */
static const char *
oauth_type (CofferDestinationPage *self)
{
  if (active (self->kind_gdrive))
    return "gdrive";
  if (active (self->kind_dropbox))
    return "dropbox";
  return NULL;
}

const char *
coffer_destination_page_provider_name (const char *type)
{
  return g_strcmp0 (type, "dropbox") == 0 ? _("Dropbox") : _("Google Drive");
}

static void
changed_cb (CofferDestinationPage *self)
{
  g_signal_emit (self, signals[CHANGED], 0);
}

/* ---- sign-in ---- */

static void
update_sign_in (CofferDestinationPage *self)
{
  const char *type = oauth_type (self);
  gboolean waiting = self->sign_in != NULL;
  gboolean signed_in = type != NULL && g_strcmp0 (type, self->signed_in_type) == 0;
  g_autofree char *subtitle = NULL;

  if (type == NULL)
    return;
  if (waiting)
    /* Translators: %s is Google Drive or Dropbox */
    subtitle = g_strdup_printf (_("Waiting for you to sign in to %s in your browser…"),
                                coffer_destination_page_provider_name (g_object_get_data (G_OBJECT (self), "signing-in-type")));
  else if (signed_in)
    /* Translators: %s is the name Coffer gave the account, as in “rclone:NAME:folder” */
    subtitle = g_strdup_printf (_("Signed in. The sign-in is kept in the keyring as “%s”."),
                                self->signed_in_remote);
  else
    subtitle = g_strdup (_("Not signed in"));
  adw_action_row_set_subtitle (self->signin_row, subtitle);
  gtk_spinner_set_spinning (self->signin_spinner, waiting);
  gtk_widget_set_visible (GTK_WIDGET (self->signin_spinner), waiting);
  gtk_widget_set_visible (self->signin_button, !waiting);
  gtk_widget_set_visible (self->cancel_signin_button, waiting);
  gtk_button_set_label (GTK_BUTTON (self->signin_button),
                        signed_in ? _("_Sign In Again…") : _("_Sign In…"));
  if (!waiting)
    gtk_widget_set_visible (self->link_row, FALSE);
}

/* A Coffer-managed remote of that type set up earlier (here or with
 * `coffer remote add`): the user is signed in already. */
static void
find_existing_remote (CofferDestinationPage *self, const char *type)
{
  g_autoptr(GKeyFile) kf = coffer_rclone_remotes_load (NULL);
  g_auto(GStrv) groups = kf ? g_key_file_get_groups (kf, NULL) : NULL;

  if (type == NULL || g_strcmp0 (type, self->signed_in_type) == 0)
    return;
  for (guint i = 0; groups != NULL && groups[i] != NULL; i++)
    {
      g_autofree char *t = g_key_file_get_string (kf, groups[i], "type", NULL);
      if (g_strcmp0 (t, type) == 0)
        {
          g_free (self->signed_in_type);
          g_free (self->signed_in_remote);
          self->signed_in_type = g_strdup (type);
          self->signed_in_remote = g_strdup (groups[i]);
          return;
        }
    }
}

static void
open_url (const char *url, gpointer user_data)
{
  CofferDestinationPage *self = user_data;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  /* The link stays for when no browser opens. */
  gtk_link_button_set_uri (self->signin_link, url);
  gtk_widget_set_visible (self->link_row, TRUE);
  /* GTK asks the OpenURI portal inside Flatpak. */
  gtk_show_uri (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, url, GDK_CURRENT_TIME);
}

static void
sign_in_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferDestinationPage) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = coffer_engine_sign_in_finish (COFFER_ENGINE (source), result, &error);
  const char *type = g_object_get_data (G_OBJECT (self), "signing-in-type");

  g_clear_object (&self->sign_in);
  if (name != NULL)
    {
      g_free (self->signed_in_type);
      g_free (self->signed_in_remote);
      self->signed_in_type = g_strdup (type);
      self->signed_in_remote = g_steal_pointer (&name);
    }
  update_sign_in (self);
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *message = coffer_engine_describe_error (error);
      adw_action_row_set_subtitle (self->signin_row, message);
    }
  changed_cb (self);
}

static void
sign_in_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferDestinationPage *self = COFFER_DESTINATION_PAGE (widget);
  const char *type = oauth_type (self);

  if (type == NULL || self->sign_in != NULL || self->engine == NULL)
    return;
  self->sign_in = g_cancellable_new ();
  /* Signed in before (perhaps expired): sign that remote in again. */
  coffer_engine_sign_in_async (self->engine, type,
                               g_strcmp0 (type, self->signed_in_type) == 0 ? self->signed_in_remote : NULL,
                               open_url, self, self->sign_in, sign_in_cb, g_object_ref (self));
  /* The user may switch kinds meanwhile: remember which one signs in. */
  g_object_set_data_full (G_OBJECT (self), "signing-in-type", g_strdup (type), g_free);
  update_sign_in (self);
}

static void
cancel_sign_in_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferDestinationPage *self = COFFER_DESTINATION_PAGE (widget);

  if (self->sign_in != NULL)
    g_cancellable_cancel (self->sign_in);
}

/* ---- kinds and files ---- */

static void
remotes_listed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferDestinationPage) self = user_data;
  g_auto(GStrv) own = coffer_engine_list_rclone_remotes_finish (COFFER_ENGINE (source), result, NULL);
  g_autofree char *list = NULL, *description = NULL;

  if (own == NULL)
    return;
  list = g_strjoinv (", ", own);
  if (own[0] != NULL)
    /* Translators: %s is a list of names */
    description = g_strdup_printf (_("Remotes in your rclone configuration: %s."), list);
  else
    description = g_strdup (_("Your rclone configuration has no remotes yet. Run “rclone config” "
                              "in a terminal to add one."));
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (self->other_group), description);
  if (own[0] != NULL && own[1] == NULL && *text (self->other_remote) == '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->other_remote), own[0]);
}

static void
kind_toggled_cb (CofferDestinationPage *self)
{
  gtk_widget_set_visible (self->local_group, active (self->kind_local));
  gtk_widget_set_visible (self->oauth_group, oauth_type (self) != NULL);
  gtk_widget_set_visible (self->onedrive_group, active (self->kind_onedrive));
  gtk_widget_set_visible (self->sftp_group, active (self->kind_sftp));
  gtk_widget_set_visible (self->webdav_group, active (self->kind_webdav));
  gtk_widget_set_visible (self->s3_group, active (self->kind_s3));
  gtk_widget_set_visible (self->other_group, active (self->kind_other));
  if (oauth_type (self) != NULL)
    {
      adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (self->oauth_group),
                                       coffer_destination_page_provider_name (oauth_type (self)));
      if (self->sign_in == NULL)
        find_existing_remote (self, oauth_type (self));
      update_sign_in (self);
    }
  if (active (self->kind_other) && self->engine != NULL)
    coffer_engine_list_rclone_remotes_async (self->engine, NULL, remotes_listed_cb, g_object_ref (self));
  changed_cb (self);
}

void
coffer_destination_page_set_folder (CofferDestinationPage *self, const char *path)
{
  g_return_if_fail (COFFER_IS_DESTINATION_PAGE (self));
  g_free (self->folder);
  self->folder = g_strdup (path);
  adw_action_row_set_subtitle (self->folder_row, path);
  gtk_check_button_set_active (self->kind_local, TRUE);
  changed_cb (self);
}

static char *
chosen_path (GtkNativeDialog *dialog)
{
  g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

  char *path;

  if (file == NULL)
    return NULL;
  path = g_file_get_path (file);
  return path != NULL ? path : g_file_get_uri (file);
}

static void
folder_response_cb (GtkNativeDialog *dialog, int response, CofferDestinationPage *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autofree char *path = chosen_path (dialog);
      if (path != NULL)
        coffer_destination_page_set_folder (self, path);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
key_response_cb (GtkNativeDialog *dialog, int response, CofferDestinationPage *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_free (self->key_file);
      self->key_file = chosen_path (dialog);
      adw_action_row_set_subtitle (self->sftp_key_row, self->key_file);
      changed_cb (self);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
choose (CofferDestinationPage *self, const char *title, GtkFileChooserAction action, GCallback cb)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (title, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, action,
                                         _("_Select"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", cb, self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
choose_folder_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  choose (COFFER_DESTINATION_PAGE (widget), _("Choose the Backup Folder"),
          GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, G_CALLBACK (folder_response_cb));
}

static void
choose_key_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  choose (COFFER_DESTINATION_PAGE (widget), _("Choose the SSH Key"), GTK_FILE_CHOOSER_ACTION_OPEN,
          G_CALLBACK (key_response_cb));
}

/* ---- the destination ---- */

/* Sets the message to show; returns NULL (no destination). */
static gpointer
invalid (GError **error, const char *message)
{
  g_set_error_literal (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, message);
  return NULL;
}

/* "rclone:NAME:folder" with the folder trimmed of slashes. */
static char *
rclone_location (const char *name, const char *folder)
{
  g_autofree char *f = g_strdup (folder ? folder : "");

  g_strstrip (f);
  return g_strdup_printf ("rclone:%s:%s", name, f);
}

/* The SFTP fields checked; *name is the managed remote they make. */
static gboolean
check_sftp (CofferDestinationPage *self, char **name, gint *port_out, GError **error)
{
  const char *host = text (self->sftp_host), *user = text (self->sftp_user);
  gint64 port = 22;

  if (*host == '\0' || *user == '\0')
    return invalid (error, _("Enter the server and the user name.")) != NULL;
  if (*text (self->sftp_port) != '\0'
      && (!g_ascii_string_to_signed (text (self->sftp_port), 10, 1, 65535, &port, NULL)))
    return invalid (error, _("The port is a number from 1 to 65535.")) != NULL;
  if (*text (self->sftp_password) == '\0' && self->key_file == NULL)
    return invalid (error, _("Enter the password, or choose an SSH key file.")) != NULL;
  /* One remote per user, server and port, named after them. */
  *name = g_strdup_printf ("sftp_%s_%s_%" G_GINT64_FORMAT, user, host, port);
  for (char *p = *name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      *p = '_';
  *port_out = (gint) port;
  return TRUE;
}

static CofferDestination *
build_sftp (CofferDestinationPage *self, GError **error)
{
  g_autofree char *name = NULL, *location = NULL;
  gint port;

  if (!check_sftp (self, &name, &port, error))
    return NULL;
  location = rclone_location (name, text (self->sftp_folder));
  return coffer_destination_new (location);
}

static void
save_remote_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!coffer_engine_save_remote_finish (COFFER_ENGINE (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
coffer_destination_page_prepare_async (CofferDestinationPage *self, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *name = NULL;
  g_autoptr(CofferSecret) secret = NULL;
  GError *error = NULL;
  gint port = 22;

  g_task_set_source_tag (task, coffer_destination_page_prepare_async);
  if (!active (self->kind_sftp))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_return_if_fail (self->engine != NULL);
  if (!check_sftp (self, &name, &port, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (*text (self->sftp_password) != '\0')
    secret = coffer_secret_new_from_string (text (self->sftp_password));
  coffer_engine_save_remote_async (self->engine, name, "sftp", text (self->sftp_host), port,
                                   text (self->sftp_user), secret ? NULL : self->key_file, secret,
                                   cancellable, save_remote_cb, g_steal_pointer (&task));
}

gboolean
coffer_destination_page_prepare_finish (CofferDestinationPage *self, GAsyncResult *result,
                                        GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

CofferDestination *
coffer_destination_page_build (CofferDestinationPage *self, GError **error)
{
  CofferDestination *dest = NULL;
  const char *type = oauth_type (self);

  g_return_val_if_fail (COFFER_IS_DESTINATION_PAGE (self), NULL);

  if (active (self->kind_local))
    {
      if (self->folder == NULL)
        return invalid (error, _("Choose a folder first."));
      return coffer_destination_new (self->folder);
    }
  if (type != NULL)
    {
      g_autofree char *location = NULL;

      if (self->sign_in != NULL)
        return invalid (error, _("Finish signing in first."));
      if (g_strcmp0 (type, self->signed_in_type) != 0)
        return invalid (error, _("Sign in first."));
      if (*text (self->oauth_folder) == '\0')
        return invalid (error, _("Enter the folder for the backup."));
      location = rclone_location (self->signed_in_remote, text (self->oauth_folder));
      return coffer_destination_new (location);
    }
  if (active (self->kind_onedrive))
    return invalid (error, _("Set OneDrive up with “rclone config” first, then choose “Other (rclone "
                             "Remote)”."));
  if (active (self->kind_sftp))
    return build_sftp (self, error);
  if (active (self->kind_other))
    {
      g_autofree char *name = g_strdup (text (self->other_remote));
      g_autofree char *location = NULL;

      g_strstrip (name);
      if (g_str_has_suffix (name, ":"))
        name[strlen (name) - 1] = '\0';
      if (*name == '\0')
        return invalid (error, _("Enter the name of the rclone remote."));
      location = rclone_location (name, text (self->other_path));
      return coffer_destination_new (location);
    }
  if (active (self->kind_webdav))
    {
      const char *url = text (self->webdav_url);
      const char *password = text (self->webdav_password);
      g_autofree char *location = NULL;

      if (*url == '\0')
        return invalid (error, _("Enter the server address."));
      if (g_str_has_prefix (url, "https://"))
        location = g_strconcat ("webdavs://", url + 8, NULL);
      else if (g_str_has_prefix (url, "http://"))
        location = g_strconcat ("webdav://", url + 7, NULL);
      else if (g_str_has_prefix (url, "webdav"))
        location = g_strdup (url);
      else
        location = g_strconcat ("webdavs://", url, NULL);
      if (*text (self->webdav_user) && *password == '\0')
        return invalid (error, _("Enter the password for this user."));
      dest = coffer_destination_new (location);
      dest->user = g_strdup (text (self->webdav_user));
      if (*password)
        dest->secret = coffer_secret_new_from_string (password);
      return dest;
    }
  {
    const char *bucket = text (self->s3_bucket);
    const char *secret = text (self->s3_secret);

    if (*bucket == '\0')
      return invalid (error, _("Enter the bucket name."));
    if (*text (self->s3_access_key) == '\0' || *secret == '\0')
      return invalid (error, _("Enter the access key ID and the secret access key."));
    dest = coffer_destination_new (NULL);
    dest->location = g_str_has_prefix (bucket, "s3://") ? g_strdup (bucket) : g_strconcat ("s3://", bucket, NULL);
    dest->s3_endpoint = g_strdup (text (self->s3_endpoint));
    dest->s3_region = g_strdup (text (self->s3_region));
    dest->user = g_strdup (text (self->s3_access_key));
    dest->secret = coffer_secret_new_from_string (secret);
    return dest;
  }
}

void
coffer_destination_page_set_test_result (CofferDestinationPage *self, const char *icon,
                                         const char *css, const char *message)
{
  g_return_if_fail (COFFER_IS_DESTINATION_PAGE (self));
  gtk_image_set_from_icon_name (self->test_icon, icon);
  gtk_widget_remove_css_class (GTK_WIDGET (self->test_icon), "success");
  gtk_widget_remove_css_class (GTK_WIDGET (self->test_icon), "error");
  if (css != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->test_icon), css);
  adw_action_row_set_subtitle (self->test_row, message);
}

void
coffer_destination_page_set_testing (CofferDestinationPage *self, gboolean testing)
{
  g_return_if_fail (COFFER_IS_DESTINATION_PAGE (self));
  if (testing)
    gtk_spinner_start (self->test_spinner);
  else
    gtk_spinner_stop (self->test_spinner);
}

gboolean
coffer_destination_page_get_signing_in (CofferDestinationPage *self)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_PAGE (self), FALSE);
  return self->sign_in != NULL;
}

const char *
coffer_destination_page_get_signed_in_remote (CofferDestinationPage *self)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_PAGE (self), NULL);
  return self->signed_in_remote;
}

void
coffer_destination_page_set_engine (CofferDestinationPage *self, CofferEngine *engine)
{
  g_return_if_fail (COFFER_IS_DESTINATION_PAGE (self));
  g_set_object (&self->engine, engine);
}

CofferDestinationPage *
coffer_destination_page_new (void)
{
  return g_object_new (COFFER_TYPE_DESTINATION_PAGE, NULL);
}

static void
coffer_destination_page_dispose (GObject *object)
{
  CofferDestinationPage *self = COFFER_DESTINATION_PAGE (object);

  /* Never leave rclone waiting for a browser behind a closed window. */
  if (self->sign_in != NULL)
    g_cancellable_cancel (self->sign_in);
  gtk_widget_dispose_template (GTK_WIDGET (self), COFFER_TYPE_DESTINATION_PAGE);
  G_OBJECT_CLASS (coffer_destination_page_parent_class)->dispose (object);
}

static void
coffer_destination_page_finalize (GObject *object)
{
  CofferDestinationPage *self = COFFER_DESTINATION_PAGE (object);

  g_clear_object (&self->engine);
  g_clear_object (&self->sign_in);
  g_free (self->folder);
  g_free (self->key_file);
  g_free (self->signed_in_type);
  g_free (self->signed_in_remote);
  G_OBJECT_CLASS (coffer_destination_page_parent_class)->finalize (object);
}

static void
coffer_destination_page_class_init (CofferDestinationPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = coffer_destination_page_dispose;
  object_class->finalize = coffer_destination_page_finalize;

  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                   NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/cofferapp/Coffer/coffer-destination-page.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, CofferDestinationPage, name)
  BIND (kind_local); BIND (kind_gdrive); BIND (kind_onedrive); BIND (kind_dropbox); BIND (kind_sftp);
  BIND (kind_webdav); BIND (kind_s3); BIND (kind_other);
  BIND (local_group); BIND (oauth_group); BIND (onedrive_group); BIND (sftp_group); BIND (webdav_group);
  BIND (s3_group); BIND (other_group);
  BIND (folder_row); BIND (signin_row); BIND (signin_spinner); BIND (signin_button);
  BIND (cancel_signin_button); BIND (link_row); BIND (signin_link); BIND (oauth_folder);
  BIND (sftp_host); BIND (sftp_port); BIND (sftp_user); BIND (sftp_password); BIND (sftp_key_row);
  BIND (sftp_folder); BIND (webdav_url); BIND (webdav_user); BIND (webdav_password);
  BIND (s3_endpoint); BIND (s3_bucket); BIND (s3_region); BIND (s3_access_key); BIND (s3_secret);
  BIND (other_remote); BIND (other_path); BIND (test_row); BIND (test_icon); BIND (test_spinner);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, kind_toggled_cb);
  gtk_widget_class_bind_template_callback (widget_class, changed_cb);

  gtk_widget_class_install_action (widget_class, "destination.choose-folder", NULL, choose_folder_activated);
  gtk_widget_class_install_action (widget_class, "destination.choose-key", NULL, choose_key_activated);
  gtk_widget_class_install_action (widget_class, "destination.sign-in", NULL, sign_in_activated);
  gtk_widget_class_install_action (widget_class, "destination.cancel-sign-in", NULL,
                                   cancel_sign_in_activated);
}

static void
coffer_destination_page_init (CofferDestinationPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_editable_set_text (GTK_EDITABLE (self->sftp_port), "22");
  gtk_editable_set_text (GTK_EDITABLE (self->oauth_folder), "Coffer Backup");
  gtk_editable_set_text (GTK_EDITABLE (self->sftp_folder), "coffer-backup");
}
