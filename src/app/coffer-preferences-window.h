/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"

G_BEGIN_DECLS

#define COFFER_TYPE_PREFERENCES_WINDOW (coffer_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (CofferPreferencesWindow, coffer_preferences_window, COFFER, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

CofferPreferencesWindow *coffer_preferences_window_new (CofferApplication *app);

G_END_DECLS
