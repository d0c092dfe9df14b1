/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Restored files written past the page cache (coffer-restore-direct.h).
 * Measured on this project's machine: 1 GB written and fsynced in 5.6 s
 * through the page cache, 2.6 s with O_DIRECT; and a restore spent 9 % of
 * its samples copying bytes into the page cache. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "coffer-restore-direct.h"

#define BLOCK 4096

static guint64 direct_bytes;

static gboolean
set_direct (int fd, gboolean on)
{
  int flags = fcntl (fd, F_GETFL);

  if (flags < 0)
    return FALSE;
  flags = on ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
  return fcntl (fd, F_SETFL, flags) == 0;
}

static gboolean
pwrite_all (int fd, const guint8 *data, gsize len, guint64 offset)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t n = pwrite (fd, data + done, len - done, (off_t) (offset + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      if (n == 0)
        {
          errno = EIO;
          return FALSE;
        }
      done += n;
    }
  return TRUE;
}

/* Writes the first len bytes of the stage (a multiple of BLOCK when
 * direct) at out->offset. */
static gboolean
write_stage (CofferDirectOut *out, gsize len)
{
  if (len == 0)
    return TRUE;
  if (out->direct)
    {
      if (pwrite_all (out->fd, out->stage->data, len, out->offset))
        {
          __atomic_fetch_add (&direct_bytes, len, __ATOMIC_RELAXED);
          return TRUE;
        }
      /* Taken at fcntl, refused at the write (some FUSE file systems):
       * through the page cache from here on. A partial direct write
       * left nothing that the buffered one does not overwrite. */
      if (errno != EINVAL || !set_direct (out->fd, FALSE))
        return FALSE;
      out->direct = FALSE;
    }
  return pwrite_all (out->fd, out->stage->data, len, out->offset);
}

gboolean
_coffer_direct_out_start (CofferDirectOut *out, int fd, CofferBufferPool *pool)
{
  *out = (CofferDirectOut) { .fd = fd };
  if (!set_direct (fd, TRUE))
    return FALSE;
  out->direct = TRUE;
  out->stage = _coffer_buffer_pool_take (pool, COFFER_DIRECT_STAGE);
  return TRUE;
}

gboolean
_coffer_direct_out_write (CofferDirectOut *out, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      gsize n = MIN (len, COFFER_DIRECT_STAGE - out->fill);

      memcpy (out->stage->data + out->fill, data, n);
      out->fill += n;
      data += n;
      len -= n;
      if (out->fill == COFFER_DIRECT_STAGE)
        {
          if (!write_stage (out, COFFER_DIRECT_STAGE))
            return FALSE;
          out->offset += COFFER_DIRECT_STAGE;
          out->fill = 0;
        }
    }
  return TRUE;
}

gboolean
_coffer_direct_out_finish (CofferDirectOut *out)
{
  gsize whole = out->fill & ~(gsize) (BLOCK - 1);

  if (!write_stage (out, whole))
    return FALSE;
  if (out->direct && !set_direct (out->fd, FALSE))
    return FALSE;
  out->direct = FALSE;
  if (out->fill > whole
      && !pwrite_all (out->fd, out->stage->data + whole, out->fill - whole, out->offset + whole))
    return FALSE;
  out->offset += out->fill;
  out->fill = 0;
  return lseek (out->fd, (off_t) out->offset, SEEK_SET) >= 0;
}

void
_coffer_direct_out_clear (CofferDirectOut *out)
{
  g_clear_pointer (&out->stage, _coffer_pool_buffer_give);
}

guint64
_coffer_direct_out_get_bytes (void)
{
  return __atomic_load_n (&direct_bytes, __ATOMIC_RELAXED);
}
