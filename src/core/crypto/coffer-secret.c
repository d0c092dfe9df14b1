/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <malloc.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-secret.h"

/* Longest passphrase accepted from a file, in bytes (without the newline). */
#define COFFER_SECRET_FILE_MAX 4096

void
coffer_core_init (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      struct rlimit no_core = { 0, 0 };

      if (sodium_init () < 0)
        g_error ("Coffer cannot start: the cryptography library libsodium could not be initialised.");

      /* Keys live in this process: never let them end up in a core dump or
       * be read through ptrace by another process of the same user. */
      if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        g_debug ("prctl(PR_SET_DUMPABLE, 0) failed: %s", g_strerror (errno));
      if (setrlimit (RLIMIT_CORE, &no_core) != 0)
        g_debug ("setrlimit(RLIMIT_CORE, 0) failed: %s", g_strerror (errno));

      /* Memory stays bounded only if the large buffers the pipeline frees
       * (chunk windows, packs) go back to the system: a fixed mmap
       * threshold stops glibc from raising it after the first free and
       * then keeping 16 MiB blocks in its heaps. */
      mallopt (M_MMAP_THRESHOLD, 256 * 1024);
      mallopt (M_ARENA_MAX, 4);

      g_once_init_leave (&initialized, 1);
    }
}

/* Allocates a secret whose buffer holds alloc_len bytes (>= len) of zeroes. */
static CofferSecret *
secret_alloc (gsize len,
              gsize alloc_len)
{
  CofferSecret *secret;

  coffer_core_init ();

  secret = g_new0 (CofferSecret, 1);
  secret->len = len;
  /* sodium_malloc (0) is legal, but one byte keeps ->data dereferenceable. */
  secret->data = sodium_malloc (MAX (alloc_len, 1));
  if (secret->data == NULL)
    g_error ("Out of secure memory (%" G_GSIZE_FORMAT " bytes requested).", alloc_len);
  sodium_memzero (secret->data, MAX (alloc_len, 1));

  return secret;
}

CofferSecret *
coffer_secret_new (gsize len)
{
  return secret_alloc (len, len);
}

CofferSecret *
coffer_secret_new_random (gsize len)
{
  CofferSecret *secret = secret_alloc (len, len);

  randombytes_buf (secret->data, len);
  return secret;
}

CofferSecret *
coffer_secret_new_from_data (const guint8 *data,
                             gsize         len)
{
  CofferSecret *secret;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  secret = secret_alloc (len, len);
  if (len > 0)
    memcpy (secret->data, data, len);
  return secret;
}

CofferSecret *
coffer_secret_dup (const CofferSecret *secret)
{
  g_return_val_if_fail (secret != NULL, NULL);

  return coffer_secret_new_from_data (secret->data, secret->len);
}

gboolean
coffer_secret_equal (const CofferSecret *a,
                     const CofferSecret *b)
{
  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (b != NULL, FALSE);

  /* The lengths are not secret; the contents are compared in constant time. */
  if (a->len != b->len)
    return FALSE;
  if (a->len == 0)
    return TRUE;
  return sodium_memcmp (a->data, b->data, a->len) == 0;
}

void
coffer_secret_free (CofferSecret *secret)
{
  if (secret == NULL)
    return;

  /* sodium_free wipes the buffer before releasing it. */
  sodium_free (secret->data);
  secret->data = NULL;
  secret->len = 0;
  g_free (secret);
}

CofferSecret *
coffer_secret_new_from_string (const char *str)
{
  CofferSecret *secret;
  gsize len;

  g_return_val_if_fail (str != NULL, NULL);

  len = strlen (str);
  secret = secret_alloc (len, len + 1);
  memcpy (secret->data, str, len);
  secret->data[len] = '\0';
  return secret;
}

CofferSecret *
coffer_secret_new_from_file (const char  *path,
                             GError     **error)
{
  g_autoptr(CofferSecret) buffer = NULL;
  g_autofree char *display = NULL;
  gsize len = 0;
  gboolean line_done = FALSE;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  display = g_filename_display_name (path);

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   _("Could not open the file “%s”: %s"), display, g_strerror (saved_errno));
      return NULL;
    }

  /* Read straight into secure memory, never through a stdio or heap buffer.
   * The buffer has room for the limit plus a line ending. */
  buffer = secret_alloc (0, COFFER_SECRET_FILE_MAX + 2);

  while (!line_done)
    {
      gssize n = read (fd, buffer->data + len, COFFER_SECRET_FILE_MAX + 2 - len);

      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          close (fd);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       _("Could not read the file “%s”: %s"), display, g_strerror (saved_errno));
          return NULL;
        }
      if (n == 0)
        break;

      for (gsize i = len; i < len + (gsize) n; i++)
        {
          if (buffer->data[i] == '\n')
            {
              len = i;
              line_done = TRUE;
              break;
            }
        }
      if (!line_done)
        len += n;
      if (!line_done && len >= COFFER_SECRET_FILE_MAX + 2)
        break;
    }
  close (fd);

  if (len > 0 && buffer->data[len - 1] == '\r')
    len--;

  if (len > COFFER_SECRET_FILE_MAX)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("The first line of the file “%s” is longer than %d bytes; it does not look like a password."),
                   display, COFFER_SECRET_FILE_MAX);
      return NULL;
    }
  if (len == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("The file “%s” does not contain a password on its first line."), display);
      return NULL;
    }
  if (memchr (buffer->data, '\0', len) != NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   _("The first line of the file “%s” contains a NUL byte; it does not look like a password."),
                   display);
      return NULL;
    }

  /* Same shape as coffer_secret_new_from_string: NUL-terminated. */
  {
    CofferSecret *secret = secret_alloc (len, len + 1);

    memcpy (secret->data, buffer->data, len);
    secret->data[len] = '\0';
    return secret;
  }
}
