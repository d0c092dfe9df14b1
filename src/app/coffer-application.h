/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-engine.h"
#include "coffer-history.h"

G_BEGIN_DECLS

#define COFFER_TYPE_APPLICATION (coffer_application_get_type ())
G_DECLARE_FINAL_TYPE (CofferApplication, coffer_application, COFFER, APPLICATION, AdwApplication)

typedef enum
{
  COFFER_APP_STATE_NOT_SET_UP,   /* the assistant has not finished */
  COFFER_APP_STATE_OPENING,
  COFFER_APP_STATE_LOCKED,       /* needs the backup password */
  COFFER_APP_STATE_READY,
  COFFER_APP_STATE_ERROR,        /* the destination could not be opened */
} CofferAppState;

/* What went wrong with the last backup, for the status row. Cleared by
 * the next backup that succeeds. */
typedef enum
{
  COFFER_BACKUP_PROBLEM_NONE,
  COFFER_BACKUP_PROBLEM_DISCONNECTED,  /* the drive or folder is not there: calm, waits for it */
  COFFER_BACKUP_PROBLEM_PARTIAL,       /* some categories failed */
  COFFER_BACKUP_PROBLEM_FAILED,        /* network, server, damaged repository… */
  COFFER_BACKUP_PROBLEM_AUTH,          /* credentials refused */
  COFFER_BACKUP_PROBLEM_SETTINGS,      /* full or read-only: needs another destination or space */
  COFFER_BACKUP_PROBLEM_SKIPPED,       /* backed up, but some files could not be read */
  COFFER_BACKUP_PROBLEM_NETWORK,       /* the server did not answer: tried again at the next backup */
} CofferBackupProblem;

CofferApplication *coffer_application_new (void);

GSettings     *coffer_application_get_settings   (CofferApplication *self);
CofferEngine  *coffer_application_get_engine     (CofferApplication *self);
GListStore    *coffer_application_get_categories (CofferApplication *self);
/* The destinations besides the first (CofferDestinationItem); each gets the
 * same categories, after the first, one after another. */
GListStore    *coffer_application_get_destinations (CofferApplication *self);
/* Writes the destination list back to GSettings ("more-destinations"). */
void           coffer_application_save_destinations (CofferApplication *self);
/* A backup to any destination (or a restore) is running; notify::busy. */
gboolean       coffer_application_get_busy       (CofferApplication *self);
CofferHistory *coffer_application_get_history    (CofferApplication *self);
CofferAppState coffer_application_get_state      (CofferApplication *self);
const char    *coffer_application_get_state_message (CofferApplication *self);
/* The destination from the settings plus the credentials held this session. */
CofferDestination *coffer_application_dup_destination (CofferApplication *self);

/* Writes the category list back to GSettings. */
void coffer_application_save_categories (CofferApplication *self);
/* Opens the repository (again), optionally with the backup password. */
void coffer_application_open_repository (CofferApplication *self, const CofferSecret *password);
/* Called by the assistant when the repository exists and its categories were
 * added: remembers the destination and credentials, marks setup done and
 * shows the main window. */
/* Preferences: the same repository at another place, saved and, with
 * reopen, opened there (without: one just created is open already). */
void coffer_application_change_destination (CofferApplication *self, const CofferDestination *dest,
                                            gboolean reopen);
void coffer_application_finish_setup (CofferApplication *self, const CofferDestination *dest,
                                      gboolean start_backup);
/* Backs up every enabled category. scheduled: honours the metered and
 * power-saver preferences and notifies instead of toasting. */
void coffer_application_start_backup (CofferApplication *self, gboolean scheduled);
/* Re-encrypts the older backups of a category (shown like a backup: the
 * progress card, a toast or notification when done, an entry in the
 * history). */
void coffer_application_start_reencrypt (CofferApplication *self, const char *category_id);
/* The last backup's problem and its readable reason (NULL when none);
 * notify::problem when it changes. */
CofferBackupProblem coffer_application_get_problem (CofferApplication *self, const char **message);
/* A short name of the destination for messages: the drive's name for
 * /media/USER/NAME/…, else the folder's or server's name. */
char *coffer_application_dup_destination_name (CofferApplication *self);
/* The last notification built for the desktop (also under COFFER_TESTING,
 * where it is not sent), for tests; NULL when none. */
GNotification *coffer_application_get_last_notification (CofferApplication *self);
/* Time of the next scheduled backup (unix seconds), 0 when off. */
gint64 coffer_application_get_next_backup (CofferApplication *self);

G_END_DECLS
