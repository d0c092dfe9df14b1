/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Large buffers kept for reuse by one operation (a restore's pack reads, a
 * backup's sealed blobs). Memory fresh from the kernel costs a page fault
 * for every 4 KiB page when it is first written, and a buffer of several
 * MiB freed by glibc goes back to the kernel: on this project's machine
 * that was half of a restore's and a backup's system time
 * (docs/PERFORMANCE.md "Restore buffers", "Backup buffers"). A buffer
 * given back is kept while the pool holds fewer than max_spare buffers
 * of at most max_spare_bytes in all, and handed out again for any request
 * it is large enough for. Thread-safe; a buffer may be given back on any
 * thread, also after the owner freed the pool (it is then freed). The
 * contents of a buffer handed out are whatever it held before. Buffers
 * start on a 4 KiB boundary (the local store writes packs from them with
 * O_DIRECT). */
typedef struct _CofferBufferPool CofferBufferPool;

typedef struct
{
  guint8 *data;
  gsize   capacity;
  /* private */
  CofferBufferPool *pool;
} CofferPoolBuffer;

/* rounding: new buffers are made a multiple of it (so that similar sizes
 * fit the same buffer). */
CofferBufferPool *_coffer_buffer_pool_new  (guint max_spare, gsize max_spare_bytes, gsize rounding);
/* The owner is done: spare buffers are freed now, buffers still out when
 * they come back. */
void              _coffer_buffer_pool_free (CofferBufferPool *pool);

/* A buffer of at least length bytes: the smallest spare one that is large
 * enough, else a new one. */
CofferPoolBuffer *_coffer_buffer_pool_take (CofferBufferPool *pool, gsize length);
/* Gives a buffer back (also a GDestroyNotify). */
void              _coffer_pool_buffer_give (gpointer buffer);
/* The first length bytes of buffer; freeing the last reference gives the
 * buffer back. */
GBytes           *_coffer_pool_buffer_to_bytes (CofferPoolBuffer *buffer, gsize length);

/* Buffers the pool had to allocate so far (the rest were reused), for
 * tests and measurements. */
guint             _coffer_buffer_pool_get_made (CofferBufferPool *pool);

G_END_DECLS
