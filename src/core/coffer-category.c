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
  g_free (category);
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
