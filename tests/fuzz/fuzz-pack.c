/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pack trailer and header (docs/FORMAT.md "Packs"). The input is a whole
 * pack as read from the store: its trailer is parsed and its header opened
 * with the fixed test key (framing). Then the input, after a 4-byte size of
 * the blob area, is taken as the header's PLAINTEXT (the GVariant), sealed
 * with the test key exactly as a pack writer would, and opened: this is how
 * the fuzzer reaches the entry checks behind the MAC. */
#include "fuzz-common.h"
#include "coffer-pack.h"

#define PACK_HEADER_AD "coffer-pack-header"

static CofferSecret *key;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_setup ();
  key = fuzz_test_key ();
  return 0;
}

static void
check_entries (GArray *entries, guint64 blob_area)
{
  for (guint i = 0; i < entries->len; i++)
    {
      const CofferPackEntry *e = &g_array_index (entries, CofferPackEntry, i);
      g_assert_cmpuint ((guint64) e->offset + e->length, <=, blob_area);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint32 header_len = 0, epoch = 0, area;
  guint8 ad[sizeof PACK_HEADER_AD - 1 + 4];
  guint8 *sealed;
  unsigned long long clen = 0;
  gsize plain_len;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) entries = NULL;

  /* 1. The raw pack. */
  if (size >= COFFER_PACK_TRAILER_BYTES
      && coffer_pack_parse_trailer (data + size - COFFER_PACK_TRAILER_BYTES, size, &header_len,
                                    &epoch, &error))
    {
      const guint8 *header = data + size - COFFER_PACK_TRAILER_BYTES - header_len;
      g_assert_cmpuint (header_len, <=, size - COFFER_PACK_TRAILER_BYTES);
      entries = coffer_pack_read_header (key, epoch, header, header_len, size, &error);
      g_assert ((entries == NULL) == (error != NULL));
      g_clear_pointer (&entries, g_array_unref);
    }
  g_clear_error (&error);

  /* 2. A header plaintext behind a valid MAC. */
  if (size < 4)
    return 0;
  memcpy (&area, data, 4);
  area = GUINT32_FROM_LE (area);
  epoch = data[0];
  plain_len = size - 4;
  sealed = g_malloc (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plain_len
                     + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  randombytes_buf (sealed, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  memcpy (ad, PACK_HEADER_AD, sizeof PACK_HEADER_AD - 1);
  ad[sizeof PACK_HEADER_AD - 1] = epoch & 0xff;
  ad[sizeof PACK_HEADER_AD] = (epoch >> 8) & 0xff;
  ad[sizeof PACK_HEADER_AD + 1] = (epoch >> 16) & 0xff;
  ad[sizeof PACK_HEADER_AD + 2] = (epoch >> 24) & 0xff;
  crypto_aead_xchacha20poly1305_ietf_encrypt (sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                              &clen, data + 4, plain_len, ad, sizeof ad, NULL,
                                              sealed, key->data);
  {
    gsize sealed_len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + clen;
    guint64 pack_size = (guint64) area + sealed_len + COFFER_PACK_TRAILER_BYTES;

    entries = coffer_pack_read_header (key, epoch, sealed, sealed_len, pack_size, &error);
    g_assert ((entries == NULL) == (error != NULL));
    if (entries != NULL)
      check_entries (entries, area);
  }
  g_free (sealed);
  return 0;
}
