/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"

G_BEGIN_DECLS

/* CofferRecoveryWizard: explains the recovery key, shows it (copy, emergency
 * kit PDF, print), and asks for it to be typed back, verifying it against the
 * repository. Emits ::confirmed when the key was verified. Used by the setup
 * assistant and, in a dialog, from the main window and Preferences. */
#define COFFER_TYPE_RECOVERY_WIZARD (coffer_recovery_wizard_get_type ())
G_DECLARE_FINAL_TYPE (CofferRecoveryWizard, coffer_recovery_wizard, COFFER, RECOVERY_WIZARD, AdwBin)

typedef enum
{
  COFFER_RECOVERY_WIZARD_NEW,      /* a key just created: explain, show, type back */
  COFFER_RECOVERY_WIZARD_TEST,     /* type the existing key back */
  COFFER_RECOVERY_WIZARD_REPLACE,  /* make a new key, then show and type back */
} CofferRecoveryWizardMode;

CofferRecoveryWizard *coffer_recovery_wizard_new (CofferApplication *app);
/* The key belongs to the repository of engine (another destination's)
 * instead of the app's own; call before _start. */
void     coffer_recovery_wizard_set_engine    (CofferRecoveryWizard *self, CofferEngine *engine);
/* Replaces the first page's title and text (after _start), e.g. to say
 * which backup a new key belongs to. */
void     coffer_recovery_wizard_set_intro     (CofferRecoveryWizard *self, const char *title,
                                               const char *description);
/* Starts the wizard; key (secure memory, copied) is needed for _NEW. */
void     coffer_recovery_wizard_start         (CofferRecoveryWizard *self, CofferRecoveryWizardMode mode,
                                               const CofferSecret *key);
gboolean coffer_recovery_wizard_get_confirmed (CofferRecoveryWizard *self);
/* The visible page: "intro", "key", "verify", "done". */
const char *coffer_recovery_wizard_get_page   (CofferRecoveryWizard *self);
/* The formatted key being shown, or NULL (for tests). */
const char *coffer_recovery_wizard_get_key_text (CofferRecoveryWizard *self);
/* The inline error shown on the verify page, or NULL. */
const char *coffer_recovery_wizard_get_error  (CofferRecoveryWizard *self);
/* Types into the verify field and checks the key (tests). */
void        coffer_recovery_wizard_verify     (CofferRecoveryWizard *self, const char *text);

/* Writes the emergency kit PDF to path in a worker thread (what Save
 * Emergency Kit does once the file chooser answered). */
void        coffer_recovery_wizard_save_kit   (CofferRecoveryWizard *self, const char *path);

/* Shows the wizard in its own window; returns that window. */
GtkWindow *coffer_recovery_wizard_present_dialog (GtkWindow *parent, CofferApplication *app,
                                                  CofferRecoveryWizardMode mode,
                                                  CofferRecoveryWizard **out_wizard);

G_END_DECLS
