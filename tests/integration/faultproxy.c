/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "faultproxy.h"

#include <gio/gio.h>
#include <string.h>

struct _CofferFaultProxy
{
  GSocketListener *listener;
  GThread *thread;
  GCancellable *cancellable;
  guint16 port;
  guint16 target_port;
  CofferFaultPlan plan;
  GMutex lock;
  GRand *rand;
  guint faults;  /* atomic */
};

typedef enum { PASS, DROP, E500, E503, STALL, TRUNCATE } Fate;

typedef struct
{
  CofferFaultProxy *proxy;
  GSocketConnection *client;
  Fate fate;
} Conn;

static Fate
choose (CofferFaultProxy *p)
{
  guint r;
  guint acc = 0;

  g_mutex_lock (&p->lock);
  r = g_rand_int_range (p->rand, 0, 1000);
  g_mutex_unlock (&p->lock);
  if (r < (acc += p->plan.drop)) return DROP;
  if (r < (acc += p->plan.error500)) return E500;
  if (r < (acc += p->plan.error503)) return E503;
  if (r < (acc += p->plan.stall)) return STALL;
  if (r < (acc += p->plan.truncate)) return TRUNCATE;
  return PASS;
}

typedef struct
{
  GSocket *from;
  GSocket *to;
  gssize limit;     /* -1 = unlimited; forward at most this many bytes */
  guint delay_ms;   /* before forwarding the first byte */
  gboolean inject_close; /* add "Connection: close" after the status line */
} Pump;

/* Copies from -> to until EOF or error; then shuts both down. */
static gpointer
pump (gpointer data)
{
  Pump *pm = data;
  char buf[65536];
  gssize total = 0;
  gboolean first = TRUE;

  for (;;)
    {
      gssize n = g_socket_receive (pm->from, buf, sizeof buf, NULL, NULL);
      gssize off = 0;
      if (n <= 0)
        break;
      if (first && pm->delay_ms)
        g_usleep (pm->delay_ms * 1000);
      if (first && pm->inject_close)
        {
          /* One request per connection, so that every request meets the
           * dice: the client will not reuse this connection. */
          const char *eol = g_strstr_len (buf, n, "\r\n");
          if (eol != NULL)
            {
              static const char hdr[] = "\r\nConnection: close";
              gsize head = eol - buf;
              if (g_socket_send (pm->to, buf, head, NULL, NULL) != (gssize) head
                  || g_socket_send (pm->to, hdr, sizeof hdr - 1, NULL, NULL) != sizeof hdr - 1)
                goto out;
              off = head;
            }
        }
      first = FALSE;
      if (pm->limit >= 0 && total + n > pm->limit)
        n = pm->limit - total;
      while (off < n)
        {
          gssize w = g_socket_send (pm->to, buf + off, n - off, NULL, NULL);
          if (w <= 0)
            goto out;
          off += w;
        }
      total += n;
      if (pm->limit >= 0 && total >= pm->limit)
        break;
    }
out:
  g_socket_shutdown (pm->to, FALSE, TRUE, NULL);
  g_socket_shutdown (pm->from, TRUE, FALSE, NULL);
  return NULL;
}

static gpointer
handle (gpointer data)
{
  Conn *c = data;
  GSocket *cs = g_socket_connection_get_socket (c->client);
  const char *canned = NULL;

  switch (c->fate)
    {
    case DROP:
      {
        char buf[4096];
        /* Read (part of) the request, then hang up without a word. */
        g_socket_receive (cs, buf, sizeof buf, NULL, NULL);
        break;
      }
    case E500:
      canned = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      break;
    case E503:
      canned = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      break;
    case PASS:
    case STALL:
    case TRUNCATE:
    default:
      {
        g_autoptr(GSocketClient) sc = g_socket_client_new ();
        g_autoptr(GSocketConnection) up = g_socket_client_connect_to_host (sc, "127.0.0.1",
                                                                           c->proxy->target_port,
                                                                           NULL, NULL);
        Pump req, resp;
        GThread *t;

        if (up == NULL)
          break;
        req = (Pump) { cs, g_socket_connection_get_socket (up), -1, 0, FALSE };
        resp = (Pump) { g_socket_connection_get_socket (up), cs,
                        c->fate == TRUNCATE ? 200 + g_random_int_range (0, 2000) : -1,
                        c->fate == STALL ? c->proxy->plan.stall_ms : 0, TRUE };
        t = g_thread_new ("pump", pump, &req);
        pump (&resp);
        g_socket_close (cs, NULL);
        g_socket_close (g_socket_connection_get_socket (up), NULL);
        g_thread_join (t);
        break;
      }
    }
  if (canned)
    {
      char buf[65536];
      /* Read the request headers so the client is not reset mid-send. */
      g_socket_set_timeout (cs, 1);
      g_socket_receive (cs, buf, sizeof buf, NULL, NULL);
      g_socket_send (cs, canned, strlen (canned), NULL, NULL);
    }
  g_socket_close (cs, NULL);
  g_object_unref (c->client);
  g_free (c);
  return NULL;
}

static gpointer
accept_loop (gpointer data)
{
  CofferFaultProxy *p = data;

  for (;;)
    {
      GSocketConnection *client = g_socket_listener_accept (p->listener, NULL, p->cancellable, NULL);
      Conn *c;

      if (client == NULL)
        break;
      c = g_new0 (Conn, 1);
      c->proxy = p;
      c->client = client;
      c->fate = choose (p);
      if (c->fate != PASS)
        g_atomic_int_inc (&p->faults);
      g_thread_unref (g_thread_new ("proxy-conn", handle, c));
    }
  return NULL;
}

CofferFaultProxy *
coffer_fault_proxy_start (guint16 target_port, const CofferFaultPlan *plan)
{
  CofferFaultProxy *p = g_new0 (CofferFaultProxy, 1);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) error = NULL;

  p->target_port = target_port;
  p->plan = *plan;
  p->rand = g_rand_new_with_seed (plan->seed);
  g_mutex_init (&p->lock);
  p->cancellable = g_cancellable_new ();
  p->listener = g_socket_listener_new ();
  g_socket_listener_add_address (p->listener, addr, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &effective, &error);
  g_assert_no_error (error);
  p->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  p->thread = g_thread_new ("fault-proxy", accept_loop, p);
  return p;
}

guint16
coffer_fault_proxy_get_port (CofferFaultProxy *p)
{
  return p->port;
}

guint
coffer_fault_proxy_get_faults (CofferFaultProxy *p)
{
  return g_atomic_int_get (&p->faults);
}

void
coffer_fault_proxy_stop (CofferFaultProxy *p)
{
  g_cancellable_cancel (p->cancellable);
  g_thread_join (p->thread);
  g_socket_listener_close (p->listener);
  g_object_unref (p->listener);
  g_object_unref (p->cancellable);
  g_rand_free (p->rand);
  g_mutex_clear (&p->lock);
  g_free (p);
}
