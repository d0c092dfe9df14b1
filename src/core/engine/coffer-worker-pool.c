/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Worker threads at a lower priority than the process (coffer-worker-pool.h).
 *
 * On Linux a nice value belongs to a thread: setpriority (PRIO_PROCESS,
 * gettid (), …) changes only the calling thread. An unprivileged thread
 * can lower its priority but not raise it again, so the pools here own
 * their threads (exclusive GThreadPools); they end when the pool is freed
 * and never go back to GLib's shared threads, which the app's other
 * background work uses. */
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coffer-worker-pool.h"

static int worker_nice;   /* atomic */

typedef struct
{
  GFunc    func;
  gpointer user_data;
} PoolData;

static GPrivate lowered = G_PRIVATE_INIT (NULL);
static GHashTable *pool_data;   /* GThreadPool * -> PoolData *, under pool_lock */
static GMutex pool_lock;

void
coffer_worker_pool_set_nice (int increment)
{
  g_return_if_fail (increment >= 0 && increment <= 19);
  g_atomic_int_set (&worker_nice, increment);
}

void
_coffer_worker_thread_lower (void)
{
  int increment = g_atomic_int_get (&worker_nice);
#ifdef __linux__
  pid_t tid;
  int current;

  if (increment == 0 || g_private_get (&lowered) != NULL)
    return;
  g_private_set (&lowered, GINT_TO_POINTER (1));
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

static void
pool_func (gpointer data, gpointer user_data)
{
  PoolData *pd = user_data;

  _coffer_worker_thread_lower ();
  pd->func (data, pd->user_data);
}

GThreadPool *
_coffer_worker_pool_new (GFunc    func,
                         gpointer user_data,
                         guint    n_threads)
{
  PoolData *pd = g_new0 (PoolData, 1);
  g_autoptr(GError) error = NULL;
  GThreadPool *pool;

  pd->func = func;
  pd->user_data = user_data;
  pool = g_thread_pool_new (pool_func, pd, n_threads, TRUE, &error);
  if (pool == NULL)
    {
      /* Threads could not be started now (resource limits): GLib's shared
       * threads then, at the process's priority. */
      g_debug ("worker pool: %s", error->message);
      pool = g_thread_pool_new (func, user_data, n_threads, FALSE, NULL);
      g_free (pd);
      return pool;
    }
  g_mutex_lock (&pool_lock);
  if (pool_data == NULL)
    pool_data = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_hash_table_insert (pool_data, pool, pd);
  g_mutex_unlock (&pool_lock);
  return pool;
}

/* Waits for every queued job, then frees the pool (and its threads). */
void
_coffer_worker_pool_free (GThreadPool *pool)
{
  g_thread_pool_free (pool, FALSE, TRUE);
  g_mutex_lock (&pool_lock);
  if (pool_data != NULL)
    g_hash_table_remove (pool_data, pool);
  g_mutex_unlock (&pool_lock);
}
