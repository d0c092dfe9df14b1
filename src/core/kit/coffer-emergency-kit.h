/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include "coffer-secret.h"

G_BEGIN_DECLS

/* Writes the emergency kit: one A4 page of PDF (cairo) with the recovery key
 * in its seven groups, the repository location and id, the date and short
 * instructions for restoring with it. formatted_recovery_key is the text
 * from coffer_recovery_key_format ("XXXX-XXXX-…"). The file is created with
 * mode 0600 under a temporary name and renamed into place; an existing file
 * at path is never overwritten (G_IO_ERROR_EXISTS). Other errors are in
 * G_IO_ERROR. */
gboolean coffer_emergency_kit_write_pdf (const char         *path,
                                         const CofferSecret *formatted_recovery_key,
                                         const char         *repository_location,
                                         const char         *repository_id,
                                         GDateTime          *date,
                                         GError            **error);

/* A recovery share sheet for one recovery contact: one A4 page of PDF with
 * the share (from coffer_share_format, eleven groups of four), whose
 * backup it is (owner, location, repository id), how many other shares
 * are needed, and what to do when asked. Written like the emergency kit:
 * 0600, temporary name, renamed, never over an existing file
 * (G_IO_ERROR_EXISTS). */
#define COFFER_SHARE_SHEET_GROUPS 11

gboolean coffer_share_sheet_write_pdf (const char         *path,
                                       const CofferSecret *formatted_share,
                                       const char         *owner,
                                       guint               index,
                                       guint               needed,
                                       guint               count,
                                       const char         *repository_location,
                                       const char         *repository_id,
                                       GDateTime          *date,
                                       GError            **error);

G_END_DECLS
