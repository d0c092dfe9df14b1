/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>
#include <glib.h>

#include "coffer-snapshot.h"
#include "coffer-error.h"

static CofferSnapshot *
sample (void)
{
  CofferSnapshot *s = coffer_snapshot_new ();
  const char *paths[] = { "/home/ana/Documents", "/home/ana/caf\xe9", "/", NULL };

  s->time = G_GINT64_CONSTANT (1700000000000000);
  s->end_time = s->time + 123456;
  s->device_id = g_strdup ("00112233445566778899aabbccddeeff");
  s->hostname = g_strdup ("laptop");
  s->category_id = g_strdup ("abcdef0123456789abcdef0123456789");
  s->category_name = g_strdup ("Documents ✓");
  s->paths = g_strdupv ((char **) paths);
  memset (s->tree, 0x5a, COFFER_ID_BYTES);
  s->parent = g_strdup ("0f0f0f0f");
  s->seq = G_GUINT64_CONSTANT (1) << 40;
  s->epoch = 3;
  s->files = 1000;
  s->dirs = 20;
  s->bytes = G_GUINT64_CONSTANT (1) << 41;
  s->added_bytes = 12345;
  s->skipped = 2;
  s->partial = TRUE;
  return s;
}

static void
assert_same (const CofferSnapshot *a, const CofferSnapshot *b)
{
  g_assert_cmpint (a->time, ==, b->time);
  g_assert_cmpint (a->end_time, ==, b->end_time);
  g_assert_cmpstr (a->device_id, ==, b->device_id);
  g_assert_cmpstr (a->hostname, ==, b->hostname);
  g_assert_cmpstr (a->category_id, ==, b->category_id);
  g_assert_cmpstr (a->category_name, ==, b->category_name);
  g_assert_cmpstrv (a->paths, b->paths);
  g_assert_cmpmem (a->tree, COFFER_ID_BYTES, b->tree, COFFER_ID_BYTES);
  g_assert_cmpstr (a->parent, ==, b->parent);
  g_assert_cmpuint (a->seq, ==, b->seq);
  g_assert_cmpuint (a->epoch, ==, b->epoch);
  g_assert_cmpuint (a->files, ==, b->files);
  g_assert_cmpuint (a->dirs, ==, b->dirs);
  g_assert_cmpuint (a->bytes, ==, b->bytes);
  g_assert_cmpuint (a->added_bytes, ==, b->added_bytes);
  g_assert_cmpuint (a->skipped, ==, b->skipped);
  g_assert_cmpint (a->partial, ==, b->partial);
}

static void
test_snapshot_round_trip (void)
{
  g_autoptr(CofferSnapshot) s = sample ();
  g_autoptr(CofferSnapshot) p = NULL;
  g_autoptr(GBytes) bytes = coffer_snapshot_serialize (s);
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GError) error = NULL;

  p = coffer_snapshot_parse (bytes, &error);
  g_assert_no_error (error);
  assert_same (s, p);
  g_assert_null (p->id);
  again = coffer_snapshot_serialize (p);
  g_assert_true (g_bytes_equal (bytes, again));

  /* No parent, no paths, empty device (a first backup without a device id). */
  g_clear_pointer (&s->parent, g_free);
  g_clear_pointer (&s->paths, g_strfreev);
  s->paths = g_new0 (char *, 1);
  g_free (s->device_id);
  s->device_id = g_strdup ("");
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_pointer (&p, coffer_snapshot_free);
  bytes = coffer_snapshot_serialize (s);
  p = coffer_snapshot_parse (bytes, &error);
  g_assert_no_error (error);
  assert_same (s, p);
}

/* A dictionary like the serialised sample, with key replaced by value
 * (removed when value is NULL). */
static GBytes *
edited (const char *key, GVariant *value)
{
  g_autoptr(CofferSnapshot) s = sample ();
  g_autoptr(GBytes) bytes = coffer_snapshot_serialize (s);
  g_autoptr(GVariant) dict = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, TRUE));
  g_autoptr(GVariant) out = NULL;
  GVariantBuilder builder;
  GVariantIter iter;
  const char *k;
  GVariant *v;

  if (value != NULL)
    g_variant_ref_sink (value);
  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &k, &v))
    {
      if (strcmp (k, key) == 0)
        {
          if (value != NULL)
            g_variant_builder_add (&builder, "{sv}", k, value);
        }
      else
        g_variant_builder_add (&builder, "{sv}", k, v);
      g_variant_unref (v);
    }
  if (value != NULL)
    {
      g_autoptr(GVariant) present = g_variant_lookup_value (dict, key, NULL);

      if (present == NULL)
        g_variant_builder_add (&builder, "{sv}", key, value);
    }
  g_clear_pointer (&value, g_variant_unref);
  out = g_variant_ref_sink (g_variant_builder_end (&builder));
  return g_variant_get_data_as_bytes (out);
}

static void
assert_rejected (GBytes *bytes, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSnapshot) p = coffer_snapshot_parse (bytes, &error);

  g_assert_null (p);
  g_assert_error (error, COFFER_REPO_ERROR, code);
  g_bytes_unref (bytes);
}

static void
test_snapshot_missing_keys (void)
{
  const char *required[] = { "version", "time", "device", "category", "paths", "tree", "seq", "epoch" };
  const char *optional[] = { "end-time", "hostname", "category-name", "parent", "files", "dirs",
                             "bytes", "added-bytes", "skipped", "partial" };

  for (guint i = 0; i < G_N_ELEMENTS (required); i++)
    assert_rejected (edited (required[i], NULL), COFFER_REPO_ERROR_CORRUPT);
  for (guint i = 0; i < G_N_ELEMENTS (optional); i++)
    {
      g_autoptr(GBytes) b = edited (optional[i], NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(CofferSnapshot) p = coffer_snapshot_parse (b, &error);

      g_assert_no_error (error);
      g_assert_nonnull (p);
    }
  {
    g_autoptr(GBytes) b = edited ("end-time", NULL);
    g_autoptr(CofferSnapshot) p = coffer_snapshot_parse (b, NULL);

    g_assert_cmpint (p->end_time, ==, p->time);
  }
}

static void
test_snapshot_wrong_types (void)
{
  assert_rejected (edited ("time", g_variant_new_uint64 (5)), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("end-time", g_variant_new_string ("yesterday")), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("seq", g_variant_new_int64 (5)), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("epoch", g_variant_new_uint64 (5)), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("partial", g_variant_new_uint32 (1)), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("files", g_variant_new_uint32 (1)), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("paths", g_variant_new_string ("/home")), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("tree", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "short", 5, 1)),
                   COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("tree", g_variant_new_string ("5a5a")), COFFER_REPO_ERROR_CORRUPT);
  /* Values that would become object paths or restore targets. */
  assert_rejected (edited ("parent", g_variant_new_string ("../../keys/recovery")), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("parent", g_variant_new_string ("")), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("category", g_variant_new_string ("ABC")), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (edited ("device", g_variant_new_string ("x")), COFFER_REPO_ERROR_CORRUPT);
  {
    const char *rel[] = { "home/ana", NULL };
    const char *dots[] = { "/home/../etc", NULL };

    assert_rejected (edited ("paths", g_variant_new_strv (rel, -1)), COFFER_REPO_ERROR_CORRUPT);
    assert_rejected (edited ("paths", g_variant_new_strv (dots, -1)), COFFER_REPO_ERROR_CORRUPT);
  }
  /* Versions. */
  assert_rejected (edited ("version", g_variant_new_uint32 (2)), COFFER_REPO_ERROR_UNSUPPORTED_VERSION);
  assert_rejected (edited ("version", g_variant_new_int32 (1)), COFFER_REPO_ERROR_CORRUPT);
  /* Not a dictionary. */
  assert_rejected (g_bytes_new_static ("", 0), COFFER_REPO_ERROR_CORRUPT);
  assert_rejected (g_bytes_new_static ("\xff\xff\xff", 3), COFFER_REPO_ERROR_CORRUPT);
  {
    g_autoptr(GRand) rand = g_rand_new_with_seed (3);
    g_autoptr(CofferSnapshot) s = sample ();
    g_autoptr(GBytes) good = coffer_snapshot_serialize (s);
    gsize len;
    const guint8 *data = g_bytes_get_data (good, &len);

    for (guint round = 0; round < 3000; round++)
      {
        g_autofree guint8 *copy = g_memdup2 (data, len);
        g_autoptr(GBytes) b = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(CofferSnapshot) p = NULL;

        for (guint k = 0; k < 1 + round % 4; k++)
          copy[g_rand_int_range (rand, 0, len)] = g_rand_int_range (rand, 0, 256);
        b = g_bytes_new_take (g_steal_pointer (&copy), g_rand_int_range (rand, 0, len + 1));
        p = coffer_snapshot_parse (b, &error);
        g_assert_true ((p == NULL) == (error != NULL));
      }
  }
}

static void
test_snapshot_unknown_keys (void)
{
  g_autoptr(GBytes) b = edited ("future-key", g_variant_new ("(si)", "anything", 42));
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferSnapshot) p = coffer_snapshot_parse (b, &error);
  g_autoptr(CofferSnapshot) s = sample ();

  g_assert_no_error (error);
  assert_same (s, p);
}

static void
test_snapshot_raw_paths (void)
{
  g_autoptr(CofferSnapshot) s = sample ();
  g_autoptr(CofferSnapshot) p = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(GVariant) paths = NULL;
  g_autoptr(GError) error = NULL;
  const char *first;

  /* The Latin-1 path is in "paths-raw" byte for byte, and readable in "paths". */
  bytes = coffer_snapshot_serialize (s);
  dict = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  paths = g_variant_lookup_value (dict, "paths", G_VARIANT_TYPE_STRING_ARRAY);
  g_assert_nonnull (paths);
  g_variant_get_child (paths, 1, "&s", &first);
  g_assert_true (g_utf8_validate (first, -1, NULL));
  g_assert_true (g_variant_lookup (dict, "paths-raw", "aay", NULL));
  p = coffer_snapshot_parse (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->paths[1], ==, "/home/ana/caf\xe9");

  /* paths-raw must match paths in length. */
  {
    const char *one[] = { "/only", NULL };
    assert_rejected (edited ("paths", g_variant_new_strv (one, -1)), COFFER_REPO_ERROR_CORRUPT);
  }
}

static void
test_snapshot_sort (void)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_snapshot_free);
  const gint64 times[] = { 30, 10, 20, 10, 10 };
  const guint64 seqs[] = { 1, 5, 2, 3, 4 };
  const guint expected[] = { 3, 4, 1, 2, 0 };  /* indices into times / seqs */

  for (guint i = 0; i < G_N_ELEMENTS (times); i++)
    {
      CofferSnapshot *s = coffer_snapshot_new ();

      s->time = times[i];
      s->seq = seqs[i];
      s->id = g_strdup_printf ("%u", i);
      g_ptr_array_add (list, s);
    }
  /* coffer_snapshot_compare takes the snapshots themselves. */
  {
    CofferSnapshot *a = list->pdata[0], *b = list->pdata[1];

    g_assert_cmpint (coffer_snapshot_compare (a, b), >, 0);
    g_assert_cmpint (coffer_snapshot_compare (b, a), <, 0);
    g_assert_cmpint (coffer_snapshot_compare (a, a), ==, 0);
  }
  {
    GList *l = NULL;

    for (guint i = 0; i < list->len; i++)
      l = g_list_prepend (l, list->pdata[i]);
    l = g_list_sort (l, (GCompareFunc) coffer_snapshot_compare);
    for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
      {
        CofferSnapshot *s = g_list_nth_data (l, i);
        g_autofree char *id = g_strdup_printf ("%u", expected[i]);

        g_assert_cmpstr (s->id, ==, id);
      }
    g_list_free (l);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/snapshot/round-trip", test_snapshot_round_trip);
  g_test_add_func ("/snapshot/missing-keys", test_snapshot_missing_keys);
  g_test_add_func ("/snapshot/wrong-types", test_snapshot_wrong_types);
  g_test_add_func ("/snapshot/unknown-keys", test_snapshot_unknown_keys);
  g_test_add_func ("/snapshot/raw-paths", test_snapshot_raw_paths);
  g_test_add_func ("/snapshot/sort", test_snapshot_sort);

  return g_test_run ();
}
