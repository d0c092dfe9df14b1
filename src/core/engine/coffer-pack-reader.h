/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "coffer-index.h"
#include "coffer-store.h"

G_BEGIN_DECLS

/* Reads the sealed bytes of blobs for an operation that reads many of them
 * (a restore). Blobs are shuffled inside their pack (docs/FORMAT.md
 * "Packs"), so the order a restore needs them in jumps around each pack:
 * reading ahead in the pack would not help. Instead, once enough blobs of
 * one pack have been asked for, the reader reads the whole part of the
 * pack the index names (its blob area, at most COFFER_PACK_READER_MAX_WINDOW
 * bytes) in one request and serves the pack's other blobs from that
 * window, instead of one request (or one open, stat, read and close of a
 * pack file) per blob. "Enough" is one blob when the caller expects to
 * need most of every pack it touches (restoring whole snapshots), and
 * otherwise MAX (4, blobs in the pack / 32), so that restoring a few files
 * reads no more than before. A pack is read whole at most twice (a window
 * pushed out by others is not read again and again). Nothing is trusted
 * more for it: every blob is still opened and checked against its id by
 * the caller. A window that cannot be read (a pack shorter than its index
 * entries say, a server error) is not an error of its own: the blob is
 * then read alone, and that read's error is the one reported. Safe to use
 * from several threads; a thread that needs a window another thread is
 * reading waits for it. docs/PERFORMANCE.md "Restore reads". */
#define COFFER_PACK_READER_MAX_WINDOW (32 * 1024 * 1024)

typedef struct _CofferPackReader CofferPackReader;

/* index: the category's merged index (which blobs each pack has, where);
 * max_windows: how many whole packs stay in memory at most; reads_most:
 * the caller will need most of every pack it touches. */
CofferPackReader *_coffer_pack_reader_new  (CofferStore *store, CofferIndex *index, guint max_windows,
                                            gboolean reads_most);
void              _coffer_pack_reader_free (CofferPackReader *reader);

/* The bytes [offset, offset + length) of the pack named pack_name (index
 * pack number pack), exactly as coffer_store_get would return them. */
GBytes *_coffer_pack_reader_get (CofferPackReader *reader, const char *pack_name, guint32 pack,
                                 guint32 offset, guint32 length,
                                 GCancellable *cancellable, GError **error);

/* Requests the reader made to the store (whole packs and single blobs)
 * and the bytes they asked for, for tests and measurements. */
void _coffer_pack_reader_get_stats (CofferPackReader *reader, guint64 *requests, guint64 *bytes);
/* How many buffers whole reads needed so far (the rest reused one). */
guint _coffer_pack_reader_get_buffers_made (CofferPackReader *reader);

G_END_DECLS
