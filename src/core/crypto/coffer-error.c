/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "coffer-error.h"

G_DEFINE_QUARK (coffer-crypto-error-quark, coffer_crypto_error)
G_DEFINE_QUARK (coffer-store-error-quark, coffer_store_error)
G_DEFINE_QUARK (coffer-repo-error-quark, coffer_repo_error)
G_DEFINE_QUARK (coffer-keyring-error-quark, coffer_keyring_error)
