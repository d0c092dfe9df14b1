/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The blob index of one category.
 *
 * In memory: a table of 48-byte records sorted by blob id (heap memory, or
 * the memory-mapped cache file right after coffer_index_load) with a fanout
 * table over the first id bits, plus a hash table of records added since the
 * last merge.  When that hash table grows past an eighth of the table the two
 * are merged.  A blob that is also stored in a second pack (two devices
 * uploaded it at once, or prune repacked it) keeps its first location as the
 * primary one; the others are remembered in a small "alternates" set so that
 * removing the primary pack promotes an alternate instead of losing the blob,
 * and so that serialising only new packs still lists it.
 *
 * Formats: docs/FORMAT.md, section "Index". */

#include <string.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-bytes.h"
#include "coffer-index.h"
#include "coffer-error.h"
#include "coffer-variant-private.h"
#include "coffer-variant-writer.h"

#define INDEX_VERSION 1
#define INDEX_TYPE_STRING "(uaaya(ayyuuuu)as)"

#define TYPE_SHIFT 30
#define PACK_MASK  ((1u << TYPE_SHIFT) - 1)
#define MAX_PACKS  PACK_MASK   /* pack numbers are < 2^30 */

#define CACHE_MAGIC "COFFERIX"
#define CACHE_HEADER_SIZE 72
#define MERGE_MIN_PENDING 8192
#define FANOUT_MAX_BITS 16

/* One record, as in memory and in the cache file. Integers little-endian. */
typedef struct
{
  guint8  id[COFFER_ID_BYTES];
  guint32 pack_type;     /* pack number | type << 30 */
  guint32 offset;
  guint32 length;
  guint32 raw_length;
} Record;

G_STATIC_ASSERT (sizeof (Record) == 48);

struct _CofferIndex
{
  GRWLock      lock;

  /* The sorted table: either sorted_heap or a part of map. */
  const Record *sorted;
  gsize         n_sorted;
  Record       *sorted_heap;
  GMappedFile  *map;
  guint32      *fanout;      /* (1 << fanout_bits) + 1 start indices */
  guint         fanout_bits;

  GHashTable   *pending;     /* Record * (owned) -> same; by id */
  GHashTable   *alternates;  /* Record * (owned) -> same; by (id, pack) */

  GPtrArray    *packs;       /* pack number -> guint8[32] (owned) */
  GHashTable   *pack_numbers;/* guint8[32] -> GUINT_TO_POINTER (number + 1) */
};

/* ---- records ---- */

static inline guint32
record_pack (const Record *r)
{
  return GUINT32_FROM_LE (r->pack_type) & PACK_MASK;
}

static inline guint8
record_type (const Record *r)
{
  return GUINT32_FROM_LE (r->pack_type) >> TYPE_SHIFT;
}

static inline void
record_set_pack (Record *r, guint32 pack)
{
  r->pack_type = GUINT32_TO_LE (pack | ((guint32) record_type (r) << TYPE_SHIFT));
}

static void
record_init (Record       *r,
             const guint8 *id,
             guint8        type,
             guint32       pack,
             guint32       offset,
             guint32       length,
             guint32       raw_length)
{
  memcpy (r->id, id, COFFER_ID_BYTES);
  r->pack_type = GUINT32_TO_LE (pack | ((guint32) type << TYPE_SHIFT));
  r->offset = GUINT32_TO_LE (offset);
  r->length = GUINT32_TO_LE (length);
  r->raw_length = GUINT32_TO_LE (raw_length);
}

static void
record_to_entry (const Record *r, CofferIndexEntry *out)
{
  memcpy (out->id, r->id, COFFER_ID_BYTES);
  out->pack = record_pack (r);
  out->type = record_type (r);
  out->offset = GUINT32_FROM_LE (r->offset);
  out->length = GUINT32_FROM_LE (r->length);
  out->raw_length = GUINT32_FROM_LE (r->raw_length);
}

static gboolean
blob_type_valid (guint type)
{
  return type == COFFER_BLOB_DATA || type == COFFER_BLOB_TREE;
}

static int
record_compare (gconstpointer a, gconstpointer b)
{
  return memcmp (((const Record *) a)->id, ((const Record *) b)->id, COFFER_ID_BYTES);
}

static int
record_ptr_compare (gconstpointer a, gconstpointer b)
{
  const Record *ra = *(const Record * const *) a;
  const Record *rb = *(const Record * const *) b;
  int c = memcmp (ra->id, rb->id, COFFER_ID_BYTES);

  if (c != 0)
    return c;
  return record_pack (ra) < record_pack (rb) ? -1 : record_pack (ra) > record_pack (rb);
}

static guint
alternate_hash (gconstpointer key)
{
  return coffer_id_hash (key) ^ (record_pack (key) * 0x9e3779b1u);
}

static gboolean
alternate_equal (gconstpointer a, gconstpointer b)
{
  return coffer_id_equal (a, b) && record_pack (a) == record_pack (b);
}

static void
hex_encode (const guint8 *data, gsize len, char *out)
{
  static const char digits[] = "0123456789abcdef";

  for (gsize i = 0; i < len; i++)
    {
      out[2 * i] = digits[data[i] >> 4];
      out[2 * i + 1] = digits[data[i] & 0xf];
    }
  out[2 * len] = '\0';
}

/* Names of index objects: 1 to 128 lowercase hex digits (they become
 * parts of object paths, so nothing else is accepted). */
static gboolean
object_name_valid (const char *name)
{
  gsize len = 0;

  for (const char *p = name; *p != '\0'; p++, len++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return len >= 1 && len <= 128;
}

/* ---- the sorted table ---- */

static void
rebuild_fanout_locked (CofferIndex *index)
{
  guint bits = CLAMP (g_bit_storage (MAX (index->n_sorted, 1)), 3, FANOUT_MAX_BITS + 2) - 2;
  guint32 n_buckets = 1u << bits;
  gsize i = 0;

  g_free (index->fanout);
  index->fanout = g_new (guint32, n_buckets + 1);
  index->fanout_bits = bits;
  for (guint32 b = 0; b < n_buckets; b++)
    {
      while (i < index->n_sorted)
        {
          const guint8 *id = index->sorted[i].id;
          guint32 prefix = ((guint32) id[0] << 24 | (guint32) id[1] << 16 |
                            (guint32) id[2] << 8 | id[3]) >> (32 - bits);
          if (prefix >= b)
            break;
          i++;
        }
      index->fanout[b] = i;
    }
  index->fanout[n_buckets] = index->n_sorted;
}

static const Record *
sorted_find (const CofferIndex *index, const guint8 *id)
{
  guint32 prefix;
  gsize lo, hi;

  if (index->n_sorted == 0)
    return NULL;

  prefix = ((guint32) id[0] << 24 | (guint32) id[1] << 16 |
            (guint32) id[2] << 8 | id[3]) >> (32 - index->fanout_bits);
  lo = index->fanout[prefix];
  hi = index->fanout[prefix + 1];
  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;
      int c = memcmp (index->sorted[mid].id, id, COFFER_ID_BYTES);

      if (c == 0)
        return &index->sorted[mid];
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NULL;
}

static const Record *
find_locked (const CofferIndex *index, const guint8 *id)
{
  const Record *r = sorted_find (index, id);

  if (r == NULL)
    r = g_hash_table_lookup (index->pending, id);
  return r;
}

static void
set_sorted_locked (CofferIndex *index, Record *heap, gsize n)
{
  g_free (index->sorted_heap);
  g_clear_pointer (&index->map, g_mapped_file_unref);
  index->sorted_heap = heap;
  index->sorted = heap;
  index->n_sorted = n;
  rebuild_fanout_locked (index);
}

/* A second location of a blob that is already indexed at primary. */
static void
note_alternate_locked (CofferIndex *index, const Record *primary, const Record *other)
{
  if (record_pack (primary) == record_pack (other))
    return;
  if (g_hash_table_contains (index->alternates, other))
    return;
  {
    Record *copy = g_memdup2 (other, sizeof *other);
    g_hash_table_add (index->alternates, copy);
  }
}

/* Merges run (sorted by id, may contain equal ids, none of them in pending)
 * into the sorted table. */
static void
merge_run_locked (CofferIndex *index, const Record *run, gsize n_run)
{
  Record *out;
  gsize i = 0, j = 0, o = 0;

  if (n_run == 0)
    return;

  out = g_new (Record, index->n_sorted + n_run);
  while (i < index->n_sorted || j < n_run)
    {
      const Record *next;

      if (j >= n_run ||
          (i < index->n_sorted && memcmp (index->sorted[i].id, run[j].id, COFFER_ID_BYTES) <= 0))
        next = &index->sorted[i++];
      else
        next = &run[j++];

      if (o > 0 && memcmp (out[o - 1].id, next->id, COFFER_ID_BYTES) == 0)
        {
          note_alternate_locked (index, &out[o - 1], next);
          continue;
        }
      out[o++] = *next;
    }

  if (o < index->n_sorted + n_run)
    out = g_renew (Record, out, MAX (o, 1));
  set_sorted_locked (index, out, o);
}

static void
merge_pending_locked (CofferIndex *index)
{
  g_autofree Record *run = NULL;
  GHashTableIter iter;
  gpointer key;
  gsize n = g_hash_table_size (index->pending), k = 0;

  if (n == 0)
    return;

  run = g_new (Record, n);
  g_hash_table_iter_init (&iter, index->pending);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    run[k++] = *(const Record *) key;
  g_hash_table_remove_all (index->pending);

  qsort (run, n, sizeof (Record), record_compare);
  merge_run_locked (index, run, n);
}

/* ---- packs ---- */

static gboolean
pack_number_locked (CofferIndex *index, const guint8 *pack_id, guint32 *out)
{
  gpointer value = g_hash_table_lookup (index->pack_numbers, pack_id);

  if (value != NULL)
    {
      *out = GPOINTER_TO_UINT (value) - 1;
      return TRUE;
    }
  if (index->packs->len >= MAX_PACKS)
    return FALSE;

  {
    guint8 *copy = g_memdup2 (pack_id, COFFER_ID_BYTES);

    *out = index->packs->len;
    g_ptr_array_add (index->packs, copy);
    g_hash_table_insert (index->pack_numbers, copy, GUINT_TO_POINTER (*out + 1));
  }
  return TRUE;
}

static void
rebuild_pack_numbers_locked (CofferIndex *index)
{
  g_hash_table_remove_all (index->pack_numbers);
  for (guint i = 0; i < index->packs->len; i++)
    g_hash_table_insert (index->pack_numbers, index->packs->pdata[i], GUINT_TO_POINTER (i + 1));
}

/* ---- public API ---- */

CofferIndex *
coffer_index_new (void)
{
  CofferIndex *index = g_new0 (CofferIndex, 1);

  g_rw_lock_init (&index->lock);
  index->pending = g_hash_table_new_full (coffer_id_hash, coffer_id_equal, g_free, NULL);
  index->alternates = g_hash_table_new_full (alternate_hash, alternate_equal, g_free, NULL);
  index->packs = g_ptr_array_new_with_free_func (g_free);
  index->pack_numbers = g_hash_table_new (coffer_id_hash, coffer_id_equal);
  rebuild_fanout_locked (index);
  return index;
}

void
coffer_index_free (CofferIndex *index)
{
  if (index == NULL)
    return;
  g_clear_pointer (&index->pending, g_hash_table_unref);
  g_clear_pointer (&index->alternates, g_hash_table_unref);
  g_clear_pointer (&index->pack_numbers, g_hash_table_unref);
  g_clear_pointer (&index->packs, g_ptr_array_unref);
  g_clear_pointer (&index->map, g_mapped_file_unref);
  g_free (index->sorted_heap);
  g_free (index->fanout);
  g_rw_lock_clear (&index->lock);
  g_free (index);
}

static void
add_locked (CofferIndex *index, const Record *rec)
{
  const Record *existing = find_locked (index, rec->id);

  if (existing != NULL)
    {
      note_alternate_locked (index, existing, rec);
      return;
    }

  {
    Record *copy = g_memdup2 (rec, sizeof *rec);
    g_hash_table_add (index->pending, copy);
  }

  if (g_hash_table_size (index->pending) > MAX (MERGE_MIN_PENDING, index->n_sorted / 8))
    merge_pending_locked (index);
}

void
coffer_index_add (CofferIndex   *index,
                  const guint8   id[COFFER_ID_BYTES],
                  CofferBlobType type,
                  const guint8   pack_id[COFFER_ID_BYTES],
                  guint32        offset,
                  guint32        length,
                  guint32        raw_length)
{
  Record rec;
  guint32 pack;

  g_return_if_fail (index != NULL);
  g_return_if_fail (id != NULL);
  g_return_if_fail (pack_id != NULL);
  g_return_if_fail (blob_type_valid (type));

  g_rw_lock_writer_lock (&index->lock);
  if (!pack_number_locked (index, pack_id, &pack))
    {
      g_rw_lock_writer_unlock (&index->lock);
      g_critical ("Too many packs in one index");
      return;
    }
  record_init (&rec, id, type, pack, offset, length, raw_length);
  add_locked (index, &rec);
  g_rw_lock_writer_unlock (&index->lock);
}

gboolean
coffer_index_lookup (CofferIndex      *index,
                     const guint8      id[COFFER_ID_BYTES],
                     CofferIndexEntry *out)
{
  const Record *r;

  g_return_val_if_fail (index != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  g_rw_lock_reader_lock (&index->lock);
  r = find_locked (index, id);
  if (r != NULL && out != NULL)
    record_to_entry (r, out);
  g_rw_lock_reader_unlock (&index->lock);

  return r != NULL;
}

gboolean
coffer_index_contains (CofferIndex  *index,
                       const guint8  id[COFFER_ID_BYTES])
{
  return coffer_index_lookup (index, id, NULL);
}

const guint8 *
coffer_index_get_pack_id (CofferIndex *index,
                          guint32      pack)
{
  const guint8 *ret = NULL;

  g_return_val_if_fail (index != NULL, NULL);

  g_rw_lock_reader_lock (&index->lock);
  if (pack < index->packs->len)
    ret = index->packs->pdata[pack];
  g_rw_lock_reader_unlock (&index->lock);
  return ret;
}

guint
coffer_index_get_n_packs (CofferIndex *index)
{
  guint n;

  g_return_val_if_fail (index != NULL, 0);

  g_rw_lock_reader_lock (&index->lock);
  n = index->packs->len;
  g_rw_lock_reader_unlock (&index->lock);
  return n;
}

guint64
coffer_index_get_n_blobs (CofferIndex *index)
{
  guint64 n;

  g_return_val_if_fail (index != NULL, 0);

  g_rw_lock_reader_lock (&index->lock);
  n = index->n_sorted + g_hash_table_size (index->pending);
  g_rw_lock_reader_unlock (&index->lock);
  return n;
}

/* coffer_index_remove_packs, one step: alternates in removed packs go;
 * the others are renumbered and can replace a primary location in a
 * removed pack. Returns them by id. */
static GHashTable *
renumber_alternates_locked (CofferIndex    *index,
                            const gboolean *removed,
                            const guint32  *renumber)
{
  GHashTable *promotable = g_hash_table_new (coffer_id_hash, coffer_id_equal);
  g_autoptr(GPtrArray) keep = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, index->alternates);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Record *r = key;

      g_hash_table_iter_steal (&iter);
      if (removed[record_pack (r)])
        {
          g_free (r);
          continue;
        }
      record_set_pack (r, renumber[record_pack (r)]);
      g_ptr_array_add (keep, r);
    }
  for (guint k = 0; k < keep->len; k++)
    {
      g_hash_table_add (index->alternates, keep->pdata[k]);
      g_hash_table_insert (promotable, keep->pdata[k], keep->pdata[k]);
    }
  return promotable;
}

void
coffer_index_remove_packs (CofferIndex *index,
                           GHashTable  *pack_ids)
{
  g_autofree gboolean *removed = NULL;
  g_autofree guint32 *renumber = NULL;
  g_autoptr(GPtrArray) new_packs = NULL;
  g_autoptr(GHashTable) promotable = NULL;
  Record *out;
  gsize o = 0;
  guint n_packs, n_removed = 0;

  g_return_if_fail (index != NULL);
  g_return_if_fail (pack_ids != NULL);

  g_rw_lock_writer_lock (&index->lock);

  n_packs = index->packs->len;
  removed = g_new0 (gboolean, n_packs + 1);
  renumber = g_new0 (guint32, n_packs + 1);
  for (guint p = 0; p < n_packs; p++)
    {
      char hex[2 * COFFER_ID_BYTES + 1];

      hex_encode (index->packs->pdata[p], COFFER_ID_BYTES, hex);
      if (g_hash_table_contains (pack_ids, hex))
        {
          removed[p] = TRUE;
          n_removed++;
        }
    }
  if (n_removed == 0)
    {
      g_rw_lock_writer_unlock (&index->lock);
      return;
    }

  merge_pending_locked (index);

  /* New pack numbers: the remaining packs keep their order. */
  new_packs = g_ptr_array_new_with_free_func (g_free);
  for (guint p = 0; p < n_packs; p++)
    {
      if (removed[p])
        continue;
      renumber[p] = new_packs->len;
      g_ptr_array_add (new_packs, g_steal_pointer (&index->packs->pdata[p]));
    }

  promotable = renumber_alternates_locked (index, removed, renumber);

  out = g_new (Record, MAX (index->n_sorted, 1));
  for (gsize i = 0; i < index->n_sorted; i++)
    {
      const Record *r = &index->sorted[i];

      if (removed[record_pack (r)])
        {
          Record *alt = g_hash_table_lookup (promotable, r->id);

          if (alt == NULL)
            continue;
          g_hash_table_remove (promotable, alt->id);
          g_hash_table_steal (index->alternates, alt);
          out[o++] = *alt;
          g_free (alt);  /* other alternates of the same blob stay */
          continue;
        }
      out[o] = *r;
      record_set_pack (&out[o], renumber[record_pack (r)]);
      o++;
    }

  g_ptr_array_unref (index->packs);
  index->packs = g_steal_pointer (&new_packs);
  rebuild_pack_numbers_locked (index);
  set_sorted_locked (index, out, o);

  g_rw_lock_writer_unlock (&index->lock);
}

/* Alternates sorted by (id, pack). */
static GPtrArray *
sorted_alternates_locked (CofferIndex *index)
{
  GPtrArray *alts = g_ptr_array_sized_new (g_hash_table_size (index->alternates));
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, index->alternates);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (alts, key);
  g_ptr_array_sort (alts, record_ptr_compare);
  return alts;
}

typedef void (*RecordFunc) (const Record *r, gpointer user_data);

/* All records in id order, alternates right after their primary. */
static void
walk_locked (CofferIndex *index, RecordFunc func, gpointer user_data)
{
  g_autoptr(GPtrArray) alts = sorted_alternates_locked (index);
  guint a = 0;

  for (gsize i = 0; i < index->n_sorted; i++)
    {
      const Record *r = &index->sorted[i];

      func (r, user_data);
      while (a < alts->len && memcmp (((Record *) alts->pdata[a])->id, r->id, COFFER_ID_BYTES) <= 0)
        {
          const Record *alt = alts->pdata[a++];

          if (memcmp (alt->id, r->id, COFFER_ID_BYTES) == 0)
            func (alt, user_data);
        }
    }
}

typedef struct
{
  CofferIndex           *index;
  CofferIndexForeachFunc func;
  gpointer               user_data;
} ForeachData;

static void
foreach_cb (const Record *r, gpointer user_data)
{
  ForeachData *data = user_data;
  CofferIndexEntry entry;

  record_to_entry (r, &entry);
  data->func (&entry, data->index->packs->pdata[entry.pack], data->user_data);
}

void
coffer_index_foreach (CofferIndex           *index,
                      CofferIndexForeachFunc func,
                      gpointer               user_data)
{
  ForeachData data = { index, func, user_data };

  g_return_if_fail (index != NULL);
  g_return_if_fail (func != NULL);

  g_rw_lock_writer_lock (&index->lock);
  merge_pending_locked (index);
  g_rw_lock_writer_unlock (&index->lock);

  /* func must not call back into this index (it holds the reader lock). */
  g_rw_lock_reader_lock (&index->lock);
  walk_locked (index, foreach_cb, &data);
  g_rw_lock_reader_unlock (&index->lock);
}

/* ---- index objects ---- */

/* The GVariant normal form of INDEX_TYPE_STRING, little-endian, written
 * directly (docs/FORMAT.md "Index"): GVariantBuilder made seven GVariants
 * per entry, ~700 bytes of heap each, ~100 MB at a checkpoint of a
 * many-small-files backup (docs/PERFORMANCE.md "Memory per file"). Every
 * entry (ayyuuuu) has a 32-byte id, so it is 53 bytes: id, type, 3 zero
 * bytes, four u32, one framing offset (32); entries start 4-aligned. */
#define ENTRY_BYTES  53
#define ENTRY_STRIDE 56

typedef struct
{
  CofferIndex     *index;
  const gboolean  *include;     /* per local pack number */
  gint64          *object_pack; /* local -> object pack number, -1 unset */
  GPtrArray       *packs;       /* object pack number -> id (borrowed) */
  GByteArray      *entries;     /* the a(ayyuuuu) body so far */
} SerializeData;

static void
serialize_cb (const Record *r, gpointer user_data)
{
  SerializeData *data = user_data;
  GByteArray *out = data->entries;
  guint32 pack = record_pack (r);

  if (!data->include[pack])
    return;
  if (data->object_pack[pack] < 0)
    {
      data->object_pack[pack] = data->packs->len;
      g_ptr_array_add (data->packs, data->index->packs->pdata[pack]);
    }
  if (out->len > 0)
    _coffer_gvw_put_zeros (out, ENTRY_STRIDE - ENTRY_BYTES);
  g_byte_array_append (out, r->id, COFFER_ID_BYTES);
  _coffer_gvw_put_le (out, record_type (r), 1);
  _coffer_gvw_put_zeros (out, 3);
  _coffer_gvw_put_le (out, (guint32) data->object_pack[pack], 4);
  _coffer_gvw_put_le (out, GUINT32_FROM_LE (r->offset), 4);
  _coffer_gvw_put_le (out, GUINT32_FROM_LE (r->length), 4);
  _coffer_gvw_put_le (out, GUINT32_FROM_LE (r->raw_length), 4);
  _coffer_gvw_put_le (out, COFFER_ID_BYTES, 1);
}

/* coffer_index_serialize, last step: (u aay a(ayyuuuu) as) around the
 * entries' body. */
static GBytes *
serialize_object (GPtrArray          *packs,
                  GByteArray         *entries,
                  const char * const *supersedes)
{
  gsize n_entries = entries->len == 0 ? 0 : (entries->len - ENTRY_BYTES) / ENTRY_STRIDE + 1;
  gsize n_strings = supersedes != NULL ? g_strv_length ((char **) supersedes) : 0;
  g_autofree gsize *ends = g_new (gsize, MAX (MAX (n_entries, packs->len), MAX (n_strings, 1)));
  GByteArray *out = g_byte_array_sized_new (16 + packs->len * 36 + entries->len + n_entries * 4);
  gsize tuple_ends[2];
  gsize start;

  _coffer_gvw_put_le (out, INDEX_VERSION, 4);
  start = out->len;
  for (guint p = 0; p < packs->len; p++)
    {
      g_byte_array_append (out, packs->pdata[p], COFFER_ID_BYTES);
      ends[p] = out->len - start;
    }
  _coffer_gvw_put_offsets (out, out->len - start, ends, packs->len, FALSE);
  tuple_ends[0] = out->len;

  _coffer_gvw_pad_to (out, 0, 4);
  start = out->len;
  g_byte_array_append (out, entries->data, entries->len);
  for (gsize i = 0; i < n_entries; i++)
    ends[i] = i * ENTRY_STRIDE + ENTRY_BYTES;
  _coffer_gvw_put_offsets (out, entries->len, ends, n_entries, FALSE);
  tuple_ends[1] = out->len;

  start = out->len;
  for (gsize i = 0; i < n_strings; i++)
    {
      g_byte_array_append (out, (const guint8 *) supersedes[i], strlen (supersedes[i]) + 1);
      ends[i] = out->len - start;
    }
  _coffer_gvw_put_offsets (out, out->len - start, ends, n_strings, FALSE);

  _coffer_gvw_put_offsets (out, out->len, tuple_ends, 2, TRUE);
  return g_byte_array_free_to_bytes (out);
}

GBytes *
coffer_index_serialize (CofferIndex        *index,
                        GHashTable         *only_packs,
                        const char * const *supersedes)
{
  g_autofree gboolean *include = NULL;
  g_autofree gint64 *object_pack = NULL;
  g_autoptr(GPtrArray) packs = NULL;
  g_autoptr(GByteArray) entries = NULL;
  SerializeData data;
  guint n_packs;
  GBytes *bytes;

  g_return_val_if_fail (index != NULL, NULL);
  for (guint i = 0; supersedes != NULL && supersedes[i] != NULL; i++)
    g_return_val_if_fail (object_name_valid (supersedes[i]), NULL);

  g_rw_lock_writer_lock (&index->lock);
  merge_pending_locked (index);

  n_packs = index->packs->len;
  include = g_new0 (gboolean, n_packs + 1);
  object_pack = g_new (gint64, n_packs + 1);
  for (guint p = 0; p < n_packs; p++)
    {
      object_pack[p] = -1;
      if (only_packs == NULL)
        include[p] = TRUE;
      else
        {
          char hex[2 * COFFER_ID_BYTES + 1];

          hex_encode (index->packs->pdata[p], COFFER_ID_BYTES, hex);
          include[p] = g_hash_table_contains (only_packs, hex);
        }
    }

  packs = g_ptr_array_new ();
  entries = g_byte_array_new ();
  data = (SerializeData) { index, include, object_pack, packs, entries };
  walk_locked (index, serialize_cb, &data);
  /* The pack ids are the index's own: copy them out before unlocking. */
  bytes = serialize_object (packs, entries, supersedes);

  g_rw_lock_writer_unlock (&index->lock);
  return bytes;
}

/* Reading index objects without GVariant. g_variant_is_normal_form cost
 * ~85 000 instructions per blob entry (450 M for an object of 5 300
 * entries, docs/PERFORMANCE.md "Reading index objects"): a new computer
 * reading a million-file repository's index spent most of a minute on it.
 * read_fast accepts exactly the normal form of INDEX_TYPE_STRING in which
 * every pack id and blob id is 32 bytes (the only index objects that
 * coffer_index_merge accepts at all, and what coffer_index_serialize
 * writes); anything else goes the GVariant way, which decides and names
 * the problem. /index/fast-read-agrees and fuzz-index check that both
 * ways agree on every input. */
typedef struct
{
  guint32       version;
  const guint8 *packs;       /* n_packs ids, 32 bytes each, contiguous */
  gsize         n_packs;
  const guint8 *entries;     /* entry i at entries + i * ENTRY_STRIDE */
  gsize         n_entries;
  GVariant     *names;       /* "as" */
} FastIndex;

static gboolean fast_read_enabled = TRUE;
static guint fast_reads;   /* atomic */

void
_coffer_index_set_fast_read (gboolean enabled)
{
  fast_read_enabled = enabled;
}

guint
_coffer_index_get_fast_reads (void)
{
  return g_atomic_int_get (&fast_reads);
}

/* The size of a framing offset in a container of size bytes. */
static gsize
offset_size (gsize size)
{
  if (size == 0)
    return 0;
  if (size <= G_MAXUINT8)
    return 1;
  if (size <= G_MAXUINT16)
    return 2;
  if (size <= G_MAXUINT32)
    return 4;
  return 8;
}

static gsize
read_offset (const guint8 *p, gsize o)
{
  guint64 v = 0;

  for (gsize i = 0; i < o; i++)
    v |= (guint64) p[i] << (8 * i);
  return v > G_MAXSIZE ? G_MAXSIZE : (gsize) v;
}

/* An array of variable-size elements whose element i must end at
 * first_end + i * stride: the number of elements, or FALSE if the
 * framing is anything else. */
static gboolean
fast_array (const guint8 *a, gsize n, gsize first_end, gsize stride, gsize *n_elements)
{
  gsize o = offset_size (n);
  gsize table, k;

  *n_elements = 0;
  if (n == 0)
    return TRUE;
  if (n < o)
    return FALSE;
  table = read_offset (a + n - o, o);
  if (table > n - o || (n - table) % o != 0)
    return FALSE;
  k = (n - table) / o;
  if (table != first_end + (k - 1) * stride)
    return FALSE;
  for (gsize i = 0; i < k; i++)
    if (read_offset (a + table + i * o, o) != first_end + i * stride)
      return FALSE;
  *n_elements = k;
  return TRUE;
}

static gboolean
all_zero (const guint8 *p, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (p[i] != 0)
      return FALSE;
  return TRUE;
}

static gboolean
read_fast (GBytes *plaintext, FastIndex *out)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (plaintext, &size);
  gsize o = offset_size (size);
  gsize framing, end_packs, start_entries, end_entries;
  g_autoptr(GVariant) names = NULL;

  memset (out, 0, sizeof *out);
  if (!fast_read_enabled || size < 4 + 2 * o)
    return FALSE;
  framing = size - 2 * o;
  /* A tuple's framing offsets are stored last member first. */
  end_packs = read_offset (d + size - o, o);
  end_entries = read_offset (d + size - 2 * o, o);
  if (end_packs < 4 || end_packs > framing)
    return FALSE;
  start_entries = (end_packs + 3) & ~(gsize) 3;
  if (start_entries > end_entries || end_entries > framing
      || !all_zero (d + end_packs, start_entries - end_packs))
    return FALSE;

  /* aay: every id 32 bytes. */
  if (!fast_array (d + 4, end_packs - 4, COFFER_ID_BYTES, COFFER_ID_BYTES, &out->n_packs))
    return FALSE;
  /* a(ayyuuuu): entries of 53 bytes 4-aligned, each with its id's end (32)
   * as its framing offset, zeros in the padding after the type and after
   * the entry. */
  if (!fast_array (d + start_entries, end_entries - start_entries, ENTRY_BYTES, ENTRY_STRIDE,
                   &out->n_entries))
    return FALSE;
  for (gsize i = 0; i < out->n_entries; i++)
    {
      const guint8 *e = d + start_entries + i * ENTRY_STRIDE;

      if (!all_zero (e + 33, 3) || e[52] != COFFER_ID_BYTES
          || (i + 1 < out->n_entries && !all_zero (e + ENTRY_BYTES, ENTRY_STRIDE - ENTRY_BYTES)))
        return FALSE;
    }
  /* as: few strings, GVariant checks them. */
  names = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_STRING_ARRAY, d + end_entries,
                                                       framing - end_entries, FALSE, NULL, NULL));
  if (!g_variant_is_normal_form (names))
    return FALSE;

  out->version = d[0] | d[1] << 8 | d[2] << 16 | (guint32) d[3] << 24;
  out->packs = d + 4;
  out->entries = d + start_entries;
  out->names = g_steal_pointer (&names);
  g_atomic_int_inc (&fast_reads);
  return TRUE;
}

static guint32
entry_u32 (const guint8 *e, gsize at)
{
  return e[at] | e[at + 1] << 8 | e[at + 2] << 16 | (guint32) e[at + 3] << 24;
}

static gboolean
corrupt (GError **error, const char *what)
{
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("An index object of the repository is damaged (%s)."), what);
  return FALSE;
}

/* coffer_index_merge, step 1: the entries of an index object as records
 * (pack numbers still those of the object). */
static Record *
index_read_entries (GVariant  *entries,
                    gsize      n_packs,
                    GError   **error)
{
  gsize n_entries = g_variant_n_children (entries);
  g_autofree Record *run = g_new (Record, MAX (n_entries, 1));

  for (gsize i = 0; i < n_entries; i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (entries, i);
      g_autoptr(GVariant) id = NULL;
      guint8 type;
      guint32 pack, offset, length, raw_length;

      g_variant_get (entry, "(@ayyuuuu)", &id, &type, &pack, &offset, &length, &raw_length);
      if (g_variant_get_size (id) != COFFER_ID_BYTES)
        {
          corrupt (error, _("bad blob id"));
          return NULL;
        }
      if (!blob_type_valid (type))
        {
          corrupt (error, _("unknown blob type"));
          return NULL;
        }
      if (pack >= n_packs)
        {
          corrupt (error, _("pack number out of range"));
          return NULL;
        }
      record_init (&run[i], g_variant_get_data (id), type, pack, offset, length, raw_length);
    }
  return g_steal_pointer (&run);
}

/* Step 2: the validated records added to the index, their pack numbers
 * turned into the index's own. pack_ids: n_packs ids of 32 bytes, one
 * after the other (as both an object's normal form and read_fast have
 * them). */
static gboolean
index_add_run (CofferIndex   *index,
               const guint8  *pack_ids,
               gsize          n_packs,
               Record        *run,
               gsize          n_entries,
               GError       **error)
{
  g_autofree guint32 *local_pack = NULL;

  g_rw_lock_writer_lock (&index->lock);
  local_pack = g_new (guint32, MAX (n_packs, 1));
  for (gsize i = 0; i < n_packs; i++)
    {
      if (!pack_number_locked (index, pack_ids + i * COFFER_ID_BYTES, &local_pack[i]))
        {
          g_rw_lock_writer_unlock (&index->lock);
          return corrupt (error, _("too many packs"));
        }
    }
  for (gsize i = 0; i < n_entries; i++)
    record_set_pack (&run[i], local_pack[record_pack (&run[i])]);

  if (n_entries < 1024)
    {
      for (gsize i = 0; i < n_entries; i++)
        add_locked (index, &run[i]);
    }
  else
    {
      /* Large objects are merged into the sorted table in one pass. */
      merge_pending_locked (index);
      qsort (run, n_entries, sizeof (Record), record_compare);
      merge_run_locked (index, run, n_entries);
    }
  g_rw_lock_writer_unlock (&index->lock);
  return TRUE;
}

static gboolean
check_version (guint32 version, GError **error)
{
  if (version == INDEX_VERSION)
    return TRUE;
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_UNSUPPORTED_VERSION,
               _("An index object has version %u, which this version of Coffer does not support."),
               version);
  return FALSE;
}

/* The names an object supersedes, checked; NULL (error set) if one is bad. */
static GStrv
read_names (GVariant *names, GError **error)
{
  gsize n_names = g_variant_n_children (names);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (gsize i = 0; i < n_names; i++)
    {
      const char *name;

      g_variant_get_child (names, i, "&s", &name);
      if (!object_name_valid (name))
        {
          corrupt (error, _("bad object name"));
          return NULL;
        }
      g_strv_builder_add (builder, name);
    }
  return g_strv_builder_end (builder);
}

/* Step 1 on what read_fast found (the same checks as index_read_entries). */
static Record *
fast_read_entries (const FastIndex *fast, GError **error)
{
  g_autofree Record *run = g_new (Record, MAX (fast->n_entries, 1));

  for (gsize i = 0; i < fast->n_entries; i++)
    {
      const guint8 *e = fast->entries + i * ENTRY_STRIDE;
      guint8 type = e[32];
      guint32 pack = entry_u32 (e, 36);

      if (!blob_type_valid (type))
        {
          corrupt (error, _("unknown blob type"));
          return NULL;
        }
      if (pack >= fast->n_packs)
        {
          corrupt (error, _("pack number out of range"));
          return NULL;
        }
      record_init (&run[i], e, type, pack, entry_u32 (e, 40), entry_u32 (e, 44), entry_u32 (e, 48));
    }
  return g_steal_pointer (&run);
}

static gboolean
merge_fast (CofferIndex  *index,
            FastIndex    *fast,
            char       ***supersedes,
            GError      **error)
{
  g_autoptr(GVariant) names = g_steal_pointer (&fast->names);
  g_autofree Record *run = NULL;
  g_auto(GStrv) names_read = NULL;

  if (!check_version (fast->version, error))
    return FALSE;
  if (fast->n_packs > MAX_PACKS)
    return corrupt (error, _("too many packs"));
  run = fast_read_entries (fast, error);
  if (run == NULL)
    return FALSE;
  names_read = read_names (names, error);
  if (names_read == NULL)
    return FALSE;
  if (!index_add_run (index, fast->packs, fast->n_packs, run, fast->n_entries, error))
    return FALSE;
  if (supersedes != NULL)
    *supersedes = g_steal_pointer (&names_read);
  return TRUE;
}

gboolean
coffer_index_merge (CofferIndex  *index,
                    GBytes       *plaintext,
                    char       ***supersedes,
                    GError      **error)
{
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) packs = NULL;
  g_autoptr(GVariant) entries = NULL;
  g_autoptr(GVariant) names = NULL;
  g_autofree Record *run = NULL;
  g_auto(GStrv) names_read = NULL;
  FastIndex fast;
  guint32 version;
  gsize n_packs, n_entries;

  g_return_val_if_fail (index != NULL, FALSE);
  g_return_val_if_fail (plaintext != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (supersedes != NULL)
    *supersedes = NULL;

  if (read_fast (plaintext, &fast))
    return merge_fast (index, &fast, supersedes, error);

  v = _coffer_variant_new_untrusted (G_VARIANT_TYPE (INDEX_TYPE_STRING), plaintext);
  if (v == NULL)
    return corrupt (error, _("not a valid index structure"));

  g_variant_get_child (v, 0, "u", &version);
  if (!check_version (version, error))
    return FALSE;

  packs = g_variant_get_child_value (v, 1);
  entries = g_variant_get_child_value (v, 2);
  names = g_variant_get_child_value (v, 3);
  n_packs = g_variant_n_children (packs);
  n_entries = g_variant_n_children (entries);

  if (n_packs > MAX_PACKS)
    return corrupt (error, _("too many packs"));
  for (gsize i = 0; i < n_packs; i++)
    {
      g_autoptr(GVariant) id = g_variant_get_child_value (packs, i);

      if (g_variant_get_size (id) != COFFER_ID_BYTES)
        return corrupt (error, _("bad pack id"));
    }

  run = index_read_entries (entries, n_packs, error);
  if (run == NULL)
    return FALSE;
  names_read = read_names (names, error);
  if (names_read == NULL)
    return FALSE;

  /* Everything is valid: add it. In normal form, ids that are all 32
   * bytes long lie one after the other. */
  if (!index_add_run (index, n_packs > 0 ? g_variant_get_data (packs) : NULL, n_packs, run, n_entries,
                      error))
    return FALSE;

  if (supersedes != NULL)
    *supersedes = g_steal_pointer (&names_read);
  return TRUE;
}

/* ---- the local cache file ----
 *
 * header (72 bytes): "COFFERIX" | u32 version 1 | u32 record size 48 |
 *   u64 n_packs | u64 n_records | u64 n_alternates |
 *   BLAKE2b-256 of everything after the header
 * pack ids (32 bytes each) | records sorted by id | alternate records */

typedef struct
{
  char    magic[8];
  guint32 version;
  guint32 record_size;
  guint64 n_packs;
  guint64 n_records;
  guint64 n_alternates;
  guint8  checksum[32];
} CacheHeader;

G_STATIC_ASSERT (sizeof (CacheHeader) == CACHE_HEADER_SIZE);

gboolean
coffer_index_save (CofferIndex  *index,
                   const char   *path,
                   GError      **error)
{
  g_autoptr(GByteArray) buf = NULL;
  g_autoptr(GPtrArray) alts = NULL;
  CacheHeader header;
  gsize body;

  g_return_val_if_fail (index != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  g_rw_lock_writer_lock (&index->lock);
  merge_pending_locked (index);

  alts = sorted_alternates_locked (index);
  body = (gsize) index->packs->len * COFFER_ID_BYTES +
         (index->n_sorted + alts->len) * sizeof (Record);
  buf = g_byte_array_sized_new (CACHE_HEADER_SIZE + body);
  g_byte_array_set_size (buf, CACHE_HEADER_SIZE);
  for (guint p = 0; p < index->packs->len; p++)
    g_byte_array_append (buf, index->packs->pdata[p], COFFER_ID_BYTES);
  g_byte_array_append (buf, (const guint8 *) index->sorted, index->n_sorted * sizeof (Record));
  for (guint a = 0; a < alts->len; a++)
    g_byte_array_append (buf, alts->pdata[a], sizeof (Record));

  memset (&header, 0, sizeof header);
  memcpy (header.magic, CACHE_MAGIC, sizeof header.magic);
  header.version = GUINT32_TO_LE (1);
  header.record_size = GUINT32_TO_LE (sizeof (Record));
  header.n_packs = GUINT64_TO_LE (index->packs->len);
  header.n_records = GUINT64_TO_LE (index->n_sorted);
  header.n_alternates = GUINT64_TO_LE (alts->len);
  g_rw_lock_writer_unlock (&index->lock);

  crypto_generichash (header.checksum, sizeof header.checksum,
                      buf->data + CACHE_HEADER_SIZE, buf->len - CACHE_HEADER_SIZE, NULL, 0);
  memcpy (buf->data, &header, sizeof header);

  return g_file_set_contents_full (path, (const char *) buf->data, buf->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static CofferIndex *
cache_corrupt (const char *path, const char *what, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);

  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("The index cache file “%s” is damaged (%s)."), display, what);
  return NULL;
}

CofferIndex *
coffer_index_load (const char  *path,
                   GError     **error)
{
  g_autoptr(GMappedFile) map = NULL;
  g_autoptr(CofferIndex) index = NULL;
  const guint8 *data;
  const Record *records, *alts;
  CacheHeader header;
  guint8 checksum[32];
  guint64 n_packs, n_records, n_alts;
  gsize size, body;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  map = g_mapped_file_new (path, FALSE, error);
  if (map == NULL)
    return NULL;
  data = (const guint8 *) g_mapped_file_get_contents (map);
  size = g_mapped_file_get_length (map);

  if (size < CACHE_HEADER_SIZE || data == NULL)
    return cache_corrupt (path, _("truncated"), error);
  memcpy (&header, data, sizeof header);
  if (memcmp (header.magic, CACHE_MAGIC, 8) != 0)
    return cache_corrupt (path, _("not an index cache"), error);
  if (GUINT32_FROM_LE (header.version) != 1 ||
      GUINT32_FROM_LE (header.record_size) != sizeof (Record))
    return cache_corrupt (path, _("unknown version"), error);

  n_packs = GUINT64_FROM_LE (header.n_packs);
  n_records = GUINT64_FROM_LE (header.n_records);
  n_alts = GUINT64_FROM_LE (header.n_alternates);
  body = size - CACHE_HEADER_SIZE;
  if (n_packs > MAX_PACKS || n_packs > body / COFFER_ID_BYTES ||
      n_records > body / sizeof (Record) || n_alts > body / sizeof (Record) ||
      n_packs * COFFER_ID_BYTES + (n_records + n_alts) * sizeof (Record) != body)
    return cache_corrupt (path, _("wrong size"), error);

  crypto_generichash (checksum, sizeof checksum, data + CACHE_HEADER_SIZE, body, NULL, 0);
  if (sodium_memcmp (checksum, header.checksum, sizeof checksum) != 0)
    return cache_corrupt (path, _("checksum mismatch"), error);

  index = coffer_index_new ();
  for (guint64 p = 0; p < n_packs; p++)
    {
      const guint8 *id = data + CACHE_HEADER_SIZE + p * COFFER_ID_BYTES;
      guint32 number;

      if (g_hash_table_contains (index->pack_numbers, id))
        return cache_corrupt (path, _("duplicate pack"), error);
      pack_number_locked (index, id, &number);
    }

  G_STATIC_ASSERT (CACHE_HEADER_SIZE % 8 == 0);
  records = (const Record *) (gconstpointer) (data + CACHE_HEADER_SIZE + n_packs * COFFER_ID_BYTES);
  alts = records + n_records;
  for (guint64 i = 0; i < n_records; i++)
    {
      if (!blob_type_valid (record_type (&records[i])) || record_pack (&records[i]) >= n_packs)
        return cache_corrupt (path, _("bad record"), error);
      if (i > 0 && memcmp (records[i - 1].id, records[i].id, COFFER_ID_BYTES) >= 0)
        return cache_corrupt (path, _("records out of order"), error);
    }

  index->map = g_steal_pointer (&map);
  index->sorted = records;
  index->n_sorted = n_records;
  rebuild_fanout_locked (index);

  for (guint64 i = 0; i < n_alts; i++)
    {
      const Record *primary;

      if (!blob_type_valid (record_type (&alts[i])) || record_pack (&alts[i]) >= n_packs)
        return cache_corrupt (path, _("bad record"), error);
      primary = sorted_find (index, alts[i].id);
      if (primary == NULL)
        return cache_corrupt (path, _("alternate without a primary record"), error);
      note_alternate_locked (index, primary, &alts[i]);
    }

  return g_steal_pointer (&index);
}
