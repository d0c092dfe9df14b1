/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Trusted devices: joining (commit-then-reveal with a 6-digit code),
 * listing, removing, and the account key rotation that removal implies;
 * the signed device records (keys/device-keys/) and their verification.
 * The rotation chain that unlocking follows is in -keys.c. Object formats: docs/FORMAT.md "Joining and rotation"; reasoning:
 * docs/SECURITY.md "Devices and rotation". */
#include <string.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-device.h"
#include "coffer-error.h"
#include "coffer-repository-private.h"

#define NONCE_BYTES 32

/* ---- CofferDevice ---- */

CofferDevice *
coffer_device_info_copy (const CofferDevice *device)
{
  CofferDevice *copy = g_new0 (CofferDevice, 1);

  copy->id = g_strdup (device->id);
  copy->name = g_strdup (device->name);
  copy->is_this_device = device->is_this_device;
  copy->pending = device->pending;
  copy->verification_code = g_strdup (device->verification_code);
  copy->time = device->time;
  copy->verified = device->verified;
  copy->fingerprint = g_strdup (device->fingerprint);
  copy->approver = g_strdup (device->approver);
  return copy;
}

void
coffer_device_info_free (CofferDevice *device)
{
  if (device == NULL)
    return;
  g_free (device->id);
  g_free (device->name);
  g_free (device->verification_code);
  g_free (device->fingerprint);
  g_free (device->approver);
  g_free (device);
}

G_DEFINE_BOXED_TYPE (CofferDevice, coffer_device_info, coffer_device_info_copy, coffer_device_info_free)

/* ---- names ---- */

#define obj_name(fmt, id) g_strdup_printf (fmt, (id))
#define PENDING_FMT  "keys/pending/%s"
#define DEVICE_FMT   "keys/devices/%s"
#define RECORD_FMT   "keys/device-keys/%s"
#define COMMIT_FMT   "keys/join/%s/commit"
#define RESPONSE_FMT "keys/join/%s/response"
#define REVEAL_FMT   "keys/join/%s/reveal"
#define APPROVAL_FMT "keys/join/%s/approval"

/* ---- small helpers ---- */

static gboolean
put (CofferRepository *self, const char *name, const guint8 *data, gsize len, CofferPutMode mode,
     GCancellable *cancellable, GError **error)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  return coffer_store_put (self->store, name, bytes, mode, cancellable, error);
}

static void
delete_quietly (CofferRepository *self, const char *name, GCancellable *cancellable)
{
  g_autoptr(GError) local_error = NULL;

  if (!coffer_store_delete (self->store, name, cancellable, &local_error)
      && !g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    g_debug ("could not delete %s: %s", name, local_error->message);
}

static gboolean
parse_fixed (GBytes *bytes, const char *magic, gsize body_len, const guint8 **body)
{
  return _coffer_parse_fixed_version (bytes, magic, 1, body_len, body);
}

static GByteArray *
fixed_new_version (const char *magic, guint8 version)
{
  GByteArray *out = g_byte_array_new ();
  guint8 v[4] = { version, 0, 0, 0 };

  g_byte_array_append (out, (const guint8 *) magic, 4);
  g_byte_array_append (out, v, 4);
  return out;
}

static GByteArray *
fixed_new (const char *magic)
{
  return fixed_new_version (magic, 1);
}

static void
hash_update_str (crypto_generichash_state *st, const char *str)
{
  guint8 len = (guint8) strlen (str);   /* device ids are at most 64 bytes */
  crypto_generichash_update (st, &len, 1);
  crypto_generichash_update (st, (const guint8 *) str, len);
}

/* v1: commitment = BLAKE2b-256("coffer-join-commit-v1" || repo id || len || device id || pkN || rN)
 * v2: commitment = BLAKE2b-256("coffer-join-commit-v2" || repo id || len || device id || pkN || spkN || rN),
 * spkN the new device's signing key (sign_pk NULL: v1). The commitment
 * binds spkN, so the code the user compares authenticates it too. */
static void
join_commitment (const guint8 *repo_id, const char *device_id, const guint8 pk_new[32],
                 const guint8 *sign_pk, const guint8 r_new[NONCE_BYTES], guint8 out[32])
{
  crypto_generichash_state st;
  const char *domain = sign_pk != NULL ? "coffer-join-commit-v2" : "coffer-join-commit-v1";

  crypto_generichash_init (&st, NULL, 0, 32);
  crypto_generichash_update (&st, (const guint8 *) domain, strlen (domain));
  crypto_generichash_update (&st, repo_id, COFFER_REPO_ID_BYTES);
  hash_update_str (&st, device_id);
  crypto_generichash_update (&st, pk_new, 32);
  if (sign_pk != NULL)
    crypto_generichash_update (&st, sign_pk, 32);
  crypto_generichash_update (&st, r_new, NONCE_BYTES);
  crypto_generichash_final (&st, out, 32);
}

/* code = first 8 bytes (LE) of BLAKE2b-256("coffer-join-code-v1" || repo id ||
 * len || device id || pkT || nT || pkN || rN) mod 10^6, written "123 456". */
static char *
join_code (const guint8 *repo_id, const char *device_id, const guint8 pk_trusted[32],
           const guint8 n_trusted[NONCE_BYTES], const guint8 pk_new[32], const guint8 r_new[NONCE_BYTES])
{
  crypto_generichash_state st;
  static const char domain[] = "coffer-join-code-v1";
  guint8 h[32];
  guint64 v;

  crypto_generichash_init (&st, NULL, 0, 32);
  crypto_generichash_update (&st, (const guint8 *) domain, sizeof domain - 1);
  crypto_generichash_update (&st, repo_id, COFFER_REPO_ID_BYTES);
  hash_update_str (&st, device_id);
  crypto_generichash_update (&st, pk_trusted, 32);
  crypto_generichash_update (&st, n_trusted, NONCE_BYTES);
  crypto_generichash_update (&st, pk_new, 32);
  crypto_generichash_update (&st, r_new, NONCE_BYTES);
  crypto_generichash_final (&st, h, 32);
  memcpy (&v, h, 8);
  v = GUINT64_FROM_LE (v) % 1000000;
  return g_strdup_printf ("%03u %03u", (guint) (v / 1000), (guint) (v % 1000));
}

/* approval MAC: key = BLAKE2b-256(key = X25519(sk, pk), "coffer-join-approval-v1" || pkT || pkN);
 * mac = BLAKE2b-256(key, repo id || len || device id || account key id || rotation key) */
static gboolean
approval_mac (const CofferSecret *sk, const guint8 other_pk[32], const guint8 pk_trusted[32],
              const guint8 pk_new[32], const guint8 *repo_id, const char *device_id,
              const guint8 akid[32], const guint8 rotation_pk[32], guint8 out[32])
{
  guint8 shared[crypto_scalarmult_BYTES];
  guint8 key[32];
  crypto_generichash_state st;
  static const char domain[] = "coffer-join-approval-v1";

  if (crypto_scalarmult (shared, sk->data, other_pk) != 0)
    return FALSE;
  crypto_generichash_init (&st, shared, sizeof shared, 32);
  crypto_generichash_update (&st, (const guint8 *) domain, sizeof domain - 1);
  crypto_generichash_update (&st, pk_trusted, 32);
  crypto_generichash_update (&st, pk_new, 32);
  crypto_generichash_final (&st, key, 32);
  sodium_memzero (shared, sizeof shared);

  crypto_generichash_init (&st, key, sizeof key, 32);
  crypto_generichash_update (&st, repo_id, COFFER_REPO_ID_BYTES);
  hash_update_str (&st, device_id);
  crypto_generichash_update (&st, akid, 32);
  crypto_generichash_update (&st, rotation_pk, 32);
  crypto_generichash_final (&st, out, 32);
  sodium_memzero (key, sizeof key);
  return TRUE;
}

/* ---- device records: keys/device-keys/<id> = envelope under AK of
 * v1 (legacy, unsigned): "CFDR" | 1 | 0 0 0 | public key 32 | time i64 LE
 * v2 (signed): "CFDR" | 2 | 0 0 0 | public key 32 | signing key 32 |
 *   time i64 LE | account key id 32 | approver length 1 | approver id |
 *   signature 64 (docs/FORMAT.md "Joining and rotation") ---- */

#define MAX_APPROVAL_DEPTH 16

typedef struct
{
  guint   version;
  guint8  pk[32];
  guint8  sign_pk[32];   /* zero: none (v1, or a device kept on the user's word) */
  gint64  time;
  guint8  akid[32];
  char   *approver;      /* NULL: the recovery key (v2) or none (v1) */
  guint8  sig[64];
  GBytes *signed_part;   /* the plaintext without the signature (v2) */
} DeviceRecord;

static void
device_record_free (DeviceRecord *r)
{
  if (r == NULL)
    return;
  g_free (r->approver);
  g_clear_pointer (&r->signed_part, g_bytes_unref);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DeviceRecord, device_record_free)

/* message = "coffer-device-record-v2" || repo id || len || device id ||
 * the record's plaintext up to (not including) the signature */
static gboolean
record_signature_op (CofferRepository *self, const char *device_id, const guint8 *plain, gsize len,
                     const CofferSecret *sign_sk, const guint8 *sign_pk, guint8 sig[64])
{
  g_autoptr(GByteArray) msg = g_byte_array_new ();
  static const char domain[] = "coffer-device-record-v2";
  guint8 id_len = (guint8) strlen (device_id);

  g_byte_array_append (msg, (const guint8 *) domain, sizeof domain - 1);
  g_byte_array_append (msg, self->raw_id, COFFER_REPO_ID_BYTES);
  g_byte_array_append (msg, &id_len, 1);
  g_byte_array_append (msg, (const guint8 *) device_id, id_len);
  g_byte_array_append (msg, plain, len);
  if (sign_sk != NULL)
    {
      crypto_sign_detached (sig, NULL, msg->data, msg->len, sign_sk->data);
      return TRUE;
    }
  return crypto_sign_verify_detached (sig, msg->data, msg->len, sign_pk) == 0;
}

/* approver NULL: approved by the recovery key, signer_sk the rotation key;
 * otherwise signer_sk is the approving device's signing key. */
static gboolean
write_record (CofferRepository *self, const CofferSecret *ak, const char *device_id, const guint8 pk[32],
              const guint8 sign_pk[32], gint64 time, const char *approver, const CofferSecret *signer_sk,
              GCancellable *cancellable, GError **error)
{
  g_autofree char *name = obj_name (RECORD_FMT, device_id);
  g_autoptr(GByteArray) plain = fixed_new_version ("CFDR", 2);
  g_autoptr(GBytes) env = NULL;
  gint64 le = GINT64_TO_LE (time);
  guint8 akid[32], approver_len = approver != NULL ? (guint8) strlen (approver) : 0, sig[64];

  coffer_account_key_id (ak, akid);
  g_byte_array_append (plain, pk, 32);
  g_byte_array_append (plain, sign_pk, 32);
  g_byte_array_append (plain, (const guint8 *) &le, 8);
  g_byte_array_append (plain, akid, 32);
  g_byte_array_append (plain, &approver_len, 1);
  if (approver_len > 0)
    g_byte_array_append (plain, (const guint8 *) approver, approver_len);
  record_signature_op (self, device_id, plain->data, plain->len, signer_sk, NULL, sig);
  g_byte_array_append (plain, sig, sizeof sig);
  env = coffer_envelope_seal (ak, self->raw_id, COFFER_OBJECT_DEVICE_NAME,
                              name, plain->data, plain->len);
  /* Version-2 records: Coffer 0.1.0 must refuse the repository as newer. */
  if (!_coffer_repository_upgrade_format (self, cancellable, error))
    return FALSE;
  return coffer_store_put (self->store, name, env, COFFER_PUT_REPLACE,
                           cancellable, error);
}

/* A record approved by the recovery key: signed with the rotation key. */
static gboolean
write_record_by_recovery (CofferRepository *self, const CofferSecret *ak, const CofferSecret *rk,
                          const char *device_id, const guint8 pk[32], const guint8 sign_pk[32], gint64 time,
                          GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) rot_sk = NULL;
  guint8 rot_pk[crypto_sign_PUBLICKEYBYTES];

  _coffer_rotation_keypair (rk, self->raw_id, rot_pk, &rot_sk);
  return write_record (self, ak, device_id, pk, sign_pk, time, NULL, rot_sk, cancellable, error);
}

gboolean
_coffer_repository_write_device_record (CofferRepository *self, const CofferSecret *ak,
                                        const CofferSecret *rk, const char *device_id,
                                        const CofferSecret *device_sk,
                                        GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) sign_sk = NULL;
  guint8 pk[32], sign_pk[32];

  coffer_device_public_key (device_sk, pk);
  sign_sk = coffer_device_signing_keypair (device_sk, self->raw_id, sign_pk);
  return write_record_by_recovery (self, ak, rk, device_id, pk, sign_pk, g_get_real_time () / G_USEC_PER_SEC,
                                   cancellable, error);
}

static DeviceRecord *
parse_record (const guint8 *data, gsize len)
{
  g_autoptr(DeviceRecord) r = g_new0 (DeviceRecord, 1);
  gint64 t;

  if (len < 8 || memcmp (data, "CFDR", 4) != 0 || data[5] != 0 || data[6] != 0 || data[7] != 0)
    return NULL;
  r->version = data[4];
  if (r->version == 1 && len == 48)
    memcpy (&t, data + 40, 8);
  else if (r->version == 2 && len >= 177 && len == 177 + (gsize) data[112] && data[112] <= COFFER_DEVICE_ID_MAX)
    {
      memcpy (r->sign_pk, data + 40, 32);
      memcpy (&t, data + 72, 8);
      memcpy (r->akid, data + 80, 32);
      if (data[112] > 0)
        {
          r->approver = g_strndup ((const char *) data + 113, data[112]);
          if (!coffer_device_id_is_valid (r->approver))
            return NULL;
        }
      memcpy (r->sig, data + len - 64, 64);
      r->signed_part = g_bytes_new (data, len - 64);
    }
  else
    return NULL;
  memcpy (r->pk, data + 8, 32);
  r->time = GINT64_FROM_LE (t);
  if (!coffer_device_public_key_is_valid (r->pk))
    return NULL;
  return g_steal_pointer (&r);
}

/* Reads keys/device-keys/<id>, sealed under ak or (during a resumed
 * rotation) under ak2. Only the envelope is checked here; whether the
 * record is genuine is for verify_device to say. */
static DeviceRecord *
read_device_record (CofferRepository *self, const CofferSecret *ak, const CofferSecret *ak2,
                    const char *device_id, GCancellable *cancellable, GError **error)
{
  g_autofree char *name = obj_name (RECORD_FMT, device_id);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) plain = NULL;
  DeviceRecord *r;
  gboolean missing;

  env = _coffer_repository_get_small (self, name, &missing, cancellable, error);
  if (env == NULL)
    {
      if (missing)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND,
                     _("The repository has no public key record for device %s."), device_id);
      return NULL;
    }
  plain = coffer_envelope_open (ak, self->raw_id, COFFER_OBJECT_DEVICE_NAME,
                                name, env, ak2 != NULL ? NULL : error);
  if (plain == NULL && ak2 != NULL)
    plain = coffer_envelope_open (ak2, self->raw_id, COFFER_OBJECT_DEVICE_NAME,
                                  name, env, error);
  if (plain == NULL)
    return NULL;
  r = parse_record (plain->data, plain->len);
  if (r == NULL)
    g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                 _("The public key record of device %s is malformed."), device_id);
  return r;
}

/* Who may have written a record: anyone with the account key, including
 * a device about to be removed. A record counts only when it is signed by
 * the recovery key (the rotation key) or by a device whose own record
 * counts, along a chain of at most MAX_APPROVAL_DEPTH approvals that does
 * not pass through `excluded`, and only when it names an account key id
 * in akids (a signed record of a device removed earlier names an older
 * key, so putting it back does not make that device trusted again). */
typedef struct
{
  CofferRepository   *self;
  const CofferSecret *ak;
  const CofferSecret *ak2;
  guint8              akids[2][32];
  guint               n_akids;
  guint8              rotation_pk[32];
  gboolean            have_rotation_pk;
  const char         *excluded;
  GHashTable         *records;   /* id → DeviceRecord (NULL: unreadable) */
  GHashTable         *verdicts;  /* id → 1 verified, 2 not, 3 being checked */
  GCancellable       *cancellable;
} Verifier;

static void
verifier_init (Verifier *v, CofferRepository *self, const CofferSecret *ak, const CofferSecret *ak2,
               const guint8 *rotation_pk, const char *excluded, GCancellable *cancellable)
{
  memset (v, 0, sizeof *v);
  v->self = self;
  v->ak = ak;
  v->ak2 = ak2;
  coffer_account_key_id (ak, v->akids[v->n_akids++]);
  if (ak2 != NULL)
    coffer_account_key_id (ak2, v->akids[v->n_akids++]);
  if (rotation_pk != NULL)
    {
      memcpy (v->rotation_pk, rotation_pk, 32);
      v->have_rotation_pk = TRUE;
    }
  v->excluded = excluded;
  v->records = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) device_record_free);
  v->verdicts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  v->cancellable = cancellable;
}

static void
verifier_clear (Verifier *v)
{
  g_clear_pointer (&v->records, g_hash_table_unref);
  g_clear_pointer (&v->verdicts, g_hash_table_unref);
}

static DeviceRecord *
verifier_record (Verifier *v, const char *id)
{
  gpointer value;

  if (!g_hash_table_lookup_extended (v->records, id, NULL, &value))
    {
      g_autoptr(GError) local_error = NULL;
      value = read_device_record (v->self, v->ak, v->ak2, id, v->cancellable, &local_error);
      if (value == NULL)
        g_debug ("device record %s: %s", id, local_error->message);
      g_hash_table_insert (v->records, g_strdup (id), value);
    }
  return value;
}

/* Who approved a record, as the device lists show it: "recovery", a
 * device id, or NULL for a legacy v1 record. */
static char *
record_approver (const DeviceRecord *r)
{
  return r->version == 1 ? NULL : g_strdup (r->approver ? r->approver : "recovery");
}

static gboolean
verify_device (Verifier *v, const char *id, guint depth)
{
  DeviceRecord *r;
  gboolean ok = FALSE;
  guint verdict = GPOINTER_TO_UINT (g_hash_table_lookup (v->verdicts, id));

  if (verdict != 0)
    return verdict == 1;   /* 3: a loop */
  if (!v->have_rotation_pk || (v->excluded != NULL && strcmp (id, v->excluded) == 0)
      || depth > MAX_APPROVAL_DEPTH)
    return FALSE;
  g_hash_table_insert (v->verdicts, g_strdup (id), GUINT_TO_POINTER (3));
  r = verifier_record (v, id);
  if (r != NULL && r->version == 2
      && (sodium_memcmp (r->akid, v->akids[0], 32) == 0
          || (v->n_akids > 1 && sodium_memcmp (r->akid, v->akids[1], 32) == 0)))
    {
      gsize len;
      const guint8 *part = g_bytes_get_data (r->signed_part, &len);

      if (r->approver == NULL)
        ok = record_signature_op (v->self, id, part, len, NULL, v->rotation_pk, r->sig);
      else if (verify_device (v, r->approver, depth + 1))
        {
          DeviceRecord *approver = verifier_record (v, r->approver);
          ok = !sodium_is_zero (approver->sign_pk, 32)
               && record_signature_op (v->self, id, part, len, NULL, approver->sign_pk, r->sig);
        }
    }
  g_hash_table_insert (v->verdicts, g_strdup (id), GUINT_TO_POINTER (ok ? 1 : 2));
  return ok;
}

/* The device name is the envelope under AK that follows the 240-byte
 * sealed part of keys/devices/<id> (docs/FORMAT.md "Device envelopes"). */
static char *
read_device_name (CofferRepository *self, GBytes *envelope, const CofferSecret *ak, const char *device_id)
{
  g_autofree char *name = obj_name (DEVICE_FMT, device_id);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) plain = NULL;
  gsize len = g_bytes_get_size (envelope);

  if (ak == NULL || len <= 240)
    return NULL;
  env = g_bytes_new_from_bytes (envelope, 240, len - 240);
  plain = coffer_envelope_open (ak, self->raw_id, COFFER_OBJECT_DEVICE_NAME,
                                name, env, NULL);
  if (plain == NULL)
    return NULL;
  {
    g_autofree char *str = g_strndup ((const char *) plain->data, plain->len);
    return coffer_device_name_is_valid (str) ? g_steal_pointer (&str) : NULL;
  }
}

/* Ids of the objects directly under prefix (keys/devices/, keys/pending/). */
static GPtrArray *
list_ids (CofferRepository *self, const char *prefix, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);

  if (!coffer_store_list (self->store, prefix, _coffer_collect_names, names,
                          cancellable, error))
    {
      g_ptr_array_unref (ids);
      return NULL;
    }
  for (guint i = 0; i < names->len; i++)
    {
      const char *id = (const char *) g_ptr_array_index (names, i) + strlen (prefix);
      if (coffer_device_id_is_valid (id))
        g_ptr_array_add (ids, g_strdup (id));
    }
  g_ptr_array_sort (ids, _coffer_compare_strings);
  return ids;
}

/* ---- join: the new computer ---- */

gboolean
coffer_repository_request_join (CofferRepository *self, const char *device_name,
                                char **out_device_id, char **out_code,
                                GCancellable *cancellable, GError **error)
{
  CofferState *state;
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;
  g_autofree char *obj = NULL;
  g_autoptr(CofferSecret) sk = NULL;
  g_autoptr(CofferJoinRequest) request = NULL;
  g_autoptr(GBytes) req_bytes = NULL;
  g_autoptr(GByteArray) commit = NULL;
  g_autoptr(CofferSecret) sign_sk = NULL;
  guint8 pk[32], sign_pk[32], r[NONCE_BYTES], c[32];

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (out_code != NULL)
    *out_code = NULL;
  state = self->state;
  name = g_strdup (device_name != NULL ? device_name : g_get_host_name ());
  if (!coffer_device_name_is_valid (name))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("“%s” is not a valid device name: use up to 256 bytes of text without control characters."),
                   name);
      return FALSE;
    }
  if (self->device_id != NULL)
    {
      g_autofree char *env_name = obj_name (DEVICE_FMT, self->device_id);
      if (coffer_store_stat (self->store, env_name, NULL, cancellable, NULL))
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_EXISTS,
                       _("This computer is already a trusted device of this repository."));
          return FALSE;
        }
    }

  id = coffer_device_id_new ();
  sk = coffer_device_keypair_new (pk);
  sign_sk = coffer_device_signing_keypair (sk, self->raw_id, sign_pk);
  randombytes_buf (r, sizeof r);
  join_commitment (self->raw_id, id, pk, sign_pk, r, c);

  /* This computer's key first (a request nobody can complete is harmless;
   * an approved device that forgot its key is not). */
  if (!_coffer_repository_save_local_device_key (self, sk, error))
    return FALSE;
  coffer_state_set_string (state, "device", "id", id);
  _coffer_state_set_hex (state, "device", "public-key", pk, sizeof pk);
  /* A new join starts from nothing: no account key, no old answers. */
  coffer_state_remove (state, "account", "key-id");
  coffer_state_remove (state, "join", "trusted-key");
  coffer_state_remove (state, "join", "trusted-nonce");
  _coffer_state_set_hex (state, "join", "nonce", r, sizeof r);
  if (!coffer_state_save (state, error))
    return FALSE;
  _coffer_repository_set_device_id (self, id);

  /* v2: the commitment and this computer's signing key, which the
   * commitment binds (the approver signs this computer's record with it). */
  commit = fixed_new_version ("CFJC", 2);
  g_byte_array_append (commit, c, sizeof c);
  g_byte_array_append (commit, sign_pk, sizeof sign_pk);
  obj = obj_name (COMMIT_FMT, id);
  if (!put (self, obj, commit->data, commit->len, COFFER_PUT_CREATE, cancellable, error))
    return FALSE;
  request = coffer_join_request_new (id, pk, name, g_get_real_time () / G_USEC_PER_SEC);
  req_bytes = coffer_join_request_serialize (request);
  g_free (obj);
  obj = obj_name (PENDING_FMT, id);
  if (req_bytes == NULL
      || !coffer_store_put (self->store, obj, req_bytes, COFFER_PUT_CREATE,
                            cancellable, error))
    {
      if (req_bytes == NULL)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, _("The join request is not valid."));
      return FALSE;
    }
  if (out_device_id != NULL)
    *out_device_id = g_steal_pointer (&id);
  return TRUE;
}

static gboolean
require_join_in_progress (CofferRepository *self, guint8 r[NONCE_BYTES], GError **error)
{
  if (self->device_id == NULL
      || !_coffer_state_get_hex (self->state, "join", "nonce", r, NONCE_BYTES))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("This computer has not asked to join this repository. Start with “coffer devices join”."));
      return FALSE;
    }
  return TRUE;
}

gboolean
coffer_repository_get_join_status (CofferRepository *self, char **out_code, gboolean *out_approved,
                                   GCancellable *cancellable, GError **error)
{
  CofferState *state;
  const char *id;
  g_autofree char *obj = NULL;
  g_autoptr(GBytes) resp = NULL;
  g_autoptr(GByteArray) reveal = NULL;
  guint8 r[NONCE_BYTES], pk[32], pk_t[32], n_t[NONCE_BYTES], known[32];
  const guint8 *body;
  gboolean missing;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  *out_code = NULL;
  if (out_approved != NULL)
    *out_approved = FALSE;
  if (!require_join_in_progress (self, r, error))
    return FALSE;
  state = self->state;
  id = self->device_id;
  if (!_coffer_state_get_hex (state, "device", "public-key", pk, sizeof pk))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("This computer's local state has no device public key."));
      return FALSE;
    }

  obj = obj_name (DEVICE_FMT, id);
  if (out_approved != NULL)
    *out_approved = coffer_store_stat (self->store, obj, NULL, cancellable, NULL);

  g_free (obj);
  obj = obj_name (RESPONSE_FMT, id);
  resp = _coffer_repository_get_small (self, obj, &missing, cancellable, error);
  if (resp == NULL)
    {
      if (!missing)
        return FALSE;
      /* The answer is deleted on approval; the code learnt before stays valid. */
      if (_coffer_state_get_hex (state, "join", "trusted-key", pk_t, 32)
          && _coffer_state_get_hex (state, "join", "trusted-nonce", n_t, NONCE_BYTES))
        *out_code = join_code (self->raw_id, id, pk_t, n_t, pk, r);
      return TRUE;
    }
  /* pkT 32 | nT 32 */
  if (!parse_fixed (resp, "CFJR", 64, &body) || !coffer_device_public_key_is_valid (body))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The trusted computer's answer (%s) is malformed."), obj);
      return FALSE;
    }
  /* The first answer counts: the code shown must not change under the user. */
  if (_coffer_state_get_hex (state, "join", "trusted-key", known, 32))
    {
      if (memcmp (known, body, 32) != 0
          || !_coffer_state_get_hex (state, "join", "trusted-nonce", n_t, NONCE_BYTES)
          || memcmp (n_t, body + 32, NONCE_BYTES) != 0)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       _("The answer to this computer's join request changed after it was shown. Someone may "
                         "be interfering with the storage: do not approve, and start again."));
          return FALSE;
        }
    }
  else
    {
      _coffer_state_set_hex (state, "join", "trusted-key", body, 32);
      _coffer_state_set_hex (state, "join", "trusted-nonce", body + 32, NONCE_BYTES);
      if (!coffer_state_save (state, error))
        return FALSE;
    }
  memcpy (pk_t, body, 32);
  memcpy (n_t, body + 32, NONCE_BYTES);

  /* Only now, with the trusted side fixed, reveal our nonce. */
  reveal = fixed_new ("CFJV");
  g_byte_array_append (reveal, r, sizeof r);
  g_free (obj);
  obj = obj_name (REVEAL_FMT, id);
  if (!put (self, obj, reveal->data, reveal->len, COFFER_PUT_REPLACE, cancellable, error))
    return FALSE;
  *out_code = join_code (self->raw_id, id, pk_t, n_t, pk, r);
  return TRUE;
}

/* ---- join: the trusted computer ---- */

typedef struct
{
  CofferJoinRequest *request;
  guint8 commit[32];
  guint8 sign_pk[32];    /* the new device's signing key; zero from a v1 commitment */
  gboolean has_sign_pk;
  guint8 n_t[NONCE_BYTES];
  guint8 r_new[NONCE_BYTES];
  gboolean revealed;
} JoinView;

static void
join_view_clear (JoinView *v)
{
  g_clear_pointer (&v->request, coffer_join_request_free);
}

static CofferSecret *
own_device_key (CofferRepository *self, guint8 pk[32], GError **error)
{
  CofferSecret *sk = _coffer_repository_load_device_key (self, error);

  if (sk != NULL)
    coffer_device_public_key (sk, pk);
  return sk;
}

/* Reads the request of device_id into v->request and its commitment into
 * seen (and v->sign_pk from a v2 commitment). */
static gboolean
join_view_read (CofferRepository *self, const char *device_id, JoinView *v, guint8 seen[32],
                GCancellable *cancellable, GError **error)
{
  g_autofree char *obj = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const guint8 *body;
  gboolean missing;

  if (!coffer_device_id_is_valid (device_id))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("“%s” is not a device id."), device_id);
      return FALSE;
    }
  obj = obj_name (PENDING_FMT, device_id);
  bytes = _coffer_repository_get_small (self, obj, &missing, cancellable, error);
  if (bytes == NULL)
    {
      if (missing)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                     _("There is no join request from a device %s."), device_id);
      return FALSE;
    }
  v->request = coffer_join_request_parse (bytes, device_id, error);
  if (v->request == NULL)
    return FALSE;

  g_clear_pointer (&bytes, g_bytes_unref);
  g_free (obj);
  obj = obj_name (COMMIT_FMT, device_id);
  bytes = _coffer_repository_get_small (self, obj, &missing, cancellable, error);
  if (bytes == NULL)
    {
      if (missing)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The join request of device %s has no commitment (%s): it was not made by this "
                       "version of Coffer, or it was tampered with."), device_id, obj);
      return FALSE;
    }
  if (_coffer_parse_fixed_version (bytes, "CFJC", 2, 64, &body))
    {
      memcpy (v->sign_pk, body + 32, 32);
      v->has_sign_pk = TRUE;
    }
  else if (!parse_fixed (bytes, "CFJC", 32, &body))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The commitment of device %s is malformed."), device_id);
      return FALSE;
    }
  memcpy (seen, body, 32);
  return TRUE;
}

/* Reads and checks the new device's reveal against v->commit; TRUE with
 * v->revealed FALSE when there is none yet. */
static gboolean
join_view_reveal (CofferRepository *self, const char *device_id, JoinView *v,
                  GCancellable *cancellable, GError **error)
{
  g_autofree char *obj = obj_name (REVEAL_FMT, device_id);
  g_autoptr(GBytes) bytes = NULL;
  const guint8 *body;
  guint8 check[32];
  gboolean missing;

  bytes = _coffer_repository_get_small (self, obj, &missing, cancellable, error);
  if (bytes == NULL)
    return missing;
  if (!parse_fixed (bytes, "CFJV", NONCE_BYTES, &body))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The answer of device %s is malformed."), device_id);
      return FALSE;
    }
  join_commitment (self->raw_id, device_id, v->request->public_key,
                   v->has_sign_pk ? v->sign_pk : NULL, body, check);
  if (sodium_memcmp (check, v->commit, 32) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The answer of device %s does not match what it committed to. Someone may be "
                     "interfering with the storage: do not approve it."), device_id);
      return FALSE;
    }
  memcpy (v->r_new, body, NONCE_BYTES);
  v->revealed = TRUE;
  return TRUE;
}

/* Reads the request and its commitment; answers it when answer is TRUE and
 * this computer has not yet; reads and checks the reveal. */
static gboolean
join_view (CofferRepository *self, const char *device_id, gboolean answer, const guint8 pk_t[32],
           JoinView *v, GCancellable *cancellable, GError **error)
{
  CofferState *state = self->state;
  g_autofree char *group = g_strdup_printf ("join %s", device_id);
  guint8 seen[32], stored[32];

  if (!join_view_read (self, device_id, v, seen, cancellable, error))
    return FALSE;

  /* What this computer saw first is what counts (the storage may change). */
  if (_coffer_state_get_hex (state, group, "commit", stored, 32))
    {
      guint8 stored_pk[32];
      if (memcmp (stored, seen, 32) != 0
          || !_coffer_state_get_hex (state, group, "request-key", stored_pk, 32)
          || memcmp (stored_pk, v->request->public_key, 32) != 0)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       _("The join request of device %s changed after this computer answered it. Someone may "
                         "be interfering with the storage: do not approve it."), device_id);
          return FALSE;
        }
      memcpy (v->commit, stored, 32);
      if (!_coffer_state_get_hex (state, group, "nonce", v->n_t, NONCE_BYTES))
        return FALSE;
    }
  else if (answer)
    {
      memcpy (v->commit, seen, 32);
      randombytes_buf (v->n_t, NONCE_BYTES);
      _coffer_state_set_hex (state, group, "commit", v->commit, 32);
      _coffer_state_set_hex (state, group, "request-key", v->request->public_key, 32);
      _coffer_state_set_hex (state, group, "nonce", v->n_t, NONCE_BYTES);
      if (!coffer_state_save (state, error))
        return FALSE;
    }
  else
    return TRUE;   /* not answered by this computer: no code */

  if (answer)
    {
      g_autoptr(GByteArray) resp = fixed_new ("CFJR");
      g_autofree char *resp_name = obj_name (RESPONSE_FMT, device_id);

      g_byte_array_append (resp, pk_t, 32);
      g_byte_array_append (resp, v->n_t, NONCE_BYTES);
      if (!put (self, resp_name, resp->data, resp->len, COFFER_PUT_REPLACE, cancellable, error))
        return FALSE;
    }
  return join_view_reveal (self, device_id, v, cancellable, error);
}

static gboolean
require_account_key (CofferRepository *self, const char *what, GError **error)
{
  if (self->account_key != NULL)
    return TRUE;
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
               _("%s needs a trusted device or the recovery key."), what);
  return FALSE;
}

gboolean
coffer_repository_get_join_code (CofferRepository *self, const char *device_id, char **out_code,
                                 GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) sk = NULL;
  JoinView v = { NULL };
  guint8 pk_t[32];
  gboolean ok;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  *out_code = NULL;
  if (!require_account_key (self, _("Approving a device"), error))
    return FALSE;
  /* The code must use this computer's own key, never one read from storage. */
  sk = own_device_key (self, pk_t, error);
  if (sk == NULL)
    return FALSE;
  ok = join_view (self, device_id, TRUE, pk_t, &v, cancellable, error);
  if (ok && v.revealed)
    *out_code = join_code (self->raw_id, device_id, pk_t, v.n_t,
                           v.request->public_key, v.r_new);
  join_view_clear (&v);
  return ok;
}

static char *
normalise_code (const char *code)
{
  GString *out = g_string_new (NULL);

  for (const char *p = code; p != NULL && *p; p++)
    if (g_ascii_isdigit (*p))
      g_string_append_c (out, *p);
    else if (*p != ' ' && *p != '-' && *p != '\t')
      {
        g_string_free (out, TRUE);
        return NULL;
      }
  return g_string_free (out, FALSE);
}

static void
forget_join (CofferRepository *self, const char *device_id, gboolean with_approval, GCancellable *cancellable)
{
  char *objs[] = { obj_name (PENDING_FMT, device_id), obj_name (COMMIT_FMT, device_id),
                   obj_name (RESPONSE_FMT, device_id), obj_name (REVEAL_FMT, device_id),
                   obj_name (APPROVAL_FMT, device_id) };
  CofferState *state = self->state;
  g_autofree char *group = g_strdup_printf ("join %s", device_id);

  for (guint i = 0; i < G_N_ELEMENTS (objs); i++)
    {
      if (i < G_N_ELEMENTS (objs) - 1 || with_approval)
        delete_quietly (self, objs[i], cancellable);
      g_free (objs[i]);
    }
  coffer_state_remove (state, group, "commit");
  coffer_state_remove (state, group, "request-key");
  coffer_state_remove (state, group, "nonce");
  coffer_state_save (state, NULL);
}

/* The new computer has revealed its code and the user typed the same. */
static gboolean
approve_check_code (CofferRepository *self, const char *device_id, const guint8 pk_t[32], const JoinView *v,
                    const char *code_typed_by_user, GCancellable *cancellable, GError **error)
{
  g_autofree char *code = NULL;
  g_autofree char *want = NULL;
  g_autofree char *typed = NULL;

  if (!v->revealed)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED,
                   _("The new computer has not shown its code yet. Keep “coffer devices join” running "
                     "there (or run “coffer devices join --status”), then try again."));
      return FALSE;
    }
  code = join_code (self->raw_id, device_id, pk_t, v->n_t, v->request->public_key, v->r_new);
  want = normalise_code (code);
  typed = normalise_code (code_typed_by_user);
  if (typed == NULL || strlen (typed) != 6)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("The code is six digits, as shown on the new computer."));
      return FALSE;
    }
  if (sodium_memcmp (typed, want, 6) != 0)
    {
      /* A request whose code did not match is never approved later. */
      forget_join (self, device_id, TRUE, cancellable);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("The code does not match the one on this computer, so the device was not approved "
                     "and its request was cancelled. If you typed it correctly, someone may be interfering "
                     "with the storage; start the join again on the new computer."));
      return FALSE;
    }
  return TRUE;
}

/* The new device's record is signed by the recovery key when this session
 * holds it, otherwise by this computer (sk): a later removal keeps the new
 * device only if the chain of signatures leads back to the recovery key
 * without the removed one. */
static gboolean
approve_write_record (CofferRepository *self, const CofferSecret *ak, const CofferSecret *sk,
                      const char *device_id, const JoinView *v, GCancellable *cancellable, GError **error)
{
  static const guint8 zero[32] = { 0 };
  const CofferSecret *rk = self->recovery_key;
  const guint8 *new_sign_pk = v->has_sign_pk ? v->sign_pk : zero;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint8 own_sign_pk[32];
  g_autoptr(CofferSecret) own_sign_sk = NULL;

  if (rk != NULL && _coffer_repository_recovery_key_is_pinned (self, rk))
    return write_record_by_recovery (self, ak, rk, device_id, v->request->public_key, new_sign_pk, now,
                                     cancellable, error);
  own_sign_sk = coffer_device_signing_keypair (sk, self->raw_id, own_sign_pk);
  return write_record (self, ak, device_id, v->request->public_key, new_sign_pk, now,
                       self->device_id, own_sign_sk, cancellable, error);
}

gboolean
coffer_repository_approve_device (CofferRepository *self, const char *device_id,
                                  const char *code_typed_by_user,
                                  GCancellable *cancellable, GError **error)
{
  const CofferSecret *ak;
  g_autoptr(CofferSecret) sk = NULL;
  g_autofree char *obj = NULL;
  g_autoptr(GBytes) env = NULL;
  g_autoptr(GByteArray) approval = NULL;
  JoinView v = { NULL };
  guint8 pk_t[32], akid[32], rot_pk[32] = { 0 }, mac[32];
  CofferState *state = self->state;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (!require_account_key (self, _("Approving a device"), error))
    return FALSE;
  ak = self->account_key;
  sk = own_device_key (self, pk_t, error);
  if (sk == NULL)
    return FALSE;
  if (!join_view (self, device_id, TRUE, pk_t, &v, cancellable, error))
    goto fail;
  if (!approve_check_code (self, device_id, pk_t, &v, code_typed_by_user, cancellable, error))
    goto fail;

  coffer_account_key_id (ak, akid);
  _coffer_state_get_hex (state, "account", "rotation-key", rot_pk, sizeof rot_pk);
  if (!approval_mac (sk, v.request->public_key, pk_t, v.request->public_key,
                     self->raw_id, device_id, akid, rot_pk, mac))
    goto invalid;

  /* Record, then the envelope (what makes the device trusted), then the
   * approval the new computer checks, then the request goes. */
  if (!approve_write_record (self, ak, sk, device_id, &v, cancellable, error))
    goto fail;
  env = coffer_device_envelope_seal (v.request->public_key, ak, self->raw_id,
                                     device_id, v.request->device_name);
  if (env == NULL)
    goto invalid;
  obj = obj_name (DEVICE_FMT, device_id);
  if (!coffer_store_put (self->store, obj, env, COFFER_PUT_REPLACE, cancellable, error))
    goto fail;
  approval = fixed_new ("CFJA");
  g_byte_array_append (approval, rot_pk, 32);
  g_byte_array_append (approval, mac, 32);
  g_free (obj);
  obj = obj_name (APPROVAL_FMT, device_id);
  if (!put (self, obj, approval->data, approval->len, COFFER_PUT_REPLACE, cancellable, error))
    goto fail;
  forget_join (self, device_id, FALSE, cancellable);
  join_view_clear (&v);
  return TRUE;

invalid:
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("The join request of device %s carries an unusable key."), device_id);
fail:
  join_view_clear (&v);
  return FALSE;
}

gboolean
coffer_repository_complete_join (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  CofferState *state;
  const char *id;
  g_autofree char *obj = NULL;
  g_autoptr(GBytes) env = NULL;
  g_autoptr(GBytes) approval = NULL;
  g_autoptr(CofferSecret) sk = NULL;
  g_autoptr(CofferSecret) ak = NULL;
  g_autoptr(GError) local_error = NULL;
  guint8 r[NONCE_BYTES], pk[32], pk_t[32], akid[32], mac[32];
  const guint8 *body;
  gboolean missing;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (!require_join_in_progress (self, r, error))
    return FALSE;
  state = self->state;
  id = self->device_id;
  if (!_coffer_state_get_hex (state, "join", "trusted-key", pk_t, 32))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                   _("No trusted computer has answered this computer's request yet."));
      return FALSE;
    }
  obj = obj_name (DEVICE_FMT, id);
  env = _coffer_repository_get_small (self, obj, &missing, cancellable, error);
  if (env == NULL)
    {
      if (missing)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                     _("This computer has not been approved yet. On a trusted computer, run "
                       "“coffer devices approve %s” and type the code shown here."), id);
      return FALSE;
    }
  g_free (obj);
  obj = obj_name (APPROVAL_FMT, id);
  approval = _coffer_repository_get_small (self, obj, &missing, cancellable, error);
  if (approval == NULL)
    {
      if (missing)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The approval of this computer is missing (%s)."), obj);
      return FALSE;
    }
  if (!parse_fixed (approval, "CFJA", 64, &body))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The approval of this computer is malformed."));
      return FALSE;
    }
  sk = _coffer_repository_load_device_key (self, error);
  if (sk == NULL)
    return FALSE;
  coffer_device_public_key (sk, pk);
  ak = coffer_device_envelope_open (sk, pk, self->raw_id, id, env, NULL, &local_error);
  if (ak == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("This computer's key envelope could not be opened: %s"), local_error->message);
      return FALSE;
    }
  /* The envelope is anonymous (crypto_box_seal): only the MAC under the
   * key shared with the trusted computer whose key is in the code shows
   * that the account key comes from it. */
  coffer_account_key_id (ak, akid);
  if (!approval_mac (sk, pk_t, pk_t, pk, self->raw_id, id, akid, body, mac)
      || sodium_memcmp (mac, body + 32, 32) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The approval of this computer does not come from the trusted computer that showed "
                     "the code. Someone may be interfering with the storage; nothing was used."));
      return FALSE;
    }
  if (!sodium_is_zero (body, 32))
    _coffer_state_set_hex (state, "account", "rotation-key", body, 32);
  coffer_state_remove (state, "join", "nonce");
  coffer_state_remove (state, "join", "trusted-key");
  coffer_state_remove (state, "join", "trusted-nonce");
  _coffer_repository_replace_account_key (self, ak);   /* saves the state */
  delete_quietly (self, obj, cancellable);
  return TRUE;
}

/* ---- trusting this computer with the account key in hand ---- */

gboolean
coffer_repository_trust_this_device (CofferRepository *self, const char *device_name,
                                     GCancellable *cancellable, GError **error)
{
  const CofferSecret *ak = self->account_key;
  CofferState *state;
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;
  g_autofree char *obj = NULL;
  g_autoptr(CofferSecret) sk = NULL;
  g_autoptr(GBytes) env = NULL;
  guint8 pk[32];

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (!require_account_key (self, _("Trusting this computer"), error))
    return FALSE;
  if (self->device_id != NULL)
    {
      g_autofree char *env_name = obj_name (DEVICE_FMT, self->device_id);
      if (coffer_store_stat (self->store, env_name, NULL, cancellable, NULL))
        return TRUE;   /* already trusted */
    }
  name = g_strdup (device_name != NULL ? device_name : g_get_host_name ());
  if (!coffer_device_name_is_valid (name))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("“%s” is not a valid device name: use up to 256 bytes of text without control characters."),
                   name);
      return FALSE;
    }

  state = self->state;
  id = coffer_device_id_new ();
  sk = coffer_device_keypair_new (pk);
  /* This computer's key first: an envelope for a key nobody kept is
   * harmless, a kept key without an envelope is retried next time. */
  if (!_coffer_repository_save_local_device_key (self, sk, error))
    return FALSE;
  coffer_state_set_string (state, "device", "id", id);
  _coffer_state_set_hex (state, "device", "public-key", pk, sizeof pk);
  if (!coffer_state_save (state, error))
    return FALSE;
  _coffer_repository_set_device_id (self, id);

  env = coffer_device_envelope_seal (pk, ak, self->raw_id, id, name);
  obj = obj_name (DEVICE_FMT, id);
  if (env == NULL
      || !coffer_store_put (self->store, obj, env, COFFER_PUT_CREATE, cancellable, error))
    {
      if (env == NULL)
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, _("The device envelope is not valid."));
      return FALSE;
    }
  {
    const CofferSecret *rk = self->recovery_key;
    guint8 sign_pk[32];
    g_autoptr(CofferSecret) sign_sk = coffer_device_signing_keypair (sk, self->raw_id,
                                                                     sign_pk);

    /* With the recovery key at hand the record is approved by it; without
     * it, only by this computer itself, which nobody else can vouch for: a
     * removal then asks the user to confirm this device. */
    if (rk != NULL && _coffer_repository_recovery_key_is_pinned (self, rk))
      return _coffer_repository_write_device_record (self, ak, rk, id, sk, cancellable, error);
    return write_record (self, ak, id, pk, sign_pk, g_get_real_time () / G_USEC_PER_SEC, id, sign_sk,
                         cancellable, error);
  }
}

/* ---- a new recovery key ---- */

gboolean
_coffer_repository_resign_device_records (CofferRepository *self, const CofferSecret *new_rk,
                                          GCancellable *cancellable, GError **error)
{
  const CofferSecret *ak = self->account_key;
  g_autoptr(GPtrArray) ids = NULL;
  guint8 pinned[crypto_sign_PUBLICKEYBYTES];
  Verifier v;
  gboolean ok = TRUE;

  /* What verifies under the old recovery key (the rotation key pinned
   * here, never one read from storage) is re-approved by the new one;
   * otherwise the next removal could no longer tell any device from one
   * the removed device planted. */
  if (ak == NULL || !_coffer_state_get_hex (self->state, "account", "rotation-key", pinned,
                                            sizeof pinned))
    return TRUE;
  ids = list_ids (self, "keys/devices/", cancellable, error);
  if (ids == NULL)
    return FALSE;
  verifier_init (&v, self, ak, NULL, pinned, NULL, cancellable);
  for (guint i = 0; i < ids->len && ok; i++)
    {
      const char *id = g_ptr_array_index (ids, i);

      if (verify_device (&v, id, 0))
        {
          DeviceRecord *r = verifier_record (&v, id);
          ok = write_record_by_recovery (self, ak, new_rk, id, r->pk, r->sign_pk, r->time, cancellable, error);
        }
    }
  verifier_clear (&v);
  return ok;
}

/* ---- listing ---- */

GPtrArray *
coffer_repository_list_devices (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_device_info_free);
  g_autoptr(GPtrArray) trusted = NULL;
  g_autoptr(GPtrArray) pending = NULL;
  const CofferSecret *ak;
  const char *own;
  guint8 pk_t[32], pinned[32];
  g_autoptr(CofferSecret) sk = NULL;
  Verifier verifier;
  gboolean have_pinned;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);

  ak = self->account_key;
  own = self->device_id;
  trusted = list_ids (self, "keys/devices/", cancellable, error);
  if (trusted == NULL)
    return NULL;
  pending = list_ids (self, "keys/pending/", cancellable, error);
  if (pending == NULL)
    return NULL;

  /* Verified against the rotation key pinned in local state (never one
   * read from storage) and the account key this computer uses. */
  have_pinned = _coffer_state_get_hex (self->state, "account", "rotation-key", pinned, 32);
  if (ak != NULL)
    verifier_init (&verifier, self, ak, NULL, have_pinned ? pinned : NULL, NULL, cancellable);
  for (guint i = 0; i < trusted->len; i++)
    {
      const char *id = g_ptr_array_index (trusted, i);
      g_autofree char *obj = obj_name (DEVICE_FMT, id);
      g_autoptr(GBytes) env = NULL;
      CofferDevice *d = g_new0 (CofferDevice, 1);
      gboolean missing;

      d->id = g_strdup (id);
      d->is_this_device = g_strcmp0 (id, own) == 0;
      env = _coffer_repository_get_small (self, obj, &missing, cancellable, NULL);
      if (env != NULL && ak != NULL)
        {
          DeviceRecord *r = verifier_record (&verifier, id);
          guint8 own_pk[32];

          d->name = read_device_name (self, env, ak, id);
          /* This computer's fingerprint from its own key, for comparing
           * with what another computer shows for it. */
          if (d->is_this_device
              && _coffer_state_get_hex (self->state, "device", "public-key", own_pk, 32))
            d->fingerprint = coffer_device_fingerprint (own_pk);
          if (r != NULL)
            {
              d->time = r->time;
              if (d->fingerprint == NULL)
                d->fingerprint = coffer_device_fingerprint (r->pk);
              d->approver = record_approver (r);
              d->verified = verify_device (&verifier, id, 0);
            }
        }
      g_ptr_array_add (result, d);
    }
  if (ak != NULL)
    verifier_clear (&verifier);

  if (ak != NULL)
    sk = own_device_key (self, pk_t, NULL);
  for (guint i = 0; i < pending->len; i++)
    {
      const char *id = g_ptr_array_index (pending, i);
      g_autofree char *obj = obj_name (PENDING_FMT, id);
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(CofferJoinRequest) request = NULL;
      CofferDevice *d;
      gboolean missing;

      bytes = _coffer_repository_get_small (self, obj, &missing, cancellable, NULL);
      if (bytes == NULL || (request = coffer_join_request_parse (bytes, id, NULL)) == NULL)
        continue;   /* hostile or half-written: not shown */
      d = g_new0 (CofferDevice, 1);
      d->id = g_strdup (id);
      d->name = g_strdup (request->device_name);
      d->pending = TRUE;
      d->time = request->time;
      d->is_this_device = g_strcmp0 (id, own) == 0;
      if (sk != NULL)
        {
          JoinView v = { NULL };
          /* Read-only: a code only for requests this computer answered. */
          if (join_view (self, id, FALSE, pk_t, &v, cancellable, NULL) && v.revealed)
            d->verification_code = join_code (self->raw_id, id, pk_t, v.n_t,
                                              v.request->public_key, v.r_new);
          join_view_clear (&v);
        }
      g_ptr_array_add (result, d);
    }
  return g_steal_pointer (&result);
}

/* ---- removal and rotation ---- */

typedef struct
{
  char     *id;
  guint8    pk[32];
  guint8    sign_pk[32];
  gint64    time;
  char     *name;
  char     *approver;    /* as shown: "recovery", a device id, NULL (legacy) */
  gboolean  has_record;
  gboolean  verified;
} Remaining;

static void
remaining_free (gpointer data)
{
  Remaining *r = data;
  g_free (r->id);
  g_free (r->name);
  g_free (r->approver);
  g_free (r);
}

static CofferDevice *
remaining_to_device (const Remaining *r)
{
  CofferDevice *d = g_new0 (CofferDevice, 1);

  d->id = g_strdup (r->id);
  d->name = g_strdup (r->name);
  d->time = r->time;
  d->verified = r->verified;
  d->fingerprint = r->has_record ? coffer_device_fingerprint (r->pk) : NULL;
  d->approver = g_strdup (r->approver);
  return d;
}

/* The record that made old_id current gives the sequence number; the
 * first rotation (or one after a legacy v1 record) gets 1. */
static guint64
next_rotation_seq (CofferRepository *self, const guint8 rot_pk[32], const guint8 old_id[32],
                   GCancellable *cancellable)
{
  g_autofree char *old_hex = coffer_hex_encode (old_id, 32);
  CofferRotation r;

  if (_coffer_repository_read_rotation (self, old_hex, rot_pk, &r, cancellable, NULL))
    return r.seq + 1;
  return 1;
}

static gboolean
write_rotation_record (CofferRepository *self, const CofferSecret *rk, const guint8 old_id[32],
                       const guint8 new_id[32], GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) sign_sk = NULL;
  g_autoptr(GByteArray) rec = fixed_new_version ("CFRT", 2);
  g_autofree char *new_hex = coffer_hex_encode (new_id, 32);
  g_autofree char *obj = obj_name (COFFER_ROTATION_FMT, new_hex);
  guint8 pk[crypto_sign_PUBLICKEYBYTES], msg[COFFER_ROTATION_MSG_MAX], sig[crypto_sign_BYTES];
  guint64 seq, le;
  gsize msg_len;

  _coffer_rotation_keypair (rk, self->raw_id, pk, &sign_sk);
  seq = next_rotation_seq (self, pk, old_id, cancellable);
  le = GUINT64_TO_LE (seq);
  msg_len = _coffer_rotation_message (2, self->raw_id, old_id, new_id, seq, msg);
  crypto_sign_detached (sig, NULL, msg, msg_len, sign_sk->data);
  g_byte_array_append (rec, old_id, 32);
  g_byte_array_append (rec, new_id, 32);
  g_byte_array_append (rec, (const guint8 *) &le, 8);
  g_byte_array_append (rec, pk, sizeof pk);
  g_byte_array_append (rec, sig, sizeof sig);
  if (!_coffer_repository_upgrade_format (self, cancellable, error))
    return FALSE;
  return put (self, obj, rec->data, rec->len, COFFER_PUT_REPLACE, cancellable, error);
}

/* Sorts the trusted devices other than device_id into those a removal
 * keeps by itself (this computer, and records verified back to the
 * recovery key without device_id) and the others. new_ak is the key of an
 * interrupted rotation being resumed, or NULL. */
static gboolean
collect_remaining (CofferRepository *self, const char *device_id, const CofferSecret *rk,
                   const CofferSecret *old_ak, const CofferSecret *new_ak, const CofferSecret *own_sk,
                   GPtrArray *kept, GPtrArray *others, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(CofferSecret) own_sign_sk = NULL;
  const char *own = self->device_id;
  guint8 rot_pk[crypto_sign_PUBLICKEYBYTES], own_pk[32], own_sign_pk[32];
  Verifier v;

  coffer_device_public_key (own_sk, own_pk);
  own_sign_sk = coffer_device_signing_keypair (own_sk, self->raw_id, own_sign_pk);
  /* Verified with the rotation key derived from the recovery key in hand,
   * never with anything read from storage. */
  _coffer_rotation_keypair (rk, self->raw_id, rot_pk, NULL);
  devices = list_ids (self, "keys/devices/", cancellable, error);
  if (devices == NULL)
    return FALSE;
  verifier_init (&v, self, old_ak, new_ak, rot_pk, device_id, cancellable);
  for (guint i = 0; i < devices->len; i++)
    {
      const char *id = g_ptr_array_index (devices, i);
      g_autofree char *env_name = obj_name (DEVICE_FMT, id);
      g_autoptr(GBytes) env = NULL;
      DeviceRecord *rec;
      Remaining *r;
      gboolean missing;

      if (strcmp (id, device_id) == 0)
        continue;
      r = g_new0 (Remaining, 1);
      r->id = g_strdup (id);
      env = _coffer_repository_get_small (self, env_name, &missing, cancellable, NULL);
      if (env != NULL)
        {
          r->name = read_device_name (self, env, old_ak, id);
          if (r->name == NULL && new_ak != NULL)
            r->name = read_device_name (self, env, new_ak, id);
        }
      rec = verifier_record (&v, id);
      if (rec != NULL)
        {
          memcpy (r->pk, rec->pk, 32);
          r->time = rec->time;
          r->approver = record_approver (rec);
          r->has_record = TRUE;
        }
      if (g_strcmp0 (id, own) == 0)
        {
          /* This computer's keys as it holds them. */
          memcpy (r->pk, own_pk, 32);
          memcpy (r->sign_pk, own_sign_pk, 32);
          if (!r->has_record)
            r->time = g_get_real_time () / G_USEC_PER_SEC;
          r->has_record = r->verified = TRUE;
        }
      else if (verify_device (&v, id, 0))
        {
          memcpy (r->sign_pk, rec->sign_pk, 32);
          r->verified = TRUE;
        }
      g_ptr_array_add (r->verified ? kept : others, r);
    }
  verifier_clear (&v);
  return TRUE;
}

/* The checks both removal and its plan make. *out_trusted: device_id is
 * a trusted device (otherwise a pending request, which needs no key). */
static gboolean
removal_preflight (CofferRepository *self, const char *device_id, GCancellable *cancellable,
                   gboolean *out_trusted, GError **error)
{
  g_autofree char *obj = NULL;

  if (!coffer_device_id_is_valid (device_id))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, _("“%s” is not a device id."), device_id);
      return FALSE;
    }
  if (g_strcmp0 (self->device_id, device_id) == 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("This is the computer you are using; remove it from another trusted computer."));
      return FALSE;
    }
  if (!require_account_key (self, _("Removing a device"), error))
    return FALSE;
  obj = obj_name (DEVICE_FMT, device_id);
  *out_trusted = coffer_store_stat (self->store, obj, NULL, cancellable, NULL);
  if (*out_trusted && self->recovery_key == NULL)
    {
      /* The new account key must reach the recovery envelope, which only
       * the recovery key can write, and the rotation must be signed with
       * the key derived from it so that the other devices can tell it from
       * a forgery by the removed device (which knows the old account key). */
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY,
                   _("Removing a trusted device needs the recovery key: the account key is replaced so that "
                     "the removed computer cannot read new backups, and the recovery key must open the new one."));
      return FALSE;
    }
  return TRUE;
}

/* The account key in this computer's own envelope, or NULL. */
static CofferSecret *
own_envelope_key (CofferRepository *self, GCancellable *cancellable)
{
  g_autofree char *name = obj_name (DEVICE_FMT, self->device_id);
  g_autoptr(CofferSecret) sk = NULL;
  g_autoptr(GBytes) env = NULL;
  guint8 pk[32];

  sk = own_device_key (self, pk, NULL);
  if (sk == NULL)
    return NULL;
  env = coffer_store_get_limited (self->store, name, COFFER_MAX_KEY_OBJECT_BYTES,
                                  cancellable, NULL);
  if (env == NULL)
    return NULL;
  return coffer_device_envelope_open (sk, pk, self->raw_id,
                                      self->device_id, env, NULL, NULL);
}

/* Unlocked with the recovery key while a rotation this computer started
 * is unfinished, the session already holds the new key; the categories
 * not yet rotated are still under the key in this computer's own envelope
 * (replaced last, in step 5): the removal starts over from that one. */
static void
removal_prior_account_key (CofferRepository *self, CofferSecret **old_ak, GCancellable *cancellable)
{
  g_autofree char *rotating = coffer_state_get_string (self->state, "account", "rotating-to");
  g_autofree char *session_hex = NULL;
  g_autoptr(CofferSecret) prior = NULL;
  guint8 id[32];

  if (rotating == NULL)
    return;
  coffer_account_key_id (*old_ak, id);
  session_hex = coffer_hex_encode (id, 32);
  if (strcmp (rotating, session_hex) != 0)
    return;
  prior = own_envelope_key (self, cancellable);
  if (prior != NULL && !coffer_secret_equal (prior, *old_ak))
    {
      coffer_secret_free (*old_ak);
      *old_ak = g_steal_pointer (&prior);
    }
}

/* TRUE when the recovery envelope already holds another account key than
 * this session's: a removal stopped after step 3 (the removed device's
 * envelope is gone already, so it can only be resumed by its id). */
static gboolean
rotation_interrupted (CofferRepository *self, GCancellable *cancellable)
{
  const CofferSecret *rk = self->recovery_key;
  g_autoptr(CofferSecret) from_rk = NULL;

  if (rk == NULL)
    return FALSE;
  from_rk = _coffer_repository_open_recovery (self, rk, cancellable, NULL);
  return from_rk != NULL && !coffer_secret_equal (from_rk, self->account_key);
}

GPtrArray *
coffer_repository_plan_device_removal (CofferRepository *self, const char *device_id,
                                       GCancellable *cancellable, GError **error)
{
  const CofferSecret *rk;
  const CofferSecret *ak;
  g_autoptr(CofferSecret) from_rk = NULL;
  g_autoptr(CofferSecret) own_sk = NULL;
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func (remaining_free);
  g_autoptr(GPtrArray) others = g_ptr_array_new_with_free_func (remaining_free);
  GPtrArray *result = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_device_info_free);
  gboolean is_trusted = FALSE;
  guint8 own_pk[32];

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);

  if (!removal_preflight (self, device_id, cancellable, &is_trusted, error))
    goto fail;
  if (!is_trusted)
    return result;   /* a pending request: nothing to decide */
  rk = self->recovery_key;
  ak = self->account_key;
  from_rk = _coffer_repository_open_recovery (self, rk, cancellable, error);
  own_sk = own_device_key (self, own_pk, error);
  if (from_rk == NULL || own_sk == NULL
      || !collect_remaining (self, device_id, rk, ak, coffer_secret_equal (from_rk, ak) ? NULL : from_rk,
                             own_sk, kept, others, cancellable, error))
    goto fail;
  for (guint i = 0; i < others->len; i++)
    g_ptr_array_add (result, remaining_to_device (g_ptr_array_index (others, i)));
  return result;

fail:
  g_ptr_array_unref (result);
  return NULL;
}

/* Removing a trusted device, or a device whose removal was interrupted
 * (then the rotation is resumed). Returns FALSE with *done = TRUE when
 * device_id is only a join request, which was dropped. */
static gboolean
removal_check_target (CofferRepository *self, const char *device_id, const char *const *keep_ids,
                      gboolean *done, GCancellable *cancellable, GError **error)
{
  gboolean is_trusted = FALSE;

  *done = FALSE;
  if (!removal_preflight (self, device_id, cancellable, &is_trusted, error))
    return FALSE;
  if (keep_ids != NULL && g_strv_contains (keep_ids, device_id))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("Device %s cannot be both removed and kept."), device_id);
      return FALSE;
    }
  if (!is_trusted)
    {
      g_autofree char *pending = obj_name (PENDING_FMT, device_id);
      if (coffer_store_stat (self->store, pending, NULL, cancellable, NULL))
        {
          /* A request that was never approved knows no key: just drop it. */
          forget_join (self, device_id, TRUE, cancellable);
          *done = TRUE;
          return FALSE;
        }
      /* Removed already, but the rotation was interrupted: resume it. A
       * removal killed between deleting the envelope (step 1) and writing
       * the new key (step 3) is known only from this computer's state: it
       * starts the rotation over. */
      g_autofree char *removing = coffer_state_get_string (self->state,
                                                           "account", "removing");
      if (!rotation_interrupted (self, cancellable) && g_strcmp0 (removing, device_id) != 0)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                       _("There is no device %s in this repository."), device_id);
          return FALSE;
        }
    }
  return TRUE;
}

/* The account key the removal moves to: a new one, or, when an
 * interrupted rotation already put it into the recovery envelope, that
 * one (if this computer signed it). Pins the rotation key of rk. */
static CofferSecret *
removal_new_account_key (CofferRepository *self, const CofferSecret *rk, const CofferSecret *old_ak,
                         GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) from_rk = NULL;
  guint8 old_id[32], new_id[32];
  CofferSecret *new_ak;

  from_rk = _coffer_repository_open_recovery (self, rk, cancellable, error);
  if (from_rk == NULL)
    return NULL;
  coffer_account_key_id (old_ak, old_id);
  if (coffer_secret_equal (from_rk, old_ak))
    new_ak = coffer_secret_new_random (COFFER_KEY_BYTES);
  else
    {
      /* An interrupted rotation: the recovery envelope already holds the
       * new key; go on with it if this computer signed it. */
      g_autofree char *old_hex = coffer_hex_encode (old_id, 32);
      g_autofree char *new_hex = NULL;
      coffer_account_key_id (from_rk, new_id);
      new_hex = coffer_hex_encode (new_id, 32);
      _coffer_repository_pin_rotation_key (self, rk);
      if (!_coffer_repository_follow_rotation (self, old_hex, new_hex, cancellable, error))
        return NULL;
      new_ak = g_steal_pointer (&from_rk);
    }
  _coffer_repository_pin_rotation_key (self, rk);
  return new_ak;
}

/* Without the password no Standard category can be re-sealed. */
static gboolean
removal_check_password (CofferRepository *self, GPtrArray *categories, const CofferSecret *new_ak,
                        GCancellable *cancellable, GError **error)
{
  if (self->password != NULL)
    return TRUE;
  for (guint i = 0; i < categories->len; i++)
    {
      /* The level comes from the category's fresh meta, not from whether
       * a password envelope exists (the storage can plant one). */
      gboolean standard;

      if (!_coffer_repository_category_is_standard (self, g_ptr_array_index (categories, i), new_ak,
                                                    &standard, cancellable, error))
        return FALSE;
      if (standard)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                       _("Removing a device gives every category a new key, and the Standard categories "
                         "need the backup password for that. Give the password too."));
          return FALSE;
        }
    }
  return TRUE;
}

/* Moves the devices in others that keep_ids names into remaining (they
 * are kept on the user's word) and the rest into lost. */
static gboolean
removal_apply_keep (const char *const *keep_ids, GPtrArray *remaining, GPtrArray *others, GPtrArray *lost,
                    GError **error)
{
  for (guint i = 0; keep_ids != NULL && keep_ids[i] != NULL; i++)
    {
      gboolean known = FALSE;
      for (guint j = 0; j < remaining->len && !known; j++)
        known = strcmp (((Remaining *) g_ptr_array_index (remaining, j))->id, keep_ids[i]) == 0;
      for (guint j = 0; j < others->len && !known; j++)
        known = strcmp (((Remaining *) g_ptr_array_index (others, j))->id, keep_ids[i]) == 0;
      if (!known)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                       _("There is no trusted device %s to keep."), keep_ids[i]);
          return FALSE;
        }
    }
  for (guint i = 0; i < others->len; i++)
    {
      Remaining *r = g_ptr_array_index (others, i);

      if (r->has_record && keep_ids != NULL && g_strv_contains (keep_ids, r->id))
        {
          /* Kept on the user's word for its encryption key only: the
           * signing key in an unverified record may be the removed
           * device's, so it is not carried over. */
          memset (r->sign_pk, 0, sizeof r->sign_pk);
          g_ptr_array_add (remaining, g_ptr_array_steal_index (others, i--));
        }
      else
        g_ptr_array_add (lost, remaining_to_device (r));
    }
  for (guint i = 0; i < remaining->len; i++)
    {
      Remaining *r = g_ptr_array_index (remaining, i);
      if (r->name == NULL)
        r->name = g_strdup ("Computer");
    }
  return TRUE;
}

/* Step 1: the removed device goes (it no longer gets even the old key),
 * and so do the devices not kept: their envelopes hold only the old key. */
static gboolean
removal_delete_devices (CofferRepository *self, const char *device_id, GPtrArray *lost,
                        GCancellable *cancellable, GError **error)
{
  g_autofree char *obj = obj_name (DEVICE_FMT, device_id);
  g_autofree char *rec = obj_name (RECORD_FMT, device_id);
  g_autoptr(GError) delete_error = NULL;

  /* Noted first, so that a run killed before step 3 can be resumed by the
   * device's id although its envelope is gone. */
  coffer_state_set_string (self->state, "account", "removing", device_id);
  if (!coffer_state_save (self->state, error))
    return FALSE;
  if (!coffer_store_delete (self->store, obj, cancellable, &delete_error)
      && !g_error_matches (delete_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&delete_error));
      return FALSE;
    }
  delete_quietly (self, rec, cancellable);
  for (guint i = 0; i < lost->len; i++)
    {
      const char *id = ((CofferDevice *) g_ptr_array_index (lost, i))->id;
      g_autofree char *lost_env = obj_name (DEVICE_FMT, id);
      g_autofree char *lost_rec = obj_name (RECORD_FMT, id);
      delete_quietly (self, lost_env, cancellable);
      delete_quietly (self, lost_rec, cancellable);
    }
  return TRUE;
}

/* Step 5: the remaining devices get the new key, this one last. */
static gboolean
removal_reseal_devices (CofferRepository *self, GPtrArray *remaining, const CofferSecret *rk,
                        const CofferSecret *new_ak, GCancellable *cancellable, GError **error)
{
  const char *own = self->device_id;

  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < remaining->len; i++)
      {
        Remaining *r = g_ptr_array_index (remaining, i);
        g_autofree char *env_name = obj_name (DEVICE_FMT, r->id);
        g_autoptr(GBytes) env = NULL;

        if ((g_strcmp0 (r->id, own) == 0) != (pass == 1))
          continue;
        env = coffer_device_envelope_seal (r->pk, new_ak, self->raw_id, r->id, r->name);
        /* Every kept device is now approved by the recovery key directly,
         * under the new account key id: the tree of approvals is flat. */
        if (env == NULL
            || !write_record_by_recovery (self, new_ak, rk, r->id, r->pk, r->sign_pk, r->time,
                                          cancellable, error)
            || !coffer_store_put (self->store, env_name, env, COFFER_PUT_REPLACE,
                                  cancellable, error))
          {
            if (env == NULL)
              g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                           _("The key of device %s is not usable."), r->id);
            return FALSE;
          }
      }
  return TRUE;
}

gboolean
coffer_repository_remove_device (CofferRepository *self, const char *device_id,
                                 const char *const *keep_ids, GPtrArray **out_lost,
                                 GCancellable *cancellable, GError **error)
{
  const CofferSecret *rk;
  g_autoptr(CofferSecret) old_ak = NULL;
  g_autoptr(CofferSecret) new_ak = NULL;
  g_autoptr(CofferSecret) own_sk = NULL;
  g_autoptr(GPtrArray) categories = NULL;
  g_autoptr(GPtrArray) remaining = g_ptr_array_new_with_free_func (remaining_free);
  g_autoptr(GPtrArray) others = g_ptr_array_new_with_free_func (remaining_free);
  g_autoptr(GPtrArray) lost = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_device_info_free);
  guint8 own_pk[32], old_id[32], new_id[32];
  gboolean done;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  if (out_lost != NULL)
    *out_lost = NULL;
  if (!removal_check_target (self, device_id, keep_ids, &done, cancellable, error))
    {
      if (done && out_lost != NULL)
        *out_lost = g_steal_pointer (&lost);
      return done;
    }

  rk = self->recovery_key;
  old_ak = coffer_secret_dup (self->account_key);
  removal_prior_account_key (self, &old_ak, cancellable);
  new_ak = removal_new_account_key (self, rk, old_ak, cancellable, error);
  if (new_ak == NULL)
    return FALSE;
  coffer_account_key_id (old_ak, old_id);
  coffer_account_key_id (new_ak, new_id);

  categories = _coffer_repository_list_category_ids (self, cancellable, error);
  if (categories == NULL || !removal_check_password (self, categories, new_ak, cancellable, error))
    return FALSE;

  /* Who stays, with their public keys and names. */
  own_sk = own_device_key (self, own_pk, error);
  if (own_sk == NULL)
    return FALSE;
  /* The removed device could have written any record sealed under the old
   * account key, so a device is kept by itself only when its record is
   * signed along a chain back to the recovery key that does not pass
   * through the removed device; any other only on the caller's explicit
   * word (after the user compared its fingerprint). */
  if (!collect_remaining (self, device_id, rk, old_ak, coffer_secret_equal (new_ak, old_ak) ? NULL : new_ak,
                          own_sk, remaining, others, cancellable, error)
      || !removal_apply_keep (keep_ids, remaining, others, lost, error))
    return FALSE;

  if (!removal_delete_devices (self, device_id, lost, cancellable, error))
    return FALSE;
  /* 2. The signed record of the change, 3. the new key under the recovery
   * key (from here on the new key is never lost: a crash is resumed). Until
   * this computer holds the new key, its old one is superseded by its own
   * record: remember that, so it can still unlock to resume. */
  {
    g_autofree char *new_hex = coffer_hex_encode (new_id, 32);
    CofferState *state = self->state;
    coffer_state_set_string (state, "account", "rotating-to", new_hex);
    if (!coffer_state_save (state, error))
      return FALSE;
  }
  if (!write_rotation_record (self, rk, old_id, new_id, cancellable, error)
      || !_coffer_repository_write_recovery (self, rk, new_ak, COFFER_PUT_REPLACE, cancellable, error))
    return FALSE;
  /* 4. Every category: a new epoch, key sets re-sealed under the new key. */
  for (guint i = 0; i < categories->len; i++)
    if (!_coffer_repository_rotate_category (self, g_ptr_array_index (categories, i), old_ak, new_ak,
                                             cancellable, error))
      return FALSE;
  if (!removal_reseal_devices (self, remaining, rk, new_ak, cancellable, error))
    return FALSE;
  coffer_state_remove (self->state, "account", "rotating-to");
  coffer_state_remove (self->state, "account", "removing");
  _coffer_repository_replace_account_key (self, new_ak);   /* saves the state */
  if (out_lost != NULL)
    *out_lost = g_steal_pointer (&lost);
  return TRUE;
}
