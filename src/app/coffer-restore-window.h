/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"

G_BEGIN_DECLS

/* CofferRestoreWindow: pick a category and a point in time, browse or search
 * its files, restore them to where they were or into a chosen folder. */
#define COFFER_TYPE_RESTORE_WINDOW (coffer_restore_window_get_type ())
G_DECLARE_FINAL_TYPE (CofferRestoreWindow, coffer_restore_window, COFFER, RESTORE_WINDOW, AdwWindow)

CofferRestoreWindow *coffer_restore_window_new (CofferApplication *app);

/* For tests and keyboard users alike, the same steps the widgets take. */
gboolean    coffer_restore_window_get_loading     (CofferRestoreWindow *self);
guint       coffer_restore_window_get_n_snapshots (CofferRestoreWindow *self);
GListModel *coffer_restore_window_get_files       (CofferRestoreWindow *self);  /* CofferFileItem */
const char *coffer_restore_window_get_path        (CofferRestoreWindow *self);
void        coffer_restore_window_open_folder     (CofferRestoreWindow *self, const char *path);
/* Restores paths (NULL = the selection; with nothing selected, after asking,
 * the current folder or everything at the top) into target (NULL = the
 * original place). With a target each path goes directly into it. */
void        coffer_restore_window_restore         (CofferRestoreWindow *self, const char * const *paths,
                                                   const char *target);
/* The conflict question, while shown. */
GtkWidget  *coffer_restore_window_get_dialog      (CofferRestoreWindow *self);
/* The result of the last restore: NULL while running or before, "" when it
 * succeeded, else the error message. */
const char *coffer_restore_window_get_result      (CofferRestoreWindow *self);
/* The text of the last toast (a restore's result), or NULL. */
const char *coffer_restore_window_get_toast       (CofferRestoreWindow *self);
/* Under COFFER_TESTING: the URI "Open Folder" was asked to show, or NULL. */
const char *coffer_restore_window_get_opened_uri  (CofferRestoreWindow *self);

/* The label of snapshots[i] (CofferSnapshot, newest first) in the list:
 * seconds and computer name added where needed to tell it apart. */
char       *coffer_restore_window_describe_snapshot (GPtrArray *snapshots, guint i);

G_END_DECLS
