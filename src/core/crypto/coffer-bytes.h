/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Little byte helpers the format code shares: little-endian u32 fields,
 * and hashing 32-byte ids (blob and pack ids) in a GHashTable. */
#pragma once

#include <string.h>
#include <glib.h>

#include "coffer-crypto.h"

G_BEGIN_DECLS

static inline void
coffer_put_u32_le (guint8 *p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

static inline guint32
coffer_get_u32_le (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

/* GHashFunc / GEqualFunc for keys that are COFFER_ID_BYTES ids. Ids are
 * keyed hashes: any four bytes are uniformly distributed. */
static inline guint
coffer_id_hash (gconstpointer key)
{
  guint32 h;

  memcpy (&h, key, sizeof h);
  return h;
}

static inline gboolean
coffer_id_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, COFFER_ID_BYTES) == 0;
}

G_END_DECLS
