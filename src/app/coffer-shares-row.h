/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"

G_BEGIN_DECLS

/* The "Recovery Contacts" row of Preferences: whether shares of the current
 * recovery key exist (k of n, when made) and a button to make share sheets.
 * After the recovery key was replaced it says that the old shares stopped
 * working and offers new sheets. Never shows a share. */
#define COFFER_TYPE_SHARES_ROW (coffer_shares_row_get_type ())
G_DECLARE_FINAL_TYPE (CofferSharesRow, coffer_shares_row, COFFER, SHARES_ROW, AdwActionRow)

CofferSharesRow *coffer_shares_row_new     (CofferApplication *app);
/* Reads the repository's record again (after the key was replaced). */
void             coffer_shares_row_refresh (CofferSharesRow *self);

G_END_DECLS
