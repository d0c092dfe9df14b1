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
   * and the global options to this set and returns COFFER_EXIT_OK without
   * parsing, and coffer_cli_run_subcommand runs every subcommand so. */
  GHashTable *describe;
} CofferCli;

typedef int (*CofferCliCommandFunc) (CofferCli *cli, int argc, char **argv);

/* ---- coffer-cli.c ---- */
/* Parses argv (argv[0] is the program name) with the command's entries plus
 * the global options. Returns -1 to go on, or an exit status (help printed:
 * 0, usage error: 2). A command calls it before doing anything else and
 * returns the status when it is not -1: in describe mode (cli->describe)
 * it only records the entries. */
int   coffer_cli_parse (CofferCli *cli, GOptionEntry *entries, const char *parameter_string,
                        const char *summary, const char *description, int *argc, char ***argv);
void  coffer_cli_error (CofferCli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);
void  coffer_cli_hint  (CofferCli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);
void  coffer_cli_warning (CofferCli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);
void  coffer_cli_info  (CofferCli *cli, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Prints error (and a hint for the common cases) and returns the exit
 * status that fits it. */
int   coffer_cli_report_error (CofferCli *cli, const GError *error);
int   coffer_cli_status_for_error (const GError *error);
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

/* Opens the store and repository (no keys). Returns an exit status, -1 on
 * success. */
int   coffer_cli_open_repository (CofferCli *cli);
/* Opens and unlocks. Returns -1 on success. */
int   coffer_cli_unlock_repository (CofferCli *cli);
/* The category named by name (or the only one when name is NULL). */
CofferCategory *coffer_cli_find_category (CofferCli *cli, const char *name, int *status);
/* coffer_cli_unlock_repository, then coffer_cli_find_category; NULL with
 * *status set to the exit status when either fails. */
CofferCategory *coffer_cli_unlock_category (CofferCli *cli, const char *name, int *status);

/* Prints message and how to give the recovery key; returns COFFER_EXIT_USAGE. */
int       coffer_cli_missing_recovery_key (CofferCli *cli, const char *message);
/* Prints "Unexpected argument" for arg and hint; returns COFFER_EXIT_USAGE. */
int       coffer_cli_unexpected_argument (CofferCli *cli, const char *arg, const char *hint);
/* coffer_cli_confirm; when not confirmed, prints cancelled as an error and
 * returns FALSE. */
gboolean  coffer_cli_confirm_or_cancel (CofferCli *cli, const char *question, const char *cancelled);

/* A subcommand of a command group (`coffer category add`, ...). */
typedef struct
{
  const char          *name;
  CofferCliCommandFunc func;
} CofferCliSubcommand;

/* Runs the subcommand of `coffer GROUP` named by the first positional
 * argument and returns its exit status. Without one, prints "Usage:", usage
 * and details (on stdout with --help, exit 0; else on stderr, then missing
 * as an error, exit 2). An unknown name is returned in *unknown (else NULL)
 * with COFFER_EXIT_USAGE and nothing printed. Every command group dispatches
 * through this: in describe mode it runs each subcommand so that their
 * options are known (a group that took its word itself would not be). */
int   coffer_cli_run_subcommand (CofferCli *cli, const char *group, const CofferCliSubcommand *subs,
                                 gsize n_subs, const char *usage, const char *details,
                                 const char *missing, const char **unknown, int argc, char **argv);

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
int coffer_cli_cmd_init        (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_category    (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_protect     (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_password    (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_recovery_key (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_backup      (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_snapshots   (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_ls          (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_find        (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_restore     (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_check       (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_forget      (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_prune       (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_devices     (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_reencrypt   (CofferCli *cli, int argc, char **argv);
int coffer_cli_cmd_remote      (CofferCli *cli, int argc, char **argv);

/* ---- coffer-cli-reencrypt.c ---- */
/* Re-encrypts a category's older backups with progress; returns an exit status. */
int coffer_cli_reencrypt_category (CofferCli *cli, const CofferCategory *category);

/* ---- coffer-cli-kit.c ---- */
/* `coffer recovery-key kit` */
int coffer_cli_recovery_key_kit   (CofferCli *cli, int argc, char **argv);
/* Writes the emergency kit PDF for an already verified recovery key;
 * returns an exit status. */
int coffer_cli_write_emergency_kit (CofferCli *cli, CofferRepository *repository, const char *path,
                                    const CofferSecret *recovery_key);

/* ---- coffer-cli-shares.c ---- */
/* `coffer recovery-key share` */
int  coffer_cli_recovery_key_share (CofferCli *cli, int argc, char **argv);
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
