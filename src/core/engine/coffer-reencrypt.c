/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Re-encrypting a category's older backups under its newest key epoch
 * (docs/SECURITY.md "Re-encrypting older backups").
 *
 * For every snapshot written under an older epoch, oldest first:
 *   read each blob (decrypted with the key of its epoch), compute its new
 *   id with the newest blob-id key, seal it with the newest data key into
 *   new packs; rewrite the trees bottom-up with the new ids; upload the
 *   packs and an index delta; write the new snapshot (same time, paths,
 *   statistics and sequence number; new tree; newest epoch); delete the
 *   old snapshot object.
 * Then a prune with no grace period deletes the packs only the old
 * snapshots used and supersedes every index object written under the old
 * epoch.
 *
 * Resuming needs no bookkeeping beyond the repository: a snapshot already
 * at the newest epoch is done; an old snapshot whose re-encrypted copy
 * exists (same sequence number, time and device) only has its old object
 * deleted; blobs whose new id is already in the index are not uploaded
 * again (the new id is a pure function of the plaintext and the newest
 * key); packs that landed before an interruption but never reached an
 * index object are read back into the index on the next run. */
#include <string.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>

#include "coffer-bytes.h"
#include "coffer-error.h"
#include "coffer-pack-sink.h"
#include "coffer-repository-private.h"


typedef struct
{
  CofferRepository    *repo;
  CofferCategoryKeys  *keys;
  CofferEpochKeys     *ek;         /* newest */
  CofferStore         *store;
  CofferIndex         *index;      /* loaded index + everything uploaded this run */
  CofferPackSink      *sink;       /* seals under the newest epoch */
  GHashTable          *map;        /* old id -> new id (32 bytes each) */
  CofferProgressMeter *meter;
  GCancellable        *cancellable;
  guint32              old_epoch;  /* of the snapshot being rewritten: its blobs' epoch */
} Reencrypt;

/* Stores plaintext under the newest epoch (unless the index or a pack
 * being filled already has it); new_id receives its id. */
static gboolean
put_blob (Reencrypt *r, CofferBlobType type, GBytes *plain, guint8 new_id[COFFER_ID_BYTES], GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (plain, &len);

  coffer_pack_sink_store (r->sink, type, data, len, new_id);
  /* A failed upload surfaces here rather than after the whole snapshot. */
  if (coffer_pack_sink_failed (r->sink))
    return coffer_pack_sink_commit (r->sink, error);
  return TRUE;
}

/* ---- blobs and trees ---- */

static gboolean
map_blob (Reencrypt *r, const guint8 old_id[COFFER_ID_BYTES], guint8 new_id[COFFER_ID_BYTES], GError **error)
{
  const guint8 *known = g_hash_table_lookup (r->map, old_id);
  g_autoptr(GBytes) plain = NULL;

  if (known != NULL)
    {
      memcpy (new_id, known, COFFER_ID_BYTES);
      return TRUE;
    }
  if (g_cancellable_set_error_if_cancelled (r->cancellable, error))
    return FALSE;
  plain = _coffer_repository_read_blob (r->repo, r->keys, r->old_epoch, old_id, COFFER_BLOB_DATA,
                                        r->cancellable, error);
  if (plain == NULL || !put_blob (r, COFFER_BLOB_DATA, plain, new_id, error))
    return FALSE;
  g_hash_table_insert (r->map, g_memdup2 (old_id, COFFER_ID_BYTES), g_memdup2 (new_id, COFFER_ID_BYTES));
  coffer_progress_meter_add (r->meter, 0, g_bytes_get_size (plain), 0, NULL);
  coffer_progress_meter_report (r->meter, FALSE);
  return TRUE;
}

static gboolean
rewrite_tree (Reencrypt *r, const guint8 old_id[COFFER_ID_BYTES], guint8 new_id[COFFER_ID_BYTES], GError **error)
{
  const guint8 *known = g_hash_table_lookup (r->map, old_id);
  g_autoptr(GPtrArray) tree = NULL;
  g_autoptr(GBytes) data = NULL;

  if (known != NULL)
    {
      memcpy (new_id, known, COFFER_ID_BYTES);
      return TRUE;
    }
  tree = _coffer_repository_read_tree (r->repo, r->keys, r->old_epoch, old_id, r->cancellable, error);
  if (tree == NULL)
    return FALSE;
  for (guint i = 0; i < tree->len; i++)
    {
      CofferTreeEntry *e = g_ptr_array_index (tree, i);
      guint8 id[COFFER_ID_BYTES];

      if (e->content == NULL || e->content->len == 0)
        continue;
      if (e->type == COFFER_NODE_DIR && e->content->len == COFFER_ID_BYTES)
        {
          if (!rewrite_tree (r, e->content->data, id, error))
            return FALSE;
          memcpy (e->content->data, id, COFFER_ID_BYTES);
        }
      else if (e->type == COFFER_NODE_FILE)
        for (guint off = 0; off + COFFER_ID_BYTES <= e->content->len; off += COFFER_ID_BYTES)
          {
            if (!map_blob (r, e->content->data + off, id, error))
              return FALSE;
            memcpy (e->content->data + off, id, COFFER_ID_BYTES);
          }
    }
  data = coffer_tree_serialize (tree);
  if (!put_blob (r, COFFER_BLOB_TREE, data, new_id, error))
    return FALSE;
  g_hash_table_insert (r->map, g_memdup2 (old_id, COFFER_ID_BYTES), g_memdup2 (new_id, COFFER_ID_BYTES));
  return TRUE;
}

/* ---- snapshots ---- */

static char *
snapshot_key (const CofferSnapshot *s)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GINT64_FORMAT ":%s", s->seq, s->time,
                          s->device_id ? s->device_id : "");
}

static gboolean
delete_snapshot (Reencrypt *r, const char *id, GError **error)
{
  g_autofree char *name = g_strdup_printf ("categories/%s/snapshots/%s", r->keys->id, id);
  g_autoptr(GError) local_error = NULL;

  if (coffer_store_delete (r->store, name, r->cancellable, &local_error)
      || g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static gboolean
reencrypt_snapshot (Reencrypt *r, CofferSnapshot *snap, GHashTable *renamed, GError **error)
{
  guint8 tree[COFFER_ID_BYTES];
  g_autofree char *old_id = g_strdup (snap->id);
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (snap->time / G_USEC_PER_SEC);
  g_autofree char *label = g_date_time_format (dt, "%Y-%m-%d %H:%M:%S");
  const char *parent;

  coffer_progress_meter_add (r->meter, 0, 0, 0, label);
  r->old_epoch = snap->epoch;
  if (!rewrite_tree (r, snap->tree, tree, error))
    return FALSE;
  /* Commit order: packs, index, then the snapshot. */
  if (!coffer_pack_sink_commit (r->sink, error))
    return FALSE;

  memcpy (snap->tree, tree, COFFER_ID_BYTES);
  snap->epoch = r->ek->epoch;
  parent = snap->parent ? g_hash_table_lookup (renamed, snap->parent) : NULL;
  if (parent != NULL)
    {
      g_free (snap->parent);
      snap->parent = g_strdup (parent);
    }
  /* time, paths, statistics and seq stay: the rollback check keeps seeing
   * the same highest sequence number (docs/SECURITY.md). */
  if (_coffer_repository_write_snapshot (r->repo, r->keys, snap, r->cancellable, error) == NULL)
    return FALSE;
  g_hash_table_insert (renamed, g_strdup (old_id), g_strdup (snap->id));
  return delete_snapshot (r, old_id, error);
}

static char *
marker_path (Reencrypt *r)
{
  g_autofree char *dir = coffer_state_get_cache_dir (r->repo->state, r->keys->id);
  return g_build_filename (dir, "reencrypt-running", NULL);
}

/* coffer_repository_reencrypt_category, one step: each snapshot of todo
 * copied under the newest epoch and the original deleted (or, where an
 * interrupted run left the copy in done, only deleted). Oldest first, so
 * that parents are renamed before their children. */
static gboolean
reencrypt_snapshots (Reencrypt *r, GPtrArray *todo, GHashTable *done, GHashTable *renamed,
                     GError **error)
{
  for (guint i = 0; i < todo->len; i++)
    {
      CofferSnapshot *s = g_ptr_array_index (todo, i);
      g_autofree char *key = snapshot_key (s);
      const char *copy = g_hash_table_lookup (done, key);

      if (g_cancellable_set_error_if_cancelled (r->cancellable, error))
        return FALSE;
      if (copy != NULL)
        {
          /* Interrupted between writing the copy and deleting the original. */
          g_hash_table_insert (renamed, g_strdup (s->id), g_strdup (copy));
          if (!delete_snapshot (r, s->id, error))
            return FALSE;
        }
      else if (!reencrypt_snapshot (r, s, renamed, error))
        return FALSE;
      coffer_progress_meter_add (r->meter, 1, 0, 0, NULL);
      coffer_progress_meter_report (r->meter, TRUE);
    }
  return TRUE;
}

gboolean
coffer_repository_reencrypt_category (CofferRepository *self, const char *category_id,
                                      CofferProgressFunc progress, gpointer progress_data,
                                      GCancellable *cancellable, GError **error)
{
  Reencrypt re = { 0 };
  Reencrypt *r = &re;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GPtrArray) todo = g_ptr_array_new ();
  g_autoptr(GHashTable) done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) renamed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *marker = NULL;
  g_autoptr(GError) local_error = NULL;
  int lock_fd;
  gboolean ok = FALSE;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (category_id != NULL, FALSE);

  r->repo = self;
  r->store = coffer_repository_get_store (self);
  r->cancellable = cancellable;
  r->keys = _coffer_repository_get_category (self, category_id, cancellable, error);
  if (r->keys == NULL)
    return FALSE;
  if (self->account_key == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                   _("Re-encrypting older backups needs a trusted device or the recovery key; "
                   "the backup password alone is not enough."));
      return FALSE;
    }
  lock_fd = coffer_state_lock_category (self->state, r->keys->id, error);
  if (lock_fd < 0)
    return FALSE;

  r->ek = coffer_category_keys_newest (r->keys);
  r->map = g_hash_table_new_full (coffer_id_hash, coffer_id_equal, g_free, g_free);
  r->meter = coffer_progress_meter_new ("reencrypt", r->keys->info->name, progress, progress_data);

  _coffer_repository_drop_index (self, r->keys);
  r->index = _coffer_repository_get_index (self, r->keys, cancellable, &local_error);
  if (r->index == NULL)
    goto out;
  snaps = _coffer_repository_load_snapshots (self, r->keys, cancellable, &local_error);
  if (snaps == NULL)
    goto out;
  r->sink = coffer_pack_sink_new (self, r->keys, r->index, NULL, cancellable);

  marker = marker_path (r);
  if (g_file_test (marker, G_FILE_TEST_EXISTS))
    coffer_pack_sink_recover_orphans (r->sink);

  for (guint i = 0; i < snaps->len; i++)
    {
      CofferSnapshot *s = g_ptr_array_index (snaps, i);
      if (s->epoch == r->ek->epoch)
        g_hash_table_insert (done, snapshot_key (s), g_strdup (s->id));
      else
        g_ptr_array_add (todo, s);
    }
  coffer_progress_meter_set_totals (r->meter, todo->len, 0);
  if (todo->len > 0)
    g_file_set_contents (marker, "", 0, NULL);

  if (!reencrypt_snapshots (r, todo, done, renamed, &local_error))
    goto out;

  if (!coffer_pack_sink_finish (r->sink, &local_error))
    goto out;
  g_clear_pointer (&r->sink, coffer_pack_sink_free);

  /* Everything the old snapshots used and no snapshot uses now goes, at
   * once: that is the point of re-encrypting. */
  coffer_state_unlock_category (lock_fd);
  lock_fd = -1;
  _coffer_repository_drop_index (self, r->keys);
  r->index = NULL;
  if (!coffer_prune_run (self, r->keys->id, 0, NULL, NULL, NULL, cancellable, &local_error))
    goto out;
  if (marker != NULL)
    g_unlink (marker);
  coffer_progress_meter_finish (r->meter);
  ok = TRUE;

out:
  if (!ok)
    {
      /* Record what landed, so that the next run does not upload it again. */
      if (r->sink != NULL)
        coffer_pack_sink_finish (r->sink, NULL);
      _coffer_repository_drop_index (self, r->keys);
      g_propagate_error (error, g_steal_pointer (&local_error));
    }
  g_clear_pointer (&r->sink, coffer_pack_sink_free);
  g_clear_pointer (&r->map, g_hash_table_unref);
  g_clear_pointer (&r->meter, coffer_progress_meter_free);
  if (lock_fd >= 0)
    coffer_state_unlock_category (lock_fd);
  return ok;
}
