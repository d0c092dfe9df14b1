/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A TCP proxy on 127.0.0.1 that misbehaves on purpose, for fault tests.
 * Each accepted connection is, with the given per-mille chances: dropped
 * before anything is forwarded, answered "500" or "503" without reaching the
 * server, stalled (the response is held back for stall_ms before it is
 * forwarded), or truncated (the connection is closed halfway through the
 * response). The remaining connections are forwarded faithfully. */

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint drop;      /* per mille */
  guint error500;
  guint error503;
  guint stall;
  guint truncate;
  guint stall_ms;
  guint32 seed;
} CofferFaultPlan;

typedef struct _CofferFaultProxy CofferFaultProxy;

CofferFaultProxy *coffer_fault_proxy_start (guint16 target_port, const CofferFaultPlan *plan);
guint16           coffer_fault_proxy_get_port (CofferFaultProxy *proxy);
/* Number of connections that were sabotaged so far. */
guint             coffer_fault_proxy_get_faults (CofferFaultProxy *proxy);
void              coffer_fault_proxy_stop (CofferFaultProxy *proxy);

G_END_DECLS
