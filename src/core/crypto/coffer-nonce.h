/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Random bytes that need not stay secret (nonces, a pack's filler),
 * from a ChaCha20 stream keyed by the system's generator, through a small
 * buffer of the thread's for small requests (docs/PERFORMANCE.md "Nonces
 * from a buffer"). Keys never come from here: they use randombytes_buf
 * into sodium_malloc memory. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Fills out with len random bytes (through the thread's buffer when len
 * is small). Bytes handed out are never
 * handed out again, and a child process after fork() refills its buffer
 * before using it. */
void  _coffer_public_random (guint8 *out, gsize len);

/* For tests: how many times this thread's buffer was filled. */
guint _coffer_public_random_get_refills (void);

G_END_DECLS
