/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer-cli-data.c: commands about backed-up data: backup, snapshots, ls,
 * find, restore, check, forget, prune. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "coffer-cli-private.h"

/* Unlocks the repository and returns the categories named (a NULL-terminated
 * array), or else every unlocked one with a warning for each locked one
 * (for backup: that it is not backed up, and an error when there are no
 * categories at all). */
static GPtrArray *
categories_to_process (CofferCli           *cli,
                       const char * const  *names,
                       gboolean             backup,
                       GError             **error)
{
  g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_category_free);
  g_autoptr(GPtrArray) all = NULL;

  if (!coffer_cli_unlock_repository (cli, error))
    return NULL;

  if (names != NULL)
    {
      for (guint i = 0; names[i] != NULL; i++)
        {
          CofferCategory *c = coffer_cli_find_category (cli, names[i], error);
          if (c == NULL)
            return NULL;
          g_ptr_array_add (result, c);
        }
      return g_steal_pointer (&result);
    }

  all = coffer_repository_list_categories (cli->repository, cli->cancellable, error);
  if (all == NULL)
    return NULL;
  for (guint i = 0; i < all->len; i++)
    {
      const CofferCategory *c = all->pdata[i];

      if (c->unlocked)
        g_ptr_array_add (result, coffer_category_copy (c));
      else if (backup)
        coffer_cli_warning (cli, _("A category (id %s) stays locked and is not backed up: "
                                   "Advanced protection needs the recovery key or a trusted "
                                   "device's key."), c->id);
      else
        coffer_cli_warning (cli, _("A locked category (id %s) is left out."), c->id);
    }
  if (backup && all->len == 0)
    {
      coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, _("Add one with 'coffer category add NAME PATH…'."),
                       "%s", _("The repository has no categories yet."));
      return NULL;
    }
  return g_steal_pointer (&result);
}

/* The line (or JSON object) for one category's new snapshot. */
static void
print_backup_summary (CofferCli            *cli,
                      const CofferCategory *c,
                      const CofferSnapshot *snapshot,
                      guint                 n_skipped,
                      gdouble               seconds)
{
  if (cli->json)
    {
      g_autoptr(GString) out = g_string_new ("{\"category\":");
      coffer_cli_json_string (out, c->name);
      g_string_append (out, ",\"snapshot\":");
      coffer_cli_json_string (out, snapshot->id);
      g_string_append_printf (out, ",\"files\":%" G_GUINT64_FORMAT ",\"bytes\":%" G_GUINT64_FORMAT
                              ",\"added_bytes\":%" G_GUINT64_FORMAT ",\"skipped\":%u"
                              ",\"duration\":%.3f}\n",
                              snapshot->files, snapshot->bytes, snapshot->added_bytes,
                              n_skipped, seconds);
      fputs (out->str, stdout);
    }
  else
    {
      g_autofree char *size = g_format_size_full (snapshot->bytes, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *added = g_format_size_full (snapshot->added_bytes, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *took = coffer_cli_format_duration (seconds);
      g_autofree char *short_id = coffer_cli_short_id (snapshot->id);

      /* Translators: category name, number of files, total size, size
       * of the new data, duration, snapshot id */
      coffer_cli_info (cli, ngettext ("%s: %llu file, %s, %s new, %s, snapshot %s",
                                      "%s: %llu files, %s, %s new, %s, snapshot %s",
                                      (gulong) snapshot->files),
                       c->name, (unsigned long long) snapshot->files, size, added, took, short_id);
    }
}

/* ---- backup ---- */

typedef struct
{
  CofferCli *cli;
  GPtrArray *categories;   /* CofferCategory: the ones backed up, for their names */
  gint64     start;        /* of the current category */
  int        failure;      /* the first failure's exit status */
  gboolean   any_skipped;
} BackupRun;

/* Before each category (backup NULL) and after it: its lines, as it goes. */
static void
backup_each_cb (const char *category_id, const CofferCategoryBackup *backup, gpointer user_data)
{
  BackupRun *run = user_data;
  const CofferCategory *c = NULL;
  guint n_skipped = backup != NULL && backup->skipped != NULL ? backup->skipped->len : 0;

  if (backup == NULL)
    {
      coffer_cli_progress_reset ();
      run->start = g_get_monotonic_time ();
      return;
    }
  coffer_cli_progress_clear ();
  for (guint i = 0; i < run->categories->len && c == NULL; i++)
    if (g_strcmp0 (((const CofferCategory *) run->categories->pdata[i])->id, category_id) == 0)
      c = run->categories->pdata[i];
  g_return_if_fail (c != NULL);

  for (guint j = 0; j < n_skipped; j++)
    {
      g_autofree char *shown = coffer_cli_display_name (backup->skipped->pdata[j]);
      coffer_cli_error (run->cli, _("skipped %s"), shown);
    }
  if (backup->snapshot == NULL)
    {
      int s;

      /* A cancel is said once, for the whole run. */
      if (g_error_matches (backup->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      s = coffer_cli_report_error (run->cli, backup->error);
      if (run->failure == COFFER_EXIT_OK)
        run->failure = s;
      return;
    }
  print_backup_summary (run->cli, c, backup->snapshot, n_skipped,
                        (g_get_monotonic_time () - run->start) / (double) G_USEC_PER_SEC);
  if (n_skipped > 0)
    {
      coffer_cli_warning (run->cli, ngettext ("%u path of “%s” could not be read; the snapshot was "
                                              "written without it.",
                                              "%u paths of “%s” could not be read; the snapshot was "
                                              "written without them.", n_skipped),
                          n_skipped, c->name);
      run->any_skipped = TRUE;
    }
}

gboolean
coffer_cli_cmd_backup (CofferCli  *cli,
                       int         argc,
                       char      **argv,
                       GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) names = NULL;
  g_autoptr(GPtrArray) categories = NULL;
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GPtrArray) results = NULL;
  BackupRun run = { NULL, NULL, 0, COFFER_EXIT_OK, FALSE };
  int failure = COFFER_EXIT_OK;
  gboolean any_skipped = FALSE;
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &names,
      N_("Back up only this category (repeatable; default: every unlocked category)"), N_("NAME") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL, _("Back up categories."),
                         _("Prints a summary per category. Paths that could not be read are listed "
                           "on stderr and the exit status is 3 (the snapshot is still written). "
                           "Ctrl+C stops cleanly; the next backup resumes without uploading "
                           "again what already landed."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc > 1)
    return coffer_cli_unexpected_argument (argv[1], _("Folders are added with 'coffer category add' "
                                                      "or 'coffer category set'."), error);

  categories = categories_to_process (cli, (const char * const *) names, TRUE, error);
  if (categories == NULL)
    return FALSE;

  run.cli = cli;
  run.categories = categories;
  ids = g_ptr_array_new ();
  for (guint i = 0; i < categories->len; i++)
    {
      const CofferCategory *c = categories->pdata[i];

      /* Folders belong to a computer: a category another computer made has
       * none here until they are set; without --category it is left out. */
      if (names == NULL && (c->paths == NULL || c->paths[0] == NULL))
        {
          coffer_cli_info (cli, _("“%s” has no folders on this computer; add them with "
                                  "'coffer category set %s --add-path PATH'."), c->name, c->name);
          continue;
        }
      g_ptr_array_add (ids, c->id);
    }
  g_ptr_array_add (ids, NULL);

  /* The policy of a backup over several categories is the core's (the app
   * uses it too); the CLI prints each category as it goes. */
  if (!coffer_backup_categories_run (cli->repository, (const char * const *) ids->pdata, NULL, NULL,
                                     coffer_cli_progress_cb, cli, backup_each_cb, &run, &results,
                                     cli->cancellable, &local_error))
    {
      int s;

      coffer_cli_progress_clear ();
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      s = coffer_cli_report_error (cli, local_error);
      coffer_cli_hint (cli, "%s", _("The next backup continues where this one stopped."));
      return coffer_cli_fail_reported (error, s);
    }
  failure = run.failure;
  any_skipped = run.any_skipped;

  /* Each failure was reported as it happened; the first one is the exit
   * status. */
  if (failure != COFFER_EXIT_OK)
    return coffer_cli_fail_reported (error, failure);
  if (any_skipped)
    return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_SKIPPED);
  return TRUE;
}

/* ---- snapshots ---- */

static void
snapshot_json (GString       *out,
               gconstpointer  item)
{
  const CofferSnapshot *s = item;
  g_autofree char *time = coffer_cli_format_iso (s->time / G_USEC_PER_SEC);
  g_autofree char *end = coffer_cli_format_iso (s->end_time / G_USEC_PER_SEC);
  g_autofree char *tree = coffer_hex_encode (s->tree, COFFER_ID_BYTES);

  g_string_append (out, "{\"id\":");
  coffer_cli_json_string (out, s->id);
  g_string_append (out, ",\"time\":");
  coffer_cli_json_string (out, time);
  g_string_append_printf (out, ",\"time_us\":%" G_GINT64_FORMAT ",\"end_time\":", s->time);
  coffer_cli_json_string (out, end);
  g_string_append_printf (out, ",\"end_time_us\":%" G_GINT64_FORMAT ",\"device_id\":", s->end_time);
  coffer_cli_json_string (out, s->device_id);
  g_string_append (out, ",\"hostname\":");
  coffer_cli_json_string (out, s->hostname);
  g_string_append (out, ",\"computer\":");
  coffer_cli_json_string (out, coffer_cli_device_name (s->device_id));
  g_string_append (out, ",\"category_id\":");
  coffer_cli_json_string (out, s->category_id);
  g_string_append (out, ",\"category\":");
  coffer_cli_json_string (out, s->category_name);
  g_string_append (out, ",\"paths\":");
  coffer_cli_json_string_array (out, (const char * const *) s->paths);
  g_string_append (out, ",\"tree\":");
  coffer_cli_json_string (out, tree);
  g_string_append (out, ",\"parent\":");
  coffer_cli_json_string (out, s->parent);
  g_string_append_printf (out, ",\"seq\":%" G_GUINT64_FORMAT ",\"epoch\":%u,\"files\":%" G_GUINT64_FORMAT
                          ",\"dirs\":%" G_GUINT64_FORMAT ",\"bytes\":%" G_GUINT64_FORMAT
                          ",\"added_bytes\":%" G_GUINT64_FORMAT ",\"skipped\":%" G_GUINT64_FORMAT
                          ",\"partial\":%s}",
                          s->seq, s->epoch, s->files, s->dirs, s->bytes, s->added_bytes, s->skipped,
                          s->partial ? "true" : "false");
}

gboolean
coffer_cli_cmd_snapshots (CofferCli  *cli,
                          int         argc,
                          char      **argv,
                          GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *name = NULL;
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(GPtrArray) snapshots = NULL;
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name,
      N_("Only the snapshots of this category"), N_("NAME") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL, _("List the snapshots, oldest first."),
                         _("Columns: id (first 8 characters; any unique prefix works), local time, "
                           "category, files, size, computer. --json prints every field."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;

  if (name != NULL)
    {
      category = coffer_cli_unlock_category (cli, name, error);
      if (category == NULL)
        return FALSE;
    }
  else
    {
      if (!coffer_cli_unlock_repository (cli, error))
        return FALSE;
    }

  snapshots = coffer_repository_list_snapshots (cli->repository, category ? category->id : NULL,
                                                cli->cancellable, &local_error);
  if (snapshots == NULL)
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_load_device_names (cli);
  if (category == NULL)
    {
      /* Say what the listing leaves out, rather than show "no snapshots". */
      g_autoptr(GPtrArray) all = coffer_repository_list_categories (cli->repository, cli->cancellable, NULL);
      for (guint i = 0; all != NULL && i < all->len; i++)
        if (!((CofferCategory *) all->pdata[i])->unlocked)
          coffer_cli_warning (cli, _("The snapshots of a locked category (id %s) are not listed: "
                                     "Advanced protection needs the recovery key or a trusted device."),
                              ((CofferCategory *) all->pdata[i])->id);
    }

  if (cli->json)
    {
      coffer_cli_print_json_array (snapshots, snapshot_json);
      return TRUE;
    }

  if (snapshots->len == 0)
    {
      coffer_cli_info (cli, "%s", _("There are no snapshots yet."));
      return TRUE;
    }

  printf ("%-8s  %-19s  %-16s  %9s  %10s  %s\n", _("ID"), _("Time"), _("Category"), _("Files"),
          _("Size"), _("Computer"));
  for (guint i = 0; i < snapshots->len; i++)
    {
      const CofferSnapshot *s = snapshots->pdata[i];
      g_autofree char *short_id = coffer_cli_short_id (s->id);
      g_autofree char *time = coffer_cli_format_time (s->time / G_USEC_PER_SEC);
      g_autofree char *size = g_format_size_full (s->bytes, G_FORMAT_SIZE_IEC_UNITS);
      /* The computer's name as the repository knows it (its own choice at
       * joining), else the host name the snapshot recorded. */
      const char *computer = coffer_cli_device_name (s->device_id);

      printf ("%-8s  %-19s  %-16s  %9" G_GUINT64_FORMAT "  %10s  %s%s\n", short_id, time,
              s->category_name ? s->category_name : "?", s->files, size,
              computer ? computer : s->hostname ? s->hostname : "", s->partial ? _(" (partial)") : "");
    }
  return TRUE;
}

/* ---- ls / find ---- */

static const char *
type_name (CofferNodeType type)
{
  switch (type)
    {
    case COFFER_NODE_FILE: return "file";
    case COFFER_NODE_DIR: return "dir";
    case COFFER_NODE_SYMLINK: return "symlink";
    case COFFER_NODE_FIFO: return "fifo";
    case COFFER_NODE_CHARDEV: return "chardev";
    case COFFER_NODE_BLOCKDEV: return "blockdev";
    case COFFER_NODE_SOCKET: return "socket";
    default: return "unknown";
    }
}

static void
mode_string (const CofferTreeEntry *e,
             char                   out[11])
{
  static const char bits[] = "rwxrwxrwx";

  out[0] = e->type == COFFER_NODE_FILE ? '-' : (char) e->type;
  for (int i = 0; i < 9; i++)
    out[i + 1] = (e->mode & (1u << (8 - i))) ? bits[i] : '-';
  if (e->mode & S_ISUID)
    out[3] = (e->mode & S_IXUSR) ? 's' : 'S';
  if (e->mode & S_ISGID)
    out[6] = (e->mode & S_IXGRP) ? 's' : 'S';
  if (e->mode & S_ISVTX)
    out[9] = (e->mode & S_IXOTH) ? 't' : 'T';
  out[10] = '\0';
}

typedef struct
{
  CofferCli *cli;
  gboolean   long_format;
  GString   *json;
  guint      count;
  const char *pattern;
  gboolean   pattern_has_slash;
} ListState;

static void
print_entry (ListState             *state,
             const char            *path,
             const CofferTreeEntry *e)
{
  if (state->json != NULL)
    {
      if (state->count > 0)
        g_string_append_c (state->json, ',');
      g_string_append_c (state->json, '{');
      coffer_cli_json_name (state->json, "path", path);
      g_string_append_c (state->json, ',');
      coffer_cli_json_name (state->json, "name", e->name);
      g_string_append (state->json, ",\"type\":");
      coffer_cli_json_string (state->json, type_name (e->type));
      g_string_append_printf (state->json, ",\"mode\":%u,\"uid\":%u,\"gid\":%u,\"size\":%" G_GUINT64_FORMAT
                              ",\"mtime_ns\":%" G_GINT64_FORMAT,
                              e->mode, e->uid, e->gid, e->size, e->mtime_ns);
      if (e->link_target != NULL)
        {
          g_string_append_c (state->json, ',');
          coffer_cli_json_name (state->json, "link_target", e->link_target);
        }
      g_string_append_c (state->json, '}');
    }
  else if (state->long_format)
    {
      char mode[11];
      g_autofree char *when = coffer_cli_format_time (e->mtime_ns / 1000000000);

      mode_string (e, mode);
      printf ("%s %6u %6u %12" G_GUINT64_FORMAT " %s ", mode, e->uid, e->gid, e->size, when);
      coffer_cli_print_raw (stdout, path);
      if (e->type == COFFER_NODE_SYMLINK && e->link_target != NULL)
        {
          fputs (" -> ", stdout);
          coffer_cli_print_raw (stdout, e->link_target);
        }
      if (e->type == COFFER_NODE_DIR)
        putchar ('/');
      putchar ('\n');
    }
  else
    {
      coffer_cli_print_raw (stdout, path);
      if (e->type == COFFER_NODE_DIR)
        putchar ('/');
      putchar ('\n');
    }
  state->count++;
}

static gboolean
list_walk_cb (const char            *path,
              const CofferTreeEntry *entry,
              gpointer               user_data)
{
  ListState *state = user_data;

  if (g_cancellable_is_cancelled (state->cli->cancellable))
    return FALSE;
  print_entry (state, path, entry);
  return TRUE;
}

static gboolean
find_walk_cb (const char            *path,
              const CofferTreeEntry *entry,
              gpointer               user_data)
{
  ListState *state = user_data;
  const char *subject = state->pattern_has_slash ? path : entry->name;

  if (g_cancellable_is_cancelled (state->cli->cancellable))
    return FALSE;
  if (fnmatch (state->pattern, subject, state->pattern_has_slash ? FNM_PATHNAME : 0) == 0)
    print_entry (state, path, entry);
  return TRUE;
}

/* Unlocks the repository and finds the category named (or the only one)
 * and its snapshot snapshot_id ("latest" when NULL). */
static CofferSnapshot *
find_snapshot (CofferCli       *cli,
               const char      *name,
               const char      *snapshot_id,
               CofferCategory **category_out,
               GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferCategory) category = NULL;
  CofferSnapshot *snapshot;

  category = coffer_cli_unlock_category (cli, name, error);
  if (category == NULL)
    return NULL;
  snapshot = coffer_repository_find_snapshot (cli->repository, category->id,
                                              snapshot_id ? snapshot_id : "latest",
                                              cli->cancellable, &local_error);
  if (snapshot == NULL)
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_SNAPSHOT) &&
          (snapshot_id == NULL || g_str_equal (snapshot_id, "latest")))
        {
          coffer_cli_fail (error, COFFER_CLI_ERROR_FAILED, _("Run 'coffer backup' first."),
                           _("The category “%s” has no snapshots yet."), category->name);
          return NULL;
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  *category_out = g_steal_pointer (&category);
  return snapshot;
}

/* Prints the JSON array collected in state (if any) and frees it. */
static void
list_finish_json (ListState *state,
                  gboolean   print)
{
  if (state->json == NULL)
    return;
  if (print)
    {
      g_string_append (state->json, "]\n");
      fputs (state->json->str, stdout);
    }
  g_string_free (g_steal_pointer (&state->json), TRUE);
}

static char *
snapshot_path (const char *arg)
{
  if (arg == NULL || arg[0] == '\0' || g_str_equal (arg, "/"))
    return g_strdup ("/");
  return g_canonicalize_filename (arg, NULL);
}

gboolean
coffer_cli_cmd_ls (CofferCli  *cli,
                   int         argc,
                   char      **argv,
                   GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *snapshot_id = NULL;
  g_autofree char *path = NULL;
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(CofferSnapshot) snapshot = NULL;
  gboolean long_format = FALSE, recursive = FALSE;
  ListState state = { 0 };
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name, N_("The category (may be left out when there is only one)"), N_("NAME") },
    { "snapshot", 's', 0, G_OPTION_ARG_STRING, &snapshot_id, N_("Snapshot id, unique prefix or 'latest' (default)"), N_("ID") },
    { "long", 'l', 0, G_OPTION_ARG_NONE, &long_format, N_("Show mode, owner, size and time"), NULL },
    { "recursive", 'R', 0, G_OPTION_ARG_NONE, &recursive, N_("List the whole tree below PATH"), NULL },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, _("[PATH]"), _("List the files in a snapshot."),
                         _("PATH is a folder as it was on the backed-up computer (relative paths are "
                           "taken from the current folder); without it the backed-up folders are "
                           "listed. Names are printed as raw bytes; in --json, names that are not "
                           "UTF-8 carry an extra \"name_raw\"/\"path_raw\" field in base64."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc > 2)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give at most one path."));
  path = snapshot_path (argc == 2 ? argv[1] : NULL);

  snapshot = find_snapshot (cli, name, snapshot_id, &category, error);
  if (snapshot == NULL)
    return FALSE;

  state.cli = cli;
  state.long_format = long_format;
  if (cli->json)
    state.json = g_string_new ("[");

  if (recursive)
    {
      if (!coffer_repository_walk (cli->repository, category->id, snapshot, path, list_walk_cb, &state,
                                   cli->cancellable, &local_error))
        {
          list_finish_json (&state, FALSE);
          return coffer_cli_propagate (error, g_steal_pointer (&local_error));
        }
    }
  else
    {
      g_autoptr(GPtrArray) list = coffer_repository_list_dir (cli->repository, category->id, snapshot, path,
                                                              cli->cancellable, &local_error);
      if (list == NULL)
        {
          list_finish_json (&state, FALSE);
          return coffer_cli_propagate (error, g_steal_pointer (&local_error));
        }
      for (guint i = 0; i < list->len; i++)
        {
          const CofferTreeEntry *e = list->pdata[i];
          g_autofree char *full = NULL;

          /* At the top level the entries are the backed-up folders. */
          if (g_str_equal (path, "/") && e->name[0] == '/')
            full = g_strdup (e->name);
          else
            full = g_build_filename (path, e->name, NULL);
          print_entry (&state, full, e);
        }
    }

  list_finish_json (&state, TRUE);
  return TRUE;
}

gboolean
coffer_cli_cmd_find (CofferCli  *cli,
                     int         argc,
                     char      **argv,
                     GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *snapshot_id = NULL;
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(CofferSnapshot) snapshot = NULL;
  gboolean long_format = FALSE;
  ListState state = { 0 };
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name, N_("The category (may be left out when there is only one)"), N_("NAME") },
    { "snapshot", 's', 0, G_OPTION_ARG_STRING, &snapshot_id, N_("Snapshot id, unique prefix or 'latest' (default)"), N_("ID") },
    { "long", 'l', 0, G_OPTION_ARG_NONE, &long_format, N_("Show mode, owner, size and time"), NULL },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, _("PATTERN"), _("Search a snapshot for files by name."),
                         _("PATTERN is a shell glob (*, ?, [abc]; quote it) matched against file "
                           "names, or against the full path when it contains a '/'. Example: "
                           "coffer find --category Photos '*.jpg'"),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (argc != 2)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give one pattern to search for."));

  snapshot = find_snapshot (cli, name, snapshot_id, &category, error);
  if (snapshot == NULL)
    return FALSE;

  state.cli = cli;
  state.long_format = long_format;
  state.pattern = argv[1];
  state.pattern_has_slash = strchr (argv[1], '/') != NULL;
  if (cli->json)
    state.json = g_string_new ("[");

  if (!coffer_repository_walk (cli->repository, category->id, snapshot, "/", find_walk_cb, &state,
                               cli->cancellable, &local_error))
    {
      list_finish_json (&state, FALSE);
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }
  if (state.json == NULL && state.count == 0)
    coffer_cli_info (cli, "%s", _("No files match."));
  list_finish_json (&state, TRUE);
  return TRUE;
}

/* ---- restore ---- */

/* restore's PATHs (canonical, NULL-terminated; NULL for the whole
 * snapshot), --target and --strip-prefix made absolute, checked before
 * anything is opened. */
static gboolean
restore_arguments (int          argc,
                   char       **argv,
                   const char  *target,
                   const char  *strip_prefix,
                   GPtrArray  **paths_out,
                   char       **abs_target_out,
                   char       **abs_strip_out,
                   GError     **error)
{
  g_autoptr(GPtrArray) paths = NULL;
  g_autofree char *abs_strip = NULL;

  if (argc > 1)
    {
      paths = g_ptr_array_new_with_free_func (g_free);
      for (int i = 1; i < argc; i++)
        g_ptr_array_add (paths, g_canonicalize_filename (argv[i], NULL));
      g_ptr_array_add (paths, NULL);
    }
  if (strip_prefix != NULL)
    {
      if (target == NULL)
        return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                "%s", _("--strip-prefix needs --target DIR."));
      abs_strip = g_canonicalize_filename (strip_prefix, "/");
      /* Only what lies below the prefix is restored: a PATH outside it
       * would silently restore nothing. */
      for (guint i = 0; paths != NULL && paths->pdata[i] != NULL; i++)
        {
          const char *p = paths->pdata[i];
          gsize n = strlen (abs_strip);
          if (!g_str_equal (abs_strip, "/") && !(strncmp (p, abs_strip, n) == 0 && p[n] == '/'))
            {
              g_autofree char *shown = coffer_cli_display_name (p);
              return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                                      _("%s is not inside the --strip-prefix folder."), shown);
            }
        }
    }
  *paths_out = g_steal_pointer (&paths);
  *abs_target_out = target != NULL ? g_canonicalize_filename (target, NULL) : NULL;
  *abs_strip_out = g_steal_pointer (&abs_strip);
  return TRUE;
}

/* What restore left out: privileges withheld, and newer files kept
 * (each named on stderr). */
static void
print_restore_warnings (CofferCli                 *cli,
                        const CofferRestoreResult *result,
                        GPtrArray                 *conflicts)
{
  if (result->withheld > 0)
    {
      coffer_cli_warning (cli, ngettext ("%u file or folder was restored without its privileges (setuid/setgid "
                                         "bit, security or trusted attribute) or, as a device node or FIFO, "
                                         "not created.",
                                         "%u files or folders were restored without their privileges "
                                         "(setuid/setgid bits, security or trusted attributes) or, as device "
                                         "nodes or FIFOs, not created.", result->withheld),
                          result->withheld);
      coffer_cli_hint (cli, "%s", _("Use --keep-privileges to restore them, only for a snapshot you trust."));
    }

  for (guint i = 0; conflicts != NULL && i < conflicts->len; i++)
    {
      g_autofree char *shown = coffer_cli_display_name (conflicts->pdata[i]);
      coffer_cli_error (cli, _("kept newer file %s"), shown);
    }
}

/* The closing line of a restore: where to, how many files. */
static void
print_restore_summary (CofferCli            *cli,
                       const CofferCategory *category,
                       const char           *short_id,
                       const char           *abs_target,
                       gboolean              dry_run)
{
  guint64 files = 0, bytes = 0;
  g_autofree char *size = NULL;
  g_autofree char *where = abs_target ? coffer_cli_display_name (abs_target)
                                      : g_strdup (_("the original place"));

  coffer_cli_progress_last (&files, &bytes);
  size = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
  if (dry_run)
    coffer_cli_info (cli, ngettext ("Dry run: would restore snapshot %s of “%s” to %s (%llu file, %s); "
                                    "nothing was written.",
                                    "Dry run: would restore snapshot %s of “%s” to %s (%llu files, %s); "
                                    "nothing was written.", (gulong) files),
                     short_id, category->name, where, (unsigned long long) files, size);
  else
    coffer_cli_info (cli, ngettext ("Restored snapshot %s of “%s” to %s (%llu file, %s).",
                                    "Restored snapshot %s of “%s” to %s (%llu files, %s).", (gulong) files),
                     short_id, category->name, where, (unsigned long long) files, size);
}

gboolean
coffer_cli_cmd_restore (CofferCli  *cli,
                        int         argc,
                        char      **argv,
                        GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *snapshot_id = NULL;
  g_autofree char *target = NULL;
  g_autofree char *abs_target = NULL;
  g_autofree char *strip_prefix = NULL;
  g_autofree char *abs_strip = NULL;
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(CofferSnapshot) snapshot = NULL;
  g_autoptr(GPtrArray) paths = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  gboolean overwrite = FALSE, dry_run = FALSE, yes = FALSE, keep_privileges = FALSE;
  CofferRestoreFlags flags = COFFER_RESTORE_DEFAULT;
  CofferRestoreResult result = { 0 };
  g_autofree char *short_id = NULL;
  gboolean ok;
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name, N_("The category (may be left out when there is only one)"), N_("NAME") },
    { "snapshot", 's', 0, G_OPTION_ARG_STRING, &snapshot_id, N_("Snapshot id, unique prefix or 'latest' (default)"), N_("ID") },
    { "target", 't', 0, G_OPTION_ARG_FILENAME, &target,
      N_("Restore under DIR (DIR/home/me/Pictures/…) instead of to the original place"), N_("DIR") },
    { "strip-prefix", 0, 0, G_OPTION_ARG_FILENAME, &strip_prefix,
      N_("With --target: leave PATH out of the restored paths (DIR/Pictures/… for /home/me)"), N_("PATH") },
    { "overwrite", 0, 0, G_OPTION_ARG_NONE, &overwrite, N_("Replace existing files even when they are newer"), NULL },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, N_("Show what would happen; write nothing"), NULL },
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, N_("Do not ask before restoring to the original place"), NULL },
    { "keep-privileges", 0, 0, G_OPTION_ARG_NONE, &keep_privileges,
      N_("Also restore setuid/setgid bits, security.* and trusted.* attributes, device nodes and FIFOs"), NULL },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, _("[PATH…]"), _("Restore files from a snapshot."),
                         _("Without PATH the whole snapshot is restored; a PATH (a folder or file "
                           "as it was on the backed-up computer) restores just that. Without "
                           "--target files go back to where they were (asked on a terminal, "
                           "--yes needed otherwise). Files with the same content are left alone; "
                           "an existing file that is newer than the backup is never replaced "
                           "without --overwrite: such conflicts are listed on stderr and the exit "
                           "status is 4. What could grant privileges (setuid/setgid bits, "
                           "security.* and trusted.* attributes such as file capabilities, device "
                           "nodes, FIFOs) is left out and counted unless --keep-privileges is "
                           "given: use it only for snapshots you trust, e.g. a system restore."),
                         &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;

  if (!restore_arguments (argc, argv, target, strip_prefix, &paths, &abs_target, &abs_strip, error))
    return FALSE;
  if (target == NULL && !yes && !dry_run && !coffer_cli_have_terminal ())
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, _("Or restore somewhere else with --target DIR."),
                            "%s", _("Restoring to the original place needs --yes when not run on a terminal."));

  snapshot = find_snapshot (cli, name, snapshot_id, &category, error);
  if (snapshot == NULL)
    return FALSE;
  short_id = coffer_cli_short_id (snapshot->id);

  if (target == NULL && !yes && !dry_run)
    {
      g_autofree char *when = coffer_cli_format_time (snapshot->time / G_USEC_PER_SEC);
      g_autofree char *question =
        g_strdup_printf (_("Restore “%s” from %s (snapshot %s) to its original place? Files that "
                           "differ are replaced unless they are newer."), category->name, when, short_id);

      if (!coffer_cli_confirm_or_cancel (cli, question, _("Cancelled; nothing was restored."), error))
        return FALSE;
    }

  if (overwrite)
    flags |= COFFER_RESTORE_OVERWRITE;
  if (dry_run)
    flags |= COFFER_RESTORE_DRY_RUN;
  if (keep_privileges)
    flags |= COFFER_RESTORE_KEEP_PRIVILEGES;

  coffer_cli_progress_reset ();
  ok = coffer_restore_run_mapped (cli->repository, category->id, snapshot,
                                  paths ? (const char * const *) paths->pdata : NULL,
                                  abs_target, abs_strip, flags, coffer_cli_progress_cb, cli,
                                  &conflicts, &result, cli->cancellable, &local_error);
  coffer_cli_progress_clear ();

  print_restore_warnings (cli, &result, conflicts);

  if (!ok)
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEWER_FILE) ||
          (conflicts != NULL && conflicts->len > 0 && local_error == NULL))
        {
          guint n_conflicts = conflicts ? conflicts->len : 0;

          return coffer_cli_fail (error, COFFER_CLI_ERROR_CONFLICTS,
                                  _("Use --overwrite to replace them, or --target DIR to restore "
                                    "beside them."),
                                  ngettext ("%u file was not restored because the existing copy is "
                                            "newer than the backup; everything else was restored.",
                                            "%u files were not restored because the existing copy is "
                                            "newer than the backup; everything else was restored.",
                                            n_conflicts),
                                  n_conflicts);
        }
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }

  print_restore_summary (cli, category, short_id, abs_target, dry_run);
  /* The kept files were listed above. */
  if (conflicts != NULL && conflicts->len > 0)
    return coffer_cli_fail_reported (error, COFFER_CLI_ERROR_CONFLICTS);
  return TRUE;
}

/* ---- check ---- */

static gdouble read_data_percent = 0;

static gboolean
parse_read_data (const char  *option_name,
                 const char  *value,
                 gpointer     data,
                 GError     **error)
{
  char *end = NULL;
  gdouble v;

  if (value == NULL)
    {
      read_data_percent = 100;
      return TRUE;
    }
  v = g_ascii_strtod (value, &end);
  if (end != NULL && *end == '%')
    end++;
  if (end == value || *end != '\0' || v <= 0 || v > 100)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--read-data takes a percentage between 0 and 100, not “%s”."), value);
      return FALSE;
    }
  read_data_percent = v;
  return TRUE;
}

/* check --accept-rollback: with the recovery key, this computer takes
 * the repository as it is now. */
static gboolean
check_accept_rollback (CofferCli  *cli,
                       GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(CofferSecret) rk = NULL;

  if (!coffer_cli_open_repository (cli, error))
    return FALSE;
  rk = coffer_cli_get_recovery_key (cli, TRUE, &local_error);
  if (rk == NULL)
    {
      if (local_error != NULL)
        return coffer_cli_propagate (error, g_steal_pointer (&local_error));
      return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                              "%s", _("Accepting a rollback needs the recovery key: give it in "
                                      "COFFER_RECOVERY_KEY or with --recovery-key-file FILE, or type "
                                      "it when asked."));
    }
  if (!coffer_repository_accept_rollback (cli->repository, rk, cli->cancellable, &local_error))
    return coffer_cli_propagate (error, g_steal_pointer (&local_error));
  coffer_cli_info (cli, "%s", _("The repository is accepted as it is now; this computer no longer "
                                "compares it with the newer state it had seen."));
  return TRUE;
}

gboolean
coffer_cli_cmd_check (CofferCli  *cli,
                      int         argc,
                      char      **argv,
                      GError    **error)
{
  g_autofree char *name = NULL;
  g_autoptr(GPtrArray) categories = NULL;
  guint total_problems = 0;
  int result = COFFER_EXIT_OK;
  gboolean accept_rollback = FALSE;
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name, N_("Check only this category"), N_("NAME") },
    { "accept-rollback", 0, 0, G_OPTION_ARG_NONE, &accept_rollback,
      N_("Accept the repository as it is now after it was refused as rolled back (needs the recovery key)"), NULL },
    { "read-data", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (gpointer) parse_read_data,
      N_("Also download and verify PERCENT of the data (100 when no value is given)"), N_("PERCENT") },
    { NULL }
  };

  read_data_percent = 0;
  if (!coffer_cli_parse (cli, entries, NULL, _("Check the repository for damage."),
                         _("Checks that every snapshot's folders and file data are present and "
                           "the right size. --read-data[=PERCENT] also downloads that share of "
                           "the data and verifies it. The exit status is 1 when problems are found; "
                           "they are listed on stderr. --accept-rollback is for a repository "
                           "restored from an older copy on purpose: with the recovery key, this "
                           "computer forgets the newer state it has seen and takes the repository "
                           "as it is."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;

  if (accept_rollback && !check_accept_rollback (cli, error))
    return FALSE;

  categories = categories_to_process (cli, name ? (const char * const[]) { name, NULL } : NULL, FALSE, error);
  if (categories == NULL)
    return FALSE;

  for (guint i = 0; i < categories->len; i++)
    {
      const CofferCategory *c = categories->pdata[i];
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GPtrArray) problems = NULL;
      gboolean ok;

      ok = coffer_check_run (cli->repository, c->id, read_data_percent, coffer_cli_progress_cb, cli,
                             &problems, cli->cancellable, &local_error);
      coffer_cli_progress_clear ();
      /* Problems found come with an error that only counts them: list
       * them (below), not the count. */
      if (problems != NULL && problems->len > 0)
        g_clear_error (&local_error);
      if (local_error != NULL)
        {
          int s = coffer_cli_report_error (cli, local_error);
          if (s == COFFER_EXIT_CANCELLED)
            return coffer_cli_fail_reported (error, s);
          result = MAX (result, s);
          continue;
        }
      if (!ok || (problems != NULL && problems->len > 0))
        {
          guint n = problems ? problems->len : 0;

          coffer_cli_error (cli, ngettext ("“%s”: %u problem found:", "“%s”: %u problems found:", n),
                            c->name, n);
          for (guint j = 0; j < n; j++)
            {
              g_autofree char *shown = coffer_cli_display_name (problems->pdata[j]);
              fprintf (stderr, "  %s\n", shown);
            }
          total_problems += MAX (n, 1);
          result = MAX (result, COFFER_EXIT_FAILURE);
          continue;
        }
      if (read_data_percent > 0)
        coffer_cli_info (cli, _("“%s”: no problems found (%g%% of the data read back)."), c->name,
                         read_data_percent);
      else
        coffer_cli_info (cli, _("“%s”: no problems found."), c->name);
    }

  if (total_problems > 0)
    coffer_cli_hint (cli, "%s", _("Run a new backup to replace missing data, then check again."));
  /* Every failure and problem was reported above. */
  if (result != COFFER_EXIT_OK)
    return coffer_cli_fail_reported (error, result);
  return TRUE;
}

/* ---- forget / prune ---- */

static gboolean
run_prune (CofferCli             *cli,
           const CofferCategory  *c,
           gint64                 grace,
           GError               **error)
{
  g_autoptr(GError) local_error = NULL;
  guint64 deleted = 0;
  g_autofree char *size = NULL;

  if (!coffer_prune_run (cli->repository, c->id, grace, coffer_cli_progress_cb, cli, &deleted,
                         cli->cancellable, &local_error))
    {
      coffer_cli_progress_clear ();
      return coffer_cli_propagate (error, g_steal_pointer (&local_error));
    }
  coffer_cli_progress_clear ();
  size = g_format_size_full (deleted, G_FORMAT_SIZE_IEC_UNITS);
  coffer_cli_info (cli, _("“%s”: deleted %s of unreferenced data; data that became unreferenced "
                          "just now is deleted by a later prune after the grace period."),
                   c->name, size);
  return TRUE;
}

/* The snapshots forget took away from category c (or would, dry_run):
 * a line each and a count, or objects added to json. */
static void
print_forgotten (CofferCli            *cli,
                 const CofferCategory *c,
                 GPtrArray            *forgotten,
                 gboolean              dry_run,
                 GString              *json,
                 guint                *json_count)
{
  guint n_forgotten = forgotten ? forgotten->len : 0;

  for (guint j = 0; j < n_forgotten; j++)
    {
      const CofferSnapshot *s = forgotten->pdata[j];

      if (json != NULL)
        {
          if ((*json_count)++ > 0)
            g_string_append_c (json, ',');
          snapshot_json (json, s);
        }
      else
        {
          g_autofree char *short_id = coffer_cli_short_id (s->id);
          g_autofree char *when = coffer_cli_format_time (s->time / G_USEC_PER_SEC);

          coffer_cli_info (cli, dry_run ? _("would forget %s  %s  %s") : _("forgot %s  %s  %s"),
                           short_id, when, c->name);
        }
    }
  if (json == NULL)
    coffer_cli_info (cli, dry_run ? ngettext ("“%s”: %u snapshot would be forgotten.",
                                              "“%s”: %u snapshots would be forgotten.", n_forgotten)
                                  : ngettext ("“%s”: %u snapshot forgotten.",
                                              "“%s”: %u snapshots forgotten.", n_forgotten),
                     c->name, n_forgotten);
}

gboolean
coffer_cli_cmd_forget (CofferCli  *cli,
                       int         argc,
                       char      **argv,
                       GError    **error)
{
  g_autofree char *name = NULL;
  g_autoptr(GPtrArray) categories = NULL;
  gint keep[6] = { 0 };
  gboolean dry_run = FALSE, prune = FALSE;
  CofferRetention retention = { 0 };
  g_autoptr(GString) json = NULL;
  guint json_count = 0;
  int result = COFFER_EXIT_OK;
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name, N_("Only this category (default: all unlocked)"), N_("NAME") },
    { "keep-last", 0, 0, G_OPTION_ARG_INT, &keep[0], N_("Keep the N newest snapshots"), "N" },
    { "keep-hourly", 0, 0, G_OPTION_ARG_INT, &keep[1], N_("Keep the newest snapshot of each of the last N hours"), "N" },
    { "keep-daily", 0, 0, G_OPTION_ARG_INT, &keep[2], N_("Keep the newest snapshot of each of the last N days"), "N" },
    { "keep-weekly", 0, 0, G_OPTION_ARG_INT, &keep[3], N_("Keep the newest snapshot of each of the last N weeks"), "N" },
    { "keep-monthly", 0, 0, G_OPTION_ARG_INT, &keep[4], N_("Keep the newest snapshot of each of the last N months"), "N" },
    { "keep-yearly", 0, 0, G_OPTION_ARG_INT, &keep[5], N_("Keep the newest snapshot of each of the last N years"), "N" },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, N_("Show what would be forgotten; change nothing"), NULL },
    { "prune", 0, 0, G_OPTION_ARG_NONE, &prune, N_("Run 'coffer prune' afterwards"), NULL },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL, _("Forget snapshots that a retention policy does not keep."),
                         _("A snapshot is kept when any rule keeps it. Forgetting removes the snapshot "
                           "only; 'coffer prune' (or --prune) later frees the data no snapshot needs. "
                           "At least one --keep-… option is required."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  for (int i = 0; i < 6; i++)
    if (keep[i] < 0)
      return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                              "%s", _("--keep-… values cannot be negative."));
  retention.keep_last = keep[0];
  retention.keep_hourly = keep[1];
  retention.keep_daily = keep[2];
  retention.keep_weekly = keep[3];
  retention.keep_monthly = keep[4];
  retention.keep_yearly = keep[5];
  if (keep[0] + keep[1] + keep[2] + keep[3] + keep[4] + keep[5] == 0)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("Give at least one --keep-… option: a policy that keeps nothing "
                                    "would forget every snapshot."));

  categories = categories_to_process (cli, name ? (const char * const[]) { name, NULL } : NULL, FALSE, error);
  if (categories == NULL)
    return FALSE;

  if (cli->json)
    json = g_string_new ("[");

  for (guint i = 0; i < categories->len; i++)
    {
      const CofferCategory *c = categories->pdata[i];
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GPtrArray) forgotten = NULL;

      if (!coffer_forget_run (cli->repository, c->id, &retention, dry_run, &forgotten,
                              cli->cancellable, &local_error))
        {
          int s = coffer_cli_report_error (cli, local_error);
          if (s == COFFER_EXIT_CANCELLED)
            return coffer_cli_fail_reported (error, s);
          result = MAX (result, s);
          continue;
        }

      print_forgotten (cli, c, forgotten, dry_run, json, &json_count);

      if (prune && !dry_run)
        {
          g_autoptr(GError) prune_error = NULL;

          if (!run_prune (cli, c, 86400, &prune_error))
            {
              int s = coffer_cli_report_error (cli, prune_error);

              if (s == COFFER_EXIT_CANCELLED)
                return coffer_cli_fail_reported (error, s);
              result = MAX (result, s);
            }
        }
    }

  if (json != NULL)
    {
      g_string_append (json, "]\n");
      fputs (json->str, stdout);
    }
  /* Every failure was reported above. */
  if (result != COFFER_EXIT_OK)
    return coffer_cli_fail_reported (error, result);
  return TRUE;
}

gboolean
coffer_cli_cmd_prune (CofferCli  *cli,
                      int         argc,
                      char      **argv,
                      GError    **error)
{
  g_autofree char *name = NULL;
  g_autoptr(GPtrArray) categories = NULL;
  gint64 grace = 86400;
  int result = COFFER_EXIT_OK;
  GOptionEntry entries[] = {
    { "category", 'c', 0, G_OPTION_ARG_STRING, &name, N_("Only this category (default: all unlocked)"), N_("NAME") },
    { "grace", 0, 0, G_OPTION_ARG_INT64, &grace,
      N_("Delete data only when it has been unreferenced for SECONDS (default 86400)"), N_("SECONDS") },
    { NULL }
  };

  if (!coffer_cli_parse (cli, entries, NULL, _("Remove data that no snapshot refers to."),
                         _("Prune works in two phases without locks: a run marks unreferenced data, "
                           "and a later run deletes what is still unreferenced once the grace period "
                           "has passed, so a backup running meanwhile on another computer is safe. "
                           "The grace period must be longer than any backup takes."), &argc, &argv, error))
    return FALSE;
  if (coffer_cli_parse_done (cli))
    return TRUE;
  if (grace < 0)
    return coffer_cli_fail (error, COFFER_CLI_ERROR_USAGE, NULL,
                            "%s", _("--grace cannot be negative."));
  if (grace == 0)
    coffer_cli_warning (cli, "%s", _("--grace 0 deletes marked data at once: a backup running at the "
                                     "same time (on any computer) could lose data it has just uploaded."));

  categories = categories_to_process (cli, name ? (const char * const[]) { name, NULL } : NULL, FALSE, error);
  if (categories == NULL)
    return FALSE;

  for (guint i = 0; i < categories->len; i++)
    {
      g_autoptr(GError) prune_error = NULL;

      if (!run_prune (cli, categories->pdata[i], grace, &prune_error))
        {
          int s = coffer_cli_report_error (cli, prune_error);

          if (s == COFFER_EXIT_CANCELLED)
            return coffer_cli_fail_reported (error, s);
          result = MAX (result, s);
        }
    }
  /* Every failure was reported above. */
  if (result != COFFER_EXIT_OK)
    return coffer_cli_fail_reported (error, result);
  return TRUE;
}
