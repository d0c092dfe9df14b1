/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* A short in-app help (F1): what Coffer does, the two protection levels,
 * restoring, a new computer, and the keyboard shortcuts. Escape and Ctrl+W
 * close it. */
GtkWindow *coffer_help_window_new (GtkWindow *parent);

G_END_DECLS
