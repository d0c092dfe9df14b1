/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "coffer-repository.h"
#include "coffer-shares.h"

G_BEGIN_DECLS

/* Recovery shares of a repository (coffer-repository-shares.c) and the
 * record of its recovery key generations, keys/recovery-generations
 * (docs/FORMAT.md "Recovery shares"). */

/* The recorded generations (CofferRecoveryGeneration); empty when the
 * repository has no record yet. */
GArray *coffer_repository_load_recovery_generations (CofferRepository *self, GCancellable *cancellable,
                                                     GError **error);

/* Checks the recovery key (it must open the repository, like
 * coffer_repository_verify_recovery_key), splits it into count shares of
 * which needed restore it, and records in the repository that shares exist
 * (needed, count, now). Returns the shares (CofferShare). */
GPtrArray *coffer_repository_make_shares (CofferRepository *self, const CofferSecret *recovery_key,
                                          guint needed, guint count, GCancellable *cancellable,
                                          GError **error);

/* Whether shares of the current recovery key were made (and k, n, when). */
gboolean coffer_repository_get_shares_info (CofferRepository *self, guint *needed, guint *count,
                                            gint64 *made, GCancellable *cancellable, GError **error);

/* Checks one share against this repository and its recorded generations:
 * another repository, or a replaced recovery key, are named. */
gboolean coffer_repository_check_share (CofferRepository *self, const CofferShare *share,
                                        GCancellable *cancellable, GError **error);

/* Checks each share and combines them into the recovery key (not yet tried
 * against keys/recovery: give it to coffer_repository_set_recovery_key or
 * coffer_repository_verify_recovery_key like a typed key). */
CofferSecret *coffer_repository_combine_shares (CofferRepository *self, CofferShare * const *shares,
                                                guint n_shares, GCancellable *cancellable,
                                                GError **error);

/* Called where a new recovery key becomes the valid one: the current
 * generations are marked replaced now and new_rk's is recorded, so its
 * shares are refused by name. Failures are only logged: the key itself is
 * already replaced. */
void _coffer_repository_recovery_replaced (CofferRepository *self, const CofferSecret *new_rk,
                                           GCancellable *cancellable);

G_END_DECLS
