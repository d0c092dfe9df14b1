/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CofferEngine: the GObject, the runner that takes every operation to a
 * worker thread and back (see coffer-engine-private.h), ::progress, busy
 * and cancel, opening stores, and error sentences. The operations live in
 * coffer-engine-{setup,backup,browse,devices,remote}.c. */
#define G_LOG_DOMAIN "coffer-engine"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-engine-private.h"
#include "coffer-error.h"

G_DEFINE_FINAL_TYPE (CofferEngine, coffer_engine, G_TYPE_OBJECT)

enum { PROP_0, PROP_BUSY, PROP_REPOSITORY, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_PROGRESS, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- destinations and reports ---- */

CofferDestination *
coffer_destination_new (const char *location)
{
  CofferDestination *dest = g_new0 (CofferDestination, 1);
  dest->location = g_strdup (location);
  return dest;
}

CofferDestination *
coffer_destination_copy (const CofferDestination *dest)
{
  CofferDestination *copy = coffer_destination_new (dest->location);
  copy->user = g_strdup (dest->user);
  copy->secret = dest->secret ? coffer_secret_dup (dest->secret) : NULL;
  copy->s3_endpoint = g_strdup (dest->s3_endpoint);
  copy->s3_region = g_strdup (dest->s3_region);
  copy->bandwidth_limit = dest->bandwidth_limit;
  return copy;
}

void
coffer_destination_free (CofferDestination *dest)
{
  if (dest == NULL)
    return;
  g_free (dest->location);
  g_free (dest->user);
  g_clear_pointer (&dest->secret, coffer_secret_free);
  g_free (dest->s3_endpoint);
  g_free (dest->s3_region);
  g_free (dest);
}

void
coffer_backup_report_free (CofferBackupReport *report)
{
  if (report == NULL)
    return;
  g_clear_pointer (&report->snapshots, g_ptr_array_unref);
  g_clear_pointer (&report->messages, g_ptr_array_unref);
  g_clear_error (&report->first_error);
  g_free (report);
}

/* ---- the runner ---- */

typedef struct
{
  CofferRepository *repository;      /* strong, may be NULL */
  CofferEngineCall  call;
  gpointer          data;
  GDestroyNotify    data_free;
} Run;

static void
run_free (gpointer data)
{
  Run *run = data;

  g_clear_object (&run->repository);
  if (run->data != NULL && run->data_free != NULL)
    run->data_free (run->data);
  g_free (run);
}

/* A task for an operation. Returns NULL, the task already completed with
 * an error, when what it needs is not there. */
GTask *
_coffer_engine_task_new (CofferEngine *self, gpointer source_tag, CofferEngineNeeds needs,
                         GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Run *run = g_new0 (Run, 1);
  CofferRepository *repository = NULL;

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, run, run_free);
  switch (needs)
    {
    case COFFER_ENGINE_NEEDS_NOTHING:
      return task;
    case COFFER_ENGINE_NEEDS_REPOSITORY:
      repository = self->repository;
      if (repository == NULL)
        g_task_return_new_error (task, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND,
                                 "%s", _("The backup location is not open yet."));
      break;
    case COFFER_ENGINE_NEEDS_JOINING:
      repository = self->joining;
      if (repository == NULL)
        g_task_return_new_error (task, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, "%s",
                                 _("This computer has not asked to join a backup yet."));
      break;
    default:
      g_assert_not_reached ();
    }
  if (repository == NULL)
    {
      g_object_unref (task);
      return NULL;
    }
  run->repository = g_object_ref (repository);
  return task;
}

static void
run_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Run *run = task_data;
  GError *error = NULL;

  if (!run->call (run->repository, run->data, cancellable, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* Runs call with data (owned by the task from now on, freed with
 * data_free) in a worker thread and drops the caller's reference to task.
 * The task's result is a boolean: finish functions call
 * g_task_propagate_boolean and then read their values from
 * _coffer_engine_task_get_data. */
void
_coffer_engine_task_run (GTask *task, CofferEngineCall call, gpointer data, GDestroyNotify data_free)
{
  Run *run = g_task_get_task_data (task);

  run->call = call;
  run->data = data;
  run->data_free = data_free;
  g_task_run_in_thread (task, run_thread);
  g_object_unref (task);
}

/* The operation's data, or NULL for a task that failed before it ran. */
gpointer
_coffer_engine_task_get_data (GAsyncResult *result)
{
  Run *run = g_task_get_task_data (G_TASK (result));

  return run != NULL ? run->data : NULL;
}

/* ---- progress, marshalled to the engine's main context ---- */

typedef struct
{
  CofferEngine  *engine;
  CofferProgress progress;
  char          *operation;
  char          *category;
  char          *current_file;
} ProgressIdle;

static void
progress_idle_free (gpointer data)
{
  ProgressIdle *idle = data;
  g_object_unref (idle->engine);
  g_free (idle->operation);
  g_free (idle->category);
  g_free (idle->current_file);
  g_free (idle);
}

static gboolean
progress_idle_cb (gpointer data)
{
  ProgressIdle *idle = data;
  g_signal_emit (idle->engine, signals[SIGNAL_PROGRESS], 0, &idle->progress);
  return G_SOURCE_REMOVE;
}

/* A CofferProgressFunc for the core (user_data: the engine): emits
 * ::progress on the engine's main context. Safe in any thread. */
void
_coffer_engine_progress_cb (const CofferProgress *progress, gpointer user_data)
{
  CofferEngine *self = user_data;
  ProgressIdle *idle = g_new0 (ProgressIdle, 1);

  idle->engine = g_object_ref (self);
  idle->progress = *progress;
  idle->operation = g_strdup (progress->operation);
  idle->category = g_strdup (progress->category);
  idle->current_file = g_strdup (progress->current_file);
  idle->progress.operation = idle->operation;
  idle->progress.category = idle->category;
  idle->progress.current_file = idle->current_file;
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, progress_idle_cb, idle,
                              progress_idle_free);
}

/* ---- store opening ---- */

/* Opens the store of a destination (no traffic yet). Credentials typed in
 * this session go to coffer_store_open in its options, so that secrets
 * never pass through the process environment (setenv is not thread-safe);
 * without them it finds them in the keyring (attribute "repository" = the
 * location) or the environment. Any thread. */
CofferStore *
_coffer_engine_open_store (const CofferDestination *dest, guint max_tries, GError **error)
{
  CofferStoreOptions options = { 0 };

  options.s3_endpoint = dest->s3_endpoint && *dest->s3_endpoint ? dest->s3_endpoint : NULL;
  options.s3_region = dest->s3_region && *dest->s3_region ? dest->s3_region : NULL;
  options.s3_path_style = options.s3_endpoint != NULL;
  options.bandwidth_limit = dest->bandwidth_limit;
  options.user = dest->user;
  options.secret = dest->secret;
  options.max_tries = max_tries;

  if (dest->location == NULL || *dest->location == '\0')
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID, "%s",
                   _("No backup location is set."));
      return NULL;
    }
  return coffer_store_open (dest->location, &options, error);
}

/* Opens the repository at dest (no keys yet) and gives it password, if
 * any. In a worker thread. */
CofferRepository *
_coffer_engine_open_repository (const CofferDestination *dest, const CofferSecret *password,
                                GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStore) store = _coffer_engine_open_store (dest, 0, error);
  CofferRepository *repository;

  if (store == NULL)
    return NULL;
  repository = coffer_repository_open (store, cancellable, error);
  if (repository != NULL && password != NULL)
    coffer_repository_set_password (repository, password);
  return repository;
}

/* ---- GObject ---- */

static void
coffer_engine_dispose (GObject *object)
{
  CofferEngine *self = COFFER_ENGINE (object);

  if (self->operation_cancellable != NULL)
    g_cancellable_cancel (self->operation_cancellable);
  g_clear_object (&self->operation_cancellable);
  g_clear_object (&self->repository);
  g_clear_object (&self->joining);
  g_clear_pointer (&self->password, coffer_secret_free);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (coffer_engine_parent_class)->dispose (object);
}

static void
coffer_engine_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CofferEngine *self = COFFER_ENGINE (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    case PROP_REPOSITORY:
      g_value_set_object (value, self->repository);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
coffer_engine_class_init (CofferEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = coffer_engine_dispose;
  object_class->get_property = coffer_engine_get_property;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_REPOSITORY] =
    g_param_spec_object ("repository", NULL, NULL, COFFER_TYPE_REPOSITORY,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* (const CofferProgress *progress): valid only during the emission. */
  signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
coffer_engine_init (CofferEngine *self)
{
  self->context = g_main_context_ref_thread_default ();
}

CofferEngine *
coffer_engine_new (void)
{
  return g_object_new (COFFER_TYPE_ENGINE, NULL);
}

CofferRepository *
coffer_engine_get_repository (CofferEngine *self)
{
  g_return_val_if_fail (COFFER_IS_ENGINE (self), NULL);
  return self->repository;
}

gboolean
coffer_engine_get_busy (CofferEngine *self)
{
  g_return_val_if_fail (COFFER_IS_ENGINE (self), FALSE);
  return self->busy;
}

static void
set_busy (CofferEngine *self, gboolean busy)
{
  if (self->busy == !!busy)
    return;
  self->busy = !!busy;
  if (!busy)
    g_clear_object (&self->operation_cancellable);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

/* Makes repository the engine's open repository (notifies ::repository). */
void
_coffer_engine_set_repository (CofferEngine *self, CofferRepository *repository)
{
  if (g_set_object (&self->repository, repository))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REPOSITORY]);
}

void
coffer_engine_cancel (CofferEngine *self)
{
  g_return_if_fail (COFFER_IS_ENGINE (self));
  if (self->operation_cancellable != NULL)
    g_cancellable_cancel (self->operation_cancellable);
}

const CofferSecret *
coffer_engine_get_password (CofferEngine *self)
{
  g_return_val_if_fail (COFFER_IS_ENGINE (self), NULL);
  return self->password;
}

void
coffer_engine_set_password (CofferEngine *self, const CofferSecret *password)
{
  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_clear_pointer (&self->password, coffer_secret_free);
  if (password != NULL)
    {
      self->password = coffer_secret_dup (password);
      if (self->repository != NULL)
        coffer_repository_set_password (self->repository, password);
    }
}

void
coffer_engine_set_retention (CofferEngine *self, const CofferRetention *retention)
{
  g_return_if_fail (COFFER_IS_ENGINE (self));
  if (retention != NULL)
    self->retention = *retention;
  else
    memset (&self->retention, 0, sizeof self->retention);
}

void
coffer_engine_close (CofferEngine *self)
{
  g_return_if_fail (COFFER_IS_ENGINE (self));
  coffer_engine_cancel (self);
  _coffer_engine_set_repository (self, NULL);
}

/* ---- backups, restores and re-encryption: one at a time ---- */

/* Starts a backup, restore or re-encryption on the open repository: one at
 * a time, cancelled with coffer_engine_cancel. Returns NULL when the task
 * has already been completed with an error. */
GTask *
_coffer_engine_exclusive_task_new (CofferEngine *self, gpointer source_tag, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  GTask *task;

  if (self->busy)
    {
      g_task_report_new_error (self, callback, user_data, source_tag,
                               COFFER_REPO_ERROR, COFFER_REPO_ERROR_BUSY, "%s",
                               _("A backup or restore is already running."));
      return NULL;
    }
  g_set_object (&self->operation_cancellable, g_cancellable_new ());
  g_object_unref (self->operation_cancellable);
  task = _coffer_engine_task_new (self, source_tag, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  self->operation_cancellable, callback, user_data);
  if (task != NULL)
    set_busy (self, TRUE);
  return task;
}

/* Ends what _coffer_engine_exclusive_task_new started; call it first in
 * the finish function. A task reported early (busy) carries no data and
 * must not clear busy. */
void
_coffer_engine_exclusive_task_done (CofferEngine *self, GAsyncResult *result)
{
  if (g_task_get_task_data (G_TASK (result)) != NULL)
    set_busy (self, FALSE);
}

/* ---- errors ---- */

char *
coffer_engine_describe_error (const GError *error)
{
  if (error == NULL)
    return g_strdup (_("An unknown error occurred."));

  if (error->domain == COFFER_STORE_ERROR)
    {
      switch ((CofferStoreError) error->code)
        {
        case COFFER_STORE_ERROR_AUTH:
          return g_strdup_printf (_("The server refused the user name or password: %s"), error->message);
        case COFFER_STORE_ERROR_NO_SPACE:
          return g_strdup_printf (_("There is no space left at the backup location: %s"), error->message);
        case COFFER_STORE_ERROR_NETWORK:
          return g_strdup_printf (_("The backup location could not be reached: %s"), error->message);
        case COFFER_STORE_ERROR_UNREACHABLE:
          return g_strdup_printf (_("The backup location is not connected: %s"), error->message);
        case COFFER_STORE_ERROR_READ_ONLY:
          return g_strdup_printf (_("The backup location does not allow writing: %s"), error->message);
        case COFFER_STORE_ERROR_TLS:
          return g_strdup_printf (_("The server’s certificate is not trusted: %s"), error->message);
        case COFFER_STORE_ERROR_NOT_FOUND:
        case COFFER_STORE_ERROR_EXISTS:
        case COFFER_STORE_ERROR_SERVER:
        case COFFER_STORE_ERROR_INVALID:
        case COFFER_STORE_ERROR_FAILED:
        default:
          break;
        }
    }
  else if (error->domain == COFFER_REPO_ERROR)
    {
      switch ((CofferRepoError) error->code)
        {
        case COFFER_REPO_ERROR_WRONG_PASSWORD:
          return g_strdup (_("The backup password is not correct."));
        case COFFER_REPO_ERROR_WRONG_RECOVERY_KEY:
          return g_strdup (_("This is not the recovery key of this backup."));
        case COFFER_REPO_ERROR_BUSY:
          return g_strdup (_("Another backup of this category is running on this computer."));
        case COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY:
        case COFFER_REPO_ERROR_NOT_FOUND:
        case COFFER_REPO_ERROR_EXISTS:
        case COFFER_REPO_ERROR_UNSUPPORTED_VERSION:
        case COFFER_REPO_ERROR_NO_KEY:
        case COFFER_REPO_ERROR_CORRUPT:
        case COFFER_REPO_ERROR_NO_CATEGORY:
        case COFFER_REPO_ERROR_NO_SNAPSHOT:
        case COFFER_REPO_ERROR_ROLLED_BACK:
        case COFFER_REPO_ERROR_INVALID:
        case COFFER_REPO_ERROR_NEWER_FILE:
        case COFFER_REPO_ERROR_FAILED:
        default:
          break;
        }
    }
  /* The core writes complete sentences. */
  return g_strdup (error->message);
}
