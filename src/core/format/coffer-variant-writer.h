/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writing GVariant's normal form directly, little-endian (the repository
 * format's byte order, docs/FORMAT.md). GVariantBuilder makes one GVariant
 * per value: ~160 000 instructions per tree entry and ~700 bytes of heap
 * per index entry (docs/PERFORMANCE.md), so the tree and index writers
 * lay the bytes out themselves with these, and their tests check the
 * result is GLib's normal form of the same value. */

/* Appends the low size bytes of value, least significant first. */
void  _coffer_gvw_put_le      (GByteArray *out, guint64 value, guint size);
void  _coffer_gvw_put_zeros   (GByteArray *out, gsize n);
/* Zeros up to the next multiple of align counted from start. */
void  _coffer_gvw_pad_to      (GByteArray *out, gsize start, gsize align);
/* Appends the n framing offsets ends[] of a container whose body is the
 * last body bytes of out: in order for an array (tuple FALSE), last first
 * for a tuple's non-final variable-size members (tuple TRUE). */
void  _coffer_gvw_put_offsets (GByteArray  *out,
                               gsize        body,
                               const gsize *ends,
                               gsize        n,
                               gboolean     tuple);

G_END_DECLS
