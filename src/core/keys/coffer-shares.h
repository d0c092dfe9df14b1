/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-secret.h"

G_BEGIN_DECLS

/* Recovery shares: the recovery key's 16 bytes split among n trusted people
 * ("recovery contacts") with Shamir secret sharing over GF(256), so that
 * any k of them (2 <= k <= n <= 10) give the key back and fewer learn
 * nothing about it. docs/FORMAT.md "Recovery shares".
 *
 * A share is typed like the recovery key, as 44 characters of Crockford
 * base32 in 11 groups of 4. It carries its index (x = 1..10), k, a 2-byte
 * tag of the repository id, the 3-byte generation id of the recovery key it
 * belongs to, a 2-byte id of the set of shares made together, the 16 share
 * bytes and a check byte, protected by two Reed-Solomon codewords over
 * GF(32) (the recovery key's code), so one wrong character is located. */

#define COFFER_SHARES_MIN             2
#define COFFER_SHARES_MAX            10
#define COFFER_SHARE_CHARS           44
#define COFFER_SHARE_GROUPS          11
#define COFFER_SHARE_GENERATION_BYTES 3
#define COFFER_SHARE_SET_BYTES        2
#define COFFER_SHARE_REPO_TAG_BYTES   2

typedef struct
{
  guint8        index;                                   /* x, 1..10 */
  guint8        needed;                                  /* k, 2..10 */
  guint8        repo_tag[COFFER_SHARE_REPO_TAG_BYTES];   /* repository id bytes 0..1 */
  guint8        generation[COFFER_SHARE_GENERATION_BYTES];
  guint8        set_id[COFFER_SHARE_SET_BYTES];
  CofferSecret *value;                                   /* 16 bytes: f(x) */
} CofferShare;

void coffer_share_free (CofferShare *share);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferShare, coffer_share_free)

/* The generation id of a recovery key: the first 3 bytes of
 * BLAKE2b-256(key = RK, "coffer-recovery-generation-v1" || repository id). */
void coffer_recovery_generation_id (const CofferSecret *recovery_key,
                                    const guint8        repo_id[16],
                                    guint8              out[COFFER_SHARE_GENERATION_BYTES]);

/* Splits a recovery key (16 bytes) into n shares (CofferShare, index 1..n),
 * any k of which restore it. Coefficients come from randombytes_buf. */
GPtrArray *coffer_shares_split (const CofferSecret *recovery_key,
                                const guint8        repo_id[16],
                                guint               needed,
                                guint               count,
                                GError            **error);

/* The same with given coefficients ((k - 1) × 16 bytes: coefficient d of
 * byte j at offset (d - 1) * 16 + j) and set id; for the test vectors. */
GPtrArray *coffer_shares_split_with (const CofferSecret *recovery_key,
                                     const guint8        repo_id[16],
                                     guint               needed,
                                     guint               count,
                                     const CofferSecret *coefficients,
                                     const guint8        set_id[COFFER_SHARE_SET_BYTES],
                                     GError            **error);

/* "XXXX-XXXX-…" (11 groups, 54 characters + NUL) in secure memory. */
CofferSecret *coffer_share_format (const CofferShare *share);

/* Parses a typed share with the recovery key's tolerance (case, dashes,
 * spaces, O/0, I/L/1). COFFER_CRYPTO_ERROR_INVALID: wrong length or
 * characters, or a recovery key typed where a share belongs;
 * COFFER_CRYPTO_ERROR_TYPO: the check symbols do not match (the message
 * names the group and character when one wrong character can be located). */
CofferShare *coffer_share_parse (const char *text, GError **error);

/* ---- What a repository remembers about its recovery keys ---- */

/* One recovery key generation (docs/FORMAT.md "Recovery shares"). */
typedef struct
{
  guint8 generation[COFFER_SHARE_GENERATION_BYTES];
  gint64 replaced;        /* Unix seconds; 0 while it is the current key */
  gint64 shares_made;     /* Unix seconds shares were last made; 0 = never */
  guint8 needed;          /* k of those shares */
  guint8 count;           /* n of those shares */
} CofferRecoveryGeneration;

/* keys/recovery-generations: parse (an array of CofferRecoveryGeneration)
 * and serialise. */
GArray *coffer_recovery_generations_parse     (GBytes *bytes, GError **error);
GBytes *coffer_recovery_generations_serialize (GArray *generations);

/* Checks that share belongs to the repository (repo_id) and to its current
 * recovery key according to generations (may be NULL or empty: then only
 * the repository is checked). Errors, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY:
 * "This share belongs to another repository", "This share belongs to the
 * recovery key replaced on 3 March 2026". */
gboolean coffer_share_check (const CofferShare *share,
                             const guint8       repo_id[16],
                             GArray            *generations,
                             GError           **error);

/* Combines shares (CofferShare *) of the repository repo_id into the
 * recovery key. All must be of one set (repository, generation, set id, k);
 * a repeated index is used once. With fewer than k distinct shares:
 * COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY saying how many more are needed. The
 * result is checked against the shares' generation id (keyed with it and
 * repo_id). */
CofferSecret *coffer_shares_combine (CofferShare * const *shares,
                                     guint               n_shares,
                                     const guint8        repo_id[16],
                                     GError            **error);

/* How many more shares are needed with these n_shares (0 when enough). */
guint coffer_shares_missing (CofferShare * const *shares, guint n_shares);

G_END_DECLS
