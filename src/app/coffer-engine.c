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

/* ---- the runner ---- */

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
static GTask *
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
static void
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
static gpointer
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
static void
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

/* Opens the store of a destination (no network traffic yet). Any thread. */
static CofferStore *
_coffer_engine_open_store (const CofferDestination *dest, GError **error)
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

/* Opens the repository at dest (no keys yet) and gives it password, if
 * any. In a worker thread. */
static CofferRepository *
_coffer_engine_open_repository (const CofferDestination *dest, const CofferSecret *password,
                                GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStore) store = _coffer_engine_open_store (dest, error);
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
static void
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
static GTask *
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
static void
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

/* ---- test connection ---- */

typedef struct { gboolean any; } ListProbe;

static gboolean
probe_list_cb (const char *name, guint64 size, gpointer user_data)
{
  ((ListProbe *) user_data)->any = TRUE;
  return FALSE;
}

/* Checks that dest can be reached and written to; *out_has_repository
 * tells whether a Coffer repository is there. */
static gboolean
probe_destination (const CofferDestination *dest, gboolean *out_has_repository,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(GError) local_error = NULL;
  ListProbe probe = { FALSE };
  guint64 size = 0;

  store = _coffer_engine_open_store (dest, error);
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
      *out_has_repository = TRUE;
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
  *out_has_repository = FALSE;
  return TRUE;
}

typedef struct
{
  CofferDestination *dest;
  gboolean           has_repository;   /* out */
} TestConnectionData;

COFFER_ENGINE_DEFINE_DATA (TestConnectionData, test_connection_data)

static void
test_connection_data_clear (TestConnectionData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
}

static gboolean
test_connection_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  TestConnectionData *data = task_data;

  return probe_destination (data->dest, &data->has_repository, cancellable, error);
}

void
coffer_engine_test_connection_async (CofferEngine *self, const CofferDestination *dest,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  TestConnectionData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_test_connection_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = test_connection_data_new ();
  data->dest = coffer_destination_copy (dest);
  _coffer_engine_task_run (task, test_connection_call, data, test_connection_data_free);
}

gboolean
coffer_engine_test_connection_finish (CofferEngine *self, GAsyncResult *result,
                                      gboolean *out_has_repository, GError **error)
{
  TestConnectionData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_has_repository != NULL)
    *out_has_repository = data->has_repository;
  return TRUE;
}

/* ---- the id of a repository, without keys ---- */

typedef struct
{
  CofferDestination *dest;
  char              *id;     /* out: NULL for an empty place */
} PeekIdData;

COFFER_ENGINE_DEFINE_DATA (PeekIdData, peek_id_data)

static void
peek_id_data_clear (PeekIdData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
  g_free (data->id);
}

static gboolean
peek_id_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  PeekIdData *data = task_data;
  g_autoptr(CofferStore) store = _coffer_engine_open_store (data->dest, error);
  g_autoptr(CofferRepository) found = NULL;
  g_autoptr(GError) local_error = NULL;

  if (store == NULL)
    return FALSE;
  found = coffer_repository_open (store, cancellable, &local_error);
  if (found == NULL && g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NOT_FOUND))
    {
      gboolean has_repository = FALSE;

      /* Nothing there yet; a place that cannot be listed fails here. */
      return probe_destination (data->dest, &has_repository, cancellable, error);
    }
  if (found == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  data->id = g_strdup (coffer_repository_get_id (found));
  return TRUE;
}

void
coffer_engine_peek_repository_id_async (CofferEngine *self, const CofferDestination *dest,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  PeekIdData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_peek_repository_id_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = peek_id_data_new ();
  data->dest = coffer_destination_copy (dest);
  _coffer_engine_task_run (task, peek_id_call, data, peek_id_data_free);
}

gboolean
coffer_engine_peek_repository_id_finish (CofferEngine *self, GAsyncResult *result, char **out_id,
                                         GError **error)
{
  PeekIdData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_id != NULL)
    *out_id = g_steal_pointer (&data->id);
  return TRUE;
}

/* ---- create / open ---- */

/* Create, open and open with the recovery key: a destination and the
 * password in, the repository the engine works with from then on out. */
typedef struct
{
  CofferDestination *dest;
  CofferSecret      *password;      /* may be NULL */
  char              *recovery_key;  /* open with the recovery key: the typed text */
  CofferRepository  *opened;        /* out */
  CofferSecret      *new_key;       /* out (create): the recovery key */
} OpenData;

COFFER_ENGINE_DEFINE_DATA (OpenData, open_data)

static void
open_data_clear (OpenData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
  g_clear_pointer (&data->password, coffer_secret_free);
  g_free (data->recovery_key);
  g_clear_object (&data->opened);
  g_clear_pointer (&data->new_key, coffer_secret_free);
}

/* A task and its data for a destination; password NULL = none. */
static GTask *
open_task_new (CofferEngine *self, gpointer source_tag, const CofferDestination *dest,
               const CofferSecret *password, GCancellable *cancellable,
               GAsyncReadyCallback callback, gpointer user_data, OpenData **out_data)
{
  GTask *task = _coffer_engine_task_new (self, source_tag, COFFER_ENGINE_NEEDS_NOTHING,
                                         cancellable, callback, user_data);
  OpenData *data = open_data_new ();

  data->dest = coffer_destination_copy (dest);
  data->password = password ? coffer_secret_dup (password) : NULL;
  *out_data = data;
  return task;
}

/* Finishes an operation that leaves its repository in OpenData.opened:
 * the engine works with it from now on. */
static gboolean
open_task_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  OpenData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  _coffer_engine_set_repository (self, data->opened);
  return TRUE;
}

static gboolean
create_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  OpenData *data = task_data;
  g_autoptr(CofferStore) store = _coffer_engine_open_store (data->dest, error);

  if (store == NULL)
    return FALSE;
  data->opened = coffer_repository_create (store, data->password, g_get_host_name (), &data->new_key,
                                           cancellable, error);
  if (data->opened == NULL)
    return FALSE;
  if (data->password != NULL)
    coffer_repository_set_password (data->opened, data->password);
  return TRUE;
}

void
coffer_engine_create_async (CofferEngine *self, const CofferDestination *dest,
                            const CofferSecret *password, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  OpenData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = open_task_new (self, coffer_engine_create_async, dest, password, cancellable, callback, user_data,
                        &data);
  if (password != NULL)
    coffer_engine_set_password (self, password);
  _coffer_engine_task_run (task, create_call, data, open_data_free);
}

CofferSecret *
coffer_engine_create_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  OpenData *data = _coffer_engine_task_get_data (result);

  if (!open_task_finish (self, result, error))
    return NULL;
  return g_steal_pointer (&data->new_key);
}

static gboolean
open_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  OpenData *data = task_data;
  g_autoptr(CofferRepository) opened = _coffer_engine_open_repository (data->dest, data->password,
                                                                       cancellable, error);

  /* The core unlocks with this computer's key, or accepts the password for
   * Standard categories on a computer that is not a trusted device; a wrong
   * password is an error. */
  if (opened == NULL || !coffer_repository_unlock (opened, cancellable, error))
    return FALSE;
  data->opened = g_steal_pointer (&opened);
  return TRUE;
}

void
coffer_engine_open_async (CofferEngine *self, const CofferDestination *dest,
                          const CofferSecret *password, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  OpenData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  if (password == NULL && self->password != NULL)
    password = self->password;
  task = open_task_new (self, coffer_engine_open_async, dest, password, cancellable, callback, user_data,
                        &data);
  if (password != NULL && password != self->password)
    coffer_engine_set_password (self, password);
  _coffer_engine_task_run (task, open_call, data, open_data_free);
}

gboolean
coffer_engine_open_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!open_task_finish (self, result, &local_error))
    {
      if (g_error_matches (local_error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_PASSWORD))
        g_clear_pointer (&self->password, coffer_secret_free);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* ---- ways in on a new computer ---- */

static gboolean
open_rk_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  OpenData *data = task_data;
  g_autoptr(CofferRepository) repository = NULL;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (data->recovery_key, error);

  if (key == NULL)
    return FALSE;
  repository = _coffer_engine_open_repository (data->dest, data->password, cancellable, error);
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
  data->opened = g_steal_pointer (&repository);
  return TRUE;
}

void
coffer_engine_open_with_recovery_key_async (CofferEngine *self, const CofferDestination *dest,
                                            const char *recovery_key_text, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data)
{
  OpenData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = open_task_new (self, coffer_engine_open_with_recovery_key_async, dest, self->password, cancellable,
                        callback, user_data, &data);
  data->recovery_key = g_strdup (recovery_key_text);
  _coffer_engine_task_run (task, open_rk_call, data, open_data_free);
}

gboolean
coffer_engine_open_with_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return open_task_finish (self, result, error);
}

/* ---- joining by code ---- */

typedef struct
{
  CofferDestination *dest;
  CofferSecret      *password;     /* may be NULL */
  char              *device_name;
  CofferRepository  *opened;       /* out: opened, join requested, no keys */
  char              *device_id;    /* out */
} RequestJoinData;

COFFER_ENGINE_DEFINE_DATA (RequestJoinData, request_join_data)

static void
request_join_data_clear (RequestJoinData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
  g_clear_pointer (&data->password, coffer_secret_free);
  g_free (data->device_name);
  g_clear_object (&data->opened);
  g_free (data->device_id);
}

static gboolean
request_join_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  RequestJoinData *data = task_data;
  g_autoptr(CofferRepository) repository = _coffer_engine_open_repository (data->dest, data->password,
                                                                           cancellable, error);
  g_autofree char *code = NULL;

  if (repository == NULL ||
      !coffer_repository_request_join (repository, data->device_name, &data->device_id, &code,
                                       cancellable, error))
    return FALSE;
  data->opened = g_steal_pointer (&repository);
  return TRUE;
}

void
coffer_engine_request_join_async (CofferEngine *self, const CofferDestination *dest,
                                  const char *device_name, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  RequestJoinData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_request_join_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = request_join_data_new ();
  data->dest = coffer_destination_copy (dest);
  data->device_name = g_strdup (device_name);
  data->password = self->password ? coffer_secret_dup (self->password) : NULL;
  _coffer_engine_task_run (task, request_join_call, data, request_join_data_free);
}

char *
coffer_engine_request_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  RequestJoinData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  g_set_object (&self->joining, data->opened);
  return g_steal_pointer (&data->device_id);
}

typedef struct
{
  char     *code;        /* out */
  gboolean  approved;    /* out */
} JoinStatusData;

COFFER_ENGINE_DEFINE_DATA (JoinStatusData, join_status_data)

static void
join_status_data_clear (JoinStatusData *data)
{
  g_free (data->code);
}

static gboolean
join_status_call (CofferRepository *joining, gpointer task_data, GCancellable *cancellable, GError **error)
{
  JoinStatusData *data = task_data;

  return coffer_repository_get_join_status (joining, &data->code, &data->approved, cancellable, error);
}

void
coffer_engine_get_join_status_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_get_join_status_async, COFFER_ENGINE_NEEDS_JOINING,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, join_status_call, join_status_data_new (), join_status_data_free);
}

gboolean
coffer_engine_get_join_status_finish (CofferEngine *self, GAsyncResult *result, char **out_code,
                                      gboolean *out_approved, GError **error)
{
  JoinStatusData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_code != NULL)
    *out_code = g_steal_pointer (&data->code);
  if (out_approved != NULL)
    *out_approved = data->approved;
  return TRUE;
}

typedef struct
{
  CofferRepository *joining;     /* becomes the engine's repository */
} CompleteJoinData;

COFFER_ENGINE_DEFINE_DATA (CompleteJoinData, complete_join_data)

static void
complete_join_data_clear (CompleteJoinData *data)
{
  g_clear_object (&data->joining);
}

static gboolean
complete_join_call (CofferRepository *joining, gpointer task_data, GCancellable *cancellable, GError **error)
{
  return coffer_repository_complete_join (joining, cancellable, error);
}

void
coffer_engine_complete_join_async (CofferEngine *self, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  CompleteJoinData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_complete_join_async, COFFER_ENGINE_NEEDS_JOINING,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = complete_join_data_new ();
  data->joining = g_object_ref (self->joining);
  _coffer_engine_task_run (task, complete_join_call, data, complete_join_data_free);
}

gboolean
coffer_engine_complete_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  CompleteJoinData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  _coffer_engine_set_repository (self, data->joining);
  g_clear_object (&self->joining);
  return TRUE;
}

/* ---- categories ---- */

typedef struct
{
  char        *category_id;    /* update only */
  char        *name;
  CofferLevel  level;          /* add only */
  char       **paths;
  char       **excludes;
  char        *new_id;         /* out (add) */
} CategoryData;

COFFER_ENGINE_DEFINE_DATA (CategoryData, category_data)

static void
category_data_clear (CategoryData *data)
{
  g_free (data->category_id);
  g_free (data->name);
  g_strfreev (data->paths);
  g_strfreev (data->excludes);
  g_free (data->new_id);
}

static CategoryData *
category_data_new_for (const char *category_id, const char *name, CofferLevel level,
                       const char * const *paths, const char * const *excludes)
{
  CategoryData *data = category_data_new ();

  data->category_id = g_strdup (category_id);
  data->name = g_strdup (name);
  data->level = level;
  data->paths = g_strdupv ((char **) paths);
  data->excludes = excludes ? g_strdupv ((char **) excludes) : g_new0 (char *, 1);
  return data;
}

static gboolean
add_category_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  CategoryData *data = task_data;
  g_autoptr(CofferCategory) category = NULL;

  category = coffer_repository_add_category (repository, data->name, data->level,
                                             (const char * const *) data->paths,
                                             (const char * const *) data->excludes,
                                             cancellable, error);
  if (category == NULL)
    return FALSE;
  data->new_id = g_strdup (category->id);
  return TRUE;
}

void
coffer_engine_add_category_async (CofferEngine *self, const char *name, CofferLevel level,
                                  const char * const *paths, const char * const *excludes,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_add_category_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, add_category_call,
                           category_data_new_for (NULL, name, level, paths, excludes), category_data_free);
}

char *
coffer_engine_add_category_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  CategoryData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->new_id);
}

static gboolean
update_category_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                      GError **error)
{
  CategoryData *data = task_data;
  g_autoptr(CofferCategory) category = NULL;

  category = coffer_repository_find_category (repository, data->category_id, cancellable, error);
  if (category == NULL)
    return FALSE;
  g_free (category->name);
  category->name = g_strdup (data->name);
  g_strfreev (category->paths);
  category->paths = g_strdupv (data->paths);
  g_strfreev (category->excludes);
  category->excludes = g_strdupv (data->excludes);
  return coffer_repository_update_category (repository, category, cancellable, error);
}

void
coffer_engine_update_category_async (CofferEngine *self, const char *category_id,
                                     const char *name, const char * const *paths,
                                     const char * const *excludes, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_update_category_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, update_category_call,
                           category_data_new_for (category_id, name, COFFER_LEVEL_STANDARD, paths, excludes),
                           category_data_free);
}

gboolean
coffer_engine_update_category_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  char        *category_id;
  CofferLevel  level;
} SetLevelData;

COFFER_ENGINE_DEFINE_DATA (SetLevelData, set_level_data)

static void
set_level_data_clear (SetLevelData *data)
{
  g_free (data->category_id);
}

static gboolean
set_level_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  SetLevelData *data = task_data;

  return coffer_repository_set_level (repository, data->category_id, data->level, cancellable, error);
}

void
coffer_engine_set_level_async (CofferEngine *self, const char *category_id, CofferLevel level,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  SetLevelData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_set_level_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = set_level_data_new ();
  data->category_id = g_strdup (category_id);
  data->level = level;
  _coffer_engine_task_run (task, set_level_call, data, set_level_data_free);
}

gboolean
coffer_engine_set_level_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Lists of the open repository's categories or devices. */
typedef struct
{
  GPtrArray *items;    /* out */
} ListData;

COFFER_ENGINE_DEFINE_DATA (ListData, list_data)

static void
list_data_clear (ListData *data)
{
  g_clear_pointer (&data->items, g_ptr_array_unref);
}

static gboolean
list_categories_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                      GError **error)
{
  ListData *data = task_data;

  data->items = coffer_repository_list_categories (repository, cancellable, error);
  return data->items != NULL;
}

void
coffer_engine_list_categories_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_categories_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, list_categories_call, list_data_new (), list_data_free);
}

GPtrArray *
coffer_engine_list_categories_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ListData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->items);
}

/* ---- backup ---- */

typedef struct
{
  CofferEngine       *engine;        /* strong, for ::progress */
  char              **category_ids;
  GHashTable         *excludes;      /* id -> char **, may be NULL */
  CofferRetention     retention;
  CofferBackupReport *report;        /* out */
} BackupData;

COFFER_ENGINE_DEFINE_DATA (BackupData, backup_data)

static void
backup_data_clear (BackupData *data)
{
  g_clear_object (&data->engine);
  g_strfreev (data->category_ids);
  g_clear_pointer (&data->excludes, g_hash_table_unref);
  g_clear_pointer (&data->report, coffer_backup_report_free);
}

static gboolean
retention_is_set (const CofferRetention *r)
{
  return r->keep_last || r->keep_hourly || r->keep_daily || r->keep_weekly || r->keep_monthly || r->keep_yearly;
}

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
sync_excludes (CofferRepository *repository, BackupData *data, const char *category_id,
               GCancellable *cancellable)
{
  char **wanted = data->excludes ? g_hash_table_lookup (data->excludes, category_id) : NULL;
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(GError) error = NULL;

  if (wanted == NULL)
    return;
  category = coffer_repository_find_category (repository, category_id, cancellable, &error);
  if (category == NULL || same_strv (category->excludes, wanted))
    return;
  g_strfreev (category->excludes);
  category->excludes = g_strdupv (wanted);
  if (!coffer_repository_update_category (repository, category, cancellable, &error))
    g_debug ("Could not update the excludes of %s: %s", category_id, error->message);
}

static gboolean
backup_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  BackupData *data = task_data;
  g_autoptr(CofferBackupReport) report = g_new0 (CofferBackupReport, 1);

  report->start_time = g_get_real_time () / G_USEC_PER_SEC;
  report->snapshots = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_snapshot_free);
  report->messages = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; data->category_ids[i] != NULL; i++)
    {
      const char *category_id = data->category_ids[i];
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GPtrArray) skipped = NULL;
      CofferSnapshot *snapshot;

      if (g_cancellable_is_cancelled (cancellable))
        break;
      sync_excludes (repository, data, category_id, cancellable);
      snapshot = coffer_backup_run (repository, category_id, _coffer_engine_progress_cb, data->engine,
                                    &skipped, cancellable, &local_error);
      if (snapshot == NULL)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          report->n_failed++;
          if (local_error->domain != COFFER_STORE_ERROR)
            {
              /* Say which category: the others may have worked. (A store
               * error is the destination's, for every category alike.) */
              g_autoptr(CofferCategory) failed = coffer_repository_find_category (repository, category_id,
                                                                                  NULL, NULL);
              g_autofree char *message = coffer_engine_describe_error (local_error);
              g_ptr_array_add (report->messages, failed != NULL
                                                 ? g_strdup_printf ("%s: %s", failed->name, message)
                                                 : g_steal_pointer (&message));
            }
          else
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

      if (retention_is_set (&data->retention))
        {
          g_autoptr(GPtrArray) forgotten = NULL;
          g_autoptr(GError) forget_error = NULL;

          if (!coffer_forget_run (repository, category_id, &data->retention, FALSE, &forgotten,
                                  cancellable, &forget_error))
            g_ptr_array_add (report->messages,
                             g_strdup_printf (_("Old backups could not be removed: %s"), forget_error->message));
        }
    }
  report->end_time = g_get_real_time () / G_USEC_PER_SEC;
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s", _("The backup was cancelled."));
      return FALSE;
    }
  data->report = g_steal_pointer (&report);
  return TRUE;
}

void
coffer_engine_backup_async (CofferEngine *self, const char * const *category_ids,
                            GHashTable *excludes,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  BackupData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (category_ids != NULL);
  task = _coffer_engine_exclusive_task_new (self, coffer_engine_backup_async, callback, user_data);
  if (task == NULL)
    return;
  data = backup_data_new ();
  data->engine = g_object_ref (self);
  data->category_ids = g_strdupv ((char **) category_ids);
  data->retention = self->retention;
  data->excludes = excludes ? g_hash_table_ref (excludes) : NULL;
  _coffer_engine_task_run (task, backup_call, data, backup_data_free);
}

CofferBackupReport *
coffer_engine_backup_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  BackupData *data = _coffer_engine_task_get_data (result);

  _coffer_engine_exclusive_task_done (self, result);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->report);
}

/* ---- re-encryption ---- */

typedef struct
{
  CofferEngine *engine;        /* strong, for ::progress */
  char         *category_id;
} ReencryptData;

COFFER_ENGINE_DEFINE_DATA (ReencryptData, reencrypt_data)

static void
reencrypt_data_clear (ReencryptData *data)
{
  g_clear_object (&data->engine);
  g_free (data->category_id);
}

static gboolean
reencrypt_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ReencryptData *data = task_data;

  return coffer_repository_reencrypt_category (repository, data->category_id, _coffer_engine_progress_cb,
                                               data->engine, cancellable, error);
}

void
coffer_engine_reencrypt_async (CofferEngine *self, const char *category_id,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  ReencryptData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (category_id != NULL);
  task = _coffer_engine_exclusive_task_new (self, coffer_engine_reencrypt_async, callback, user_data);
  if (task == NULL)
    return;
  data = reencrypt_data_new ();
  data->engine = g_object_ref (self);
  data->category_id = g_strdup (category_id);
  _coffer_engine_task_run (task, reencrypt_call, data, reencrypt_data_free);
}

gboolean
coffer_engine_reencrypt_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  _coffer_engine_exclusive_task_done (self, result);
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  char  *category_id;
  gssize count;         /* out */
} CountOldData;

COFFER_ENGINE_DEFINE_DATA (CountOldData, count_old_data)

static void
count_old_data_clear (CountOldData *data)
{
  g_free (data->category_id);
}

static gboolean
count_old_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  CountOldData *data = task_data;
  g_autoptr(CofferCategory) category = NULL;
  g_autoptr(GPtrArray) snapshots = NULL;

  category = coffer_repository_find_category (repository, data->category_id, cancellable, error);
  if (category != NULL)
    snapshots = coffer_repository_list_snapshots (repository, data->category_id, cancellable, error);
  if (snapshots == NULL)
    return FALSE;
  data->count = 0;
  for (guint i = 0; i < snapshots->len; i++)
    if (((CofferSnapshot *) g_ptr_array_index (snapshots, i))->epoch != category->epoch)
      data->count++;
  return TRUE;
}

void
coffer_engine_count_old_backups_async (CofferEngine *self, const char *category_id,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data)
{
  CountOldData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_count_old_backups_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = count_old_data_new ();
  data->category_id = g_strdup (category_id);
  _coffer_engine_task_run (task, count_old_call, data, count_old_data_free);
}

gssize
coffer_engine_count_old_backups_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  CountOldData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return -1;
  return data->count;
}

/* ---- snapshots and browsing ---- */

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

/* Listing snapshots, a folder of a snapshot, or searching one. */
typedef struct
{
  char           *category_id;
  CofferSnapshot *snapshot;       /* list_dir, search */
  char           *path;           /* list_dir */
  char           *folded_query;   /* search: casefolded */
  guint           max_results;    /* search: at least 1 */
  GPtrArray      *results;        /* out */
} BrowseData;

COFFER_ENGINE_DEFINE_DATA (BrowseData, browse_data)

static void
browse_data_clear (BrowseData *data)
{
  g_free (data->category_id);
  g_clear_pointer (&data->snapshot, coffer_snapshot_free);
  g_free (data->path);
  g_free (data->folded_query);
  g_clear_pointer (&data->results, g_ptr_array_unref);
}

/* The results of a browsing operation (caller owns them), or NULL. */
static GPtrArray *
browse_task_finish (GAsyncResult *result, GError **error)
{
  BrowseData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->results);
}

static gboolean
list_snapshots_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                     GError **error)
{
  BrowseData *data = task_data;
  GPtrArray *snapshots = coffer_repository_list_snapshots (repository, data->category_id, cancellable, error);

  if (snapshots == NULL)
    return FALSE;
  /* newest first */
  for (guint i = 0; i < snapshots->len / 2; i++)
    {
      gpointer tmp = snapshots->pdata[i];
      snapshots->pdata[i] = snapshots->pdata[snapshots->len - 1 - i];
      snapshots->pdata[snapshots->len - 1 - i] = tmp;
    }
  data->results = snapshots;
  return TRUE;
}

void
coffer_engine_list_snapshots_async (CofferEngine *self, const char *category_id,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  BrowseData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_snapshots_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = browse_data_new ();
  data->category_id = g_strdup (category_id);
  _coffer_engine_task_run (task, list_snapshots_call, data, browse_data_free);
}

GPtrArray *
coffer_engine_list_snapshots_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return browse_task_finish (result, error);
}

static gboolean
list_dir_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  BrowseData *data = task_data;

  data->results = coffer_repository_list_dir (repository, data->category_id, data->snapshot, data->path,
                                              cancellable, error);
  return data->results != NULL;
}

void
coffer_engine_list_dir_async (CofferEngine *self, const char *category_id,
                              const CofferSnapshot *snapshot, const char *path,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  BrowseData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_dir_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = browse_data_new ();
  data->category_id = g_strdup (category_id);
  data->snapshot = snapshot_copy (snapshot);
  data->path = g_strdup (path);
  _coffer_engine_task_run (task, list_dir_call, data, browse_data_free);
}

GPtrArray *
coffer_engine_list_dir_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return browse_task_finish (result, error);
}

static gboolean
search_walk_cb (const char *path, const CofferTreeEntry *entry, gpointer user_data)
{
  BrowseData *data = user_data;
  g_autofree char *name = g_utf8_make_valid (entry->name, -1);
  g_autofree char *folded = g_utf8_casefold (name, -1);

  if (strstr (folded, data->folded_query) != NULL)
    g_ptr_array_add (data->results, coffer_file_item_new_for_search (path, entry));
  return data->results->len < data->max_results;
}

static gboolean
search_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  BrowseData *data = task_data;

  data->results = g_ptr_array_new_with_free_func (g_object_unref);
  if (!coffer_repository_walk (repository, data->category_id, data->snapshot, "/",
                               search_walk_cb, data, cancellable, error))
    {
      g_clear_pointer (&data->results, g_ptr_array_unref);
      return FALSE;
    }
  return TRUE;
}

void
coffer_engine_search_async (CofferEngine *self, const char *category_id,
                            const CofferSnapshot *snapshot, const char *query,
                            guint max_results, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  BrowseData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_search_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = browse_data_new ();
  data->category_id = g_strdup (category_id);
  data->snapshot = snapshot_copy (snapshot);
  data->folded_query = g_utf8_casefold (query, -1);
  data->max_results = MAX (max_results, 1);
  _coffer_engine_task_run (task, search_call, data, browse_data_free);
}

GPtrArray *
coffer_engine_search_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return browse_task_finish (result, error);
}

/* ---- restore ---- */

typedef struct
{
  CofferEngine       *engine;         /* strong, for ::progress */
  char               *category_id;
  CofferSnapshot     *snapshot;
  char              **paths;          /* NULL = everything */
  char               *target;
  char               *strip_prefix;   /* left out under target, or NULL */
  CofferRestoreFlags  flags;
  GPtrArray          *conflicts;      /* out, on COFFER_REPO_ERROR_NEWER_FILE */
  guint               withheld;       /* out */
} RestoreData;

COFFER_ENGINE_DEFINE_DATA (RestoreData, restore_data)

static void
restore_data_clear (RestoreData *data)
{
  g_clear_object (&data->engine);
  g_free (data->category_id);
  g_clear_pointer (&data->snapshot, coffer_snapshot_free);
  g_strfreev (data->paths);
  g_free (data->target);
  g_free (data->strip_prefix);
  g_clear_pointer (&data->conflicts, g_ptr_array_unref);
}

static gboolean
restore_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  RestoreData *data = task_data;
  g_autoptr(GPtrArray) conflicts = NULL;
  CofferRestoreResult restored = { 0 };
  gboolean ok;

  ok = coffer_restore_run_mapped (repository, data->category_id, data->snapshot,
                                  (const char * const *) data->paths, data->target, data->strip_prefix,
                                  data->flags, _coffer_engine_progress_cb, data->engine, &conflicts,
                                  &restored, cancellable, error);
  data->withheld = restored.withheld;
  if (!ok)
    data->conflicts = g_steal_pointer (&conflicts);
  return ok;
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
  RestoreData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_exclusive_task_new (self, coffer_engine_restore_async, callback, user_data);
  if (task == NULL)
    return;
  data = restore_data_new ();
  data->engine = g_object_ref (self);
  data->category_id = g_strdup (category_id);
  data->snapshot = snapshot_copy (snapshot);
  data->paths = paths ? g_strdupv ((char **) paths) : NULL;
  data->target = g_strdup (target);
  data->strip_prefix = g_strdup (strip_prefix);
  data->flags = flags;
  _coffer_engine_task_run (task, restore_call, data, restore_data_free);
}

gboolean
coffer_engine_restore_finish (CofferEngine *self, GAsyncResult *result,
                              GPtrArray **out_conflicts, GError **error)
{
  RestoreData *data = _coffer_engine_task_get_data (result);

  _coffer_engine_exclusive_task_done (self, result);
  if (out_conflicts != NULL)
    *out_conflicts = data && data->conflicts ? g_ptr_array_ref (data->conflicts) : NULL;
  return g_task_propagate_boolean (G_TASK (result), error);
}

guint
coffer_engine_restore_get_withheld (CofferEngine *self, GAsyncResult *result)
{
  RestoreData *data = _coffer_engine_task_get_data (result);

  g_return_val_if_fail (COFFER_IS_ENGINE (self), 0);
  return data != NULL ? data->withheld : 0;
}

/* ---- recovery key and password ---- */

/* Operations on a recovery key as the user typed it. */
typedef struct
{
  char *text;
} RecoveryKeyData;

COFFER_ENGINE_DEFINE_DATA (RecoveryKeyData, recovery_key_data)

static void
recovery_key_data_clear (RecoveryKeyData *data)
{
  g_free (data->text);
}

static GTask *
recovery_key_task_new (CofferEngine *self, gpointer source_tag, const char *text, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data, RecoveryKeyData **out_data)
{
  GTask *task = _coffer_engine_task_new (self, source_tag, COFFER_ENGINE_NEEDS_REPOSITORY, cancellable,
                                         callback, user_data);

  if (task == NULL)
    return NULL;
  *out_data = recovery_key_data_new ();
  (*out_data)->text = g_strdup (text);
  return task;
}

static gboolean
verify_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  RecoveryKeyData *data = task_data;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (data->text, error);

  return key != NULL && coffer_repository_verify_recovery_key (repository, key, cancellable, error);
}

void
coffer_engine_verify_recovery_key_async (CofferEngine *self, const char *text,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  RecoveryKeyData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = recovery_key_task_new (self, coffer_engine_verify_recovery_key_async, text, cancellable, callback,
                                user_data, &data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, verify_call, data, recovery_key_data_free);
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

typedef struct
{
  CofferSecret *key;   /* out: the new recovery key, not written yet */
} ReplaceKeyData;

COFFER_ENGINE_DEFINE_DATA (ReplaceKeyData, replace_key_data)

static void
replace_key_data_clear (ReplaceKeyData *data)
{
  g_clear_pointer (&data->key, coffer_secret_free);
}

static gboolean
replace_key_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ReplaceKeyData *data = task_data;

  data->key = coffer_repository_begin_recovery_key_replacement (repository, error);
  return data->key != NULL;
}

void
coffer_engine_replace_recovery_key_async (CofferEngine *self, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_replace_recovery_key_async,
                                  COFFER_ENGINE_NEEDS_REPOSITORY, cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, replace_key_call, replace_key_data_new (), replace_key_data_free);
}

CofferSecret *
coffer_engine_replace_recovery_key_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ReplaceKeyData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->key);
}

static gboolean
commit_key_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  RecoveryKeyData *data = task_data;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (data->text, error);

  return key != NULL && coffer_repository_commit_recovery_key_replacement (repository, key, cancellable, error);
}

void
coffer_engine_commit_recovery_key_async (CofferEngine *self, const char *text, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
  RecoveryKeyData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = recovery_key_task_new (self, coffer_engine_commit_recovery_key_async, text, cancellable, callback,
                                user_data, &data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, commit_key_call, data, recovery_key_data_free);
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

/* Checking authority and changing the password: a secret typed now. */
typedef struct
{
  CofferSecret *secret;
} SecretData;

COFFER_ENGINE_DEFINE_DATA (SecretData, secret_data)

static void
secret_data_clear (SecretData *data)
{
  g_clear_pointer (&data->secret, coffer_secret_free);
}

/* Authority typed now (docs/SECURITY.md "Authority for security
 * downgrades"): text that reads as a recovery key is checked as one (a typo
 * in it is reported as such); anything else as the backup password. */
static gboolean
check_authority_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                      GError **error)
{
  SecretData *data = task_data;
  g_autoptr(CofferSecret) text = coffer_secret_new (data->secret->len + 1);
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(GError) parse_error = NULL;

  memcpy (text->data, data->secret->data, data->secret->len);
  text->data[data->secret->len] = '\0';
  key = coffer_recovery_key_parse ((const char *) text->data, &parse_error);
  if (key != NULL)
    return coffer_repository_check_authority (repository, NULL, key, cancellable, error);
  if (g_error_matches (parse_error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO))
    {
      g_propagate_error (error, g_steal_pointer (&parse_error));
      return FALSE;
    }
  return coffer_repository_check_authority (repository, data->secret, NULL, cancellable, error);
}

void
coffer_engine_check_authority_async (CofferEngine *self, const CofferSecret *typed, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  SecretData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (typed != NULL);
  task = _coffer_engine_task_new (self, coffer_engine_check_authority_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = secret_data_new ();
  data->secret = coffer_secret_dup (typed);
  _coffer_engine_task_run (task, check_authority_call, data, secret_data_free);
}

gboolean
coffer_engine_check_authority_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
change_password_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                      GError **error)
{
  SecretData *data = task_data;

  if (!coffer_repository_change_password (repository, data->secret, cancellable, error))
    return FALSE;
  coffer_repository_set_password (repository, data->secret);
  return TRUE;
}

void
coffer_engine_change_password_async (CofferEngine *self, const CofferSecret *password,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  SecretData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  g_return_if_fail (password != NULL);
  task = _coffer_engine_task_new (self, coffer_engine_change_password_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = secret_data_new ();
  data->secret = coffer_secret_dup (password);
  _coffer_engine_task_run (task, change_password_call, data, secret_data_free);
}

gboolean
coffer_engine_change_password_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  SecretData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  coffer_engine_set_password (self, data->secret);
  return TRUE;
}

/* ---- devices ---- */

static gboolean
list_devices_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ListData *data = task_data;

  data->items = coffer_repository_list_devices (repository, cancellable, error);
  return data->items != NULL;
}

void
coffer_engine_list_devices_async (CofferEngine *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_list_devices_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, list_devices_call, list_data_new (), list_data_free);
}

GPtrArray *
coffer_engine_list_devices_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ListData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->items);
}

/* Answering, approving and removing a device. */
typedef struct
{
  char  *device_id;
  char  *code;           /* approve: the code read on the new computer */
  char  *recovery_key;   /* remove: the typed recovery key */
  char **lost;           /* out (remove): names of computers that lost access */
} DeviceData;

COFFER_ENGINE_DEFINE_DATA (DeviceData, device_data)

static void
device_data_clear (DeviceData *data)
{
  g_free (data->device_id);
  g_free (data->code);
  g_free (data->recovery_key);
  g_strfreev (data->lost);
}

static GTask *
device_task_new (CofferEngine *self, gpointer source_tag, const char *device_id, GCancellable *cancellable,
                 GAsyncReadyCallback callback, gpointer user_data, DeviceData **out_data)
{
  GTask *task = _coffer_engine_task_new (self, source_tag, COFFER_ENGINE_NEEDS_REPOSITORY, cancellable,
                                         callback, user_data);

  if (task == NULL)
    return NULL;
  *out_data = device_data_new ();
  (*out_data)->device_id = g_strdup (device_id);
  return task;
}

static gboolean
answer_join_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  DeviceData *data = task_data;
  g_autofree char *code = NULL;

  return coffer_repository_get_join_code (repository, data->device_id, &code, cancellable, error);
}

void
coffer_engine_answer_join_async (CofferEngine *self, const char *device_id, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  DeviceData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = device_task_new (self, coffer_engine_answer_join_async, device_id, cancellable, callback, user_data,
                          &data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, answer_join_call, data, device_data_free);
}

gboolean
coffer_engine_answer_join_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
approve_device_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable,
                     GError **error)
{
  DeviceData *data = task_data;
  g_autofree char *code = NULL;

  /* Answers the request first when that has not happened yet. */
  return coffer_repository_get_join_code (repository, data->device_id, &code, cancellable, error) &&
         coffer_repository_approve_device (repository, data->device_id, data->code, cancellable, error);
}

void
coffer_engine_approve_device_async (CofferEngine *self, const char *device_id, const char *code,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  DeviceData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = device_task_new (self, coffer_engine_approve_device_async, device_id, cancellable, callback,
                          user_data, &data);
  if (task == NULL)
    return;
  data->code = g_strdup (code);
  _coffer_engine_task_run (task, approve_device_call, data, device_data_free);
}

gboolean
coffer_engine_approve_device_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
remove_device_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  DeviceData *data = task_data;
  g_autoptr(CofferSecret) key = coffer_recovery_key_parse (data->recovery_key, error);
  g_autoptr(GPtrArray) lost = NULL;
  g_autoptr(GStrvBuilder) names = NULL;

  if (key == NULL || !coffer_repository_verify_recovery_key (repository, key, cancellable, error))
    return FALSE;
  coffer_repository_set_recovery_key (repository, key);
  /* No unverified device is confirmed from the app yet: those lose access
   * and join again (docs/SECURITY.md "Devices and rotation"); the app
   * names them. */
  if (!coffer_repository_remove_device (repository, data->device_id, NULL, &lost, cancellable, error))
    return FALSE;
  names = g_strv_builder_new ();
  for (guint i = 0; lost != NULL && i < lost->len; i++)
    {
      const CofferDevice *device = g_ptr_array_index (lost, i);
      g_strv_builder_add (names, device->name != NULL ? device->name : device->id);
    }
  data->lost = g_strv_builder_end (names);
  return TRUE;
}

void
coffer_engine_remove_device_async (CofferEngine *self, const char *device_id, const char *recovery_key_text,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  DeviceData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = device_task_new (self, coffer_engine_remove_device_async, device_id, cancellable, callback,
                          user_data, &data);
  if (task == NULL)
    return;
  data->recovery_key = g_strdup (recovery_key_text);
  _coffer_engine_task_run (task, remove_device_call, data, device_data_free);
}

/* out_lost: the names of the computers that could not be verified and
 * lost access (they must join again); may be NULL. */
gboolean
coffer_engine_remove_device_finish (CofferEngine *self, GAsyncResult *result, char ***out_lost, GError **error)
{
  DeviceData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  if (out_lost != NULL)
    *out_lost = g_steal_pointer (&data->lost);
  return TRUE;
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

typedef struct
{
  CofferDestination  *dest;
  CofferShareContext *context;   /* out */
} ShareContextData;

COFFER_ENGINE_DEFINE_DATA (ShareContextData, share_context_data)

static void
share_context_data_clear (ShareContextData *data)
{
  g_clear_pointer (&data->dest, coffer_destination_free);
  g_clear_pointer (&data->context, coffer_share_context_free);
}

static gboolean
share_context_call (CofferRepository *unused, gpointer task_data, GCancellable *cancellable, GError **error)
{
  ShareContextData *data = task_data;
  g_autoptr(CofferRepository) repository = _coffer_engine_open_repository (data->dest, NULL, cancellable,
                                                                           error);
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
  data->context = g_steal_pointer (&context);
  return TRUE;
}

void
coffer_engine_open_share_context_async (CofferEngine *self, const CofferDestination *dest,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data)
{
  ShareContextData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_open_share_context_async, COFFER_ENGINE_NEEDS_NOTHING,
                                  cancellable, callback, user_data);
  data = share_context_data_new ();
  data->dest = coffer_destination_copy (dest);
  _coffer_engine_task_run (task, share_context_call, data, share_context_data_free);
}

CofferShareContext *
coffer_engine_open_share_context_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  ShareContextData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&data->context);
}

typedef struct
{
  CofferSharesInfo info;   /* out */
} SharesInfoData;

COFFER_ENGINE_DEFINE_DATA (SharesInfoData, shares_info_data)

static void
shares_info_data_clear (SharesInfoData *data)
{
}

static gboolean
shares_info_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  SharesInfoData *data = task_data;
  g_autoptr(GArray) generations = coffer_repository_load_recovery_generations (repository, cancellable, error);
  CofferSharesInfo *info = &data->info;

  if (generations == NULL)
    return FALSE;
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
  return TRUE;
}

void
coffer_engine_get_shares_info_async (CofferEngine *self, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_get_shares_info_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  _coffer_engine_task_run (task, shares_info_call, shares_info_data_new (), shares_info_data_free);
}

gboolean
coffer_engine_get_shares_info_finish (CofferEngine *self, GAsyncResult *result, CofferSharesInfo *info,
                                      GError **error)
{
  SharesInfoData *data = _coffer_engine_task_get_data (result);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *info = data->info;
  return TRUE;
}

typedef struct
{
  char  *recovery_key;   /* as typed */
  guint  needed;
  guint  count;
  char  *folder;
  char  *owner;
} MakeSharesData;

COFFER_ENGINE_DEFINE_DATA (MakeSharesData, make_shares_data)

static void
make_shares_data_clear (MakeSharesData *data)
{
  g_free (data->recovery_key);
  g_free (data->folder);
  g_free (data->owner);
}

static char *
sheet_path (const char *folder, guint index, guint count)
{
  g_autofree char *base = g_strdup_printf ("share-%u-of-%u.pdf", index, count);

  return g_build_filename (folder, base, NULL);
}

static gboolean
make_shares_call (CofferRepository *repository, gpointer task_data, GCancellable *cancellable, GError **error)
{
  MakeSharesData *data = task_data;
  g_autoptr(CofferSecret) key = NULL;
  g_autoptr(GPtrArray) shares = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *location = coffer_repository_describe (repository);

  /* Every name is checked before anything is made: sheets never replace
   * files, and a half-saved set helps nobody. */
  for (guint i = 1; i <= data->count; i++)
    {
      g_autofree char *path = sheet_path (data->folder, i, data->count);

      if (g_file_test (path, G_FILE_TEST_EXISTS) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        {
          g_autofree char *base = g_path_get_basename (path);

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       _("The folder already has a file “%s”. Choose an empty folder: share sheets "
                         "never replace files."), base);
          return FALSE;
        }
    }
  key = coffer_recovery_key_parse (data->recovery_key, error);
  if (key == NULL)
    return FALSE;
  shares = coffer_repository_make_shares (repository, key, data->needed, data->count, cancellable, error);
  if (shares == NULL)
    return FALSE;
  for (guint i = 0; i < shares->len; i++)
    {
      const CofferShare *share = g_ptr_array_index (shares, i);
      g_autoptr(CofferSecret) formatted = coffer_share_format (share);
      g_autofree char *path = sheet_path (data->folder, share->index, data->count);

      if (!coffer_share_sheet_write_pdf (path, formatted, data->owner, share->index, share->needed, data->count,
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
  MakeSharesData *data;
  GTask *task;

  g_return_if_fail (COFFER_IS_ENGINE (self));
  task = _coffer_engine_task_new (self, coffer_engine_make_shares_async, COFFER_ENGINE_NEEDS_REPOSITORY,
                                  cancellable, callback, user_data);
  if (task == NULL)
    return;
  data = make_shares_data_new ();
  data->recovery_key = g_strdup (recovery_key_text);
  data->needed = needed;
  data->count = count;
  data->folder = g_strdup (folder);
  data->owner = g_strdup (owner);
  _coffer_engine_task_run (task, make_shares_call, data, make_shares_data_free);
}

gboolean
coffer_engine_make_shares_finish (CofferEngine *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
