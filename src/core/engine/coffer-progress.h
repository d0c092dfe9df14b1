/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Reported from worker threads, at most ~10 times a second. */
typedef struct
{
  const char *operation;      /* "backup", "restore", "check", "prune", "reencrypt" */
  const char *category;       /* name */
  const char *current_file;   /* may be NULL */
  guint64     files_done;
  guint64     files_total;    /* 0 while unknown */
  guint64     bytes_done;
  guint64     bytes_total;    /* 0 while unknown */
  guint64     bytes_uploaded;
  gdouble     rate;           /* bytes per second over the last seconds */
  gint64      eta_seconds;    /* -1 while unknown (always while scanning) */
  gboolean    finished;
  gboolean    scanning;       /* the totals are still being counted and only grow:
                                 show them as "found so far", with no ETA */
} CofferProgress;

typedef void (*CofferProgressFunc) (const CofferProgress *progress, gpointer user_data);

/* Rate/ETA bookkeeping shared by the operations. */
typedef struct _CofferProgressMeter CofferProgressMeter;
CofferProgressMeter *coffer_progress_meter_new    (const char *operation, const char *category,
                                                   CofferProgressFunc func, gpointer user_data);
void                 coffer_progress_meter_free   (CofferProgressMeter *meter);
/* Thread-safe counters */
/* Final totals (the scan is complete, or known up front). */
void coffer_progress_meter_set_totals (CofferProgressMeter *meter, guint64 files, guint64 bytes);
/* What a scan running alongside the operation has counted so far. */
void coffer_progress_meter_set_scanned (CofferProgressMeter *meter, guint64 files, guint64 bytes);
void coffer_progress_meter_add        (CofferProgressMeter *meter, guint64 files, guint64 bytes,
                                       guint64 uploaded, const char *current_file);
/* Marks the operation finished and reports once more. */
void coffer_progress_meter_finish     (CofferProgressMeter *meter);
/* Calls func if enough time has passed (or force). */
void coffer_progress_meter_report     (CofferProgressMeter *meter, gboolean force);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferProgressMeter, coffer_progress_meter_free)

G_END_DECLS
