/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* CofferHistory: the last runs (backups, restores) with readable results,
 * kept in $XDG_STATE_HOME/coffer/history.ini. Never holds secrets. */
#define COFFER_TYPE_HISTORY (coffer_history_get_type ())
G_DECLARE_FINAL_TYPE (CofferHistory, coffer_history, COFFER, HISTORY, GObject)

typedef struct
{
  gint64  start_time;   /* unix seconds */
  gint64  end_time;
  gboolean success;
  char   *summary;      /* "Backed up 3 categories, 1.2 GB" */
  char   *details;      /* problems, one a line, may be NULL */
} CofferHistoryEntry;

#define COFFER_HISTORY_MAX 30

CofferHistory *coffer_history_new (const char *path);   /* NULL = default location */
guint          coffer_history_get_n_entries (CofferHistory *self);
/* 0 = newest */
const CofferHistoryEntry *coffer_history_get_entry (CofferHistory *self, guint index);
void           coffer_history_add (CofferHistory *self, gint64 start_time, gint64 end_time,
                                   gboolean success, const char *summary, const char *details);

G_END_DECLS
