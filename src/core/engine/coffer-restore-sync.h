/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Making restored files durable, without syncfs() where a file system
 * lets Coffer wait for exactly what it wrote (syncfs() also waits for
 * every other program's dirty data there). How depends on the file system
 * of each folder a file is restored into:
 *
 * - ORDERED (ext4 with a journal, XFS): each file's write-back starts when
 *   it is written and the file stays open; full batches are waited on
 *   (sync_file_range, no cache flush per file) by the thread that filled
 *   the batch. The end is one journal commit per file system (fsync of a
 *   short-lived file there): the journal commits in order, so that commit
 *   carries every restored file's size, blocks and name, and its cache
 *   flush makes the data written before it durable.
 * - WHOLE (ext4 without a journal, and an ext4 whose journal cannot be
 *   seen from here): no commit orders anything, and an fdatasync per file
 *   would cost a device cache flush each (minutes for 250 000 files). Files
 *   are closed at once and the end is one syncfs() per file system.
 * - FILE (btrfs, FAT, network and FUSE file systems, anything else):
 *   fdatasync per file in batches, then fsync of every folder whose
 *   entries changed.
 * - NONE (tmpfs, ramfs): nothing to make durable.
 *
 * docs/PERFORMANCE.md "Syncing". */
typedef enum
{
  COFFER_SYNC_NONE,
  COFFER_SYNC_ORDERED,
  COFFER_SYNC_WHOLE,
  COFFER_SYNC_FILE,
} CofferSyncKind;

typedef struct _CofferRestoreSync CofferRestoreSync;

/* Called (on whichever thread met it) for a file or folder that could not
 * be made durable, with the errno. */
typedef void (*CofferSyncErrorFunc) (int errsv, const char *path, gpointer user_data);

CofferRestoreSync *_coffer_restore_sync_new  (CofferSyncErrorFunc on_error,
                                              gpointer            user_data);
void               _coffer_restore_sync_free (CofferRestoreSync  *sync);

/* Main thread. Notes that the folder of path got a new entry (and with
 * and_self that path, a folder, got its own times and mode) and returns
 * how files in that folder are made durable. */
CofferSyncKind     _coffer_restore_sync_note (CofferRestoreSync  *sync,
                                              const char         *path,
                                              gboolean            and_self);

/* Any thread. A restored file, still open as fd, which is taken over
 * (closed by the time it has been waited on); kind as _note() returned
 * for its folder. May wait for a batch of earlier files. */
void               _coffer_restore_sync_file (CofferRestoreSync  *sync,
                                              int                 fd,
                                              const char         *path,
                                              CofferSyncKind      kind);

/* Main thread, once the files are written: waits for the rest and makes
 * the noted folders' entries durable. */
void               _coffer_restore_sync_finish (CofferRestoreSync *sync);

/* How the file system of an open folder is synced (tests and the above). */
CofferSyncKind     _coffer_sync_kind_of_fd   (int                 fd);

/* What restores in this process did, for tests. */
typedef struct
{
  guint range_waits;   /* files waited on with sync_file_range */
  guint fdatasyncs;    /* files waited on with fdatasync */
  guint commits;       /* journal commits (ORDERED) */
  guint syncfs;        /* syncfs() calls (WHOLE) */
  guint dir_fsyncs;    /* folders fsynced (FILE) */
} CofferRestoreSyncStats;

void               _coffer_restore_sync_get_stats (CofferRestoreSyncStats *stats);

G_END_DECLS
