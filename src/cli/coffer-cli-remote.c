/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer remote add|list|remove: rclone remotes Coffer manages. Their
 * secrets (SFTP password, OAuth token, B2 key) go to the keyring, the rest
 * to $XDG_CONFIG_HOME/coffer/remotes.ini. Use them as --repo
 * rclone:NAME:path. Remotes set up with `rclone config` work as they are
 * and need none of this. */
#include <string.h>
#include <stdio.h>
#include <sodium.h>

#include "coffer-cli-private.h"
#include "coffer-keyring.h"
#include "coffer-rclone.h"

/* The options an SFTP or B2 remote needs, and its secret: an SFTP
 * --password-file, or the B2 application key read from --key-file (which
 * *key_file then no longer names). Other types need neither. */
static gboolean
remote_credentials (CofferCli     *cli,
                    const char    *type,
                    const char    *host,
                    const char    *user,
                    char         **key_file,
                    const char    *account,
                    CofferSecret **secret_out,
                    GError       **error)
{
  g_autoptr(CofferSecret) secret = NULL;

  if (g_str_equal (type, "sftp"))
    {
      if (host == NULL || user == NULL || (cli->password_file == NULL) == (*key_file == NULL))
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                "%s", _("An SFTP remote needs --host, --user and either "
                                        "--password-file or --key-file."));
      if (cli->password_file != NULL)
        {
          secret = coffer_secret_new_from_file (cli->password_file, error);
          if (secret == NULL)
            return FALSE;
        }
    }
  else if (g_str_equal (type, "b2"))
    {
      if (account == NULL || *key_file == NULL)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                "%s", _("A B2 remote needs --account and --key-file."));
      secret = coffer_secret_new_from_file (*key_file, error);
      if (secret == NULL)
        return FALSE;
      g_clear_pointer (key_file, g_free);
    }
  *secret_out = g_steal_pointer (&secret);
  return TRUE;
}

static gboolean
remote_add (CofferCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *host = NULL, *user = NULL, *key_file = NULL, *account = NULL;
  g_autoptr(CofferSecret) secret = NULL;
  g_autoptr(GKeyFile) kf = NULL;
  const char *type, *name, *backend;
  gint port = 0;
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, N_("SFTP server"), N_("HOST") },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, N_("SFTP port (default 22)"), N_("PORT") },
    { "user", 0, 0, G_OPTION_ARG_STRING, &user, N_("SFTP user"), N_("USER") },
    { "key-file", 0, 0, G_OPTION_ARG_FILENAME, &key_file,
      N_("SSH private key (SFTP) or file holding the application key (B2)"), N_("FILE") },
    { "account", 0, 0, G_OPTION_ARG_STRING, &account, N_("B2 account or key id"), N_("ID") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, N_("TYPE NAME"),
                         _("Set up a storage account for use as --repo rclone:NAME:path."),
                         _("TYPE is sftp, gdrive, onedrive, dropbox, pcloud, box or b2.\n"
                           "  sftp: --host H [--port P] --user U and either --password-file F "
                           "or --key-file F.\n"
                           "  gdrive, onedrive, dropbox, pcloud, box: opens the browser to sign "
                           "in (rclone authorize).\n"
                           "  b2: --account ID --key-file F.\n"
                           "Passwords and tokens are kept in the keyring; the other settings "
                           "in ~/.config/coffer/remotes.ini."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc != 3)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give the type and a name, e.g. “coffer remote add sftp nas …”."));
  type = argv[1];
  name = argv[2];
  backend = coffer_rclone_backend_for_type (type);
  if (backend == NULL)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            _("Unknown remote type “%s” (sftp, gdrive, onedrive, dropbox, pcloud, "
                              "box or b2)."), type);
  if (!coffer_rclone_remote_name_valid (name, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  /* rclone's OneDrive backend needs the drive's id and type besides the
   * token, which only `rclone config` looks up today: a remote made from
   * the token alone would be refused by rclone at every backup. */
  if (g_str_equal (type, "onedrive"))
    return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                            _("OneDrive needs its drive id, which Coffer cannot look up yet. Set "
                              "OneDrive up with “rclone config” (as “%s”) and use it as "
                              "--repo rclone:%s:FOLDER."), name, name);

  if (!remote_credentials (cli, type, host, user, &key_file, account, &secret, error))
    return FALSE;

  /* Everything but an SFTP key file has a secret, which only the keyring
   * may hold: say so before a browser opens for nothing. */
  if ((secret != NULL || coffer_rclone_type_is_oauth (type)) && !coffer_keyring_is_available ())
    return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                            _("Remotes managed by Coffer keep their password or token in the "
                              "keyring, and no keyring is available. Unlock or install one, or "
                              "set the remote up with “rclone config” and use it as "
                              "--repo rclone:%s:path."), name);

  kf = coffer_rclone_remotes_load (&local_error);
  if (kf == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (g_key_file_has_group (kf, name))
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            _("A remote named “%s” exists already; remove it first."), name);

  if (coffer_rclone_type_is_oauth (type))
    {
      coffer_cli_info (cli, "%s", _("Sign in in the browser window that opens now…"));
      /* rclone opens the browser itself, and says on the terminal which
       * address to open if it cannot. */
      secret = coffer_rclone_authorize (backend, NULL, NULL, cli->cancellable, &local_error);
      if (secret == NULL)
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  if (!coffer_rclone_remote_add (name, type, host, port, user, key_file, account, secret,
                                 cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (!cli->quiet)
    printf (_("Added the remote “%s”. Use it as --repo rclone:%s:FOLDER\n"), name, name);
  return TRUE;
}

static gboolean
remote_list (CofferCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GKeyFile) kf = NULL;
  g_auto(GStrv) groups = NULL;
  g_autofree char *own = NULL;
  g_auto(GStrv) own_lines = NULL;
  g_autoptr(GString) json = g_string_new ("[");
  const char *argv_rc[] = { "rclone", "listremotes", NULL };
  g_autoptr(GSubprocess) p = NULL;

  if (!coffer_cli_parse (cli, NULL, NULL,
                         _("List the remotes Coffer manages and those of rclone's own configuration."),
                         NULL, &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  kf = coffer_rclone_remotes_load (&local_error);
  if (kf == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  groups = g_key_file_get_groups (kf, NULL);

  /* rclone's own remotes; if rclone is missing or fails there are none. */
  p = g_subprocess_newv (argv_rc, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                         NULL);
  if (p != NULL && g_subprocess_communicate_utf8 (p, NULL, cli->cancellable, &own, NULL, NULL)
      && own != NULL)
    own_lines = g_strsplit (own, "\n", -1);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_autofree char *type = g_key_file_get_string (kf, groups[i], "type", NULL);
      g_autofree char *host = g_key_file_get_string (kf, groups[i], "host", NULL);
      g_autofree char *user = g_key_file_get_string (kf, groups[i], "user", NULL);

      if (cli->json)
        {
          if (json->len > 1)
            g_string_append_c (json, ',');
          g_string_append (json, "{\"name\":");
          coffer_cli_json_string (json, groups[i]);
          g_string_append (json, ",\"type\":");
          coffer_cli_json_string (json, type);
          g_string_append (json, ",\"host\":");
          coffer_cli_json_string (json, host);
          g_string_append (json, ",\"user\":");
          coffer_cli_json_string (json, user);
          g_string_append (json, ",\"managed_by\":\"coffer\"}");
        }
      else
        printf ("%-16s %-9s %s%s%s\n", groups[i], type ? type : "?", user ? user : "",
                user && host ? "@" : "", host ? host : "");
    }
  for (guint i = 0; own_lines != NULL && own_lines[i] != NULL; i++)
    {
      g_autofree char *n = g_strdup (g_strstrip (own_lines[i]));
      if (n[0] == '\0')
        continue;
      if (g_str_has_suffix (n, ":"))
        n[strlen (n) - 1] = '\0';
      if (cli->json)
        {
          if (json->len > 1)
            g_string_append_c (json, ',');
          g_string_append (json, "{\"name\":");
          coffer_cli_json_string (json, n);
          g_string_append (json, ",\"managed_by\":\"rclone\"}");
        }
      else
        printf ("%-16s %s\n", n, _("(rclone config)"));
    }
  if (cli->json)
    printf ("%s]\n", json->str);
  return TRUE;
}

static gboolean
remote_remove (CofferCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GKeyFile) kf = NULL;
  g_autofree char *repo = NULL;

  if (!coffer_cli_parse (cli, NULL, N_("NAME"), _("Forget a remote Coffer manages and its "
                                                   "password or token in the keyring."),
                         _("The backups on it are not touched."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc != 2)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give the name of the remote to remove."));
  kf = coffer_rclone_remotes_load (&local_error);
  if (kf == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (!g_key_file_remove_group (kf, argv[1], NULL))
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            _("Coffer manages no remote named “%s” (remotes of rclone's own "
                              "configuration are removed with “rclone config delete”)."), argv[1]);
  repo = g_strconcat ("rclone:", argv[1], NULL);
  if (!coffer_keyring_clear_sync (repo, COFFER_KEY_KIND_RCLONE_REMOTE, cli->cancellable, &local_error)
      && !g_error_matches (local_error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_NOT_FOUND)
      && !g_error_matches (local_error, COFFER_KEYRING_ERROR, COFFER_KEYRING_ERROR_UNAVAILABLE))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  g_clear_error (&local_error);
  if (!coffer_rclone_remotes_save (kf, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (!cli->quiet)
    printf (_("Removed the remote “%s”.\n"), argv[1]);
  return TRUE;
}

gboolean
coffer_cli_cmd_remote (CofferCli *cli, int argc, char **argv, GError **error)
{
  static const CofferCliSubcommand subs[] = {
    { "add", remote_add },
    { "list", remote_list },
    { "remove", remote_remove },
  };
  return coffer_cli_run_subcommand (cli, "remote", subs, G_N_ELEMENTS (subs),
                                    "  coffer remote add sftp NAME --host HOST [--port PORT] --user USER "
                                    "(--password-file FILE | --key-file FILE)\n"
                                    "  coffer remote add gdrive|onedrive|dropbox|pcloud|box NAME\n"
                                    "  coffer remote add b2 NAME --account ID --key-file FILE\n"
                                    "  coffer remote list [--json]\n"
                                    "  coffer remote remove NAME",
                                    _("Run 'coffer remote SUBCOMMAND --help' for details."),
                                    _("No remote subcommand given (add, list or remove)."),
                                    argc, argv, error);
}
