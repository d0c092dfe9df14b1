/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Engine-level cloud tests: the real `coffer` CLI against real servers
 * (Apache mod_dav with Basic and Digest auth, rclone serve webdav, an S3
 * server that checks SigV4), each started on a free port by servers.c.
 *
 *  /cloud/roundtrip/SERVER  init, category add (about 20 MB: a few hundred
 *      small files, big files, a symlink, an empty folder, a non-UTF-8 name),
 *      backup, a second backup (0 new bytes), a changed tree and a third
 *      backup, restore --target (byte-exact), check --read-data,
 *      forget --keep-last 1, prune --grace 0, check, restore again. After
 *      the backups and after prune the objects are listed with rclone (an
 *      independent client) and must be exactly what the repository's own
 *      index and snapshot list say, with no temporary leftovers; every pack
 *      is downloaded with rclone and its name must be the BLAKE2b-256 of its
 *      bytes.
 *  /cloud/faults/SERVER  the same client talks to the server through
 *      faultproxy (dropped connections, 500/503, stalls, cut-off responses):
 *      backup completes, restore is byte-exact, check --read-data is clean.
 *  /cloud/restore-faults/SERVER  faults on restore (the backup went up
 *      directly): restored through faultproxy with about one connection in
 *      seven sabotaged (drops, 500/503, cut-off bodies), byte-exact; then a
 *      slowed restore whose server goes away (the proxy is stopped once the
 *      first files are in place) stops with exit status 5 and a message
 *      naming the server, leaves no file half-written under its final name
 *      (every file there is complete, no temporaries), and run again it
 *      completes byte-exact.
 *  /cloud/kill/SERVER  a rate-limited backup is killed with SIGKILL as soon
 *      as the server holds one pack; the next backup completes, check
 *      --read-data is clean, the restore is byte-exact, and the objects are
 *      exactly what the index says (the pack that landed was indexed, not
 *      left behind). */
#include "coffer-crypto.h"
#include "coffer-error.h"
#include "coffer-repository-private.h"
#include "coffer-secret.h"
#include "coffer-store.h"
#include "faultproxy.h"
#include "servers.h"
#include "test-utils.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define MiB (1024 * 1024)
#define PASSWORD "cloud test password"
#define CATEGORY "Docs"

typedef struct
{
  CofferTestServer *server;
  CofferFaultProxy *proxy;   /* NULL unless the fault test */
  char *root;                /* private temporary directory */
  char *src;                 /* the backed-up tree */
  char *location;            /* as given to --repo */
  char *s3_endpoint;         /* NULL for WebDAV */
  gboolean s3;
  char **env;
} Ctx;

/* ---- running the CLI ---- */

static Ctx *
ctx_new (CofferTestServerKind kind, gboolean through_proxy)
{
  Ctx *c = g_new0 (Ctx, 1);
  g_autofree char *home = NULL, *data = NULL, *cache = NULL, *config = NULL;
  guint16 port;

  c->server = coffer_test_server_start (kind);
  c->s3 = kind == COFFER_TEST_SERVER_S3;
  c->root = coffer_test_mkdtemp ();
  /* One level down, so that the tree's ancestors (whose metadata is part
   * of every snapshot) do not change when the CLI creates its state in
   * root. */
  c->src = g_build_filename (c->root, "tree", "src", NULL);
  home = g_build_filename (c->root, "home", NULL);
  data = g_build_filename (c->root, "data", NULL);
  cache = g_build_filename (c->root, "cache", NULL);
  config = g_build_filename (c->root, "config", NULL);
  port = coffer_test_server_get_port (c->server);

  if (through_proxy)
    {
      /* About one connection in eight is sabotaged (the proxy adds
       * "Connection: close", so every request meets the dice). */
      CofferFaultPlan plan = { .drop = 30, .error500 = 20, .error503 = 20, .stall = 25,
                               .truncate = 30, .stall_ms = 300, .seed = 11 + kind };
      c->proxy = coffer_fault_proxy_start (port, &plan);
      port = coffer_fault_proxy_get_port (c->proxy);
    }
  if (c->s3)
    {
      c->s3_endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
      c->location = g_strdup (coffer_test_server_get_location (c->server));
    }
  else
    {
      const char *loc = coffer_test_server_get_location (c->server);
      const char *path = strchr (loc + strlen ("webdav://"), '/');
      c->location = g_strdup_printf ("webdav://127.0.0.1:%u%s", port, path);
    }

  c->env = g_get_environ ();
  c->env = g_environ_setenv (c->env, "HOME", home, TRUE);
  c->env = g_environ_setenv (c->env, "XDG_DATA_HOME", data, TRUE);
  c->env = g_environ_setenv (c->env, "XDG_CACHE_HOME", cache, TRUE);
  c->env = g_environ_setenv (c->env, "XDG_CONFIG_HOME", config, TRUE);
  c->env = g_environ_setenv (c->env, "COFFER_TESTING", "1", TRUE);
  c->env = g_environ_setenv (c->env, "COFFER_TEST_FAST_KDF", "1", TRUE);
  c->env = g_environ_setenv (c->env, "COFFER_KEYRING", "none", TRUE);
  c->env = g_environ_setenv (c->env, "COFFER_PASSWORD", PASSWORD, TRUE);
  c->env = g_environ_unsetenv (c->env, "COFFER_REPO");
  if (c->s3)
    {
      c->env = g_environ_setenv (c->env, "AWS_ACCESS_KEY_ID",
                                 coffer_test_server_get_user (c->server), TRUE);
      c->env = g_environ_setenv (c->env, "AWS_SECRET_ACCESS_KEY",
                                 coffer_test_server_get_password (c->server), TRUE);
    }
  else
    {
      c->env = g_environ_setenv (c->env, "COFFER_WEBDAV_USER",
                                 coffer_test_server_get_user (c->server), TRUE);
      c->env = g_environ_setenv (c->env, "COFFER_WEBDAV_PASSWORD",
                                 coffer_test_server_get_password (c->server), TRUE);
    }

  /* The in-process repository reader (expected objects) uses the same
   * local state and credentials as the CLI. */
  g_setenv ("HOME", home, TRUE);
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  g_setenv ("COFFER_TESTING", "1", TRUE);
  g_setenv ("COFFER_TEST_FAST_KDF", "1", TRUE);
  g_setenv ("COFFER_KEYRING", "none", TRUE);
  coffer_test_server_set_env (c->server);
  return c;
}

static void
ctx_free (Ctx *c)
{
  if (c->proxy != NULL)
    coffer_fault_proxy_stop (c->proxy);
  coffer_test_server_stop (c->server);
  coffer_test_rmtree (c->root);
  g_free (c->root);
  g_free (c->src);
  g_free (c->location);
  g_free (c->s3_endpoint);
  g_strfreev (c->env);
  g_free (c);
}

static GSubprocess *
coffer_spawn (Ctx *c, const char * const *args, GSubprocessFlags flags)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (flags);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *bin = g_getenv ("COFFER_BIN");
  GSubprocess *p;

  g_assert_nonnull (bin);
  g_subprocess_launcher_set_environ (l, c->env);
  g_ptr_array_add (argv, (char *) bin);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, (char *) "--repo");
  g_ptr_array_add (argv, c->location);
  if (c->s3)
    {
      g_ptr_array_add (argv, (char *) "--s3-endpoint");
      g_ptr_array_add (argv, c->s3_endpoint);
      g_ptr_array_add (argv, (char *) "--s3-region");
      g_ptr_array_add (argv, (char *) "us-east-1");
    }
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_launcher_spawnv (l, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return p;
}

/* Runs coffer to the end; returns its exit status; *out gets stdout. */
static int
coffer_run (Ctx *c, char **out, const char * const *args)
{
  g_autoptr(GSubprocess) p = coffer_spawn (c, args, G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                    | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GBytes) so = NULL, se = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cmd = g_strjoinv (" ", (char **) args);
  gint64 start = g_get_monotonic_time ();
  int status;

  g_subprocess_communicate (p, NULL, NULL, &so, &se, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  status = g_subprocess_get_exit_status (p);
  g_test_message ("coffer %s: %.2f s", cmd, (g_get_monotonic_time () - start) / 1e6);
  if (status != 0 || g_test_verbose ())
    g_test_message ("coffer %s -> %d\nstdout: %.*s\nstderr: %.*s", cmd, status,
                    (int) g_bytes_get_size (so), (const char *) g_bytes_get_data (so, NULL),
                    (int) g_bytes_get_size (se), (const char *) g_bytes_get_data (se, NULL));
  if (out != NULL)
    *out = g_strndup (g_bytes_get_data (so, NULL), g_bytes_get_size (so));
  return status;
}

#define ARGS(...) ((const char * const[]) { __VA_ARGS__, NULL })

static void
coffer_ok (Ctx *c, const char * const *args)
{
  g_assert_cmpint (coffer_run (c, NULL, args), ==, 0);
}

/* Backs up and returns the snapshot's added_bytes (from --json). */
static guint64
backup (Ctx *c)
{
  g_autofree char *out = NULL;
  const char *p;

  g_assert_cmpint (coffer_run (c, &out, ARGS ("backup", "--json")), ==, 0);
  p = strstr (out, "\"added_bytes\"");
  g_assert_nonnull (p);
  p = strchr (p, ':');
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + 1, NULL, 10);
}

/* The metadata of the tree's ancestors (/, /tmp, …) is part of every
 * snapshot: when something else touches them (other programs creating
 * files in /tmp), a backup of an unchanged tree uploads their new tree
 * blobs, but never file data. */
static char *
ancestors_stamp (Ctx *c)
{
  GString *s = g_string_new (NULL);
  g_autofree char *dir = g_path_get_dirname (c->src);

  for (;;)
    {
      struct stat st;
      char *up;

      g_assert_cmpint (lstat (dir, &st), ==, 0);
      g_string_append_printf (s, "%s %ld.%ld %ld.%ld %o %u %u\n", dir, (long) st.st_mtim.tv_sec,
                              st.st_mtim.tv_nsec, (long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
                              st.st_mode, st.st_uid, st.st_gid);
      if (g_str_equal (dir, "/"))
        break;
      up = g_path_get_dirname (dir);
      g_free (dir);
      dir = up;
    }
  return g_string_free (s, FALSE);
}

/* A backup of an unchanged tree: nothing new, or only the tree blobs of
 * ancestors that changed since before (taken before the previous backup). */
static void
backup_unchanged (Ctx *c, const char *before)
{
  guint64 added = backup (c);
  g_autofree char *after = ancestors_stamp (c);

  if (g_str_equal (before, after))
    g_assert_cmpuint (added, ==, 0);
  else
    {
      g_test_message ("an ancestor of the tree changed: %" G_GUINT64_FORMAT " bytes of trees",
                      added);
      g_assert_cmpuint (added, <, 4096);
    }
}

/* ---- the data ---- */

static void
write_text (const char *path, const char *text)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* small: number of small files (100 B–8 KiB); big: sizes of big files. */
static void
make_tree (Ctx *c, guint small, const gsize *big, guint n_big, guint32 seed)
{
  g_autofree char *media = g_build_filename (c->src, "media", NULL);
  g_autofree char *empty = g_build_filename (c->src, "empty folder", NULL);
  g_autofree char *link = g_build_filename (c->src, "link", NULL);
  g_autofree char *latin1 = g_build_filename (c->src, "caf\xe9.txt", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);

  g_assert_cmpint (g_mkdir_with_parents (media, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (empty, 0755), ==, 0);
  for (guint i = 0; i < small; i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/docs/dir-%02u/sub-%u", c->src, i % 16, i % 3);
      g_autofree char *path = g_strdup_printf ("%s/file-%03u.txt", dir, i);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      coffer_test_write_random (path, g_rand_int_range (rand, 100, 8192), seed * 1000 + i);
    }
  for (guint i = 0; i < n_big; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/big-%u.bin", media, i);
      coffer_test_write_random (path, big[i], seed * 7 + i);
    }
  write_text (latin1, "a name that is not UTF-8\n");
  g_assert_cmpint (symlink ("docs/dir-00/sub-0/file-000.txt", link), ==, 0);
}

static void
restore_and_compare (Ctx *c, const char *name)
{
  g_autofree char *target = g_build_filename (c->root, name, NULL);
  g_autofree char *restored = g_build_filename (target, c->src, NULL);

  coffer_ok (c, ARGS ("restore", "--category", CATEGORY, "--snapshot", "latest",
                      "--target", target));
  coffer_test_assert_same_tree (c->src, restored, TRUE);
  coffer_test_rmtree (target);
}

/* ---- the cross-check ---- */

static char *
hex (const guint8 *bytes, gsize len)
{
  GString *s = g_string_sized_new (len * 2);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", bytes[i]);
  return g_string_free (s, FALSE);
}

static gboolean
is_hex (const char *s, gsize len)
{
  if (strlen (s) != len)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return TRUE;
}

static GBytes *
rclone (Ctx *c, const char * const *args)
{
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                                | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GBytes) out = NULL, err = NULL;
  g_autoptr(GError) error = NULL;

  /* Some environments set a CA bundle that rclone's s3 backend cannot load
   * for a plain-http endpoint. */
  g_subprocess_launcher_unsetenv (l, "AWS_CA_BUNDLE");
  g_subprocess_launcher_setenv (l, "RCLONE_CONFIG",
                                coffer_test_server_get_rclone_config (c->server), TRUE);
  g_ptr_array_add (argv, (char *) "rclone");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_launcher_spawnv (l, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate (p, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (p))
    g_error ("rclone %s failed: %.*s", args[0], (int) g_bytes_get_size (err),
             (const char *) g_bytes_get_data (err, NULL));
  return g_steal_pointer (&out);
}

/* name -> size (as a string) of every object below the location, as rclone
 * sees it. */
static GHashTable *
rclone_list (Ctx *c)
{
  const char *remote = coffer_test_server_get_rclone_path (c->server);
  g_autoptr(GBytes) out = rclone (c, ARGS ("lsf", "-R", "--files-only", "--format", "ps",
                                           "--separator", "|", remote));
  g_autofree char *text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *bar = strrchr (lines[i], '|');
      if (lines[i][0] == '\0')
        continue;
      g_assert_nonnull (bar);
      *bar = '\0';
      g_hash_table_insert (set, g_strdup (lines[i]), g_strdup (bar + 1));
    }
  return set;
}

typedef struct
{
  char *cid;
  GHashTable *names;   /* expected names below categories/<cid>/ */
  guint n_packs;
  guint n_snapshots;
  guint n_index;
} Expected;

static void
expected_clear (Expected *e)
{
  g_free (e->cid);
  g_clear_pointer (&e->names, g_hash_table_unref);
}

/* What the repository says it holds: its category's key sets, the packs
 * its merged index names, the live index objects and the snapshots. Read in
 * process with the engine, directly from the server (not through the
 * proxy). */
static void
expected_objects (Ctx *c, Expected *e)
{
  CofferStoreOptions options = *coffer_test_server_get_options (c->server);
  g_autoptr(CofferStore) store = NULL;
  g_autoptr(CofferRepository) repo = NULL;
  g_autoptr(CofferSecret) pw = coffer_secret_new_from_string (PASSWORD);
  g_autoptr(GPtrArray) snaps = NULL;
  g_autoptr(GError) error = NULL;
  CofferCategoryKeys *keys;
  CofferIndex *index;
  const char *prefix;

  store = coffer_store_open (coffer_test_server_get_location (c->server), &options, &error);
  g_assert_no_error (error);
  repo = coffer_repository_open (store, NULL, &error);
  g_assert_no_error (error);
  coffer_repository_set_password (repo, pw);
  g_assert_true (coffer_repository_unlock (repo, NULL, &error));
  g_assert_no_error (error);
  keys = _coffer_repository_get_category (repo, CATEGORY, NULL, &error);
  g_assert_no_error (error);
  index = _coffer_repository_get_index (repo, keys, NULL, &error);
  g_assert_no_error (error);
  snaps = coffer_repository_list_snapshots (repo, keys->id, NULL, &error);
  g_assert_no_error (error);

  e->cid = g_strdup (keys->id);
  e->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  prefix = e->cid;
  g_hash_table_add (e->names, g_strdup_printf ("categories/%s/keys/account", prefix));
  g_hash_table_add (e->names, g_strdup_printf ("categories/%s/keys/password", prefix));
  e->n_packs = coffer_index_get_n_packs (index);
  for (guint i = 0; i < e->n_packs; i++)
    {
      g_autofree char *id = hex (coffer_index_get_pack_id (index, i), COFFER_ID_BYTES);
      g_hash_table_add (e->names, g_strdup_printf ("categories/%s/packs/%.2s/%s", prefix, id, id));
    }
  e->n_index = keys->index_names ? keys->index_names->len : 0;
  for (guint i = 0; i < e->n_index; i++)
    g_hash_table_add (e->names, g_strdup_printf ("categories/%s/index/%s", prefix,
                                                 (char *) keys->index_names->pdata[i]));
  e->n_snapshots = snaps->len;
  for (guint i = 0; i < snaps->len; i++)
    g_hash_table_add (e->names, g_strdup_printf ("categories/%s/snapshots/%s", prefix,
                                                 ((CofferSnapshot *) snaps->pdata[i])->id));
}

/* Lists the objects with rclone and checks them against the repository:
 * below categories/ exactly the expected set; elsewhere only the config,
 * key envelopes of this repository and the one category's meta object;
 * no temporary names anywhere (unless allow_tmp: a killed upload may leave
 * a finished temporary object on WebDAV that no later run knows about);
 * every pack's name is the BLAKE2b-256 of its bytes (downloaded with rclone
 * cat) and its size is what the listing says. */
/* allow_tmp: FALSE, TRUE (temporary objects may be left), or KILLED
 * (a client was killed: temporary objects and late packs may be left). */
#define KILLED 2

static void
cross_check (Ctx *c, guint want_snapshots, gboolean allow_tmp, GHashTable **out_packs)
{
  g_autoptr(GHashTable) listed = rclone_list (c);
  g_autoptr(GHashTable) packs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *meta = NULL;
  g_autofree char *cat_prefix = NULL;
  Expected e = { 0 };
  GHashTableIter it;
  gpointer key, value;
  guint in_category = 0, tmp = 0;

  expected_objects (c, &e);
  g_assert_cmpuint (e.n_snapshots, ==, want_snapshots);
  g_assert_cmpuint (e.n_packs, >, 0);
  g_assert_cmpuint (e.n_index, >, 0);
  meta = g_strdup_printf ("meta/%s", e.cid);
  cat_prefix = g_strdup_printf ("categories/%s/", e.cid);

  g_hash_table_iter_init (&it, listed);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      const char *name = key;
      g_auto(GStrv) parts = g_strsplit (name, "/", -1);
      guint n = g_strv_length (parts);

      if (strstr (name, ".tmp-") != NULL)
        {
          if (allow_tmp != TRUE && allow_tmp != KILLED)
            g_error ("%s: temporary object left behind: %s",
                     coffer_test_server_get_name (c->server), name);
          tmp++;
          continue;
        }
      if (g_str_has_prefix (name, "categories/"))
        {
          /* After a kill, an upload the server was still receiving may
           * land after the next run listed the packs: an unreferenced pack
           * is garbage for prune, never a problem for the repository. */
          if (allow_tmp == KILLED && g_str_has_prefix (name, cat_prefix) && n == 5
              && g_str_equal (parts[2], "packs") && !g_hash_table_contains (e.names, name))
            {
              g_test_message ("%s: a killed upload landed late: %s",
                              coffer_test_server_get_name (c->server), name);
              continue;
            }
          if (!g_str_has_prefix (name, cat_prefix) || !g_hash_table_contains (e.names, name))
            g_error ("%s: unexpected object %s", coffer_test_server_get_name (c->server), name);
          in_category++;
          if (n == 5 && g_str_equal (parts[2], "packs"))
            {
              g_assert_true (is_hex (parts[4], 64));
              g_assert_true (g_str_has_prefix (parts[4], parts[3]));
              g_hash_table_insert (packs, g_strdup (name), value);
            }
          continue;
        }
      if (g_str_equal (name, "config") || g_str_equal (name, "keys/recovery")
          || g_str_equal (name, meta))
        continue;
      if (n == 3 && g_str_equal (parts[0], "keys") && is_hex (parts[2], strlen (parts[2]))
          && strlen (parts[2]) >= 16
          && (g_str_equal (parts[1], "devices") || g_str_equal (parts[1], "device-keys")))
        continue;
      g_error ("%s: unexpected object %s", coffer_test_server_get_name (c->server), name);
    }
  /* Nothing the repository refers to is missing. */
  g_assert_cmpuint (in_category, ==, g_hash_table_size (e.names));
  g_assert_true (g_hash_table_contains (listed, "config"));
  g_assert_true (g_hash_table_contains (listed, meta));
  g_assert_cmpuint (g_hash_table_size (packs), ==, e.n_packs);

  /* Every pack's name is the hash of its bytes, read with rclone: SHA-256
   * (computed here by GLib) where a new category's epoch is of hash suite
   * 1 (this CPU has SHA instructions), else BLAKE2b. */
  g_hash_table_iter_init (&it, packs);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      g_autofree char *remote = g_strdup_printf ("%s/%s",
                                                 coffer_test_server_get_rclone_path (c->server),
                                                 (char *) key);
      g_autoptr(GBytes) bytes = rclone (c, ARGS ("cat", remote));
      g_autofree char *digest_hex = NULL;
      const char *base = strrchr (key, '/') + 1;

      if (coffer_hash_suite_for_new_epoch () == COFFER_HASH_SUITE_SHA256)
        digest_hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
      else
        {
          guint8 digest[COFFER_ID_BYTES];

          coffer_hash (COFFER_HASH_SUITE_BLAKE2B, g_bytes_get_data (bytes, NULL),
                       g_bytes_get_size (bytes), digest);
          digest_hex = hex (digest, sizeof digest);
        }

      g_assert_cmpstr (digest_hex, ==, base);
      g_assert_cmpuint (g_bytes_get_size (bytes), ==, g_ascii_strtoull (value, NULL, 10));
    }
  g_test_message ("%s: %u objects listed by rclone (%u packs, %u index, %u snapshots, "
                  "%u temporary)", coffer_test_server_get_name (c->server),
                  g_hash_table_size (listed), e.n_packs, e.n_index, e.n_snapshots, tmp);
  if (out_packs != NULL)
    {
      *out_packs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_hash_table_iter_init (&it, packs);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_hash_table_add (*out_packs, g_strdup (key));
    }
  expected_clear (&e);
}

/* ---- the tests ---- */

static void
test_roundtrip (gconstpointer data)
{
  Ctx *c = ctx_new (GPOINTER_TO_INT (data), FALSE);
  /* about 20 MB: 300 small files (~1.2 MB) and four big ones */
  static const gsize big[] = { 6 * MiB + 17, 5 * MiB, 4 * MiB + 4095, 3 * MiB };
  g_autofree char *key = g_build_filename (c->root, "recovery.key", NULL);
  g_autofree char *gone = g_build_filename (c->src, "media", "big-0.bin", NULL);
  g_autofree char *added = g_build_filename (c->src, "media", "new.bin", NULL);
  g_autoptr(GHashTable) packs_before = NULL;
  g_autoptr(GHashTable) packs_after = NULL;
  GHashTableIter it;
  gpointer name;
  guint64 added_bytes;
  guint kept = 0;
  gint64 start;
  g_autofree char *stamp = NULL;

  make_tree (c, 300, big, G_N_ELEMENTS (big), 1 + GPOINTER_TO_INT (data));

  /* A fresh process whose first request carries a body (PROPFIND) meets a
   * 401 challenge: the re-sent request must carry its body again (libsoup
   * 3.2 did not, and Apache waited 60 s for it). */
  start = g_get_monotonic_time ();
  coffer_ok (c, ARGS ("init", "--recovery-key-file", key));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  coffer_ok (c, ARGS ("category", "add", CATEGORY, c->src));
  stamp = ancestors_stamp (c);
  added_bytes = backup (c);
  g_assert_cmpuint (added_bytes, >=, 18 * MiB);
  /* Nothing changed: nothing new goes up. */
  backup_unchanged (c, stamp);
  restore_and_compare (c, "restore-1");
  coffer_ok (c, ARGS ("check", "--read-data"));
  cross_check (c, 2, FALSE, NULL);

  /* A changed tree: the data of big-0 is only in the older snapshots. */
  g_assert_cmpint (g_unlink (gone), ==, 0);
  coffer_test_write_random (added, 2 * MiB, 99);
  added_bytes = backup (c);
  g_assert_cmpuint (added_bytes, >=, 2 * MiB);
  g_assert_cmpuint (added_bytes, <, 3 * MiB);
  cross_check (c, 3, FALSE, &packs_before);

  coffer_ok (c, ARGS ("forget", "--category", CATEGORY, "--keep-last", "1"));
  coffer_ok (c, ARGS ("prune", "--grace", "0"));
  coffer_ok (c, ARGS ("check", "--read-data"));
  cross_check (c, 1, FALSE, &packs_after);
  /* prune removed or rewrote at least the pack that held big-0 */
  g_hash_table_iter_init (&it, packs_before);
  while (g_hash_table_iter_next (&it, &name, NULL))
    kept += g_hash_table_contains (packs_after, name);
  g_assert_cmpuint (kept, <, g_hash_table_size (packs_before));
  restore_and_compare (c, "restore-2");

  ctx_free (c);
}

static void
test_faults (gconstpointer data)
{
  Ctx *c = ctx_new (GPOINTER_TO_INT (data), TRUE);
  static const gsize big[] = { 3 * MiB, 2 * MiB + 5 };
  g_autofree char *key = g_build_filename (c->root, "recovery.key", NULL);
  g_autofree char *stamp = NULL;

  make_tree (c, 120, big, G_N_ELEMENTS (big), 21);
  coffer_ok (c, ARGS ("init", "--recovery-key-file", key));
  coffer_ok (c, ARGS ("category", "add", CATEGORY, c->src));
  stamp = ancestors_stamp (c);
  g_assert_cmpuint (backup (c), >=, 5 * MiB);
  backup_unchanged (c, stamp);
  restore_and_compare (c, "restore");
  coffer_ok (c, ARGS ("check", "--read-data"));
  g_test_message ("%s: %u sabotaged connections", coffer_test_server_get_name (c->server),
                  coffer_fault_proxy_get_faults (c->proxy));
  g_assert_cmpuint (coffer_fault_proxy_get_faults (c->proxy), >=, 5);
  /* A temporary object may stay behind on WebDAV when the connection fails
   * after the server stored it and the clean-up fails too; it is never
   * listed as an object. */
  cross_check (c, 2, !c->s3, NULL);
  ctx_free (c);
}

/* TRUE when the server's storage holds a whole pack. WebDAV servers show a
 * pack under its name only after the MOVE; s3rver writes the metadata file
 * after the object. */
static gboolean
has_pack (const char *dir, gboolean s3)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          if (has_pack (path, s3))
            return TRUE;
        }
      else if (strstr (dir, "/packs/") != NULL
               && (s3 ? g_str_has_suffix (name, "._S3rver_metadata.json")
                      : (strlen (name) == 64 && is_hex (name, 64))))
        return TRUE;
    }
  return FALSE;
}

static gboolean
has_snapshot (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_str_equal (name, "snapshots"))
        {
          g_autoptr(GDir) s = g_dir_open (path, 0, NULL);
          if (s != NULL && g_dir_read_name (s) != NULL)
            return TRUE;
        }
      else if (g_file_test (path, G_FILE_TEST_IS_DIR) && has_snapshot (path))
        return TRUE;
    }
  return FALSE;
}

static void
test_kill (gconstpointer data)
{
  CofferTestServerKind kind = GPOINTER_TO_INT (data);
  Ctx *c = ctx_new (kind, FALSE);
  /* 40 MB of incompressible data: three packs; at 8 MiB/s the backup
   * takes about four seconds after the first pack. */
  static const gsize big[] = { 14 * MiB, 13 * MiB, 13 * MiB };
  g_autofree char *key = g_build_filename (c->root, "recovery.key", NULL);
  const char *storage = coffer_test_server_get_storage_dir (c->server);
  g_autoptr(GSubprocess) p = NULL;
  gint64 deadline;

  make_tree (c, 40, big, G_N_ELEMENTS (big), 31);
  coffer_ok (c, ARGS ("init", "--recovery-key-file", key));
  coffer_ok (c, ARGS ("category", "add", CATEGORY, c->src));

  p = coffer_spawn (c, ARGS ("backup", "--limit-upload", "8192"),
                    G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!has_pack (storage, c->s3))
    {
      g_assert_null (g_subprocess_get_identifier (p) == NULL ? "backup ended before a pack landed"
                                                              : NULL);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (2000);
    }
  g_subprocess_force_exit (p);
  g_subprocess_wait (p, NULL, NULL);
  g_assert_true (g_subprocess_get_if_signaled (p));
  g_assert_cmpint (g_subprocess_get_term_sig (p), ==, SIGKILL);
  /* killed before the commit point */
  g_assert_false (has_snapshot (storage));

  /* The next run completes; what landed is indexed, nothing is amiss. */
  backup (c);
  coffer_ok (c, ARGS ("check", "--read-data"));
  restore_and_compare (c, "restore");
  cross_check (c, 1, c->s3 ? KILLED : TRUE, NULL);
  ctx_free (c);
}

/* From now on the CLI reaches the server through port (a proxy). */
static void
ctx_use_port (Ctx *c, guint16 port)
{
  if (c->s3)
    {
      g_free (c->s3_endpoint);
      c->s3_endpoint = g_strdup_printf ("http://127.0.0.1:%u", port);
    }
  else
    {
      const char *loc = coffer_test_server_get_location (c->server);
      const char *path = strchr (loc + strlen ("webdav://"), '/');
      g_free (c->location);
      c->location = g_strdup_printf ("webdav://127.0.0.1:%u%s", port, path);
    }
}

/* Regular files below dir (relative paths); when strict, fails on a
 * restore temporary (while a restore runs there are some). */
static void
list_restored (const char *dir, const char *rel, GPtrArray *files, gboolean strict)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *sub = rel ? g_build_filename (rel, name, NULL) : g_strdup (name);
      struct stat st;

      if (g_str_has_prefix (name, ".coffer-restore-") && !strict)
        continue;
      if (g_str_has_prefix (name, ".coffer-restore-"))
        g_error ("a restore temporary was left behind: %s", path);
      g_assert_cmpint (lstat (path, &st), ==, 0);
      if (S_ISDIR (st.st_mode))
        list_restored (path, sub, files, strict);
      else if (S_ISREG (st.st_mode))
        g_ptr_array_add (files, g_steal_pointer (&sub));
    }
}

static void
test_restore_faults (gconstpointer data)
{
  Ctx *c = ctx_new (GPOINTER_TO_INT (data), FALSE);
  /* More than two packs (12 MiB each): a restore reads a whole pack at a
   * time, so the server must go away while packs are still to be read. */
  static const gsize big[] = { 3 * MiB, 2 * MiB + 5, 2 * MiB, 16 * MiB };
  g_autofree char *key = g_build_filename (c->root, "recovery.key", NULL);
  g_autofree char *target = g_build_filename (c->root, "restore-gone", NULL);
  g_autofree char *restored = g_build_filename (target, c->src, NULL);
  CofferFaultPlan faulty = { .drop = 40, .error500 = 30, .error503 = 30, .truncate = 50,
                             .seed = 41 + GPOINTER_TO_INT (data) };
  CofferFaultPlan faithful = { 0 };
  g_autoptr(GSubprocess) p = NULL;
  g_autoptr(GBytes) err_bytes = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  CofferFaultProxy *proxy;
  gint64 deadline;

  make_tree (c, 150, big, G_N_ELEMENTS (big), 51);
  coffer_ok (c, ARGS ("init", "--recovery-key-file", key));
  coffer_ok (c, ARGS ("category", "add", CATEGORY, c->src));
  g_assert_cmpuint (backup (c), >=, 7 * MiB);

  /* Drops, 5xx and cut-off bodies: retried, the restore is byte-exact.
   * A restore reads whole packs (coffer-pack-reader.h), a few requests
   * in all, so it is repeated until at least five connections were
   * sabotaged; each restore must be byte-exact. */
  proxy = coffer_fault_proxy_start (coffer_test_server_get_port (c->server), &faulty);
  ctx_use_port (c, coffer_fault_proxy_get_port (proxy));
  for (guint round = 0; coffer_fault_proxy_get_faults (proxy) < 5; round++)
    {
      g_autofree char *name = g_strdup_printf ("restore-faults-%u", round);
      g_assert_cmpuint (round, <, 8);
      restore_and_compare (c, name);
    }
  g_test_message ("%s: restores through %u sabotaged connections", coffer_test_server_get_name (c->server),
                  coffer_fault_proxy_get_faults (proxy));
  coffer_fault_proxy_stop (proxy);

  /* The server goes away in the middle of a (slowed) restore. */
  proxy = coffer_fault_proxy_start (coffer_test_server_get_port (c->server), &faithful);
  ctx_use_port (c, coffer_fault_proxy_get_port (proxy));
  p = coffer_spawn (c, ARGS ("restore", "--category", CATEGORY, "--snapshot", "latest", "--target", target,
                             "--limit-upload", "1024"),
                    G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GPtrArray) now = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *docs = g_build_filename (restored, "docs", NULL);

      list_restored (docs, NULL, now, FALSE);
      if (now->len >= 3)
        break;
      g_assert_null (g_subprocess_get_identifier (p) == NULL ? "restore ended before the server went away"
                                                              : NULL);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (2000);
    }
  coffer_fault_proxy_stop (proxy);
  g_subprocess_communicate (p, NULL, NULL, NULL, &err_bytes, &error);
  g_assert_no_error (error);
  err = g_strndup (g_bytes_get_data (err_bytes, NULL), g_bytes_get_size (err_bytes));
  g_test_message ("restore when the server went away: exit %d: %s",
                  g_subprocess_get_exit_status (p), err);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 5);
  g_assert_true (g_str_has_prefix (err, "coffer: "));
  g_assert_nonnull (strstr (err, "127.0.0.1"));
  /* What is there under its own name is complete; nothing half-written. */
  list_restored (restored, NULL, files, TRUE);
  g_assert_cmpuint (files->len, >, 0);
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *a = g_build_filename (c->src, files->pdata[i], NULL);
      g_autofree char *b = g_build_filename (restored, files->pdata[i], NULL);
      g_autofree char *da = NULL, *db = NULL;
      gsize la = 0, lb = 0;

      g_assert_true (g_file_get_contents (a, &da, &la, NULL));
      g_assert_true (g_file_get_contents (b, &db, &lb, NULL));
      if (la != lb || memcmp (da, db, la) != 0)
        g_error ("half-written under its final name: %s", b);
    }
  g_test_message ("%u files were complete when the server went away", files->len);

  /* Back again: the restore completes. */
  ctx_use_port (c, coffer_test_server_get_port (c->server));
  coffer_ok (c, ARGS ("restore", "--category", CATEGORY, "--snapshot", "latest", "--target", target));
  coffer_test_assert_same_tree (c->src, restored, TRUE);
  ctx_free (c);
}

int
main (int argc, char **argv)
{
  static const struct { const char *name; CofferTestServerKind kind; } servers[] = {
    { "apache-basic", COFFER_TEST_SERVER_APACHE_BASIC },
    { "apache-digest", COFFER_TEST_SERVER_APACHE_DIGEST },
    { "rclone", COFFER_TEST_SERVER_RCLONE },
    { "s3", COFFER_TEST_SERVER_S3 },
  };

  coffer_core_init ();
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      g_autofree char *path = g_strdup_printf ("/cloud/roundtrip/%s", servers[i].name);
      g_test_add_data_func (path, GINT_TO_POINTER (servers[i].kind), test_roundtrip);
    }
  g_test_add_data_func ("/cloud/faults/apache", GINT_TO_POINTER (COFFER_TEST_SERVER_APACHE_BASIC),
                        test_faults);
  g_test_add_data_func ("/cloud/faults/s3", GINT_TO_POINTER (COFFER_TEST_SERVER_S3), test_faults);
  g_test_add_data_func ("/cloud/restore-faults/apache", GINT_TO_POINTER (COFFER_TEST_SERVER_APACHE_BASIC),
                        test_restore_faults);
  g_test_add_data_func ("/cloud/restore-faults/s3", GINT_TO_POINTER (COFFER_TEST_SERVER_S3),
                        test_restore_faults);
  g_test_add_data_func ("/cloud/kill/apache", GINT_TO_POINTER (COFFER_TEST_SERVER_APACHE_BASIC),
                        test_kill);
  g_test_add_data_func ("/cloud/kill/s3", GINT_TO_POINTER (COFFER_TEST_SERVER_S3), test_kill);
  return g_test_run ();
}
