/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferPackSink: sealing, packing, uploading and indexing new blobs.
 * Commit order (docs/FORMAT.md "Commit order"): packs, verified by their
 * size after upload and made durable with coffer_store_flush, then the
 * index delta that names them; the caller writes the snapshot last. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <inttypes.h>

#include "coffer-buffer-pool.h"
#include "coffer-bytes.h"
#include "coffer-error.h"
#include "coffer-pack.h"
#include "coffer-pack-sink.h"
#include "coffer-worker-pool.h"

/* AddressSanitizer replaces malloc; glibc's malloc_trim then walks heaps
 * that were never set up and crashes. */
#if defined(__SANITIZE_ADDRESS__)
# define COFFER_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define COFFER_ASAN 1
# endif
#endif

#define PACK_TARGET_SIZE   (12 * 1024 * 1024)
#define TREE_PACK_TARGET   (4 * 1024 * 1024)
#define MAX_UPLOADS        2
#define CHECKPOINT_PACKS   32
/* Sealed blobs of at least SEAL_POOL_MIN bytes go into buffers kept for
 * the next ones (docs/PERFORMANCE.md "Backup buffers"): at most
 * SEAL_POOL_BYTES in spares, about what one pack in the making holds.
 * Smaller ones come from malloc's heaps as before. */
#define SEAL_POOL_MIN      (128 * 1024)
#define SEAL_POOL_BYTES    (24 * 1024 * 1024)

struct _CofferPackSink
{
  CofferRepository    *repo;
  CofferCategoryKeys  *keys;
  CofferEpochKeys     *ek;          /* newest */
  CofferStore         *store;
  CofferIndex         *index;       /* loaded index + everything uploaded */
  CofferProgressMeter *meter;
  GCancellable        *cancellable;
  CofferWorkerPool    *uploaders;
  CofferWorkerPool    *committer;   /* one thread: checkpoints, off the walk */
  CofferBufferPool    *seal_pool;

  GMutex               lock;        /* everything below */
  GCond                cond;
  CofferIndex         *delta;       /* uploaded, not yet in an index object */
  CofferPackWriter    *data_pack;
  CofferPackWriter    *tree_pack;
  GHashTable          *pending;     /* ids sealed into a pack, not uploaded yet */
  guint                uploads;     /* full packs detached and not yet landed */
  guint                packs_since_checkpoint;
  guint                checkpoint_packs;  /* CHECKPOINT_PACKS; fewer in tests */
  gboolean             checkpointing; /* a checkpoint is queued or running */
  guint64              uploaded;
  GError              *error;
};

typedef struct
{
  CofferPackWriter *writer;   /* finished (hashed, shuffled) by the uploader */
} UploadJob;

gboolean
coffer_pack_sink_failed (CofferPackSink *sink)
{
  gboolean ret;

  g_mutex_lock (&sink->lock);
  ret = sink->error != NULL;
  g_mutex_unlock (&sink->lock);
  return ret || g_cancellable_is_cancelled (sink->cancellable);
}

void
coffer_pack_sink_fail (CofferPackSink *sink, GError *error)
{
  g_mutex_lock (&sink->lock);
  if (sink->error == NULL)
    sink->error = error;
  else
    g_error_free (error);
  g_cond_broadcast (&sink->cond);
  g_mutex_unlock (&sink->lock);
}

static void
upload_func (gpointer data, gpointer user_data)
{
  UploadJob *job = data;
  CofferPackSink *sink = user_data;
  g_autoptr(GBytes) pack = NULL;
  g_autoptr(GArray) entries = NULL;
  g_autofree char *name = NULL;
  g_autoptr(GError) error = NULL;
  guint8 id[COFFER_ID_BYTES];
  guint64 size = 0;
  gsize len;

  /* Hashing and sealing the header happen here, off the workers' lock. */
  pack = coffer_pack_writer_finish (job->writer, id, &entries);
  g_clear_pointer (&job->writer, coffer_pack_writer_free);
  name = _coffer_pack_name (sink->keys->id, id);
  len = g_bytes_get_size (pack);

  if (!coffer_pack_sink_failed (sink))
    {
      if (!coffer_store_put (sink->store, name, pack, COFFER_PUT_CREATE_UNSYNCED, sink->cancellable, &error)
          && g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS))
        g_clear_error (&error);   /* same name = same bytes: it landed earlier */
      /* Verify what landed before anything refers to it. */
      if (error == NULL && coffer_store_stat (sink->store, name, &size, sink->cancellable, &error)
          && size != len)
        g_set_error (&error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_FAILED,
                     _("The destination stored %" PRIu64 " bytes of %s instead of %zu."),
                     size, name, len);
      if (error == NULL)
        {
          g_mutex_lock (&sink->lock);
          for (guint i = 0; i < entries->len; i++)
            {
              CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, i);
              coffer_index_add (sink->index, e->id, e->type, id, e->offset, e->length, e->raw_length);
              coffer_index_add (sink->delta, e->id, e->type, id, e->offset, e->length, e->raw_length);
            }
          sink->uploaded += len;
          g_mutex_unlock (&sink->lock);
          if (sink->meter != NULL)
            coffer_progress_meter_add (sink->meter, 0, 0, len, NULL);
        }
      else
        coffer_pack_sink_fail (sink, g_steal_pointer (&error));
    }

  g_mutex_lock (&sink->lock);
  for (guint i = 0; i < entries->len; i++)
    g_hash_table_remove (sink->pending, g_array_index (entries, CofferPackEntry, i).id);
  sink->uploads--;
  sink->packs_since_checkpoint++;
  g_cond_broadcast (&sink->cond);
  g_mutex_unlock (&sink->lock);
  g_free (job);
  /* Give the freed blob buffers back to the system (glibc keeps freed
   * memory inside its heaps otherwise), so memory stays bounded. */
#ifndef COFFER_ASAN
  malloc_trim (0);
#endif
}

/* Called with sink->lock held; releases it while waiting for upload room.
 * The room is taken before the pack is detached, so at most MAX_UPLOADS
 * full packs exist besides the ones being filled. */
static void
flush_pack_locked (CofferPackSink *sink, CofferPackWriter **writer, gsize target)
{
  UploadJob *job;

  while (sink->uploads >= MAX_UPLOADS && sink->error == NULL)
    g_cond_wait (&sink->cond, &sink->lock);
  /* Another thread may have flushed it while this one waited. */
  if (*writer == NULL || coffer_pack_writer_get_count (*writer) == 0
      || coffer_pack_writer_get_size (*writer) < target)
    return;
  job = g_new0 (UploadJob, 1);
  job->writer = g_steal_pointer (writer);
  sink->uploads++;
  _coffer_worker_pool_push (sink->uploaders, job);
}

/* The blob sealed, a large one into a buffer of the sink's pool. */
static GBytes *
seal (CofferPackSink *sink, CofferBlobType type, const guint8 *data, gsize len,
      const guint8 id[COFFER_ID_BYTES])
{
  gsize max = coffer_blob_sealed_max (len);
  CofferPoolBuffer *buffer;
  gsize n;

  if (max < SEAL_POOL_MIN || len > COFFER_BLOB_MAX_BYTES)
    return coffer_blob_seal (sink->ek->data_key, id, type, data, len);
  buffer = _coffer_buffer_pool_take (sink->seal_pool, max);
  n = coffer_blob_seal_into (sink->ek->data_key, id, type, data, len, buffer->data);
  if (n == 0)
    {
      _coffer_pool_buffer_give (buffer);
      return NULL;
    }
  return _coffer_pool_buffer_to_bytes (buffer, n);
}

void
coffer_pack_sink_store (CofferPackSink *sink, CofferBlobType type,
                        const guint8 *data, gsize len, guint8 id[COFFER_ID_BYTES])
{
  g_autoptr(GBytes) sealed = NULL;
  CofferPackWriter **writer;
  gsize target;

  coffer_blob_id (sink->ek->suite, sink->ek->blob_id_key, data, len, id);
  if (coffer_index_contains (sink->index, id))
    return;
  g_mutex_lock (&sink->lock);
  if (sink->error != NULL || g_hash_table_contains (sink->pending, id))
    {
      g_mutex_unlock (&sink->lock);
      return;
    }
  g_hash_table_add (sink->pending, g_memdup2 (id, COFFER_ID_BYTES));
  g_mutex_unlock (&sink->lock);

  /* Sealing (compression + encryption) runs outside the lock. */
  sealed = seal (sink, type, data, len, id);

  g_mutex_lock (&sink->lock);
  writer = type == COFFER_BLOB_TREE ? &sink->tree_pack : &sink->data_pack;
  target = type == COFFER_BLOB_TREE ? TREE_PACK_TARGET : PACK_TARGET_SIZE;
  if (*writer == NULL)
    *writer = coffer_pack_writer_new (sink->ek->data_key, sink->ek->epoch, sink->ek->suite);
  coffer_pack_writer_add (*writer, id, type, sealed, len);
  if (coffer_pack_writer_get_size (*writer) >= target)
    flush_pack_locked (sink, writer, target);
  g_mutex_unlock (&sink->lock);
}

/* Writes the entries of every pack uploaded since the last call as an
 * index object (only packs that have landed are ever in the delta). */
static gboolean
write_delta (CofferPackSink *sink, GError **error)
{
  g_autoptr(CofferIndex) delta = NULL;

  g_mutex_lock (&sink->lock);
  delta = sink->delta;
  sink->delta = coffer_index_new ();
  sink->packs_since_checkpoint = 0;
  g_mutex_unlock (&sink->lock);
  if (coffer_index_get_n_blobs (delta) == 0)
    return TRUE;
  /* The packs must be durable before an index names them. */
  if (!coffer_store_flush (sink->store, NULL, error))
    return FALSE;
  return _coffer_repository_write_index (sink->repo, sink->keys, delta, NULL, NULL, NULL, NULL, error);
}

static void
checkpoint_func (gpointer data, gpointer user_data)
{
  CofferPackSink *sink = user_data;
  g_autoptr(GError) error = NULL;

  if (!write_delta (sink, &error))
    coffer_pack_sink_fail (sink, g_steal_pointer (&error));
  g_mutex_lock (&sink->lock);
  sink->checkpointing = FALSE;
  g_cond_broadcast (&sink->cond);
  g_mutex_unlock (&sink->lock);
}

/* A checkpoint (flush the packs, then the index object naming them) runs
 * in the sink's own thread, so the walk keeps handing files to the
 * workers while the disk flushes (docs/PERFORMANCE.md "Checkpoints off
 * the walk"). One at a time: the next is queued only when it is done. */
void
coffer_pack_sink_maybe_checkpoint (CofferPackSink *sink)
{
  g_mutex_lock (&sink->lock);
  if (sink->packs_since_checkpoint >= sink->checkpoint_packs && !sink->checkpointing)
    {
      sink->checkpointing = TRUE;
      _coffer_worker_pool_push (sink->committer, sink);
    }
  g_mutex_unlock (&sink->lock);
}

static gboolean
collect_pack (const char *name, guint64 size, gpointer user_data)
{
  const char *base = strrchr (name, '/');
  guint8 id[COFFER_ID_BYTES];

  base = base ? base + 1 : name;
  if (strlen (base) == 2 * COFFER_ID_BYTES && coffer_hex_decode (base, id, sizeof id))
    g_ptr_array_add (user_data, g_strdup (name));
  return TRUE;
}

void
coffer_pack_sink_recover_orphans (CofferPackSink *sink)
{
  g_autofree char *prefix = g_strdup_printf ("categories/%s/packs/", sink->keys->id);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint recovered = 0;

  for (guint i = 0; i < coffer_index_get_n_packs (sink->index); i++)
    g_hash_table_add (known, coffer_hex_encode (coffer_index_get_pack_id (sink->index, i), COFFER_ID_BYTES));
  if (!coffer_store_list (sink->store, prefix, collect_pack, names, sink->cancellable, NULL))
    return;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      const char *base = strrchr (name, '/') + 1;
      g_autoptr(GBytes) trailer = NULL;
      g_autoptr(GBytes) header = NULL;
      g_autoptr(GArray) entries = NULL;
      guint32 header_len, epoch;
      CofferEpochKeys *ek;
      guint8 pack_id[COFFER_ID_BYTES];
      guint64 size;

      if (g_hash_table_contains (known, base))
        continue;
      /* A damaged or foreign pack is simply not reused. */
      if (!coffer_store_stat (sink->store, name, &size, sink->cancellable, NULL)
          || size < COFFER_PACK_TRAILER_BYTES)
        continue;
      trailer = coffer_store_get (sink->store, name, size - COFFER_PACK_TRAILER_BYTES,
                                  COFFER_PACK_TRAILER_BYTES, sink->cancellable, NULL);
      if (trailer == NULL
          || !coffer_pack_parse_trailer (g_bytes_get_data (trailer, NULL), size, &header_len, &epoch, NULL)
          || (ek = coffer_category_keys_epoch (sink->keys, epoch)) == NULL
          || header_len > COFFER_MAX_PACK_HEADER_BYTES)
        continue;
      header = coffer_store_get (sink->store, name, size - COFFER_PACK_TRAILER_BYTES - header_len,
                                 header_len, sink->cancellable, NULL);
      if (header == NULL)
        continue;
      entries = coffer_pack_read_header (ek->data_key, epoch, g_bytes_get_data (header, NULL),
                                         header_len, size, NULL);
      if (entries == NULL)
        continue;
      coffer_hex_decode (base, pack_id, sizeof pack_id);
      g_mutex_lock (&sink->lock);
      for (guint j = 0; j < entries->len; j++)
        {
          CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, j);
          coffer_index_add (sink->index, e->id, e->type, pack_id, e->offset, e->length, e->raw_length);
          coffer_index_add (sink->delta, e->id, e->type, pack_id, e->offset, e->length, e->raw_length);
        }
      g_mutex_unlock (&sink->lock);
      recovered++;
    }
  g_debug ("recovered %u packs of an interrupted run", recovered);
}

CofferPackSink *
coffer_pack_sink_new (CofferRepository *repo, CofferCategoryKeys *keys, CofferIndex *index,
                      CofferProgressMeter *meter, GCancellable *cancellable)
{
  CofferPackSink *sink = g_new0 (CofferPackSink, 1);

  sink->repo = repo;
  sink->keys = keys;
  sink->ek = coffer_category_keys_newest (keys);
  sink->store = coffer_repository_get_store (repo);
  sink->index = index;
  sink->meter = meter;
  sink->cancellable = cancellable;
  g_mutex_init (&sink->lock);
  g_cond_init (&sink->cond);
  sink->delta = coffer_index_new ();
  sink->checkpoint_packs = CHECKPOINT_PACKS;
  if (g_strcmp0 (g_getenv ("COFFER_TESTING"), "1") == 0 && g_getenv ("COFFER_TEST_CHECKPOINT_PACKS") != NULL)
    sink->checkpoint_packs = MAX (1, atoi (g_getenv ("COFFER_TEST_CHECKPOINT_PACKS")));
  sink->pending = g_hash_table_new_full (coffer_id_hash, coffer_id_equal, g_free, NULL);
  sink->uploaders = _coffer_worker_pool_new ("coffer-upload", upload_func, sink, MAX_UPLOADS);
  sink->committer = _coffer_worker_pool_new ("coffer-commit", checkpoint_func, sink, 1);
  sink->seal_pool = _coffer_buffer_pool_new (G_MAXUINT, SEAL_POOL_BYTES, SEAL_POOL_MIN);
  return sink;
}

/* The first error, or cancellation. */
static gboolean
status (CofferPackSink *sink, GError **error)
{
  GError *first;

  g_mutex_lock (&sink->lock);
  first = sink->error != NULL ? g_error_copy (sink->error) : NULL;
  g_mutex_unlock (&sink->lock);
  if (first != NULL)
    {
      g_propagate_error (error, first);
      return FALSE;
    }
  return !g_cancellable_set_error_if_cancelled (sink->cancellable, error);
}

gboolean
coffer_pack_sink_commit (CofferPackSink *sink, GError **error)
{
  g_autoptr(GError) delta_error = NULL;

  g_mutex_lock (&sink->lock);
  flush_pack_locked (sink, &sink->data_pack, 0);
  flush_pack_locked (sink, &sink->tree_pack, 0);
  while (sink->uploads > 0 || sink->checkpointing)
    g_cond_wait (&sink->cond, &sink->lock);
  g_mutex_unlock (&sink->lock);

  /* Even after a failure or cancellation, record what landed so the next
   * run does not upload it again. */
  if (!write_delta (sink, &delta_error))
    coffer_pack_sink_fail (sink, g_steal_pointer (&delta_error));
  return status (sink, error);
}

gboolean
coffer_pack_sink_finish (CofferPackSink *sink, GError **error)
{
  gboolean ok = coffer_pack_sink_commit (sink, error);

  g_clear_pointer (&sink->committer, _coffer_worker_pool_free);
  g_clear_pointer (&sink->uploaders, _coffer_worker_pool_free);
  return ok;
}

guint64
coffer_pack_sink_get_uploaded (CofferPackSink *sink)
{
  guint64 ret;

  g_mutex_lock (&sink->lock);
  ret = sink->uploaded;
  g_mutex_unlock (&sink->lock);
  return ret;
}

void
coffer_pack_sink_free (CofferPackSink *sink)
{
  if (sink == NULL)
    return;
  /* A queued checkpoint still runs: it records what landed. */
  g_clear_pointer (&sink->committer, _coffer_worker_pool_free);
  g_clear_pointer (&sink->uploaders, _coffer_worker_pool_free);
  g_clear_pointer (&sink->data_pack, coffer_pack_writer_free);
  g_clear_pointer (&sink->tree_pack, coffer_pack_writer_free);
  g_clear_pointer (&sink->delta, coffer_index_free);
  g_clear_pointer (&sink->pending, g_hash_table_unref);
  g_clear_pointer (&sink->seal_pool, _coffer_buffer_pool_free);
  g_clear_error (&sink->error);
  g_mutex_clear (&sink->lock);
  g_cond_clear (&sink->cond);
  g_free (sink);
}
