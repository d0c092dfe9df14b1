/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Starts one of the integration-test servers (servers.c) for a benchmark or
 * a manual session, prints shell assignments describing it, and stops it
 * (removing its files) when standard input reaches end of file.
 *
 *   serve-for-bench apache-basic|apache-digest|rclone|s3
 *
 * prints e.g.
 *   LOCATION='webdav://127.0.0.1:40123/dav/repo'
 *   HTTP_URL='http://127.0.0.1:40123/dav/'
 *   USER='coffer'
 *   PASSWORD='pw-1234abcd'
 *   S3_ENDPOINT='http://127.0.0.1:40124'      (s3 only)
 *   STORAGE_DIR='/tmp/coffer-test-XXXXXX/root/dav/repo'
 *   RCLONE_CONFIG='/tmp/coffer-test-XXXXXX/rclone.conf'
 *   RCLONE_PATH='srv:repo'
 *   READY=1
 * G_TEST_SRCDIR must point at the tests/ folder of the source tree (for
 * s3-server.js and its node_modules). */
#include "servers.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
put (const char *name, const char *value)
{
  g_autofree char *quoted = g_shell_quote (value);
  printf ("%s=%s\n", name, quoted);
}

int
main (int argc, char **argv)
{
  CofferTestServerKind kind;
  CofferTestServer *s;
  char buf[256];

  g_test_init (&argc, &argv, NULL);
  if (argc != 2)
    {
      fprintf (stderr, "usage: %s apache-basic|apache-digest|rclone|s3\n", argv[0]);
      return 2;
    }
  if (g_str_equal (argv[1], "apache-basic"))
    kind = COFFER_TEST_SERVER_APACHE_BASIC;
  else if (g_str_equal (argv[1], "apache-digest"))
    kind = COFFER_TEST_SERVER_APACHE_DIGEST;
  else if (g_str_equal (argv[1], "rclone"))
    kind = COFFER_TEST_SERVER_RCLONE;
  else if (g_str_equal (argv[1], "s3"))
    kind = COFFER_TEST_SERVER_S3;
  else
    {
      fprintf (stderr, "unknown server %s\n", argv[1]);
      return 2;
    }

  s = coffer_test_server_start (kind);
  put ("LOCATION", coffer_test_server_get_location (s));
  put ("HTTP_URL", coffer_test_server_get_http_url (s));
  put ("USER", coffer_test_server_get_user (s));
  put ("PASSWORD", coffer_test_server_get_password (s));
  if (kind == COFFER_TEST_SERVER_S3)
    put ("S3_ENDPOINT", coffer_test_server_get_options (s)->s3_endpoint);
  put ("STORAGE_DIR", coffer_test_server_get_storage_dir (s));
  put ("RCLONE_CONFIG", coffer_test_server_get_rclone_config (s));
  put ("RCLONE_PATH", coffer_test_server_get_rclone_path (s));
  printf ("READY=1\n");
  fflush (stdout);

  while (fgets (buf, sizeof buf, stdin) != NULL)
    ;
  coffer_test_server_stop (s);
  return 0;
}
