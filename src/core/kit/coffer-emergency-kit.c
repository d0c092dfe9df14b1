/* SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE 1   /* renameat2 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-emergency-kit.h"

/* A4 in PostScript points */
#define PAGE_WIDTH    595.276
#define PAGE_HEIGHT   841.890
#define MARGIN        56.0
#define TEXT_WIDTH    (PAGE_WIDTH - 2 * MARGIN)

#define SANS_FONT     "Sans"
#define MONO_FONT     "Monospace"

#define KEY_GROUPS    7
#define GROUP_CHARS   4

typedef struct
{
  int fd;
  int error;   /* errno of the first failed write, or 0 */
} StreamTarget;

static cairo_status_t
write_to_fd (void                *closure,
             const unsigned char *data,
             unsigned int         length)
{
  StreamTarget *target = closure;

  while (length > 0 && target->error == 0)
    {
      ssize_t n = write (target->fd, data, length);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          target->error = errno;
          break;
        }
      data += n;
      length -= (unsigned int) n;
    }
  return target->error == 0 ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Splits a formatted key or share into its n_groups groups of four
 * characters, ignoring dashes and spaces. FALSE when it is not n_groups
 * groups of 4. */
static gboolean
split_groups (const CofferSecret *key,
              char              (*groups)[GROUP_CHARS + 1],
              guint               n_groups)
{
  gsize n = 0;

  for (gsize i = 0; i < key->len && key->data[i] != '\0'; i++)
    {
      char c = (char) key->data[i];

      if (c == '-' || c == ' ')
        continue;
      if (!g_ascii_isalnum (c) || n >= n_groups * GROUP_CHARS)
        return FALSE;
      groups[n / GROUP_CHARS][n % GROUP_CHARS] = c;
      groups[n / GROUP_CHARS][GROUP_CHARS] = '\0';
      n++;
    }
  return n == n_groups * GROUP_CHARS;
}

static gboolean
split_key (const CofferSecret *key,
           char                groups[KEY_GROUPS][GROUP_CHARS + 1])
{
  return split_groups (key, groups, KEY_GROUPS);
}

static void
set_font (cairo_t    *cr,
          const char *family,
          gboolean    bold,
          double      size)
{
  cairo_select_font_face (cr, family, CAIRO_FONT_SLANT_NORMAL,
                          bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
}

static double
text_width (cairo_t    *cr,
            const char *text)
{
  cairo_text_extents_t extents;

  cairo_text_extents (cr, text, &extents);
  return extents.x_advance;
}

static void
show_line (cairo_t    *cr,
           double      x,
           double      y,
           const char *text)
{
  cairo_move_to (cr, x, y);
  cairo_show_text (cr, text);
}

/* Draws text wrapped at spaces into lines of at most width; a word longer
 * than a line (a URL) is broken between characters. Returns the baseline
 * of the line after the last one drawn. */
static double
draw_wrapped (cairo_t    *cr,
              const char *text,
              double      x,
              double      y,
              double      width,
              double      line_height)
{
  g_autoptr(GString) line = g_string_new (NULL);
  g_auto(GStrv) words = g_strsplit (text, " ", -1);

  for (guint i = 0; words[i] != NULL; i++)
    {
      const char *word = words[i];
      g_autofree char *candidate = NULL;

      if (*word == '\0')
        continue;
      candidate = line->len > 0 ? g_strconcat (line->str, " ", word, NULL) : g_strdup (word);
      if (text_width (cr, candidate) <= width)
        {
          g_string_assign (line, candidate);
          continue;
        }
      if (line->len > 0)
        {
          show_line (cr, x, y, line->str);
          y += line_height;
          g_string_truncate (line, 0);
        }
      /* The word alone: break it when it does not fit on a line. */
      for (const char *p = word; *p; p = g_utf8_next_char (p))
        {
          gsize before = line->len;

          g_string_append_len (line, p, g_utf8_next_char (p) - p);
          if (before > 0 && text_width (cr, line->str) > width)
            {
              g_string_truncate (line, before);
              show_line (cr, x, y, line->str);
              y += line_height;
              g_string_truncate (line, 0);
              g_string_append_len (line, p, g_utf8_next_char (p) - p);
            }
        }
    }
  if (line->len > 0)
    {
      show_line (cr, x, y, line->str);
      y += line_height;
    }
  return y;
}

static double
draw_heading (cairo_t    *cr,
              const char *text,
              double      y)
{
  set_font (cr, SANS_FONT, TRUE, 13.0);
  show_line (cr, MARGIN, y, text);
  return y + 19.0;
}

static double
draw_paragraph (cairo_t    *cr,
                const char *text,
                double      y)
{
  set_font (cr, SANS_FONT, FALSE, 10.5);
  return draw_wrapped (cr, text, MARGIN, y, TEXT_WIDTH, 14.5) + 8.0;
}

static void
draw_page (cairo_t    *cr,
           char        groups[KEY_GROUPS][GROUP_CHARS + 1],
           const char *location,
           const char *repository_id,
           const char *date_text)
{
  double y = MARGIN + 24.0;
  double key_size = 26.0;
  double key_width = 0.0;
  double gap, x, box_height;

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_set_source_rgb (cr, 0, 0, 0);

  set_font (cr, SANS_FONT, TRUE, 26.0);
  show_line (cr, MARGIN, y, _("Coffer Emergency Kit"));
  y += 22.0;
  set_font (cr, SANS_FONT, FALSE, 11.0);
  y = draw_wrapped (cr, date_text, MARGIN, y, TEXT_WIDTH, 15.0) + 18.0;

  y = draw_heading (cr, _("Your recovery key"), y);

  /* The seven groups on one line, in a monospace font that fits the box. */
  set_font (cr, MONO_FONT, TRUE, key_size);
  for (int i = 0; i < KEY_GROUPS; i++)
    key_width += text_width (cr, groups[i]);
  gap = text_width (cr, "  ");
  if (key_width + gap * (KEY_GROUPS - 1) > TEXT_WIDTH - 32.0)
    {
      key_size *= (TEXT_WIDTH - 32.0) / (key_width + gap * (KEY_GROUPS - 1));
      set_font (cr, MONO_FONT, TRUE, key_size);
      key_width = 0.0;
      for (int i = 0; i < KEY_GROUPS; i++)
        key_width += text_width (cr, groups[i]);
      gap = text_width (cr, "  ");
    }
  box_height = key_size * 2.2;
  cairo_set_line_width (cr, 1.5);
  cairo_rectangle (cr, MARGIN, y, TEXT_WIDTH, box_height);
  cairo_stroke (cr);
  x = MARGIN + (TEXT_WIDTH - key_width - gap * (KEY_GROUPS - 1)) / 2.0;
  for (int i = 0; i < KEY_GROUPS; i++)
    {
      show_line (cr, x, y + box_height / 2.0 + key_size * 0.35, groups[i]);
      x += text_width (cr, groups[i]) + gap;
    }
  y += box_height + 26.0;

  y = draw_heading (cr, _("Your backups"), y);
  set_font (cr, SANS_FONT, FALSE, 10.5);
  {
    g_autofree char *loc_line = g_strdup_printf (_("Location: %s"), location);
    g_autofree char *id_line = g_strdup_printf (_("Repository id: %s"), repository_id);

    y = draw_wrapped (cr, loc_line, MARGIN, y, TEXT_WIDTH, 14.5);
    y = draw_wrapped (cr, id_line, MARGIN, y, TEXT_WIDTH, 14.5) + 18.0;
  }

  y = draw_heading (cr, _("What this is"), y);
  y = draw_paragraph (cr,
                      _("This page holds the recovery key of your Coffer backups. With it, "
                      "you can open every backup at the location above on any computer, "
                      "including the categories with Advanced protection."), y);
  y += 8.0;

  y = draw_heading (cr, _("Keep it offline and safe"), y);
  y = draw_paragraph (cr,
                      _("Print this page, or keep this file offline, for example on a USB "
                      "stick in a drawer or in a safe. Do not keep it in the same cloud as "
                      "your backups and do not send it to anyone: whoever has this key and "
                      "a copy of your backups can read them."), y);
  y += 8.0;

  y = draw_heading (cr, _("Restoring on a new computer"), y);
  y = draw_paragraph (cr,
                      _("Install Coffer, choose \"Restore with recovery key\", enter the "
                      "location above and type the key. The groups may be typed in any "
                      "case, with or without spaces or dashes. In a terminal, save the key "
                      "in a text file and run:"), y);
  set_font (cr, MONO_FONT, FALSE, 10.0);
  y = draw_wrapped (cr, "coffer restore --repo LOCATION --recovery-key-file FILE",
                    MARGIN + 16.0, y, TEXT_WIDTH - 16.0, 14.0) + 16.0;

  y = draw_heading (cr, _("If this key is lost"), y);
  y = draw_paragraph (cr,
                      _("Without this key, and without a computer that is still trusted, "
                      "the data in categories with Advanced protection cannot be recovered "
                      "by anyone, not even by the makers of Coffer. If you think someone "
                      "else has seen this key, replace it in Coffer's preferences."), y);

  set_font (cr, SANS_FONT, FALSE, 8.0);
  show_line (cr, MARGIN, PAGE_HEIGHT - MARGIN / 2.0,
             _("Coffer \xe2\x80\x94 private, encrypted backups (io.github.cofferapp.Coffer)"));
  (void) y;
}

/* Renames tmp to path unless path exists. */
static gboolean
rename_no_replace (const char         *tmp,
                   const char         *path,
                   gboolean            share,
                   GError            **error)
{
  int saved;

#ifdef RENAME_NOREPLACE
  if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
    return TRUE;
  saved = errno;
  if (saved != EINVAL && saved != ENOSYS && saved != ENOTSUP)
    goto fail;
#endif

  /* Filesystems without RENAME_NOREPLACE: a hard link is create-only. */
  if (link (tmp, path) == 0)
    {
      g_unlink (tmp);
      return TRUE;
    }
  saved = errno;
  if (saved == EEXIST)
    goto fail;

  /* No hard links either (FAT): check, then rename. */
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      saved = EEXIST;
      goto fail;
    }
  if (g_rename (tmp, path) == 0)
    return TRUE;
  saved = errno;

fail:
  if (saved == EEXIST)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                 share ? _("The share sheet cannot be saved as \xe2\x80\x9c%s\xe2\x80\x9d: "
                           "a file with that name already exists.")
                       : _("The emergency kit cannot be saved as \xe2\x80\x9c%s\xe2\x80\x9d: "
                           "a file with that name already exists."),
                 path);
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 share ? _("The share sheet cannot be saved as \xe2\x80\x9c%s\xe2\x80\x9d: %s.")
                       : _("The emergency kit cannot be saved as \xe2\x80\x9c%s\xe2\x80\x9d: %s."),
                 path, g_strerror (saved));
  return FALSE;
}

typedef void (*DrawFunc) (cairo_t *cr, gpointer data);

/* write_pdf, one step: the page drawn into a PDF streamed to target. */
static cairo_status_t
draw_pdf (StreamTarget *target,
          const char   *title,
          DrawFunc      draw,
          gpointer      data)
{
  cairo_surface_t *surface;
  cairo_t *cr;
  cairo_status_t status;

  surface = cairo_pdf_surface_create_for_stream (write_to_fd, target, PAGE_WIDTH, PAGE_HEIGHT);
  cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_TITLE, title);
  cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_CREATOR, "Coffer");
  cr = cairo_create (surface);
  draw (cr, data);
  cairo_show_page (cr);
  status = cairo_status (cr);
  cairo_destroy (cr);
  cairo_surface_finish (surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_status (surface);
  cairo_surface_destroy (surface);
  return status;
}

/* Writes one page drawn by draw to path: mode 0600 under a temporary name,
 * fsync, then renamed into place without ever replacing a file. share says
 * which document it is (the share sheet or the emergency kit), for messages
 * in whole sentences. */
static gboolean
write_pdf (const char         *path,
           gboolean            share,
           const char         *title,
           DrawFunc            draw,
           gpointer            data,
           GError            **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmp = NULL;
  StreamTarget target = { -1, 0 };
  cairo_status_t status;
  gboolean ok = FALSE;

  if (g_file_test (path, G_FILE_TEST_EXISTS) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   share ? _("The share sheet cannot be saved as \xe2\x80\x9c%s\xe2\x80\x9d: "
                             "a file with that name already exists.")
                         : _("The emergency kit cannot be saved as \xe2\x80\x9c%s\xe2\x80\x9d: "
                             "a file with that name already exists."),
                   path);
      return FALSE;
    }

  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  target.fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (target.fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   share ? _("The share sheet cannot be saved in \xe2\x80\x9c%s\xe2\x80\x9d: %s.")
                         : _("The emergency kit cannot be saved in \xe2\x80\x9c%s\xe2\x80\x9d: %s."),
                   dir, g_strerror (saved));
      return FALSE;
    }

  status = draw_pdf (&target, title, draw, data);

  if (target.error != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (target.error),
                   share ? _("The share sheet cannot be written: %s.")
                         : _("The emergency kit cannot be written: %s."),
                   g_strerror (target.error));
      goto out;
    }
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   share ? _("The share sheet cannot be drawn: %s.")
                         : _("The emergency kit cannot be drawn: %s."),
                   cairo_status_to_string (status));
      goto out;
    }
  if (fsync (target.fd) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   share ? _("The share sheet cannot be written to disk: %s.")
                         : _("The emergency kit cannot be written to disk: %s."),
                   g_strerror (saved));
      goto out;
    }
  if (close (target.fd) != 0)
    {
      int saved = errno;

      target.fd = -1;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   share ? _("The share sheet cannot be written to disk: %s.")
                         : _("The emergency kit cannot be written to disk: %s."),
                   g_strerror (saved));
      goto out;
    }
  target.fd = -1;

  ok = rename_no_replace (tmp, path, share, error);

out:
  if (target.fd >= 0)
    close (target.fd);
  if (!ok)
    g_unlink (tmp);
  return ok;
}

typedef struct
{
  char      (*groups)[GROUP_CHARS + 1];
  const char *location;
  const char *repository_id;
  const char *date_text;
} KitPage;

static void
draw_kit (cairo_t  *cr,
          gpointer  data)
{
  KitPage *page = data;

  draw_page (cr, page->groups, page->location, page->repository_id, page->date_text);
}

gboolean
coffer_emergency_kit_write_pdf (const char         *path,
                                const CofferSecret *formatted_recovery_key,
                                const char         *repository_location,
                                const char         *repository_id,
                                GDateTime          *date,
                                GError            **error)
{
  char groups[KEY_GROUPS][GROUP_CHARS + 1];
  g_autofree char *day = NULL;
  g_autofree char *date_text = NULL;
  KitPage page;
  gboolean ok;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (formatted_recovery_key != NULL, FALSE);
  g_return_val_if_fail (repository_location != NULL, FALSE);
  g_return_val_if_fail (repository_id != NULL, FALSE);
  g_return_val_if_fail (date != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!split_key (formatted_recovery_key, groups))
    {
      sodium_memzero (groups, sizeof groups);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The recovery key is not in its printed form of seven groups of four characters."));
      return FALSE;
    }

  day = g_date_time_format (date, "%Y-%m-%d");
  date_text = g_strdup_printf (_("Created on %s. Keep this page with your important papers."), day);
  page.groups = groups;
  page.location = repository_location;
  page.repository_id = repository_id;
  page.date_text = date_text;
  ok = write_pdf (path, FALSE, _("Coffer Emergency Kit"), draw_kit, &page, error);
  sodium_memzero (groups, sizeof groups);
  return ok;
}

/* ---- Recovery share sheet ---- */

typedef struct
{
  char      (*groups)[GROUP_CHARS + 1];
  const char *owner;
  guint       index, needed, count;
  const char *location;
  const char *repository_id;
  const char *day;
} SharePage;

static void
draw_share (cairo_t  *cr,
            gpointer  data)
{
  SharePage *page = data;
  double y = MARGIN + 24.0;
  double size = 24.0, gap, width, x, box_height;
  g_autofree char *title = g_strdup_printf (_("A recovery share for %s"), page->owner);
  g_autofree char *subtitle = g_strdup_printf (_("Share %u of %u \xe2\x80\x94 any %u of the %u shares together "
                                                 "restore %s's backups. Made on %s."),
                                               page->index, page->count, page->needed, page->count,
                                               page->owner, page->day);
  g_autofree char *what = NULL;
  g_autofree char *asked = NULL;
  g_autofree char *lost = NULL;
  const guint first_line = 6;

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_set_source_rgb (cr, 0, 0, 0);

  set_font (cr, SANS_FONT, TRUE, 24.0);
  y = draw_wrapped (cr, title, MARGIN, y, TEXT_WIDTH, 28.0) - 6.0;
  set_font (cr, SANS_FONT, FALSE, 11.0);
  y = draw_wrapped (cr, subtitle, MARGIN, y, TEXT_WIDTH, 15.0) + 16.0;

  y = draw_heading (cr, _("The share"), y);
  /* Two lines (6 and 5 groups) in a monospace font that fits the box. */
  set_font (cr, MONO_FONT, TRUE, size);
  gap = text_width (cr, "  ");
  width = text_width (cr, "XXXX") * first_line + gap * (first_line - 1);
  if (width > TEXT_WIDTH - 32.0)
    {
      size *= (TEXT_WIDTH - 32.0) / width;
      set_font (cr, MONO_FONT, TRUE, size);
      gap = text_width (cr, "  ");
      width = text_width (cr, "XXXX") * first_line + gap * (first_line - 1);
    }
  box_height = size * 3.6;
  cairo_set_line_width (cr, 1.5);
  cairo_rectangle (cr, MARGIN, y, TEXT_WIDTH, box_height);
  cairo_stroke (cr);
  x = MARGIN + (TEXT_WIDTH - width) / 2.0;
  for (guint i = 0; i < COFFER_SHARE_SHEET_GROUPS; i++)
    {
      guint col = i < first_line ? i : i - first_line;
      double line_y = y + (i < first_line ? size * 1.45 : size * 2.85);

      show_line (cr, x + col * (text_width (cr, "XXXX") + gap), line_y, page->groups[i]);
    }
  y += box_height + 24.0;

  y = draw_heading (cr, _("Whose backup this is"), y);
  set_font (cr, SANS_FONT, FALSE, 10.5);
  {
    g_autofree char *owner_line = g_strdup_printf (_("Owner: %s"), page->owner);
    g_autofree char *loc_line = g_strdup_printf (_("Backup location: %s"), page->location);
    g_autofree char *id_line = g_strdup_printf (_("Repository id: %s"), page->repository_id);

    y = draw_wrapped (cr, owner_line, MARGIN, y, TEXT_WIDTH, 14.5);
    y = draw_wrapped (cr, loc_line, MARGIN, y, TEXT_WIDTH, 14.5);
    y = draw_wrapped (cr, id_line, MARGIN, y, TEXT_WIDTH, 14.5) + 16.0;
  }

  what = g_strdup_printf (_("%s trusts you with one piece of the key to their encrypted backups. On its own "
                          "this piece opens nothing and tells nothing about the key: %u pieces, kept by "
                          "different people, are needed together. %s gave %u pieces to %u people; you do "
                          "not need to know who the others are."),
                          page->owner, page->needed, page->owner, page->count, page->count);
  y = draw_heading (cr, _("What this is"), y);
  y = draw_paragraph (cr, what, y) + 6.0;

  asked = g_strdup_printf (_("Only %s can ask for it, when they have lost their computers and their recovery "
                           "key. Make sure it is really them (in person, or a voice you know). Never type "
                           "this share anywhere except on %s's new computer, in Coffer, when it asks for "
                           "shares from recovery contacts: never in an email, a message, a website or a "
                           "phone call, and never give it to someone who says they help %s."),
                           page->owner, page->owner, page->owner);
  y = draw_heading (cr, _("What to do when asked"), y);
  y = draw_paragraph (cr, asked, y) + 6.0;

  lost = g_strdup_printf (_("Keep this page private, with your own important papers. If you lose it, or "
                          "someone else may have seen it, tell %s: they can replace their recovery "
                          "key and give new shares to their contacts, which makes this one useless. "
                          "Whenever %s replaces their recovery key, this share stops working and "
                          "they will give you a new one."),
                          page->owner, page->owner);
  y = draw_heading (cr, _("Keep it safe"), y);
  y = draw_paragraph (cr, lost, y);

  set_font (cr, SANS_FONT, FALSE, 8.0);
  show_line (cr, MARGIN, PAGE_HEIGHT - MARGIN / 2.0,
             _("Coffer \xe2\x80\x94 private, encrypted backups (io.github.cofferapp.Coffer)"));
  (void) y;
}

gboolean
coffer_share_sheet_write_pdf (const char         *path,
                              const CofferSecret *formatted_share,
                              const char         *owner,
                              guint               index,
                              guint               needed,
                              guint               count,
                              const char         *repository_location,
                              const char         *repository_id,
                              GDateTime          *date,
                              GError            **error)
{
  char groups[COFFER_SHARE_SHEET_GROUPS][GROUP_CHARS + 1];
  g_autofree char *day = NULL;
  SharePage page;
  gboolean ok;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (formatted_share != NULL, FALSE);
  g_return_val_if_fail (owner != NULL, FALSE);
  g_return_val_if_fail (repository_location != NULL, FALSE);
  g_return_val_if_fail (repository_id != NULL, FALSE);
  g_return_val_if_fail (date != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!split_groups (formatted_share, groups, COFFER_SHARE_SHEET_GROUPS))
    {
      sodium_memzero (groups, sizeof groups);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The share is not in its printed form of eleven groups of four characters."));
      return FALSE;
    }

  day = g_date_time_format (date, "%Y-%m-%d");
  page.groups = groups;
  page.owner = owner;
  page.index = index;
  page.needed = needed;
  page.count = count;
  page.location = repository_location;
  page.repository_id = repository_id;
  page.day = day;
  ok = write_pdf (path, TRUE, _("Coffer Recovery Share"), draw_share, &page, error);
  sodium_memzero (groups, sizeof groups);
  return ok;
}
