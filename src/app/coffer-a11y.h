/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Sets the name a screen reader speaks for widget. */
void coffer_a11y_set_name (GtkWidget *widget, const char *name);

/* GTK 4.8 and libadwaita 1.2 leave some controls without an accessible
 * name (a screen reader then says "GtkImage" or "GtkMenuButton"): icon-only
 * buttons, the inner toggle of a menu button or drop-down, the "show text"
 * button of a password row, the enable switch of an expander row, the
 * search entry of a preferences window. Names each of those below root
 * that has no label of its own from its tooltip, its placeholder or that
 * of the control (or row) it belongs to. Call once the widgets exist. */
void coffer_a11y_name_controls (GtkWidget *root);

G_END_DECLS
