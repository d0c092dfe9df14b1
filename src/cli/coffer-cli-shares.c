/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Recovery contacts: `coffer recovery-key share` splits the recovery key
 * into share sheets, and --share-file combines shares wherever a recovery
 * key is accepted (docs/CLI.md, docs/FORMAT.md "Recovery shares"). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "coffer-cli-private.h"
#include "coffer-emergency-kit.h"
#include "coffer-repository-shares.h"
#include "coffer-shares.h"

/* ---- combining ---- */

CofferSecret *
coffer_cli_combine_share_files (CofferCli  *cli,
                                GError    **error)
{
  g_autoptr(GPtrArray) shares = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_share_free);
  g_autoptr(GError) local_error = NULL;
  CofferSecret *rk;
  guint missing;

  if (cli->repository == NULL && !coffer_cli_open_repository (cli, &local_error))
    {
      /* Why it does not open is said at once; the caller reports this. */
      coffer_cli_report_error (cli, local_error);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED,
                   "%s", _("Recovery shares can only be combined for a repository that can be opened."));
      return NULL;
    }

  for (guint i = 0; cli->share_files[i] != NULL; i++)
    {
      g_autofree char *shown = coffer_cli_display_name (cli->share_files[i]);
      g_autoptr(CofferSecret) raw = coffer_secret_new_from_file (cli->share_files[i], &local_error);
      g_autoptr(CofferSecret) text = NULL;
      CofferShare *share;

      if (raw == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Could not read the share file %s: %s"),
                       shown, local_error->message);
          return NULL;
        }
      text = coffer_secret_new (raw->len + 1);
      memcpy (text->data, raw->data, raw->len);
      text->data[raw->len] = '\0';
      share = coffer_share_parse ((const char *) text->data, &local_error);
      if (share == NULL ||
          !coffer_repository_check_share (cli->repository, share, cli->cancellable, &local_error))
        {
          coffer_share_free (share);
          /* INVALID (exit status 2) for every share problem, so that no
           * caller words it as a problem with a typed recovery key. */
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, _("Share file %s: %s"), shown,
                       local_error->message);
          return NULL;
        }
      g_ptr_array_add (shares, share);
    }

  missing = coffer_shares_missing ((CofferShare * const *) shares->pdata, shares->len);
  if (missing > 0)
    {
      guint needed = ((CofferShare *) g_ptr_array_index (shares, 0))->needed;

      /* INVALID rather than NEEDS_RECOVERY_KEY: the hint for the latter
       * asks for the key, but what is missing is more shares. */
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   ngettext ("Not enough recovery shares: %u more is needed (any %u of them restore the key).",
                             "Not enough recovery shares: %u more are needed (any %u of them restore the key).",
                             missing),
                   missing, needed);
      return NULL;
    }
  rk = coffer_repository_combine_shares (cli->repository, (CofferShare * const *) shares->pdata, shares->len,
                                         cli->cancellable, &local_error);
  if (rk == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, _("Recovery shares: %s"),
                   local_error->message);
      return NULL;
    }
  return rk;
}

/* ---- making shares ---- */

static int
open_new_file (CofferCli  *cli,
               const char *path)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    {
      g_autofree char *shown = coffer_cli_display_name (path);

      coffer_cli_error (cli, _("Could not create %s: %s"), shown, g_strerror (errno));
    }
  return fd;
}

static gboolean
write_share_text (CofferCli          *cli,
                  const char         *path,
                  const CofferSecret *formatted,
                  const char         *owner,
                  guint               index,
                  guint               needed,
                  guint               count)
{
  /* The share is the first line, so that --share-file reads it back. */
  /* Translators: the note under the share in share-I-of-N.txt: share
   * number, number of shares, owner, shares needed, number of shares, owner */
  g_autofree char *note = g_strdup_printf (
    _("\n\nThis is recovery share %u of %u for %s's Coffer backup. Any %u of the %u shares\n"
      "together open every category of the backup; fewer open nothing.\n"
      "Never type it anywhere except on %s's new computer, when Coffer asks for shares\n"
      "from recovery contacts. Keep it private and offline.\n"),
    index, count, owner, needed, count, owner);
  int fd = open_new_file (cli, path);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write (fd, formatted->data, formatted->len) == (ssize_t) formatted->len &&
       write (fd, note, strlen (note)) == (ssize_t) strlen (note) &&
       fsync (fd) == 0;
  if (close (fd) != 0)
    ok = FALSE;
  if (!ok)
    {
      g_autofree char *shown = coffer_cli_display_name (path);

      coffer_cli_error (cli, _("Could not write the share to %s: %s"), shown, g_strerror (errno));
    }
  return ok;
}

static char *
default_owner (void)
{
  const char *real = g_get_real_name ();

  if (real != NULL && *real != '\0' && g_strcmp0 (real, "Unknown") != 0)
    return g_strdup (real);
  return g_strdup (g_get_user_name ());
}

/* Makes the folder dir and adds the names of the sheet and text file of
 * each of count shares to paths (share-I-of-N.pdf, .txt); none may exist. */
static gboolean
prepare_share_files (const char  *dir,
                     gint         count,
                     GPtrArray   *paths,
                     GError     **error)
{
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_autofree char *shown_dir = coffer_cli_display_name (dir);

      return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                              _("Could not create the folder %s: %s"), shown_dir, g_strerror (saved));
    }
  for (gint i = 1; i <= count; i++)
    for (guint ext = 0; ext < 2; ext++)
      {
        g_autofree char *base = g_strdup_printf ("share-%d-of-%d.%s", i, count, ext == 0 ? "pdf" : "txt");
        char *path = g_build_filename (dir, base, NULL);

        g_ptr_array_add (paths, path);
        if (g_file_test (path, G_FILE_TEST_EXISTS) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
          {
            g_autofree char *shown = coffer_cli_display_name (path);

            return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED,
                                    _("Choose an empty folder with --output DIR."),
                                    _("%s already exists; share sheets are never written over other "
                                      "files."), shown);
          }
      }
  return TRUE;
}

gboolean
coffer_cli_recovery_key_share (CofferCli  *cli,
                               int         argc,
                               char      **argv,
                               GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(GPtrArray) shares = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *output = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *shown_dir = NULL;
  g_autofree char *location = NULL;
  gint needed = 2, count = 3;
  GOptionEntry entries[] = {
    { "needed", 'k', 0, G_OPTION_ARG_INT, &needed,
      N_("How many shares together restore the key (2–10, default 2)"), N_("K") },
    { "count", 'n', 0, G_OPTION_ARG_INT, &count,
      N_("How many shares to make, one per person (K–10, default 3)"), N_("N") },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_("Write the share sheets to the folder DIR (made when missing)"), N_("DIR") },
    { "owner", 0, 0, G_OPTION_ARG_STRING, &owner,
      N_("Whose backup it is, as printed on the sheets (default: your name)"), N_("NAME") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL,
                         _("Split the recovery key among people you trust (recovery contacts)."),
                         _("Makes N shares of which any K restore the recovery key; fewer tell "
                           "nothing about it. For each share, DIR gets a printable sheet "
                           "(share-I-of-N.pdf) and a text file with the share alone "
                           "(share-I-of-N.txt), mode 0600, never over existing files. Give each "
                           "person one sheet, then delete the files. The recovery key is needed "
                           "now (COFFER_RECOVERY_KEY, --recovery-key-file or typed when asked) and "
                           "is checked against the repository first. Replacing the recovery key "
                           "makes all its shares useless."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc > 1)
    return coffer_cli_unexpected_argument (argv[1], _("Give the folder with --output DIR."), error);
  if (output == NULL)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give the folder for the share sheets with --output DIR."));
  if (needed < COFFER_SHARES_MIN || count > COFFER_SHARES_MAX || needed > count)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            ngettext ("Cannot make %d share of which %d are needed: it takes at least 2 "
                                      "needed, at most 10 shares, and no more needed than shares.",
                                      "Cannot make %d shares of which %d are needed: it takes at least 2 "
                                      "needed, at most 10 shares, and no more needed than shares.", count),
                       count, needed);
  if (owner == NULL)
    owner = default_owner ();

  /* Every file is checked before anything is made: a half-written set
   * would leave people with sheets that do not match the repository. */
  shown_dir = coffer_cli_display_name (output);
  if (!prepare_share_files (output, count, paths, error))
    return FALSE;

  if (!coffer_cli_open_repository (cli, error))
    return FALSE;
  rk = coffer_cli_get_recovery_key (cli, TRUE, &local_error);
  if (rk == NULL && local_error == NULL)
    return coffer_cli_missing_recovery_key (_("Making shares needs the recovery key."), error);
  if (rk == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));

  shares = coffer_repository_make_shares (cli->repository, rk, (guint) needed, (guint) count,
                                          cli->cancellable, &local_error);
  if (shares == NULL)
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY))
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                "%s", _("This is a well-formed recovery key, but not the one of this "
                                        "repository. No shares were made."));
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  location = coffer_repository_describe (cli->repository);
  for (guint i = 0; i < shares->len; i++)
    {
      const CofferShare *share = g_ptr_array_index (shares, i);
      g_autoptr(CofferSecret) formatted = coffer_share_format (share);
      const char *pdf = g_ptr_array_index (paths, 2 * i);
      const char *txt = g_ptr_array_index (paths, 2 * i + 1);

      if (!coffer_share_sheet_write_pdf (pdf, formatted, owner, share->index, share->needed, (guint) count,
                                         location, coffer_repository_get_id (cli->repository), now, &local_error))
        {
          g_autofree char *shown = coffer_cli_display_name (pdf);

          return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                                  _("Could not write the share sheet %s: %s"), shown, local_error->message);
        }
      if (!write_share_text (cli, txt, formatted, owner, share->index, share->needed, (guint) count))
        return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_FAILED);
    }

  coffer_cli_info (cli, ngettext ("Wrote %d share sheet to %s (a PDF and a text file per share).",
                                  "Wrote %d share sheets to %s (a PDF and a text file per share).", count),
                   count, shown_dir);
  coffer_cli_info (cli, ngettext ("Give each of your %d recovery contacts one sheet; any %d of them together "
                                  "can restore your backups on a new computer with you. Then delete the "
                                  "files from this computer.",
                                  "Give each of your %d recovery contacts one sheet; any %d of them together "
                                  "can restore your backups on a new computer with you. Then delete the "
                                  "files from this computer.", count),
                   count, needed);
  return TRUE;
}

/* ---- replacing the key ---- */

void
coffer_cli_shares_after_replace (CofferCli *cli)
{
  g_autoptr(GArray) generations = NULL;
  gint64 latest = 0;
  guint needed = 0, count = 0;

  if (cli->repository == NULL)
    return;
  generations = coffer_repository_load_recovery_generations (cli->repository, cli->cancellable, NULL);
  if (generations == NULL)
    return;
  /* The key just replaced is the one replaced last. */
  for (guint i = 0; i < generations->len; i++)
    {
      const CofferRecoveryGeneration *g = &g_array_index (generations, CofferRecoveryGeneration, i);

      if (g->replaced != 0 && g->replaced >= latest)
        {
          latest = g->replaced;
          needed = g->shares_made != 0 ? g->needed : 0;
          count = g->count;
        }
    }
  if (needed == 0)
    return;
  coffer_cli_warning (cli, ngettext ("The %u share you gave your recovery contact belonged to the old "
                                     "recovery key and no longer works.",
                                     "The %u shares you gave your recovery contacts belonged to the old "
                                     "recovery key and no longer work.", count),
                      count);
  coffer_cli_hint (cli, _("Make new sheets with 'coffer recovery-key share --needed %u --count %u --output DIR' "
                          "and the new key, and ask your contacts to destroy the old ones."),
                   needed, count);
}
