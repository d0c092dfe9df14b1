/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-crypto.h"

G_BEGIN_DECLS

/* A pack: sealed blobs (coffer_blob_seal) back to back in random order, then
 *   encrypted header: nonce (24) | XChaCha20-Poly1305(header GVariant) | tag
 *       AD = "coffer-pack-header" || epoch (u32 LE)
 *   header length (u32 LE, bytes of the encrypted header)
 *   key epoch (u32 LE)
 *   magic "CFP1"
 * header plaintext (version 2): version 2 (u32 LE) | g (u32 LE) | GVariant
 *   "a(ayyuuu)" of g bytes, per blob (id[32], blob type, offset, sealed
 *   length, plaintext length) | zero bytes up to 8 + 64 * bucket(count).
 *   Version 1 (0.1.0, still read): the GVariant "(ua(ayyuuu))" (1, entries).
 * Between the last blob and the encrypted header the writer puts random
 * filler so the pack's size is coffer_pack_padded_size(); readers ignore it.
 * The pack's name is the lowercase hex BLAKE2b-256 of all its bytes. */
#define COFFER_PACK_TRAILER_BYTES 12

typedef struct
{
  guint8  id[COFFER_ID_BYTES];
  guint8  type;          /* CofferBlobType */
  guint32 offset;        /* in the pack */
  guint32 length;        /* sealed length */
  guint32 raw_length;    /* plaintext length */
} CofferPackEntry;

typedef struct _CofferPackWriter CofferPackWriter;

/* A pack of one key epoch; suite is that epoch's (it names the pack). */
CofferPackWriter *coffer_pack_writer_new   (const CofferSecret *data_key, guint32 epoch,
                                            CofferHashSuite suite);
void              coffer_pack_writer_free  (CofferPackWriter *writer);
/* Before the first blob: the pack's shuffle, filler and header nonce are
 * derived from a hash, keyed with the data key, of the blobs added, so the
 * same blobs make the same pack (prune uses it: a run again after a kill
 * finds the packs it stored). */
void              coffer_pack_writer_set_deterministic (CofferPackWriter *writer);
/* Takes a sealed blob. Blobs are kept until finish, which writes them in a
 * random order. */
void   coffer_pack_writer_add        (CofferPackWriter *writer,
                                      const guint8      id[COFFER_ID_BYTES],
                                      CofferBlobType    type,
                                      GBytes           *sealed,
                                      guint32           raw_length);
gsize  coffer_pack_writer_get_size   (CofferPackWriter *writer);   /* bytes so far */
guint  coffer_pack_writer_get_count  (CofferPackWriter *writer);
/* Returns the whole pack; out_id receives its name hash, entries (element
 * type CofferPackEntry, GArray) the final offsets. The writer is spent. */
GBytes *coffer_pack_writer_finish    (CofferPackWriter *writer,
                                      guint8            out_id[COFFER_ID_BYTES],
                                      GArray          **entries);

/* Pack buffers allocated so far: finished packs reuse the buffer of one
 * freed before (for tests and measurements). */
guint   _coffer_pack_get_buffers_made (void);

/* Writer policy (informative, docs/FORMAT.md "Packs"): the number of entry
 * slots in a header for n blobs (a power of two, at least 16), and the size
 * a pack of size bytes is padded to (a power of two of at least 64 KiB up to
 * 1 MiB, the Padmé length above). */
guint   coffer_pack_entry_bucket (guint n);
guint64 coffer_pack_padded_size  (guint64 size);

/* Parses the trailer (last COFFER_PACK_TRAILER_BYTES bytes) of a pack of
 * total size pack_size: the header length and key epoch. */
gboolean coffer_pack_parse_trailer (const guint8 *trailer, guint64 pack_size,
                                    guint32 *header_len, guint32 *epoch,
                                    GError **error);
/* Decrypts an encrypted header (the header_len bytes before the trailer).
 * Returns GArray of CofferPackEntry; checks that entries lie inside the
 * pack and do not overlap. */
GArray *coffer_pack_read_header (const CofferSecret *data_key, guint32 epoch,
                                 const guint8 *header, gsize header_len,
                                 guint64 pack_size, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferPackWriter, coffer_pack_writer_free)

G_END_DECLS
