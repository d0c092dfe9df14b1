/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"

G_BEGIN_DECLS

/* Asks for authority typed now before a change that weakens protection or
 * hands out keys (Standard protection, a new backup password, trusting or
 * removing a computer), the way a phone asks for its passcode: the dialog
 * says what the change means and takes the backup password or the
 * recovery key, which the core checks (coffer_engine_check_authority_async).
 * "granted" is emitted once it is right; then the dialog closes. A wrong
 * one is said inline and the dialog stays. Closing it changes nothing. */
#define COFFER_TYPE_AUTHORITY_DIALOG (coffer_authority_dialog_get_type ())
G_DECLARE_FINAL_TYPE (CofferAuthorityDialog, coffer_authority_dialog, COFFER, AUTHORITY_DIALOG, AdwWindow)

CofferAuthorityDialog *coffer_authority_dialog_new (GtkWindow *parent, CofferApplication *app,
                                                    const char *heading, const char *body,
                                                    const char *confirm_label, gboolean destructive);
/* Shown between the explanation and the password (a code entry, a check
 * button for re-encryption). */
void        coffer_authority_dialog_set_extra_child (CofferAuthorityDialog *self, GtkWidget *child);
/* Checks text (NULL: what is typed in the entry), as the confirm button does. */
void        coffer_authority_dialog_confirm   (CofferAuthorityDialog *self, const char *text);
/* The error shown, or NULL. */
const char *coffer_authority_dialog_get_error (CofferAuthorityDialog *self);
gboolean    coffer_authority_dialog_get_busy  (CofferAuthorityDialog *self);

G_END_DECLS
