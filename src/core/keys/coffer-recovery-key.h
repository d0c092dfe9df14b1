/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-secret.h"

G_BEGIN_DECLS

/* A recovery key: 16 random bytes (128 bits) written as 28 characters of
 * Crockford base32 in 7 groups of 4: "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345".
 * Symbols 0..25 carry the 128 key bits (big-endian bit order) followed by
 * 2 bits taken from BLAKE2b-256("coffer-recovery-key" || key) (the top two
 * bits of its first byte); symbols 26..27 are two Reed-Solomon check symbols
 * over GF(32) (primitive polynomial x^5 + x^2 + 1, generator roots a^1, a^2),
 * so any one or two wrong characters (a typo, two swapped neighbours) are
 * always detected, and a single wrong character can be located. */
#define COFFER_RECOVERY_KEY_BYTES 16
#define COFFER_RECOVERY_KEY_CHARS 28

/* New random key (secret holds the 16 bytes). */
CofferSecret *coffer_recovery_key_generate (void);

/* Formats as "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX" (34 chars + NUL) in secure
 * memory (->data is a NUL-terminated string, ->len excludes the NUL). */
CofferSecret *coffer_recovery_key_format (const CofferSecret *key);

/* Parses tolerant input: any case, spaces and dashes ignored, O->0,
 * I/L->1, U rejected. Errors: COFFER_CRYPTO_ERROR_INVALID (wrong length or a
 * character that is not base32; message says which), COFFER_CRYPTO_ERROR_TYPO
 * (check symbols mismatch: the message names the group and position of the
 * character that looks mistyped when a single error can be located). A
 * well-formed key that simply is not this repository's key parses fine; the
 * caller reports that as a wrong key when the envelope does not open. */
CofferSecret *coffer_recovery_key_parse (const char *text, GError **error);

G_END_DECLS
