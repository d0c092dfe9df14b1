/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "coffer-secret.h"

G_BEGIN_DECLS

/* Secrets in the OS keyring through libsecret (the Secret portal inside
 * Flatpak, or the file backend with SECRET_BACKEND=file). Schema
 * "io.github.cofferapp.Coffer.Key", attributes "repository" (repository id,
 * hex) and "kind" (one of the kinds below); attributes never hold secrets.
 * Errors in COFFER_KEYRING_ERROR. When no Secret Service can be reached (no
 * session bus, COFFER_KEYRING=none in the environment) calls fail at once
 * with COFFER_KEYRING_ERROR_UNAVAILABLE: they never hang or autolaunch. */
#define COFFER_KEY_KIND_DEVICE  "device"         /* X25519 secret key of this computer */
#define COFFER_KEY_KIND_WEBDAV  "webdav-password"
#define COFFER_KEY_KIND_S3      "s3-secret-key"

gboolean      coffer_keyring_is_available (void);

gboolean      coffer_keyring_store_sync  (const char *repo_id, const char *kind,
                                          const char *label, const CofferSecret *secret,
                                          GCancellable *cancellable, GError **error);
/* NULL with COFFER_KEYRING_ERROR_NOT_FOUND when there is no such item. */
CofferSecret *coffer_keyring_lookup_sync (const char *repo_id, const char *kind,
                                          GCancellable *cancellable, GError **error);
gboolean      coffer_keyring_clear_sync  (const char *repo_id, const char *kind,
                                          GCancellable *cancellable, GError **error);

void          coffer_keyring_store_async  (const char *repo_id, const char *kind,
                                           const char *label, const CofferSecret *secret,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
gboolean      coffer_keyring_store_finish (GAsyncResult *result, GError **error);
void          coffer_keyring_lookup_async (const char *repo_id, const char *kind,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
CofferSecret *coffer_keyring_lookup_finish (GAsyncResult *result, GError **error);

G_END_DECLS
