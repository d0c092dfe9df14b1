/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "coffer-engine"

#include <string.h>
#include <glib/gi18n.h>

#include "coffer-engine.h"
#include "coffer-repository-shares.h"
#include "coffer-emergency-kit.h"
#include "coffer-file-item.h"
#include "coffer-error.h"
#include "coffer-recovery-key.h"
#include "coffer-store-private.h"

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

/* ---- jobs: one struct carries the arguments of every operation ---- */

typedef struct _Job Job;

/* The blocking part of an operation, run in a worker thread (see job_run).
 * Returns FALSE with error set on failure. An operation with a pointer
 * result leaves it in job->result. */
typedef gboolean (*JobCall) (CofferRepository *repository, Job *job, GCancellable *cancellable,
                             GError **error);

struct _Job
{
  CofferEngine      *engine;          /* strong */
  CofferRepository  *repository;      /* strong, may be NULL */
  CofferDestination *dest;
  CofferSecret      *secret;          /* password or key, depending on the job */
  char              *category_id;
  char              *name;
  char              *text;
  char              *target;
  char             **strv;
  char             **strv2;
  CofferSnapshot    *snapshot;
  CofferLevel        level;
  CofferRestoreFlags flags;
  guint              max_results;
  GPtrArray         *results;         /* search */
  GPtrArray         *conflicts;       /* restore */
  GHashTable        *excludes;        /* backup: id -> char ** */
  CofferRetention    retention;
  gssize             count;           /* count old backups; test connection: 1 = repository found */
  JobCall            call;
  gpointer           result;          /* freed with result_free */
  GDestroyNotify     result_free;     /* NULL: the task returns a boolean */
};

static void
job_free (Job *job)
{
  g_clear_object (&job->engine);
  g_clear_object (&job->repository);
  g_clear_pointer (&job->dest, coffer_destination_free);
  g_clear_pointer (&job->secret, coffer_secret_free);
  g_free (job->category_id);
  g_free (job->name);
  g_free (job->text);
  g_free (job->target);
  g_strfreev (job->strv);
  g_strfreev (job->strv2);
  g_clear_pointer (&job->snapshot, coffer_snapshot_free);
  g_clear_pointer (&job->results, g_ptr_array_unref);
  g_clear_pointer (&job->conflicts, g_ptr_array_unref);
  g_clear_pointer (&job->excludes, g_hash_table_unref);
  if (job->result != NULL)
    job->result_free (job->result);
  g_free (job);
}

static CofferSnapshot *
snapshot_copy (const CofferSnapshot *snapshot)
{
  g_autoptr(GBytes) bytes = NULL;
  CofferSnapshot *copy;

  if (snapshot == NULL)
    return NULL;
  bytes = coffer_snapshot_serialize (snapshot);
  copy = coffer_snapshot_parse (bytes, NULL);
  if (copy != NULL)
    copy->id = g_strdup (snapshot->id);
  return copy;
}

static GTask *
job_task_new (CofferEngine *self, gpointer source_tag, gboolean needs_repository,
              GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data,
              Job **out_job)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Job *job = g_new0 (Job, 1);

  g_task_set_source_tag (task, source_tag);
  job->engine = g_object_ref (self);
  if (self->repository != NULL)
    job->repository = g_object_ref (self->repository);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  *out_job = job;

  if (needs_repository && self->repository == NULL)
    {
      g_task_return_new_error (task, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND,
                               "%s", _("The backup location is not open yet."));
      g_object_unref (task);
      return NULL;
    }
  return task;
}

static void
job_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;

  if (!job->call (job->repository, job, cancellable, &error))
    g_task_return_error (task, error);
  else if (job->result_free != NULL)
    g_task_return_pointer (task, g_steal_pointer (&job->result), job->result_free);
  else
    g_task_return_boolean (task, TRUE);
}

/* Runs call in a worker thread and drops the caller's reference to task.
 * With result_free the task returns job->result (finish with
 * g_task_propagate_pointer), otherwise TRUE (g_task_propagate_boolean). */
static void
job_run (GTask *task, JobCall call, GDestroyNotify result_free)
{
  Job *job = g_task_get_task_data (task);

  job->call = call;
  job->result_free = result_free;
  g_task_run_in_thread (task, job_thread);
  g_object_unref (task);
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

static void
engine_progress_cb (const CofferProgress *progress, gpointer user_data)
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

/* Remote stores with credentials typed in this session are built here with
 * the backends' constructors, so that secrets never pass through the process
 * environment (setenv is not thread-safe). Without typed credentials
 * coffer_store_open finds them in the keyring (attribute "repository" = the
 * location) or the environment. */
static CofferStore *
open_remote_with_secret (const CofferDestination *dest, const CofferStoreOptions *options, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(CofferStore) inner = NULL;
  GError *local_error = NULL;
  gboolean s3 = g_str_has_prefix (dest->location, "s3://");

  uri = g_uri_parse (dest->location, G_URI_FLAGS_ENCODED, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID,
                   _("The address “%s” is not valid: %s"), dest->location, local_error->message);
      g_error_free (local_error);
      return NULL;
    }
  if (s3)
    {
      g_autofree char *prefix = g_uri_unescape_string (g_uri_get_path (uri), NULL);
      const char *region = options->s3_region;

      if (region == NULL)
        region = g_getenv ("AWS_REGION");
      inner = coffer_store_s3_new (options->s3_endpoint, region, options->s3_path_style,
                                   g_uri_get_host (uri), prefix ? prefix : "", dest->user, dest->secret,
                                   NULL, error);
    }
  else
    {
      gboolean tls = g_str_has_prefix (dest->location, "webdavs://");
      g_autoptr(GUri) http = g_uri_build (G_URI_FLAGS_ENCODED, tls ? "https" : "http", NULL,
                                          g_uri_get_host (uri), g_uri_get_port (uri), g_uri_get_path (uri),
                                          NULL, NULL);
      g_autofree char *http_str = g_uri_to_string (http);

      inner = coffer_store_webdav_new (http_str, dest->user && *dest->user ? dest->user : NULL,
                                       dest->secret, NULL, error);
    }
  if (inner == NULL)
    return NULL;
  return coffer_store_retry_new (inner, options->max_connections, options->bandwidth_limit);
}

static CofferStore *
open_store (const CofferDestination *dest, GError **error)
{
  CofferStoreOptions options = { 0 };

  options.s3_endpoint = dest->s3_endpoint && *dest->s3_endpoint ? dest->s3_endpoint : NULL;
  options.s3_region = dest->s3_region && *dest->s3_region ? dest->s3_region : NULL;
  options.s3_path_style = options.s3_endpoint != NULL;
  options.bandwidth_limit = dest->bandwidth_limit;

  if (dest->location == NULL || *dest->location == '\0')
    {
      g_set_error (error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_INVALID, "%s",
                   _("No backup location is set."));
      return NULL;
    }
  if (dest->secret != NULL &&
      (g_str_has_prefix (dest->location, "webdav://") || g_str_has_prefix (dest->location, "webdavs://") ||
       g_str_has_prefix (dest->location, "s3://")))
    return open_remote_with_secret (dest, &options, error);
  return coffer_store_open (dest->location, &options, error);
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

static void
set_repository (CofferEngine *self, CofferRepository *repository)
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

static gboolean
retention_is_set (const CofferRetention *r)
{
  return r->keep_last || r->keep_hourly || r->keep_daily || r->keep_weekly || r->keep_monthly || r->keep_yearly;
}

void
coffer_engine_close (CofferEngine *self)
{
  g_return_if_fail (COFFER_IS_ENGINE (self));
  coffer_engine_cancel (self);
  set_repository (self, NULL);
}

/* ---- starting and finishing jobs ---- */

/* A job for a destination that is not open in the engine yet. */
static GTask *
dest_task_new (CofferEngine *self, gpointer source_tag, const CofferDestination *dest,
               GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data,
               Job **out_job)
{
  GTask *task = job_task_new (self, source_tag, FALSE, cancellable, callback, user_data, out_job);

  g_clear_object (&(*out_job)->repository);
  (*out_job)->dest = coffer_destination_copy (dest);
  return task;
}

/* Opens the repository at job->dest and gives it job->secret, if any. */
static CofferRepository *
open_repository (Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStore) store = open_store (job->dest, error);
  CofferRepository *repository;

  if (store == NULL)
    return NULL;
  repository = coffer_repository_open (store, cancellable, error);
  if (repository != NULL && job->secret != NULL)
    coffer_repository_set_password (repository, job->secret);
  return repository;
}

/* Finishes a job that leaves an opened repository in job->repository:
 * the engine works with it from now on. */
static gboolean
repository_job_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  set_repository (self, job->repository);
  return TRUE;
}

/* Starts a backup, restore or re-encryption: one at a time, cancelled with
 * coffer_engine_cancel. Returns NULL when the task has already been
 * completed with an error. */
static GTask *
exclusive_task_new (CofferEngine *self, gpointer source_tag, GAsyncReadyCallback callback,
                    gpointer user_data, Job **out_job)
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
  task = job_task_new (self, source_tag, TRUE, self->operation_cancellable, callback, user_data, out_job);
  if (task != NULL)
    set_busy (self, TRUE);
  return task;
}

/* Ends what exclusive_task_new started. A task reported early (busy)
 * carries no job and must not clear busy. */
static void
exclusive_job_finish (CofferEngine *self, GAsyncResult *result)
{
  if (g_task_get_task_data (G_TASK (result)) != NULL)
    set_busy (self, FALSE);
}

/* ---- test connection ---- */

typedef struct { gboolean any; } ListProbe;

static gboolean
probe_list_cb (const char *name, guint64 size, gpointer user_data)
{
  ((ListProbe *) user_data)->any = TRUE;
  return FALSE;
}

static gboolean
test_connection_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(GError) local_error = NULL;
  ListProbe probe = { FALSE };
  guint64 size = 0;

  store = open_store (job->dest, error);
  if (store == NULL)
    return FALSE;
  /* The user waits for this answer: one try, no backoff. */
  if (COFFER_IS_STORE_RETRY (store))
    coffer_store_retry_set_policy (COFFER_STORE_RETRY (store), 1, 0, 0);
  /* Reading is not enough: a read-only, full or write-denied destination
   * must fail here, with its reason, not at the first backup. */
  if (!coffer_store_probe_write (store, cancellable, error))
    return FALSE;
  if (coffer_store_stat (store, "config", &size, cancellable, &local_error))
    {
      job->count = 1;
      return TRUE;
    }
  if (!g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_clear_error (&local_error);
  /* Listing proves that the location exists and that we may read it; a
   * missing local folder is fine (it is created), so only errors other than
   * "not found" count. */
  if (!coffer_store_list (store, "", probe_list_cb, &probe, cancellable, &local_error) &&
      !g_error_matches (local_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  job->count = 0;
  return TRUE;
}

/* job->text: the id of the repository at job->dest, NULL for an empty place. */
static gboolean
peek_id_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStore) store = open_store (job->dest, error);
  g_autoptr(CofferRepository) found = NULL;
  g_autoptr(GError) local_error = NULL;

  if (store == NULL)
    return FALSE;
  found = coffer_repository_open (store, cancellable, &local_error);
  if (found == NULL && g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND))
    {
      /* Nothing there yet; a place that cannot be listed fails here. */
      return test_connection_call (NULL, job, cancellable, error);
    }
  if (found == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  job->text = g_strdup (coffer_repository_get_id (found));
  return TRUE;
}

void
coffer_engine_peek_repository_id_async (CofferEngine *self, const CofferDestination *dest,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = dest_task_new (self, coffer_engine_peek_repository_id_async, dest, cancellable, callback,
                        user_data, &job);
  job_run (task, peek_id_call, NULL);
}

gboolean
coffer_engine_peek_repository_id_finish (CofferEngine *self, GAsyncResult *result, char **out_id,
                                         GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_id != NULL)
    *out_id = g_steal_pointer (&job->text);
  return TRUE;
}

void
coffer_engine_test_connection_async (CofferEngine *self, const CofferDestination *dest,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = dest_task_new (self, coffer_engine_test_connection_async, dest, cancellable, callback,
                        user_data, &job);
  job_run (task, test_connection_call, NULL);
}

gboolean
coffer_engine_test_connection_finish (CofferEngine *self, GAsyncResult *result,
                                      gboolean *out_has_repository, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_has_repository != NULL)
    *out_has_repository = job->count == 1;
  return TRUE;
}

/* ---- create / open ---- */

static gboolean
create_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStore) store = open_store (job->dest, error);
  CofferSecret *recovery_key = NULL;

  if (store == NULL)
    return FALSE;
  job->repository = coffer_repository_create (store, job->secret, g_get_host_name (), &recovery_key,
                                              cancellable, error);
  if (job->repository == NULL)
    return FALSE;
  if (job->secret != NULL)
    coffer_repository_set_password (job->repository, job->secret);
  job->result = recovery_key;
  return TRUE;
}

void
coffer_engine_create_async (CofferEngine *self, const CofferDestination *dest,
                            const CofferSecret *password, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = dest_task_new (self, coffer_engine_create_async, dest, cancellable, callback, user_data, &job);
  job->secret = password ? coffer_secret_dup (password) : NULL;
  if (password != NULL)
    coffer_engine_set_password (self, password);
  job_run (task, create_call, (GDestroyNotify) coffer_secret_free);
}

CofferSecret *
coffer_engine_create_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));
  CofferSecret *key = g_task_propagate_pointer (G_TASK (result), error);

  if (key != NULL)
    set_repository (self, job->repository);
  return key;
}

static gboolean
open_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferRepository) opened = open_repository (job, cancellable, error);

  /* The core unlocks with this computer's key, or accepts the password for
   * Standard categories on a computer that is not a trusted device; a wrong
   * password is an error. */
  if (opened == NULL || !coffer_repository_unlock (opened, cancellable, error))
    return FALSE;
  job->repository = g_steal_pointer (&opened);
  return TRUE;
}

void
coffer_engine_open_async (CofferEngine *self, const CofferDestination *dest,
                          const CofferSecret *password, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = dest_task_new (self, coffer_engine_open_async, dest, cancellable, callback, user_data, &job);
  if (password == NULL && self->password != NULL)
    password = self->password;
  job->secret = password ? coffer_secret_dup (password) : NULL;
  if (password != NULL && password != self->password)
    coffer_engine_set_password (self, password);
  job_run (task, open_call, NULL);
}

gboolean
coffer_engine_open_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!repository_job_finish (self, result, &local_error))
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD))
        g_clear_pointer (&self->password, coffer_secret_free);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* ---- categories ---- */

static gboolean
add_category_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferCategory) category = NULL;

  category = coffer_repository_add_category (repository, job->name, job->level,
                                             (const char * const *) job->strv,
                                             (const char * const *) job->strv2,
                                             cancellable, error);
  if (category == NULL)
    return FALSE;
  job->result = g_strdup (category->id);
  return TRUE;
}

void
coffer_engine_add_category_async (CofferEngine *self, const char *name, CofferLevel level,
                                  const char * const *paths, const char * const *excludes,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_add_category_async, TRUE, cancellable, callback,
                       user_data, &job);
  if (task == NULL)
    return;
  job->name = g_strdup (name);
  job->level = level;
  job->strv = g_strdupv ((char **) paths);
  job->strv2 = excludes ? g_strdupv ((char **) excludes) : g_new0 (char *, 1);
  job_run (task, add_category_call, g_free);
}

char *
coffer_engine_add_category_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
update_category_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferCategory) category = NULL;

  category = coffer_repository_find_category (repository, job->category_id, cancellable, error);
  if (category == NULL)
    return FALSE;
  g_free (category->name);
  category->name = g_strdup (job->name);
  g_strfreev (category->paths);
  category->paths = g_strdupv (job->strv);
  g_strfreev (category->excludes);
  category->excludes = g_strdupv (job->strv2);
  return coffer_repository_update_category (repository, category, cancellable, error);
}

void
coffer_engine_update_category_async (CofferEngine *self, const char *category_id,
                                     const char *name, const char * const *paths,
                                     const char * const *excludes, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_update_category_async, TRUE, cancellable, callback,
                       user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (category_id);
  job->name = g_strdup (name);
  job->strv = g_strdupv ((char **) paths);
  job->strv2 = excludes ? g_strdupv ((char **) excludes) : g_new0 (char *, 1);
  job_run (task, update_category_call, NULL);
}

gboolean
coffer_engine_update_category_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
set_level_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  return coffer_repository_set_level (repository, job->category_id, job->level, cancellable, error);
}

void
coffer_engine_set_level_async (CofferEngine *self, const char *category_id, CofferLevel level,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_set_level_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (category_id);
  job->level = level;
  job_run (task, set_level_call, NULL);
}

gboolean
coffer_engine_set_level_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- recovery key and password ---- */

static gboolean
verify_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (job->text, error);

  return key != NULL && coffer_repository_verify_recovery_key (repository, key, cancellable, error);
}

void
coffer_engine_verify_recovery_key_async (CofferEngine *self, const char *text,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_verify_recovery_key_async, TRUE, cancellable, callback,
                       user_data, &job);
  if (task == NULL)
    return;
  job->text = g_strdup (text);
  job_run (task, verify_call, NULL);
}

gboolean
coffer_engine_verify_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

gint64
coffer_engine_get_recovery_key_tested (CofferEngine *self)
{
  g_return_val_if_fail (COFFER_IS_ENGINE (self), 0);
  if (self->repository == NULL)
    return 0;
  return coffer_repository_get_recovery_key_tested (self->repository);
}

static gboolean
replace_key_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  job->result = coffer_repository_begin_recovery_key_replacement (repository, error);
  return job->result != NULL;
}

static gboolean
commit_key_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (job->text, error);

  return key != NULL && coffer_repository_commit_recovery_key_replacement (repository, key, cancellable, error);
}

void
coffer_engine_commit_recovery_key_async (CofferEngine *self, const char *text, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_commit_recovery_key_async, TRUE, cancellable, callback,
                       user_data, &job);
  if (task == NULL)
    return;
  job->text = g_strdup (text);
  job_run (task, commit_key_call, NULL);
}

gboolean
coffer_engine_commit_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
coffer_engine_cancel_recovery_key_replacement (CofferEngine *self)
{
  g_return_if_fail (COFFER_IS_ENGINE (self));
  if (self->repository != NULL)
    coffer_repository_cancel_recovery_key_replacement (self->repository);
}

gboolean
coffer_engine_has_pending_recovery_key (CofferEngine *self)
{
  g_return_val_if_fail (COFFER_IS_ENGINE (self), FALSE);
  return self->repository != NULL && coffer_repository_has_pending_recovery_key (self->repository);
}

void
coffer_engine_replace_recovery_key_async (CofferEngine *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_replace_recovery_key_async, TRUE, cancellable, callback,
                       user_data, &job);
  if (task == NULL)
    return;
  job_run (task, replace_key_call, (GDestroyNotify) coffer_secret_free);
}

CofferSecret *
coffer_engine_replace_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Authority typed now (docs/SECURITY.md "Authority for security
 * downgrades"): text that reads as a recovery key is checked as one (a typo
 * in it is reported as such); anything else as the backup password. */
static gboolean
check_authority_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) text = coffer_secret_new (job->secret->len + 1);
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(GError) parse_error = NULL;

  memcpy (text->data, job->secret->data, job->secret->len);
  text->data[job->secret->len] = '\0';
  key = coffer_recovery_key_parse ((const char *) text->data, &parse_error);
  if (key != NULL)
    return coffer_repository_check_authority (repository, NULL, key, cancellable, error);
  if (g_error_matches (parse_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO))
    {
      g_propagate_error (error, g_steal_pointer (&parse_error));
      return FALSE;
    }
  return coffer_repository_check_authority (repository, job->secret, NULL, cancellable, error);
}

void
coffer_engine_check_authority_async (CofferEngine *self, const CofferSecret *typed, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (typed != NULL);
  task = job_task_new (self, coffer_engine_check_authority_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job->secret = coffer_secret_dup (typed);
  job_run (task, check_authority_call, NULL);
}

gboolean
coffer_engine_check_authority_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
change_password_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  if (!coffer_repository_change_password (repository, job->secret, cancellable, error))
    return FALSE;
  coffer_repository_set_password (repository, job->secret);
  return TRUE;
}

void
coffer_engine_change_password_async (CofferEngine *self, const CofferSecret *password,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (password != NULL);
  task = job_task_new (self, coffer_engine_change_password_async, TRUE, cancellable, callback,
                       user_data, &job);
  if (task == NULL)
    return;
  job->secret = coffer_secret_dup (password);
  job_run (task, change_password_call, NULL);
}

gboolean
coffer_engine_change_password_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  coffer_engine_set_password (self, job->secret);
  return TRUE;
}

/* ---- backup ---- */

static gboolean
same_strv (char **a, char **b)
{
  guint n = a ? g_strv_length (a) : 0;

  if (n != (b ? g_strv_length (b) : 0))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!g_strv_contains ((const char * const *) b, a[i]))
      return FALSE;
  return TRUE;
}

/* Brings the category's stored exclude patterns in line with the app's
 * (its own plus the global ones from Preferences). */
static void
sync_excludes (Job *job, const char *category_id, GCancellable *cancellable)
{
  char **wanted = job->excludes ? g_hash_table_lookup (job->excludes, category_id) : NULL;
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(GError) error = NULL;

  if (wanted == NULL)
    return;
  category = coffer_repository_find_category (job->repository, category_id, cancellable, &error);
  if (category == NULL || same_strv (category->excludes, wanted))
    return;
  g_strfreev (category->excludes);
  category->excludes = g_strdupv (wanted);
  if (!coffer_repository_update_category (job->repository, category, cancellable, &error))
    g_debug ("Could not update the excludes of %s: %s", category_id, error->message);
}

static gboolean
backup_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  CofferBackupReport *report = g_new0 (CofferBackupReport, 1);

  report->start_time = g_get_real_time () / G_USEC_PER_SEC;
  report->snapshots = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_snapshot_free);
  report->messages = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; job->strv[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GPtrArray) skipped = NULL;
      CofferSnapshot *snapshot;

      if (g_cancellable_is_cancelled (cancellable))
        break;
      sync_excludes (job, job->strv[i], cancellable);
      snapshot = coffer_backup_run (repository, job->strv[i], engine_progress_cb, job->engine,
                                    &skipped, cancellable, &local_error);
      if (snapshot == NULL)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              coffer_backup_report_free (report);
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          report->n_failed++;
          g_ptr_array_add (report->messages, coffer_engine_describe_error (local_error));
          if (report->first_error == NULL)
            report->first_error = g_error_copy (local_error);
          continue;
        }
      report->n_ok++;
      report->bytes += snapshot->bytes;
      report->added_bytes += snapshot->added_bytes;
      report->files += snapshot->files;
      if (skipped != NULL)
        for (guint j = 0; j < skipped->len && j < 20; j++)
          g_ptr_array_add (report->messages,
                           g_strdup_printf (_("Skipped %s"), (const char *) g_ptr_array_index (skipped, j)));
      g_ptr_array_add (report->snapshots, snapshot);

      if (retention_is_set (&job->retention))
        {
          g_autoptr(GPtrArray) forgotten = NULL;
          g_autoptr(GError) forget_error = NULL;

          if (!coffer_forget_run (repository, job->strv[i], &job->retention, FALSE, &forgotten,
                                  cancellable, &forget_error))
            g_ptr_array_add (report->messages,
                             g_strdup_printf (_("Old backups could not be removed: %s"), forget_error->message));
        }
    }
  report->end_time = g_get_real_time () / G_USEC_PER_SEC;
  if (g_cancellable_is_cancelled (cancellable))
    {
      coffer_backup_report_free (report);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s", _("The backup was cancelled."));
      return FALSE;
    }
  job->result = report;
  return TRUE;
}

void
coffer_engine_backup_async (CofferEngine *self, const char * const *category_ids,
                            GHashTable *excludes,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (category_ids != NULL);
  task = exclusive_task_new (self, coffer_engine_backup_async, callback, user_data, &job);
  if (task == NULL)
    return;
  job->strv = g_strdupv ((char **) category_ids);
  job->retention = self->retention;
  job->excludes = excludes ? g_hash_table_ref (excludes) : NULL;
  job_run (task, backup_call, (GDestroyNotify) coffer_backup_report_free);
}

CofferBackupReport *
coffer_engine_backup_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  exclusive_job_finish (self, result);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- snapshots and browsing ---- */

static gboolean
list_snapshots_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  GPtrArray *snapshots = coffer_repository_list_snapshots (repository, job->category_id, cancellable, error);

  if (snapshots == NULL)
    return FALSE;
  /* newest first */
  for (guint i = 0; i < snapshots->len / 2; i++)
    {
      gpointer tmp = snapshots->pdata[i];
      snapshots->pdata[i] = snapshots->pdata[snapshots->len - 1 - i];
      snapshots->pdata[snapshots->len - 1 - i] = tmp;
    }
  job->result = snapshots;
  return TRUE;
}

void
coffer_engine_list_snapshots_async (CofferEngine *self, const char *category_id,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_list_snapshots_async, TRUE, cancellable, callback,
                       user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (category_id);
  job_run (task, list_snapshots_call, (GDestroyNotify) g_ptr_array_unref);
}

GPtrArray *
coffer_engine_list_snapshots_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
list_dir_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  job->result = coffer_repository_list_dir (repository, job->category_id, job->snapshot, job->text,
                                            cancellable, error);
  return job->result != NULL;
}

void
coffer_engine_list_dir_async (CofferEngine *self, const char *category_id,
                              const CofferSnapshot *snapshot, const char *path,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_list_dir_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (category_id);
  job->snapshot = snapshot_copy (snapshot);
  job->text = g_strdup (path);
  job_run (task, list_dir_call, (GDestroyNotify) g_ptr_array_unref);
}

GPtrArray *
coffer_engine_list_dir_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
search_walk_cb (const char *path, const CofferTreeEntry *entry, gpointer user_data)
{
  Job *job = user_data;
  g_autofree char *name = g_utf8_make_valid (entry->name, -1);
  g_autofree char *folded = g_utf8_casefold (name, -1);

  if (strstr (folded, job->name) != NULL)
    g_ptr_array_add (job->results, coffer_file_item_new_for_search (path, entry));
  return job->results->len < job->max_results;
}

static gboolean
search_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  job->results = g_ptr_array_new_with_free_func (g_object_unref);
  if (!coffer_repository_walk (repository, job->category_id, job->snapshot, "/",
                               search_walk_cb, job, cancellable, error))
    return FALSE;
  job->result = g_ptr_array_ref (job->results);
  return TRUE;
}

void
coffer_engine_search_async (CofferEngine *self, const char *category_id,
                            const CofferSnapshot *snapshot, const char *query,
                            guint max_results, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_search_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (category_id);
  job->snapshot = snapshot_copy (snapshot);
  job->name = g_utf8_casefold (query, -1);
  job->max_results = MAX (max_results, 1);
  job_run (task, search_call, (GDestroyNotify) g_ptr_array_unref);
}

GPtrArray *
coffer_engine_search_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- restore ---- */

static gboolean
restore_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  GPtrArray *conflicts = NULL;

  /* job->text: the prefix left out under the target, or NULL */
  if (!coffer_restore_run_mapped (repository, job->category_id, job->snapshot,
                                  (const char * const *) job->strv, job->target, job->text, job->flags,
                                  engine_progress_cb, job->engine, &conflicts, NULL, cancellable, error))
    {
      job->conflicts = conflicts;
      return FALSE;
    }
  g_clear_pointer (&conflicts, g_ptr_array_unref);
  return TRUE;
}

void
coffer_engine_restore_async (CofferEngine *self, const char *category_id,
                             const CofferSnapshot *snapshot, const char * const *paths,
                             const char *target, CofferRestoreFlags flags,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  coffer_engine_restore_mapped_async (self, category_id, snapshot, paths, target, NULL, flags, callback, user_data);
}

void
coffer_engine_restore_mapped_async (CofferEngine *self, const char *category_id,
                                    const CofferSnapshot *snapshot, const char * const *paths,
                                    const char *target, const char *strip_prefix, CofferRestoreFlags flags,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = exclusive_task_new (self, coffer_engine_restore_async, callback, user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (category_id);
  job->snapshot = snapshot_copy (snapshot);
  job->strv = paths ? g_strdupv ((char **) paths) : NULL;
  job->target = g_strdup (target);
  job->text = g_strdup (strip_prefix);
  job->flags = flags;
  job_run (task, restore_call, NULL);
}

gboolean
coffer_engine_restore_finish (CofferEngine *self, GAsyncResult *result,
                              GPtrArray **out_conflicts, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  exclusive_job_finish (self, result);
  if (out_conflicts != NULL)
    *out_conflicts = job && job->conflicts ? g_ptr_array_ref (job->conflicts) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- categories ---- */

static gboolean
list_categories_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  job->result = coffer_repository_list_categories (repository, cancellable, error);
  return job->result != NULL;
}

void
coffer_engine_list_categories_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_list_categories_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job_run (task, list_categories_call, (GDestroyNotify) g_ptr_array_unref);
}

GPtrArray *
coffer_engine_list_categories_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- devices ---- */

static gboolean
list_devices_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  job->result = coffer_repository_list_devices (repository, cancellable, error);
  return job->result != NULL;
}

void
coffer_engine_list_devices_async (CofferEngine *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_list_devices_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job_run (task, list_devices_call, (GDestroyNotify) g_ptr_array_unref);
}

GPtrArray *
coffer_engine_list_devices_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
answer_join_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autofree char *code = NULL;

  return coffer_repository_get_join_code (repository, job->category_id, &code, cancellable, error);
}

void
coffer_engine_answer_join_async (CofferEngine *self, const char *device_id, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_answer_join_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (device_id);
  job_run (task, answer_join_call, NULL);
}

gboolean
coffer_engine_answer_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
approve_device_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autofree char *code = NULL;

  /* Answers the request first when that has not happened yet. */
  return coffer_repository_get_join_code (repository, job->category_id, &code, cancellable, error) &&
         coffer_repository_approve_device (repository, job->category_id, job->text, cancellable, error);
}

void
coffer_engine_approve_device_async (CofferEngine *self, const char *device_id, const char *code,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_approve_device_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (device_id);
  job->text = g_strdup (code);
  job_run (task, approve_device_call, NULL);
}

gboolean
coffer_engine_approve_device_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
remove_device_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (job->text, error);

  if (key == NULL || !coffer_repository_verify_recovery_key (repository, key, cancellable, error))
    return FALSE;
  g_autoptr(GPtrArray) lost = NULL;
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();

  coffer_repository_set_recovery_key (repository, key);
  /* No unverified device is confirmed from the app yet: those lose access
   * and join again (docs/SECURITY.md "Devices and rotation"); the app
   * names them. */
  if (!coffer_repository_remove_device (repository, job->category_id, NULL, &lost, cancellable, error))
    return FALSE;
  for (guint i = 0; lost != NULL && i < lost->len; i++)
    {
      const CofferDevice *device = g_ptr_array_index (lost, i);
      g_strv_builder_add (names, device->name != NULL ? device->name : device->id);
    }
  job->result = g_strv_builder_end (names);
  return TRUE;
}

void
coffer_engine_remove_device_async (CofferEngine *self, const char *device_id, const char *recovery_key_text,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_remove_device_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (device_id);
  job->text = g_strdup (recovery_key_text);
  job_run (task, remove_device_call, (GDestroyNotify) g_strfreev);
}

/* out_lost: the names of the computers that could not be verified and
 * lost access (they must join again); may be NULL. */
gboolean
coffer_engine_remove_device_finish (CofferEngine *self, GAsyncResult *result, char ***out_lost, GError **error)
{
  char **lost = g_task_propagate_pointer (G_TASK (result), error);

  if (lost == NULL)
    return FALSE;
  if (out_lost != NULL)
    *out_lost = lost;
  else
    g_strfreev (lost);
  return TRUE;
}

/* ---- re-encryption ---- */

static gboolean
reencrypt_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  return coffer_repository_reencrypt_category (repository, job->category_id, engine_progress_cb,
                                               job->engine, cancellable, error);
}

void
coffer_engine_reencrypt_async (CofferEngine *self, const char *category_id,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (category_id != NULL);
  task = exclusive_task_new (self, coffer_engine_reencrypt_async, callback, user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (category_id);
  job_run (task, reencrypt_call, NULL);
}

gboolean
coffer_engine_reencrypt_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  exclusive_job_finish (self, result);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
count_old_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(GPtrArray) snapshots = NULL;

  category = coffer_repository_find_category (repository, job->category_id, cancellable, error);
  if (category != NULL)
    snapshots = coffer_repository_list_snapshots (repository, job->category_id, cancellable, error);
  if (snapshots == NULL)
    return FALSE;
  job->count = 0;
  for (guint i = 0; i < snapshots->len; i++)
    if (((CofferSnapshot *) g_ptr_array_index (snapshots, i))->epoch != category->epoch)
      job->count++;
  return TRUE;
}

void
coffer_engine_count_old_backups_async (CofferEngine *self, const char *category_id,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_count_old_backups_async, TRUE, cancellable, callback,
                       user_data, &job);
  if (task == NULL)
    return;
  job->category_id = g_strdup (category_id);
  job_run (task, count_old_call, NULL);
}

gssize
coffer_engine_count_old_backups_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return -1;
  return job->count;
}

/* ---- ways in on a new computer ---- */

static gboolean
open_rk_call (CofferRepository *unused, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferRepository) repository = NULL;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (job->text, error);

  if (key == NULL)
    return FALSE;
  repository = open_repository (job, cancellable, error);
  /* verify first: a wrong key is reported as such, not as "no key". */
  if (repository == NULL || !coffer_repository_verify_recovery_key (repository, key, cancellable, error))
    return FALSE;
  coffer_repository_set_recovery_key (repository, key);
  if (!coffer_repository_unlock (repository, cancellable, error))
    return FALSE;
  /* Make this computer a trusted device, so the next session opens
   * without the recovery key. Without a keyring and a password there is
   * nowhere to keep its key: then this session stays the only one. */
  {
    g_autoptr(GError) trust_error = NULL;
    if (!coffer_repository_trust_this_device (repository, NULL, cancellable, &trust_error))
      g_debug ("this computer stays untrusted: %s", trust_error->message);
  }
  job->repository = g_steal_pointer (&repository);
  return TRUE;
}

void
coffer_engine_open_with_recovery_key_async (CofferEngine *self, const CofferDestination *dest,
                                            const char *recovery_key_text, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = dest_task_new (self, coffer_engine_open_with_recovery_key_async, dest, cancellable, callback,
                        user_data, &job);
  job->text = g_strdup (recovery_key_text);
  job->secret = self->password ? coffer_secret_dup (self->password) : NULL;
  job_run (task, open_rk_call, NULL);
}

gboolean
coffer_engine_open_with_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return repository_job_finish (self, result, error);
}

static gboolean
request_join_call (CofferRepository *unused, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferRepository) repository = open_repository (job, cancellable, error);
  g_autofree char *code = NULL;
  char *id = NULL;

  if (repository == NULL ||
      !coffer_repository_request_join (repository, job->name, &id, &code, cancellable, error))
    return FALSE;
  job->repository = g_steal_pointer (&repository);
  job->result = id;
  return TRUE;
}

void
coffer_engine_request_join_async (CofferEngine *self, const CofferDestination *dest,
                                  const char *device_name, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = dest_task_new (self, coffer_engine_request_join_async, dest, cancellable, callback, user_data, &job);
  job->name = g_strdup (device_name);
  job->secret = self->password ? coffer_secret_dup (self->password) : NULL;
  job_run (task, request_join_call, g_free);
}

char *
coffer_engine_request_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  Job *job = g_task_get_task_data (G_TASK (result));
  char *id = g_task_propagate_pointer (G_TASK (result), error);

  if (id != NULL)
    g_set_object (&self->joining, job->repository);
  return id;
}

typedef struct
{
  char     *code;
  gboolean  approved;
} JoinStatus;

static void
join_status_free (gpointer data)
{
  JoinStatus *status = data;
  g_free (status->code);
  g_free (status);
}

static gboolean
join_status_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  JoinStatus *status = g_new0 (JoinStatus, 1);

  if (!coffer_repository_get_join_status (repository, &status->code, &status->approved,
                                          cancellable, error))
    {
      join_status_free (status);
      return FALSE;
    }
  job->result = status;
  return TRUE;
}

static GTask *
join_task_new (CofferEngine *self, gpointer source_tag, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  task = job_task_new (self, source_tag, FALSE, cancellable, callback, user_data, &job);
  g_clear_object (&job->repository);
  if (self->joining == NULL)
    {
      g_task_return_new_error (task, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID, "%s",
                               _("This computer has not asked to join a backup yet."));
      g_object_unref (task);
      return NULL;
    }
  job->repository = g_object_ref (self->joining);
  return task;
}

void
coffer_engine_get_join_status_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = join_task_new (self, coffer_engine_get_join_status_async, cancellable, callback, user_data);
  if (task == NULL)
    return;
  job_run (task, join_status_call, join_status_free);
}

gboolean
coffer_engine_get_join_status_finish (CofferEngine *self, GAsyncResult *result, char **out_code,
                                      gboolean *out_approved, GError **error)
{
  JoinStatus *status = g_task_propagate_pointer (G_TASK (result), error);

  if (status == NULL)
    return FALSE;
  if (out_code != NULL)
    *out_code = g_steal_pointer (&status->code);
  if (out_approved != NULL)
    *out_approved = status->approved;
  join_status_free (status);
  return TRUE;
}

static gboolean
complete_join_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  return coffer_repository_complete_join (repository, cancellable, error);
}

void
coffer_engine_complete_join_async (CofferEngine *self, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = join_task_new (self, coffer_engine_complete_join_async, cancellable, callback, user_data);
  if (task == NULL)
    return;
  job_run (task, complete_join_call, NULL);
}

gboolean
coffer_engine_complete_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  if (!repository_job_finish (self, result, error))
    return FALSE;
  g_clear_object (&self->joining);
  return TRUE;
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

/* ---- Recovery contacts ---- */

void
coffer_share_context_free (CofferShareContext *context)
{
  if (context == NULL)
    return;
  g_clear_pointer (&context->generations, g_array_unref);
  g_free (context);
}

static gboolean
share_context_call (CofferRepository *unused, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferRepository) repository = open_repository (job, cancellable, error);
  g_autoptr(CofferShareContext) context = NULL;

  if (repository == NULL)
    return FALSE;
  context = g_new0 (CofferShareContext, 1);
  if (!coffer_hex_decode (coffer_repository_get_id (repository), context->repo_id, sizeof context->repo_id))
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT, "%s",
                   _("The backup's configuration has no valid repository id."));
      return FALSE;
    }
  context->generations = coffer_repository_load_recovery_generations (repository, cancellable, error);
  if (context->generations == NULL)
    return FALSE;
  job->result = g_steal_pointer (&context);
  return TRUE;
}

void
coffer_engine_open_share_context_async (CofferEngine *self, const CofferDestination *dest,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = dest_task_new (self, coffer_engine_open_share_context_async, dest, cancellable, callback,
                        user_data, &job);
  job_run (task, share_context_call, (GDestroyNotify) coffer_share_context_free);
}

CofferShareContext *
coffer_engine_open_share_context_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
shares_info_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(GArray) generations = coffer_repository_load_recovery_generations (repository, cancellable, error);
  CofferSharesInfo *info;

  if (generations == NULL)
    return FALSE;
  info = g_new0 (CofferSharesInfo, 1);
  for (guint i = 0; i < generations->len; i++)
    {
      const CofferRecoveryGeneration *g = &g_array_index (generations, CofferRecoveryGeneration, i);

      if (g->replaced == 0 && g->shares_made != 0)
        {
          info->needed = g->needed;
          info->count = g->count;
          info->made = g->shares_made;
        }
      else if (g->replaced != 0 && g->replaced >= info->old_replaced)
        {
          info->old_replaced = g->replaced;
          info->old_needed = g->shares_made != 0 ? g->needed : 0;
          info->old_count = g->shares_made != 0 ? g->count : 0;
        }
    }
  job->result = info;
  return TRUE;
}

void
coffer_engine_get_shares_info_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_get_shares_info_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job_run (task, shares_info_call, g_free);
}

gboolean
coffer_engine_get_shares_info_finish (CofferEngine *self, GAsyncResult *result, CofferSharesInfo *info,
                                      GError **error)
{
  g_autofree CofferSharesInfo *found = g_task_propagate_pointer (G_TASK (result), error);

  if (found == NULL)
    return FALSE;
  *info = *found;
  return TRUE;
}

static char *
sheet_path (const char *folder, guint index, guint count)
{
  g_autofree char *base = g_strdup_printf ("share-%u-of-%u.pdf", index, count);

  return g_build_filename (folder, base, NULL);
}

static gboolean
make_shares_call (CofferRepository *repository, Job *job, GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(GPtrArray) shares = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *location = coffer_repository_describe (repository);
  /* job->count is "needed", job->max_results the number of shares,
   * job->target the folder, job->name the owner. */
  guint count = job->max_results;

  /* Every name is checked before anything is made: sheets never replace
   * files, and a half-saved set helps nobody. */
  for (guint i = 1; i <= count; i++)
    {
      g_autofree char *path = sheet_path (job->target, i, count);

      if (g_file_test (path, G_FILE_TEST_EXISTS) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        {
          g_autofree char *base = g_path_get_basename (path);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       _("The folder already has a file “%s”. Choose an empty folder: share sheets "
                         "never replace files."), base);
          return FALSE;
        }
    }
  key = coffer_recovery_key_parse (job->text, error);
  if (key == NULL)
    return FALSE;
  shares = coffer_repository_make_shares (repository, key, (guint) job->count, count, cancellable, error);
  if (shares == NULL)
    return FALSE;
  for (guint i = 0; i < shares->len; i++)
    {
      const CofferShare *share = g_ptr_array_index (shares, i);
      g_autoptr(CofferSecret) formatted = coffer_share_format (share);
      g_autofree char *path = sheet_path (job->target, share->index, count);

      if (!coffer_share_sheet_write_pdf (path, formatted, job->name, share->index, share->needed, count,
                                         location, coffer_repository_get_id (repository), now, error))
        return FALSE;
    }
  return TRUE;
}

void
coffer_engine_make_shares_async (CofferEngine *self, const char *recovery_key_text, guint needed, guint count,
                                 const char *folder, const char *owner, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Job *job;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = job_task_new (self, coffer_engine_make_shares_async, TRUE, cancellable, callback, user_data, &job);
  if (task == NULL)
    return;
  job->text = g_strdup (recovery_key_text);
  job->count = needed;
  job->max_results = count;
  job->target = g_strdup (folder);
  job->name = g_strdup (owner);
  job_run (task, make_shares_call, NULL);
}

gboolean
coffer_engine_make_shares_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
