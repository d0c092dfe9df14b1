/* SPDX-License-Identifier: GPL-3.0-or-later */
/* WebDAV replies (src/core/store/coffer-store-webdav.c): a hostile server answers
 * every request with the fuzz input (PROPFIND multistatus XML, error
 * bodies, odd statuses). The real store lists (walking collections), stats,
 * gets and deletes against it. A listing must end: a server that answers
 * the same document forever must not make the client recurse without end. */
#include "fuzz-http.h"
#include "coffer-store.h"
#include "coffer-store-private.h"

static CofferStore *store;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autofree char *base = NULL;
  g_autoptr(GError) error = NULL;

  fuzz_setup ();
  base = g_strconcat (fuzz_http_start (), "dav/repo/", NULL);
  store = coffer_store_webdav_new (base, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  /* The store's own cap (1000 categories' folders) bounds a walk, but at
   * ~1 ms per request here an input could still take minutes: a lower cap
   * keeps every input (~2 s at the cap with the sanitizers) well inside libFuzzer's time limit. */
  coffer_store_webdav_set_max_list_collections (COFFER_STORE_WEBDAV (store), 100);
  return 0;
}

static gboolean
count_names (const char *name, guint64 size, gpointer user_data)
{
  guint *n = user_data;

  g_assert_nonnull (name);
  (*n)++;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  guint64 sz = 0;
  guint names = 0;

  fuzz_http_answer (data, size);
  coffer_store_list (store, "categories/", count_names, &names, NULL, &error);
  g_clear_error (&error);
  /* Bounded: a fixed reply cannot make the walk grow without end. */
  g_assert_cmpuint (fuzz_http_request_count (), <, 10000);
  coffer_store_list (store, "", count_names, &names, NULL, &error);
  g_clear_error (&error);
  coffer_store_stat (store, "keys/recovery", &sz, NULL, &error);
  g_clear_error (&error);
  got = coffer_store_get (store, "config", 0, 0, NULL, &error);
  g_clear_error (&error);
  coffer_store_delete (store, "keys/pending/x", NULL, &error);
  return 0;
}
