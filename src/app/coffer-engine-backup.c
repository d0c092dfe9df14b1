/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferEngine: categories, backups (the report of
 * coffer_backup_categories_run) and re-encryption. */
#define G_LOG_DOMAIN "coffer-engine"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-engine-private.h"
#include "coffer-error.h"

/* ---- categories ---- */

typedef struct
{
  char        *category_id;    /* update only */
  char        *name;
  CofferLevel  level;          /* add only */
  char       **paths;
  char       **excludes;
  char        *new_id;         /* out (add) */
} CategoryData;

COFFER_ENGINE_DEFINE_DATA (CategoryData, category_data)

static void
category_data_clear (CategoryData *data)
{
  g_free (data->category_id);
  g_free (data->name);
  g_strfreev (data->paths);
  g_strfreev (data->excludes);
  g_free (data->new_id);
}

static CategoryData *
category_data_new_for (const char *category_id, const char *name, CofferLevel level,
                       const char * const *paths, const char * const *excludes)
{
  CategoryData *data = category_data_new ();

  data->category_id = g_strdup (category_id);
  data->name = g_strdup (name);
  data->level = level;
  data->paths = g_strdupv ((char **) paths);
  data->excludes = excludes ? g_strdupv ((char **) excludes) : g_new0 (char *, 1);
  return data;
}

static gboolean
add_category_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  CategoryData *data = task_data;
  g_autoptr(CofferCategory) category = NULL;

  category = coffer_repository_add_category (repository, data->name, data->level,
                                             (const char * const *) data->paths,
                                             (const char * const *) data->excludes,
                                             cancellable, error);
  if (category == NULL)
    return FALSE;
  data->new_id = g_strdup (category->id);
  return TRUE;
}

void
coffer_engine_add_category_async (CofferEngine *self, const char *name, CofferLevel level,
                                  const char * const *paths, const char * const *excludes,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_add_category_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, add_category_call,
                           category_data_new_for (NULL, name, level, paths, excludes), category_data_free);
}

char *
coffer_engine_add_category_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  CategoryData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->new_id);
}

static gboolean
update_category_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                      GError **error)
{
  CategoryData *data = task_data;
  g_autoptr(CofferCategory) category = NULL;

  category = coffer_repository_find_category (repository, data->category_id, cancellable, error);
  if (category == NULL)
    return FALSE;
  g_free (category->name);
  category->name = g_strdup (data->name);
  g_strfreev (category->paths);
  category->paths = g_strdupv (data->paths);
  g_strfreev (category->excludes);
  category->excludes = g_strdupv (data->excludes);
  return coffer_repository_update_category (repository, category, cancellable, error);
}

void
coffer_engine_update_category_async (CofferEngine *self, const char *category_id,
                                     const char *name, const char * const *paths,
                                     const char * const *excludes, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_update_category_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, update_category_call,
                           category_data_new_for (category_id, name, COFFER_LEVEL_STANDARD, paths, excludes),
                           category_data_free);
}

gboolean
coffer_engine_update_category_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  char        *category_id;
  CofferLevel  level;
} SetLevelData;

COFFER_ENGINE_DEFINE_DATA (SetLevelData, set_level_data)

static void
set_level_data_clear (SetLevelData *data)
{
  g_free (data->category_id);
}

static gboolean
set_level_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  SetLevelData *data = task_data;

  return coffer_repository_set_level (repository, data->category_id, data->level, cancellable, error);
}

void
coffer_engine_set_level_async (CofferEngine *self, const char *category_id, CofferLevel level,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  SetLevelData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_set_level_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = set_level_data_new ();
  data->category_id = g_strdup (category_id);
  data->level = level;
  _coffer_engine_task_run (task, set_level_call, data, set_level_data_free);
}

gboolean
coffer_engine_set_level_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  GPtrArray *categories;    /* out */
} ListCategoriesData;

COFFER_ENGINE_DEFINE_DATA (ListCategoriesData, list_categories_data)

static void
list_categories_data_clear (ListCategoriesData *data)
{
  g_clear_pointer (&data->categories, g_ptr_array_unref);
}

static gboolean
list_categories_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                      GError **error)
{
  ListCategoriesData *data = task_data;

  data->categories = coffer_repository_list_categories (repository, cancellable, error);
  return data->categories != NULL;
}

void
coffer_engine_list_categories_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_categories_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, list_categories_call, list_categories_data_new (),
                           list_categories_data_free);
}

GPtrArray *
coffer_engine_list_categories_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ListCategoriesData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->categories);
}

/* ---- backup ---- */

typedef struct
{
  CofferEngine       *engine;        /* strong, for ::progress */
  char              **category_ids;
  GHashTable         *excludes;      /* id -> char **, may be NULL */
  CofferRetention     retention;
  CofferBackupReport *report;        /* out */
} BackupData;

COFFER_ENGINE_DEFINE_DATA (BackupData, backup_data)

static void
backup_data_clear (BackupData *data)
{
  g_clear_object (&data->engine);
  g_strfreev (data->category_ids);
  g_clear_pointer (&data->excludes, g_hash_table_unref);
  g_clear_pointer (&data->report, coffer_backup_report_free);
}

/* The app's report of the core's run: totals and readable messages. */
static CofferBackupReport *
report_new (CofferRepository *repository, GPtrArray *results, gint64 start_time)
{
  CofferBackupReport *report = g_new0 (CofferBackupReport, 1);

  report->start_time = start_time;
  report->snapshots = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_snapshot_free);
  report->messages = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < results->len; i++)
    {
      CofferCategoryBackup *backup = g_ptr_array_index (results, i);

      if (backup->snapshot == NULL)
        {
          report->n_failed++;
          if (backup->error->domain != COFFER_STORE_ERROR)
            {
              /* Say which category: the others may have worked. (A store
               * error is the destination's, for every category alike.) */
              g_autoptr(CofferCategory) failed = coffer_repository_find_category (repository,
                                                                                  backup->category_id,
                                                                                  NULL, NULL);
              g_autofree char *message = coffer_engine_describe_error (backup->error);
              g_ptr_array_add (report->messages, failed != NULL
                                                 ? g_strdup_printf ("%s: %s", failed->name, message)
                                                 : g_steal_pointer (&message));
            }
          else
            g_ptr_array_add (report->messages, coffer_engine_describe_error (backup->error));
          if (report->first_error == NULL)
            report->first_error = g_error_copy (backup->error);
          continue;
        }
      report->n_ok++;
      report->bytes += backup->snapshot->bytes;
      report->added_bytes += backup->snapshot->added_bytes;
      report->files += backup->snapshot->files;
      if (backup->skipped != NULL)
        for (guint j = 0; j < backup->skipped->len && j < 20; j++)
          g_ptr_array_add (report->messages,
                           g_strdup_printf (_("Skipped %s"), (const char *) g_ptr_array_index (backup->skipped, j)));
      g_ptr_array_add (report->snapshots, g_steal_pointer (&backup->snapshot));
      if (backup->forget_error != NULL)
        g_ptr_array_add (report->messages,
                         g_strdup_printf (_("Old backups could not be removed: %s"), backup->forget_error->message));
    }
  report->end_time = g_get_real_time () / G_USEC_PER_SEC;
  return report;
}

/* The policy (excludes, failures, retention) is the core's
 * coffer_backup_categories_run; the engine only phrases the report. */
static gboolean
backup_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  BackupData *data = task_data;
  g_autoptr(GPtrArray) results = NULL;
  gint64 start_time = g_get_real_time () / G_USEC_PER_SEC;

  if (!coffer_backup_categories_run (repository, (const char * const *) data->category_ids, data->excludes,
                                     &data->retention, _coffer_engine_progress_cb, data->engine, NULL, NULL,
                                     &results, cancellable, error))
    return FALSE;
  data->report = report_new (repository, results, start_time);
  return TRUE;
}

void
coffer_engine_backup_async (CofferEngine *self, const char * const *category_ids,
                            GHashTable *excludes,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  BackupData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (category_ids != NULL);
  task = _coffer_engine_exclusive_task_new (self, coffer_engine_backup_async, callback, user_data);
  if (task == NULL)
    return;
  data = backup_data_new ();
  data->engine = g_object_ref (self);
  data->category_ids = g_strdupv ((char **) category_ids);
  data->retention = self->retention;
  data->excludes = excludes ? g_hash_table_ref (excludes) : NULL;
  _coffer_engine_task_run (task, backup_call, data, backup_data_free);
}

CofferBackupReport *
coffer_engine_backup_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  BackupData *data = _coffer_engine_task_get_data (result);

  _coffer_engine_exclusive_task_done (self, result);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->report);
}

/* ---- re-encryption ---- */

typedef struct
{
  CofferEngine *engine;        /* strong, for ::progress */
  char         *category_id;
} ReencryptData;

COFFER_ENGINE_DEFINE_DATA (ReencryptData, reencrypt_data)

static void
reencrypt_data_clear (ReencryptData *data)
{
  g_clear_object (&data->engine);
  g_free (data->category_id);
}

static gboolean
reencrypt_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ReencryptData *data = task_data;

  return coffer_repository_reencrypt_category (repository, data->category_id, _coffer_engine_progress_cb,
                                               data->engine, cancellable, error);
}

void
coffer_engine_reencrypt_async (CofferEngine *self, const char *category_id,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  ReencryptData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (category_id != NULL);
  task = _coffer_engine_exclusive_task_new (self, coffer_engine_reencrypt_async, callback, user_data);
  if (task == NULL)
    return;
  data = reencrypt_data_new ();
  data->engine = g_object_ref (self);
  data->category_id = g_strdup (category_id);
  _coffer_engine_task_run (task, reencrypt_call, data, reencrypt_data_free);
}

gboolean
coffer_engine_reencrypt_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  _coffer_engine_exclusive_task_done (self, result);
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  char  *category_id;
  gssize count;         /* out */
} CountOldData;

COFFER_ENGINE_DEFINE_DATA (CountOldData, count_old_data)

static void
count_old_data_clear (CountOldData *data)
{
  g_free (data->category_id);
}

static gboolean
count_old_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  CountOldData *data = task_data;
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(GPtrArray) snapshots = NULL;

  category = coffer_repository_find_category (repository, data->category_id, cancellable, error);
  if (category != NULL)
    snapshots = coffer_repository_list_snapshots (repository, data->category_id, cancellable, error);
  if (snapshots == NULL)
    return FALSE;
  data->count = 0;
  for (guint i = 0; i < snapshots->len; i++)
    if (((CofferSnapshot *) g_ptr_array_index (snapshots, i))->epoch != category->epoch)
      data->count++;
  return TRUE;
}

void
coffer_engine_count_old_backups_async (CofferEngine *self, const char *category_id,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data)
{
  CountOldData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_count_old_backups_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = count_old_data_new ();
  data->category_id = g_strdup (category_id);
  _coffer_engine_task_run (task, count_old_call, data, count_old_data_free);
}

gssize
coffer_engine_count_old_backups_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  CountOldData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return -1;
  return data->count;
}
