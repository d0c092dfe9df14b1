/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <fnmatch.h>

#include "coffer-category.h"

G_DEFINE_BOXED_TYPE (CofferCategory, coffer_category, coffer_category_copy, coffer_category_free)

const char *
coffer_level_to_string (CofferLevel level)
{
  return level == COFFER_LEVEL_ADVANCED ? "advanced" : "standard";
}

gboolean
coffer_level_from_string (const char *str, CofferLevel *level)
{
  if (g_ascii_strcasecmp (str, "standard") == 0)
    *level = COFFER_LEVEL_STANDARD;
  else if (g_ascii_strcasecmp (str, "advanced") == 0)
    *level = COFFER_LEVEL_ADVANCED;
  else
    return FALSE;
  return TRUE;
}

CofferCategory *
coffer_category_copy (const CofferCategory *category)
{
  CofferCategory *copy = g_new0 (CofferCategory, 1);

  copy->id = g_strdup (category->id);
  copy->name = g_strdup (category->name);
  copy->level = category->level;
  copy->paths = g_strdupv (category->paths);
  copy->excludes = g_strdupv (category->excludes);
  copy->unlocked = category->unlocked;
  copy->epoch = category->epoch;
  copy->other_folders = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_category_folders_free);
  for (guint i = 0; category->other_folders != NULL && i < category->other_folders->len; i++)
    {
      const CofferCategoryFolders *f = g_ptr_array_index (category->other_folders, i);
      g_ptr_array_add (copy->other_folders,
                       coffer_category_folders_new (f->device_id, (const char * const *) f->paths,
                                                    (const char * const *) f->excludes));
    }
  return copy;
}

void
coffer_category_free (CofferCategory *category)
{
  if (category == NULL)
    return;
  g_free (category->id);
  g_free (category->name);
  g_strfreev (category->paths);
  g_strfreev (category->excludes);
  g_clear_pointer (&category->other_folders, g_ptr_array_unref);
  g_free (category);
}

CofferCategoryFolders *
coffer_category_folders_new (const char *device_id, const char * const *paths, const char * const *excludes)
{
  CofferCategoryFolders *folders = g_new0 (CofferCategoryFolders, 1);

  folders->device_id = g_strdup (device_id ? device_id : "");
  folders->paths = paths ? g_strdupv ((char **) paths) : g_new0 (char *, 1);
  folders->excludes = excludes ? g_strdupv ((char **) excludes) : g_new0 (char *, 1);
  return folders;
}

void
coffer_category_folders_free (CofferCategoryFolders *folders)
{
  if (folders == NULL)
    return;
  g_free (folders->device_id);
  g_strfreev (folders->paths);
  g_strfreev (folders->excludes);
  g_free (folders);
}

gboolean
coffer_category_is_excluded (const CofferCategory *category, const char *path, const char *basename)
{
  if (category->excludes == NULL)
    return FALSE;
  for (guint i = 0; category->excludes[i] != NULL; i++)
    {
      const char *pattern = category->excludes[i];

      if (pattern[0] == '/')
        {
          gsize n = strlen (pattern);
          /* An absolute folder excludes everything below it too. */
          if (fnmatch (pattern, path, FNM_PATHNAME | FNM_PERIOD) == 0)
            return TRUE;
          if (g_str_has_prefix (path, pattern) && (path[n] == '/' || path[n] == '\0'))
            return TRUE;
        }
      else if (fnmatch (pattern, basename, FNM_PERIOD) == 0)
        return TRUE;
    }
  return FALSE;
}
