/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>

#include "coffer-error.h"
#include "coffer-state.h"

struct _CofferState
{
  char     *repo_id;
  char     *data_dir;
  char     *cache_dir;
  char     *path;
  GKeyFile *keyfile;
  GMutex    lock;
};

CofferState *
coffer_state_new (const char *repo_id)
{
  CofferState *state = g_new0 (CofferState, 1);

  g_return_val_if_fail (repo_id != NULL, NULL);

  g_mutex_init (&state->lock);
  state->repo_id = g_strdup (repo_id);
  state->data_dir = g_build_filename (g_get_user_data_dir (), "coffer", "repositories", repo_id, NULL);
  state->cache_dir = g_build_filename (g_get_user_cache_dir (), "coffer", repo_id, NULL);
  state->path = g_build_filename (state->data_dir, "state.ini", NULL);
  state->keyfile = g_key_file_new ();
  /* A missing or unreadable state file is an empty state. */
  g_key_file_load_from_file (state->keyfile, state->path, G_KEY_FILE_NONE, NULL);
  return state;
}

void
coffer_state_free (CofferState *state)
{
  if (state == NULL)
    return;
  g_mutex_clear (&state->lock);
  g_free (state->repo_id);
  g_free (state->data_dir);
  g_free (state->cache_dir);
  g_free (state->path);
  g_key_file_unref (state->keyfile);
  g_free (state);
}

const char *
coffer_state_get_data_dir (CofferState *state)
{
  g_mkdir_with_parents (state->data_dir, 0700);
  return state->data_dir;
}

char *
coffer_state_get_cache_dir (CofferState *state, const char *category_id)
{
  char *dir = g_build_filename (state->cache_dir, category_id, NULL);

  g_mkdir_with_parents (dir, 0700);
  return dir;
}

char *
coffer_state_get_string (CofferState *state, const char *group, const char *key)
{
  char *ret;

  g_mutex_lock (&state->lock);
  ret = g_key_file_get_string (state->keyfile, group, key, NULL);
  g_mutex_unlock (&state->lock);
  return ret;
}

void
coffer_state_set_string (CofferState *state, const char *group, const char *key, const char *value)
{
  g_mutex_lock (&state->lock);
  g_key_file_set_string (state->keyfile, group, key, value);
  g_mutex_unlock (&state->lock);
}

guint64
coffer_state_get_uint (CofferState *state, const char *group, const char *key)
{
  g_autofree char *str = coffer_state_get_string (state, group, key);

  return str != NULL ? g_ascii_strtoull (str, NULL, 10) : 0;
}

void
coffer_state_set_uint (CofferState *state, const char *group, const char *key, guint64 value)
{
  g_autofree char *str = g_strdup_printf ("%" G_GUINT64_FORMAT, value);

  coffer_state_set_string (state, group, key, str);
}

void
coffer_state_remove (CofferState *state, const char *group, const char *key)
{
  g_mutex_lock (&state->lock);
  g_key_file_remove_key (state->keyfile, group, key, NULL);
  g_mutex_unlock (&state->lock);
}

gboolean
coffer_state_save (CofferState *state, GError **error)
{
  g_autofree char *data = NULL;
  gsize len;
  gboolean ok;

  g_mkdir_with_parents (state->data_dir, 0700);
  g_mutex_lock (&state->lock);
  data = g_key_file_to_data (state->keyfile, &len, NULL);
  g_mutex_unlock (&state->lock);
  ok = g_file_set_contents_full (state->path, data, len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, error);
  return ok;
}

int
coffer_state_lock_category (CofferState *state, const char *category_id, GError **error)
{
  g_autofree char *dir = coffer_state_get_cache_dir (state, category_id);
  g_autofree char *path = g_build_filename (dir, "lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED,
                   _("Could not create the lock file %s: %s"), path, g_strerror (saved));
      return -1;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      close (fd);
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_BUSY,
                   _("Another backup of this category is already running on this computer."));
      return -1;
    }
  return fd;
}

void
coffer_state_unlock_category (int fd)
{
  if (fd >= 0)
    {
      flock (fd, LOCK_UN);
      close (fd);
    }
}
