/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Worker threads at a lower priority than the process (coffer-worker-pool.h).
 *
 * On Linux a nice value belongs to a thread: setpriority (PRIO_PROCESS,
 * gettid (), …) changes only the calling thread, and an unprivileged thread
 * can lower its priority but not raise it again. So the threads here are
 * the pool's own, started with it and joined when it is freed; none of
 * them ever runs anything else. */
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coffer-worker-pool.h"

struct _CofferWorkerPool
{
  GFunc        func;
  gpointer     user_data;
  GAsyncQueue *queue;     /* jobs, then one STOP per thread */
  GPtrArray   *threads;   /* GThread * */
};

static int worker_nice;   /* atomic */
static char stop_marker;
#define STOP ((gpointer) &stop_marker)

void
coffer_worker_pool_set_nice (int increment)
{
  g_return_if_fail (increment >= 0 && increment <= 19);
  g_atomic_int_set (&worker_nice, increment);
}

int
coffer_worker_pool_get_nice (void)
{
  return g_atomic_int_get (&worker_nice);
}

void
_coffer_worker_thread_lower (void)
{
  int increment = g_atomic_int_get (&worker_nice);
#ifdef __linux__
  pid_t tid;
  int current;

  if (increment == 0)
    return;
  tid = (pid_t) syscall (SYS_gettid);
  errno = 0;
  current = getpriority (PRIO_PROCESS, tid);
  if (current == -1 && errno != 0)
    return;
  /* Best effort: a thread that cannot be lowered keeps working. */
  (void) setpriority (PRIO_PROCESS, tid, MIN (current + increment, 19));
#else
  (void) increment;
#endif
}

static gpointer
worker_thread (gpointer data)
{
  CofferWorkerPool *pool = data;
  gpointer job;

  _coffer_worker_thread_lower ();
  while ((job = g_async_queue_pop (pool->queue)) != STOP)
    pool->func (job, pool->user_data);
  return NULL;
}

CofferWorkerPool *
_coffer_worker_pool_new (const char *name,
                         GFunc       func,
                         gpointer    user_data,
                         guint       n_threads)
{
  CofferWorkerPool *pool;

  g_return_val_if_fail (func != NULL && n_threads > 0, NULL);
  pool = g_new0 (CofferWorkerPool, 1);
  pool->func = func;
  pool->user_data = user_data;
  pool->queue = g_async_queue_new ();
  pool->threads = g_ptr_array_new ();
  for (guint i = 0; i < n_threads; i++)
    g_ptr_array_add (pool->threads, g_thread_new (name, worker_thread, pool));
  return pool;
}

void
_coffer_worker_pool_push (CofferWorkerPool *pool,
                          gpointer          job)
{
  g_return_if_fail (pool != NULL && job != NULL && job != STOP);
  g_async_queue_push (pool->queue, job);
}

void
_coffer_worker_pool_free (CofferWorkerPool *pool)
{
  for (guint i = 0; i < pool->threads->len; i++)
    g_async_queue_push (pool->queue, STOP);
  for (guint i = 0; i < pool->threads->len; i++)
    g_thread_join (pool->threads->pdata[i]);
  g_ptr_array_unref (pool->threads);
  g_async_queue_unref (pool->queue);
  g_free (pool);
}
