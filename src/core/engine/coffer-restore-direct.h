/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A restored file's bytes written past the page cache (O_DIRECT) through
 * a 4 KiB-aligned staging buffer: blobs end at content-defined offsets,
 * O_DIRECT wants whole aligned blocks. The last partial block is written
 * through the page cache. Durability is unchanged: it is still
 * coffer-restore-sync.c's (an O_DIRECT write is on the device, not yet
 * durable: the device's cache, the file's size and blocks are flushed by
 * the same sync as before). docs/PERFORMANCE.md "Restore: writes straight
 * to the disk". */
#pragma once

#include <glib.h>

#include "coffer-buffer-pool.h"

G_BEGIN_DECLS

/* Files smaller than this are written as before. */
#define COFFER_DIRECT_MIN_FILE   (512 * 1024)
/* The staging buffer: what one O_DIRECT write carries. */
#define COFFER_DIRECT_STAGE      (1024 * 1024)

typedef struct
{
  int               fd;
  CofferPoolBuffer *stage;
  gsize             fill;      /* bytes staged */
  guint64           offset;    /* where the stage starts in the file */
  gboolean          direct;    /* O_DIRECT is set on fd */
} CofferDirectOut;

/* Sets O_DIRECT on fd (a new, empty file) and takes a staging buffer from
 * pool. FALSE, out untouched but cleared, where the file system refuses
 * O_DIRECT: write as before. */
gboolean _coffer_direct_out_start  (CofferDirectOut *out, int fd, CofferBufferPool *pool);
/* Appends len bytes. FALSE with errno on failure. A file system that
 * takes the flag but refuses the write (EINVAL) gets the bytes through
 * the page cache, and so do the rest. */
gboolean _coffer_direct_out_write  (CofferDirectOut *out, const guint8 *data, gsize len);
/* Writes what is staged (whole blocks directly, the rest through the page
 * cache), turns O_DIRECT off and leaves the file position at the end of
 * what was written, for ordinary writes to follow. FALSE with errno. */
gboolean _coffer_direct_out_finish (CofferDirectOut *out);
/* Gives the staging buffer back (after finish, or instead of it on
 * failure). */
void     _coffer_direct_out_clear  (CofferDirectOut *out);

/* For tests: bytes written with O_DIRECT so far, by every restore. */
guint64  _coffer_direct_out_get_bytes (void);

G_END_DECLS
