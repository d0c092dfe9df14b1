/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-engine.h"

G_BEGIN_DECLS

/* CofferDestinationPage: where to back up. Folder or drive, Google Drive
 * and Dropbox (sign-in in the browser through rclone authorize, waiting
 * with a Cancel button), OneDrive (explained: set up with rclone config),
 * SFTP/NAS, WebDAV/Nextcloud, S3 and any remote of rclone's own
 * configuration; and the connection test row, whose button activates
 * "assistant.test-connection" (the window that holds the page provides
 * it). Emits "changed" whenever the destination the user means changes. */
#define COFFER_TYPE_DESTINATION_PAGE (coffer_destination_page_get_type ())
G_DECLARE_FINAL_TYPE (CofferDestinationPage, coffer_destination_page, COFFER, DESTINATION_PAGE,
                      AdwPreferencesPage)

CofferDestinationPage *coffer_destination_page_new (void);
/* The engine that runs the sign-in. */
void coffer_destination_page_set_engine (CofferDestinationPage *self, CofferEngine *engine);
/* The destination entered, or NULL with a message to show. No I/O. */
CofferDestination *coffer_destination_page_build (CofferDestinationPage *self, GError **error);
/* Call before testing the destination: saves what build() refers to but
 * does not hold (SFTP: the Coffer-managed rclone remote, password in the
 * keyring, replacing one of the same name) in the engine's thread. Does
 * nothing for the other kinds. */
void     coffer_destination_page_prepare_async  (CofferDestinationPage *self, GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean coffer_destination_page_prepare_finish (CofferDestinationPage *self, GAsyncResult *result,
                                                 GError **error);
void coffer_destination_page_set_folder (CofferDestinationPage *self, const char *path);
/* The connection test row. */
void coffer_destination_page_set_test_result (CofferDestinationPage *self, const char *icon,
                                              const char *css, const char *message);
void coffer_destination_page_set_testing (CofferDestinationPage *self, gboolean testing);
/* TRUE while the page waits for a sign-in in the browser. */
gboolean coffer_destination_page_get_signing_in (CofferDestinationPage *self);
/* The remote the last sign-in created (NULL before). */
const char *coffer_destination_page_get_signed_in_remote (CofferDestinationPage *self);
/* "Google Drive" for "gdrive", "Dropbox" for "dropbox" (the OAuth kinds
 * the page signs in to). */
const char *coffer_destination_page_provider_name (const char *type);

G_END_DECLS
