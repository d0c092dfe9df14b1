/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib/gi18n.h>

#include "coffer-shares-row.h"
#include "coffer-shares-dialog.h"

/* What the row shows comes from keys/recovery-generations in the
 * repository, not from local state, so every trusted computer sees the
 * same answer, and the computer that replaces the key learns that shares
 * made elsewhere stopped working. */

struct _CofferSharesRow
{
  AdwActionRow       parent_instance;

  CofferApplication *app;
  GCancellable      *cancellable;
  GtkWidget         *button;
};

G_DEFINE_FINAL_TYPE (CofferSharesRow, coffer_shares_row, ADW_TYPE_ACTION_ROW)

static char *
format_day (gint64 unix_seconds)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (unix_seconds);

  /* Translators: a date, as in "made on 5 March 2026" */
  return when != NULL ? g_date_time_format (when, _("%-d %B %Y")) : g_strdup ("?");
}

static void
info_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(CofferSharesRow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *subtitle = NULL;
  CofferSharesInfo info = { 0 };

  if (!coffer_engine_get_shares_info_finish (COFFER_ENGINE (source), result, &info, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      subtitle = coffer_engine_describe_error (error);
    }
  else if (info.needed > 0)
    {
      g_autofree char *day = format_day (info.made);

      /* Translators: "Any 2 of 3 contacts can help you in. Shares made on 5 March 2026." */
      subtitle = g_strdup_printf (ngettext ("Any %u of %u contact can help you in. Shares made on %s.",
                                            "Any %u of %u contacts can help you in. Shares made on %s.",
                                            info.count),
                                  info.needed, info.count, day);
      gtk_button_set_label (GTK_BUTTON (self->button), _("Make New Sheets…"));
    }
  else if (info.old_needed > 0)
    {
      g_autofree char *day = format_day (info.old_replaced);

      subtitle = g_strdup_printf (_("The shares of the recovery key replaced on %s no longer work. Make new "
                                    "sheets for your contacts."), day);
      gtk_button_set_label (GTK_BUTTON (self->button), _("Make New Sheets…"));
    }
  else
    {
      subtitle = g_strdup (_("None. Let a few people you trust help you in if you lose every computer "
                             "and your recovery key."));
      gtk_button_set_label (GTK_BUTTON (self->button), _("Make Shares…"));
    }
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self), subtitle);
}

void
coffer_shares_row_refresh (CofferSharesRow *self)
{
  g_return_if_fail (COFFER_IS_SHARES_ROW (self));
  coffer_engine_get_shares_info_async (coffer_application_get_engine (self->app), self->cancellable, info_cb,
                                       g_object_ref (self));
}

static void
make_cb (CofferSharesRow *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  CofferSharesDialog *dialog = coffer_shares_dialog_new_make (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                              self->app);

  g_signal_connect_object (dialog, "made", G_CALLBACK (coffer_shares_row_refresh), self, G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
coffer_shares_row_dispose (GObject *object)
{
  CofferSharesRow *self = COFFER_SHARES_ROW (object);

  g_cancellable_cancel (self->cancellable);
  G_OBJECT_CLASS (coffer_shares_row_parent_class)->dispose (object);
}

static void
coffer_shares_row_finalize (GObject *object)
{
  CofferSharesRow *self = COFFER_SHARES_ROW (object);

  g_clear_object (&self->app);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (coffer_shares_row_parent_class)->finalize (object);
}

static void
coffer_shares_row_class_init (CofferSharesRowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = coffer_shares_row_dispose;
  G_OBJECT_CLASS (klass)->finalize = coffer_shares_row_finalize;
}

static void
coffer_shares_row_init (CofferSharesRow *self)
{
  self->cancellable = g_cancellable_new ();
  self->button = gtk_button_new_with_mnemonic (_("Make Shares…"));
  gtk_widget_set_valign (self->button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (self->button, _("Split your recovery key among people you trust"));
  g_signal_connect_swapped (self->button, "clicked", G_CALLBACK (make_cb), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (self), self->button);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), _("Recovery Contacts"));
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (self), 3);
}

CofferSharesRow *
coffer_shares_row_new (CofferApplication *app)
{
  CofferSharesRow *self = g_object_new (COFFER_TYPE_SHARES_ROW, NULL);

  self->app = g_object_ref (app);
  coffer_shares_row_refresh (self);
  return self;
}
