/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-category-item"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-category-item.h"

struct _CofferCategoryItem
{
  GObject      parent_instance;
  char        *id;
  char        *name;
  char       **paths;
  char       **excludes;
  CofferLevel  level;
  gboolean     enabled;
  gint64       last_backup;
  guint64      size;
};

G_DEFINE_FINAL_TYPE (CofferCategoryItem, coffer_category_item, G_TYPE_OBJECT)

enum { PROP_0, PROP_ID, PROP_NAME, PROP_LEVEL, PROP_ENABLED, PROP_PATHS, PROP_LAST_BACKUP,
       PROP_DESCRIPTION, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void
coffer_category_item_finalize (GObject *object)
{
  CofferCategoryItem *self = COFFER_CATEGORY_ITEM (object);

  g_free (self->id);
  g_free (self->name);
  g_strfreev (self->paths);
  g_strfreev (self->excludes);
  G_OBJECT_CLASS (coffer_category_item_parent_class)->finalize (object);
}

static void
coffer_category_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CofferCategoryItem *self = COFFER_CATEGORY_ITEM (object);

  switch (prop_id)
    {
    case PROP_ID: g_value_set_string (value, self->id); break;
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_LEVEL: g_value_set_int (value, self->level); break;
    case PROP_ENABLED: g_value_set_boolean (value, self->enabled); break;
    case PROP_PATHS: g_value_set_boxed (value, self->paths); break;
    case PROP_LAST_BACKUP: g_value_set_int64 (value, self->last_backup); break;
    case PROP_DESCRIPTION: g_value_take_string (value, coffer_category_item_describe (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
coffer_category_item_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  CofferCategoryItem *self = COFFER_CATEGORY_ITEM (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_free (self->name);
      self->name = g_value_dup_string (value);
      break;
    case PROP_LEVEL: coffer_category_item_set_level (self, g_value_get_int (value)); break;
    case PROP_ENABLED: coffer_category_item_set_enabled (self, g_value_get_boolean (value)); break;
    case PROP_PATHS: coffer_category_item_set_paths (self, g_value_get_boxed (value)); break;
    case PROP_ID:
    case PROP_LAST_BACKUP:
    case PROP_DESCRIPTION:
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
coffer_category_item_class_init (CofferCategoryItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = coffer_category_item_finalize;
  object_class->get_property = coffer_category_item_get_property;
  object_class->set_property = coffer_category_item_set_property;

  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, ro);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, rw | G_PARAM_CONSTRUCT);
  properties[PROP_LEVEL] = g_param_spec_int ("level", NULL, NULL, 0, 1, 0, rw);
  properties[PROP_ENABLED] = g_param_spec_boolean ("enabled", NULL, NULL, TRUE, rw);
  properties[PROP_PATHS] = g_param_spec_boxed ("paths", NULL, NULL, G_TYPE_STRV, rw);
  properties[PROP_LAST_BACKUP] = g_param_spec_int64 ("last-backup", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_DESCRIPTION] = g_param_spec_string ("description", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
coffer_category_item_init (CofferCategoryItem *self)
{
  self->enabled = TRUE;
  self->paths = g_new0 (char *, 1);
  self->excludes = g_new0 (char *, 1);
}

CofferCategoryItem *
coffer_category_item_new (const char *name, const char * const *paths)
{
  CofferCategoryItem *self = g_object_new (COFFER_TYPE_CATEGORY_ITEM, "name", name, NULL);
  if (paths != NULL)
    coffer_category_item_set_paths (self, paths);
  return self;
}

const char *coffer_category_item_get_id (CofferCategoryItem *self) { return self->id; }
const char *coffer_category_item_get_name (CofferCategoryItem *self) { return self->name; }
const char * const *coffer_category_item_get_paths (CofferCategoryItem *self) { return (const char * const *) self->paths; }
const char * const *coffer_category_item_get_excludes (CofferCategoryItem *self) { return (const char * const *) self->excludes; }
CofferLevel coffer_category_item_get_level (CofferCategoryItem *self) { return self->level; }
gboolean coffer_category_item_get_enabled (CofferCategoryItem *self) { return self->enabled; }
gint64 coffer_category_item_get_last_backup (CofferCategoryItem *self) { return self->last_backup; }
guint64 coffer_category_item_get_size (CofferCategoryItem *self) { return self->size; }

void
coffer_category_item_set_id (CofferCategoryItem *self, const char *id)
{
  g_return_if_fail (COFFER_IS_CATEGORY_ITEM (self));
  if (g_strcmp0 (self->id, id) == 0)
    return;
  g_free (self->id);
  self->id = g_strdup (id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID]);
}

void
coffer_category_item_set_paths (CofferCategoryItem *self, const char * const *paths)
{
  g_return_if_fail (COFFER_IS_CATEGORY_ITEM (self));
  g_strfreev (self->paths);
  self->paths = paths ? g_strdupv ((char **) paths) : g_new0 (char *, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATHS]);
}

void
coffer_category_item_set_level (CofferCategoryItem *self, CofferLevel level)
{
  g_return_if_fail (COFFER_IS_CATEGORY_ITEM (self));
  if (self->level == level)
    return;
  self->level = level;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LEVEL]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DESCRIPTION]);
}

void
coffer_category_item_set_enabled (CofferCategoryItem *self, gboolean enabled)
{
  g_return_if_fail (COFFER_IS_CATEGORY_ITEM (self));
  if (self->enabled == !!enabled)
    return;
  self->enabled = !!enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENABLED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DESCRIPTION]);
}

void
coffer_category_item_set_last_backup (CofferCategoryItem *self, gint64 time, guint64 size)
{
  g_return_if_fail (COFFER_IS_CATEGORY_ITEM (self));
  self->last_backup = time;
  self->size = size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_BACKUP]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DESCRIPTION]);
}

char *
coffer_format_time_ago (gint64 unix_time)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 diff = now - unix_time;

  if (unix_time <= 0)
    return g_strdup (_("never"));
  if (diff < 60)
    return g_strdup (_("just now"));
  if (diff < 3600)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d minute ago", "%d minutes ago", diff / 60),
                            (int) (diff / 60));
  if (diff < 86400)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d hour ago", "%d hours ago", diff / 3600),
                            (int) (diff / 3600));
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d day ago", "%d days ago", diff / 86400),
                          (int) (diff / 86400));
}

char *
coffer_old_home_of (const char *root)
{
  static const char * const homes[] = { "/home/", "/var/home/", "/Users/", NULL };

  for (guint i = 0; homes[i] != NULL; i++)
    if (g_str_has_prefix (root, homes[i]))
      {
        const char *user = root + strlen (homes[i]);
        const char *end = strchr (user, '/');
        if (end != NULL && end > user)
          return g_strndup (root, end - root);
      }
  if (g_str_has_prefix (root, "/root/"))
    return g_strdup ("/root");
  return g_path_get_dirname (root);
}

char *
coffer_category_item_describe (CofferCategoryItem *self)
{
  g_autofree char *ago = NULL;
  g_autofree char *size = NULL;
  const char *level;

  if (!self->enabled)
    return g_strdup (_("Not backed up"));
  level = self->level == COFFER_LEVEL_ADVANCED ? _("Advanced protection") : _("Standard protection");
  if (self->last_backup <= 0)
    return g_strdup_printf (_("%s · Not backed up yet"), level);
  ago = coffer_format_time_ago (self->last_backup);
  size = g_format_size (self->size);
  /* Translators: protection level, time of the last backup ("2 hours ago"), size */
  return g_strdup_printf (_("%s · Last backup %s · %s"), level, ago, size);
}

/* ---- GSettings ---- */

void
coffer_category_items_load (GSettings *settings, GListStore *store)
{
  g_autoptr(GVariant) list = g_settings_get_value (settings, "categories");
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  GVariantIter iter;
  GVariant *dict;

  g_variant_iter_init (&iter, list);
  while ((dict = g_variant_iter_next_value (&iter)))
    {
      g_autoptr(GVariantDict) d = g_variant_dict_new (dict);
      g_autofree char *name = NULL, *id = NULL, *level = NULL;
      g_autofree const char **paths = NULL, **excludes = NULL;
      CofferCategoryItem *item;
      CofferLevel lvl = COFFER_LEVEL_STANDARD;
      gboolean enabled = TRUE;
      gint64 last = 0;
      guint64 size = 0;

      g_variant_unref (dict);
      if (!g_variant_dict_lookup (d, "name", "s", &name))
        continue;
      g_variant_dict_lookup (d, "id", "s", &id);
      g_variant_dict_lookup (d, "paths", "^a&s", &paths);
      g_variant_dict_lookup (d, "excludes", "^a&s", &excludes);
      g_variant_dict_lookup (d, "level", "s", &level);
      g_variant_dict_lookup (d, "enabled", "b", &enabled);
      g_variant_dict_lookup (d, "last-backup", "x", &last);
      g_variant_dict_lookup (d, "size", "t", &size);
      if (level != NULL)
        coffer_level_from_string (level, &lvl);

      item = coffer_category_item_new (name, paths);
      if (id != NULL && *id)
        item->id = g_strdup (id);
      if (excludes != NULL)
        {
          g_strfreev (item->excludes);
          item->excludes = g_strdupv ((char **) excludes);
        }
      item->level = lvl;
      item->enabled = enabled;
      item->last_backup = last;
      item->size = size;
      g_ptr_array_add (items, item);
    }
  g_list_store_splice (store, 0, g_list_model_get_n_items (G_LIST_MODEL (store)),
                       items->pdata, items->len);
}

void
coffer_category_items_save (GSettings *settings, GListModel *model)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (model, i);
      GVariantDict d;

      g_variant_dict_init (&d, NULL);
      g_variant_dict_insert (&d, "name", "s", item->name);
      g_variant_dict_insert (&d, "id", "s", item->id ? item->id : "");
      g_variant_dict_insert_value (&d, "paths", g_variant_new_strv ((const char * const *) item->paths, -1));
      g_variant_dict_insert_value (&d, "excludes", g_variant_new_strv ((const char * const *) item->excludes, -1));
      g_variant_dict_insert (&d, "level", "s", coffer_level_to_string (item->level));
      g_variant_dict_insert (&d, "enabled", "b", item->enabled);
      g_variant_dict_insert (&d, "last-backup", "x", item->last_backup);
      g_variant_dict_insert (&d, "size", "t", item->size);
      g_variant_builder_add_value (&builder, g_variant_dict_end (&d));
    }
  g_settings_set_value (settings, "categories", g_variant_builder_end (&builder));
}

/* ---- detection ---- */

static void
add_existing (GPtrArray *paths, const char *path)
{
  if (path != NULL && g_file_test (path, G_FILE_TEST_IS_DIR))
    for (guint i = 0; i < paths->len; i++)
      if (g_strcmp0 (g_ptr_array_index (paths, i), path) == 0)
        return;
  if (path != NULL && g_file_test (path, G_FILE_TEST_IS_DIR))
    g_ptr_array_add (paths, g_strdup (path));
}

static void
add_home (GPtrArray *paths, const char *relative)
{
  g_autofree char *path = g_build_filename (g_get_home_dir (), relative, NULL);
  add_existing (paths, path);
}

static void
add_category (GListStore *store, const char *name, GPtrArray *paths, gboolean always)
{
  g_autoptr(CofferCategoryItem) item = NULL;

  if (paths->len == 0 && !always)
    return;
  g_ptr_array_add (paths, NULL);
  item = coffer_category_item_new (name, (const char * const *) paths->pdata);
  item->enabled = paths->len > 1;
  g_list_store_append (store, item);
}

GListStore *
coffer_category_items_detect (void)
{
  GListStore *store = g_list_store_new (COFFER_TYPE_CATEGORY_ITEM);
  g_autoptr(GPtrArray) photos = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) documents = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) apps = g_ptr_array_new_with_free_func (g_free);
  const char *home = g_get_home_dir ();
  const char *pictures = g_get_user_special_dir (G_USER_DIRECTORY_PICTURES);
  const char *docs = g_get_user_special_dir (G_USER_DIRECTORY_DOCUMENTS);

  /* The special directories fall back to $HOME when unset: never back up the
   * whole home folder by accident. */
  if (g_strcmp0 (pictures, home) != 0)
    add_existing (photos, pictures);
  add_home (photos, "Pictures");
  if (g_strcmp0 (docs, home) != 0)
    add_existing (documents, docs);
  add_home (documents, "Documents");

  add_home (notes, ".local/share/bijiben");
  add_home (notes, ".var/app/org.gnome.Notes");
  add_home (notes, ".local/share/gnote");
  add_home (notes, ".var/app/org.gnome.Gnote");
  add_home (notes, ".local/share/notes");

  add_home (messages, ".thunderbird");
  add_home (messages, ".var/app/org.mozilla.Thunderbird/.thunderbird");
  add_home (messages, ".local/share/evolution");
  add_home (messages, ".var/app/org.gnome.Evolution/data/evolution");
  add_home (messages, ".config/Signal");
  add_home (messages, ".var/app/org.signal.Signal/config/Signal");

  add_home (apps, ".var/app");

  add_category (store, _("Photos"), photos, TRUE);
  add_category (store, _("Documents"), documents, TRUE);
  add_category (store, _("Notes"), notes, FALSE);
  add_category (store, _("Messages"), messages, FALSE);
  add_category (store, _("App Data"), apps, FALSE);

  /* App data may contain caches: skip them by default. */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (store)); i++)
    {
      g_autoptr(CofferCategoryItem) item = g_list_model_get_item (G_LIST_MODEL (store), i);
      g_strfreev (item->excludes);
      item->excludes = g_strsplit ("cache .cache Cache *.tmp", " ", -1);
    }
  return store;
}
