/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "coffer-progress.h"

#define REPORT_INTERVAL_US (100 * 1000)

struct _CofferProgressMeter
{
  GMutex             lock;
  CofferProgress     progress;
  char              *operation;
  char              *category;
  char              *current_file;
  CofferProgressFunc func;
  gpointer           user_data;
  gint64             start;
  gint64             last_report;
  /* rate over a sliding window */
  gint64             window_start;
  guint64            window_bytes;
};

CofferProgressMeter *
coffer_progress_meter_new (const char *operation, const char *category,
                           CofferProgressFunc func, gpointer user_data)
{
  CofferProgressMeter *meter = g_new0 (CofferProgressMeter, 1);

  g_mutex_init (&meter->lock);
  meter->operation = g_strdup (operation);
  meter->category = g_strdup (category);
  meter->func = func;
  meter->user_data = user_data;
  meter->start = meter->window_start = g_get_monotonic_time ();
  meter->progress.eta_seconds = -1;
  return meter;
}

void
coffer_progress_meter_free (CofferProgressMeter *meter)
{
  if (meter == NULL)
    return;
  g_mutex_clear (&meter->lock);
  g_free (meter->operation);
  g_free (meter->category);
  g_free (meter->current_file);
  g_free (meter);
}

void
coffer_progress_meter_set_totals (CofferProgressMeter *meter, guint64 files, guint64 bytes)
{
  g_mutex_lock (&meter->lock);
  meter->progress.files_total = files;
  meter->progress.bytes_total = bytes;
  meter->progress.scanning = FALSE;
  g_mutex_unlock (&meter->lock);
}

void
coffer_progress_meter_set_scanned (CofferProgressMeter *meter, guint64 files, guint64 bytes)
{
  g_mutex_lock (&meter->lock);
  meter->progress.files_total = files;
  meter->progress.bytes_total = bytes;
  meter->progress.scanning = TRUE;
  g_mutex_unlock (&meter->lock);
}

void
coffer_progress_meter_add (CofferProgressMeter *meter, guint64 files, guint64 bytes,
                           guint64 uploaded, const char *current_file)
{
  g_mutex_lock (&meter->lock);
  meter->progress.files_done += files;
  meter->progress.bytes_done += bytes;
  meter->progress.bytes_uploaded += uploaded;
  meter->window_bytes += bytes;
  if (current_file != NULL)
    {
      g_free (meter->current_file);
      meter->current_file = g_strdup (current_file);
    }
  g_mutex_unlock (&meter->lock);
}

void
coffer_progress_meter_report (CofferProgressMeter *meter, gboolean force)
{
  CofferProgress copy;
  g_autofree char *file = NULL;
  gint64 now = g_get_monotonic_time ();

  if (meter == NULL || meter->func == NULL)
    return;

  g_mutex_lock (&meter->lock);
  if (!force && now - meter->last_report < REPORT_INTERVAL_US)
    {
      g_mutex_unlock (&meter->lock);
      return;
    }
  meter->last_report = now;
  if (now - meter->window_start >= G_USEC_PER_SEC)
    {
      gdouble seconds = (now - meter->window_start) / (gdouble) G_USEC_PER_SEC;
      gdouble rate = meter->window_bytes / seconds;
      /* smooth */
      meter->progress.rate = meter->progress.rate > 0 ? 0.7 * meter->progress.rate + 0.3 * rate : rate;
      meter->window_start = now;
      meter->window_bytes = 0;
    }
  else if (meter->progress.rate == 0 && now > meter->start)
    meter->progress.rate = meter->progress.bytes_done / ((now - meter->start) / (gdouble) G_USEC_PER_SEC);
  /* Files grow while they are read, and a scan may count less than the
   * walk finds: done never exceeds the total shown ("383 MB of 420 kB"). */
  if (!meter->progress.scanning)
    {
      meter->progress.bytes_total = MAX (meter->progress.bytes_total, meter->progress.bytes_done);
      if (meter->progress.files_total > 0)
        meter->progress.files_total = MAX (meter->progress.files_total, meter->progress.files_done);
    }
  /* An ETA only from final totals, and only while work remains: never
   * "less than a minute left" at 100 % with the scan still counting. */
  if (meter->progress.finished)
    meter->progress.eta_seconds = 0;
  else if (!meter->progress.scanning && meter->progress.bytes_total > meter->progress.bytes_done
           && meter->progress.rate > 1)
    meter->progress.eta_seconds = (gint64) ((meter->progress.bytes_total - meter->progress.bytes_done) / meter->progress.rate);
  else
    meter->progress.eta_seconds = -1;
  copy = meter->progress;
  file = g_strdup (meter->current_file);
  g_mutex_unlock (&meter->lock);

  copy.operation = meter->operation;
  copy.category = meter->category;
  copy.current_file = file;
  meter->func (&copy, meter->user_data);
}

void
coffer_progress_meter_finish (CofferProgressMeter *meter)
{
  if (meter == NULL)
    return;
  g_mutex_lock (&meter->lock);
  meter->progress.finished = TRUE;
  meter->progress.scanning = FALSE;
  if (meter->progress.files_total < meter->progress.files_done)
    meter->progress.files_total = meter->progress.files_done;
  g_mutex_unlock (&meter->lock);
  coffer_progress_meter_report (meter, TRUE);
}
