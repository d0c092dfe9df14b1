/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum
{
  COFFER_LEVEL_STANDARD = 0,  /* password envelope + account envelope */
  COFFER_LEVEL_ADVANCED = 1,  /* account envelope only (end-to-end) */
} CofferLevel;

const char *coffer_level_to_string   (CofferLevel level);   /* "standard" / "advanced" */
gboolean    coffer_level_from_string (const char *str, CofferLevel *level);

/* A category as known to this session. When its keys could not be opened
 * (an Advanced category with only the password) unlocked is FALSE and name,
 * paths and excludes are NULL. */
typedef struct
{
  char        *id;        /* 32 hex characters */
  char        *name;
  CofferLevel  level;
  char       **paths;     /* absolute paths of the folders backed up */
  char       **excludes;  /* glob patterns (matched against full path and base name) */
  gboolean     unlocked;
  guint32      epoch;     /* newest key epoch */
} CofferCategory;

#define COFFER_TYPE_CATEGORY (coffer_category_get_type ())
GType           coffer_category_get_type (void);
CofferCategory *coffer_category_copy (const CofferCategory *category);
void            coffer_category_free (CofferCategory *category);
/* TRUE when path (absolute) is excluded by the category's patterns. */
gboolean        coffer_category_is_excluded (const CofferCategory *category,
                                             const char *path, const char *basename);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CofferCategory, coffer_category_free)

G_END_DECLS
