/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Snapshots: a GVariant a{sv} dictionary.
 * Format: docs/FORMAT.md, section "Snapshots". */

#include <string.h>
#include <glib/gi18n-lib.h>

#include "coffer-snapshot.h"
#include "coffer-error.h"
#include "coffer-variant-private.h"

#define SNAPSHOT_VERSION 1
#define MAX_HEX_ID 128

CofferSnapshot *
coffer_snapshot_new (void)
{
  return g_new0 (CofferSnapshot, 1);
}

void
coffer_snapshot_free (CofferSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_free (snapshot->id);
  g_free (snapshot->device_id);
  g_free (snapshot->hostname);
  g_free (snapshot->category_id);
  g_free (snapshot->category_name);
  g_strfreev (snapshot->paths);
  g_free (snapshot->parent);
  g_free (snapshot);
}

/* Lowercase hex, 0 to 128 digits (ids become parts of object paths). */
static gboolean
hex_id_valid (const char *s, gboolean allow_empty)
{
  gsize len = 0;

  for (const char *p = s; *p != '\0'; p++, len++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return len <= MAX_HEX_ID && (allow_empty || len > 0);
}

/* Absolute, without "." or ".." components. */
static gboolean
path_valid (const char *path, gsize len)
{
  gsize start = 1;

  if (len == 0 || path[0] != '/' || memchr (path, '\0', len) != NULL)
    return FALSE;
  for (gsize i = 1; i <= len; i++)
    {
      if (i == len || path[i] == '/')
        {
          gsize clen = i - start;

          if ((clen == 1 && path[start] == '.') ||
              (clen == 2 && path[start] == '.' && path[start + 1] == '.'))
            return FALSE;
          start = i + 1;
        }
    }
  return TRUE;
}

static GVariant *
utf8_string (const char *s)
{
  g_autofree char *valid = NULL;

  if (s == NULL)
    s = "";
  if (g_utf8_validate (s, -1, NULL))
    return g_variant_new_string (s);
  valid = g_utf8_make_valid (s, -1);
  return g_variant_new_string (valid);
}

GBytes *
coffer_snapshot_serialize (const CofferSnapshot *snapshot)
{
  GVariantBuilder builder, paths, raw_paths;
  gboolean need_raw = FALSE;

  g_return_val_if_fail (snapshot != NULL, NULL);
  g_return_val_if_fail (snapshot->device_id == NULL || hex_id_valid (snapshot->device_id, TRUE), NULL);
  g_return_val_if_fail (snapshot->category_id != NULL && hex_id_valid (snapshot->category_id, FALSE), NULL);
  g_return_val_if_fail (snapshot->parent == NULL || hex_id_valid (snapshot->parent, FALSE), NULL);

  g_variant_builder_init (&paths, G_VARIANT_TYPE_STRING_ARRAY);
  g_variant_builder_init (&raw_paths, G_VARIANT_TYPE_BYTESTRING_ARRAY);
  for (guint i = 0; snapshot->paths != NULL && snapshot->paths[i] != NULL; i++)
    {
      const char *path = snapshot->paths[i];

      g_return_val_if_fail (path_valid (path, strlen (path)), NULL);
      if (!g_utf8_validate (path, -1, NULL))
        need_raw = TRUE;
      g_variant_builder_add_value (&paths, utf8_string (path));
      g_variant_builder_add_value (&raw_paths,
                                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, path, strlen (path), 1));
    }

  /* A fixed key order, so equal snapshots serialise to equal bytes. */
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "version", g_variant_new_uint32 (SNAPSHOT_VERSION));
  g_variant_builder_add (&builder, "{sv}", "time", g_variant_new_int64 (snapshot->time));
  g_variant_builder_add (&builder, "{sv}", "end-time", g_variant_new_int64 (snapshot->end_time));
  g_variant_builder_add (&builder, "{sv}", "device",
                         g_variant_new_string (snapshot->device_id != NULL ? snapshot->device_id : ""));
  g_variant_builder_add (&builder, "{sv}", "hostname", utf8_string (snapshot->hostname));
  g_variant_builder_add (&builder, "{sv}", "category", g_variant_new_string (snapshot->category_id));
  g_variant_builder_add (&builder, "{sv}", "category-name", utf8_string (snapshot->category_name));
  g_variant_builder_add (&builder, "{sv}", "paths", g_variant_builder_end (&paths));
  if (need_raw)
    g_variant_builder_add (&builder, "{sv}", "paths-raw", g_variant_builder_end (&raw_paths));
  else
    g_variant_builder_clear (&raw_paths);
  g_variant_builder_add (&builder, "{sv}", "tree",
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, snapshot->tree, COFFER_ID_BYTES, 1));
  if (snapshot->parent != NULL)
    g_variant_builder_add (&builder, "{sv}", "parent", g_variant_new_string (snapshot->parent));
  g_variant_builder_add (&builder, "{sv}", "seq", g_variant_new_uint64 (snapshot->seq));
  g_variant_builder_add (&builder, "{sv}", "epoch", g_variant_new_uint32 (snapshot->epoch));
  g_variant_builder_add (&builder, "{sv}", "files", g_variant_new_uint64 (snapshot->files));
  g_variant_builder_add (&builder, "{sv}", "dirs", g_variant_new_uint64 (snapshot->dirs));
  g_variant_builder_add (&builder, "{sv}", "bytes", g_variant_new_uint64 (snapshot->bytes));
  g_variant_builder_add (&builder, "{sv}", "added-bytes", g_variant_new_uint64 (snapshot->added_bytes));
  g_variant_builder_add (&builder, "{sv}", "skipped", g_variant_new_uint64 (snapshot->skipped));
  g_variant_builder_add (&builder, "{sv}", "partial", g_variant_new_boolean (snapshot->partial));

  return _coffer_variant_to_bytes (g_variant_builder_end (&builder));
}

static CofferSnapshot *
snapshot_corrupt (GError **error, const char *key, const char *what)
{
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("A snapshot in the repository is damaged (“%s”: %s)."), key, what);
  return NULL;
}

/* The value of key, checked against type; *out NULL when absent. */
static gboolean
lookup (GHashTable          *dict,
        const char          *key,
        const GVariantType  *type,
        gboolean             required,
        GVariant           **out,
        GError             **error)
{
  GVariant *value = g_hash_table_lookup (dict, key);

  *out = NULL;
  if (value == NULL)
    {
      if (required)
        {
          snapshot_corrupt (error, key, _("missing"));
          return FALSE;
        }
      return TRUE;
    }
  if (!g_variant_is_of_type (value, type))
    {
      snapshot_corrupt (error, key, _("wrong type"));
      return FALSE;
    }
  *out = value;
  return TRUE;
}

/* coffer_snapshot_parse, step 1: key → value of the dictionary, each key
 * once. The keys point into v. */
static GHashTable *
snapshot_dict (GVariant  *v,
               GError   **error)
{
  g_autoptr(GHashTable) dict = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *child;

  dict = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_variant_unref);
  g_variant_iter_init (&iter, v);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &child))
    {
      if (g_hash_table_contains (dict, key))
        {
          g_variant_unref (child);
          snapshot_corrupt (error, key, _("repeated"));
          return NULL;
        }
      g_hash_table_insert (dict, (gpointer) key, child);
    }
  return g_steal_pointer (&dict);
}

/* Step 2: "paths" (and "paths-raw" where a path is not UTF-8), absolute. */
static gboolean
snapshot_parse_paths (GHashTable      *dict,
                      CofferSnapshot  *snap,
                      GError         **error)
{
  GVariant *value;
  GVariant *raw;
  gsize n;

  if (!lookup (dict, "paths", G_VARIANT_TYPE ("as"), TRUE, &value, error))
    return FALSE;
  n = g_variant_n_children (value);
  if (!lookup (dict, "paths-raw", G_VARIANT_TYPE ("aay"), FALSE, &raw, error))
    return FALSE;
  if (raw != NULL && g_variant_n_children (raw) != n)
    {
      snapshot_corrupt (error, "paths-raw", _("does not match “paths”"));
      return FALSE;
    }
  snap->paths = g_new0 (char *, n + 1);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) path_v = g_variant_get_child_value (raw != NULL ? raw : value, i);
      const char *path;
      gsize path_len;

      if (raw != NULL)
        path = g_variant_get_fixed_array (path_v, &path_len, 1);
      else
        path = g_variant_get_string (path_v, &path_len);
      if (!path_valid (path, path_len))
        {
          snapshot_corrupt (error, "paths", _("not an absolute path"));
          return FALSE;
        }
      snap->paths[i] = g_strndup (path, path_len);
    }
  return TRUE;
}

#define LOOKUP(key, type, required, out) \
  G_STMT_START { \
    if (!lookup (dict, key, G_VARIANT_TYPE (type), required, out, error)) \
      return NULL; \
  } G_STMT_END

CofferSnapshot *
coffer_snapshot_parse (GBytes  *data,
                       GError **error)
{
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GHashTable) dict = NULL;
  g_autoptr(CofferSnapshot) snap = NULL;
  GVariant *value;
  const guint8 *tree;
  gsize len;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  v = _coffer_variant_new_untrusted (G_VARIANT_TYPE_VARDICT, data);
  if (v == NULL)
    return snapshot_corrupt (error, "", _("not a valid dictionary"));

  dict = snapshot_dict (v, error);
  if (dict == NULL)
    return NULL;

  LOOKUP ("version", "u", TRUE, &value);
  if (g_variant_get_uint32 (value) != SNAPSHOT_VERSION)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_UNSUPPORTED_VERSION,
                   _("A snapshot has version %u, which this version of Coffer does not support."),
                   g_variant_get_uint32 (value));
      return NULL;
    }

  snap = coffer_snapshot_new ();

  LOOKUP ("time", "x", TRUE, &value);
  snap->time = g_variant_get_int64 (value);
  LOOKUP ("end-time", "x", FALSE, &value);
  snap->end_time = value != NULL ? g_variant_get_int64 (value) : snap->time;

  LOOKUP ("device", "s", TRUE, &value);
  snap->device_id = g_variant_dup_string (value, NULL);
  if (!hex_id_valid (snap->device_id, TRUE))
    return snapshot_corrupt (error, "device", _("not a device id"));
  LOOKUP ("hostname", "s", FALSE, &value);
  snap->hostname = g_strdup (value != NULL ? g_variant_get_string (value, NULL) : "");
  LOOKUP ("category", "s", TRUE, &value);
  snap->category_id = g_variant_dup_string (value, NULL);
  if (!hex_id_valid (snap->category_id, FALSE))
    return snapshot_corrupt (error, "category", _("not a category id"));
  LOOKUP ("category-name", "s", FALSE, &value);
  snap->category_name = g_strdup (value != NULL ? g_variant_get_string (value, NULL) : "");

  if (!snapshot_parse_paths (dict, snap, error))
    return NULL;

  LOOKUP ("tree", "ay", TRUE, &value);
  tree = g_variant_get_fixed_array (value, &len, 1);
  if (len != COFFER_ID_BYTES)
    return snapshot_corrupt (error, "tree", _("not a blob id"));
  memcpy (snap->tree, tree, COFFER_ID_BYTES);

  LOOKUP ("parent", "s", FALSE, &value);
  if (value != NULL)
    {
      snap->parent = g_variant_dup_string (value, NULL);
      if (!hex_id_valid (snap->parent, FALSE))
        return snapshot_corrupt (error, "parent", _("not a snapshot id"));
    }

  LOOKUP ("seq", "t", TRUE, &value);
  snap->seq = g_variant_get_uint64 (value);
  LOOKUP ("epoch", "u", TRUE, &value);
  snap->epoch = g_variant_get_uint32 (value);

  LOOKUP ("files", "t", FALSE, &value);
  snap->files = value != NULL ? g_variant_get_uint64 (value) : 0;
  LOOKUP ("dirs", "t", FALSE, &value);
  snap->dirs = value != NULL ? g_variant_get_uint64 (value) : 0;
  LOOKUP ("bytes", "t", FALSE, &value);
  snap->bytes = value != NULL ? g_variant_get_uint64 (value) : 0;
  LOOKUP ("added-bytes", "t", FALSE, &value);
  snap->added_bytes = value != NULL ? g_variant_get_uint64 (value) : 0;
  LOOKUP ("skipped", "t", FALSE, &value);
  snap->skipped = value != NULL ? g_variant_get_uint64 (value) : 0;
  LOOKUP ("partial", "b", FALSE, &value);
  snap->partial = value != NULL ? g_variant_get_boolean (value) : FALSE;

  return g_steal_pointer (&snap);
}

static int
compare_int64 (gint64 a, gint64 b)
{
  return a < b ? -1 : a > b;
}

gint
coffer_snapshot_compare (gconstpointer a,
                         gconstpointer b)
{
  const CofferSnapshot *sa = a;
  const CofferSnapshot *sb = b;
  int c;

  c = compare_int64 (sa->time, sb->time);
  if (c != 0)
    return c;
  if (sa->seq != sb->seq)
    return sa->seq < sb->seq ? -1 : 1;
  /* A total order: the id decides between otherwise equal snapshots. */
  return g_strcmp0 (sa->id, sb->id);
}
