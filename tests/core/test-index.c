/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sodium.h>

#include "coffer-index.h"
#include "coffer-error.h"
#include "test-utils.h"

#define N_BIG 100000
#define N_PACKS 97

static void
make_id (guint8 out[COFFER_ID_BYTES], guint32 n, guint8 salt)
{
  guint8 seed[randombytes_SEEDBYTES] = { 0 };

  memcpy (seed, &n, sizeof n);
  seed[4] = salt;
  randombytes_buf_deterministic (out, COFFER_ID_BYTES, seed);
}

static void
make_pack (guint8 out[COFFER_ID_BYTES], guint32 n)
{
  make_id (out, n, 0xaa);
}

static char *
pack_hex (guint32 n)
{
  guint8 id[COFFER_ID_BYTES];
  GString *s = g_string_new (NULL);

  make_pack (id, n);
  for (guint i = 0; i < COFFER_ID_BYTES; i++)
    g_string_append_printf (s, "%02x", id[i]);
  return g_string_free (s, FALSE);
}

/* Entry i of the standard test set: pack i % N_PACKS, offset i * 3, ... */
static void
add_standard (CofferIndex *index, guint32 first, guint32 n)
{
  for (guint32 i = first; i < first + n; i++)
    {
      guint8 id[COFFER_ID_BYTES], pack[COFFER_ID_BYTES];

      make_id (id, i, 0);
      make_pack (pack, i % N_PACKS);
      coffer_index_add (index, id, i % 3 == 0 ? COFFER_BLOB_TREE : COFFER_BLOB_DATA,
                        pack, i * 3, i + 100, i + 50);
    }
}

static void
assert_standard (CofferIndex *index, guint32 i)
{
  guint8 id[COFFER_ID_BYTES], pack[COFFER_ID_BYTES];
  CofferIndexEntry entry;

  make_id (id, i, 0);
  make_pack (pack, i % N_PACKS);
  g_assert_true (coffer_index_lookup (index, id, &entry));
  g_assert_cmpmem (entry.id, COFFER_ID_BYTES, id, COFFER_ID_BYTES);
  g_assert_cmpmem (coffer_index_get_pack_id (index, entry.pack), COFFER_ID_BYTES, pack, COFFER_ID_BYTES);
  g_assert_cmpuint (entry.type, ==, i % 3 == 0 ? COFFER_BLOB_TREE : COFFER_BLOB_DATA);
  g_assert_cmpuint (entry.offset, ==, i * 3);
  g_assert_cmpuint (entry.length, ==, i + 100);
  g_assert_cmpuint (entry.raw_length, ==, i + 50);
}

static void
assert_absent (CofferIndex *index, guint32 i, guint8 salt)
{
  guint8 id[COFFER_ID_BYTES];

  make_id (id, i, salt);
  g_assert_false (coffer_index_contains (index, id));
}

static void
test_index_add_lookup (void)
{
  g_autoptr(CofferIndex) index = coffer_index_new ();
  guint8 id[COFFER_ID_BYTES];
  gint64 start, elapsed;
  guint rounds = 10;

  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, 0);
  g_assert_false (coffer_index_lookup (index, (guint8[32]) { 0 }, NULL));
  g_assert_null (coffer_index_get_pack_id (index, 0));

  /* Interleave adds and lookups so both the sorted table and the pending
   * entries are exercised. */
  for (guint32 i = 0; i < N_BIG; i += 10000)
    {
      add_standard (index, i, 10000);
      for (guint32 j = 0; j < i + 10000; j += 7)
        assert_standard (index, j);
    }
  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, N_BIG);
  g_assert_cmpuint (coffer_index_get_n_packs (index), ==, N_PACKS);
  for (guint32 i = 0; i < N_BIG; i++)
    assert_standard (index, i);
  for (guint32 i = 0; i < 1000; i++)
    assert_absent (index, i, 1);
  /* A near miss: same first bytes, different last byte. */
  make_id (id, 5, 0);
  id[31] ^= 1;
  g_assert_false (coffer_index_contains (index, id));

  start = g_get_monotonic_time ();
  for (guint r = 0; r < rounds; r++)
    for (guint32 i = 0; i < N_BIG; i++)
      {
        make_id (id, i, 0);
        g_assert_true (coffer_index_contains (index, id));
      }
  elapsed = g_get_monotonic_time () - start;
  g_test_message ("%.1f million lookups per second (including id generation)",
                  (double) rounds * N_BIG / MAX (elapsed, 1));
  /* Far above the ~1000/s the backup pipeline needs, even under valgrind. */
  g_assert_cmpfloat ((double) rounds * N_BIG * G_USEC_PER_SEC / MAX (elapsed, 1), >, 10000);
}

static void
test_index_duplicates (void)
{
  g_autoptr(CofferIndex) index = coffer_index_new ();
  g_autoptr(GHashTable) remove = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint8 id[COFFER_ID_BYTES], p1[COFFER_ID_BYTES], p2[COFFER_ID_BYTES];
  CofferIndexEntry entry;

  make_id (id, 1, 0);
  make_pack (p1, 1);
  make_pack (p2, 2);
  coffer_index_add (index, id, COFFER_BLOB_DATA, p1, 10, 20, 30);
  coffer_index_add (index, id, COFFER_BLOB_DATA, p1, 10, 20, 30);
  coffer_index_add (index, id, COFFER_BLOB_DATA, p1, 11, 21, 31);
  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, 1);

  /* The same blob in a second pack: the first location stays primary... */
  coffer_index_add (index, id, COFFER_BLOB_DATA, p2, 40, 50, 30);
  coffer_index_add (index, id, COFFER_BLOB_DATA, p2, 40, 50, 30);
  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, 1);
  g_assert_true (coffer_index_lookup (index, id, &entry));
  g_assert_cmpmem (coffer_index_get_pack_id (index, entry.pack), 32, p1, 32);
  g_assert_cmpuint (entry.offset, ==, 10);

  /* ... and takes over when the first pack is removed. */
  g_hash_table_add (remove, pack_hex (1));
  coffer_index_remove_packs (index, remove);
  g_assert_cmpuint (coffer_index_get_n_packs (index), ==, 1);
  g_assert_true (coffer_index_lookup (index, id, &entry));
  g_assert_cmpmem (coffer_index_get_pack_id (index, entry.pack), 32, p2, 32);
  g_assert_cmpuint (entry.offset, ==, 40);
  g_assert_cmpuint (entry.length, ==, 50);

  g_hash_table_remove_all (remove);
  g_hash_table_add (remove, pack_hex (2));
  coffer_index_remove_packs (index, remove);
  g_assert_false (coffer_index_contains (index, id));
  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, 0);
  g_assert_cmpuint (coffer_index_get_n_packs (index), ==, 0);
}

typedef struct
{
  CofferIndex *index;
  guint32      first;
  guint32      n;
  guint32      n_threads;
} ThreadData;

static gpointer
concurrent_thread (gpointer user_data)
{
  ThreadData *td = user_data;

  for (guint32 i = td->first; i < td->first + td->n; i++)
    {
      add_standard (td->index, i, 1);
      /* What this thread added is visible at once... */
      assert_standard (td->index, i);
      if (i > td->first + 10)
        assert_standard (td->index, i - 10);
      /* ... and lookups of others' ids never see torn records. */
      {
        guint8 id[COFFER_ID_BYTES];
        CofferIndexEntry entry;
        guint32 other = (i * 7919u) % (td->n * td->n_threads);

        make_id (id, other, 0);
        if (coffer_index_lookup (td->index, id, &entry))
          {
            g_assert_cmpuint (entry.offset, ==, other * 3);
            g_assert_cmpuint (entry.length, ==, other + 100);
          }
      }
    }
  return NULL;
}

static void
test_index_concurrency (void)
{
  g_autoptr(CofferIndex) index = coffer_index_new ();
  GThread *threads[4];
  ThreadData data[4];

  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    {
      data[t] = (ThreadData) { index, t * 25000, 25000, G_N_ELEMENTS (threads) };
      threads[t] = g_thread_new ("index-test", concurrent_thread, &data[t]);
    }
  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    g_thread_join (threads[t]);

  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, N_BIG);
  for (guint32 i = 0; i < N_BIG; i++)
    assert_standard (index, i);
}

typedef struct
{
  guint     count;
  guint8    last[COFFER_ID_BYTES];
  GString  *dump;
} ForeachCheck;

static void
foreach_cb (const CofferIndexEntry *entry, const guint8 *pack_id, gpointer user_data)
{
  ForeachCheck *check = user_data;

  if (check->count > 0)
    g_assert_cmpint (memcmp (check->last, entry->id, COFFER_ID_BYTES), <=, 0);
  memcpy (check->last, entry->id, COFFER_ID_BYTES);
  check->count++;
  g_string_append_len (check->dump, (const char *) entry->id, COFFER_ID_BYTES);
  g_string_append_len (check->dump, (const char *) pack_id, COFFER_ID_BYTES);
  g_string_append_printf (check->dump, "%u %u %u %u;", entry->type, entry->offset,
                          entry->length, entry->raw_length);
}

/* Everything in the index, independent of pack numbering. */
static GString *
dump_index (CofferIndex *index, guint *count)
{
  ForeachCheck check = { 0, { 0 }, g_string_new (NULL) };

  coffer_index_foreach (index, foreach_cb, &check);
  if (count != NULL)
    *count = check.count;
  return check.dump;
}

/* The reference for /index/gvariant-exact: the index object built with
 * GVariantBuilder, as coffer_index_serialize did before it wrote the
 * normal form itself. Object pack numbers in order of first use. */
typedef struct
{
  GHashTable      *only;        /* pack hex -> (nothing), or NULL */
  GHashTable      *numbers;     /* pack hex -> number + 1 */
  GVariantBuilder *packs;
  GVariantBuilder *entries;
} ReferenceData;

static void
reference_cb (const CofferIndexEntry *entry, const guint8 *pack_id, gpointer user_data)
{
  ReferenceData *data = user_data;
  g_autoptr(GString) hex = g_string_new (NULL);
  guint number;

  for (guint i = 0; i < COFFER_ID_BYTES; i++)
    g_string_append_printf (hex, "%02x", pack_id[i]);
  if (data->only != NULL && !g_hash_table_contains (data->only, hex->str))
    return;
  number = GPOINTER_TO_UINT (g_hash_table_lookup (data->numbers, hex->str));
  if (number == 0)
    {
      number = g_hash_table_size (data->numbers) + 1;
      g_hash_table_insert (data->numbers, g_strdup (hex->str), GUINT_TO_POINTER (number));
      g_variant_builder_add_value (data->packs,
                                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, pack_id,
                                                              COFFER_ID_BYTES, 1));
    }
  g_variant_builder_add (data->entries, "(@ayyuuuu)",
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, entry->id, COFFER_ID_BYTES, 1),
                         (guint8) entry->type, (guint32) (number - 1),
                         entry->offset, entry->length, entry->raw_length);
}

static GBytes *
reference_serialize (CofferIndex *index, GHashTable *only, const char * const *supersedes)
{
  static const char * const none[] = { NULL };
  g_autoptr(GHashTable) numbers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GVariantBuilder packs, entries;
  ReferenceData data = { only, numbers, &packs, &entries };
  g_autoptr(GVariant) v = NULL;

  g_variant_builder_init (&packs, G_VARIANT_TYPE ("aay"));
  g_variant_builder_init (&entries, G_VARIANT_TYPE ("a(ayyuuuu)"));
  coffer_index_foreach (index, reference_cb, &data);
  v = g_variant_ref_sink (g_variant_new ("(u@aay@a(ayyuuuu)^as)", (guint32) 1,
                                         g_variant_builder_end (&packs),
                                         g_variant_builder_end (&entries),
                                         supersedes != NULL ? supersedes : none));
  if (G_BYTE_ORDER == G_BIG_ENDIAN)
    {
      g_autoptr(GVariant) swapped = g_variant_byteswap (v);
      return g_variant_get_data_as_bytes (swapped);
    }
  return g_variant_get_data_as_bytes (v);
}

/* coffer_index_serialize writes GVariant's normal form itself: byte for
 * byte what GLib's serialiser makes, for empty, small (1-byte framing
 * offsets), middle (2-byte) and large (4-byte) objects, with and without
 * superseded names and a pack filter, alternates included. */
static void
test_index_gvariant_exact (void)
{
  const guint sizes[] = { 0, 1, 3, 4, 100, 1100, 1200, 5000 };
  const char *names[] = { "00ff", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL };
  const char *empty[] = { NULL };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (guint variant = 0; variant < 4; variant++)
      {
        g_autoptr(CofferIndex) index = coffer_index_new ();
        g_autoptr(GHashTable) only = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
        const char * const *supersedes = variant == 1 ? names : variant == 2 ? empty : NULL;
        g_autoptr(GBytes) mine = NULL;
        g_autoptr(GBytes) theirs = NULL;

        add_standard (index, 0, sizes[s]);
        if (sizes[s] > 2)
          {
            guint8 id[COFFER_ID_BYTES], p5[COFFER_ID_BYTES];

            make_id (id, 1, 0);
            make_pack (p5, 5);
            coffer_index_add (index, id, COFFER_BLOB_DATA, p5, 7, 8, 9);
          }
        if (variant == 3)
          {
            g_hash_table_add (only, pack_hex (5));
            g_hash_table_add (only, pack_hex (6));
          }
        mine = coffer_index_serialize (index, variant == 3 ? only : NULL, supersedes);
        theirs = reference_serialize (index, variant == 3 ? only : NULL, supersedes);
        g_assert_cmpmem (g_bytes_get_data (mine, NULL), g_bytes_get_size (mine),
                         g_bytes_get_data (theirs, NULL), g_bytes_get_size (theirs));
      }
}

static void
test_index_serialize (void)
{
  g_autoptr(CofferIndex) index = coffer_index_new ();
  g_autoptr(CofferIndex) copy = coffer_index_new ();
  g_autoptr(CofferIndex) part = coffer_index_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) part_bytes = NULL;
  g_autoptr(GHashTable) only = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) supersedes = NULL;
  g_autoptr(GString) d1 = NULL;
  g_autoptr(GString) d2 = NULL;
  const char *names[] = { "00ff", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL };
  guint8 id[COFFER_ID_BYTES], p5[COFFER_ID_BYTES];
  guint count;

  add_standard (index, 0, 5000);
  /* A blob also present in a second pack must survive the round trip. */
  make_id (id, 1, 0);
  make_pack (p5, 5);
  coffer_index_add (index, id, COFFER_BLOB_DATA, p5, 7, 8, 9);

  bytes = coffer_index_serialize (index, NULL, names);
  g_assert_true (coffer_index_merge (copy, bytes, &supersedes, &error));
  g_assert_no_error (error);
  g_assert_cmpstrv (supersedes, names);
  g_assert_cmpuint (coffer_index_get_n_blobs (copy), ==, 5000);
  for (guint32 i = 0; i < 5000; i += 13)
    assert_standard (copy, i);
  d1 = dump_index (index, &count);
  d2 = dump_index (copy, NULL);
  g_assert_cmpuint (count, ==, 5001);
  g_assert_true (g_string_equal (d1, d2));

  /* Merging the same object again changes nothing. */
  g_clear_pointer (&supersedes, g_strfreev);
  g_assert_true (coffer_index_merge (copy, bytes, NULL, &error));
  g_assert_no_error (error);
  g_string_free (d2, TRUE);
  d2 = dump_index (copy, NULL);
  g_assert_true (g_string_equal (d1, d2));

  /* Only some packs: exactly their blobs, including the second location. */
  g_hash_table_add (only, pack_hex (5));
  g_hash_table_add (only, pack_hex (6));
  part_bytes = coffer_index_serialize (index, only, NULL);
  g_assert_true (coffer_index_merge (part, part_bytes, &supersedes, &error));
  g_assert_no_error (error);
  g_assert_nonnull (supersedes);
  g_assert_cmpuint (g_strv_length (supersedes), ==, 0);
  g_assert_cmpuint (coffer_index_get_n_packs (part), ==, 2);
  for (guint32 i = 0; i < 5000; i++)
    {
      if (i % N_PACKS == 5 || i % N_PACKS == 6)
        assert_standard (part, i);
      else if (i != 1)
        assert_absent (part, i, 0);
    }
  {
    CofferIndexEntry entry;

    g_assert_true (coffer_index_lookup (part, id, &entry));
    g_assert_cmpmem (coffer_index_get_pack_id (part, entry.pack), 32, p5, 32);
    g_assert_cmpuint (entry.offset, ==, 7);
  }

  /* An empty index serialises to a valid, empty object. */
  {
    g_autoptr(CofferIndex) empty = coffer_index_new ();
    g_autoptr(CofferIndex) target = coffer_index_new ();
    g_autoptr(GBytes) eb = coffer_index_serialize (empty, NULL, NULL);

    g_assert_true (coffer_index_merge (target, eb, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (coffer_index_get_n_blobs (target), ==, 0);
  }
}

static GBytes *
make_object (guint32 version, guint n_packs, guint id_len, guint8 type,
             guint32 pack, const char *name)
{
  GVariantBuilder packs, entries, names;
  guint8 id[64] = { 1, 2, 3 };
  g_autoptr(GVariant) v = NULL;

  g_variant_builder_init (&packs, G_VARIANT_TYPE ("aay"));
  for (guint i = 0; i < n_packs; i++)
    {
      guint8 p[COFFER_ID_BYTES];

      make_pack (p, i);
      g_variant_builder_add_value (&packs, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, p, 32, 1));
    }
  g_variant_builder_init (&entries, G_VARIANT_TYPE ("a(ayyuuuu)"));
  g_variant_builder_add (&entries, "(@ayyuuuu)",
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, id, id_len, 1),
                         type, pack, 1, 2, 3);
  g_variant_builder_init (&names, G_VARIANT_TYPE ("as"));
  if (name != NULL)
    g_variant_builder_add (&names, "s", name);
  v = g_variant_ref_sink (g_variant_new ("(uaaya(ayyuuuu)as)", version, &packs, &entries, &names));
  return g_variant_get_data_as_bytes (v);
}

static void
assert_merge_fails (GBytes *bytes, gint code)
{
  g_autoptr(CofferIndex) index = coffer_index_new ();
  g_autoptr(GError) error = NULL;
  char **supersedes = (char **) "untouched";

  g_assert_false (coffer_index_merge (index, bytes, &supersedes, &error));
  g_assert_error (error, COFFER_REPO_ERROR, code);
  g_assert_null (supersedes);
  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, 0);
}

/* Merges plain with index objects read fast or the GVariant way; the
 * result's serialised form and names, or its error. */
static GBytes *
merge_way (GBytes *plain, gboolean fast, GStrv *names, GError **error)
{
  g_autoptr(CofferIndex) index = coffer_index_new ();

  _coffer_index_set_fast_read (fast);
  if (!coffer_index_merge (index, plain, names, error))
    return NULL;
  return coffer_index_serialize (index, NULL, (const char * const *) *names);
}

static void
assert_ways_agree (GBytes *plain)
{
  g_autoptr(GError) e1 = NULL, e2 = NULL;
  g_auto(GStrv) n1 = NULL, n2 = NULL;
  g_autoptr(GBytes) fast = merge_way (plain, TRUE, &n1, &e1);
  g_autoptr(GBytes) slow = merge_way (plain, FALSE, &n2, &e2);

  _coffer_index_set_fast_read (TRUE);
  if (slow == NULL)
    {
      g_assert_null (fast);
      g_assert_nonnull (e1);
      g_assert_error (e1, e2->domain, e2->code);
      g_assert_cmpstr (e1->message, ==, e2->message);
      return;
    }
  g_assert_no_error (e1);
  g_assert_true (g_bytes_equal (fast, slow));
  g_assert_true (g_strv_equal ((const char * const *) n1, (const char * const *) n2));
}

/* coffer_index_merge reads objects without GVariant when they are in the
 * normal form coffer_index_serialize writes (docs/PERFORMANCE.md "Reading
 * index objects"), and the GVariant way otherwise: on valid objects of
 * every framing size and on thousands of damaged ones (random bytes,
 * framing offsets, truncation, extension, ids of other lengths) both ways
 * must accept the same objects with the same content and refuse the rest
 * with the same message. */
static void
test_index_fast_read_agrees (void)
{
  const guint sizes[] = { 0, 1, 4, 100, 1200, 5000 };
  const char *names[] = { "00ff", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL };
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261205);

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (guint with_names = 0; with_names < 2; with_names++)
      {
        g_autoptr(CofferIndex) index = coffer_index_new ();
        g_autoptr(GBytes) valid = NULL;
        const guint8 *data;
        gsize size;
        guint before = _coffer_index_get_fast_reads ();

        add_standard (index, 0, sizes[s]);
        valid = coffer_index_serialize (index, NULL, with_names ? names : NULL);
        assert_ways_agree (valid);
        g_assert_cmpuint (_coffer_index_get_fast_reads (), ==, before + 1);
        data = g_bytes_get_data (valid, &size);
        for (guint m = 0; m < 400; m++)
          {
            g_autofree guint8 *copy = g_malloc (size + 8);
            g_autoptr(GBytes) damaged = NULL;
            gsize len = size;
            guint kind = g_rand_int_range (rand, 0, 5);

            memcpy (copy, data, size);
            if (kind == 0 && size > 0)        /* any byte */
              copy[g_rand_int_range (rand, 0, size)] = g_rand_int_range (rand, 0, 256);
            else if (kind == 1 && size > 0)   /* the framing at the end */
              {
                gsize back = g_rand_int_range (rand, 0, MIN (size, 24));
                copy[size - 1 - back] ^= 1 << g_rand_int_range (rand, 0, 8);
              }
            else if (kind == 2)               /* cut short */
              len = g_rand_int_range (rand, 0, size + 1);
            else if (kind == 3)               /* longer */
              {
                gsize extra = g_rand_int_range (rand, 1, 9);
                memset (copy + size, g_rand_int_range (rand, 0, 2) ? 0 : 0x35, extra);
                len = size + extra;
              }
            else if (size > 8)                /* an entry's bytes */
              {
                gsize at = 4 + 32 * (sizes[s] > 0) + g_rand_int_range (rand, 0, 56 * 2);
                copy[MIN (size - 1, at)] ^= 0x10;
              }
            damaged = g_bytes_new (copy, len);
            assert_ways_agree (damaged);
          }
      }

  /* Ids of other lengths: valid GVariant, refused by both ways alike. */
  for (guint bad = 0; bad < 2; bad++)
    {
      guint8 id[40] = { 1 };
      GVariantBuilder packs, entries;
      g_autoptr(GVariant) v = NULL;
      static const char * const none[] = { NULL };

      g_variant_builder_init (&packs, G_VARIANT_TYPE ("aay"));
      g_variant_builder_init (&entries, G_VARIANT_TYPE ("a(ayyuuuu)"));
      g_variant_builder_add_value (&packs, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, id,
                                                                       bad == 0 ? 31 : 32, 1));
      g_variant_builder_add (&entries, "(@ayyuuuu)",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, id, bad == 1 ? 33 : 32, 1),
                             (guint8) COFFER_BLOB_DATA, 0u, 0u, 1u, 1u);
      v = g_variant_ref_sink (g_variant_new ("(u@aay@a(ayyuuuu)^as)", (guint32) 1,
                                             g_variant_builder_end (&packs),
                                             g_variant_builder_end (&entries), none));
      {
        g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (v);
        g_autoptr(GError) error = NULL;
        g_autoptr(CofferIndex) index = coffer_index_new ();

        assert_ways_agree (bytes);
        g_assert_false (coffer_index_merge (index, bytes, NULL, &error));
        g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
      }
    }
}

static void
test_index_hostile (void)
{
  g_autoptr(CofferIndex) index = coffer_index_new ();
  g_autoptr(GBytes) good = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  const guint8 *data;
  gsize len;

  /* The helper builds a valid object. */
  {
    g_autoptr(GBytes) ok = make_object (1, 2, 32, COFFER_BLOB_DATA, 1, "abcd");
    g_autoptr(CofferIndex) target = coffer_index_new ();
    g_autoptr(GError) error = NULL;

    g_assert_true (coffer_index_merge (target, ok, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (coffer_index_get_n_blobs (target), ==, 1);
  }

  {
    g_autoptr(GBytes) b = make_object (2, 2, 32, COFFER_BLOB_DATA, 1, NULL);
    assert_merge_fails (b, COFFER_REPO_ERROR_UNSUPPORTED_VERSION);
  }
  {
    g_autoptr(GBytes) b = make_object (1, 2, 32, COFFER_BLOB_DATA, 2, NULL);
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    g_autoptr(GBytes) b = make_object (1, 0, 32, COFFER_BLOB_DATA, 0, NULL);
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    g_autoptr(GBytes) b = make_object (1, 1, 31, COFFER_BLOB_DATA, 0, NULL);
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    g_autoptr(GBytes) b = make_object (1, 1, 33, COFFER_BLOB_DATA, 0, NULL);
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    g_autoptr(GBytes) b = make_object (1, 1, 32, 3, 0, NULL);
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    g_autoptr(GBytes) b = make_object (1, 1, 32, 0, 0, NULL);
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    g_autoptr(GBytes) b = make_object (1, 1, 32, COFFER_BLOB_DATA, 0, "../../keys");
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    g_autoptr(GBytes) b = make_object (1, 1, 32, COFFER_BLOB_DATA, 0, "");
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    /* A bad pack id in the pack list. */
    g_autoptr(GVariant) v = g_variant_ref_sink (
      g_variant_new_parsed ("(@u 1, [@ay [1, 2]], @a(ayyuuuu) [], @as [])"));
    g_autoptr(GBytes) b = g_variant_get_data_as_bytes (v);
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }
  {
    g_autoptr(GBytes) b = g_bytes_new_static ("", 0);
    assert_merge_fails (b, COFFER_REPO_ERROR_CORRUPT);
  }

  /* Every truncation of a real object, and random corruption of it. */
  add_standard (index, 0, 20);
  good = coffer_index_serialize (index, NULL, (const char *[]) { "ab", NULL });
  data = g_bytes_get_data (good, &len);
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr(GBytes) b = g_bytes_new (data, cut);
      g_autoptr(CofferIndex) target = coffer_index_new ();
      g_autoptr(GError) error = NULL;

      /* A truncation may by chance still parse; it must never crash, and
       * on failure nothing may have been added. */
      if (!coffer_index_merge (target, b, NULL, &error))
        {
          g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
          g_assert_cmpuint (coffer_index_get_n_blobs (target), ==, 0);
        }
    }
  for (guint round = 0; round < 2000; round++)
    {
      g_autofree guint8 *copy = g_memdup2 (data, len);
      g_autoptr(GBytes) b = NULL;
      g_autoptr(CofferIndex) target = coffer_index_new ();
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) names = NULL;

      for (guint k = 0; k < 1 + round % 4; k++)
        copy[g_rand_int_range (rand, 0, len)] = g_rand_int_range (rand, 0, 256);
      b = g_bytes_new_take (g_steal_pointer (&copy), len);
      if (coffer_index_merge (target, b, &names, &error))
        {
          CofferIndexEntry entry;
          guint64 n = coffer_index_get_n_blobs (target);

          g_assert_no_error (error);
          g_assert_cmpuint (n, <=, 20);
          /* Whatever was accepted is consistent. */
          for (guint32 i = 0; i < 20; i++)
            {
              guint8 id[COFFER_ID_BYTES];

              make_id (id, i, 0);
              if (coffer_index_lookup (target, id, &entry))
                g_assert_nonnull (coffer_index_get_pack_id (target, entry.pack));
            }
        }
      else
        g_assert_nonnull (error);
    }
  /* Pure garbage. */
  for (guint round = 0; round < 500; round++)
    {
      gsize glen = g_rand_int_range (rand, 0, 600);
      guint8 *garbage = g_malloc (glen + 1);
      g_autoptr(GBytes) b = NULL;
      g_autoptr(CofferIndex) target = coffer_index_new ();
      g_autoptr(GError) error = NULL;

      for (gsize k = 0; k < glen; k++)
        garbage[k] = g_rand_int_range (rand, 0, 256);
      b = g_bytes_new_take (garbage, glen);
      if (!coffer_index_merge (target, b, NULL, &error))
        g_assert_nonnull (error);
    }
}

static void
test_index_save_load (void)
{
  g_autofree char *dir = coffer_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "index.cache", NULL);
  g_autofree char *empty_path = g_build_filename (dir, "empty.cache", NULL);
  g_autoptr(CofferIndex) index = coffer_index_new ();
  g_autoptr(CofferIndex) loaded = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) d1 = NULL;
  g_autoptr(GString) d2 = NULL;
  guint8 id[COFFER_ID_BYTES], p5[COFFER_ID_BYTES];

  add_standard (index, 0, 30000);
  make_id (id, 1, 0);
  make_pack (p5, 5);
  coffer_index_add (index, id, COFFER_BLOB_DATA, p5, 7, 8, 9);
  g_assert_true (coffer_index_save (index, path, &error));
  g_assert_no_error (error);

  loaded = coffer_index_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  g_assert_cmpuint (coffer_index_get_n_blobs (loaded), ==, 30000);
  g_assert_cmpuint (coffer_index_get_n_packs (loaded), ==, N_PACKS);
  for (guint32 i = 0; i < 30000; i++)
    assert_standard (loaded, i);
  assert_absent (loaded, 3, 9);
  d1 = dump_index (index, NULL);
  d2 = dump_index (loaded, NULL);
  g_assert_true (g_string_equal (d1, d2));

  /* The loaded index keeps working: adds, merges, removal of a pack. */
  add_standard (loaded, 30000, 20000);
  for (guint32 i = 0; i < 50000; i += 3)
    assert_standard (loaded, i);
  {
    g_autoptr(GHashTable) remove = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    CofferIndexEntry entry;

    g_hash_table_add (remove, pack_hex (1));
    coffer_index_remove_packs (loaded, remove);
    g_assert_true (coffer_index_lookup (loaded, id, &entry));
    g_assert_cmpmem (coffer_index_get_pack_id (loaded, entry.pack), 32, p5, 32);
  }

  /* An empty index round-trips too. */
  {
    g_autoptr(CofferIndex) empty = coffer_index_new ();
    g_autoptr(CofferIndex) back = NULL;

    g_assert_true (coffer_index_save (empty, empty_path, &error));
    g_assert_no_error (error);
    back = coffer_index_load (empty_path, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (coffer_index_get_n_blobs (back), ==, 0);
    assert_absent (back, 1, 0);
  }

  coffer_test_rmtree (dir);
}

static void
assert_load_fails (const char *path, const guint8 *data, gsize len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferIndex) index = NULL;

  g_assert_true (g_file_set_contents (path, (const char *) data, len, NULL));
  index = coffer_index_load (path, &error);
  g_assert_null (index);
  g_assert_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT);
}

static void
test_index_corrupt_cache (void)
{
  g_autofree char *dir = coffer_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "index.cache", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.cache", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.cache", NULL);
  g_autoptr(CofferIndex) index = coffer_index_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  add_standard (index, 0, 200);
  g_assert_true (coffer_index_save (index, path, &error));
  g_assert_true (g_file_get_contents (path, &contents, &len, &error));

  /* Missing: the file error, so the caller can tell "no cache yet". */
  g_assert_null (coffer_index_load (missing, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  /* Truncated anywhere, or one byte longer. */
  for (gsize cut = 0; cut < len; cut += (cut < 200 ? 1 : 97))
    assert_load_fails (bad, (const guint8 *) contents, cut);
  {
    g_autofree char *longer = g_malloc0 (len + 1);

    memcpy (longer, contents, len);
    assert_load_fails (bad, (const guint8 *) longer, len + 1);
  }

  /* One flipped bit anywhere. */
  for (gsize pos = 0; pos < len; pos += (pos < 100 ? 1 : 53))
    {
      g_autofree guint8 *copy = g_memdup2 (contents, len);

      copy[pos] ^= 0x10;
      assert_load_fails (bad, copy, len);
    }

  /* An intact file still loads. */
  {
    g_autoptr(CofferIndex) ok = coffer_index_load (path, &error);

    g_assert_no_error (error);
    assert_standard (ok, 199);
  }

  coffer_test_rmtree (dir);
}

static void
test_index_remove_packs (void)
{
  g_autoptr(CofferIndex) index = coffer_index_new ();
  g_autoptr(GHashTable) remove = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint expected = 0;

  add_standard (index, 0, 20000);
  /* Unknown names are ignored; nothing changes. */
  g_hash_table_add (remove, g_strdup ("00"));
  coffer_index_remove_packs (index, remove);
  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, 20000);

  for (guint p = 0; p < N_PACKS; p += 3)
    g_hash_table_add (remove, pack_hex (p));
  /* Some entries still pending when the packs are removed. */
  add_standard (index, 20000, 500);
  coffer_index_remove_packs (index, remove);

  for (guint32 i = 0; i < 20500; i++)
    {
      if (i % N_PACKS % 3 == 0)
        assert_absent (index, i, 0);
      else
        {
          assert_standard (index, i);
          expected++;
        }
    }
  g_assert_cmpuint (coffer_index_get_n_blobs (index), ==, expected);
  g_assert_cmpuint (coffer_index_get_n_packs (index), ==, N_PACKS - (N_PACKS + 2) / 3);

  /* Adding to a removed pack again works (a fresh pack number). */
  add_standard (index, 0, 1);
  assert_standard (index, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);

  g_test_add_func ("/index/add-lookup", test_index_add_lookup);
  g_test_add_func ("/index/duplicates", test_index_duplicates);
  g_test_add_func ("/index/concurrency", test_index_concurrency);
  g_test_add_func ("/index/serialize", test_index_serialize);
  g_test_add_func ("/index/gvariant-exact", test_index_gvariant_exact);
  g_test_add_func ("/index/hostile", test_index_hostile);
  g_test_add_func ("/index/fast-read-agrees", test_index_fast_read_agrees);
  g_test_add_func ("/index/save-load", test_index_save_load);
  g_test_add_func ("/index/corrupt-cache", test_index_corrupt_cache);
  g_test_add_func ("/index/remove-packs", test_index_remove_packs);

  return g_test_run ();
}
