/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define COFFER_CRYPTO_ERROR (coffer_crypto_error_quark ())
#define COFFER_STORE_ERROR  (coffer_store_error_quark ())
#define COFFER_REPO_ERROR   (coffer_repo_error_quark ())
#define COFFER_KEYRING_ERROR (coffer_keyring_error_quark ())

typedef enum
{
  COFFER_CRYPTO_ERROR_WRONG_KEY,      /* key commitment did not match */
  COFFER_CRYPTO_ERROR_CORRUPT,        /* authentication failed, bad framing */
  COFFER_CRYPTO_ERROR_TYPO,           /* recovery key checksum failed: a typo */
  COFFER_CRYPTO_ERROR_INVALID,        /* malformed input (length, characters) */
  COFFER_CRYPTO_ERROR_UNSUPPORTED,    /* unknown version / parameters out of range */
  COFFER_CRYPTO_ERROR_FAILED,
} CofferCryptoError;

typedef enum
{
  COFFER_STORE_ERROR_NOT_FOUND,
  COFFER_STORE_ERROR_EXISTS,          /* create-only put of an existing name */
  COFFER_STORE_ERROR_AUTH,            /* 401/403, bad credentials */
  COFFER_STORE_ERROR_NO_SPACE,        /* ENOSPC, 507, quota */
  COFFER_STORE_ERROR_NETWORK,         /* connect/reset/timeout (retryable) */
  COFFER_STORE_ERROR_SERVER,          /* 5xx (retryable) */
  COFFER_STORE_ERROR_TLS,             /* bad certificate */
  COFFER_STORE_ERROR_INVALID,         /* bad URL, bad response */
  COFFER_STORE_ERROR_FAILED,
  COFFER_STORE_ERROR_UNREACHABLE,     /* the folder or drive is not there (unplugged,
                                         unmounted, renamed): not "no repository" */
  COFFER_STORE_ERROR_READ_ONLY,       /* the destination refuses writes (read-only
                                         filesystem, immutable folder, no permission) */
} CofferStoreError;

typedef enum
{
  COFFER_REPO_ERROR_NOT_FOUND,        /* no repository at that location */
  COFFER_REPO_ERROR_EXISTS,           /* init on an existing repository */
  COFFER_REPO_ERROR_UNSUPPORTED_VERSION,
  COFFER_REPO_ERROR_WRONG_PASSWORD,
  COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
  COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY, /* Advanced category, only password given */
  COFFER_REPO_ERROR_NO_KEY,           /* no way in was supplied */
  COFFER_REPO_ERROR_CORRUPT,
  COFFER_REPO_ERROR_NO_CATEGORY,
  COFFER_REPO_ERROR_NO_SNAPSHOT,
  COFFER_REPO_ERROR_BUSY,             /* another backup of this category runs */
  COFFER_REPO_ERROR_ROLLED_BACK,      /* snapshot sequence went backwards */
  COFFER_REPO_ERROR_INVALID,          /* bad argument from the user */
  COFFER_REPO_ERROR_NEWER_FILE,       /* restore would overwrite a newer file */
  COFFER_REPO_ERROR_FAILED,
} CofferRepoError;

typedef enum
{
  COFFER_KEYRING_ERROR_UNAVAILABLE,   /* no Secret Service, portal or file backend */
  COFFER_KEYRING_ERROR_LOCKED,        /* the user refused to unlock */
  COFFER_KEYRING_ERROR_NOT_FOUND,
  COFFER_KEYRING_ERROR_FAILED,
} CofferKeyringError;

GQuark coffer_crypto_error_quark (void);
GQuark coffer_store_error_quark (void);
GQuark coffer_repo_error_quark (void);
GQuark coffer_keyring_error_quark (void);

G_END_DECLS
