/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <sys/stat.h>
#include <glib.h>

G_BEGIN_DECLS

/* The files cache: path -> (inode, size, mtime, ctime, key epoch) ->
 * content blob ids, in a local SQLite database per category. An entry is
 * a hint only: the engine checks that every blob it names is in the index
 * before trusting it. Thread-safe (one connection behind a mutex), writes
 * batched in a transaction committed by coffer_files_cache_commit. */
typedef struct _CofferFilesCache CofferFilesCache;

CofferFilesCache *coffer_files_cache_open   (const char *path, GError **error);
void              coffer_files_cache_free   (CofferFilesCache *cache);  /* commits */
/* Returns the cached content ids (concatenated 32-byte ids) when the entry
 * matches st and epoch exactly, else NULL. */
GByteArray       *coffer_files_cache_lookup (CofferFilesCache *cache, const char *path,
                                             const struct stat *st, guint32 epoch);
void              coffer_files_cache_store  (CofferFilesCache *cache, const char *path,
                                             const struct stat *st, guint32 epoch,
                                             const GByteArray *content);
gboolean          coffer_files_cache_commit (CofferFilesCache *cache, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferFilesCache, coffer_files_cache_free)

G_END_DECLS
