/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "coffer-category.h"
#include "coffer-progress.h"
#include "coffer-secret.h"
#include "coffer-snapshot.h"
#include "coffer-store.h"
#include "coffer-tree.h"

G_BEGIN_DECLS

/* CofferRepository: one backup destination and the keys this session holds
 * for it. All methods block (they do I/O and crypto); the app calls them
 * from GTask threads. Thread-safe for concurrent readers. */
#define COFFER_TYPE_REPOSITORY (coffer_repository_get_type ())
G_DECLARE_FINAL_TYPE (CofferRepository, coffer_repository, COFFER, REPOSITORY, GObject)

/* Format version written to new repositories (and to the config of an
 * older one before anything of this version is written to it); versions 1
 * (Coffer 0.1.0) and 2 are still read (docs/FORMAT.md "Format versions"). */
#define COFFER_FORMAT_VERSION 3
#define COFFER_FORMAT_VERSION_MIN 1

/* Creates a repository in an empty store: config, account key, recovery key
 * envelope, this device's key pair (secret in the keyring, or, without one,
 * sealed under the password in the local data directory), and its envelope.
 * password may be NULL (Advanced-only use). Returns the 16-byte recovery key
 * in out_recovery_key: it exists nowhere else afterwards. */
CofferRepository *coffer_repository_create (CofferStore        *store,
                                            const CofferSecret *password,
                                            const char         *device_name,
                                            CofferSecret      **out_recovery_key,
                                            GCancellable       *cancellable,
                                            GError            **error);
/* Reads and checks the config (COFFER_REPO_ERROR_NOT_FOUND,
 * COFFER_REPO_ERROR_UNSUPPORTED_VERSION). Holds no keys yet. */
CofferRepository *coffer_repository_open   (CofferStore   *store,
                                            GCancellable  *cancellable,
                                            GError       **error);

const char  *coffer_repository_get_id     (CofferRepository *self);   /* hex */
CofferStore *coffer_repository_get_store  (CofferRepository *self);
char        *coffer_repository_describe   (CofferRepository *self);   /* location for display */

/* ---- Ways in ----
 * The password is kept (secure memory) and used when a category needs it.
 * unlock tries, in order: the recovery key if set, this device's key (keyring
 * or the password-sealed local file). Without the account key only Standard
 * categories open (through the password). */
void     coffer_repository_set_password     (CofferRepository *self, const CofferSecret *password);
void     coffer_repository_set_recovery_key (CofferRepository *self, const CofferSecret *recovery_key);
gboolean coffer_repository_unlock           (CofferRepository *self, GCancellable *cancellable, GError **error);
gboolean coffer_repository_has_account_key  (CofferRepository *self);
/* Opens keys/recovery with the key; COFFER_REPO_ERROR_WRONG_RECOVERY_KEY when
 * it does not fit. Records the time of the successful test locally. */
gboolean coffer_repository_verify_recovery_key (CofferRepository *self, const CofferSecret *recovery_key,
                                                GCancellable *cancellable, GError **error);
/* Accepts a rollback the user knows about (an older copy of the repository
 * restored on purpose): after the recovery key opens the repository, this
 * computer forgets the format version, key epochs, backup numbers,
 * category description versions and removed categories it has seen, takes
 * the repository as it is now, and seals each category's description
 * afresh. Without it, such a repository is refused as rolled back. */
gboolean coffer_repository_accept_rollback (CofferRepository *self, const CofferSecret *recovery_key,
                                            GCancellable *cancellable, GError **error);
/* Local time (unix seconds) of the last successful recovery key test, or 0. */
gint64   coffer_repository_get_recovery_key_tested (CofferRepository *self);
/* Replacing the recovery key is two-phase, so that the user never ends up
 * with a key they did not keep. begin makes a new key and returns it to be
 * shown; nothing is written and the old key stays valid. commit checks the
 * key the user typed back against it (COFFER_REPO_ERROR_WRONG_RECOVERY_KEY
 * when it differs; the pending key stays, so the user can try again), then
 * replaces keys/recovery, pins the new rotation key and resets the "tested"
 * time to never. cancel (or closing the repository) discards the pending key.
 * Both need the account key. */
CofferSecret *coffer_repository_begin_recovery_key_replacement  (CofferRepository *self, GError **error);
gboolean      coffer_repository_commit_recovery_key_replacement (CofferRepository *self,
                                                                 const CofferSecret *typed_back,
                                                                 GCancellable *cancellable, GError **error);
void          coffer_repository_cancel_recovery_key_replacement (CofferRepository *self);
gboolean      coffer_repository_has_pending_recovery_key        (CofferRepository *self);

/* Authority typed now, for changes that weaken protection or hand out keys
 * (Advanced -> Standard, a new backup password, approving or removing a
 * computer): TRUE when password opens a password envelope of the repository
 * (or, with no Standard category, this computer's password-sealed device key
 * file), or recovery_key opens keys/recovery. Give one of them (the other
 * NULL). COFFER_REPO_ERROR_WRONG_PASSWORD / _WRONG_RECOVERY_KEY when it does
 * not fit; COFFER_REPO_ERROR_NO_KEY when the repository has no password
 * (use the recovery key). Changes nothing, not even the "tested" time. */
gboolean      coffer_repository_check_authority (CofferRepository *self, const CofferSecret *password,
                                                 const CofferSecret *recovery_key,
                                                 GCancellable *cancellable, GError **error);

/* ---- Categories ---- */
/* Every category in the repository; those whose keys are not available are
 * returned with unlocked = FALSE. Element type CofferCategory. */
GPtrArray      *coffer_repository_list_categories (CofferRepository *self, GCancellable *cancellable,
                                                   GError **error);
/* By name or id; COFFER_REPO_ERROR_NO_CATEGORY, or
 * COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY for a locked Advanced category. */
CofferCategory *coffer_repository_find_category   (CofferRepository *self, const char *name_or_id,
                                                   GCancellable *cancellable, GError **error);
/* Needs the account key; Standard needs the password; Advanced needs that
 * the recovery key has been confirmed (coffer_repository_verify_recovery_key
 * or creation in this session). paths and excludes are this computer's
 * folders: folders belong to a computer (CofferCategory.other_folders holds
 * the other computers'). */
CofferCategory *coffer_repository_add_category    (CofferRepository *self, const char *name,
                                                   CofferLevel level, const char * const *paths,
                                                   const char * const *excludes,
                                                   GCancellable *cancellable, GError **error);
/* Renames the category and sets THIS computer's folders (paths, excludes);
 * other computers' folders are kept as the repository holds them now
 * (category->other_folders is ignored). */
gboolean coffer_repository_update_category (CofferRepository *self, const CofferCategory *category,
                                            GCancellable *cancellable, GError **error);
/* Deletes the category and all its backups. */
gboolean coffer_repository_remove_category (CofferRepository *self, const char *category_id,
                                            GCancellable *cancellable, GError **error);
/* Standard -> Advanced: deletes the password envelope and starts a new key
 * epoch (needs a confirmed recovery key). Advanced -> Standard: writes a
 * password envelope (needs the password). */
gboolean coffer_repository_set_level (CofferRepository *self, const char *category_id,
                                      CofferLevel level, GCancellable *cancellable, GError **error);
/* Re-wraps every password envelope under the new password. */
gboolean coffer_repository_change_password (CofferRepository *self, const CofferSecret *new_password,
                                            GCancellable *cancellable, GError **error);

/* ---- Devices (coffer-repository-devices.c; docs/SECURITY.md "Devices and
 * rotation", docs/FORMAT.md "Joining and rotation") ---- */

typedef struct
{
  char     *id;
  char     *name;               /* NULL when the account key is not held */
  gboolean  is_this_device;
  gboolean  pending;            /* a join request, not yet trusted */
  char     *verification_code;  /* pending only: "123 456" once both sides
                                 * have answered, else NULL */
  gint64    time;               /* request time, or when it was approved (0 if unknown) */
  /* Trusted devices only, when the account key is held: */
  gboolean  verified;           /* its record is signed along a chain of approvals
                                 * back to the recovery key (docs/SECURITY.md
                                 * "Devices and rotation") */
  char     *fingerprint;        /* of its public key, "1a2b 3c4d 5e6f 7a8b", or NULL */
  char     *approver;           /* "recovery", the approving device's id, or NULL
                                 * (a legacy record that names none) */
} CofferDevice;

#define COFFER_TYPE_DEVICE (coffer_device_info_get_type ())
GType         coffer_device_info_get_type (void) G_GNUC_CONST;
CofferDevice *coffer_device_info_copy (const CofferDevice *device);
void          coffer_device_info_free (CofferDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferDevice, coffer_device_info_free)

/* Trusted devices and pending join requests. Element type CofferDevice. */
/* Makes this computer a trusted device when the session already holds the
 * account key (opened with the recovery key): a new key pair, kept in the
 * keyring (or sealed under the password without one), and its envelope.
 * Later sessions unlock without the recovery key. Does nothing when this
 * computer is already trusted. */
gboolean coffer_repository_trust_this_device (CofferRepository *self, const char *device_name,
                                              GCancellable *cancellable, GError **error);
GPtrArray *coffer_repository_list_devices (CofferRepository *self, GCancellable *cancellable,
                                           GError **error);

/* Joining is commit-then-reveal (three messages through the storage), so
 * that an attacker who controls the storage cannot grind keys until the
 * 6-digit codes match:
 *   new computer:     coffer_repository_request_join      (request + commitment)
 *   trusted computer: coffer_repository_get_join_code      (answers with its key and a nonce)
 *   new computer:     coffer_repository_get_join_status    (reveals its nonce; shows the code)
 *   trusted computer: coffer_repository_approve_device     (code typed by the user)
 *   new computer:     coffer_repository_complete_join
 * Each step can be repeated (polling) until the other side has answered. */

/* On the new computer (repository opened, no keys): creates this device's
 * key pair, keeps the secret in the keyring (or, without one, sealed under
 * the password given with coffer_repository_set_password) and writes the
 * request. *out_code is set to NULL: the code exists only once a trusted
 * computer has answered (coffer_repository_get_join_status). */
gboolean coffer_repository_request_join (CofferRepository *self, const char *device_name,
                                         char **out_device_id, char **out_code,
                                         GCancellable *cancellable, GError **error);
/* On the new computer: *out_code is NULL until a trusted computer has
 * answered; *out_approved is TRUE once the device envelope exists. */
gboolean coffer_repository_get_join_status (CofferRepository *self, char **out_code,
                                            gboolean *out_approved,
                                            GCancellable *cancellable, GError **error);
/* On a trusted computer (account key held): answers the request (first
 * call) and returns the code in *out_code once the new computer has
 * revealed its nonce (NULL until then). */
gboolean coffer_repository_get_join_code (CofferRepository *self, const char *device_id,
                                          char **out_code, GCancellable *cancellable, GError **error);
/* On a trusted computer: checks the code the user typed (read from the new
 * computer's screen) and writes the device envelope. A wrong code
 * (COFFER_REPO_ERROR_INVALID) cancels the request. */
gboolean coffer_repository_approve_device (CofferRepository *self, const char *device_id,
                                           const char *code_typed_by_user,
                                           GCancellable *cancellable, GError **error);
/* On the new computer after approval: checks that the envelope comes from
 * the trusted computer whose key entered the code, and takes the account
 * key (later runs unlock through coffer_repository_unlock). */
gboolean coffer_repository_complete_join (CofferRepository *self, GCancellable *cancellable,
                                          GError **error);
/* Removes a trusted device (or a pending request) and rotates the account
 * key: new account key, new key epoch in every category, every remaining
 * device re-sealed. Needs the account key, the recovery key
 * (coffer_repository_set_recovery_key; COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY
 * otherwise) and, when there are Standard categories, the password.
 * Resumes an interrupted rotation when called again.
 *
 * The devices kept are this computer and those whose records verify along
 * a chain of approvals back to the recovery key that does not pass through
 * the removed device (the removed device can forge anything else). Others
 * (records it approved or forged, legacy unsigned records) are kept only
 * when their ids are in keep_ids (NULL-terminated, may be NULL), after the
 * user compared their fingerprints: see
 * coffer_repository_plan_device_removal. The devices that lost access and
 * must join again are returned in out_lost (element type CofferDevice;
 * may be NULL). */
gboolean coffer_repository_remove_device (CofferRepository *self, const char *device_id,
                                          const char *const *keep_ids, GPtrArray **out_lost,
                                          GCancellable *cancellable, GError **error);
/* The trusted devices that removing device_id would not keep by itself
 * (element type CofferDevice, with name, fingerprint, time and approver),
 * to be confirmed one by one. Needs the account key and the recovery key. */
GPtrArray *coffer_repository_plan_device_removal (CofferRepository *self, const char *device_id,
                                                  GCancellable *cancellable, GError **error);

/* ---- Re-encrypting older backups (coffer-reencrypt.c; docs/SECURITY.md
 * "Re-encrypting older backups") ----
 * Rewrites every snapshot of the category written under an older key epoch
 * (usually before a switch to Advanced) under the newest epoch: blobs
 * decrypted, given new ids and sealed into new packs, trees rewritten, the
 * snapshot written again (same time, statistics and sequence number) and
 * the old snapshot object deleted; then the packs and index objects only
 * the old snapshots used are deleted at once (a prune with no grace
 * period). Needs the account key. Resumes where an interrupted or
 * cancelled run stopped. Progress: operation "reencrypt", files = snapshots,
 * bytes = plaintext re-encrypted. Do not run it while another computer
 * backs up the same category. */
gboolean coffer_repository_reencrypt_category (CofferRepository *self, const char *category_id,
                                               CofferProgressFunc progress, gpointer progress_data,
                                               GCancellable *cancellable, GError **error);

/* ---- Snapshots ---- */
/* Snapshots of a category (or of all unlocked categories when category_id is
 * NULL), oldest first. Element type CofferSnapshot. */
GPtrArray      *coffer_repository_list_snapshots (CofferRepository *self, const char *category_id,
                                                  GCancellable *cancellable, GError **error);
/* snapshot_id: full id, a unique prefix, or "latest". */
CofferSnapshot *coffer_repository_find_snapshot  (CofferRepository *self, const char *category_id,
                                                  const char *snapshot_id,
                                                  GCancellable *cancellable, GError **error);
/* Entries of the directory at path ("/" or "" = the roots, "/home/me/Pictures")
 * inside a snapshot. Element type CofferTreeEntry. */
GPtrArray      *coffer_repository_list_dir       (CofferRepository *self, const char *category_id,
                                                  const CofferSnapshot *snapshot, const char *path,
                                                  GCancellable *cancellable, GError **error);
/* Walks the whole snapshot; func gets the full path of each entry. Return
 * FALSE from func to stop. */
typedef gboolean (*CofferWalkFunc) (const char *path, const CofferTreeEntry *entry, gpointer user_data);
gboolean        coffer_repository_walk           (CofferRepository *self, const char *category_id,
                                                  const CofferSnapshot *snapshot, const char *path,
                                                  CofferWalkFunc func, gpointer user_data,
                                                  GCancellable *cancellable, GError **error);

/* ---- Operations (coffer-backup.c, coffer-restore.c, coffer-check.c, coffer-prune.c) ---- */

/* Backs up one category. Unreadable paths are skipped and listed in
 * *skipped (strings "path: reason"); the snapshot is then marked partial.
 * COFFER_REPO_ERROR_BUSY when another backup of this category runs on this
 * computer. Returns the new snapshot. */
CofferSnapshot *coffer_backup_run (CofferRepository *self, const char *category_id,
                                   CofferProgressFunc progress, gpointer progress_data,
                                   GPtrArray **skipped, GCancellable *cancellable, GError **error);

typedef enum
{
  COFFER_RESTORE_DEFAULT   = 0,
  COFFER_RESTORE_OVERWRITE = 1 << 0,  /* replace existing files even if newer */
  COFFER_RESTORE_DRY_RUN   = 1 << 1,
  /* Also restore what could grant privileges: setuid/setgid bits (and the
   * sticky bit on files), security.* and trusted.* extended attributes,
   * device nodes and FIFOs. Without it they are withheld and counted: a
   * snapshot is only as trustworthy as every key that could have written
   * it, including those of removed devices. */
  COFFER_RESTORE_KEEP_PRIVILEGES = 1 << 2,
  /* With a target: each selected path goes directly into the target
   * ("/home/me/Pictures/a.jpg" → TARGET/a.jpg), not below its absolute path. */
  COFFER_RESTORE_INTO_TARGET = 1 << 3,
  /* A differing existing file that is newer than the backup's copy stays;
   * the backup's copy is written beside it as "NAME (restored).EXT". */
  COFFER_RESTORE_KEEP_BOTH = 1 << 4,
} CofferRestoreFlags;

/* What a restore did besides writing files (coffer_restore_run_full). */
typedef struct
{
  /* Entries of which something was withheld for lack of
   * COFFER_RESTORE_KEEP_PRIVILEGES: a setuid/setgid/sticky bit dropped, a
   * security.* or trusted.* attribute skipped, a device node or FIFO not
   * created. Counted once per entry. */
  guint withheld;
} CofferRestoreResult;

/* Restores paths (absolute paths inside the snapshot; NULL = everything)
 * under target (NULL = to the original place). Existing files with the same
 * content are left alone; an existing file that differs and is newer than
 * the snapshot's copy is not overwritten without COFFER_RESTORE_OVERWRITE
 * (it is listed in *conflicts and the call fails with
 * COFFER_REPO_ERROR_NEWER_FILE after restoring everything else). */
gboolean coffer_restore_run (CofferRepository *self, const char *category_id,
                             const CofferSnapshot *snapshot, const char * const *paths,
                             const char *target, CofferRestoreFlags flags,
                             CofferProgressFunc progress, gpointer progress_data,
                             GPtrArray **conflicts, GCancellable *cancellable, GError **error);
/* As coffer_restore_run, and fills *result (may be NULL). */
gboolean coffer_restore_run_full (CofferRepository *self, const char *category_id,
                                  const CofferSnapshot *snapshot, const char * const *paths,
                                  const char *target, CofferRestoreFlags flags,
                                  CofferProgressFunc progress, gpointer progress_data,
                                  GPtrArray **conflicts, CofferRestoreResult *result,
                                  GCancellable *cancellable, GError **error);
/* As coffer_restore_run_full, with strip_prefix (an absolute path inside
 * the snapshot, used only with a target) removed from the front of every
 * restored path: "/home/alice/Pictures/a.jpg" with strip_prefix
 * "/home/alice" goes to TARGET/Pictures/a.jpg. Entries outside strip_prefix
 * are not restored. */
gboolean coffer_restore_run_mapped (CofferRepository *self, const char *category_id,
                                    const CofferSnapshot *snapshot, const char * const *paths,
                                    const char *target, const char *strip_prefix, CofferRestoreFlags flags,
                                    CofferProgressFunc progress, gpointer progress_data,
                                    GPtrArray **conflicts, CofferRestoreResult *result,
                                    GCancellable *cancellable, GError **error);

/* Checks structure (every snapshot's trees and every referenced blob exist
 * in the index, every indexed pack exists with the right size) and, with
 * read_data_percent > 0, downloads that share of the packs and verifies each
 * pack hash and blob. Problems go to *problems; FALSE when there are any. */
gboolean coffer_check_run (CofferRepository *self, const char *category_id, gdouble read_data_percent,
                           CofferProgressFunc progress, gpointer progress_data,
                           GPtrArray **problems, GCancellable *cancellable, GError **error);

typedef struct
{
  guint keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
} CofferRetention;

/* One category's part of coffer_backup_categories_run. */
typedef struct
{
  char           *category_id;
  CofferSnapshot *snapshot;      /* the new snapshot, or NULL when error is set */
  GError         *error;         /* why the backup of this category failed */
  GPtrArray      *skipped;       /* char *, "path: reason"; may be NULL */
  GError         *forget_error;  /* retention could not remove old backups */
} CofferCategoryBackup;

void coffer_category_backup_free (CofferCategoryBackup *backup);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferCategoryBackup, coffer_category_backup_free)

/* Called before each category's backup (backup NULL) and after it (its
 * result, valid during the call), in the calling thread: for a front end
 * that shows each category as it goes (the CLI prints a line each). */
typedef void (*CofferCategoryBackupFunc) (const char *category_id, const CofferCategoryBackup *backup,
                                          gpointer user_data);

/* What a backup run over several categories does, for every front end:
 * per category in the order given, its stored exclude patterns are first
 * brought in line with excludes (nullable: category id -> char **, the
 * patterns it should have; failing to is only logged), then it is backed up
 * (coffer_backup_run) and, when retention (nullable) keeps anything, its
 * old backups are forgotten (coffer_forget_run). A category that fails does
 * not stop the others; cancelling does: then FALSE with
 * G_IO_ERROR_CANCELLED and no results. Otherwise TRUE with *results (element
 * type CofferCategoryBackup), one per category, in order. each (nullable)
 * sees every category before and after its backup (also the one a cancel
 * stopped, with its G_IO_ERROR_CANCELLED). */
gboolean coffer_backup_categories_run (CofferRepository *self, const char * const *category_ids,
                                       GHashTable *excludes, const CofferRetention *retention,
                                       CofferProgressFunc progress, gpointer progress_data,
                                       CofferCategoryBackupFunc each, gpointer each_data,
                                       GPtrArray **results, GCancellable *cancellable, GError **error);

/* Deletes the snapshot objects that the retention policy does not keep
 * (per category). Returns the forgotten snapshots in *forgotten. A policy
 * with every field 0 is refused (it would forget everything). */
gboolean coffer_forget_run (CofferRepository *self, const char *category_id,
                            const CofferRetention *retention, gboolean dry_run,
                            GPtrArray **forgotten, GCancellable *cancellable, GError **error);
/* Removes data no snapshot refers to: marks unreferenced packs in a prune
 * plan, and deletes packs marked by an earlier prune more than grace_seconds
 * ago that are still unreferenced. */
gboolean coffer_prune_run (CofferRepository *self, const char *category_id, gint64 grace_seconds,
                           CofferProgressFunc progress, gpointer progress_data,
                           guint64 *out_deleted_bytes, GCancellable *cancellable, GError **error);

G_END_DECLS
