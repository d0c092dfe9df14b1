/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer-cli.c: the `coffer` command line: dispatch, global options,
 * errors and exit statuses, signal handling. */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

#include "coffer-cli-private.h"

typedef struct
{
  const char           *name;
  const char           *summary;
  CofferCliCommandFunc  func;
} CofferCliCommand;

static const CofferCliCommand commands[] = {
  { "init",         N_("Create a new repository"),                                  coffer_cli_cmd_init },
  { "category",     N_("Add, list, change or remove categories"),                   coffer_cli_cmd_category },
  { "backup",       N_("Back up categories"),                                       coffer_cli_cmd_backup },
  { "snapshots",    N_("List the snapshots (backups) in the repository"),           coffer_cli_cmd_snapshots },
  { "ls",           N_("List the files in a snapshot"),                             coffer_cli_cmd_ls },
  { "find",         N_("Search for files by name in a snapshot"),                   coffer_cli_cmd_find },
  { "restore",      N_("Restore files from a snapshot"),                            coffer_cli_cmd_restore },
  { "check",        N_("Check the repository for damage"),                          coffer_cli_cmd_check },
  { "forget",       N_("Forget snapshots according to a retention policy"),         coffer_cli_cmd_forget },
  { "prune",        N_("Remove data that no snapshot refers to any more"),          coffer_cli_cmd_prune },
  { "protect",      N_("Switch a category between Standard and Advanced protection"), coffer_cli_cmd_protect },
  { "reencrypt",    N_("Re-encrypt a category's older backups under its newest key"), coffer_cli_cmd_reencrypt },
  { "password",     N_("Change the backup password"),                               coffer_cli_cmd_password },
  { "recovery-key", N_("Verify, replace or split the recovery key, print its kit, or show when it was last tested"),
                                                                                    coffer_cli_cmd_recovery_key },
  { "devices",      N_("List, join, approve or remove trusted devices"),            coffer_cli_cmd_devices },
  { "remote",       N_("Add, list or remove cloud storage accounts (through rclone)"), coffer_cli_cmd_remote },
};

/* ---- Signals ----
 * SIGINT and SIGTERM are blocked in every thread and taken by one thread
 * with sigwait(), which may then call g_cancellable_cancel() safely. */

static GMutex        signal_mutex;
static GCancellable *signal_cancellable;
static guint         signal_count;
static gboolean      prompt_active;
static int           prompt_fd = -1;
static gboolean      prompt_has_termios;
static struct termios prompt_termios;

void
coffer_cli_prompt_begin (int         fd,
                         const void *saved_termios)
{
  g_mutex_lock (&signal_mutex);
  prompt_active = TRUE;
  prompt_fd = fd;
  prompt_has_termios = saved_termios != NULL;
  if (saved_termios != NULL)
    memcpy (&prompt_termios, saved_termios, sizeof prompt_termios);
  g_mutex_unlock (&signal_mutex);
}

void
coffer_cli_prompt_end (void)
{
  g_mutex_lock (&signal_mutex);
  prompt_active = FALSE;
  prompt_has_termios = FALSE;
  prompt_fd = -1;
  g_mutex_unlock (&signal_mutex);
}

static gpointer
signal_thread (gpointer data)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);

  for (;;)
    {
      int sig = 0;

      if (sigwait (&set, &sig) != 0)
        continue;

      g_mutex_lock (&signal_mutex);
      if (prompt_active)
        {
          if (prompt_has_termios)
            tcsetattr (prompt_fd, TCSAFLUSH, &prompt_termios);
          if (write (STDERR_FILENO, "\n", 1) < 0)
            {
              /* nothing to do */
            }
          _exit (COFFER_EXIT_CANCELLED);
        }
      signal_count++;
      if (signal_count == 1 && signal_cancellable != NULL)
        {
          coffer_cli_progress_clear ();
          fprintf (stderr, "%s\n",
                   _("coffer: Stopping… (press Ctrl+C again to quit at once; "
                     "an interrupted backup resumes next time)"));
          g_cancellable_cancel (signal_cancellable);
        }
      else
        {
          _exit (COFFER_EXIT_CANCELLED);
        }
      g_mutex_unlock (&signal_mutex);
    }

  return NULL;
}

static void
setup_signals (GCancellable *cancellable)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal_cancellable = cancellable;
  g_thread_unref (g_thread_new ("coffer-signals", signal_thread, NULL));
}

/* ---- Messages ---- */

static void print_prefixed (const char *prefix, const char *format, va_list args) G_GNUC_PRINTF (2, 0);

static void
print_prefixed (const char *prefix, const char *format, va_list args)
{
  g_autofree char *msg = g_strdup_vprintf (format, args);

  coffer_cli_progress_clear ();
  fputs (prefix, stderr);
  coffer_cli_print_raw (stderr, msg);
  fputc ('\n', stderr);
  fflush (stderr);
}

void
coffer_cli_error (CofferCli  *cli,
                  const char *format,
                  ...)
{
  va_list args;

  va_start (args, format);
  print_prefixed ("coffer: ", format, args);
  va_end (args);
}

void
coffer_cli_warning (CofferCli  *cli,
                    const char *format,
                    ...)
{
  va_list args;

  va_start (args, format);
  print_prefixed (_("coffer: warning: "), format, args);
  va_end (args);
}

void
coffer_cli_hint (CofferCli  *cli,
                 const char *format,
                 ...)
{
  va_list args;

  va_start (args, format);
  print_prefixed ("", format, args);
  va_end (args);
}

/* Informational output on stdout, silenced by --quiet. */
void
coffer_cli_info (CofferCli  *cli,
                 const char *format,
                 ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  if (cli->quiet)
    return;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  coffer_cli_progress_clear ();
  coffer_cli_print_raw (stdout, msg);
  fputc ('\n', stdout);
  fflush (stdout);
}

/* ---- Errors and exit statuses ---- */

typedef struct
{
  char     *hint;
  gboolean  reported;
} CofferCliErrorPrivate;

static void
coffer_cli_error_private_init (CofferCliErrorPrivate *priv)
{
}

static void
coffer_cli_error_private_copy (const CofferCliErrorPrivate *src,
                               CofferCliErrorPrivate       *dest)
{
  dest->hint = g_strdup (src->hint);
  dest->reported = src->reported;
}

static void
coffer_cli_error_private_clear (CofferCliErrorPrivate *priv)
{
  g_clear_pointer (&priv->hint, g_free);
}

G_DEFINE_EXTENDED_ERROR (CofferCliError, coffer_cli_error)

gboolean
coffer_cli_fail (GError         **error,
                 CofferCliError   status,
                 const char      *hint,
                 const char      *format,
                 ...)
{
  g_autofree char *message = NULL;
  GError *local_error;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  local_error = g_error_new_literal (COFFER_CLI_ERROR, status, message);
  coffer_cli_error_get_private (local_error)->hint = g_strdup (hint);
  g_propagate_error (error, local_error);
  return FALSE;
}

gboolean
coffer_cli_fail_reported (GError         **error,
                          CofferCliError   status)
{
  GError *local_error = g_error_new_literal (COFFER_CLI_ERROR, status, "");

  coffer_cli_error_get_private (local_error)->reported = TRUE;
  g_propagate_error (error, local_error);
  return FALSE;
}

gboolean
coffer_cli_propagate (GError **error,
                      GError  *local_error)
{
  g_propagate_error (error, local_error);
  return FALSE;
}

int
coffer_cli_exit_status_for_error (const GError *error)
{
  if (error == NULL)
    return COFFER_EXIT_FAILURE;
  /* The CLI's own errors: the code is the exit status. */
  if (error->domain == COFFER_CLI_ERROR)
    return error->code;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return COFFER_EXIT_CANCELLED;
  if (error->domain == COFFER_REPO_ERROR)
    {
      switch ((CofferRepoError) error->code)
        {
        case COFFER_REPO_ERROR_WRONG_PASSWORD:
        case COFFER_REPO_ERROR_WRONG_RECOVERY_KEY:
        case COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY:
        case COFFER_REPO_ERROR_NO_KEY:
        case COFFER_REPO_ERROR_NO_CATEGORY:
        case COFFER_REPO_ERROR_INVALID:
          return COFFER_EXIT_USAGE;
        case COFFER_REPO_ERROR_NEWER_FILE:
          return COFFER_EXIT_CONFLICTS;
        case COFFER_REPO_ERROR_NOT_FOUND:
        case COFFER_REPO_ERROR_EXISTS:
        case COFFER_REPO_ERROR_UNSUPPORTED_VERSION:
        case COFFER_REPO_ERROR_CORRUPT:
        case COFFER_REPO_ERROR_NO_SNAPSHOT:
        case COFFER_REPO_ERROR_BUSY:
        case COFFER_REPO_ERROR_ROLLED_BACK:
        case COFFER_REPO_ERROR_FAILED:
        default:
          return COFFER_EXIT_FAILURE;
        }
    }
  if (error->domain == COFFER_CRYPTO_ERROR)
    {
      switch ((CofferCryptoError) error->code)
        {
        case COFFER_CRYPTO_ERROR_WRONG_KEY:
        case COFFER_CRYPTO_ERROR_TYPO:
        case COFFER_CRYPTO_ERROR_INVALID:
          return COFFER_EXIT_USAGE;
        case COFFER_CRYPTO_ERROR_CORRUPT:
        case COFFER_CRYPTO_ERROR_UNSUPPORTED:
        case COFFER_CRYPTO_ERROR_FAILED:
        default:
          return COFFER_EXIT_FAILURE;
        }
    }
  /* An unplugged drive or a server that does not answer is a state a
   * script may wait out; everything else about the destination is not. */
  if (g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE) ||
      g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NETWORK))
    return COFFER_EXIT_UNREACHABLE;
  if (g_error_matches (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE) ||
      g_error_matches (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION))
    return COFFER_EXIT_USAGE;
  return COFFER_EXIT_FAILURE;
}

int
coffer_cli_report_error (CofferCli    *cli,
                         const GError *error)
{
  int status = coffer_cli_exit_status_for_error (error);

  if (error->domain == COFFER_CLI_ERROR)
    {
      CofferCliErrorPrivate *priv = coffer_cli_error_get_private (error);

      if (!priv->reported)
        coffer_cli_error (cli, "%s", error->message);
      if (priv->hint != NULL)
        coffer_cli_hint (cli, "%s", priv->hint);
      return status;
    }

  if (status == COFFER_EXIT_CANCELLED)
    {
      coffer_cli_error (cli, "%s", _("Cancelled."));
      return status;
    }

  coffer_cli_error (cli, "%s", error->message);

  if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY))
    coffer_cli_hint (cli, "%s", _("Give the recovery key in COFFER_RECOVERY_KEY or with "
                                  "--recovery-key-file FILE, or type it when asked on a terminal."));
  else if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY))
    coffer_cli_hint (cli, "%s", _("Give the backup password in COFFER_PASSWORD or with "
                                  "--password-file FILE, or the recovery key in COFFER_RECOVERY_KEY "
                                  "or with --recovery-key-file FILE."));
  else if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_CATEGORY))
    coffer_cli_hint (cli, "%s", _("Run 'coffer category list' to see the categories."));
  else if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_SNAPSHOT))
    coffer_cli_hint (cli, "%s", _("Run 'coffer snapshots' to see the snapshots."));
  else if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEWER_FILE))
    coffer_cli_hint (cli, "%s", _("Use --overwrite to replace newer files."));
  else if (error->domain == COFFER_STORE_ERROR)
    {
      /* One plain reason per kind of destination failure. */
      const char *hint = NULL;

      switch ((CofferStoreError) error->code)
        {
        case COFFER_STORE_ERROR_UNREACHABLE:
          hint = _("The backup location is not connected. Connect the drive (or mount the "
                   "folder) and try again.");
          break;
        case COFFER_STORE_ERROR_READ_ONLY:
          hint = _("The backup location is read-only. Make it writable or choose another one.");
          break;
        case COFFER_STORE_ERROR_NO_SPACE:
          hint = _("The backup location is full. Free some space (coffer forget --prune) "
                   "or choose another one.");
          break;
        case COFFER_STORE_ERROR_AUTH:
          /* Through rclone the message says which sign-in to renew, and
           * how: no user name or keys to check. */
          if (g_str_has_prefix (coffer_cli_get_location (cli) ? coffer_cli_get_location (cli) : "",
                                "rclone:"))
            hint = _("Sign in to the cloud account again as said above; nothing was lost.");
          else
            hint = _("The server refused the credentials. Check the user name and password "
                     "or the access keys.");
          break;
        case COFFER_STORE_ERROR_NETWORK:
          hint = _("The server is not answering or the network is down. Try again later.");
          break;
        case COFFER_STORE_ERROR_NOT_FOUND:
        case COFFER_STORE_ERROR_EXISTS:
        case COFFER_STORE_ERROR_SERVER:
        case COFFER_STORE_ERROR_TLS:
        case COFFER_STORE_ERROR_INVALID:
        case COFFER_STORE_ERROR_FAILED:
        default:
          break;
        }
      if (hint != NULL)
        coffer_cli_hint (cli, "%s", hint);
    }

  return status;
}

/* ---- Options ---- */

static gboolean
parse_limit_upload (const char  *option_name,
                    const char  *value,
                    gpointer     data,
                    GError     **error)
{
  CofferCli *cli = data;
  char *end = NULL;
  gint64 v = g_ascii_strtoll (value, &end, 10);

  if (end == value || *end != '\0' || v < 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("%s needs a number of KiB per second, not “%s”."), option_name, value);
      return FALSE;
    }
  cli->limit_upload_kbps = v;
  return TRUE;
}

/* Adds the options of entries that take a separate value ("--repo",
 * "-c") to set. */
static void
describe_entries (GHashTable         *set,
                  const GOptionEntry *entries)
{
  for (const GOptionEntry *e = entries; e != NULL && e->long_name != NULL; e++)
    {
      if (e->arg == G_OPTION_ARG_NONE || (e->flags & G_OPTION_FLAG_OPTIONAL_ARG) != 0 ||
          (e->arg == G_OPTION_ARG_CALLBACK && (e->flags & G_OPTION_FLAG_NO_ARG) != 0))
        continue;
      g_hash_table_add (set, g_strconcat ("--", e->long_name, NULL));
      if (e->short_name != 0)
        g_hash_table_add (set, g_strdup_printf ("-%c", e->short_name));
    }
}

gboolean
coffer_cli_parse_done (CofferCli *cli)
{
  return cli->describe != NULL || cli->help;
}

gboolean
coffer_cli_parse (CofferCli     *cli,
                  GOptionEntry  *entries,
                  const char    *parameter_string,
                  const char    *summary,
                  const char    *description,
                  int           *argc,
                  char        ***argv,
                  GError       **error)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *full_description = NULL;
  g_autofree char *prgname = NULL;
  GOptionGroup *group;
  gboolean ok;
  GOptionEntry global_entries[] = {
    { "repo", 0, 0, G_OPTION_ARG_FILENAME, &cli->repo_location,
      N_("Repository: a folder, a GIO URI, webdav(s)://…, s3://bucket/prefix or rclone:REMOTE:path (or COFFER_REPO)"),
      N_("LOCATION") },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &cli->password_file,
      N_("Read the backup password from the first line of FILE (or COFFER_PASSWORD)"), N_("FILE") },
    { "recovery-key-file", 0, 0, G_OPTION_ARG_FILENAME, &cli->recovery_key_file,
      N_("Read the recovery key from FILE (or COFFER_RECOVERY_KEY); init and "
         "recovery-key replace write the new key there instead"), N_("FILE") },
    { "share-file", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &cli->share_files,
      N_("Instead of the recovery key: a recovery share from a contact, one per FILE "
         "(repeat the option for each share)"), N_("FILE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &cli->json,
      N_("Print listings as JSON"), NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &cli->quiet,
      N_("Print only errors and requested output; no progress"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &cli->verbose,
      N_("Print more details"), NULL },
    { "s3-endpoint", 0, 0, G_OPTION_ARG_STRING, &cli->s3_endpoint,
      N_("S3 endpoint URL for s3:// repositories (default: AWS)"), N_("URL") },
    { "s3-region", 0, 0, G_OPTION_ARG_STRING, &cli->s3_region,
      N_("S3 region (default: us-east-1)"), N_("REGION") },
    { "s3-path-style", 0, 0, G_OPTION_ARG_NONE, &cli->s3_path_style,
      N_("Use path-style S3 addressing"), NULL },
    { "limit-upload", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer) parse_limit_upload,
      N_("Limit the transfer rate to KBPS KiB per second"), N_("KBPS") },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &cli->help,
      N_("Show this help"), NULL },
    { NULL }
  };

  if (cli->describe != NULL)
    {
      describe_entries (cli->describe, entries);
      describe_entries (cli->describe, global_entries);
      return TRUE;
    }

  context = g_option_context_new (parameter_string);
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (summary != NULL)
    g_option_context_set_summary (context, summary);
  full_description = g_strconcat (description != NULL ? description : "",
                                  description != NULL ? "\n\n" : "",
                                  _("Secrets are never taken from arguments: use COFFER_PASSWORD, "
                                    "--password-file, COFFER_RECOVERY_KEY, --recovery-key-file, or "
                                    "type them when asked on a terminal. See "
                                    "docs/CLI.md for exit statuses."),
                                  NULL);
  g_option_context_set_description (context, full_description);
  /* The command's options and the global ones as two groups, in that
   * order (the main group would be printed last). */
  if (entries != NULL)
    {
      GOptionGroup *own = g_option_group_new ("command", _("Options:"), _("Show the command's options"),
                                              cli, NULL);
      g_option_group_add_entries (own, entries);
      g_option_group_set_translation_domain (own, GETTEXT_PACKAGE);
      g_option_context_add_group (context, own);
    }

  group = g_option_group_new ("global", _("Global options (every command):"),
                              _("Show the global options"), cli, NULL);
  g_option_group_add_entries (group, global_entries);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_context_add_group (context, group);

  prgname = g_strdup_printf ("coffer %s", cli->command);
  g_set_prgname (prgname);
  ok = g_option_context_parse (context, argc, argv, &local_error);
  g_set_prgname ("coffer");
  if (!ok)
    {
      g_autofree char *hint = g_strdup_printf (_("Run 'coffer %s --help' to see its options."),
                                               cli->command);

      return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, hint, "%s", local_error->message);
    }

  if (cli->help)
    {
      g_autofree char *help = NULL;

      g_set_prgname (prgname);
      help = g_option_context_get_help (context, FALSE, NULL);
      g_set_prgname ("coffer");
      fputs (help, stdout);
    }

  return TRUE;
}

/* The options of every command (and the global ones) that take a separate
 * value, collected once from the commands' own GOptionEntry tables: each
 * command runs in describe mode, where coffer_cli_parse records its
 * entries and returns before anything else happens. */
static GHashTable *
value_options (void)
{
  static GHashTable *options;

  if (g_once_init_enter (&options))
    {
      GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      CofferCli *describe = g_new0 (CofferCli, 1);

      describe->describe = set;
      for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
        {
          char *argv[] = { (char *) commands[i].name, NULL };

          commands[i].func (describe, 1, argv, NULL);
        }
      g_free (describe);
      g_once_init_leave (&options, set);
    }
  return options;
}

char *
coffer_cli_take_positional (int   *argc,
                            char **argv)
{
  for (int i = 1; i < *argc; i++)
    {
      const char *arg = argv[i];

      if (g_str_equal (arg, "--"))
        {
          if (i + 1 < *argc)
            {
              char *word = argv[i + 1];

              memmove (&argv[i + 1], &argv[i + 2], sizeof (char *) * (*argc - i - 2));
              (*argc)--;
              argv[*argc] = NULL;
              return word;
            }
          return NULL;
        }
      if (arg[0] == '-' && arg[1] != '\0')
        {
          if (strchr (arg, '=') == NULL && g_hash_table_contains (value_options (), arg))
            i++;
          continue;
        }

      memmove (&argv[i], &argv[i + 1], sizeof (char *) * (*argc - i - 1));
      (*argc)--;
      argv[*argc] = NULL;
      return (char *) arg;
    }
  return NULL;
}

/* ---- Dispatch ---- */

static guint
edit_distance (const char *a,
               const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *prev = g_new (guint, lb + 1);
  g_autofree guint *cur = g_new (guint, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    prev[j] = j;
  for (gsize i = 1; i <= la; i++)
    {
      cur[0] = i;
      for (gsize j = 1; j <= lb; j++)
        {
          guint cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;
          cur[j] = MIN (MIN (prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + cost);
          /* transposition of neighbours counts as one edit */
          if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
            cur[j] = MIN (cur[j], prev[j - 1]);
        }
      memcpy (prev, cur, sizeof (guint) * (lb + 1));
    }
  return prev[lb];
}

static const char *
suggest_command (const char *word)
{
  const char *best = NULL;
  guint best_distance = G_MAXUINT;

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      guint d = edit_distance (word, commands[i].name);

      if (g_str_has_prefix (commands[i].name, word) && strlen (word) >= 2)
        d = MIN (d, 1);
      if (d < best_distance)
        {
          best_distance = d;
          best = commands[i].name;
        }
    }
  if (best != NULL && best_distance <= MAX (2, strlen (word) / 3))
    return best;
  return NULL;
}

static void
print_general_help (FILE *out)
{
  fprintf (out, "%s\n  coffer %s\n\n", _("Usage:"), _("[GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGUMENTS]"));
  fprintf (out, "%s\n\n", _("Encrypted backups of your personal data, by category."));
  fprintf (out, "%s\n", _("Commands:"));
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-14s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "  %-14s %s\n", "help", _("Show help for a command"));
  fprintf (out, "\n%s\n", _("Global options: --repo LOCATION, --password-file FILE, "
                            "--recovery-key-file FILE, --share-file FILE, --json, --quiet, --verbose,\n"
                            "  --s3-endpoint URL, --s3-region REGION, --s3-path-style, "
                            "--limit-upload KBPS, --help, --version"));
  fprintf (out, "\n%s\n", _("Environment: COFFER_REPO, COFFER_PASSWORD, COFFER_RECOVERY_KEY, "
                            "COFFER_NEW_PASSWORD,\n  COFFER_WEBDAV_USER, COFFER_WEBDAV_PASSWORD, "
                            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"));
  fprintf (out, "\n%s\n", _("Example:\n"
                            "  export COFFER_PASSWORD=…   # or --password-file FILE\n"
                            "  coffer init --repo /media/disk/backup\n"
                            "  coffer category add Photos --repo /media/disk/backup ~/Pictures\n"
                            "  coffer backup --repo /media/disk/backup\n"
                            "  coffer restore --repo /media/disk/backup --category Photos --target ~/restored"));
  fprintf (out, "\n%s\n", _("Run 'coffer COMMAND --help' for the options of a command."));
}

static CofferSecret *
take_env_secret (const char *name)
{
  const char *value = g_getenv (name);
  CofferSecret *secret;

  if (value == NULL)
    return NULL;
  secret = coffer_secret_new_from_string (value);
  /* Wipe the copy in this process's environment block (visible in
   * /proc/PID/environ) before unsetting the variable. */
  sodium_memzero ((void *) value, strlen (value));
  g_unsetenv (name);
  return secret;
}

/* Where the translations are: LOCALEDIR, or for a test (COFFER_TESTING=1)
 * the folder in COFFER_TEST_LOCALEDIR, so that tests/cli/test-cli-de can
 * run the built binary against a catalogue it compiled itself. */
static const char *
locale_dir (void)
{
  const char *dir = g_getenv ("COFFER_TEST_LOCALEDIR");

  if (dir != NULL && g_strcmp0 (g_getenv ("COFFER_TESTING"), "1") == 0)
    return dir;
  return LOCALEDIR;
}

/* A test hook: with COFFER_TESTING=1 and COFFER_TEST_HOLD=1, the process
 * stops after taking its secrets until stdin closes, so that a test can
 * inspect /proc/PID/environ and /proc/PID/cmdline. */
static void
test_hold (void)
{
  char buf[64];

  if (g_strcmp0 (g_getenv ("COFFER_TESTING"), "1") != 0 ||
      g_strcmp0 (g_getenv ("COFFER_TEST_HOLD"), "1") != 0)
    return;
  fputs ("held\n", stdout);
  fflush (stdout);
  while (fread (buf, 1, sizeof buf, stdin) > 0)
    ;
}

/* Fails with a usage error when argv holds a secret (--password=…). */
static gboolean
refuse_secret_arguments (int      argc,
                         char   **argv,
                         GError **error)
{
  static const char * const refused[] = {
    "--password", "--new-password", "--recovery-key", "--passphrase", NULL,
  };

  for (int i = 1; i < argc; i++)
    {
      g_autofree char *name = NULL;
      const char *hint;
      const char *eq;

      if (g_str_equal (argv[i], "--"))
        break;
      eq = strchr (argv[i], '=');
      name = eq != NULL ? g_strndup (argv[i], eq - argv[i]) : g_strdup (argv[i]);
      if (!g_strv_contains (refused, name))
        continue;

      /* Wipe the value in our own argv so it does not linger in memory. */
      if (eq != NULL)
        sodium_memzero ((void *) (eq + 1), strlen (eq + 1));

      if (g_str_equal (name, "--recovery-key"))
        hint = _("Give the recovery key in the COFFER_RECOVERY_KEY environment "
                 "variable, with --recovery-key-file FILE, or type it when asked.");
      else if (g_str_equal (name, "--new-password"))
        hint = _("Give the new password in COFFER_NEW_PASSWORD, with "
                 "--new-password-file FILE, or type it when asked.");
      else
        hint = _("Give the password in the COFFER_PASSWORD environment variable, "
                 "with --password-file FILE, or type it when asked.");
      return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, hint,
                              _("Secrets are never accepted as command-line arguments (%s): "
                                "other programs and users can read them."), name);
    }
  return TRUE;
}

static void
coffer_cli_free (CofferCli *cli)
{
  g_free (cli->repo_location);
  g_free (cli->password_file);
  g_free (cli->recovery_key_file);
  g_strfreev (cli->share_files);
  g_free (cli->s3_endpoint);
  g_free (cli->s3_region);
  g_free (cli->command);
  g_clear_pointer (&cli->env_password, coffer_secret_free);
  g_clear_pointer (&cli->env_recovery_key, coffer_secret_free);
  g_clear_pointer (&cli->env_new_password, coffer_secret_free);
  g_clear_pointer (&cli->password, coffer_secret_free);
  g_clear_object (&cli->repository);
  g_clear_object (&cli->store);
  g_clear_object (&cli->cancellable);
  g_free (cli);
}

/* Finds the command in argv (or the help asked for) and runs it. */
static gboolean
run_command (CofferCli  *cli,
             int         argc,
             char      **argv,
             GError    **error)
{
  g_autofree char **args = NULL;
  int nargs = argc;
  const char *word;

  if (!refuse_secret_arguments (argc, argv, error))
    return FALSE;

  /* A private copy of argv that the option parsers may rearrange. */
  args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = argv[i];

  for (int i = 1; i < nargs; i++)
    {
      if (g_str_equal (args[i], "--version") || g_str_equal (args[i], "-V"))
        {
          printf ("coffer %s\n", PACKAGE_VERSION);
          return TRUE;
        }
    }

  word = coffer_cli_take_positional (&nargs, args);
  if (word == NULL)
    {
      gboolean help = FALSE;

      for (int i = 1; i < nargs; i++)
        if (g_str_equal (args[i], "--help") || g_str_equal (args[i], "-h"))
          help = TRUE;
      if (help)
        {
          print_general_help (stdout);
          return TRUE;
        }
      return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, _("Run 'coffer --help' to see the commands."),
                              "%s", _("No command given."));
    }

  if (g_str_equal (word, "help"))
    {
      word = coffer_cli_take_positional (&nargs, args);
      if (word == NULL)
        {
          print_general_help (stdout);
          return TRUE;
        }
      /* "coffer help backup" is "coffer backup --help" */
      args = g_renew (char *, args, nargs + 2);
      args[nargs++] = (char *) "--help";
      args[nargs] = NULL;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (g_str_equal (word, commands[i].name))
        {
          g_autofree char *prog = g_strdup_printf ("coffer %s", word);

          cli->command = g_strdup (word);
          args[0] = prog;
          return commands[i].func (cli, nargs, args, error);
        }
    }

  {
    const char *suggestion = suggest_command (word);
    g_autofree char *shown = coffer_cli_display_name (word);
    g_autofree char *hint = NULL;

    if (suggestion != NULL)
      hint = g_strdup_printf (_("Did you mean '%s'?"), suggestion);
    else
      hint = g_strdup (_("Run 'coffer --help' to see the commands."));
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, hint, _("“%s” is not a coffer command."), shown);
  }
}

int
coffer_cli_run (int    argc,
                char **argv)
{
  CofferCli *cli;
  g_autoptr(GError) error = NULL;
  int status = COFFER_EXIT_OK;

  /* A locale that is named but not generated (LANG=de_DE.UTF-8 on a
   * fresh system) makes setlocale fail and leaves "C", in which gettext
   * ignores LANGUAGE; C.UTF-8 always exists and lets LANGUAGE=de work. */
  if (setlocale (LC_ALL, "") == NULL)
    setlocale (LC_ALL, "C.UTF-8");
  bindtextdomain (GETTEXT_PACKAGE, locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("coffer");

  coffer_core_init ();

  cli = g_new0 (CofferCli, 1);
  cli->env_password = take_env_secret ("COFFER_PASSWORD");
  cli->env_recovery_key = take_env_secret ("COFFER_RECOVERY_KEY");
  cli->env_new_password = take_env_secret ("COFFER_NEW_PASSWORD");
  cli->stdin_tty = isatty (STDIN_FILENO);
  cli->stderr_tty = isatty (STDERR_FILENO);
  cli->cancellable = g_cancellable_new ();

  test_hold ();
  setup_signals (cli->cancellable);

  /* The one place where a failed command is reported. (FALSE without an
   * error would be a bug in the command: a plain failure.) */
  if (!run_command (cli, argc, argv, &error))
    status = error != NULL ? coffer_cli_report_error (cli, error) : COFFER_EXIT_FAILURE;

  coffer_cli_progress_clear ();
  g_mutex_lock (&signal_mutex);
  signal_cancellable = NULL;
  g_mutex_unlock (&signal_mutex);
  if (status == COFFER_EXIT_OK && g_cancellable_is_cancelled (cli->cancellable))
    status = COFFER_EXIT_CANCELLED;
  coffer_cli_free (cli);
  fflush (stdout);
  return status;
}
