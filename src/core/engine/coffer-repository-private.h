/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "coffer-crypto.h"
#include "coffer-index.h"
#include "coffer-pack-reader.h"
#include "coffer-repository.h"
#include "coffer-state.h"

G_BEGIN_DECLS

/* The repository object, shared by the files that implement it
 * (coffer-repository*.c) and by the operations in src/core that include
 * this header: they use self->... directly. */
struct _CofferRepository
{
  GObject       parent_instance;

  CofferStore  *store;
  guint8        raw_id[COFFER_REPO_ID_BYTES];
  char         *id;
  CofferState  *state;

  GRecMutex     lock;
  CofferSecret *password;
  CofferSecret *recovery_key;
  CofferSecret *account_key;
  gboolean      recovery_confirmed;
  char         *device_id;

  /* password key cache: "salt-hex:ops:mem" -> CofferSecret */
  GHashTable   *password_keys;
  /* category id -> CofferCategoryKeys */
  GHashTable   *categories;

  /* format version of config as read (or written), and whether it is
   * older than one this computer has seen here */
  guint         format_version;
  gboolean      config_rolled_back;
  /* a new recovery key shown to the user but not yet typed back (memory only) */
  CofferSecret *pending_recovery_key;
};

/* One epoch of a category's keys, with its derived subkeys. */
typedef struct
{
  guint32       epoch;
  CofferHashSuite suite;       /* how its blob ids and pack names are made */
  CofferSecret *key;
  CofferSecret *data_key;
  CofferSecret *blob_id_key;
  CofferSecret *gear_key;
  CofferSecret *meta_key;
  /* When a newer epoch was added (microseconds since 1970, UTC): objects
   * sealed under this epoch that claim a later time are forgeries by
   * someone who kept the retired key. 0 for the newest epoch, and for the
   * older epochs of a legacy "CKS1" key set, where it is unknown. */
  gint64        retired;
} CofferEpochKeys;

/* Everything this session holds for one unlocked category. */
typedef struct
{
  char            *id;
  guint8           raw_id[16];
  GPtrArray       *epochs;     /* CofferEpochKeys, ascending by epoch */
  CofferCategory  *info;       /* name, level, paths, excludes */
  CofferIndex     *index;      /* loaded lazily, under the repository lock */
  GPtrArray       *index_names; /* names of the live index objects merged into index */
  GPtrArray       *index_listed; /* every index object listed when index was loaded
                                  * (live, superseded or refused): a complete new
                                  * index supersedes them all (coffer-prune.c) */
  guint64          meta_counter; /* "counter" of meta/<cid> as read or last written */
  char            *meta_creator; /* "device" of meta/<cid>: whose folders the top-level
                                  * paths are (NULL: unknown, a description from before
                                  * folders were kept per computer) */
  char            *info_device;  /* the device id info's folders were chosen for
                                  * (NULL: none); read again when it changes */
  /* object name -> why it was refused (sealed under a retired epoch with a
   * later time): ignored by listings, reported by check. */
  GHashTable      *refused;
} CofferCategoryKeys;

/* ---- The config object (coffer-repository-config.c) ---- */
#define COFFER_CONFIG_NAME "config"
#define COFFER_STATE_FORMAT_GROUP "repository"
#define COFFER_STATE_FORMAT_KEY "format-version"
GBytes  *_coffer_repository_config_serialize (const guint8 raw_id[COFFER_REPO_ID_BYTES]);
/* Sets self->id, raw_id and format_version from the config's bytes. */
gboolean _coffer_repository_config_parse (CofferRepository *self, GBytes *bytes, GError **error);
/* Sets self->config_rolled_back (or raises the version this computer knows). */
void     _coffer_repository_config_check_rollback (CofferRepository *self);
/* Before writing an object of format version 2 (key sets, meta/<cid>,
 * index objects, ...), writers call this: it rewrites a version-1 config as version 2, so that older
 * clients refuse the repository instead of misreading it. */
gboolean _coffer_repository_upgrade_format (CofferRepository *self, GCancellable *cancellable, GError **error);
/* TRUE when the config says an older format version than this computer
 * has seen for this repository: every category access is refused. */
gboolean _coffer_repository_config_rolled_back (CofferRepository *self, GError **error);
/* Accepts the config as it is (coffer_repository_accept_rollback). */
gboolean _coffer_repository_accept_config (CofferRepository *self, GCancellable *cancellable, GError **error);

/* ---- Category objects, names and small shared helpers (coffer-repository-objects.c) ---- */
CofferEpochKeys *coffer_category_keys_newest (CofferCategoryKeys *keys);
CofferEpochKeys *coffer_category_keys_epoch  (CofferCategoryKeys *keys, guint32 epoch);
/* Category objects (meta, index, snapshot, prune plan): "CFO1" | epoch (u32 LE) |
 * envelope under the meta subkey of that epoch. */
GBytes *_coffer_repository_seal_object (CofferRepository *self, CofferCategoryKeys *keys,
                                        CofferObjectType type, const char *name,
                                        const guint8 *plaintext, gsize len);
GBytes *_coffer_repository_open_object (CofferRepository *self, CofferCategoryKeys *keys,
                                        CofferObjectType type, const char *name,
                                        GBytes *object, GError **error);
/* Same, and tells which epoch sealed it (for the freshness and retirement
 * checks: who could have written these bytes). */
GBytes *_coffer_repository_open_object_epoch (CofferRepository *self, CofferCategoryKeys *keys,
                                              CofferObjectType type, const char *name,
                                              GBytes *object, CofferEpochKeys **out_epoch,
                                              GError **error);
/* TRUE (and *why set) when an object sealed under ek claims a time
 * (microseconds) after ek was retired. */
gboolean _coffer_epoch_refuses (const CofferEpochKeys *ek, gint64 time_us, const char *name, char **why);
/* zstd helpers for index objects */
GBytes *_coffer_compress   (GBytes *data);
GBytes *_coffer_decompress (GBytes *data, gsize max_size, GError **error);
/* Sorts a GPtrArray of strings (g_ptr_array_sort passes element pointers). */
int _coffer_compare_strings (gconstpointer a, gconstpointer b);
/* A coffer_store_list() callback that adds each name to the GPtrArray user_data. */
gboolean _coffer_collect_names (const char *name, guint64 size, gpointer user_data);
gboolean _coffer_hex_to (const char *hex, guint8 *out, gsize len);
void     _coffer_state_set_hex (CofferState *state, const char *group, const char *key,
                                const guint8 *data, gsize len);
gboolean _coffer_state_get_hex (CofferState *state, const char *group, const char *key,
                                guint8 *out, gsize len);
/* Reads a small object; NULL without error (and *missing = TRUE) when it
 * does not exist. */
GBytes  *_coffer_repository_get_small (CofferRepository *self, const char *name, gboolean *missing,
                                       GCancellable *cancellable, GError **error);
/* "MAGIC" | version | 3 zero bytes | fields: fixed-size objects */
gboolean _coffer_parse_fixed_version (GBytes *bytes, const char *magic, guint8 version, gsize body_len,
                                      const guint8 **body);
char *_coffer_pack_name     (const char *category_id, const guint8 pack_id[COFFER_ID_BYTES]);
char *_coffer_random_name   (void);   /* 32 hex characters */



/* ---- Keys (coffer-repository-keys.c): password keys, this device's key, the
 * account key and the recovery envelope, the rotation chain ---- */
const CofferSecret *_coffer_repository_password_key (CofferRepository *self,
                                                     const CofferKdfParams *params,
                                                     GError **error);
gboolean _coffer_repository_get_kdf_params (CofferRepository *self, CofferKdfParams *params);
void _coffer_repository_set_kdf_params (CofferRepository *self, const CofferKdfParams *params);
/* The device key in the password-sealed local file (NULL when the keyring
 * holds it), and saving it (keyring first, else the file). */
CofferSecret *_coffer_repository_load_local_device_key (CofferRepository *self, GError **error);
gboolean      _coffer_repository_save_local_device_key (CofferRepository *self, const CofferSecret *device_sk,
                                                        GError **error);
/* TRUE when password opens the local device key file (the authority check
 * for a password given now, not the session's). */
gboolean _coffer_repository_password_opens_device_key_file (CofferRepository *self,
                                                            const CofferSecret *password, GError **error);
CofferSecret *_coffer_repository_load_device_key (CofferRepository *self, GError **error);
void     _coffer_repository_set_device_id (CofferRepository *self, const char *device_id);
/* Replaces the account key this session holds and records its id locally. */
void     _coffer_repository_replace_account_key (CofferRepository *self, const CofferSecret *ak);
CofferSecret *_coffer_repository_open_recovery (CofferRepository *self, const CofferSecret *rk,
                                                GCancellable *cancellable, GError **error);
gboolean _coffer_repository_write_recovery (CofferRepository *self, const CofferSecret *rk,
                                            const CofferSecret *ak, CofferPutMode mode,
                                            GCancellable *cancellable, GError **error);
/* keys/devices/<device_id>: the account key sealed to the device's public key. */
gboolean _coffer_repository_write_device_envelope (CofferRepository *self, const char *device_id,
                                                   const guint8 pk[32], const char *name,
                                                   GCancellable *cancellable, GError **error);
/* Account key rotation records, keys/rotations/<new akid hex>
 * (coffer-repository-keys.c; written by a device removal). */
#define COFFER_ROTATION_FMT "keys/rotations/%s"
/* v1 message (98 bytes) = "coffer-rotation-v1" || repo id || old akid || new akid
 * v2 message (106 bytes) = "coffer-rotation-v2" || repo id || old akid || new akid || seq (u64 LE) */
#define COFFER_ROTATION_MSG_MAX 106
typedef struct
{
  guint   version;
  guint8  old_id[32];
  guint8  new_id[32];
  guint64 seq;       /* 0 for v1 records, which carry none */
} CofferRotation;
/* Rotation key pair: Ed25519 from seed = BLAKE2b-256(key = RK,
 * "coffer-rotation-sign-v1" || repo id). Only recovery key holders can sign. */
void  _coffer_rotation_keypair (const CofferSecret *rk, const guint8 *repo_id,
                                guint8 pk[32], CofferSecret **out_sk);
gsize _coffer_rotation_message (guint version, const guint8 *repo_id, const guint8 old_id[32],
                                const guint8 new_id[32], guint64 seq, guint8 out[COFFER_ROTATION_MSG_MAX]);
/* Reads and verifies keys/rotations/<new_hex> against the pinned rotation key. */
gboolean _coffer_repository_read_rotation (CofferRepository *self, const char *new_hex, const guint8 pinned[32],
                                           CofferRotation *out, GCancellable *cancellable, GError **error);
/* Pins the rotation verification key derived from the recovery key. */
void     _coffer_repository_pin_rotation_key (CofferRepository *self, const CofferSecret *rk);
/* TRUE when rk is the recovery key this computer has pinned (it opened the
 * repository here before): a failing recovery envelope is then damage or
 * a replacement elsewhere, not a mistyped or foreign key. */
gboolean _coffer_repository_recovery_key_is_pinned (CofferRepository *self, const CofferSecret *rk);
/* TRUE when a chain of rotation records signed with the pinned rotation
 * key leads from the known account key id to the new one, and the new one
 * is the newest: no signed record in keys/rotations/ replaces it
 * (COFFER_REPO_ERROR_ROLLED_BACK otherwise). */
gboolean _coffer_repository_follow_rotation (CofferRepository *self, const char *known_hex,
                                             const char *new_hex, GCancellable *cancellable,
                                             GError **error);

/* ---- Categories and their key sets (coffer-repository-categories.c) ---- */
/* Adds a new key epoch to a category and re-seals its key sets: the
 * account envelope under new_ak (opened with old_ak, or with new_ak when a
 * resumed rotation already re-sealed it), the password envelope when it
 * has one (needs the password). */
gboolean _coffer_repository_rotate_category (CofferRepository *self, const char *category_id,
                                             const CofferSecret *old_ak, const CofferSecret *new_ak,
                                             GCancellable *cancellable, GError **error);
/* The categories in meta/ (_raw), and without the ones this computer removed. */
GPtrArray *_coffer_repository_list_category_ids_raw (CofferRepository *self, GCancellable *cancellable,
                                                     GError **error);
GPtrArray *_coffer_repository_list_category_ids (CofferRepository *self, GCancellable *cancellable,
                                                 GError **error);
/* Takes category cid as it is now (coffer_repository_accept_rollback):
 * forgets this computer's marks and seals its meta/<cid> afresh. Returns
 * its keys (owned by the repository); NULL without an error when it does
 * not open, NULL with one on a failure. */
CofferCategoryKeys *_coffer_repository_accept_category (CofferRepository *self, const char *cid,
                                                        GCancellable *cancellable, GError **error);
void _coffer_category_keys_free (gpointer data);
/* Returns the keys of an unlocked category (owned by the repository) or
 * NULL with NEEDS_RECOVERY_KEY / WRONG_PASSWORD / NO_CATEGORY ... */
CofferCategoryKeys *_coffer_repository_get_category (CofferRepository *self, const char *id_or_name,
                                                     GCancellable *cancellable, GError **error);
/* Before committing an object dated time_us under keys' newest epoch:
 * re-reads the key set. When another computer added an epoch since this
 * session loaded it, the cached keys are dropped (the next access reloads
 * them), and FALSE is returned when readers would refuse the object as
 * sealed under a retired epoch after its retirement. */
gboolean _coffer_repository_check_keys_current (CofferRepository *self, CofferCategoryKeys *keys,
                                                gint64 time_us, GCancellable *cancellable, GError **error);
/* TRUE in *standard when the category's authenticated, fresh meta/<cid>
 * says Standard (never decided from the presence of a password envelope).
 * new_ak: during a device removal the account key the categories are
 * being moved to (may be NULL). */
gboolean _coffer_repository_category_is_standard (CofferRepository *self, const char *category_id,
                                                  const CofferSecret *new_ak, gboolean *standard,
                                                  GCancellable *cancellable, GError **error);
gboolean _coffer_repository_password_opens_category (CofferRepository *self, const char *cid,
                                                     const CofferSecret *password,
                                                     GCancellable *cancellable, GError **error);

/* ---- Index, snapshots, blobs and trees (coffer-repository-snapshots.c) ---- */
/* Loads (or returns the loaded) merged index of a category. */
CofferIndex   *_coffer_repository_get_index (CofferRepository *self, CofferCategoryKeys *keys,
                                            GCancellable *cancellable, GError **error);
/* Forget the loaded index so the next call re-reads it. */
void           _coffer_repository_drop_index (CofferRepository *self, CofferCategoryKeys *keys);
/* Blob access for restore/check/ls: reads, decrypts and verifies one blob
 * with the keys of the epoch of the snapshot that references it (never
 * "any epoch": a retired key must not vouch for data of a newer snapshot). */
GBytes *_coffer_repository_read_blob (CofferRepository *self, CofferCategoryKeys *keys, guint32 epoch,
                                      const guint8 id[COFFER_ID_BYTES], CofferBlobType type,
                                      GCancellable *cancellable, GError **error);
GPtrArray *_coffer_repository_read_tree (CofferRepository *self, CofferCategoryKeys *keys, guint32 epoch,
                                         const guint8 id[COFFER_ID_BYTES],
                                         GCancellable *cancellable, GError **error);
/* The same through a pack reader (coffer-pack-reader.h), for an operation
 * that reads many blobs (a restore): whole packs once most of one is needed. */
GBytes *_coffer_repository_read_blob_via (CofferRepository *self, CofferCategoryKeys *keys, guint32 epoch,
                                          const guint8 id[COFFER_ID_BYTES], CofferBlobType type,
                                          CofferPackReader *reader,
                                          GCancellable *cancellable, GError **error);
GPtrArray *_coffer_repository_read_tree_via (CofferRepository *self, CofferCategoryKeys *keys, guint32 epoch,
                                             const guint8 id[COFFER_ID_BYTES], CofferPackReader *reader,
                                             GCancellable *cancellable, GError **error);
gboolean _coffer_repository_write_index (CofferRepository *self, CofferCategoryKeys *keys,
                                         CofferIndex *delta, GHashTable *only_packs,
                                         const char * const *supersedes, char **out_name,
                                         GCancellable *cancellable, GError **error);
/* Returns the new snapshot's id (owned by snapshot: snapshot->id). */
const char *_coffer_repository_write_snapshot (CofferRepository *self, CofferCategoryKeys *keys,
                                               CofferSnapshot *snapshot,
                                               GCancellable *cancellable, GError **error);
/* Snapshots sealed under a retired epoch with a later time are left out
 * (and recorded in keys->refused). */
GPtrArray *_coffer_repository_load_snapshots (CofferRepository *self, CofferCategoryKeys *keys,
                                              GCancellable *cancellable, GError **error);

/* ---- Device records (coffer-repository-devices.c) ---- */
/* keys/device-keys/<id> for the device whose secret key is device_sk,
 * approved by the recovery key rk (signed with the rotation key). */
gboolean _coffer_repository_write_device_record (CofferRepository *self, const CofferSecret *ak,
                                                 const CofferSecret *rk, const char *device_id,
                                                 const CofferSecret *device_sk,
                                                 GCancellable *cancellable, GError **error);
/* Before the recovery key is replaced: re-writes every device record that
 * verifies under the pinned rotation key as approved by new_rk. */
gboolean _coffer_repository_resign_device_records (CofferRepository *self, const CofferSecret *new_rk,
                                                   GCancellable *cancellable, GError **error);

G_END_DECLS
