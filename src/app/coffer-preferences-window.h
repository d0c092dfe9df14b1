/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"

G_BEGIN_DECLS

#define COFFER_TYPE_PREFERENCES_WINDOW (coffer_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (CofferPreferencesWindow, coffer_preferences_window, COFFER, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

CofferPreferencesWindow *coffer_preferences_window_new (CofferApplication *app);

/* Points the app at dest: the same repository (a copy, by its id) is opened
 * there; an empty place gets a new repository with the same categories
 * (its new recovery key is shown); a different repository is refused.
 * The result: NULL while running, "" when done, else the reason. */
void        coffer_preferences_window_change_destination     (CofferPreferencesWindow *self,
                                                              const CofferDestination *dest);
const char *coffer_preferences_window_get_destination_status (CofferPreferencesWindow *self);

/* Adds another destination: an empty place gets a new repository with the
 * same backup password (its own recovery key is shown); a place with
 * another Coffer repository is opened and its categories of the same name
 * are used; a copy of the first destination's repository is refused.
 * The result: NULL while running, "" when done, else the reason. */
void        coffer_preferences_window_add_destination        (CofferPreferencesWindow *self,
                                                              const CofferDestination *dest);
const char *coffer_preferences_window_get_add_status         (CofferPreferencesWindow *self);

G_END_DECLS
