/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "coffer-repository.h"

G_BEGIN_DECLS

/* CofferEngine: the app's asynchronous face of the blocking core. It owns the
 * open CofferRepository and runs every repository, crypto and network call in
 * a GTask thread; results and progress arrive on the main context of the
 * thread that created the engine. */
#define COFFER_TYPE_ENGINE (coffer_engine_get_type ())
G_DECLARE_FINAL_TYPE (CofferEngine, coffer_engine, COFFER, ENGINE, GObject)

/* Where to back up, as the user entered it. Credentials are held only for
 * the lifetime of the object (and in the keyring). */
typedef struct
{
  char         *location;     /* path, webdav(s)://, s3:// */
  char         *user;         /* WebDAV user or S3 access key id, may be NULL */
  CofferSecret *secret;       /* WebDAV password or S3 secret key, may be NULL */
  char         *s3_endpoint;
  char         *s3_region;
  guint64       bandwidth_limit;
} CofferDestination;

CofferDestination *coffer_destination_new  (const char *location);
CofferDestination *coffer_destination_copy (const CofferDestination *dest);
void               coffer_destination_free (CofferDestination *dest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferDestination, coffer_destination_free)

/* One backup run over several categories. */
typedef struct
{
  gint64     start_time;     /* unix seconds */
  gint64     end_time;
  guint      n_ok;
  guint      n_failed;
  guint64    bytes;          /* file bytes in the new snapshots */
  guint64    added_bytes;    /* uploaded */
  guint64    files;
  GPtrArray *snapshots;      /* CofferSnapshot, one per category that succeeded */
  GPtrArray *messages;       /* char *, readable problems ("Photos: …") */
  GError    *first_error;    /* the first category's failure (its kind drives the status) */
} CofferBackupReport;

void coffer_backup_report_free (CofferBackupReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferBackupReport, coffer_backup_report_free)

CofferEngine     *coffer_engine_new             (void);
CofferRepository *coffer_engine_get_repository  (CofferEngine *self);
gboolean          coffer_engine_get_busy        (CofferEngine *self);
/* Cancels the running backup or restore. */
void              coffer_engine_cancel          (CofferEngine *self);
/* Keeps a copy of the password for later calls (e.g. set_level to Standard). */
/* The backup password this session knows (secure memory), or NULL. */
const CofferSecret *coffer_engine_get_password (CofferEngine *self);
void              coffer_engine_set_password    (CofferEngine *self, const CofferSecret *password);
void              coffer_engine_close           (CofferEngine *self);
/* Retention applied (coffer_forget_run) after each successful backup;
 * NULL or all zero = keep everything. */
void              coffer_engine_set_retention   (CofferEngine *self, const CofferRetention *retention);

/* Opens the store and checks that it can be reached and written to. The
 * result is TRUE with *out_has_repository telling whether a Coffer
 * repository is already there. */
void     coffer_engine_test_connection_async  (CofferEngine *self, const CofferDestination *dest,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_test_connection_finish (CofferEngine *self, GAsyncResult *result,
                                               gboolean *out_has_repository, GError **error);

/* Server credentials of a WebDAV or S3 destination in the keyring, under
 * its location (kind webdav-password or s3-secret-key). lookup's result is
 * the secret, or NULL with an error when there is none; save stores
 * dest->secret (callback may be NULL). */
void          coffer_engine_lookup_credentials_async  (CofferEngine *self, const CofferDestination *dest,
                                                       GCancellable *cancellable,
                                                       GAsyncReadyCallback callback, gpointer user_data);
CofferSecret *coffer_engine_lookup_credentials_finish (CofferEngine *self, GAsyncResult *result,
                                                       GError **error);
void          coffer_engine_save_credentials_async    (CofferEngine *self, const CofferDestination *dest,
                                                       GCancellable *cancellable,
                                                       GAsyncReadyCallback callback, gpointer user_data);
gboolean      coffer_engine_save_credentials_finish   (CofferEngine *self, GAsyncResult *result,
                                                       GError **error);

/* Reads the id of the repository at dest without any key: *out_id is the
 * id (hex), or NULL when the place can be reached and holds no repository. */
void     coffer_engine_peek_repository_id_async  (CofferEngine *self, const CofferDestination *dest,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_peek_repository_id_finish (CofferEngine *self, GAsyncResult *result, char **out_id,
                                                  GError **error);

/* Creates a repository; the result is the recovery key (caller frees). */
void          coffer_engine_create_async  (CofferEngine *self, const CofferDestination *dest,
                                           const CofferSecret *password, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
CofferSecret *coffer_engine_create_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Opens and unlocks an existing repository (password may be NULL: the
 * device key from the keyring is tried). */
void     coffer_engine_open_async  (CofferEngine *self, const CofferDestination *dest,
                                    const CofferSecret *password, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_open_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Adds a category; result is its id. */
void  coffer_engine_add_category_async  (CofferEngine *self, const char *name, CofferLevel level,
                                         const char * const *paths, const char * const *excludes,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
char *coffer_engine_add_category_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Updates name, paths and excludes of an existing category. */
void     coffer_engine_update_category_async  (CofferEngine *self, const char *category_id,
                                               const char *name, const char * const *paths,
                                               const char * const *excludes, GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_update_category_finish (CofferEngine *self, GAsyncResult *result, GError **error);

void     coffer_engine_set_level_async  (CofferEngine *self, const char *category_id, CofferLevel level,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_set_level_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Parses the typed key (COFFER_CRYPTO_ERROR_TYPO / _INVALID) and opens the
 * account key with it (COFFER_REPO_ERROR_WRONG_RECOVERY_KEY). */
void     coffer_engine_verify_recovery_key_async  (CofferEngine *self, const char *text,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_verify_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error);
gint64   coffer_engine_get_recovery_key_tested    (CofferEngine *self);

/* Writes the emergency kit for the recovery key (formatted as shown) to
 * path as a PDF, replacing a file there (the file chooser asked), with the
 * open repository's location and id. */
void     coffer_engine_save_emergency_kit_async  (CofferEngine *self, const char *path,
                                                  const CofferSecret *formatted_key,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_save_emergency_kit_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Two-phase replacement (coffer_repository_begin/commit_recovery_key_replacement):
 * replace makes and returns the new key without writing anything; commit
 * checks the typed-back text and only then replaces keys/recovery; cancel
 * discards the pending key (the old key stays valid). */
void          coffer_engine_replace_recovery_key_async  (CofferEngine *self, GCancellable *cancellable,
                                                         GAsyncReadyCallback callback, gpointer user_data);
CofferSecret *coffer_engine_replace_recovery_key_finish (CofferEngine *self, GAsyncResult *result,
                                                         GError **error);
void          coffer_engine_commit_recovery_key_async   (CofferEngine *self, const char *text,
                                                         GCancellable *cancellable,
                                                         GAsyncReadyCallback callback, gpointer user_data);
gboolean      coffer_engine_commit_recovery_key_finish  (CofferEngine *self, GAsyncResult *result,
                                                         GError **error);
void          coffer_engine_cancel_recovery_key_replacement (CofferEngine *self);
gboolean      coffer_engine_has_pending_recovery_key    (CofferEngine *self);

/* Checks authority typed now for a change that weakens protection: the
 * text is the backup password or the recovery key
 * (coffer_repository_check_authority). */
void     coffer_engine_check_authority_async  (CofferEngine *self, const CofferSecret *typed,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_check_authority_finish (CofferEngine *self, GAsyncResult *result, GError **error);

void     coffer_engine_change_password_async  (CofferEngine *self, const CofferSecret *password,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_change_password_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Backs up the given categories one after the other, emitting ::progress.
 * excludes (nullable) maps a category id to the exclude patterns it should
 * have (char **); a category whose stored patterns differ is updated first. */
void                coffer_engine_backup_async  (CofferEngine *self, const char * const *category_ids,
                                                 GHashTable *excludes,
                                                 GAsyncReadyCallback callback, gpointer user_data);
CofferBackupReport *coffer_engine_backup_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Element type CofferSnapshot, newest first. */
void       coffer_engine_list_snapshots_async  (CofferEngine *self, const char *category_id,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *coffer_engine_list_snapshots_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Element type CofferTreeEntry. */
void       coffer_engine_list_dir_async  (CofferEngine *self, const char *category_id,
                                          const CofferSnapshot *snapshot, const char *path,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *coffer_engine_list_dir_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Entries whose name contains query (case-insensitive), at most
 * max_results. Element type CofferFileItem. */
void       coffer_engine_search_async  (CofferEngine *self, const char *category_id,
                                        const CofferSnapshot *snapshot, const char *query,
                                        guint max_results, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *coffer_engine_search_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Restores; on COFFER_REPO_ERROR_NEWER_FILE *out_conflicts lists the files
 * that were left alone. */
void     coffer_engine_restore_async  (CofferEngine *self, const char *category_id,
                                       const CofferSnapshot *snapshot, const char * const *paths,
                                       const char *target, CofferRestoreFlags flags,
                                       GAsyncReadyCallback callback, gpointer user_data);
/* The same, with strip_prefix left out under target (coffer_restore_run_mapped):
 * /home/alice/Pictures with target /home/bob and prefix /home/alice goes to
 * /home/bob/Pictures. Finish with coffer_engine_restore_finish. */
void     coffer_engine_restore_mapped_async (CofferEngine *self, const char *category_id,
                                             const CofferSnapshot *snapshot, const char * const *paths,
                                             const char *target, const char *strip_prefix,
                                             CofferRestoreFlags flags,
                                             GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_restore_finish (CofferEngine *self, GAsyncResult *result,
                                       GPtrArray **out_conflicts, GError **error);
/* For a finished restore: how many entries had something withheld that
 * could grant privileges (setuid/setgid bits, security.* attributes,
 * device nodes; CofferRestoreResult.withheld). */
guint    coffer_engine_restore_get_withheld (CofferEngine *self, GAsyncResult *result);

/* Every category in the repository (element type CofferCategory). */
void       coffer_engine_list_categories_async  (CofferEngine *self, GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *coffer_engine_list_categories_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Trusted devices and join requests (element type CofferDevice). */
void       coffer_engine_list_devices_async  (CofferEngine *self, GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *coffer_engine_list_devices_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* On this trusted computer: answers a join request; then checks the code
 * the user read on the new computer and trusts it. */
void     coffer_engine_approve_device_async  (CofferEngine *self, const char *device_id, const char *code,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_approve_device_finish (CofferEngine *self, GAsyncResult *result, GError **error);
/* Answers a join request (first step on the trusted computer). */
void     coffer_engine_answer_join_async  (CofferEngine *self, const char *device_id,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_answer_join_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Removes a device and rotates the account key; needs the recovery key
 * (typed by the user). */
void     coffer_engine_remove_device_async  (CofferEngine *self, const char *device_id,
                                             const char *recovery_key_text, GCancellable *cancellable,
                                             GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_remove_device_finish (CofferEngine *self, GAsyncResult *result, char ***out_lost,
                                             GError **error);

/* Re-encrypts the older backups of a category under its newest key epoch
 * (coffer_repository_reencrypt_category). Runs like a backup: the engine is
 * busy, ::progress reports operation "reencrypt", coffer_engine_cancel stops
 * it (a later run resumes). */
void     coffer_engine_reencrypt_async  (CofferEngine *self, const char *category_id,
                                         GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_reencrypt_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* How many backups of the category are still under an older key epoch
 * (the result; -1 on error). */
void     coffer_engine_count_old_backups_async  (CofferEngine *self, const char *category_id,
                                                 GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
gssize   coffer_engine_count_old_backups_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Opens an existing repository with the recovery key typed by the user
 * (COFFER_CRYPTO_ERROR_TYPO / _INVALID, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY).
 * The key is held for this session only. */
void     coffer_engine_open_with_recovery_key_async  (CofferEngine *self, const CofferDestination *dest,
                                                      const char *recovery_key_text,
                                                      GCancellable *cancellable,
                                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_open_with_recovery_key_finish (CofferEngine *self, GAsyncResult *result,
                                                      GError **error);

/* Joining this computer to an existing repository by code (on the new
 * computer). request_join opens the repository without keys and sends the
 * request (the password set with coffer_engine_set_password protects this
 * computer's key when there is no keyring); the result is the device id.
 * get_join_status polls: *out_code is NULL until a trusted computer has
 * answered, *out_approved TRUE once it approved. complete_join takes the
 * account key; the joined repository then becomes the engine's repository. */
void     coffer_engine_request_join_async     (CofferEngine *self, const CofferDestination *dest,
                                               const char *device_name, GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
char    *coffer_engine_request_join_finish    (CofferEngine *self, GAsyncResult *result, GError **error);
void     coffer_engine_get_join_status_async  (CofferEngine *self, GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_get_join_status_finish (CofferEngine *self, GAsyncResult *result, char **out_code,
                                               gboolean *out_approved, GError **error);
void     coffer_engine_complete_join_async    (CofferEngine *self, GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_engine_complete_join_finish   (CofferEngine *self, GAsyncResult *result, GError **error);

/* A readable sentence for an error from the engine, for the UI. */
char *coffer_engine_describe_error (const GError *error);

/* ---- Recovery contacts (recovery shares; see coffer-shares-dialog.c) ---- */

/* What the repository records about shares of its recovery keys. */
typedef struct
{
  guint  needed, count;          /* shares of the current key; 0 when none */
  gint64 made;                   /* when they were made (Unix seconds) */
  guint  old_needed, old_count;  /* shares of the key replaced last; 0 when none */
  gint64 old_replaced;           /* when that key was replaced */
} CofferSharesInfo;

/* Opens dest without keys and reads its id and recorded recovery key
 * generations, so typed shares can be checked as they are typed. The
 * result is a CofferShareContext. */
typedef struct
{
  guint8  repo_id[16];
  GArray *generations;           /* CofferRecoveryGeneration */
} CofferShareContext;
void coffer_share_context_free (CofferShareContext *context);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferShareContext, coffer_share_context_free)

void                coffer_engine_open_share_context_async  (CofferEngine *self, const CofferDestination *dest,
                                                             GCancellable *cancellable,
                                                             GAsyncReadyCallback callback, gpointer user_data);
CofferShareContext *coffer_engine_open_share_context_finish (CofferEngine *self, GAsyncResult *result,
                                                             GError **error);
/* Shares of the open repository: info, and making them from the recovery
 * key typed now (checked first) and saving one sheet per share
 * (share-I-of-N.pdf, 0600) in folder, printed with owner's name. No file
 * is written over: when one of the names exists, nothing is made
 * (G_IO_ERROR_EXISTS). */
void       coffer_engine_get_shares_info_async  (CofferEngine *self, GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean   coffer_engine_get_shares_info_finish (CofferEngine *self, GAsyncResult *result,
                                                 CofferSharesInfo *info, GError **error);
void       coffer_engine_make_shares_async      (CofferEngine *self, const char *recovery_key_text,
                                                 guint needed, guint count, const char *folder,
                                                 const char *owner, GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean   coffer_engine_make_shares_finish     (CofferEngine *self, GAsyncResult *result, GError **error);

/* ---- cloud accounts through rclone (coffer-engine-remote.c) ---- */

/* Gets the address of a sign-in page to open in the browser (main context). */
typedef void (*CofferEngineUrlFunc) (const char *url, gpointer user_data);

/* Signs in to an OAuth cloud (type "gdrive", "dropbox", … as in `coffer
 * remote add`) with rclone authorize and saves it as a Coffer-managed
 * remote: the token in the keyring, the rest in remotes.ini. name: the
 * remote to sign in again (its token is replaced once the new sign-in
 * succeeded), or NULL for a new one named after the type. url_func gets
 * the page to open (url_data must outlive the call). Cancelling stops
 * rclone. The result is the remote's name (use "rclone:NAME:folder"). */
void  coffer_engine_sign_in_async  (CofferEngine *self, const char *type, const char *name,
                                    CofferEngineUrlFunc url_func, gpointer url_data,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
char *coffer_engine_sign_in_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* Saves (replacing one of that name) a Coffer-managed rclone remote: secret
 * (may be NULL) to the keyring, the rest to remotes.ini. */
void     coffer_engine_save_remote_async  (CofferEngine *self, const char *name, const char *type,
                                           const char *host, gint port, const char *user,
                                           const char *key_file, const CofferSecret *secret,
                                           GCancellable *cancellable, GAsyncReadyCallback callback,
                                           gpointer user_data);
gboolean coffer_engine_save_remote_finish (CofferEngine *self, GAsyncResult *result, GError **error);

/* The remotes of rclone's own configuration (`rclone listremotes`). */
void   coffer_engine_list_rclone_remotes_async  (CofferEngine *self, GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
char **coffer_engine_list_rclone_remotes_finish (CofferEngine *self, GAsyncResult *result, GError **error);

G_END_DECLS
