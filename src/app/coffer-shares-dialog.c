/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Recovery contacts in the app (docs/SECURITY.md "Recovery contacts"). */
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "coffer-shares-dialog.h"
#include "coffer-error.h"
#include "coffer-recovery-key.h"
#include "coffer-shares.h"

struct _CofferSharesDialog
{
  AdwWindow            parent_instance;

  CofferApplication   *app;
  CofferDestination   *dest;
  CofferShareContext  *context;         /* combine: repository id and generations */
  GCancellable        *cancellable;
  GPtrArray           *rows;            /* combine: AdwEntryRow */
  GtkFileChooserNative *chooser;
  gboolean             make;
  gboolean             busy;
  guint                needed;          /* combine: k from the first valid share, 0 before */

  AdwWindowTitle      *window_title;
  GtkButton           *action_button;
  AdwToastOverlay     *toasts;
  GtkStack            *stack;
  AdwPreferencesGroup *combine_group;
  GtkLabel            *combine_status;
  AdwPasswordEntryRow *key_entry;
  AdwEntryRow         *owner_entry;
  GtkSpinButton       *count_spin;
  GtkSpinButton       *needed_spin;
  GtkLabel            *make_status;
  AdwStatusPage       *working_page;
  GtkSpinner          *working_spinner;
  AdwStatusPage       *made_page;
};

G_DEFINE_FINAL_TYPE (CofferSharesDialog, coffer_shares_dialog, ADW_TYPE_WINDOW)

enum { SIGNAL_RECOVERY_KEY, SIGNAL_MADE, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
set_busy (CofferSharesDialog *self, gboolean busy, const char *title)
{
  self->busy = busy;
  if (busy)
    {
      adw_status_page_set_title (self->working_page, title);
      gtk_stack_set_visible_child_name (self->stack, "working");
      gtk_spinner_start (self->working_spinner);
    }
  else
    gtk_spinner_stop (self->working_spinner);
  gtk_widget_set_sensitive (GTK_WIDGET (self->action_button), !busy);
}

/* ---- combine: shares typed one by one ---- */

/* Number of base32 symbols typed (separators do not count). */
static guint
count_symbols (const char *text)
{
  guint n = 0;

  for (const char *p = text; *p; p++)
    if (g_ascii_isalnum (*p))
      n++;
  return n;
}

static void
set_row_state (AdwEntryRow *row, const char *state)
{
  GtkWidget *icon = g_object_get_data (G_OBJECT (row), "state-icon");

  gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (row), "success");
  if (state != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (row), state);
  gtk_widget_set_visible (icon, state != NULL);
  if (state != NULL)
    {
      gboolean ok = g_str_equal (state, "success");

      gtk_image_set_from_icon_name (GTK_IMAGE (icon), ok ? "emblem-ok-symbolic" : "dialog-warning-symbolic");
      gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      ok ? _("Share accepted") : _("Share not accepted"), -1);
    }
}

static void entry_changed_cb (CofferSharesDialog *self);

static void
add_row (CofferSharesDialog *self)
{
  GtkWidget *row = adw_entry_row_new ();
  GtkWidget *icon = gtk_image_new ();
  g_autofree char *title = g_strdup_printf (_("Contact %u"), self->rows->len + 1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_widget_set_visible (icon, FALSE);
  adw_entry_row_add_suffix (ADW_ENTRY_ROW (row), icon);
  g_object_set_data (G_OBJECT (row), "state-icon", icon);
  g_signal_connect_object (row, "changed", G_CALLBACK (entry_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (row, "entry-activated", G_CALLBACK (gtk_widget_activate), self->action_button,
                           G_CONNECT_SWAPPED);
  adw_preferences_group_add (self->combine_group, row);
  g_ptr_array_add (self->rows, row);
}

/* Parses and checks every row; fills shares with the good ones. Returns the
 * status line (NULL when the shares are complete and fit together). */
static char *
check_rows (CofferSharesDialog *self, GPtrArray *shares)
{
  g_autofree char *problem = NULL;

  self->needed = 0;
  for (guint i = 0; i < self->rows->len; i++)
    {
      AdwEntryRow *row = g_ptr_array_index (self->rows, i);
      const char *text = gtk_editable_get_text (GTK_EDITABLE (row));
      guint symbols = count_symbols (text);
      g_autoptr(GError) error = NULL;
      CofferShare *share = NULL;

      /* Checked once it is complete: a share being typed is not wrong yet. */
      if (symbols < COFFER_SHARE_CHARS)
        {
          set_row_state (row, NULL);
          continue;
        }
      share = coffer_share_parse (text, &error);
      if (share != NULL && self->context != NULL &&
          !coffer_share_check (share, self->context->repo_id, self->context->generations, &error))
        g_clear_pointer (&share, coffer_share_free);
      if (share != NULL && shares->len > 0)
        {
          CofferShare *first = g_ptr_array_index (shares, 0);

          if (first->needed != share->needed ||
              memcmp (first->generation, share->generation, sizeof first->generation) != 0 ||
              memcmp (first->set_id, share->set_id, sizeof first->set_id) != 0)
            {
              g_set_error (&error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY, "%s",
                           _("This share was made at another time than the one above, so they do not "
                             "fit together. Ask for the shares made at the same time."));
              g_clear_pointer (&share, coffer_share_free);
            }
          else
            for (guint m = 0; m < shares->len && share != NULL; m++)
              if (((CofferShare *) g_ptr_array_index (shares, m))->index == share->index)
                {
                  g_set_error (&error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, "%s",
                               _("This is the same share as one above; type another contact's share."));
                  g_clear_pointer (&share, coffer_share_free);
                }
        }
      if (share == NULL)
        {
          set_row_state (row, "error");
          if (problem == NULL)
            /* Translators: "Contact 2: The share looks mistyped: …" */
            problem = g_strdup_printf (_("Contact %u: %s"), i + 1, error->message);
          continue;
        }
      set_row_state (row, "success");
      self->needed = share->needed;
      g_ptr_array_add (shares, share);
    }

  /* As many rows as shares are needed, once the first share tells. */
  while (self->rows->len < MAX (self->needed, 2u))
    add_row (self);

  if (problem != NULL)
    return g_steal_pointer (&problem);
  if (shares->len == 0)
    return g_strdup (_("Type the first share. It tells how many are needed."));
  {
    guint missing = coffer_shares_missing ((CofferShare * const *) shares->pdata, shares->len);

    if (missing > 0)
      return g_strdup_printf (ngettext ("Share accepted. %u more share is needed.",
                                        "Shares accepted. %u more shares are needed.", missing),
                              missing);
  }
  return NULL;
}

static void
update_combine (CofferSharesDialog *self)
{
  g_autoptr(GPtrArray) shares = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_share_free);
  g_autofree char *status = NULL;

  if (self->context == NULL)
    return;
  status = check_rows (self, shares);
  gtk_label_set_text (self->combine_status,
                      status != NULL ? status : _("All shares fit together. Continue to open your backup."));
  gtk_widget_set_sensitive (GTK_WIDGET (self->action_button), status == NULL && !self->busy);
}

static void
entry_changed_cb (CofferSharesDialog *self)
{
  update_combine (self);
}

static void
context_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSharesDialog) self = user_data;
  g_autoptr(GError) error = NULL;

  self->context = coffer_engine_open_share_context_finish (COFFER_ENGINE (source), result, &error);
  set_busy (self, FALSE, NULL);
  gtk_stack_set_visible_child_name (self->stack, "combine");
  if (self->context == NULL)
    {
      g_autofree char *message = coffer_engine_describe_error (error);

      gtk_label_set_text (self->combine_status, message);
      gtk_widget_set_sensitive (GTK_WIDGET (self->action_button), FALSE);
      return;
    }
  update_combine (self);
  gtk_widget_grab_focus (g_ptr_array_index (self->rows, 0));
}

static void
combine (CofferSharesDialog *self)
{
  g_autoptr(GPtrArray) shares = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_share_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(CofferSecret) formatted = NULL;
  g_autofree char *status = check_rows (self, shares);

  if (status != NULL)
    {
      gtk_label_set_text (self->combine_status, status);
      return;
    }
  key = coffer_shares_combine ((CofferShare * const *) shares->pdata, shares->len, self->context->repo_id,
                               &error);
  if (key == NULL)
    {
      gtk_label_set_text (self->combine_status, error->message);
      return;
    }
  formatted = coffer_recovery_key_format (key);
  /* The typed shares are secrets too: gone from the entries before the
   * dialog closes. */
  for (guint i = 0; i < self->rows->len; i++)
    gtk_editable_set_text (GTK_EDITABLE (g_ptr_array_index (self->rows, i)), "");
  g_signal_emit (self, signals[SIGNAL_RECOVERY_KEY], 0, formatted);
  gtk_window_destroy (GTK_WINDOW (self));
}

/* ---- make: split the key into sheets ---- */

static void
spin_cb (CofferSharesDialog *self)
{
  guint count = (guint) gtk_spin_button_get_value_as_int (self->count_spin);

  /* Never more needed than there are contacts. */
  gtk_spin_button_set_range (self->needed_spin, 2, count);
}

typedef struct
{
  CofferSharesDialog *self;
  char               *folder;
  guint               needed, count;
} MakeData;

static void
make_data_free (MakeData *data)
{
  g_object_unref (data->self);
  g_free (data->folder);
  g_free (data);
}

static void
make_failed (CofferSharesDialog *self, const char *message)
{
  set_busy (self, FALSE, NULL);
  gtk_stack_set_visible_child_name (self->stack, "make");
  gtk_label_set_text (self->make_status, message);
}

static void
made_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MakeData *data = user_data;
  CofferSharesDialog *self = data->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *folder_name = NULL;
  g_autofree char *description = NULL;

  if (!coffer_engine_make_shares_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY))
        message = g_strdup (_("This is not the recovery key of this backup. No shares were made."));
      else if (g_error_matches (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO) ||
               g_error_matches (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID) ||
               g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        message = g_strdup (error->message);
      else
        {
          g_autofree char *reason = coffer_engine_describe_error (error);

          message = g_strdup_printf (_("The share sheets could not be saved: %s"), reason);
        }
      make_failed (self, message);
      make_data_free (data);
      return;
    }

  gtk_editable_set_text (GTK_EDITABLE (self->key_entry), "");
  set_busy (self, FALSE, NULL);
  folder_name = g_filename_display_name (data->folder);
  description = g_strdup_printf (ngettext ("%u share sheet was saved in %s. Print each one and give it to "
                                           "one person, then delete the files. Any %u of them together can "
                                           "help you into your backups.",
                                           "%u share sheets were saved in %s. Print each one and give it to "
                                           "one person, then delete the files. Any %u of them together can "
                                           "help you into your backups.", data->count),
                                 data->count, folder_name, data->needed);
  adw_status_page_set_description (self->made_page, description);
  gtk_stack_set_visible_child_name (self->stack, "made");
  gtk_button_set_label (self->action_button, _("_Done"));
  g_signal_emit (self, signals[SIGNAL_MADE], 0);
  make_data_free (data);
}

void
coffer_shares_dialog_save_to (CofferSharesDialog *self, GFile *folder)
{
  const char *key = gtk_editable_get_text (GTK_EDITABLE (self->key_entry));
  const char *owner = gtk_editable_get_text (GTK_EDITABLE (self->owner_entry));
  MakeData *data;

  g_return_if_fail (COFFER_IS_SHARES_DIALOG (self));
  g_return_if_fail (self->make);

  data = g_new0 (MakeData, 1);
  data->self = g_object_ref (self);
  data->folder = g_file_get_path (folder);
  data->count = (guint) gtk_spin_button_get_value_as_int (self->count_spin);
  data->needed = (guint) gtk_spin_button_get_value_as_int (self->needed_spin);
  if (data->folder == NULL)
    {
      make_failed (self, _("Choose a folder on this computer or a drive: the sheets are saved as files."));
      make_data_free (data);
      return;
    }
  set_busy (self, TRUE, _("Making the Shares…"));
  coffer_engine_make_shares_async (coffer_application_get_engine (self->app), key, data->needed, data->count,
                                   data->folder, owner, self->cancellable, made_cb, data);
}

static void
chooser_cb (GtkNativeDialog *chooser, int response, gpointer user_data)
{
  CofferSharesDialog *self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

      if (folder != NULL)
        coffer_shares_dialog_save_to (self, folder);
    }
  g_clear_object (&self->chooser);
}

static void
choose_folder (CofferSharesDialog *self)
{
  const char *key = gtk_editable_get_text (GTK_EDITABLE (self->key_entry));
  const char *owner = gtk_editable_get_text (GTK_EDITABLE (self->owner_entry));

  if (count_symbols (key) == 0)
    {
      gtk_label_set_text (self->make_status, _("Type your recovery key: shares are made from it, and it is "
                                               "checked against the backup first."));
      gtk_widget_grab_focus (GTK_WIDGET (self->key_entry));
      return;
    }
  if (owner == NULL || *owner == '\0')
    {
      gtk_label_set_text (self->make_status, _("Enter your name: your contacts see it on their sheet."));
      gtk_widget_grab_focus (GTK_WIDGET (self->owner_entry));
      return;
    }
  /* GtkFileChooserNative: the portal's folder chooser in a sandbox
   * (GtkFileDialog needs GTK 4.10). */
  self->chooser = gtk_file_chooser_native_new (_("Choose a Folder for the Share Sheets"), GTK_WINDOW (self),
                                               GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Save Here"),
                                               _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  g_signal_connect (self->chooser, "response", G_CALLBACK (chooser_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
action_cb (CofferSharesDialog *self)
{
  if (self->busy)
    return;
  if (!self->make)
    combine (self);
  else if (g_str_equal (gtk_stack_get_visible_child_name (self->stack), "made"))
    gtk_window_destroy (GTK_WINDOW (self));
  else
    choose_folder (self);
}

/* ---- GObject ---- */

static void
coffer_shares_dialog_dispose (GObject *object)
{
  CofferSharesDialog *self = COFFER_SHARES_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  G_OBJECT_CLASS (coffer_shares_dialog_parent_class)->dispose (object);
}

static void
coffer_shares_dialog_finalize (GObject *object)
{
  CofferSharesDialog *self = COFFER_SHARES_DIALOG (object);

  g_clear_object (&self->app);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->dest, coffer_destination_free);
  g_clear_pointer (&self->context, coffer_share_context_free);
  g_clear_pointer (&self->rows, g_ptr_array_unref);
  G_OBJECT_CLASS (coffer_shares_dialog_parent_class)->finalize (object);
}

static void
coffer_shares_dialog_class_init (CofferSharesDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = coffer_shares_dialog_dispose;
  object_class->finalize = coffer_shares_dialog_finalize;

  signals[SIGNAL_RECOVERY_KEY] = g_signal_new ("recovery-key", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                               0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_MADE] = g_signal_new ("made", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cofferapp/Coffer/coffer-shares-dialog.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, CofferSharesDialog, name)
  BIND (window_title); BIND (action_button); BIND (toasts); BIND (stack); BIND (combine_group);
  BIND (combine_status); BIND (key_entry); BIND (owner_entry); BIND (count_spin); BIND (needed_spin);
  BIND (make_status); BIND (working_page); BIND (working_spinner); BIND (made_page);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, action_cb);
  gtk_widget_class_bind_template_callback (widget_class, spin_cb);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
coffer_shares_dialog_init (CofferSharesDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->rows = g_ptr_array_new ();
}

static CofferSharesDialog *
dialog_new (GtkWindow *parent, CofferApplication *app)
{
  CofferSharesDialog *self = g_object_new (COFFER_TYPE_SHARES_DIALOG, NULL);

  self->app = g_object_ref (app);
  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (self), parent);
  return self;
}

CofferSharesDialog *
coffer_shares_dialog_new_combine (GtkWindow *parent, CofferApplication *app, const CofferDestination *dest)
{
  CofferSharesDialog *self = dialog_new (parent, app);

  self->dest = coffer_destination_copy (dest);
  adw_window_title_set_subtitle (self->window_title, _("Restore Without the Recovery Key"));
  gtk_button_set_label (self->action_button, _("_Continue"));
  add_row (self);
  add_row (self);
  set_busy (self, TRUE, _("Reading Your Backup…"));
  coffer_engine_open_share_context_async (coffer_application_get_engine (app), dest, self->cancellable,
                                          context_cb, g_object_ref (self));
  return self;
}

CofferSharesDialog *
coffer_shares_dialog_new_make (GtkWindow *parent, CofferApplication *app)
{
  CofferSharesDialog *self = dialog_new (parent, app);
  const char *real = g_get_real_name ();

  self->make = TRUE;
  adw_window_title_set_subtitle (self->window_title, _("Make Share Sheets"));
  gtk_button_set_label (self->action_button, _("_Save Sheets…"));
  gtk_editable_set_text (GTK_EDITABLE (self->owner_entry),
                         real != NULL && g_strcmp0 (real, "Unknown") != 0 ? real : g_get_user_name ());
  gtk_label_set_text (self->make_status, _("Shares made earlier for this same key keep working. Only "
                                           "replacing the recovery key makes shares useless; after that, "
                                           "make new sheets."));
  gtk_stack_set_visible_child_name (self->stack, "make");
  return self;
}

const char *
coffer_shares_dialog_get_page (CofferSharesDialog *self)
{
  g_return_val_if_fail (COFFER_IS_SHARES_DIALOG (self), NULL);
  return gtk_stack_get_visible_child_name (self->stack);
}

gboolean
coffer_shares_dialog_get_busy (CofferSharesDialog *self)
{
  g_return_val_if_fail (COFFER_IS_SHARES_DIALOG (self), FALSE);
  return self->busy;
}

const char *
coffer_shares_dialog_get_status (CofferSharesDialog *self)
{
  g_return_val_if_fail (COFFER_IS_SHARES_DIALOG (self), NULL);
  return gtk_label_get_text (self->make ? self->make_status : self->combine_status);
}
