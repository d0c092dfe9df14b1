/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer-cli-kit.c: the emergency kit, a printable PDF with the recovery
 * key (`coffer recovery-key kit`, `coffer init --emergency-kit`). */
#include "coffer-cli-private.h"
#include "coffer-emergency-kit.h"

gboolean
coffer_cli_write_emergency_kit (CofferCli           *cli,
                                CofferRepository    *repository,
                                const char          *path,
                                const CofferSecret  *recovery_key,
                                GError             **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) formatted = coffer_recovery_key_format (recovery_key);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *location = coffer_repository_describe (repository);
  g_autofree char *shown = coffer_cli_display_name (path);

  if (!coffer_emergency_kit_write_pdf (path, formatted, location, coffer_repository_get_id (repository),
                                       now, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED,
                                _("Give the name of a file that does not exist yet."),
                                _("%s already exists; an emergency kit is never written over "
                                  "another file."), shown);
      return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                              _("Could not write the emergency kit to %s: %s"), shown, local_error->message);
    }
  coffer_cli_info (cli, _("The emergency kit was written to %s. Print it and keep it somewhere safe "
                          "and offline, then delete the file: whoever has it can open every category "
                          "of this backup."), shown);
  return TRUE;
}

gboolean
coffer_cli_recovery_key_kit (CofferCli  *cli,
                             int         argc,
                             char      **argv,
                             GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autofree char *output = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_("Write the PDF to FILE (never over an existing file)"), N_("FILE") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL,
                         _("Write the emergency kit: a printable PDF with the recovery key."),
                         _("The recovery key is read from COFFER_RECOVERY_KEY, --recovery-key-file or "
                           "a prompt, and checked against the repository before anything is "
                           "written. The PDF holds the key in the clear: print it, keep the paper "
                           "offline, and delete the file."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (output == NULL || argc > 1)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give the file to write with --output FILE."));
  if (g_file_test (output, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    {
      g_autofree char *shown = coffer_cli_display_name (output);
      return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                              _("%s already exists; an emergency kit is never written over "
                                "another file."), shown);
    }

  if (!coffer_cli_open_repository (cli, error))
    return FALSE;
  rk = coffer_cli_get_recovery_key (cli, TRUE, &local_error);
  if (rk == NULL && local_error == NULL)
    return coffer_cli_missing_recovery_key (_("No recovery key given."), error);
  if (rk == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  /* Never print a key that does not open this repository. */
  if (!coffer_repository_verify_recovery_key (cli->repository, rk, cli->cancellable, &local_error))
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY))
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                "%s", _("This is a well-formed recovery key, but not the one of "
                                        "this repository; no emergency kit was written."));
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }
  return coffer_cli_write_emergency_kit (cli, cli->repository, output, rk, error);
}
