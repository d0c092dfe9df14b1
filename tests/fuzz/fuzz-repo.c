/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every object a repository holds, opened through the real engine. A real
 * repository is made once in a temporary folder (fuzz-repo-setup.h); for
 * each input, byte 0 picks an object, the rest becomes that object (raw,
 * or as the PLAINTEXT sealed with the right key, which the harness holds
 * like a removed device would), a fresh session opens the repository and
 * runs the operation that reads the object; then the original is put back.
 * Slower than the single-parser targets, but it exercises the parsers that
 * are static in the repository files (key sets, category meta, device and
 * join objects, rotation records) on the path the CLI takes. */
#include <unistd.h>

#include "fuzz-common.h"
#include "fuzz-repo-setup.h"
#include "coffer-index.h"
#include "coffer-state.h"

typedef enum
{
  KIND_CONFIG,            /* raw */
  KIND_RECOVERY_RAW,      /* keys/recovery as stored */
  KIND_RECOVERY_PLAIN,    /* its plaintext, sealed with the recovery wrap key */
  KIND_ACCOUNT_PLAIN,     /* category key set under the account key */
  KIND_PASSWORD_ENVELOPE, /* the envelope after the real CFPW header and KDF parameters */
  KIND_PASSWORD_PLAIN,    /* category key set under the password key */
  KIND_META_PLAIN,        /* category meta (meta subkey) */
  KIND_INDEX_PLAIN,       /* index object, GVariant (compressed by the harness) */
  KIND_INDEX_ZSTD,        /* index object, the compressed bytes themselves */
  KIND_SNAPSHOT_PLAIN,    /* snapshot object */
  KIND_OBJECT_RAW,        /* a category object as stored ("CFO1" | epoch | envelope) */
  KIND_DEVICE_RAW,        /* keys/devices/<id> */
  KIND_DEVICE_RECORD,     /* keys/device-keys/<id> plaintext under the account key */
  KIND_PENDING,           /* keys/pending/<id> (join request, not encrypted) */
  KIND_JOIN_COMMIT,
  KIND_JOIN_RESPONSE,
  KIND_JOIN_REVEAL,
  KIND_JOIN_APPROVAL,
  KIND_ROTATION,          /* keys/rotations/<hex> */
  N_KINDS
} Kind;

#define JOIN_ID "fuzzdevice0"

static FuzzRepo repo;
static char *device_id;
static char *index_name;
static char *snapshot_name;
static char *cache_dir;
static GBytes *pending_request;
static guint8 password_head[8 + COFFER_SALT_BYTES + 16];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pw_path = NULL;
  g_autofree char *pw_obj = NULL;
  gsize pw_len = 0;
  guint8 pk[32], sk[32];

  fuzz_setup ();
  fuzz_repo_setup (&repo);
  device_id = g_strdup (repo.writer->device_id);
  names = fuzz_repo_list (&repo, "categories");
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      if (index_name == NULL && strstr (n, "/index/") != NULL)
        index_name = g_strdup (n);
      if (snapshot_name == NULL && strstr (n, "/snapshots/") != NULL)
        snapshot_name = g_strdup (n);
    }
  g_assert_nonnull (index_name);
  g_assert_nonnull (snapshot_name);
  cache_dir = coffer_state_get_cache_dir (repo.writer->state, repo.cid);
  pw_path = g_strdup_printf ("%s/categories/%s/keys/password", repo.store_dir, repo.cid);
  g_assert_true (g_file_get_contents (pw_path, &pw_obj, &pw_len, &error));
  g_assert_cmpuint (pw_len, >, sizeof password_head);
  memcpy (password_head, pw_obj, sizeof password_head);

  crypto_box_keypair (pk, sk);
  pending_request = g_variant_get_data_as_bytes (g_variant_ref_sink (
    g_variant_new ("(ys@aysx)", 1, JOIN_ID,
                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, pk, 32, 1),
                   "fuzz joiner", (gint64) 1700000000)));
  return 0;
}

static char *
store_path (const char *name)
{
  return g_build_filename (repo.store_dir, name, NULL);
}

typedef struct
{
  char   *path;
  char   *old;
  gsize   old_len;
  gboolean existed;
} Planted;

static void
plant (GPtrArray *planted, const char *name, const guint8 *data, gsize len)
{
  Planted *p = g_new0 (Planted, 1);
  g_autofree char *dir = NULL;

  p->path = store_path (name);
  p->existed = g_file_get_contents (p->path, &p->old, &p->old_len, NULL);
  dir = g_path_get_dirname (p->path);
  g_mkdir_with_parents (dir, 0700);
  fuzz_write_file (p->path, data, len);
  g_ptr_array_add (planted, p);
}

static void
plant_bytes (GPtrArray *planted, const char *name, GBytes *bytes)
{
  plant (planted, name, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static void
unplant (gpointer data)
{
  Planted *p = data;

  if (p->existed)
    fuzz_write_file (p->path, (const guint8 *) p->old, p->old_len);
  else
    g_unlink (p->path);
  g_free (p->path);
  g_free (p->old);
  g_free (p);
}

/* A new session on the repository, as a command would open it. */
static CofferRepository *
reader (gboolean with_rk, gboolean with_password, gboolean do_unlock)
{
  g_autoptr(CofferRepository) r = coffer_repository_open (repo.store, NULL, NULL);

  if (r == NULL)
    return NULL;
  if (with_password)
    {
      g_autoptr(CofferSecret) pw = coffer_secret_new_from_string (FUZZ_REPO_PASSWORD);
      coffer_repository_set_password (r, pw);
    }
  if (with_rk)
    coffer_repository_set_recovery_key (r, repo.rk);
  if (do_unlock && !coffer_repository_unlock (r, NULL, NULL))
    return NULL;
  return g_steal_pointer (&r);
}

static GBytes *
seal_with_ak (CofferObjectType type, const char *name, const guint8 *data, gsize len)
{
  return coffer_envelope_seal (repo.writer->account_key,
                               repo.writer->raw_id, type, name, data, len);
}

static void
read_category (CofferRepository *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) cats = NULL;

  if (r == NULL)
    return;
  if (_coffer_repository_get_category (r, repo.cid, NULL, &error) == NULL)
    return;
  cats = coffer_repository_list_categories (r, NULL, NULL);
}

static void
read_index (CofferRepository *r)
{
  CofferCategoryKeys *keys;
  g_autofree char *cache = g_build_filename (cache_dir, "index.cache", NULL);
  g_autofree char *names = g_build_filename (cache_dir, "index.names", NULL);

  /* The cache would answer without reading the planted object. */
  g_unlink (cache);
  g_unlink (names);
  if (r == NULL || (keys = _coffer_repository_get_category (r, repo.cid, NULL, NULL)) == NULL)
    return;
  _coffer_repository_get_index (r, keys, NULL, NULL);
}

static void
read_snapshots (CofferRepository *r)
{
  g_autoptr(GPtrArray) snaps = NULL;

  if (r == NULL)
    return;
  snaps = coffer_repository_list_snapshots (r, repo.cid, NULL, NULL);
  if (snaps != NULL && snaps->len > 0)
    {
      g_autoptr(GPtrArray) entries = coffer_repository_list_dir (r, repo.cid,
                                                                 g_ptr_array_index (snaps, 0),
                                                                 "/", NULL, NULL);
      (void) entries;
    }
}

static void
read_devices (CofferRepository *r)
{
  g_autoptr(GPtrArray) devices = NULL;
  g_autofree char *code = NULL;

  if (r == NULL)
    return;
  devices = coffer_repository_list_devices (r, NULL, NULL);
  coffer_repository_get_join_code (r, JOIN_ID, &code, NULL, NULL);
}

static void
plant_join (GPtrArray *planted, const char *what, const guint8 *data, gsize size)
{
  g_autofree char *name = g_strdup_printf ("keys/join/%s/%s", JOIN_ID, what);

  plant_bytes (planted, "keys/pending/" JOIN_ID, pending_request);
  plant (planted, name, data, size);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GPtrArray) planted = g_ptr_array_new_with_free_func (unplant);
  g_autoptr(CofferRepository) r = NULL;
  g_autoptr(GBytes) sealed = NULL;
  g_autofree char *name = NULL;
  Kind kind;

  if (size < 1)
    return 0;
  kind = (Kind) (data[0] % N_KINDS);
  data++;
  size--;

  switch (kind)
    {
    case KIND_CONFIG:
      plant (planted, "config", data, size);
      r = reader (TRUE, FALSE, TRUE);
      read_category (r);
      break;

    case KIND_RECOVERY_RAW:
      plant (planted, "keys/recovery", data, size);
      r = reader (TRUE, FALSE, TRUE);
      break;

    case KIND_RECOVERY_PLAIN:
      {
        g_autoptr(CofferSecret) wrap = coffer_secret_new (COFFER_KEY_BYTES);
        crypto_generichash_state st;
        static const char domain[] = "coffer-recovery-wrap";

        /* docs/FORMAT.md 3.2: BLAKE2b-256(key=RK, "coffer-recovery-wrap" || repo id) */
        crypto_generichash_init (&st, repo.rk->data, repo.rk->len, COFFER_KEY_BYTES);
        crypto_generichash_update (&st, (const guint8 *) domain, sizeof domain - 1);
        crypto_generichash_update (&st, repo.writer->raw_id, COFFER_REPO_ID_BYTES);
        crypto_generichash_final (&st, wrap->data, COFFER_KEY_BYTES);
        sealed = coffer_envelope_seal (wrap, repo.writer->raw_id,
                                       COFFER_OBJECT_RECOVERY_ENVELOPE, "keys/recovery", data, size);
        plant_bytes (planted, "keys/recovery", sealed);
        r = reader (TRUE, FALSE, TRUE);
        read_category (r);
      }
      break;

    case KIND_ACCOUNT_PLAIN:
      name = g_strdup_printf ("categories/%s/keys/account", repo.cid);
      sealed = seal_with_ak (COFFER_OBJECT_CATEGORY_ACCOUNT, name, data, size);
      plant_bytes (planted, name, sealed);
      r = reader (TRUE, FALSE, TRUE);
      read_category (r);
      read_snapshots (r);
      break;

    case KIND_PASSWORD_ENVELOPE:
    case KIND_PASSWORD_PLAIN:
      {
        g_autoptr(GByteArray) obj = g_byte_array_new ();
        CofferKdfParams params;

        name = g_strdup_printf ("categories/%s/keys/password", repo.cid);
        /* The KDF parameters stay the real ones: hostile ones are capped
         * (coffer_kdf_derive) but would cost seconds per input. */
        g_byte_array_append (obj, password_head, sizeof password_head);
        if (kind == KIND_PASSWORD_PLAIN)
          {
            const CofferSecret *pkey;

            g_assert_true (_coffer_repository_get_kdf_params (repo.writer, &params));
            pkey = _coffer_repository_password_key (repo.writer, &params, NULL);
            g_assert_nonnull (pkey);
            sealed = coffer_envelope_seal (pkey, repo.writer->raw_id,
                                           COFFER_OBJECT_CATEGORY_PASSWORD, name, data, size);
            g_byte_array_append (obj, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed));
          }
        else
          g_byte_array_append (obj, data, size);
        plant (planted, name, obj->data, obj->len);
        /* Password only, not unlocked: the category opens through the
         * password envelope, not the account key. */
        r = reader (FALSE, TRUE, FALSE);
        read_category (r);
      }
      break;

    case KIND_META_PLAIN:
      name = g_strdup_printf ("meta/%s", repo.cid);
      sealed = _coffer_repository_seal_object (repo.writer, repo.keys, COFFER_OBJECT_CATEGORY_META,
                                               name, data, size);
      plant_bytes (planted, name, sealed);
      r = reader (TRUE, FALSE, TRUE);
      read_category (r);
      break;

    case KIND_INDEX_PLAIN:
    case KIND_INDEX_ZSTD:
      {
        g_autoptr(GBytes) in = g_bytes_new (data, size);
        g_autoptr(GBytes) packed = kind == KIND_INDEX_PLAIN ? _coffer_compress (in) : g_bytes_ref (in);

        sealed = _coffer_repository_seal_object (repo.writer, repo.keys, COFFER_OBJECT_INDEX, index_name,
                                                 g_bytes_get_data (packed, NULL),
                                                 g_bytes_get_size (packed));
        plant_bytes (planted, index_name, sealed);
        r = reader (TRUE, FALSE, TRUE);
        read_index (r);
      }
      break;

    case KIND_SNAPSHOT_PLAIN:
      sealed = _coffer_repository_seal_object (repo.writer, repo.keys, COFFER_OBJECT_SNAPSHOT,
                                               snapshot_name, data, size);
      plant_bytes (planted, snapshot_name, sealed);
      r = reader (TRUE, FALSE, TRUE);
      read_snapshots (r);
      break;

    case KIND_OBJECT_RAW:
      plant (planted, snapshot_name, data, size);
      r = reader (TRUE, FALSE, TRUE);
      read_snapshots (r);
      break;

    case KIND_DEVICE_RAW:
      name = g_strdup_printf ("keys/devices/%s", device_id);
      plant (planted, name, data, size);
      /* This computer's device key (sealed under the password locally). */
      r = reader (FALSE, TRUE, TRUE);
      read_category (r);
      break;

    case KIND_DEVICE_RECORD:
      name = g_strdup_printf ("keys/device-keys/%s", device_id);
      sealed = seal_with_ak (COFFER_OBJECT_DEVICE_NAME, name, data, size);
      plant_bytes (planted, name, sealed);
      r = reader (TRUE, FALSE, TRUE);
      read_devices (r);
      break;

    case KIND_PENDING:
      plant (planted, "keys/pending/" JOIN_ID, data, size);
      r = reader (TRUE, FALSE, TRUE);
      read_devices (r);
      break;

    case KIND_JOIN_COMMIT:
    case KIND_JOIN_RESPONSE:
    case KIND_JOIN_REVEAL:
    case KIND_JOIN_APPROVAL:
      {
        static const char *what[] = { "commit", "response", "reveal", "approval" };
        plant_join (planted, what[kind - KIND_JOIN_COMMIT], data, size);
        r = reader (TRUE, FALSE, TRUE);
        read_devices (r);
      }
      break;

    case KIND_ROTATION:
      {
        static const char new_hex[] =
          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        g_autofree char *known = g_strnfill (64, 'f');

        plant (planted, "keys/rotations/00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
               data, size);
        r = reader (TRUE, FALSE, TRUE);
        if (r != NULL)
          _coffer_repository_follow_rotation (r, known, new_hex, NULL, NULL);
      }
      break;

    case N_KINDS:
    default:
      g_assert_not_reached ();
    }

  g_clear_object (&r);
  /* Join answers written by get_join_code are not part of the fixture. */
  {
    g_autofree char *join_dir = g_strdup_printf ("%s/keys/join/%s", repo.store_dir, JOIN_ID);
    g_autoptr(GDir) dir = g_dir_open (join_dir, 0, NULL);
    const char *n;

    while (dir != NULL && (n = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *p = g_build_filename (join_dir, n, NULL);
        gboolean ours = FALSE;
        for (guint i = 0; i < planted->len; i++)
          ours |= g_str_equal (((Planted *) g_ptr_array_index (planted, i))->path, p);
        if (!ours)
          g_unlink (p);
      }
  }
  return 0;
}
