/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "coffer-category.h"

G_BEGIN_DECLS

/* CofferCategoryItem: a category as the app shows and remembers it
 * (GSettings "categories"). enabled = protected, that is backed up; a
 * category that was never enabled has no id and exists only here. */
#define COFFER_TYPE_CATEGORY_ITEM (coffer_category_item_get_type ())
G_DECLARE_FINAL_TYPE (CofferCategoryItem, coffer_category_item, COFFER, CATEGORY_ITEM, GObject)

CofferCategoryItem *coffer_category_item_new (const char *name, const char * const *paths);

const char         *coffer_category_item_get_id          (CofferCategoryItem *self);
void                coffer_category_item_set_id          (CofferCategoryItem *self, const char *id);
const char         *coffer_category_item_get_name        (CofferCategoryItem *self);
const char * const *coffer_category_item_get_paths       (CofferCategoryItem *self);
void                coffer_category_item_set_paths       (CofferCategoryItem *self, const char * const *paths);
const char * const *coffer_category_item_get_excludes    (CofferCategoryItem *self);
CofferLevel         coffer_category_item_get_level       (CofferCategoryItem *self);
void                coffer_category_item_set_level       (CofferCategoryItem *self, CofferLevel level);
gboolean            coffer_category_item_get_enabled     (CofferCategoryItem *self);
void                coffer_category_item_set_enabled     (CofferCategoryItem *self, gboolean enabled);
gint64              coffer_category_item_get_last_backup (CofferCategoryItem *self);
guint64             coffer_category_item_get_size        (CofferCategoryItem *self);
void                coffer_category_item_set_last_backup (CofferCategoryItem *self, gint64 time, guint64 size);
/* A one-line description: "Standard · Last backup 2 hours ago · 1.2 GB". */
char               *coffer_category_item_describe        (CofferCategoryItem *self);

/* (Re)fills store from / writes it to the "categories" key. */
void coffer_category_items_load (GSettings *settings, GListStore *store);
void coffer_category_items_save (GSettings *settings, GListModel *model);
/* The categories found on this computer (Pictures, Documents, notes and
 * message stores of common apps, Flatpak app data), for the assistant. */
GListStore *coffer_category_items_detect (void);

/* "2 hours ago", "yesterday", "never" */
char *coffer_format_time_ago (gint64 unix_time);
/* What to leave out of a folder backed up elsewhere so that it lands in
 * the same place of this home folder: the old home ("/home/alice",
 * "/var/home/alice", "/Users/alice", "/root"), else the folder it was in.
 * "/home/alice/Pictures" → "/home/alice" → ~/Pictures. */
char *coffer_old_home_of (const char *root);

G_END_DECLS
