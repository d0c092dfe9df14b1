/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib/gstdio.h>

#include "coffer-secret.h"
#include "test-utils.h"
#include "ui-test-utils.h"
#include "coffer-restore-window.h"
#include "coffer-worker-pool.h"

char *
ui_test_init (int *argc, char ***argv)
{
  g_autofree char *tmp = coffer_test_mkdtemp ();
  const char *dirs[][2] = {
    { "HOME", "home" }, { "XDG_CONFIG_HOME", "home/.config" }, { "XDG_DATA_HOME", "home/.local/share" },
    { "XDG_STATE_HOME", "home/.local/state" }, { "XDG_CACHE_HOME", "home/.cache" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (tmp, dirs[i][1], NULL);
      g_mkdir_with_parents (path, 0700);
      g_setenv (dirs[i][0], path, TRUE);
    }
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("COFFER_TESTING", "1", TRUE);
  g_setenv ("COFFER_TEST_FAST_KDF", "1", TRUE);
  g_setenv ("COFFER_KEYRING", "none", TRUE);
  g_setenv ("ADW_DISABLE_PORTAL", "1", TRUE);
  g_setenv ("GDK_DEBUG", "portals", FALSE);
  /* The accessibility test (a11y-test.sh) brings its own session bus with
   * the AT-SPI bus on it; every other UI test runs without either. */
  if (g_strcmp0 (g_getenv ("COFFER_TEST_A11Y"), "1") != 0)
    {
      g_setenv ("GTK_A11Y", "none", FALSE);
      g_setenv ("NO_AT_BRIDGE", "1", TRUE);
      g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
    }

  g_test_init (argc, argv, NULL);
  coffer_core_init ();
  gtk_init ();
  adw_init ();
  return g_steal_pointer (&tmp);
}

CofferApplication *
ui_test_app_new (void)
{
  CofferApplication *app = coffer_application_new ();
  g_autoptr(GError) error = NULL;

  g_application_set_flags (G_APPLICATION (app),
                           G_APPLICATION_HANDLES_COMMAND_LINE | G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  /* The app's startup lowers the backup's and restore's threads below the
   * window (coffer-worker-pool.h). The tests put them back: with two test
   * programs sharing two cores, a backup lowered by 10 gets a tenth of the
   * CPU the other program gets, and its time limits would measure the
   * machine's load. bench-frames measures the app's real setting. */
  g_assert_cmpint (coffer_worker_pool_get_nice (), ==, COFFER_WORKER_NICE_APP);
  coffer_worker_pool_set_nice (0);
  return app;
}

void
ui_test_wait_for (UiTestCondition cond, gpointer data, guint timeout_s, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  /* Wakes the context at the deadline when nothing else would. */
  g_autoptr(GSource) alarm = g_timeout_source_new_seconds (timeout_s + 1);

  g_source_set_dummy_callback (alarm);
  g_source_attach (alarm, NULL);
  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %u s waiting for: %s", timeout_s, what);
      /* may_block: a worker thread or a timeout wakes the context */
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_destroy (alarm);
}

static gboolean
tick_cb (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  guint *ticks = data;
  (*ticks)++;
  return G_SOURCE_CONTINUE;
}

static gboolean
ticks_done (gpointer data)
{
  return *(guint *) data >= 3;
}

void
ui_test_flush (GtkWidget *widget)
{
  guint ticks = 0;
  guint id;

  /* Three frames: layout, a transition start and a paint. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  if (!gtk_widget_get_mapped (widget))
    return;
  id = gtk_widget_add_tick_callback (widget, tick_cb, &ticks, NULL);
  ui_test_wait_for (ticks_done, &ticks, 10, "frames to be drawn");
  gtk_widget_remove_tick_callback (widget, id);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gboolean
any_transition (GtkWidget *widget)
{
  if (GTK_IS_STACK (widget) && gtk_stack_get_transition_running (GTK_STACK (widget)))
    return TRUE;
  if (GTK_IS_REVEALER (widget) &&
      gtk_revealer_get_child_revealed (GTK_REVEALER (widget)) != gtk_revealer_get_reveal_child (GTK_REVEALER (widget)))
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    if (any_transition (child))
      return TRUE;
  return FALSE;
}

static gboolean
transitions_done (gpointer data)
{
  return !any_transition (data);
}

typedef struct {
  GtkWidget *root;
  GskRenderNode *node;
} Shot;

static gboolean
shot_taken (gpointer data)
{
  Shot *shot = data;
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  int width = gtk_widget_get_width (shot->root);
  int height = gtk_widget_get_height (shot->root);

  /* A widget paintable is empty while the widget is unmapped or waits for
   * a new allocation (a resize queued by the last change): then try again
   * after the next frame. */
  if (!gtk_widget_get_mapped (shot->root) || width <= 0 || height <= 0)
    return FALSE;
  if (!transitions_done (shot->root))
    return FALSE;
  paintable = gtk_widget_paintable_new (shot->root);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  shot->node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  return shot->node != NULL;
}

void
ui_test_screenshot (GtkWidget *widget, const char *name)
{
  Shot shot = { GTK_WIDGET (gtk_widget_get_root (widget)), NULL };
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *dir = g_build_filename (g_getenv ("G_TEST_BUILDDIR") ? g_getenv ("G_TEST_BUILDDIR") : ".",
                                           "screenshots", NULL);
  g_autofree char *file = g_strconcat (name, ".png", NULL);
  g_autofree char *path = g_build_filename (dir, file, NULL);
  GskRenderer *renderer;

  ui_test_flush (shot.root);
  ui_test_wait_for (shot_taken, &shot, 10, "the window to be drawn for a screenshot");
  node = shot.node;
  renderer = gtk_native_get_renderer (GTK_NATIVE (shot.root));
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0,
                                                              gtk_widget_get_width (shot.root),
                                                              gtk_widget_get_height (shot.root)));
  g_mkdir_with_parents (dir, 0755);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

static gboolean
matches (GtkWidget *widget, GType type, const char *text)
{
  if (!g_type_is_a (G_OBJECT_TYPE (widget), type))
    return FALSE;
  if (text == NULL)
    return TRUE;
  if (ADW_IS_PREFERENCES_ROW (widget) &&
      g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), text) == 0)
    return TRUE;
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (widget)), text) == 0)
    return TRUE;
  if (GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0)
    return TRUE;
  return g_strcmp0 (gtk_widget_get_name (widget), text) == 0;
}

GtkWidget *
ui_test_find (GtkWidget *widget, GType type, const char *text)
{
  if (matches (widget, type, text))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = ui_test_find (child, type, text);
      if (found != NULL)
        return found;
    }
  return NULL;
}

GtkWindow *
ui_test_find_window (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* transfer none */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);
      if (g_type_is_a (G_OBJECT_TYPE (window), type) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return window;
    }
  return NULL;
}

static gboolean
all_finalized (gpointer data)
{
  GPtrArray *weak = data;

  for (guint i = 0; i < weak->len; i++)
    if (*(gpointer *) g_ptr_array_index (weak, i) != NULL)
      return FALSE;
  return TRUE;
}

void
ui_test_quit (CofferApplication *app)
{
  g_autoptr(GPtrArray) weak = g_ptr_array_new_with_free_func (g_free);

  /* Weak pointers to the application's windows: quitting destroys them,
   * and a reference still held somewhere would keep one alive (a leak). */
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l != NULL; l = l->next)
    {
      gpointer *window = g_new (gpointer, 1);

      *window = l->data;
      g_test_message ("quitting: %s", G_OBJECT_TYPE_NAME (*window));
      g_object_add_weak_pointer (*window, window);
      g_ptr_array_add (weak, window);
    }
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  ui_test_wait_for (all_finalized, weak, 30, "the windows to be finalized after quit");
}

int
ui_test_run (char *tmp)
{
  int ret = g_test_run ();

  coffer_test_rmtree (tmp);
  g_free (tmp);
  return ret;
}

char *
ui_test_run_cli_va (const char *who, const char *home, const char *repo, const char *password,
                    const char *first, va_list ap)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE |
                                                                       G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) cli = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *data = g_build_filename (home, ".local/share", NULL);
  g_autofree char *state = g_build_filename (home, ".local/state", NULL);
  g_autofree char *config = g_build_filename (home, ".config", NULL);
  g_autofree char *cache = g_build_filename (home, ".cache", NULL);
  const char *arg;

  g_ptr_array_add (argv, (gpointer) g_getenv ("COFFER_CLI"));
  g_ptr_array_add (argv, (gpointer) first);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_setenv (launcher, "HOME", home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", state, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CACHE_HOME", cache, TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_REPO", repo, TRUE);
  g_subprocess_launcher_setenv (launcher, "COFFER_PASSWORD", password, TRUE);
  cli = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (cli, "", NULL, &output, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s: coffer %s: %s", who, first, output);
  if (!g_subprocess_get_successful (cli))
    return NULL;
  return g_steal_pointer (&output);
}

/* ---- the application's state and the main window's status row ---- */

gboolean
ui_test_app_is_ready (gpointer app)
{
  return coffer_application_get_state (app) == COFFER_APP_STATE_READY;
}

gboolean
ui_test_app_is_locked (gpointer app)
{
  return coffer_application_get_state (app) == COFFER_APP_STATE_LOCKED;
}

gboolean
ui_test_app_is_error (gpointer app)
{
  return coffer_application_get_state (app) == COFFER_APP_STATE_ERROR;
}

gboolean
ui_test_history_grew (gpointer data)
{
  CofferApplication *app = data;
  guint want = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (app), "want"));

  return coffer_history_get_n_entries (coffer_application_get_history (app)) >= want &&
         !coffer_engine_get_busy (coffer_application_get_engine (app));
}

void
ui_test_backup_now_and_wait (CofferApplication *app)
{
  guint n = coffer_history_get_n_entries (coffer_application_get_history (app));

  g_object_set_data (G_OBJECT (app), "want", GUINT_TO_POINTER (n + 1));
  g_action_group_activate_action (G_ACTION_GROUP (app), "backup-now", NULL);
  ui_test_wait_for (ui_test_history_grew, app, 120, "backup");
}

static GtkWidget *
window_child (CofferWindow *window, const char *name)
{
  return GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window), COFFER_TYPE_WINDOW, name));
}

const char *
ui_test_status_title (CofferWindow *window)
{
  return adw_preferences_row_get_title (ADW_PREFERENCES_ROW (window_child (window, "status_row")));
}

const char *
ui_test_status_subtitle (CofferWindow *window)
{
  return adw_action_row_get_subtitle (ADW_ACTION_ROW (window_child (window, "status_row")));
}

gboolean
ui_test_restore_loaded (gpointer window)
{
  return !coffer_restore_window_get_loading (window) && coffer_restore_window_get_n_snapshots (window) > 0
         && g_list_model_get_n_items (coffer_restore_window_get_files (window)) > 0;
}

gboolean
ui_test_restore_finished (gpointer window)
{
  return coffer_restore_window_get_result (window) != NULL || coffer_restore_window_get_dialog (window) != NULL;
}

gboolean
ui_test_restore_idle (gpointer window)
{
  return !coffer_restore_window_get_loading (window);
}
