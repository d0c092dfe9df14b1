/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer-cli-repo.c: commands about the repository and its keys:
 * init, category, protect, password, recovery-key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "coffer-cli-private.h"

static const char *
level_label (CofferLevel level)
{
  return level == COFFER_LEVEL_ADVANCED ? _("Advanced") : _("Standard");
}

/* Opens FILE for a new recovery key: create-only, mode 0600. */
/* Creates the file for a new recovery key (never over another file);
 * -1 with error set on failure. */
static int
open_key_file (const char  *path,
               GError     **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    {
      int saved = errno;
      g_autofree char *shown = coffer_cli_display_name (path);

      if (saved == EEXIST)
        coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, _("Give the name of a file that does not exist yet."),
                         _("%s already exists; a recovery key is never written over another file."),
                         shown);
      else
        coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL, _("Could not create %s: %s"), shown,
                         g_strerror (saved));
    }
  return fd;
}

static gboolean
write_key_file (CofferCli          *cli,
                int                 fd,
                const char         *path,
                const CofferSecret *formatted)
{
  /* The key is the first line, so that --recovery-key-file reads it back. */
  const char *note = "\nThis is the recovery key of a Coffer backup. Whoever has it can open every\n"
                     "category of the backup. Keep it offline, somewhere safe.\n";
  gboolean ok;

  ok = write (fd, formatted->data, formatted->len) == (ssize_t) formatted->len &&
       write (fd, note, strlen (note)) == (ssize_t) strlen (note) &&
       fsync (fd) == 0;
  if (close (fd) != 0)
    ok = FALSE;
  if (!ok)
    {
      g_autofree char *shown = coffer_cli_display_name (path);
      coffer_cli_error (cli, _("Could not write the recovery key to %s: %s"), shown, g_strerror (errno));
    }
  return ok;
}

static void
show_recovery_key (CofferCli          *cli,
                   const CofferSecret *formatted)
{
  /* Shown even with --quiet: this is the only time it exists anywhere. */
  printf ("\n%s\n\n    %s\n\n", _("Your recovery key:"), (const char *) formatted->data);
  printf ("%s\n", _("This key opens every category of this backup, including Advanced ones.\n"
                    "If you lose all your computers, nobody — not you, not the Coffer developers, "
                    "not your storage provider — can recover Advanced data without it.\n"
                    "Write it down or print it, and keep it offline in a safe place (not on this "
                    "computer and not inside the backup). It will not be shown again.\n"
                    "Test it from time to time with 'coffer recovery-key verify'."));
  fflush (stdout);
}

/* The backup password for init: given (COFFER_PASSWORD, --password-file)
 * or chosen on a terminal, where an empty answer (confirmed) leaves
 * *password_out NULL for an Advanced-only repository. */
static gboolean
init_password (CofferCli     *cli,
               CofferSecret **password_out,
               GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) password = NULL;

  password = coffer_cli_get_password (cli, FALSE, &local_error);
  if (local_error != NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (password == NULL)
    {
      if (!coffer_cli_have_terminal ())
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                                _("Give it in COFFER_PASSWORD or with --password-file FILE, "
                                  "or use --no-password for an Advanced-only repository."),
                                "%s", _("No backup password given."));
      fprintf (stderr, "%s\n", _("Choose a backup password. It opens Standard categories, for "
                                 "example on a new computer. Leave it empty to use only "
                                 "Advanced protection."));
      password = coffer_cli_get_new_password (cli, NULL, TRUE, error);
      if (password == NULL)
        return FALSE;
      if (password->len == 0)
        {
          if (!coffer_cli_confirm_or_cancel (cli, _("Create the repository without a password? Only "
                                                    "Advanced categories, opened by your devices and the "
                                                    "recovery key, can then be used."),
                                             _("Cancelled; nothing was created."), error))
            return FALSE;
          g_clear_pointer (&password, coffer_secret_free);
        }
    }
  *password_out = g_steal_pointer (&password);
  return TRUE;
}

/* The new repository's recovery key goes to --recovery-key-file (key_fd)
 * or on stdout; when the file cannot be written it is shown after all. */
static gboolean
init_hand_over_key (CofferCli           *cli,
                    int                  key_fd,
                    const CofferSecret  *formatted,
                    GError             **error)
{
  g_autofree char *shown = NULL;

  if (key_fd < 0)
    {
      show_recovery_key (cli, formatted);
      return TRUE;
    }
  if (!write_key_file (cli, key_fd, cli->recovery_key_file, formatted))
    {
      /* The repository exists; the key must not be lost: show it. */
      show_recovery_key (cli, formatted);
      return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_FAILED);
    }
  shown = coffer_cli_display_name (cli->recovery_key_file);
  coffer_cli_info (cli, _("The recovery key was written to %s. Move it somewhere safe and "
                          "offline: it opens every category of this backup, and Advanced data "
                          "cannot be recovered without it."), shown);
  return TRUE;
}

/* ---- init ---- */

gboolean
coffer_cli_cmd_init (CofferCli  *cli,
                     int         argc,
                     char      **argv,
                     GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *device_name = NULL;
  g_autofree char *kit_file = NULL;
  g_autoptr(CofferSecret) password = NULL;
  g_autoptr(CofferSecret) recovery_key = NULL;
  g_autoptr(CofferSecret) formatted = NULL;
  g_autoptr(CofferRepository) repository = NULL;
  g_autofree char *described = NULL;
  gboolean no_password = FALSE;
  CofferStoreOptions options;
  const char *location;
  int key_fd = -1;
  GOptionEntry entries[] = {
    { "device-name", 0, 0, G_OPTION_ARG_STRING, &device_name,
      N_("Name of this computer as other devices see it (default: the host name)"), N_("NAME") },
    { "no-password", 0, 0, G_OPTION_ARG_NONE, &no_password,
      N_("Create the repository without a backup password (only Advanced categories can then be used)"),
      NULL },
    { "emergency-kit", 0, 0, G_OPTION_ARG_FILENAME, &kit_file,
      N_("Also write the emergency kit (a printable PDF with the recovery key) to FILE"), N_("FILE") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL, _("Create a new, empty repository."),
                         _("The repository is created at --repo (or COFFER_REPO). A recovery key is "
                           "made and shown once, or written to --recovery-key-file FILE (mode 0600; an "
                           "existing file is never overwritten). The backup password, needed for "
                           "Standard categories, comes from COFFER_PASSWORD, --password-file or a "
                           "prompt."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc > 1)
    return coffer_cli_unexpected_argument (argv[1], _("The location is given with --repo LOCATION."), error);

  location = coffer_cli_get_location (cli);
  if (location == NULL)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("Use --repo LOCATION or set the COFFER_REPO environment variable."),
                            "%s", _("No repository location given."));

  if (!no_password && !init_password (cli, &password, error))
    return FALSE;

  if (kit_file != NULL && g_file_test (kit_file, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    {
      g_autofree char *shown = coffer_cli_display_name (kit_file);
      return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, NULL,
                              _("%s already exists; an emergency kit is never written over "
                                "another file."), shown);
    }

  /* The destination proves it takes writes before anything (not even the
   * recovery key file) is written: a read-only, full, unplugged or
   * write-denied location fails here with its real reason. */
  options = coffer_cli_store_options (cli);
  cli->store = coffer_store_open (location, &options, &local_error);
  if (cli->store == NULL || !coffer_store_probe_write (cli->store, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));

  if (cli->recovery_key_file != NULL)
    {
      key_fd = open_key_file (cli->recovery_key_file, error);
      if (key_fd < 0)
        return FALSE;
    }

  if (device_name == NULL)
    device_name = g_strdup (g_get_host_name ());

  if (cli->store != NULL)
    repository = coffer_repository_create (cli->store, password, device_name, &recovery_key,
                                           cli->cancellable, &local_error);
  if (repository == NULL)
    {
      if (key_fd >= 0)
        {
          close (key_fd);
          g_unlink (cli->recovery_key_file);
        }
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_EXISTS))
        return coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED,
                                _("Use the existing repository, or choose another location."),
                                "%s", local_error->message);
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  formatted = coffer_recovery_key_format (recovery_key);
  described = coffer_repository_describe (repository);
  coffer_cli_info (cli, _("Created a Coffer repository at %s."), described);

  if (!init_hand_over_key (cli, key_fd, formatted, error))
    return FALSE;

  if (kit_file != NULL &&
      !coffer_cli_write_emergency_kit (cli, repository, kit_file, recovery_key, &local_error))
    {
      /* The repository exists and the key was shown or saved above. */
      coffer_cli_report_error (cli, local_error);
      if (key_fd < 0)
        coffer_cli_hint (cli, "%s", _("Write it later with 'coffer recovery-key kit --output FILE'."));
      return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_FAILED);
    }

  if (password == NULL)
    coffer_cli_info (cli, "%s", _("No backup password was set: only Advanced categories can be added."));
  coffer_cli_info (cli, "%s", _("Next: add a category with 'coffer category add NAME PATH…'."));
  return TRUE;
}

/* ---- category ---- */

static char **
absolute_paths (CofferCli  *cli,
                int         argc,
                char      **argv,
                int         first,
                gboolean    warn_missing)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new ();

  for (int i = first; i < argc; i++)
    {
      char *path = g_canonicalize_filename (argv[i], NULL);

      if (warn_missing && !g_file_test (path, G_FILE_TEST_EXISTS))
        {
          g_autofree char *shown = coffer_cli_display_name (path);
          coffer_cli_warning (cli, _("%s does not exist (yet); it is backed up once it does."), shown);
        }
      g_ptr_array_add (paths, path);
    }
  g_ptr_array_add (paths, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&paths), FALSE);
}

static gboolean
category_add (CofferCli  *cli,
              int         argc,
              char      **argv,
              GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *level_str = NULL;
  g_auto(GStrv) excludes = NULL;
  g_auto(GStrv) paths = NULL;
  g_autoptr(CofferCategory) category = NULL;
  CofferLevel level = COFFER_LEVEL_STANDARD;
  GOptionEntry entries[] = {
    { "level", 'l', 0, G_OPTION_ARG_STRING, &level_str,
      N_("Protection: standard (the password also opens it) or advanced (only your devices and "
         "the recovery key); default standard"), N_("LEVEL") },
    { "exclude", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &excludes,
      N_("Leave out files matching PATTERN (a glob on the full path or the file name; repeatable)"),
      N_("PATTERN") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, _("NAME PATH…"), _("Add a category: a name and the folders it backs up."),
                         _("Relative paths are made absolute. Advanced protection needs a recovery "
                           "key that has been confirmed: give it in COFFER_RECOVERY_KEY, with "
                           "--recovery-key-file or type it when asked."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;

  if (argc < 3)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("Usage: coffer category add NAME [--level standard|advanced] PATH…"),
                            "%s", argc < 2 ? _("The category needs a name and at least one folder.")
                                           : _("The category needs at least one folder."));
  if (level_str != NULL && !coffer_level_from_string (level_str, &level))
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("Use --level standard or --level advanced."),
                            _("Unknown protection level “%s”."), level_str);

  paths = absolute_paths (cli, argc, argv, 2, TRUE);

  if (!coffer_cli_unlock_repository (cli, error))
    return FALSE;

  if (level == COFFER_LEVEL_ADVANCED)
    {
      g_autoptr(CofferSecret) rk = coffer_cli_get_recovery_key (cli, TRUE, &local_error);

      if (local_error != NULL)
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      if (rk != NULL &&
          !coffer_repository_verify_recovery_key (cli->repository, rk, cli->cancellable, &local_error))
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  category = coffer_repository_add_category (cli->repository, argv[1], level,
                                             (const char * const *) paths,
                                             (const char * const *) excludes,
                                             cli->cancellable, &local_error);
  if (category == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));

  /* Translators: the first %s is the protection level (Standard or Advanced) */
  coffer_cli_info (cli, ngettext ("Added the %s category “%s” with %u folder.",
                                  "Added the %s category “%s” with %u folders.", g_strv_length (paths)),
                   level_label (level), category->name, g_strv_length (paths));
  return TRUE;
}

static void
category_json (GString       *out,
               gconstpointer  item)
{
  const CofferCategory *category = item;

  g_string_append (out, "{\"id\":");
  coffer_cli_json_string (out, category->id);
  g_string_append (out, ",\"name\":");
  coffer_cli_json_string (out, category->name);
  g_string_append (out, ",\"level\":");
  coffer_cli_json_string (out, coffer_level_to_string (category->level));
  g_string_append_printf (out, ",\"unlocked\":%s,\"epoch\":%u,\"paths\":",
                          category->unlocked ? "true" : "false", category->epoch);
  coffer_cli_json_string_array (out, (const char * const *) category->paths);
  g_string_append (out, ",\"excludes\":");
  coffer_cli_json_string_array (out, (const char * const *) category->excludes);
  /* paths/excludes are this computer's; the others' folders follow. */
  g_string_append (out, ",\"other_computers\":[");
  for (guint i = 0; category->other_folders != NULL && i < category->other_folders->len; i++)
    {
      const CofferCategoryFolders *f = g_ptr_array_index (category->other_folders, i);

      g_string_append (out, i > 0 ? ",{\"device_id\":" : "{\"device_id\":");
      coffer_cli_json_string (out, f->device_id);
      g_string_append (out, ",\"name\":");
      coffer_cli_json_string (out, coffer_cli_device_name (f->device_id));
      g_string_append (out, ",\"paths\":");
      coffer_cli_json_string_array (out, (const char * const *) f->paths);
      g_string_append (out, ",\"excludes\":");
      coffer_cli_json_string_array (out, (const char * const *) f->excludes);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]}");
}

static gboolean
category_list (CofferCli  *cli,
               int         argc,
               char      **argv,
               GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) categories = NULL;

  if (!coffer_cli_parse (cli, NULL, NULL, _("List the categories."),
                         _("Categories whose keys cannot be opened with what was given are shown "
                           "as locked, without their name."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;

  if (!coffer_cli_unlock_repository (cli, error))
    return FALSE;

  categories = coffer_repository_list_categories (cli->repository, cli->cancellable, &local_error);
  if (categories == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_load_device_names (cli);

  if (cli->json)
    {
      coffer_cli_print_json_array (categories, category_json);
      return TRUE;
    }

  if (categories->len == 0)
    {
      coffer_cli_info (cli, "%s", _("There are no categories yet. Add one with 'coffer category add NAME PATH…'."));
      return TRUE;
    }

  for (guint i = 0; i < categories->len; i++)
    {
      const CofferCategory *c = categories->pdata[i];

      if (!c->unlocked)
        {
          printf ("%-20s %-9s %s %s\n", _("(locked)"), coffer_level_to_string (c->level), c->id,
                  _("needs the recovery key or a trusted device"));
          continue;
        }
      printf ("%-20s %-9s", c->name, coffer_level_to_string (c->level));
      if (c->paths == NULL || c->paths[0] == NULL)
        printf (" %s", _("(no folders on this computer yet: 'coffer category set NAME --add-path PATH')"));
      for (guint j = 0; c->paths != NULL && c->paths[j] != NULL; j++)
        {
          g_autofree char *shown = coffer_cli_display_name (c->paths[j]);
          printf (" %s", shown);
        }
      if (c->excludes != NULL && c->excludes[0] != NULL)
        {
          g_autofree char *joined = g_strjoinv (", ", c->excludes);
          printf ("  (%s %s)", _("excluding"), joined);
        }
      putchar ('\n');
      /* Folders belong to a computer: the others' are shown, not backed up here. */
      for (guint k = 0; c->other_folders != NULL && k < c->other_folders->len; k++)
        {
          const CofferCategoryFolders *f = g_ptr_array_index (c->other_folders, k);
          const char *computer = coffer_cli_device_name (f->device_id);
          g_autofree char *label = NULL;

          if (computer != NULL)
            label = g_strdup_printf (_("on %s:"), computer);
          else if (*f->device_id != '\0')
            label = g_strdup_printf (_("on computer %.8s:"), f->device_id);
          else
            label = g_strdup (_("on the first computer:"));
          printf ("%-20s %-9s %s", "", "", label);
          for (guint j = 0; f->paths != NULL && f->paths[j] != NULL; j++)
            {
              g_autofree char *shown = coffer_cli_display_name (f->paths[j]);
              printf (" %s", shown);
            }
          putchar ('\n');
        }
    }
  return TRUE;
}

static gboolean
category_remove (CofferCli  *cli,
                 int         argc,
                 char      **argv,
                 GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferCategory) category = NULL;
  gboolean yes = FALSE;
  GOptionEntry entries[] = {
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, N_("Do not ask for confirmation"), NULL },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, _("NAME"),
                         _("Remove a category and delete all its backups."),
                         _("Asks for confirmation on a terminal; elsewhere --yes is required. "
                           "Run 'coffer prune' afterwards to free the space."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc != 2)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give exactly one category name."));

  category = coffer_cli_unlock_category (cli, argv[1], error);
  if (category == NULL)
    return FALSE;

  if (!yes)
    {
      g_autofree char *question = NULL;

      if (!coffer_cli_have_terminal ())
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                "%s", _("Removing a category deletes all its backups; confirm with --yes."));
      question = g_strdup_printf (_("Remove the category “%s” and delete all its backups? This "
                                    "cannot be undone."), category->name);
      if (!coffer_cli_confirm_or_cancel (cli, question, _("Cancelled; nothing was removed."), error))
        return FALSE;
    }

  if (!coffer_repository_remove_category (cli->repository, category->id, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_info (cli, _("Removed the category “%s”. Run 'coffer prune' to free its space."),
                   category->name);
  return TRUE;
}

static char **
strv_remove (char       **strv,
             const char  *value,
             gboolean    *found)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new ();

  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    {
      if (g_str_equal (strv[i], value))
        *found = TRUE;
      else
        g_ptr_array_add (out, g_strdup (strv[i]));
    }
  g_ptr_array_add (out, NULL);
  g_strfreev (strv);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

static char **
strv_add (char       **strv,
          const char  *value)
{
  guint n = strv ? g_strv_length (strv) : 0;

  if (strv != NULL && g_strv_contains ((const char * const *) strv, value))
    return strv;
  strv = g_renew (char *, strv, n + 2);
  strv[n] = g_strdup (value);
  strv[n + 1] = NULL;
  return strv;
}

static gboolean
category_set (CofferCli  *cli,
              int         argc,
              char      **argv,
              GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) add_paths = NULL;
  g_auto(GStrv) remove_paths = NULL;
  g_auto(GStrv) add_excludes = NULL;
  g_auto(GStrv) remove_excludes = NULL;
  g_autoptr(CofferCategory) category = NULL;
  GOptionEntry entries[] = {
    { "add-path", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &add_paths,
      N_("Back up this folder too (repeatable)"), N_("PATH") },
    { "remove-path", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &remove_paths,
      N_("Stop backing up this folder (repeatable; its old backups stay)"), N_("PATH") },
    { "exclude", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &add_excludes,
      N_("Add an exclusion pattern (repeatable)"), N_("PATTERN") },
    { "no-exclude", 0, 0, G_OPTION_ARG_STRING_ARRAY, &remove_excludes,
      N_("Remove an exclusion pattern (repeatable)"), N_("PATTERN") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, _("NAME"), _("Change the folders or exclusions of a category."),
                         _("Folders belong to a computer: this changes this computer's folders and "
                           "exclusions only. A computer that joined backs up nothing of a category "
                           "until its own folders are added here."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc != 2)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give exactly one category name."));
  if (add_paths == NULL && remove_paths == NULL && add_excludes == NULL && remove_excludes == NULL)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("Use --add-path, --remove-path, --exclude or --no-exclude."),
                            "%s", _("Nothing to change."));

  category = coffer_cli_unlock_category (cli, argv[1], error);
  if (category == NULL)
    return FALSE;

  for (guint i = 0; add_paths != NULL && add_paths[i] != NULL; i++)
    {
      g_autofree char *abs = g_canonicalize_filename (add_paths[i], NULL);

      if (!g_file_test (abs, G_FILE_TEST_EXISTS))
        {
          g_autofree char *shown = coffer_cli_display_name (abs);
          coffer_cli_warning (cli, _("%s does not exist (yet); it is backed up once it does."), shown);
        }
      category->paths = strv_add (category->paths, abs);
    }
  for (guint i = 0; remove_paths != NULL && remove_paths[i] != NULL; i++)
    {
      g_autofree char *abs = g_canonicalize_filename (remove_paths[i], NULL);
      gboolean found = FALSE;

      category->paths = strv_remove (category->paths, abs, &found);
      if (!found)
        {
          g_autofree char *shown = coffer_cli_display_name (abs);
          return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                  _("%s is not a folder of this category."), shown);
        }
    }
  for (guint i = 0; add_excludes != NULL && add_excludes[i] != NULL; i++)
    category->excludes = strv_add (category->excludes, add_excludes[i]);
  for (guint i = 0; remove_excludes != NULL && remove_excludes[i] != NULL; i++)
    {
      gboolean found = FALSE;

      category->excludes = strv_remove (category->excludes, remove_excludes[i], &found);
      if (!found)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                _("“%s” is not an exclusion of this category."), remove_excludes[i]);
    }
  if (category->paths == NULL || category->paths[0] == NULL)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("To stop backing it up altogether, use 'coffer category remove'."),
                            "%s", _("A category needs at least one folder."));

  if (!coffer_repository_update_category (cli->repository, category, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_info (cli, _("Updated the category “%s”."), category->name);
  return TRUE;
}

gboolean
coffer_cli_cmd_category (CofferCli  *cli,
                         int         argc,
                         char      **argv,
                         GError    **error)
{
  static const CofferCliSubcommand subs[] = {
    { "add", category_add },
    { "list", category_list },
    { "remove", category_remove },
    { "set", category_set },
  };
  return coffer_cli_run_subcommand (cli, "category", subs, G_N_ELEMENTS (subs),
                                    "  coffer category add NAME [--level standard|advanced] [--exclude PATTERN]… PATH…\n"
                                    "  coffer category list [--json]\n"
                                    "  coffer category remove NAME [--yes]\n"
                                    "  coffer category set NAME [--add-path P]… [--remove-path P]… [--exclude P]… "
                                    "[--no-exclude P]…",
                                    _("Run 'coffer category SUBCOMMAND --help' for details."),
                                    _("No category subcommand given (add, list, remove or set)."),
                                    argc, argv, error);
}

/* ---- protect ---- */

/* Changes that weaken protection (a new backup password, Standard
 * protection) need authority typed now, not only a trusted device: the
 * current password, checked against the repository's password envelopes,
 * or the recovery key (docs/SECURITY.md "Authority for security
 * downgrades"). password is the one this command will use (protect
 * --standard): it must then be the current backup password, and the
 * recovery key counts only while the backup has none. NULL (password
 * change): either the recovery key or the current password. */
static gboolean
require_authority (CofferCli           *cli,
                   const CofferSecret  *password,
                   const char          *what,
                   GError             **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) own = NULL;

  if (password == NULL && !coffer_cli_recovery_key_available (cli))
    {
      own = coffer_cli_get_password (cli, TRUE, &local_error);
      if (own == NULL && local_error != NULL)
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      password = own;
      if (password == NULL)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                                _("Give COFFER_PASSWORD or --password-file FILE, or COFFER_RECOVERY_KEY "
                                  "or --recovery-key-file FILE (or run it on a terminal)."),
                                _("%s needs the current backup password or the recovery key."), what);
    }
  if (password != NULL)
    {
      if (coffer_repository_check_authority (cli->repository, password, NULL, cli->cancellable, &local_error))
        return TRUE;
      if (!g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY))
        {
          if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD))
            return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                    _("%s needs the current backup password, and this is not it. "
                                      "Nothing was changed."), what);
          return coffer_cli_propagate (error, g_steal_pointer (&local_error));
        }
      /* No backup password yet: only the recovery key can authorise. */
      g_clear_error (&local_error);
    }
  rk = coffer_cli_get_recovery_key (cli, FALSE, &local_error);
  if (rk == NULL)
    {
      if (local_error != NULL)
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                              _("Give it in COFFER_RECOVERY_KEY or with --recovery-key-file FILE."),
                              _("%s needs the recovery key: this backup has no backup password yet."), what);
    }
  if (!coffer_repository_check_authority (cli->repository, NULL, rk, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  return TRUE;
}

gboolean
coffer_cli_cmd_protect (CofferCli  *cli,
                        int         argc,
                        char      **argv,
                        GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferCategory) category = NULL;
  gboolean advanced = FALSE, standard = FALSE, reencrypt = FALSE;
  CofferLevel level;
  GOptionEntry entries[] = {
    { "advanced", 0, 0, G_OPTION_ARG_NONE, &advanced,
      N_("End-to-end: only your trusted devices and the recovery key can open the category"), NULL },
    { "standard", 0, 0, G_OPTION_ARG_NONE, &standard,
      N_("The backup password can open the category too (e.g. on a new computer)"), NULL },
    { "reencrypt", 0, 0, G_OPTION_ARG_NONE, &reencrypt,
      N_("With --advanced: also re-encrypt the older backups under the new key (see 'coffer reencrypt')"),
      NULL },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, _("NAME --advanced [--reencrypt] | --standard"),
                         _("Switch a category between Standard and Advanced protection."),
                         _("--advanced needs the recovery key (COFFER_RECOVERY_KEY, "
                           "--recovery-key-file or typed when asked), which is checked first. "
                           "--standard needs the current backup password (or, with no "
                           "Standard category yet, the recovery key), checked before anything changes."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc != 2 || advanced == standard)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give one category name and either --advanced or --standard."));
  if (reencrypt && !advanced)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("--reencrypt goes with --advanced."));
  level = advanced ? COFFER_LEVEL_ADVANCED : COFFER_LEVEL_STANDARD;

  category = coffer_cli_unlock_category (cli, argv[1], error);
  if (category == NULL)
    return FALSE;

  if (category->level == level)
    {
      coffer_cli_info (cli, _("The category “%s” already has %s protection."), category->name,
                       level_label (level));
      return reencrypt ? coffer_cli_reencrypt_category (cli, category, error) : TRUE;
    }

  if (level == COFFER_LEVEL_ADVANCED)
    {
      g_autoptr(CofferSecret) rk = NULL;

      if (!coffer_cli_recovery_key_available (cli) && coffer_cli_have_terminal ())
        fprintf (stderr, "%s\n", _("Advanced protection leaves the recovery key as the only way in "
                                   "besides your devices, so type it to show that you have it."));
      rk = coffer_cli_get_recovery_key (cli, TRUE, &local_error);
      if (rk == NULL && local_error == NULL)
        return coffer_cli_missing_recovery_key (_("Advanced protection needs a confirmed recovery key."), error);
      if (rk == NULL)
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      if (!coffer_repository_verify_recovery_key (cli->repository, rk, cli->cancellable, &local_error))
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }
  else
    {
      g_autoptr(CofferSecret) password = coffer_cli_get_password (cli, TRUE, &local_error);

      if (password == NULL)
        {
          if (local_error != NULL)
            return coffer_cli_propagate (error, g_steal_pointer (&local_error));
          return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                                  _("Give it in COFFER_PASSWORD or with --password-file FILE."),
                                  "%s", _("Standard protection needs the backup password."));
        }
      if (!require_authority (cli, password, _("Standard protection"), error))
        return FALSE;
      coffer_repository_set_password (cli->repository, password);
    }

  if (!coffer_repository_set_level (cli->repository, category->id, level, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));

  if (level == COFFER_LEVEL_ADVANCED && reencrypt)
    {
      coffer_cli_info (cli, _("“%s” now has Advanced protection: from now on only your trusted "
                              "devices and the recovery key can open it, not the backup password. "
                              "Re-encrypting its older backups…"), category->name);
      return coffer_cli_reencrypt_category (cli, category, error);
    }
  if (level == COFFER_LEVEL_ADVANCED)
    coffer_cli_info (cli, _("“%s” now has Advanced protection: from now on only your trusted "
                            "devices and the recovery key can open it, not the backup password. "
                            "Older backups stay readable with the password from an old copy of "
                            "its envelope (for example in your provider's file history) until "
                            "they are re-encrypted with 'coffer reencrypt --category %s'."),
                     category->name, category->name);
  else
    coffer_cli_info (cli, _("“%s” now has Standard protection: the backup password can open it "
                            "too, for example to restore on a new computer."), category->name);
  return TRUE;
}

/* ---- password ---- */

gboolean
coffer_cli_cmd_password (CofferCli  *cli,
                         int         argc,
                         char      **argv,
                         GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) new_password = NULL;
  g_autofree char *new_password_file = NULL;
  GOptionEntry entries[] = {
    { "new-password-file", 0, 0, G_OPTION_ARG_FILENAME, &new_password_file,
      N_("Read the new password from the first line of FILE (or COFFER_NEW_PASSWORD)"), N_("FILE") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL, _("Change the backup password."),
                         _("The current password (or the recovery key) is required and checked, "
                           "even on a trusted device; "
                           "the new one is asked twice on a terminal, or read from "
                           "COFFER_NEW_PASSWORD or --new-password-file."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc > 1)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("'coffer password' takes no arguments."));

  if (!coffer_cli_unlock_repository (cli, error))
    return FALSE;
  if (!require_authority (cli, NULL, _("Changing the backup password"), error))
    return FALSE;

  new_password = coffer_cli_get_new_password (cli, new_password_file, FALSE, &local_error);
  if (new_password == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  if (new_password->len == 0)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("The new password is empty."));

  if (!coffer_repository_change_password (cli->repository, new_password, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_info (cli, "%s", _("The backup password was changed. The old one no longer opens "
                                "this repository."));
  return TRUE;
}

/* ---- recovery-key ---- */

static gboolean
recovery_key_verify (CofferCli  *cli,
                     int         argc,
                     char      **argv,
                     GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;

  if (!coffer_cli_parse (cli, NULL, NULL, _("Check that you have the right recovery key."),
                         _("The key is read from COFFER_RECOVERY_KEY, --recovery-key-file or "
                           "a prompt. A typo is told apart from a wrong key."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;

  if (!coffer_cli_open_repository (cli, error))
    return FALSE;

  rk = coffer_cli_get_recovery_key (cli, TRUE, &local_error);
  if (rk == NULL && local_error == NULL)
    return coffer_cli_missing_recovery_key (_("No recovery key given."), error);
  if (rk == NULL)
    {
      if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO))
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                                _("Compare it character by character with your copy."),
                                _("The recovery key has a typo: %s"), local_error->message);
      if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID))
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                                _("A recovery key has 28 characters in 7 groups of 4, "
                                  "like ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345."),
                                _("That is not a recovery key: %s"), local_error->message);
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  if (!coffer_repository_verify_recovery_key (cli->repository, rk, cli->cancellable, &local_error))
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY) ||
          g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                                _("Look for the key that was shown when this repository was "
                                  "created or when its key was last replaced."),
                                "%s", _("This is a well-formed recovery key, but not the one of "
                                        "this repository."));
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  coffer_cli_info (cli, "%s", _("The recovery key is correct: it opens this repository."));
  return TRUE;
}

/* The new key typed back: from --confirm-file, else on a terminal (three
 * tries). Never from COFFER_RECOVERY_KEY, which holds the old key. NULL
 * without error when there is no way to ask. */
static CofferSecret *
read_confirmation (CofferCli *cli, const char *confirm_file, GError **error)
{
  g_autoptr(CofferSecret) saved_env = g_steal_pointer (&cli->env_recovery_key);
  g_autofree char *saved_file = g_steal_pointer (&cli->recovery_key_file);
  CofferSecret *typed;

  cli->recovery_key_file = g_strdup (confirm_file);
  if (confirm_file == NULL && !coffer_cli_have_terminal ())
    typed = NULL;
  else
    {
      if (confirm_file == NULL)
        fprintf (stderr, "%s\n", _("To confirm that you kept it, type the new recovery key."));
      typed = coffer_cli_get_recovery_key (cli, TRUE, error);
    }
  g_free (cli->recovery_key_file);
  cli->recovery_key_file = g_steal_pointer (&saved_file);
  cli->env_recovery_key = g_steal_pointer (&saved_env);
  return typed;
}

/* The new recovery key typed back (three tries on a terminal, or
 * --confirm-file) and committed; the replacement stays pending on failure. */
static gboolean
confirm_replacement (CofferCli   *cli,
                     const char  *confirm_file,
                     GError     **error)
{
  for (guint attempt = 0; ; attempt++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(CofferSecret) typed = NULL;

      typed = read_confirmation (cli, confirm_file, &local_error);
      if (typed == NULL && local_error == NULL)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL, "%s",
                                _("The new recovery key was not confirmed: there is no terminal "
                                  "to type it back on and no --confirm-file."));
      if (typed == NULL)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                _("The new recovery key was not confirmed: %s"), local_error->message);
      if (coffer_repository_commit_recovery_key_replacement (cli->repository, typed, cli->cancellable,
                                                             &local_error))
        return TRUE;
      if (!g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY))
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      if (confirm_file != NULL || attempt == 2)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL, "%s", local_error->message);
      coffer_cli_error (cli, "%s", local_error->message);
    }
}

static gboolean
recovery_key_replace (CofferCli  *cli,
                      int         argc,
                      char      **argv,
                      GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;
  g_autoptr(CofferSecret) formatted = NULL;
  g_autofree char *out_file = NULL;
  g_autofree char *output = NULL;
  g_autofree char *confirm_file = NULL;
  int key_fd = -1;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_("Write the new key to FILE (mode 0600, never over an existing file)"), N_("FILE") },
    { "confirm-file", 0, 0, G_OPTION_ARG_FILENAME, &confirm_file,
      N_("Read the new key back from FILE to confirm it (without a terminal)"), N_("FILE") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL,
                         _("Make a new recovery key; once confirmed, the old one stops working."),
                         _("The new key is shown, or written to --output FILE (or "
                           "--recovery-key-file FILE; mode 0600, never over an existing file). "
                           "It takes effect only when typed back: on a terminal you are asked "
                           "for it, otherwise --confirm-file FILE reads it back. Without "
                           "confirmation nothing changes and the old key stays valid. The "
                           "repository is opened with the password, this device's key or "
                           "COFFER_RECOVERY_KEY."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;

  /* Here --recovery-key-file names the output: do not read a key from it. */
  out_file = g_steal_pointer (&cli->recovery_key_file);
  if (output != NULL)
    {
      g_free (out_file);
      out_file = g_steal_pointer (&output);
    }
  if (out_file == NULL && confirm_file == NULL && !coffer_cli_have_terminal ())
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE,
                            _("Write it with --output FILE, keep the file safe, and confirm with "
                              "--confirm-file FILE."),
                            "%s", _("Nothing was changed: a new recovery key takes effect only after "
                                    "you type it back, and there is no terminal to ask on."));
  if (out_file != NULL)
    {
      key_fd = open_key_file (out_file, error);
      if (key_fd < 0)
        return FALSE;
    }

  if (coffer_cli_unlock_repository (cli, &local_error) &&
      !coffer_repository_has_account_key (cli->repository))
    coffer_cli_fail (&local_error, COFFER_CLI_ERROR_USAGE, NULL, "%s",
                     _("Replacing the recovery key needs this device's key or the current "
                       "recovery key."));
  if (local_error == NULL)
    rk = coffer_repository_begin_recovery_key_replacement (cli->repository, &local_error);
  if (local_error != NULL)
    {
      if (key_fd >= 0)
        {
          close (key_fd);
          g_unlink (out_file);
        }
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  formatted = coffer_recovery_key_format (rk);
  if (key_fd >= 0)
    {
      g_autofree char *shown = coffer_cli_display_name (out_file);

      if (!write_key_file (cli, key_fd, out_file, formatted))
        {
          g_unlink (out_file);
          coffer_repository_cancel_recovery_key_replacement (cli->repository);
          coffer_cli_info (cli, "%s", _("Nothing was changed: the old recovery key stays valid."));
          return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_FAILED);
        }
      coffer_cli_info (cli, _("The new recovery key was written to %s. Move it somewhere safe and "
                              "offline."), shown);
    }
  else
    show_recovery_key (cli, formatted);

  if (!confirm_replacement (cli, confirm_file, &local_error))
    {
      /* Why, then that nothing changed. */
      int status = coffer_cli_report_error (cli, local_error);

      coffer_repository_cancel_recovery_key_replacement (cli->repository);
      if (out_file != NULL)
        g_unlink (out_file);
      coffer_cli_info (cli, "%s", _("Nothing was changed: the new key was discarded and the old "
                                    "recovery key stays valid."));
      return coffer_cli_fail_reported (error, status);
    }
  coffer_cli_info (cli, "%s", _("The new recovery key is confirmed and now in effect; the old one no "
                                "longer works. Destroy old copies of it. Test the new key now and then "
                                "with 'coffer recovery-key verify'."));
  coffer_cli_shares_after_replace (cli);
  return TRUE;
}

static gboolean
recovery_key_status (CofferCli  *cli,
                     int         argc,
                     char      **argv,
                     GError    **error)
{
  gint64 tested;

  if (!coffer_cli_parse (cli, NULL, NULL, _("Show when the recovery key was last tested on this computer."),
                         NULL, &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (!coffer_cli_open_repository (cli, error))
    return FALSE;

  tested = coffer_repository_get_recovery_key_tested (cli->repository);
  if (cli->json)
    {
      g_autofree char *iso = tested > 0 ? coffer_cli_format_iso (tested) : NULL;
      g_autoptr(GString) out = g_string_new ("{\"last_tested\":");

      coffer_cli_json_string (out, iso);
      g_string_append (out, "}\n");
      fputs (out->str, stdout);
      return TRUE;
    }
  if (tested > 0)
    {
      g_autofree char *when = coffer_cli_format_time (tested);
      gint64 days = (g_get_real_time () / G_USEC_PER_SEC - tested) / 86400;

      printf (_("The recovery key was last tested on %s.\n"), when);
      if (days > 180)
        printf ("%s\n", _("That was a long time ago: test it again with 'coffer recovery-key verify'."));
    }
  else
    {
      printf ("%s\n", _("The recovery key has never been tested on this computer. Test it with "
                        "'coffer recovery-key verify'."));
    }
  return TRUE;
}

gboolean
coffer_cli_cmd_recovery_key (CofferCli  *cli,
                             int         argc,
                             char      **argv,
                             GError    **error)
{
  static const CofferCliSubcommand subs[] = {
    { "verify", recovery_key_verify },
    { "replace", recovery_key_replace },
    { "status", recovery_key_status },
    { "kit", coffer_cli_recovery_key_kit },
    { "share", coffer_cli_recovery_key_share },
  };
  return coffer_cli_run_subcommand (cli, "recovery-key", subs, G_N_ELEMENTS (subs),
                                    "  coffer recovery-key verify\n  coffer recovery-key replace [--output FILE] [--confirm-file FILE]\n"
                                    "  coffer recovery-key status\n  coffer recovery-key kit --output FILE\n"
                                    "  coffer recovery-key share [--needed K] [--count N] --output DIR",
                                    _("Run 'coffer recovery-key SUBCOMMAND --help' for details."),
                                    _("No recovery-key subcommand given (verify, replace, status, kit or share)."),
                                    argc, argv, error);
}
