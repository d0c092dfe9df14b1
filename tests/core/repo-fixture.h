/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Shared set-up for the engine tests (test-repository, test-backup,
 * test-tamper, test-full-disk): a private HOME / XDG_DATA_HOME /
 * XDG_CACHE_HOME per test program, real local stores in temporary folders,
 * generated trees, and short helpers that assert success. */
#include <glib.h>

#include "coffer-error.h"
#include "coffer-repository.h"
#include "test-utils.h"

/* Call first in main (before g_test_init and before anything reads the
 * XDG variables): a temporary root, HOME and XDG dirs inside it,
 * COFFER_TESTING=1, COFFER_KEYRING=none and the fast Argon2 profile. */
void              fixture_init            (int *argc, char ***argv);
/* The temporary root of this test program. */
const char       *fixture_root            (void);
/* A new empty folder below the root. */
char             *fixture_dir             (const char *name);
/* Moves this computer's local Coffer state (device key, state.ini, caches)
 * aside: what follows runs as on a computer that never saw the repository. */
void              fixture_fresh_computer  (void);

CofferSecret     *fixture_secret          (const char *text);
CofferStore      *fixture_store           (const char *dir);
/* Creates a repository (password may be NULL) in dir; *rk gets the recovery key. */
CofferRepository *fixture_create          (const char *dir, const char *password, CofferSecret **rk);
/* Drops the last reference to *repo (may be NULL) and clears it; fails the
 * test when anything else still holds the repository (a leaked reference). */
void              fixture_close           (CofferRepository **repo);

/* A repository that must die with its variable: g_auto(FixtureRepository)
 * repo = ... works like g_autoptr(CofferRepository), and when the variable
 * goes out of scope asserts that this was the last reference. */
typedef CofferRepository *FixtureRepository;
static inline void
fixture_assert_finalized (CofferRepository *repo)
{
  g_assert_finalize_object (repo);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (FixtureRepository, fixture_assert_finalized, NULL)
/* Opens and unlocks with the given ways in (either may be NULL). */
CofferRepository *fixture_open            (const char *dir, const char *password, const CofferSecret *rk,
                                           GError **error);
/* Adds a category backing up path; returns its id. */
char             *fixture_add_category    (CofferRepository *repo, const char *name, CofferLevel level,
                                           const char *path);
CofferSnapshot   *fixture_backup          (CofferRepository *repo, const char *cid);
void              fixture_restore         (CofferRepository *repo, const char *cid,
                                           const CofferSnapshot *snap, const char *target);
/* Asserts check (with read_data percent) finds nothing. */
void              fixture_assert_check_clean (CofferRepository *repo, const char *cid, gdouble percent);
/* target + src: where a restore with target puts the folder src. */
char             *fixture_restored        (const char *target, const char *src);
/* Total size in bytes of the regular files below path. */
guint64           fixture_tree_bytes      (const char *path);
/* Object names below prefix in a local store folder, sorted. */
GPtrArray        *fixture_list_objects    (const char *store_dir, const char *prefix);
/* A small varied tree: nested folders, small and empty files, a symlink. */
void              fixture_make_small_tree (const char *root, guint32 seed);
/* Reads a whole file; fails the test if it cannot. */
GBytes           *fixture_read            (const char *path);
/* TRUE when haystack contains the bytes of needle (for plaintext leaks). */
gboolean          fixture_contains_bytes  (GBytes *haystack, GBytes *needle);
