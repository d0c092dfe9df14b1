/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-destination"

#include "coffer-destination-item.h"

struct _CofferDestinationItem
{
  GObject                 parent_instance;

  CofferDestination      *dest;          /* location, user, S3 endpoint/region; secret this session */
  CofferEngine           *engine;
  GHashTable             *categories;    /* first destination's category id → id here */
  gint64                  last_backup;
  CofferDestinationStatus status;
  char                   *message;
  GFileMonitor           *monitor;
  GVolumeMonitor         *volume_monitor;
};

G_DEFINE_FINAL_TYPE (CofferDestinationItem, coffer_destination_item, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATUS, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { RECONNECTED, N_SIGNALS };
static guint signals[N_SIGNALS];

char *
coffer_destination_local_path (const char *location)
{
  g_autoptr(GFile) file = NULL;

  if (location == NULL || location[0] == '\0' || g_str_has_prefix (location, "webdav")
      || g_str_has_prefix (location, "s3://") || g_str_has_prefix (location, "rclone:"))
    return NULL;
  file = g_file_new_for_commandline_arg (location);
  return g_file_get_path (file);
}

GFileMonitor *
coffer_monitor_nearest_folder (const char *path)
{
  g_autoptr(GFile) ancestor = g_file_new_for_path (path);

  do
    {
      GFile *parent = g_file_get_parent (ancestor);
      if (parent == NULL)
        break;
      g_object_unref (ancestor);
      ancestor = parent;
    }
  while (!g_file_query_exists (ancestor, NULL));
  return g_file_monitor_directory (ancestor, G_FILE_MONITOR_WATCH_MOVES, NULL, NULL);
}

char *
coffer_destination_name_for_location (const char *location)
{
  g_autofree char *path = coffer_destination_local_path (location);
  g_auto(GStrv) parts = NULL;
  guint n;

  if (path == NULL)
    {
      g_autoptr(GUri) uri = g_uri_parse (location ? location : "", G_URI_FLAGS_NONE, NULL);
      return g_strdup (uri != NULL && g_uri_get_host (uri) != NULL ? g_uri_get_host (uri)
                                                                   : location ? location : "");
    }
  /* Drives are mounted at /media/USER/NAME or /run/media/USER/NAME. */
  parts = g_strsplit (path, "/", -1);
  n = g_strv_length (parts);
  if (n > 3 && g_strcmp0 (parts[1], "media") == 0)
    return g_strdup (parts[3]);
  if (n > 4 && g_strcmp0 (parts[1], "run") == 0 && g_strcmp0 (parts[2], "media") == 0)
    return g_strdup (parts[4]);
  return g_path_get_basename (path);
}

CofferDestinationItem *
coffer_destination_item_new (const CofferDestination *dest)
{
  CofferDestinationItem *self = g_object_new (COFFER_TYPE_DESTINATION_ITEM, NULL);

  g_return_val_if_fail (dest != NULL && dest->location != NULL, NULL);
  self->dest = coffer_destination_copy (dest);
  return self;
}

const char *
coffer_destination_item_get_location (CofferDestinationItem *self)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_ITEM (self), NULL);
  return self->dest->location;
}

char *
coffer_destination_item_dup_name (CofferDestinationItem *self)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_ITEM (self), NULL);
  return coffer_destination_name_for_location (self->dest->location);
}

CofferDestination *
coffer_destination_item_dup_destination (CofferDestinationItem *self)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_ITEM (self), NULL);
  return coffer_destination_copy (self->dest);
}

void
coffer_destination_item_set_secret (CofferDestinationItem *self, const CofferSecret *secret)
{
  g_return_if_fail (COFFER_IS_DESTINATION_ITEM (self));
  g_clear_pointer (&self->dest->secret, coffer_secret_free);
  self->dest->secret = secret ? coffer_secret_dup (secret) : NULL;
}

CofferEngine *
coffer_destination_item_get_engine (CofferDestinationItem *self)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_ITEM (self), NULL);
  if (self->engine == NULL)
    self->engine = coffer_engine_new ();
  return self->engine;
}

const char *
coffer_destination_item_lookup_category (CofferDestinationItem *self, const char *first_id)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_ITEM (self), NULL);
  return first_id ? g_hash_table_lookup (self->categories, first_id) : NULL;
}

void
coffer_destination_item_set_category (CofferDestinationItem *self, const char *first_id, const char *own_id)
{
  g_return_if_fail (COFFER_IS_DESTINATION_ITEM (self));
  g_return_if_fail (first_id != NULL);
  if (own_id == NULL)
    g_hash_table_remove (self->categories, first_id);
  else
    g_hash_table_insert (self->categories, g_strdup (first_id), g_strdup (own_id));
}

gint64
coffer_destination_item_get_last_backup (CofferDestinationItem *self)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_ITEM (self), 0);
  return self->last_backup;
}

void
coffer_destination_item_set_last_backup (CofferDestinationItem *self, gint64 time)
{
  g_return_if_fail (COFFER_IS_DESTINATION_ITEM (self));
  self->last_backup = time;
}

CofferDestinationStatus
coffer_destination_item_get_status (CofferDestinationItem *self, const char **message)
{
  g_return_val_if_fail (COFFER_IS_DESTINATION_ITEM (self), COFFER_DESTINATION_STATUS_IDLE);
  if (message != NULL)
    *message = self->message;
  return self->status;
}

void
coffer_destination_item_set_status (CofferDestinationItem *self, CofferDestinationStatus status,
                                    const char *message)
{
  g_return_if_fail (COFFER_IS_DESTINATION_ITEM (self));
  g_free (self->message);
  self->message = g_strdup (message);
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

/* ---- waiting for an unplugged drive ---- */

static void
unwatch (CofferDestinationItem *self)
{
  if (self->monitor != NULL)
    g_file_monitor_cancel (self->monitor);
  g_clear_object (&self->monitor);
  if (self->volume_monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->volume_monitor, self);
  g_clear_object (&self->volume_monitor);
}

static void
check_back (CofferDestinationItem *self)
{
  g_autofree char *path = coffer_destination_local_path (self->dest->location);

  if (path == NULL || !g_file_test (path, G_FILE_TEST_IS_DIR))
    return;
  g_debug ("The destination %s is back", path);
  unwatch (self);
  g_signal_emit (self, signals[RECONNECTED], 0);
}

static void
mount_added_cb (GVolumeMonitor *monitor, GMount *mount, CofferDestinationItem *self)
{
  check_back (self);
}

static void
changed_cb (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
            CofferDestinationItem *self)
{
  if (event == G_FILE_MONITOR_EVENT_CREATED || event == G_FILE_MONITOR_EVENT_MOVED_IN
      || event == G_FILE_MONITOR_EVENT_RENAMED)
    check_back (self);
}

void
coffer_destination_item_watch (CofferDestinationItem *self)
{
  g_autofree char *path = NULL;

  g_return_if_fail (COFFER_IS_DESTINATION_ITEM (self));
  path = coffer_destination_local_path (self->dest->location);
  if (path == NULL || self->monitor != NULL)
    return;
  /* A drive appears as a new mount; a folder (or a mount point under an
   * existing folder) appears in its nearest existing parent. */
  self->volume_monitor = g_volume_monitor_get ();
  g_signal_connect_object (self->volume_monitor, "mount-added", G_CALLBACK (mount_added_cb), self, 0);
  self->monitor = coffer_monitor_nearest_folder (path);
  if (self->monitor != NULL)
    g_signal_connect_object (self->monitor, "changed", G_CALLBACK (changed_cb), self, 0);
}

/* ---- settings ---- */

static const char *
dict_string (GVariantDict *dict, const char *key)
{
  const char *value = NULL;

  if (!g_variant_dict_lookup (dict, key, "&s", &value))
    return NULL;
  return value;
}

void
coffer_destination_items_load (GSettings *settings, GListStore *store)
{
  g_autoptr(GVariant) list = g_settings_get_value (settings, "more-destinations");
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init (&iter, list);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (entry);
      g_autoptr(CofferDestination) dest = NULL;
      g_autoptr(GVariant) categories = NULL;
      CofferDestinationItem *item;
      const char *location = dict_string (&dict, "location");
      const char *text;
      gint64 last = 0;

      g_variant_unref (entry);
      if (location == NULL || *location == '\0')
        continue;
      dest = coffer_destination_new (location);
      if ((text = dict_string (&dict, "user")) != NULL && *text != '\0')
        dest->user = g_strdup (text);
      if ((text = dict_string (&dict, "s3-endpoint")) != NULL && *text != '\0')
        dest->s3_endpoint = g_strdup (text);
      if ((text = dict_string (&dict, "s3-region")) != NULL && *text != '\0')
        dest->s3_region = g_strdup (text);
      item = coffer_destination_item_new (dest);
      if (g_variant_dict_lookup (&dict, "last-backup", "x", &last))
        item->last_backup = last;
      categories = g_variant_dict_lookup_value (&dict, "categories", G_VARIANT_TYPE ("a{ss}"));
      if (categories != NULL)
        {
          GVariantIter citer;
          const char *first, *own;

          g_variant_iter_init (&citer, categories);
          while (g_variant_iter_next (&citer, "{&s&s}", &first, &own))
            coffer_destination_item_set_category (item, first, own);
        }
      g_ptr_array_add (items, item);
    }
  g_list_store_splice (store, 0, g_list_model_get_n_items (G_LIST_MODEL (store)), items->pdata, items->len);
}

void
coffer_destination_items_save (GSettings *settings, GListModel *model)
{
  GVariantBuilder list;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(CofferDestinationItem) item = g_list_model_get_item (model, i);
      GVariantBuilder dict, categories;
      GHashTableIter iter;
      gpointer key, value;

      g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&dict, "{sv}", "location", g_variant_new_string (item->dest->location));
      g_variant_builder_add (&dict, "{sv}", "user", g_variant_new_string (item->dest->user ? item->dest->user : ""));
      g_variant_builder_add (&dict, "{sv}", "s3-endpoint",
                             g_variant_new_string (item->dest->s3_endpoint ? item->dest->s3_endpoint : ""));
      g_variant_builder_add (&dict, "{sv}", "s3-region",
                             g_variant_new_string (item->dest->s3_region ? item->dest->s3_region : ""));
      g_variant_builder_add (&dict, "{sv}", "last-backup", g_variant_new_int64 (item->last_backup));
      g_variant_builder_init (&categories, G_VARIANT_TYPE ("a{ss}"));
      g_hash_table_iter_init (&iter, item->categories);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_variant_builder_add (&categories, "{ss}", key, value);
      g_variant_builder_add (&dict, "{sv}", "categories", g_variant_builder_end (&categories));
      g_variant_builder_add_value (&list, g_variant_builder_end (&dict));
    }
  g_settings_set_value (settings, "more-destinations", g_variant_builder_end (&list));
}

/* ---- GObject ---- */

static void
coffer_destination_item_dispose (GObject *object)
{
  CofferDestinationItem *self = COFFER_DESTINATION_ITEM (object);

  unwatch (self);
  if (self->engine != NULL)
    coffer_engine_close (self->engine);
  g_clear_object (&self->engine);
  G_OBJECT_CLASS (coffer_destination_item_parent_class)->dispose (object);
}

static void
coffer_destination_item_finalize (GObject *object)
{
  CofferDestinationItem *self = COFFER_DESTINATION_ITEM (object);

  g_clear_pointer (&self->dest, coffer_destination_free);
  g_clear_pointer (&self->categories, g_hash_table_unref);
  g_clear_pointer (&self->message, g_free);
  G_OBJECT_CLASS (coffer_destination_item_parent_class)->finalize (object);
}

static void
coffer_destination_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_STATUS:
      g_value_set_int (value, COFFER_DESTINATION_ITEM (object)->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
coffer_destination_item_class_init (CofferDestinationItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = coffer_destination_item_dispose;
  object_class->finalize = coffer_destination_item_finalize;
  object_class->get_property = coffer_destination_item_get_property;

  properties[PROP_STATUS] =
    g_param_spec_int ("status", NULL, NULL, 0, COFFER_DESTINATION_STATUS_FAILED, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[RECONNECTED] = g_signal_new ("reconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
coffer_destination_item_init (CofferDestinationItem *self)
{
  self->categories = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}
