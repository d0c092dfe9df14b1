/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-crypto.h"

G_BEGIN_DECLS

/* A snapshot: one backup of one category. Stored as a COFFER_OBJECT_SNAPSHOT
 * envelope (meta subkey of the epoch it names) holding a GVariant a{sv}
 * dictionary (see docs/FORMAT.md for the keys). */
typedef struct
{
  char     *id;            /* object name (hex), filled by the loader */
  gint64    time;          /* start, microseconds since the epoch (UTC) */
  gint64    end_time;
  char     *device_id;     /* hex */
  char     *hostname;
  char     *category_id;   /* hex */
  char     *category_name;
  char    **paths;         /* the backed-up roots, absolute */
  guint8    tree[COFFER_ID_BYTES];  /* root tree blob */
  char     *parent;        /* id of the previous snapshot or NULL */
  guint64   seq;           /* strictly increasing per category */
  guint32   epoch;         /* category key epoch used for new data */
  guint64   files;         /* statistics */
  guint64   dirs;
  guint64   bytes;         /* total file bytes */
  guint64   added_bytes;   /* new sealed bytes uploaded */
  guint64   skipped;       /* paths that could not be read */
  gboolean  partial;       /* some paths were skipped */
} CofferSnapshot;

CofferSnapshot *coffer_snapshot_new   (void);
void            coffer_snapshot_free  (CofferSnapshot *snapshot);
GBytes         *coffer_snapshot_serialize (const CofferSnapshot *snapshot);
CofferSnapshot *coffer_snapshot_parse     (GBytes *data, GError **error);
/* Sort by time, then seq. */
gint            coffer_snapshot_compare   (gconstpointer a, gconstpointer b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferSnapshot, coffer_snapshot_free)

G_END_DECLS
