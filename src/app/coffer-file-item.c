/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-file-item"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-file-item.h"

struct _CofferFileItem
{
  GObject  parent_instance;
  char    *path;
  char    *name;
  gboolean is_dir;
  gboolean known;
  guint64  size;
  gint64   mtime;
};

G_DEFINE_FINAL_TYPE (CofferFileItem, coffer_file_item, G_TYPE_OBJECT)

static void
coffer_file_item_finalize (GObject *object)
{
  CofferFileItem *self = COFFER_FILE_ITEM (object);
  g_free (self->path);
  g_free (self->name);
  G_OBJECT_CLASS (coffer_file_item_parent_class)->finalize (object);
}

static void
coffer_file_item_class_init (CofferFileItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = coffer_file_item_finalize;
}

static void
coffer_file_item_init (CofferFileItem *self)
{
}

CofferFileItem *
coffer_file_item_new (const char *path, const CofferTreeEntry *entry)
{
  CofferFileItem *self = g_object_new (COFFER_TYPE_FILE_ITEM, NULL);

  self->path = g_strdup (path);
  self->name = g_filename_display_name (entry->name);
  self->is_dir = entry->type == COFFER_NODE_DIR;
  self->size = entry->size;
  self->mtime = entry->mtime_ns / 1000000000;
  self->known = TRUE;
  return self;
}

CofferFileItem *
coffer_file_item_new_for_search (const char *path, const CofferTreeEntry *entry)
{
  CofferFileItem *self = coffer_file_item_new (path, entry);
  const char *home = g_get_home_dir ();
  gsize len = strlen (home);

  g_free (self->name);
  if (g_str_has_prefix (path, home) && path[len] == '/')
    {
      g_autofree char *relative = g_strconcat ("~", path + len, NULL);
      self->name = g_filename_display_name (relative);
    }
  else
    self->name = g_filename_display_name (path);
  return self;
}

const char *coffer_file_item_get_path (CofferFileItem *self) { return self->path; }
const char *coffer_file_item_get_name (CofferFileItem *self) { return self->name; }
gboolean coffer_file_item_is_dir (CofferFileItem *self) { return self->is_dir; }
guint64 coffer_file_item_get_size (CofferFileItem *self) { return self->size; }
gint64 coffer_file_item_get_mtime (CofferFileItem *self) { return self->mtime; }

char *
coffer_file_item_describe_size (CofferFileItem *self)
{
  if (!self->known)
    return g_strdup ("");
  if (self->is_dir)
    return g_strdup ("—");
  return g_format_size (self->size);
}

char *
coffer_file_item_describe_mtime (CofferFileItem *self)
{
  g_autoptr(GDateTime) dt = NULL;

  if (!self->known || self->mtime == 0)
    return g_strdup ("");
  dt = g_date_time_new_from_unix_local (self->mtime);
  return g_date_time_format (dt, "%x %H:%M");
}

GIcon *
coffer_file_item_get_icon (CofferFileItem *self)
{
  g_autofree char *type = NULL;

  if (self->is_dir)
    return g_themed_icon_new ("folder-symbolic");
  type = g_content_type_guess (self->name, NULL, 0, NULL);
  return g_content_type_get_symbolic_icon (type);
}
