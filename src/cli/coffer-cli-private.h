/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdio.h>
#include <glib/gi18n.h>
#include <gio/gio.h>

#include "coffer-cli.h"
#include "coffer-repository.h"
#include "coffer-recovery-key.h"
#include "coffer-error.h"

G_BEGIN_DECLS

/* State shared by all commands of one run. */
typedef struct
{
  /* Global options (every command accepts them). */
  char     *repo_location;
  char     *password_file;
  char     *recovery_key_file;
  char    **share_files;        /* --share-file, repeatable: recovery shares */
  gboolean  json;
  gboolean  quiet;
  gboolean  verbose;
  char     *s3_endpoint;
  char     *s3_region;
  gboolean  s3_path_style;
  gint64    limit_upload_kbps;
  gboolean  help;

  /* "backup", "category add", ... */
  char     *command;

  /* Secrets taken from the environment at start (and wiped there). */
  CofferSecret *env_password;
  CofferSecret *env_recovery_key;     /* text, as typed */
  CofferSecret *env_new_password;

  /* The password actually used for this run (for re-use, e.g. init). */
  CofferSecret *password;

  GCancellable     *cancellable;
  CofferStore      *store;
  CofferRepository *repository;

  gboolean  stdin_tty;
  gboolean  stderr_tty;

  /* Set only while the options that take a value are collected (see
   * coffer_cli_take_positional): coffer_cli_parse then adds the command's
   * and the global options to this set and returns TRUE without parsing
   * (coffer_cli_parse_done is then TRUE), and coffer_cli_run_subcommand
   * runs every subcommand so. */
  GHashTable *describe;
} CofferCli;

/* How a command failed. A command returns FALSE with a GError; the error
 * is printed and mapped to the exit status in one place,
 * coffer_cli_exit_status_for_error (called by coffer_cli_run). Errors of
 * the core (COFFER_REPO_ERROR, COFFER_STORE_ERROR, ...) are passed up as
 * they are; the CLI's own errors are in this domain, whose codes are the
 * exit statuses themselves (docs/CLI.md) and which may carry a hint,
 * printed after the message. */
#define COFFER_CLI_ERROR (coffer_cli_error_quark ())
typedef enum
{
  COFFER_CLI_ERROR_FAILED      = COFFER_EXIT_FAILURE,     /* 1 */
  COFFER_CLI_ERROR_USAGE       = COFFER_EXIT_USAGE,       /* 2: usage error, wrong key, locked */
  COFFER_CLI_ERROR_SKIPPED     = COFFER_EXIT_SKIPPED,     /* 3: backup written, paths skipped */
  COFFER_CLI_ERROR_CONFLICTS   = COFFER_EXIT_CONFLICTS,   /* 4: restore left newer files */
  COFFER_CLI_ERROR_UNREACHABLE = COFFER_EXIT_UNREACHABLE, /* 5: not connected */
  COFFER_CLI_ERROR_CANCELLED   = COFFER_EXIT_CANCELLED,   /* 130 */
} CofferCliError;

GQuark coffer_cli_error_quark (void);

typedef gboolean (*CofferCliCommandFunc) (CofferCli *cli, int argc, char **argv, GError **error);

/* ---- coffer-cli.c ---- */
/* Parses argv (argv[0] is the program name) with the command's entries plus
 * the global options. Returns FALSE with a usage error (and the hint to run
 * --help) when the options do not parse. A command calls it before doing
 * anything else, then returns TRUE at once when coffer_cli_parse_done says
 * so: the help was printed (--help), or in describe mode (cli->describe)
 * the entries were only recorded. */
gboolean coffer_cli_parse (CofferCli *cli, GOptionEntry *entries, const char *parameter_string,
                           const char *summary, const char *description, int *argc, char ***argv,
                           GError **error);
gboolean coffer_cli_parse_done (CofferCli *cli);
void  coffer_cli_error (CofferCli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);
void  coffer_cli_hint  (CofferCli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);
void  coffer_cli_warning (CofferCli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);
void  coffer_cli_info  (CofferCli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Sets *error to a COFFER_CLI_ERROR with code status (an exit status), the
 * message from format and hint (or NULL) to print after it. Returns FALSE,
 * so that a command can `return coffer_cli_fail (error, ...);`. */
gboolean coffer_cli_fail (GError **error, CofferCliError status, const char *hint,
                          const char *format, ...) G_GNUC_PRINTF (4, 5);
/* For a command that has already printed everything it had to say (a
 * backup that skipped paths, a check that found problems): an error that
 * only sets the exit status; coffer_cli_report_error prints nothing. */
gboolean coffer_cli_fail_reported (GError **error, CofferCliError status);
/* g_propagate_error (error, local_error); returns FALSE. */
gboolean coffer_cli_propagate (GError **error, GError *local_error);
/* The exit status for error: the one place where errors become statuses. */
int   coffer_cli_exit_status_for_error (const GError *error);
/* Prints error (its hint, or one for the common core errors) and returns
 * coffer_cli_exit_status_for_error. coffer_cli_run calls it for the error a
 * command returns; a command that goes on after a failure (backup of
 * several categories) calls it itself. */
int   coffer_cli_report_error (CofferCli *cli, const GError *error);
/* Marks a blocking prompt as running: SIGINT then exits at once (130) after
 * restoring the terminal. */
void  coffer_cli_prompt_begin (int fd, const void *saved_termios);
void  coffer_cli_prompt_end   (void);

/* ---- coffer-cli-util.c ---- */
gboolean      coffer_cli_have_terminal (void);
/* Reads a line from the terminal without echo into secure memory. */
CofferSecret *coffer_cli_prompt_secret (const char *prompt, GError **error);
/* Asks a yes/no question on the terminal (default no). */
gboolean      coffer_cli_confirm (CofferCli *cli, const char *question);
/* Password from COFFER_PASSWORD, --password-file, or (prompt = TRUE and a
 * terminal) a no-echo prompt. NULL without error when none was given. */
CofferSecret *coffer_cli_get_password (CofferCli *cli, gboolean prompt, GError **error);
/* A new password from env_new (COFFER_NEW_PASSWORD), file, or asked twice. */
CofferSecret *coffer_cli_get_new_password (CofferCli *cli, const char *file, gboolean allow_empty,
                                           GError **error);
/* Recovery key (16 bytes) from COFFER_RECOVERY_KEY, --recovery-key-file or
 * a prompt; parse errors (typo, invalid) are returned as they are. NULL
 * without error when none was given and prompting is off or impossible. */
CofferSecret *coffer_cli_get_recovery_key (CofferCli *cli, gboolean prompt, GError **error);
gboolean      coffer_cli_recovery_key_available (CofferCli *cli);

/* Opens the store and repository (no keys). */
gboolean coffer_cli_open_repository (CofferCli *cli, GError **error);
/* Opens and unlocks. */
gboolean coffer_cli_unlock_repository (CofferCli *cli, GError **error);
/* The category named by name (or the only one when name is NULL). */
CofferCategory *coffer_cli_find_category (CofferCli *cli, const char *name, GError **error);
/* coffer_cli_unlock_repository, then coffer_cli_find_category. */
CofferCategory *coffer_cli_unlock_category (CofferCli *cli, const char *name, GError **error);

/* A usage error: message and how to give the recovery key. Returns FALSE. */
gboolean  coffer_cli_missing_recovery_key (const char *message, GError **error);
/* A usage error: "Unexpected argument" for arg, and hint. Returns FALSE. */
gboolean  coffer_cli_unexpected_argument (const char *arg, const char *hint, GError **error);
/* coffer_cli_confirm; when not confirmed, sets cancelled as a failure
 * (exit status 1) and returns FALSE. */
gboolean  coffer_cli_confirm_or_cancel (CofferCli *cli, const char *question, const char *cancelled,
                                        GError **error);

/* A subcommand of a command group (`coffer category add`, ...). */
typedef struct
{
  const char          *name;
  CofferCliCommandFunc func;
} CofferCliSubcommand;

/* Runs the subcommand of `coffer GROUP` named by the first positional
 * argument. Without one, prints "Usage:", usage and details (on stdout with
 * --help, and returns TRUE; else on stderr, and fails with missing as a
 * usage error). An unknown name fails as a usage error that names it and
 * the group, with a hint naming every subcommand.
 * Every command group dispatches through this: in describe mode it runs
 * each subcommand so that their options are known (a group that took its
 * word itself would not be). */
gboolean coffer_cli_run_subcommand (CofferCli *cli, const char *group, const CofferCliSubcommand *subs,
                                    gsize n_subs, const char *usage, const char *details,
                                    const char *missing, int argc, char **argv,
                                    GError **error);

const char *coffer_cli_get_location (CofferCli *cli);
CofferStoreOptions coffer_cli_store_options (CofferCli *cli);

/* Progress on stderr (a terminal, not --quiet). */
void  coffer_cli_progress_cb (const CofferProgress *progress, gpointer user_data);
void  coffer_cli_progress_clear (void);
void  coffer_cli_progress_last (guint64 *files, guint64 *bytes);
void  coffer_cli_progress_reset (void);

/* The names of the trusted computers, looked up once after unlocking (none
 * without the account key); coffer_cli_device_name then answers NULL for an
 * unknown id. */
void        coffer_cli_load_device_names (CofferCli *cli);
const char *coffer_cli_device_name       (const char *device_id);

/* Output helpers. */
void  coffer_cli_json_string (GString *out, const char *str);
/* "key": "value" for a raw byte string (file name); adds "key_raw": base64
 * when it is not valid UTF-8. No leading comma. */
void  coffer_cli_json_name   (GString *out, const char *key, const char *raw);
/* [ "a", "b" ] (no spaces) for a NULL-terminated array (NULL: []). */
void  coffer_cli_json_string_array (GString *out, const char * const *strv);
typedef void (*CofferCliJsonFunc) (GString *out, gconstpointer item);
/* Prints items on stdout as one JSON array line, each written by item_json. */
void  coffer_cli_print_json_array (GPtrArray *items, CofferCliJsonFunc item_json);
char *coffer_cli_display_name (const char *raw);
char *coffer_cli_format_time  (gint64 unix_seconds);
char *coffer_cli_format_iso   (gint64 unix_seconds);
char *coffer_cli_format_duration (gdouble seconds);
char *coffer_cli_short_id (const char *id);
void  coffer_cli_print_raw (FILE *stream, const char *str);

/* ---- commands ---- */
gboolean coffer_cli_cmd_init (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_category (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_protect (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_password (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_recovery_key (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_backup (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_snapshots (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_ls (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_find (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_restore (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_check (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_forget (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_prune (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_devices (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_reencrypt (CofferCli *cli, int argc, char **argv, GError **error);
gboolean coffer_cli_cmd_remote (CofferCli *cli, int argc, char **argv, GError **error);

/* ---- coffer-cli-reencrypt.c ---- */
/* Re-encrypts a category's older backups with progress. */
gboolean coffer_cli_reencrypt_category (CofferCli *cli, const CofferCategory *category, GError **error);

/* ---- coffer-cli-kit.c ---- */
/* `coffer recovery-key kit` */
gboolean coffer_cli_recovery_key_kit (CofferCli *cli, int argc, char **argv, GError **error);
/* Writes the emergency kit PDF for an already verified recovery key. */
gboolean coffer_cli_write_emergency_kit (CofferCli *cli, CofferRepository *repository, const char *path,
                                         const CofferSecret *recovery_key, GError **error);

/* ---- coffer-cli-shares.c ---- */
/* `coffer recovery-key share` */
gboolean  coffer_cli_recovery_key_share (CofferCli *cli, int argc, char **argv, GError **error);
/* The recovery key combined from the --share-file shares (cli->repository
 * is opened first when needed); errors say which file, or how many more
 * shares are needed. */
CofferSecret *coffer_cli_combine_share_files (CofferCli *cli, GError **error);
/* After `recovery-key replace`: says that the shares of the old key no
 * longer work, when there were any. */
void coffer_cli_shares_after_replace (CofferCli *cli);

/* Finds the first positional argument of argv (skipping the values of
 * options that take one, as the commands' GOptionEntry tables declare them),
 * removes it from argv and returns it (or NULL). */
char *coffer_cli_take_positional (int *argc, char **argv);

G_END_DECLS
