/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The recovery key's codec machinery, shared with the recovery shares
 * (coffer-shares.c): Crockford base32 symbols and a Reed-Solomon code with
 * two check symbols over GF(32) (x^5 + x^2 + 1, roots a^1 and a^2). A
 * codeword has at most 31 symbols. docs/FORMAT.md "Recovery key". */

extern const char coffer_base32_alphabet[33];

/* Crockford value of a character (any case, O -> 0, I/L -> 1), -1 when it
 * is not one (U included). */
int      _coffer_base32_value        (gunichar c);
/* Dashes and spaces, including the Unicode ones copy and paste brings. */
gboolean _coffer_base32_is_separator (gunichar c);

/* check[0], check[1] for the n_data symbols (n_data + 2 <= 31). */
void     _coffer_rs32_check_symbols  (const guint8 *symbols, guint n_data, guint8 *check);
/* c(a^k) over a codeword of n symbols (n_data + 2). */
guint8   _coffer_rs32_syndrome       (const guint8 *symbols, guint n, guint k);
/* The position of a single wrong symbol of a codeword of n symbols and the
 * value to XOR into it, or -1 when the syndromes do not fit one error. */
int      _coffer_rs32_locate         (const guint8 *symbols, guint n, guint8 *value);

/* Sets COFFER_CRYPTO_ERROR_TYPO for a recovery key or a share (is_share)
 * with the character to check (substitution, -1 for none) or the swapped
 * neighbours found (n_swaps, the first at swap), and what to compare it
 * with (the emergency kit, the share sheet). Positions count groups of 4.
 * The message is made of whole translatable sentences. */
void     _coffer_typo_error          (GError **error, gboolean is_share,
                                      int substitution, guint n_swaps, guint swap);

G_END_DECLS
