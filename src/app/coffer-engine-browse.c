/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferEngine: snapshots, folders and search in a snapshot, restore. */
#define G_LOG_DOMAIN "coffer-engine"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-engine-private.h"
#include "coffer-error.h"
#include "coffer-file-item.h"

/* ---- snapshots and browsing ---- */

static CofferSnapshot *
snapshot_copy (const CofferSnapshot *snapshot)
{
  g_autoptr(GBytes) bytes = NULL;
  CofferSnapshot *copy;

  if (snapshot == NULL)
    return NULL;
  bytes = coffer_snapshot_serialize (snapshot);
  copy = coffer_snapshot_parse (bytes, NULL);
  if (copy != NULL)
    copy->id = g_strdup (snapshot->id);
  return copy;
}

/* Listing snapshots, a folder of a snapshot, or searching one. */
typedef struct
{
  char           *category_id;
  CofferSnapshot *snapshot;       /* list_dir, search */
  char           *path;           /* list_dir */
  char           *folded_query;   /* search: casefolded */
  guint           max_results;    /* search: at least 1 */
  GPtrArray      *results;        /* out */
} BrowseData;

COFFER_ENGINE_DEFINE_DATA (BrowseData, browse_data)

static void
browse_data_clear (BrowseData *data)
{
  g_free (data->category_id);
  g_clear_pointer (&data->snapshot, coffer_snapshot_free);
  g_free (data->path);
  g_free (data->folded_query);
  g_clear_pointer (&data->results, g_ptr_array_unref);
}

/* The results of a browsing operation (caller owns them), or NULL. */
static GPtrArray *
browse_task_finish (GAsyncResult *result, GError **error)
{
  BrowseData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->results);
}

static gboolean
list_snapshots_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                     GError **error)
{
  BrowseData *data = task_data;
  GPtrArray *snapshots = coffer_repository_list_snapshots (repository, data->category_id, cancellable, error);

  if (snapshots == NULL)
    return FALSE;
  /* newest first */
  for (guint i = 0; i < snapshots->len / 2; i++)
    {
      gpointer tmp = snapshots->pdata[i];
      snapshots->pdata[i] = snapshots->pdata[snapshots->len - 1 - i];
      snapshots->pdata[snapshots->len - 1 - i] = tmp;
    }
  data->results = snapshots;
  return TRUE;
}

void
coffer_engine_list_snapshots_async (CofferEngine *self, const char *category_id,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  BrowseData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_snapshots_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = browse_data_new ();
  data->category_id = g_strdup (category_id);
  _coffer_engine_task_run (task, list_snapshots_call, data, browse_data_free);
}

GPtrArray *
coffer_engine_list_snapshots_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return browse_task_finish (result, error);
}

static gboolean
list_dir_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  BrowseData *data = task_data;

  data->results = coffer_repository_list_dir (repository, data->category_id, data->snapshot, data->path,
                                              cancellable, error);
  return data->results != NULL;
}

void
coffer_engine_list_dir_async (CofferEngine *self, const char *category_id,
                              const CofferSnapshot *snapshot, const char *path,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  BrowseData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_dir_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = browse_data_new ();
  data->category_id = g_strdup (category_id);
  data->snapshot = snapshot_copy (snapshot);
  data->path = g_strdup (path);
  _coffer_engine_task_run (task, list_dir_call, data, browse_data_free);
}

GPtrArray *
coffer_engine_list_dir_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return browse_task_finish (result, error);
}

static gboolean
search_walk_cb (const char *path, const CofferTreeEntry *entry, gpointer user_data)
{
  BrowseData *data = user_data;
  g_autofree char *name = g_utf8_make_valid (entry->name, -1);
  g_autofree char *folded = g_utf8_casefold (name, -1);

  if (strstr (folded, data->folded_query) != NULL)
    g_ptr_array_add (data->results, coffer_file_item_new_for_search (path, entry));
  return data->results->len < data->max_results;
}

static gboolean
search_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  BrowseData *data = task_data;

  data->results = g_ptr_array_new_with_free_func (g_object_unref);
  if (!coffer_repository_walk (repository, data->category_id, data->snapshot, "/",
                               search_walk_cb, data, cancellable, error))
    {
      g_clear_pointer (&data->results, g_ptr_array_unref);
      return FALSE;
    }
  return TRUE;
}

void
coffer_engine_search_async (CofferEngine *self, const char *category_id,
                            const CofferSnapshot *snapshot, const char *query,
                            guint max_results, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  BrowseData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_search_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = browse_data_new ();
  data->category_id = g_strdup (category_id);
  data->snapshot = snapshot_copy (snapshot);
  data->folded_query = g_utf8_casefold (query, -1);
  data->max_results = MAX (max_results, 1);
  _coffer_engine_task_run (task, search_call, data, browse_data_free);
}

GPtrArray *
coffer_engine_search_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return browse_task_finish (result, error);
}

/* ---- restore ---- */

typedef struct
{
  CofferEngine       *engine;         /* strong, for ::progress */
  char               *category_id;
  CofferSnapshot     *snapshot;
  char              **paths;          /* NULL = everything */
  char               *target;
  char               *strip_prefix;   /* left out under target, or NULL */
  CofferRestoreFlags  flags;
  GPtrArray          *conflicts;      /* out, on COFFER_REPO_ERROR_NEWER_FILE */
  guint               withheld;       /* out */
} RestoreData;

COFFER_ENGINE_DEFINE_DATA (RestoreData, restore_data)

static void
restore_data_clear (RestoreData *data)
{
  g_clear_object (&data->engine);
  g_free (data->category_id);
  g_clear_pointer (&data->snapshot, coffer_snapshot_free);
  g_strfreev (data->paths);
  g_free (data->target);
  g_free (data->strip_prefix);
  g_clear_pointer (&data->conflicts, g_ptr_array_unref);
}

static gboolean
restore_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  RestoreData *data = task_data;
  g_autoptr(GPtrArray) conflicts = NULL;
  CofferRestoreResult restored = { 0 };
  gboolean ok;

  ok = coffer_restore_run_mapped (repository, data->category_id, data->snapshot,
                                  (const char * const *) data->paths, data->target, data->strip_prefix,
                                  data->flags, _coffer_engine_progress_cb, data->engine, &conflicts,
                                  &restored, cancellable, error);
  data->withheld = restored.withheld;
  if (!ok)
    data->conflicts = g_steal_pointer (&conflicts);
  return ok;
}

void
coffer_engine_restore_async (CofferEngine *self, const char *category_id,
                             const CofferSnapshot *snapshot, const char * const *paths,
                             const char *target, CofferRestoreFlags flags,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  coffer_engine_restore_mapped_async (self, category_id, snapshot, paths, target, NULL, flags, callback, user_data);
}

void
coffer_engine_restore_mapped_async (CofferEngine *self, const char *category_id,
                                    const CofferSnapshot *snapshot, const char * const *paths,
                                    const char *target, const char *strip_prefix, CofferRestoreFlags flags,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  RestoreData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_exclusive_task_new (self, coffer_engine_restore_async, callback, user_data);
  if (task == NULL)
    return;
  data = restore_data_new ();
  data->engine = g_object_ref (self);
  data->category_id = g_strdup (category_id);
  data->snapshot = snapshot_copy (snapshot);
  data->paths = paths ? g_strdupv ((char **) paths) : NULL;
  data->target = g_strdup (target);
  data->strip_prefix = g_strdup (strip_prefix);
  data->flags = flags;
  _coffer_engine_task_run (task, restore_call, data, restore_data_free);
}

gboolean
coffer_engine_restore_finish (CofferEngine *self, GAsyncResult *result,
                              GPtrArray **out_conflicts, GError **error)
{
  RestoreData *data = _coffer_engine_task_get_data (result);

  _coffer_engine_exclusive_task_done (self, result);
  if (out_conflicts != NULL)
    *out_conflicts = data && data->conflicts ? g_ptr_array_ref (data->conflicts) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

guint
coffer_engine_restore_get_withheld (CofferEngine *self, GAsyncResult *result)
{
  RestoreData *data = _coffer_engine_task_get_data (result);

  g_return_val_if_fail (COFFER_IS_ENGINE (self), 0);
  return data != NULL ? data->withheld : 0;
}
