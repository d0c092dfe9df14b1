/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer-cli-util.c: secrets and prompts, opening the repository,
 * progress display and output formatting for the `coffer` tool. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "coffer-cli-private.h"

#define MAX_SECRET_LEN 1024

/* ---- Terminal ---- */

static int
open_tty (gboolean *opened)
{
  int fd = open ("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

  *opened = fd >= 0;
  if (fd >= 0)
    return fd;
  if (isatty (STDIN_FILENO))
    return STDIN_FILENO;
  return -1;
}

/* A terminal is used for questions only when stdin is one: a script that
 * pipes input or runs from cron must never hang on a prompt. */
gboolean
coffer_cli_have_terminal (void)
{
  if (!isatty (STDIN_FILENO))
    return FALSE;
  return TRUE;
}

static gboolean
read_line_secure (int            fd,
                  CofferSecret  *buf,
                  gsize         *len,
                  GError       **error)
{
  *len = 0;
  for (;;)
    {
      char c;
      ssize_t n = read (fd, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       _("Could not read from the terminal: %s"), g_strerror (saved));
          return FALSE;
        }
      if (n == 0 || c == '\n' || c == '\r')
        break;
      if (*len + 1 >= buf->len)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       ngettext ("The input is too long (at most %d character).",
                                 "The input is too long (at most %d characters).", MAX_SECRET_LEN - 1),
                       MAX_SECRET_LEN - 1);
          return FALSE;
        }
      buf->data[(*len)++] = (guint8) c;
    }
  buf->data[*len] = '\0';
  return TRUE;
}

CofferSecret *
coffer_cli_prompt_secret (const char  *prompt,
                          GError     **error)
{
  g_autoptr(CofferSecret) buf = NULL;
  struct termios saved, noecho;
  gboolean opened = FALSE;
  gboolean have_termios;
  gsize len = 0;
  gboolean ok;
  int fd;

  fd = open_tty (&opened);
  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s", _("There is no terminal to ask for the secret on."));
      return NULL;
    }

  coffer_cli_progress_clear ();
  if (write (fd, prompt, strlen (prompt)) < 0)
    {
      /* ignore: the read below reports a broken terminal */
    }

  have_termios = tcgetattr (fd, &saved) == 0;
  if (have_termios)
    {
      noecho = saved;
      noecho.c_lflag &= ~(ECHO | ECHONL);
      noecho.c_lflag |= ICANON;
      tcsetattr (fd, TCSAFLUSH, &noecho);
    }
  coffer_cli_prompt_begin (fd, have_termios ? &saved : NULL);

  buf = coffer_secret_new (MAX_SECRET_LEN);
  ok = read_line_secure (fd, buf, &len, error);

  if (have_termios)
    tcsetattr (fd, TCSAFLUSH, &saved);
  coffer_cli_prompt_end ();
  if (write (fd, "\n", 1) < 0)
    {
      /* nothing useful to do */
    }
  if (opened)
    close (fd);

  if (!ok)
    return NULL;
  return coffer_secret_new_from_string ((const char *) buf->data);
}

gboolean
coffer_cli_confirm (CofferCli  *cli,
                    const char *question)
{
  /* Translators: a yes/no question; the answers are the messages with the
   * context "answer" (the English y and yes always work too) */
  g_autofree char *prompt = g_strdup_printf (_("%s [y/N] "), question);
  char answer[16] = { 0 };
  gsize len = 0;
  gboolean opened = FALSE;
  int fd;

  if (!coffer_cli_have_terminal ())
    return FALSE;
  fd = open_tty (&opened);
  if (fd < 0)
    return FALSE;

  coffer_cli_progress_clear ();
  if (write (fd, prompt, strlen (prompt)) < 0)
    {
      /* ignored */
    }
  coffer_cli_prompt_begin (fd, NULL);
  for (;;)
    {
      char c;
      ssize_t n = read (fd, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 || c == '\n')
        break;
      if (len + 1 < sizeof answer)
        answer[len++] = c;
    }
  coffer_cli_prompt_end ();
  if (opened)
    close (fd);

  g_strstrip (answer);
  /* Accept the English answers and their translation. */
  return g_ascii_strcasecmp (answer, "y") == 0 || g_ascii_strcasecmp (answer, "yes") == 0 ||
         g_strcmp0 (answer, C_("answer", "y")) == 0 || g_strcmp0 (answer, C_("answer", "yes")) == 0;
}

/* ---- Secrets ---- */

CofferSecret *
coffer_cli_get_password (CofferCli  *cli,
                         gboolean    prompt,
                         GError    **error)
{
  if (cli->password != NULL)
    return coffer_secret_dup (cli->password);

  if (cli->password_file != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      CofferSecret *secret = coffer_secret_new_from_file (cli->password_file, &local_error);

      if (secret == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("Could not read the password file: %s"), local_error->message);
          return NULL;
        }
      cli->password = coffer_secret_dup (secret);
      return secret;
    }

  if (cli->env_password != NULL)
    {
      cli->password = coffer_secret_dup (cli->env_password);
      return coffer_secret_dup (cli->env_password);
    }

  if (prompt && coffer_cli_have_terminal ())
    {
      CofferSecret *secret = coffer_cli_prompt_secret (_("Backup password: "), error);

      if (secret != NULL)
        cli->password = coffer_secret_dup (secret);
      return secret;
    }

  return NULL;
}

CofferSecret *
coffer_cli_get_new_password (CofferCli   *cli,
                             const char  *file,
                             gboolean     allow_empty,
                             GError     **error)
{
  g_autoptr(CofferSecret) first = NULL;
  g_autoptr(CofferSecret) second = NULL;

  if (file != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      CofferSecret *secret = coffer_secret_new_from_file (file, &local_error);

      if (secret == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     _("Could not read the new password file: %s"), local_error->message);
      return secret;
    }
  if (cli->env_new_password != NULL)
    return coffer_secret_dup (cli->env_new_password);

  if (!coffer_cli_have_terminal ())
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, "%s",
                   _("No new password was given. Put it in COFFER_NEW_PASSWORD or a file given "
                     "with --new-password-file, or run this on a terminal."));
      return NULL;
    }

  for (;;)
    {
      g_clear_pointer (&first, coffer_secret_free);
      g_clear_pointer (&second, coffer_secret_free);
      first = coffer_cli_prompt_secret (_("New backup password: "), error);
      if (first == NULL)
        return NULL;
      if (first->len == 0 && !allow_empty)
        {
          fprintf (stderr, "%s\n", _("The password cannot be empty. Try again."));
          continue;
        }
      second = coffer_cli_prompt_secret (_("Type it again: "), error);
      if (second == NULL)
        return NULL;
      if (!coffer_secret_equal (first, second))
        {
          fprintf (stderr, "%s\n", _("The two passwords differ. Try again."));
          continue;
        }
      if (first->len > 0 && g_utf8_strlen ((const char *) first->data, -1) < 10)
        fprintf (stderr, "%s\n",
                 _("Note: a short password can be guessed by anyone who gets hold of the backup. "
                   "Several unusual words make a better one."));
      return g_steal_pointer (&first);
    }
}

gboolean
coffer_cli_recovery_key_available (CofferCli *cli)
{
  return cli->env_recovery_key != NULL || cli->recovery_key_file != NULL || cli->share_files != NULL;
}

CofferSecret *
coffer_cli_get_recovery_key (CofferCli  *cli,
                             gboolean    prompt,
                             GError    **error)
{
  g_autoptr(CofferSecret) raw = NULL;
  g_autoptr(CofferSecret) text = NULL;

  /* Shares from recovery contacts stand in for the key wherever it is
   * accepted; the combined key is then used exactly like a typed one. */
  if (cli->share_files != NULL)
    return coffer_cli_combine_share_files (cli, error);

  if (cli->recovery_key_file != NULL)
    {
      g_autoptr(GError) local_error = NULL;

      raw = coffer_secret_new_from_file (cli->recovery_key_file, &local_error);
      if (raw == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("Could not read the recovery key file: %s"), local_error->message);
          return NULL;
        }
    }
  else if (cli->env_recovery_key != NULL)
    {
      raw = coffer_secret_dup (cli->env_recovery_key);
    }
  else if (prompt && coffer_cli_have_terminal ())
    {
      text = coffer_cli_prompt_secret (_("Recovery key: "), error);
      if (text == NULL)
        return NULL;
    }
  else
    {
      return NULL;
    }

  if (raw != NULL)
    {
      /* A NUL-terminated copy, still in secure memory (a duplicated
       * secret is not guaranteed to be terminated). */
      text = coffer_secret_new (raw->len + 1);
      memcpy (text->data, raw->data, raw->len);
      text->data[raw->len] = '\0';
    }

  return coffer_recovery_key_parse ((const char *) text->data, error);
}

/* ---- Repository ---- */

const char *
coffer_cli_get_location (CofferCli *cli)
{
  if (cli->repo_location != NULL && cli->repo_location[0] != '\0')
    return cli->repo_location;
  if (g_getenv ("COFFER_REPO") != NULL && g_getenv ("COFFER_REPO")[0] != '\0')
    return g_getenv ("COFFER_REPO");
  return NULL;
}

CofferStoreOptions
coffer_cli_store_options (CofferCli *cli)
{
  CofferStoreOptions options = { 0 };

  options.s3_endpoint = cli->s3_endpoint;
  options.s3_region = cli->s3_region;
  options.s3_path_style = cli->s3_path_style;
  options.bandwidth_limit = (guint64) cli->limit_upload_kbps * 1024;
  return options;
}

gboolean
coffer_cli_open_repository (CofferCli  *cli,
                            GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  CofferStoreOptions options;
  const char *location = coffer_cli_get_location (cli);

  if (cli->repository != NULL)
    return TRUE;

  if (location == NULL)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("Use --repo LOCATION or set the COFFER_REPO environment variable."),
                            "%s", _("No repository given."));

  options = coffer_cli_store_options (cli);
  cli->store = coffer_store_open (location, &options, error);
  if (cli->store == NULL)
    return FALSE;

  cli->repository = coffer_repository_open (cli->store, cli->cancellable, &local_error);
  if (cli->repository == NULL)
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND) ||
          g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        {
          g_autofree char *shown = coffer_cli_display_name (location);
          g_autofree char *hint = g_strdup_printf (_("Check the location, or create one with "
                                                     "'coffer init --repo %s'."), shown);

          return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, hint,
                                  _("There is no Coffer repository at %s."), shown);
        }
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE))
        {
          g_autofree char *shown = coffer_cli_display_name (location);

          /* Not "no repository": the folder itself is missing, which is
           * what an unplugged drive looks like. */
          return coffer_cli_fail (error, COFFER_CLI_ERROR_UNREACHABLE,
                                  _("If the backup is on a drive, connect the drive and try "
                                    "again; otherwise check the location."),
                                  _("There is no Coffer repository at %s: the folder is not there."),
                                  shown);
        }
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  return TRUE;
}

gboolean
coffer_cli_unlock_repository (CofferCli  *cli,
                              GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) password = NULL;
  g_autoptr(CofferSecret) recovery_key = NULL;

  if (!coffer_cli_open_repository (cli, error))
    return FALSE;

  password = coffer_cli_get_password (cli, FALSE, &local_error);
  if (local_error != NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  recovery_key = coffer_cli_get_recovery_key (cli, FALSE, &local_error);
  if (local_error != NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));

  if (password != NULL)
    coffer_repository_set_password (cli->repository, password);
  if (recovery_key != NULL)
    coffer_repository_set_recovery_key (cli->repository, recovery_key);

  if (coffer_repository_unlock (cli->repository, cli->cancellable, &local_error))
    {
      if (cli->verbose)
        {
          g_autofree char *where = coffer_repository_describe (cli->repository);

          fprintf (stderr, _("coffer: opened repository %s (id %s) %s\n"), where,
                   coffer_repository_get_id (cli->repository),
                   coffer_repository_has_account_key (cli->repository)
                     ? _("with the account key: every category is open")
                     : _("with the password: only Standard categories are open"));
        }
      return TRUE;
    }

  /* Nothing was given and the keyring did not help: ask on a terminal. */
  if (password == NULL && recovery_key == NULL && coffer_cli_have_terminal () &&
      !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&local_error);
      password = coffer_cli_get_password (cli, TRUE, &local_error);
      if (password == NULL && local_error == NULL)
        return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_USAGE);
      if (password == NULL)
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      coffer_repository_set_password (cli->repository, password);
      if (coffer_repository_unlock (cli->repository, cli->cancellable, &local_error))
        return TRUE;
    }

  if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD))
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("Check the backup password (COFFER_PASSWORD or --password-file). "
                              "If it is lost, the recovery key still opens the backup."),
                            "%s", local_error->message);
  return coffer_cli_propagate (error, g_steal_pointer (&local_error));
}

CofferCategory *
coffer_cli_find_category (CofferCli   *cli,
                          const char  *name,
                          GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  CofferCategory *category;

  if (name == NULL)
    {
      g_autoptr(GPtrArray) all = coffer_repository_list_categories (cli->repository,
                                                                     cli->cancellable, error);
      if (all == NULL)
        return NULL;
      if (all->len == 1 && ((CofferCategory *) all->pdata[0])->unlocked)
        return coffer_category_copy (all->pdata[0]);
      coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, _("Run 'coffer category list' to see the categories."),
                       "%s", _("Which category? Give it with --category NAME."));
      return NULL;
    }

  category = coffer_repository_find_category (cli->repository, name, cli->cancellable, &local_error);
  if (category == NULL &&
      g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_CATEGORY))
    {
      /* The names of locked categories are encrypted: the one asked for
       * may be among them. Say so rather than "no such category". */
      g_autoptr(GPtrArray) all = coffer_repository_list_categories (cli->repository,
                                                                     cli->cancellable, NULL);
      guint locked = 0;

      for (guint i = 0; all != NULL && i < all->len; i++)
        if (!((CofferCategory *) all->pdata[i])->unlocked)
          locked++;
      if (locked > 0)
        {
          g_autofree char *shown = coffer_cli_display_name (name);

          coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                           _("Give the recovery key in COFFER_RECOVERY_KEY or with "
                             "--recovery-key-file FILE."),
                           ngettext ("No open category is called “%s”; %u category stays locked "
                                     "because Advanced protection needs the recovery key or a "
                                     "trusted device's key.",
                                     "No open category is called “%s”; %u categories stay locked "
                                     "because Advanced protection needs the recovery key or a "
                                     "trusted device's key.", locked),
                           shown, locked);
          return NULL;
        }
    }
  if (category == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (!category->unlocked)
    {
      g_autofree char *shown = coffer_cli_display_name (name);

      coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                       _("Give the recovery key in COFFER_RECOVERY_KEY or with "
                         "--recovery-key-file FILE."),
                       _("The category “%s” stays locked: Advanced protection needs the "
                         "recovery key or a trusted device's key."), shown);
      coffer_category_free (category);
      return NULL;
    }
  return category;
}

CofferCategory *
coffer_cli_unlock_category (CofferCli   *cli,
                            const char  *name,
                            GError     **error)
{
  if (!coffer_cli_unlock_repository (cli, error))
    return NULL;
  return coffer_cli_find_category (cli, name, error);
}

gboolean
coffer_cli_missing_recovery_key (const char  *message,
                                 GError     **error)
{
  return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                          _("Give it in COFFER_RECOVERY_KEY or with --recovery-key-file FILE, "
                            "or run this on a terminal to type it."),
                          "%s", message);
}

gboolean
coffer_cli_unexpected_argument (const char  *arg,
                                const char  *hint,
                                GError     **error)
{
  g_autofree char *shown = coffer_cli_display_name (arg);

  return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, hint, _("Unexpected argument “%s”."), shown);
}

gboolean
coffer_cli_confirm_or_cancel (CofferCli   *cli,
                              const char  *question,
                              const char  *cancelled,
                              GError     **error)
{
  if (coffer_cli_confirm (cli, question))
    return TRUE;
  return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL, "%s", cancelled);
}

gboolean
coffer_cli_run_subcommand (CofferCli                 *cli,
                           const char                *group,
                           const CofferCliSubcommand *subs,
                           gsize                      n_subs,
                           const char                *usage,
                           const char                *details,
                           const char                *missing,
                           int                        argc,
                           char                     **argv,
                           GError                   **error)
{
  const char *sub;

  if (cli->describe != NULL)
    {
      for (gsize i = 0; i < n_subs; i++)
        {
          char *sub_argv[] = { argv[0], NULL };

          subs[i].func (cli, 1, sub_argv, NULL);
        }
      return TRUE;
    }

  sub = coffer_cli_take_positional (&argc, argv);
  if (sub == NULL)
    {
      gboolean help = FALSE;

      for (int i = 1; i < argc; i++)
        if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
          help = TRUE;
      fprintf (help ? stdout : stderr, "%s\n%s\n\n%s\n", _("Usage:"), usage, details);
      if (help)
        return TRUE;
      return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL, "%s", missing);
    }

  for (gsize i = 0; i < n_subs; i++)
    {
      if (g_str_equal (sub, subs[i].name))
        {
          g_autofree char *prog = g_strdup_printf ("coffer %s %s", group, sub);

          g_free (cli->command);
          cli->command = g_strdup_printf ("%s %s", group, sub);
          argv[0] = prog;
          return subs[i].func (cli, argc, argv, error);
        }
    }

  {
    g_autofree char *shown = coffer_cli_display_name (sub);
    g_autoptr(GString) names = g_string_new (NULL);
    g_autofree char *hint = NULL;

    /* "Use a, b or c.": every subcommand there is. */
    for (gsize i = 0; i + 1 < n_subs; i++)
      g_string_append_printf (names, i > 0 ? ", %s" : "%s", subs[i].name);
    /* Translators: "Use list, join, approve or remove.": the first %s is a
     * comma-separated list of subcommands, the second the last one */
    hint = n_subs > 1 ? g_strdup_printf (_("Use %s or %s."), names->str, subs[n_subs - 1].name)
                      : g_strdup_printf (_("Use %s."), subs[0].name);
    /* Translators: "“lst” is not a subcommand of “coffer devices”." */
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, hint, _("“%s” is not a subcommand of “coffer %s”."),
                            shown, group);
  }
}

/* ---- Progress ---- */

static GMutex   progress_mutex;
static gboolean progress_shown;
static guint64  progress_files;
static guint64  progress_bytes;
static gboolean progress_enabled = TRUE;

static int
terminal_width (void)
{
  struct winsize ws;

  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    return ws.ws_col;
  return 80;
}

static char *
format_bytes (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

void
coffer_cli_progress_cb (const CofferProgress *progress,
                        gpointer              user_data)
{
  CofferCli *cli = user_data;
  g_autoptr(GString) line = NULL;
  g_autofree char *done = NULL;
  int width;

  g_mutex_lock (&progress_mutex);
  progress_files = progress->files_done;
  progress_bytes = progress->bytes_done;

  if (cli == NULL || cli->quiet || !cli->stderr_tty || !progress_enabled)
    {
      g_mutex_unlock (&progress_mutex);
      return;
    }

  if (progress->finished)
    {
      if (progress_shown)
        fputs ("\r\033[K", stderr);
      progress_shown = FALSE;
      fflush (stderr);
      g_mutex_unlock (&progress_mutex);
      return;
    }

  line = g_string_new (NULL);
  g_string_append_printf (line, "%s %s", progress->operation ? progress->operation : "",
                          progress->category ? progress->category : "");
  if (progress->files_total > 0 && !progress->scanning)
    {
      g_string_append (line, "  ");
      /* Translators: progress, files done of the total */
      g_string_append_printf (line, ngettext ("%llu/%llu file", "%llu/%llu files",
                                              (gulong) progress->files_total),
                              (unsigned long long) progress->files_done,
                              (unsigned long long) progress->files_total);
    }
  else
    {
      g_string_append (line, "  ");
      g_string_append_printf (line, ngettext ("%llu file", "%llu files", (gulong) progress->files_done),
                              (unsigned long long) progress->files_done);
    }
  done = format_bytes (progress->bytes_done);
  if (progress->scanning)
    {
      /* Totals still being counted: no fraction, no ETA. */
      g_autofree char *total = format_bytes (progress->bytes_total);
      g_string_append_printf (line, "  %s (%s %s)", done, total, _("found so far"));
    }
  else if (progress->bytes_total > 0)
    {
      g_autofree char *total = format_bytes (progress->bytes_total);
      g_string_append_printf (line, "  %s/%s", done, total);
    }
  else
    g_string_append_printf (line, "  %s", done);
  if (progress->rate > 0)
    {
      g_autofree char *rate = format_bytes ((guint64) progress->rate);
      g_string_append_printf (line, "  %s/s", rate);
    }
  if (progress->eta_seconds >= 0)
    {
      g_autofree char *eta = coffer_cli_format_duration (progress->eta_seconds);
      g_string_append_printf (line, "  %s %s", _("ETA"), eta);
    }
  if (progress->current_file != NULL)
    {
      g_autofree char *shown = coffer_cli_display_name (progress->current_file);
      g_string_append_printf (line, "  %s", shown);
    }

  width = terminal_width () - 1;
  if (g_utf8_strlen (line->str, -1) > width)
    {
      /* Keep the end of the line (the file name's tail is the telling part)
       * only when the fixed part fits; otherwise cut at the width. */
      const char *cut = g_utf8_offset_to_pointer (line->str, width - 1);
      g_string_truncate (line, cut - line->str);
      g_string_append (line, "…");
    }

  fputs ("\r\033[K", stderr);
  fputs (line->str, stderr);
  fflush (stderr);
  progress_shown = TRUE;
  g_mutex_unlock (&progress_mutex);
}

void
coffer_cli_progress_clear (void)
{
  g_mutex_lock (&progress_mutex);
  if (progress_shown)
    {
      fputs ("\r\033[K", stderr);
      fflush (stderr);
      progress_shown = FALSE;
    }
  g_mutex_unlock (&progress_mutex);
}

void
coffer_cli_progress_last (guint64 *files,
                          guint64 *bytes)
{
  g_mutex_lock (&progress_mutex);
  if (files)
    *files = progress_files;
  if (bytes)
    *bytes = progress_bytes;
  g_mutex_unlock (&progress_mutex);
}

void
coffer_cli_progress_reset (void)
{
  g_mutex_lock (&progress_mutex);
  progress_files = 0;
  progress_bytes = 0;
  g_mutex_unlock (&progress_mutex);
}

/* ---- Computers ---- */

static GHashTable *device_names;

void
coffer_cli_load_device_names (CofferCli *cli)
{
  g_autoptr(GPtrArray) devices = NULL;

  if (device_names != NULL)
    return;
  device_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  /* Names are sealed under the account key: without it there are none. */
  devices = coffer_repository_list_devices (cli->repository, cli->cancellable, NULL);
  for (guint i = 0; devices != NULL && i < devices->len; i++)
    {
      const CofferDevice *d = g_ptr_array_index (devices, i);
      if (!d->pending && d->id != NULL && d->name != NULL)
        g_hash_table_replace (device_names, g_strdup (d->id), g_strdup (d->name));
    }
}

const char *
coffer_cli_device_name (const char *device_id)
{
  if (device_names == NULL || device_id == NULL)
    return NULL;
  return g_hash_table_lookup (device_names, device_id);
}

/* ---- Output ---- */

/* Writes str as a JSON string literal. Bytes that are not valid UTF-8 are
 * written as U+FFFD (see coffer_cli_json_name for the lossless form). */
void
coffer_cli_json_string (GString    *out,
                        const char *str)
{
  const char *p = str;
  const char *end;

  if (str == NULL)
    {
      g_string_append (out, "null");
      return;
    }

  end = str + strlen (str);
  g_string_append_c (out, '"');
  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\\ufffd");
          p++;
          continue;
        }
      switch (c)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (c < 0x20 || c == 0x7f || c == 0x2028 || c == 0x2029)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_len (out, p, g_utf8_next_char (p) - p);
          break;
        }
      p = g_utf8_next_char (p);
    }
  g_string_append_c (out, '"');
}

void
coffer_cli_json_name (GString    *out,
                      const char *key,
                      const char *raw)
{
  coffer_cli_json_string (out, key);
  g_string_append_c (out, ':');
  coffer_cli_json_string (out, raw);
  if (raw != NULL && !g_utf8_validate (raw, -1, NULL))
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *) raw, strlen (raw));
      g_autofree char *rawkey = g_strconcat (key, "_raw", NULL);

      g_string_append_c (out, ',');
      coffer_cli_json_string (out, rawkey);
      g_string_append_c (out, ':');
      coffer_cli_json_string (out, b64);
    }
}

void
coffer_cli_json_string_array (GString            *out,
                              const char * const *strv)
{
  g_string_append_c (out, '[');
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      coffer_cli_json_string (out, strv[i]);
    }
  g_string_append_c (out, ']');
}

void
coffer_cli_print_json_array (GPtrArray        *items,
                             CofferCliJsonFunc item_json)
{
  g_autoptr(GString) out = g_string_new ("[");

  for (guint i = 0; i < items->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      item_json (out, items->pdata[i]);
    }
  g_string_append (out, "]\n");
  fputs (out->str, stdout);
}

/* A name for messages: invalid UTF-8 bytes shown as \xNN. */
char *
coffer_cli_display_name (const char *raw)
{
  GString *out;
  const char *p, *end;

  if (raw == NULL)
    return g_strdup ("");
  if (g_utf8_validate (raw, -1, NULL))
    return g_strdup (raw);

  out = g_string_new (NULL);
  p = raw;
  end = raw + strlen (raw);
  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guint8) *p);
          p++;
        }
      else
        {
          g_string_append_len (out, p, g_utf8_next_char (p) - p);
          p = g_utf8_next_char (p);
        }
    }
  return g_string_free (out, FALSE);
}

char *
coffer_cli_format_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (unix_seconds);

  if (dt == NULL)
    return g_strdup ("?");
  return g_date_time_format (dt, "%Y-%m-%d %H:%M:%S");
}

char *
coffer_cli_format_iso (gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (unix_seconds);

  if (dt == NULL)
    return g_strdup ("");
  return g_date_time_format_iso8601 (dt);
}

char *
coffer_cli_format_duration (gdouble seconds)
{
  guint64 s;

  if (seconds < 10)
    return g_strdup_printf ("%.1f s", seconds);
  s = (guint64) (seconds + 0.5);
  if (s < 3600)
    return g_strdup_printf ("%u:%02u", (guint) (s / 60), (guint) (s % 60));
  return g_strdup_printf ("%u:%02u:%02u", (guint) (s / 3600), (guint) (s / 60 % 60), (guint) (s % 60));
}

char *
coffer_cli_short_id (const char *id)
{
  return g_strndup (id != NULL ? id : "", 8);
}

/* Writes a string as raw bytes, without GLib's charset conversion (file
 * names are bytes). */
void
coffer_cli_print_raw (FILE       *stream,
                      const char *str)
{
  fputs (str, stream);
}
