/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The restore's pack reader (coffer-pack-reader.h): the bytes it returns
 * are exactly the store's, a restore of everything reads each pack once,
 * a restore of a few files reads no more than those files' blobs, and a
 * window that fails never hides a readable blob. */
#include "coffer-pack-reader.h"
#include "coffer-error.h"
#include "coffer-store-private.h"
#include "test-utils.h"

#include <sodium.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define N_BLOBS 200

typedef struct
{
  char         *dir;
  CofferStore  *store;
  CofferIndex  *index;
  GPtrArray    *names;    /* pack names */
  GPtrArray    *blobs;    /* GBytes per blob, by blob number */
  GArray       *where;    /* CofferIndexEntry per blob */
  guint64       area;     /* blob area of pack 0 */
} Fixture;

/* Writes a pack of n blobs of 1-3000 random bytes after 16 bytes of
 * something else and before a "header", and indexes them. */
static void
add_pack (Fixture *f, guint n)
{
  g_autoptr(GByteArray) file = g_byte_array_new ();
  guint8 pack_id[COFFER_ID_BYTES];
  g_autofree char *hex = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  guint8 filler[16] = { 0 };
  guint32 start;

  randombytes_buf (pack_id, sizeof pack_id);
  hex = coffer_hex_encode (pack_id, sizeof pack_id);
  name = g_strdup_printf ("packs/%.2s/%s", hex, hex);
  g_byte_array_append (file, filler, sizeof filler);
  start = file->len;
  for (guint i = 0; i < n; i++)
    {
      guint8 id[COFFER_ID_BYTES];
      gsize len = 1 + randombytes_uniform (3000);
      guint8 *data = g_malloc (len);
      CofferIndexEntry entry = { 0 };

      randombytes_buf (data, len);
      randombytes_buf (id, sizeof id);
      coffer_index_add (f->index, id, COFFER_BLOB_DATA, pack_id, file->len, len, len);
      g_assert_true (coffer_index_lookup (f->index, id, &entry));
      g_byte_array_append (file, data, len);
      g_ptr_array_add (f->blobs, g_bytes_new_take (data, len));
      g_array_append_val (f->where, entry);
      g_ptr_array_add (f->names, g_strdup (name));
    }
  if (f->area == 0)
    f->area = file->len - start;
  g_byte_array_append (file, (const guint8 *) "a header", 8);
  path = g_build_filename (f->dir, name, NULL);
  dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, (const char *) file->data, file->len, NULL));
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GFile) root = NULL;

  f->dir = coffer_test_mkdtemp ();
  root = g_file_new_for_path (f->dir);
  f->store = coffer_store_local_new (root);
  f->index = coffer_index_new ();
  f->names = g_ptr_array_new_with_free_func (g_free);
  f->blobs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  f->where = g_array_new (FALSE, FALSE, sizeof (CofferIndexEntry));
  add_pack (f, N_BLOBS);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_array_unref (f->where);
  g_ptr_array_unref (f->blobs);
  g_ptr_array_unref (f->names);
  coffer_index_free (f->index);
  g_clear_object (&f->store);
  coffer_test_rmtree (f->dir);
  g_free (f->dir);
}

static GBytes *
get (Fixture *f, CofferPackReader *reader, guint i, GError **error)
{
  const CofferIndexEntry *e = &g_array_index (f->where, CofferIndexEntry, i);

  return _coffer_pack_reader_get (reader, g_ptr_array_index (f->names, i), e->pack, e->offset, e->length,
                                  NULL, error);
}

static void
assert_blob (Fixture *f, CofferPackReader *reader, guint i)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = get (f, reader, i, &error);

  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, g_ptr_array_index (f->blobs, i)));
}

static guint *
shuffled (guint n)
{
  guint *order = g_new (guint, n);

  for (guint i = 0; i < n; i++)
    order[i] = i;
  for (guint i = n; i > 1; i--)
    {
      guint j = randombytes_uniform (i), t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
  return order;
}

static guint64
blob_len (Fixture *f, guint i)
{
  return g_array_index (f->where, CofferIndexEntry, i).length;
}

/* Restoring everything: one blob alone, then the pack's blob area once. */
static void
test_reads_most (Fixture *f, gconstpointer data)
{
  CofferPackReader *reader = _coffer_pack_reader_new (f->store, f->index, 2, TRUE);
  g_autofree guint *order = shuffled (N_BLOBS);
  guint64 requests, bytes;

  for (guint i = 0; i < N_BLOBS; i++)
    assert_blob (f, reader, order[i]);
  _coffer_pack_reader_get_stats (reader, &requests, &bytes);
  g_assert_cmpuint (requests, ==, 2);
  g_assert_cmpuint (bytes, ==, blob_len (f, order[0]) + f->area);
  _coffer_pack_reader_free (reader);
}

/* Restoring a few files: each blob alone, nothing more; the whole pack
 * only after MAX (4, blobs / 32) of its blobs. */
static void
test_few (Fixture *f, gconstpointer data)
{
  CofferPackReader *reader = _coffer_pack_reader_new (f->store, f->index, 2, FALSE);
  g_autofree guint *order = shuffled (N_BLOBS);
  guint enough = MAX (4, N_BLOBS / 32);
  guint64 requests, bytes, alone = 0;

  for (guint i = 0; i < enough; i++)
    {
      assert_blob (f, reader, order[i]);
      alone += blob_len (f, order[i]);
    }
  _coffer_pack_reader_get_stats (reader, &requests, &bytes);
  g_assert_cmpuint (requests, ==, enough);
  g_assert_cmpuint (bytes, ==, alone);
  for (guint i = enough; i < N_BLOBS; i++)
    assert_blob (f, reader, order[i]);
  _coffer_pack_reader_get_stats (reader, &requests, &bytes);
  g_assert_cmpuint (requests, ==, enough + 1);
  g_assert_cmpuint (bytes, ==, alone + f->area);
  _coffer_pack_reader_free (reader);
}

/* A pack cut short in the middle of its blob area: the whole read fails,
 * every blob before the cut is still served, each blob after it gets the
 * store's error about that blob, and the pack is not read whole again. */
static void
test_truncated_pack (Fixture *f, gconstpointer data)
{
  CofferPackReader *reader = _coffer_pack_reader_new (f->store, f->index, 2, TRUE);
  g_autofree char *path = g_build_filename (f->dir, (char *) g_ptr_array_index (f->names, 0), NULL);
  const CofferIndexEntry *mid = &g_array_index (f->where, CofferIndexEntry, N_BLOBS / 2);
  guint64 requests, bytes;

  g_assert_cmpint (truncate (path, mid->offset + 1), ==, 0);
  for (guint i = 0; i < N_BLOBS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) got = get (f, reader, i, &error);

      if (i < N_BLOBS / 2)
        {
          g_assert_no_error (error);
          g_assert_true (g_bytes_equal (got, g_ptr_array_index (f->blobs, i)));
        }
      else
        {
          g_assert_null (got);
          g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
        }
    }
  _coffer_pack_reader_get_stats (reader, &requests, &bytes);
  /* Blob 0 alone, one failed whole read, then every other blob alone. */
  g_assert_cmpuint (requests, ==, N_BLOBS + 1);
  _coffer_pack_reader_free (reader);
}

/* Three packs read in turns with room for one window: a pack pushed out
 * is read whole once more, then its blobs are read alone, so the reader
 * never reads more than twice the repository. */
static void
test_evicted (Fixture *f, gconstpointer data)
{
  CofferPackReader *reader = NULL;
  guint64 requests, bytes, total = 0;

  add_pack (f, N_BLOBS);
  add_pack (f, N_BLOBS);
  reader = _coffer_pack_reader_new (f->store, f->index, 1, TRUE);
  for (guint i = 0; i < 3 * N_BLOBS; i++)
    total += blob_len (f, i);
  for (guint k = 0; k < N_BLOBS; k++)
    for (guint p = 0; p < 3; p++)
      assert_blob (f, reader, p * N_BLOBS + k);
  _coffer_pack_reader_get_stats (reader, &requests, &bytes);
  g_assert_cmpuint (bytes, <=, 3 * total);
  g_assert_cmpuint (requests, >, 6);
  _coffer_pack_reader_free (reader);
}

/* Six packs read one after the other with room for one window: the
 * buffer a pushed-out window was read into is used for the next one
 * instead of fresh memory (docs/PERFORMANCE.md "Restore buffers"), and a
 * slice handed out stays valid after the reader is freed. */
static void
test_buffers_reused (Fixture *f, gconstpointer data)
{
  CofferPackReader *reader = NULL;
  g_autoptr(GBytes) kept = NULL;
  g_autoptr(GError) error = NULL;
  guint64 requests, bytes;

  for (guint p = 1; p < 6; p++)
    add_pack (f, N_BLOBS);
  reader = _coffer_pack_reader_new (f->store, f->index, 1, TRUE);
  for (guint i = 0; i < 6 * N_BLOBS; i++)
    assert_blob (f, reader, i);
  _coffer_pack_reader_get_stats (reader, &requests, &bytes);
  g_assert_cmpuint (requests, ==, 12);   /* per pack: its first blob, then the whole */
  g_assert_cmpuint (_coffer_pack_reader_get_buffers_made (reader), <=, 2);

  kept = get (f, reader, 5 * N_BLOBS + 7, &error);
  g_assert_no_error (error);
  _coffer_pack_reader_free (reader);
  g_assert_true (g_bytes_equal (kept, g_ptr_array_index (f->blobs, 5 * N_BLOBS + 7)));
}

typedef struct
{
  Fixture          *f;
  CofferPackReader *reader;
} ThreadData;

static gpointer
read_all (gpointer data)
{
  ThreadData *td = data;
  g_autofree guint *order = shuffled (N_BLOBS);

  for (guint i = 0; i < N_BLOBS; i++)
    assert_blob (td->f, td->reader, order[i]);
  return NULL;
}

/* Eight threads at once: the right bytes for each, and a thread that
 * needs the window another one is reading waits for it. */
static void
test_threads (Fixture *f, gconstpointer data)
{
  ThreadData td = { f, _coffer_pack_reader_new (f->store, f->index, 2, TRUE) };
  GThread *threads[8];
  guint64 requests, bytes;

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("reader", read_all, &td);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  _coffer_pack_reader_get_stats (td.reader, &requests, &bytes);
  /* At most each thread's first blob alone, and the pack whole once. */
  g_assert_cmpuint (requests, <=, G_N_ELEMENTS (threads) + 1);
  g_assert_cmpuint (bytes, <, 2 * f->area);
  _coffer_pack_reader_free (td.reader);
}

/* A window serves only the pack it was read from, whatever pack number
 * the caller gives (an index read again meanwhile could number packs
 * differently). */
static void
test_name_checked (Fixture *f, gconstpointer data)
{
  CofferPackReader *reader = _coffer_pack_reader_new (f->store, f->index, 2, TRUE);
  const CofferIndexEntry *e = &g_array_index (f->where, CofferIndexEntry, 2);
  g_autofree char *other = g_build_filename (f->dir, "packs", "zz", NULL);
  g_autofree char *other_file = g_build_filename (other, "other", NULL);
  gsize size = e->offset + e->length + 64;
  g_autofree guint8 *bytes = g_malloc (size);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;

  randombytes_buf (bytes, size);
  g_assert_cmpint (g_mkdir_with_parents (other, 0700), ==, 0);
  g_assert_true (g_file_set_contents (other_file, (const char *) bytes, size, NULL));
  assert_blob (f, reader, 0);
  assert_blob (f, reader, 1);   /* pack 0 is in memory now */
  got = _coffer_pack_reader_get (reader, "packs/zz/other", e->pack, e->offset, e->length, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), bytes + e->offset, e->length);
  _coffer_pack_reader_free (reader);
}

/* Cancelled: the answer, with no read behind it. */
static void
test_cancelled (Fixture *f, gconstpointer data)
{
  CofferPackReader *reader = _coffer_pack_reader_new (f->store, f->index, 2, TRUE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  const CofferIndexEntry *e = &g_array_index (f->where, CofferIndexEntry, 1);
  GBytes *got;

  assert_blob (f, reader, 0);
  g_cancellable_cancel (cancellable);
  got = _coffer_pack_reader_get (reader, g_ptr_array_index (f->names, 1), e->pack, e->offset, e->length,
                                 cancellable, &error);
  g_assert_null (got);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  _coffer_pack_reader_free (reader);
}

int
main (int argc, char **argv)
{
  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/pack-reader/reads-most", test_reads_most);
  ADD ("/pack-reader/few", test_few);
  ADD ("/pack-reader/truncated-pack", test_truncated_pack);
  ADD ("/pack-reader/evicted", test_evicted);
  ADD ("/pack-reader/buffers-reused", test_buffers_reused);
  ADD ("/pack-reader/threads", test_threads);
  ADD ("/pack-reader/name-checked", test_name_checked);
  ADD ("/pack-reader/cancelled", test_cancelled);
  return g_test_run ();
}
