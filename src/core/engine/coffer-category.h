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

/* The folders of a category on one computer (docs/FORMAT.md §3.5
 * "folders"): a category is what is protected, its folders are where it
 * lives on each computer. */
typedef struct
{
  char  *device_id;  /* hex; "" for the first computer of a category described
                      * before folders were kept per computer (its id unknown) */
  char **paths;
  char **excludes;
} CofferCategoryFolders;

CofferCategoryFolders *coffer_category_folders_new  (const char *device_id, const char * const *paths,
                                                     const char * const *excludes);
void                   coffer_category_folders_free (CofferCategoryFolders *folders);

/* A category as known to this session. When its keys could not be opened
 * (an Advanced category with only the password) unlocked is FALSE and name,
 * paths and excludes are NULL. */
typedef struct
{
  char        *id;        /* 32 hex characters */
  char        *name;
  CofferLevel  level;
  char       **paths;     /* absolute paths of the folders backed up on THIS computer
                           * (empty until this computer's folders are set) */
  char       **excludes;  /* this computer's glob patterns (matched against full path and base name) */
  gboolean     unlocked;
  guint32      epoch;     /* newest key epoch */
  /* The folders of the other computers (CofferCategoryFolders), for showing
   * and restoring; never backed up from here. Never NULL when unlocked. */
  GPtrArray   *other_folders;
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
