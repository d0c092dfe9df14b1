/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The backup pipeline.
 *
 *   walker (calling thread) ── file jobs ──▶ workers (one per core):
 *        read → chunk ──▶ pack sink (blob id → dedup → seal → packs →
 *        bounded uploads → index deltas; coffer-pack-sink.c)
 *
 * Directories complete bottom-up: each DirNode counts its unfinished
 * children; the thread that finishes the last one serialises the tree blob
 * and reports to the parent. Memory stays bounded: a few files per worker
 * in flight, and the sink's bounded packs. Commit order: packs, then the
 * index delta (the sink), then the snapshot (here; docs/FORMAT.md "Commit
 * order"). */
#include <dirent.h>
#include <malloc.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <sodium.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>

#include "coffer-chunker.h"
#include "coffer-error.h"
#include "coffer-files-cache.h"
#include "coffer-pack-sink.h"
#include "coffer-repository-private.h"
#include "coffer-worker-pool.h"

#define CACHE_COMMIT_EVERY (30 * G_USEC_PER_SEC)
#define MAX_XATTR_SIZE     (64 * 1024)
/* Files go to the workers in batches of up to BATCH_FILES files or
 * BATCH_BYTES bytes: one hand-over and one wake-up per batch instead of
 * per file (docs/PERFORMANCE.md "Batches for the backup's workers"). */
#define BATCH_FILES        32
#define BATCH_BYTES        (4 * 1024 * 1024)

typedef struct _DirNode DirNode;

typedef struct
{
  CofferRepository   *repo;
  CofferCategoryKeys *keys;
  CofferEpochKeys    *ek;
  CofferIndex        *index;       /* everything committed (loaded + uploaded this run) */
  CofferPackSink     *sink;
  CofferChunker      *chunker;
  CofferFilesCache   *cache;
  CofferProgressMeter *meter;
  GCancellable       *cancellable;
  CofferStore        *store;
  gint64              trust_before_ns;  /* files modified later are not cached */
  guint               max_jobs;    /* batches */
  GPtrArray          *batch;       /* FileJobs not handed over yet (the walk's thread only) */
  guint64             batch_bytes;

  GMutex              lock;        /* jobs, skipped */
  GCond               cond;
  guint               jobs;        /* batches being processed */
  GPtrArray          *skipped;
  CofferWorkerPool   *workers;

  guint8              root_tree[COFFER_ID_BYTES];
  gboolean            have_root;

  /* statistics (atomic) */
  gint64              files;
  gint64              dirs;
  gint64              bytes;
  gint64              last_commit;
} Backup;

struct _DirNode
{
  DirNode         *parent;
  CofferTreeEntry *entry;      /* this directory's entry in the parent (NULL for the root) */
  GPtrArray       *entries;    /* CofferTreeEntry */
  gint             pending;    /* unfinished children + 1 while listing */
};

typedef struct
{
  DirNode         *dir;
  CofferTreeEntry *entry;
  char            *path;
  struct stat      st;
} FileJob;

static void dir_child_done (Backup *b, DirNode *dir);

static gboolean
failed (Backup *b)
{
  return coffer_pack_sink_failed (b->sink);
}

static void
add_skipped (Backup *b, const char *path, const char *reason)
{
  g_autofree char *display = g_filename_display_name (path);

  g_mutex_lock (&b->lock);
  g_ptr_array_add (b->skipped, g_strdup_printf ("%s: %s", display, reason));
  g_mutex_unlock (&b->lock);
}

static void
store_blob (Backup *b, CofferBlobType type, const guint8 *data, gsize len, guint8 id[COFFER_ID_BYTES])
{
  coffer_pack_sink_store (b->sink, type, data, len, id);
}

/* ---- directories ---- */

static DirNode *
dir_node_new (DirNode *parent, CofferTreeEntry *entry)
{
  DirNode *dir = g_new0 (DirNode, 1);

  dir->parent = parent;
  dir->entry = entry;
  dir->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_tree_entry_free);
  dir->pending = 1;
  return dir;
}

static void
dir_finish (Backup *b, DirNode *dir)
{
  g_autoptr(GBytes) data = NULL;
  guint8 id[COFFER_ID_BYTES];
  DirNode *parent = dir->parent;

  /* Entries whose file failed to read were marked with type 0: drop them. */
  for (guint i = dir->entries->len; i > 0; i--)
    {
      CofferTreeEntry *e = g_ptr_array_index (dir->entries, i - 1);
      if (e->type == 0)
        g_ptr_array_remove_index (dir->entries, i - 1);
    }
  data = coffer_tree_serialize (dir->entries);
  store_blob (b, COFFER_BLOB_TREE, g_bytes_get_data (data, NULL), g_bytes_get_size (data), id);
  __atomic_fetch_add (&b->dirs, 1, __ATOMIC_RELAXED);

  if (dir->entry != NULL)
    {
      g_byte_array_set_size (dir->entry->content, 0);
      g_byte_array_append (dir->entry->content, id, COFFER_ID_BYTES);
    }
  else
    {
      memcpy (b->root_tree, id, COFFER_ID_BYTES);
      b->have_root = TRUE;
    }
  g_ptr_array_unref (dir->entries);
  g_free (dir);
  if (parent != NULL)
    dir_child_done (b, parent);
}

static void
dir_child_done (Backup *b, DirNode *dir)
{
  if (g_atomic_int_dec_and_test (&dir->pending))
    dir_finish (b, dir);
}

/* ---- files ---- */

static void
read_xattrs (const char *path, CofferTreeEntry *entry)
{
  char list[4096];
  ssize_t n = llistxattr (path, list, sizeof list);

  for (ssize_t off = 0; n > 0 && off < n; off += strlen (list + off) + 1)
    {
      const char *name = list + off;
      g_autofree guint8 *value = NULL;
      ssize_t vlen = lgetxattr (path, name, NULL, 0);

      if (vlen < 0 || vlen > MAX_XATTR_SIZE)
        continue;
      value = g_malloc (MAX (vlen, 1));
      vlen = lgetxattr (path, name, value, vlen);
      if (vlen >= 0)
        {
          g_autoptr(GBytes) bytes = g_bytes_new (value, vlen);
          coffer_tree_entry_add_xattr (entry, name, bytes);
        }
    }
}

static CofferTreeEntry *
entry_from_stat (const char *name, const char *path, const struct stat *st)
{
  CofferNodeType type;
  CofferTreeEntry *e;

  if (S_ISREG (st->st_mode))
    type = COFFER_NODE_FILE;
  else if (S_ISDIR (st->st_mode))
    type = COFFER_NODE_DIR;
  else if (S_ISLNK (st->st_mode))
    type = COFFER_NODE_SYMLINK;
  else if (S_ISFIFO (st->st_mode))
    type = COFFER_NODE_FIFO;
  else if (S_ISCHR (st->st_mode))
    type = COFFER_NODE_CHARDEV;
  else if (S_ISBLK (st->st_mode))
    type = COFFER_NODE_BLOCKDEV;
  else if (S_ISSOCK (st->st_mode))
    type = COFFER_NODE_SOCKET;
  else
    return NULL;

  e = coffer_tree_entry_new (name, type);
  e->mode = st->st_mode & 07777;
  e->uid = st->st_uid;
  e->gid = st->st_gid;
  e->size = S_ISREG (st->st_mode) ? (guint64) st->st_size : 0;
  e->mtime_ns = (gint64) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  e->ctime_ns = (gint64) st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  e->inode = st->st_ino;
  /* A file with more than one hard link: its file system's device number
   * (with the inode, the restore finds the other names of the file). */
  e->rdev = S_ISREG (st->st_mode) && st->st_nlink > 1 ? st->st_dev : st->st_rdev;
  if (type == COFFER_NODE_SYMLINK)
    {
      g_autofree char *target = g_malloc (st->st_size + 2 > 2 ? st->st_size + 2 : 4096);
      gsize cap = st->st_size + 2 > 2 ? st->st_size + 2 : 4096;
      ssize_t n = readlink (path, target, cap - 1);
      if (n >= 0)
        {
          target[n] = '\0';
          e->link_target = g_steal_pointer (&target);
        }
      else
        e->link_target = g_strdup ("");
    }
  if (type != COFFER_NODE_SYMLINK)
    read_xattrs (path, e);
  return e;
}

/* Fewer blocks allocated than the size needs: the file may have holes. */
static gboolean
maybe_sparse (const struct stat *st)
{
  return S_ISREG (st->st_mode) && (guint64) st->st_blocks * 512 < (guint64) st->st_size;
}

/* The holes of the open file fd in [0, size), as (offset, length) pairs
 * for the tree's holes field, from SEEK_DATA/SEEK_HOLE; NULL when it has
 * none or the file system cannot tell. */
static GArray *
read_holes (int fd, guint64 size)
{
  g_autoptr(GArray) holes = g_array_new (FALSE, FALSE, sizeof (guint64));
  off_t pos = 0;

  while ((guint64) pos < size)
    {
      off_t data = lseek (fd, pos, SEEK_DATA);
      off_t hole;
      guint64 pair[2];

      if (data < 0 && errno != ENXIO)
        return NULL;        /* no SEEK_DATA here: no holes known */
      if (data < 0 || (guint64) data > size)
        data = size;        /* ENXIO: nothing but a hole up to the end */
      if (data > pos)
        {
          pair[0] = pos;
          pair[1] = data - pos;
          g_array_append_vals (holes, pair, 2);
        }
      if ((guint64) data >= size)
        break;
      hole = lseek (fd, data, SEEK_HOLE);
      if (hole < 0 || hole <= data)
        return NULL;
      pos = hole;
    }
  lseek (fd, 0, SEEK_SET);
  return holes->len > 0 ? g_steal_pointer (&holes) : NULL;
}

/* Keeps the holes inside the first size bytes (what was read). */
static void
clip_holes (CofferTreeEntry *entry, guint64 size)
{
  GArray *holes = entry->holes;
  guint kept = 0;

  if (holes == NULL)
    return;
  for (guint i = 0; i < holes->len; i += 2)
    {
      guint64 offset = g_array_index (holes, guint64, i);
      guint64 length = g_array_index (holes, guint64, i + 1);

      if (offset >= size)
        break;
      g_array_index (holes, guint64, kept) = offset;
      g_array_index (holes, guint64, kept + 1) = MIN (length, size - offset);
      kept += 2;
    }
  g_array_set_size (holes, kept);
  if (kept == 0)
    g_clear_pointer (&entry->holes, g_array_unref);
}

/* Holes of an unchanged file whose content came from the files cache. */
static void
record_holes (CofferTreeEntry *entry, const char *path, const struct stat *st)
{
  int fd;

  if (!maybe_sparse (st))
    return;
  fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return;
  entry->holes = read_holes (fd, st->st_size);
  clip_holes (entry, st->st_size);
  close (fd);
}

/* The buffer a worker reads files into, kept for its next file: a fresh
 * one per file cost a page fault per 4 KiB page the kernel copied into
 * it, 46 % of a first backup's faults (docs/PERFORMANCE.md "Backup
 * buffers"). Freed when the worker thread ends with the backup. */
typedef struct
{
  guint8 *data;
  gsize   capacity;
} ReadBuffer;

static void
read_buffer_free (gpointer data)
{
  ReadBuffer *rb = data;

  g_free (rb->data);
  g_free (rb);
}

static GPrivate read_buffer = G_PRIVATE_INIT (read_buffer_free);

/* This thread's read buffer with room for at least want bytes, keeping
 * what it holds. */
static ReadBuffer *
read_buffer_reserve (gsize want)
{
  ReadBuffer *rb = g_private_get (&read_buffer);

  if (rb == NULL)
    {
      rb = g_new0 (ReadBuffer, 1);
      g_private_set (&read_buffer, rb);
    }
  if (rb->capacity < want)
    {
      rb->data = g_realloc (rb->data, want);
      rb->capacity = want;
    }
  return rb;
}

/* Reads, chunks and stores one file; fills entry->content. */
static gboolean
process_file (Backup *b, FileJob *job, GError **error)
{
  gsize max = coffer_chunker_get_max_size (b->chunker);
  /* A window of max + 4 MiB: enough for any chunk, and refilled (moving at
   * most max bytes) after every 4 MiB consumed. */
  gsize window = max + 4 * 1024 * 1024;
  gsize cap = MIN ((gsize) job->st.st_size + 1, window);
  ReadBuffer *rb;
  guint8 *buf;
  gsize start = 0, filled = 0;
  gboolean eof = FALSE;
  guint64 total = 0;
  int fd;

  fd = open (job->path, O_RDONLY | O_NOATIME | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EPERM)
    fd = open (job->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (saved), g_strerror (saved));
      return FALSE;
    }
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  rb = read_buffer_reserve (cap);
  buf = rb->data;
  cap = MAX (cap, MIN (rb->capacity, window));
  g_byte_array_set_size (job->entry->content, 0);
  g_clear_pointer (&job->entry->holes, g_array_unref);
  if (maybe_sparse (&job->st))
    job->entry->holes = read_holes (fd, job->st.st_size);

  for (;;)
    {
      gsize avail = filled - start, cut;
      guint8 id[COFFER_ID_BYTES];

      if (avail < max && !eof)
        {
          if (start > 0)
            {
              memmove (buf, buf + start, avail);
              filled = avail;
              start = 0;
            }
          if (filled == cap && cap < window)
            {
              cap = window;
              buf = read_buffer_reserve (cap)->data;
            }
          while (filled < cap && !eof)
            {
              ssize_t n = read (fd, buf + filled, cap - filled);
              if (n < 0 && errno == EINTR)
                continue;
              if (n < 0)
                {
                  int saved = errno;
                  close (fd);
                  g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (saved), g_strerror (saved));
                  return FALSE;
                }
              if (n == 0)
                eof = TRUE;
              filled += n;
            }
          avail = filled - start;
        }
      if (avail == 0)
        break;
      if (failed (b))
        break;
      cut = coffer_chunker_cut (b->chunker, buf + start, avail, eof);
      if (cut == 0)
        continue;
      store_blob (b, COFFER_BLOB_DATA, buf + start, cut, id);
      g_byte_array_append (job->entry->content, id, COFFER_ID_BYTES);
      start += cut;
      total += cut;
      coffer_progress_meter_add (b->meter, 0, cut, 0, NULL);
      coffer_progress_meter_report (b->meter, FALSE);
    }
  close (fd);
  /* The file may have changed while it was read: record what was read. */
  job->entry->size = total;
  clip_holes (job->entry, total);
  return TRUE;
}

static void
process_job (Backup *b, FileJob *job)
{
  g_autoptr(GError) error = NULL;

  if (!failed (b))
    {
      coffer_progress_meter_add (b->meter, 0, 0, 0, job->path);
      if (process_file (b, job, &error))
        {
          __atomic_fetch_add (&b->files, 1, __ATOMIC_RELAXED);
          __atomic_fetch_add (&b->bytes, (gint64) job->entry->size, __ATOMIC_RELAXED);
          coffer_progress_meter_add (b->meter, 1, 0, 0, NULL);
          if ((gint64) job->st.st_mtim.tv_sec * 1000000000 + job->st.st_mtim.tv_nsec < b->trust_before_ns
              && (guint64) job->st.st_size == job->entry->size && !failed (b))
            coffer_files_cache_store (b->cache, job->path, &job->st, b->ek->epoch, job->entry->content);
        }
      else if (!failed (b))
        {
          add_skipped (b, job->path, error->message);
          job->entry->type = 0;   /* dropped by dir_finish */
        }
    }
  dir_child_done (b, job->dir);
  g_free (job->path);
  g_free (job);
}

static void
worker_func (gpointer data, gpointer user_data)
{
  GPtrArray *batch = data;
  Backup *b = user_data;

  for (guint i = 0; i < batch->len; i++)
    process_job (b, g_ptr_array_index (batch, i));
  g_ptr_array_unref (batch);

  g_mutex_lock (&b->lock);
  b->jobs--;
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
}

/* Hands the files collected so far to the workers, waiting while enough
 * batches are queued. Every collected file must be handed over before the
 * walk waits for the workers: its folder is finished only after it. */
static void
submit_batch (Backup *b)
{
  GPtrArray *batch = b->batch;

  if (batch == NULL || batch->len == 0)
    return;
  b->batch = g_ptr_array_new ();
  b->batch_bytes = 0;
  g_mutex_lock (&b->lock);
  while (b->jobs >= b->max_jobs && !failed (b))
    g_cond_wait (&b->cond, &b->lock);
  b->jobs++;
  g_mutex_unlock (&b->lock);
  _coffer_worker_pool_push (b->workers, batch);
}

/* Every blob of a cached file must still be in the index. */
static gboolean
cached_content_valid (Backup *b, GByteArray *content)
{
  for (guint off = 0; off < content->len; off += COFFER_ID_BYTES)
    if (!coffer_index_contains (b->index, content->data + off))
      return FALSE;
  return TRUE;
}

static void
submit_file (Backup *b, DirNode *dir, CofferTreeEntry *entry, const char *path, const struct stat *st)
{
  GByteArray *cached = coffer_files_cache_lookup (b->cache, path, st, b->ek->epoch);
  FileJob *job;

  if (cached != NULL && cached_content_valid (b, cached))
    {
      g_byte_array_set_size (entry->content, 0);
      g_byte_array_append (entry->content, cached->data, cached->len);
      g_byte_array_unref (cached);
      record_holes (entry, path, st);
      __atomic_fetch_add (&b->files, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add (&b->bytes, (gint64) st->st_size, __ATOMIC_RELAXED);
      coffer_progress_meter_add (b->meter, 1, st->st_size, 0, NULL);
      return;
    }
  g_clear_pointer (&cached, g_byte_array_unref);

  job = g_new0 (FileJob, 1);
  job->dir = dir;
  job->entry = entry;
  job->path = g_strdup (path);
  job->st = *st;
  g_atomic_int_inc (&dir->pending);

  g_ptr_array_add (b->batch, job);
  b->batch_bytes += (guint64) MAX (st->st_size, 0);
  if (b->batch->len >= BATCH_FILES || b->batch_bytes >= BATCH_BYTES)
    submit_batch (b);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void walk_dir (Backup *b, DirNode *dir, const char *path);
static void maybe_checkpoint (Backup *b);

/* Adds the entry for path (already lstat'ed) to dir, descending into folders. */
static void
add_path (Backup *b, DirNode *dir, const char *name, const char *path, const struct stat *st)
{
  CofferTreeEntry *entry;

  if (b->keys->info->excludes != NULL && coffer_category_is_excluded (b->keys->info, path, name))
    return;
  entry = entry_from_stat (name, path, st);
  if (entry == NULL)
    return;
  g_ptr_array_add (dir->entries, entry);
  if (entry->type == COFFER_NODE_DIR)
    {
      DirNode *child = dir_node_new (dir, entry);
      g_atomic_int_inc (&dir->pending);
      walk_dir (b, child, path);
      dir_child_done (b, child);
    }
  else if (entry->type == COFFER_NODE_FILE)
    submit_file (b, dir, entry, path, st);
}

static void
walk_dir (Backup *b, DirNode *dir, const char *path)
{
  DIR *d;
  struct dirent *de;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int dfd;

  if (failed (b))
    return;
  d = opendir (path);
  if (d == NULL)
    {
      add_skipped (b, path, g_strerror (errno));
      return;
    }
  dfd = dirfd (d);
  while ((de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      g_ptr_array_add (names, g_strdup (de->d_name));
    }
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len && !failed (b); i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *child = g_build_filename (path, name, NULL);
      struct stat st;

      if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        {
          add_skipped (b, child, g_strerror (errno));
          continue;
        }
      add_path (b, dir, name, child, &st);
      maybe_checkpoint (b);
    }
  closedir (d);
}

/* The category's paths as a tree of their components from "/". */
typedef struct _RootNode
{
  char       *name;
  GHashTable *children;  /* name -> RootNode */
  gboolean    selected;  /* a backed-up path ends here */
} RootNode;

static void
root_node_free (gpointer data)
{
  RootNode *n = data;

  g_free (n->name);
  g_hash_table_unref (n->children);
  g_free (n);
}

static RootNode *
root_node_new (const char *name)
{
  RootNode *n = g_new0 (RootNode, 1);

  n->name = g_strdup (name);
  n->children = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, root_node_free);
  return n;
}

static void
walk_root (Backup *b, DirNode *dir, RootNode *node, const char *path)
{
  g_autoptr(GList) keys = g_hash_table_get_keys (node->children);

  keys = g_list_sort (keys, (GCompareFunc) strcmp);
  for (GList *l = keys; l != NULL && !failed (b); l = l->next)
    {
      RootNode *child = g_hash_table_lookup (node->children, l->data);
      g_autofree char *child_path = g_strconcat (path, "/", child->name, NULL);
      struct stat st;

      if (lstat (child_path, &st) != 0)
        {
          add_skipped (b, child_path, g_strerror (errno));
          continue;
        }
      if (child->selected)
        add_path (b, dir, child->name, child_path, &st);
      else if (S_ISDIR (st.st_mode))
        {
          /* A folder on the way to a backed-up path: keep its metadata,
           * but only the children that lead somewhere. */
          CofferTreeEntry *entry = entry_from_stat (child->name, child_path, &st);
          DirNode *sub = dir_node_new (dir, entry);
          /* Its times change whenever anything beside the backed-up path
           * changes (think of /tmp or the home folder); they are not part
           * of the backup, and leaving them out keeps an unchanged backup
           * from writing new trees. */
          entry->mtime_ns = 0;
          entry->ctime_ns = 0;
          entry->inode = 0;
          g_ptr_array_add (dir->entries, entry);
          g_atomic_int_inc (&dir->pending);
          walk_root (b, sub, child, child_path);
          dir_child_done (b, sub);
        }
      else
        add_skipped (b, child_path, _("not a folder"));
    }
}

static RootNode *
build_roots (char **paths)
{
  RootNode *root = root_node_new ("/");

  for (guint i = 0; paths != NULL && paths[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (paths[i], "/", -1);
      RootNode *node = root;

      for (guint j = 0; parts[j] != NULL; j++)
        {
          RootNode *next;
          if (parts[j][0] == '\0' || strcmp (parts[j], ".") == 0)
            continue;
          next = g_hash_table_lookup (node->children, parts[j]);
          if (next == NULL)
            {
              next = root_node_new (parts[j]);
              g_hash_table_insert (node->children, next->name, next);
            }
          node = next;
        }
      node->selected = TRUE;
      /* Everything below a selected folder is backed up anyway. */
      g_hash_table_remove_all (node->children);
    }
  return root;
}

static void
clear_selected_children (RootNode *node)
{
  GHashTableIter iter;
  gpointer value;

  if (node->selected)
    {
      g_hash_table_remove_all (node->children);
      return;
    }
  g_hash_table_iter_init (&iter, node->children);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    clear_selected_children (value);
}

/* ---- checkpoints ---- */

static void
maybe_checkpoint (Backup *b)
{
  gint64 now = g_get_monotonic_time ();

  coffer_pack_sink_maybe_checkpoint (b->sink);
  if (now - b->last_commit > CACHE_COMMIT_EVERY)
    {
      coffer_files_cache_commit (b->cache, NULL);
      b->last_commit = now;
    }
}

/* ---- the operation ---- */

static char *
running_marker (Backup *b)
{
  g_autofree char *dir = coffer_state_get_cache_dir (b->repo->state, b->keys->id);
  return g_build_filename (dir, "backup-running", NULL);
}

/* Totals for progress and ETA come from a metadata-only scan of the data
 * in a thread of its own, running alongside the backup (it never reads file
 * contents). Not from the previous snapshot: the data may have grown or
 * shrunk since, and "383 MB of 420 kB" or an ETA of nothing left with work
 * remaining is what that gives. Until the scan is done the totals are
 * reported as still growing (CofferProgress.scanning) and there is no ETA. */
typedef struct
{
  Backup  *b;
  guint64  files;
  guint64  bytes;
  gint     stop;
} Scan;

static void
scan_dir (Scan *scan, const char *path)
{
  DIR *d = opendir (path);
  struct dirent *de;

  if (d == NULL)
    return;
  while ((de = readdir (d)) != NULL && !g_atomic_int_get (&scan->stop))
    {
      g_autofree char *child = NULL;
      struct stat st;

      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      child = g_strconcat (path, "/", de->d_name, NULL);
      if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0
          || coffer_category_is_excluded (scan->b->keys->info, child, de->d_name))
        continue;
      if (S_ISDIR (st.st_mode))
        scan_dir (scan, child);
      else if (S_ISREG (st.st_mode))
        {
          scan->files++;
          scan->bytes += st.st_size;
          if (scan->files % 256 == 0)
            coffer_progress_meter_set_scanned (scan->b->meter, scan->files, scan->bytes);
        }
    }
  closedir (d);
}

static gpointer
scan_thread (gpointer data)
{
  Scan *scan = data;
  char **paths = scan->b->keys->info->paths;

  _coffer_worker_thread_lower ();

  for (guint i = 0; paths[i] != NULL && !g_atomic_int_get (&scan->stop); i++)
    {
      struct stat st;
      if (lstat (paths[i], &st) != 0)
        continue;
      if (S_ISDIR (st.st_mode))
        scan_dir (scan, paths[i]);
      else if (S_ISREG (st.st_mode))
        {
          scan->files++;
          scan->bytes += st.st_size;
        }
    }
  if (!g_atomic_int_get (&scan->stop))
    coffer_progress_meter_set_totals (scan->b->meter, scan->files, scan->bytes);
  return NULL;
}

static GThread *
start_scan (Backup *b, Scan *scan)
{
  scan->b = b;
  coffer_progress_meter_set_scanned (b->meter, 0, 0);
  return g_thread_new ("coffer-scan", scan_thread, scan);
}

/* The snapshot of a finished run: its tree, counts, parent and a sequence
 * number above every snapshot of the category this computer has seen. */
static CofferSnapshot *
snapshot_for_run (Backup *b, GPtrArray *snapshots, gint64 start_time)
{
  CofferRepository *self = b->repo;
  CofferSnapshot *snap;

  snap = coffer_snapshot_new ();
  snap->time = start_time;
  snap->end_time = g_get_real_time ();
  snap->device_id = g_strdup (self->device_id ? self->device_id : "");
  snap->hostname = g_strdup (g_get_host_name ());
  snap->category_id = g_strdup (b->keys->id);
  snap->category_name = g_strdup (b->keys->info->name);
  snap->paths = g_strdupv (b->keys->info->paths);
  memcpy (snap->tree, b->root_tree, COFFER_ID_BYTES);
  if (snapshots->len > 0)
    {
      CofferSnapshot *last = g_ptr_array_index (snapshots, snapshots->len - 1);
      snap->parent = g_strdup (last->id);
    }
  {
    g_autofree char *group = g_strdup_printf ("category %s", b->keys->id);
    guint64 seq = coffer_state_get_uint (self->state, group, "seq");
    for (guint i = 0; i < snapshots->len; i++)
      seq = MAX (seq, ((CofferSnapshot *) g_ptr_array_index (snapshots, i))->seq);
    snap->seq = seq + 1;
  }
  snap->epoch = b->ek->epoch;
  snap->files = b->files;
  snap->dirs = b->dirs;
  snap->bytes = b->bytes;
  snap->added_bytes = coffer_pack_sink_get_uploaded (b->sink);
  snap->skipped = b->skipped->len;
  snap->partial = b->skipped->len > 0;
  return snap;
}

/* Walks the category's folders with the worker pool and waits until every
 * file and folder was stored; the root tree is then in b->root_tree. */
static void
walk_and_drain (Backup *b)
{
  RootNode *roots;
  DirNode *root;
  guint n_workers;

  n_workers = MAX (2, g_get_num_processors ());
  b->max_jobs = n_workers * 2;
  b->batch = g_ptr_array_new ();
  b->batch_bytes = 0;
  b->workers = _coffer_worker_pool_new ("coffer-backup", worker_func, b, n_workers);

  roots = build_roots (b->keys->info->paths);
  clear_selected_children (roots);
  root = dir_node_new (NULL, NULL);
  walk_root (b, root, roots, "");
  submit_batch (b);
  /* Drain: files, then the root tree, then the packs. */
  _coffer_worker_pool_free (b->workers);
  b->workers = NULL;
  g_clear_pointer (&b->batch, g_ptr_array_unref);
  dir_child_done (b, root);
  root_node_free (roots);
}

/* What a run works with: the category's index (the run adds what it
 * uploads, so later files deduplicate against earlier ones), this
 * computer's files cache, the chunker and the pack sink. */
static gboolean
open_run (Backup *b, GError **error)
{
  g_autofree char *cache_dir = NULL;
  g_autofree char *cache_path = NULL;

  b->index = _coffer_repository_get_index (b->repo, b->keys, b->cancellable, error);
  if (b->index == NULL)
    return FALSE;
  cache_dir = coffer_state_get_cache_dir (b->repo->state, b->keys->id);
  cache_path = g_build_filename (cache_dir, "files.sqlite", NULL);
  b->cache = coffer_files_cache_open (cache_path, error);
  if (b->cache == NULL)
    return FALSE;
  b->chunker = coffer_chunker_new (b->ek->gear_key, COFFER_CHUNK_MIN, COFFER_CHUNK_AVG, COFFER_CHUNK_MAX);
  b->sink = coffer_pack_sink_new (b->repo, b->keys, b->index, b->meter, b->cancellable);
  return TRUE;
}

CofferSnapshot *
coffer_backup_run (CofferRepository *self, const char *category_id,
                   CofferProgressFunc progress, gpointer progress_data,
                   GPtrArray **skipped, GCancellable *cancellable, GError **error)
{
  Backup bk = { 0 };
  Backup *b = &bk;
  g_autoptr(GPtrArray) snapshots = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autoptr(GError) run_error = NULL;
  g_autofree char *marker = NULL;
  int lock_fd = -1;
  Scan scan = { 0 };
  GThread *scanner = NULL;
  gint64 start_time = g_get_real_time ();
  CofferSnapshot *result = NULL;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  g_return_val_if_fail (category_id != NULL, NULL);

  b->repo = self;
  b->store = coffer_repository_get_store (self);
  b->cancellable = cancellable;
  b->keys = _coffer_repository_get_category (self, category_id, cancellable, error);
  if (b->keys == NULL)
    return NULL;
  if (b->keys->info->paths == NULL || b->keys->info->paths[0] == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("The category “%s” has no folders on this computer: folders belong to a computer, "
                   "and this one's have not been chosen yet (the other computers back up their own)."),
                   b->keys->info->name);
      return NULL;
    }
  lock_fd = coffer_state_lock_category (self->state, b->keys->id, error);
  if (lock_fd < 0)
    return NULL;

  g_mutex_init (&b->lock);
  g_cond_init (&b->cond);
  b->ek = coffer_category_keys_newest (b->keys);
  b->skipped = g_ptr_array_new_with_free_func (g_free);
  b->meter = coffer_progress_meter_new ("backup", b->keys->info->name, progress, progress_data);
  b->last_commit = g_get_monotonic_time ();
  /* Timestamps are trusted to the cache only when clearly older than the
   * scan start (a file modified in the same clock tick could change again
   * without its mtime moving). */
  b->trust_before_ns = (start_time / G_USEC_PER_SEC - 2) * G_GINT64_CONSTANT (1000000000);

  snapshots = _coffer_repository_load_snapshots (self, b->keys, cancellable, &run_error);
  if (snapshots == NULL)
    goto out;
  if (!open_run (b, &run_error))
    goto out;
  scanner = start_scan (b, &scan);

  marker = running_marker (b);
  if (g_file_test (marker, G_FILE_TEST_EXISTS))
    coffer_pack_sink_recover_orphans (b->sink);
  g_file_set_contents (marker, "", 0, NULL);

  walk_and_drain (b);
  if (!coffer_pack_sink_finish (b->sink, &run_error))
    goto out;
  g_assert (b->have_root);

  snap = snapshot_for_run (b, snapshots, start_time);

  if (_coffer_repository_write_snapshot (self, b->keys, snap, cancellable, &run_error) == NULL)
    goto out;
  coffer_files_cache_commit (b->cache, NULL);
  g_unlink (marker);
  coffer_progress_meter_finish (b->meter);
  result = g_steal_pointer (&snap);

out:
  if (scanner != NULL)
    {
      g_atomic_int_set (&scan.stop, 1);
      g_thread_join (scanner);
    }
  if (b->workers != NULL)
    _coffer_worker_pool_free (b->workers);
  g_clear_pointer (&b->sink, coffer_pack_sink_free);
  g_clear_pointer (&b->cache, coffer_files_cache_free);
  g_clear_pointer (&b->chunker, coffer_chunker_free);
  g_clear_pointer (&b->meter, coffer_progress_meter_free);
  if (skipped != NULL)
    *skipped = g_steal_pointer (&b->skipped);
  g_clear_pointer (&b->skipped, g_ptr_array_unref);
  /* The loaded index now lags behind the index objects this run wrote. */
  _coffer_repository_drop_index (self, b->keys);
  if (run_error != NULL)
    g_propagate_error (error, g_steal_pointer (&run_error));
  g_mutex_clear (&b->lock);
  g_cond_clear (&b->cond);
  coffer_state_unlock_category (lock_fd);
  return result;
}
