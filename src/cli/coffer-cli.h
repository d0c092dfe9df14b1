/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exit statuses of the `coffer` tool (see docs/CLI.md). */
typedef enum
{
  COFFER_EXIT_OK        = 0,
  COFFER_EXIT_FAILURE   = 1,    /* general failure, check found problems */
  COFFER_EXIT_USAGE     = 2,    /* usage error, wrong key, category locked */
  COFFER_EXIT_SKIPPED   = 3,    /* backup written but some paths were skipped */
  COFFER_EXIT_CONFLICTS = 4,    /* restore left newer files alone */
  COFFER_EXIT_UNREACHABLE = 5,  /* destination not connected or not answering: try later */
  COFFER_EXIT_CANCELLED = 130,  /* interrupted (SIGINT) */
} CofferExitStatus;

/* Runs the command line; returns the exit status. Call once per process
 * (it sets up locale, signal handling and reads secrets from the
 * environment, wiping them there). */
int coffer_cli_run (int argc, char **argv);

G_END_DECLS
