/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"
#include "coffer-destination-page.h"
#include "coffer-recovery-wizard.h"

G_BEGIN_DECLS

/* CofferSetupAssistant: the first-run assistant. Pages: welcome →
 * destination (with a connection test) → categories → protection →
 * password (if a category is Standard) → recovery key (if one is Advanced)
 * → done; the first backup then starts from the main window. When the
 * destination already holds a backup, a "way-in" page comes after the
 * destination: the backup password (the pages above), the recovery key
 * ("recovery-key") or approval from a trusted computer ("join": the code is
 * shown, the status polled every 2 s); the last two open the repository
 * first and then show the categories. */
#define COFFER_TYPE_SETUP_ASSISTANT (coffer_setup_assistant_get_type ())
G_DECLARE_FINAL_TYPE (CofferSetupAssistant, coffer_setup_assistant, COFFER, SETUP_ASSISTANT, AdwApplicationWindow)

CofferSetupAssistant *coffer_setup_assistant_new (CofferApplication *app);
/* The name of the visible page. */
const char           *coffer_setup_assistant_get_page (CofferSetupAssistant *self);
/* The categories being set up (CofferCategoryItem). */
GListStore           *coffer_setup_assistant_get_categories (CofferSetupAssistant *self);
/* What choosing a folder in the file chooser does. */
void                  coffer_setup_assistant_set_folder (CofferSetupAssistant *self, const char *path);
/* The "destination" page's chooser. */
CofferDestinationPage *coffer_setup_assistant_get_destination_page (CofferSetupAssistant *self);
CofferRecoveryWizard *coffer_setup_assistant_get_wizard (CofferSetupAssistant *self);
/* TRUE while an asynchronous step (connection test, key creation) runs. */
gboolean              coffer_setup_assistant_get_busy (CofferSetupAssistant *self);
/* On the "join" page: TRUE once the request was sent; the code shown once a
 * trusted computer has answered (NULL before). */
gboolean              coffer_setup_assistant_get_join_requested (CofferSetupAssistant *self);
const char           *coffer_setup_assistant_get_join_code (CofferSetupAssistant *self);

G_END_DECLS
