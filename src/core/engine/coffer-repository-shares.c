/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Recovery shares of a repository: making them, checking typed ones, and
 * the plaintext record keys/recovery-generations that lets a new computer
 * (which has no account key yet) name a share of a replaced recovery key. */
#include <string.h>

#include "coffer-repository-shares.h"
#include "coffer-repository-private.h"
#include "coffer-recovery-key.h"
#include "coffer-error.h"

#define GENERATIONS_NAME "keys/recovery-generations"

GArray *
coffer_repository_load_recovery_generations (CofferRepository *self,
                                             GCancellable     *cancellable,
                                             GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  CofferStore *store;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);

  store = self->store;
  bytes = coffer_store_get (store, GENERATIONS_NAME, 0, 0, cancellable, &local_error);
  if (bytes == NULL)
    {
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        return g_array_new (FALSE, TRUE, sizeof (CofferRecoveryGeneration));
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return coffer_recovery_generations_parse (bytes, error);
}

static gboolean
save_generations (CofferRepository *self,
                  GArray           *generations,
                  GCancellable     *cancellable,
                  GError          **error)
{
  g_autoptr(GBytes) bytes = coffer_recovery_generations_serialize (generations);

  return coffer_store_put (self->store, GENERATIONS_NAME, bytes,
                           COFFER_PUT_REPLACE, cancellable, error);
}

/* The entry of generation (appended when missing). */
static CofferRecoveryGeneration *
find_or_add (GArray       *generations,
             const guint8 *generation)
{
  CofferRecoveryGeneration entry = { { 0 } };

  for (guint i = 0; i < generations->len; i++)
    {
      CofferRecoveryGeneration *g = &g_array_index (generations, CofferRecoveryGeneration, i);

      if (memcmp (g->generation, generation, COFFER_SHARE_GENERATION_BYTES) == 0)
        return g;
    }
  memcpy (entry.generation, generation, COFFER_SHARE_GENERATION_BYTES);
  g_array_append_val (generations, entry);
  return &g_array_index (generations, CofferRecoveryGeneration, generations->len - 1);
}

/* Every current generation but current is marked replaced at now. */
static void
mark_replaced (GArray       *generations,
               const guint8 *current,
               gint64        now)
{
  for (guint i = 0; i < generations->len; i++)
    {
      CofferRecoveryGeneration *g = &g_array_index (generations, CofferRecoveryGeneration, i);

      if (g->replaced == 0 && memcmp (g->generation, current, COFFER_SHARE_GENERATION_BYTES) != 0)
        g->replaced = now;
    }
}

GPtrArray *
coffer_repository_make_shares (CofferRepository   *self,
                               const CofferSecret *recovery_key,
                               guint               needed,
                               guint               count,
                               GCancellable       *cancellable,
                               GError            **error)
{
  g_autoptr(GArray) generations = NULL;
  g_autoptr(GPtrArray) shares = NULL;
  const guint8 *repo_id;
  guint8 generation[COFFER_SHARE_GENERATION_BYTES];
  CofferRecoveryGeneration *entry;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  g_return_val_if_fail (recovery_key != NULL, NULL);

  /* Shares of a key that does not open the repository would be worse than
   * none: the contacts would keep them in good faith. */
  if (!coffer_repository_verify_recovery_key (self, recovery_key, cancellable, error))
    return NULL;

  repo_id = self->raw_id;
  shares = coffer_shares_split (recovery_key, repo_id, needed, count, error);
  if (shares == NULL)
    return NULL;

  generations = coffer_repository_load_recovery_generations (self, cancellable, error);
  if (generations == NULL)
    return NULL;
  coffer_recovery_generation_id (recovery_key, repo_id, generation);
  mark_replaced (generations, generation, now);
  entry = find_or_add (generations, generation);
  entry->replaced = 0;
  entry->shares_made = now;
  entry->needed = (guint8) needed;
  entry->count = (guint8) count;
  if (!save_generations (self, generations, cancellable, error))
    return NULL;
  return g_steal_pointer (&shares);
}

gboolean
coffer_repository_get_shares_info (CofferRepository *self,
                                   guint            *needed,
                                   guint            *count,
                                   gint64           *made,
                                   GCancellable     *cancellable,
                                   GError          **error)
{
  g_autoptr(GArray) generations = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  generations = coffer_repository_load_recovery_generations (self, cancellable, error);
  if (generations == NULL)
    return FALSE;
  for (guint i = 0; i < generations->len; i++)
    {
      const CofferRecoveryGeneration *g = &g_array_index (generations, CofferRecoveryGeneration, i);

      if (g->replaced == 0 && g->shares_made != 0)
        {
          if (needed != NULL)
            *needed = g->needed;
          if (count != NULL)
            *count = g->count;
          if (made != NULL)
            *made = g->shares_made;
          return TRUE;
        }
    }
  return FALSE;
}

gboolean
coffer_repository_check_share (CofferRepository  *self,
                               const CofferShare *share,
                               GCancellable      *cancellable,
                               GError           **error)
{
  g_autoptr(GArray) generations = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  /* The record only improves the message; without it (unreadable) the
   * repository tag is still checked and the key itself decides. */
  generations = coffer_repository_load_recovery_generations (self, cancellable, &local_error);
  if (generations == NULL)
    g_debug ("Recovery generations not read: %s", local_error->message);
  return coffer_share_check (share, self->raw_id, generations, error);
}

CofferSecret *
coffer_repository_combine_shares (CofferRepository    *self,
                                  CofferShare * const *shares,
                                  guint                n_shares,
                                  GCancellable        *cancellable,
                                  GError             **error)
{
  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);

  for (guint i = 0; i < n_shares; i++)
    if (!coffer_repository_check_share (self, shares[i], cancellable, error))
      return NULL;
  return coffer_shares_combine (shares, n_shares, self->raw_id, error);
}

void
_coffer_repository_recovery_replaced (CofferRepository   *self,
                                      const CofferSecret *new_rk,
                                      GCancellable       *cancellable)
{
  g_autoptr(GArray) generations = NULL;
  g_autoptr(GError) error = NULL;
  guint8 generation[COFFER_SHARE_GENERATION_BYTES];
  CofferRecoveryGeneration *entry;

  generations = coffer_repository_load_recovery_generations (self, cancellable, &error);
  if (generations != NULL)
    {
      coffer_recovery_generation_id (new_rk, self->raw_id, generation);
      mark_replaced (generations, generation, g_get_real_time () / G_USEC_PER_SEC);
      entry = find_or_add (generations, generation);
      entry->replaced = 0;
      entry->shares_made = 0;
      entry->needed = entry->count = 0;
      if (save_generations (self, generations, cancellable, &error))
        return;
    }
  g_warning ("Could not record the replaced recovery key in %s: %s", GENERATIONS_NAME, error->message);
}
