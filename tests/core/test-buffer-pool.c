/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The buffer pool (coffer-buffer-pool.h): a buffer given back is handed
 * out again for any request it is large enough for, the pool keeps no
 * more than its limits, and buffers given back after the owner freed the
 * pool, or on other threads, are fine. */
#include "coffer-buffer-pool.h"

#include <string.h>

/* The same buffer again, for the same size and for a smaller one; a
 * larger request gets a new one. */
static void
test_reuse (void)
{
  CofferBufferPool *pool = _coffer_buffer_pool_new (2, 1 << 20, 4096);
  CofferPoolBuffer *a = _coffer_buffer_pool_take (pool, 5000);
  CofferPoolBuffer *b;
  guint8 *data = a->data;

  g_assert_cmpuint (a->capacity, ==, 8192);   /* rounded */
  memset (a->data, 7, a->capacity);
  _coffer_pool_buffer_give (a);
  b = _coffer_buffer_pool_take (pool, 8000);
  g_assert_true (b->data == data);
  _coffer_pool_buffer_give (b);
  b = _coffer_buffer_pool_take (pool, 100);
  g_assert_true (b->data == data);
  g_assert_cmpuint (_coffer_buffer_pool_get_made (pool), ==, 1);
  a = _coffer_buffer_pool_take (pool, 9000);
  g_assert_true (a->data != data);
  g_assert_cmpuint (_coffer_buffer_pool_get_made (pool), ==, 2);
  _coffer_pool_buffer_give (a);
  _coffer_pool_buffer_give (b);
  _coffer_buffer_pool_free (pool);
}

/* The smallest spare that fits is used, so a small request does not take
 * the large buffer a large one will need. */
static void
test_smallest_fit (void)
{
  CofferBufferPool *pool = _coffer_buffer_pool_new (4, 1 << 20, 1024);
  CofferPoolBuffer *big = _coffer_buffer_pool_take (pool, 64 * 1024);
  CofferPoolBuffer *small = _coffer_buffer_pool_take (pool, 2 * 1024);
  guint8 *big_data = big->data, *small_data = small->data;
  CofferPoolBuffer *got;

  _coffer_pool_buffer_give (big);
  _coffer_pool_buffer_give (small);
  got = _coffer_buffer_pool_take (pool, 1000);
  g_assert_true (got->data == small_data);
  _coffer_pool_buffer_give (got);
  got = _coffer_buffer_pool_take (pool, 10000);
  g_assert_true (got->data == big_data);
  _coffer_pool_buffer_give (got);
  _coffer_buffer_pool_free (pool);
}

/* At most max_spare buffers and max_spare_bytes are kept; when full, a
 * larger buffer given back replaces the smallest spare, a smaller one is
 * freed. */
static void
test_limits (void)
{
  CofferBufferPool *pool = _coffer_buffer_pool_new (2, 100 * 1024, 1024);
  CofferPoolBuffer *b[4];
  guint made;

  for (guint i = 0; i < 4; i++)
    b[i] = _coffer_buffer_pool_take (pool, (i + 1) * 10 * 1024);   /* 10, 20, 30, 40 KiB */
  for (guint i = 0; i < 4; i++)
    _coffer_pool_buffer_give (b[i]);
  made = _coffer_buffer_pool_get_made (pool);
  g_assert_cmpuint (made, ==, 4);
  /* Kept: the 30 and 40 KiB ones. */
  b[0] = _coffer_buffer_pool_take (pool, 25 * 1024);
  b[1] = _coffer_buffer_pool_take (pool, 35 * 1024);
  g_assert_cmpuint (_coffer_buffer_pool_get_made (pool), ==, made);
  b[2] = _coffer_buffer_pool_take (pool, 5 * 1024);
  g_assert_cmpuint (_coffer_buffer_pool_get_made (pool), ==, made + 1);
  for (guint i = 0; i < 3; i++)
    _coffer_pool_buffer_give (b[i]);

  /* Nothing larger than max_spare_bytes is kept. */
  b[0] = _coffer_buffer_pool_take (pool, 200 * 1024);
  _coffer_pool_buffer_give (b[0]);
  made = _coffer_buffer_pool_get_made (pool);
  b[0] = _coffer_buffer_pool_take (pool, 200 * 1024);
  g_assert_cmpuint (_coffer_buffer_pool_get_made (pool), ==, made + 1);
  _coffer_pool_buffer_give (b[0]);
  _coffer_buffer_pool_free (pool);
}

static gpointer
give_elsewhere (gpointer data)
{
  g_bytes_unref (data);
  return NULL;
}

/* Bytes freed on another thread, and after the owner freed the pool. */
static void
test_bytes_outlive (void)
{
  CofferBufferPool *pool = _coffer_buffer_pool_new (2, 1 << 20, 1024);
  CofferPoolBuffer *a = _coffer_buffer_pool_take (pool, 3000);
  CofferPoolBuffer *b = _coffer_buffer_pool_take (pool, 3000);
  guint8 *a_data = a->data;
  GBytes *bytes_a, *bytes_b;
  CofferPoolBuffer *again;

  memcpy (a->data, "abc", 3);
  memcpy (b->data, "xyz", 3);
  bytes_a = _coffer_pool_buffer_to_bytes (a, 3);
  bytes_b = _coffer_pool_buffer_to_bytes (b, 3);
  g_thread_join (g_thread_new ("give", give_elsewhere, bytes_a));
  again = _coffer_buffer_pool_take (pool, 3000);
  g_assert_true (again->data == a_data);
  _coffer_pool_buffer_give (again);
  _coffer_buffer_pool_free (pool);
  g_assert_cmpmem (g_bytes_get_data (bytes_b, NULL), g_bytes_get_size (bytes_b), "xyz", 3);
  g_bytes_unref (bytes_b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/buffer-pool/reuse", test_reuse);
  g_test_add_func ("/buffer-pool/smallest-fit", test_smallest_fit);
  g_test_add_func ("/buffer-pool/limits", test_limits);
  g_test_add_func ("/buffer-pool/bytes-outlive", test_bytes_outlive);
  return g_test_run ();
}
