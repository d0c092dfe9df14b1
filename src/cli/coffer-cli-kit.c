/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer-cli-kit.c: the emergency kit, a printable PDF with the recovery
 * key (`coffer recovery-key kit`, `coffer init --emergency-kit`). */
#include "coffer-cli-private.h"
#include "coffer-emergency-kit.h"

int
coffer_cli_write_emergency_kit (CofferCli          *cli,
                                CofferRepository   *repository,
                                const char         *path,
                                const CofferSecret *recovery_key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) formatted = coffer_recovery_key_format (recovery_key);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *location = coffer_repository_describe (repository);
  g_autofree char *shown = coffer_cli_display_name (path);

  if (!coffer_emergency_kit_write_pdf (path, formatted, location, coffer_repository_get_id (repository),
                                       now, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        {
          coffer_cli_error (cli, _("%s already exists; an emergency kit is never written over "
                                   "another file."), shown);
          coffer_cli_hint (cli, "%s", _("Give the name of a file that does not exist yet."));
          return COFFER_EXIT_FAILURE;
        }
      coffer_cli_error (cli, _("Could not write the emergency kit to %s: %s"), shown, error->message);
      return COFFER_EXIT_FAILURE;
    }
  coffer_cli_info (cli, _("The emergency kit was written to %s. Print it and keep it somewhere safe "
                          "and offline, then delete the file: whoever has it can open every category "
                          "of this backup."), shown);
  return COFFER_EXIT_OK;
}

int
coffer_cli_recovery_key_kit (CofferCli  *cli,
                             int         argc,
                             char      **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autofree char *output = NULL;
  int status;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_("Write the PDF to FILE (never over an existing file)"), N_("FILE") },
    { NULL }
  };

  status = coffer_cli_parse (cli, entries, NULL,
                             _("Write the emergency kit: a printable PDF with the recovery key."),
                             _("The recovery key is read from COFFER_RECOVERY_KEY, --recovery-key-file or "
                               "a prompt, and checked against the repository before anything is "
                               "written. The PDF holds the key in the clear: print it, keep the paper "
                               "offline, and delete the file."),
                             &argc, &argv);
  if (status != -1)
    return status;
  if (output == NULL || argc > 1)
    {
      coffer_cli_error (cli, "%s", _("Give the file to write with --output FILE."));
      return COFFER_EXIT_USAGE;
    }
  if (g_file_test (output, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    {
      g_autofree char *shown = coffer_cli_display_name (output);
      coffer_cli_error (cli, _("%s already exists; an emergency kit is never written over "
                               "another file."), shown);
      return COFFER_EXIT_FAILURE;
    }

  status = coffer_cli_open_repository (cli);
  if (status != -1)
    return status;
  rk = coffer_cli_get_recovery_key (cli, TRUE, &error);
  if (rk == NULL && error == NULL)
    return coffer_cli_missing_recovery_key (cli, _("No recovery key given."));
  if (rk == NULL)
    return coffer_cli_report_error (cli, error);
  /* Never print a key that does not open this repository. */
  if (!coffer_repository_verify_recovery_key (cli->repository, rk, cli->cancellable, &error))
    {
      if (g_error_matches (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY))
        {
          coffer_cli_error (cli, "%s", _("This is a well-formed recovery key, but not the one of "
                                         "this repository; no emergency kit was written."));
          return COFFER_EXIT_USAGE;
        }
      return coffer_cli_report_error (cli, error);
    }
  return coffer_cli_write_emergency_kit (cli, cli->repository, output, rk);
}
