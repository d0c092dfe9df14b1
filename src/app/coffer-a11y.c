/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Accessible names for controls GTK 4.8 / libadwaita 1.2 leave unnamed
 * (tests/ui/test-a11y.c walks every window over AT-SPI). */
#include <adwaita.h>
#include <glib/gi18n.h>

#include "coffer-a11y.h"

void
coffer_a11y_set_name (GtkWidget *widget, const char *name)
{
  g_return_if_fail (GTK_IS_WIDGET (widget));
  if (name != NULL && *name != '\0')
    gtk_accessible_update_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
}

/* The nearest tooltip on widget or above it (a row's tooltip names its
 * switch, a menu button's its inner toggle). */
static const char *
inherited_tooltip (GtkWidget *widget)
{
  for (GtkWidget *w = widget; w != NULL && !GTK_IS_ROOT (w); w = gtk_widget_get_parent (w))
    {
      const char *tip = gtk_widget_get_tooltip_text (w);
      if (tip != NULL && *tip != '\0')
        return tip;
      if (ADW_IS_PREFERENCES_ROW (w))
        return adw_preferences_row_get_title (ADW_PREFERENCES_ROW (w));
    }
  return NULL;
}

static void
name_one (GtkWidget *widget)
{
  if (GTK_IS_MENU_BUTTON (widget))
    {
      if (gtk_menu_button_get_label (GTK_MENU_BUTTON (widget)) == NULL)
        coffer_a11y_set_name (widget, inherited_tooltip (widget));
    }
  else if (GTK_IS_BUTTON (widget))
    {
      GtkWidget *parent = gtk_widget_get_parent (widget);
      const char *label = gtk_button_get_label (GTK_BUTTON (widget));

      /* A button with a text label is named by it; an image-only one,
       * or the toggle inside a menu button or drop-down, is not. */
      if (label == NULL || gtk_button_get_icon_name (GTK_BUTTON (widget)) != NULL
          || GTK_IS_MENU_BUTTON (parent) || GTK_IS_DROP_DOWN (parent))
        coffer_a11y_set_name (widget, inherited_tooltip (widget));
    }
  else if (GTK_IS_SWITCH (widget))
    coffer_a11y_set_name (widget, inherited_tooltip (widget));
  else if (GTK_IS_SEARCH_ENTRY (widget))
    {
      g_autofree char *placeholder = NULL;
      const char *tip;

      /* Ours have a placeholder and a label set in the .ui; the
       * preferences window's own search entry has neither. */
      g_object_get (widget, "placeholder-text", &placeholder, NULL);
      tip = inherited_tooltip (widget);
      if (placeholder == NULL || *placeholder == '\0')
        coffer_a11y_set_name (widget, tip != NULL ? tip : _("Search"));
    }
}

void
coffer_a11y_name_controls (GtkWidget *root)
{
  g_return_if_fail (GTK_IS_WIDGET (root));
  name_one (root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    coffer_a11y_name_controls (child);
}
