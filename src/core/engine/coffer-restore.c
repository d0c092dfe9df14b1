/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Restore: walks a snapshot's trees and writes files through a worker pool.
 * Every blob is authenticated and its id re-computed before a byte is
 * written; files are written unnamed (O_TMPFILE) and linked under their
 * name when complete, or, where the file system cannot make unnamed files,
 * to a temporary name beside the target and renamed into place
 * (temporaries a killed restore left are removed when a later restore
 * writes into that folder again); coffer-restore-sync.c makes them
 * durable; modes, owners (when
 * permitted), times and extended attributes follow; folder times are set last, deepest first. An existing
 * file is never replaced by an older copy without COFFER_RESTORE_OVERWRITE.
 * What could grant privileges (setuid/setgid bits, security.* and trusted.*
 * attributes, device nodes, FIFOs) is withheld and counted unless the
 * caller asks for it with COFFER_RESTORE_KEEP_PRIVILEGES: anyone who ever
 * held the category's keys, a removed device included, can write a snapshot
 * that looks authentic, and restoring as root must not turn that into a
 * setuid-root shell or a raw disk device. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>
#include <inttypes.h>

#include "coffer-error.h"
#include "coffer-repository-private.h"
#include "coffer-restore-direct.h"
#include "coffer-restore-sync.h"
#include "coffer-worker-pool.h"

typedef struct
{
  CofferRepository   *repo;
  CofferCategoryKeys *keys;
  const CofferSnapshot *snapshot;
  const char         *target;     /* NULL = original place */
  const char         *strip;      /* removed from the front of paths under target, or NULL */
  CofferRestoreFlags  flags;
  GCancellable       *cancellable;
  CofferProgressMeter *meter;
  CofferWorkerPool   *workers;
  CofferPackReader   *reader;     /* whole packs once most of them is needed (coffer-pack-reader.h) */
  GMutex              lock;
  GCond               cond;
  guint               jobs;         /* batches queued or being restored */
  guint               max_jobs;
  GPtrArray          *pending;      /* FileJob: the batch being filled (main thread) */
  guint64             pending_bytes;
  GError             *error;
  GPtrArray          *conflicts;
  GPtrArray          *dirs;       /* DirTimes, set after all files */
  gboolean            is_root;
  guint               withheld;   /* atomic: entries with privileges withheld */
  guint64             dirs_seen;  /* folders and files met so far, against */
  guint64             files_seen; /* what the snapshot records */
  GHashTable         *link_groups; /* "dev:inode" -> path of the group's first file */
  GPtrArray          *links;      /* FileJob: hard links to make after the files */
  gboolean            target_known;
  gint64              started_ns;   /* wall clock, for stale temporaries */
  dev_t               target_dev;   /* the restore folder as it was at the start */
  ino_t               target_ino;
  CofferRestoreSync  *sync;         /* making the restored files durable */
  CofferBufferPool   *stages;       /* staging buffers of direct writes (coffer-restore-direct.h) */
} Restore;

/* Folders on the way to the backed-up paths are not all counted in a
 * snapshot's statistics; a path has at most PATH_MAX / 2 of them. */
#define RESTORE_SLACK 4096

typedef struct
{
  char            *path;
  CofferTreeEntry *entry;
  CofferSyncKind   sync_kind;   /* of its folder (coffer-restore-sync.h) */
} FileJob;

typedef struct
{
  char   *path;
  guint32 mode;
  gint64  mtime_ns;
  guint32 uid, gid;
} DirTimes;

static gboolean
failed (Restore *r)
{
  gboolean ret;

  g_mutex_lock (&r->lock);
  ret = r->error != NULL;
  g_mutex_unlock (&r->lock);
  return ret || g_cancellable_is_cancelled (r->cancellable);
}

static void
set_error (Restore *r, GError *error)
{
  g_mutex_lock (&r->lock);
  if (r->error == NULL)
    r->error = error;
  else
    g_error_free (error);
  g_mutex_unlock (&r->lock);
}

/* TRUE when the restore folder is no longer the one the restore started
 * in: deleted or moved away, or its drive was unmounted (the mount point
 * left behind is another folder). */
static gboolean
target_gone (Restore *r)
{
  struct stat st;

  if (r == NULL || r->target == NULL || !r->target_known)
    return FALSE;
  return lstat (r->target, &st) != 0 || st.st_dev != r->target_dev || st.st_ino != r->target_ino;
}

/* Errors name the restore folder: a full disk, a file too large for its
 * file system, and the folder going away are about the target, not about
 * the one file that met them. Whatever was restored before is complete
 * under its own name (files get their name only when complete). */
static void
set_errno_error (Restore *r, GError **error, int saved, const char *what, const char *path)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *where = g_filename_display_name (r != NULL && r->target != NULL ? r->target : path);

  if (saved == ENOSPC || saved == EDQUOT)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 _("The disk is full: there is not enough space in %s to restore %s. The files restored "
                   "so far are complete; free some space and restore again to finish."), where, display);
  else if (saved == EFBIG)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 _("%s is too large for the file system of %s (%s)."), display, where, g_strerror (saved));
  else if (target_gone (r))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 _("The restore folder %s is gone (deleted, moved, or its drive was disconnected); the "
                   "restore stopped at %s. Restore again once the folder is back."), where, display);
  else
    /* TRANSLATORS: the action is a "store action" message such as "write";
     * translate those to fit this sentence (German uses a participle). */
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 _("Could not %s %s: %s"), what, display, g_strerror (saved));
}

static gboolean
keep_privileges (Restore *r)
{
  return (r->flags & COFFER_RESTORE_KEEP_PRIVILEGES) != 0;
}

/* Attributes the kernel or the security modules act on: file capabilities
 * (security.capability), SELinux/SMACK labels, IMA/EVM, and trusted.*
 * (only root can read or write them). user.* and system.* (ACLs) are
 * ordinary data. */
static gboolean
is_privileged_xattr (const char *name)
{
  return g_str_has_prefix (name, "security.") || g_str_has_prefix (name, "trusted.");
}

static void
count_withheld (Restore *r, const char *path)
{
  g_atomic_int_inc (&r->withheld);
  g_debug ("withheld privileges of %s (restore with COFFER_RESTORE_KEEP_PRIVILEGES to keep them)", path);
}

/* The mode bits to restore: without KEEP_PRIVILEGES no setuid/setgid, and
 * no sticky bit on files (it means nothing there but is what a forged
 * snapshot would smuggle along). Folders keep setgid and sticky, which
 * only govern what is created inside them. */
static guint32
restore_mode (Restore *r, const CofferTreeEntry *e, gboolean *withheld)
{
  guint32 mode = e->mode & 07777;
  guint32 drop = e->type == COFFER_NODE_DIR ? S_ISUID : (S_ISUID | S_ISGID | S_ISVTX);

  if (keep_privileges (r) || (mode & drop) == 0)
    return mode;
  *withheld = TRUE;
  return mode & ~drop;
}

static void
apply_metadata (Restore *r, int fd, const char *path, const CofferTreeEntry *e)
{
  struct timespec times[2];
  gboolean withheld = FALSE;

  if (r->is_root)
    {
      /* Best effort: ownership may not be ours to give. */
      if (fd >= 0 ? fchown (fd, e->uid, e->gid) : lchown (path, e->uid, e->gid))
        g_debug ("could not restore the owner of %s", path);
    }
  if (e->type != COFFER_NODE_SYMLINK)
    {
      /* After the chown, which clears setuid/setgid again. */
      guint32 mode = restore_mode (r, e, &withheld);
      if (fd >= 0)
        fchmod (fd, mode);
      else
        chmod (path, mode);
      for (guint i = 0; e->xattrs != NULL && i + 1 < e->xattrs->len; i += 2)
        {
          const char *name = g_ptr_array_index (e->xattrs, i);
          GBytes *value = g_ptr_array_index (e->xattrs, i + 1);
          gsize len;
          const void *data = g_bytes_get_data (value, &len);
          if (!keep_privileges (r) && is_privileged_xattr (name))
            {
              withheld = TRUE;
              continue;
            }
          if (fd >= 0)
            fsetxattr (fd, name, data, len, 0);
          else
            lsetxattr (path, name, data, len, 0);
        }
    }
  if (withheld)
    count_withheld (r, path);
  times[0].tv_sec = e->mtime_ns / 1000000000;
  times[0].tv_nsec = e->mtime_ns % 1000000000;
  times[1] = times[0];
  if (fd >= 0)
    futimens (fd, times);
  else
    utimensat (AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
}

/* TRUE when the file at path should be left alone. */
static gboolean
keep_existing (Restore *r, const char *path, const CofferTreeEntry *e)
{
  struct stat st;
  gint64 mtime;

  if (lstat (path, &st) != 0)
    return FALSE;
  mtime = (gint64) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  if (S_ISREG (st.st_mode) && (guint64) st.st_size == e->size && mtime == e->mtime_ns)
    return TRUE;  /* same file */
  if ((r->flags & COFFER_RESTORE_OVERWRITE) == 0 && mtime > e->mtime_ns)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_mutex_lock (&r->lock);
      g_ptr_array_add (r->conflicts, g_strdup (display));
      g_mutex_unlock (&r->lock);
      return TRUE;
    }
  return FALSE;
}

/* With COFFER_RESTORE_KEEP_BOTH: a name beside path for the backup's copy
 * when path holds a different, newer file ("a.jpg" → "a (restored).jpg",
 * then "a (restored 2).jpg"...); NULL when path can be used. */
static char *
keep_both_name (Restore *r, const char *path, const CofferTreeEntry *e)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  const char *dot;
  struct stat st;
  gint64 mtime;

  if ((r->flags & COFFER_RESTORE_KEEP_BOTH) == 0 || lstat (path, &st) != 0)
    return NULL;
  mtime = (gint64) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  if ((S_ISREG (st.st_mode) && (guint64) st.st_size == e->size && mtime == e->mtime_ns) || mtime <= e->mtime_ns)
    return NULL;
  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  dot = strrchr (base, '.');
  if (dot == base)
    dot = NULL;   /* ".bashrc" has no extension */
  for (guint i = 1; i < 1000; i++)
    {
      g_autofree char *number = i == 1 ? g_strdup ("") : g_strdup_printf (" %u", i);
      g_autofree char *name = g_strdup_printf ("%.*s (restored%s)%s", (int) (dot ? dot - base : (int) strlen (base)),
                                               base, number, dot ? dot : "");
      char *candidate = g_build_filename (dir, name, NULL);
      if (lstat (candidate, &st) != 0)
        return candidate;
      mtime = (gint64) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
      if (S_ISREG (st.st_mode) && (guint64) st.st_size == e->size && mtime == e->mtime_ns)
        return candidate;   /* restored there before */
      g_free (candidate);
    }
  return NULL;
}

static gboolean
is_zero (const guint8 *data, gsize len)
{
  return len > 0 && data[0] == 0 && memcmp (data, data + 1, len - 1) == 0;
}

static gboolean
write_all (int fd, const guint8 *data, gsize len)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t n = write (fd, data + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      done += n;
    }
  return TRUE;
}

/* Writes a blob's len bytes at file offset pos (the current position).
 * Zeros that lie in a hole the backup recorded are skipped with lseek, so
 * the hole comes back where it was; so is a whole blob of zeros of 4 KiB
 * or more (snapshots made before holes were recorded). Bytes in a
 * recorded hole that are not zeros (the file changed while it was read)
 * are written. Sets *sparse when it skipped anything. */
static gboolean
write_blob (int fd, const guint8 *data, gsize len, guint64 pos, const GArray *holes, gboolean *sparse)
{
  gsize done = 0;

  if (len >= 4096 && is_zero (data, len))
    {
      *sparse = TRUE;
      return lseek (fd, len, SEEK_CUR) >= 0;
    }
  while (done < len)
    {
      guint64 at = pos + done;
      gsize run = len - done;
      gboolean in_hole = FALSE;

      for (guint i = 0; holes != NULL && i < holes->len; i += 2)
        {
          guint64 offset = g_array_index (holes, guint64, i);
          guint64 length = g_array_index (holes, guint64, i + 1);

          if (at >= offset && at - offset < length)
            {
              in_hole = TRUE;
              run = MIN (run, offset + length - at);
              break;
            }
          if (offset > at)
            {
              run = MIN (run, offset - at);
              break;
            }
        }
      if (in_hole && is_zero (data + done, run))
        {
          *sparse = TRUE;
          if (lseek (fd, run, SEEK_CUR) < 0)
            return FALSE;
        }
      else if (!write_all (fd, data + done, run))
        return FALSE;
      done += run;
    }
  return TRUE;
}

/* A file or folder that could not be made durable (coffer-restore-sync.h). */
static void
sync_failed (int errsv, const char *path, gpointer user_data)
{
  Restore *r = user_data;
  g_autoptr(GError) error = NULL;

  set_errno_error (r, &error, errsv, C_("store action", "write"), path);
  set_error (r, g_steal_pointer (&error));
}

/* The folder of path, whose entries this restore changed; with
 * and_self, path's own times and mode too. Main thread only. Returns how
 * files in that folder are made durable. */
static CofferSyncKind
note_dir (Restore *r, const char *path, gboolean and_self)
{
  if ((r->flags & COFFER_RESTORE_DRY_RUN) != 0)
    return COFFER_SYNC_NONE;
  return _coffer_restore_sync_note (r->sync, path, and_self);
}

/* A new file for the restored copy of dir/base, open for writing: unnamed
 * (O_TMPFILE, *tmp NULL) where the file system makes such files, so that
 * neither a half-written file nor a temporary name is ever seen, even
 * after a crash, and the folder is not locked while the file system finds
 * an inode for it; elsewhere a hidden temporary beside it (*tmp its path).
 * -1 with errno on failure. */
static int
create_unnamed (const char *dir, const char *base, char **tmp)
{
  int fd;

  *tmp = NULL;
#ifdef O_TMPFILE
  fd = open (dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
    return fd;
#endif
  if (strlen (base) > 180)
    *tmp = g_strdup_printf ("%s/.coffer-restore-XXXXXX", dir);
  else
    *tmp = g_strdup_printf ("%s/.coffer-restore-%s-XXXXXX", dir, base);
  fd = g_mkstemp_full (*tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    g_clear_pointer (tmp, g_free);
  return fd;
}

/* Gives the unnamed file fd the name path: through /proc, which needs no
 * privilege, or with AT_EMPTY_PATH where there is no /proc. FALSE with
 * errno (EEXIST: something is at path). */
static gboolean
link_unnamed (int fd, const char *path)
{
  char proc[64];

  g_snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat (AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
    return TRUE;
  if (errno != ENOENT || g_file_test ("/proc/self/fd", G_FILE_TEST_IS_DIR))
    return FALSE;
  return linkat (fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0;
}

/* Gives the written file fd its name path: renames tmp, or links the
 * unnamed file; a file already at path is replaced as a rename replaces
 * it, through a temporary name. FALSE with errno on failure. */
static gboolean
publish (int fd, const char *dir, const char *tmp, const char *path)
{
  if (tmp != NULL)
    return rename (tmp, path) == 0;
  if (link_unnamed (fd, path))
    return TRUE;
  if (errno != EEXIST)
    return FALSE;
  for (guint attempt = 0; attempt < 100; attempt++)
    {
      g_autofree char *name = g_strdup_printf ("%s/.coffer-restore-%08x", dir, g_random_int ());
      int errsv;

      if (!link_unnamed (fd, name))
        {
          if (errno == EEXIST)
            continue;
          return FALSE;
        }
      if (rename (name, path) == 0)
        return TRUE;
      errsv = errno;
      g_unlink (name);
      errno = errsv;
      return FALSE;
    }
  errno = EEXIST;
  return FALSE;
}

/* Writes e's content into the new file fd: large files without recorded
 * holes past the page cache (coffer-restore-direct.h); a blob of zeros (a
 * snapshot from before holes were recorded) ends that, so that write_blob
 * can leave it a hole. FALSE on failure, without an error when the
 * restore already failed elsewhere. */
static gboolean
write_content (Restore *r, int fd, const char *path, const CofferTreeEntry *e, CofferSyncKind kind,
               GError **error)
{
  guint64 written = 0;
  gboolean sparse = FALSE;
  CofferDirectOut out = { 0 };
  gboolean direct, ok = TRUE;
  int errsv = 0;

  direct = kind != COFFER_SYNC_NONE && e->holes == NULL && e->size >= COFFER_DIRECT_MIN_FILE
           && _coffer_direct_out_start (&out, fd, r->stages);
  for (guint off = 0; e->content != NULL && off < e->content->len; off += COFFER_ID_BYTES)
    {
      g_autoptr(GBytes) blob = NULL;
      const guint8 *data;
      gsize len;

      if (failed (r))
        {
          _coffer_direct_out_clear (&out);
          return FALSE;
        }
      blob = _coffer_repository_read_blob_via (r->repo, r->keys, r->snapshot->epoch, e->content->data + off,
                                               COFFER_BLOB_DATA, r->reader, r->cancellable, error);
      if (blob == NULL)
        {
          _coffer_direct_out_clear (&out);
          return FALSE;
        }
      data = g_bytes_get_data (blob, &len);
      if (direct && len >= 4096 && is_zero (data, len))
        {
          direct = FALSE;
          ok = _coffer_direct_out_finish (&out);
        }
      if (ok && direct)
        ok = _coffer_direct_out_write (&out, data, len);
      else if (ok)
        ok = write_blob (fd, data, len, written, e->holes, &sparse);
      if (!ok)
        {
          errsv = errno;
          break;
        }
      written += len;
      coffer_progress_meter_add (r->meter, 0, len, 0, path);
      coffer_progress_meter_report (r->meter, FALSE);
    }
  if (ok && direct && !(ok = _coffer_direct_out_finish (&out)))
    errsv = errno;
  _coffer_direct_out_clear (&out);
  if (ok && sparse && !(ok = ftruncate (fd, written) == 0))
    errsv = errno;
  if (!ok)
    {
      set_errno_error (r, error, errsv, C_("store action", "write"), path);
      return FALSE;
    }
  if (written != e->size)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The backup of %s is inconsistent (%" PRIu64 " bytes instead of %" PRIu64 ")."),
                   display, written, e->size);
      return FALSE;
    }
  return TRUE;
}

static gboolean
restore_file (Restore *r, const char *path, const CofferTreeEntry *e, CofferSyncKind kind,
              GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = NULL;
  g_autofree char *beside = keep_both_name (r, path, e);
  int fd;

  if (beside != NULL)
    path = beside;
  if (keep_existing (r, path, e))
    {
      coffer_progress_meter_add (r->meter, 1, e->size, 0, NULL);
      return TRUE;
    }
  if (r->flags & COFFER_RESTORE_DRY_RUN)
    {
      coffer_progress_meter_add (r->meter, 1, e->size, 0, path);
      return TRUE;
    }
  fd = create_unnamed (dir, base, &tmp);
  if (fd < 0)
    {
      set_errno_error (r, error, errno, C_("store action", "create"), path);
      return FALSE;
    }
  if (!write_content (r, fd, path, e, kind, error))
    {
      close (fd);
      if (tmp != NULL)
        g_unlink (tmp);
      return FALSE;
    }
  apply_metadata (r, fd, tmp != NULL ? tmp : path, e);
  if (!publish (fd, dir, tmp, path))
    {
      set_errno_error (r, error, errno, C_("store action", "replace"), path);
      close (fd);
      if (tmp != NULL)
        g_unlink (tmp);
      return FALSE;
    }
  _coffer_restore_sync_file (r->sync, fd, path, kind);
  coffer_progress_meter_add (r->meter, 1, 0, 0, NULL);
  return TRUE;
}

static void
file_job_free (gpointer data)
{
  FileJob *job = data;

  g_free (job->path);
  coffer_tree_entry_free (job->entry);
  g_free (job);
}

/* Files go to the workers in batches of up to BATCH_FILES files or
 * BATCH_BYTES bytes: handing over one small file at a time cost a few
 * futex calls per file (the queue's wake-up, the main thread waiting for
 * room, the workers telling it), a fifth of all system calls on a tree of
 * small files. */
#define BATCH_FILES 32
#define BATCH_BYTES (4 * 1024 * 1024)

static void
worker_func (gpointer data, gpointer user_data)
{
  GPtrArray *batch = data;
  Restore *r = user_data;

  for (guint i = 0; i < batch->len; i++)
    {
      FileJob *job = g_ptr_array_index (batch, i);
      g_autoptr(GError) error = NULL;

      if (!failed (r) && !restore_file (r, job->path, job->entry, job->sync_kind, &error) && error != NULL)
        set_error (r, g_steal_pointer (&error));
    }
  g_mutex_lock (&r->lock);
  r->jobs--;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  g_ptr_array_unref (batch);
}

static CofferTreeEntry *
entry_copy (const CofferTreeEntry *e)
{
  CofferTreeEntry *c = coffer_tree_entry_new (e->name, e->type);

  c->mode = e->mode;
  c->uid = e->uid;
  c->gid = e->gid;
  c->size = e->size;
  c->mtime_ns = e->mtime_ns;
  c->ctime_ns = e->ctime_ns;
  c->rdev = e->rdev;
  c->inode = e->inode;
  c->link_target = g_strdup (e->link_target);
  if (e->holes != NULL)
    c->holes = g_array_copy (e->holes);
  if (e->content != NULL)
    g_byte_array_append (c->content, e->content->data, e->content->len);
  for (guint i = 0; e->xattrs != NULL && i + 1 < e->xattrs->len; i += 2)
    coffer_tree_entry_add_xattr (c, g_ptr_array_index (e->xattrs, i), g_ptr_array_index (e->xattrs, i + 1));
  return c;
}

/* *created tells whether the folder is new: when restoring to the original
 * place, existing folders keep their own permissions and times. */
/* The temporaries a restore that was killed left in a folder it is now
 * restoring into again (hidden ".coffer-restore-…" files, never under a
 * final name): those last changed before this restore started. The
 * change time, because a temporary gets the backup's modification time
 * before it is renamed, and only the kernel sets the change time. */
static void
remove_stale_temporaries (Restore *r, const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      struct stat st;

      if (!g_str_has_prefix (name, ".coffer-restore-"))
        continue;
      path = g_build_filename (dir_path, name, NULL);
      if (lstat (path, &st) == 0 && S_ISREG (st.st_mode)
          && (gint64) st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec < r->started_ns)
        g_unlink (path);
    }
}

static gboolean
ensure_dir (Restore *r, const char *path, const CofferTreeEntry *e, gboolean *created, GError **error)
{
  struct stat st;

  *created = FALSE;
  if (r->flags & COFFER_RESTORE_DRY_RUN)
    return TRUE;
  if (lstat (path, &st) == 0)
    {
      if (S_ISDIR (st.st_mode))
        {
          remove_stale_temporaries (r, path);
          return TRUE;
        }
      if ((r->flags & COFFER_RESTORE_OVERWRITE) == 0)
        {
          g_autofree char *display = g_filename_display_name (path);
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEWER_FILE,
                       _("%s exists and is not a folder; it was left alone."), display);
          return FALSE;
        }
      g_unlink (path);
    }
  /* Not below a folder that went away: g_mkdir_with_parents would make it
   * again (on an unmounted drive, on the disk underneath). */
  if (target_gone (r))
    {
      set_errno_error (r, error, ENOENT, C_("store action", "create the folder"), path);
      return FALSE;
    }
  if (g_mkdir_with_parents (path, 0700) != 0)
    {
      set_errno_error (r, error, errno, C_("store action", "create the folder"), path);
      return FALSE;
    }
  note_dir (r, path, TRUE);
  *created = TRUE;
  return TRUE;
}

static gboolean
restore_special (Restore *r, const char *path, const CofferTreeEntry *e, GError **error)
{
  struct stat st;

  if (r->flags & COFFER_RESTORE_DRY_RUN)
    return TRUE;
  if (lstat (path, &st) == 0)
    {
      if (S_ISLNK (st.st_mode) && e->type == COFFER_NODE_SYMLINK)
        {
          g_autofree char *target = g_file_read_link (path, NULL);
          if (g_strcmp0 (target, e->link_target) == 0)
            return TRUE;
        }
      if (keep_existing (r, path, e))
        return TRUE;
      g_unlink (path);
    }
  if (!keep_privileges (r) && (e->type == COFFER_NODE_FIFO || e->type == COFFER_NODE_CHARDEV
                                || e->type == COFFER_NODE_BLOCKDEV))
    {
      /* A device node is a door to the hardware (a forged /dev/sda with
       * mode 0666 would be one to the whole disk); a FIFO can block a
       * program that opens what it thinks is a file. */
      count_withheld (r, path);
      return TRUE;
    }
  switch (e->type)
    {
    case COFFER_NODE_SYMLINK:
      if (symlink (e->link_target ? e->link_target : "", path) != 0)
        {
          set_errno_error (r, error, errno, C_("store action", "create the link"), path);
          return FALSE;
        }
      break;
    case COFFER_NODE_FIFO:
      if (mkfifo (path, e->mode & 0777) != 0)
        {
          set_errno_error (r, error, errno, C_("store action", "create"), path);
          return FALSE;
        }
      break;
    case COFFER_NODE_CHARDEV:
    case COFFER_NODE_BLOCKDEV:
      if (!r->is_root)
        return TRUE;   /* device nodes need privileges; skip them quietly */
      if (mknod (path, (e->mode & 0777) | (e->type == COFFER_NODE_CHARDEV ? S_IFCHR : S_IFBLK), e->rdev) != 0)
        {
          set_errno_error (r, error, errno, C_("store action", "create"), path);
          return FALSE;
        }
      break;
    case COFFER_NODE_SOCKET:
    case COFFER_NODE_FILE:
    case COFFER_NODE_DIR:
    default:
      return TRUE;
    }
  apply_metadata (r, -1, path, e);
  note_dir (r, path, FALSE);
  return TRUE;
}

/* A file that was a hard link of another one backed up before it (same
 * file system and inode, docs/FORMAT.md "Trees"): made a link of the
 * first one's restored copy when that is what the backup holds and
 * nothing is in the way; otherwise restored as a file of its own. */
static gboolean
restore_hard_link (Restore *r, const char *first, const FileJob *job, GError **error)
{
  const char *path = job->path;
  const CofferTreeEntry *e = job->entry;
  g_autofree char *dir = g_path_get_dirname (path);
  struct stat fst, pst;

  if ((r->flags & COFFER_RESTORE_DRY_RUN) != 0 || lstat (path, &pst) == 0 || lstat (first, &fst) != 0
      || !S_ISREG (fst.st_mode) || (guint64) fst.st_size != e->size
      || (gint64) fst.st_mtim.tv_sec * 1000000000 + fst.st_mtim.tv_nsec != e->mtime_ns)
    return restore_file (r, path, e, job->sync_kind, error);
  /* Under a temporary name first, then renamed: like every restored file. */
  for (guint attempt = 0; attempt < 100; attempt++)
    {
      g_autofree char *tmp = g_strdup_printf ("%s/.coffer-restore-link-%08x", dir, g_random_int ());

      if (link (first, tmp) != 0)
        {
          if (errno == EEXIST)
            continue;
          return restore_file (r, path, e, job->sync_kind, error);   /* no links here (EXDEV, EPERM…) */
        }
      if (rename (tmp, path) != 0)
        {
          set_errno_error (r, error, errno, C_("store action", "replace"), path);
          g_unlink (tmp);
          return FALSE;
        }
      note_dir (r, path, FALSE);
      coffer_progress_meter_add (r->meter, 1, e->size, 0, path);
      return TRUE;
    }
  return restore_file (r, path, e, job->sync_kind, error);
}

/* Hands the batch being filled to the workers, once they have room. */
static void
submit_pending (Restore *r)
{
  if (r->pending == NULL)
    return;
  g_mutex_lock (&r->lock);
  while (r->jobs >= r->max_jobs && r->error == NULL)
    g_cond_wait (&r->cond, &r->lock);
  r->jobs++;
  g_mutex_unlock (&r->lock);
  _coffer_worker_pool_push (r->workers, g_steal_pointer (&r->pending));
  r->pending_bytes = 0;
}

static void
submit (Restore *r, const char *path, const CofferTreeEntry *e)
{
  FileJob *job = g_new0 (FileJob, 1);

  job->path = g_strdup (path);
  job->entry = entry_copy (e);
  job->sync_kind = note_dir (r, path, FALSE);
  /* Later members of a hard-link group wait until every file is written. */
  if (e->type == COFFER_NODE_FILE && e->rdev != 0 && e->inode != 0)
    {
      g_autofree char *key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, e->rdev, e->inode);

      if (g_hash_table_contains (r->link_groups, key))
        {
          g_ptr_array_add (r->links, job);
          return;
        }
      g_hash_table_insert (r->link_groups, g_steal_pointer (&key), g_strdup (path));
    }
  if (r->pending == NULL)
    r->pending = g_ptr_array_new_with_free_func (file_job_free);
  g_ptr_array_add (r->pending, job);
  r->pending_bytes += e->size;
  if (r->pending->len >= BATCH_FILES || r->pending_bytes >= BATCH_BYTES)
    submit_pending (r);
}

/* Where snap_path goes on disk. Without a target: where it was. With one:
 * below it, less strip (the prefix, or with COFFER_RESTORE_INTO_TARGET the
 * folder a selected path was in), so "/home/alice/Pictures" with strip
 * "/home/alice" becomes TARGET/Pictures. Paths at or above strip get NULL:
 * they are only walked through, nothing is created for them. */
static char *
map_dest (Restore *r, const char *snap_path, const char *strip)
{
  gsize n;

  if (r->target == NULL)
    return g_strdup (snap_path);
  if (strip == NULL || g_str_equal (strip, "/") || *strip == '\0')
    return g_build_filename (r->target, snap_path, NULL);
  n = strlen (strip);
  if (strncmp (snap_path, strip, n) == 0 && snap_path[n] == '/')
    return g_build_filename (r->target, snap_path + n, NULL);
  return NULL;
}

/* Is snap_path an ancestor of (or equal to) strip? Then it is walked
 * through without being restored; other paths outside strip are skipped. */
static gboolean
above_strip (const char *snap_path, const char *strip)
{
  gsize n = strlen (snap_path);

  return strip != NULL && strncmp (strip, snap_path, n) == 0 && (strip[n] == '/' || strip[n] == '\0');
}

/* Whether SNAP_PATH is one of PATHS or inside one (*selected), or a folder
 * on the way to one (*on_the_way). */
static void
match_paths (const char * const *paths, const char *snap_path, gboolean *selected,
             gboolean *on_the_way)
{
  gsize n = strlen (snap_path);

  for (guint j = 0; paths != NULL && paths[j] != NULL; j++)
    {
      if (g_str_has_prefix (snap_path, paths[j])
          && (snap_path[strlen (paths[j])] == '/' || snap_path[strlen (paths[j])] == '\0'
              || g_str_has_suffix (paths[j], "/")))
        *selected = TRUE;
      else if (strncmp (paths[j], snap_path, n) == 0 && paths[j][n] == '/')
        *on_the_way = TRUE;
    }
}

/* path_in_snapshot: "/home/me"; selected: does everything below count? */
static gboolean
restore_tree (Restore *r, GPtrArray *tree, const char *path_in_snapshot,
              const char * const *paths, const char *strip, GError **error)
{
  for (guint i = 0; i < tree->len && !failed (r); i++)
    {
      const CofferTreeEntry *e = g_ptr_array_index (tree, i);
      g_autofree char *snap_path = g_strconcat (path_in_snapshot, "/", e->name, NULL);
      /* Selected here with COFFER_RESTORE_INTO_TARGET: strip this entry's folder. */
      const char *sub_strip = strip;
      g_autofree char *dest = NULL;
      gboolean selected = paths == NULL;
      gboolean on_the_way = FALSE;

      match_paths (paths, snap_path, &selected, &on_the_way);
      if (!selected && !on_the_way)
        continue;
      if (selected && paths != NULL && (r->flags & COFFER_RESTORE_INTO_TARGET))
        sub_strip = path_in_snapshot;
      dest = map_dest (r, snap_path, sub_strip);
      if (dest == NULL && !(e->type == COFFER_NODE_DIR && above_strip (snap_path, sub_strip)))
        continue;   /* outside the stripped prefix */

      /* Tree ids are hashes, so listings cannot form a cycle, but a few
       * listings that name the next one twice describe 2^n folders: stop
       * at what the snapshot says it holds. */
      if ((e->type == COFFER_NODE_DIR && ++r->dirs_seen > r->snapshot->dirs + RESTORE_SLACK)
          || (e->type == COFFER_NODE_FILE && ++r->files_seen > r->snapshot->files + RESTORE_SLACK))
        {
          if (e->type == COFFER_NODE_DIR)
            g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                         _("The backup is damaged: its folder listings hold more folders than the "
                           "snapshot records (%" PRIu64 ")."), r->snapshot->dirs);
          else
            g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                         _("The backup is damaged: its folder listings hold more files than the "
                           "snapshot records (%" PRIu64 ")."), r->snapshot->files);
          return FALSE;
        }

      if (e->type == COFFER_NODE_DIR)
        {
          g_autoptr(GPtrArray) sub = NULL;
          DirTimes *dt;
          gboolean created = FALSE;
          gboolean withheld;

          if (dest != NULL && !ensure_dir (r, dest, e, &created, error))
            return FALSE;
          sub = _coffer_repository_read_tree_via (r->repo, r->keys, r->snapshot->epoch, e->content->data,
                                                  r->reader, r->cancellable, error);
          if (sub == NULL)
            return FALSE;
          if (!restore_tree (r, sub, snap_path, selected ? NULL : paths, sub_strip, error))
            return FALSE;
          if (dest == NULL)
            continue;
          if (!created && r->target == NULL)
            continue;
          /* Extended attributes do not change the folder's times. */
          withheld = FALSE;
          for (guint x = 0; (r->flags & COFFER_RESTORE_DRY_RUN) == 0 && e->xattrs != NULL
                            && x + 1 < e->xattrs->len; x += 2)
            {
              GBytes *value = g_ptr_array_index (e->xattrs, x + 1);
              if (!keep_privileges (r) && is_privileged_xattr (g_ptr_array_index (e->xattrs, x)))
                {
                  withheld = TRUE;
                  continue;
                }
              if (lsetxattr (dest, g_ptr_array_index (e->xattrs, x), g_bytes_get_data (value, NULL),
                             g_bytes_get_size (value), 0) != 0)
                g_debug ("could not restore an extended attribute of %s", dest);
            }
          dt = g_new0 (DirTimes, 1);
          dt->mode = restore_mode (r, e, &withheld);
          if (withheld)
            count_withheld (r, dest);
          note_dir (r, dest, TRUE);
          dt->path = g_steal_pointer (&dest);
          dt->mtime_ns = e->mtime_ns;
          dt->uid = e->uid;
          dt->gid = e->gid;
          g_ptr_array_add (r->dirs, dt);
        }
      else if (!selected)
        continue;
      else if (e->type == COFFER_NODE_FILE)
        submit (r, dest, e);
      else if (!restore_special (r, dest, e, error))
        return FALSE;
    }
  return TRUE;
}

static void
dir_times_free (gpointer data)
{
  DirTimes *dt = data;

  g_free (dt->path);
  g_free (dt);
}

gboolean
coffer_restore_run (CofferRepository *self, const char *category_id,
                    const CofferSnapshot *snapshot, const char * const *paths,
                    const char *target, CofferRestoreFlags flags,
                    CofferProgressFunc progress, gpointer progress_data,
                    GPtrArray **conflicts, GCancellable *cancellable, GError **error)
{
  return coffer_restore_run_full (self, category_id, snapshot, paths, target, flags, progress,
                                  progress_data, conflicts, NULL, cancellable, error);
}

gboolean
coffer_restore_run_full (CofferRepository *self, const char *category_id,
                         const CofferSnapshot *snapshot, const char * const *paths,
                         const char *target, CofferRestoreFlags flags,
                         CofferProgressFunc progress, gpointer progress_data,
                         GPtrArray **conflicts, CofferRestoreResult *result,
                         GCancellable *cancellable, GError **error)
{
  return coffer_restore_run_mapped (self, category_id, snapshot, paths, target, NULL, flags, progress,
                                    progress_data, conflicts, result, cancellable, error);
}

/* PATH without trailing slashes ("/" stays). */
static char *
without_trailing_slashes (const char *path)
{
  char *p = g_strdup (path);

  while (strlen (p) > 1 && g_str_has_suffix (p, "/"))
    p[strlen (p) - 1] = '\0';
  return p;
}

/* The paths to restore without trailing slashes, or NULL. */
static char **
normalized_paths (const char * const *paths)
{
  char **norm_paths;
  guint n;

  if (paths == NULL)
    return NULL;
  n = g_strv_length ((char **) paths);
  norm_paths = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    norm_paths[i] = without_trailing_slashes (paths[i]);
  return norm_paths;
}

/* Remembers which folder the target is, so that the restore never writes
 * through a link to it that it made itself. */
static void
remember_target (Restore *r, const char *target)
{
  struct stat st;

  if (target == NULL || stat (target, &st) != 0)
    return;
  r->target_known = TRUE;
  r->target_dev = st.st_dev;
  r->target_ino = st.st_ino;
}

/* The second and later names of each hard-linked file, linked to the first. */
static void
restore_hard_links (Restore *r)
{
  for (guint i = 0; i < r->links->len && r->error == NULL; i++)
    {
      FileJob *job = g_ptr_array_index (r->links, i);
      g_autofree char *key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                                              job->entry->rdev, job->entry->inode);
      g_autoptr(GError) link_error = NULL;

      if (!restore_hard_link (r, g_hash_table_lookup (r->link_groups, key), job, &link_error)
          && link_error != NULL)
        set_error (r, g_steal_pointer (&link_error));
    }
}

/* Folder metadata last, deepest first, so writing files does not change
 * their times again. */
static void
restore_folder_metadata (Restore *r)
{
  for (guint i = r->dirs->len; i > 0; i--)
    {
      DirTimes *dt = g_ptr_array_index (r->dirs, i - 1);
      struct timespec times[2];

      if (r->is_root && lchown (dt->path, dt->uid, dt->gid) != 0)
        g_debug ("could not restore the owner of %s", dt->path);
      chmod (dt->path, dt->mode);
      if (dt->mtime_ns == 0)
        continue;   /* a folder on the way to a backed-up path: no times recorded */
      times[0].tv_sec = dt->mtime_ns / 1000000000;
      times[0].tv_nsec = dt->mtime_ns % 1000000000;
      times[1] = times[0];
      utimensat (AT_FDCWD, dt->path, times, 0);
    }
}

static void
restore_clear (Restore *r)
{
  g_clear_pointer (&r->conflicts, g_ptr_array_unref);
  g_ptr_array_unref (r->dirs);
  g_hash_table_unref (r->link_groups);
  g_ptr_array_unref (r->links);
  g_clear_pointer (&r->pending, g_ptr_array_unref);
  _coffer_restore_sync_free (r->sync);
  g_clear_pointer (&r->stages, _coffer_buffer_pool_free);
  coffer_progress_meter_free (r->meter);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
}

/* Walks the snapshot's trees from the top, restoring the files through
 * the workers and reading blobs through a pack reader; the walk's error
 * (the workers' go to r->error) in error. */
static void
restore_walk (Restore *r, const char * const *norm_paths, GError **error)
{
  g_autoptr(GPtrArray) tree = NULL;
  CofferIndex *index;
  /* Restore waits on writes more than on the CPU: more workers than cores. */
  guint n_workers = MAX (4, 2 * g_get_num_processors ());

  r->max_jobs = n_workers * 2;
  r->workers = _coffer_worker_pool_new ("coffer-restore", worker_func, r, n_workers);
  index = _coffer_repository_get_index (r->repo, r->keys, r->cancellable, error);
  if (index != NULL)
    {
      /* Whole packs (12 MiB as the backup writes them) for the workers
       * and the trees; a restore of whole snapshots needs most of each. */
      r->reader = _coffer_pack_reader_new (r->repo->store, index, MIN (n_workers, 6) + 1,
                                           norm_paths == NULL || norm_paths[0] == NULL);
      tree = _coffer_repository_read_tree_via (r->repo, r->keys, r->snapshot->epoch, r->snapshot->tree,
                                               r->reader, r->cancellable, error);
      if (tree != NULL)
        restore_tree (r, tree, "", norm_paths, r->strip, error);
      submit_pending (r);
    }
  _coffer_worker_pool_free (r->workers);
  if (r->reader != NULL)
    {
      guint64 requests, bytes;
      _coffer_pack_reader_get_stats (r->reader, &requests, &bytes);
      g_debug ("restore: %" G_GUINT64_FORMAT " reads of %" G_GUINT64_FORMAT " bytes from the store",
               requests, bytes);
    }
  g_clear_pointer (&r->reader, _coffer_pack_reader_free);
}

gboolean
coffer_restore_run_mapped (CofferRepository *self, const char *category_id,
                           const CofferSnapshot *snapshot, const char * const *paths,
                           const char *target, const char *strip_prefix, CofferRestoreFlags flags,
                           CofferProgressFunc progress, gpointer progress_data,
                           GPtrArray **conflicts, CofferRestoreResult *result,
                           GCancellable *cancellable, GError **error)
{
  g_autofree char *strip = NULL;
  Restore rs = { 0 };
  Restore *r = &rs;
  g_autoptr(GError) walk_error = NULL;
  g_auto(GStrv) norm_paths = NULL;
  gboolean ok;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (snapshot != NULL, FALSE);

  r->keys = _coffer_repository_get_category (self, category_id, cancellable, error);
  if (r->keys == NULL)
    return FALSE;
  if (target != NULL && g_mkdir_with_parents (target, 0700) != 0)
    {
      set_errno_error (NULL, error, errno, C_("store action", "create the folder"), target);
      return FALSE;
    }
  remember_target (r, target);
  norm_paths = normalized_paths (paths);

  r->repo = self;
  r->snapshot = snapshot;
  r->started_ns = g_get_real_time () * 1000;
  if (strip_prefix != NULL && target != NULL)
    strip = without_trailing_slashes (strip_prefix);
  r->target = target;
  r->strip = strip;
  r->flags = flags;
  r->cancellable = cancellable;
  r->is_root = geteuid () == 0;
  r->conflicts = g_ptr_array_new_with_free_func (g_free);
  r->dirs = g_ptr_array_new_with_free_func (dir_times_free);
  r->link_groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->links = g_ptr_array_new_with_free_func (file_job_free);
  r->sync = _coffer_restore_sync_new (sync_failed, r);
  /* One stage per worker at a time; kept for the next file. */
  r->stages = _coffer_buffer_pool_new (16, 16 * COFFER_DIRECT_STAGE, COFFER_DIRECT_STAGE);
  if (target != NULL)
    note_dir (r, target, TRUE);
  r->meter = coffer_progress_meter_new ("restore", r->keys->info->name, progress, progress_data);
  coffer_progress_meter_set_totals (r->meter, snapshot->files, snapshot->bytes);
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  restore_walk (r, (const char * const *) norm_paths, &walk_error);
  if (walk_error != NULL)
    set_error (r, g_steal_pointer (&walk_error));

  restore_hard_links (r);

  if (r->error == NULL && (flags & COFFER_RESTORE_DRY_RUN) == 0)
    restore_folder_metadata (r);

  if (r->error == NULL && (flags & COFFER_RESTORE_DRY_RUN) == 0)
    _coffer_restore_sync_finish (r->sync);
  if (r->error == NULL)
    g_cancellable_set_error_if_cancelled (cancellable, &r->error);
  coffer_progress_meter_finish (r->meter);
  ok = r->error == NULL;
  if (!ok)
    g_propagate_error (error, r->error);
  else if (r->conflicts->len > 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEWER_FILE,
                   g_dngettext (GETTEXT_PACKAGE,
                                "%u file was not restored because the copy on disk is newer.",
                                "%u files were not restored because the copies on disk are newer.",
                                r->conflicts->len),
                   r->conflicts->len);
      ok = FALSE;
    }
  if (result != NULL)
    result->withheld = g_atomic_int_get (&r->withheld);
  if (conflicts != NULL)
    *conflicts = g_steal_pointer (&r->conflicts);
  restore_clear (r);
  return ok;
}
