/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Buffers kept for reuse (coffer-buffer-pool.h). */
#include "coffer-buffer-pool.h"

struct _CofferBufferPool
{
  gint       ref;          /* the owner, and each buffer out */
  GMutex     lock;         /* everything below */
  GPtrArray *spare;        /* CofferPoolBuffer * */
  gsize      spare_bytes;
  guint      max_spare;
  gsize      max_spare_bytes;
  gsize      rounding;
  gboolean   closed;       /* the owner is gone: buffers are freed, not kept */
  guint      made;
};

/* Buffers start on a page boundary, so that a store can write them
 * straight to the disk (O_DIRECT needs aligned memory). */
#define BUFFER_ALIGNMENT 4096

static void
buffer_free (CofferPoolBuffer *b)
{
  g_aligned_free (b->data);
  g_free (b);
}

static void
pool_unref (CofferBufferPool *pool)
{
  if (!g_atomic_int_dec_and_test (&pool->ref))
    return;
  g_ptr_array_unref (pool->spare);
  g_mutex_clear (&pool->lock);
  g_free (pool);
}

CofferBufferPool *
_coffer_buffer_pool_new (guint max_spare, gsize max_spare_bytes, gsize rounding)
{
  CofferBufferPool *pool;

  g_return_val_if_fail (rounding > 0, NULL);

  pool = g_new0 (CofferBufferPool, 1);
  pool->ref = 1;
  g_mutex_init (&pool->lock);
  pool->spare = g_ptr_array_new_with_free_func ((GDestroyNotify) buffer_free);
  pool->max_spare = max_spare;
  pool->max_spare_bytes = max_spare_bytes;
  pool->rounding = rounding;
  return pool;
}

void
_coffer_buffer_pool_free (CofferBufferPool *pool)
{
  if (pool == NULL)
    return;
  g_mutex_lock (&pool->lock);
  pool->closed = TRUE;
  g_ptr_array_set_size (pool->spare, 0);
  pool->spare_bytes = 0;
  g_mutex_unlock (&pool->lock);
  pool_unref (pool);
}

CofferPoolBuffer *
_coffer_buffer_pool_take (CofferBufferPool *pool, gsize length)
{
  CofferPoolBuffer *b = NULL;
  guint best = 0;

  g_return_val_if_fail (pool != NULL, NULL);

  g_mutex_lock (&pool->lock);
  for (guint i = 0; i < pool->spare->len; i++)
    {
      CofferPoolBuffer *s = g_ptr_array_index (pool->spare, i);
      if (s->capacity >= length && (b == NULL || s->capacity < b->capacity))
        {
          b = s;
          best = i;
        }
    }
  if (b != NULL)
    {
      g_ptr_array_steal_index_fast (pool->spare, best);
      pool->spare_bytes -= b->capacity;
    }
  else
    pool->made++;
  g_mutex_unlock (&pool->lock);
  if (b == NULL)
    {
      b = g_new0 (CofferPoolBuffer, 1);
      b->capacity = MAX ((length + pool->rounding - 1) / pool->rounding * pool->rounding, 1);
      b->data = g_aligned_alloc (b->capacity, 1, BUFFER_ALIGNMENT);
    }
  g_atomic_int_inc (&pool->ref);
  b->pool = pool;
  return b;
}

/* Under the lock: makes room for a buffer of capacity bytes by freeing the
 * smallest spares, when they are smaller; whether there is room now. */
static gboolean
make_room_locked (CofferBufferPool *pool, gsize capacity)
{
  if (capacity > pool->max_spare_bytes || pool->max_spare == 0)
    return FALSE;
  while (pool->spare->len >= pool->max_spare || pool->spare_bytes + capacity > pool->max_spare_bytes)
    {
      guint smallest = 0;
      CofferPoolBuffer *s;

      for (guint i = 1; i < pool->spare->len; i++)
        if (((CofferPoolBuffer *) g_ptr_array_index (pool->spare, i))->capacity
            < ((CofferPoolBuffer *) g_ptr_array_index (pool->spare, smallest))->capacity)
          smallest = i;
      s = g_ptr_array_index (pool->spare, smallest);
      if (s->capacity >= capacity)
        return FALSE;
      pool->spare_bytes -= s->capacity;
      g_ptr_array_remove_index_fast (pool->spare, smallest);
    }
  return TRUE;
}

void
_coffer_pool_buffer_give (gpointer buffer)
{
  CofferPoolBuffer *b = buffer;
  CofferBufferPool *pool;

  if (b == NULL)
    return;
  pool = b->pool;
  b->pool = NULL;
  g_mutex_lock (&pool->lock);
  if (!pool->closed && make_room_locked (pool, b->capacity))
    {
      g_ptr_array_add (pool->spare, b);
      pool->spare_bytes += b->capacity;
      b = NULL;
    }
  g_mutex_unlock (&pool->lock);
  if (b != NULL)
    buffer_free (b);
  pool_unref (pool);
}

GBytes *
_coffer_pool_buffer_to_bytes (CofferPoolBuffer *buffer, gsize length)
{
  g_return_val_if_fail (buffer != NULL && length <= buffer->capacity, NULL);

  return g_bytes_new_with_free_func (buffer->data, length, _coffer_pool_buffer_give, buffer);
}

guint
_coffer_buffer_pool_get_made (CofferBufferPool *pool)
{
  guint made;

  g_return_val_if_fail (pool != NULL, 0);
  g_mutex_lock (&pool->lock);
  made = pool->made;
  g_mutex_unlock (&pool->lock);
  return made;
}
