/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "coffer-tree.h"

G_BEGIN_DECLS

/* CofferFileItem: one entry of a folder inside a snapshot, for list views. */
#define COFFER_TYPE_FILE_ITEM (coffer_file_item_get_type ())
G_DECLARE_FINAL_TYPE (CofferFileItem, coffer_file_item, COFFER, FILE_ITEM, GObject)

CofferFileItem *coffer_file_item_new (const char *path, const CofferTreeEntry *entry);
/* A search result: shown with its whole path (home folder as "~"). */
CofferFileItem *coffer_file_item_new_for_search (const char *path, const CofferTreeEntry *entry);

const char *coffer_file_item_get_path       (CofferFileItem *self);   /* absolute, inside the snapshot */
const char *coffer_file_item_get_name       (CofferFileItem *self);   /* for display (UTF-8) */
gboolean    coffer_file_item_is_dir         (CofferFileItem *self);
guint64     coffer_file_item_get_size       (CofferFileItem *self);
gint64      coffer_file_item_get_mtime      (CofferFileItem *self);   /* unix seconds, 0 unknown */
char       *coffer_file_item_describe_size  (CofferFileItem *self);
char       *coffer_file_item_describe_mtime (CofferFileItem *self);
GIcon      *coffer_file_item_get_icon       (CofferFileItem *self);

G_END_DECLS
