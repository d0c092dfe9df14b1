/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-secret.h"

G_BEGIN_DECLS

/* FastCDC with normalised chunking (level 2) and a keyed gear table.
 * The 256-entry 64-bit gear table is the ChaCha20 keystream
 * (crypto_stream_chacha20_ietf, nonce "coffer-gear\0") of the category's gear
 * subkey, read as little-endian u64s. Masks: mask_s has bits(avg)+2 one bits,
 * mask_l has bits(avg)-2 one bits, spread as in the FastCDC paper (use the
 * paper's fixed masks for the avg size, or spread bits evenly; document in
 * docs/FORMAT.md exactly which). */
typedef struct _CofferChunker CofferChunker;

#define COFFER_CHUNK_MIN (512 * 1024)
#define COFFER_CHUNK_AVG (1024 * 1024)
#define COFFER_CHUNK_MAX (8 * 1024 * 1024)

CofferChunker *coffer_chunker_new  (const CofferSecret *gear_key,
                                    gsize min_size, gsize avg_size, gsize max_size);
void           coffer_chunker_free (CofferChunker *chunker);
/* Whether the sizes can be used (64 <= min <= avg <= max <= 2^31 - 1,
 * avg < 2^46); repository configs are untrusted, so the engine checks them
 * with this before coffer_chunker_new (which g_return_if_fails on them).
 * Error: COFFER_REPO_ERROR_UNSUPPORTED_VERSION. */
gboolean       coffer_chunker_check_params (gsize min_size, gsize avg_size, gsize max_size,
                                            GError **error);

/* Chunking is stateless between chunks: buf starts at a chunk boundary.
 * Returns the length of the first chunk in buf[0..len):
 *  - a content-defined cut point, or max_size when none is found before it;
 *  - 0 when len < max_size, no cut point was found and !eof (read more);
 *  - len when eof and no cut point (the last chunk). */
gsize coffer_chunker_cut (const CofferChunker *chunker,
                          const guint8 *buf, gsize len, gboolean eof);

gsize coffer_chunker_get_max_size (const CofferChunker *chunker);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferChunker, coffer_chunker_free)

G_END_DECLS
