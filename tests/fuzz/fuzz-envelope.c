/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Envelope framing (docs/FORMAT.md "Envelopes"), for every object type:
 * byte 0 of the input picks the type, the rest is the envelope as read from
 * the store, opened with the fixed test key. Then the same rest is sealed as
 * a plaintext with the test key and must open back to the same bytes. */
#include "fuzz-common.h"

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
  CofferObjectType type;
  g_autoptr(GBytes) envelope = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autoptr(CofferSecret) plain = NULL;
  g_autoptr(CofferSecret) again = NULL;
  g_autoptr(GError) error = NULL;

  if (size < 1)
    return 0;
  type = (CofferObjectType) (1 + data[0] % COFFER_OBJECT_DEVICE_NAME);
  envelope = g_bytes_new (data + 1, size - 1);
  plain = coffer_envelope_open (key, fuzz_repo_id, type, "fuzz/object", envelope, &error);
  g_assert ((plain == NULL) == (error != NULL));
  g_clear_error (&error);

  sealed = coffer_envelope_seal (key, fuzz_repo_id, type, "fuzz/object", data + 1, size - 1);
  again = coffer_envelope_open (key, fuzz_repo_id, type, "fuzz/object", sealed, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (again->data, again->len, data + 1, size - 1);
  return 0;
}
