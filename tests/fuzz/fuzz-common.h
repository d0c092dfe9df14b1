/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Shared set-up of the libFuzzer targets. Each target feeds attacker-chosen
 * bytes (what a hostile storage or server could send) into one real parser.
 * Where a parser sits behind authenticated encryption, the target holds a
 * FIXED test key and seals the fuzz input with it first, so the fuzzer
 * reaches the parser behind the MAC instead of stopping at it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <sodium.h>

#include "coffer-crypto.h"
#include "coffer-secret.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* Drops every log line that is not fatal: hostile input makes the engine
 * log, and printing it would only slow the fuzzer down. */
static GLogWriterOutput
fuzz_quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                   gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL))
    {
      /* abort (), not GLib's breakpoint trap: libFuzzer saves the input of
       * an abort as a crash. */
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

/* Environment of every target: test mode, no keyring, no GVfs daemons, and
 * a g_critical (a failed g_return_if_fail on hostile input) is a crash. */
static inline void
fuzz_setup (void)
{
  g_setenv ("COFFER_TESTING", "1", TRUE);
  g_setenv ("COFFER_KEYRING", "none", TRUE);
  g_setenv ("COFFER_TEST_FAST_KDF", "1", TRUE);
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (fuzz_quiet_writer, NULL, NULL);
  coffer_core_init ();
  coffer_kdf_set_test_profile (TRUE);
}

/* The fixed test key: 32 bytes 0x00..0x1f (any fixed value works). */
static inline CofferSecret *
fuzz_test_key (void)
{
  guint8 raw[COFFER_KEY_BYTES];

  for (guint i = 0; i < sizeof raw; i++)
    raw[i] = (guint8) i;
  return coffer_secret_new_from_data (raw, sizeof raw);
}

/* Writes a file without fsync: g_file_set_contents would cost the fuzzer
 * most of its time. */
static inline void
fuzz_write_file (const char *path, const guint8 *data, gsize len)
{
  FILE *f = fopen (path, "wb");

  g_assert_nonnull (f);
  if (len > 0)
    g_assert_cmpuint (fwrite (data, 1, len, f), ==, len);
  g_assert_cmpint (fclose (f), ==, 0);
}

/* A fixed repository id. */
static const guint8 fuzz_repo_id[COFFER_REPO_ID_BYTES] = {
  0xc0, 0xff, 0xe7, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
};
