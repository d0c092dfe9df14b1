/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer devices list|join|approve|remove|trust */
#include <string.h>
#include <stdio.h>

#include "coffer-cli-private.h"

#define POLL_SECONDS 2
#define POLL_LIMIT   (15 * 60 / POLL_SECONDS)

static void
device_json (GString *out, gconstpointer item)
{
  const CofferDevice *d = item;

  g_string_append (out, "{\"id\":");
  coffer_cli_json_string (out, d->id);
  g_string_append (out, ",\"name\":");
  coffer_cli_json_string (out, d->name);
  g_string_append_printf (out, ",\"this_device\":%s,\"pending\":%s,\"time\":%" G_GINT64_FORMAT,
                          d->is_this_device ? "true" : "false", d->pending ? "true" : "false", d->time);
  g_string_append (out, ",\"verification_code\":");
  coffer_cli_json_string (out, d->verification_code);
  g_string_append_printf (out, ",\"verified\":%s,\"fingerprint\":", d->verified ? "true" : "false");
  coffer_cli_json_string (out, d->fingerprint);
  g_string_append (out, ",\"approver\":");
  coffer_cli_json_string (out, d->approver);
  g_string_append_c (out, '}');
}

static gboolean
devices_list (CofferCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) devices = NULL;

  if (!coffer_cli_parse (cli, NULL, NULL, _("List the trusted devices and join requests."),
                         NULL, &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (!coffer_cli_unlock_repository (cli, error))
    return FALSE;
  devices = coffer_repository_list_devices (cli->repository, cli->cancellable, &local_error);
  if (devices == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));

  if (cli->json)
    {
      coffer_cli_print_json_array (devices, device_json);
      return TRUE;
    }
  for (guint i = 0; i < devices->len; i++)
    {
      CofferDevice *d = g_ptr_array_index (devices, i);
      g_autofree char *when = d->time ? coffer_cli_format_time (d->time) : g_strdup ("");

      printf ("%s  %-8s %s%s  %s", d->id, d->pending ? _("pending") : _("trusted"),
              d->name ? d->name : _("(name hidden)"), d->is_this_device ? _(" (this computer)") : "", when);
      if (d->verification_code)
        printf (_("  code %s"), d->verification_code);
      if (!d->pending && d->fingerprint != NULL)
        printf (_("  fingerprint %s"), d->fingerprint);
      /* Unverified: a removal keeps it only when confirmed (--keep). */
      if (!d->pending && d->name != NULL && !d->verified)
        printf ("  %s", _("(unverified)"));
      printf ("\n");
    }
  return TRUE;
}

static void
show_code (CofferCli *cli, const char *code)
{
  if (cli->json)
    printf ("{\"verification_code\":\"%s\"}\n", code);
  else
    printf (_("Verification code: %s\n"), code);
  fflush (stdout);
}

static gboolean
devices_join (CofferCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) password = NULL;
  g_autofree char *name = NULL;
  g_autofree char *id = NULL;
  g_autofree char *code = NULL;
  gboolean complete = FALSE, show_status = FALSE, no_wait = FALSE, approved = FALSE;
  GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, N_("Name of this computer (default: the host name)"), N_("NAME") },
    { "status", 0, 0, G_OPTION_ARG_NONE, &show_status, N_("Show the verification code once a trusted computer has answered"), NULL },
    { "complete", 0, 0, G_OPTION_ARG_NONE, &complete, N_("Finish joining after the approval"), NULL },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait, N_("Send the request and return at once"), NULL },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL, _("Make this computer a trusted device of a repository."),
                         _("Sends a join request. On a trusted computer, run “coffer devices approve ID”: "
                           "both computers then show the same six-digit code, which you type on the "
                           "trusted one. Without a keyring the device key is sealed under the backup "
                           "password."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (!coffer_cli_open_repository (cli, error))
    return FALSE;
  password = coffer_cli_get_password (cli, FALSE, &local_error);
  if (local_error != NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (password != NULL)
    coffer_repository_set_password (cli->repository, password);

  if (!complete && !show_status)
    {
      if (!coffer_repository_request_join (cli->repository, name, &id, &code, cli->cancellable, &local_error))
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      if (cli->json)
        printf ("{\"id\":\"%s\"}\n", id);
      else
        {
          printf (_("Join request sent. This computer's device id is %s\n"), id);
          printf (_("On a trusted computer, run:\n  coffer devices approve %s\n"), id);
        }
      fflush (stdout);
      if (no_wait || !coffer_cli_have_terminal ())
        {
          if (!cli->json)
            printf ("%s\n", _("Then run “coffer devices join --status” here to see the code, and "
                              "“coffer devices join --complete” after the approval."));
          return TRUE;
        }
    }

  /* Wait for the trusted computer's answer, show the code, wait for the
   * approval (or just report, with --status). */
  for (guint i = 0; ; i++)
    {
      g_clear_pointer (&code, g_free);
      if (!coffer_repository_get_join_status (cli->repository, &code, &approved, cli->cancellable, &local_error))
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      if (show_status || complete || approved || i >= POLL_LIMIT)
        break;
      if (code != NULL)
        break;
      g_usleep (POLL_SECONDS * G_USEC_PER_SEC);
    }
  if (show_status)
    {
      if (code == NULL)
        {
          coffer_cli_info (cli, "%s", _("No trusted computer has answered yet. Run “coffer devices approve ID” on one."));
          return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_FAILED);
        }
      show_code (cli, code);
      if (approved)
        coffer_cli_info (cli, "%s", _("The request was approved: run “coffer devices join --complete”."));
      return TRUE;
    }
  if (!complete)
    {
      if (code == NULL)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                                "%s", _("No trusted computer answered in time; the request stays open."));
      show_code (cli, code);
      coffer_cli_info (cli, "%s", _("Type this code on the trusted computer. Waiting for the approval…"));
      for (guint i = 0; !approved && i < POLL_LIMIT; i++)
        {
          g_clear_pointer (&code, g_free);
          g_usleep (POLL_SECONDS * G_USEC_PER_SEC);
          if (!coffer_repository_get_join_status (cli->repository, &code, &approved, cli->cancellable, &local_error))
            return coffer_cli_propagate (error, g_steal_pointer (&local_error));
        }
      if (!approved)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                                "%s", _("Not approved in time. Run “coffer devices join --complete” after the approval."));
    }
  if (!coffer_repository_complete_join (cli->repository, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_info (cli, "%s", _("This computer is now a trusted device: it can open every category."));
  return TRUE;
}

static gboolean
devices_approve (CofferCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *typed = NULL;
  g_autofree char *code = NULL;
  char *id;
  GOptionEntry entries[] = {
    { "code", 0, 0, G_OPTION_ARG_STRING, &typed, N_("The code shown on the new computer (asked when omitted)"), N_("CODE") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, N_("ID"), _("Approve a computer's join request."),
                         _("Answers the request; once the new computer shows its six-digit code, "
                           "type it here. A wrong code cancels the request."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  id = coffer_cli_take_positional (&argc, argv);
  if (id == NULL)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give the id of the device to approve (see “coffer devices list”)."));
  if (!coffer_cli_unlock_repository (cli, error))
    return FALSE;

  for (guint i = 0; ; i++)
    {
      g_clear_pointer (&code, g_free);
      if (!coffer_repository_get_join_code (cli->repository, id, &code, cli->cancellable, &local_error))
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      if (code != NULL || typed != NULL || !coffer_cli_have_terminal () || i >= POLL_LIMIT)
        break;
      if (i == 0)
        coffer_cli_info (cli, "%s", _("Waiting for the new computer to show its code…"));
      g_usleep (POLL_SECONDS * G_USEC_PER_SEC);
    }
  if (code == NULL && typed == NULL)
    {
      coffer_cli_info (cli, "%s", _("The request was answered. When the new computer shows its code, run "
                                    "this command again with --code CODE."));
      return TRUE;
    }
  if (typed == NULL)
    {
      char line[64];

      /* The user types what the other screen shows; this screen's code is
       * not printed, so that the comparison is not skipped. */
      fprintf (stderr, "%s", _("Type the code shown on the new computer: "));
      if (fgets (line, sizeof line, stdin) == NULL)
        return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_USAGE);
      typed = g_strdup (g_strstrip (line));
    }
  if (!coffer_repository_approve_device (cli->repository, id, typed, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_info (cli, "%s", _("The device was approved. On it, “coffer devices join” finishes by itself "
                                "(or run “coffer devices join --complete”)."));
  return TRUE;
}

/* One device a removal would not keep by itself, as the user must judge it. */
static void
print_unverified (const CofferDevice *d)
{
  g_autofree char *when = d->time ? coffer_cli_format_time (d->time) : g_strdup (_("unknown"));
  g_autofree char *approver = NULL;

  if (d->approver == NULL)
    approver = g_strdup (_("nobody (an unsigned record from an older version)"));
  else if (strcmp (d->approver, "recovery") == 0)
    approver = g_strdup (_("the recovery key (the signature does not verify)"));
  else
    approver = g_strdup_printf (_("device %s"), d->approver);
  printf ("  %s  %s\n", d->id, d->name ? d->name : _("(name hidden)"));
  printf (_("      fingerprint %s, joined %s, approved by %s\n"),
          d->fingerprint ? d->fingerprint : _("none (no key record)"), when, approver);
}

static gboolean
devices_remove (CofferCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(GPtrArray) plan = NULL;
  g_autoptr(GPtrArray) lost = NULL;
  g_auto(GStrv) keep = NULL;
  gboolean yes = FALSE;
  char *id;
  GOptionEntry entries[] = {
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, N_("Do not ask for confirmation"), NULL },
    { "keep", 0, 0, G_OPTION_ARG_STRING_ARRAY, &keep,
      N_("Keep this unverified device (repeat per device), after comparing its fingerprint"), N_("ID") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, N_("ID"), _("Remove a trusted device."),
                         _("Deletes its key envelope and replaces the account key and every category "
                           "key for new backups, so the removed computer cannot read anything backed "
                           "up afterwards. Needs the recovery key, and the backup password when there "
                           "are Standard categories. Devices whose approval cannot be traced back to "
                           "the recovery key without the removed one are listed, and are kept only "
                           "with --keep ID (compare the fingerprint with “coffer devices list” on "
                           "that computer); the others must join again."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  id = coffer_cli_take_positional (&argc, argv);
  if (id == NULL)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give the id of the device to remove (see “coffer devices list”)."));
  if (!coffer_cli_unlock_repository (cli, error))
    return FALSE;
  rk = coffer_cli_get_recovery_key (cli, TRUE, &local_error);
  if (local_error != NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (rk != NULL)
    coffer_repository_set_recovery_key (cli->repository, rk);

  /* The removed device could have planted or approved any of these: they
   * are kept only on the user's explicit word. */
  plan = coffer_repository_plan_device_removal (cli->repository, id, cli->cancellable, &local_error);
  if (plan == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (plan->len > 0)
    {
      printf ("%s\n", _("These devices cannot be verified without the device being removed (it may have "
                        "added them itself):"));
      for (guint i = 0; i < plan->len; i++)
        print_unverified (g_ptr_array_index (plan, i));
      printf ("%s\n", _("Devices not named with --keep ID lose access and must join again. Keep one only "
                        "if “coffer devices list” on that computer shows the same fingerprint."));
      fflush (stdout);
    }
  if (!yes && !coffer_cli_confirm (cli, _("Remove this device? It will not be able to read new backups.")))
    return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_USAGE);
  if (!coffer_repository_remove_device (cli->repository, id, (const char *const *) keep, &lost,
                                        cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_info (cli, "%s", _("The device was removed and the keys were replaced. Backups made from now "
                                "on cannot be read by it; older backups keep their old keys until they "
                                "are re-encrypted or pruned."));
  if (lost != NULL && lost->len > 0)
    {
      printf ("%s\n", _("These devices lost access and must join again:"));
      for (guint i = 0; i < lost->len; i++)
        {
          const CofferDevice *d = g_ptr_array_index (lost, i);
          printf ("  %s  %s\n", d->id, d->name ? d->name : _("(name hidden)"));
        }
    }
  return TRUE;
}

static gboolean
devices_trust (CofferCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  char *name = NULL;
  GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, N_("Name of this computer (default: its host name)"), N_("NAME") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL, _("Make this computer a trusted device with the recovery key."),
                         _("For a new computer when no trusted computer is at hand to approve it: the "
                           "recovery key opens the repository once, and this computer gets its own key "
                           "(kept in the keyring, or sealed under the backup password without one), so "
                           "later commands need neither."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (!coffer_cli_open_repository (cli, error))
    return FALSE;
  rk = coffer_cli_get_recovery_key (cli, TRUE, &local_error);
  if (rk == NULL)
    {
      if (local_error != NULL)
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                              "%s", _("The recovery key is needed: give it in COFFER_RECOVERY_KEY or with "
                                      "--recovery-key-file FILE, or type it when asked."));
    }
  if (!coffer_repository_verify_recovery_key (cli->repository, rk, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  /* Held for this session: the new device's record is then approved by
   * the recovery key, so a later removal keeps it without asking. */
  coffer_repository_set_recovery_key (cli->repository, rk);
  {
    g_autoptr(CofferSecret) password = coffer_cli_get_password (cli, FALSE, NULL);
    if (password != NULL)
      coffer_repository_set_password (cli->repository, password);
  }
  if (!coffer_repository_trust_this_device (cli->repository, name, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_info (cli, "%s", _("This computer is now a trusted device: later commands open the repository "
                                "without the recovery key."));
  return TRUE;
}

gboolean
coffer_cli_cmd_devices (CofferCli *cli, int argc, char **argv, GError **error)
{
  static const CofferCliSubcommand subs[] = {
    { "list", devices_list },
    { "join", devices_join },
    { "approve", devices_approve },
    { "remove", devices_remove },
    { "trust", devices_trust },
  };
  return coffer_cli_run_subcommand (cli, "devices", subs, G_N_ELEMENTS (subs),
                                    "  coffer devices list [--json]\n"
                                    "  coffer devices join [--name NAME] [--no-wait] [--status] [--complete]\n"
                                    "  coffer devices approve ID [--code CODE]\n"
                                    "  coffer devices remove ID [--keep ID]… [--yes]\n"
                                    "  coffer devices trust [--name NAME]",
                                    _("Run 'coffer devices SUBCOMMAND --help' for details."),
                                    _("No devices subcommand given (list, join, approve, remove or trust)."),
                                    argc, argv, error);
}
