/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The local store, through the POSIX fast path and through GIO (the code
 * that serves GVfs locations), with the same checks. */
#include "coffer-store-private.h"
#include "coffer-error.h"
#include "coffer-secret.h"
#include "test-utils.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <glib/gstdio.h>

typedef struct
{
  char *dir;
  CofferStore *store;
} Fixture;

static void
setup (Fixture *f, gconstpointer use_gio)
{
  g_autoptr(GFile) root = NULL;

  f->dir = coffer_test_mkdtemp ();
  root = g_file_new_for_path (f->dir);
  f->store = coffer_store_local_new (root);
  coffer_store_local_set_use_gio (COFFER_STORE_LOCAL (f->store), GPOINTER_TO_INT (use_gio));
}

static void
teardown (Fixture *f, gconstpointer use_gio)
{
  g_clear_object (&f->store);
  coffer_test_rmtree (f->dir);
  g_free (f->dir);
}

static GBytes *
bytes_str (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static void
assert_content (CofferStore *store, const char *name, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = coffer_store_get (store, name, 0, 0, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), expected,
                   strlen (expected));
}

static void
test_create_replace (Fixture *f, gconstpointer use_gio)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) a = bytes_str ("first version");
  g_autoptr(GBytes) b = bytes_str ("second");
  guint64 size = 0;

  g_assert_true (coffer_store_put (f->store, "categories/c1/packs/ab/abcdef", a,
                                   COFFER_PUT_CREATE, NULL, &error));
  g_assert_no_error (error);
  assert_content (f->store, "categories/c1/packs/ab/abcdef", "first version");

  g_assert_false (coffer_store_put (f->store, "categories/c1/packs/ab/abcdef", b,
                                    COFFER_PUT_CREATE, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS);
  g_clear_error (&error);
  assert_content (f->store, "categories/c1/packs/ab/abcdef", "first version");

  g_assert_true (coffer_store_put (f->store, "categories/c1/packs/ab/abcdef", b,
                                   COFFER_PUT_REPLACE, NULL, &error));
  g_assert_no_error (error);
  assert_content (f->store, "categories/c1/packs/ab/abcdef", "second");
  g_assert_true (coffer_store_stat (f->store, "categories/c1/packs/ab/abcdef", &size, NULL,
                                    &error));
  g_assert_cmpuint (size, ==, 6);

  /* Replacing a name that does not exist yet creates it. */
  g_assert_true (coffer_store_put (f->store, "config", a, COFFER_PUT_REPLACE, NULL, &error));
  assert_content (f->store, "config", "first version");
}

static void
test_ranged_get (Fixture *f, gconstpointer use_gio)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = bytes_str ("0123456789abcdef");
  g_autoptr(GBytes) part = NULL;
  g_autoptr(GBytes) tail = NULL;
  g_autoptr(GBytes) bad = NULL;

  g_assert_true (coffer_store_put (f->store, "obj", data, COFFER_PUT_CREATE, NULL, &error));
  part = coffer_store_get (f->store, "obj", 4, 5, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (part, NULL), g_bytes_get_size (part), "45678", 5);
  tail = coffer_store_get (f->store, "obj", 10, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (tail, NULL), g_bytes_get_size (tail), "abcdef", 6);

  bad = coffer_store_get (f->store, "obj", 10, 7, NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
}

/* read_into: exactly the range into the caller's buffer and nothing
 * beyond it, directly and through the retrying layer (which remote stores
 * are wrapped in); a range past the end and a missing object are the same
 * errors as for get. */
static void
test_read_into (Fixture *f, gconstpointer use_gio)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = bytes_str ("0123456789abcdef");
  g_autoptr(CofferStore) retry = coffer_store_retry_new (f->store, 0, 0);
  CofferStore *stores[] = { f->store, retry };
  guint8 buf[8];

  g_assert_true (coffer_store_put (f->store, "obj", data, COFFER_PUT_CREATE, NULL, &error));
  for (guint i = 0; i < G_N_ELEMENTS (stores); i++)
    {
      memset (buf, 'x', sizeof buf);
      g_assert_true (coffer_store_read_into (stores[i], "obj", 4, 5, buf, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (buf, 6, "45678x", 6);
      g_assert_true (coffer_store_read_into (stores[i], "obj", 15, 1, buf, NULL, &error));
      g_assert_cmpint (buf[0], ==, 'f');

      g_assert_false (coffer_store_read_into (stores[i], "obj", 10, 7, buf, NULL, &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
      g_clear_error (&error);
      g_assert_false (coffer_store_read_into (stores[i], "missing", 0, 1, buf, NULL, &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
      g_clear_error (&error);
    }
}

static gboolean
collect (const char *name, guint64 size, gpointer user_data)
{
  g_hash_table_insert (user_data, g_strdup (name), GSIZE_TO_POINTER ((gsize) size));
  return TRUE;
}

static gboolean
stop_after_one (const char *name, guint64 size, gpointer user_data)
{
  (*(int *) user_data)++;
  return FALSE;
}

static void
test_list (Fixture *f, gconstpointer use_gio)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GBytes) data = bytes_str ("xyz");
  g_autoptr(GBytes) data2 = bytes_str ("hello");
  g_autofree char *tmp = NULL;
  const char *names[] = { "categories/a/packs/00/0011", "categories/a/packs/01/0122",
                          "categories/a/snapshots/s1", "categories/b/packs/00/0033", "config" };
  int calls = 0;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_assert_true (coffer_store_put (f->store, names[i], i == 1 ? data2 : data,
                                     COFFER_PUT_CREATE, NULL, &error));
  /* A temporary file left by a crashed writer is never listed. */
  tmp = g_build_filename (f->dir, "categories/a/packs/00/.tmp-deadbeef", NULL);
  g_assert_true (g_file_set_contents (tmp, "partial", -1, NULL));

  g_assert_true (coffer_store_list (f->store, "categories/a/packs/", collect, seen, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (seen), ==, 2);
  g_assert_true (g_hash_table_contains (seen, "categories/a/packs/00/0011"));
  g_assert_cmpuint (GPOINTER_TO_SIZE (g_hash_table_lookup (seen, "categories/a/packs/01/0122")),
                    ==, 5);

  g_hash_table_remove_all (seen);
  g_assert_true (coffer_store_list (f->store, "categories/a/packs/0", collect, seen, NULL, &error));
  g_assert_cmpuint (g_hash_table_size (seen), ==, 2);

  g_hash_table_remove_all (seen);
  g_assert_true (coffer_store_list (f->store, "categories/a/packs/01", collect, seen, NULL, &error));
  g_assert_cmpuint (g_hash_table_size (seen), ==, 1);

  g_hash_table_remove_all (seen);
  g_assert_true (coffer_store_list (f->store, "", collect, seen, NULL, &error));
  g_assert_cmpuint (g_hash_table_size (seen), ==, G_N_ELEMENTS (names));

  g_hash_table_remove_all (seen);
  g_assert_true (coffer_store_list (f->store, "nothing/here/", collect, seen, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (seen), ==, 0);

  g_assert_true (coffer_store_list (f->store, "", stop_after_one, &calls, NULL, &error));
  g_assert_cmpint (calls, ==, 1);
}

static void
test_delete_not_found (Fixture *f, gconstpointer use_gio)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = bytes_str ("xyz");
  g_autoptr(GBytes) got = NULL;

  g_assert_true (coffer_store_put (f->store, "a/b", data, COFFER_PUT_CREATE, NULL, &error));
  g_assert_true (coffer_store_delete (f->store, "a/b", NULL, &error));
  g_assert_no_error (error);

  got = coffer_store_get (f->store, "a/b", 0, 0, NULL, &error);
  g_assert_null (got);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (coffer_store_stat (f->store, "a/b", NULL, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (coffer_store_delete (f->store, "a/b", NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* A folder is not an object. */
  g_assert_false (coffer_store_stat (f->store, "a", NULL, NULL, &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
}

static void
test_invalid_names (Fixture *f, gconstpointer use_gio)
{
  const char *bad[] = { "", "/abs", "a/../b", "a//b", "dir/", ".tmp-x", "a/.tmp-y", ".." };
  g_autoptr(GBytes) data = bytes_str ("x");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (coffer_store_put (f->store, bad[i], data, COFFER_PUT_CREATE, NULL, &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
    }
}

typedef struct
{
  CofferStore *store;
  guint index;
  gint *wins;
  gint *exists;
} RaceArgs;

static gpointer
race_thread (gpointer data)
{
  RaceArgs *a = data;
  g_autofree char *content = g_strdup_printf ("writer %u", a->index);
  g_autoptr(GBytes) bytes = g_bytes_new (content, strlen (content));
  g_autoptr(GError) error = NULL;

  if (coffer_store_put (a->store, "race/object", bytes, COFFER_PUT_CREATE, NULL, &error))
    g_atomic_int_inc (a->wins);
  else if (g_error_matches (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS))
    g_atomic_int_inc (a->exists);
  return NULL;
}

static void
test_concurrent_create (Fixture *f, gconstpointer use_gio)
{
  for (guint round = 0; round < 20; round++)
    {
      GThread *threads[8];
      RaceArgs args[8];
      gint wins = 0, exists = 0;
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) got = NULL;
      g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

      for (guint i = 0; i < 8; i++)
        {
          args[i] = (RaceArgs) { f->store, i, &wins, &exists };
          threads[i] = g_thread_new ("race", race_thread, &args[i]);
        }
      for (guint i = 0; i < 8; i++)
        g_thread_join (threads[i]);
      g_assert_cmpint (wins, ==, 1);
      g_assert_cmpint (exists, ==, 7);
      got = coffer_store_get (f->store, "race/object", 0, 0, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_str_has_prefix (g_bytes_get_data (got, NULL), "writer "));
      /* No temporary files were left behind. */
      g_assert_true (coffer_store_list (f->store, "", collect, seen, NULL, &error));
      g_assert_cmpuint (g_hash_table_size (seen), ==, 1);
      {
        g_autofree char *d = g_build_filename (f->dir, "race", NULL);
        g_autoptr(GDir) dir = g_dir_open (d, 0, NULL);
        guint n = 0;
        while (g_dir_read_name (dir))
          n++;
        g_assert_cmpuint (n, ==, 1);
      }
      g_assert_true (coffer_store_delete (f->store, "race/object", NULL, &error));
    }
}

/* A full disk, simulated with RLIMIT_FSIZE in a child process: writes past
 * the limit fail with EFBIG, which the store reports like ENOSPC. (Mounting
 * a small tmpfs needs privileges that CI sandboxes may not grant.) */
static void
test_no_space (Fixture *f, gconstpointer use_gio)
{
  if (g_test_subprocess ())
    {
      struct rlimit rl = { 64 * 1024, 64 * 1024 };
      g_autoptr(GError) error = NULL;
      g_autofree char *big = g_malloc0 (1024 * 1024);
      g_autoptr(GBytes) data = g_bytes_new_take (g_steal_pointer (&big), 1024 * 1024);
      g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autofree char *d = g_build_filename (f->dir, "packs", NULL);
      g_autoptr(GDir) dir = NULL;

      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
      g_assert_false (coffer_store_put (f->store, "packs/big", data, COFFER_PUT_CREATE, NULL,
                                        &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE);
      g_assert_nonnull (strstr (error->message, "space"));
      g_clear_error (&error);
      g_assert_false (coffer_store_stat (f->store, "packs/big", NULL, NULL, &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
      /* No partial object or temporary file remains. */
      dir = g_dir_open (d, 0, NULL);
      g_assert_nonnull (dir);
      g_assert_null (g_dir_read_name (dir));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* Pages of path that are in the page cache. */
static gsize
resident_pages (const char *path, gsize len)
{
  gsize page = sysconf (_SC_PAGESIZE), n = (len + page - 1) / page, resident = 0;
  g_autofree unsigned char *vec = g_malloc (n);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  void *map;

  g_assert_cmpint (fd, >=, 0);
  map = mmap (NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  g_assert_true (map != MAP_FAILED);
  g_assert_cmpint (mincore (map, len, vec), ==, 0);
  for (gsize i = 0; i < n; i++)
    resident += vec[i] & 1;
  munmap (map, len);
  close (fd);
  return resident;
}

/* Whether the file system under dir takes O_DIRECT writes. */
static gboolean
takes_direct (const char *dir)
{
  g_autofree char *probe = g_build_filename (dir, "direct-probe", NULL);
  int fd = open (probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0600);

  if (fd < 0)
    {
      g_assert_cmpint (errno, ==, EINVAL);
      return FALSE;
    }
  close (fd);
  g_unlink (probe);
  return TRUE;
}

/* Packs (create-only, unsynced) whose buffer and length are aligned to
 * 4 KiB are written with O_DIRECT: they do not pass through the page
 * cache (checked with mincore where the file system takes O_DIRECT);
 * anything unaligned is written normally; both read back exactly, also
 * after the group flush. */
static void
test_direct_packs (Fixture *f, gconstpointer use_gio)
{
  const gsize len = 256 * 1024;
  guint8 *aligned = g_aligned_alloc (len, 1, 4096);
  g_autofree guint8 *unaligned = g_malloc (len + 1);
  g_autoptr(GBytes) a = NULL;
  g_autoptr(GBytes) u = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a_path = g_build_filename (f->dir, "packs", "aa", "aligned", NULL);
  gboolean direct = takes_direct (f->dir);

  for (gsize i = 0; i < len; i++)
    aligned[i] = unaligned[i + 1] = (guint8) (i * 31 + 7);
  a = g_bytes_new_with_free_func (aligned, len, g_aligned_free, aligned);
  u = g_bytes_new_static (unaligned + 1, len - 100);

  g_assert_true (coffer_store_put (f->store, "packs/aa/aligned", a, COFFER_PUT_CREATE_UNSYNCED, NULL,
                                   &error));
  g_assert_no_error (error);
  g_test_message ("O_DIRECT %s here; %zu of %zu pages cached after the put",
                  direct ? "taken" : "refused", resident_pages (a_path, len), len / 4096);
  if (direct)
    g_assert_cmpuint (resident_pages (a_path, len), ==, 0);
  g_assert_true (coffer_store_put (f->store, "packs/aa/unaligned", u, COFFER_PUT_CREATE_UNSYNCED,
                                   NULL, &error));
  g_assert_no_error (error);
  g_assert_true (coffer_store_flush (f->store, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 2; i++)
    {
      GBytes *want = i == 0 ? a : u;
      g_autoptr(GBytes) got = coffer_store_get (f->store, i == 0 ? "packs/aa/aligned" : "packs/aa/unaligned",
                                                0, 0, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (g_bytes_equal (got, want));
    }
  /* Create-only as before. */
  g_assert_false (coffer_store_put (f->store, "packs/aa/aligned", a, COFFER_PUT_CREATE_UNSYNCED, NULL,
                                    &error));
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS);
}

/* A full disk while a pack is written with O_DIRECT: NO_SPACE, and no
 * partial object or temporary file (RLIMIT_FSIZE, as in no-space). */
static void
test_no_space_direct (Fixture *f, gconstpointer use_gio)
{
  if (g_test_subprocess ())
    {
      struct rlimit rl = { 64 * 1024, 64 * 1024 };
      const gsize len = 1024 * 1024;
      guint8 *big = g_aligned_alloc0 (len, 1, 4096);
      g_autoptr(GBytes) data = g_bytes_new_with_free_func (big, len, g_aligned_free, big);
      g_autoptr(GError) error = NULL;
      g_autofree char *d = g_build_filename (f->dir, "packs", NULL);
      g_autoptr(GDir) dir = NULL;

      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
      g_assert_false (coffer_store_put (f->store, "packs/big", data, COFFER_PUT_CREATE_UNSYNCED, NULL,
                                        &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NO_SPACE);
      g_clear_error (&error);
      g_assert_false (coffer_store_stat (f->store, "packs/big", NULL, NULL, &error));
      g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND);
      dir = g_dir_open (d, 0, NULL);
      g_assert_nonnull (dir);
      g_assert_null (g_dir_read_name (dir));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_describe_and_open (void)
{
  g_autofree char *dir = coffer_test_mkdtemp ();
  g_autofree char *uri = g_filename_to_uri (dir, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CofferStore) a = coffer_store_open (dir, NULL, &error);
  g_autoptr(CofferStore) b = coffer_store_open (uri, NULL, &error);
  g_autofree char *da = coffer_store_describe (a);
  g_autofree char *db = coffer_store_describe (b);
  g_autoptr(CofferStore) bad = NULL;

  g_assert_no_error (error);
  g_assert_true (COFFER_IS_STORE_LOCAL (a));
  g_assert_cmpstr (da, ==, dir);
  g_assert_cmpstr (db, ==, dir);

  bad = coffer_store_open ("webdavs://user:hunter2pw@example.org/dav", NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
  g_assert_null (strstr (error->message, "hunter2pw"));
  g_clear_error (&error);
  bad = coffer_store_open ("https://example.org/dav", NULL, &error);
  g_assert_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID);
  coffer_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);

  for (int gio = 0; gio <= 1; gio++)
    {
      const char *kind = gio ? "gio" : "posix";
#define ADD(name, fn)                                                          \
      {                                                                        \
        g_autofree char *path = g_strdup_printf ("/store-local/%s/" name, kind); \
        g_test_add (path, Fixture, GINT_TO_POINTER (gio), setup, fn, teardown); \
      }
      ADD ("create-replace", test_create_replace);
      ADD ("ranged-get", test_ranged_get);
      ADD ("read-into", test_read_into);
      ADD ("list", test_list);
      ADD ("delete-not-found", test_delete_not_found);
      ADD ("invalid-names", test_invalid_names);
      ADD ("concurrent-create", test_concurrent_create);
#undef ADD
    }
  /* EFBIG reaches GIO as a generic failure: only the POSIX path can be
   * checked this way. */
  g_test_add ("/store-local/posix/no-space", Fixture, GINT_TO_POINTER (0), setup, test_no_space,
              teardown);
  g_test_add ("/store-local/posix/no-space-direct", Fixture, GINT_TO_POINTER (0), setup,
              test_no_space_direct, teardown);
  g_test_add ("/store-local/posix/direct-packs", Fixture, GINT_TO_POINTER (0), setup,
              test_direct_packs, teardown);
  {
    }
  g_test_add_func ("/store-local/describe-and-open", test_describe_and_open);
  return g_test_run ();
}
