/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-crypto.h"

G_BEGIN_DECLS

/* The blob index of one category: blob id -> pack, offset, length.
 * In memory it is a sorted table of fixed 48-byte records plus a hash table
 * of entries added since the last sort; lookups are thread-safe against
 * concurrent adds (internal GMutex or RW lock). */
typedef struct
{
  guint8  id[COFFER_ID_BYTES];
  guint32 pack;        /* index into the pack table (coffer_index_get_pack_id) */
  guint32 offset;
  guint32 length;      /* sealed length */
  guint32 raw_length;  /* plaintext length */
  guint8  type;        /* CofferBlobType */
} CofferIndexEntry;

typedef struct _CofferIndex CofferIndex;

CofferIndex *coffer_index_new   (void);
void         coffer_index_free  (CofferIndex *index);

/* Adds (or ignores a duplicate of) an entry. pack_id is the 32-byte pack hash. */
void     coffer_index_add       (CofferIndex *index, const guint8 id[COFFER_ID_BYTES],
                                 CofferBlobType type, const guint8 pack_id[COFFER_ID_BYTES],
                                 guint32 offset, guint32 length, guint32 raw_length);
gboolean coffer_index_lookup    (CofferIndex *index, const guint8 id[COFFER_ID_BYTES],
                                 CofferIndexEntry *out);
gboolean coffer_index_contains  (CofferIndex *index, const guint8 id[COFFER_ID_BYTES]);
const guint8 *coffer_index_get_pack_id (CofferIndex *index, guint32 pack);
guint    coffer_index_get_n_packs (CofferIndex *index);
guint64  coffer_index_get_n_blobs (CofferIndex *index);
/* Removes every blob stored in one of the given packs (for prune and for
 * packs marked for deletion). pack_ids: GPtrArray of 32-byte ids. */
void     coffer_index_remove_packs (CofferIndex *index, GHashTable *pack_ids /* set of hex names */);
/* Calls func for every entry, in id order. */
typedef void (*CofferIndexForeachFunc) (const CofferIndexEntry *entry, const guint8 *pack_id, gpointer user_data);
void     coffer_index_foreach   (CofferIndex *index, CofferIndexForeachFunc func, gpointer user_data);

/* Index objects (stored as COFFER_OBJECT_INDEX envelopes, zstd inside):
 * GVariant "(uaaya(ayyuuuu)as)": version 1, pack ids, entries
 * (id, type, pack number in this object's pack list, offset, length,
 * raw length), names of index objects this one supersedes.
 * serialize writes all entries of index (or of the packs in only_packs,
 * a set of hex pack names, when not NULL). */
GBytes  *coffer_index_serialize (CofferIndex *index, GHashTable *only_packs,
                                 const char * const *supersedes);
/* Merges the entries of an index object into index; returns the names it
 * supersedes (NULL-terminated, may be empty). */
gboolean coffer_index_merge     (CofferIndex *index, GBytes *plaintext,
                                 char ***supersedes, GError **error);

/* Local cache: the sorted table in a file, memory-mapped on load. */
/* Tests only: FALSE makes coffer_index_merge read every object the
 * GVariant way (coffer-index.c, "Reading index objects without GVariant"). */
void     _coffer_index_set_fast_read (gboolean enabled);
/* How many objects were read that way so far. */
guint    _coffer_index_get_fast_reads (void);

gboolean     coffer_index_save  (CofferIndex *index, const char *path, GError **error);
CofferIndex *coffer_index_load  (const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferIndex, coffer_index_free)

G_END_DECLS
