/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The local store: a folder on this computer or a removable drive (POSIX
 * calls), or any other GIO location such as a GVfs mount (GFile calls).
 *
 * Writes go to ".tmp-<random>" in the object's directory, are flushed with
 * fsync and then published: create-only with renameat2(RENAME_NOREPLACE)
 * (or link()+unlink() where the filesystem lacks it), replace with rename().
 * The directory is fsynced afterwards so the name survives a power cut.
 * COFFER_PUT_CREATE_UNSYNCED (packs) skips both fsyncs, only starts the
 * write-back and remembers the object and its folders; coffer_store_flush()
 * then fdatasyncs exactly those objects and fsyncs those folders before the
 * index that names the packs is written (group commit: the write-back of
 * every pack overlaps, and the first fdatasync's journal commit covers the
 * others' metadata). Not syncfs(): that would also wait for every other
 * program's dirty data on the same file system. */
#include "coffer-store-private.h"
#include "coffer-error.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>
#include <inttypes.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

struct _CofferStoreLocal
{
  GObject parent_instance;

  GFile *root;
  char *root_path;   /* NULL when the location is not a local path */
  gboolean use_gio;

  /* COFFER_PUT_CREATE_UNSYNCED objects not yet made durable by flush. */
  GMutex pending_lock;
  GPtrArray *pending_files;   /* full paths */
  GHashTable *pending_dirs;   /* set of full paths of folders whose entries changed */
};

static void coffer_store_local_iface_init (CofferStoreInterface *iface);
static char *coffer_store_local_describe (CofferStore *store);

G_DEFINE_FINAL_TYPE_WITH_CODE (CofferStoreLocal, coffer_store_local, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (COFFER_TYPE_STORE,
                                                      coffer_store_local_iface_init))

/* ---- error mapping ---- */

static void
set_errno_error (GError **error, int errsv, const char *what, const char *path)
{
  int code;

  switch (errsv)
    {
    case ENOENT:
      code = COFFER_STORE_ERROR_NOT_FOUND;
      break;
    case EEXIST:
      code = COFFER_STORE_ERROR_EXISTS;
      break;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      /* TRANSLATORS: the action is a "store action" message such as "write";
       * translate those to fit this sentence (German uses a participle). */
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE,
                   _("There is not enough space to %s “%s”: %s. Free some space on the "
                   "backup drive or choose another destination."),
                   what, path, g_strerror (errsv));
      return;
    case EACCES:
    case EPERM:
    case EROFS:
      /* A folder has no credentials to refuse: this is a write-protected
       * (read-only, immutable or foreign) location. */
      /* TRANSLATORS: the action is a "store action" message such as "write";
       * translate those to fit this sentence (German uses a participle). */
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_READ_ONLY,
                   _("Could not %s “%s”: %s."),
                   what, path, g_strerror (errsv));
      return;
    case ENXIO:
    case ENODEV:
    case ENOTCONN:
    case ESTALE:
      /* The device or the mount under the folder went away. */
      code = COFFER_STORE_ERROR_UNREACHABLE;
      break;
    case EIO:
    case ETIMEDOUT:
    case EHOSTDOWN:
      code = COFFER_STORE_ERROR_NETWORK;
      break;
    default:
      code = COFFER_STORE_ERROR_FAILED;
      break;
    }
  /* TRANSLATORS: the action is a "store action" message such as "write";
   * translate those to fit this sentence (German uses a participle). */
  g_set_error (error, COFFER_STORE_ERROR, code, _("Could not %s “%s”: %s."),
               what, path, g_strerror (errsv));
}

static void
set_gio_error (GError **error, GError *gerr, const char *what, const char *name)
{
  int code;

  if (gerr->domain == G_IO_ERROR && gerr->code == G_IO_ERROR_CANCELLED)
    {
      g_propagate_error (error, g_error_copy (gerr));
      return;
    }
  if (gerr->domain != G_IO_ERROR)
    code = COFFER_STORE_ERROR_FAILED;
  else
    switch (gerr->code)
      {
      case G_IO_ERROR_NOT_FOUND:
        code = COFFER_STORE_ERROR_NOT_FOUND;
        break;
      case G_IO_ERROR_EXISTS:
        code = COFFER_STORE_ERROR_EXISTS;
        break;
      case G_IO_ERROR_NO_SPACE:
        /* TRANSLATORS: the action is a "store action" message such as "write";
         * translate those to fit this sentence (German uses a participle). */
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE,
                     _("There is not enough space to %s “%s”: %s. Free some space on the "
                     "destination or choose another one."), what, name, gerr->message);
        return;
      case G_IO_ERROR_PERMISSION_DENIED:
      case G_IO_ERROR_READ_ONLY:
        code = COFFER_STORE_ERROR_READ_ONLY;
        break;
      case G_IO_ERROR_NOT_MOUNTED:
        code = COFFER_STORE_ERROR_UNREACHABLE;
        break;
      case G_IO_ERROR_TIMED_OUT:
      case G_IO_ERROR_HOST_NOT_FOUND:
      case G_IO_ERROR_HOST_UNREACHABLE:
      case G_IO_ERROR_NETWORK_UNREACHABLE:
      case G_IO_ERROR_CONNECTION_REFUSED:
      case G_IO_ERROR_CONNECTION_CLOSED:
      case G_IO_ERROR_NOT_CONNECTED:
      case G_IO_ERROR_BUSY:
        code = COFFER_STORE_ERROR_NETWORK;
        break;
      default:
        code = COFFER_STORE_ERROR_FAILED;
        break;
      }
  /* TRANSLATORS: the action is a "store action" message such as "write";
   * translate those to fit this sentence (German uses a participle). */
  g_set_error (error, COFFER_STORE_ERROR, code, _("Could not %s “%s”: %s"),
               what, name, gerr->message);
}

static gboolean
native (CofferStoreLocal *self)
{
  return self->root_path != NULL && !self->use_gio;
}

/* ---- POSIX fast path ---- */

static gboolean
fsync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    {
      set_errno_error (error, errno, C_("store action", "open the folder"), dir);
      return FALSE;
    }
  /* Some filesystems (e.g. some FUSE ones) refuse fsync on directories. */
  if (fsync (fd) != 0 && errno != EINVAL && errno != ENOTSUP)
    {
      int errsv = errno;
      close (fd);
      set_errno_error (error, errsv, C_("store action", "flush the folder"), dir);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

static gboolean
write_all (int fd, const guint8 *buf, gsize len, int *errsv)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, MIN (len, (gsize) 1 << 30));
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          *errsv = errno;
          return FALSE;
        }
      buf += n;
      len -= n;
    }
  return TRUE;
}

/* Creates tmp (create-only) and writes buf to it; returns the open fd, or
 * -1 with *errsv, and *created FALSE when tmp could not even be created. direct: write
 * with O_DIRECT when buf and len are aligned to DIRECT_ALIGN (packs are:
 * pool buffers start on a page, pack sizes are multiples of 4 KiB): the
 * data goes from the buffer to the disk without being copied into the
 * page cache first, where that copy and its write-back cost more CPU than
 * the rest of a pack's writing. A file system that refuses O_DIRECT
 * (EINVAL) gets a normal write. */
#define DIRECT_ALIGN 4096

static int
create_and_write (const char *tmp, const guint8 *buf, gsize len, gboolean direct, int *errsv,
                  gboolean *created)
{
  int fd;

  *created = TRUE;
  if (direct && len > 0 && len % DIRECT_ALIGN == 0 && (guintptr) buf % DIRECT_ALIGN == 0)
    {
      fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0666);
      if (fd >= 0)
        {
          if (write_all (fd, buf, len, errsv))
            return fd;
          close (fd);
          unlink (tmp);
          if (*errsv != EINVAL)
            return -1;
          *errsv = 0;
        }
      else if (errno != EINVAL)
        {
          *errsv = errno;
          *created = FALSE;
          return -1;
        }
    }
  fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0)
    {
      *errsv = errno;
      *created = FALSE;
      return -1;
    }
  if (!write_all (fd, buf, len, errsv))
    {
      close (fd);
      unlink (tmp);
      return -1;
    }
  return fd;
}

/* Notes an unsynced object for coffer_store_local_flush: the file, its
 * folder, and when the folder was new, the folders above it up to the root
 * (their entries changed too). */
static void
remember_unsynced (CofferStoreLocal *self, const char *path, const char *dir, gboolean new_dir)
{
  g_mutex_lock (&self->pending_lock);
  g_ptr_array_add (self->pending_files, g_strdup (path));
  g_hash_table_add (self->pending_dirs, g_strdup (dir));
  if (new_dir)
    {
      g_autofree char *up = g_path_get_dirname (dir);
      gsize root_len = strlen (self->root_path);

      while (strlen (up) >= root_len && !g_hash_table_contains (self->pending_dirs, up))
        {
          char *next = g_path_get_dirname (up);

          g_hash_table_add (self->pending_dirs, g_steal_pointer (&up));
          if (g_str_equal (next, "/") || g_str_equal (next, "."))
            {
              g_free (next);
              break;
            }
          up = next;
        }
    }
  g_mutex_unlock (&self->pending_lock);
}

/* fdatasync of one file by name: the data and what is needed to read it
 * back (size, blocks), not its times. */
static int
datasync_path (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  int errsv = 0;

  if (fd < 0)
    return errno;
  if (fdatasync (fd) != 0 && errno != EINVAL && errno != ENOTSUP)
    errsv = errno;
  close (fd);
  return errsv;
}

/* Create-only publish of tmp as path. Returns 0 or an errno. */
static int
publish_noreplace (const char *tmp, const char *path)
{
#ifdef SYS_renameat2
  if (syscall (SYS_renameat2, AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
    return errno;
#endif
  if (link (tmp, path) == 0)
    {
      unlink (tmp);
      return 0;
    }
  if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EMLINK)
    return errno;
  /* No hard links (FAT, exFAT): the best this filesystem allows. */
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return EEXIST;
  if (rename (tmp, path) == 0)
    return 0;
  return errno;
}

static gboolean
local_put_native (CofferStoreLocal *self, const char *name, GBytes *data, CofferPutMode mode,
                  GError **error)
{
  g_autofree char *path = g_build_filename (self->root_path, name, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *token = coffer_store_random_token ();
  g_autofree char *tmp = g_strdup_printf ("%s/" COFFER_STORE_TMP_PREFIX "%s", dir, token);
  gsize len;
  const guint8 *buf = g_bytes_get_data (data, &len);
  gboolean created;
  int errsv = 0;
  gboolean new_dir;
  int fd;

  if (mode != COFFER_PUT_REPLACE && g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                   _("The object “%s” already exists."), name);
      return FALSE;
    }

  new_dir = !g_file_test (dir, G_FILE_TEST_IS_DIR);
  if (g_mkdir_with_parents (dir, 0777) != 0)
    {
      set_errno_error (error, errno, C_("store action", "create the folder"), dir);
      return FALSE;
    }

  /* Packs (unsynced: made durable by flush, in a group) go straight to
   * the disk where they can. */
  fd = create_and_write (tmp, buf, len, mode == COFFER_PUT_CREATE_UNSYNCED, &errsv, &created);
  if (fd < 0)
    {
      if (created)
        set_errno_error (error, errsv, C_("store action", "write"), name);
      else
        set_errno_error (error, errsv, C_("store action", "create"), tmp);
      return FALSE;
    }
  if (mode == COFFER_PUT_CREATE_UNSYNCED
      ? sync_file_range (fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0 && errno != ENOSYS && errno != EINVAL
        && errno != ESPIPE
      : fsync (fd) != 0)
    {
      if (errsv == 0)
        errsv = errno;
      close (fd);
      unlink (tmp);
      set_errno_error (error, errsv, C_("store action", "write"), name);
      return FALSE;
    }
  if (close (fd) != 0)
    {
      errsv = errno;
      unlink (tmp);
      set_errno_error (error, errsv, C_("store action", "write"), name);
      return FALSE;
    }

  if (mode != COFFER_PUT_REPLACE)
    errsv = publish_noreplace (tmp, path);
  else
    errsv = rename (tmp, path) == 0 ? 0 : errno;
  if (errsv != 0)
    {
      unlink (tmp);
      if (errsv == EEXIST)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                     _("The object “%s” already exists."), name);
      else
        set_errno_error (error, errsv, C_("store action", "store"), name);
      return FALSE;
    }
  if (mode == COFFER_PUT_CREATE_UNSYNCED)
    {
      remember_unsynced (self, path, dir, new_dir);
      return TRUE;
    }
  return fsync_dir (dir, error);
}

/* Reads length (0: to the end) bytes at offset of name into into (when
 * not NULL, it holds length bytes) or a new buffer, returned in *out.
 * max_size: 0, or the largest whole object to read (get_limited). */
static gboolean
local_read_native (CofferStoreLocal *self, const char *name, guint64 offset, guint64 length,
                   guint64 max_size, guint8 *into, guint8 **out, guint64 *out_length,
                   GCancellable *cancellable, GError **error)
{
  g_autofree char *path = g_build_filename (self->root_path, name, NULL);
  struct stat st;
  guint8 *buf;
  guint64 done = 0;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int errsv = errno;
      if (errsv == ENOENT)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                     _("The object “%s” does not exist."), name);
      else
        set_errno_error (error, errsv, C_("store action", "open"), name);
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                   _("The object “%s” does not exist."), name);
      return FALSE;
    }
  if (offset > (guint64) st.st_size || (length > 0 && offset + length > (guint64) st.st_size))
    {
      close (fd);
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The object “%s” is %" PRIu64 " bytes long, shorter than the "
                   "requested range."), name, (guint64) st.st_size);
      return FALSE;
    }
  if (max_size > 0 && (guint64) st.st_size > max_size)
    {
      close (fd);
      coffer_store_set_too_large_error (error, name, st.st_size, max_size);
      return FALSE;
    }
  if (length == 0)
    length = st.st_size - offset;

  buf = into != NULL ? into : g_malloc (MAX (length, 1));
  while (done < length)
    {
      ssize_t n = pread (fd, buf + done, MIN (length - done, (guint64) 1 << 30),
                         offset + done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int errsv = n < 0 ? errno : EIO;
          if (buf != into)
            g_free (buf);
          close (fd);
          if (n == 0)
            g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                         _("The object “%s” became shorter while it was read."), name);
          else
            set_errno_error (error, errsv, C_("store action", "read"), name);
          return FALSE;
        }
      done += n;
      if (g_cancellable_is_cancelled (cancellable))
        {
          if (buf != into)
            g_free (buf);
          close (fd);
          g_cancellable_set_error_if_cancelled (cancellable, error);
          return FALSE;
        }
    }
  close (fd);
  if (out != NULL)
    *out = buf;
  if (out_length != NULL)
    *out_length = length;
  return TRUE;
}

static GBytes *
local_get_native (CofferStoreLocal *self, const char *name, guint64 offset, guint64 length,
                  guint64 max_size, GCancellable *cancellable, GError **error)
{
  guint8 *buf;

  if (!local_read_native (self, name, offset, length, max_size, NULL, &buf, &length,
                          cancellable, error))
    return NULL;
  return g_bytes_new_take (buf, length);
}

typedef struct
{
  const char *prefix;
  CofferStoreListFunc func;
  gpointer user_data;
  GCancellable *cancellable;
  gboolean stopped;
} ListCtx;

/* Walks dir (relative name rel, "" for the root). */
static gboolean
walk_native (int fd0, const char *rel, ListCtx *ctx, GError **error)
{
  DIR *d = fdopendir (fd0);
  struct dirent *de;

  if (d == NULL)
    {
      int errsv = errno;
      close (fd0);
      set_errno_error (error, errsv, C_("store action", "list"), rel);
      return FALSE;
    }
  while (!ctx->stopped && (de = readdir (d)) != NULL)
    {
      g_autofree char *child = NULL;
      struct stat st;
      gsize plen;

      if (de->d_name[0] == '.' && (de->d_name[1] == '\0'
                                   || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
        continue;
      if (g_str_has_prefix (de->d_name, COFFER_STORE_TMP_PREFIX))
        continue;
      child = rel[0] ? g_strconcat (rel, "/", de->d_name, NULL) : g_strdup (de->d_name);

      /* Prune subtrees that cannot match the prefix. */
      plen = strlen (child);
      if (strncmp (child, ctx->prefix, MIN (plen, strlen (ctx->prefix))) != 0)
        continue;

      if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        {
          if (errno == ENOENT)
            continue; /* deleted meanwhile */
          set_errno_error (error, errno, C_("store action", "list"), child);
          closedir (d);
          return FALSE;
        }
      if (S_ISDIR (st.st_mode))
        {
          int fd = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (fd < 0)
            {
              if (errno == ENOENT)
                continue;
              set_errno_error (error, errno, C_("store action", "list"), child);
              closedir (d);
              return FALSE;
            }
          if (!walk_native (fd, child, ctx, error))
            {
              closedir (d);
              return FALSE;
            }
        }
      else if (S_ISREG (st.st_mode) && g_str_has_prefix (child, ctx->prefix))
        {
          if (!ctx->func (child, st.st_size, ctx->user_data))
            ctx->stopped = TRUE;
        }
      if (g_cancellable_set_error_if_cancelled (ctx->cancellable, error))
        {
          closedir (d);
          return FALSE;
        }
    }
  closedir (d);
  return TRUE;
}

/* The directory part of a prefix: "a/b/c" -> "a/b", "a/b/" -> "a/b", "a" -> "". */
static char *
prefix_dir (const char *prefix)
{
  const char *slash = strrchr (prefix, '/');
  return slash ? g_strndup (prefix, slash - prefix) : g_strdup ("");
}

static gboolean
local_list_native (CofferStoreLocal *self, const char *prefix, ListCtx *ctx, GError **error)
{
  g_autofree char *rel = prefix_dir (prefix);
  g_autofree char *dir = g_build_filename (self->root_path, rel, NULL);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        return TRUE; /* nothing under this prefix */
      set_errno_error (error, errno, C_("store action", "list"), dir);
      return FALSE;
    }
  return walk_native (fd, rel, ctx, error);
}

/* Temporaries below rel (matching prefix) last written before cutoff. */
typedef struct
{
  const char   *prefix;
  gint64        cutoff;      /* unix seconds */
  guint64       removed;
  GCancellable *cancellable;
} TmpCtx;

/* A temporary in folder rel would become an object "rel/<name>": it is
 * under prefix when that folder is, or when prefix names objects in it. */
static gboolean
tmp_under_prefix (const char *rel, const char *prefix)
{
  g_autofree char *folder = rel[0] ? g_strconcat (rel, "/", NULL) : g_strdup ("");

  if (g_str_has_prefix (folder, prefix))
    return TRUE;
  return g_str_has_prefix (prefix, folder) && strchr (prefix + strlen (folder), '/') == NULL;
}

static gboolean
remove_tmp_native (int fd0, const char *rel, TmpCtx *ctx, GError **error)
{
  DIR *d = fdopendir (fd0);
  struct dirent *de;
  gboolean ok = TRUE;

  if (d == NULL)
    {
      int errsv = errno;
      close (fd0);
      set_errno_error (error, errsv, C_("store action", "list"), rel);
      return FALSE;
    }
  while (ok && (de = readdir (d)) != NULL)
    {
      g_autofree char *child = NULL;
      struct stat st;
      gboolean is_tmp = g_str_has_prefix (de->d_name, COFFER_STORE_TMP_PREFIX);

      if (de->d_name[0] == '.' && !is_tmp)
        continue;
      child = rel[0] ? g_strconcat (rel, "/", de->d_name, NULL) : g_strdup (de->d_name);
      if (is_tmp ? !tmp_under_prefix (rel, ctx->prefix)
                 : strncmp (child, ctx->prefix, MIN (strlen (child), strlen (ctx->prefix))) != 0)
        continue;
      if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        continue;   /* gone meanwhile */
      if (is_tmp)
        {
          if (!S_ISREG (st.st_mode) || st.st_mtime > ctx->cutoff)
            continue;   /* maybe still being written */
          if (unlinkat (dirfd (d), de->d_name, 0) == 0)
            ctx->removed += st.st_size;
          else if (errno != ENOENT)
            {
              set_errno_error (error, errno, C_("store action", "delete"), child);
              ok = FALSE;
            }
        }
      else if (S_ISDIR (st.st_mode))
        {
          int fd = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (fd >= 0)
            ok = remove_tmp_native (fd, child, ctx, error);
        }
      if (ok && g_cancellable_set_error_if_cancelled (ctx->cancellable, error))
        ok = FALSE;
    }
  closedir (d);
  return ok;
}

static gboolean
coffer_store_local_remove_stale_temporaries (CofferStore *store, const char *prefix, gint64 max_age_seconds,
                                             guint64 *removed_bytes, GCancellable *cancellable,
                                             GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);
  TmpCtx ctx = { prefix, g_get_real_time () / G_USEC_PER_SEC - max_age_seconds, 0, cancellable };
  g_autofree char *rel = prefix_dir (prefix);
  g_autofree char *dir = NULL;
  gboolean ok;
  int fd;

  /* GVfs locations: puts go through g_file_create, which leaves a
   * temporary only when the process dies in between; not handled yet. */
  if (!native (self))
    return TRUE;
  dir = g_build_filename (self->root_path, rel, NULL);
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        return TRUE;
      set_errno_error (error, errno, C_("store action", "list"), dir);
      return FALSE;
    }
  ok = remove_tmp_native (fd, rel, &ctx, error);
  *removed_bytes += ctx.removed;
  return ok;
}

/* ---- GIO path (GVfs and other non-local locations) ---- */

static gboolean
local_put_gio (CofferStoreLocal *self, const char *name, GBytes *data, CofferPutMode mode,
               GCancellable *cancellable, GError **error)
{
  g_autoptr(GFile) file = g_file_resolve_relative_path (self->root, name);
  g_autoptr(GFile) parent = g_file_get_parent (file);
  g_autofree char *token = coffer_store_random_token ();
  g_autofree char *tmpname = g_strconcat (COFFER_STORE_TMP_PREFIX, token, NULL);
  g_autoptr(GFile) tmp = g_file_get_child (parent, tmpname);
  g_autoptr(GFileOutputStream) out = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len;
  const guint8 *buf = g_bytes_get_data (data, &len);

  if (mode != COFFER_PUT_REPLACE && g_file_query_exists (file, cancellable))
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                   _("The object “%s” already exists."), name);
      return FALSE;
    }
  if (!g_file_make_directory_with_parents (parent, cancellable, &local_error)
      && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      set_gio_error (error, local_error, C_("store action", "create the folder for"), name);
      return FALSE;
    }
  g_clear_error (&local_error);

  out = g_file_create (tmp, G_FILE_CREATE_NONE, cancellable, &local_error);
  if (out == NULL
      || !g_output_stream_write_all (G_OUTPUT_STREAM (out), buf, len, NULL, cancellable,
                                     &local_error)
      || !g_output_stream_close (G_OUTPUT_STREAM (out), cancellable, &local_error))
    {
      set_gio_error (error, local_error, C_("store action", "write"), name);
      g_file_delete (tmp, NULL, NULL);
      return FALSE;
    }
  /* GLocalFile's move without OVERWRITE checks and then renames, which
   * races; where the location has a path, publish atomically with POSIX. */
  if (mode != COFFER_PUT_REPLACE && g_file_is_native (tmp))
    {
      g_autofree char *tmp_path = g_file_get_path (tmp);
      g_autofree char *path = g_file_get_path (file);
      int errsv = publish_noreplace (tmp_path, path);

      if (errsv == 0)
        return TRUE;
      unlink (tmp_path);
      if (errsv == EEXIST)
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                     _("The object “%s” already exists."), name);
      else
        set_errno_error (error, errsv, C_("store action", "store"), name);
      return FALSE;
    }
  if (!g_file_move (tmp, file,
                    mode == COFFER_PUT_REPLACE ? G_FILE_COPY_OVERWRITE : G_FILE_COPY_NONE,
                    cancellable, NULL, NULL, &local_error))
    {
      g_file_delete (tmp, NULL, NULL);
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS,
                     _("The object “%s” already exists."), name);
      else
        set_gio_error (error, local_error, C_("store action", "store"), name);
      return FALSE;
    }
  return TRUE;
}

static GBytes *
local_get_gio (CofferStoreLocal *self, const char *name, guint64 offset, guint64 length,
               guint64 max_size, GCancellable *cancellable, GError **error)
{
  g_autoptr(GFile) file = g_file_resolve_relative_path (self->root, name);
  g_autoptr(GFileInputStream) in = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GByteArray) buf = NULL;
  guint64 size;
  gsize got = 0;

  in = g_file_read (file, cancellable, &local_error);
  if (in != NULL)
    info = g_file_input_stream_query_info (in, G_FILE_ATTRIBUTE_STANDARD_SIZE, cancellable,
                                           &local_error);
  if (info == NULL)
    {
      set_gio_error (error, local_error, C_("store action", "read"), name);
      return NULL;
    }
  size = g_file_info_get_size (info);
  if (max_size > 0 && size > max_size)
    {
      coffer_store_set_too_large_error (error, name, size, max_size);
      return NULL;
    }
  if (offset > size || (length > 0 && offset + length > size))
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The object “%s” is %" PRIu64 " bytes long, shorter than the "
                   "requested range."), name, size);
      return NULL;
    }
  if (length == 0)
    length = size - offset;
  if (offset > 0)
    {
      if (g_seekable_can_seek (G_SEEKABLE (in)))
        {
          if (!g_seekable_seek (G_SEEKABLE (in), offset, G_SEEK_SET, cancellable, &local_error))
            {
              set_gio_error (error, local_error, C_("store action", "read"), name);
              return NULL;
            }
        }
      else if (g_input_stream_skip (G_INPUT_STREAM (in), offset, cancellable, &local_error)
               != (gssize) offset)
        {
          if (local_error == NULL)
            g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_FAILED, _("short read"));
          set_gio_error (error, local_error, C_("store action", "read"), name);
          return NULL;
        }
    }
  buf = g_byte_array_sized_new (length);
  g_byte_array_set_size (buf, length);
  if (!g_input_stream_read_all (G_INPUT_STREAM (in), buf->data, length, &got, cancellable,
                                &local_error))
    {
      set_gio_error (error, local_error, C_("store action", "read"), name);
      return NULL;
    }
  if (got != length)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The object “%s” became shorter while it was read."), name);
      return NULL;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}

static gboolean
walk_gio (GFile *dir, const char *rel, ListCtx *ctx, GError **error)
{
  g_autoptr(GFileEnumerator) en = NULL;
  g_autoptr(GError) local_error = NULL;

  en = g_file_enumerate_children (dir,
                                  G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                  G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                  G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                  G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, ctx->cancellable,
                                  &local_error);
  if (en == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
          || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY))
        return TRUE;
      set_gio_error (error, local_error, C_("store action", "list"), rel[0] ? rel : "/");
      return FALSE;
    }
  while (!ctx->stopped)
    {
      GFileInfo *info = NULL;
      GFile *child_file = NULL;
      g_autofree char *child = NULL;
      const char *bn;

      if (!g_file_enumerator_iterate (en, &info, &child_file, ctx->cancellable, &local_error))
        {
          set_gio_error (error, local_error, C_("store action", "list"), rel[0] ? rel : "/");
          return FALSE;
        }
      if (info == NULL)
        break;
      bn = g_file_info_get_name (info);
      if (g_str_has_prefix (bn, COFFER_STORE_TMP_PREFIX))
        continue;
      child = rel[0] ? g_strconcat (rel, "/", bn, NULL) : g_strdup (bn);
      if (strncmp (child, ctx->prefix, MIN (strlen (child), strlen (ctx->prefix))) != 0)
        continue;
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        {
          if (!walk_gio (child_file, child, ctx, error))
            return FALSE;
        }
      else if (g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR
               && g_str_has_prefix (child, ctx->prefix))
        {
          if (!ctx->func (child, g_file_info_get_size (info), ctx->user_data))
            ctx->stopped = TRUE;
        }
    }
  return TRUE;
}

/* ---- a missing root: unplugged, not empty ---- */

/* TRUE when the repository folder itself is gone: the drive is unplugged,
 * the mount went away or the folder was renamed. Every object is then
 * "not found", and a listing would be empty, which must not read as a
 * repository that lost its newest backups. */
static gboolean
root_missing (CofferStoreLocal *self, GCancellable *cancellable)
{
  if (self->root_path != NULL)
    {
      struct stat st;
      return stat (self->root_path, &st) != 0 || !S_ISDIR (st.st_mode);
    }
  return g_file_query_file_type (self->root, G_FILE_QUERY_INFO_NONE, cancellable)
         != G_FILE_TYPE_DIRECTORY;
}

static void
set_unreachable_error (CofferStoreLocal *self, GError **error)
{
  g_autofree char *where = coffer_store_local_describe (COFFER_STORE (self));

  g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_UNREACHABLE,
               _("The backup folder “%s” is not there. If it is on a drive, the drive "
               "is not connected."), where);
}

/* Turns "not found" into "unreachable" when the root is what is missing. */
static void
check_missing_root (CofferStoreLocal *self, GCancellable *cancellable, GError **error)
{
  if (error == NULL || *error == NULL
      || !g_error_matches (*error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND)
      || !root_missing (self, cancellable))
    return;
  g_clear_error (error);
  set_unreachable_error (self, error);
}

/* Before a put: the root exists, or it is created when its parent exists
 * (a new repository). Never the parents: a missing parent is usually the
 * mount point of an unplugged drive, and creating it would fill the
 * computer's own disk instead. */
static gboolean
ensure_root (CofferStoreLocal *self, GCancellable *cancellable, GError **error)
{
  g_autoptr(GFile) parent = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!root_missing (self, cancellable))
    return TRUE;
  parent = g_file_get_parent (self->root);
  if (parent == NULL
      || g_file_query_file_type (parent, G_FILE_QUERY_INFO_NONE, cancellable) != G_FILE_TYPE_DIRECTORY)
    {
      set_unreachable_error (self, error);
      return FALSE;
    }
  if (!g_file_make_directory (self->root, cancellable, &local_error)
      && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      g_autofree char *where = coffer_store_local_describe (COFFER_STORE (self));
      set_gio_error (error, local_error, C_("store action", "create the folder"), where);
      return FALSE;
    }
  return TRUE;
}

/* ---- interface ---- */

static gboolean
coffer_store_local_put (CofferStore *store, const char *name, GBytes *data, CofferPutMode mode,
                        GCancellable *cancellable, GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (!ensure_root (self, cancellable, error))
    return FALSE;
  if (native (self))
    return local_put_native (self, name, data, mode, error);
  return local_put_gio (self, name, data, mode, cancellable, error);
}

static GBytes *
coffer_store_local_get (CofferStore *store, const char *name, guint64 offset, guint64 length,
                        GCancellable *cancellable, GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);

  GBytes *bytes;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  if (native (self))
    bytes = local_get_native (self, name, offset, length, 0, cancellable, error);
  else
    bytes = local_get_gio (self, name, offset, length, 0, cancellable, error);
  if (bytes == NULL)
    check_missing_root (self, cancellable, error);
  return bytes;
}

/* Straight into the caller's buffer from a local folder; through GIO
 * (other locations) a read and a copy. */
static gboolean
coffer_store_local_read_into (CofferStore *store, const char *name, guint64 offset, guint64 length,
                              guint8 *buf, GCancellable *cancellable, GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);
  g_autoptr(GBytes) bytes = NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (native (self))
    {
      if (local_read_native (self, name, offset, length, 0, buf, NULL, NULL, cancellable, error))
        return TRUE;
      check_missing_root (self, cancellable, error);
      return FALSE;
    }
  bytes = local_get_gio (self, name, offset, length, 0, cancellable, error);
  if (bytes == NULL)
    {
      check_missing_root (self, cancellable, error);
      return FALSE;
    }
  memcpy (buf, g_bytes_get_data (bytes, NULL), length);
  return TRUE;
}

/* The size comes from the open file, and only that many bytes are read
 * (a file that grows meanwhile is cut off at the size checked). */
static GBytes *
coffer_store_local_get_limited (CofferStore *store, const char *name, guint64 max_size,
                                GCancellable *cancellable, GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);
  GBytes *bytes;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  if (native (self))
    bytes = local_get_native (self, name, 0, 0, max_size, cancellable, error);
  else
    bytes = local_get_gio (self, name, 0, 0, max_size, cancellable, error);
  if (bytes == NULL)
    check_missing_root (self, cancellable, error);
  return bytes;
}

static gboolean
coffer_store_local_list (CofferStore *store, const char *prefix, CofferStoreListFunc func,
                         gpointer user_data, GCancellable *cancellable, GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);
  ListCtx ctx = { prefix, func, user_data, cancellable, FALSE };
  g_autofree char *rel = NULL;
  g_autoptr(GFile) dir = NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (root_missing (self, cancellable))
    {
      set_unreachable_error (self, error);
      return FALSE;
    }
  if (native (self))
    return local_list_native (self, prefix, &ctx, error);

  rel = prefix_dir (prefix);
  dir = rel[0] ? g_file_resolve_relative_path (self->root, rel) : g_object_ref (self->root);
  return walk_gio (dir, rel, &ctx, error);
}

static gboolean
local_delete (CofferStore *store, const char *name, GCancellable *cancellable, GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (native (self))
    {
      g_autofree char *path = g_build_filename (self->root_path, name, NULL);
      struct stat st;

      if (lstat (path, &st) == 0 && S_ISDIR (st.st_mode))
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                       _("The object “%s” does not exist."), name);
          return FALSE;
        }
      if (unlink (path) != 0)
        {
          if (errno == ENOENT)
            g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                         _("The object “%s” does not exist."), name);
          else
            set_errno_error (error, errno, C_("store action", "delete"), name);
          return FALSE;
        }
      return TRUE;
    }
  else
    {
      g_autoptr(GFile) file = g_file_resolve_relative_path (self->root, name);
      g_autoptr(GError) local_error = NULL;

      if (!g_file_delete (file, cancellable, &local_error))
        {
          set_gio_error (error, local_error, C_("store action", "delete"), name);
          return FALSE;
        }
      return TRUE;
    }
}

static gboolean
local_stat (CofferStore *store, const char *name, guint64 *size, GCancellable *cancellable,
            GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (native (self))
    {
      g_autofree char *path = g_build_filename (self->root_path, name, NULL);
      struct stat st;

      int rc = stat (path, &st);
      int errsv = errno;

      if (rc != 0 || !S_ISREG (st.st_mode))
        {
          if (rc == 0 || errsv == ENOENT || errsv == ENOTDIR)
            g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                         _("The object “%s” does not exist."), name);
          else
            set_errno_error (error, errsv, C_("store action", "look up"), name);
          return FALSE;
        }
      if (size)
        *size = st.st_size;
      return TRUE;
    }
  else
    {
      g_autoptr(GFile) file = g_file_resolve_relative_path (self->root, name);
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GFileInfo) info = NULL;

      info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                G_FILE_QUERY_INFO_NONE, cancellable, &local_error);
      if (info == NULL)
        {
          set_gio_error (error, local_error, C_("store action", "look up"), name);
          return FALSE;
        }
      if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                       _("The object “%s” does not exist."), name);
          return FALSE;
        }
      if (size)
        *size = g_file_info_get_size (info);
      return TRUE;
    }
}

static gboolean
coffer_store_local_delete (CofferStore *store, const char *name, GCancellable *cancellable,
                           GError **error)
{
  if (local_delete (store, name, cancellable, error))
    return TRUE;
  check_missing_root (COFFER_STORE_LOCAL (store), cancellable, error);
  return FALSE;
}

static gboolean
coffer_store_local_stat (CofferStore *store, const char *name, guint64 *size,
                         GCancellable *cancellable, GError **error)
{
  if (local_stat (store, name, size, cancellable, error))
    return TRUE;
  check_missing_root (COFFER_STORE_LOCAL (store), cancellable, error);
  return FALSE;
}

static gboolean
coffer_store_local_flush (CofferStore *store, GCancellable *cancellable, GError **error)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(GHashTable) dirs = NULL;
  GHashTableIter iter;
  gpointer key;
  gboolean ok = TRUE;

  if (!native (self))
    return TRUE;   /* GIO puts are synced as they go */
  g_mutex_lock (&self->pending_lock);
  files = g_steal_pointer (&self->pending_files);
  dirs = g_steal_pointer (&self->pending_dirs);
  self->pending_files = g_ptr_array_new_with_free_func (g_free);
  self->pending_dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_unlock (&self->pending_lock);

  /* The files first: their write-back was started when they were put. */
  for (guint i = 0; ok && i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);
      int errsv = datasync_path (path);

      if (errsv != 0)
        {
          set_errno_error (error, errsv, C_("store action", "flush"), path);
          ok = FALSE;
        }
    }
  /* Then the names. */
  g_hash_table_iter_init (&iter, dirs);
  while (ok && g_hash_table_iter_next (&iter, &key, NULL))
    ok = fsync_dir (key, error);

  if (!ok)
    {
      /* Whatever was not made durable is still owed by the next flush. */
      g_mutex_lock (&self->pending_lock);
      for (guint i = 0; i < files->len; i++)
        g_ptr_array_add (self->pending_files, g_strdup (g_ptr_array_index (files, i)));
      g_hash_table_iter_init (&iter, dirs);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_hash_table_add (self->pending_dirs, g_strdup (key));
      g_mutex_unlock (&self->pending_lock);
    }
  return ok;
}

static char *
coffer_store_local_describe (CofferStore *store)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (store);

  if (self->root_path != NULL)
    return g_strdup (self->root_path);
  return g_file_get_uri (self->root);
}

static void
coffer_store_local_iface_init (CofferStoreInterface *iface)
{
  iface->put = coffer_store_local_put;
  iface->get = coffer_store_local_get;
  iface->get_limited = coffer_store_local_get_limited;
  iface->read_into = coffer_store_local_read_into;
  iface->list = coffer_store_local_list;
  iface->delete = coffer_store_local_delete;
  iface->stat = coffer_store_local_stat;
  iface->describe = coffer_store_local_describe;
  iface->flush = coffer_store_local_flush;
  iface->remove_stale_temporaries = coffer_store_local_remove_stale_temporaries;
}

static void
coffer_store_local_finalize (GObject *object)
{
  CofferStoreLocal *self = COFFER_STORE_LOCAL (object);

  g_clear_object (&self->root);
  g_clear_pointer (&self->root_path, g_free);
  g_clear_pointer (&self->pending_files, g_ptr_array_unref);
  g_clear_pointer (&self->pending_dirs, g_hash_table_unref);
  g_mutex_clear (&self->pending_lock);
  G_OBJECT_CLASS (coffer_store_local_parent_class)->finalize (object);
}

static void
coffer_store_local_class_init (CofferStoreLocalClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = coffer_store_local_finalize;
}

static void
coffer_store_local_init (CofferStoreLocal *self)
{
  g_mutex_init (&self->pending_lock);
  self->pending_files = g_ptr_array_new_with_free_func (g_free);
  self->pending_dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

CofferStore *
coffer_store_local_new (GFile *root)
{
  CofferStoreLocal *self;

  g_return_val_if_fail (G_IS_FILE (root), NULL);

  self = g_object_new (COFFER_TYPE_STORE_LOCAL, NULL);
  self->root = g_object_ref (root);
  if (g_file_is_native (root))
    self->root_path = g_file_get_path (root);
  return COFFER_STORE (self);
}

void
coffer_store_local_set_use_gio (CofferStoreLocal *self, gboolean use_gio)
{
  g_return_if_fail (COFFER_IS_STORE_LOCAL (self));
  self->use_gio = use_gio;
}
