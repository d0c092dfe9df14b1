/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tampering with every object type in the store: flip a byte, truncate,
 * swap two objects of a type, re-type, replay, roll back. Every case must
 * fail with a clear COFFER_REPO_ERROR, never write the damaged file's
 * plaintext, and (where the category still opens) make check report it. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "repo-fixture.h"

#define PASSWORD "tamper test password"
#define MARKER "PLAINTEXT-MARKER-7d1f0a"
/* Tree packs are padded to the 64 KiB minimum; the data packs are larger. */
#define DATA_PACK_MIN (64 * 1024 + 1)

typedef enum { FLIP, TRUNCATE, SWAP, RETYPE, REPLAY, ROLLBACK } Mutation;
typedef enum { SAME_COMPUTER, FRESH_PASSWORD, FRESH_RECOVERY_KEY } Reader;
typedef enum
{
  OBJ_CONFIG, OBJ_RECOVERY, OBJ_DEVICE, OBJ_ACCOUNT, OBJ_PASSWORD, OBJ_META,
  OBJ_INDEX, OBJ_SNAPSHOT, OBJ_DATA_PACK, OBJ_TREE_PACK,
} Object;

typedef struct
{
  const char *path;
  Object      object;
  Mutation    mutation;
  Reader      reader;
  int         code;      /* expected COFFER_REPO_ERROR code, or -1: CORRUPT or WRONG_* */
  gboolean    check;     /* the category still opens: check must report it */
} Case;

typedef struct
{
  char         *store_dir;
  char         *src;
  char         *cid;
  CofferSecret *rk;
} Tamper;

/* A repository with two snapshots of a small tree; the first holds a
 * 200 KiB file that starts with MARKER and is alone in its data pack (hex
 * text: it compresses to about half, above the 64 KiB that tree packs are
 * padded to). */
static void
tamper_setup (Tamper *t)
{
  g_auto(FixtureRepository) repo = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *later = NULL;
  g_autoptr(GString) content = g_string_new (MARKER);
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  g_autoptr(CofferSnapshot) s1 = NULL, s2 = NULL;

  t->store_dir = fixture_dir ("store");
  t->src = fixture_dir ("src");
  secret = g_build_filename (t->src, "secret.txt", NULL);
  later = g_build_filename (t->src, "later.txt", NULL);
  while (content->len < 200 * 1024)
    g_string_append_printf (content, "%08x", g_rand_int (rand));
  g_assert_true (g_file_set_contents (secret, content->str, content->len, NULL));

  fixture_fresh_computer ();
  repo = fixture_create (t->store_dir, PASSWORD, &t->rk);
  t->cid = fixture_add_category (repo, "Secrets", COFFER_LEVEL_STANDARD, t->src);
  s1 = fixture_backup (repo, t->cid);
  g_assert_true (g_file_set_contents (later, "a later, small file\n", -1, NULL));
  s2 = fixture_backup (repo, t->cid);
  /* Make sure this computer has seen both snapshots. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) snaps = coffer_repository_list_snapshots (repo, t->cid, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (snaps->len, ==, 2);
  }
}

static void
tamper_free (Tamper *t)
{
  coffer_test_rmtree (t->store_dir);
  coffer_test_rmtree (t->src);
  g_free (t->store_dir);
  g_free (t->src);
  g_free (t->cid);
  coffer_secret_free (t->rk);
}

static guint64
object_size (Tamper *t, const char *name)
{
  g_autofree char *path = g_build_filename (t->store_dir, name, NULL);
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_size;
}

/* The store names of one object type, oldest snapshot first where it matters. */
static GPtrArray *
objects_of (Tamper *t, Object object)
{
  g_autofree char *prefix = NULL;
  GPtrArray *names;

  switch (object)
    {
    case OBJ_CONFIG: prefix = g_strdup ("config"); break;
    case OBJ_RECOVERY: prefix = g_strdup ("keys/recovery"); break;
    case OBJ_DEVICE: prefix = g_strdup ("keys/devices/"); break;
    case OBJ_ACCOUNT: prefix = g_strdup_printf ("categories/%s/keys/account", t->cid); break;
    case OBJ_PASSWORD: prefix = g_strdup_printf ("categories/%s/keys/password", t->cid); break;
    case OBJ_META: prefix = g_strdup_printf ("meta/%s", t->cid); break;
    case OBJ_INDEX: prefix = g_strdup_printf ("categories/%s/index/", t->cid); break;
    case OBJ_SNAPSHOT: prefix = g_strdup_printf ("categories/%s/snapshots/", t->cid); break;
    case OBJ_DATA_PACK:
    case OBJ_TREE_PACK: prefix = g_strdup_printf ("categories/%s/packs/", t->cid); break;
    default: g_assert_not_reached ();
    }
  names = fixture_list_objects (t->store_dir, prefix);
  if (object == OBJ_DATA_PACK || object == OBJ_TREE_PACK)
    for (guint i = names->len; i > 0; i--)
      {
        gboolean big = object_size (t, g_ptr_array_index (names, i - 1)) >= DATA_PACK_MIN;
        if (big != (object == OBJ_DATA_PACK))
          g_ptr_array_remove_index (names, i - 1);
      }
  g_assert_cmpuint (names->len, >, 0);
  return names;
}

static void
rewrite (Tamper *t, const char *name, const guint8 *data, gsize len)
{
  g_autofree char *path = g_build_filename (t->store_dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_chmod (path, 0644);
  g_file_set_contents (path, (const char *) data, len, &error);
  g_assert_no_error (error);
}

static void
copy_object (Tamper *t, const char *from, const char *to)
{
  g_autofree char *path = g_build_filename (t->store_dir, from, NULL);
  g_autoptr(GBytes) bytes = fixture_read (path);

  rewrite (t, to, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* Which byte to flip: for the config, a character of the repository id;
 * for packs, inside the first blob; elsewhere the middle. */
static gsize
flip_offset (Object object, const guint8 *data, gsize len)
{
  if (object == OBJ_CONFIG)
    {
      const char *id = g_strstr_len ((const char *) data, len, "id=");
      g_assert_nonnull (id);
      return (const guint8 *) id + 3 - data;
    }
  if (object == OBJ_DATA_PACK || object == OBJ_TREE_PACK)
    return 40;
  return len / 2;
}

static void
mutate (Tamper *t, const Case *c)
{
  g_autoptr(GPtrArray) names = objects_of (t, c->object);
  const char *first = g_ptr_array_index (names, 0);
  const char *last = g_ptr_array_index (names, names->len - 1);

  switch (c->mutation)
    {
    case FLIP:
      for (guint i = 0; i < names->len; i++)
        {
          g_autofree char *path = g_build_filename (t->store_dir, g_ptr_array_index (names, i), NULL);
          g_autoptr(GBytes) bytes = fixture_read (path);
          gsize len = g_bytes_get_size (bytes);
          g_autofree guint8 *data = g_memdup2 (g_bytes_get_data (bytes, NULL), len);
          gsize off = flip_offset (c->object, data, len);

          /* Keep the config's id valid hex: a different, well-formed id. */
          data[off] = c->object == OBJ_CONFIG ? (data[off] == 'a' ? 'b' : 'a') : data[off] ^ 0x01;
          rewrite (t, g_ptr_array_index (names, i), data, len);
        }
      break;
    case TRUNCATE:
      for (guint i = 0; i < names->len; i++)
        {
          g_autofree char *path = g_build_filename (t->store_dir, g_ptr_array_index (names, i), NULL);
          g_autoptr(GBytes) bytes = fixture_read (path);
          gsize len = g_bytes_get_size (bytes);
          /* Packs end in random filler up to their padded size, which no
           * blob needs: cut inside the first blob instead. */
          if (c->object == OBJ_DATA_PACK || c->object == OBJ_TREE_PACK)
            len = flip_offset (c->object, NULL, len);
          else
            len /= 2;
          rewrite (t, g_ptr_array_index (names, i), g_bytes_get_data (bytes, NULL), len);
        }
      break;
    case SWAP:
      {
        /* Exchange the two objects' contents (each keeps the other's name). */
        g_autoptr(GPtrArray) small = NULL;
        g_autofree char *pa = NULL, *pb = NULL;
        g_autoptr(GBytes) a = NULL, b = NULL;

        /* Packs: the marker's data pack and a small (tree) pack. */
        if (c->object == OBJ_DATA_PACK)
          {
            small = objects_of (t, OBJ_TREE_PACK);
            last = g_ptr_array_index (small, 0);
          }
        else
          g_assert_cmpuint (names->len, >=, 2);
        pa = g_build_filename (t->store_dir, first, NULL);
        pb = g_build_filename (t->store_dir, last, NULL);
        a = fixture_read (pa);
        b = fixture_read (pb);
        rewrite (t, first, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
        rewrite (t, last, g_bytes_get_data (a, NULL), g_bytes_get_size (a));
      }
      break;
    case RETYPE:
      {
        /* An index object offered as a snapshot under a new name. */
        g_autofree char *to = g_strdup_printf ("categories/%s/snapshots/%032x", t->cid, 0xabcdef);
        copy_object (t, first, to);
      }
      break;
    case REPLAY:
      {
        /* An old snapshot copied under a new name. */
        g_autofree char *to = g_strdup_printf ("categories/%s/snapshots/ffffffffffffffffffffffffffffffff", t->cid);
        copy_object (t, first, to);
      }
      break;
    case ROLLBACK:
      {
        /* Remove the newest snapshot (the one with the highest sequence). */
        g_autoptr(GError) error = NULL;
        g_auto(FixtureRepository) repo = fixture_open (t->store_dir, PASSWORD, NULL, &error);
        g_autoptr(CofferSnapshot) newest = NULL;
        g_autofree char *name = NULL;
        g_autofree char *path = NULL;

        g_assert_no_error (error);
        newest = coffer_repository_find_snapshot (repo, t->cid, "latest", NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (newest->seq, ==, 2);
        name = g_strdup_printf ("categories/%s/snapshots/%s", t->cid, newest->id);
        path = g_build_filename (t->store_dir, name, NULL);
        g_assert_cmpint (g_unlink (path), ==, 0);
      }
      break;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
tree_contains_marker (const char *path)
{
  struct stat st;

  if (lstat (path, &st) != 0)
    return FALSE;
  if (S_ISREG (st.st_mode))
    {
      g_autoptr(GBytes) bytes = fixture_read (path);
      g_autoptr(GBytes) marker = g_bytes_new_static (MARKER, strlen (MARKER));
      return fixture_contains_bytes (bytes, marker);
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          if (tree_contains_marker (child))
            return TRUE;
        }
    }
  return FALSE;
}

static CofferRepository *
open_as (Tamper *t, Reader reader, GError **error)
{
  if (reader != SAME_COMPUTER)
    fixture_fresh_computer ();
  return fixture_open (t->store_dir, reader == FRESH_RECOVERY_KEY ? NULL : PASSWORD,
                       reader == FRESH_RECOVERY_KEY ? t->rk : NULL, error);
}

/* Everything a user would do to get the latest backup back. */
static gboolean
try_restore (Tamper *t, Reader reader, const char *target, GError **error)
{
  g_auto(FixtureRepository) repo = open_as (t, reader, error);
  g_autoptr(CofferSnapshot) snap = NULL;
  g_autoptr(GPtrArray) snaps = NULL;

  if (repo == NULL)
    return FALSE;
  snaps = coffer_repository_list_snapshots (repo, t->cid, NULL, error);
  if (snaps == NULL)
    return FALSE;
  /* Every snapshot listed must restore (the first holds the marker). */
  for (guint i = 0; i < snaps->len; i++)
    if (!coffer_restore_run (repo, t->cid, g_ptr_array_index (snaps, i), NULL, target,
                             COFFER_RESTORE_OVERWRITE, NULL, NULL, NULL, NULL, error))
      return FALSE;
  return TRUE;
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  Tamper t = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *target = NULL;

  tamper_setup (&t);
  mutate (&t, c);
  target = fixture_dir ("restore");

  g_assert_false (try_restore (&t, c->reader, target, &error));
  g_assert_nonnull (error);
  g_test_message ("%s: %s (%d)", c->path, error->message, error->code);
  g_assert_true (error->domain == COFFER_REPO_ERROR);
  g_assert_cmpuint (strlen (error->message), >, 10);
  if (c->code >= 0)
    g_assert_cmpint (error->code, ==, c->code);
  else
    g_assert_true (error->code == COFFER_REPO_ERROR_CORRUPT
                   || error->code == COFFER_REPO_ERROR_WRONG_PASSWORD
                   || error->code == COFFER_REPO_ERROR_WRONG_RECOVERY_KEY);
  /* No plaintext of the damaged backup reached the disk. */
  g_assert_false (tree_contains_marker (target));

  if (c->check)
    {
      g_autoptr(GError) check_error = NULL;
      g_autoptr(GPtrArray) problems = NULL;
      g_auto(FixtureRepository) repo = NULL;

      /* Same reader, a new session (and for fresh readers a new computer). */
      repo = open_as (&t, c->reader, &check_error);
      g_assert_no_error (check_error);
      g_assert_false (coffer_check_run (repo, t.cid, 100, NULL, NULL, &problems, NULL, &check_error));
      g_assert_nonnull (check_error);
      g_assert_true (check_error->domain == COFFER_REPO_ERROR);
      if (problems != NULL && problems->len > 0)
        g_test_message ("check: %s", (char *) g_ptr_array_index (problems, 0));
      else
        g_test_message ("check: %s", check_error->message);
    }
  tamper_free (&t);
}

/* Sanity: the untouched repository restores and checks clean, so every
 * failure above comes from the tampering. */
static void
test_untouched (void)
{
  Tamper t = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *target = NULL;
  const Reader readers[] = { SAME_COMPUTER, FRESH_PASSWORD, FRESH_RECOVERY_KEY };

  tamper_setup (&t);
  for (guint i = 0; i < G_N_ELEMENTS (readers); i++)
    {
      g_auto(FixtureRepository) repo = NULL;
      target = fixture_dir ("restore");
      g_assert_true (try_restore (&t, readers[i], target, &error));
      g_assert_no_error (error);
      g_assert_true (tree_contains_marker (target));
      g_clear_pointer (&target, g_free);
      repo = open_as (&t, SAME_COMPUTER, &error);
      g_assert_no_error (error);
      fixture_assert_check_clean (repo, t.cid, 100);
    }
  tamper_free (&t);
}

static const Case cases[] = {
  { "/tamper/config/flip", OBJ_CONFIG, FLIP, FRESH_PASSWORD, -1, FALSE },
  { "/tamper/config/truncate", OBJ_CONFIG, TRUNCATE, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, FALSE },
  { "/tamper/recovery/flip", OBJ_RECOVERY, FLIP, FRESH_RECOVERY_KEY, -1, FALSE },
  { "/tamper/recovery/truncate", OBJ_RECOVERY, TRUNCATE, FRESH_RECOVERY_KEY, -1, FALSE },
  { "/tamper/device/flip", OBJ_DEVICE, FLIP, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, FALSE },
  { "/tamper/device/truncate", OBJ_DEVICE, TRUNCATE, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, FALSE },
  { "/tamper/account/flip", OBJ_ACCOUNT, FLIP, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, FALSE },
  { "/tamper/account/truncate", OBJ_ACCOUNT, TRUNCATE, FRESH_RECOVERY_KEY, COFFER_REPO_ERROR_CORRUPT, FALSE },
  { "/tamper/password/flip", OBJ_PASSWORD, FLIP, FRESH_PASSWORD, -1, FALSE },
  { "/tamper/password/truncate", OBJ_PASSWORD, TRUNCATE, FRESH_PASSWORD, -1, FALSE },
  { "/tamper/meta/flip", OBJ_META, FLIP, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, FALSE },
  { "/tamper/meta/truncate", OBJ_META, TRUNCATE, FRESH_PASSWORD, COFFER_REPO_ERROR_CORRUPT, FALSE },
  { "/tamper/index/flip", OBJ_INDEX, FLIP, FRESH_PASSWORD, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/index/truncate", OBJ_INDEX, TRUNCATE, FRESH_PASSWORD, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/index/swap", OBJ_INDEX, SWAP, FRESH_PASSWORD, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/snapshot/flip", OBJ_SNAPSHOT, FLIP, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/snapshot/truncate", OBJ_SNAPSHOT, TRUNCATE, FRESH_PASSWORD, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/snapshot/swap", OBJ_SNAPSHOT, SWAP, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/snapshot/retype", OBJ_INDEX, RETYPE, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/snapshot/replay", OBJ_SNAPSHOT, REPLAY, FRESH_PASSWORD, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/snapshot/rollback", OBJ_SNAPSHOT, ROLLBACK, SAME_COMPUTER, COFFER_REPO_ERROR_ROLLED_BACK, TRUE },
  { "/tamper/data-pack/flip", OBJ_DATA_PACK, FLIP, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/data-pack/truncate", OBJ_DATA_PACK, TRUNCATE, FRESH_PASSWORD, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/tree-pack/flip", OBJ_TREE_PACK, FLIP, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/tree-pack/truncate", OBJ_TREE_PACK, TRUNCATE, FRESH_PASSWORD, COFFER_REPO_ERROR_CORRUPT, TRUE },
  { "/tamper/pack/swap", OBJ_DATA_PACK, SWAP, SAME_COMPUTER, COFFER_REPO_ERROR_CORRUPT, TRUE },
};

int
main (int argc, char **argv)
{
  fixture_init (&argc, &argv);

  g_test_add_func ("/tamper/untouched", test_untouched);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add_data_func (cases[i].path, &cases[i], test_case);
  return g_test_run ();
}
