/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "coffer-secret.h"

G_BEGIN_DECLS

/* CofferStore: where a repository's objects live. Names are relative
 * '/'-separated paths ("config", "categories/<cid>/packs/ab/<id>").
 * All calls are synchronous and may block: call them from worker threads.
 * Errors are in COFFER_STORE_ERROR. Implementations must be thread-safe. */
#define COFFER_TYPE_STORE (coffer_store_get_type ())
G_DECLARE_INTERFACE (CofferStore, coffer_store, COFFER, STORE, GObject)

typedef enum
{
  COFFER_PUT_CREATE,   /* fail with COFFER_STORE_ERROR_EXISTS if present; never replace */
  COFFER_PUT_REPLACE,  /* atomically replace (only for mutable objects) */
  COFFER_PUT_CREATE_UNSYNCED, /* as CREATE, but the object need not be durable
                                 until coffer_store_flush() returns (group
                                 commit for packs); stores that are durable
                                 on return treat it as CREATE */
} CofferPutMode;

/* Called for each object under a prefix, in no particular order. Return
 * FALSE to stop early. name is relative to the store root. */
typedef gboolean (*CofferStoreListFunc) (const char *name, guint64 size, gpointer user_data);

struct _CofferStoreInterface
{
  GTypeInterface parent_iface;

  gboolean (*put)    (CofferStore *self, const char *name, GBytes *data,
                      CofferPutMode mode, GCancellable *cancellable, GError **error);
  /* length 0 means to the end */
  GBytes  *(*get)    (CofferStore *self, const char *name, guint64 offset, guint64 length,
                      GCancellable *cancellable, GError **error);
  gboolean (*list)   (CofferStore *self, const char *prefix, CofferStoreListFunc func,
                      gpointer user_data, GCancellable *cancellable, GError **error);
  gboolean (*delete) (CofferStore *self, const char *name,
                      GCancellable *cancellable, GError **error);
  /* FALSE + COFFER_STORE_ERROR_NOT_FOUND when absent */
  gboolean (*stat)   (CofferStore *self, const char *name, guint64 *size,
                      GCancellable *cancellable, GError **error);
  /* e.g. "/media/disk/backup", "webdavs://cloud.example.org/…" (no credentials) */
  char    *(*describe) (CofferStore *self);
  /* Makes every object put so far durable. Optional: NULL means puts are
   * durable when they return. */
  gboolean (*flush)  (CofferStore *self, GCancellable *cancellable, GError **error);
  /* Deletes the temporaries that interrupted puts left below prefix (names
   * starting with ".tmp-", which list() never reports) once they were last
   * written at least max_age_seconds ago; adds their sizes to
   * *removed_bytes. Optional: NULL means the store leaves none behind or
   * cannot see them. */
  gboolean (*remove_stale_temporaries) (CofferStore *self, const char *prefix, gint64 max_age_seconds,
                                        guint64 *removed_bytes, GCancellable *cancellable, GError **error);
  /* The whole object, refused without reading its body when it is larger
   * than max_size (from the file's size or Content-Length), and refused
   * when more bytes arrive than that. Optional: NULL means stat() then
   * get() of exactly that many bytes. */
  GBytes  *(*get_limited) (CofferStore *self, const char *name, guint64 max_size,
                           GCancellable *cancellable, GError **error);
  /* Exactly length (> 0) bytes from offset into the caller's buffer, so a
   * reader can use one buffer for many reads. Optional: NULL means get()
   * and a copy. */
  gboolean (*read_into) (CofferStore *self, const char *name, guint64 offset, guint64 length,
                         guint8 *buf, GCancellable *cancellable, GError **error);
};

gboolean coffer_store_put    (CofferStore *self, const char *name, GBytes *data,
                              CofferPutMode mode, GCancellable *cancellable, GError **error);
GBytes  *coffer_store_get    (CofferStore *self, const char *name, guint64 offset,
                              guint64 length, GCancellable *cancellable, GError **error);
/* Reads exactly length (> 0) bytes at offset of name into buf; an object
 * shorter than offset + length is COFFER_STORE_ERROR_INVALID. On failure
 * buf holds anything. A reader that reuses one buffer for many reads
 * avoids the kernel's work of handing it fresh memory every time. */
gboolean coffer_store_read_into (CofferStore *self, const char *name, guint64 offset,
                                 guint64 length, guint8 *buf, GCancellable *cancellable,
                                 GError **error);
/* Reads a whole object of at most max_size bytes. A larger one is refused
 * with COFFER_STORE_ERROR_INVALID before its body is read or memory is
 * allocated for it: the storage decides how large an object is, and a
 * reader must not let it decide how much memory the client spends. */
GBytes  *coffer_store_get_limited (CofferStore *self, const char *name, guint64 max_size,
                                   GCancellable *cancellable, GError **error);
gboolean coffer_store_list   (CofferStore *self, const char *prefix, CofferStoreListFunc func,
                              gpointer user_data, GCancellable *cancellable, GError **error);
gboolean coffer_store_delete (CofferStore *self, const char *name,
                              GCancellable *cancellable, GError **error);
gboolean coffer_store_stat   (CofferStore *self, const char *name, guint64 *size,
                              GCancellable *cancellable, GError **error);
char    *coffer_store_describe (CofferStore *self);
gboolean coffer_store_flush    (CofferStore *self, GCancellable *cancellable, GError **error);
gboolean coffer_store_remove_stale_temporaries (CofferStore *self, const char *prefix,
                                                gint64 max_age_seconds, guint64 *removed_bytes,
                                                GCancellable *cancellable, GError **error);

/* Proves that a backup could write here: creates a small object create-only
 * (the way a backup writes), reads it back, compares and deletes it. Fails
 * with the store's error (COFFER_STORE_ERROR_READ_ONLY, _NO_SPACE, _AUTH,
 * _UNREACHABLE, _NETWORK…) so a destination that refuses writes is caught
 * before anything is written, not at the first backup. Creates a missing
 * local folder when its parent exists, as the first write would. */
gboolean coffer_store_probe_write (CofferStore *self, GCancellable *cancellable, GError **error);
/* Largest objects the engine reads, per kind (generous: many times what
 * Coffer writes; see docs/SECURITY.md, "Resource limits"). */
#define COFFER_MAX_CONFIG_BYTES      (64 * 1024)                /* config */
#define COFFER_MAX_KEY_OBJECT_BYTES  (1024 * 1024)              /* keys/…, categories/…/keys/… */
#define COFFER_MAX_META_BYTES        (4 * 1024 * 1024)          /* meta/<cid> */
#define COFFER_MAX_SNAPSHOT_BYTES    (16 * 1024 * 1024)         /* snapshots */
#define COFFER_MAX_PLAN_BYTES        (64 * 1024 * 1024)         /* prune plans */
#define COFFER_MAX_INDEX_BYTES       (1024 * 1024 * 1024)       /* one index object (about 56 bytes a blob; prune writes one for all) */
#define COFFER_MAX_PACK_HEADER_BYTES (64 * 1024 * 1024)         /* a pack's encrypted header */
#define COFFER_MAX_PACK_BYTES        (G_GUINT64_CONSTANT (2) * 1024 * 1024 * 1024) /* a whole pack */

/* Options for opening a store by location. */
typedef struct
{
  const char *s3_endpoint;   /* "https://s3.example.com" or "http://127.0.0.1:9000"; NULL = AWS */
  const char *s3_region;     /* default "us-east-1" */
  gboolean    s3_path_style; /* path-style addressing (default for custom endpoints) */
  guint       max_connections;   /* 0 = backend default */
  guint64     bandwidth_limit;   /* bytes per second, 0 = unlimited */
  const char *ca_file;       /* extra CA bundle (tests), NULL = system */
  /* Credentials typed in this session, for webdav(s):// and s3:// (borrowed,
   * used only while opening). When secret is set, it and user (the WebDAV
   * user or S3 access key id; NULL or "" = the address's user, or for S3
   * AWS_ACCESS_KEY_ID) are used instead of the environment and the keyring,
   * so a front end never has to put a secret into the environment. */
  const char         *user;
  const CofferSecret *secret;
  /* Tries per request of the retrying layer, without backoff; 0 = its
   * default policy. 1 suits a question someone is waiting for. */
  guint               max_tries;
} CofferStoreOptions;

/* Opens a store for a location: an absolute or relative path or file:// URI
 * (local), any other GIO URI, webdav:// or webdavs://host[:port]/path,
 * s3://bucket/prefix, rclone:REMOTE:path (starts `rclone serve webdav` at
 * once, see coffer-rclone.h). Credentials come from options (user,
 * secret), else the environment (COFFER_WEBDAV_USER/COFFER_WEBDAV_PASSWORD,
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or the keyring. Remote stores are wrapped in the
 * retrying transfer layer. Does not contact the server (except that an
 * rclone location starts rclone, which connects). */
CofferStore *coffer_store_open (const char *location, const CofferStoreOptions *options,
                                GError **error);

G_END_DECLS
