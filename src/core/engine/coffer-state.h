/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Local, per-repository state of this computer. Nothing here is secret.
 *   data:  $XDG_DATA_HOME/coffer/repositories/<repo-id>/state.ini
 *          (device id, device public key, highest snapshot sequence and key
 *           epoch seen per category, recovery key last tested)
 *   cache: $XDG_CACHE_HOME/coffer/<repo-id>/<category-id>/ (files cache,
 *          index cache, lock file) — can be deleted at any time. */
typedef struct _CofferState CofferState;

CofferState *coffer_state_new   (const char *repo_id);
void         coffer_state_free  (CofferState *state);

const char  *coffer_state_get_data_dir  (CofferState *state);
/* Creates <cache>/<category_id> (0700) and returns its path. */
char        *coffer_state_get_cache_dir (CofferState *state, const char *category_id);

char        *coffer_state_get_string (CofferState *state, const char *group, const char *key);
void         coffer_state_set_string (CofferState *state, const char *group, const char *key, const char *value);
guint64      coffer_state_get_uint   (CofferState *state, const char *group, const char *key);
void         coffer_state_set_uint   (CofferState *state, const char *group, const char *key, guint64 value);
void         coffer_state_remove     (CofferState *state, const char *group, const char *key);
/* Writes state.ini atomically (0600). */
gboolean     coffer_state_save       (CofferState *state, GError **error);

/* An exclusive, non-blocking lock on <cache>/<category>/lock. Returns the fd
 * or -1 with COFFER_REPO_ERROR_BUSY. */
int          coffer_state_lock_category   (CofferState *state, const char *category_id, GError **error);
void         coffer_state_unlock_category (int fd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferState, coffer_state_free)

G_END_DECLS
