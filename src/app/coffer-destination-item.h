/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include "coffer-engine.h"

G_BEGIN_DECLS

/* CofferDestinationItem: one more place the same categories are backed up
 * to, besides the first destination (GSettings "destination"). It is its
 * own repository with its own keys, so it has its own CofferEngine, its
 * own category ids (mapped from the first destination's), its own last
 * successful backup (GSettings "more-destinations") and its own status
 * for this session. Never holds a secret in the settings. */
#define COFFER_TYPE_DESTINATION_ITEM (coffer_destination_item_get_type ())
G_DECLARE_FINAL_TYPE (CofferDestinationItem, coffer_destination_item, COFFER, DESTINATION_ITEM, GObject)

typedef enum
{
  COFFER_DESTINATION_STATUS_IDLE,       /* not tried this session */
  COFFER_DESTINATION_STATUS_BUSY,       /* opening or backing up now */
  COFFER_DESTINATION_STATUS_OK,         /* the last backup there succeeded */
  COFFER_DESTINATION_STATUS_UNPLUGGED,  /* the drive or folder is not there: waits for it */
  COFFER_DESTINATION_STATUS_FAILED,     /* anything else; the message says what */
} CofferDestinationStatus;

CofferDestinationItem *coffer_destination_item_new (const CofferDestination *dest);

const char   *coffer_destination_item_get_location (CofferDestinationItem *self);
/* A short name for the UI: the drive's name, the folder's or the server's. */
char         *coffer_destination_item_dup_name     (CofferDestinationItem *self);
/* The destination with the credentials held this session (may be NULL). */
CofferDestination *coffer_destination_item_dup_destination (CofferDestinationItem *self);
/* Keeps the WebDAV password / S3 secret key for this session (copied). */
void          coffer_destination_item_set_secret   (CofferDestinationItem *self, const CofferSecret *secret);
CofferEngine *coffer_destination_item_get_engine   (CofferDestinationItem *self);

/* The id of the category in this repository for the first destination's
 * category id, or NULL when it was not made here yet. */
const char   *coffer_destination_item_lookup_category (CofferDestinationItem *self, const char *first_id);
void          coffer_destination_item_set_category    (CofferDestinationItem *self, const char *first_id,
                                                       const char *own_id);

gint64        coffer_destination_item_get_last_backup (CofferDestinationItem *self);
void          coffer_destination_item_set_last_backup (CofferDestinationItem *self, gint64 time);

/* notify::status when either changes. */
CofferDestinationStatus coffer_destination_item_get_status (CofferDestinationItem *self, const char **message);
void          coffer_destination_item_set_status   (CofferDestinationItem *self, CofferDestinationStatus status,
                                                    const char *message);

/* While unplugged: watches for the folder or drive to come back and then
 * emits ::reconnected once. Servers are not watched. */
void          coffer_destination_item_watch        (CofferDestinationItem *self);

/* (Re)fills store from / writes it to the "more-destinations" key. */
void coffer_destination_items_load (GSettings *settings, GListStore *store);
void coffer_destination_items_save (GSettings *settings, GListModel *model);

/* The local path of a location, NULL for servers. */
char *coffer_destination_local_path (const char *location);
/* Watches the folder path is in, or the nearest one of its parents that
 * exists: where a drive's mount point or a renamed-back folder appears. */
GFileMonitor *coffer_monitor_nearest_folder (const char *path);
/* A short name of a location: /media/USER/NAME/… gives NAME, a folder its
 * own name, a server its host. */
char *coffer_destination_name_for_location (const char *location);

G_END_DECLS
