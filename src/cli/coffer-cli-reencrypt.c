/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer-cli-reencrypt.c: `coffer reencrypt` (also run by
 * `coffer protect NAME --advanced --reencrypt`). */
#include <stdio.h>

#include "coffer-cli-private.h"

gboolean
coffer_cli_reencrypt_category (CofferCli             *cli,
                               const CofferCategory  *category,
                               GError               **error)
{
  g_autoptr(GError) local_error = NULL;
  guint64 files = 0, bytes = 0;
  g_autofree char *size = NULL;

  coffer_cli_progress_reset ();
  if (!coffer_repository_reencrypt_category (cli->repository, category->id, coffer_cli_progress_cb, cli,
                                             cli->cancellable, &local_error))
    {
      coffer_cli_progress_clear ();
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *hint = g_strdup_printf (_("Run 'coffer reencrypt --category %s' again: it "
                                                     "continues where it stopped."), category->name);

          return coffer_cli_fail (error, COFFER_CLI_ERROR_CANCELLED, hint,
                                  _("Re-encrypting “%s” was interrupted."), category->name);
        }
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
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
  return TRUE;
}

gboolean
coffer_cli_cmd_reencrypt (CofferCli  *cli,
                          int         argc,
                          char      **argv,
                          GError    **error)
{
  g_autofree char *name = NULL;
  g_autoptr(CofferCategory) category = NULL;
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name, N_("The category to re-encrypt"), N_("NAME") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL,
                         _("Re-encrypt a category's older backups under its newest key."),
                         _("After a switch to Advanced protection (or a device removal) older "
                           "backups stay sealed under the earlier key, which an old copy of the "
                           "password envelope can still open. This rewrites them under the newest "
                           "key and deletes the old data at once. It needs this device's key or "
                           "the recovery key; if interrupted, run it again to continue. Do not run "
                           "it while another computer backs up the same category."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc > 1)
    return coffer_cli_unexpected_argument (argv[1], _("Name the category with --category NAME."), error);

  if (!coffer_cli_unlock_repository (cli, error))
    return FALSE;
  if (!coffer_repository_has_account_key (cli->repository))
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("Give the recovery key in COFFER_RECOVERY_KEY or with "
                              "--recovery-key-file FILE."),
                            "%s", _("Re-encrypting needs this device's key or the recovery key; the "
                                    "backup password alone is not enough."));
  category = coffer_cli_find_category (cli, name, error);
  if (category == NULL)
    return FALSE;
  return coffer_cli_reencrypt_category (cli, category, error);
}
