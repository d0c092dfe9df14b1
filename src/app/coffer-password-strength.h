/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A simple entropy estimate for the strength meter: character classes and
 * length, with penalties for repetitions, sequences and common passwords.
 * Returns the estimated bits; *out_label gets a translated description. */
double coffer_password_strength (const char *password, const char **out_label);

/* Passwords below this are refused (an offline attacker with the cloud copy
 * tries them at Argon2id speed). */
#define COFFER_PASSWORD_MIN_BITS 50.0
#define COFFER_PASSWORD_GOOD_BITS 70.0

G_END_DECLS
