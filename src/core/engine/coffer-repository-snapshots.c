/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A category's index and snapshots: loading and writing them, reading
 * blobs and trees through the index, and browsing (list, find, walk).
 * Above the categories (it unlocks them) and the objects. */
#include <inttypes.h>
#include <string.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-error.h"
#include "coffer-pack.h"
#include "coffer-repository-private.h"

/* Index objects of format version 2 carry their creation time before the
 * zstd frame: "CFIT" | time (i64 LE, microseconds). */
#define INDEX_TIME_MAGIC "CFIT"
#define INDEX_TIME_BYTES 12
#define MAX_INDEX_OBJECT (512 * 1024 * 1024)

static GPtrArray *
list_names (CofferRepository *self, const char *prefix, GCancellable *cancellable, GError **error)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  if (!coffer_store_list (self->store, prefix, _coffer_collect_names, names, cancellable, error))
    {
      g_ptr_array_unref (names);
      return NULL;
    }
  g_ptr_array_sort (names, _coffer_compare_strings);
  return names;
}

static int
compare_snapshot_ptrs (gconstpointer a, gconstpointer b)
{
  return coffer_snapshot_compare (*(CofferSnapshot * const *) a, *(CofferSnapshot * const *) b);
}

static char *
names_digest (GPtrArray *names)
{
  crypto_generichash_state st;
  guint8 out[32];

  crypto_generichash_init (&st, NULL, 0, sizeof out);
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      crypto_generichash_update (&st, (const guint8 *) n, strlen (n) + 1);
    }
  crypto_generichash_final (&st, out, sizeof out);
  return coffer_hex_encode (out, sizeof out);
}

/* The local cache is valid when it was built from exactly these objects
 * (digest): then it becomes keys->index. */
static gboolean
index_load_cache (CofferCategoryKeys *keys, const char *cache_path, const char *digest_path,
                  const char *digest)
{
  g_autofree char *cached_digest = NULL;
  g_autoptr(GError) cache_error = NULL;
  g_auto(GStrv) lines = NULL;
  CofferIndex *index;

  if (!g_file_get_contents (digest_path, &cached_digest, NULL, NULL)
      || !g_str_has_prefix (cached_digest, digest))
    return FALSE;
  index = coffer_index_load (cache_path, &cache_error);
  if (index == NULL)
    {
      g_debug ("index cache unusable, rebuilding: %s", cache_error->message);
      return FALSE;
    }
  lines = g_strsplit (cached_digest, "\n", -1);
  keys->index_names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 1; lines[i] != NULL; i++)
    if (*lines[i] && *lines[i] != '-')
      g_ptr_array_add (keys->index_names, g_strdup (lines[i]));
  keys->index = index;
  return TRUE;
}

static gboolean index_read_object (CofferRepository *self, CofferCategoryKeys *keys, const char *prefix,
                                   const char *name, GHashTable *superseded, GBytes **out_plain,
                                   GCancellable *cancellable, GError **error);

/* The local cache when it was built from some of these objects (names, with
 * prefix): only the objects added since are read and merged into it, so a
 * backup does not parse every index object again after the previous backup
 * added some. Refused (FALSE, nothing changed) when an object the cache
 * holds is gone or is superseded by a new one (a prune or a repack): then
 * the index is rebuilt from all of them. *superseded gets the objects the
 * cache knows to be superseded, plus those the new ones supersede. */
static gboolean
index_load_cache_incremental (CofferRepository *self, CofferCategoryKeys *keys, const char *prefix,
                              GPtrArray *names, const char *cache_path, const char *digest_path,
                              GHashTable **out_superseded, GCancellable *cancellable)
{
  g_autofree char *cached = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GHashTable) live = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) superseded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) fresh = g_ptr_array_new ();
  g_autoptr(GPtrArray) plains = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GPtrArray) index_names = NULL;
  g_autoptr(GError) error = NULL;
  GHashTableIter iter;
  gpointer key;
  gsize plen = strlen (prefix);
  gboolean has_sentinel = FALSE;
  CofferIndex *index;

  if (!g_file_get_contents (digest_path, &cached, NULL, NULL))
    return FALSE;
  lines = g_strsplit (cached, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      if (g_str_equal (lines[i], "-"))
        has_sentinel = TRUE;
      else if (*lines[i] == '-')
        g_hash_table_add (superseded, g_strconcat (prefix, lines[i] + 1, NULL));
      else if (*lines[i])
        g_hash_table_add (live, lines[i]);
    }
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      g_hash_table_add (listed, (gpointer) (name + plen));
      if (!g_hash_table_contains (live, name + plen) && !g_hash_table_contains (superseded, name))
        g_ptr_array_add (fresh, (gpointer) name);
    }
  g_hash_table_iter_init (&iter, live);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (listed, key))
      return FALSE;   /* removed since: a prune */
  if (!has_sentinel)
    return FALSE;     /* written before superseded objects were listed in it */
  for (guint i = 0; i < fresh->len; i++)
    {
      GBytes *plain = NULL;

      if (!index_read_object (self, keys, prefix, g_ptr_array_index (fresh, i), superseded, &plain,
                              cancellable, &error))
        return FALSE;
      g_ptr_array_add (plains, plain);
    }
  g_hash_table_iter_init (&iter, live);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autofree char *full = g_strconcat (prefix, key, NULL);
      if (g_hash_table_contains (superseded, full))
        return FALSE;   /* a new object replaces one the cache holds: a repack */
    }
  index = coffer_index_load (cache_path, NULL);
  if (index == NULL)
    return FALSE;
  index_names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 1; lines[i] != NULL; i++)
    if (*lines[i] && *lines[i] != '-')
      g_ptr_array_add (index_names, g_strdup (lines[i]));
  for (guint i = 0; i < fresh->len; i++)
    {
      const char *name = g_ptr_array_index (fresh, i);
      g_auto(GStrv) sup = NULL;

      if (g_hash_table_contains (superseded, name) || g_ptr_array_index (plains, i) == NULL)
        continue;
      if (!coffer_index_merge (index, g_ptr_array_index (plains, i), &sup, &error))
        {
          coffer_index_free (index);
          return FALSE;
        }
      g_ptr_array_add (index_names, g_strdup (name + plen));
    }
  g_debug ("index of %s: the local cache and %u new objects", keys->id, fresh->len);
  keys->index = index;
  keys->index_names = g_steal_pointer (&index_names);
  *out_superseded = g_steal_pointer (&superseded);
  return TRUE;
}

/* Best effort: a failing cache only costs time next run. The names file:
 * the digest of the listing, the live objects' names, a line "-", and "-"
 * before the name of each object known to be superseded (prefix left out). */
static void
index_save_cache (CofferCategoryKeys *keys, const char *cache_path, const char *digest_path,
                  const char *digest, const char *prefix, GHashTable *superseded)
{
  GString *s;
  GHashTableIter iter;
  gpointer key;

  if (!coffer_index_save (keys->index, cache_path, NULL))
    return;
  s = g_string_new (digest);
  g_string_append_c (s, '\n');
  for (guint i = 0; i < keys->index_names->len; i++)
    g_string_append_printf (s, "%s\n", (char *) g_ptr_array_index (keys->index_names, i));
  g_string_append (s, "-\n");
  g_hash_table_iter_init (&iter, superseded);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_str_has_prefix (key, prefix))
      g_string_append_printf (s, "-%s\n", (char *) key + strlen (prefix));
  g_file_set_contents (digest_path, s->str, s->len, NULL);
  g_string_free (s, TRUE);
}

/* Reads, opens and decompresses one index object into *out_plain (NULL
 * when it is refused as sealed under a retired epoch after its
 * retirement), and adds the objects it supersedes to superseded. */
static gboolean
index_read_object (CofferRepository *self, CofferCategoryKeys *keys, const char *prefix, const char *name,
                   GHashTable *superseded, GBytes **out_plain, GCancellable *cancellable, GError **error)
{
  g_autoptr(GBytes) obj = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(CofferIndex) probe = coffer_index_new ();
  g_auto(GStrv) sup = NULL;
  g_autoptr(GBytes) packed = NULL;
  CofferEpochKeys *ek = NULL;
  gsize sealed_len;
  const guint8 *sealed_data;

  *out_plain = NULL;
  obj = coffer_store_get_limited (self->store, name, COFFER_MAX_INDEX_BYTES,
                                  cancellable, error);
  if (obj == NULL)
    return FALSE;
  sealed = _coffer_repository_open_object_epoch (self, keys, COFFER_OBJECT_INDEX, name, obj, &ek, error);
  if (sealed == NULL)
    return FALSE;
  sealed_data = g_bytes_get_data (sealed, &sealed_len);
  if (sealed_len >= INDEX_TIME_BYTES && memcmp (sealed_data, INDEX_TIME_MAGIC, 4) == 0)
    {
      gint64 time_us;
      char *why = NULL;

      memcpy (&time_us, sealed_data + 4, 8);
      time_us = GINT64_FROM_LE (time_us);
      if (_coffer_epoch_refuses (ek, time_us, name, &why))
        {
          /* Left out as if it did not exist: it could only hide or
           * misplace data, and blobs are verified against their ids. */
          g_hash_table_replace (keys->refused, g_strdup (name), why);
          return TRUE;
        }
      packed = g_bytes_new_from_bytes (sealed, INDEX_TIME_BYTES, sealed_len - INDEX_TIME_BYTES);
    }
  else
    /* Version 1: no creation time, so no retirement check (documented). */
    packed = g_bytes_ref (sealed);
  plain = _coffer_decompress (packed, MAX_INDEX_OBJECT, error);
  if (plain == NULL)
    return FALSE;
  /* First pass only for the supersedes list. */
  if (!coffer_index_merge (probe, plain, &sup, error))
    return FALSE;
  for (guint j = 0; sup != NULL && sup[j] != NULL; j++)
    g_hash_table_add (superseded, g_strdup_printf ("%s%s", prefix, sup[j]));
  *out_plain = g_steal_pointer (&plain);
  return TRUE;
}

CofferIndex *
_coffer_repository_get_index (CofferRepository *self, CofferCategoryKeys *keys,
                              GCancellable *cancellable, GError **error)
{
  GRecMutex *lock = &self->lock;
  g_autofree char *prefix = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) plains = NULL;
  g_autoptr(GHashTable) superseded = NULL;
  g_autoptr(GPtrArray) live = NULL;
  g_autofree char *cache_dir = NULL;
  g_autofree char *cache_path = NULL;
  g_autofree char *digest_path = NULL;
  g_autofree char *digest = NULL;
  CofferIndex *index = NULL;

  g_rec_mutex_lock (lock);
  if (keys->index != NULL)
    {
      g_rec_mutex_unlock (lock);
      return keys->index;
    }

  prefix = g_strdup_printf ("categories/%s/index/", keys->id);
  names = list_names (self, prefix, cancellable, error);
  if (names == NULL)
    goto out;

  cache_dir = coffer_state_get_cache_dir (self->state, keys->id);
  cache_path = g_build_filename (cache_dir, "index.cache", NULL);
  digest_path = g_build_filename (cache_dir, "index.names", NULL);
  digest = names_digest (names);
  g_clear_pointer (&keys->index_listed, g_ptr_array_unref);
  keys->index_listed = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (keys->index_listed,
                     g_strdup ((const char *) g_ptr_array_index (names, i) + strlen (prefix)));
  if (index_load_cache (keys, cache_path, digest_path, digest))
    {
      index = keys->index;
      goto out;
    }
  if (index_load_cache_incremental (self, keys, prefix, names, cache_path, digest_path, &superseded,
                                    cancellable))
    {
      index = keys->index;
      index_save_cache (keys, cache_path, digest_path, digest, prefix, superseded);
      goto out;
    }

  plains = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  superseded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < names->len; i++)
    {
      GBytes *plain;

      if (!index_read_object (self, keys, prefix, g_ptr_array_index (names, i), superseded, &plain,
                              cancellable, error))
        goto out;
      g_ptr_array_add (plains, plain);
    }

  index = coffer_index_new ();
  live = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_auto(GStrv) sup = NULL;

      if (g_hash_table_contains (superseded, name) || g_ptr_array_index (plains, i) == NULL)
        continue;
      if (!coffer_index_merge (index, g_ptr_array_index (plains, i), &sup, error))
        {
          g_clear_pointer (&index, coffer_index_free);
          goto out;
        }
      g_ptr_array_add (live, g_strdup (name + strlen (prefix)));
    }
  keys->index = index;
  keys->index_names = g_steal_pointer (&live);
  index_save_cache (keys, cache_path, digest_path, digest, prefix, superseded);

out:
  g_rec_mutex_unlock (lock);
  return index;
}

void
_coffer_repository_drop_index (CofferRepository *self, CofferCategoryKeys *keys)
{
  GRecMutex *lock = &self->lock;

  g_rec_mutex_lock (lock);
  g_clear_pointer (&keys->index, coffer_index_free);
  g_clear_pointer (&keys->index_names, g_ptr_array_unref);
  g_clear_pointer (&keys->index_listed, g_ptr_array_unref);
  g_rec_mutex_unlock (lock);
}

gboolean
_coffer_repository_write_index (CofferRepository *self, CofferCategoryKeys *keys,
                                CofferIndex *delta, GHashTable *only_packs,
                                const char * const *supersedes, char **out_name,
                                GCancellable *cancellable, GError **error)
{
  g_autoptr(GBytes) plain = coffer_index_serialize (delta, only_packs, supersedes);
  g_autoptr(GBytes) packed = _coffer_compress (plain);
  g_autofree char *id = _coffer_random_name ();
  g_autofree char *name = g_strdup_printf ("categories/%s/index/%s", keys->id, id);
  g_autoptr(GByteArray) timed = g_byte_array_sized_new (INDEX_TIME_BYTES + g_bytes_get_size (packed));
  gint64 now = GINT64_TO_LE (g_get_real_time ());
  g_autoptr(GBytes) obj = NULL;

  /* The creation time lets readers refuse index objects forged later
   * under a retired epoch. */
  g_byte_array_append (timed, (const guint8 *) INDEX_TIME_MAGIC, 4);
  g_byte_array_append (timed, (const guint8 *) &now, 8);
  g_byte_array_append (timed, g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
  obj = _coffer_repository_seal_object (self, keys, COFFER_OBJECT_INDEX, name, timed->data, timed->len);
  if (!_coffer_repository_check_keys_current (self, keys, GINT64_FROM_LE (now), cancellable, error)
      || !_coffer_repository_upgrade_format (self, cancellable, error))
    return FALSE;
  if (!coffer_store_put (self->store, name, obj, COFFER_PUT_CREATE, cancellable, error))
    return FALSE;
  if (out_name != NULL)
    *out_name = g_steal_pointer (&id);
  return TRUE;
}

/* ---- snapshots ---- */

static void
snapshot_free (gpointer data)
{
  coffer_snapshot_free (data);
}

/* Reads and opens one snapshot object. NULL without an error when it is
 * refused (recorded in keys->refused): it names a key epoch its sealer
 * did not hold, or was sealed under a retired epoch after its retirement. */
static CofferSnapshot *
snapshot_read (CofferRepository *self, CofferCategoryKeys *keys, const char *name,
               GCancellable *cancellable, GError **error)
{
  g_autoptr(GBytes) obj = NULL;
  g_autoptr(GBytes) plain = NULL;
  CofferSnapshot *snap;
  CofferEpochKeys *ek = NULL;
  char *why = NULL;

  obj = coffer_store_get_limited (self->store, name, COFFER_MAX_SNAPSHOT_BYTES,
                                  cancellable, error);
  if (obj == NULL)
    return NULL;
  plain = _coffer_repository_open_object_epoch (self, keys, COFFER_OBJECT_SNAPSHOT, name, obj, &ek, error);
  if (plain == NULL)
    return NULL;
  snap = coffer_snapshot_parse (plain, error);
  if (snap == NULL)
    return NULL;
  if (g_strcmp0 (snap->category_id, keys->id) != 0)
    {
      coffer_snapshot_free (snap);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The snapshot %s belongs to another category."), name);
      return NULL;
    }
  /* Its data is read with the keys of the epoch it names, so that epoch
   * must be one its sealer held: not newer than the sealing epoch. */
  if (snap->epoch > ek->epoch || coffer_category_keys_epoch (keys, snap->epoch) == NULL)
    {
      /* Left out like a forgery under a retired epoch, so that whoever
       * kept an old key cannot make the whole list unreadable. */
      g_hash_table_replace (keys->refused, g_strdup (name),
                            g_strdup_printf ("%s was tampered with: it names key epoch %u for its data "
                                             "but is sealed under epoch %u; it is ignored.",
                                             name, snap->epoch, ek->epoch));
      coffer_snapshot_free (snap);
      return NULL;
    }
  if (_coffer_epoch_refuses (ek, snap->time, name, &why))
    {
      /* Not listed: it would otherwise become the newest backup. */
      g_hash_table_replace (keys->refused, g_strdup (name), why);
      coffer_snapshot_free (snap);
      return NULL;
    }
  return snap;
}

/* Forget never removes the newest snapshot, so the highest sequence
 * number can only grow: if it shrank, someone removed backups. */
static gboolean
snapshots_check_highest (CofferRepository *self, CofferCategoryKeys *keys, guint64 highest,
                         GCancellable *cancellable, GError **error)
{
  CofferState *state = self->state;
  g_autofree char *group = g_strdup_printf ("category %s", keys->id);
  guint64 known = coffer_state_get_uint (state, group, "seq");

  if (highest < known)
    {
      g_autoptr(GError) config_error = NULL;

      /* A repository that is not there at all (its folder gone, the
       * drive swapped) is not one that lost its newest backups. */
      if (!coffer_store_stat (self->store, "config", NULL, cancellable,
                              &config_error))
        {
          if (g_error_matches (config_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
            g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE,
                         _("The repository is no longer at this location; it may be on a drive "
                           "that is not connected."));
          else
            g_propagate_error (error, g_steal_pointer (&config_error));
          return FALSE;
        }
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
                   _("The newest backups of category “%s” are missing from the repository "
                     "(this computer has seen backup number %" PRIu64 ", the repository ends at %" PRIu64 "). "
                     "The storage may have been rolled back or tampered with."),
                   keys->info->name, known, highest);
      return FALSE;
    }
  if (highest > known)
    {
      coffer_state_set_uint (state, group, "seq", highest);
      coffer_state_save (state, NULL);
    }
  return TRUE;
}

GPtrArray *
_coffer_repository_load_snapshots (CofferRepository *self, CofferCategoryKeys *keys,
                                   GCancellable *cancellable, GError **error)
{
  g_autofree char *prefix = g_strdup_printf ("categories/%s/snapshots/", keys->id);
  g_autoptr(GPtrArray) names = list_names (self, prefix, cancellable, error);
  g_autoptr(GPtrArray) result = NULL;
  guint64 highest = 0;

  if (names == NULL)
    return NULL;
  result = g_ptr_array_new_with_free_func (snapshot_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autoptr(GError) local_error = NULL;
      CofferSnapshot *snap;

      if (g_str_has_prefix (name + strlen (prefix), "."))
        continue;
      snap = snapshot_read (self, keys, name, cancellable, &local_error);
      if (snap == NULL)
        {
          /* Refused, or forgotten (by another computer) between the
           * listing and now: the newest is never forgotten, and the check
           * of the highest sequence number below still sees one removed on
           * purpose. */
          if (local_error == NULL
              || g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
            continue;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_free (snap->id);
      snap->id = g_strdup (name + strlen (prefix));
      highest = MAX (highest, snap->seq);
      g_ptr_array_add (result, snap);
    }
  g_ptr_array_sort (result, compare_snapshot_ptrs);
  if (!snapshots_check_highest (self, keys, highest, cancellable, error))
    return NULL;
  return g_steal_pointer (&result);
}

const char *
_coffer_repository_write_snapshot (CofferRepository *self, CofferCategoryKeys *keys,
                                   CofferSnapshot *snapshot, GCancellable *cancellable, GError **error)
{
  g_autofree char *id = _coffer_random_name ();
  g_autofree char *name = g_strdup_printf ("categories/%s/snapshots/%s", keys->id, id);
  g_autoptr(GBytes) plain = coffer_snapshot_serialize (snapshot);
  g_autoptr(GBytes) obj = _coffer_repository_seal_object (self, keys, COFFER_OBJECT_SNAPSHOT, name,
                                                          g_bytes_get_data (plain, NULL),
                                                          g_bytes_get_size (plain));
  CofferState *state = self->state;
  g_autofree char *group = g_strdup_printf ("category %s", keys->id);

  /* A long-running session may hold keys another computer has retired
   * since; a snapshot sealed with them after that would be refused. */
  if (!_coffer_repository_check_keys_current (self, keys, snapshot->time, cancellable, error))
    return NULL;
  if (!coffer_store_put (self->store, name, obj, COFFER_PUT_CREATE, cancellable, error))
    return NULL;
  if (snapshot->seq > coffer_state_get_uint (state, group, "seq"))
    {
      coffer_state_set_uint (state, group, "seq", snapshot->seq);
      coffer_state_save (state, NULL);
    }
  /* The id is handed over to the snapshot, not to the caller (callers
   * only test it for NULL; returning a copy leaked it on every backup). */
  g_free (snapshot->id);
  snapshot->id = g_steal_pointer (&id);
  return snapshot->id;
}

GPtrArray *
coffer_repository_list_snapshots (CofferRepository *self, const char *category_id,
                                  GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) all = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);

  if (category_id != NULL)
    {
      CofferCategoryKeys *keys = _coffer_repository_get_category (self, category_id, cancellable, error);
      return keys != NULL ? _coffer_repository_load_snapshots (self, keys, cancellable, error) : NULL;
    }

  {
    g_autoptr(GPtrArray) cats = coffer_repository_list_categories (self, cancellable, error);
    if (cats == NULL)
      return NULL;
    all = g_ptr_array_new_with_free_func (snapshot_free);
    for (guint i = 0; i < cats->len; i++)
      {
        CofferCategory *cat = g_ptr_array_index (cats, i);
        CofferCategoryKeys *keys;
        g_autoptr(GPtrArray) snaps = NULL;

        if (!cat->unlocked)
          continue;
        keys = _coffer_repository_get_category (self, cat->id, cancellable, error);
        if (keys == NULL)
          return NULL;
        snaps = _coffer_repository_load_snapshots (self, keys, cancellable, error);
        if (snaps == NULL)
          return NULL;
        while (snaps->len > 0)
          g_ptr_array_add (all, g_ptr_array_steal_index (snaps, 0));
      }
    g_ptr_array_sort (all, compare_snapshot_ptrs);
  }
  return g_steal_pointer (&all);
}

CofferSnapshot *
coffer_repository_find_snapshot (CofferRepository *self, const char *category_id,
                                 const char *snapshot_id, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) snaps = NULL;
  CofferSnapshot *found = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  g_return_val_if_fail (category_id != NULL, NULL);

  snaps = coffer_repository_list_snapshots (self, category_id, cancellable, error);
  if (snaps == NULL)
    return NULL;
  if (snapshot_id == NULL || g_strcmp0 (snapshot_id, "latest") == 0)
    {
      if (snaps->len > 0)
        return g_ptr_array_steal_index (snaps, snaps->len - 1);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_SNAPSHOT,
                   _("This category has no backups yet."));
      return NULL;
    }
  for (guint i = 0; i < snaps->len; i++)
    {
      CofferSnapshot *s = g_ptr_array_index (snaps, i);
      if (g_str_has_prefix (s->id, snapshot_id))
        {
          if (found != NULL)
            {
              g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                           _("“%s” matches more than one backup; give more characters of its id."), snapshot_id);
              return NULL;
            }
          found = s;
        }
    }
  if (found == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_SNAPSHOT,
                   _("There is no backup with the id “%s” in this category."), snapshot_id);
      return NULL;
    }
  for (guint i = 0; i < snaps->len; i++)
    if (g_ptr_array_index (snaps, i) == found)
      return g_ptr_array_steal_index (snaps, i);
  g_assert_not_reached ();
}

/* ---- blobs and trees ---- */

GBytes *
_coffer_repository_read_blob (CofferRepository *self, CofferCategoryKeys *keys, guint32 epoch,
                              const guint8 id[COFFER_ID_BYTES], CofferBlobType type,
                              GCancellable *cancellable, GError **error)
{
  return _coffer_repository_read_blob_via (self, keys, epoch, id, type, NULL, cancellable, error);
}

GBytes *
_coffer_repository_read_blob_via (CofferRepository *self, CofferCategoryKeys *keys, guint32 epoch,
                                  const guint8 id[COFFER_ID_BYTES], CofferBlobType type,
                                  CofferPackReader *reader, GCancellable *cancellable, GError **error)
{
  CofferIndex *index = _coffer_repository_get_index (self, keys, cancellable, error);
  CofferEpochKeys *ek = coffer_category_keys_epoch (keys, epoch);
  CofferIndexEntry entry;
  g_autofree char *pack = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(GError) last_error = NULL;

  if (index == NULL)
    return NULL;
  if (ek == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("A backup names a key epoch (%u) this category does not have."), epoch);
      return NULL;
    }
  if (!coffer_index_lookup (index, id, &entry) || entry.type != type)
    {
      g_autofree char *hex = coffer_hex_encode (id, COFFER_ID_BYTES);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The repository is missing a piece of data (blob %.16s)."), hex);
      return NULL;
    }
  pack = _coffer_pack_name (keys->id, coffer_index_get_pack_id (index, entry.pack));
  if (reader != NULL)
    sealed = _coffer_pack_reader_get (reader, pack, entry.pack, entry.offset, entry.length,
                                      cancellable, &last_error);
  else
    sealed = coffer_store_get (self->store, pack, entry.offset, entry.length,
                               cancellable, &last_error);
  if (sealed == NULL)
    {
      /* A pack that is gone or shorter than the index says is damage to
       * the repository, not a problem with the connection. */
      if (g_error_matches (last_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND)
          || g_error_matches (last_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The repository is damaged: a piece of data in %s cannot be read (%s)"),
                     pack, last_error->message);
      else
        g_propagate_error (error, g_steal_pointer (&last_error));
      return NULL;
    }
  if (g_bytes_get_size (sealed) != entry.length)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The pack %s is truncated."), pack);
      return NULL;
    }
  /* A snapshot's blobs are all sealed under the epoch it names (backups
   * and re-encryption write only under one epoch; prune copies sealed
   * bytes unchanged): that epoch's keys, and no other, must open it. */
  {
    g_autoptr(GBytes) plain = NULL;
    guint8 check[COFFER_ID_BYTES];
    gsize len;
    const guint8 *data;

    plain = coffer_blob_open (ek->data_key, id, type, g_bytes_get_data (sealed, NULL), entry.length, &last_error);
    if (plain == NULL)
      {
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("A piece of data in %s is damaged or was tampered with: %s"), pack, last_error->message);
        return NULL;
      }
    data = g_bytes_get_data (plain, &len);
    coffer_blob_id (ek->suite, ek->blob_id_key, data, len, check);
    if (sodium_memcmp (check, id, COFFER_ID_BYTES) != 0)
      {
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("A piece of data in %s does not match its id."), pack);
        return NULL;
      }
    return g_steal_pointer (&plain);
  }
}

GPtrArray *
_coffer_repository_read_tree (CofferRepository *self, CofferCategoryKeys *keys, guint32 epoch,
                              const guint8 id[COFFER_ID_BYTES], GCancellable *cancellable, GError **error)
{
  return _coffer_repository_read_tree_via (self, keys, epoch, id, NULL, cancellable, error);
}

GPtrArray *
_coffer_repository_read_tree_via (CofferRepository *self, CofferCategoryKeys *keys, guint32 epoch,
                                  const guint8 id[COFFER_ID_BYTES], CofferPackReader *reader,
                                  GCancellable *cancellable, GError **error)
{
  g_autoptr(GBytes) data = _coffer_repository_read_blob_via (self, keys, epoch, id, COFFER_BLOB_TREE,
                                                             reader, cancellable, error);

  if (data == NULL)
    return NULL;
  return coffer_tree_parse (data, error);
}

static const CofferTreeEntry *
find_entry (GPtrArray *entries, const char *name)
{
  for (guint i = 0; i < entries->len; i++)
    {
      const CofferTreeEntry *e = g_ptr_array_index (entries, i);
      if (strcmp (e->name, name) == 0)
        return e;
    }
  return NULL;
}

/* The tree (entries) of the directory at path inside a snapshot. */
static GPtrArray *
tree_at (CofferRepository *self, CofferCategoryKeys *keys, const CofferSnapshot *snapshot,
         const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) tree = _coffer_repository_read_tree (self, keys, snapshot->epoch, snapshot->tree,
                                                            cancellable, error);
  g_auto(GStrv) parts = NULL;

  if (tree == NULL)
    return NULL;
  parts = g_strsplit (path ? path : "", "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const CofferTreeEntry *e;

      if (parts[i][0] == '\0' || strcmp (parts[i], ".") == 0)
        continue;
      e = find_entry (tree, parts[i]);
      if (e == NULL || e->type != COFFER_NODE_DIR || e->content == NULL || e->content->len != COFFER_ID_BYTES)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                       _("There is no folder “%s” in this backup."), path);
          return NULL;
        }
      {
        GPtrArray *next = _coffer_repository_read_tree (self, keys, snapshot->epoch, e->content->data,
                                                        cancellable, error);
        if (next == NULL)
          return NULL;
        g_ptr_array_unref (tree);
        tree = next;
      }
    }
  return g_steal_pointer (&tree);
}

GPtrArray *
coffer_repository_list_dir (CofferRepository *self, const char *category_id,
                            const CofferSnapshot *snapshot, const char *path,
                            GCancellable *cancellable, GError **error)
{
  CofferCategoryKeys *keys;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  g_return_val_if_fail (snapshot != NULL, NULL);

  keys = _coffer_repository_get_category (self, category_id, cancellable, error);
  if (keys == NULL)
    return NULL;
  return tree_at (self, keys, snapshot, path, cancellable, error);
}

/* A hostile tree cannot make a walk endless or deep: listings that name
 * the next one twice describe 2^n entries, and a chain of listings can nest
 * without end. The walk stops at what the snapshot says it holds (plus the
 * folders on the way to the backed-up paths) and at a depth no real path
 * reaches (PATH_MAX / 2). */
#define WALK_SLACK     4096
#define WALK_MAX_DEPTH 2048

typedef struct
{
  CofferRepository *self;
  CofferCategoryKeys *keys;
  const CofferSnapshot *snapshot;
  CofferWalkFunc    func;
  gpointer          user_data;
  guint64           seen;
} Walk;

static gboolean
walk_tree (Walk *w, GPtrArray *tree, const char *prefix, guint depth, GCancellable *cancellable, GError **error)
{
  if (depth > WALK_MAX_DEPTH)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The backup is damaged: its folders nest deeper than any path can (%u levels)."),
                   WALK_MAX_DEPTH);
      return FALSE;
    }
  for (guint i = 0; i < tree->len; i++)
    {
      const CofferTreeEntry *e = g_ptr_array_index (tree, i);
      g_autofree char *path = g_strconcat (prefix, "/", e->name, NULL);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (++w->seen > w->snapshot->files + w->snapshot->dirs + WALK_SLACK)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       _("The backup is damaged: its folder listings hold more entries than the "
                         "snapshot records (%" PRIu64 ")."),
                       w->snapshot->files + w->snapshot->dirs);
          return FALSE;
        }
      if (!w->func (path, e, w->user_data))
        return TRUE;
      if (e->type == COFFER_NODE_DIR && e->content != NULL && e->content->len == COFFER_ID_BYTES)
        {
          g_autoptr(GPtrArray) sub = _coffer_repository_read_tree (w->self, w->keys, w->snapshot->epoch,
                                                                   e->content->data, cancellable, error);
          if (sub == NULL || !walk_tree (w, sub, path, depth + 1, cancellable, error))
            return FALSE;
        }
    }
  return TRUE;
}

gboolean
coffer_repository_walk (CofferRepository *self, const char *category_id, const CofferSnapshot *snapshot,
                        const char *path, CofferWalkFunc func, gpointer user_data,
                        GCancellable *cancellable, GError **error)
{
  CofferCategoryKeys *keys;
  g_autoptr(GPtrArray) tree = NULL;
  g_autofree char *prefix = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  keys = _coffer_repository_get_category (self, category_id, cancellable, error);
  if (keys == NULL)
    return FALSE;
  tree = tree_at (self, keys, snapshot, path, cancellable, error);
  if (tree == NULL)
    return FALSE;
  prefix = g_strdup (path ? path : "");
  while (g_str_has_suffix (prefix, "/"))
    prefix[strlen (prefix) - 1] = '\0';
  {
    Walk w = { self, keys, snapshot, func, user_data, 0 };
    return walk_tree (&w, tree, prefix, 0, cancellable, error);
  }
}

