/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-crypto.h"

G_BEGIN_DECLS

typedef enum
{
  COFFER_NODE_FILE = 'f',
  COFFER_NODE_DIR = 'd',
  COFFER_NODE_SYMLINK = 'l',
  COFFER_NODE_FIFO = 'p',
  COFFER_NODE_CHARDEV = 'c',
  COFFER_NODE_BLOCKDEV = 'b',
  COFFER_NODE_SOCKET = 's',
} CofferNodeType;

/* One directory entry. name is raw bytes (file names need not be UTF-8),
 * NUL-terminated for convenience but compared as bytes. */
typedef struct
{
  char          *name;
  CofferNodeType type;
  guint32        mode;       /* permission bits (st_mode & 07777) */
  guint32        uid, gid;
  guint64        size;       /* file size in bytes */
  gint64         mtime_ns;   /* nanoseconds since the epoch */
  gint64         ctime_ns;
  guint64        inode;      /* informational */
  guint64        rdev;
  char          *link_target;  /* symlinks, raw bytes */
  GPtrArray     *xattrs;       /* pairs: char *name, GBytes *value (xattr name, value) */
  GByteArray    *content;      /* files: concatenated 32-byte data blob ids;
                                  dirs: one 32-byte tree blob id */
  GArray        *holes;        /* sparse files: guint64 pairs (offset, length), may be NULL */
} CofferTreeEntry;

CofferTreeEntry *coffer_tree_entry_new  (const char *name, CofferNodeType type);
void             coffer_tree_entry_free (CofferTreeEntry *entry);
void             coffer_tree_entry_add_xattr (CofferTreeEntry *entry, const char *name, GBytes *value);

/* GVariant "(ua(ayyuuutxxttaya(ayay)aya(tt)))": version 1, then per entry
 * name, type, mode, uid, gid, size, mtime_ns, ctime_ns, inode, rdev,
 * link target, xattrs, content ids (concatenated), holes. Serialize sorts entries by name (bytewise) and rejects
 * duplicate names; parse validates the signature, names (no '/', not "." or
 * "..", not empty), content lengths (multiples of 32) and returns a
 * GPtrArray of CofferTreeEntry (free func set). */
GBytes    *coffer_tree_serialize (GPtrArray *entries);
GPtrArray *coffer_tree_parse     (GBytes *data, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferTreeEntry, coffer_tree_entry_free)

G_END_DECLS
