/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "coffer-cli.h"

int
main (int   argc,
      char *argv[])
{
  return coffer_cli_run (argc, argv);
}
