/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Categories: their key sets (account and password envelopes), their
 * metadata, and the protection level. */
#include <inttypes.h>
#include <string.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-error.h"
#include "coffer-repository-private.h"

#define KEYSET_MAGIC_V1 "CKS1"
#define KEYSET_MAGIC_V2 "CKS2"
#define KEYSET_MAGIC "CKS3"
#define KEYSET_ENTRY_V1 (4 + COFFER_KEY_BYTES)
#define KEYSET_ENTRY_V2 (4 + 8 + COFFER_KEY_BYTES)
#define KEYSET_ENTRY (4 + 8 + 1 + COFFER_KEY_BYTES)
#define META_VERSION 3
#define PASSWORD_MAGIC "CFPW"
#define PASSWORD_HEADER_BYTES (8 + COFFER_SALT_BYTES + 16)
#define MAX_EPOCHS 4096

/* ---- key sets ---- */

static void
epoch_keys_free (gpointer data)
{
  CofferEpochKeys *ek = data;

  coffer_secret_free (ek->key);
  coffer_secret_free (ek->data_key);
  coffer_secret_free (ek->blob_id_key);
  coffer_secret_free (ek->gear_key);
  coffer_secret_free (ek->meta_key);
  g_free (ek);
}

static CofferEpochKeys *
epoch_keys_new (guint32 epoch, CofferHashSuite suite, CofferSecret *key)
{
  CofferEpochKeys *ek = g_new0 (CofferEpochKeys, 1);

  ek->epoch = epoch;
  ek->suite = suite;
  ek->key = key;
  ek->data_key = coffer_crypto_derive_subkey (key, COFFER_SUBKEY_DATA);
  ek->blob_id_key = coffer_crypto_derive_subkey (key, COFFER_SUBKEY_BLOB_ID);
  ek->gear_key = coffer_crypto_derive_subkey (key, COFFER_SUBKEY_GEAR);
  ek->meta_key = coffer_crypto_derive_subkey (key, COFFER_SUBKEY_META);
  return ek;
}

void
_coffer_category_keys_free (gpointer data)
{
  CofferCategoryKeys *keys = data;

  if (keys == NULL)
    return;
  g_free (keys->id);
  g_clear_pointer (&keys->epochs, g_ptr_array_unref);
  g_clear_pointer (&keys->info, coffer_category_free);
  g_clear_pointer (&keys->index, coffer_index_free);
  g_clear_pointer (&keys->index_names, g_ptr_array_unref);
  g_clear_pointer (&keys->index_listed, g_ptr_array_unref);
  g_clear_pointer (&keys->refused, g_hash_table_unref);
  g_free (keys->meta_creator);
  g_free (keys->info_device);
  g_free (keys);
}

/* "CKS3" | count (u32 LE) | count x (epoch u32 LE | retired i64 LE |
 * hash suite u8 | key 32), in secure memory. retired: microseconds since
 * 1970 (UTC) when a newer epoch was added; 0 for the newest epoch. */
static CofferSecret *
keyset_serialize (GPtrArray *epochs)
{
  CofferSecret *out = coffer_secret_new (8 + epochs->len * KEYSET_ENTRY);
  guint32 le = GUINT32_TO_LE (epochs->len);
  guint8 *p = out->data;
  gint64 now = g_get_real_time ();

  /* Older epochs of a legacy "CKS1" set have no retirement time: they were
   * retired no later than now, the earliest time that can be vouched for
   * (recorded in memory too, so this session applies the same rule). */
  for (guint i = 0; i + 1 < epochs->len; i++)
    {
      CofferEpochKeys *ek = g_ptr_array_index (epochs, i);
      if (ek->retired == 0)
        ek->retired = now;
    }

  memcpy (p, KEYSET_MAGIC, 4);
  memcpy (p + 4, &le, 4);
  p += 8;
  for (guint i = 0; i < epochs->len; i++)
    {
      CofferEpochKeys *ek = g_ptr_array_index (epochs, i);
      gint64 retired = GINT64_TO_LE (i + 1 < epochs->len ? ek->retired : 0);

      le = GUINT32_TO_LE (ek->epoch);
      memcpy (p, &le, 4);
      memcpy (p + 4, &retired, 8);
      p[12] = (guint8) ek->suite;
      memcpy (p + 13, ek->key->data, COFFER_KEY_BYTES);
      p += KEYSET_ENTRY;
    }
  return out;
}

static GPtrArray *
keyset_parse (const CofferSecret *plain, GError **error)
{
  g_autoptr(GPtrArray) epochs = g_ptr_array_new_with_free_func (epoch_keys_free);
  guint32 count;
  const guint8 *p = plain->data;
  guint version;
  gsize entry;

  if (plain->len < 8)
    goto corrupt;
  /* Version 1 (Coffer 0.1.0) did not record when epochs were retired,
   * versions 1 and 2 not the hash suite (always BLAKE2b then). */
  if (memcmp (p, KEYSET_MAGIC, 4) == 0)
    version = 3, entry = KEYSET_ENTRY;
  else if (memcmp (p, KEYSET_MAGIC_V2, 4) == 0)
    version = 2, entry = KEYSET_ENTRY_V2;
  else if (memcmp (p, KEYSET_MAGIC_V1, 4) == 0)
    version = 1, entry = KEYSET_ENTRY_V1;
  else
    goto corrupt;
  memcpy (&count, p + 4, 4);
  count = GUINT32_FROM_LE (count);
  if (count == 0 || count > MAX_EPOCHS || plain->len != 8 + (gsize) count * entry)
    goto corrupt;
  p += 8;
  for (guint i = 0; i < count; i++)
    {
      guint32 epoch;
      gint64 retired = 0;
      CofferHashSuite suite = COFFER_HASH_SUITE_BLAKE2B;
      CofferEpochKeys *ek;

      memcpy (&epoch, p, 4);
      epoch = GUINT32_FROM_LE (epoch);
      if (i > 0 && epoch <= ((CofferEpochKeys *) g_ptr_array_index (epochs, i - 1))->epoch)
        goto corrupt;
      if (version >= 2)
        {
          memcpy (&retired, p + 4, 8);
          retired = GINT64_FROM_LE (retired);
          /* Retired epochs have a time, the newest none; times never go
           * backwards from one epoch to the next. */
          if ((i + 1 < count) != (retired > 0)
              || (i > 0 && retired > 0
                  && retired < ((CofferEpochKeys *) g_ptr_array_index (epochs, i - 1))->retired))
            goto corrupt;
        }
      if (version >= 3)
        {
          if (p[12] > COFFER_HASH_SUITE_LAST)
            goto corrupt;
          suite = (CofferHashSuite) p[12];
        }
      ek = epoch_keys_new (epoch, suite,
                           coffer_secret_new_from_data (p + entry - COFFER_KEY_BYTES, COFFER_KEY_BYTES));
      ek->retired = retired;
      g_ptr_array_add (epochs, ek);
      p += entry;
    }
  return g_steal_pointer (&epochs);

corrupt:
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("A category key set is malformed."));
  return NULL;
}

static GPtrArray *
keyset_copy (GPtrArray *epochs)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func (epoch_keys_free);

  for (guint i = 0; i < epochs->len; i++)
    {
      CofferEpochKeys *ek = g_ptr_array_index (epochs, i);
      CofferEpochKeys *dup = epoch_keys_new (ek->epoch, ek->suite, coffer_secret_dup (ek->key));

      dup->retired = ek->retired;
      g_ptr_array_add (copy, dup);
    }
  return copy;
}

/* Adds a new newest epoch and records now as the retirement time of every
 * older one that has none: the previous newest, and the older epochs of a
 * legacy key set, which were retired at some unknown earlier time (so
 * "now" is the earliest time that can be vouched for). FALSE when the
 * epochs are used up. */
static gboolean
keyset_add_epoch (GPtrArray *epochs, GError **error)
{
  CofferEpochKeys *newest = g_ptr_array_index (epochs, epochs->len - 1);
  gint64 now = g_get_real_time ();

  if (newest->epoch == G_MAXUINT32 || epochs->len >= MAX_EPOCHS)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED,
                   _("This category has used up its key epochs; re-encrypt it first."));
      return FALSE;
    }
  for (guint i = 0; i < epochs->len; i++)
    {
      CofferEpochKeys *ek = g_ptr_array_index (epochs, i);
      if (ek->retired == 0)
        ek->retired = now;
    }
  g_ptr_array_add (epochs, epoch_keys_new (newest->epoch + 1, coffer_hash_suite_for_new_epoch (),
                                           coffer_secret_new_random (COFFER_KEY_BYTES)));
  return TRUE;
}

static CofferCategoryKeys *
category_keys_new (const char *cid, GPtrArray *epochs)
{
  CofferCategoryKeys *keys = g_new0 (CofferCategoryKeys, 1);

  keys->id = g_strdup (cid);
  coffer_hex_decode (cid, keys->raw_id, sizeof keys->raw_id);
  keys->epochs = epochs;
  keys->refused = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return keys;
}

static char *
state_group (const char *cid)
{
  return g_strdup_printf ("category %s", cid);
}

/* ---- object names ---- */

static char *
account_name (const char *cid)
{
  return g_strdup_printf ("categories/%s/keys/account", cid);
}

static char *
password_name (const char *cid)
{
  return g_strdup_printf ("categories/%s/keys/password", cid);
}

static char *
meta_name (const char *cid)
{
  return g_strdup_printf ("meta/%s", cid);
}

static gboolean
is_category_id (const char *str)
{
  if (strlen (str) != 32)
    return FALSE;
  for (const char *p = str; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* ---- envelopes ---- */

static gboolean
write_account_envelope_with (CofferRepository *self, const CofferSecret *ak, const char *cid,
                             GPtrArray *epochs, CofferPutMode mode, GCancellable *cancellable,
                             GError **error)
{
  g_autofree char *name = account_name (cid);
  g_autoptr(CofferSecret) plain = keyset_serialize (epochs);
  g_autoptr(GBytes) env = NULL;

  g_assert (ak != NULL);
  env = coffer_envelope_seal (ak, self->raw_id, COFFER_OBJECT_CATEGORY_ACCOUNT,
                              name, plain->data, plain->len);
  return _coffer_repository_upgrade_format (self, cancellable, error)
         && coffer_store_put (self->store, name, env, mode, cancellable, error);
}

static gboolean
write_account_envelope (CofferRepository *self, const char *cid, GPtrArray *epochs,
                        CofferPutMode mode, GCancellable *cancellable, GError **error)
{
  return write_account_envelope_with (self, self->account_key, cid, epochs, mode,
                                      cancellable, error);
}

static gboolean
write_password_envelope (CofferRepository *self, const char *cid, GPtrArray *epochs,
                         const CofferKdfParams *params, CofferPutMode mode,
                         GCancellable *cancellable, GError **error)
{
  g_autofree char *name = password_name (cid);
  g_autoptr(CofferSecret) plain = keyset_serialize (epochs);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(GByteArray) obj = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  const CofferSecret *pkey = _coffer_repository_password_key (self, params, error);
  static const guint8 head[8] = { 'C', 'F', 'P', 'W', 1, 0, 0, 0 };
  guint64 le;

  if (pkey == NULL)
    return FALSE;
  env = coffer_envelope_seal (pkey, self->raw_id, COFFER_OBJECT_CATEGORY_PASSWORD,
                              name, plain->data, plain->len);
  g_byte_array_append (obj, head, sizeof head);
  g_byte_array_append (obj, params->salt, COFFER_SALT_BYTES);
  le = GUINT64_TO_LE (params->opslimit);
  g_byte_array_append (obj, (guint8 *) &le, 8);
  le = GUINT64_TO_LE (params->memlimit);
  g_byte_array_append (obj, (guint8 *) &le, 8);
  g_byte_array_append (obj, g_bytes_get_data (env, NULL), g_bytes_get_size (env));
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&obj));
  return _coffer_repository_upgrade_format (self, cancellable, error)
         && coffer_store_put (self->store, name, bytes, mode, cancellable, error);
}

static GPtrArray *
open_account_envelope (CofferRepository *self, const char *cid, GCancellable *cancellable, GError **error)
{
  const CofferSecret *ak = self->account_key;
  g_autofree char *name = account_name (cid);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) plain = NULL;
  g_autoptr(GError) local_error = NULL;

  env = coffer_store_get_limited (self->store, name, COFFER_MAX_KEY_OBJECT_BYTES,
                                  cancellable, &local_error);
  if (env == NULL)
    {
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The account key envelope of a category is missing (%s)."), name);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  plain = coffer_envelope_open (ak, self->raw_id, COFFER_OBJECT_CATEGORY_ACCOUNT,
                                name, env, &local_error);
  if (plain == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The account key envelope %s cannot be opened: %s"), name, local_error->message);
      return NULL;
    }
  return keyset_parse (plain, error);
}

static GPtrArray *open_password_envelope_full (CofferRepository *self, const char *cid, gboolean probe,
                                               GCancellable *cancellable, GError **error);

/* TRUE when the password opens the password envelope of another category:
 * then it is right, and a failing envelope is damaged. */
static gboolean
password_opens_another (CofferRepository *self, const char *cid, GCancellable *cancellable)
{
  g_autoptr(GPtrArray) ids = _coffer_repository_list_category_ids (self, cancellable, NULL);

  for (guint i = 0; ids != NULL && i < ids->len; i++)
    {
      g_autoptr(GPtrArray) epochs = NULL;

      if (g_strcmp0 (g_ptr_array_index (ids, i), cid) == 0)
        continue;
      epochs = open_password_envelope_full (self, g_ptr_array_index (ids, i), FALSE, cancellable, NULL);
      if (epochs != NULL)
        return TRUE;
    }
  return FALSE;
}

/* NULL with NOT_FOUND (store error) when the category has no password envelope. */
static GPtrArray *
open_password_envelope (CofferRepository *self, const char *cid, GCancellable *cancellable, GError **error)
{
  return open_password_envelope_full (self, cid, TRUE, cancellable, error);
}

/* Reads categories/<cid>/keys/password (size-capped) and splits it into
 * its Argon2id parameters and the envelope. NULL with the store's
 * NOT_FOUND when the category has none. */
static GBytes *
read_password_envelope (CofferRepository *self, const char *name, CofferKdfParams *params,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr(GBytes) obj = NULL;
  const guint8 *data;
  gsize len;

  obj = coffer_store_get_limited (self->store, name, COFFER_MAX_KEY_OBJECT_BYTES,
                                  cancellable, error);
  if (obj == NULL)
    return NULL;
  data = g_bytes_get_data (obj, &len);
  if (len < PASSWORD_HEADER_BYTES || memcmp (data, PASSWORD_MAGIC "\1", 5) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The password envelope %s is malformed."), name);
      return NULL;
    }
  memcpy (params->salt, data + 8, COFFER_SALT_BYTES);
  memcpy (&params->opslimit, data + 8 + COFFER_SALT_BYTES, 8);
  memcpy (&params->memlimit, data + 16 + COFFER_SALT_BYTES, 8);
  params->opslimit = GUINT64_FROM_LE (params->opslimit);
  params->memlimit = GUINT64_FROM_LE (params->memlimit);
  return g_bytes_new_from_bytes (obj, PASSWORD_HEADER_BYTES, len - PASSWORD_HEADER_BYTES);
}

static GPtrArray *
open_password_envelope_full (CofferRepository *self, const char *cid, gboolean probe,
                             GCancellable *cancellable, GError **error)
{
  g_autofree char *name = password_name (cid);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) plain = NULL;
  g_autoptr(GError) local_error = NULL;
  CofferKdfParams params;
  const CofferSecret *pkey;

  env = read_password_envelope (self, name, &params, cancellable, error);
  if (env == NULL)
    return NULL;
  pkey = _coffer_repository_password_key (self, &params, error);
  if (pkey == NULL)
    return NULL;
  plain = coffer_envelope_open (pkey, self->raw_id, COFFER_OBJECT_CATEGORY_PASSWORD,
                                name, env, &local_error);
  if (plain == NULL)
    {
      /* A key commitment cannot tell a wrong password from a damaged
       * envelope; another category's envelope opening with it can. */
      if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY)
          && probe && password_opens_another (self, cid, cancellable))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The password is right (it opens other categories), but the password envelope "
                       "%s of this category does not open with it: it looks damaged. A trusted device "
                       "or the recovery key can still open the category."), name);
      else if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD,
                     _("The password is wrong."));
      else
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The password envelope %s is damaged: %s"), name, local_error->message);
      return NULL;
    }
  return keyset_parse (plain, error);
}

/* ---- metadata: meta/<cid> ---- */

/* The folders are kept per computer ("folders": device id -> (paths,
 * excludes)); the top-level "paths" and "excludes" repeat the folders of
 * the computer named by "device" (the one that created the category, or
 * first wrote this format), for readers that predate "folders". */
static GBytes *
meta_serialize (CofferCategoryKeys *keys, const char *device_id, guint64 counter)
{
  const CofferCategory *info = keys->info;
  GVariantBuilder b, folders;
  const char *empty[] = { NULL };
  char **top_paths = NULL, **top_excludes = NULL;
  g_autoptr(GVariant) v = NULL;

  /* A session that is no trusted device (password only, or the recovery
   * key on a computer not trusted yet) has no computer of its own: it acts
   * for the computer named by "device", as before folders were per computer. */
  if (device_id == NULL)
    device_id = keys->meta_creator;
  if (keys->meta_creator == NULL && device_id != NULL
      && (info->other_folders == NULL || info->other_folders->len == 0
          || ((CofferCategoryFolders *) g_ptr_array_index (info->other_folders, 0))->device_id[0] != '\0'))
    keys->meta_creator = g_strdup (device_id);   /* no unowned legacy folders left: this computer */

  g_variant_builder_init (&folders, G_VARIANT_TYPE ("a{s(asas)}"));
  if (device_id != NULL)
    {
      g_variant_builder_add (&folders, "{s(^as^as)}", device_id,
                             info->paths ? info->paths : (char **) empty,
                             info->excludes ? info->excludes : (char **) empty);
      if (g_strcmp0 (keys->meta_creator, device_id) == 0)
        {
          top_paths = info->paths;
          top_excludes = info->excludes;
        }
    }
  else
    {
      /* No device and no "device": the legacy folders. */
      top_paths = info->paths;
      top_excludes = info->excludes;
    }
  for (guint i = 0; info->other_folders != NULL && i < info->other_folders->len; i++)
    {
      CofferCategoryFolders *f = g_ptr_array_index (info->other_folders, i);

      if (f->device_id[0] == '\0' || g_strcmp0 (f->device_id, keys->meta_creator) == 0)
        {
          if (top_paths == NULL)
            {
              top_paths = f->paths;
              top_excludes = f->excludes;
            }
          if (f->device_id[0] == '\0')
            continue;
        }
      g_variant_builder_add (&folders, "{s(^as^as)}", f->device_id, f->paths, f->excludes);
    }

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "version", g_variant_new_uint32 (META_VERSION));
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (info->name));
  g_variant_builder_add (&b, "{sv}", "level", g_variant_new_string (coffer_level_to_string (info->level)));
  g_variant_builder_add (&b, "{sv}", "paths",
                         g_variant_new_strv ((const char * const *) (top_paths ? top_paths : (char **) empty), -1));
  g_variant_builder_add (&b, "{sv}", "excludes",
                         g_variant_new_strv ((const char * const *) (top_excludes ? top_excludes : (char **) empty), -1));
  g_variant_builder_add (&b, "{sv}", "counter", g_variant_new_uint64 (counter));
  if (keys->meta_creator != NULL)
    g_variant_builder_add (&b, "{sv}", "device", g_variant_new_string (keys->meta_creator));
  g_variant_builder_add (&b, "{sv}", "folders", g_variant_builder_end (&folders));
  v = g_variant_ref_sink (g_variant_builder_end (&b));
  return g_variant_get_data_as_bytes (v);
}

/* The "folders" entry of meta/<cid>: device id -> (paths, excludes). This
 * device's go into info->paths/excludes (*mine), the others' into
 * info->other_folders. FALSE when it is malformed. */
static gboolean
meta_parse_folders (GVariant *folders, const char *device_id, CofferCategory *info, gboolean *mine)
{
  GVariantIter iter;
  const char *dev;
  g_autofree const char **fp = NULL;
  g_autofree const char **fe = NULL;

  g_variant_iter_init (&iter, folders);
  while (g_variant_iter_next (&iter, "{&s(^a&s^a&s)}", &dev, &fp, &fe))
    {
      if (*dev == '\0')
        return FALSE;
      if (device_id != NULL && g_str_equal (dev, device_id))
        {
          g_strfreev (info->paths);
          g_strfreev (info->excludes);
          info->paths = g_strdupv ((char **) fp);
          info->excludes = g_strdupv ((char **) fe);
          *mine = TRUE;
        }
      else
        g_ptr_array_add (info->other_folders, coffer_category_folders_new (dev, fp, fe));
      g_clear_pointer (&fp, g_free);
      g_clear_pointer (&fe, g_free);
    }
  return TRUE;
}

/* Which folders are this computer's. "folders"[this device] when there is
 * one. Otherwise the top-level folders of a description that names no
 * "device" (written before folders were kept per computer) belong to the
 * computers that already knew the category then: this computer decides that
 * once, the first time it reads such a description (it knew the category
 * when it had already seen a counter for it, or the description is a
 * version 1 one without any), and remembers the answer. Any other computer
 * starts with no folders: it backs up nothing of the category until its
 * own are set. */
static gboolean
meta_parse (CofferRepository *self, const char *cid, GBytes *bytes, CofferCategory *info,
            guint64 *counter, char **out_creator, GError **error)
{
  g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  g_autoptr(GVariantDict) dict = NULL;
  g_autoptr(GVariant) folders = NULL;
  const char *name = NULL, *level = NULL, *creator = NULL;
  g_autofree const char **paths = NULL;
  g_autofree const char **excludes = NULL;
  const char *device_id = self->device_id;
  gboolean mine = FALSE;

  if (!g_variant_is_normal_form (v))
    goto corrupt;
  dict = g_variant_dict_new (v);
  if (!g_variant_dict_lookup (dict, "name", "&s", &name)
      || !g_variant_dict_lookup (dict, "level", "&s", &level)
      || !g_variant_dict_lookup (dict, "paths", "^a&s", &paths)
      || !coffer_level_from_string (level, &info->level))
    goto corrupt;
  g_variant_dict_lookup (dict, "excludes", "^a&s", &excludes);
  /* Version 1 (Coffer 0.1.0) had no counter: 0. */
  *counter = 0;
  if (g_variant_dict_contains (dict, "counter") && !g_variant_dict_lookup (dict, "counter", "t", counter))
    goto corrupt;
  if (g_variant_dict_contains (dict, "device") && !g_variant_dict_lookup (dict, "device", "&s", &creator))
    goto corrupt;
  if (g_variant_dict_contains (dict, "folders")
      && !(folders = g_variant_dict_lookup_value (dict, "folders", G_VARIANT_TYPE ("a{s(asas)}"))))
    goto corrupt;

  /* No trusted device in this session: see meta_serialize. */
  if (device_id == NULL)
    device_id = creator;
  info->name = g_strdup (name);
  info->other_folders = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_category_folders_free);
  if (folders != NULL && !meta_parse_folders (folders, device_id, info, &mine))
    goto corrupt;
  if (mine && creator == NULL && paths[0] != NULL)
    /* This computer has its own entry, and the unowned legacy folders are
     * another computer's (it wrote its entry while they were). */
    g_ptr_array_insert (info->other_folders, 0, coffer_category_folders_new ("", paths, excludes));
  else if (!mine && creator == NULL)
    {
      CofferState *state = self->state;
      g_autofree char *group = state_group (cid);
      guint64 legacy = coffer_state_get_uint (state, group, "legacy-folders");

      if (legacy == 0)
        {
          legacy = (device_id == NULL || *counter == 0
                    || coffer_state_get_uint (state, group, "meta-counter") > 0) ? 1 : 2;
          coffer_state_set_uint (state, group, "legacy-folders", legacy);
          coffer_state_save (state, NULL);
        }
      if (legacy == 1 || device_id == NULL)
        {
          info->paths = g_strdupv ((char **) paths);
          info->excludes = excludes ? g_strdupv ((char **) excludes) : g_new0 (char *, 1);
          mine = TRUE;
        }
      else if (paths[0] != NULL)
        /* Shown first, as the first computer's. */
        g_ptr_array_insert (info->other_folders, 0, coffer_category_folders_new ("", paths, excludes));
    }
  if (!mine)
    {
      info->paths = g_new0 (char *, 1);
      info->excludes = g_new0 (char *, 1);
    }
  *out_creator = g_strdup (creator);
  return TRUE;

corrupt:
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
               _("The description of a category is malformed."));
  return FALSE;
}

/* meta/<cid> is sealed under the newest epoch and carries a counter one
 * higher than any this computer has seen for it, so a replayed older copy
 * is told apart from the current one. */
static gboolean
write_meta (CofferRepository *self, CofferCategoryKeys *keys, CofferPutMode mode,
            GCancellable *cancellable, GError **error)
{
  CofferState *state = self->state;
  g_autofree char *group = state_group (keys->id);
  guint64 counter = MAX (keys->meta_counter, coffer_state_get_uint (state, group, "meta-counter")) + 1;
  g_autofree char *name = meta_name (keys->id);
  g_autoptr(GBytes) plain = meta_serialize (keys, self->device_id, counter);
  g_autoptr(GBytes) obj = _coffer_repository_seal_object (self, keys, COFFER_OBJECT_CATEGORY_META, name,
                                                          g_bytes_get_data (plain, NULL),
                                                          g_bytes_get_size (plain));

  if (!_coffer_repository_upgrade_format (self, cancellable, error)
      || !coffer_store_put (self->store, name, obj, mode, cancellable, error))
    return FALSE;
  keys->meta_counter = counter;
  coffer_state_set_uint (state, group, "meta-counter", counter);
  coffer_state_save (state, NULL);
  return TRUE;
}

typedef enum
{
  META_FRESH,    /* sealed under the newest epoch, counter not lower than seen */
  META_RESUMED,  /* also the epoch before the newest: an interrupted rotation */
  META_ANY,      /* any epoch of the set, any counter: accepting a rollback */
} MetaFreshness;

/* TRUE while a device removal started on this computer has not finished
 * (coffer-repository-devices.c notes the account key it rotates to). */
static gboolean
rotation_pending (CofferRepository *self)
{
  g_autofree char *to = coffer_state_get_string (self->state, "account",
                                                 "rotating-to");
  return to != NULL;
}

static gboolean
read_meta (CofferRepository *self, CofferCategoryKeys *keys, MetaFreshness fresh,
           GCancellable *cancellable, GError **error)
{
  g_autofree char *name = meta_name (keys->id);
  g_autoptr(GBytes) obj = NULL;
  g_autoptr(GBytes) plain = NULL;
  CofferState *state = self->state;
  g_autofree char *group = state_group (keys->id);
  CofferCategory *info;
  CofferEpochKeys *ek = NULL;
  CofferEpochKeys *newest = coffer_category_keys_newest (keys);
  guint64 counter, known;
  g_autofree char *creator = NULL;

  obj = coffer_store_get_limited (self->store, name, COFFER_MAX_META_BYTES,
                                  cancellable, error);
  if (obj == NULL)
    return FALSE;
  plain = _coffer_repository_open_object_epoch (self, keys, COFFER_OBJECT_CATEGORY_META, name, obj, &ek, error);
  if (plain == NULL)
    return FALSE;
  /* Coffer rewrites meta/<cid> whenever it adds an epoch, so one sealed
   * under an older epoch is an old copy put back (it may say Standard for
   * a category that is Advanced now) or was written with a retired key. */
  if (ek != newest
      && !(fresh == META_RESUMED && keys->epochs->len >= 2
           && ek == g_ptr_array_index (keys->epochs, keys->epochs->len - 2))
      && fresh != META_ANY)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
                   _("The description of category %s (%s) is sealed under key epoch %u, but the "
                     "category's newest epoch is %u: it is an old copy that was put back, or it was "
                     "tampered with. The repository was rolled back or tampered with."),
                   keys->id, name, ek->epoch, newest->epoch);
      return FALSE;
    }
  info = g_new0 (CofferCategory, 1);
  if (!meta_parse (self, keys->id, plain, info, &counter, &creator, error))
    {
      coffer_category_free (info);
      return FALSE;
    }
  known = coffer_state_get_uint (state, group, "meta-counter");
  if (counter < known && fresh != META_ANY)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
                   _("The description of category “%s” is older than the one this computer has seen "
                     "(version %" PRIu64 " < %" PRIu64 "): an old copy was put back. "
                     "The repository was rolled back or tampered with."),
                   info->name, counter, known);
      coffer_category_free (info);
      return FALSE;
    }
  if (counter > known)
    {
      coffer_state_set_uint (state, group, "meta-counter", counter);
      coffer_state_save (state, NULL);
    }
  keys->meta_counter = counter;
  g_free (keys->meta_creator);
  keys->meta_creator = g_steal_pointer (&creator);
  g_free (keys->info_device);
  keys->info_device = g_strdup (self->device_id);
  info->id = g_strdup (keys->id);
  info->unlocked = TRUE;
  info->epoch = coffer_category_keys_newest (keys)->epoch;
  g_clear_pointer (&keys->info, coffer_category_free);
  keys->info = info;
  return TRUE;
}

/* ---- loading ---- */

static gboolean
check_epoch_rollback (CofferRepository *self, CofferCategoryKeys *keys, GError **error)
{
  CofferState *state = self->state;
  g_autofree char *group = g_strdup_printf ("category %s", keys->id);
  guint64 known = coffer_state_get_uint (state, group, "epoch");
  guint32 newest = coffer_category_keys_newest (keys)->epoch;

  if (newest < known)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
                   _("The keys of category %s are older than the ones this computer has seen "
                     "(epoch %u < %" PRIu64 "): the repository was rolled back or tampered with."),
                   keys->info ? keys->info->name : keys->id, newest, known);
      return FALSE;
    }
  if (newest > known)
    {
      coffer_state_set_uint (state, group, "epoch", newest);
      coffer_state_save (state, NULL);
    }
  return TRUE;
}

static gboolean
is_removed (CofferRepository *self, const char *cid, GError **error)
{
  g_autofree char *group = state_group (cid);

  if (coffer_state_get_uint (self->state, group, "removed") == 0)
    return FALSE;
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK,
               _("The category %s was removed on this computer, but the repository holds it again: "
                 "the storage put back an old copy (rolled back or tampered with). It is ignored."), cid);
  return TRUE;
}

/* A password envelope on an Advanced category was not written by Coffer
 * (or is a replayed old one): it is deleted, never opened or re-sealed. */
static gboolean
delete_stray_password_envelope (CofferRepository *self, const char *cid, GCancellable *cancellable,
                                GError **error)
{
  g_autofree char *name = password_name (cid);
  g_autoptr(GError) local_error = NULL;

  /* Looked up first: some stores report success for deleting nothing. */
  if (!coffer_store_stat (self->store, name, NULL, cancellable, &local_error))
    {
      if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (coffer_store_delete (self->store, name, cancellable, &local_error))
    {
      g_message ("Deleted %s: a category with Advanced protection has no password envelope, "
                 "so this one was planted or put back by the storage.", name);
      return TRUE;
    }
  if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static CofferCategoryKeys *
load_category (CofferRepository *self, const char *cid, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) epochs = NULL;
  g_autoptr(GError) local_error = NULL;
  CofferCategoryKeys *keys;
  gboolean via_password = FALSE;

  if (_coffer_repository_config_rolled_back (self, error) || is_removed (self, cid, error))
    return NULL;
  if (self->account_key != NULL)
    epochs = open_account_envelope (self, cid, cancellable, error);
  else
    {
      if (self->password == NULL)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                       _("This category can be opened with the backup password, the recovery key, or on a trusted device; none was given."));
          return NULL;
        }
      epochs = open_password_envelope (self, cid, cancellable, &local_error);
      if (epochs == NULL)
        {
          if (g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
            g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY,
                         _("This category has Advanced protection: only the recovery key or a trusted device can open it, not the backup password."));
          else
            g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      via_password = TRUE;
    }
  if (epochs == NULL)
    return NULL;

  keys = category_keys_new (cid, g_steal_pointer (&epochs));
  /* A device removal this computer started and that was interrupted may
   * have stopped between a category's new key set and its meta/<cid>:
   * only this computer's own state says so (the storage cannot). */
  if (!read_meta (self, keys, rotation_pending (self) ? META_RESUMED : META_FRESH, cancellable, error)
      || !check_epoch_rollback (self, keys, error))
    {
      _coffer_category_keys_free (keys);
      return NULL;
    }
  /* Only fresh, authenticated meta says which level a category has; a
   * client holding the account key cleans up what contradicts it. */
  if (!via_password && keys->info->level == COFFER_LEVEL_ADVANCED)
    {
      g_autoptr(GError) stray_error = NULL;

      /* Reading goes on when it cannot be deleted (read-only media, a
       * hiccup): it is never opened either way; a rotation retries. */
      if (!delete_stray_password_envelope (self, cid, cancellable, &stray_error))
        g_message ("Could not check for a stray password envelope of category “%s”: %s",
                   keys->info->name, stray_error->message);
    }
  if (via_password && keys->info->level == COFFER_LEVEL_ADVANCED)
    {
      /* An Advanced category must not have a password envelope; one that
       * appears anyway was not written by Coffer. */
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY,
                   _("This category has Advanced protection: only the recovery key or a trusted device can open it, not the backup password."));
      _coffer_category_keys_free (keys);
      return NULL;
    }
  return keys;
}

static CofferCategoryKeys *
get_by_id (CofferRepository *self, const char *cid, GCancellable *cancellable, GError **error)
{
  GHashTable *table = self->categories;
  GRecMutex *lock = &self->lock;
  CofferCategoryKeys *keys;

  g_rec_mutex_lock (lock);
  keys = g_hash_table_lookup (table, cid);
  if (keys == NULL)
    {
      keys = load_category (self, cid, cancellable, error);
      if (keys != NULL)
        g_hash_table_insert (table, g_strdup (cid), keys);
    }
  else if (g_strcmp0 (keys->info_device, self->device_id) != 0
           && !read_meta (self, keys, META_FRESH, cancellable, error))
    /* This session became a trusted device (joined, or trusted after the
     * recovery key): its folders are its own now, not the first computer's. */
    keys = NULL;
  g_rec_mutex_unlock (lock);
  return keys;
}

typedef struct
{
  GPtrArray *ids;
} ListIds;

static gboolean
collect_meta (const char *name, guint64 size, gpointer user_data)
{
  ListIds *l = user_data;
  const char *cid = name + strlen ("meta/");

  if (g_str_has_prefix (name, "meta/") && is_category_id (cid))
    g_ptr_array_add (l->ids, g_strdup (cid));
  return TRUE;
}

GPtrArray *
_coffer_repository_list_category_ids_raw (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  ListIds l = { g_ptr_array_new_with_free_func (g_free) };

  if (!coffer_store_list (self->store, "meta/", collect_meta, &l, cancellable, error))
    {
      g_ptr_array_unref (l.ids);
      return NULL;
    }
  g_ptr_array_sort (l.ids, _coffer_compare_strings);
  return l.ids;
}

/* The categories in meta/, without the ones this computer removed (a
 * replayed meta/<cid> of a removed category is hidden). */
GPtrArray *
_coffer_repository_list_category_ids (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  GPtrArray *ids;

  if (_coffer_repository_config_rolled_back (self, error))
    return NULL;
  ids = _coffer_repository_list_category_ids_raw (self, cancellable, error);
  for (guint i = 0; ids != NULL && i < ids->len;)
    {
      if (is_removed (self, g_ptr_array_index (ids, i), NULL))
        g_ptr_array_remove_index (ids, i);
      else
        i++;
    }
  return ids;
}

CofferCategoryKeys *
_coffer_repository_get_category (CofferRepository *self, const char *id_or_name,
                                 GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GError) first_error = NULL;

  if (is_category_id (id_or_name))
    {
      g_autofree char *name = meta_name (id_or_name);
      GHashTable *table = self->categories;
      if (g_hash_table_contains (table, id_or_name)
          || coffer_store_stat (self->store, name, NULL, cancellable, NULL))
        return get_by_id (self, id_or_name, cancellable, error);
    }

  ids = _coffer_repository_list_category_ids (self, cancellable, error);
  if (ids == NULL)
    return NULL;
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(GError) local_error = NULL;
      CofferCategoryKeys *keys = get_by_id (self, g_ptr_array_index (ids, i), cancellable, &local_error);

      if (keys != NULL && g_strcmp0 (keys->info->name, id_or_name) == 0)
        return keys;
      if (keys == NULL)
        {
          if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD)
              || g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY)
              || g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_ROLLED_BACK)
              || !g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return NULL;
            }
          if (first_error == NULL)
            first_error = g_steal_pointer (&local_error);
        }
    }
  if (first_error != NULL)
    {
      /* A locked Advanced category might be the one asked for. */
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY,
                   _("There is no category “%s” among those the password opens. "
                     "Categories with Advanced protection need the recovery key or a trusted device."),
                   id_or_name);
      return NULL;
    }
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_CATEGORY,
               _("There is no category “%s” in this repository."), id_or_name);
  return NULL;
}

/* ---- public API ---- */

GPtrArray *
coffer_repository_list_categories (CofferRepository *self, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_category_free);

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);

  if (_coffer_repository_config_rolled_back (self, error))
    return NULL;
  ids = _coffer_repository_list_category_ids_raw (self, cancellable, error);
  if (ids == NULL)
    return NULL;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *cid = g_ptr_array_index (ids, i);
      g_autoptr(GError) local_error = NULL;
      CofferCategoryKeys *keys;

      /* Hidden, but said: the storage brought back a removed category. */
      if (is_removed (self, cid, &local_error))
        {
          g_message ("%s", local_error->message);
          continue;
        }
      keys = get_by_id (self, cid, cancellable, &local_error);

      if (keys != NULL)
        g_ptr_array_add (result, coffer_category_copy (keys->info));
      else if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY))
        {
          CofferCategory *locked = g_new0 (CofferCategory, 1);
          locked->id = g_strdup (cid);
          locked->level = COFFER_LEVEL_ADVANCED;
          locked->unlocked = FALSE;
          g_ptr_array_add (result, locked);
        }
      else
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
  return g_steal_pointer (&result);
}

CofferCategory *
coffer_repository_find_category (CofferRepository *self, const char *name_or_id,
                                 GCancellable *cancellable, GError **error)
{
  CofferCategoryKeys *keys;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);
  g_return_val_if_fail (name_or_id != NULL, NULL);

  keys = _coffer_repository_get_category (self, name_or_id, cancellable, error);
  return keys != NULL ? coffer_category_copy (keys->info) : NULL;
}

static gboolean
require_account_key (CofferRepository *self, const char *what, GError **error)
{
  if (self->account_key != NULL)
    return TRUE;
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
               _("%s needs a trusted device or the recovery key; the backup password alone is not enough."), what);
  return FALSE;
}

static gboolean
require_confirmed_recovery_key (CofferRepository *self, GError **error)
{
  if (self->recovery_confirmed)
    return TRUE;
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY,
               _("Advanced protection needs a recovery key that you have confirmed: "
                 "enter your recovery key first, so that you know you can still get your data back."));
  return FALSE;
}

static gboolean
valid_name (const char *name, GError **error)
{
  if (name == NULL || *name == '\0' || !g_utf8_validate (name, -1, NULL) || strlen (name) > 200
      || strchr (name, '/') != NULL || is_category_id (name))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("“%s” is not a valid category name: use up to 200 characters of text, without “/”."),
                   name ? name : "");
      return FALSE;
    }
  return TRUE;
}

CofferCategory *
coffer_repository_add_category (CofferRepository *self, const char *name, CofferLevel level,
                                const char * const *paths, const char * const *excludes,
                                GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) ids = NULL;
  CofferCategoryKeys *keys;
  guint8 raw[16];
  CofferKdfParams params;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), NULL);

  if (!valid_name (name, error) || !require_account_key (self, _("Adding a category"), error))
    return NULL;
  if (level == COFFER_LEVEL_ADVANCED && !require_confirmed_recovery_key (self, error))
    return NULL;
  if (level == COFFER_LEVEL_STANDARD && self->password == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                   _("Standard protection needs a backup password; give one, or choose Advanced protection."));
      return NULL;
    }
  ids = _coffer_repository_list_category_ids (self, cancellable, error);
  if (ids == NULL)
    return NULL;
  for (guint i = 0; i < ids->len; i++)
    {
      CofferCategoryKeys *other = get_by_id (self, g_ptr_array_index (ids, i), cancellable, NULL);
      if (other != NULL && g_strcmp0 (other->info->name, name) == 0)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_EXISTS,
                       _("There is already a category named “%s”."), name);
          return NULL;
        }
    }

  randombytes_buf (raw, sizeof raw);
  {
    g_autofree char *cid = coffer_hex_encode (raw, sizeof raw);
    keys = category_keys_new (cid, g_ptr_array_new_with_free_func (epoch_keys_free));
  }
  g_ptr_array_add (keys->epochs, epoch_keys_new (0, coffer_hash_suite_for_new_epoch (),
                                                 coffer_secret_new_random (COFFER_KEY_BYTES)));
  keys->info = g_new0 (CofferCategory, 1);
  keys->info->id = g_strdup (keys->id);
  keys->info->name = g_strdup (name);
  keys->info->level = level;
  keys->info->paths = g_strdupv ((char **) paths);
  keys->info->excludes = excludes ? g_strdupv ((char **) excludes) : g_new0 (char *, 1);
  keys->info->unlocked = TRUE;
  keys->info->other_folders = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_category_folders_free);
  if (keys->info->paths == NULL)
    keys->info->paths = g_new0 (char *, 1);

  /* Envelopes first; meta/<cid> last, because it is what makes the
   * category visible. */
  if (!write_account_envelope (self, keys->id, keys->epochs, COFFER_PUT_CREATE, cancellable, error)
      || (level == COFFER_LEVEL_STANDARD
          && (!_coffer_repository_get_kdf_params (self, &params)
              || !write_password_envelope (self, keys->id, keys->epochs, &params, COFFER_PUT_CREATE,
                                           cancellable, error)))
      || !write_meta (self, keys, COFFER_PUT_CREATE, cancellable, error))
    {
      _coffer_category_keys_free (keys);
      return NULL;
    }
  g_rec_mutex_lock (&self->lock);
  g_hash_table_insert (self->categories, g_strdup (keys->id), keys);
  g_rec_mutex_unlock (&self->lock);
  return coffer_category_copy (keys->info);
}

gboolean
coffer_repository_update_category (CofferRepository *self, const CofferCategory *category,
                                   GCancellable *cancellable, GError **error)
{
  CofferCategoryKeys *keys;
  CofferCategory *info;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (category != NULL && category->id != NULL, FALSE);

  if (!valid_name (category->name, error))
    return FALSE;
  keys = _coffer_repository_get_category (self, category->id, cancellable, error);
  if (keys == NULL)
    return FALSE;
  /* Read-modify-write of the current description: another computer may
   * have set its own folders since this session read it, and only this
   * computer's entry is replaced (with the name). */
  if (!read_meta (self, keys, META_FRESH, cancellable, error))
    return FALSE;
  info = coffer_category_copy (keys->info);
  g_free (info->name);
  info->name = g_strdup (category->name);
  g_strfreev (info->paths);
  info->paths = g_strdupv (category->paths);
  g_strfreev (info->excludes);
  info->excludes = category->excludes ? g_strdupv (category->excludes) : g_new0 (char *, 1);
  coffer_category_free (keys->info);
  keys->info = info;
  return write_meta (self, keys, COFFER_PUT_REPLACE, cancellable, error);
}

gboolean
coffer_repository_remove_category (CofferRepository *self, const char *category_id,
                                   GCancellable *cancellable, GError **error)
{
  CofferCategoryKeys *keys;
  CofferStore *store = self->store;
  g_autofree char *meta = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *cid = NULL;
  g_autoptr(GPtrArray) names = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  keys = _coffer_repository_get_category (self, category_id, cancellable, error);
  if (keys == NULL)
    return FALSE;
  cid = g_strdup (keys->id);
  meta = meta_name (cid);
  /* Remembered first: a meta/<cid> that the storage puts back later is an
   * old copy, not the category coming back. */
  {
    CofferState *state = self->state;
    g_autofree char *group = state_group (cid);
    coffer_state_set_uint (state, group, "removed", 1);
    coffer_state_save (state, NULL);
  }
  /* Invisible first, then everything below it. */
  if (!coffer_store_delete (store, meta, cancellable, error))
    return FALSE;
  g_rec_mutex_lock (&self->lock);
  g_hash_table_remove (self->categories, cid);
  g_rec_mutex_unlock (&self->lock);

  prefix = g_strdup_printf ("categories/%s/", cid);
  names = g_ptr_array_new_with_free_func (g_free);
  if (!coffer_store_list (store, prefix, _coffer_collect_names, names, cancellable, error))
    ok = FALSE;
  for (guint i = 0; ok && i < names->len; i++)
    ok = coffer_store_delete (store, g_ptr_array_index (names, i), cancellable, error);
  return ok;
}

gboolean
coffer_repository_set_level (CofferRepository *self, const char *category_id, CofferLevel level,
                             GCancellable *cancellable, GError **error)
{
  CofferCategoryKeys *keys;
  g_autofree char *pw_name = NULL;
  g_autoptr(GError) local_error = NULL;
  CofferKdfParams params;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);

  keys = _coffer_repository_get_category (self, category_id, cancellable, error);
  if (keys == NULL)
    return FALSE;
  if (keys->info->level == level)
    return TRUE;
  if (!require_account_key (self, _("Changing the protection level"), error))
    return FALSE;
  pw_name = password_name (keys->id);

  if (level == COFFER_LEVEL_ADVANCED)
    {
      g_autoptr(GPtrArray) epochs = NULL;
      CofferState *state = self->state;
      g_autofree char *group = g_strdup_printf ("category %s", keys->id);

      if (!require_confirmed_recovery_key (self, error))
        return FALSE;
      /* New data gets a key the password envelope never held; the old
       * newest epoch is retired now, so nothing sealed under it later is
       * believed (whoever has the old password envelope has it). */
      epochs = keyset_copy (keys->epochs);
      if (!keyset_add_epoch (epochs, error))
        return FALSE;
      if (!write_account_envelope (self, keys->id, epochs, COFFER_PUT_REPLACE, cancellable, error))
        return FALSE;
      g_ptr_array_unref (keys->epochs);
      keys->epochs = g_steal_pointer (&epochs);
      keys->info->level = COFFER_LEVEL_ADVANCED;
      keys->info->epoch = coffer_category_keys_newest (keys)->epoch;
      coffer_state_set_uint (state, group, "epoch", keys->info->epoch);
      coffer_state_save (state, NULL);
      if (!write_meta (self, keys, COFFER_PUT_REPLACE, cancellable, error))
        return FALSE;
      if (!coffer_store_delete (self->store, pw_name, cancellable, &local_error)
          && !g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      return TRUE;
    }

  if (self->password == NULL)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                   _("Standard protection needs a backup password."));
      return FALSE;
    }
  _coffer_repository_get_kdf_params (self, &params);
  if (!write_password_envelope (self, keys->id, keys->epochs, &params, COFFER_PUT_REPLACE, cancellable, error))
    return FALSE;
  keys->info->level = COFFER_LEVEL_STANDARD;
  return write_meta (self, keys, COFFER_PUT_REPLACE, cancellable, error);
}

gboolean
coffer_repository_change_password (CofferRepository *self, const CofferSecret *new_password,
                                   GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GPtrArray) standard = g_ptr_array_new ();
  g_autoptr(CofferSecret) device_sk = NULL;
  CofferKdfParams params;

  g_return_val_if_fail (COFFER_IS_REPOSITORY (self), FALSE);
  g_return_val_if_fail (new_password != NULL && new_password->len > 0, FALSE);

  /* Open every Standard category with what we hold now. */
  ids = _coffer_repository_list_category_ids (self, cancellable, error);
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(GError) local_error = NULL;
      CofferCategoryKeys *keys = get_by_id (self, g_ptr_array_index (ids, i), cancellable, &local_error);

      if (keys == NULL)
        {
          if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY))
            continue;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (keys->info->level == COFFER_LEVEL_STANDARD)
        g_ptr_array_add (standard, keys);
    }

  {
    g_autoptr(GError) local_error = NULL;
    device_sk = _coffer_repository_load_local_device_key (self, &local_error);
    if (device_sk == NULL && local_error != NULL)
      {
        g_propagate_error (error, g_steal_pointer (&local_error));
        return FALSE;
      }
  }
  coffer_repository_set_password (self, new_password);
  coffer_kdf_params_new (&params);
  for (guint i = 0; i < standard->len; i++)
    {
      CofferCategoryKeys *keys = g_ptr_array_index (standard, i);
      if (!write_password_envelope (self, keys->id, keys->epochs, &params, COFFER_PUT_REPLACE,
                                    cancellable, error))
        return FALSE;
    }
  _coffer_repository_set_kdf_params (self, &params);
  /* The local device key file is sealed under the password too. */
  if (device_sk != NULL && !_coffer_repository_save_local_device_key (self, device_sk, error))
    return FALSE;
  return TRUE;
}

/* ---- key rotation (for a device removal, coffer-repository-devices.c) ---- */

static GPtrArray *
open_account_envelope_with (CofferRepository *self, const CofferSecret *ak, const char *cid,
                            GCancellable *cancellable, GError **error)
{
  g_autofree char *name = account_name (cid);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) plain = NULL;

  env = coffer_store_get_limited (self->store, name, COFFER_MAX_KEY_OBJECT_BYTES,
                                  cancellable, error);
  if (env == NULL)
    return NULL;
  plain = coffer_envelope_open (ak, self->raw_id, COFFER_OBJECT_CATEGORY_ACCOUNT,
                                name, env, error);
  if (plain == NULL)
    return NULL;
  return keyset_parse (plain, error);
}

/* The keys and fresh meta of a category for a rotation: the key set under
 * new_ak when an interrupted rotation already re-sealed it (*resumed), else
 * under old_ak. The level used for every key decision comes from this
 * meta, never from which objects exist. */
static CofferCategoryKeys *
load_for_rotation (CofferRepository *self, const char *cid, const CofferSecret *old_ak,
                   const CofferSecret *new_ak, gboolean *resumed, GCancellable *cancellable, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) epochs = NULL;
  CofferCategoryKeys *keys;

  *resumed = FALSE;
  if (new_ak != NULL)
    {
      epochs = open_account_envelope_with (self, new_ak, cid, cancellable, &local_error);
      if (epochs == NULL && !g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "Cannot rotate the keys of category %s: ", cid);
          return NULL;
        }
      *resumed = epochs != NULL && old_ak != NULL && !coffer_secret_equal (old_ak, new_ak);
      g_clear_error (&local_error);
    }
  if (epochs == NULL)
    {
      epochs = open_account_envelope_with (self, old_ak, cid, cancellable, &local_error);
      if (epochs == NULL)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                       _("Cannot rotate the keys of category %s: its account envelope does not open (%s)."),
                       cid, local_error->message);
          return NULL;
        }
    }
  keys = category_keys_new (cid, g_steal_pointer (&epochs));
  /* An interrupted rotation may have stopped between the key set and
   * meta/<cid>: then meta is still under the epoch before the newest. */
  if (!read_meta (self, keys, *resumed ? META_RESUMED : META_FRESH, cancellable, error)
      || !check_epoch_rollback (self, keys, error))
    {
      _coffer_category_keys_free (keys);
      return NULL;
    }
  return keys;
}

gboolean
_coffer_repository_category_is_standard (CofferRepository *self, const char *category_id,
                                         const CofferSecret *new_ak, gboolean *standard,
                                         GCancellable *cancellable, GError **error)
{
  const CofferSecret *ak = self->account_key;
  CofferCategoryKeys *keys;
  gboolean resumed;

  *standard = FALSE;
  if (_coffer_repository_config_rolled_back (self, error) || is_removed (self, category_id, error))
    return FALSE;
  if (ak == NULL)
    ak = new_ak;
  if (ak == NULL)
    return require_account_key (self, _("Deciding a category's protection level"), error);
  keys = load_for_rotation (self, category_id, ak, new_ak, &resumed, cancellable, error);
  if (keys == NULL)
    return FALSE;
  *standard = keys->info->level == COFFER_LEVEL_STANDARD;
  _coffer_category_keys_free (keys);
  return TRUE;
}

gboolean
_coffer_repository_rotate_category (CofferRepository *self, const char *cid,
                                    const CofferSecret *old_ak, const CofferSecret *new_ak,
                                    GCancellable *cancellable, GError **error)
{
  g_autofree char *group = g_strdup_printf ("category %s", cid);
  CofferState *state = self->state;
  CofferCategoryKeys *keys;
  gboolean resumed;
  CofferKdfParams params;

  if (_coffer_repository_config_rolled_back (self, error) || is_removed (self, cid, error))
    return FALSE;
  keys = load_for_rotation (self, cid, old_ak, new_ak, &resumed, cancellable, error);
  if (keys == NULL)
    return FALSE;

  /* Already re-sealed under the new account key by an interrupted
   * rotation: only the password envelope and meta are written again. */
  if (!resumed)
    {
      g_autoptr(GPtrArray) epochs = keyset_copy (keys->epochs);

      if (!keyset_add_epoch (epochs, error)
          || !write_account_envelope_with (self, new_ak, cid, epochs, COFFER_PUT_REPLACE, cancellable, error))
        {
          g_prefix_error (error, _("Cannot rotate the keys of category %s: "), cid);
          _coffer_category_keys_free (keys);
          return FALSE;
        }
      g_ptr_array_unref (keys->epochs);
      keys->epochs = g_steal_pointer (&epochs);
    }

  if (keys->info->level == COFFER_LEVEL_STANDARD)
    {
      if (self->password == NULL)
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NO_KEY,
                       _("Rotating the keys of a Standard category needs the backup password."));
          _coffer_category_keys_free (keys);
          return FALSE;
        }
      _coffer_repository_get_kdf_params (self, &params);
      if (!write_password_envelope (self, cid, keys->epochs, &params, COFFER_PUT_REPLACE, cancellable, error))
        {
          _coffer_category_keys_free (keys);
          return FALSE;
        }
    }
  else if (!delete_stray_password_envelope (self, cid, cancellable, error))
    {
      _coffer_category_keys_free (keys);
      return FALSE;
    }

  /* meta/<cid> is sealed under the newest epoch. */
  if (!write_meta (self, keys, COFFER_PUT_REPLACE, cancellable, error))
    {
      _coffer_category_keys_free (keys);
      return FALSE;
    }
  keys->info->epoch = coffer_category_keys_newest (keys)->epoch;
  coffer_state_set_uint (state, group, "epoch", coffer_category_keys_newest (keys)->epoch);
  coffer_state_save (state, NULL);
  g_rec_mutex_lock (&self->lock);
  g_hash_table_replace (self->categories, g_strdup (cid), keys);
  g_rec_mutex_unlock (&self->lock);
  return TRUE;
}

/* ---- keys that went stale in a long session ---- */

gboolean
_coffer_repository_check_keys_current (CofferRepository *self, CofferCategoryKeys *keys, gint64 time_us,
                                       GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) fresh = NULL;
  g_autoptr(GError) local_error = NULL;
  CofferEpochKeys *ours = coffer_category_keys_newest (keys);
  CofferEpochKeys *now = NULL;
  gboolean stale;

  if (self->account_key != NULL)
    fresh = open_account_envelope (self, keys->id, cancellable, &local_error);
  else
    fresh = open_password_envelope (self, keys->id, cancellable, &local_error);
  if (fresh == NULL && (local_error->domain == COFFER_STORE_ERROR || local_error->domain == G_IO_ERROR))
    {
      /* Could not look: the connection, not the keys. */
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (fresh != NULL)
    for (guint i = 0; i < fresh->len; i++)
      if (((CofferEpochKeys *) g_ptr_array_index (fresh, i))->epoch == ours->epoch)
        now = g_ptr_array_index (fresh, i);
  /* A key set that no longer opens with what this session holds (the
   * account key was rotated) is as stale as one with a newer epoch. */
  stale = fresh == NULL || now == NULL || now != g_ptr_array_index (fresh, fresh->len - 1);
  if (!stale)
    return TRUE;

  /* The next access loads the category again. The old keys stay alive
   * until the repository is freed: other operations may still hold them. */
  g_rec_mutex_lock (&self->lock);
  if (g_hash_table_lookup (self->categories, keys->id) == keys)
    {
      GPtrArray *old = g_object_get_data (G_OBJECT (self), "coffer-stale-category-keys");

      if (old == NULL)
        {
          old = g_ptr_array_new_with_free_func (_coffer_category_keys_free);
          g_object_set_data_full (G_OBJECT (self), "coffer-stale-category-keys", old,
                                  (GDestroyNotify) g_ptr_array_unref);
        }
      gpointer table_key = NULL;

      g_hash_table_steal_extended (self->categories, keys->id, &table_key, NULL);
      g_free (table_key);
      g_ptr_array_add (old, keys);
    }
  g_rec_mutex_unlock (&self->lock);

  /* Written anyway when readers will still believe it: it started before
   * the epoch was retired. */
  if (now != NULL && (now->retired == 0 || time_us <= now->retired))
    return TRUE;
  g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_FAILED,
               _("The keys of category “%s” changed since this program loaded them (another computer "
                 "removed a device or changed the protection level), so this backup would not be "
                 "believed. Nothing was committed; run the backup again."),
               keys->info != NULL ? keys->info->name : keys->id);
  return FALSE;
}

/* ---- accepting a rollback ---- */

/* Checks a password typed as authority for a change (docs/SECURITY.md
 * "Authority for security downgrades") against one category's password
 * envelope, without touching the session's password or its key cache.
 * NOT_FOUND (store error) when the category has none. */
gboolean
_coffer_repository_password_opens_category (CofferRepository *self, const char *cid, const CofferSecret *password,
                                            GCancellable *cancellable, GError **error)
{
  g_autofree char *name = password_name (cid);
  g_autoptr(GBytes) env = NULL;
  g_autoptr(CofferSecret) pkey = NULL;
  g_autoptr(CofferSecret) plain = NULL;
  g_autoptr(GPtrArray) epochs = NULL;
  g_autoptr(GError) local_error = NULL;
  CofferCategoryKeys *keys;
  CofferEpochKeys *ours, *theirs;
  CofferKdfParams params;

  /* Only a category whose fresh, authenticated description says Standard
   * counts: a password envelope planted on any other (or on a category
   * planted whole) must not stand in for the user's password. */
  keys = get_by_id (self, cid, cancellable, &local_error);
  if (keys == NULL || keys->info->level != COFFER_LEVEL_STANDARD)
    {
      if (local_error != NULL && (local_error->domain == COFFER_STORE_ERROR
                                  || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND,
                   _("Category %s has no password envelope that counts."), cid);
      return FALSE;
    }
  g_clear_error (&local_error);
  env = read_password_envelope (self, name, &params, cancellable, error);
  if (env == NULL)
    return FALSE;
  pkey = coffer_kdf_derive (password, &params, error);
  if (pkey == NULL)
    return FALSE;
  plain = coffer_envelope_open (pkey, self->raw_id, COFFER_OBJECT_CATEGORY_PASSWORD,
                                name, env, &local_error);
  if (plain == NULL)
    {
      if (g_error_matches (local_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_WRONG_KEY))
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD, _("The password is wrong."));
      else
        g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                     _("The password envelope %s is damaged: %s"), name, local_error->message);
      return FALSE;
    }
  /* It must hold the category's own newest key, as the account envelope
   * (or the password envelope this session opened) has it: an envelope
   * sealed by someone else under a password of their choosing does not. */
  epochs = keyset_parse (plain, error);
  if (epochs == NULL)
    return FALSE;
  ours = coffer_category_keys_newest (keys);
  theirs = g_ptr_array_index (epochs, epochs->len - 1);
  if (theirs->epoch != ours->epoch || !coffer_secret_equal (theirs->key, ours->key))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("The password envelope %s does not hold this category's keys: it was not written "
                     "by Coffer, or it is an old copy."), name);
      return FALSE;
    }
  return TRUE;
}

/* Takes category cid as it is now (coffer_repository_accept_rollback):
 * forgets this computer's marks and seals its meta/<cid> afresh. Returns
 * its keys (owned by the repository); NULL without an error when it does
 * not open (it keeps its marks and stays refused), NULL with one on a
 * failure. */
CofferCategoryKeys *
_coffer_repository_accept_category (CofferRepository *self, const char *cid,
                                    GCancellable *cancellable, GError **error)
{
  g_autofree char *group = state_group (cid);
  g_autoptr(GPtrArray) epochs = NULL;
  g_autoptr(GError) local_error = NULL;
  CofferState *state = self->state;
  CofferCategoryKeys *keys;

  /* A category whose objects do not open (a half put-back removed
   * one, say) keeps its marks and stays refused. */
  epochs = open_account_envelope (self, cid, cancellable, &local_error);
  keys = epochs != NULL ? category_keys_new (cid, g_steal_pointer (&epochs)) : NULL;
  if (keys == NULL || !read_meta (self, keys, META_ANY, cancellable, &local_error))
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
          || local_error->domain == COFFER_STORE_ERROR)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          _coffer_category_keys_free (keys);
          return NULL;
        }
      g_message ("Category %s is not accepted: %s", cid, local_error->message);
      _coffer_category_keys_free (keys);
      return NULL;
    }
  /* Forget the marks, take the category as it is, and seal its
   * meta/<cid> afresh so that the accepted state is the new baseline. */
  coffer_state_remove (state, group, "removed");
  coffer_state_remove (state, group, "meta-counter");
  coffer_state_remove (state, group, "legacy-folders");
  coffer_state_remove (state, group, "epoch");
  coffer_state_remove (state, group, "seq");
  coffer_state_save (state, NULL);
  if (!check_epoch_rollback (self, keys, error)
      || !write_meta (self, keys, COFFER_PUT_REPLACE, cancellable, error))
    {
      _coffer_category_keys_free (keys);
      return NULL;
    }
  g_rec_mutex_lock (&self->lock);
  g_hash_table_replace (self->categories, g_strdup (cid), keys);
  g_rec_mutex_unlock (&self->lock);
  return keys;
}
