/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"

G_BEGIN_DECLS

#define COFFER_TYPE_WINDOW (coffer_window_get_type ())
G_DECLARE_FINAL_TYPE (CofferWindow, coffer_window, COFFER, WINDOW, AdwApplicationWindow)

CofferWindow *coffer_window_new        (CofferApplication *app);
void          coffer_window_show_toast (CofferWindow *self, const char *title);
/* The "Sign In Again" question (win.sign-in) while it is shown, else NULL. */
GtkWidget    *coffer_window_get_sign_in_dialog (CofferWindow *self);

G_END_DECLS
