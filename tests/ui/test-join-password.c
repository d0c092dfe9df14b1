/* SPDX-License-Identifier: GPL-3.0-or-later */
/* "Restore from an existing backup" with the backup password: computer A
 * (the CLI with its own home) backs up its Pictures; computer B (the app)
 * opens the backup with the password first, restores A's files into its
 * own ~/Pictures, then chooses what to back up; the password is not asked
 * twice and the step counter goes 1…6 without jumping. */
#include <string.h>
#include <glib/gstdio.h>

#include "coffer-category-item.h"
#include "coffer-category-row.h"
#include "coffer-setup-assistant.h"
#include "coffer-window.h"
#include "test-utils.h"
#include "ui-test-utils.h"

#define PASSWORD "a long and unusual backup passphrase"

static char *tmp;
static char *home_a;
static char *repo;

/* Runs the CLI as computer A; returns its output, NULL when it failed. */
static char * G_GNUC_NULL_TERMINATED
run_a (const char *first, ...)
{
  va_list ap;
  char *output;

  va_start (ap, first);
  output = ui_test_run_cli_va ("A", home_a, repo, PASSWORD, first, ap);
  va_end (ap);
  return output;
}

#define RUN_A_OK(...) G_STMT_START { char *out_ = run_a (__VA_ARGS__); g_assert_nonnull (out_); g_free (out_); } G_STMT_END

static gboolean
page_is (gpointer data)
{
  return !coffer_setup_assistant_get_busy (data) &&
         g_strcmp0 (coffer_setup_assistant_get_page (data),
                    g_object_get_data (G_OBJECT (data), "wanted-page")) == 0;
}

static void
wait_page (CofferSetupAssistant *assistant, const char *name)
{
  g_object_set_data_full (G_OBJECT (assistant), "wanted-page", g_strdup (name), g_free);
  ui_test_wait_for (page_is, assistant, 60, name);
}

/* The "Step N of M" subtitle: checks that going forward it goes up by one
 * and keeps its total. */
static void
check_step (CofferSetupAssistant *assistant, guint want_step, guint want_total)
{
  GObject *title = gtk_widget_get_template_child (GTK_WIDGET (assistant), COFFER_TYPE_SETUP_ASSISTANT,
                                                  "window_title");
  g_autofree char *want = g_strdup_printf ("Step %u of %u", want_step, want_total);

  g_test_message ("%s: %s", coffer_setup_assistant_get_page (assistant),
                  adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title)));
  g_assert_cmpstr (adw_window_title_get_subtitle (ADW_WINDOW_TITLE (title)), ==, want);
}

static void
next (CofferSetupAssistant *assistant)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.next", NULL));
}

static void
test_join_password (void)
{
  g_autofree char *pictures_a = g_build_filename (home_a, "Pictures", NULL);
  g_autofree char *pictures_b = g_build_filename (g_get_home_dir (), "Pictures", NULL);
  g_autofree char *a1 = g_build_filename (pictures_a, "A_1.jpg", NULL);
  g_autofree char *a1_on_b = g_build_filename (pictures_b, "A_1.jpg", NULL);
  g_autoptr(CofferApplication) app = NULL;
  CofferSetupAssistant *assistant;
  GObject *entry;

  g_mkdir_with_parents (pictures_a, 0755);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *a = g_strdup_printf ("%s/A_%u.jpg", pictures_a, i);
      coffer_test_write_random (a, 4000 + i * 1000, 21 + i);
    }
  RUN_A_OK ("init", NULL);
  RUN_A_OK ("category", "add", "Photos", pictures_a, NULL);
  RUN_A_OK ("backup", NULL);

  app = ui_test_app_new ();
  g_application_activate (G_APPLICATION (app));
  assistant = COFFER_SETUP_ASSISTANT (ui_test_find_window (COFFER_TYPE_SETUP_ASSISTANT));
  g_assert_nonnull (assistant);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.restore-existing", NULL));
  check_step (assistant, 1, 6);
  coffer_setup_assistant_set_folder (assistant, repo);
  next (assistant);
  wait_page (assistant, "way-in");
  check_step (assistant, 2, 6);
  next (assistant);                                  /* the password way is the default */
  g_assert_cmpstr (coffer_setup_assistant_get_page (assistant), ==, "password");
  check_step (assistant, 3, 6);
  entry = gtk_widget_get_template_child (GTK_WIDGET (assistant), COFFER_TYPE_SETUP_ASSISTANT, "password_entry");
  gtk_editable_set_text (GTK_EDITABLE (entry), PASSWORD);
  ui_test_screenshot (GTK_WIDGET (assistant), "setup-password-way");
  next (assistant);
  wait_page (assistant, "restore");
  check_step (assistant, 4, 6);
  next (assistant);
  wait_page (assistant, "categories");
  check_step (assistant, 5, 6);
  coffer_test_assert_same_tree (a1, a1_on_b, FALSE);
  {
    GListStore *items = coffer_setup_assistant_get_categories (assistant);
    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (items)); i++)
      {
        g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (items), i);
        coffer_category_item_set_enabled (item, g_strcmp0 (coffer_category_item_get_name (item), "Photos") == 0);
      }
  }
  next (assistant);
  wait_page (assistant, "protection");
  check_step (assistant, 6, 6);
  next (assistant);
  wait_page (assistant, "done");                     /* no second password question */
  ui_test_screenshot (GTK_WIDGET (assistant), "setup-password-way-done");
  gtk_window_destroy (GTK_WINDOW (assistant));
  ui_test_quit (app);
}

int
main (int argc, char *argv[])
{
  int ret;

  tmp = ui_test_init (&argc, &argv);
  home_a = g_build_filename (tmp, "computer-a", NULL);
  repo = g_build_filename (tmp, "shared-repo", NULL);
  g_mkdir_with_parents (home_a, 0700);
  g_test_add_func ("/ui/join-password", test_join_password);
  ret = ui_test_run (tmp);
  g_free (home_a);
  g_free (repo);
  return ret;
}
