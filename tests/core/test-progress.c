/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Honest progress: the totals of a backup come from a scan of the data
 * running alongside it, not from the previous snapshot's size. While the
 * scan counts, the reports say so (scanning) and carry no ETA; the bytes
 * done never exceed the total shown; an ETA is never given with no work
 * left by the totals. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-progress.h"
#include "repo-fixture.h"

#define PASSWORD "progress password"
#define MiB (1024 * 1024)

typedef struct
{
  GMutex  lock;
  GArray *reports;   /* CofferProgress (pointers cleared) */
} Reports;

static void
collect (const CofferProgress *progress, gpointer user_data)
{
  Reports *r = user_data;
  CofferProgress copy = *progress;

  copy.operation = copy.category = copy.current_file = NULL;
  g_mutex_lock (&r->lock);
  g_array_append_val (r->reports, copy);
  g_mutex_unlock (&r->lock);
}

static void
assert_honest (const CofferProgress *p)
{
  if (p->scanning)
    g_assert_cmpint (p->eta_seconds, ==, -1);
  else if (p->bytes_total > 0)
    g_assert_cmpuint (p->bytes_done, <=, p->bytes_total);
  if (p->eta_seconds > 0)
    g_assert_cmpuint (p->bytes_done, <, p->bytes_total);
}

/* The second backup of a folder that grew 50-fold since the first: the
 * old totals (the first snapshot's size) must not be what is shown. */
static void
test_backup_totals_from_scan (void)
{
  g_autofree char *repo_dir = fixture_dir ("repo");
  g_autofree char *src = fixture_dir ("src");
  g_autoptr(CofferSecret) rk = NULL;
  g_auto(FixtureRepository) repo = NULL;
  g_autoptr(CofferSnapshot) first = NULL;
  g_autoptr(CofferSnapshot) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  Reports r = { 0 };
  const CofferProgress *last;
  guint64 tree_bytes;

  fixture_make_small_tree (src, 3);
  repo = fixture_create (repo_dir, PASSWORD, &rk);
  cid = fixture_add_category (repo, "Docs", COFFER_LEVEL_STANDARD, src);
  first = fixture_backup (repo, cid);

  for (guint i = 0; i < 24; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/big-%02u.bin", src, i);
      coffer_test_write_random (path, MiB, 1000 + i);
    }
  tree_bytes = fixture_tree_bytes (src);
  g_assert_cmpuint (tree_bytes, >, 50 * first->bytes);

  g_mutex_init (&r.lock);
  r.reports = g_array_new (FALSE, TRUE, sizeof (CofferProgress));
  second = coffer_backup_run (repo, cid, collect, &r, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (second);

  g_assert_cmpuint (r.reports->len, >, 0);
  for (guint i = 0; i < r.reports->len; i++)
    {
      const CofferProgress *p = &g_array_index (r.reports, CofferProgress, i);

      assert_honest (p);
      /* Once the scan is done, the total is this run's data, not the
       * first snapshot's size (nor done, raised as it goes). */
      if (!p->scanning && p->bytes_total > 0)
        g_assert_cmpuint (p->bytes_total, ==, tree_bytes);
    }
  last = &g_array_index (r.reports, CofferProgress, r.reports->len - 1);
  g_assert_true (last->finished);
  g_assert_false (last->scanning);
  g_assert_cmpuint (last->bytes_total, ==, tree_bytes);
  g_assert_cmpuint (last->bytes_done, ==, tree_bytes);
  g_test_message ("%u reports; final %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT,
                  r.reports->len, last->bytes_done, last->bytes_total);
  g_array_unref (r.reports);
  g_mutex_clear (&r.lock);
}

/* The meter itself, step by step. */
static void
test_meter (void)
{
  Reports r = { 0 };
  g_autoptr(CofferProgressMeter) meter = NULL;
  const CofferProgress *p;

  g_mutex_init (&r.lock);
  r.reports = g_array_new (FALSE, TRUE, sizeof (CofferProgress));
  meter = coffer_progress_meter_new ("backup", "Docs", collect, &r);

  /* Scanning: the found amount grows, no ETA even with a rate. */
  coffer_progress_meter_set_scanned (meter, 10, 1000);
  coffer_progress_meter_add (meter, 1, 800, 0, "a");
  coffer_progress_meter_report (meter, TRUE);
  p = &g_array_index (r.reports, CofferProgress, r.reports->len - 1);
  g_assert_true (p->scanning);
  g_assert_cmpint (p->eta_seconds, ==, -1);
  g_assert_cmpuint (p->bytes_total, ==, 1000);

  /* Done passes what the scan found so far: still no ETA, no clamping of
   * a total that is still growing. */
  coffer_progress_meter_add (meter, 1, 700, 0, "b");
  coffer_progress_meter_report (meter, TRUE);
  p = &g_array_index (r.reports, CofferProgress, r.reports->len - 1);
  g_assert_cmpint (p->eta_seconds, ==, -1);

  /* The scan ends below what was done (a file grew while being read): the
   * total shown is never less than done, and with nothing left by it there
   * is no "less than a minute left" until the operation finishes. */
  coffer_progress_meter_set_totals (meter, 2, 1200);
  coffer_progress_meter_report (meter, TRUE);
  p = &g_array_index (r.reports, CofferProgress, r.reports->len - 1);
  g_assert_false (p->scanning);
  g_assert_cmpuint (p->bytes_total, ==, 1500);
  g_assert_cmpuint (p->bytes_done, ==, 1500);
  g_assert_cmpint (p->eta_seconds, ==, -1);
  g_assert_false (p->finished);

  coffer_progress_meter_finish (meter);
  p = &g_array_index (r.reports, CofferProgress, r.reports->len - 1);
  g_assert_true (p->finished);
  g_assert_cmpint (p->eta_seconds, ==, 0);
  g_array_unref (r.reports);
  g_mutex_clear (&r.lock);
}

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);
  g_test_add_func ("/progress/meter", test_meter);
  g_test_add_func ("/progress/backup-totals-from-scan", test_backup_totals_from_scan);
  return g_test_run ();
}
