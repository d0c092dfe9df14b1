/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sealed blobs (docs/FORMAT.md "Blobs"). Byte 0 of the input picks the blob
 * type (data or tree); the rest is the blob's PLAINTEXT FRAME (flags,
 * payload length, payload, padding), sealed with the fixed test key exactly
 * as a writer would, then opened by coffer_blob_open: the fuzzer reaches the
 * frame checks and the zstd decompressor behind the MAC. An opened tree
 * blob then goes through the tree parser, as restore does. The raw rest is
 * also opened as a sealed blob (nonce, ciphertext, tag framing). */
#include "fuzz-common.h"
#include "coffer-tree.h"

#define BLOB_AD "coffer-blob"

static CofferSecret *key;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  key = fuzz_test_key ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const guint8 id[COFFER_ID_BYTES] = { 0 };
  guint8 ad[sizeof BLOB_AD - 1 + COFFER_ID_BYTES + 1];
  CofferBlobType type;
  guint8 *sealed;
  unsigned long long clen = 0;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GError) error = NULL;

  if (size < 1)
    return 0;
  type = (data[0] & 1) ? COFFER_BLOB_TREE : COFFER_BLOB_DATA;
  data++;
  size--;

  plain = coffer_blob_open (key, id, type, data, size, &error);
  g_assert ((plain == NULL) == (error != NULL));
  g_clear_pointer (&plain, g_bytes_unref);
  g_clear_error (&error);

  memcpy (ad, BLOB_AD, sizeof BLOB_AD - 1);
  memcpy (ad + sizeof BLOB_AD - 1, id, COFFER_ID_BYTES);
  ad[sizeof ad - 1] = (guint8) type;
  sealed = g_malloc (size + COFFER_BLOB_OVERHEAD);
  randombytes_buf (sealed, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  crypto_aead_xchacha20poly1305_ietf_encrypt (sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                              &clen, data, size, ad, sizeof ad, NULL, sealed,
                                              key->data);
  plain = coffer_blob_open (key, id, type, sealed, size + COFFER_BLOB_OVERHEAD, &error);
  g_free (sealed);
  g_assert ((plain == NULL) == (error != NULL));
  if (plain != NULL)
    {
      g_assert_cmpuint (g_bytes_get_size (plain), <=, COFFER_BLOB_MAX_BYTES);
      if (type == COFFER_BLOB_TREE)
        {
          g_autoptr(GPtrArray) tree = coffer_tree_parse (plain, NULL);
          (void) tree;
        }
    }
  return 0;
}
