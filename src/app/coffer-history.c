/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-history"

#include "coffer-history.h"

struct _CofferHistory
{
  GObject  parent_instance;
  char    *path;
  GArray  *entries;   /* CofferHistoryEntry, newest first */
};

G_DEFINE_FINAL_TYPE (CofferHistory, coffer_history, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
entry_clear (gpointer data)
{
  CofferHistoryEntry *entry = data;
  g_clear_pointer (&entry->summary, g_free);
  g_clear_pointer (&entry->details, g_free);
}

static void
coffer_history_finalize (GObject *object)
{
  CofferHistory *self = COFFER_HISTORY (object);
  g_free (self->path);
  g_array_unref (self->entries);
  G_OBJECT_CLASS (coffer_history_parent_class)->finalize (object);
}

static void
coffer_history_class_init (CofferHistoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = coffer_history_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
coffer_history_init (CofferHistory *self)
{
  self->entries = g_array_new (FALSE, TRUE, sizeof (CofferHistoryEntry));
  g_array_set_clear_func (self->entries, entry_clear);
}

static void
load (CofferHistory *self)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_auto(GStrv) groups = NULL;

  if (!g_key_file_load_from_file (kf, self->path, G_KEY_FILE_NONE, NULL))
    return;
  groups = g_key_file_get_groups (kf, NULL);
  for (guint i = 0; groups[i] != NULL && self->entries->len < COFFER_HISTORY_MAX; i++)
    {
      CofferHistoryEntry entry = { 0 };
      entry.start_time = g_key_file_get_int64 (kf, groups[i], "start", NULL);
      entry.end_time = g_key_file_get_int64 (kf, groups[i], "end", NULL);
      entry.success = g_key_file_get_boolean (kf, groups[i], "success", NULL);
      entry.summary = g_key_file_get_string (kf, groups[i], "summary", NULL);
      entry.details = g_key_file_get_string (kf, groups[i], "details", NULL);
      if (entry.summary == NULL)
        entry.summary = g_strdup ("");
      g_array_append_val (self->entries, entry);
    }
}

static void
save (CofferHistory *self)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (self->path);

  for (guint i = 0; i < self->entries->len; i++)
    {
      const CofferHistoryEntry *e = &g_array_index (self->entries, CofferHistoryEntry, i);
      g_autofree char *group = g_strdup_printf ("run-%03u", i);
      g_key_file_set_int64 (kf, group, "start", e->start_time);
      g_key_file_set_int64 (kf, group, "end", e->end_time);
      g_key_file_set_boolean (kf, group, "success", e->success);
      g_key_file_set_string (kf, group, "summary", e->summary);
      if (e->details != NULL)
        g_key_file_set_string (kf, group, "details", e->details);
    }
  g_mkdir_with_parents (dir, 0700);
  if (!g_key_file_save_to_file (kf, self->path, &error))
    g_debug ("Could not save the history: %s", error->message);
}

CofferHistory *
coffer_history_new (const char *path)
{
  CofferHistory *self = g_object_new (COFFER_TYPE_HISTORY, NULL);

  self->path = path ? g_strdup (path)
                    : g_build_filename (g_get_user_state_dir (), "coffer", "history.ini", NULL);
  load (self);
  return self;
}

guint
coffer_history_get_n_entries (CofferHistory *self)
{
  g_return_val_if_fail (COFFER_IS_HISTORY (self), 0);
  return self->entries->len;
}

const CofferHistoryEntry *
coffer_history_get_entry (CofferHistory *self, guint index)
{
  g_return_val_if_fail (COFFER_IS_HISTORY (self), NULL);
  g_return_val_if_fail (index < self->entries->len, NULL);
  return &g_array_index (self->entries, CofferHistoryEntry, index);
}

void
coffer_history_add (CofferHistory *self, gint64 start_time, gint64 end_time,
                    gboolean success, const char *summary, const char *details)
{
  CofferHistoryEntry entry = { start_time, end_time, success, g_strdup (summary),
                               details && *details ? g_strdup (details) : NULL };

  g_return_if_fail (COFFER_IS_HISTORY (self));
  g_array_prepend_val (self->entries, entry);
  if (self->entries->len > COFFER_HISTORY_MAX)
    g_array_set_size (self->entries, COFFER_HISTORY_MAX);
  save (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}
