/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the files of CofferEngine share (Text Editor's editor-window-private.h
 * pattern): the struct, and the runner that takes an operation to a worker
 * thread and back.
 *
 *   coffer-engine.c          the GObject, the runner, ::progress, busy/cancel,
 *                            opening stores, error sentences
 *   coffer-engine-setup.c    test connection, server credentials in the
 *                            keyring, create, open, ways in on a new
 *                            computer (recovery key, join by code)
 *   coffer-engine-backup.c   categories, backup, re-encryption
 *   coffer-engine-browse.c   snapshots, list folder, search, restore
 *   coffer-engine-devices.c  recovery key, emergency kit and password,
 *                            devices and join approval
 *   coffer-engine-shares.c   recovery contacts (shares of the recovery key)
 *   coffer-engine-remote.c   cloud sign-in and rclone remotes (no repository)
 *
 * An operation, start to end:
 *
 *   typedef struct { char *category_id; CofferLevel level; } SetLevelData;
 *   COFFER_ENGINE_DEFINE_DATA (SetLevelData, set_level_data)
 *   static void set_level_data_clear (SetLevelData *data) { g_free (data->category_id); }
 *
 *   static gboolean
 *   set_level_call (CofferRepository *repository, gpointer task_data,
 *                   GCancellable *cancellable, GError **error)      // worker thread
 *   { SetLevelData *data = task_data; return coffer_repository_set_level (…); }
 *
 *   _async:  task = _coffer_engine_task_new (self, source_tag, COFFER_ENGINE_NEEDS_REPOSITORY,
 *                                            cancellable, callback, user_data);
 *            if (task == NULL) return;        // already completed with an error
 *            data = set_level_data_new (); …
 *            _coffer_engine_task_run (task, set_level_call, data, set_level_data_free);
 *   _finish: if (!g_task_propagate_boolean (G_TASK (result), error)) return …;
 *            then read out-values from _coffer_engine_task_get_data (result).
 *
 * The call must not touch the engine (it runs in a worker thread): what it
 * needs is copied into its data, and it reports progress with
 * _coffer_engine_progress_cb (user_data: an engine reference held by the
 * data). Only _async and _finish, on the engine's main context, read or
 * change the struct below. */

#include "coffer-engine.h"

G_BEGIN_DECLS

struct _CofferEngine
{
  GObject           parent_instance;

  GMainContext     *context;
  CofferRepository *repository;
  CofferRepository *joining;                 /* opened, join requested, no keys yet */
  CofferSecret     *password;
  GCancellable     *operation_cancellable;   /* backup or restore */
  CofferRetention   retention;
  guint             busy : 1;
};

/* Each operation's own task data: a small struct with its arguments and
 * the values its finish function reads. COFFER_ENGINE_DEFINE_DATA (Thing,
 * thing) declares thing_clear (Thing *), which the file writes (free the
 * members), and defines thing_new () (zeroed), thing_free (gpointer) and
 * the g_autoptr cleanup. */
#define COFFER_ENGINE_DEFINE_DATA(Type, type)                              \
  static void type##_clear (Type *self);                                   \
  static inline Type *                                                     \
  type##_new (void)                                                        \
  {                                                                        \
    return g_new0 (Type, 1);                                               \
  }                                                                        \
  static inline void                                                       \
  type##_free (gpointer data)                                              \
  {                                                                        \
    if (data == NULL)                                                      \
      return;                                                              \
    type##_clear ((Type *) data);                                          \
    g_free (data);                                                         \
  }                                                                        \
  G_DEFINE_AUTOPTR_CLEANUP_FUNC (Type, type##_free)

/* What an operation works on, fixed when its task is made. */
typedef enum
{
  COFFER_ENGINE_NEEDS_NOTHING,     /* a destination not open here: repository is NULL */
  COFFER_ENGINE_NEEDS_REPOSITORY,  /* the open repository; fails at once without one */
  COFFER_ENGINE_NEEDS_JOINING,     /* the repository this computer asked to join */
} CofferEngineNeeds;

/* The blocking part of an operation, run in a worker thread: repository as
 * fixed by CofferEngineNeeds (a reference held for the run), data the
 * operation's task data. Returns FALSE with error set on failure; values
 * for the finish function go into data. */
typedef gboolean (*CofferEngineCall) (CofferRepository *repository, gpointer data,
                                      GCancellable *cancellable, GError **error);

/* Makes a task for an operation; with NEEDS_REPOSITORY or NEEDS_JOINING
 * the call gets (a reference to) that repository. Returns NULL, the task
 * already completed with an error, when it is not there. */
GTask   *_coffer_engine_task_new      (CofferEngine *self, gpointer source_tag, CofferEngineNeeds needs,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
/* Runs call with data (owned by the task from now on, freed with
 * data_free) in a worker thread and drops the caller's reference to task.
 * The task's result is a boolean: finish functions call
 * g_task_propagate_boolean and then read their values from the data. */
void     _coffer_engine_task_run      (GTask *task, CofferEngineCall call, gpointer data,
                                       GDestroyNotify data_free);
/* The operation's data, or NULL for a task that was completed before it ran. */
gpointer _coffer_engine_task_get_data (GAsyncResult *result);

/* Backups, restores and re-encryption on the open repository: one at a
 * time, cancelled with coffer_engine_cancel (the task's cancellable), the
 * engine busy meanwhile. Returns NULL when the task was already completed
 * with an error (busy, not open). _done goes first in the finish function. */
GTask   *_coffer_engine_exclusive_task_new  (CofferEngine *self, gpointer source_tag,
                                             GAsyncReadyCallback callback, gpointer user_data);
void     _coffer_engine_exclusive_task_done (CofferEngine *self, GAsyncResult *result);

/* A CofferProgressFunc for the core (user_data: the engine): emits
 * ::progress on the engine's main context. Any thread. */
void     _coffer_engine_progress_cb   (const CofferProgress *progress, gpointer user_data);

/* Makes repository the engine's open repository (notifies ::repository). */
void     _coffer_engine_set_repository (CofferEngine *self, CofferRepository *repository);

/* In a worker thread: the store of a destination (no traffic yet;
 * max_tries as in CofferStoreOptions, 0 = default), and the repository
 * there (no keys yet; password given to it when not NULL). */
CofferStore      *_coffer_engine_open_store      (const CofferDestination *dest, guint max_tries,
                                                  GError **error);
CofferRepository *_coffer_engine_open_repository (const CofferDestination *dest,
                                                  const CofferSecret *password,
                                                  GCancellable *cancellable, GError **error);

G_END_DECLS
