/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Making restored files durable (coffer-restore-sync.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "coffer-restore-sync.h"

/* Files waited on together; one batch at a time, so at most about twice
 * this many restored files are open. */
#define SYNC_BATCH 128

#ifndef EXT4_SUPER_MAGIC
#define EXT4_SUPER_MAGIC 0xEF53   /* also ext2 and ext3, which the ext4 driver mounts */
#endif
#ifndef XFS_SUPER_MAGIC
#define XFS_SUPER_MAGIC 0x58465342
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC 0x858458f6
#endif

typedef struct
{
  CofferSyncKind kind;
  int            fd;       /* open until waited on */
  char           path[];   /* for messages */
} SyncItem;

struct _CofferRestoreSync
{
  CofferSyncErrorFunc on_error;
  gpointer            user_data;
  GMutex              lock;
  GCond               cond;
  GPtrArray          *unsynced;   /* SyncItem: written, not yet durable (under lock) */
  gboolean            syncing;    /* a thread is waiting on a batch (under lock) */
  gboolean            failed;     /* atomic: an error was reported */
  /* Main thread: */
  GHashTable         *dirs;       /* folders whose entries changed */
  GHashTable         *kinds;      /* dev_t (gint64) -> CofferSyncKind */
  char               *last_dir;   /* the folder noted last, and its kind */
  CofferSyncKind      last_kind;
};

static CofferRestoreSyncStats stats;   /* atomic fields */

void
_coffer_restore_sync_get_stats (CofferRestoreSyncStats *out)
{
  out->range_waits = g_atomic_int_get (&stats.range_waits);
  out->fdatasyncs = g_atomic_int_get (&stats.fdatasyncs);
  out->commits = g_atomic_int_get (&stats.commits);
  out->syncfs = g_atomic_int_get (&stats.syncfs);
  out->dir_fsyncs = g_atomic_int_get (&stats.dir_fsyncs);
}

static void
sync_item_free (gpointer data)
{
  SyncItem *item = data;

  if (item->fd >= 0)
    close (item->fd);
  g_free (item);
}

/* ext4 has a journal unless it was made without one (mkfs.ext4 -O
 * ^has_journal, as some cloud and embedded images are) or is an ext2
 * mounted by the ext4 driver; statfs() does not tell. Linux says it in
 * /sys/fs/ext4/NAME/journal_task ("<none>" without one) and lists every
 * journal in use as /proc/fs/jbd2/NAME-INODE, NAME being the block
 * device's (/sys/dev/block/MAJOR:MINOR links to it). TRUE only when a
 * journal is seen: an external journal (named after its own device) or
 * a sandbox that hides both places make Coffer sync the whole file
 * system, which is slower but true. */
static gboolean
ext4_has_journal (dev_t dev)
{
  g_autofree char *link = g_strdup_printf ("/sys/dev/block/%u:%u", major (dev), minor (dev));
  g_autofree char *target = g_file_read_link (link, NULL);
  g_autofree char *name = NULL;
  g_autofree char *task_path = NULL;
  g_autofree char *task = NULL;
  g_autofree char *prefix = NULL;
  g_autoptr(GDir) jbd2 = NULL;
  const char *entry;

  if (target == NULL)
    return FALSE;
  name = g_path_get_basename (target);
  task_path = g_build_filename ("/sys/fs/ext4", name, "journal_task", NULL);
  if (g_file_get_contents (task_path, &task, NULL, NULL))
    return !g_str_has_prefix (task, "<none>");
  prefix = g_strconcat (name, "-", NULL);
  jbd2 = g_dir_open ("/proc/fs/jbd2", 0, NULL);
  while (jbd2 != NULL && (entry = g_dir_read_name (jbd2)) != NULL)
    if (g_str_has_prefix (entry, prefix))
      return TRUE;
  return FALSE;
}

static CofferSyncKind
kind_of (int fd, dev_t dev)
{
  struct statfs sfs;

  if (fstatfs (fd, &sfs) != 0)
    return COFFER_SYNC_FILE;
  switch ((unsigned long) sfs.f_type)
    {
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
      return COFFER_SYNC_NONE;
    case XFS_SUPER_MAGIC:
      return COFFER_SYNC_ORDERED;
    case EXT4_SUPER_MAGIC:
      return ext4_has_journal (dev) ? COFFER_SYNC_ORDERED : COFFER_SYNC_WHOLE;
    default:
      return COFFER_SYNC_FILE;
    }
}

CofferSyncKind
_coffer_sync_kind_of_fd (int fd)
{
  struct stat st;

  if (fstat (fd, &st) != 0)
    return COFFER_SYNC_FILE;
  return kind_of (fd, st.st_dev);
}

/* Main thread: the kind of the file system an open folder is on,
 * found once per file system. */
static CofferSyncKind
cached_kind (CofferRestoreSync *sync, int fd, dev_t dev)
{
  gint64 key = dev;
  gpointer value;
  CofferSyncKind kind;

  if (g_hash_table_lookup_extended (sync->kinds, &key, NULL, &value))
    return GPOINTER_TO_INT (value);
  kind = kind_of (fd, dev);
  g_hash_table_insert (sync->kinds, g_memdup2 (&key, sizeof key), GINT_TO_POINTER (kind));
  return kind;
}

static CofferSyncKind
kind_of_dir (CofferRestoreSync *sync, const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  CofferSyncKind kind = COFFER_SYNC_FILE;

  if (fd < 0)
    return kind;
  if (fstat (fd, &st) == 0)
    kind = cached_kind (sync, fd, st.st_dev);
  close (fd);
  return kind;
}

CofferRestoreSync *
_coffer_restore_sync_new (CofferSyncErrorFunc on_error,
                          gpointer            user_data)
{
  CofferRestoreSync *sync = g_new0 (CofferRestoreSync, 1);

  sync->on_error = on_error;
  sync->user_data = user_data;
  g_mutex_init (&sync->lock);
  g_cond_init (&sync->cond);
  sync->unsynced = g_ptr_array_new_with_free_func (sync_item_free);
  sync->dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  sync->kinds = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  return sync;
}

void
_coffer_restore_sync_free (CofferRestoreSync *sync)
{
  if (sync == NULL)
    return;
  g_ptr_array_unref (sync->unsynced);
  g_hash_table_unref (sync->dirs);
  g_hash_table_unref (sync->kinds);
  g_free (sync->last_dir);
  g_mutex_clear (&sync->lock);
  g_cond_clear (&sync->cond);
  g_free (sync);
}

static void
report (CofferRestoreSync *sync, int errsv, const char *path)
{
  g_atomic_int_set (&sync->failed, TRUE);
  sync->on_error (errsv, path, sync->user_data);
}

CofferSyncKind
_coffer_restore_sync_note (CofferRestoreSync *sync,
                           const char        *path,
                           gboolean           and_self)
{
  const char *slash = strrchr (path, '/');

  /* Most calls are for the same folder as the one before. */
  if (slash == NULL || sync->last_dir == NULL || strlen (sync->last_dir) != (gsize) (slash - path)
      || strncmp (path, sync->last_dir, slash - path) != 0)
    {
      char *dir = g_path_get_dirname (path);

      g_free (sync->last_dir);
      sync->last_dir = g_strdup (dir);
      sync->last_kind = kind_of_dir (sync, dir);
      g_hash_table_add (sync->dirs, dir);
    }
  if (and_self)
    g_hash_table_add (sync->dirs, g_strdup (path));
  return sync->last_kind;
}

/* Waits until one restored file's data (ORDERED) or data and size (FILE)
 * are on the disk, and closes it. 0 or an errno. */
static int
sync_one (SyncItem *item)
{
  int errsv = 0;

  if (item->kind == COFFER_SYNC_ORDERED)
    {
      g_atomic_int_inc (&stats.range_waits);
      if (sync_file_range (item->fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE
                                           | SYNC_FILE_RANGE_WAIT_AFTER) != 0
          && fdatasync (item->fd) != 0)
        errsv = errno;
    }
  else
    {
      g_atomic_int_inc (&stats.fdatasyncs);
      if (fdatasync (item->fd) != 0 && errno != EINVAL && errno != ENOTSUP)
        errsv = errno;
    }
  if (close (item->fd) != 0 && errsv == 0 && errno != EINTR)
    errsv = errno;
  item->fd = -1;
  return errsv;
}

static void
sync_items (CofferRestoreSync *sync, GPtrArray *items)
{
  for (guint i = 0; i < items->len; i++)
    {
      SyncItem *item = g_ptr_array_index (items, i);
      int errsv = sync_one (item);

      if (errsv != 0)
        report (sync, errsv, item->path);
    }
}

void
_coffer_restore_sync_file (CofferRestoreSync *sync,
                           int                fd,
                           const char        *path,
                           CofferSyncKind     kind)
{
  g_autoptr(GPtrArray) batch = NULL;
  SyncItem *item;
  gsize n;

  if (kind == COFFER_SYNC_NONE || kind == COFFER_SYNC_WHOLE)
    {
      /* WHOLE: the syncfs() at the end writes it; the kernel's flusher
       * threads may start sooner, writing many files at a time. */
      if (close (fd) != 0 && errno != EINTR)
        report (sync, errno, path);
      return;
    }
  sync_file_range (fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  n = strlen (path);
  item = g_malloc (sizeof (SyncItem) + n + 1);
  item->kind = kind;
  item->fd = fd;
  memcpy (item->path, path, n + 1);
  g_mutex_lock (&sync->lock);
  while (sync->syncing && sync->unsynced->len >= SYNC_BATCH)
    g_cond_wait (&sync->cond, &sync->lock);
  g_ptr_array_add (sync->unsynced, item);
  if (!sync->syncing && sync->unsynced->len >= SYNC_BATCH)
    {
      batch = g_steal_pointer (&sync->unsynced);
      sync->unsynced = g_ptr_array_new_with_free_func (sync_item_free);
      sync->syncing = TRUE;
    }
  g_mutex_unlock (&sync->lock);
  if (batch == NULL)
    return;
  sync_items (sync, batch);
  g_mutex_lock (&sync->lock);
  sync->syncing = FALSE;
  g_cond_broadcast (&sync->cond);
  g_mutex_unlock (&sync->lock);
}

/* ORDERED: one journal commit for the file system of the open folder fd
 * (st its stat): an fsync of a new, empty file in it, removed before the
 * commit, with the folder's times put back in the same commit. 0 or an
 * errno. */
static int
commit_journal (int fd, const char *dir, const struct stat *st)
{
  g_autofree char *tmp = g_build_filename (dir, ".coffer-restore-commit-XXXXXX", NULL);
  int cfd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  struct timespec times[2] = { st->st_atim, st->st_mtim };
  int errsv = 0;

  if (cfd < 0)
    return fsync (fd) != 0 ? errno : 0;   /* a folder we cannot write in: its own commit */
  g_unlink (tmp);
  futimens (fd, times);
  if (fsync (cfd) != 0)
    errsv = errno;
  close (cfd);
  g_atomic_int_inc (&stats.commits);
  return errsv;
}

/* Makes one noted folder's entries durable, or its whole file system
 * once (done: the file systems already committed or synced). */
static void
finish_dir (CofferRestoreSync *sync, const char *dir, GHashTable *done)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  CofferSyncKind kind;
  gint64 dev;
  int errsv = 0;

  if (fd < 0)
    return;   /* gone since, or not ours to open: nothing of ours left to keep there */
  if (fstat (fd, &st) != 0)
    {
      close (fd);
      return;
    }
  dev = st.st_dev;
  kind = cached_kind (sync, fd, st.st_dev);
  switch (kind)
    {
    case COFFER_SYNC_NONE:
      break;
    case COFFER_SYNC_ORDERED:
    case COFFER_SYNC_WHOLE:
      if (g_hash_table_contains (done, &dev))
        break;
      if (kind == COFFER_SYNC_ORDERED)
        errsv = commit_journal (fd, dir, &st);
      else
        {
          g_atomic_int_inc (&stats.syncfs);
          if (syncfs (fd) != 0)
            errsv = errno;
        }
      if (errsv == 0)
        g_hash_table_add (done, g_memdup2 (&dev, sizeof dev));
      break;
    case COFFER_SYNC_FILE:
    default:
      g_atomic_int_inc (&stats.dir_fsyncs);
      if (fsync (fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EBADF)
        errsv = errno;
      break;
    }
  close (fd);
  if (errsv != 0)
    report (sync, errsv, dir);
}

void
_coffer_restore_sync_finish (CofferRestoreSync *sync)
{
  g_autoptr(GHashTable) done = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key;

  sync_items (sync, sync->unsynced);
  g_ptr_array_set_size (sync->unsynced, 0);
  g_hash_table_iter_init (&iter, sync->dirs);
  while (!g_atomic_int_get (&sync->failed) && g_hash_table_iter_next (&iter, &key, NULL))
    finish_dir (sync, key, done);
}
