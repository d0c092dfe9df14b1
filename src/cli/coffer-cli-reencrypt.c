/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer-cli-reencrypt.c: `coffer reencrypt` (also run by
 * `coffer protect NAME --advanced --reencrypt`). */
#include <stdio.h>

#include "coffer-cli-private.h"

int
coffer_cli_reencrypt_category (CofferCli            *cli,
                               const CofferCategory *category)
{
  g_autoptr(GError) error = NULL;
  guint64 files = 0, bytes = 0;
  g_autofree char *size = NULL;

  coffer_cli_progress_reset ();
  if (!coffer_repository_reencrypt_category (cli->repository, category->id, coffer_cli_progress_cb, cli,
                                             cli->cancellable, &error))
    {
      coffer_cli_progress_clear ();
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          coffer_cli_error (cli, _("Re-encrypting “%s” was interrupted."), category->name);
          coffer_cli_hint (cli, _("Run 'coffer reencrypt --category %s' again: it continues where it stopped."),
                           category->name);
          return COFFER_EXIT_CANCELLED;
        }
      return coffer_cli_report_error (cli, error);
    }
  coffer_cli_progress_last (&files, &bytes);
  coffer_cli_progress_clear ();
  size = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
  if (files == 0)
    coffer_cli_info (cli, _("Every backup of “%s” already uses its newest key."), category->name);
  else
    coffer_cli_info (cli, ngettext ("Re-encrypted %llu backup of “%s” (%s) under its newest key and "
                                    "deleted the old copy. Copies your storage provider may keep in "
                                    "its own file history or trash are not affected: empty those too.",
                                    "Re-encrypted %llu backups of “%s” (%s) under its newest key and "
                                    "deleted the old copies. Copies your storage provider may keep in "
                                    "its own file history or trash are not affected: empty those too.",
                                    (gulong) files),
                     (unsigned long long) files, category->name, size);
  return COFFER_EXIT_OK;
}

int
coffer_cli_cmd_reencrypt (CofferCli  *cli,
                          int         argc,
                          char      **argv)
{
  g_autofree char *name = NULL;
  g_autoptr(CofferCategory) category = NULL;
  int status;
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name, N_("The category to re-encrypt"), N_("NAME") },
    { NULL }
  };

  status = coffer_cli_parse (cli, entries, NULL,
                             _("Re-encrypt a category's older backups under its newest key."),
                             _("After a switch to Advanced protection (or a device removal) older "
                               "backups stay sealed under the earlier key, which an old copy of the "
                               "password envelope can still open. This rewrites them under the newest "
                               "key and deletes the old data at once. It needs this device's key or "
                               "the recovery key; if interrupted, run it again to continue. Do not run "
                               "it while another computer backs up the same category."),
                             &argc, &argv);
  if (status != -1)
    return status;
  if (argc > 1)
    return coffer_cli_unexpected_argument (cli, argv[1], _("Name the category with --category NAME."));

  status = coffer_cli_unlock_repository (cli);
  if (status != -1)
    return status;
  if (!coffer_repository_has_account_key (cli->repository))
    {
      coffer_cli_error (cli, "%s", _("Re-encrypting needs this device's key or the recovery key; the "
                                     "backup password alone is not enough."));
      coffer_cli_hint (cli, "%s", _("Give the recovery key in COFFER_RECOVERY_KEY or with "
                                    "--recovery-key-file FILE."));
      return COFFER_EXIT_USAGE;
    }
  category = coffer_cli_find_category (cli, name, &status);
  if (category == NULL)
    return status;
  return coffer_cli_reencrypt_category (cli, category);
}
