/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "coffer-repository-private.h"

G_BEGIN_DECLS

/* CofferPackSink: where new blobs of one category go. It seals them under
 * the category's newest key epoch, skips those the index (or a pack being
 * filled) already has, fills data and tree packs, uploads full packs on
 * its own threads (at most two at a time, so memory stays bounded), adds
 * what landed to the index and writes index deltas: every 32 packs, and at
 * the end. Packs are made durable (coffer_store_flush) before an index
 * names them. Used by backup and re-encryption. Thread-safe. */
typedef struct _CofferPackSink CofferPackSink;

/* index: the category's loaded index; the sink adds every uploaded blob to
 * it. meter may be NULL; it is told the uploaded bytes. */
CofferPackSink *coffer_pack_sink_new   (CofferRepository   *repo,
                                        CofferCategoryKeys *keys,
                                        CofferIndex        *index,
                                        CofferProgressMeter *meter,
                                        GCancellable       *cancellable);
void            coffer_pack_sink_free  (CofferPackSink *sink);

/* Computes the blob id of data (keyed with the newest epoch) into id and
 * stores the blob unless it is known. Does nothing once the sink failed. */
void     coffer_pack_sink_store  (CofferPackSink *sink, CofferBlobType type,
                                  const guint8 *data, gsize len,
                                  guint8 id[COFFER_ID_BYTES]);
/* TRUE once an upload failed, coffer_pack_sink_fail was called, or the
 * cancellable was cancelled. */
gboolean coffer_pack_sink_failed (CofferPackSink *sink);
/* Records the first error (takes ownership). */
void     coffer_pack_sink_fail   (CofferPackSink *sink, GError *error);
/* Writes an index delta when enough packs landed since the last one. */
void     coffer_pack_sink_maybe_checkpoint (CofferPackSink *sink);
/* Reads back packs of this category that landed without reaching an index
 * object (an interrupted run) and indexes them, so they are not uploaded
 * again. */
void     coffer_pack_sink_recover_orphans (CofferPackSink *sink);
/* Uploads the packs being filled, waits for every upload and writes an
 * index delta — also after a failure or cancellation, so what landed is
 * kept. The sink can be used on afterwards. Returns the first error
 * (cancellation included). */
gboolean coffer_pack_sink_commit (CofferPackSink *sink, GError **error);
/* coffer_pack_sink_commit, then stops the upload threads. */
gboolean coffer_pack_sink_finish (CofferPackSink *sink, GError **error);
/* Sealed bytes uploaded so far. */
guint64  coffer_pack_sink_get_uploaded (CofferPackSink *sink);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferPackSink, coffer_pack_sink_free)

G_END_DECLS
