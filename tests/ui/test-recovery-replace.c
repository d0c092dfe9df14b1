/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Replacing the recovery key from Preferences takes effect only once the
 * new key is typed back: closing the dialog halfway (key shown, not typed
 * back) or typing a wrong key leaves the old key valid and the new one
 * worthless; typing it back replaces it and "last tested" starts over. */
#include <string.h>

#include "coffer-error.h"
#include "coffer-preferences-window.h"
#include "coffer-recovery-key.h"
#include "coffer-recovery-wizard.h"
#include "coffer-repository.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;

static gboolean
app_ready (gpointer data)
{
  return coffer_application_get_state (data) == COFFER_APP_STATE_READY;
}

static GtkWindow *
wizard_window (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);
      if (gtk_widget_get_mapped (window) && ui_test_find (window, COFFER_TYPE_RECOVERY_WIZARD, NULL) != NULL)
        return GTK_WINDOW (window);
    }
  return NULL;
}

static CofferRecoveryWizard *
wizard (void)
{
  return COFFER_RECOVERY_WIZARD (ui_test_find (GTK_WIDGET (wizard_window ()), COFFER_TYPE_RECOVERY_WIZARD, NULL));
}

static gboolean
key_shown (gpointer data)
{
  return coffer_recovery_wizard_get_key_text (data) != NULL
         && g_strcmp0 (coffer_recovery_wizard_get_page (data), "key") == 0;
}

static gboolean
wizard_answered (gpointer data)
{
  return coffer_recovery_wizard_get_confirmed (data) || coffer_recovery_wizard_get_error (data) != NULL;
}

/* Opens the repository in its own object (as another program would) and
 * checks which key opens keys/recovery. */
static gboolean
key_opens (const char *repo, const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
  g_autoptr(CofferRepository) repository = NULL;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (text, &error);

  g_assert_no_error (error);
  repository = coffer_repository_open (store, NULL, &error);
  g_assert_no_error (error);
  if (coffer_repository_verify_recovery_key (repository, key, NULL, &error))
    return TRUE;
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  return FALSE;
}

/* Shows a new key in a fresh dialog from Preferences; returns it. */
static char *
start_replacement (GtkWindow *prefs, const char *shot)
{
  CofferRecoveryWizard *w;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (prefs), "prefs.replace-recovery-key", NULL));
  g_assert_nonnull (wizard_window ());
  w = wizard ();
  if (shot != NULL)
    ui_test_screenshot (GTK_WIDGET (w), shot);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (w), "wizard.show-key", NULL));
  ui_test_wait_for (key_shown, w, 60, "new key shown");
  return g_strdup (coffer_recovery_wizard_get_key_text (w));
}

static void
test_replace_needs_type_back (void)
{
  g_autofree char *repo = g_build_filename (tmp, "repo", NULL);
  g_autofree char *old_key = NULL;
  g_autofree char *abandoned = NULL;
  g_autofree char *new_key = NULL;
  g_autoptr(CofferApplication) app = NULL;
  g_autoptr(CofferSecret) password = coffer_secret_new_from_string (PASSWORD);
  g_autoptr(GError) error = NULL;
  CofferEngine *engine;
  CofferRecoveryWizard *w;
  GtkWindow *prefs;

  {
    g_autoptr(CofferStore) store = coffer_store_open (repo, NULL, &error);
    g_autoptr(CofferRepository) repository = NULL;
    g_autoptr(CofferSecret) key = NULL;
    g_autoptr(CofferSecret) text = NULL;

    g_assert_no_error (error);
    repository = coffer_repository_create (store, password, "test", &key, NULL, &error);
    g_assert_no_error (error);
    text = coffer_recovery_key_format (key);
    old_key = g_strdup ((const char *) text->data);
  }

  app = ui_test_app_new ();
  engine = coffer_application_get_engine (app);
  g_settings_set_string (coffer_application_get_settings (app), "destination", repo);
  g_settings_set_boolean (coffer_application_get_settings (app), "setup-done", TRUE);
  coffer_application_open_repository (app, password);
  g_application_activate (G_APPLICATION (app));
  ui_test_wait_for (app_ready, app, 60, "repository open");
  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  prefs = ui_test_find_window (COFFER_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (prefs);

  /* The old key was tested once: that time belongs to it. */
  g_assert_true (key_opens (repo, old_key));
  {
    g_autoptr(CofferSecret) key = coffer_recovery_key_parse (old_key, NULL);
    g_assert_true (coffer_repository_verify_recovery_key (coffer_engine_get_repository (engine), key, NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (coffer_engine_get_recovery_key_tested (engine), >, 0);

  /* 1. Key shown, dialog closed: nothing changed. */
  abandoned = start_replacement (prefs, "recovery-replace-intro");
  g_assert_true (coffer_engine_has_pending_recovery_key (engine));
  ui_test_screenshot (GTK_WIDGET (wizard ()), "recovery-replace-key-shown");
  gtk_window_destroy (wizard_window ());
  ui_test_flush (GTK_WIDGET (prefs));
  g_assert_false (coffer_engine_has_pending_recovery_key (engine));
  g_assert_true (key_opens (repo, old_key));
  g_assert_false (key_opens (repo, abandoned));
  g_assert_cmpint (coffer_engine_get_recovery_key_tested (engine), >, 0);

  /* 2. Typed back wrong (the abandoned key): refused, still nothing. */
  new_key = start_replacement (prefs, NULL);
  g_assert_cmpstr (new_key, !=, abandoned);
  w = wizard ();
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (w), "wizard.to-verify", NULL));
  coffer_recovery_wizard_verify (w, abandoned);
  ui_test_wait_for (wizard_answered, w, 60, "wrong key refused");
  g_assert_false (coffer_recovery_wizard_get_confirmed (w));
  g_assert_nonnull (strstr (coffer_recovery_wizard_get_error (w), "not the new recovery key"));
  ui_test_screenshot (GTK_WIDGET (w), "recovery-replace-wrong-key");
  g_assert_true (key_opens (repo, old_key));
  g_assert_false (key_opens (repo, new_key));

  /* 3. Typed back right: replaced, and never tested yet. */
  coffer_recovery_wizard_verify (w, new_key);
  ui_test_wait_for (wizard_answered, w, 60, "new key confirmed");
  g_assert_true (coffer_recovery_wizard_get_confirmed (w));
  ui_test_screenshot (GTK_WIDGET (w), "recovery-replace-done");
  g_assert_false (key_opens (repo, old_key));
  g_assert_true (key_opens (repo, new_key));
  g_assert_cmpint (coffer_engine_get_recovery_key_tested (engine), ==, 0);
  gtk_window_destroy (wizard_window ());
  ui_test_screenshot (GTK_WIDGET (prefs), "recovery-replace-prefs-untested");

  gtk_window_destroy (prefs);
  ui_test_quit (app);
}

int
main (int argc, char **argv)
{
  tmp = ui_test_init (&argc, &argv);
  g_test_add_func ("/ui/recovery-replace/needs-type-back", test_replace_needs_type_back);
  return ui_test_run (tmp);
}
