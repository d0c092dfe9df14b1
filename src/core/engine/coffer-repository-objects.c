/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Category objects: "CFO1" sealing under an epoch's meta key, the retired-
 * epoch rule, zstd, object names, and the small store and state helpers
 * the other repository files share. The lowest repository file with the
 * config (coffer-repository-config.c): it calls no other. */
#include <string.h>
#include <sodium.h>
#include <zstd.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>

#include "coffer-error.h"
#include "coffer-pack.h"
#include "coffer-repository-private.h"

#define OBJECT_MAGIC "CFO1"
#define MAX_SMALL_OBJECT 4096

int
_coffer_compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

char *
_coffer_random_name (void)
{
  guint8 raw[16];

  randombytes_buf (raw, sizeof raw);
  return coffer_hex_encode (raw, sizeof raw);
}

char *
_coffer_pack_name (const char *category_id, const guint8 pack_id[COFFER_ID_BYTES])
{
  g_autofree char *hex = coffer_hex_encode (pack_id, COFFER_ID_BYTES);

  return g_strdup_printf ("categories/%s/packs/%.2s/%s", category_id, hex, hex);
}

/* ---- sealed category objects ---- */

GBytes *
_coffer_repository_seal_object (CofferRepository *self, CofferCategoryKeys *keys,
                                CofferObjectType type, const char *name,
                                const guint8 *plaintext, gsize len)
{
  CofferEpochKeys *ek = coffer_category_keys_newest (keys);
  g_autoptr(GBytes) env = coffer_envelope_seal (ek->meta_key, self->raw_id,
                                                type, name, plaintext, len);
  GByteArray *out = g_byte_array_sized_new (8 + g_bytes_get_size (env));
  guint32 le = GUINT32_TO_LE (ek->epoch);

  g_byte_array_append (out, (const guint8 *) OBJECT_MAGIC, 4);
  g_byte_array_append (out, (const guint8 *) &le, 4);
  g_byte_array_append (out, g_bytes_get_data (env, NULL), g_bytes_get_size (env));
  return g_byte_array_free_to_bytes (out);
}

GBytes *
_coffer_repository_open_object (CofferRepository *self, CofferCategoryKeys *keys,
                                CofferObjectType type, const char *name,
                                GBytes *object, GError **error)
{
  return _coffer_repository_open_object_epoch (self, keys, type, name, object, NULL, error);
}

gboolean
_coffer_epoch_refuses (const CofferEpochKeys *ek, gint64 time_us, const char *name, char **why)
{
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *shown = NULL;

  if (ek->retired == 0 || time_us <= ek->retired)
    return FALSE;
  when = g_date_time_new_from_unix_utc (ek->retired / G_USEC_PER_SEC);
  shown = when != NULL ? g_date_time_format_iso8601 (when) : g_strdup ("?");
  *why = g_strdup_printf ("%s was tampered with: it is sealed under key epoch %u, which was retired "
                          "on %s, but claims a later time. Only someone who kept the retired key "
                          "(a removed device, or an old password envelope with its password) can "
                          "have written it; it is ignored.", name, ek->epoch, shown);
  return TRUE;
}

GBytes *
_coffer_repository_open_object_epoch (CofferRepository *self, CofferCategoryKeys *keys,
                                      CofferObjectType type, const char *name,
                                      GBytes *object, CofferEpochKeys **out_epoch, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (object, &len);
  guint32 epoch;
  CofferEpochKeys *ek;
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) plain = NULL;
  g_autoptr(GError) local_error = NULL;

  if (len < 8 || memcmp (data, OBJECT_MAGIC, 4) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The object %s is damaged (bad header)."), name);
      return NULL;
    }
  memcpy (&epoch, data + 4, 4);
  epoch = GUINT32_FROM_LE (epoch);
  ek = coffer_category_keys_epoch (keys, epoch);
  if (ek == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The object %s names a key epoch (%u) this category does not have."), name, epoch);
      return NULL;
    }
  env = g_bytes_new_from_bytes (object, 8, len - 8);
  plain = coffer_envelope_open (ek->meta_key, self->raw_id, type, name, env, &local_error);
  if (plain == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The object %s is damaged or was tampered with: %s"), name, local_error->message);
      return NULL;
    }
  if (out_epoch != NULL)
    *out_epoch = ek;
  /* Metadata (snapshots, index, names) is not key material: ordinary memory. */
  return g_bytes_new (plain->data, plain->len);
}

GBytes *
_coffer_compress (GBytes *data)
{
  gsize len;
  const void *src = g_bytes_get_data (data, &len);
  gsize bound = ZSTD_compressBound (len);
  guint8 *out = g_malloc (bound);
  gsize n = ZSTD_compress (out, bound, src, len, 3);

  g_assert (!ZSTD_isError (n));
  return g_bytes_new_take (g_realloc (out, MAX (n, 1)), n);
}

GBytes *
_coffer_decompress (GBytes *data, gsize max_size, GError **error)
{
  gsize len;
  const void *src = g_bytes_get_data (data, &len);
  unsigned long long size = ZSTD_getFrameContentSize (src, len);
  guint8 *out;
  gsize n;

  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_size)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("A compressed object is malformed or too large."));
      return NULL;
    }
  out = g_malloc (MAX (size, 1));
  n = ZSTD_decompress (out, size, src, len);
  if (ZSTD_isError (n) || n != size)
    {
      g_free (out);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("A compressed object is damaged."));
      return NULL;
    }
  return g_bytes_new_take (out, n);
}

/* ---- small helpers shared by the repository files ---- */

gboolean
_coffer_collect_names (const char *name, guint64 size, gpointer user_data)
{
  g_ptr_array_add (user_data, g_strdup (name));
  return TRUE;
}

gboolean
_coffer_hex_to (const char *hex, guint8 *out, gsize len)
{
  return hex != NULL && strlen (hex) == 2 * len && coffer_hex_decode (hex, out, len);
}

void
_coffer_state_set_hex (CofferState *state, const char *group, const char *key, const guint8 *data, gsize len)
{
  g_autofree char *hex = coffer_hex_encode (data, len);
  coffer_state_set_string (state, group, key, hex);
}

gboolean
_coffer_state_get_hex (CofferState *state, const char *group, const char *key, guint8 *out, gsize len)
{
  g_autofree char *hex = coffer_state_get_string (state, group, key);
  return _coffer_hex_to (hex, out, len);
}

/* Reads a small object; NULL without error (and *missing = TRUE) when it
 * does not exist. */
GBytes *
_coffer_repository_get_small (CofferRepository *self, const char *name, gboolean *missing,
                              GCancellable *cancellable, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  GBytes *bytes;

  *missing = FALSE;
  bytes = coffer_store_get_limited (self->store, name, COFFER_MAX_KEY_OBJECT_BYTES,
                                    cancellable, &local_error);
  if (bytes == NULL)
    {
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        *missing = TRUE;
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (g_bytes_get_size (bytes) > MAX_SMALL_OBJECT)
    {
      g_bytes_unref (bytes);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The object %s is too large to be genuine."), name);
      return NULL;
    }
  return bytes;
}

/* "MAGIC" | version | 3 zero bytes | fields: fixed-size objects */
gboolean
_coffer_parse_fixed_version (GBytes *bytes, const char *magic, guint8 version, gsize body_len, const guint8 **body)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  if (len != 8 + body_len || memcmp (data, magic, 4) != 0 || data[4] != version
      || data[5] != 0 || data[6] != 0 || data[7] != 0)
    return FALSE;
  *body = data + 8;
  return TRUE;
}

CofferEpochKeys *
coffer_category_keys_newest (CofferCategoryKeys *keys)
{
  g_assert (keys->epochs->len > 0);
  return g_ptr_array_index (keys->epochs, keys->epochs->len - 1);
}

CofferEpochKeys *
coffer_category_keys_epoch (CofferCategoryKeys *keys, guint32 epoch)
{
  for (guint i = 0; i < keys->epochs->len; i++)
    {
      CofferEpochKeys *ek = g_ptr_array_index (keys->epochs, i);
      if (ek->epoch == epoch)
        return ek;
    }
  return NULL;
}
