/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdarg.h>
#include <adwaita.h>
#include "coffer-application.h"
#include "coffer-window.h"

G_BEGIN_DECLS

/* Points HOME and the XDG folders into a fresh temporary directory (call
 * first thing in main), inits GTK/libadwaita and the core. Returns the
 * directory. */
char  *ui_test_init (int *argc, char ***argv);

/* A CofferApplication registered (startup done) without a D-Bus name. */
CofferApplication *ui_test_app_new (void);

typedef gboolean (*UiTestCondition) (gpointer data);
/* Iterates the main context until cond holds; fails the test after
 * timeout_s seconds. Never sleeps. */
void   ui_test_wait_for (UiTestCondition cond, gpointer data, guint timeout_s, const char *what);
/* Lets pending layout and drawing happen. */
void   ui_test_flush (GtkWidget *widget);
/* Saves a PNG of widget's window to $builddir/tests/ui/screenshots/NAME.png. */
void   ui_test_screenshot (GtkWidget *widget, const char *name);
/* Finds the first descendant of widget of type, optionally with a title,
 * label or name equal to text. */
GtkWidget *ui_test_find (GtkWidget *widget, GType type, const char *text);
/* Any open window of the type, or NULL. */
GtkWindow *ui_test_find_window (GType type);
/* Activates the app's "quit" action and lets what it scheduled run; fails
 * the test when one of the application's windows is not finalized then (a
 * leaked reference to it). */
void   ui_test_quit (CofferApplication *app);
/* Runs the added tests, then removes and frees tmp (from ui_test_init).
 * Returns g_test_run's result. */
int    ui_test_run (char *tmp);

/* Runs the coffer CLI ($COFFER_CLI) as another computer: HOME and the XDG
 * folders below home, COFFER_REPO=repo, COFFER_PASSWORD=password, the
 * arguments from first on (NULL-terminated in ap), stdin empty. Logs the
 * output with who as prefix; returns it, or NULL when the command failed. */
char  *ui_test_run_cli_va (const char *who, const char *home, const char *repo, const char *password,
                           const char *first, va_list ap);

/* Conditions for ui_test_wait_for; data: the CofferApplication. */
gboolean ui_test_app_is_ready  (gpointer app);
gboolean ui_test_app_is_locked (gpointer app);
gboolean ui_test_app_is_error  (gpointer app);
/* data: the app; TRUE once its history has as many entries as the number
 * set on it as "want" and the engine is idle. */
gboolean ui_test_history_grew  (gpointer data);
/* Conditions for ui_test_wait_for; data: a CofferRestoreWindow. Loaded:
 * done loading, with a point in time and files listed. Finished: a restore
 * ended with a result or a dialog. Not loading: whatever it shows. */
gboolean ui_test_restore_loaded   (gpointer window);
gboolean ui_test_restore_finished (gpointer window);
gboolean ui_test_restore_idle     (gpointer window);
/* Back Up Now, then waits for its history entry. */
void     ui_test_backup_now_and_wait (CofferApplication *app);
/* The main window's status row. */
const char *ui_test_status_title    (CofferWindow *window);
const char *ui_test_status_subtitle (CofferWindow *window);

G_END_DECLS
