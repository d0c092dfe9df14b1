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
int          coffer_worker_pool_get_nice (void);

/* A fixed set of threads of its own running func (job, user_data) for each
 * job pushed, in order of pushing, each thread lowered by the increment
 * above before its first job. Not a GThreadPool: GLib hands the threads
 * of a freed pool, exclusive or not, to its shared pool, which the app's
 * other work uses, and a lowered thread cannot raise itself again. */
typedef struct _CofferWorkerPool CofferWorkerPool;

CofferWorkerPool *_coffer_worker_pool_new  (const char *name,
                                            GFunc       func,
                                            gpointer    user_data,
                                            guint       n_threads);
/* job must not be NULL. */
void              _coffer_worker_pool_push (CofferWorkerPool *pool,
                                            gpointer          job);
/* Runs every job pushed so far, then ends the threads and frees the pool. */
void              _coffer_worker_pool_free (CofferWorkerPool *pool);
/* For a thread the operation starts itself (the backup's file counter). */
void              _coffer_worker_thread_lower (void);

G_END_DECLS
