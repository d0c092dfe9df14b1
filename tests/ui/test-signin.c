/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The destination page's sign-in to Google Drive (issue #10): the page
 * waits with a spinner, the "Waiting for you to sign in…" text and Cancel;
 * Cancel leaves no rclone running; a sign-in that the "browser" (curl,
 * following the redirects, played by the test) completes puts the token in
 * the keyring. The provider is tests/integration/fake-oauth.py on
 * 127.0.0.1, the only fake in the tests. Runs under run-with-keyring.sh
 * (a real gnome-keyring-daemon). */
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "coffer-keyring.h"
#include "coffer-rclone.h"
#include "coffer-setup-assistant.h"
#include "test-utils.h"
#include "ui-test-utils.h"

static char *tmp;

/* Children of this process whose command line is "rclone authorize …". */
static guint
count_authorize (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *cmd_path = g_build_filename ("/proc", name, "cmdline", NULL);
      g_autofree char *stat_path = g_build_filename ("/proc", name, "stat", NULL);
      g_autofree char *cmd = NULL, *stat = NULL;
      gsize len = 0;
      const char *after;

      if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (cmd_path, &cmd, &len, NULL)
          || !g_file_get_contents (stat_path, &stat, NULL, NULL))
        continue;
      /* argv[0] "rclone", argv[1] "authorize" */
      if (len < 17 || !g_str_has_suffix (cmd, "rclone") || strcmp (cmd + strlen (cmd) + 1, "authorize") != 0)
        continue;
      /* stat: "pid (comm) state ppid …"; also zombies count: not reaped */
      after = strrchr (stat, ')');
      if (after != NULL && g_ascii_strtoll (after + 4, NULL, 10) == getpid ())
        n++;
    }
  return n;
}

static gboolean
port_53682_free (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (53682) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean connected;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  connected = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
  close (fd);
  return !connected;
}

static gboolean
has_link (gpointer data)
{
  GObject *row = gtk_widget_get_template_child (data, COFFER_TYPE_DESTINATION_PAGE, "link_row");
  return gtk_widget_get_visible (GTK_WIDGET (row));
}

static gboolean
not_signing_in (gpointer data)
{
  return !coffer_destination_page_get_signing_in (data);
}

static const char *
link_uri (CofferDestinationPage *page)
{
  GObject *link = gtk_widget_get_template_child (GTK_WIDGET (page), COFFER_TYPE_DESTINATION_PAGE, "signin_link");
  return gtk_link_button_get_uri (GTK_LINK_BUTTON (link));
}

static const char *
signin_subtitle (CofferDestinationPage *page)
{
  GObject *row = gtk_widget_get_template_child (GTK_WIDGET (page), COFFER_TYPE_DESTINATION_PAGE, "signin_row");
  return adw_action_row_get_subtitle (ADW_ACTION_ROW (row));
}

static void
test_sign_in (void)
{
  g_autoptr(CofferApplication) app = ui_test_app_new ();
  g_autofree char *srcdir = g_test_build_filename (G_TEST_DIST, "..", "integration", "fake-oauth.py", NULL);
  g_autofree char *portfile = g_build_filename (tmp, "fake-port", NULL);
  g_autofree char *tokens_path = g_strconcat (portfile, ".tokens", NULL);
  g_autofree char *port = NULL, *url = NULL, *tokens = NULL;
  g_autoptr(GSubprocess) server = NULL, browser = NULL;
  g_autoptr(GDataInputStream) server_out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) stored = NULL;
  g_autoptr(CofferDestination) dest = NULL;
  g_auto(GStrv) issued = NULL;
  CofferSetupAssistant *assistant;
  CofferDestinationPage *page;
  GObject *kind;

  if (!coffer_keyring_is_available ())
    {
      g_test_skip ("no keyring (run under run-with-keyring.sh service)");
      return;
    }
  server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "python3", srcdir, portfile, NULL);
  g_assert_no_error (error);
  server_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  /* Blocks until the server listens (it prints its port then). */
  port = g_data_input_stream_read_line (server_out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (port);
  url = g_strdup_printf ("http://127.0.0.1:%s/auth", port);
  g_setenv ("RCLONE_DRIVE_AUTH_URL", url, TRUE);
  g_free (url);
  url = g_strdup_printf ("http://127.0.0.1:%s/token", port);
  g_setenv ("RCLONE_DRIVE_TOKEN_URL", url, TRUE);
  g_setenv ("RCLONE_DRIVE_CLIENT_ID", "coffer-test-client", TRUE);
  g_setenv ("RCLONE_DRIVE_CLIENT_SECRET", "coffer-test-secret", TRUE);
  /* No browser here: gtk_show_uri has nothing to open, and the page
   * offers the link. */
  g_setenv ("BROWSER", "true", TRUE);

  g_application_activate (G_APPLICATION (app));
  assistant = COFFER_SETUP_ASSISTANT (ui_test_find_window (COFFER_TYPE_SETUP_ASSISTANT));
  g_assert_nonnull (assistant);
  /* Tall enough that the screenshots show the sign-in rows. */
  gtk_window_set_default_size (GTK_WINDOW (assistant), 640, 1010);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.next", NULL));
  g_assert_cmpstr (coffer_setup_assistant_get_page (assistant), ==, "destination");
  page = coffer_setup_assistant_get_destination_page (assistant);
  kind = gtk_widget_get_template_child (GTK_WIDGET (page), COFFER_TYPE_DESTINATION_PAGE, "kind_gdrive");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (kind), TRUE);
  g_assert_cmpstr (signin_subtitle (page), ==, "Not signed in");

  /* 1. Sign in, then Cancel while the page waits for the browser. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "destination.sign-in", NULL));
  g_assert_true (coffer_destination_page_get_signing_in (page));
  ui_test_wait_for (has_link, page, 60, "the sign-in address from rclone");
  g_assert_true (g_str_has_prefix (link_uri (page), "http://127.0.0.1:53682/auth"));
  g_assert_cmpstr (signin_subtitle (page), ==, "Waiting for you to sign in to Google Drive in your browser…");
  g_assert_cmpuint (count_authorize (), ==, 1);
  ui_test_screenshot (GTK_WIDGET (assistant), "signin-1-waiting");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "destination.cancel-sign-in", NULL));
  ui_test_wait_for (not_signing_in, page, 30, "the cancelled sign-in");
  g_assert_cmpuint (count_authorize (), ==, 0);
  g_assert_true (port_53682_free ());
  g_assert_cmpstr (signin_subtitle (page), ==, "Not signed in");
  g_assert_null (coffer_destination_page_build (page, NULL));

  /* 2. Sign in again; the "browser" opens the link and follows the
   * redirects to the provider and back to rclone. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "destination.sign-in", NULL));
  ui_test_wait_for (has_link, page, 60, "the sign-in address from rclone");
  browser = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, "curl", "-sS", "-L", link_uri (page), NULL);
  g_assert_no_error (error);
  ui_test_wait_for (not_signing_in, page, 60, "the sign-in");
  g_test_message ("signed in: %s", signin_subtitle (page));
  g_assert_cmpstr (coffer_destination_page_get_signed_in_remote (page), ==, "gdrive");
  g_assert_true (g_str_has_prefix (signin_subtitle (page), "Signed in."));
  g_assert_cmpuint (count_authorize (), ==, 0);
  ui_test_screenshot (GTK_WIDGET (assistant), "signin-2-signed-in");

  dest = coffer_destination_page_build (page, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (dest->location, ==, "rclone:gdrive:Coffer Backup");

  /* The token is in the keyring: the one the provider issued. */
  g_assert_true (g_file_get_contents (tokens_path, &tokens, NULL, NULL));
  issued = g_strsplit (tokens, "\n", -1);
  stored = coffer_keyring_lookup_sync ("rclone:gdrive", COFFER_KEY_KIND_RCLONE_REMOTE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g_strstr_len ((const char *) stored->data, stored->len, issued[0]));
  g_assert_nonnull (g_strstr_len ((const char *) stored->data, stored->len, issued[1]));

  g_subprocess_wait (browser, NULL, NULL);
  g_subprocess_force_exit (server);
  g_subprocess_wait (server, NULL, NULL);
  gtk_window_destroy (GTK_WINDOW (assistant));
  ui_test_quit (app);
}

int
main (int argc, char **argv)
{
  /* ui_test_init turns the keyring and the session bus off; this test
   * wants the real keyring run-with-keyring.sh started. */
  g_autofree char *bus = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));

  tmp = ui_test_init (&argc, &argv);
  if (bus != NULL)
    g_setenv ("DBUS_SESSION_BUS_ADDRESS", bus, TRUE);
  g_unsetenv ("COFFER_KEYRING");
  g_test_add_func ("/ui/signin", test_sign_in);
  return ui_test_run (tmp);
}
