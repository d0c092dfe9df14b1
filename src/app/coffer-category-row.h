/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>
#include "coffer-application.h"
#include "coffer-category-item.h"

G_BEGIN_DECLS

/* CofferCategoryRow: one category in the main window: protected switch,
 * protection level (with confirmation), folders, last backup and size. */
#define COFFER_TYPE_CATEGORY_ROW (coffer_category_row_get_type ())
G_DECLARE_FINAL_TYPE (CofferCategoryRow, coffer_category_row, COFFER, CATEGORY_ROW, AdwExpanderRow)

CofferCategoryRow  *coffer_category_row_new      (CofferApplication *app, CofferCategoryItem *item);
CofferCategoryItem *coffer_category_row_get_item (CofferCategoryRow *self);
/* Asks for confirmation, then changes the level (the UI tests answer the
 * dialog through coffer_category_row_get_dialog). */
void                coffer_category_row_request_level (CofferCategoryRow *self, CofferLevel level);
GtkWidget          *coffer_category_row_get_dialog    (CofferCategoryRow *self);
/* TRUE while "Re-encrypt Older Backups" is offered (an Advanced category
 * with backups under an older key epoch). */
gboolean            coffer_category_row_get_reencrypt_offered (CofferCategoryRow *self);

G_END_DECLS
