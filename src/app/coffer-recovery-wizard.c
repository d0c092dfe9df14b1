/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-recovery-wizard"

#include <string.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "coffer-a11y.h"
#include "coffer-emergency-kit.h"
#include "coffer-error.h"
#include "coffer-recovery-key.h"
#include "coffer-recovery-wizard.h"

struct _CofferRecoveryWizard
{
  AdwBin                    parent_instance;

  CofferApplication        *app;
  CofferEngine             *engine;       /* another destination's, else NULL: the app's */
  CofferRecoveryWizardMode  mode;
  CofferSecret             *formatted;    /* "XXXX-…", NUL-terminated, secure memory */
  GCancellable             *cancellable;
  char                     *error;
  gboolean                  confirmed;

  GtkStack                 *stack;
  AdwStatusPage            *intro_page;
  AdwStatusPage            *done_page;
  GtkButton                *intro_button;
  GtkLabel                 *key_label;
  GtkWidget                *copy_button;
  AdwEntryRow              *verify_entry;
  GtkLabel                 *verify_error;
  GtkLabel                 *verify_description;
  GtkWidget                *verify_button;
  GtkWidget                *back_to_key_button;
  GtkSpinner               *verify_spinner;
};

G_DEFINE_FINAL_TYPE (CofferRecoveryWizard, coffer_recovery_wizard, ADW_TYPE_BIN)

enum { SIGNAL_CONFIRMED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* The engine whose repository the key belongs to. */
static CofferEngine *
wizard_engine (CofferRecoveryWizard *self)
{
  return self->engine != NULL ? self->engine : coffer_application_get_engine (self->app);
}

void
coffer_recovery_wizard_set_engine (CofferRecoveryWizard *self, CofferEngine *engine)
{
  g_return_if_fail (COFFER_IS_RECOVERY_WIZARD (self));
  g_set_object (&self->engine, engine);
}

void
coffer_recovery_wizard_set_intro (CofferRecoveryWizard *self, const char *title, const char *description)
{
  g_return_if_fail (COFFER_IS_RECOVERY_WIZARD (self));
  adw_status_page_set_title (self->intro_page, title);
  adw_status_page_set_description (self->intro_page, description);
}

static void
show_error (CofferRecoveryWizard *self, const char *message)
{
  g_free (self->error);
  self->error = g_strdup (message);
  gtk_label_set_text (self->verify_error, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->verify_error), message != NULL);
  if (message != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->verify_entry), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->verify_entry), "error");
}

static void
set_key (CofferRecoveryWizard *self, const CofferSecret *key)
{
  g_autoptr(GString) markup = NULL;

  g_clear_pointer (&self->formatted, coffer_secret_free);
  if (key == NULL)
    return;
  self->formatted = coffer_recovery_key_format (key);
  /* The label text necessarily lives in ordinary memory while shown; it is
   * cleared when the wizard goes away. */
  markup = g_string_new (NULL);
  for (gsize i = 0; i < self->formatted->len; i++)
    {
      char c = ((const char *) self->formatted->data)[i];
      if (c == '-')
        g_string_append (markup, i == 19 ? "\n" : " ");
      else
        g_string_append_c (markup, c);
    }
  gtk_label_set_text (self->key_label, markup->str);
  memset (markup->str, 0, markup->len);
}

/* ---- actions ---- */

static void
go_to (CofferRecoveryWizard *self, const char *page)
{
  gtk_stack_set_visible_child_name (self->stack, page);
  if (g_str_equal (page, "verify"))
    gtk_widget_grab_focus (GTK_WIDGET (self->verify_entry));
  else if (g_str_equal (page, "key"))
    {
      gtk_widget_grab_focus (self->copy_button);
      gtk_label_select_region (self->key_label, 0, 0);
    }
}

static void
replace_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRecoveryWizard) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) key = coffer_engine_replace_recovery_key_finish (COFFER_ENGINE (source), result, &error);

  gtk_widget_set_sensitive (GTK_WIDGET (self->intro_button), TRUE);
  if (key == NULL)
    {
      /* Closed while the key was being made: it was never shown, so it
       * must not stay pending. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        coffer_engine_cancel_recovery_key_replacement (COFFER_ENGINE (source));
      g_autofree char *message = coffer_engine_describe_error (error);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *escaped = g_markup_escape_text (message, -1);
          adw_status_page_set_description (self->intro_page, escaped);
        }
      return;
    }
  set_key (self, key);
  go_to (self, "key");
}

static void
show_key_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferRecoveryWizard *self = COFFER_RECOVERY_WIZARD (widget);

  if (self->formatted != NULL)
    {
      go_to (self, "key");
      return;
    }
  if (self->mode == COFFER_RECOVERY_WIZARD_REPLACE)
    {
      gtk_widget_set_sensitive (GTK_WIDGET (self->intro_button), FALSE);
      coffer_engine_replace_recovery_key_async (wizard_engine (self), self->cancellable,
                                                replace_cb, g_object_ref (self));
    }
}

static void
to_verify_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  go_to (COFFER_RECOVERY_WIZARD (widget), "verify");
}

static void
toast (CofferRecoveryWizard *self, const char *message)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);
  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (message));
}

static void
copy_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferRecoveryWizard *self = COFFER_RECOVERY_WIZARD (widget);

  if (self->formatted == NULL)
    return;
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), (const char *) self->formatted->data);
  toast (self, _("Recovery key copied. Paste it somewhere safe, then clear the clipboard."));
}

/* Emergency kit, written by the engine in a worker thread. */
static void
kit_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRecoveryWizard) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!coffer_engine_save_emergency_kit_finish (COFFER_ENGINE (source), result, &error))
    {
      g_autofree char *message = g_strdup_printf (_("The emergency kit could not be saved: %s"), error->message);
      toast (self, message);
      return;
    }
  toast (self, _("Emergency kit saved"));
}

void
coffer_recovery_wizard_save_kit (CofferRecoveryWizard *self, const char *path)
{
  coffer_engine_save_emergency_kit_async (wizard_engine (self), path, self->formatted, self->cancellable,
                                          kit_written_cb, g_object_ref (self));
}

static void
save_response_cb (GtkNativeDialog *dialog, int response, CofferRecoveryWizard *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path != NULL)
        coffer_recovery_wizard_save_kit (self, path);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  g_object_unref (self);
}

static void
save_kit_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferRecoveryWizard *self = COFFER_RECOVERY_WIZARD (widget);
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  if (self->formatted == NULL)
    return;
  chooser = gtk_file_chooser_native_new (_("Save Emergency Kit"),
                                         GTK_WINDOW (gtk_widget_get_root (widget)),
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_file_filter_set_name (filter, _("PDF documents"));
  gtk_file_filter_add_mime_type (filter, "application/pdf");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  /* Translators: file name of the saved emergency kit */
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), _("Coffer Emergency Kit.pdf"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (save_response_cb), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* Printing renders the same content as the emergency kit. */
static void
draw_page_cb (GtkPrintOperation *operation, GtkPrintContext *context, int page_nr, CofferRecoveryWizard *self)
{
  cairo_t *cr = gtk_print_context_get_cairo_context (context);
  double width = gtk_print_context_get_width (context);
  CofferRepository *repository = coffer_engine_get_repository (wizard_engine (self));
  g_autofree char *location = repository ? coffer_repository_describe (repository) : g_strdup ("");
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *date = g_date_time_format (now, "%x");
  g_autofree char *info = NULL;
  PangoLayout *layout;
  PangoFontDescription *font;
  int height;
  double y = 0;

  layout = gtk_print_context_create_pango_layout (context);
  pango_layout_set_width (layout, (int) (width * PANGO_SCALE));

  font = pango_font_description_from_string ("Sans Bold 20");
  pango_layout_set_font_description (layout, font);
  pango_font_description_free (font);
  pango_layout_set_text (layout, _("Coffer Emergency Kit"), -1);
  cairo_move_to (cr, 0, y);
  pango_cairo_show_layout (cr, layout);
  pango_layout_get_pixel_size (layout, NULL, &height);
  y += height + 24;

  font = pango_font_description_from_string ("Monospace Bold 22");
  pango_layout_set_font_description (layout, font);
  pango_font_description_free (font);
  pango_layout_set_text (layout, (const char *) self->formatted->data, -1);
  cairo_move_to (cr, 0, y);
  pango_cairo_show_layout (cr, layout);
  pango_layout_get_pixel_size (layout, NULL, &height);
  y += height + 24;

  font = pango_font_description_from_string ("Sans 11");
  pango_layout_set_font_description (layout, font);
  pango_font_description_free (font);
  info = g_strdup_printf (_("Backup location: %s\nRepository: %s\nPrinted on %s\n\n"
                            "This recovery key opens all your Coffer backups, including those with Advanced "
                            "protection. To restore on a new computer, install Coffer, choose the same backup "
                            "location and enter this key when asked.\n\n"
                            "Keep this page somewhere safe and private. Anyone who has it and your backup files "
                            "can read them. Nobody can recover Advanced data without it."),
                          location, repository ? coffer_repository_get_id (repository) : "", date);
  pango_layout_set_text (layout, info, -1);
  cairo_move_to (cr, 0, y);
  pango_cairo_show_layout (cr, layout);
  g_object_unref (layout);
}

static void
print_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  CofferRecoveryWizard *self = COFFER_RECOVERY_WIZARD (widget);
  g_autoptr(GtkPrintOperation) operation = NULL;
  g_autoptr(GError) error = NULL;

  if (self->formatted == NULL)
    return;
  operation = gtk_print_operation_new ();
  gtk_print_operation_set_n_pages (operation, 1);
  gtk_print_operation_set_job_name (operation, _("Coffer Emergency Kit"));
  gtk_print_operation_set_embed_page_setup (operation, TRUE);
  g_signal_connect (operation, "draw-page", G_CALLBACK (draw_page_cb), self);
  if (gtk_print_operation_run (operation, GTK_PRINT_OPERATION_ACTION_PRINT_DIALOG,
                               GTK_WINDOW (gtk_widget_get_root (widget)), &error) == GTK_PRINT_OPERATION_RESULT_ERROR)
    toast (self, error->message);
}

/* Verification */

static void
verify_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferRecoveryWizard) self = user_data;
  g_autoptr(GError) error = NULL;

  gtk_spinner_stop (self->verify_spinner);
  gtk_widget_set_sensitive (self->verify_button, TRUE);
  if (self->mode == COFFER_RECOVERY_WIZARD_REPLACE
      ? !coffer_engine_commit_recovery_key_finish (COFFER_ENGINE (source), result, &error)
      : !coffer_engine_verify_recovery_key_finish (COFFER_ENGINE (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      if (g_error_matches (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO))
        {
          g_autofree char *message = g_strdup_printf (_("There is a typo in the key. %s"), error->message);
          show_error (self, message);
        }
      else if (g_error_matches (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID))
        {
          g_autofree char *message = g_strdup_printf (_("This does not look like a recovery key. %s"), error->message);
          show_error (self, message);
        }
      else if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY)
               && self->mode == COFFER_RECOVERY_WIZARD_REPLACE)
        show_error (self, _("This is not the new recovery key shown before. Go back to the key and check "
                            "your copy; until you type it correctly, the old key stays valid."));
      else if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY))
        show_error (self, _("This is a valid recovery key, but not the one for this backup. Check that you "
                            "saved the newest key."));
      else
        {
          g_autofree char *message = coffer_engine_describe_error (error);
          show_error (self, message);
        }
      return;
    }
  show_error (self, NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->verify_entry), "");
  self->confirmed = TRUE;
  if (self->mode == COFFER_RECOVERY_WIZARD_REPLACE)
    {
      adw_status_page_set_title (self->done_page, _("New Recovery Key in Effect"));
      adw_status_page_set_description (self->done_page,
                                       _("Your new recovery key now opens your backups and the old one no "
                                         "longer does. Destroy every copy of the old key and its emergency kit."));
    }
  go_to (self, "done");
  g_signal_emit (self, signals[SIGNAL_CONFIRMED], 0);
}

void
coffer_recovery_wizard_verify (CofferRecoveryWizard *self, const char *text)
{
  g_return_if_fail (COFFER_IS_RECOVERY_WIZARD (self));

  if (text != NULL && g_strcmp0 (text, gtk_editable_get_text (GTK_EDITABLE (self->verify_entry))) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->verify_entry), text);
  text = gtk_editable_get_text (GTK_EDITABLE (self->verify_entry));
  if (text == NULL || *text == '\0')
    {
      show_error (self, _("Type the recovery key first."));
      return;
    }
  show_error (self, NULL);
  gtk_widget_set_sensitive (self->verify_button, FALSE);
  gtk_spinner_start (self->verify_spinner);
  /* A new key takes effect only here, when typed back (the old one is
   * valid until then); other modes just test the current key. */
  if (self->mode == COFFER_RECOVERY_WIZARD_REPLACE)
    coffer_engine_commit_recovery_key_async (wizard_engine (self), text,
                                             self->cancellable, verify_cb, g_object_ref (self));
  else
    coffer_engine_verify_recovery_key_async (wizard_engine (self), text,
                                             self->cancellable, verify_cb, g_object_ref (self));
}

static void
verify_activated (GtkWidget *widget, const char *action, GVariant *param)
{
  coffer_recovery_wizard_verify (COFFER_RECOVERY_WIZARD (widget), NULL);
}

static void
verify_activated_cb (CofferRecoveryWizard *self)
{
  coffer_recovery_wizard_verify (self, NULL);
}

static void
verify_changed_cb (CofferRecoveryWizard *self)
{
  if (self->error != NULL)
    show_error (self, NULL);
}

/* ---- public ---- */

void
coffer_recovery_wizard_start (CofferRecoveryWizard *self, CofferRecoveryWizardMode mode, const CofferSecret *key)
{
  g_return_if_fail (COFFER_IS_RECOVERY_WIZARD (self));

  self->mode = mode;
  self->confirmed = FALSE;
  set_key (self, key);
  show_error (self, NULL);
  gtk_widget_set_visible (self->back_to_key_button, mode != COFFER_RECOVERY_WIZARD_TEST);
  switch (mode)
    {
    case COFFER_RECOVERY_WIZARD_TEST:
      gtk_label_set_text (self->verify_description,
                          _("Type the recovery key from your emergency kit to check that it still opens "
                            "your backups. Capital letters and dashes do not matter."));
      go_to (self, "verify");
      break;
    case COFFER_RECOVERY_WIZARD_REPLACE:
      adw_status_page_set_title (self->intro_page, _("Replace Your Recovery Key"));
      adw_status_page_set_description (self->intro_page,
                                       _("A new recovery key is made. It replaces the old one only after you "
                                         "have saved it and typed it back; until then the old key keeps "
                                         "working. Destroy your old emergency kit afterwards."));
      gtk_button_set_label (self->intro_button, _("_Make a New Key"));
      go_to (self, "intro");
      break;
    case COFFER_RECOVERY_WIZARD_NEW:
    default:
      go_to (self, "intro");
      break;
    }
}

gboolean
coffer_recovery_wizard_get_confirmed (CofferRecoveryWizard *self)
{
  return self->confirmed;
}

const char *
coffer_recovery_wizard_get_page (CofferRecoveryWizard *self)
{
  return gtk_stack_get_visible_child_name (self->stack);
}

const char *
coffer_recovery_wizard_get_key_text (CofferRecoveryWizard *self)
{
  return self->formatted ? (const char *) self->formatted->data : NULL;
}

const char *
coffer_recovery_wizard_get_error (CofferRecoveryWizard *self)
{
  return self->error;
}

/* ---- GObject ---- */

static void
coffer_recovery_wizard_dispose (GObject *object)
{
  CofferRecoveryWizard *self = COFFER_RECOVERY_WIZARD (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  /* Closed before the new key was typed back: it is discarded and the old
   * one stays the recovery key. */
  if (self->mode == COFFER_RECOVERY_WIZARD_REPLACE && !self->confirmed && self->app != NULL)
    coffer_engine_cancel_recovery_key_replacement (wizard_engine (self));
  self->app = NULL;
  g_clear_object (&self->engine);
  if (self->key_label != NULL)
    gtk_label_set_text (self->key_label, "");
  g_clear_pointer (&self->formatted, coffer_secret_free);
  g_clear_pointer (&self->error, g_free);
  G_OBJECT_CLASS (coffer_recovery_wizard_parent_class)->dispose (object);
}

static void
coffer_recovery_wizard_class_init (CofferRecoveryWizardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = coffer_recovery_wizard_dispose;

  signals[SIGNAL_CONFIRMED] = g_signal_new ("confirmed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/cofferapp/Coffer/coffer-recovery-wizard.ui");
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, stack);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, intro_page);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, done_page);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, intro_button);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, key_label);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, copy_button);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, verify_entry);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, verify_error);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, verify_description);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, verify_button);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, back_to_key_button);
  gtk_widget_class_bind_template_child (widget_class, CofferRecoveryWizard, verify_spinner);
  gtk_widget_class_bind_template_callback (widget_class, verify_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, verify_changed_cb);

  gtk_widget_class_install_action (widget_class, "wizard.show-key", NULL, show_key_activated);
  gtk_widget_class_install_action (widget_class, "wizard.to-verify", NULL, to_verify_activated);
  gtk_widget_class_install_action (widget_class, "wizard.copy", NULL, copy_activated);
  gtk_widget_class_install_action (widget_class, "wizard.save-kit", NULL, save_kit_activated);
  gtk_widget_class_install_action (widget_class, "wizard.print", NULL, print_activated);
  gtk_widget_class_install_action (widget_class, "wizard.verify", NULL, verify_activated);
}

static void
coffer_recovery_wizard_init (CofferRecoveryWizard *self)
{
  self->cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
  coffer_a11y_name_controls (GTK_WIDGET (self));
}

CofferRecoveryWizard *
coffer_recovery_wizard_new (CofferApplication *app)
{
  CofferRecoveryWizard *self = g_object_new (COFFER_TYPE_RECOVERY_WIZARD, NULL);
  self->app = app;
  return self;
}

GtkWindow *
coffer_recovery_wizard_present_dialog (GtkWindow *parent, CofferApplication *app,
                                       CofferRecoveryWizardMode mode, CofferRecoveryWizard **out_wizard)
{
  GtkWidget *window = adw_window_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *overlay = adw_toast_overlay_new ();
  CofferRecoveryWizard *wizard = coffer_recovery_wizard_new (app);

  gtk_window_set_title (GTK_WINDOW (window), _("Recovery Key"));
  gtk_window_set_modal (GTK_WINDOW (window), TRUE);
  gtk_window_set_transient_for (GTK_WINDOW (window), parent);
  gtk_window_set_default_size (GTK_WINDOW (window), 560, 560);
  gtk_box_append (GTK_BOX (box), header);
  gtk_widget_set_vexpand (GTK_WIDGET (wizard), TRUE);
  adw_toast_overlay_set_child (ADW_TOAST_OVERLAY (overlay), GTK_WIDGET (wizard));
  gtk_box_append (GTK_BOX (box), overlay);
  adw_window_set_content (ADW_WINDOW (window), box);
  coffer_recovery_wizard_start (wizard, mode, NULL);
  coffer_a11y_name_controls (window);
  if (out_wizard != NULL)
    *out_wizard = wizard;
  gtk_window_present (GTK_WINDOW (window));
  return GTK_WINDOW (window);
}
