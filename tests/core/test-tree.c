/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>
#include <glib.h>

#include "coffer-tree.h"
#include "coffer-error.h"

#define ENTRY_TYPE "(ayyuuutxxttaya(ayay)aya(tt))"

static void
fill_id (guint8 *out, guint8 v)
{
  memset (out, v, COFFER_ID_BYTES);
}

static GPtrArray *
sample_entries (void)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_tree_entry_free);
  CofferTreeEntry *e;
  guint8 id[COFFER_ID_BYTES];
  g_autoptr(GBytes) v1 = g_bytes_new ("\0\1\2binary", 9);
  g_autoptr(GBytes) v2 = g_bytes_new ("", 0);
  guint64 holes[] = { 0, 4096, 65536, 8192 };

  /* Added out of order on purpose; serialize sorts. */
  e = coffer_tree_entry_new ("zeta.txt", COFFER_NODE_FILE);
  e->mode = 0644;
  e->uid = 1000;
  e->gid = 1000;
  e->size = 1 << 20;
  e->mtime_ns = G_GINT64_CONSTANT (1700000000123456789);
  e->ctime_ns = -5;  /* before 1970 */
  e->inode = G_MAXUINT64;
  fill_id (id, 1);
  g_byte_array_append (e->content, id, sizeof id);
  fill_id (id, 2);
  g_byte_array_append (e->content, id, sizeof id);
  coffer_tree_entry_add_xattr (e, "user.binary", v1);
  coffer_tree_entry_add_xattr (e, "user.empty", v2);
  e->holes = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_array_append_vals (e->holes, holes, G_N_ELEMENTS (holes));
  g_ptr_array_add (entries, e);

  /* Latin-1 "café", not UTF-8. */
  e = coffer_tree_entry_new ("caf\xe9", COFFER_NODE_DIR);
  e->mode = 0755;
  fill_id (id, 3);
  g_byte_array_append (e->content, id, sizeof id);
  g_ptr_array_add (entries, e);

  e = coffer_tree_entry_new ("link", COFFER_NODE_SYMLINK);
  e->mode = 0777;
  e->link_target = g_strdup ("../target/\xff\xfe name");
  g_ptr_array_add (entries, e);

  e = coffer_tree_entry_new ("dev", COFFER_NODE_CHARDEV);
  e->mode = 0600;
  e->rdev = (1 << 8) | 3;
  g_ptr_array_add (entries, e);

  e = coffer_tree_entry_new ("fifo", COFFER_NODE_FIFO);
  e->mode = 07777;
  g_ptr_array_add (entries, e);

  e = coffer_tree_entry_new ("sock", COFFER_NODE_SOCKET);
  g_ptr_array_add (entries, e);

  e = coffer_tree_entry_new ("blk", COFFER_NODE_BLOCKDEV);
  g_ptr_array_add (entries, e);

  e = coffer_tree_entry_new ("empty-file", COFFER_NODE_FILE);
  g_ptr_array_add (entries, e);

  e = coffer_tree_entry_new ("...", COFFER_NODE_FILE);  /* a legal name */
  g_ptr_array_add (entries, e);

  return entries;
}

static const CofferTreeEntry *
find (GPtrArray *entries, const char *name)
{
  for (guint i = 0; i < entries->len; i++)
    if (strcmp (((CofferTreeEntry *) entries->pdata[i])->name, name) == 0)
      return entries->pdata[i];
  return NULL;
}

static void
assert_same_entry (const CofferTreeEntry *a, const CofferTreeEntry *b)
{
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpuint (a->mode, ==, b->mode);
  g_assert_cmpuint (a->uid, ==, b->uid);
  g_assert_cmpuint (a->gid, ==, b->gid);
  g_assert_cmpuint (a->size, ==, b->size);
  g_assert_cmpint (a->mtime_ns, ==, b->mtime_ns);
  g_assert_cmpint (a->ctime_ns, ==, b->ctime_ns);
  g_assert_cmpuint (a->inode, ==, b->inode);
  g_assert_cmpuint (a->rdev, ==, b->rdev);
  if (a->type == COFFER_NODE_SYMLINK)
    g_assert_cmpstr (a->link_target, ==, b->link_target);
  else
    g_assert_null (b->link_target);
  g_assert_cmpmem (a->content->data, a->content->len, b->content->data, b->content->len);
  g_assert_nonnull (b->xattrs);
  g_assert_cmpuint (a->xattrs->len, ==, b->xattrs->len);
  for (guint i = 0; i < a->xattrs->len; i += 2)
    {
      g_assert_cmpstr (a->xattrs->pdata[i], ==, b->xattrs->pdata[i]);
      g_assert_true (g_bytes_equal (a->xattrs->pdata[i + 1], b->xattrs->pdata[i + 1]));
    }
  if (a->holes == NULL || a->holes->len == 0)
    g_assert_true (b->holes == NULL || b->holes->len == 0);
  else
    g_assert_cmpmem (a->holes->data, a->holes->len * sizeof (guint64),
                     b->holes->data, b->holes->len * sizeof (guint64));
}

static void
test_tree_round_trip (void)
{
  g_autoptr(GPtrArray) entries = sample_entries ();
  g_autoptr(GPtrArray) parsed = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GError) error = NULL;

  bytes = coffer_tree_serialize (entries);
  g_assert_nonnull (bytes);
  parsed = coffer_tree_parse (bytes, &error);
  g_assert_no_error (error);
  g_assert_nonnull (parsed);
  g_assert_cmpuint (parsed->len, ==, entries->len);

  /* Sorted bytewise: "..." < "blk" < ... < "caf\xe9" < ... < "zeta.txt". */
  for (guint i = 1; i < parsed->len; i++)
    g_assert_cmpint (strcmp (((CofferTreeEntry *) parsed->pdata[i - 1])->name,
                             ((CofferTreeEntry *) parsed->pdata[i])->name), <, 0);
  g_assert_cmpstr (((CofferTreeEntry *) parsed->pdata[0])->name, ==, "...");
  g_assert_cmpstr (((CofferTreeEntry *) parsed->pdata[parsed->len - 1])->name, ==, "zeta.txt");

  for (guint i = 0; i < entries->len; i++)
    {
      const CofferTreeEntry *e = entries->pdata[i];
      const CofferTreeEntry *p = find (parsed, e->name);

      g_assert_nonnull (p);
      assert_same_entry (e, p);
    }

  /* Deterministic: the parsed entries serialise to the same bytes. */
  again = coffer_tree_serialize (parsed);
  g_assert_true (g_bytes_equal (bytes, again));

  /* An empty directory. */
  {
    g_autoptr(GPtrArray) none = g_ptr_array_new ();
    g_autoptr(GBytes) b = coffer_tree_serialize (none);
    g_autoptr(GPtrArray) p = coffer_tree_parse (b, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (p->len, ==, 0);
  }
}

/* What GVariant itself makes of entries (already sorted): the reference
 * that coffer_tree_serialize's own writer must match byte for byte. */
static GBytes *
gvariant_reference (GPtrArray *sorted)
{
  GVariantBuilder builder;
  g_autoptr(GVariant) v = NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a" ENTRY_TYPE));
  for (guint i = 0; i < sorted->len; i++)
    {
      const CofferTreeEntry *e = sorted->pdata[i];
      GVariantBuilder xattrs;
      const char *link = e->link_target != NULL ? e->link_target : "";

      g_variant_builder_init (&xattrs, G_VARIANT_TYPE ("a(ayay)"));
      for (guint k = 0; e->xattrs != NULL && k + 1 < e->xattrs->len; k += 2)
        {
          const char *xname = e->xattrs->pdata[k];
          g_variant_builder_add (&xattrs, "(@ay@ay)",
                                 g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, xname, strlen (xname), 1),
                                 g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, e->xattrs->pdata[k + 1],
                                                           TRUE));
        }
      g_variant_builder_add (&builder, "(@ayyuuutxxtt@ay@a(ayay)@ay@a(tt))",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, e->name, strlen (e->name), 1),
                             (guint8) e->type, e->mode, e->uid, e->gid, e->size, e->mtime_ns, e->ctime_ns,
                             e->inode, e->rdev,
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, link, strlen (link), 1),
                             g_variant_builder_end (&xattrs),
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, e->content->data, e->content->len, 1),
                             g_variant_new_fixed_array (G_VARIANT_TYPE ("(tt)"),
                                                        e->holes != NULL ? e->holes->data : NULL,
                                                        e->holes != NULL ? e->holes->len / 2 : 0,
                                                        2 * sizeof (guint64)));
    }
  v = g_variant_ref_sink (g_variant_new ("(u@a" ENTRY_TYPE ")", 1, g_variant_builder_end (&builder)));
  g_assert_true (G_BYTE_ORDER == G_LITTLE_ENDIAN);
  return g_variant_get_data_as_bytes (v);
}

static int
compare_entry_names (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(CofferTreeEntry * const *) a)->name, (*(CofferTreeEntry * const *) b)->name);
}

/* The tree writer is GVariant's normal form exactly: random listings from
 * empty to ones large enough for 2- and 4-byte framing offsets, with
 * links, extended attributes (empty values too), holes and long contents. */
static void
test_tree_gvariant_exact (void)
{
  GRand *rand = g_rand_new_with_seed (11);
  static const guint counts[] = { 0, 1, 2, 3, 7, 40, 300, 3000 };

  for (guint round = 0; round < G_N_ELEMENTS (counts) * 4; round++)
    {
      g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_tree_entry_free);
      g_autoptr(GBytes) ours = NULL;
      g_autoptr(GBytes) reference = NULL;
      guint n = counts[round % G_N_ELEMENTS (counts)];

      for (guint i = 0; i < n; i++)
        {
          g_autofree char *name = g_strdup_printf ("%0*u-entry", (int) g_rand_int_range (rand, 1, 40), i);
          guint kind = g_rand_int_range (rand, 0, 4);
          CofferTreeEntry *e = coffer_tree_entry_new (name, kind == 0 ? COFFER_NODE_SYMLINK
                                                            : kind == 1 ? COFFER_NODE_DIR : COFFER_NODE_FILE);

          e->mode = kind == 1 ? 0755 : 0644;
          e->uid = g_rand_int (rand);
          e->gid = g_rand_int (rand);
          e->mtime_ns = (gint64) g_rand_int (rand) * 1000 - 7;
          e->ctime_ns = -(gint64) g_rand_int (rand);
          e->inode = ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand);
          e->rdev = g_rand_int_range (rand, 0, 3);
          if (kind == 0)
            e->link_target = g_strnfill (g_rand_int_range (rand, 1, round % 5 == 4 ? 70000 : 200), 'l');
          else if (kind == 1)
            {
              guint8 id[COFFER_ID_BYTES];
              fill_id (id, i);
              g_byte_array_append (e->content, id, sizeof id);
            }
          else
            {
              guint blobs = g_rand_int_range (rand, 0, round % 3 == 2 ? 3000 : 4);
              for (guint b = 0; b < blobs; b++)
                {
                  guint8 id[COFFER_ID_BYTES];
                  fill_id (id, b);
                  g_byte_array_append (e->content, id, sizeof id);
                }
              e->size = blobs * 1000;
              if (blobs > 1 && g_rand_boolean (rand))
                {
                  guint64 hole[2] = { 0, 500 };
                  e->holes = g_array_new (FALSE, FALSE, sizeof (guint64));
                  g_array_append_vals (e->holes, hole, 2);
                }
            }
          for (guint x = g_rand_int_range (rand, 0, 3); x > 0; x--)
            {
              g_autofree char *xname = g_strdup_printf ("user.attr%u", x);
              g_autoptr(GBytes) value = x == 1 ? g_bytes_new ("", 0) : g_bytes_new ("\0value\1", 7);
              coffer_tree_entry_add_xattr (e, xname, value);
            }
          g_ptr_array_add (entries, e);
        }
      ours = coffer_tree_serialize (entries);
      g_assert_nonnull (ours);
      g_ptr_array_sort (entries, compare_entry_names);
      reference = gvariant_reference (entries);
      if (!g_bytes_equal (ours, reference))
        g_error ("round %u (%u entries): %" G_GSIZE_FORMAT " bytes written, GVariant makes %" G_GSIZE_FORMAT,
                 round, n, g_bytes_get_size (ours), g_bytes_get_size (reference));
    }
  g_rand_free (rand);
}

static void
test_tree_large (void)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_tree_entry_free);
  g_autoptr(GPtrArray) parsed = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start, t_ser, t_parse;
  guint8 id[COFFER_ID_BYTES];

  fill_id (id, 7);
  for (guint i = 0; i < 100000; i++)
    {
      g_autofree char *name = g_strdup_printf ("file-%u", (i * 7919u) % 100000);
      CofferTreeEntry *e = coffer_tree_entry_new (name, COFFER_NODE_FILE);

      e->size = i;
      g_byte_array_append (e->content, id, sizeof id);
      g_ptr_array_add (entries, e);
    }
  start = g_get_monotonic_time ();
  bytes = coffer_tree_serialize (entries);
  t_ser = g_get_monotonic_time () - start;
  start = g_get_monotonic_time ();
  parsed = coffer_tree_parse (bytes, &error);
  t_parse = g_get_monotonic_time () - start;
  g_assert_no_error (error);
  g_assert_cmpuint (parsed->len, ==, 100000);
  g_test_message ("100k entries: %" G_GSIZE_FORMAT " bytes, serialize %" G_GINT64_FORMAT
                  " ms, parse %" G_GINT64_FORMAT " ms",
                  g_bytes_get_size (bytes), t_ser / 1000, t_parse / 1000);
}

/* Builds a tree GVariant by hand from one entry template, so that parse can
 * be fed what serialize would refuse to write. */
static GBytes *
raw_tree (guint32 version, const char * const *names, guint8 type, guint32 mode,
          guint64 size, const char *link, gsize content_len, const guint64 *holes, gsize n_holes,
          const char *xattr_name)
{
  GVariantBuilder builder;
  g_autofree guint8 *content = g_malloc0 (content_len + 1);
  g_autoptr(GVariant) v = NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a" ENTRY_TYPE));
  for (guint i = 0; names[i] != NULL; i++)
    {
      GVariantBuilder xattrs;

      g_variant_builder_init (&xattrs, G_VARIANT_TYPE ("a(ayay)"));
      if (xattr_name != NULL)
        g_variant_builder_add (&xattrs, "(@ay@ay)",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, xattr_name, strlen (xattr_name), 1),
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "v", 1, 1));
      g_variant_builder_add (&builder, "(@ayyuuutxxtt@ay@a(ayay)@ay@a(tt))",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, names[i], strlen (names[i]), 1),
                             type, mode, 0, 0, size, (gint64) 0, (gint64) 0, (guint64) 0, (guint64) 0,
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, link, strlen (link), 1),
                             g_variant_builder_end (&xattrs),
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, content, content_len, 1),
                             g_variant_new_fixed_array (G_VARIANT_TYPE ("(tt)"), holes, n_holes, 16));
    }
  v = g_variant_ref_sink (g_variant_new ("(u@a" ENTRY_TYPE ")", version, g_variant_builder_end (&builder)));
  return g_variant_get_data_as_bytes (v);
}

static void
assert_parse_fails (GBytes *bytes, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) parsed = coffer_tree_parse (bytes, &error);

  g_assert_null (parsed);
  g_assert_error (error, COFFER_REPO_ERROR, code);
}

static void
assert_parse_ok (GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) parsed = coffer_tree_parse (bytes, &error);

  g_assert_no_error (error);
  g_assert_nonnull (parsed);
}

#define NAMES(...) ((const char * const[]) { __VA_ARGS__, NULL })

static void
test_tree_reject (void)
{
  guint64 good_holes[] = { 0, 10, 20, 10 };
  guint64 overlap[] = { 0, 10, 5, 10 };
  guint64 beyond[] = { 90, 20 };
  guint64 empty_hole[] = { 10, 0 };
  guint64 overflow[] = { G_MAXUINT64 - 5, 10 };
  GBytes *b;

#define CHECK_OK(expr) G_STMT_START { b = (expr); assert_parse_ok (b); g_bytes_unref (b); } G_STMT_END
#define CHECK_BAD(expr, code) G_STMT_START { b = (expr); assert_parse_fails (b, code); g_bytes_unref (b); } G_STMT_END
#define FILE_TREE(names) raw_tree (1, names, 'f', 0644, 100, "", 64, NULL, 0, NULL)

  /* The hand-built form is accepted when it is valid. */
  CHECK_OK (FILE_TREE (NAMES ("a", "b", "b.", "ba")));
  CHECK_OK (raw_tree (1, NAMES ("d"), 'd', 0755, 0, "", 32, NULL, 0, NULL));
  CHECK_OK (raw_tree (1, NAMES ("f"), 'f', 0644, 100, "", 0, good_holes, 2, "user.x"));
  CHECK_OK (raw_tree (1, NAMES ("l"), 'l', 0777, 0, "/x", 0, NULL, 0, NULL));

  CHECK_BAD (raw_tree (2, NAMES ("a"), 'f', 0644, 0, "", 0, NULL, 0, NULL), COFFER_REPO_ERROR_UNSUPPORTED_VERSION);
  CHECK_BAD (raw_tree (0, NAMES ("a"), 'f', 0644, 0, "", 0, NULL, 0, NULL), COFFER_REPO_ERROR_UNSUPPORTED_VERSION);
  /* Names. */
  CHECK_BAD (FILE_TREE (NAMES ("..")), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (FILE_TREE (NAMES (".")), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (FILE_TREE (NAMES ("")), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (FILE_TREE (NAMES ("a/b")), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (FILE_TREE (NAMES ("/")), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (FILE_TREE (NAMES ("a", "a")), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (FILE_TREE (NAMES ("b", "a")), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (FILE_TREE (NAMES ("ab", "a")), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (FILE_TREE (NAMES ("\xe9", "z")), COFFER_REPO_ERROR_CORRUPT);  /* bytewise: 0xe9 > 'z' */
  {
    /* A NUL inside a name. */
    g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_parsed (
      "(@u 1, [(b'a\\x00b', @y 102, @u 420, @u 0, @u 0, @t 0, @x 0, @x 0, @t 0, @t 0, b'', @a(ayay) [], @ay [], @a(tt) [])])"));
    g_autoptr(GBytes) nul = g_variant_get_data_as_bytes (v);
    assert_parse_fails (nul, COFFER_REPO_ERROR_CORRUPT);
  }
  /* Types, modes, content. */
  CHECK_BAD (raw_tree (1, NAMES ("a"), 'x', 0644, 0, "", 0, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("a"), 0, 0644, 0, "", 0, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("a"), 'f', 010000, 0, "", 0, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("a"), 'f', 0644, 0, "", 31, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("a"), 'f', 0644, 0, "", 33, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("d"), 'd', 0755, 0, "", 0, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("d"), 'd', 0755, 0, "", 64, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("p"), 'p', 0644, 0, "", 32, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("f"), 'f', 0644, 0, "/x", 0, NULL, 0, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("f"), 'f', 0644, 0, "", 0, NULL, 0, ""), COFFER_REPO_ERROR_CORRUPT);
  /* Holes. */
  CHECK_BAD (raw_tree (1, NAMES ("f"), 'f', 0644, 100, "", 0, overlap, 2, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("f"), 'f', 0644, 100, "", 0, beyond, 1, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("f"), 'f', 0644, 100, "", 0, empty_hole, 1, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("f"), 'f', 0644, G_MAXUINT64, "", 0, overflow, 1, NULL), COFFER_REPO_ERROR_CORRUPT);
  CHECK_BAD (raw_tree (1, NAMES ("d"), 'd', 0755, 100, "", 32, good_holes, 1, NULL), COFFER_REPO_ERROR_CORRUPT);
  /* Not a tree at all. */
  {
    g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
    g_autoptr(GVariant) other = g_variant_ref_sink (g_variant_new ("(us)", 1, "hello"));
    g_autoptr(GBytes) ob = g_variant_get_data_as_bytes (other);

    assert_parse_fails (empty, COFFER_REPO_ERROR_CORRUPT);
    assert_parse_fails (ob, COFFER_REPO_ERROR_CORRUPT);
  }

#undef CHECK_OK
#undef CHECK_BAD
#undef FILE_TREE
}

static void
test_tree_garbage (void)
{
  g_autoptr(GPtrArray) entries = sample_entries ();
  g_autoptr(GBytes) good = coffer_tree_serialize (entries);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  gsize len;
  const guint8 *data = g_bytes_get_data (good, &len);

  /* Every truncation. */
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr(GBytes) b = g_bytes_new (data, cut);
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) parsed = coffer_tree_parse (b, &error);

      g_assert_true ((parsed == NULL) == (error != NULL));
    }
  /* Random corruption: never a crash; what parses is valid. */
  for (guint round = 0; round < 5000; round++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, len);
      g_autoptr(GBytes) b = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) parsed = NULL;

      for (guint k = 0; k < 1 + round % 5; k++)
        copy[g_rand_int_range (rand, 0, len)] = g_rand_int_range (rand, 0, 256);
      b = g_bytes_new_take (g_steal_pointer (&copy), len);
      parsed = coffer_tree_parse (b, &error);
      g_assert_true ((parsed == NULL) == (error != NULL));
      for (guint i = 0; parsed != NULL && i < parsed->len; i++)
        {
          const CofferTreeEntry *e = parsed->pdata[i];

          g_assert_cmpuint (strlen (e->name), >, 0);
          g_assert_null (strchr (e->name, '/'));
          g_assert_cmpuint (e->content->len % COFFER_ID_BYTES, ==, 0);
        }
    }
  /* Pure garbage of every small length. */
  for (guint round = 0; round < 3000; round++)
    {
      gsize glen = round % 300;
      guint8 *garbage = g_malloc (glen + 1);
      g_autoptr(GBytes) b = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) parsed = NULL;

      for (gsize k = 0; k < glen; k++)
        garbage[k] = g_rand_int_range (rand, 0, 256);
      b = g_bytes_new_take (garbage, glen);
      parsed = coffer_tree_parse (b, &error);
      g_assert_true ((parsed == NULL) == (error != NULL));
    }
}

static void
test_tree_serialize_refuses (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_tree_entry_free);

      g_ptr_array_add (entries, coffer_tree_entry_new ("same", COFFER_NODE_FILE));
      g_ptr_array_add (entries, coffer_tree_entry_new ("same", COFFER_NODE_FIFO));
      g_assert_null (coffer_tree_serialize (entries));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*CRITICAL*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tree/round-trip", test_tree_round_trip);
  g_test_add_func ("/tree/large", test_tree_large);
  g_test_add_func ("/tree/gvariant-exact", test_tree_gvariant_exact);
  g_test_add_func ("/tree/reject", test_tree_reject);
  g_test_add_func ("/tree/garbage", test_tree_garbage);
  g_test_add_func ("/tree/serialize-refuses-duplicates", test_tree_serialize_refuses);

  return g_test_run ();
}
