/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-authority-dialog"

#include <glib/gi18n.h>

#include "coffer-a11y.h"
#include "coffer-authority-dialog.h"
#include "coffer-error.h"

struct _CofferAuthorityDialog
{
  AdwWindow          parent_instance;

  CofferApplication *app;
  GCancellable      *cancellable;
  GtkWidget         *extra_box;
  GtkWidget         *entry;
  GtkWidget         *error_label;
  GtkWidget         *confirm_button;
  char              *error;
  gboolean           busy;
};

G_DEFINE_FINAL_TYPE (CofferAuthorityDialog, coffer_authority_dialog, ADW_TYPE_WINDOW)

enum { SIGNAL_GRANTED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
show_error (CofferAuthorityDialog *self, const char *message)
{
  g_free (self->error);
  self->error = g_strdup (message);
  gtk_label_set_text (GTK_LABEL (self->error_label), message ? message : "");
  gtk_widget_set_visible (self->error_label, message != NULL);
  if (message != NULL)
    gtk_widget_add_css_class (self->entry, "error");
  else
    gtk_widget_remove_css_class (self->entry, "error");
}

static void
checked_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferAuthorityDialog) self = user_data;
  g_autoptr(GError) error = NULL;

  self->busy = FALSE;
  gtk_widget_set_sensitive (self->confirm_button, TRUE);
  if (!coffer_engine_check_authority_finish (COFFER_ENGINE (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD)
          || g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY))
        show_error (self, _("This is neither the backup password nor the recovery key. Nothing was changed."));
      else if (g_error_matches (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO))
        {
          g_autofree char *message = g_strdup_printf (_("There is a typo in the recovery key. %s"), error->message);
          show_error (self, message);
        }
      else if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY))
        show_error (self, _("This backup has no backup password yet: type the recovery key."));
      else
        {
          g_autofree char *message = coffer_engine_describe_error (error);
          show_error (self, message);
        }
      return;
    }
  show_error (self, NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
  g_signal_emit (self, signals[SIGNAL_GRANTED], 0);
  gtk_window_destroy (GTK_WINDOW (self));
}

void
coffer_authority_dialog_confirm (CofferAuthorityDialog *self, const char *text)
{
  g_autoptr(CofferSecret) secret = NULL;

  g_return_if_fail (COFFER_IS_AUTHORITY_DIALOG (self));
  if (text != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->entry), text);
  text = gtk_editable_get_text (GTK_EDITABLE (self->entry));
  if (text == NULL || *text == '\0')
    {
      show_error (self, _("Type the backup password or the recovery key first."));
      return;
    }
  show_error (self, NULL);
  secret = coffer_secret_new_from_string (text);
  self->busy = TRUE;
  gtk_widget_set_sensitive (self->confirm_button, FALSE);
  coffer_engine_check_authority_async (coffer_application_get_engine (self->app), secret, self->cancellable,
                                       checked_cb, g_object_ref (self));
}

static void
confirm_clicked_cb (CofferAuthorityDialog *self)
{
  coffer_authority_dialog_confirm (self, NULL);
}

static void
entry_changed_cb (CofferAuthorityDialog *self)
{
  if (self->error != NULL)
    show_error (self, NULL);
}

void
coffer_authority_dialog_set_extra_child (CofferAuthorityDialog *self, GtkWidget *child)
{
  g_return_if_fail (COFFER_IS_AUTHORITY_DIALOG (self));
  gtk_box_append (GTK_BOX (self->extra_box), child);
  gtk_widget_set_visible (self->extra_box, TRUE);
  coffer_a11y_name_controls (child);
}

const char *
coffer_authority_dialog_get_error (CofferAuthorityDialog *self)
{
  return self->error;
}

gboolean
coffer_authority_dialog_get_busy (CofferAuthorityDialog *self)
{
  return self->busy;
}

static void
coffer_authority_dialog_dispose (GObject *object)
{
  CofferAuthorityDialog *self = COFFER_AUTHORITY_DIALOG (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->error, g_free);
  G_OBJECT_CLASS (coffer_authority_dialog_parent_class)->dispose (object);
}

static void
coffer_authority_dialog_class_init (CofferAuthorityDialogClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = coffer_authority_dialog_dispose;
  signals[SIGNAL_GRANTED] = g_signal_new ("granted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
coffer_authority_dialog_init (CofferAuthorityDialog *self)
{
  self->cancellable = g_cancellable_new ();
}

CofferAuthorityDialog *
coffer_authority_dialog_new (GtkWindow *parent, CofferApplication *app, const char *heading, const char *body,
                             const char *confirm_label, gboolean destructive)
{
  CofferAuthorityDialog *self = g_object_new (COFFER_TYPE_AUTHORITY_DIALOG, NULL);
  GtkWidget *outer = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *title = gtk_label_new (heading);
  GtkWidget *text = gtk_label_new (body);
  GtkWidget *list = gtk_list_box_new ();
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  GtkWidget *clamp = adw_clamp_new ();
  GtkWidget *header;

  self->app = app;
  gtk_window_set_title (GTK_WINDOW (self), heading);
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
  gtk_window_set_transient_for (GTK_WINDOW (self), parent);
  gtk_window_set_default_size (GTK_WINDOW (self), 460, -1);
  gtk_window_set_resizable (GTK_WINDOW (self), FALSE);

  /* The heading is in the content; the header bar only closes. */
  header = adw_header_bar_new ();
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), adw_bin_new ());
  gtk_widget_add_css_class (header, "flat");
  gtk_box_append (GTK_BOX (outer), header);
  adw_clamp_set_maximum_size (ADW_CLAMP (clamp), 420);
  gtk_widget_set_margin_start (box, 24);
  gtk_widget_set_margin_end (box, 24);
  gtk_widget_set_margin_bottom (box, 24);

  gtk_label_set_wrap (GTK_LABEL (title), TRUE);
  gtk_label_set_justify (GTK_LABEL (title), GTK_JUSTIFY_CENTER);
  gtk_widget_add_css_class (title, "title-2");
  gtk_label_set_wrap (GTK_LABEL (text), TRUE);
  gtk_label_set_justify (GTK_LABEL (text), GTK_JUSTIFY_CENTER);
  gtk_label_set_max_width_chars (GTK_LABEL (text), 50);
  gtk_box_append (GTK_BOX (box), title);
  gtk_box_append (GTK_BOX (box), text);

  self->extra_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_set_visible (self->extra_box, FALSE);
  gtk_box_append (GTK_BOX (box), self->extra_box);

  gtk_widget_add_css_class (list, "boxed-list");
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  self->entry = adw_password_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->entry), _("Backup Password or Recovery Key"));
  g_signal_connect_swapped (self->entry, "entry-activated", G_CALLBACK (confirm_clicked_cb), self);
  g_signal_connect_swapped (self->entry, "changed", G_CALLBACK (entry_changed_cb), self);
  adw_entry_row_set_activates_default (ADW_ENTRY_ROW (self->entry), FALSE);
  gtk_list_box_append (GTK_LIST_BOX (list), self->entry);
  gtk_box_append (GTK_BOX (box), list);

  self->error_label = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (self->error_label), TRUE);
  gtk_widget_add_css_class (self->error_label, "error");
  gtk_widget_set_visible (self->error_label, FALSE);
  gtk_accessible_update_relation (GTK_ACCESSIBLE (self->entry), GTK_ACCESSIBLE_RELATION_DESCRIBED_BY,
                                  self->error_label, NULL, -1);
  gtk_box_append (GTK_BOX (box), self->error_label);

  self->confirm_button = gtk_button_new_with_mnemonic (confirm_label);
  gtk_widget_add_css_class (self->confirm_button, destructive ? "destructive-action" : "suggested-action");
  g_signal_connect_swapped (self->confirm_button, "clicked", G_CALLBACK (confirm_clicked_cb), self);
  g_signal_connect_swapped (cancel, "clicked", G_CALLBACK (gtk_window_destroy), self);
  gtk_box_set_homogeneous (GTK_BOX (buttons), TRUE);
  gtk_widget_set_halign (buttons, GTK_ALIGN_CENTER);
  gtk_widget_set_margin_top (buttons, 6);
  gtk_box_append (GTK_BOX (buttons), cancel);
  gtk_box_append (GTK_BOX (buttons), self->confirm_button);
  gtk_box_append (GTK_BOX (box), buttons);

  adw_clamp_set_child (ADW_CLAMP (clamp), box);
  gtk_box_append (GTK_BOX (outer), clamp);
  adw_window_set_content (ADW_WINDOW (self), outer);
  coffer_a11y_name_controls (GTK_WIDGET (self));
  gtk_widget_grab_focus (self->entry);
  return self;
}
