/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Writes the seed corpora of the fuzz targets into DIR/NAME/: real objects
 * of a real repository (made in a temporary folder with fuzz-repo-setup.h),
 * in the form each target takes, plus hand-written server replies.
 *   meson compile -C _build-fuzz make-fuzz-seeds
 *   _build-fuzz/tests/fuzz/make-fuzz-seeds tests/fuzz/corpus
 * The objects hold random keys and ids, so every run writes new bytes; the
 * checked-in seeds are one such run. */
#include <zstd.h>

#include "fuzz-common.h"
#include "fuzz-repo-setup.h"
#include "coffer-index.h"
#include "coffer-pack.h"
#include "coffer-recovery-key.h"
#include "coffer-snapshot.h"
#include "coffer-tree.h"

static const char *out_dir;

static void
seed (const char *target, const char *name, const guint8 *prefix, gsize prefix_len,
      const void *data, gsize len)
{
  g_autofree char *dir = g_build_filename (out_dir, target, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GByteArray) all = g_byte_array_new ();

  g_mkdir_with_parents (dir, 0755);
  if (prefix_len > 0)
    g_byte_array_append (all, prefix, prefix_len);
  g_byte_array_append (all, data, len);
  fuzz_write_file (path, all->data, all->len);
}

static void
seed_bytes (const char *target, const char *name, guint8 selector, gboolean with_selector, GBytes *b)
{
  seed (target, name, &selector, with_selector ? 1 : 0, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
}

static void
seed_str (const char *target, const char *name, const char *text)
{
  seed (target, name, NULL, 0, text, strlen (text));
}

static GBytes *
read_object (FuzzRepo *r, const char *name)
{
  g_autofree char *path = g_build_filename (r->store_dir, name, NULL);
  char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  return g_bytes_new_take (contents, len);
}

/* A blob's plaintext frame: flags | payload length (u32 LE) | payload | padding. */
static GBytes *
frame (const guint8 *payload, gsize len, gboolean compress)
{
  g_autoptr(GByteArray) f = g_byte_array_new ();
  guint8 head[5];
  guint8 *packed = NULL;
  gsize plen = len;

  if (compress)
    {
      packed = g_malloc (ZSTD_compressBound (len));
      plen = ZSTD_compress (packed, ZSTD_compressBound (len), payload, len, 3);
      g_assert_false (ZSTD_isError (plen));
      payload = packed;
    }
  head[0] = compress ? 1 : 0;
  head[1] = plen & 0xff;
  head[2] = (plen >> 8) & 0xff;
  head[3] = (plen >> 16) & 0xff;
  head[4] = (plen >> 24) & 0xff;
  g_byte_array_append (f, head, 5);
  g_byte_array_append (f, payload, plen);
  while (f->len < coffer_padme_length (5 + plen))
    g_byte_array_append (f, (const guint8 *) "", 1);
  g_free (packed);
  return g_byte_array_free_to_bytes (g_steal_pointer (&f));
}

int
main (int argc, char **argv)
{
  FuzzRepo r = { 0 };
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tree = NULL;
  g_autoptr(GBytes) tree_bytes = NULL;
  g_autoptr(CofferIndex) index = NULL;
  guint n = 0;

  if (argc != 2)
    {
      g_printerr ("usage: %s CORPUS-DIR\n", argv[0]);
      return 2;
    }
  out_dir = argv[1];
  fuzz_setup ();
  fuzz_repo_setup (&r);

  /* config, envelopes (each kind, with its type as selector), raw objects for fuzz-repo */
  {
    g_autoptr(GBytes) config = read_object (&r, "config");
    seed_bytes ("config", "config", 0, FALSE, config);
    seed_bytes ("repo", "config", 0, TRUE, config);
  }
  names = fuzz_repo_list (&r, "");
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autoptr(GBytes) obj = read_object (&r, name);
      const guint8 *d = g_bytes_get_data (obj, NULL);
      gsize len = g_bytes_get_size (obj);
      g_autofree char *seed_name = g_strdup_printf ("object-%02u", n++);
      gsize off;

      /* Envelopes sit at 0 (keys), 8 ("CFO1" | epoch) or 40 (password). */
      for (off = 0; off + 4 <= len && off <= 40; off += 8)
        if (memcmp (d + off, "CFE1", 4) == 0)
          {
            g_autoptr(GBytes) env = g_bytes_new (d + off, len - off);
            seed_bytes ("envelope", seed_name, (guint8) (d[off + 4] - 1), TRUE, env);
            break;
          }
      if (g_str_has_prefix (name, "keys/recovery"))
        seed_bytes ("repo", "recovery", 1, TRUE, obj);
      else if (g_str_has_prefix (name, "keys/devices/"))
        seed_bytes ("repo", "device", 11, TRUE, obj);
      else if (strstr (name, "/snapshots/") != NULL)
        seed_bytes ("repo", "object-raw", 10, TRUE, obj);
      else if (strstr (name, "/packs/") != NULL && len < 16384)
        {
          g_autofree char *pn = g_strdup_printf ("pack-%02u", n);
          seed_bytes ("pack", pn, 0, FALSE, obj);
        }
    }

  /* A tree, a snapshot, an index: through the engine, then serialised. */
  tree = _coffer_repository_read_tree (r.writer, r.keys, r.snapshot->epoch, r.snapshot->tree, NULL, &error);
  g_assert_no_error (error);
  tree_bytes = coffer_tree_serialize (tree);
  seed_bytes ("tree", "root", 0, FALSE, tree_bytes);
  for (guint i = 0; i < tree->len; i++)
    {
      CofferTreeEntry *e = g_ptr_array_index (tree, i);
      if (e->type == COFFER_NODE_DIR && e->content->len == COFFER_ID_BYTES)
        {
          g_autoptr(GPtrArray) sub = _coffer_repository_read_tree (r.writer, r.keys, r.snapshot->epoch, e->content->data,
                                                                   NULL, NULL);
          g_autoptr(GBytes) sb = sub ? coffer_tree_serialize (sub) : NULL;
          if (sb != NULL)
            seed_bytes ("tree", "sub", 0, FALSE, sb);
        }
    }
  {
    g_autoptr(GBytes) f1 = frame (g_bytes_get_data (tree_bytes, NULL), g_bytes_get_size (tree_bytes), FALSE);
    g_autoptr(GBytes) f2 = frame (g_bytes_get_data (tree_bytes, NULL), g_bytes_get_size (tree_bytes), TRUE);
    g_autoptr(GBytes) f3 = frame ((const guint8 *) "file data file data file data", 29, TRUE);
    seed_bytes ("blob", "tree-plain", 1, TRUE, f1);
    seed_bytes ("blob", "tree-zstd", 1, TRUE, f2);
    seed_bytes ("blob", "data-zstd", 0, TRUE, f3);
  }
  {
    g_autoptr(GBytes) sb = coffer_snapshot_serialize (r.snapshot);
    seed_bytes ("snapshot", "snapshot", 0, FALSE, sb);
    seed_bytes ("repo", "snapshot", 9, TRUE, sb);
  }
  index = coffer_index_new ();
  {
    CofferIndex *live = _coffer_repository_get_index (r.writer, r.keys, NULL, &error);
    g_autoptr(GBytes) ib = NULL;
    g_autoptr(GBytes) iz = NULL;
    g_autofree char *cache_dir = coffer_state_get_cache_dir (r.writer->state, r.cid);
    g_autofree char *cache = g_build_filename (cache_dir, "index.cache", NULL);
    g_autofree char *contents = NULL;
    gsize clen = 0;

    g_assert_no_error (error);
    ib = coffer_index_serialize (live, NULL, NULL);
    iz = _coffer_compress (ib);
    seed_bytes ("index", "plain", 0, TRUE, ib);
    seed_bytes ("index", "zstd", 1, TRUE, iz);
    seed_bytes ("repo", "index", 7, TRUE, ib);
    seed_bytes ("repo", "index-zstd", 8, TRUE, iz);
    g_assert_true (coffer_index_save (live, cache, NULL));
    g_assert_true (g_file_get_contents (cache, &contents, &clen, NULL));
    seed ("index-cache", "index.cache", NULL, 0, contents, clen);

    /* The pack header's plaintext, rebuilt from the entries, for fuzz-pack. */
    {
      GVariantBuilder b;
      g_autoptr(GBytes) hb = NULL;
      guint8 area[4] = { 0, 0x10, 0, 0 };
      guint count = 0;

      g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ayyuuu)"));
      for (guint32 off = 0; count < 3; count++, off += 100)
        {
          guint8 id[COFFER_ID_BYTES];
          memset (id, count, sizeof id);
          g_variant_builder_add (&b, "(@ayyuuu)",
                                 g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, id, 32, 1),
                                 (guint8) (1 + count % 2), off, 100u, 60u);
        }
      hb = g_variant_get_data_as_bytes (g_variant_ref_sink (g_variant_new ("(u@a(ayyuuu))", 1u,
                                                                          g_variant_builder_end (&b))));
      seed ("pack", "header-plain", area, 4, g_bytes_get_data (hb, NULL), g_bytes_get_size (hb));
    }
  }

  /* Key sets and meta for fuzz-repo's plaintext kinds. */
  {
    g_autoptr(GByteArray) ks = g_byte_array_new ();
    guint8 count[4] = { 1, 0, 0, 0 }, epoch[4] = { 0, 0, 0, 0 }, key[32];
    randombytes_buf (key, sizeof key);
    g_byte_array_append (ks, (const guint8 *) "CKS1", 4);
    g_byte_array_append (ks, count, 4);
    g_byte_array_append (ks, epoch, 4);
    g_byte_array_append (ks, key, 32);
    seed ("repo", "account", (const guint8 *) "\x03", 1, ks->data, ks->len);
    seed ("repo", "password", (const guint8 *) "\x05", 1, ks->data, ks->len);
    /* CKS3: epoch 0 retired, epoch 1 of hash suite 1 (SHA-256). */
    {
      g_autoptr(GByteArray) ks3 = g_byte_array_new ();
      guint8 two[4] = { 2, 0, 0, 0 }, one[4] = { 1, 0, 0, 0 };
      guint8 retired[8] = { 1, 0, 0, 0, 0, 0, 0, 0 }, newest[8] = { 0 };
      guint8 suite0 = 0, suite1 = 1;

      g_byte_array_append (ks3, (const guint8 *) "CKS3", 4);
      g_byte_array_append (ks3, two, 4);
      g_byte_array_append (ks3, epoch, 4);
      g_byte_array_append (ks3, retired, 8);
      g_byte_array_append (ks3, &suite0, 1);
      g_byte_array_append (ks3, key, 32);
      g_byte_array_append (ks3, one, 4);
      g_byte_array_append (ks3, newest, 8);
      g_byte_array_append (ks3, &suite1, 1);
      g_byte_array_append (ks3, key, 32);
      seed ("repo", "account-cks3", (const guint8 *) "\x03", 1, ks3->data, ks3->len);
    }
    seed ("repo", "recovery-plain", (const guint8 *) "\x02", 1, key, 32);
  }

  {
    g_autofree char *meta_name = g_strdup_printf ("meta/%s", r.cid);
    g_autoptr(GBytes) obj = read_object (&r, meta_name);
    g_autoptr(GBytes) plain = _coffer_repository_open_object (r.writer, r.keys, COFFER_OBJECT_CATEGORY_META,
                                                              meta_name, obj, &error);
    g_assert_no_error (error);
    seed_bytes ("repo", "meta", 6, TRUE, plain);
  }
  /* Device and join objects (docs/FORMAT.md "Joining and rotation"). */
  {
    static const char *magic[] = { "CFJC", "CFJR", "CFJV", "CFJA" };
    static const gsize body[] = { 32, 64, 32, 64 };
    guint8 buf[8 + 160];
    guint8 pk[32], sk[32];
    g_autoptr(GBytes) pending = NULL;

    crypto_box_keypair (pk, sk);
    randombytes_buf (buf, sizeof buf);
    for (guint i = 0; i < 4; i++)
      {
        guint8 sel = 14 + i;
        g_autofree char *nm = g_strdup_printf ("join-%s", magic[i]);
        memcpy (buf, magic[i], 4);
        buf[4] = 1; buf[5] = buf[6] = buf[7] = 0;
        seed ("repo", nm, &sel, 1, buf, 8 + body[i]);
      }
    memcpy (buf, "CFRT\x01\0\0\0", 8);
    seed ("repo", "rotation", (const guint8 *) "\x12", 1, buf, 8 + 160);
    memcpy (buf, "CFDR\x01\0\0\0", 8);
    memcpy (buf + 8, pk, 32);
    seed ("repo", "device-record", (const guint8 *) "\x0c", 1, buf, 48);
    pending = g_variant_get_data_as_bytes (g_variant_ref_sink (
      g_variant_new ("(ys@aysx)", 1, "fuzzdevice0",
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, pk, 32, 1),
                     "a new laptop", (gint64) 1700000000)));
    seed_bytes ("repo", "pending", 13, TRUE, pending);
  }

  /* Hand-written texts. */
  {
    g_autoptr(CofferSecret) k = coffer_recovery_key_generate ();
    g_autoptr(CofferSecret) text = coffer_recovery_key_format (k);
    seed ("recovery-key", "key", NULL, 0, text->data, text->len);
    seed_str ("recovery-key", "lower", "abcd efgh ijkl mnop qrst vwxy z234");
  }
  seed_str ("sigv4", "get", "GET\n/bucket/categories/a b\nlist-type=2&prefix=categories%2F&continuation-token=x%3D\nx-amz-meta-x\n  a   b  \nus-east-1\n20240101T000000Z\n");
  seed_str ("sigv4", "put", "PUT\n/bucket/keys/recovery\n\ncontent-type\napplication/octet-stream\neu-central-1\n20991231T235959Z\n");
  seed_str ("store-url", "webdav", "webdavs://user@cloud.example.com:8443/remote.php/dav/files/user/Backups");
  seed_str ("store-url", "s3", "s3://AKID@bucket/prefix/sub");
  seed_str ("store-url", "file", "file:///media/disk/backup");
  seed_str ("store-url", "path", "/media/disk/backup");
  seed_str ("store-url", "sftp", "sftp://host/path");

  /* Server replies: byte 0 picks the status (fuzz-http.h: 0 = 200, 1 = 207, 5 = 403). */
  {
    static const char multistatus[] =
      "\x01<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">"
      "<D:response><D:href>/dav/repo/categories/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      "<D:response><D:href>/dav/repo/categories/a/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      "<D:response><D:href>http://127.0.0.1/dav/repo/categories/b/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      "<D:response><D:href>/dav/repo/categories/meta%20x</D:href><D:propstat><D:prop><D:resourcetype/><D:getcontentlength>1234</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
      "</D:multistatus>\n";
    static const char list[] =
      "\x00<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>bucket</Name><Prefix>repo/categories/</Prefix><KeyCount>2</KeyCount>"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>token==</NextContinuationToken>"
      "<Contents><Key>repo/categories/abc/meta</Key><Size>120</Size></Contents>"
      "<Contents><Key>repo/categories/abc/index/00</Key><Size>999</Size></Contents>"
      "</ListBucketResult>\n";
    static const char deleted[] =
      "\x00<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult><Deleted><Key>repo/a</Key></Deleted>"
      "<Error><Key>repo/b/c</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>\n";
    static const char err[] =
      "\x05<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
      "<Message>The request signature we calculated does not match</Message></Error>\n";
    seed ("webdav", "multistatus", NULL, 0, multistatus, sizeof multistatus - 1);
    seed ("webdav", "error", NULL, 0, "\x04<html>not found</html>", 23);
    seed ("s3", "list-truncated", NULL, 0, list, sizeof list - 1);
    seed ("s3", "delete-result", NULL, 0, deleted, sizeof deleted - 1);
    seed ("s3", "error", NULL, 0, err, sizeof err - 1);
  }

  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", r.root);
    if (system (cmd) != 0)
      g_printerr ("could not remove %s\n", r.root);
  }
  return 0;
}
