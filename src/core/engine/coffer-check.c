/* SPDX-License-Identifier: GPL-3.0-or-later */
/* check: the structure of every snapshot (trees readable and authentic,
 * every referenced blob indexed, every indexed pack present) and, on
 * request, a share of the packs read back in full and verified blob by
 * blob. It reads the index objects from the repository, not the local
 * cache, and never writes to the repository. */
#include <string.h>
#include <sodium.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>
#include <inttypes.h>

#include "coffer-error.h"
#include "coffer-pack.h"
#include "coffer-repository-private.h"

typedef struct
{
  CofferRepository   *repo;
  CofferCategoryKeys *keys;
  CofferIndex        *index;
  GHashTable         *seen_trees;   /* hex ids */
  GPtrArray          *problems;
  GCancellable       *cancellable;
  CofferProgressMeter *meter;
  guint32             epoch;        /* of the snapshot being checked: its blobs' epoch */
} Check;

static void
problem (Check *c, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
problem (Check *c, const char *fmt, ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, fmt);
  msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_ptr_array_add (c->problems, g_strdup_printf ("%s: %s", c->keys->info->name, msg));
}

static gboolean
check_tree (Check *c, const guint8 id[COFFER_ID_BYTES], const char *path, GError **error)
{
  g_autofree char *hex = coffer_hex_encode (id, COFFER_ID_BYTES);
  g_autoptr(GPtrArray) tree = NULL;
  g_autoptr(GError) local_error = NULL;

  if (g_hash_table_contains (c->seen_trees, hex))
    return TRUE;
  g_hash_table_add (c->seen_trees, g_strdup (hex));
  if (g_cancellable_set_error_if_cancelled (c->cancellable, error))
    return FALSE;

  tree = _coffer_repository_read_tree (c->repo, c->keys, c->epoch, id, c->cancellable, &local_error);
  if (tree == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      problem (c, _("folder %s: %s"), *path ? path : "/", local_error->message);
      return TRUE;
    }
  for (guint i = 0; i < tree->len; i++)
    {
      const CofferTreeEntry *e = g_ptr_array_index (tree, i);
      g_autofree char *child = g_strconcat (path, "/", e->name, NULL);

      if (e->type == COFFER_NODE_DIR)
        {
          if (e->content == NULL || e->content->len != COFFER_ID_BYTES)
            problem (c, _("folder %s has no contents"), child);
          else if (!check_tree (c, e->content->data, child, error))
            return FALSE;
        }
      else if (e->type == COFFER_NODE_FILE)
        {
          guint64 size = 0;
          for (guint off = 0; e->content != NULL && off < e->content->len; off += COFFER_ID_BYTES)
            {
              CofferIndexEntry ie;
              if (!coffer_index_lookup (c->index, e->content->data + off, &ie) || ie.type != COFFER_BLOB_DATA)
                {
                  g_autofree char *display = g_filename_display_name (child);
                  problem (c, _("file %s refers to data that is missing from the repository"), display);
                  break;
                }
              size += ie.raw_length;
            }
          if (size != e->size && e->content != NULL)
            {
              g_autofree char *display = g_filename_display_name (child);
              problem (c, _("file %s: its pieces add up to %" PRIu64 " bytes, not %" PRIu64),
                       display, size, e->size);
            }
          coffer_progress_meter_add (c->meter, 1, 0, 0, NULL);
        }
    }
  coffer_progress_meter_report (c->meter, FALSE);
  return TRUE;
}

typedef struct
{
  GHashTable *sizes;   /* pack hex -> size */
} PackList;

static gboolean
collect_pack (const char *name, guint64 size, gpointer user_data)
{
  PackList *l = user_data;
  const char *base = strrchr (name, '/');

  base = base ? base + 1 : name;
  if (strlen (base) == 64)
    g_hash_table_insert (l->sizes, g_strdup (base), g_memdup2 (&size, sizeof size));
  return TRUE;
}

typedef struct
{
  GHashTable *by_pack;  /* pack hex -> GArray of CofferIndexEntry */
} EntriesByPack;

static void
group_entry (const CofferIndexEntry *entry, const guint8 *pack_id, gpointer user_data)
{
  EntriesByPack *g = user_data;
  g_autofree char *hex = coffer_hex_encode (pack_id, COFFER_ID_BYTES);
  GArray *arr = g_hash_table_lookup (g->by_pack, hex);

  if (arr == NULL)
    {
      arr = g_array_new (FALSE, FALSE, sizeof (CofferIndexEntry));
      g_hash_table_insert (g->by_pack, g_steal_pointer (&hex), arr);
    }
  g_array_append_val (arr, *entry);
}

/* TRUE if the pack's bytes hash to its name, under the hash suite of the
 * epoch its trailer names; under any suite when the trailer does not say
 * (then the header check below reports it). */
static gboolean
pack_matches_name (Check *c, const guint8 *data, gsize len, const guint8 id[COFFER_ID_BYTES])
{
  CofferEpochKeys *ek = NULL;
  guint32 header_len, epoch;
  guint8 hash[COFFER_ID_BYTES];

  if (len >= COFFER_PACK_TRAILER_BYTES
      && coffer_pack_parse_trailer (data + len - COFFER_PACK_TRAILER_BYTES, len, &header_len, &epoch, NULL))
    ek = coffer_category_keys_epoch (c->keys, epoch);
  for (guint suite = 0; suite <= COFFER_HASH_SUITE_LAST; suite++)
    {
      if (ek != NULL && suite != ek->suite)
        continue;
      coffer_hash (suite, data, len, hash);
      if (sodium_memcmp (hash, id, COFFER_ID_BYTES) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Downloads a pack, checks its name, header and every blob. */
static gboolean
read_pack (Check *c, const char *hex, GArray *indexed, GError **error)
{
  g_autofree char *name = NULL;
  g_autoptr(GBytes) pack = NULL;
  g_autoptr(GArray) entries = NULL;
  g_autoptr(GError) local_error = NULL;
  guint8 id[COFFER_ID_BYTES];
  const guint8 *data;
  gsize len;
  guint32 header_len, epoch;
  CofferEpochKeys *ek;

  coffer_hex_decode (hex, id, sizeof id);
  name = _coffer_pack_name (c->keys->id, id);
  pack = coffer_store_get_limited (coffer_repository_get_store (c->repo), name, COFFER_MAX_PACK_BYTES,
                                   c->cancellable, &local_error);
  if (pack == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      problem (c, _("pack %.16s cannot be read: %s"), hex, local_error->message);
      return TRUE;
    }
  data = g_bytes_get_data (pack, &len);
  if (!pack_matches_name (c, data, len, id))
    {
      problem (c, _("pack %.16s is damaged (its contents do not match its name)"), hex);
      return TRUE;
    }
  if (len < COFFER_PACK_TRAILER_BYTES
      || !coffer_pack_parse_trailer (data + len - COFFER_PACK_TRAILER_BYTES, len, &header_len, &epoch, &local_error)
      || (ek = coffer_category_keys_epoch (c->keys, epoch)) == NULL
      || (entries = coffer_pack_read_header (ek->data_key, epoch, data + len - COFFER_PACK_TRAILER_BYTES - header_len,
                                             header_len, len, &local_error)) == NULL)
    {
      if (local_error != NULL)
        problem (c, _("pack %.16s has an unreadable header: %s"), hex, local_error->message);
      else
        problem (c, _("pack %.16s has an unreadable header"), hex);
      return TRUE;
    }
  for (guint i = 0; i < indexed->len; i++)
    {
      CofferIndexEntry *ie = &g_array_index (indexed, CofferIndexEntry, i);
      g_autoptr(GBytes) plain = NULL;
      g_autoptr(GError) blob_error = NULL;
      guint8 check[COFFER_ID_BYTES];
      gboolean in_header = FALSE;

      for (guint j = 0; j < entries->len && !in_header; j++)
        {
          CofferPackEntry *pe = &g_array_index (entries, CofferPackEntry, j);
          in_header = memcmp (pe->id, ie->id, COFFER_ID_BYTES) == 0 && pe->offset == ie->offset
                      && pe->length == ie->length;
        }
      if (!in_header || (guint64) ie->offset + ie->length > len)
        {
          problem (c, _("pack %.16s does not hold a piece of data the index places in it"), hex);
          continue;
        }
      plain = coffer_blob_open (ek->data_key, ie->id, ie->type, data + ie->offset, ie->length, &blob_error);
      if (plain == NULL)
        {
          /* A pack may hold blobs copied from an older key epoch. */
          for (guint k = 0; k < c->keys->epochs->len && plain == NULL; k++)
            {
              CofferEpochKeys *other = g_ptr_array_index (c->keys->epochs, k);
              ek = other;
              plain = coffer_blob_open (other->data_key, ie->id, ie->type, data + ie->offset, ie->length, NULL);
            }
        }
      if (plain == NULL)
        {
          problem (c, _("pack %.16s: a piece of data is damaged: %s"), hex, blob_error->message);
          continue;
        }
      coffer_blob_id (ek->suite, ek->blob_id_key, g_bytes_get_data (plain, NULL), g_bytes_get_size (plain), check);
      if (sodium_memcmp (check, ie->id, COFFER_ID_BYTES) != 0)
        problem (c, _("pack %.16s: a piece of data does not match its id"), hex);
      coffer_progress_meter_add (c->meter, 0, ie->length, 0, NULL);
      coffer_progress_meter_report (c->meter, FALSE);
    }
  return TRUE;
}

/* check_category, one step: every pack the index names is in the
 * repository and long enough for its entries. */
static void
check_pack_sizes (Check *c, EntriesByPack *groups, PackList *packs)
{
  GHashTableIter iter;
  gpointer k, v;

  g_hash_table_iter_init (&iter, groups->by_pack);
  while (g_hash_table_iter_next (&iter, &k, &v))
    {
      guint64 *size = g_hash_table_lookup (packs->sizes, k);
      GArray *entries = v;
      guint64 end = 0;

      if (size == NULL)
        {
          problem (c, _("pack %.16s is missing from the repository"), (char *) k);
          continue;
        }
      for (guint i = 0; i < entries->len; i++)
        {
          CofferIndexEntry *e = &g_array_index (entries, CofferIndexEntry, i);
          end = MAX (end, (guint64) e->offset + e->length);
        }
      if (end + COFFER_PACK_TRAILER_BYTES > *size)
        problem (c, _("pack %.16s is truncated"), (char *) k);
    }
}

/* Another: percent of the packs, chosen at random, downloaded and checked
 * (read_pack). */
static gboolean
check_read_sample (Check *c, EntriesByPack *groups, PackList *packs, gdouble percent, GError **error)
{
  g_autoptr(GPtrArray) chosen = g_ptr_array_new ();
  guint64 total = 0;
  GHashTableIter iter;
  gpointer k, v;

  g_hash_table_iter_init (&iter, groups->by_pack);
  while (g_hash_table_iter_next (&iter, &k, &v))
    if (g_hash_table_contains (packs->sizes, k)
        && (percent >= 100 || randombytes_uniform (10000) < (guint32) (percent * 100)))
      {
        g_ptr_array_add (chosen, k);
        total += *(guint64 *) g_hash_table_lookup (packs->sizes, k);
      }
  coffer_progress_meter_set_totals (c->meter, 0, total);
  for (guint i = 0; i < chosen->len; i++)
    if (!read_pack (c, g_ptr_array_index (chosen, i),
                    g_hash_table_lookup (groups->by_pack, g_ptr_array_index (chosen, i)), error))
      return FALSE;
  return TRUE;
}

static gboolean
check_category (CofferRepository *self, CofferCategoryKeys *keys, gdouble percent,
                CofferProgressFunc progress, gpointer progress_data,
                GPtrArray *problems, GCancellable *cancellable, GError **error)
{
  Check c = { self, keys, NULL, NULL, problems, cancellable, NULL };
  g_autoptr(GPtrArray) snapshots = NULL;
  PackList packs = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free) };
  EntriesByPack groups = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref) };
  g_autofree char *prefix = g_strdup_printf ("categories/%s/packs/", keys->id);
  g_autofree char *cache_dir = coffer_state_get_cache_dir (self->state, keys->id);
  g_autofree char *names_path = g_build_filename (cache_dir, "index.names", NULL);
  g_autoptr(GError) local_error = NULL;
  gboolean ok = FALSE;
  GHashTableIter iter;
  gpointer k, v;

  c.seen_trees = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c.meter = coffer_progress_meter_new ("check", keys->info->name, progress, progress_data);

  /* Read the index from the repository, not from the local cache. */
  g_unlink (names_path);
  _coffer_repository_drop_index (self, keys);
  g_hash_table_remove_all (keys->refused);
  c.index = _coffer_repository_get_index (self, keys, cancellable, &local_error);
  if (c.index == NULL)
    {
      problem (&c, _("the index cannot be read: %s"), local_error->message);
      ok = TRUE;
      goto out;
    }
  snapshots = _coffer_repository_load_snapshots (self, keys, cancellable, &local_error);
  if (snapshots == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          goto out;
        }
      problem (&c, _("the list of backups cannot be read: %s"), local_error->message);
      ok = TRUE;
      goto out;
    }
  /* Objects sealed under a retired epoch with a later time were left out
   * of the index and the list of backups: forgeries, reported here. */
  g_hash_table_iter_init (&iter, keys->refused);
  while (g_hash_table_iter_next (&iter, &k, &v))
    problem (&c, "%s", (const char *) v);
  if (!coffer_store_list (coffer_repository_get_store (self), prefix, collect_pack, &packs, cancellable, error))
    goto out;

  coffer_index_foreach (c.index, group_entry, &groups);
  check_pack_sizes (&c, &groups, &packs);

  for (guint i = 0; i < snapshots->len; i++)
    {
      CofferSnapshot *s = g_ptr_array_index (snapshots, i);
      c.epoch = s->epoch;
      if (!check_tree (&c, s->tree, "", error))
        goto out;
    }

  if (percent > 0 && !check_read_sample (&c, &groups, &packs, percent, error))
    goto out;
  ok = TRUE;

out:
  coffer_progress_meter_finish (c.meter);
  coffer_progress_meter_free (c.meter);
  g_hash_table_unref (c.seen_trees);
  g_hash_table_unref (packs.sizes);
  g_hash_table_unref (groups.by_pack);
  return ok;
}

gboolean
coffer_check_run (CofferRepository *self, const char *category_id, gdouble read_data_percent,
                  CofferProgressFunc progress, gpointer progress_data,
                  GPtrArray **problems, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) cats = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (category_id != NULL)
    {
      CofferCategoryKeys *keys = _coffer_repository_get_category (self, category_id, cancellable, error);
      if (keys == NULL)
        return FALSE;
      ok = check_category (self, keys, read_data_percent, progress, progress_data, found, cancellable, error);
    }
  else
    {
      cats = coffer_repository_list_categories (self, cancellable, error);
      if (cats == NULL)
        return FALSE;
      for (guint i = 0; i < cats->len && ok; i++)
        {
          CofferCategory *cat = g_ptr_array_index (cats, i);
          CofferCategoryKeys *keys;
          if (!cat->unlocked)
            continue;
          keys = _coffer_repository_get_category (self, cat->id, cancellable, error);
          ok = keys != NULL
               && check_category (self, keys, read_data_percent, progress, progress_data, found, cancellable, error);
        }
    }
  if (!ok)
    return FALSE;
  if (found->len > 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   g_dngettext (GETTEXT_PACKAGE, "The check found %u problem.",
                                "The check found %u problems.", found->len),
                   found->len);
      ok = FALSE;
    }
  if (problems != NULL)
    *problems = g_steal_pointer (&found);
  return ok;
}
