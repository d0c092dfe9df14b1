/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* CofferSecret: a fixed-size buffer of key material in sodium_malloc()
 * memory (guard pages, mlock'ed, wiped and freed by coffer_secret_free).
 * Never copy ->data into ordinary heap memory. */
typedef struct
{
  gsize   len;
  guint8 *data;
} CofferSecret;

/* Call once at program start (idempotent, thread-safe): sodium_init() and
 * core-dump prevention (prctl PR_SET_DUMPABLE 0, RLIMIT_CORE 0). */
void          coffer_core_init       (void);

CofferSecret *coffer_secret_new      (gsize len);          /* zero-filled */
CofferSecret *coffer_secret_new_random (gsize len);        /* randombytes_buf */
CofferSecret *coffer_secret_new_from_data (const guint8 *data, gsize len);
CofferSecret *coffer_secret_dup      (const CofferSecret *secret);
gboolean      coffer_secret_equal    (const CofferSecret *a, const CofferSecret *b); /* constant time */
void          coffer_secret_free     (CofferSecret *secret);

/* Reads a passphrase from a file (first line, trailing newline removed) into
 * secure memory. */
CofferSecret *coffer_secret_new_from_file (const char *path, GError **error);
/* Takes a NUL-terminated string (e.g. from getenv) into secure memory; the
 * caller should wipe the source where it can. len excludes the NUL, data is
 * NUL-terminated. */
CofferSecret *coffer_secret_new_from_string (const char *str);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferSecret, coffer_secret_free)

G_END_DECLS
