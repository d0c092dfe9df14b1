/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Worker threads below the process's priority (coffer-worker-pool.h): the
 * app lowers the threads of backups and restores so its window keeps a
 * CPU. Each thread of a pool must run its jobs lowered by the increment,
 * the calling thread and GLib's shared threads must keep their priority,
 * and with no increment (the CLI) nothing changes. */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib.h>

#include "coffer-worker-pool.h"

static int
thread_nice (void)
{
  return getpriority (PRIO_PROCESS, (pid_t) syscall (SYS_gettid));
}

typedef struct
{
  GMutex  lock;
  GArray *seen;   /* int: each job's thread's nice value */
} Seen;

static void
record_job (gpointer data, gpointer user_data)
{
  Seen *seen = user_data;
  int nice = thread_nice ();

  g_mutex_lock (&seen->lock);
  g_array_append_val (seen->seen, nice);
  g_mutex_unlock (&seen->lock);
}

static GArray *
run_jobs (guint n_jobs, gboolean worker_pool)
{
  Seen seen = { 0 };

  g_mutex_init (&seen.lock);
  seen.seen = g_array_new (FALSE, FALSE, sizeof (int));
  if (worker_pool)
    {
      CofferWorkerPool *pool = _coffer_worker_pool_new ("test-worker", record_job, &seen, 3);

      for (guint i = 0; i < n_jobs; i++)
        _coffer_worker_pool_push (pool, GUINT_TO_POINTER (i + 1));
      _coffer_worker_pool_free (pool);
    }
  else
    {
      /* GLib's shared threads (a non-exclusive pool). */
      GThreadPool *pool = g_thread_pool_new (record_job, &seen, 3, FALSE, NULL);

      for (guint i = 0; i < n_jobs; i++)
        g_thread_pool_push (pool, GUINT_TO_POINTER (i + 1), NULL);
      g_thread_pool_free (pool, FALSE, TRUE);
    }
  g_mutex_clear (&seen.lock);
  return seen.seen;
}

static void
test_lowered (void)
{
  int base = thread_nice ();
  g_autoptr(GArray) lowered = NULL;
  g_autoptr(GArray) shared = NULL;
  g_autoptr(GArray) unchanged = NULL;

  /* 5 lower, or as far as 19 allows when the tests themselves run lowered
   * (at nice 19 nothing can be lowered, and this checks only that the
   * pool's threads run every job). */
  int step = MIN (5, 19 - base);

  if (step < 5)
    g_test_message ("the tests run at nice %d: checking a step of %d", base, step);
  coffer_worker_pool_set_nice (step);
  lowered = run_jobs (64, TRUE);
  g_assert_cmpuint (lowered->len, ==, 64);
  for (guint i = 0; i < lowered->len; i++)
    g_assert_cmpint (g_array_index (lowered, int, i), ==, base + step);
  g_assert_cmpint (thread_nice (), ==, base);

  /* The lowered threads ended with their pool: GLib's shared threads
   * (which a GThreadPool, even an exclusive one, hands its threads to when
   * it is freed) keep the process's priority. Run twice, so that threads
   * GLib keeps idle between pools are reused too. */
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(GArray) again = NULL;

      shared = run_jobs (64, FALSE);
      for (guint i = 0; i < shared->len; i++)
        g_assert_cmpint (g_array_index (shared, int, i), ==, base);
      again = run_jobs (64, TRUE);
      for (guint i = 0; i < again->len; i++)
        g_assert_cmpint (g_array_index (again, int, i), ==, base + step);
      g_clear_pointer (&shared, g_array_unref);
    }

  /* No increment: the pool's threads run at the process's priority. */
  coffer_worker_pool_set_nice (0);
  unchanged = run_jobs (16, TRUE);
  for (guint i = 0; i < unchanged->len; i++)
    g_assert_cmpint (g_array_index (unchanged, int, i), ==, base);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/worker-pool/lowered", test_lowered);
  return g_test_run ();
}
