/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Nonces from a per-thread buffer. libsodium's randombytes_buf() is one
 * getrandom() system call per call; a first backup of 250 000 small files
 * made one per blob for its nonce (and one more for its place in the pack,
 * now drawn from one seed per pack), together 3 % of the backup's CPU
 * time. Now 32 bytes from the system's generator key ChaCha20
 * (randombytes_buf_deterministic), whose stream fills POOL_BYTES, handed
 * out in order, each byte once: a cryptographically secure generator
 * seeded from the system's, as the kernel's own is. A nonce is no secret
 * (it is stored in the clear beside its ciphertext), so the buffer needs
 * no locked memory; the seed is wiped at once. Larger requests (a pack's
 * filler) get a stream of their own. */
#include <pthread.h>
#include <string.h>
#include <sodium.h>

#include "coffer-nonce.h"
#include "coffer-secret.h"

#define POOL_BYTES  4096
#define DIRECT_MIN  256   /* larger requests get a stream of their own */

typedef struct
{
  guint8 bytes[POOL_BYTES];
  gsize  used;         /* bytes handed out (the first ones) */
  guint  generation;   /* fork_generation when filled */
  guint  refills;
} NoncePool;

static _Thread_local NoncePool pool = { .used = POOL_BYTES };

/* Bumped in a child after fork(): the child has a copy of the forking
 * thread's buffer, and must not hand out what the parent will. */
static guint fork_generation;

static void
after_fork_in_child (void)
{
  g_atomic_int_inc (&fork_generation);
}

static void
register_fork_handler (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      pthread_atfork (NULL, NULL, after_fork_in_child);
      g_once_init_leave (&done, 1);
    }
}

/* len bytes of ChaCha20 keyed by 32 bytes from the system's generator
 * (libsodium reads getrandom() 256 bytes per call: 16 calls for 4 KiB). */
static void
fill (guint8 *out, gsize len)
{
  guint8 seed[randombytes_SEEDBYTES];

  randombytes_buf (seed, sizeof seed);
  randombytes_buf_deterministic (out, len, seed);
  sodium_memzero (seed, sizeof seed);
}

void
_coffer_public_random (guint8 *out, gsize len)
{
  guint generation;

  coffer_core_init ();
  if (len >= DIRECT_MIN)
    {
      fill (out, len);
      return;
    }
  register_fork_handler ();
  generation = (guint) g_atomic_int_get (&fork_generation);
  if (pool.generation != generation || POOL_BYTES - pool.used < len)
    {
      fill (pool.bytes, POOL_BYTES);
      pool.used = 0;
      pool.generation = generation;
      pool.refills++;
    }
  memcpy (out, pool.bytes + pool.used, len);
  pool.used += len;
}

guint
_coffer_public_random_get_refills (void)
{
  return pool.refills;
}
