/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Whole packs read once for a restore (coffer-pack-reader.h). */
#include <string.h>

#include "coffer-buffer-pool.h"
#include "coffer-pack-reader.h"

#define WHOLE_READS_PER_PACK 2
/* Buffers whole reads go into, kept for the next one (a window is usually
 * freed just before the next is read, so one spare is reused over and
 * over): docs/PERFORMANCE.md "Restore buffers". */
#define SPARE_BUFFERS 1
#define BUFFER_ROUNDING (1024 * 1024)

typedef enum
{
  WINDOW_READING,
  WINDOW_READY,
} WindowState;

typedef struct
{
  guint32     pack;
  char       *pack_name; /* checked too: bytes come only from the pack asked for */
  guint64     start;
  guint64     end;
  WindowState state;
  GBytes     *data;      /* READY: end - start bytes */
} Window;

/* What the index says about one pack, and what was read of it. */
typedef struct
{
  guint32 start;        /* first byte of its first indexed blob */
  guint32 end;          /* last byte + 1 of its last indexed blob */
  guint32 n_blobs;
  guint32 alone;        /* blobs read alone so far */
  guint32 whole_reads;  /* windows started */
} PackInfo;

struct _CofferPackReader
{
  CofferStore *store;
  gboolean     reads_most;
  GMutex       lock;        /* everything below */
  GCond        cond;        /* a window was read (or failed) */
  GQueue       windows;     /* Window *, most recently used first */
  CofferBufferPool *pool;
  guint        max_windows;
  PackInfo    *packs;       /* by index pack number */
  guint        n_packs;
  guint64      requests;
  guint64      bytes;
};

static void
window_free (Window *w)
{
  g_free (w->pack_name);
  g_clear_pointer (&w->data, g_bytes_unref);
  g_free (w);
}

static void
note_blob (const CofferIndexEntry *entry, const guint8 *pack_id, gpointer user_data)
{
  CofferPackReader *reader = user_data;
  PackInfo *p;
  guint64 end = (guint64) entry->offset + entry->length;

  (void) pack_id;
  if (entry->pack >= reader->n_packs || end > G_MAXUINT32)
    return;
  p = &reader->packs[entry->pack];
  if (p->n_blobs == 0 || entry->offset < p->start)
    p->start = entry->offset;
  if (end > p->end)
    p->end = (guint32) end;
  p->n_blobs++;
}

CofferPackReader *
_coffer_pack_reader_new (CofferStore *store, CofferIndex *index, guint max_windows, gboolean reads_most)
{
  CofferPackReader *reader;

  g_return_val_if_fail (COFFER_IS_STORE (store), NULL);
  g_return_val_if_fail (index != NULL, NULL);
  g_return_val_if_fail (max_windows > 0, NULL);

  reader = g_new0 (CofferPackReader, 1);
  reader->store = g_object_ref (store);
  reader->reads_most = reads_most;
  g_mutex_init (&reader->lock);
  g_cond_init (&reader->cond);
  g_queue_init (&reader->windows);
  reader->pool = _coffer_buffer_pool_new (SPARE_BUFFERS, SPARE_BUFFERS * (gsize) COFFER_PACK_READER_MAX_WINDOW,
                                          BUFFER_ROUNDING);
  reader->max_windows = max_windows;
  reader->n_packs = coffer_index_get_n_packs (index);
  reader->packs = g_new0 (PackInfo, MAX (reader->n_packs, 1));
  coffer_index_foreach (index, note_blob, reader);
  return reader;
}

void
_coffer_pack_reader_free (CofferPackReader *reader)
{
  if (reader == NULL)
    return;
  g_queue_clear_full (&reader->windows, (GDestroyNotify) window_free);
  _coffer_buffer_pool_free (reader->pool);
  g_free (reader->packs);
  g_cond_clear (&reader->cond);
  g_mutex_clear (&reader->lock);
  g_object_unref (reader->store);
  g_free (reader);
}

void
_coffer_pack_reader_get_stats (CofferPackReader *reader, guint64 *requests, guint64 *bytes)
{
  g_return_if_fail (reader != NULL);
  g_mutex_lock (&reader->lock);
  if (requests != NULL)
    *requests = reader->requests;
  if (bytes != NULL)
    *bytes = reader->bytes;
  g_mutex_unlock (&reader->lock);
}

guint
_coffer_pack_reader_get_buffers_made (CofferPackReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return _coffer_buffer_pool_get_made (reader->pool);
}

/* Under the lock: the window of pack that covers the range, if any. */
static GList *
find_window_locked (CofferPackReader *reader, const char *pack_name, guint32 pack, guint64 offset,
                    guint64 end)
{
  for (GList *l = reader->windows.head; l != NULL; l = l->next)
    {
      Window *w = l->data;
      if (w->pack == pack && w->start <= offset && end <= w->end && strcmp (w->pack_name, pack_name) == 0)
        return l;
    }
  return NULL;
}

/* Under the lock: drops the least recently used windows that are read
 * (slices handed out keep their bytes alive until they are freed). */
static void
trim_locked (CofferPackReader *reader)
{
  GList *l = reader->windows.tail;

  while (reader->windows.length > reader->max_windows && l != NULL)
    {
      GList *prev = l->prev;
      Window *w = l->data;
      if (w->state == WINDOW_READY)
        {
          g_queue_delete_link (&reader->windows, l);
          window_free (w);
        }
      l = prev;
    }
}

/* Under the lock: whether the next blob of pack should come with the
 * whole pack (the range asked for lies in the pack's blob area). */
static gboolean
read_whole_locked (CofferPackReader *reader, guint32 pack, guint64 offset, guint64 end)
{
  const PackInfo *p;
  guint32 enough;

  if (pack >= reader->n_packs)
    return FALSE;
  p = &reader->packs[pack];
  if (offset < p->start || end > p->end || p->end - p->start > COFFER_PACK_READER_MAX_WINDOW
      || p->whole_reads >= WHOLE_READS_PER_PACK)
    return FALSE;
  enough = reader->reads_most ? 1 : MAX (4, p->n_blobs / 32);
  return p->alone >= enough;
}

static GBytes *
read_alone (CofferPackReader *reader, const char *pack_name, guint32 pack, guint32 offset, guint32 length,
            GCancellable *cancellable, GError **error)
{
  g_mutex_lock (&reader->lock);
  if (pack < reader->n_packs)
    reader->packs[pack].alone++;
  reader->requests++;
  reader->bytes += length;
  g_mutex_unlock (&reader->lock);
  return coffer_store_get (reader->store, pack_name, offset, length, cancellable, error);
}

GBytes *
_coffer_pack_reader_get (CofferPackReader *reader, const char *pack_name, guint32 pack,
                         guint32 offset, guint32 length, GCancellable *cancellable, GError **error)
{
  guint64 end = (guint64) offset + length;
  g_autoptr(GError) window_error = NULL;
  Window *w;
  GList *l;
  GBytes *data;

  g_return_val_if_fail (reader != NULL, NULL);
  g_return_val_if_fail (pack_name != NULL, NULL);

  g_mutex_lock (&reader->lock);
  while ((l = find_window_locked (reader, pack_name, pack, offset, end)) != NULL)
    {
      w = l->data;
      if (w->state == WINDOW_READY)
        {
          g_queue_unlink (&reader->windows, l);
          g_queue_push_head_link (&reader->windows, l);
          data = g_bytes_new_from_bytes (w->data, offset - w->start, length);
          g_mutex_unlock (&reader->lock);
          return data;
        }
      g_cond_wait (&reader->cond, &reader->lock);
    }
  if (!read_whole_locked (reader, pack, offset, end))
    {
      g_mutex_unlock (&reader->lock);
      return read_alone (reader, pack_name, pack, offset, length, cancellable, error);
    }

  w = g_new0 (Window, 1);
  w->pack = pack;
  w->pack_name = g_strdup (pack_name);
  w->start = reader->packs[pack].start;
  w->end = reader->packs[pack].end;
  w->state = WINDOW_READING;
  g_queue_push_head (&reader->windows, w);
  reader->packs[pack].whole_reads++;
  reader->requests++;
  reader->bytes += w->end - w->start;
  g_mutex_unlock (&reader->lock);

  {
    CofferPoolBuffer *b = _coffer_buffer_pool_take (reader->pool, w->end - w->start);
    if (coffer_store_read_into (reader->store, pack_name, w->start, w->end - w->start, b->data,
                                cancellable, &window_error))
      data = _coffer_pool_buffer_to_bytes (b, w->end - w->start);
    else
      {
        _coffer_pool_buffer_give (b);
        data = NULL;
      }
  }

  g_mutex_lock (&reader->lock);
  if (data != NULL && g_bytes_get_size (data) == w->end - w->start)
    {
      GBytes *slice = g_bytes_new_from_bytes (data, offset - w->start, length);
      w->data = data;
      w->state = WINDOW_READY;
      trim_locked (reader);
      g_cond_broadcast (&reader->cond);
      g_mutex_unlock (&reader->lock);
      return slice;
    }
  g_clear_pointer (&data, g_bytes_unref);
  g_queue_remove (&reader->windows, w);
  window_free (w);
  /* Not again for this pack: its blobs are read alone from now on. */
  reader->packs[pack].whole_reads = WHOLE_READS_PER_PACK;
  g_cond_broadcast (&reader->cond);
  g_mutex_unlock (&reader->lock);

  /* Cancelled is the answer; anything else about the window (the pack is
   * shorter than its last indexed blob, the server failed) is decided by
   * reading the blob alone, so a damaged neighbour never hides a readable
   * blob and the error reported is about the blob asked for. */
  if (g_error_matches (window_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_steal_pointer (&window_error));
      return NULL;
    }
  return read_alone (reader, pack_name, pack, offset, length, cancellable, error);
}
