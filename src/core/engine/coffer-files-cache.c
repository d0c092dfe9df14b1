/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>
#include <sqlite3.h>
#include <glib/gi18n-lib.h>

#include "coffer-error.h"
#include "coffer-files-cache.h"

struct _CofferFilesCache
{
  GMutex        lock;
  sqlite3      *db;
  sqlite3_stmt *lookup;
  sqlite3_stmt *store;
  gboolean      in_transaction;
};

static gboolean
exec (CofferFilesCache *cache, const char *sql, GError **error)
{
  char *msg = NULL;

  if (sqlite3_exec (cache->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED,
                   _("The local files cache failed: %s"), msg ? msg : _("unknown error"));
      sqlite3_free (msg);
      return FALSE;
    }
  return TRUE;
}

CofferFilesCache *
coffer_files_cache_open (const char *path, GError **error)
{
  CofferFilesCache *cache = g_new0 (CofferFilesCache, 1);

  g_mutex_init (&cache->lock);
  if (sqlite3_open_v2 (path, &cache->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED,
                   _("Could not open the local files cache %s: %s"), path,
                   cache->db ? sqlite3_errmsg (cache->db) : _("out of memory"));
      coffer_files_cache_free (cache);
      return NULL;
    }
  sqlite3_busy_timeout (cache->db, 5000);
  if (!exec (cache, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    "CREATE TABLE IF NOT EXISTS files ("
                    " path BLOB PRIMARY KEY, inode INTEGER, size INTEGER, mtime INTEGER,"
                    " ctime INTEGER, epoch INTEGER, content BLOB) WITHOUT ROWID;", error)
      || sqlite3_prepare_v2 (cache->db,
                             "SELECT inode, size, mtime, ctime, epoch, content FROM files WHERE path = ?",
                             -1, &cache->lookup, NULL) != SQLITE_OK
      || sqlite3_prepare_v2 (cache->db,
                             "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                             -1, &cache->store, NULL) != SQLITE_OK)
    {
      if (error && !*error)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED,
                     _("The local files cache %s is not usable: %s"), path, sqlite3_errmsg (cache->db));
      coffer_files_cache_free (cache);
      return NULL;
    }
  return cache;
}

void
coffer_files_cache_free (CofferFilesCache *cache)
{
  if (cache == NULL)
    return;
  if (cache->in_transaction)
    exec (cache, "COMMIT", NULL);
  sqlite3_finalize (cache->lookup);
  sqlite3_finalize (cache->store);
  sqlite3_close (cache->db);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

static gint64
ns (const struct timespec *ts)
{
  return (gint64) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

GByteArray *
coffer_files_cache_lookup (CofferFilesCache *cache, const char *path, const struct stat *st, guint32 epoch)
{
  GByteArray *content = NULL;

  g_mutex_lock (&cache->lock);
  sqlite3_bind_blob (cache->lookup, 1, path, strlen (path), SQLITE_STATIC);
  if (sqlite3_step (cache->lookup) == SQLITE_ROW
      && (guint64) sqlite3_column_int64 (cache->lookup, 0) == (guint64) st->st_ino
      && sqlite3_column_int64 (cache->lookup, 1) == st->st_size
      && sqlite3_column_int64 (cache->lookup, 2) == ns (&st->st_mtim)
      && sqlite3_column_int64 (cache->lookup, 3) == ns (&st->st_ctim)
      && sqlite3_column_int64 (cache->lookup, 4) == epoch)
    {
      const void *blob = sqlite3_column_blob (cache->lookup, 5);
      int n = sqlite3_column_bytes (cache->lookup, 5);
      if (n % 32 == 0)
        {
          content = g_byte_array_sized_new (n);
          if (n > 0)
            g_byte_array_append (content, blob, n);
        }
    }
  sqlite3_reset (cache->lookup);
  sqlite3_clear_bindings (cache->lookup);
  g_mutex_unlock (&cache->lock);
  return content;
}

void
coffer_files_cache_store (CofferFilesCache *cache, const char *path, const struct stat *st,
                          guint32 epoch, const GByteArray *content)
{
  g_mutex_lock (&cache->lock);
  if (!cache->in_transaction)
    cache->in_transaction = exec (cache, "BEGIN", NULL);
  sqlite3_bind_blob (cache->store, 1, path, strlen (path), SQLITE_STATIC);
  sqlite3_bind_int64 (cache->store, 2, (sqlite3_int64) st->st_ino);
  sqlite3_bind_int64 (cache->store, 3, st->st_size);
  sqlite3_bind_int64 (cache->store, 4, ns (&st->st_mtim));
  sqlite3_bind_int64 (cache->store, 5, ns (&st->st_ctim));
  sqlite3_bind_int64 (cache->store, 6, epoch);
  sqlite3_bind_blob (cache->store, 7, content->len ? content->data : (const guint8 *) "", content->len, SQLITE_STATIC);
  if (sqlite3_step (cache->store) != SQLITE_DONE)
    g_debug ("files cache insert failed: %s", sqlite3_errmsg (cache->db));
  sqlite3_reset (cache->store);
  sqlite3_clear_bindings (cache->store);
  g_mutex_unlock (&cache->lock);
}

gboolean
coffer_files_cache_commit (CofferFilesCache *cache, GError **error)
{
  gboolean ok = TRUE;

  g_mutex_lock (&cache->lock);
  if (cache->in_transaction)
    {
      ok = exec (cache, "COMMIT", error);
      cache->in_transaction = FALSE;
    }
  g_mutex_unlock (&cache->lock);
  return ok;
}
