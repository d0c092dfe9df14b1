/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* A pattern-based estimate (coffer-password-strength.c explains the rule):
 * dictionary words with leet substitutions, keyboard walks, sequences,
 * years and repeats cost few guesses. Returns log2 of the guesses ("bits");
 * *out_label gets a translated description. */
double coffer_password_strength (const char *password, const char **out_label);

/* The strength meter: a GtkLevelBar coloured red for very weak, orange for
 * weak, and the label under it. _update returns the bits. */
void   coffer_password_meter_init   (GtkLevelBar *bar);
double coffer_password_meter_update (GtkLevelBar *bar, GtkLabel *label, const char *password);

/* Passwords below this are refused (an offline attacker with the cloud copy
 * tries them at Argon2id speed). */
#define COFFER_PASSWORD_MIN_BITS 50.0
#define COFFER_PASSWORD_GOOD_BITS 70.0

G_END_DECLS
