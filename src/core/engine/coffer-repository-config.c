/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The repository's config object: its format version, its id and the
 * chunker parameters (docs/FORMAT.md "config"), and the rule that this
 * computer believes the format version only upwards. The lowest of the
 * repository files: it calls none of the others. */
#include <inttypes.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "coffer-chunker.h"
#include "coffer-error.h"
#include "coffer-repository-private.h"

GBytes *
_coffer_repository_config_serialize (const guint8 raw_id[COFFER_REPO_ID_BYTES])
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree char *id = coffer_hex_encode (raw_id, COFFER_REPO_ID_BYTES);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *created = g_date_time_format_iso8601 (now);
  char *data;
  gsize len;

  g_key_file_set_string (kf, "repository", "format", "coffer");
  g_key_file_set_integer (kf, "repository", "version", COFFER_FORMAT_VERSION);
  g_key_file_set_string (kf, "repository", "id", id);
  g_key_file_set_string (kf, "repository", "created", created);
  g_key_file_set_string (kf, "chunker", "algorithm", "fastcdc");
  g_key_file_set_uint64 (kf, "chunker", "min-size", COFFER_CHUNK_MIN);
  g_key_file_set_uint64 (kf, "chunker", "avg-size", COFFER_CHUNK_AVG);
  g_key_file_set_uint64 (kf, "chunker", "max-size", COFFER_CHUNK_MAX);
  data = g_key_file_to_data (kf, &len, NULL);
  return g_bytes_new_take (data, len);
}

gboolean
_coffer_repository_config_parse (CofferRepository *self, GBytes *bytes, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autofree char *format = NULL;
  g_autofree char *id = NULL;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  gint64 version;

  if (!g_key_file_load_from_data (kf, data, len, G_KEY_FILE_NONE, NULL)
      || (format = g_key_file_get_string (kf, "repository", "format", NULL)) == NULL
      || strcmp (format, "coffer") != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The repository configuration is not readable: this does not look like a Coffer repository."));
      return FALSE;
    }

  /* Coffer writes the config in one piece ending with a newline, with the
   * chunker group last (versions 1 and 2): a config without them was cut
   * short, not written by another version. */
  version = g_key_file_get_int64 (kf, "repository", "version", NULL);
  if (len == 0 || data[len - 1] != '\n'
      || !g_key_file_has_key (kf, "repository", "version", NULL)
      || (version >= COFFER_FORMAT_VERSION_MIN && version <= COFFER_FORMAT_VERSION
          && !g_key_file_has_key (kf, "chunker", "max-size", NULL)))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The repository configuration (the file “config”) is damaged: it is cut short."));
      return FALSE;
    }
  if (version < COFFER_FORMAT_VERSION_MIN || version > COFFER_FORMAT_VERSION)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_UNSUPPORTED_VERSION,
                   _("The repository uses format version %" PRId64
                     ", but this version of Coffer only knows version %d. Install a newer Coffer to use it."),
                   version, COFFER_FORMAT_VERSION);
      return FALSE;
    }
  id = g_key_file_get_string (kf, "repository", "id", NULL);
  if (id == NULL || strlen (id) != 2 * COFFER_REPO_ID_BYTES
      || !coffer_hex_decode (id, self->raw_id, COFFER_REPO_ID_BYTES))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The repository configuration has no valid repository id."));
      return FALSE;
    }
  /* The chunker parameters are fixed in format versions 1 to 3; a config that
   * names others was not written by Coffer and is refused rather than
   * trusted (it is not authenticated). */
  if (g_key_file_get_uint64 (kf, "chunker", "min-size", NULL) != COFFER_CHUNK_MIN
      || g_key_file_get_uint64 (kf, "chunker", "avg-size", NULL) != COFFER_CHUNK_AVG
      || g_key_file_get_uint64 (kf, "chunker", "max-size", NULL) != COFFER_CHUNK_MAX)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The repository configuration names chunker parameters that format version %" PRId64
                     " does not allow."), version);
      return FALSE;
    }
  self->id = g_steal_pointer (&id);
  self->format_version = (guint) version;
  return TRUE;
}

/* config is not authenticated: the version it says is only believed
 * upwards. A computer that has seen version 3 here refuses a config that
 * says 1 again (an older copy put back), until the user accepts it. */
void
_coffer_repository_config_check_rollback (CofferRepository *self)
{
  guint64 known = coffer_state_get_uint (self->state, COFFER_STATE_FORMAT_GROUP, COFFER_STATE_FORMAT_KEY);

  if (self->format_version < known)
    self->config_rolled_back = TRUE;
  else if (self->format_version > known)
    {
      coffer_state_set_uint (self->state, COFFER_STATE_FORMAT_GROUP, COFFER_STATE_FORMAT_KEY, self->format_version);
      coffer_state_save (self->state, NULL);
    }
}

gboolean
_coffer_repository_config_rolled_back (CofferRepository *self, GError **error)
{
  if (!self->config_rolled_back)
    return FALSE;
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
               _("The repository configuration says format version %u, but this computer has seen "
                 "version %" PRIu64 " here: it was rolled back (the storage put back an older copy) or "
                 "tampered with. If you restored an older copy of the repository on purpose, accept it "
                 "with “coffer check --accept-rollback” and the recovery key."),
               self->format_version,
               coffer_state_get_uint (self->state, COFFER_STATE_FORMAT_GROUP, COFFER_STATE_FORMAT_KEY));
  return TRUE;
}

/* Rewrites config as the current version, keeping its id, creation time and chunker
 * settings, so that Coffer 0.1.0 refuses the repository ("install a newer
 * Coffer") instead of misreading the newer objects in it. */
gboolean
_coffer_repository_upgrade_format (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  g_autoptr(GBytes) old = NULL;
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GBytes) bytes = NULL;
  char *data;
  gsize len;

  if (self->format_version >= COFFER_FORMAT_VERSION)
    return TRUE;
  old = coffer_store_get (self->store, COFFER_CONFIG_NAME, 0, 0, cancellable, error);
  if (old == NULL)
    return FALSE;
  if (!g_key_file_load_from_data (kf, g_bytes_get_data (old, NULL), g_bytes_get_size (old), G_KEY_FILE_NONE, NULL))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The repository configuration is not readable any more."));
      return FALSE;
    }
  g_key_file_set_integer (kf, "repository", "version", COFFER_FORMAT_VERSION);
  data = g_key_file_to_data (kf, &len, NULL);
  bytes = g_bytes_new_take (data, len);
  if (!coffer_store_put (self->store, COFFER_CONFIG_NAME, bytes, COFFER_PUT_REPLACE, cancellable, error))
    return FALSE;
  self->format_version = COFFER_FORMAT_VERSION;
  self->config_rolled_back = FALSE;
  coffer_state_set_uint (self->state, COFFER_STATE_FORMAT_GROUP, COFFER_STATE_FORMAT_KEY, COFFER_FORMAT_VERSION);
  coffer_state_save (self->state, NULL);
  return TRUE;
}

gboolean
_coffer_repository_accept_config (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  if (!self->config_rolled_back)
    return TRUE;
  /* Taken as it is; the next write upgrades it again. */
  self->config_rolled_back = FALSE;
  coffer_state_set_uint (self->state, COFFER_STATE_FORMAT_GROUP, COFFER_STATE_FORMAT_KEY, self->format_version);
  return coffer_state_save (self->state, error);
}
