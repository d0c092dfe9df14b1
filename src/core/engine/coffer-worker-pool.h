/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How much lower than the rest of the process the threads of backups and
 * restores run (a nice increment, 0-19). The CLI leaves it at 0; the app
 * sets COFFER_WORKER_NICE_APP so its window (and the rest of the desktop)
 * keeps the CPU it needs while a backup uses every core
 * (docs/PERFORMANCE.md "Responsiveness"). */
#define COFFER_WORKER_NICE_APP 10

void         coffer_worker_pool_set_nice (int increment);

/* A thread pool of its own threads (not GLib's shared ones, so a lowered
 * priority leaves with them when the pool is freed); each thread lowers
 * its priority by the increment above before its first job. */
GThreadPool *_coffer_worker_pool_new     (GFunc     func,
                                          gpointer  user_data,
                                          guint     n_threads);
void         _coffer_worker_pool_free    (GThreadPool *pool);
/* For a thread the operation starts itself (the backup's file counter). */
void         _coffer_worker_thread_lower (void);

G_END_DECLS
