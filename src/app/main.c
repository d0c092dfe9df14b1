/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <locale.h>
#include <glib/gi18n.h>

#include "coffer-application.h"
#include "coffer-secret.h"

int
main (int argc, char *argv[])
{
  g_autoptr(CofferApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  coffer_core_init ();
  g_set_application_name (_("Coffer"));
  app = coffer_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
