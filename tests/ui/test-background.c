/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Service mode: `coffer-app --background` keeps running without a window
 * (what the Background portal autostarts), and the schedule computes the
 * next run from the settings. */
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

static char *tmp;

static gboolean
check_service_mode (gpointer data)
{
  CofferApplication *app = data;

  /* Running, held, and no window was opened. */
  g_assert_null (gtk_application_get_windows (GTK_APPLICATION (app)));
  g_assert_true (g_application_get_is_registered (G_APPLICATION (app)));
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  return G_SOURCE_REMOVE;
}

static void
test_background_mode (void)
{
  g_autoptr(CofferApplication) app = coffer_application_new ();
  char *argv[] = { (char *) "coffer-app", (char *) "--background", NULL };
  int status;

  g_application_set_flags (G_APPLICATION (app),
                           G_APPLICATION_HANDLES_COMMAND_LINE | G_APPLICATION_NON_UNIQUE);
  g_idle_add (check_service_mode, app);
  /* Returns only once the hold taken for --background is released. */
  status = g_application_run (G_APPLICATION (app), 2, argv);
  g_assert_cmpint (status, ==, 0);
}

static void
test_schedule (void)
{
  g_autoptr(CofferApplication) app = ui_test_app_new ();
  GSettings *settings = coffer_application_get_settings (app);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 next;

  g_settings_set_string (settings, "schedule", "off");
  g_assert_cmpint (coffer_application_get_next_backup (app), ==, 0);

  /* Hourly: an hour after the last backup, or now when there was none. */
  g_settings_set_string (settings, "schedule", "hourly");
  g_settings_set_int64 (settings, "last-backup", 0);
  g_assert_cmpint (coffer_application_get_next_backup (app), <=, now + 1);
  g_settings_set_int64 (settings, "last-backup", now);
  g_assert_cmpint (coffer_application_get_next_backup (app), ==, now + 3600);

  /* Daily at a time: today or tomorrow at that time, after the last run. */
  g_settings_set_string (settings, "schedule", "daily");
  g_settings_set_uint (settings, "schedule-time", 3 * 60 + 30);
  next = coffer_application_get_next_backup (app);
  {
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (next);
    g_assert_cmpint (g_date_time_get_hour (dt), ==, 3);
    g_assert_cmpint (g_date_time_get_minute (dt), ==, 30);
    g_assert_cmpint (next, >, now);
    g_assert_cmpint (next, <=, now + 24 * 3600 + 3600);
  }

  /* Weekly: on the chosen day. */
  g_settings_set_string (settings, "schedule", "weekly");
  g_settings_set_uint (settings, "schedule-weekday", 3);
  next = coffer_application_get_next_backup (app);
  {
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (next);
    g_assert_cmpint (g_date_time_get_day_of_week (dt), ==, 3);
    g_assert_cmpint (next, >, now);
    g_assert_cmpint (next, <=, now + 8 * 24 * 3600);
  }
}

int
main (int argc, char *argv[])
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/background/service-mode", test_background_mode);
  g_test_add_func ("/ui/background/schedule", test_schedule);
  return ui_test_run (tmp);
}
