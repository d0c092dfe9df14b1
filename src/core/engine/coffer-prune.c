/* SPDX-License-Identifier: GPL-3.0-or-later */
/* forget and prune.
 *
 * forget deletes snapshot objects that a retention policy does not keep
 * (never the newest). prune works in two phases and takes no lock:
 *   mark:  compute what every snapshot references; copy the live blobs of
 *          mostly-unused packs into new packs; write a new index that
 *          supersedes every current one and leaves out the unreferenced
 *          packs; record those packs (and the superseded index objects) in
 *          a prune plan object with the time.
 *   sweep: for every plan older than the grace period, delete its packs if
 *          the current index still does not use them, then its superseded
 *          index objects, then the plan; and delete the temporaries
 *          (".tmp-*") that killed uploads left, once older than the grace
 *          period.
 * A backup that started before a mark can still refer to a marked pack;
 * the grace period (default a day) is longer than any backup. */
#include <string.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-error.h"
#include "coffer-pack.h"
#include "coffer-repository-private.h"

#define REPACK_UNUSED_FRACTION 0.3
#define PACK_TARGET_SIZE (12 * 1024 * 1024)

/* ---- forget ---- */

static char *
bucket_key (gint64 time_us, int kind)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (time_us / G_USEC_PER_SEC);

  switch (kind)
    {
    case 0: return g_date_time_format (dt, "%Y-%m-%d %H");
    case 1: return g_date_time_format (dt, "%Y-%m-%d");
    case 2: return g_strdup_printf ("%d-W%02d", g_date_time_get_week_numbering_year (dt),
                                    g_date_time_get_week_of_year (dt));
    case 3: return g_date_time_format (dt, "%Y-%m");
    default: return g_date_time_format (dt, "%Y");
    }
}

#define SNAP_DEVICE(snaps, i) \
  (((CofferSnapshot *) g_ptr_array_index ((snaps), (i)))->device_id \
   ? ((CofferSnapshot *) g_ptr_array_index ((snaps), (i)))->device_id : "")

static gboolean
forget_category (CofferRepository *self, CofferCategoryKeys *keys, const CofferRetention *ret,
                 gboolean dry_run, GPtrArray *forgotten, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) snaps = _coffer_repository_load_snapshots (self, keys, cancellable, error);
  g_autofree gboolean *keep = NULL;
  guint limits[5] = { ret->keep_hourly, ret->keep_daily, ret->keep_weekly, ret->keep_monthly, ret->keep_yearly };
  g_autoptr(GHashTable) devices = NULL;
  GHashTableIter iter;
  const char *device;

  if (snaps == NULL)
    return FALSE;
  if (snaps->len == 0)
    return TRUE;
  keep = g_new0 (gboolean, snaps->len);
  /* Folders belong to a computer: each computer's snapshots of the
   * category are a series of their own (other folders), so the policy
   * applies per computer, and one computer's backups never push out
   * another's. */
  devices = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < snaps->len; i++)
    {
      CofferSnapshot *s = g_ptr_array_index (snaps, i);
      g_hash_table_add (devices, s->device_id ? s->device_id : (char *) "");
    }
  g_hash_table_iter_init (&iter, devices);
  while (g_hash_table_iter_next (&iter, (gpointer *) &device, NULL))
    {
      gboolean newest = TRUE;

      /* newest first */
      for (gint i = snaps->len - 1, n = 0; i >= 0 && (guint) n < ret->keep_last; i--)
        if (g_strcmp0 (SNAP_DEVICE (snaps, i), device) == 0)
          {
            keep[i] = TRUE;
            n++;
          }
      for (int kind = 0; kind < 5; kind++)
        {
          g_autofree char *last = NULL;
          guint n = 0;
          for (gint i = snaps->len - 1; i >= 0 && n < limits[kind]; i--)
            {
              CofferSnapshot *s = g_ptr_array_index (snaps, i);
              g_autofree char *key = NULL;

              if (g_strcmp0 (SNAP_DEVICE (snaps, i), device) != 0)
                continue;
              key = bucket_key (s->time, kind);
              if (g_strcmp0 (key, last) != 0)
                {
                  keep[i] = TRUE;
                  n++;
                  g_free (last);
                  last = g_steal_pointer (&key);
                }
            }
        }
      /* Each computer's newest snapshot stays: its latest copy of its folders. */
      for (gint i = snaps->len - 1; i >= 0 && newest; i--)
        if (g_strcmp0 (SNAP_DEVICE (snaps, i), device) == 0)
          {
            keep[i] = TRUE;
            newest = FALSE;
          }
    }
  /* The newest snapshot always stays: it anchors the rollback check. */
  keep[snaps->len - 1] = TRUE;

  for (guint i = 0; i < snaps->len; i++)
    {
      CofferSnapshot *s = g_ptr_array_index (snaps, i);
      g_autofree char *name = NULL;

      if (keep[i])
        continue;
      name = g_strdup_printf ("categories/%s/snapshots/%s", keys->id, s->id);
      if (!dry_run && !coffer_store_delete (coffer_repository_get_store (self), name, cancellable, error))
        return FALSE;
      g_ptr_array_add (forgotten, g_ptr_array_steal_index_fast (snaps, i));
      /* steal_index_fast moved the last element into i: keep the flags in step. */
      keep[i] = keep[snaps->len];
      i--;
      if (snaps->len == 0)
        break;
    }
  return TRUE;
}

static void
snapshot_free (gpointer data)
{
  coffer_snapshot_free (data);
}

gboolean
coffer_forget_run (CofferRepository *self, const char *category_id, const CofferRetention *retention,
                   gboolean dry_run, GPtrArray **forgotten, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (snapshot_free);
  g_autoptr(GPtrArray) cats = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (retention != NULL, FALSE);

  if (retention->keep_last + retention->keep_hourly + retention->keep_daily + retention->keep_weekly
      + retention->keep_monthly + retention->keep_yearly == 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("Say which backups to keep (for example keep the last 10); "
                   "a policy that keeps nothing is refused."));
      return FALSE;
    }
  if (category_id != NULL)
    {
      CofferCategoryKeys *keys = _coffer_repository_get_category (self, category_id, cancellable, error);
      if (keys == NULL || !forget_category (self, keys, retention, dry_run, out, cancellable, error))
        return FALSE;
    }
  else
    {
      cats = coffer_repository_list_categories (self, cancellable, error);
      if (cats == NULL)
        return FALSE;
      for (guint i = 0; i < cats->len; i++)
        {
          CofferCategory *cat = g_ptr_array_index (cats, i);
          CofferCategoryKeys *keys;
          if (!cat->unlocked)
            continue;
          keys = _coffer_repository_get_category (self, cat->id, cancellable, error);
          if (keys == NULL || !forget_category (self, keys, retention, dry_run, out, cancellable, error))
            return FALSE;
        }
    }
  if (forgotten != NULL)
    *forgotten = g_steal_pointer (&out);
  return TRUE;
}

/* ---- prune ---- */

typedef struct
{
  CofferRepository   *repo;
  CofferCategoryKeys *keys;
  CofferIndex        *index;
  GHashTable         *used;     /* blob id (hex) referenced by some snapshot -> its epoch + 1 */
  GCancellable       *cancellable;
  CofferProgressMeter *meter;
  guint32             epoch;    /* of the snapshot being marked: its blobs' epoch */
} Prune;

static gboolean
mark_tree (Prune *p, const guint8 id[COFFER_ID_BYTES], GError **error)
{
  g_autofree char *hex = coffer_hex_encode (id, COFFER_ID_BYTES);
  g_autoptr(GPtrArray) tree = NULL;

  if (g_hash_table_contains (p->used, hex))
    return TRUE;
  g_hash_table_insert (p->used, g_steal_pointer (&hex), GUINT_TO_POINTER (p->epoch + 1));
  tree = _coffer_repository_read_tree (p->repo, p->keys, p->epoch, id, p->cancellable, error);
  if (tree == NULL)
    return FALSE;
  for (guint i = 0; i < tree->len; i++)
    {
      const CofferTreeEntry *e = g_ptr_array_index (tree, i);
      if (e->type == COFFER_NODE_DIR && e->content && e->content->len == COFFER_ID_BYTES)
        {
          if (!mark_tree (p, e->content->data, error))
            return FALSE;
        }
      else if (e->type == COFFER_NODE_FILE && e->content)
        for (guint off = 0; off < e->content->len; off += COFFER_ID_BYTES)
          g_hash_table_insert (p->used, coffer_hex_encode (e->content->data + off, COFFER_ID_BYTES),
                               GUINT_TO_POINTER (p->epoch + 1));
    }
  coffer_progress_meter_report (p->meter, FALSE);
  return TRUE;
}

typedef struct
{
  guint64 used_bytes, total_bytes;
  GArray *entries;   /* CofferIndexEntry */
} PackUse;

static void
pack_use_free (gpointer data)
{
  PackUse *u = data;

  g_array_unref (u->entries);
  g_free (u);
}

typedef struct
{
  Prune      *p;
  GHashTable *packs;   /* hex -> PackUse */
} Tally;

static void
tally_entry (const CofferIndexEntry *entry, const guint8 *pack_id, gpointer user_data)
{
  Tally *t = user_data;
  g_autofree char *pack = coffer_hex_encode (pack_id, COFFER_ID_BYTES);
  g_autofree char *blob = coffer_hex_encode (entry->id, COFFER_ID_BYTES);
  PackUse *u = g_hash_table_lookup (t->packs, pack);

  if (u == NULL)
    {
      u = g_new0 (PackUse, 1);
      u->entries = g_array_new (FALSE, FALSE, sizeof (CofferIndexEntry));
      g_hash_table_insert (t->packs, g_steal_pointer (&pack), u);
    }
  u->total_bytes += entry->length;
  if (g_hash_table_contains (t->p->used, blob))
    {
      u->used_bytes += entry->length;
      g_array_append_val (u->entries, *entry);
    }
}

/* Seals the header of the pack a writer holds, stores the pack and adds
 * its blobs to the new index. */
static gboolean
flush_writer (Prune *p, CofferPackWriter *writer, CofferIndex *new_index, GHashTable *new_packs, GError **error)
{
  guint8 new_id[COFFER_ID_BYTES];
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autofree char *new_name = NULL;
  g_autoptr(GError) put_error = NULL;
  guint64 stored_size = 0;

  if (coffer_pack_writer_get_count (writer) == 0)
    return TRUE;
  data = coffer_pack_writer_finish (writer, new_id, &entries);
  new_name = _coffer_pack_name (p->keys->id, new_id);
  /* Repacked packs are deterministic: one with this name holds these bytes
   * (a prune killed after storing it and run again finds it). */
  if (!(coffer_store_stat (coffer_repository_get_store (p->repo), new_name, &stored_size, p->cancellable, NULL)
        && stored_size == g_bytes_get_size (data))
      && !coffer_store_put (coffer_repository_get_store (p->repo), new_name, data, COFFER_PUT_CREATE,
                            p->cancellable, &put_error)
      && !g_error_matches (put_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS))
    {
      g_propagate_error (error, g_steal_pointer (&put_error));
      return FALSE;
    }
  for (guint j = 0; j < entries->len; j++)
    {
      CofferPackEntry *pe = &g_array_index (entries, CofferPackEntry, j);
      coffer_index_add (new_index, pe->id, pe->type, new_id, pe->offset, pe->length, pe->raw_length);
    }
  g_hash_table_add (new_packs, coffer_hex_encode (new_id, COFFER_ID_BYTES));
  return TRUE;
}

/* Copies the live blobs of a pack into new packs; blobs keep their sealed
 * bytes (they are position-independent), so nothing is decrypted. A pack
 * never mixes key epochs: each blob goes to a writer of the epoch of the
 * snapshots that use it (blob ids are keyed per epoch, so a blob belongs
 * to exactly one), whose header is sealed under that epoch's data key.
 * writers: epoch -> CofferPackWriter*. */
static gboolean
repack (Prune *p, const char *hex, PackUse *use, CofferIndex *new_index, GHashTable *new_packs,
        GHashTable *writers, GError **error)
{
  guint8 id[COFFER_ID_BYTES];
  g_autofree char *name = NULL;
  g_autoptr(GBytes) pack = NULL;
  CofferStore *store = coffer_repository_get_store (p->repo);

  coffer_hex_decode (hex, id, sizeof id);
  name = _coffer_pack_name (p->keys->id, id);
  pack = coffer_store_get_limited (store, name, COFFER_MAX_PACK_BYTES, p->cancellable, error);
  if (pack == NULL)
    return FALSE;
  for (guint i = 0; i < use->entries->len; i++)
    {
      CofferIndexEntry *e = &g_array_index (use->entries, CofferIndexEntry, i);
      g_autofree char *blob = coffer_hex_encode (e->id, COFFER_ID_BYTES);
      guint32 epoch = GPOINTER_TO_UINT (g_hash_table_lookup (p->used, blob)) - 1;
      CofferEpochKeys *ek = coffer_category_keys_epoch (p->keys, epoch);
      CofferPackWriter *writer;
      g_autoptr(GBytes) sealed = NULL;

      if (ek == NULL)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       _("A backup names a key epoch (%u) this category does not have."), epoch);
          return FALSE;
        }
      if ((gsize) e->offset + e->length > g_bytes_get_size (pack))
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       _("The pack %.16s is shorter than the index says; run “coffer check”."), hex);
          return FALSE;
        }
      sealed = g_bytes_new_from_bytes (pack, e->offset, e->length);
      writer = g_hash_table_lookup (writers, GUINT_TO_POINTER (epoch));
      if (writer == NULL)
        {
          writer = coffer_pack_writer_new (ek->data_key, ek->epoch, ek->suite);
          coffer_pack_writer_set_deterministic (writer);
          g_hash_table_insert (writers, GUINT_TO_POINTER (epoch), writer);
        }
      coffer_pack_writer_add (writer, e->id, e->type, sealed, e->raw_length);
      if (coffer_pack_writer_get_size (writer) >= PACK_TARGET_SIZE)
        {
          gboolean stored = flush_writer (p, writer, new_index, new_packs, error);

          g_hash_table_remove (writers, GUINT_TO_POINTER (epoch));
          if (!stored)
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
flush_writers (Prune *p, GHashTable *writers, CofferIndex *new_index, GHashTable *new_packs, GError **error)
{
  GHashTableIter iter;
  gpointer writer;

  g_hash_table_iter_init (&iter, writers);
  while (g_hash_table_iter_next (&iter, NULL, &writer))
    {
      if (!flush_writer (p, writer, new_index, new_packs, error))
        return FALSE;
      g_hash_table_iter_remove (&iter);
    }
  return TRUE;
}

/* Prune plan: GVariant "(uxasas)": version 1, time (unix seconds), pack
 * names (hex) to delete, index object names superseded. */
static gboolean
write_plan (Prune *p, GPtrArray *doomed, GPtrArray *superseded, GError **error)
{
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GBytes) obj = NULL;
  g_autofree char *id = _coffer_random_name ();
  g_autofree char *name = g_strdup_printf ("categories/%s/prune/%s", p->keys->id, id);

  g_ptr_array_add (doomed, NULL);
  g_ptr_array_add (superseded, NULL);
  v = g_variant_ref_sink (g_variant_new ("(ux^as^as)", 1, g_get_real_time () / G_USEC_PER_SEC,
                                         (char **) doomed->pdata, (char **) superseded->pdata));
  g_ptr_array_remove_index (doomed, doomed->len - 1);
  g_ptr_array_remove_index (superseded, superseded->len - 1);
  plain = g_variant_get_data_as_bytes (v);
  obj = _coffer_repository_seal_object (p->repo, p->keys, COFFER_OBJECT_PRUNE_PLAN, name,
                                        g_bytes_get_data (plain, NULL), g_bytes_get_size (plain));
  return coffer_store_put (coffer_repository_get_store (p->repo), name, obj, COFFER_PUT_CREATE, p->cancellable, error);
}

static gboolean
sweep (Prune *p, gint64 grace_seconds, guint64 *deleted, GError **error)
{
  g_autofree char *prefix = g_strdup_printf ("categories/%s/prune/", p->keys->id);
  g_autoptr(GPtrArray) plans = g_ptr_array_new_with_free_func (g_free);
  CofferStore *store = coffer_repository_get_store (p->repo);
  g_autoptr(GHashTable) live = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (!coffer_store_list (store, prefix, _coffer_collect_names, plans, p->cancellable, error))
    return FALSE;
  for (guint i = 0; i < coffer_index_get_n_packs (p->index); i++)
    g_hash_table_add (live, coffer_hex_encode (coffer_index_get_pack_id (p->index, i), COFFER_ID_BYTES));

  for (guint i = 0; i < plans->len; i++)
    {
      const char *name = g_ptr_array_index (plans, i);
      g_autoptr(GBytes) obj = NULL;
      g_autoptr(GBytes) plain = NULL;
      g_autoptr(GVariant) v = NULL;
      g_autofree const char **packs = NULL;
      g_autofree const char **indexes = NULL;
      guint32 version;
      gint64 time;

      obj = coffer_store_get_limited (store, name, COFFER_MAX_PLAN_BYTES, p->cancellable, error);
      if (obj == NULL)
        return FALSE;
      plain = _coffer_repository_open_object (p->repo, p->keys, COFFER_OBJECT_PRUNE_PLAN, name, obj, error);
      if (plain == NULL)
        return FALSE;
      v = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("(uxasas)"), plain, FALSE));
      g_variant_get (v, "(ux^a&s^a&s)", &version, &time, &packs, &indexes);
      if (version != 1 || time + grace_seconds > now)
        continue;
      for (guint j = 0; packs[j] != NULL; j++)
        {
          guint8 id[COFFER_ID_BYTES];
          g_autofree char *pack_name = NULL;
          guint64 size = 0;
          g_autoptr(GError) local_error = NULL;

          if (strlen (packs[j]) != 64 || !coffer_hex_decode (packs[j], id, sizeof id)
              || g_hash_table_contains (live, packs[j]))
            continue;   /* in use again, or not a pack name */
          pack_name = _coffer_pack_name (p->keys->id, id);
          coffer_store_stat (store, pack_name, &size, p->cancellable, NULL);
          if (!coffer_store_delete (store, pack_name, p->cancellable, &local_error)
              && !g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          *deleted += size;
        }
      for (guint j = 0; indexes[j] != NULL; j++)
        {
          g_autofree char *index_name = NULL;
          g_autoptr(GError) local_error = NULL;

          if (strchr (indexes[j], '/') != NULL)
            continue;
          index_name = g_strdup_printf ("categories/%s/index/%s", p->keys->id, indexes[j]);
          if (!coffer_store_delete (store, index_name, p->cancellable, &local_error)
              && !g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
        }
      if (!coffer_store_delete (store, name, p->cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* prune_category, step 1: every blob the snapshots use marked in p->used,
 * with the index and the snapshots in *snaps_out. */
static gboolean
prune_mark (Prune *p, GPtrArray **snaps_out, GError **error)
{
  /* The index first, then the snapshots: a backup on another computer
   * that finishes in between (its index object, then its snapshot) leaves
   * a snapshot whose data this index does not have yet. Then everything
   * is read again, as if the prune had started a moment later. */
  for (guint attempt = 1;; attempt++)
    {
      g_autoptr(GError) mark_error = NULL;
      gboolean marked = TRUE;

      g_clear_pointer (&p->used, g_hash_table_unref);
      g_clear_pointer (snaps_out, g_ptr_array_unref);
      p->used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      _coffer_repository_drop_index (p->repo, p->keys);
      p->index = _coffer_repository_get_index (p->repo, p->keys, p->cancellable, error);
      if (p->index == NULL)
        return FALSE;
      *snaps_out = _coffer_repository_load_snapshots (p->repo, p->keys, p->cancellable, error);
      if (*snaps_out == NULL)
        return FALSE;
      for (guint i = 0; i < (*snaps_out)->len && marked; i++)
        {
          p->epoch = ((CofferSnapshot *) g_ptr_array_index (*snaps_out, i))->epoch;
          marked = mark_tree (p, ((CofferSnapshot *) g_ptr_array_index (*snaps_out, i))->tree, &mark_error);
        }
      if (marked)
        break;
      if (attempt >= 3 || !g_error_matches (mark_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT))
        {
          g_propagate_error (error, g_steal_pointer (&mark_error));
          return FALSE;
        }
      g_debug ("prune: reading the index and the snapshots again after: %s", mark_error->message);
    }
  return TRUE;
}

/* Step 2: each pack of the index sorted: unused (doomed), mostly unused
 * (repacked, then doomed), or kept with its entries in new_index. */
static gboolean
prune_sort_packs (Prune *p, GHashTable *packs, CofferIndex *new_index, GHashTable *new_packs,
                  GHashTable *writers, GPtrArray *doomed, gboolean *changed, GError **error)
{
  GHashTableIter iter;
  gpointer k, v;

  g_hash_table_iter_init (&iter, packs);
  while (g_hash_table_iter_next (&iter, &k, &v))
    {
      PackUse *u = v;
      guint8 id[COFFER_ID_BYTES];

      coffer_hex_decode (k, id, sizeof id);
      if (u->used_bytes == 0)
        {
          g_ptr_array_add (doomed, g_strdup (k));
          *changed = TRUE;
        }
      else if (u->total_bytes - u->used_bytes > REPACK_UNUSED_FRACTION * u->total_bytes)
        {
          if (!repack (p, k, u, new_index, new_packs, writers, error))
            return FALSE;
          g_ptr_array_add (doomed, g_strdup (k));
          *changed = TRUE;
        }
      else
        for (guint i = 0; i < u->entries->len; i++)
          {
            CofferIndexEntry *e = &g_array_index (u->entries, CofferIndexEntry, i);
            coffer_index_add (new_index, e->id, e->type, id, e->offset, e->length, e->raw_length);
          }
    }
  return TRUE;
}

static gboolean
prune_category (CofferRepository *self, CofferCategoryKeys *keys, gint64 grace_seconds,
                CofferProgressFunc progress, gpointer progress_data, guint64 *deleted,
                GCancellable *cancellable, GError **error)
{
  Prune pr = { self, keys, NULL, NULL, cancellable, NULL };
  Prune *p = &pr;
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GHashTable) packs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pack_use_free);
  g_autoptr(GHashTable) new_packs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) doomed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) superseded = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(CofferIndex) new_index = coffer_index_new ();
  g_autoptr(CofferProgressMeter) meter = coffer_progress_meter_new ("prune", keys->info->name, progress, progress_data);
  g_autoptr(GHashTable) writers = g_hash_table_new_full (NULL, NULL, NULL,
                                                        (GDestroyNotify) coffer_pack_writer_free);
  Tally tally;
  gboolean changed = FALSE;
  int lock_fd;
  gboolean ok = FALSE;

  /* A prune and a backup of the same category on this computer would only
   * slow each other down; across computers the grace period protects. */
  lock_fd = coffer_state_lock_category (self->state, keys->id, error);
  if (lock_fd < 0)
    return FALSE;

  p->meter = meter;
  if (!prune_mark (p, &snaps, error))
    goto out;

  tally.p = p;
  tally.packs = packs;
  coffer_index_foreach (p->index, tally_entry, &tally);

  if (!prune_sort_packs (p, packs, new_index, new_packs, writers, doomed, &changed, error))
    goto out;
  if (!flush_writers (p, writers, new_index, new_packs, error))
    goto out;

  if (changed || (keys->index_listed != NULL && keys->index_listed->len > 1))
    {
      /* The repacked packs must be on the disk before the index that names
       * them (and the plan that deletes the packs they replace). */
      if (!coffer_store_flush (coffer_repository_get_store (self), cancellable, error))
        goto out;
      /* The new index is complete: it supersedes every index object that
       * was there when the index was loaded, not only the live ones. An
       * object already superseded by a live one (a prune killed before it
       * deleted it) would otherwise come back to life when the plan below
       * deletes the object that superseded it, naming packs this prune
       * deletes (found by the chaos test, docs/SECURITY.md). */
      for (guint i = 0; keys->index_listed != NULL && i < keys->index_listed->len; i++)
        g_ptr_array_add (superseded, g_strdup (g_ptr_array_index (keys->index_listed, i)));
      g_ptr_array_add (superseded, NULL);
      if (!_coffer_repository_write_index (self, keys, new_index, NULL,
                                           (const char * const *) superseded->pdata, NULL, cancellable, error))
        goto out;
      g_ptr_array_remove_index (superseded, superseded->len - 1);
      if (!write_plan (p, doomed, superseded, error))
        goto out;
      _coffer_repository_drop_index (self, keys);
      p->index = _coffer_repository_get_index (self, keys, cancellable, error);
      if (p->index == NULL)
        goto out;
    }
  if (!sweep (p, grace_seconds, deleted, error))
    goto out;
  /* Temporaries of uploads that were killed before they were published:
   * nothing refers to them, and after the grace period nothing is still
   * writing them. */
  {
    g_autofree char *prefix = g_strdup_printf ("categories/%s/", keys->id);
    if (!coffer_store_remove_stale_temporaries (coffer_repository_get_store (self), prefix, grace_seconds,
                                                deleted, cancellable, error))
      goto out;
  }
  coffer_progress_meter_finish (meter);
  ok = TRUE;

out:
  g_hash_table_unref (p->used);
  coffer_state_unlock_category (lock_fd);
  return ok;
}

gboolean
coffer_prune_run (CofferRepository *self, const char *category_id, gint64 grace_seconds,
                  CofferProgressFunc progress, gpointer progress_data,
                  guint64 *out_deleted_bytes, GCancellable *cancellable, GError **error)
{
  guint64 deleted = 0;
  gboolean ok = TRUE;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (category_id != NULL)
    {
      CofferCategoryKeys *keys = _coffer_repository_get_category (self, category_id, cancellable, error);
      ok = keys != NULL && prune_category (self, keys, grace_seconds, progress, progress_data, &deleted,
                                           cancellable, error);
    }
  else
    {
      g_autoptr(GPtrArray) cats = coffer_repository_list_categories (self, cancellable, error);
      if (cats == NULL)
        return FALSE;
      for (guint i = 0; i < cats->len && ok; i++)
        {
          CofferCategory *cat = g_ptr_array_index (cats, i);
          CofferCategoryKeys *keys;
          if (!cat->unlocked)
            continue;
          keys = _coffer_repository_get_category (self, cat->id, cancellable, error);
          ok = keys != NULL && prune_category (self, keys, grace_seconds, progress, progress_data, &deleted,
                                               cancellable, error);
        }
    }
  if (out_deleted_bytes != NULL)
    *out_deleted_bytes = deleted;
  return ok;
}
