/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <string.h>
#include <glib.h>

G_BEGIN_DECLS

/* A GVariant over untrusted bytes, or NULL when they are not in normal form.
 * The data is copied into a buffer with 16 zero bytes after its end: GLib
 * 2.74's normal-form check can read a byte past the end of a truncated
 * serialisation (seen with valgrind), which the padding keeps inside the
 * allocation. The repository format stores GVariants little-endian. */
static inline GVariant *
_coffer_variant_new_untrusted (const GVariantType *type,
                               GBytes             *data)
{
  gsize len;
  const guint8 *src = g_bytes_get_data (data, &len);
  guint8 *copy = g_malloc0 (len + 16);
  g_autoptr(GBytes) padded = NULL;
  g_autoptr(GBytes) exact = NULL;
  g_autoptr(GVariant) v = NULL;

  if (len > 0)
    memcpy (copy, src, len);
  padded = g_bytes_new_take (copy, len + 16);
  exact = g_bytes_new_from_bytes (padded, 0, len);
  v = g_variant_ref_sink (g_variant_new_from_bytes (type, exact, FALSE));
  if (!g_variant_is_normal_form (v))
    return NULL;
  if (G_BYTE_ORDER == G_BIG_ENDIAN)
    return g_variant_byteswap (v);
  return g_steal_pointer (&v);
}

/* Serialised bytes of v, little-endian. Consumes a floating reference. */
static inline GBytes *
_coffer_variant_to_bytes (GVariant *v)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (v);

  if (G_BYTE_ORDER == G_BIG_ENDIAN)
    {
      g_autoptr(GVariant) swapped = g_variant_byteswap (sunk);
      return g_variant_get_data_as_bytes (swapped);
    }
  return g_variant_get_data_as_bytes (sunk);
}

G_END_DECLS
