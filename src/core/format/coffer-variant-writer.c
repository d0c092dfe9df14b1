/* SPDX-License-Identifier: GPL-3.0-or-later */
/* GVariant's normal form written directly (coffer-variant-writer.h). */
#include "coffer-variant-writer.h"

void
_coffer_gvw_put_le (GByteArray *out, guint64 value, guint size)
{
  guint8 buf[8];

  g_assert (size <= sizeof buf);
  for (guint i = 0; i < size; i++)
    buf[i] = (guint8) (value >> (8 * i));
  g_byte_array_append (out, buf, size);
}

void
_coffer_gvw_put_zeros (GByteArray *out, gsize n)
{
  static const guint8 zeros[8] = { 0 };

  g_assert (n <= sizeof zeros);
  g_byte_array_append (out, zeros, n);
}

void
_coffer_gvw_pad_to (GByteArray *out, gsize start, gsize align)
{
  _coffer_gvw_put_zeros (out, (align - (out->len - start) % align) % align);
}

/* GVariant's framing-offset size for a container of body bytes and n
 * offsets: the smallest that can address the whole container. */
static guint
offset_size (gsize body, gsize n)
{
  if (body + n <= G_MAXUINT8)
    return 1;
  if (body + 2 * n <= G_MAXUINT16)
    return 2;
  if ((guint64) body + 4 * n <= G_MAXUINT32)
    return 4;
  return 8;
}

void
_coffer_gvw_put_offsets (GByteArray  *out,
                         gsize        body,
                         const gsize *ends,
                         gsize        n,
                         gboolean     tuple)
{
  guint size;

  if (n == 0)
    return;
  size = offset_size (body, n);
  for (gsize i = 0; i < n; i++)
    _coffer_gvw_put_le (out, ends[tuple ? n - 1 - i : i], size);
}
