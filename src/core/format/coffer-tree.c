/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tree blobs: one directory listing, serialised as a GVariant.
 * Format: docs/FORMAT.md, section "Trees". */

#include <string.h>
#include <glib/gi18n-lib.h>

#include "coffer-tree.h"
#include "coffer-error.h"
#include "coffer-variant-private.h"
#include "coffer-variant-writer.h"

#define TREE_VERSION 1
#define TREE_TYPE_STRING "(ua(ayyuuutxxttaya(ayay)aya(tt)))"
#define ENTRY_TYPE_STRING "(ayyuuutxxttaya(ayay)aya(tt))"
#define MAX_MODE 07777

CofferTreeEntry *
coffer_tree_entry_new (const char     *name,
                       CofferNodeType  type)
{
  CofferTreeEntry *entry;

  g_return_val_if_fail (name != NULL, NULL);

  entry = g_new0 (CofferTreeEntry, 1);
  entry->name = g_strdup (name);
  entry->type = type;
  entry->xattrs = g_ptr_array_new ();
  entry->content = g_byte_array_new ();
  return entry;
}

void
coffer_tree_entry_free (CofferTreeEntry *entry)
{
  if (entry == NULL)
    return;

  g_free (entry->name);
  g_free (entry->link_target);
  if (entry->xattrs != NULL)
    {
      for (guint i = 0; i + 1 < entry->xattrs->len; i += 2)
        {
          g_free (entry->xattrs->pdata[i]);
          g_bytes_unref (entry->xattrs->pdata[i + 1]);
        }
      g_ptr_array_unref (entry->xattrs);
    }
  g_clear_pointer (&entry->content, g_byte_array_unref);
  g_clear_pointer (&entry->holes, g_array_unref);
  g_free (entry);
}

void
coffer_tree_entry_add_xattr (CofferTreeEntry *entry,
                             const char      *name,
                             GBytes          *value)
{
  g_return_if_fail (entry != NULL);
  g_return_if_fail (name != NULL && name[0] != '\0');
  g_return_if_fail (value != NULL);

  if (entry->xattrs == NULL)
    entry->xattrs = g_ptr_array_new ();
  g_ptr_array_add (entry->xattrs, g_strdup (name));
  g_ptr_array_add (entry->xattrs, g_bytes_ref (value));
}

static gboolean
node_type_valid (guint type)
{
  switch (type)
    {
    case COFFER_NODE_FILE:
    case COFFER_NODE_DIR:
    case COFFER_NODE_SYMLINK:
    case COFFER_NODE_FIFO:
    case COFFER_NODE_CHARDEV:
    case COFFER_NODE_BLOCKDEV:
    case COFFER_NODE_SOCKET:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
name_valid (const char *name, gsize len)
{
  if (len == 0)
    return FALSE;
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return FALSE;
  return memchr (name, '/', len) == NULL && memchr (name, '\0', len) == NULL;
}

/* Bytewise order, a prefix first (the order of strcmp on names). */
static int
name_compare (const char *a, gsize alen, const char *b, gsize blen)
{
  int c = memcmp (a, b, MIN (alen, blen));

  if (c != 0)
    return c;
  return alen < blen ? -1 : alen > blen;
}

static int
entry_ptr_compare (gconstpointer a, gconstpointer b)
{
  const CofferTreeEntry *ea = *(const CofferTreeEntry * const *) a;
  const CofferTreeEntry *eb = *(const CofferTreeEntry * const *) b;

  return strcmp (ea->name, eb->name);
}

/* The rules shared by serialize (programmer errors) and parse (corruption).
 * Returns NULL when fine, else what is wrong. */
static const char *
entry_problem (CofferNodeType type,
               guint32        mode,
               guint64        size,
               gsize          link_len,
               const char    *link_target,
               gsize          content_len,
               const guint64 *holes,
               gsize          n_holes)
{
  guint64 end = 0;

  if (!node_type_valid (type))
    return "unknown entry type";
  if (mode > MAX_MODE)
    return "bad mode";
  if (content_len % COFFER_ID_BYTES != 0)
    return "bad content length";
  if (type == COFFER_NODE_DIR && content_len != COFFER_ID_BYTES)
    return "a folder without exactly one tree";
  if (type != COFFER_NODE_DIR && type != COFFER_NODE_FILE && content_len != 0)
    return "content on a special file";
  /* An empty target is allowed: the link may have vanished while it was
   * read; restoring it then fails for that one entry. */
  if (type == COFFER_NODE_SYMLINK)
    {
      if (link_len > 0 && memchr (link_target, '\0', link_len) != NULL)
        return "bad link target";
    }
  else if (link_len != 0)
    return "a link target on something other than a link";

  if (n_holes > 0 && type != COFFER_NODE_FILE)
    return "holes in something other than a file";
  for (gsize i = 0; i < n_holes; i++)
    {
      guint64 offset = holes[2 * i], length = holes[2 * i + 1];

      if (length == 0 || offset < end || offset > size || length > size - offset)
        return "bad holes";
      end = offset + length;
    }
  return NULL;
}

/* ---- GVariant serialisation (docs/FORMAT.md "Trees"), little-endian ---- */

static void
put_entry (GByteArray *out, const CofferTreeEntry *e)
{
  gsize start = out->len;
  gsize ends[4];
  const char *link = e->link_target != NULL ? e->link_target : "";

  g_byte_array_append (out, (const guint8 *) e->name, strlen (e->name));
  ends[0] = out->len - start;
  _coffer_gvw_put_le (out, (guint8) e->type, 1);
  _coffer_gvw_pad_to (out, start, 4);
  _coffer_gvw_put_le (out, e->mode, 4);
  _coffer_gvw_put_le (out, e->uid, 4);
  _coffer_gvw_put_le (out, e->gid, 4);
  _coffer_gvw_pad_to (out, start, 8);
  _coffer_gvw_put_le (out, e->size, 8);
  _coffer_gvw_put_le (out, (guint64) e->mtime_ns, 8);
  _coffer_gvw_put_le (out, (guint64) e->ctime_ns, 8);
  _coffer_gvw_put_le (out, e->inode, 8);
  _coffer_gvw_put_le (out, e->rdev, 8);
  g_byte_array_append (out, (const guint8 *) link, strlen (link));
  ends[1] = out->len - start;
  {
    /* a(ayay): each element (name, value, one framing offset). */
    gsize xstart = out->len;
    guint n = e->xattrs != NULL ? e->xattrs->len / 2 : 0;
    g_autofree gsize *xends = g_new (gsize, MAX (n, 1));

    for (guint k = 0; k < n; k++)
      {
        const char *xname = e->xattrs->pdata[2 * k];
        gsize vlen;
        const guint8 *value = g_bytes_get_data (e->xattrs->pdata[2 * k + 1], &vlen);
        gsize nlen = strlen (xname);
        gsize name_end = nlen;

        g_byte_array_append (out, (const guint8 *) xname, nlen);
        g_byte_array_append (out, value != NULL ? value : (const guint8 *) "", vlen);
        _coffer_gvw_put_offsets (out, nlen + vlen, &name_end, 1, TRUE);
        xends[k] = out->len - xstart;
      }
    _coffer_gvw_put_offsets (out, out->len - xstart, xends, n, FALSE);
  }
  ends[2] = out->len - start;
  if (e->content != NULL)
    g_byte_array_append (out, e->content->data, e->content->len);
  ends[3] = out->len - start;
  _coffer_gvw_pad_to (out, start, 8);
  for (guint k = 0; e->holes != NULL && k < e->holes->len; k++)
    _coffer_gvw_put_le (out, g_array_index (e->holes, guint64, k), 8);
  _coffer_gvw_put_offsets (out, out->len - start, ends, 4, TRUE);
}

GBytes *
coffer_tree_serialize (GPtrArray *entries)
{
  g_autoptr(GPtrArray) sorted = NULL;
  GByteArray *out;

  g_return_val_if_fail (entries != NULL, NULL);

  sorted = g_ptr_array_sized_new (entries->len);
  for (guint i = 0; i < entries->len; i++)
    {
      const CofferTreeEntry *e = entries->pdata[i];
      const char *problem;

      g_return_val_if_fail (e != NULL && e->name != NULL, NULL);
      g_return_val_if_fail (name_valid (e->name, strlen (e->name)), NULL);
      g_return_val_if_fail (e->holes == NULL || g_array_get_element_size (e->holes) == sizeof (guint64), NULL);
      g_return_val_if_fail (e->holes == NULL || e->holes->len % 2 == 0, NULL);
      g_return_val_if_fail (e->xattrs == NULL || e->xattrs->len % 2 == 0, NULL);
      problem = entry_problem (e->type, e->mode, e->size,
                               e->link_target != NULL ? strlen (e->link_target) : 0,
                               e->link_target,
                               e->content != NULL ? e->content->len : 0,
                               e->holes != NULL ? (const guint64 *) (gconstpointer) e->holes->data : NULL,
                               e->holes != NULL ? e->holes->len / 2 : 0);
      if (problem != NULL)
        {
          g_critical ("%s: invalid tree entry: %s", G_STRFUNC, problem);
          return NULL;
        }
      g_ptr_array_add (sorted, entries->pdata[i]);
    }
  g_ptr_array_sort (sorted, entry_ptr_compare);
  for (guint i = 1; i < sorted->len; i++)
    g_return_val_if_fail (strcmp (((CofferTreeEntry *) sorted->pdata[i - 1])->name,
                                  ((CofferTreeEntry *) sorted->pdata[i])->name) != 0, NULL);

  /* The GVariant normal form of ("(u@a" ENTRY_TYPE_STRING ")", TREE_VERSION,
   * entries), little-endian, written directly: GVariantBuilder spent ~160 000
   * instructions per entry (docs/PERFORMANCE.md "Per-file cost"). */
  out = g_byte_array_sized_new (64 + sorted->len * 160);
  _coffer_gvw_put_le (out, TREE_VERSION, 4);
  _coffer_gvw_put_zeros (out, 4);                    /* the array is 8-aligned */
  {
    gsize start = out->len;
    g_autofree gsize *ends = g_new (gsize, MAX (sorted->len, 1));

    for (guint i = 0; i < sorted->len; i++)
      {
        _coffer_gvw_pad_to (out, start, 8);
        put_entry (out, sorted->pdata[i]);
        ends[i] = out->len - start;
      }
    _coffer_gvw_put_offsets (out, out->len - start, ends, sorted->len, FALSE);
  }
  return g_byte_array_free_to_bytes (out);
}

static GPtrArray *
tree_corrupt (GError **error, gsize index, const char *what)
{
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("A folder listing in the backup is damaged (entry %zu: %s)."),
               index, what);
  return NULL;
}

/* coffer_tree_parse, one step of entry i: its extended attributes, as
 * name, value pairs in entry->xattrs. */
static gboolean
tree_entry_parse_xattrs (CofferTreeEntry  *entry,
                         GVariant         *xattrs_v,
                         gsize             i,
                         GError          **error)
{
  gsize n_xattrs = g_variant_n_children (xattrs_v);

  entry->xattrs = g_ptr_array_sized_new (2 * n_xattrs);
  for (gsize k = 0; k < n_xattrs; k++)
    {
      g_autoptr(GVariant) xname_v = NULL;
      g_autoptr(GVariant) xvalue_v = NULL;
      const char *xname;
      gsize xname_len;

      g_variant_get_child (xattrs_v, k, "(@ay@ay)", &xname_v, &xvalue_v);
      xname = g_variant_get_fixed_array (xname_v, &xname_len, 1);
      if (xname_len == 0 || memchr (xname, '\0', xname_len) != NULL)
        {
          tree_corrupt (error, i, _("bad extended attribute name"));
          return FALSE;
        }
      g_ptr_array_add (entry->xattrs, g_strndup (xname, xname_len));
      g_ptr_array_add (entry->xattrs, g_variant_get_data_as_bytes (xvalue_v));
    }
  return TRUE;
}

GPtrArray *
coffer_tree_parse (GBytes  *data,
                   GError **error)
{
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariant) array = NULL;
  g_autoptr(GPtrArray) result = NULL;
  const char *prev_name = NULL;
  gsize prev_len = 0, n;
  guint32 version;

  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  v = _coffer_variant_new_untrusted (G_VARIANT_TYPE (TREE_TYPE_STRING), data);
  if (v == NULL)
    return tree_corrupt (error, 0, _("not a valid folder listing"));

  g_variant_get_child (v, 0, "u", &version);
  if (version != TREE_VERSION)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_UNSUPPORTED_VERSION,
                   _("A folder listing has version %u, which this version of Coffer does not support."),
                   version);
      return NULL;
    }

  array = g_variant_get_child_value (v, 1);
  n = g_variant_n_children (array);
  result = g_ptr_array_new_full (n, (GDestroyNotify) coffer_tree_entry_free);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (array, i);
      g_autoptr(GVariant) name_v = NULL;
      g_autoptr(GVariant) link_v = NULL;
      g_autoptr(GVariant) xattrs_v = NULL;
      g_autoptr(GVariant) content_v = NULL;
      g_autoptr(GVariant) holes_v = NULL;
      CofferTreeEntry *entry;
      const char *name, *link, *problem;
      const guint8 *content;
      const guint64 *holes;
      gsize name_len, link_len, content_len, n_holes;
      guint8 type;
      guint32 mode, uid, gid;
      guint64 size, inode, rdev;
      gint64 mtime_ns, ctime_ns;

      g_variant_get (child, "(@ayyuuutxxtt@ay@a(ayay)@ay@a(tt))",
                     &name_v, &type, &mode, &uid, &gid, &size, &mtime_ns, &ctime_ns,
                     &inode, &rdev, &link_v, &xattrs_v, &content_v, &holes_v);

      name = g_variant_get_fixed_array (name_v, &name_len, 1);
      if (!name_valid (name, name_len))
        return tree_corrupt (error, i, _("bad name"));
      if (prev_name != NULL && name_compare (prev_name, prev_len, name, name_len) >= 0)
        return tree_corrupt (error, i, _("names out of order or repeated"));

      link = g_variant_get_fixed_array (link_v, &link_len, 1);
      content = g_variant_get_fixed_array (content_v, &content_len, 1);
      holes = g_variant_get_fixed_array (holes_v, &n_holes, 2 * sizeof (guint64));
      problem = entry_problem (type, mode, size, link_len, link, content_len, holes, n_holes);
      if (problem != NULL)
        return tree_corrupt (error, i, problem);

      entry = g_new0 (CofferTreeEntry, 1);
      g_ptr_array_add (result, entry);
      entry->name = g_strndup (name, name_len);
      prev_name = entry->name;
      prev_len = name_len;
      entry->type = type;
      entry->mode = mode;
      entry->uid = uid;
      entry->gid = gid;
      entry->size = size;
      entry->mtime_ns = mtime_ns;
      entry->ctime_ns = ctime_ns;
      entry->inode = inode;
      entry->rdev = rdev;
      /* Symlinks always have a target string (maybe empty), others none. */
      entry->link_target = type == COFFER_NODE_SYMLINK ? g_strndup (link_len > 0 ? link : "", link_len) : NULL;
      entry->content = g_byte_array_sized_new (content_len);
      g_byte_array_append (entry->content, content, content_len);
      if (n_holes > 0)
        {
          entry->holes = g_array_sized_new (FALSE, FALSE, sizeof (guint64), 2 * n_holes);
          g_array_append_vals (entry->holes, holes, 2 * n_holes);
        }

      if (!tree_entry_parse_xattrs (entry, xattrs_v, i, error))
        return NULL;
    }

  return g_steal_pointer (&result);
}
