/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The help window is a plain AdwWindow built here, not a template: its text
 * is a few translated paragraphs, kept in one place so they stay short. */
#define G_LOG_DOMAIN "coffer-help"

#include <glib/gi18n.h>

#include "coffer-help-window.h"

GtkWindow *
coffer_help_window_new (GtkWindow *parent)
{
  const struct { const char *title; const char *text; } sections[] = {
    { N_("What Coffer Does"),
      N_("Coffer copies the folders of each category to the place you chose — a drive, a WebDAV or "
         "Nextcloud server, or S3 storage — encrypted on this computer first. Later backups upload only "
         "what changed. Old backups are thinned out as set in Preferences → Keep Old Backups.") },
    { N_("Standard and Advanced"),
      N_("Standard categories open with your backup password, on any computer. Advanced categories open "
         "only on your trusted computers or with the recovery key from your emergency kit. Keep the kit "
         "somewhere safe: without it and without a trusted computer, Advanced backups cannot be opened.") },
    { N_("Restoring Files"),
      N_("Choose Restore Files (Ctrl+R), pick a category and a point in time, select files or folders and "
         "choose Restore to put them back where they were, or Restore To… to put them into a folder you "
         "choose. A file you changed since the backup is never replaced without asking; Keep Both puts "
         "the backup’s copy beside it.") },
    { N_("More Than One Destination"),
      N_("Each destination is a backup of its own. Restore Files opens on the first one that can be read; "
         "when that is not the first, it says why (the drive is not connected, say). Choose another one "
         "under Restore from to see its backups.") },
    { N_("A New Computer"),
      N_("Install Coffer, choose “Restore from an existing backup” and the same backup place. Open it "
         "with your backup password, your recovery key or the approval of a trusted computer. Coffer then "
         "offers to put your files into the same folders of your new home folder.") },
    { N_("Keyboard Shortcuts"),
      N_("Ctrl+B back up now · Ctrl+R restore files · Ctrl+, preferences · F1 this help · "
         "Escape or Ctrl+W close a dialog or window · Ctrl+Q quit") },
  };
  GtkWidget *window = adw_window_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *page = adw_preferences_page_new ();
  GtkWidget *header = adw_header_bar_new ();
  GtkEventController *shortcuts = gtk_shortcut_controller_new ();

  gtk_window_set_title (GTK_WINDOW (window), _("Coffer Help"));
  gtk_window_set_default_size (GTK_WINDOW (window), 560, 620);
  gtk_window_set_modal (GTK_WINDOW (window), parent != NULL);
  gtk_window_set_transient_for (GTK_WINDOW (window), parent);
  if (parent != NULL && gtk_window_get_application (parent) != NULL)
    gtk_window_set_application (GTK_WINDOW (window), gtk_window_get_application (parent));
  gtk_widget_set_name (window, "coffer-help");
  gtk_box_append (GTK_BOX (box), header);
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      GtkWidget *group = adw_preferences_group_new ();
      GtkWidget *label = gtk_label_new (_(sections[i].text));

      adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), _(sections[i].title));
      gtk_label_set_wrap (GTK_LABEL (label), TRUE);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), label);
      adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (group));
    }
  gtk_widget_set_vexpand (page, TRUE);
  gtk_box_append (GTK_BOX (box), page);
  adw_window_set_content (ADW_WINDOW (window), box);

  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Escape, 0),
                                                          gtk_named_action_new ("window.close")));
  gtk_widget_add_controller (window, shortcuts);
  return GTK_WINDOW (window);
}
