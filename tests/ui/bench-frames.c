/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An instrument, not a test of speed: how responsive the main window stays
 * while a backup runs. It opens the real window under Xvfb on a repository
 * in a temporary folder with one category over a data folder, presses
 * Back Up Now and, until the backup's history entry appears, records
 *
 *  - every frame of the window's GdkFrameClock: the interval between
 *    frames (gdk_frame_clock_get_frame_time at "after-paint", and the wall
 *    clock there) and how long each frame's update, layout and paint took.
 *    Nothing in the window animates on its own between two progress
 *    updates (10 a second), so a tick callback redraws the progress bar on
 *    every frame, as a spinner would, to keep the clock running;
 *  - main-loop latency: a 10 ms timeout at high priority, and how late it
 *    fires. A late firing is a stall of the main thread, whatever ran.
 *
 * It prints a report ("# " lines, valid TAP): backup seconds, frames,
 * frame interval p50/p95/p99/max, the longest stall, the stalls over
 * 50 ms, and the longest stalls with what ran during them (frame phases,
 * ::progress handlers, or other main-loop work such as task callbacks).
 * For other work, a watchdog thread takes the main thread's stack
 * (backtrace() in a SIGPROF handler) once the timer is 50 ms late, and
 * the report shows it, symbolized with addr2line.
 *
 * COFFER_BENCH_FREEZE_CARD=1 keeps the window's ::progress handler from
 * running (the progress card stays as it was when the backup started), to
 * tell the cost of its updates from the rest.
 *
 * The data: $COFFER_BENCH_DATA (a folder, e.g. from make-dataset.py), or
 * else $COFFER_BENCH_MB megabytes of random files made here (default 4).
 * It asserts only that the instrument worked (a backup happened, frames
 * and timer firings were counted), never a time: build-aux/bench-frames.sh
 * runs it on 1 GB, and tests/ui's ui-bench-frames on a few MB. */
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-repository.h"
#include "coffer-window.h"
#include "coffer-worker-pool.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"
#define TIMER_MS 10
#define STALL_US (50 * 1000)
#define TOP_STALLS 5

typedef enum { EVENT_UPDATE, EVENT_LAYOUT, EVENT_PAINT, EVENT_PROGRESS, N_EVENT_KINDS } EventKind;

static const char *event_names[N_EVENT_KINDS] = { "frame update", "frame layout", "frame paint",
                                                  "::progress handlers" };

typedef struct
{
  gint64    start;
  gint64    end;
  EventKind kind;
} Event;

typedef struct
{
  gint64  start;          /* when the timer should have fired */
  gint64  length;         /* how late it fired */
  gint64  on_cpu;         /* the main thread's time running meanwhile */
  gint64  runnable;       /* ... and waiting for a CPU (schedstat) */
  double  fraction;       /* of the backup's bytes done then, -1 while unknown */
  gboolean busy;          /* the engine was still busy */
} Stall;

#define MAX_SAMPLES 1024
#define MAX_FRAMES 40

/* Stacks of the main thread taken while it stalls. */
typedef struct
{
  gint64 heartbeat;              /* the timer firing the stall followed */
  gint64 taken;
  int    depth;
  void  *frames[MAX_FRAMES];
} Sample;

static pthread_t main_thread;
static Sample samples[MAX_SAMPLES];
static volatile gint n_samples;
static volatile sig_atomic_t sample_slot = -1;
static gint64 heartbeat;   /* the timer's last firing, __atomic_* */
static gint watchdog_stop;

static void
sigprof_cb (int sig)
{
  int slot = sample_slot;

  if (slot >= 0 && slot < MAX_SAMPLES)
    samples[slot].depth = backtrace (samples[slot].frames, MAX_FRAMES);
}

/* Not synchronisation: a sampling loop, as a profiler's. */
static gpointer
watchdog_thread (gpointer data)
{
  gint64 sampled = 0;

  while (!g_atomic_int_get (&watchdog_stop) && g_atomic_int_get (&n_samples) < MAX_SAMPLES)
    {
      gint64 beat = __atomic_load_n (&heartbeat, __ATOMIC_ACQUIRE);
      gint64 now = g_get_monotonic_time ();

      /* One stack per 50 ms of a stall. */
      if (beat != 0 && now - beat > TIMER_MS * 1000 + STALL_US && now - sampled >= STALL_US)
        {
          int slot = g_atomic_int_get (&n_samples);

          samples[slot].heartbeat = beat;
          samples[slot].taken = now;
          samples[slot].depth = -1;
          sample_slot = slot;
          pthread_kill (main_thread, SIGPROF);
          for (guint i = 0; i < 100 && ((volatile Sample *) &samples[slot])->depth < 0; i++)
            g_usleep (1000);
          sample_slot = -1;
          if (samples[slot].depth > 0)
            g_atomic_int_inc (&n_samples);
          sampled = now;
        }
      g_usleep (5000);
    }
  return NULL;
}

typedef struct
{
  CofferApplication *app;
  GdkFrameClock     *clock;
  gboolean           recording;
  gint64             started;
  gint64             finished;

  /* frames */
  GArray            *frame_times;   /* gint64, frame clock time at after-paint */
  GArray            *paint_walls;   /* gint64, monotonic time at after-paint */
  GArray            *frame_work;    /* gint64, before-paint end to after-paint */
  gint64             phase_mark;
  gint64             frame_mark;
  guint              n_layouts;     /* frames with a layout phase */

  /* main loop */
  guint              timer;
  gint64             last_fire;
  gint64             last_on_cpu;
  gint64             last_runnable;
  guint              n_fires;
  GArray            *stalls;        /* Stall, every late firing over 1 ms */

  /* what ran */
  GArray            *events;        /* Event, those of 1 ms or more */
  gint64             progress_mark;
  guint              n_progress;
  guint64            bytes_done;
  guint64            bytes_total;
  guint64            files_done;
  gboolean           freeze_card;
  int                thread_nice;   /* highest nice of the process's threads seen */
} Bench;

static void
add_event (Bench *bench, EventKind kind, gint64 start, gint64 end)
{
  Event event = { start, end, kind };

  if (bench->recording && end - start >= 1000)
    g_array_append_val (bench->events, event);
}

/* ---- the frame clock ---- */

/* Connected after GTK's own handlers, so each marks the end of its phase. */
static void
before_paint_cb (GdkFrameClock *clock, Bench *bench)
{
  bench->frame_mark = bench->phase_mark = g_get_monotonic_time ();
}

static void
phase_end (Bench *bench, EventKind kind)
{
  gint64 now = g_get_monotonic_time ();

  if (bench->phase_mark != 0)
    add_event (bench, kind, bench->phase_mark, now);
  bench->phase_mark = now;
}

static void
update_cb (GdkFrameClock *clock, Bench *bench)
{
  phase_end (bench, EVENT_UPDATE);
}

static void
layout_cb (GdkFrameClock *clock, Bench *bench)
{
  if (bench->recording)
    bench->n_layouts++;
  phase_end (bench, EVENT_LAYOUT);
}

static void
paint_cb (GdkFrameClock *clock, Bench *bench)
{
  phase_end (bench, EVENT_PAINT);
}

static void
after_paint_cb (GdkFrameClock *clock, Bench *bench)
{
  gint64 now = g_get_monotonic_time ();
  gint64 frame_time = gdk_frame_clock_get_frame_time (clock);

  if (bench->recording)
    {
      g_array_append_val (bench->frame_times, frame_time);
      g_array_append_val (bench->paint_walls, now);
      if (bench->frame_mark != 0)
        {
          gint64 work = now - bench->frame_mark;
          g_array_append_val (bench->frame_work, work);
        }
    }
  bench->frame_mark = bench->phase_mark = 0;
}

/* The animation: a redraw of the progress card on every frame. */
static gboolean
animate_cb (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  gtk_widget_queue_draw (widget);
  return G_SOURCE_CONTINUE;
}

/* ---- the main loop ---- */

/* The calling thread's time on a CPU and waiting for one, in µs, from
 * /proc/thread-self/schedstat; both 0 where the kernel has none. */
static void
thread_times (gint64 *on_cpu, gint64 *runnable)
{
  g_autofree char *text = NULL;
  char *end = NULL;

  *on_cpu = *runnable = 0;
  if (!g_file_get_contents ("/proc/thread-self/schedstat", &text, NULL, NULL))
    return;
  *on_cpu = g_ascii_strtoll (text, &end, 10) / 1000;
  *runnable = g_ascii_strtoll (end, NULL, 10) / 1000;
}

static gboolean
timer_cb (gpointer data)
{
  Bench *bench = data;
  gint64 now = g_get_monotonic_time ();
  gint64 on_cpu, runnable;

  thread_times (&on_cpu, &runnable);
  if (bench->recording && bench->last_fire != 0)
    {
      gint64 late = now - bench->last_fire - TIMER_MS * 1000;

      bench->n_fires++;
      if (late >= 1000)
        {
          Stall stall = { bench->last_fire + TIMER_MS * 1000, late,
                          on_cpu - bench->last_on_cpu, runnable - bench->last_runnable,
                          bench->bytes_total > 0 ? (double) bench->bytes_done / bench->bytes_total : -1,
                          coffer_engine_get_busy (coffer_application_get_engine (bench->app)) };
          g_array_append_val (bench->stalls, stall);
        }
    }
  bench->last_fire = now;
  bench->last_on_cpu = on_cpu;
  bench->last_runnable = runnable;
  __atomic_store_n (&heartbeat, now, __ATOMIC_RELEASE);
  return G_SOURCE_CONTINUE;
}

/* ---- ::progress, around the window's handler ---- */

/* The highest nice value among the process's worker threads now: the backup's
 * workers run lowered in the app (coffer-worker-pool.h). Field 19 of
 * /proc/self/task/TID/stat, counted after the ")" that ends the name. */
static int
highest_thread_nice (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  int highest = -20;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/task", tid, "stat", NULL);
      g_autofree char *stat = NULL;
      g_auto(GStrv) fields = NULL;
      const char *end;

      if (!g_file_get_contents (path, &stat, NULL, NULL) || (end = strrchr (stat, ')')) == NULL)
        continue;
      fields = g_strsplit (end + 2, " ", 0);
      /* fields[0] is field 3 (state): nice, field 19, is fields[16]. */
      /* GLib's pool threads and Coffer's own; not Mesa's, whose disk
       * cache thread runs at nice 19 by itself. */
      if (g_strv_length (fields) > 16
          && (strstr (stat, " (pool-") != NULL || strstr (stat, " (coffer-") != NULL))
        highest = MAX (highest, atoi (fields[16]));
    }
  return highest;
}

static void
progress_after_cb (CofferEngine *engine, const CofferProgress *progress, Bench *bench)
{
  if (!bench->recording)
    return;
  add_event (bench, EVENT_PROGRESS, bench->progress_mark, g_get_monotonic_time ());
  bench->n_progress++;
  bench->bytes_done = progress->bytes_done;
  bench->bytes_total = progress->bytes_total;
  bench->files_done = progress->files_done;
  bench->thread_nice = MAX (bench->thread_nice, highest_thread_nice ());
}

static void
progress_before_cb (CofferEngine *engine, const CofferProgress *progress, Bench *bench)
{
  bench->progress_mark = g_get_monotonic_time ();
  /* A diagnosis: no other handler runs, so the progress card never
   * changes (the update is still counted here). */
  if (bench->freeze_card)
    {
      progress_after_cb (engine, progress, bench);
      g_signal_stop_emission_by_name (engine, "progress");
    }
}

/* ---- the report ---- */

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

static int
compare_stalls (gconstpointer a, gconstpointer b)
{
  gint64 x = ((const Stall *) a)->length, y = ((const Stall *) b)->length;
  return (x < y) - (x > y);
}

/* Differences between neighbours of a series of times, sorted. */
static GArray *
intervals (GArray *times)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 1; i < times->len; i++)
    {
      gint64 d = g_array_index (times, gint64, i) - g_array_index (times, gint64, i - 1);
      g_array_append_val (out, d);
    }
  g_array_sort (out, compare_gint64);
  return out;
}

static double
percentile_ms (GArray *sorted, double p)
{
  guint i;

  if (sorted->len == 0)
    return 0;
  i = (guint) MIN ((double) sorted->len - 1, MAX (0.0, p * sorted->len - 1e-9));
  return g_array_index (sorted, gint64, i) / 1000.0;
}

static void
print_series (const char *what, GArray *sorted)
{
  g_print ("# %s: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (%u)\n", what, percentile_ms (sorted, 0.50),
           percentile_ms (sorted, 0.95), percentile_ms (sorted, 0.99), percentile_ms (sorted, 1.0), sorted->len);
}

/* What ran during a stall: the recorded events overlapping it, by kind;
 * the rest is other main-loop work (task callbacks, idles, signals). */
static char *
describe_stall (Bench *bench, const Stall *stall)
{
  GString *text = g_string_new (NULL);
  gint64 end = stall->start + stall->length;
  gint64 by_kind[N_EVENT_KINDS] = { 0 };
  gint64 accounted = 0;

  for (guint i = 0; i < bench->events->len; i++)
    {
      const Event *event = &g_array_index (bench->events, Event, i);
      gint64 from = MAX (event->start, stall->start - TIMER_MS * 1000);
      gint64 to = MIN (event->end, end);

      if (to > from)
        by_kind[event->kind] += to - from;
    }
  for (guint k = 0; k < N_EVENT_KINDS; k++)
    if (by_kind[k] >= 1000)
      {
        g_string_append_printf (text, "%s%s %.0f ms", text->len ? ", " : "", event_names[k], by_kind[k] / 1000.0);
        accounted += by_kind[k];
      }
  if (stall->length - accounted >= 1000)
    g_string_append_printf (text, "%sother main-loop work %.0f ms", text->len ? ", " : "",
                            (stall->length - accounted) / 1000.0);
  /* Time neither running nor runnable: waiting on something (the X
   * server's reply, a lock, the disk). */
  if (stall->on_cpu > 0 || stall->runnable > 0)
    g_string_append_printf (text, "; main thread running %.0f ms, waiting for a CPU %.0f ms, blocked %.0f ms",
                            stall->on_cpu / 1000.0, stall->runnable / 1000.0,
                            MAX (0, stall->length + TIMER_MS * 1000 - stall->on_cpu - stall->runnable) / 1000.0);
  if (!stall->busy)
    g_string_append (text, "; after the backup ended (its results shown)");
  else if (stall->fraction < 0)
    g_string_append (text, "; before the first progress");
  else
    g_string_append_printf (text, "; at %.0f %% of the bytes", 100 * stall->fraction);
  return g_string_free (text, FALSE);
}

/* The main thread's stack in a sample, one "function (file:line)" a
 * frame: names from backtrace_symbols, or addr2line for the static
 * functions of this program. The handler's own frames are left out. */
static GPtrArray *
symbolize (const Sample *sample)
{
  g_autofree char **symbols = backtrace_symbols ((void * const *) sample->frames, sample->depth);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) pending = g_ptr_array_new ();  /* indexes in out to fill from addr2line */
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *output = NULL;
  gboolean after_signal = FALSE;

  g_ptr_array_add (argv, g_strdup ("addr2line"));
  g_ptr_array_add (argv, g_strdup ("-f"));
  g_ptr_array_add (argv, g_strdup ("-s"));
  g_ptr_array_add (argv, g_strdup ("-e"));
  g_ptr_array_add (argv, g_strdup (self));
  for (int i = 0; i < sample->depth && symbols != NULL; i++)
    {
      const char *open = strchr (symbols[i], '(');
      const char *close = open ? strchr (open, ')') : NULL;
      g_autofree char *inside = open && close ? g_strndup (open + 1, close - open - 1) : g_strdup (symbols[i]);

      /* Everything up to the kernel's signal frame is the sampler. */
      if (!after_signal)
        {
          if (g_str_has_prefix (inside, "__restore_rt") || strstr (symbols[i], "libc.so") != NULL)
            after_signal = TRUE;
          continue;
        }
      if (inside[0] == '+' && self != NULL && g_str_has_prefix (symbols[i], self))
        {
          g_ptr_array_add (argv, g_strdup (inside + 1));
          g_ptr_array_add (pending, GUINT_TO_POINTER (out->len));
          g_ptr_array_add (out, g_strdup (inside));
        }
      else
        {
          g_autofree char *module = open ? g_strndup (symbols[i], open - symbols[i]) : g_strdup (symbols[i]);
          g_autofree char *base = g_path_get_basename (module);

          g_ptr_array_add (out, g_strdup_printf ("%s (%s)", inside, base));
        }
    }
  g_ptr_array_add (argv, NULL);
  if (pending->len > 0 &&
      g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                    &output, NULL, NULL, NULL) && output != NULL)
    {
      g_auto(GStrv) lines = g_strsplit (output, "\n", -1);

      for (guint i = 0; i < pending->len && 2 * i + 1 < g_strv_length (lines); i++)
        {
          guint at = GPOINTER_TO_UINT (g_ptr_array_index (pending, i));
          g_free (g_ptr_array_index (out, at));
          g_ptr_array_index (out, at) = g_strdup_printf ("%s (%s)", lines[2 * i], lines[2 * i + 1]);
        }
    }
  return out;
}

static void
print_samples (gint64 beat)
{
  guint n = 0;

  for (gint i = 0; i < g_atomic_int_get (&n_samples); i++)
    if (samples[i].heartbeat == beat)
      {
        if (n++ == 0)
          {
            g_autoptr(GPtrArray) stack = symbolize (&samples[i]);

            g_print ("#     main thread %.0f ms into it:\n", (samples[i].taken - beat) / 1000.0 - TIMER_MS);
            for (guint f = 0; f < MIN (stack->len, 14); f++)
              g_print ("#       %s\n", (const char *) g_ptr_array_index (stack, f));
          }
      }
  if (n > 1)
    g_print ("#     (%u stacks taken during it, the first shown)\n", n);
}

static void
report (Bench *bench, guint64 data_bytes, guint64 data_files)
{
  g_autoptr(GArray) clock_intervals = intervals (bench->frame_times);
  g_autoptr(GArray) wall_intervals = intervals (bench->paint_walls);
  g_autoptr(GArray) stalls = g_array_copy (bench->stalls);
  g_autoptr(GArray) work = g_array_copy (bench->frame_work);
  gint64 longest = 0;
  guint over = 0;

  g_array_sort (work, compare_gint64);
  g_array_sort (stalls, compare_stalls);
  for (guint i = 0; i < stalls->len; i++)
    {
      const Stall *stall = &g_array_index (stalls, Stall, i);
      longest = MAX (longest, stall->length);
      if (stall->length > STALL_US)
        over++;
    }

  g_print ("# Responsiveness during a backup\n");
  g_print ("# data: %.1f MB in %" G_GUINT64_FORMAT " files\n", data_bytes / 1e6, data_files);
  g_print ("# backup: %.1f s, %u progress updates%s\n", (bench->finished - bench->started) / 1e6, bench->n_progress,
           bench->freeze_card ? " (progress card frozen: COFFER_BENCH_FREEZE_CARD)" : "");
  g_print ("# frames: %u, %u of them with a layout phase\n", bench->frame_times->len, bench->n_layouts);
  print_series ("frame interval (frame clock)", clock_intervals);
  print_series ("frame interval (wall clock at after-paint)", wall_intervals);
  print_series ("frame work (update+layout+paint)", work);
  g_print ("# main loop: %u firings of a %u ms timer, longest stall %.1f ms, %u stalls over %u ms\n",
           bench->n_fires, TIMER_MS, longest / 1000.0, over, STALL_US / 1000);
  {
    gint64 on_cpu = 0, runnable = 0, total = 0;

    for (guint i = 0; i < stalls->len; i++)
      {
        const Stall *stall = &g_array_index (stalls, Stall, i);
        if (stall->length > STALL_US)
          {
            total += stall->length + TIMER_MS * 1000;
            on_cpu += stall->on_cpu;
            runnable += stall->runnable;
          }
      }
    if (over > 0)
      g_print ("# in the stalls over %u ms: main thread running %.0f %%, waiting for a CPU %.0f %%, blocked %.0f %%\n",
               STALL_US / 1000, 100.0 * on_cpu / total, 100.0 * runnable / total,
               100.0 * MAX (0, total - on_cpu - runnable) / total);
  }
  for (guint i = 0; i < MIN (stalls->len, TOP_STALLS); i++)
    {
      const Stall *stall = &g_array_index (stalls, Stall, i);
      g_autofree char *what = describe_stall (bench, stall);

      g_print ("#   stall %.1f ms at %.2f s: %s\n", stall->length / 1000.0, (stall->start - bench->started) / 1e6,
               what);
      if (stall->length > STALL_US)
        print_samples (stall->start - TIMER_MS * 1000);
    }
}

/* ---- setup ---- */

static void
count_tree (const char *path, guint64 *bytes, guint64 *files)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      GStatBuf st;

      g_assert_cmpint (g_lstat (child, &st), ==, 0);
      if (S_ISDIR (st.st_mode))
        count_tree (child, bytes, files);
      else if (S_ISREG (st.st_mode))
        {
          *bytes += st.st_size;
          (*files)++;
        }
    }
}

static char *
create_repository (const char *repo, const char *source)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(CofferRepository) repository = NULL;
  g_autoptr(CofferCategory) category = NULL;
  const char *paths[] = { source, NULL };
  const char *excludes[] = { NULL };

  g_assert_no_error (error);
  repository = coffer_repository_create (store, password, "bench", &key, NULL, &error);
  g_assert_no_error (error);
  category = coffer_repository_add_category (repository, "Data", COFFER_LEVEL_STANDARD, paths, excludes, NULL,
                                             &error);
  g_assert_no_error (error);
  return g_strdup (category->id);
}

static gboolean
state_ready (gpointer data)
{
  return ui_test_app_is_ready (data);
}

static gboolean
state_locked (gpointer data)
{
  return ui_test_app_is_locked (data);
}

static gboolean
backup_done (gpointer data)
{
  Bench *bench = data;
  return coffer_history_get_n_entries (coffer_application_get_history (bench->app)) > 0 &&
         !coffer_engine_get_busy (coffer_application_get_engine (bench->app));
}

static gboolean
framed (gpointer data)
{
  Bench *bench = data;
  return bench->frame_times->len >= 2;
}

static char *tmp;

static void
test_bench_frames (void)
{
  g_autofree char *repo = g_build_filename (tmp, "repo", NULL);
  g_autofree char *made = NULL;
  g_autofree char *category_id = NULL;
  g_autoptr(CofferApplication) app = NULL;
  g_autoptr(CofferCategoryItem) item = NULL;
  const char *source = g_getenv ("COFFER_BENCH_DATA");
  const char *mb = g_getenv ("COFFER_BENCH_MB");
  guint timeout = mb != NULL || source == NULL ? 300 : 7200;
  Bench bench = { 0 };
  guint64 data_bytes = 0, data_files = 0;
  CofferWindow *window;
  GtkWidget *bar;
  GtkWidget *button;
  GThread *watchdog;
  GObject *unlock;
  guint tick;

  bench.thread_nice = -20;
  if (source == NULL || *source == '\0')
    {
      guint64 size = (mb != NULL ? g_ascii_strtoull (mb, NULL, 10) : 4) * 1024 * 1024;

      made = g_build_filename (g_get_home_dir (), "Data", NULL);
      g_mkdir_with_parents (made, 0755);
      /* Files of 1 MiB, the last one shorter. */
      for (guint i = 0; (guint64) i * 1048576 < size; i++)
        {
          g_autofree char *file = g_strdup_printf ("%s/file-%04u.bin", made, i);
          coffer_test_write_random (file, MIN (1048576, size - (guint64) i * 1048576), 7 + i);
        }
      source = made;
    }
  count_tree (source, &data_bytes, &data_files);
  g_assert_cmpuint (data_files, >, 0);
  category_id = create_repository (repo, source);

  app = ui_test_app_new ();
  /* The app's own setting, which ui_test_app_new undid for the other
   * tests; COFFER_BENCH_WORKER_NICE=0 (for an A/B) runs the workers at
   * the window's priority, as before the app lowered them. */
  coffer_worker_pool_set_nice (g_getenv ("COFFER_BENCH_WORKER_NICE") != NULL
                               ? atoi (g_getenv ("COFFER_BENCH_WORKER_NICE"))
                               : COFFER_WORKER_NICE_APP);
  {
    const char *paths[] = { source, NULL };
    GSettings *settings = coffer_application_get_settings (app);

    item = coffer_category_item_new ("Data", paths);
    coffer_category_item_set_id (item, category_id);
    g_list_store_append (coffer_application_get_categories (app), item);
    coffer_application_save_categories (app);
    g_settings_set_string (settings, "destination", repo);
    g_settings_set_boolean (settings, "setup-done", TRUE);
  }
  /* Around the window's ::progress handler, which is connected when the
   * window is made: one handler before it, one after all. */
  bench.app = app;
  bench.freeze_card = g_strcmp0 (g_getenv ("COFFER_BENCH_FREEZE_CARD"), "1") == 0;
  g_signal_connect (coffer_application_get_engine (app), "progress", G_CALLBACK (progress_before_cb), &bench);
  g_signal_connect_after (coffer_application_get_engine (app), "progress", G_CALLBACK (progress_after_cb), &bench);
  coffer_application_open_repository (app, NULL);
  g_application_activate (G_APPLICATION (app));
  window = COFFER_WINDOW (ui_test_find_window (COFFER_TYPE_WINDOW));
  g_assert_nonnull (window);
  ui_test_wait_for (state_locked, app, 60, "the locked page");
  unlock = gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "unlock_entry");
  gtk_editable_set_text (GTK_EDITABLE (unlock), PASSWORD);
  g_signal_emit_by_name (unlock, "entry-activated");
  ui_test_wait_for (state_ready, app, 60, "the repository to open");
  ui_test_flush (GTK_WIDGET (window));

  /* The instruments. */
  bench.frame_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  bench.paint_walls = g_array_new (FALSE, FALSE, sizeof (gint64));
  bench.frame_work = g_array_new (FALSE, FALSE, sizeof (gint64));
  bench.stalls = g_array_new (FALSE, FALSE, sizeof (Stall));
  bench.events = g_array_new (FALSE, FALSE, sizeof (Event));
  bench.clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  g_assert_nonnull (bench.clock);
  g_signal_connect (bench.clock, "before-paint", G_CALLBACK (before_paint_cb), &bench);
  g_signal_connect (bench.clock, "update", G_CALLBACK (update_cb), &bench);
  g_signal_connect (bench.clock, "layout", G_CALLBACK (layout_cb), &bench);
  g_signal_connect (bench.clock, "paint", G_CALLBACK (paint_cb), &bench);
  g_signal_connect (bench.clock, "after-paint", G_CALLBACK (after_paint_cb), &bench);
  bar = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, "progress_bar"));
  tick = gtk_widget_add_tick_callback (bar, animate_cb, NULL, NULL);
  bench.timer = g_timeout_add_full (G_PRIORITY_HIGH, TIMER_MS, timer_cb, &bench, NULL);
  {
    struct sigaction action = { 0 };
    void *warm[4];

    backtrace (warm, G_N_ELEMENTS (warm));   /* loads libgcc_s outside the handler */
    action.sa_handler = sigprof_cb;
    action.sa_flags = SA_RESTART;
    sigemptyset (&action.sa_mask);
    g_assert_cmpint (sigaction (SIGPROF, &action, NULL), ==, 0);
    main_thread = pthread_self ();
    watchdog = g_thread_new ("bench-watchdog", watchdog_thread, NULL);
  }

  /* Back Up Now, pressed. */
  button = ui_test_find (GTK_WIDGET (window), GTK_TYPE_BUTTON, "_Back Up Now");
  g_assert_nonnull (button);
  bench.recording = TRUE;
  bench.started = g_get_monotonic_time ();
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
  g_assert_true (coffer_engine_get_busy (coffer_application_get_engine (app)));
  ui_test_wait_for (backup_done, &bench, timeout, "the backup");
  bench.finished = g_get_monotonic_time ();
  /* A tiny backup can end before the clock's first frames: the frames
   * shown right after it count then (the report says how long it ran). */
  ui_test_wait_for (framed, &bench, 10, "frames while the backup ran");
  bench.recording = FALSE;

  g_atomic_int_set (&watchdog_stop, TRUE);
  g_thread_join (watchdog);
  g_source_remove (bench.timer);
  gtk_widget_remove_tick_callback (bar, tick);
  g_signal_handlers_disconnect_by_data (bench.clock, &bench);
  g_signal_handlers_disconnect_by_data (coffer_application_get_engine (app), &bench);

  {
    const CofferHistoryEntry *entry = coffer_history_get_entry (coffer_application_get_history (app), 0);
    if (!entry->success)
      g_error ("backup failed: %s / %s", entry->summary, entry->details);
    g_print ("# history: %s\n", entry->summary);
  }
  report (&bench, data_bytes, data_files);
  g_print ("# backup threads: nice %d, the window's %d\n", bench.thread_nice,
           getpriority (PRIO_PROCESS, 0));

  /* The instrument worked: the backup read every byte, and the frame
   * clock and the timer were seen. No time is asserted. */
  g_assert_cmpuint (bench.n_progress, >, 0);
  g_assert_cmpuint (bench.bytes_done, ==, data_bytes);
  g_assert_cmpuint (bench.files_done, ==, data_files);
  g_assert_cmpuint (bench.frame_times->len, >=, 2);
  g_assert_cmpuint (bench.n_fires, >, 0);
  /* The backup's threads run below the window, as the app sets them. */
  g_assert_cmpint (bench.thread_nice, ==,
                   MIN (getpriority (PRIO_PROCESS, 0)
                        + (g_getenv ("COFFER_BENCH_WORKER_NICE") != NULL
                           ? atoi (g_getenv ("COFFER_BENCH_WORKER_NICE")) : COFFER_WORKER_NICE_APP),
                        19));

  g_array_unref (bench.frame_times);
  g_array_unref (bench.paint_walls);
  g_array_unref (bench.frame_work);
  g_array_unref (bench.stalls);
  g_array_unref (bench.events);
  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/bench-frames", test_bench_frames);
  return ui_test_run (tmp);
}
