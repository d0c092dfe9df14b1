/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer_backup_categories_run(): a backup run over several categories,
 * the policy every front end shares (exclude patterns, one category's
 * failure not stopping the others, retention after each success). */
#include <glib/gi18n-lib.h>

#include "coffer-repository.h"

void
coffer_category_backup_free (CofferCategoryBackup *backup)
{
  if (backup == NULL)
    return;
  g_free (backup->category_id);
  g_clear_pointer (&backup->snapshot, coffer_snapshot_free);
  g_clear_error (&backup->error);
  g_clear_pointer (&backup->skipped, g_ptr_array_unref);
  g_clear_error (&backup->forget_error);
  g_free (backup);
}

static gboolean
retention_is_set (const CofferRetention *r)
{
  return r != NULL &&
         (r->keep_last || r->keep_hourly || r->keep_daily || r->keep_weekly || r->keep_monthly || r->keep_yearly);
}

/* The same patterns, in any order. */
static gboolean
same_patterns (char **a, char **b)
{
  guint n = a ? g_strv_length (a) : 0;

  if (n != (b ? g_strv_length (b) : 0))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!g_strv_contains ((const char * const *) b, a[i]))
      return FALSE;
  return TRUE;
}

/* Brings the category's stored exclude patterns in line with wanted. */
static void
sync_excludes (CofferRepository *self, const char *category_id, char **wanted, GCancellable *cancellable)
{
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(GError) error = NULL;

  if (wanted == NULL)
    return;
  category = coffer_repository_find_category (self, category_id, cancellable, &error);
  if (category == NULL || same_patterns (category->excludes, wanted))
    return;
  g_strfreev (category->excludes);
  category->excludes = g_strdupv (wanted);
  if (!coffer_repository_update_category (self, category, cancellable, &error))
    g_debug ("Could not update the excludes of %s: %s", category_id, error->message);
}

gboolean
coffer_backup_categories_run (CofferRepository *self, const char * const *category_ids,
                              GHashTable *excludes, const CofferRetention *retention,
                              CofferProgressFunc progress, gpointer progress_data,
                              CofferCategoryBackupFunc each, gpointer each_data,
                              GPtrArray **results, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_category_backup_free);

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (category_ids != NULL, FALSE);
  g_return_val_if_fail (results != NULL, FALSE);

  for (guint i = 0; category_ids[i] != NULL; i++)
    {
      CofferCategoryBackup *backup;

      if (g_cancellable_is_cancelled (cancellable))
        break;
      backup = g_new0 (CofferCategoryBackup, 1);
      backup->category_id = g_strdup (category_ids[i]);
      g_ptr_array_add (done, backup);
      if (each != NULL)
        each (category_ids[i], NULL, each_data);
      sync_excludes (self, category_ids[i], excludes ? g_hash_table_lookup (excludes, category_ids[i]) : NULL,
                     cancellable);
      backup->snapshot = coffer_backup_run (self, category_ids[i], progress, progress_data, &backup->skipped,
                                            cancellable, &backup->error);
      if (backup->snapshot == NULL)
        {
          if (g_error_matches (backup->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              /* each still sees it: what was skipped until then is worth
               * showing. */
              if (each != NULL)
                each (category_ids[i], backup, each_data);
              g_propagate_error (error, g_steal_pointer (&backup->error));
              return FALSE;
            }
        }
      else if (retention_is_set (retention))
        {
          g_autoptr(GPtrArray) forgotten = NULL;

          coffer_forget_run (self, category_ids[i], retention, FALSE, &forgotten, cancellable,
                             &backup->forget_error);
        }
      if (each != NULL)
        each (category_ids[i], backup, each_data);
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s", _("The backup was cancelled."));
      return FALSE;
    }
  *results = g_steal_pointer (&done);
  return TRUE;
}
