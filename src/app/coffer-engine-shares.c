/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferEngine: recovery contacts, shares of the recovery key (see
 * coffer-shares-dialog.c): what the repository records about them, making
 * them as PDF sheets, and reading a repository's id and key generations
 * for shares typed on a new computer. */
#define G_LOG_DOMAIN "coffer-engine"

#include <glib/gi18n.h>

#include "coffer-engine-private.h"
#include "coffer-error.h"
#include "coffer-recovery-key.h"
#include "coffer-repository-shares.h"
#include "coffer-emergency-kit.h"

/* ---- Recovery contacts ---- */

void
coffer_share_context_free (CofferShareContext *context)
{
  if (context == NULL)
    return;
  g_clear_pointer (&context->generations, g_array_unref);
  g_free (context);
}

typedef struct
{
  CofferDestination  *dest;
  CofferShareContext *context;   /* out */
} ShareContextData;

COFFER_ENGINE_DEFINE_DATA (ShareContextData, share_context_data)

static void
share_context_data_clear (ShareContextData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
  g_clear_pointer (&data->context, coffer_share_context_free);
}

static gboolean
share_context_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ShareContextData *data = task_data;
  g_autoptr(CofferRepository) repository = _coffer_engine_open_repository (data->dest, NULL, cancellable,
                                                                           error);
  g_autoptr(CofferShareContext) context = NULL;

  if (repository == NULL)
    return FALSE;
  context = g_new0 (CofferShareContext, 1);
  if (!coffer_hex_decode (coffer_repository_get_id (repository), context->repo_id, sizeof context->repo_id))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT, "%s",
                   _("The backup's configuration has no valid repository id."));
      return FALSE;
    }
  context->generations = coffer_repository_load_recovery_generations (repository, cancellable, error);
  if (context->generations == NULL)
    return FALSE;
  data->context = g_steal_pointer (&context);
  return TRUE;
}

void
coffer_engine_open_share_context_async (CofferEngine *self, const CofferDestination *dest,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  ShareContextData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_open_share_context_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = share_context_data_new ();
  data->dest = coffer_destination_copy (dest);
  _coffer_engine_task_run (task, share_context_call, data, share_context_data_free);
}

CofferShareContext *
coffer_engine_open_share_context_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ShareContextData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->context);
}

typedef struct
{
  CofferSharesInfo info;   /* out */
} SharesInfoData;

COFFER_ENGINE_DEFINE_DATA (SharesInfoData, shares_info_data)

static void
shares_info_data_clear (SharesInfoData *data)
{
}

static gboolean
shares_info_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  SharesInfoData *data = task_data;
  g_autoptr(GArray) generations = coffer_repository_load_recovery_generations (repository, cancellable, error);
  CofferSharesInfo *info = &data->info;

  if (generations == NULL)
    return FALSE;
  for (guint i = 0; i < generations->len; i++)
    {
      const CofferRecoveryGeneration *g = &g_array_index (generations, CofferRecoveryGeneration, i);

      if (g->replaced == 0 && g->shares_made != 0)
        {
          info->needed = g->needed;
          info->count = g->count;
          info->made = g->shares_made;
        }
      else if (g->replaced != 0 && g->replaced >= info->old_replaced)
        {
          info->old_replaced = g->replaced;
          info->old_needed = g->shares_made != 0 ? g->needed : 0;
          info->old_count = g->shares_made != 0 ? g->count : 0;
        }
    }
  return TRUE;
}

void
coffer_engine_get_shares_info_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_get_shares_info_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, shares_info_call, shares_info_data_new (), shares_info_data_free);
}

gboolean
coffer_engine_get_shares_info_finish (CofferEngine *self, GAsyncResult *result, CofferSharesInfo *info,
                                      GError **error)
{
  SharesInfoData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *info = data->info;
  return TRUE;
}

typedef struct
{
  char  *recovery_key;   /* as typed */
  guint  needed;
  guint  count;
  char  *folder;
  char  *owner;
} MakeSharesData;

COFFER_ENGINE_DEFINE_DATA (MakeSharesData, make_shares_data)

static void
make_shares_data_clear (MakeSharesData *data)
{
  g_free (data->recovery_key);
  g_free (data->folder);
  g_free (data->owner);
}

static char *
sheet_path (const char *folder, guint index, guint count)
{
  g_autofree char *base = g_strdup_printf ("share-%u-of-%u.pdf", index, count);

  return g_build_filename (folder, base, NULL);
}

static gboolean
make_shares_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  MakeSharesData *data = task_data;
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(GPtrArray) shares = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *location = coffer_repository_describe (repository);

  /* Every name is checked before anything is made: sheets never replace
   * files, and a half-saved set helps nobody. */
  for (guint i = 1; i <= data->count; i++)
    {
      g_autofree char *path = sheet_path (data->folder, i, data->count);

      if (g_file_test (path, G_FILE_TEST_EXISTS) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        {
          g_autofree char *base = g_path_get_basename (path);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       _("The folder already has a file “%s”. Choose an empty folder: share sheets "
                         "never replace files."), base);
          return FALSE;
        }
    }
  key = coffer_recovery_key_parse (data->recovery_key, error);
  if (key == NULL)
    return FALSE;
  shares = coffer_repository_make_shares (repository, key, data->needed, data->count, cancellable, error);
  if (shares == NULL)
    return FALSE;
  for (guint i = 0; i < shares->len; i++)
    {
      const CofferShare *share = g_ptr_array_index (shares, i);
      g_autoptr(CofferSecret) formatted = coffer_share_format (share);
      g_autofree char *path = sheet_path (data->folder, share->index, data->count);

      if (!coffer_share_sheet_write_pdf (path, formatted, data->owner, share->index, share->needed, data->count,
                                         location, coffer_repository_get_id (repository), now, error))
        return FALSE;
    }
  return TRUE;
}

void
coffer_engine_make_shares_async (CofferEngine *self, const char *recovery_key_text, guint needed, guint count,
                                 const char *folder, const char *owner, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  MakeSharesData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_make_shares_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = make_shares_data_new ();
  data->recovery_key = g_strdup (recovery_key_text);
  data->needed = needed;
  data->count = count;
  data->folder = g_strdup (folder);
  data->owner = g_strdup (owner);
  _coffer_engine_task_run (task, make_shares_call, data, make_shares_data_free);
}

gboolean
coffer_engine_make_shares_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
