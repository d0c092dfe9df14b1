/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coffer_store_open(): from a location to a store.
 *
 *   /path, relative/path, file:///path  -> local folder (POSIX)
 *   smb://, sftp://, dav://, … (GIO)     -> local backend over GFile (GVfs)
 *   webdav://host[:port]/path            -> WebDAV over http
 *   webdavs://host[:port]/path           -> WebDAV over https
 *   s3://bucket[/prefix]                 -> S3 (endpoint/region in options)
 *   rclone:REMOTE:path                   -> any rclone remote (coffer-store-rclone.c)
 *
 * Secrets come from the options (typed in this session), the environment
 * or the keyring (attribute "repository" = the location without user
 * information), never from the URL. */
#include "coffer-store-private.h"
#include "coffer-keyring.h"
#include "coffer-error.h"
#include "coffer-rclone.h"

#include <string.h>
#include <glib/gi18n-lib.h>

/* Copies a secret from the environment into secure memory. */
static CofferSecret *
secret_from_env (const char *var)
{
  const char *v = g_getenv (var);

  if (v == NULL || v[0] == '\0')
    return NULL;
  return coffer_secret_new_from_string (v);
}

static CofferSecret *
secret_from_keyring (const char *repository, const char *kind)
{
  g_autoptr(GError) error = NULL;
  CofferSecret *secret = coffer_keyring_lookup_sync (repository, kind, NULL, &error);

  if (secret == NULL)
    g_debug ("No %s in the keyring for %s: %s", kind, repository, error->message);
  return secret;
}

/* The location without user information, as the keyring attribute. */
static char *
location_without_userinfo (GUri *uri)
{
  g_autoptr(GUri) clean = g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (uri), NULL,
                                       g_uri_get_host (uri), g_uri_get_port (uri),
                                       g_uri_get_path (uri), NULL, NULL);
  return g_uri_to_string (clean);
}

static gboolean
refuse_password_in_url (GUri *uri, const char *location, GError **error)
{
  if (g_uri_get_password (uri) != NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The address “%s://%s/…” contains a password. Passwords and secret keys "
                   "are never accepted in an address: put them in the keyring, or in the "
                   "environment (COFFER_WEBDAV_PASSWORD, AWS_SECRET_ACCESS_KEY)."),
                   g_uri_get_scheme (uri), g_uri_get_host (uri) ? g_uri_get_host (uri) : "");
      return FALSE;
    }
  return TRUE;
}

static CofferStore *
wrap (CofferStore *inner, const CofferStoreOptions *options)
{
  g_autoptr(CofferStore) owned = inner;
  CofferStore *store = coffer_store_retry_new (inner, options ? options->max_connections : 0,
                                               options ? options->bandwidth_limit : 0);

  if (options != NULL && options->max_tries != 0)
    coffer_store_retry_set_policy (COFFER_STORE_RETRY (store), options->max_tries, 0, 0);
  return store;
}

/* Typed credentials from the options: the secret, and the user when given. */
static gboolean
typed_credentials (const CofferStoreOptions *options, char **user, CofferSecret **secret)
{
  if (options == NULL || options->secret == NULL)
    return FALSE;
  if (options->user != NULL && options->user[0] != '\0')
    *user = g_strdup (options->user);
  *secret = coffer_secret_dup (options->secret);
  return TRUE;
}

static CofferStore *
open_webdav (GUri *uri, const char *location, const CofferStoreOptions *options, GError **error)
{
  gboolean tls = g_str_equal (g_uri_get_scheme (uri), "webdavs");
  g_autofree char *user = NULL;
  g_autoptr(CofferSecret) password = NULL;
  g_autofree char *repository = location_without_userinfo (uri);
  g_autoptr(GUri) http = NULL;
  g_autofree char *http_str = NULL;
  CofferStore *store;

  /* Typed in this session: then nothing else is consulted. */
  if (!typed_credentials (options, &user, &password))
    {
      if (g_uri_get_user (uri) != NULL && g_uri_get_user (uri)[0] != '\0')
        user = g_uri_unescape_string (g_uri_get_user (uri), NULL);
      else if (g_getenv ("COFFER_WEBDAV_USER") != NULL && g_getenv ("COFFER_WEBDAV_USER")[0])
        user = g_strdup (g_getenv ("COFFER_WEBDAV_USER"));

      password = secret_from_env ("COFFER_WEBDAV_PASSWORD");
      if (password == NULL && user != NULL)
        password = secret_from_keyring (repository, COFFER_KEY_KIND_WEBDAV);
    }
  if (user != NULL && password == NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                   _("No password is known for the WebDAV user “%s” at %s. Store it in the "
                   "keyring or set COFFER_WEBDAV_PASSWORD in the environment."),
                   user, repository);
      return NULL;
    }

  http = g_uri_build (G_URI_FLAGS_ENCODED, tls ? "https" : "http", NULL, g_uri_get_host (uri),
                      g_uri_get_port (uri), g_uri_get_path (uri), NULL, NULL);
  http_str = g_uri_to_string (http);
  store = coffer_store_webdav_new (http_str, user, password,
                                   options ? options->ca_file : NULL, error);
  if (store == NULL)
    return NULL;
  return wrap (store, options);
}

static CofferStore *
open_s3 (GUri *uri, const char *location, const CofferStoreOptions *options, GError **error)
{
  const char *bucket = g_uri_get_host (uri);
  g_autofree char *key_id = NULL;
  g_autoptr(CofferSecret) secret = NULL;
  g_autofree char *repository = location_without_userinfo (uri);
  g_autofree char *prefix = NULL;
  const char *endpoint = options ? options->s3_endpoint : NULL;
  const char *region = options ? options->s3_region : NULL;
  gboolean path_style;
  CofferStore *store;

  if (bucket == NULL || bucket[0] == '\0')
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The address “%s” names no bucket; write s3://BUCKET/PREFIX."), location);
      return NULL;
    }
  /* Typed in this session first; a typed secret without a key id takes
   * the id from the address or the environment. */
  typed_credentials (options, &key_id, &secret);
  if (key_id == NULL && g_uri_get_user (uri) != NULL && g_uri_get_user (uri)[0] != '\0')
    key_id = g_uri_unescape_string (g_uri_get_user (uri), NULL);
  else if (key_id == NULL && g_getenv ("AWS_ACCESS_KEY_ID") != NULL && g_getenv ("AWS_ACCESS_KEY_ID")[0])
    key_id = g_strdup (g_getenv ("AWS_ACCESS_KEY_ID"));
  if (key_id == NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                   _("No S3 access key id is known for %s. Set AWS_ACCESS_KEY_ID or write it "
                   "in the address as s3://KEYID@BUCKET/PREFIX."), repository);
      return NULL;
    }
  if (secret == NULL)
    secret = secret_from_env ("AWS_SECRET_ACCESS_KEY");
  if (secret == NULL)
    secret = secret_from_keyring (repository, COFFER_KEY_KIND_S3);
  if (secret == NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_AUTH,
                   _("No S3 secret key is known for %s. Store it in the keyring or set "
                   "AWS_SECRET_ACCESS_KEY in the environment."), repository);
      return NULL;
    }
  if (region == NULL || region[0] == '\0')
    region = g_getenv ("AWS_REGION");
  if (region == NULL || region[0] == '\0')
    region = g_getenv ("AWS_DEFAULT_REGION");
  /* Path-style by default for custom endpoints (MinIO, Garage, …). */
  path_style = (options && options->s3_path_style) || (endpoint != NULL && endpoint[0] != '\0');
  prefix = g_uri_unescape_string (g_uri_get_path (uri), NULL);
  store = coffer_store_s3_new (endpoint, region, path_style, bucket, prefix ? prefix : "",
                               key_id, secret, options ? options->ca_file : NULL, error);
  if (store == NULL)
    return NULL;
  return wrap (store, options);
}

/* rclone:REMOTE:path. REMOTE is a Coffer-managed remote (remotes.ini and
 * the keyring) or one from the user's own rclone configuration. */
static CofferStore *
open_rclone (const char *location, const CofferStoreOptions *options, GError **error)
{
  const char *spec = location + strlen ("rclone:");
  const char *colon = strchr (spec, ':');
  g_autofree char *name = NULL;
  g_autoptr(GHashTable) env = NULL;
  CofferStore *store;

  if (colon == NULL || colon == spec)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The address “%s” names no rclone remote; write rclone:REMOTE:path "
                   "(on-the-fly remotes such as “:sftp,host=…:” are not accepted, as "
                   "their settings would show in the process list)."), location);
      return NULL;
    }
  name = g_strndup (spec, colon - spec);
  /* rclone's own remotes may use '-', '.', ' '; Coffer's are stricter. */
  for (const char *p = name; *p; p++)
    if (!(g_ascii_isalnum (*p) || strchr ("_-. @", *p) != NULL))
      {
        g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                     _("“%s” is not a valid rclone remote name."), name);
        return NULL;
      }
  if (!coffer_rclone_remote_env (name, &env, NULL, error))
    return NULL;
  store = coffer_store_rclone_new (spec, env, NULL, error);
  if (store == NULL)
    return NULL;
  return wrap (store, options);
}

CofferStore *
coffer_store_open (const char *location, const CofferStoreOptions *options, GError **error)
{
  g_autofree char *scheme = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (location != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (location[0] == '\0')
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("No backup location was given."));
      return NULL;
    }
  scheme = g_uri_parse_scheme (location);
  if (scheme != NULL && g_ascii_strcasecmp (scheme, "rclone") == 0)
    return open_rclone (location, options, error);
  if (scheme == NULL || g_ascii_strcasecmp (scheme, "file") == 0)
    {
      g_autoptr(GFile) file = scheme ? g_file_new_for_uri (location)
                                     : g_file_new_for_commandline_arg (location);
      return coffer_store_local_new (file);
    }

  if (g_ascii_strcasecmp (scheme, "webdav") == 0 || g_ascii_strcasecmp (scheme, "webdavs") == 0
      || g_ascii_strcasecmp (scheme, "s3") == 0)
    {
      /* Only the "scheme://" form: without an authority, GLib 2.74's
       * g_uri_parse trips over its own assertion on paths such as
       * "s3:/..//x" (found by tests/fuzz/fuzz-store-url). */
      if (strncmp (location + strlen (scheme), "://", 3) != 0)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The address “%s” is not valid: write %s://…"), location, scheme);
          return NULL;
        }
      uri = g_uri_parse (location, G_URI_FLAGS_ENCODED | G_URI_FLAGS_HAS_PASSWORD, &local_error);
      if (uri == NULL)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The address “%s” is not valid: %s"), location, local_error->message);
          return NULL;
        }
      if (!refuse_password_in_url (uri, location, error))
        return NULL;
      if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The address “%s” must not contain “?” or “#”."), location);
          return NULL;
        }
      if (g_ascii_strcasecmp (scheme, "s3") == 0)
        return open_s3 (uri, location, options, error);
      if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
        {
          g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                       _("The address “%s” names no server."), location);
          return NULL;
        }
      return open_webdav (uri, location, options, error);
    }

  if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("“%s” is a web address. For a WebDAV or Nextcloud folder write "
                   "webdav:// or webdavs:// instead of http:// or https://."), location);
      return NULL;
    }

  /* Any other GIO location (GVfs). */
  uri = g_uri_parse (location, G_URI_FLAGS_ENCODED | G_URI_FLAGS_HAS_PASSWORD, NULL);
  if (uri != NULL && !refuse_password_in_url (uri, location, error))
    return NULL;
  {
    g_autoptr(GFile) file = g_file_new_for_uri (location);
    CofferStore *store = coffer_store_local_new (file);
    if (g_file_is_native (file))
      return store;
    return wrap (store, options);
  }
}
