/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"
#include "coffer-engine.h"

G_BEGIN_DECLS

/* Recovery contacts: typing shares on a new computer ("combine"), or
 * splitting the recovery key into share sheets ("make", from Preferences). */
#define COFFER_TYPE_SHARES_DIALOG (coffer_shares_dialog_get_type ())
G_DECLARE_FINAL_TYPE (CofferSharesDialog, coffer_shares_dialog, COFFER, SHARES_DIALOG, AdwWindow)

/* Type k shares for the backup at dest; each is checked as it is typed
 * (typo located, another repository or a replaced key named). When enough
 * fit together, emits "recovery-key" (a const CofferSecret * holding the
 * formatted recovery key, valid during the emission) and closes. */
CofferSharesDialog *coffer_shares_dialog_new_combine (GtkWindow *parent, CofferApplication *app,
                                                      const CofferDestination *dest);
/* Asks for the recovery key, k and n, and a folder for the sheets
 * (GtkFileChooserNative); emits "made" when the sheets are saved. */
CofferSharesDialog *coffer_shares_dialog_new_make    (GtkWindow *parent, CofferApplication *app);

/* Makes the shares and saves the sheets to folder: what the folder
 * chooser's answer runs (the UI tests call it directly). */
void        coffer_shares_dialog_save_to     (CofferSharesDialog *self, GFile *folder);
const char *coffer_shares_dialog_get_page    (CofferSharesDialog *self);
gboolean    coffer_shares_dialog_get_busy    (CofferSharesDialog *self);
/* The status line under the shares or the settings. */
const char *coffer_shares_dialog_get_status  (CofferSharesDialog *self);

G_END_DECLS
