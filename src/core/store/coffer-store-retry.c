/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The transfer layer: wraps a store with
 *  - bounded concurrency (at most max_connections calls inside the backend),
 *  - retries with exponential backoff and jitter on NETWORK and SERVER
 *    errors (other errors fail at once),
 *  - a bandwidth limit (token bucket over the bytes put and got).
 * A create-only put that is retried after an ambiguous failure (the first
 * try may have landed) and then meets EXISTS counts as success when the
 * existing object has the size that was written: names are content hashes
 * or random, so an object of that name and size is the one we sent. */
#include "coffer-store-private.h"
#include "coffer-error.h"

#include <string.h>

#define DEFAULT_MAX_CONNECTIONS 4
#define DEFAULT_TRIES 6
#define DEFAULT_INITIAL_DELAY_US (500 * 1000)
#define DEFAULT_MAX_DELAY_US (30 * 1000 * 1000)

struct _CofferStoreRetry
{
  GObject parent_instance;

  CofferStore *inner;

  GMutex lock;
  GCond cond;
  guint max_connections;
  guint active;

  guint max_tries;
  guint64 initial_delay_us;
  guint64 max_delay_us;
  guint retries;          /* atomic */

  /* token bucket */
  GMutex bucket_lock;
  guint64 rate;           /* bytes per second, 0 = unlimited */
  double tokens;
  gint64 last_refill;
};

static void coffer_store_retry_iface_init (CofferStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (CofferStoreRetry, coffer_store_retry, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (COFFER_TYPE_STORE,
                                                      coffer_store_retry_iface_init))

/* Sleeps up to us microseconds; returns FALSE (with error) if cancelled. */
static gboolean
sleep_cancellable (guint64 us, GCancellable *cancellable, GError **error)
{
  gint64 end = g_get_monotonic_time () + us;

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (now >= end)
        return TRUE;
      g_usleep (MIN (end - now, 50 * 1000));
    }
}

static gboolean
acquire_slot (CofferStoreRetry *self, GCancellable *cancellable, GError **error)
{
  g_mutex_lock (&self->lock);
  while (self->active >= self->max_connections)
    {
      gint64 deadline = g_get_monotonic_time () + 100 * 1000;
      g_cond_wait_until (&self->cond, &self->lock, deadline);
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_mutex_unlock (&self->lock);
          g_cancellable_set_error_if_cancelled (cancellable, error);
          return FALSE;
        }
    }
  self->active++;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static void
release_slot (CofferStoreRetry *self)
{
  g_mutex_lock (&self->lock);
  self->active--;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* Takes n bytes from the bucket, waiting as needed. The bucket holds at
 * most one second of traffic, and may go into debt for objects larger than
 * that, so the average rate holds whatever the object size. */
static gboolean
throttle (CofferStoreRetry *self, guint64 n, GCancellable *cancellable, GError **error)
{
  guint64 wait_us = 0;

  if (self->rate == 0 || n == 0)
    return TRUE;
  g_mutex_lock (&self->bucket_lock);
  {
    gint64 now = g_get_monotonic_time ();
    self->tokens += (now - self->last_refill) / 1e6 * self->rate;
    if (self->tokens > self->rate)
      self->tokens = self->rate;
    self->last_refill = now;
    self->tokens -= n;
    if (self->tokens < 0)
      wait_us = (guint64) (-self->tokens / self->rate * 1e6);
  }
  g_mutex_unlock (&self->bucket_lock);
  return wait_us == 0 || sleep_cancellable (wait_us, cancellable, error);
}

static gboolean
retryable (const GError *error)
{
  return error != NULL && error->domain == COFFER_STORE_ERROR
         && (error->code == COFFER_STORE_ERROR_NETWORK || error->code == COFFER_STORE_ERROR_SERVER);
}

/* Waits before try number attempt (1-based, > 1). */
static gboolean
backoff (CofferStoreRetry *self, guint attempt, const GError *last, GCancellable *cancellable,
         GError **error)
{
  guint64 delay = self->initial_delay_us;

  for (guint i = 2; i < attempt && delay < self->max_delay_us; i++)
    delay *= 2;
  delay = MIN (delay, self->max_delay_us);
  /* Jitter: a random delay between half and all of it. */
  delay = delay / 2 + (guint64) (g_random_double () * (delay / 2 + 1));
  g_atomic_int_inc (&self->retries);
  g_debug ("retrying in %" G_GUINT64_FORMAT " ms after: %s", delay / 1000, last->message);
  return sleep_cancellable (delay, cancellable, error);
}

/* One try of a call, made while holding a connection slot; attempt is
 * 1-based. Returns FALSE with error on failure. */
typedef gboolean (*TryFunc) (CofferStoreRetry *self, gpointer call, guint attempt,
                             GCancellable *cancellable, GError **error);

/* Runs try until it succeeds, fails with an error that is not retryable,
 * or max_tries are used, with a backoff between tries. throttle_bytes are
 * taken from the bandwidth bucket before each try (what a put sends; a get
 * throttles what it received, after the call). On failure the last try's
 * error. */
static gboolean
with_retries (CofferStoreRetry *self, TryFunc try, gpointer call, guint64 throttle_bytes,
              GCancellable *cancellable, GError **error)
{
  g_autoptr(GError) last = NULL;

  for (guint attempt = 1; attempt <= self->max_tries; attempt++)
    {
      gboolean ok;

      if (attempt > 1 && !backoff (self, attempt, last, cancellable, error))
        return FALSE;
      g_clear_error (&last);
      if (!throttle (self, throttle_bytes, cancellable, error)
          || !acquire_slot (self, cancellable, error))
        return FALSE;
      ok = try (self, call, attempt, cancellable, &last);
      release_slot (self);
      if (ok)
        return TRUE;
      if (!retryable (last))
        break;
    }
  g_propagate_error (error, g_steal_pointer (&last));
  return FALSE;
}

typedef struct
{
  const char   *name;
  GBytes       *data;      /* put */
  CofferPutMode mode;      /* put */
  guint64       offset;    /* get, read_into */
  guint64       length;    /* get, read_into */
  guint64       max_size;  /* get_limited */
  guint8       *buf;       /* read_into */
  guint64      *size;      /* stat */
  GBytes       *result;    /* get, get_limited */
} Call;

static gboolean
try_put (CofferStoreRetry *self, gpointer data, guint attempt, GCancellable *cancellable,
         GError **error)
{
  Call *c = data;
  g_autoptr(GError) put_error = NULL;
  guint64 size = 0;

  if (coffer_store_put (self->inner, c->name, c->data, c->mode, cancellable, &put_error))
    return TRUE;
  /* After a try that failed in a way that may have landed (every try but
   * the first follows one), EXISTS from a create-only put is our own
   * object if it has the size we sent: names are content hashes or random. */
  if (attempt > 1 && c->mode != COFFER_PUT_REPLACE
      && g_error_matches (put_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_EXISTS))
    {
      g_autoptr(GError) stat_error = NULL;

      if (coffer_store_stat (self->inner, c->name, &size, cancellable, &stat_error)
          && size == g_bytes_get_size (c->data))
        {
          g_debug ("“%s” landed before the connection failed", c->name);
          return TRUE;
        }
      /* A retryable failure to look is tried again; otherwise EXISTS. */
      if (stat_error != NULL && retryable (stat_error))
        {
          g_propagate_error (error, g_steal_pointer (&stat_error));
          return FALSE;
        }
    }
  g_propagate_error (error, g_steal_pointer (&put_error));
  return FALSE;
}

static gboolean
coffer_store_retry_put (CofferStore *store, const char *name, GBytes *data, CofferPutMode mode,
                        GCancellable *cancellable, GError **error)
{
  Call c = { .name = name, .data = data, .mode = mode };

  return with_retries (COFFER_STORE_RETRY (store), try_put, &c, g_bytes_get_size (data),
                       cancellable, error);
}

static gboolean
try_get (CofferStoreRetry *self, gpointer data, guint attempt, GCancellable *cancellable,
         GError **error)
{
  Call *c = data;

  c->result = coffer_store_get (self->inner, c->name, c->offset, c->length, cancellable, error);
  return c->result != NULL;
}

static gboolean
try_get_limited (CofferStoreRetry *self, gpointer data, guint attempt, GCancellable *cancellable,
                 GError **error)
{
  Call *c = data;

  c->result = coffer_store_get_limited (self->inner, c->name, c->max_size, cancellable, error);
  return c->result != NULL;
}

/* What a get returns, once its bytes are taken from the bandwidth bucket. */
static GBytes *
throttled_result (CofferStoreRetry *self, Call *c, GCancellable *cancellable, GError **error)
{
  if (!throttle (self, g_bytes_get_size (c->result), cancellable, error))
    {
      g_bytes_unref (c->result);
      return NULL;
    }
  return c->result;
}

static GBytes *
coffer_store_retry_get (CofferStore *store, const char *name, guint64 offset, guint64 length,
                        GCancellable *cancellable, GError **error)
{
  CofferStoreRetry *self = COFFER_STORE_RETRY (store);
  Call c = { .name = name, .offset = offset, .length = length };

  if (!with_retries (self, try_get, &c, 0, cancellable, error))
    return NULL;
  return throttled_result (self, &c, cancellable, error);
}

static GBytes *
coffer_store_retry_get_limited (CofferStore *store, const char *name, guint64 max_size,
                                GCancellable *cancellable, GError **error)
{
  CofferStoreRetry *self = COFFER_STORE_RETRY (store);
  Call c = { .name = name, .max_size = max_size };

  /* A too-large object is COFFER_STORE_ERROR_INVALID: not retried. */
  if (!with_retries (self, try_get_limited, &c, 0, cancellable, error))
    return NULL;
  return throttled_result (self, &c, cancellable, error);
}

static gboolean
try_read_into (CofferStoreRetry *self, gpointer data, guint attempt, GCancellable *cancellable,
               GError **error)
{
  Call *c = data;

  return coffer_store_read_into (self->inner, c->name, c->offset, c->length, c->buf, cancellable,
                                 error);
}

static gboolean
coffer_store_retry_read_into (CofferStore *store, const char *name, guint64 offset, guint64 length,
                              guint8 *buf, GCancellable *cancellable, GError **error)
{
  CofferStoreRetry *self = COFFER_STORE_RETRY (store);
  Call c = { .name = name, .offset = offset, .length = length, .buf = buf };

  return with_retries (self, try_read_into, &c, 0, cancellable, error)
         && throttle (self, length, cancellable, error);
}

typedef struct
{
  const char *prefix;
  CofferStoreListFunc func;
  gpointer user_data;
  GHashTable *seen;   /* names already reported (a retried listing starts over) */
  gboolean stopped;
} ListWrap;

static gboolean
list_wrap_cb (const char *name, guint64 size, gpointer user_data)
{
  ListWrap *w = user_data;

  if (g_hash_table_contains (w->seen, name))
    return TRUE;
  g_hash_table_add (w->seen, g_strdup (name));
  if (!w->func (name, size, w->user_data))
    {
      w->stopped = TRUE;
      return FALSE;
    }
  return TRUE;
}

static gboolean
try_list (CofferStoreRetry *self, gpointer data, guint attempt, GCancellable *cancellable,
          GError **error)
{
  ListWrap *w = data;
  g_autoptr(GError) list_error = NULL;

  /* Stopped by the caller's function: done, whatever the store said. */
  if (coffer_store_list (self->inner, w->prefix, list_wrap_cb, w, cancellable, &list_error)
      || w->stopped)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&list_error));
  return FALSE;
}

static gboolean
coffer_store_retry_list (CofferStore *store, const char *prefix, CofferStoreListFunc func,
                         gpointer user_data, GCancellable *cancellable, GError **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ListWrap w = { prefix, func, user_data, seen, FALSE };

  return with_retries (COFFER_STORE_RETRY (store), try_list, &w, 0, cancellable, error);
}

static gboolean
try_delete (CofferStoreRetry *self, gpointer data, guint attempt, GCancellable *cancellable,
            GError **error)
{
  Call *c = data;
  g_autoptr(GError) delete_error = NULL;

  if (coffer_store_delete (self->inner, c->name, cancellable, &delete_error))
    return TRUE;
  /* An earlier try deleted it but the answer was lost. */
  if (attempt > 1 && g_error_matches (delete_error, COFFER_STORE_ERROR, COFFER_STORE_ERROR_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&delete_error));
  return FALSE;
}

static gboolean
coffer_store_retry_delete (CofferStore *store, const char *name, GCancellable *cancellable,
                           GError **error)
{
  Call c = { .name = name };

  return with_retries (COFFER_STORE_RETRY (store), try_delete, &c, 0, cancellable, error);
}

static gboolean
try_stat (CofferStoreRetry *self, gpointer data, guint attempt, GCancellable *cancellable,
          GError **error)
{
  Call *c = data;

  return coffer_store_stat (self->inner, c->name, c->size, cancellable, error);
}

static gboolean
coffer_store_retry_stat (CofferStore *store, const char *name, guint64 *size,
                         GCancellable *cancellable, GError **error)
{
  Call c = { .name = name, .size = size };

  return with_retries (COFFER_STORE_RETRY (store), try_stat, &c, 0, cancellable, error);
}

static char *
coffer_store_retry_describe (CofferStore *store)
{
  return coffer_store_describe (COFFER_STORE_RETRY (store)->inner);
}

static gboolean
coffer_store_retry_flush (CofferStore *store, GCancellable *cancellable, GError **error)
{
  return coffer_store_flush (COFFER_STORE_RETRY (store)->inner, cancellable, error);
}

static void
coffer_store_retry_iface_init (CofferStoreInterface *iface)
{
  iface->put = coffer_store_retry_put;
  iface->get = coffer_store_retry_get;
  iface->get_limited = coffer_store_retry_get_limited;
  iface->read_into = coffer_store_retry_read_into;
  iface->list = coffer_store_retry_list;
  iface->delete = coffer_store_retry_delete;
  iface->stat = coffer_store_retry_stat;
  iface->describe = coffer_store_retry_describe;
  iface->flush = coffer_store_retry_flush;
}

static void
coffer_store_retry_finalize (GObject *object)
{
  CofferStoreRetry *self = COFFER_STORE_RETRY (object);

  g_clear_object (&self->inner);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->bucket_lock);
  G_OBJECT_CLASS (coffer_store_retry_parent_class)->finalize (object);
}

static void
coffer_store_retry_class_init (CofferStoreRetryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = coffer_store_retry_finalize;
}

static void
coffer_store_retry_init (CofferStoreRetry *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_mutex_init (&self->bucket_lock);
  self->max_tries = DEFAULT_TRIES;
  self->initial_delay_us = DEFAULT_INITIAL_DELAY_US;
  self->max_delay_us = DEFAULT_MAX_DELAY_US;
}

CofferStore *
coffer_store_retry_new (CofferStore *inner, guint max_connections, guint64 bandwidth_limit)
{
  CofferStoreRetry *self;

  g_return_val_if_fail (COFFER_IS_STORE (inner), NULL);

  self = g_object_new (COFFER_TYPE_STORE_RETRY, NULL);
  self->inner = g_object_ref (inner);
  self->max_connections = max_connections ? max_connections : DEFAULT_MAX_CONNECTIONS;
  self->rate = bandwidth_limit;
  self->tokens = bandwidth_limit;
  self->last_refill = g_get_monotonic_time ();
  return COFFER_STORE (self);
}

void
coffer_store_retry_set_policy (CofferStoreRetry *self, guint max_tries, guint64 initial_delay_us,
                               guint64 max_delay_us)
{
  g_return_if_fail (COFFER_IS_STORE_RETRY (self));
  self->max_tries = MAX (max_tries, 1);
  self->initial_delay_us = initial_delay_us;
  self->max_delay_us = MAX (max_delay_us, initial_delay_us);
}

guint
coffer_store_retry_get_retries (CofferStoreRetry *self)
{
  g_return_val_if_fail (COFFER_IS_STORE_RETRY (self), 0);
  return g_atomic_int_get (&self->retries);
}
