/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The destination page's sign-in to Google Drive (issue #10): the page
 * waits with a spinner, the "Waiting for you to sign in…" text and Cancel;
 * Cancel leaves no rclone running; a sign-in that the "browser" (curl,
 * following the redirects, played by the test) completes puts the token in
 * the keyring. The provider is tests/integration/fake-oauth.py on
 * 127.0.0.1, the only fake in the tests. Also: server credentials through
 * the engine's keyring calls. Runs under run-with-keyring.sh (a real
 * gnome-keyring-daemon). */
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "coffer-engine.h"
#include "coffer-error.h"
#include "coffer-keyring.h"
#include "coffer-rclone.h"
#include "coffer-setup-assistant.h"
#include "test-utils.h"
#include "coffer-window.h"
#include "ui-test-utils.h"

static char *tmp;

/* Children of this process whose command line is "rclone SUB …". */
static guint
count_rclone (const char *sub)
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
      /* argv[0] "rclone", argv[1] sub */
      if (len < 8 || !g_str_has_suffix (cmd, "rclone") || strcmp (cmd + strlen (cmd) + 1, sub) != 0)
        continue;
      /* stat: "pid (comm) state ppid …"; also zombies count: not reaped */
      after = strrchr (stat, ')');
      if (after != NULL && g_ascii_strtoll (after + 4, NULL, 10) == getpid ())
        n++;
    }
  return n;
}

static guint
count_authorize (void)
{
  return count_rclone ("authorize");
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

static gboolean
authorize_running (gpointer data)
{
  return count_authorize () == 1;
}

static gboolean
authorize_gone (gpointer data)
{
  return count_authorize () == 0 && port_53682_free ();
}

/* The main window's "Sign In Again" for a cloud account (its sign-in
 * expired or was revoked) signs in in the browser like the setup page,
 * with a Cancel that stops rclone; it never asks for a password. */
static void
main_window_sign_in (CofferApplication *app)
{
  GSettings *settings = coffer_application_get_settings (app);
  CofferWindow *window;
  GtkWidget *dialog;

  g_settings_set_string (settings, "destination", "rclone:gdrive:Coffer Backup");
  window = coffer_window_new (app);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.sign-in", NULL));
  dialog = coffer_window_get_sign_in_dialog (window);
  g_assert_true (ADW_IS_MESSAGE_DIALOG (dialog));
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==,
                   "Sign In to Google Drive Again");
  g_assert_cmpstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), ==,
                   "Waiting for you to sign in to Google Drive in your browser…");
  /* A spinner, not the user name and password fields. */
  g_assert_true (GTK_IS_SPINNER (adw_message_dialog_get_extra_child (ADW_MESSAGE_DIALOG (dialog))));
  ui_test_wait_for (authorize_running, NULL, 60, "rclone authorize");
  ui_test_screenshot (dialog, "signin-3-main-window");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  ui_test_wait_for (authorize_gone, NULL, 30, "the cancelled sign-in to stop rclone");
  g_assert_null (coffer_window_get_sign_in_dialog (window));
  gtk_window_destroy (GTK_WINDOW (window));
  g_settings_reset (settings, "destination");
}

static void
sign_in (CofferApplication *app)
{
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
  g_clear_object (&browser);

  /* 3. "Sign In Again…" (e.g. after the sign-in expired) replaces the
   * token of the same remote, so "rclone:gdrive:…" works again. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "destination.sign-in", NULL));
  ui_test_wait_for (has_link, page, 60, "the sign-in address from rclone");
  browser = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, "curl", "-sS", "-L", link_uri (page), NULL);
  g_assert_no_error (error);
  ui_test_wait_for (not_signing_in, page, 60, "the second sign-in");
  g_assert_cmpstr (coffer_destination_page_get_signed_in_remote (page), ==, "gdrive");
  g_subprocess_wait (browser, NULL, NULL);
  g_clear_pointer (&tokens, g_free);
  g_clear_pointer (&issued, g_strfreev);
  g_clear_pointer (&stored, coffer_secret_free);
  g_assert_true (g_file_get_contents (tokens_path, &tokens, NULL, NULL));
  issued = g_strsplit (tokens, "\n", -1);
  g_assert_cmpuint (g_strv_length (issued), >=, 4);
  stored = coffer_keyring_lookup_sync ("rclone:gdrive", COFFER_KEY_KIND_RCLONE_REMOTE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (g_strstr_len ((const char *) stored->data, stored->len, issued[2]));
  g_assert_null (g_strstr_len ((const char *) stored->data, stored->len, issued[0]));

  gtk_window_destroy (GTK_WINDOW (assistant));
  main_window_sign_in (app);
  g_subprocess_force_exit (server);
  g_subprocess_wait (server, NULL, NULL);
}

static gboolean
assistant_idle (gpointer data)
{
  return !coffer_setup_assistant_get_busy (data);
}

static const char *
test_subtitle (CofferDestinationPage *page)
{
  GObject *row = gtk_widget_get_template_child (GTK_WIDGET (page), COFFER_TYPE_DESTINATION_PAGE, "test_row");
  return adw_action_row_get_subtitle (ADW_ACTION_ROW (row));
}

static void
set_text (CofferDestinationPage *page, const char *child, const char *text)
{
  GObject *entry = gtk_widget_get_template_child (GTK_WIDGET (page), COFFER_TYPE_DESTINATION_PAGE, child);
  g_assert_nonnull (entry);
  gtk_editable_set_text (GTK_EDITABLE (entry), text);
}

static void
choose_kind (CofferDestinationPage *page, const char *kind)
{
  GObject *button = gtk_widget_get_template_child (GTK_WIDGET (page), COFFER_TYPE_DESTINATION_PAGE, kind);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (button), TRUE);
}

static void
prepared_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (coffer_destination_page_prepare_finish (COFFER_DESTINATION_PAGE (source), result, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

static void
prepare (CofferDestinationPage *page)
{
  gboolean done = FALSE;

  coffer_destination_page_prepare_async (page, NULL, prepared_cb, &done);
  ui_test_wait_for (is_true, &done, 30, "saving the SFTP remote");
}

/* "Other (rclone Remote)": a local remote of rclone's own configuration
 * (given in the environment); Test Connection does the write probe through
 * a real rclone serve webdav and stops it afterwards. SFTP or NAS: the
 * fields become a Coffer-managed remote with the password in the keyring,
 * replaced when the password changes. */
static void
rclone_kinds (CofferApplication *app)
{
  g_autofree char *folder = g_build_filename (tmp, "rclone-dest", NULL);
  g_autoptr(CofferDestination) dest = NULL;
  g_autoptr(CofferSecret) stored = NULL;
  g_autoptr(GKeyFile) remotes = NULL;
  g_autoptr(GError) error = NULL;
  CofferSetupAssistant *assistant;
  CofferDestinationPage *page;
  const char *name = "sftp_ann_nas_example_2222";
  g_autofree char *host = NULL;
  g_autofree char *repo = g_strconcat ("rclone:", name, NULL);

  g_setenv ("RCLONE_CONFIG_LOCALDISK_TYPE", "local", TRUE);
  g_application_activate (G_APPLICATION (app));
  assistant = COFFER_SETUP_ASSISTANT (ui_test_find_window (COFFER_TYPE_SETUP_ASSISTANT));
  g_assert_nonnull (assistant);
  gtk_window_set_default_size (GTK_WINDOW (assistant), 640, 1010);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.next", NULL));
  page = coffer_setup_assistant_get_destination_page (assistant);

  choose_kind (page, "kind_other");
  set_text (page, "other_remote", "localdisk");
  set_text (page, "other_path", folder);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "assistant.test-connection", NULL));
  ui_test_wait_for (assistant_idle, assistant, 60, "the connection test through rclone");
  g_test_message ("rclone test: %s", test_subtitle (page));
  g_assert_true (g_str_has_prefix (test_subtitle (page), "Connected."));
  g_assert_cmpuint (count_rclone ("serve"), ==, 0);
  ui_test_screenshot (GTK_WIDGET (assistant), "destination-rclone-other");

  choose_kind (page, "kind_sftp");
  set_text (page, "sftp_host", "nas.example");
  set_text (page, "sftp_port", "2222");
  set_text (page, "sftp_user", "ann");
  set_text (page, "sftp_password", "first password");
  ui_test_screenshot (GTK_WIDGET (assistant), "destination-sftp");
  dest = coffer_destination_page_build (page, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (dest->location, ==, "rclone:sftp_ann_nas_example_2222:coffer-backup");
  /* build() saves nothing; prepare (run by Test Connection) does. */
  remotes = coffer_rclone_remotes_load (&error);
  g_assert_no_error (error);
  g_assert_false (g_key_file_has_group (remotes, name));
  g_clear_pointer (&remotes, g_key_file_unref);
  prepare (page);
  set_text (page, "sftp_password", "second password");
  prepare (page);
  remotes = coffer_rclone_remotes_load (&error);
  g_assert_no_error (error);
  host = g_key_file_get_string (remotes, name, "host", NULL);
  g_assert_cmpstr (host, ==, "nas.example");
  g_assert_cmpint (g_key_file_get_integer (remotes, name, "port", NULL), ==, 2222);
  g_assert_false (g_key_file_has_key (remotes, name, "password", NULL));
  stored = coffer_keyring_lookup_sync (repo, COFFER_KEY_KIND_RCLONE_REMOTE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (stored->data, stored->len, "second password", strlen ("second password"));
  gtk_window_destroy (GTK_WINDOW (assistant));
}

/* One application for both: it owns its name on the keyring's bus. */
static void
test_destination (void)
{
  g_autoptr(CofferApplication) app = NULL;

  /* meson runs this under run-with-keyring.sh: a keyring that did not
   * start is a failure, not a reason to skip. */
  g_assert_true (coffer_keyring_is_available ());
  app = ui_test_app_new ();
  sign_in (app);
  rclone_kinds (app);
  ui_test_quit (app);
}

/* Server credentials go to the keyring and come back through the engine
 * (coffer_engine_save/lookup_credentials), under the destination's location. */
static void
result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
have_result (gpointer data)
{
  return *(GAsyncResult **) data != NULL;
}

static void
test_credentials (void)
{
  g_autoptr(CofferEngine) engine = NULL;
  g_autoptr(CofferDestination) dest = coffer_destination_new ("webdavs://dav.example.org/coffer-credentials");
  g_autoptr(CofferDestination) other = coffer_destination_new ("s3://coffer-credentials-bucket/x");
  g_autoptr(CofferSecret) found = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;

  /* meson runs this under run-with-keyring.sh: a keyring that did not
   * start is a failure, not a reason to skip. */
  g_assert_true (coffer_keyring_is_available ());
  engine = coffer_engine_new ();
  dest->secret = coffer_secret_new_from_string ("dav password 1");
  coffer_engine_save_credentials_async (engine, dest, NULL, result_cb, &result);
  ui_test_wait_for (have_result, &result, 30, "credentials saved");
  g_assert_true (coffer_engine_save_credentials_finish (engine, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  coffer_engine_lookup_credentials_async (engine, dest, NULL, result_cb, &result);
  ui_test_wait_for (have_result, &result, 30, "credentials found");
  found = coffer_engine_lookup_credentials_finish (engine, result, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (found->data, found->len, dest->secret->data, dest->secret->len);
  g_clear_object (&result);

  /* Another location (and kind) has none. */
  coffer_engine_lookup_credentials_async (engine, other, NULL, result_cb, &result);
  ui_test_wait_for (have_result, &result, 30, "no credentials");
  g_assert_null (coffer_engine_lookup_credentials_finish (engine, result, &error));
  g_assert_error (error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND);
  g_clear_object (&result);
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
  g_test_add_func ("/ui/destination", test_destination);
  g_test_add_func ("/ui/credentials", test_credentials);
  return ui_test_run (tmp);
}
