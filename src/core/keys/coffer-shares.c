/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-shares.h"
#include "coffer-recovery-key.h"
#include "coffer-recovery-key-private.h"
#include "coffer-error.h"

/* docs/FORMAT.md "Recovery shares".
 *
 * Payload (25 bytes = 200 bits):
 *   0      index << 4 | k
 *   1..2   repository id bytes 0..1
 *   3..5   generation id
 *   6..7   set id
 *   8..23  share value f(index), 16 bytes
 *   24     BLAKE2b-256("coffer-recovery-share" || bytes 0..23)[0]
 * Symbols: the 200 bits in 5-bit groups (40 symbols), as two Reed-Solomon
 * codewords of 20 data + 2 check symbols, written one after the other. */

#define PAYLOAD_BYTES   25
#define CODEWORD_DATA   20
#define CODEWORD_LEN    (CODEWORD_DATA + 2)
#define CODEWORDS        2
#define GROUP_CHARS      4
#define FORMATTED_LEN   (COFFER_SHARE_CHARS + COFFER_SHARE_GROUPS - 1)
#define CHECK_LABEL     "coffer-recovery-share"
#define GENERATION_LABEL "coffer-recovery-generation-v1"
#define GENERATIONS_MAGIC "CFRG"
#define GENERATION_ENTRY 24
#define MAX_GENERATIONS 1000

G_STATIC_ASSERT (COFFER_SHARE_CHARS == CODEWORDS * CODEWORD_LEN);
G_STATIC_ASSERT (COFFER_SHARE_CHARS == GROUP_CHARS * COFFER_SHARE_GROUPS);
G_STATIC_ASSERT (PAYLOAD_BYTES * 8 == CODEWORDS * CODEWORD_DATA * 5);

/* ---- GF(256), constant time ----
 *
 * GF(2)[x]/(x^8 + x^4 + x^3 + x + 1) (0x11b, as AES). No tables and no
 * branches on the operands, so the share bytes and the key never steer a
 * memory access or a branch. */

static inline guint8
gf256_mul (guint8 a, guint8 b)
{
  guint8 r = 0;

  for (guint i = 0; i < 8; i++)
    {
      guint8 hi;

      r ^= (guint8) (-(b & 1)) & a;
      b >>= 1;
      hi = (guint8) (-(a >> 7));
      a = (guint8) ((a << 1) ^ (hi & 0x1b));
    }
  return r;
}

/* a^254 = a^-1 (0 for 0), a fixed chain of squarings and products. */
static inline guint8
gf256_inv (guint8 a)
{
  guint8 x = a, r = 1;

  for (guint i = 0; i < 7; i++)
    {
      x = gf256_mul (x, x);
      r = gf256_mul (r, x);
    }
  return r;
}

/* ---- Ids ---- */

void
coffer_recovery_generation_id (const CofferSecret *recovery_key,
                               const guint8        repo_id[16],
                               guint8              out[COFFER_SHARE_GENERATION_BYTES])
{
  crypto_generichash_state state;
  guint8 h[32];

  g_return_if_fail (recovery_key != NULL && recovery_key->len == COFFER_RECOVERY_KEY_BYTES);

  coffer_core_init ();
  crypto_generichash_init (&state, recovery_key->data, recovery_key->len, sizeof h);
  crypto_generichash_update (&state, (const guint8 *) GENERATION_LABEL, strlen (GENERATION_LABEL));
  crypto_generichash_update (&state, repo_id, 16);
  crypto_generichash_final (&state, h, sizeof h);
  memcpy (out, h, COFFER_SHARE_GENERATION_BYTES);
  sodium_memzero (h, sizeof h);
  sodium_memzero (&state, sizeof state);
}

static guint8
check_byte (const guint8 *payload)
{
  crypto_generichash_state state;
  guint8 h[32];
  guint8 c;

  crypto_generichash_init (&state, NULL, 0, sizeof h);
  crypto_generichash_update (&state, (const guint8 *) CHECK_LABEL, strlen (CHECK_LABEL));
  crypto_generichash_update (&state, payload, PAYLOAD_BYTES - 1);
  crypto_generichash_final (&state, h, sizeof h);
  c = h[0];
  sodium_memzero (h, sizeof h);
  sodium_memzero (&state, sizeof state);
  return c;
}

void
coffer_share_free (CofferShare *share)
{
  if (share == NULL)
    return;
  coffer_secret_free (share->value);
  g_free (share);
}

/* ---- Split ---- */

GPtrArray *
coffer_shares_split_with (const CofferSecret *recovery_key,
                          const guint8        repo_id[16],
                          guint               needed,
                          guint               count,
                          const CofferSecret *coefficients,
                          const guint8        set_id[COFFER_SHARE_SET_BYTES],
                          GError            **error)
{
  g_autoptr(GPtrArray) shares = NULL;
  guint8 generation[COFFER_SHARE_GENERATION_BYTES];

  g_return_val_if_fail (recovery_key != NULL && recovery_key->len == COFFER_RECOVERY_KEY_BYTES, NULL);

  if (needed < COFFER_SHARES_MIN || count > COFFER_SHARES_MAX || needed > count)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("Shares need 2 ≤ needed ≤ count ≤ 10 (asked for %u of %u)."), needed, count);
      return NULL;
    }
  g_return_val_if_fail (coefficients != NULL && coefficients->len == (needed - 1) * COFFER_RECOVERY_KEY_BYTES,
                        NULL);

  coffer_recovery_generation_id (recovery_key, repo_id, generation);
  shares = g_ptr_array_new_with_free_func ((GDestroyNotify) coffer_share_free);
  for (guint x = 1; x <= count; x++)
    {
      CofferShare *share = g_new0 (CofferShare, 1);

      share->index = (guint8) x;
      share->needed = (guint8) needed;
      memcpy (share->repo_tag, repo_id, COFFER_SHARE_REPO_TAG_BYTES);
      memcpy (share->generation, generation, sizeof generation);
      memcpy (share->set_id, set_id, COFFER_SHARE_SET_BYTES);
      share->value = coffer_secret_new (COFFER_RECOVERY_KEY_BYTES);
      for (guint j = 0; j < COFFER_RECOVERY_KEY_BYTES; j++)
        {
          /* Horner: f(x) = s + a1 x + ... + a(k-1) x^(k-1) */
          guint8 y = 0;

          for (guint d = needed - 1; d >= 1; d--)
            y = gf256_mul (y, (guint8) x) ^ coefficients->data[(d - 1) * COFFER_RECOVERY_KEY_BYTES + j];
          y = gf256_mul (y, (guint8) x) ^ recovery_key->data[j];
          share->value->data[j] = y;
        }
      g_ptr_array_add (shares, share);
    }
  return g_steal_pointer (&shares);
}

GPtrArray *
coffer_shares_split (const CofferSecret *recovery_key,
                     const guint8        repo_id[16],
                     guint               needed,
                     guint               count,
                     GError            **error)
{
  g_autoptr(CofferSecret) coefficients = NULL;
  guint8 set_id[COFFER_SHARE_SET_BYTES];

  if (needed < COFFER_SHARES_MIN || count > COFFER_SHARES_MAX || needed > count)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_INVALID,
                   _("Shares need 2 ≤ needed ≤ count ≤ 10 (asked for %u of %u)."), needed, count);
      return NULL;
    }
  coffer_core_init ();
  coefficients = coffer_secret_new_random ((needed - 1) * COFFER_RECOVERY_KEY_BYTES);
  randombytes_buf (set_id, sizeof set_id);
  return coffer_shares_split_with (recovery_key, repo_id, needed, count, coefficients, set_id, error);
}

/* ---- Text ---- */

static void
share_to_payload (const CofferShare *share,
                  guint8            *payload)
{
  payload[0] = (guint8) (share->index << 4 | share->needed);
  memcpy (payload + 1, share->repo_tag, 2);
  memcpy (payload + 3, share->generation, 3);
  memcpy (payload + 6, share->set_id, 2);
  memcpy (payload + 8, share->value->data, COFFER_RECOVERY_KEY_BYTES);
  payload[24] = check_byte (payload);
}

/* payload -> 44 symbols: data of codeword 1, its checks, data of codeword 2, its checks */
static void
encode (const guint8 *payload,
        guint8       *symbols)
{
  for (guint i = 0; i < CODEWORDS * CODEWORD_DATA; i++)
    {
      guint8 v = 0;

      for (guint b = 0; b < 5; b++)
        {
          guint bit = i * 5 + b;

          v = (guint8) ((v << 1) | ((payload[bit / 8] >> (7 - bit % 8)) & 1));
        }
      symbols[(i / CODEWORD_DATA) * CODEWORD_LEN + i % CODEWORD_DATA] = v;
    }
  for (guint c = 0; c < CODEWORDS; c++)
    _coffer_rs32_check_symbols (symbols + c * CODEWORD_LEN, CODEWORD_DATA,
                                symbols + c * CODEWORD_LEN + CODEWORD_DATA);
}

/* symbols -> payload; returns whether the check byte matches. */
static gboolean
decode (const guint8 *symbols,
        guint8       *payload)
{
  memset (payload, 0, PAYLOAD_BYTES);
  for (guint bit = 0; bit < PAYLOAD_BYTES * 8; bit++)
    {
      guint i = bit / 5;
      guint8 v = symbols[(i / CODEWORD_DATA) * CODEWORD_LEN + i % CODEWORD_DATA];

      payload[bit / 8] |= (guint8) (((v >> (4 - bit % 5)) & 1) << (7 - bit % 8));
    }
  return check_byte (payload) == payload[24];
}

static gboolean
syndromes_zero (const guint8 *symbols)
{
  for (guint c = 0; c < CODEWORDS; c++)
    if (_coffer_rs32_syndrome (symbols + c * CODEWORD_LEN, CODEWORD_LEN, 1) != 0 ||
        _coffer_rs32_syndrome (symbols + c * CODEWORD_LEN, CODEWORD_LEN, 2) != 0)
      return FALSE;
  return TRUE;
}

CofferSecret *
coffer_share_format (const CofferShare *share)
{
  g_autoptr(CofferSecret) payload = NULL;
  g_autoptr(CofferSecret) symbols = NULL;
  CofferSecret *text;
  guint pos = 0;

  g_return_val_if_fail (share != NULL && share->value != NULL, NULL);

  coffer_core_init ();
  payload = coffer_secret_new (PAYLOAD_BYTES);
  symbols = coffer_secret_new (COFFER_SHARE_CHARS);
  share_to_payload (share, payload->data);
  encode (payload->data, symbols->data);

  text = coffer_secret_new (FORMATTED_LEN + 1);
  text->len = FORMATTED_LEN;
  for (guint i = 0; i < COFFER_SHARE_CHARS; i++)
    {
      if (i > 0 && i % GROUP_CHARS == 0)
        text->data[pos++] = '-';
      text->data[pos++] = coffer_base32_alphabet[symbols->data[i]];
    }
  text->data[pos] = '\0';
  g_assert (pos == FORMATTED_LEN);
  return text;
}

static CofferShare *
share_from_payload (const guint8 *payload,
                    GError      **error)
{
  CofferShare *share;
  guint index = payload[0] >> 4, needed = payload[0] & 0x0f;

  if (index < 1 || index > COFFER_SHARES_MAX || needed < COFFER_SHARES_MIN || needed > COFFER_SHARES_MAX)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("This is not a recovery share of this version of Coffer."));
      return NULL;
    }
  share = g_new0 (CofferShare, 1);
  share->index = (guint8) index;
  share->needed = (guint8) needed;
  memcpy (share->repo_tag, payload + 1, 2);
  memcpy (share->generation, payload + 3, 3);
  memcpy (share->set_id, payload + 6, 2);
  share->value = coffer_secret_new_from_data (payload + 8, COFFER_RECOVERY_KEY_BYTES);
  return share;
}

/* coffer_share_parse, step 1: the base32 symbols of the text, separators
 * skipped, exactly COFFER_SHARE_CHARS of them. */
static CofferSecret *
share_symbols (const char  *text,
               GError     **error)
{
  g_autoptr(CofferSecret) symbols = coffer_secret_new (COFFER_SHARE_CHARS);
  guint count = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      int v;

      if (_coffer_base32_is_separator (c))
        continue;
      v = _coffer_base32_value (c);
      if (v < 0)
        {
          char utf8[8] = { 0 };

          g_unichar_to_utf8 (c, utf8);
          g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                       _("The share cannot contain “%s”: shares use only the digits 0–9 and the letters A–Z "
                       "except I, L, O and U."), utf8);
          return NULL;
        }
      if (count < COFFER_SHARE_CHARS)
        symbols->data[count] = (guint8) v;
      count++;
    }

  if (count == COFFER_RECOVERY_KEY_CHARS)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("This has 28 characters, like a recovery key; a share has %d. "
                   "If you have the recovery key itself, use it instead of shares."),
                   COFFER_SHARE_CHARS);
      return NULL;
    }
  if (count != COFFER_SHARE_CHARS)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   g_dngettext (GETTEXT_PACKAGE,
                                "The share has %u character, but a share has %d (11 groups of 4).",
                                "The share has %u characters, but a share has %d (11 groups of 4).",
                                count),
                   count, COFFER_SHARE_CHARS);
      return NULL;
    }
  return g_steal_pointer (&symbols);
}

/* Step 2, for symbols that do not decode: which single wrong character or
 * which swapped neighbours would make them decode, as a
 * COFFER_CRYPTO_ERROR_TYPO. payload is scratch space for the decoding. */
static void
share_typo_error (CofferSecret  *symbols,
                  CofferSecret  *payload,
                  GError       **error)
{
  int substitution = -1;
  guint n_swaps = 0, swap = 0;

  /* One wrong character: it lies in one codeword, the other is clean. */
  for (guint c = 0; c < CODEWORDS; c++)
    {
      guint8 *word = symbols->data + c * CODEWORD_LEN;
      guint8 value = 0;
      int at;

      if (_coffer_rs32_syndrome (word, CODEWORD_LEN, 1) == 0 &&
          _coffer_rs32_syndrome (word, CODEWORD_LEN, 2) == 0)
        continue;
      at = _coffer_rs32_locate (word, CODEWORD_LEN, &value);
      if (at >= 0)
        {
          word[at] ^= value;
          if (syndromes_zero (symbols->data) && decode (symbols->data, payload->data))
            substitution = (int) (c * CODEWORD_LEN) + at;
          word[at] ^= value;
        }
      break;
    }

  /* Two neighbours swapped. */
  for (guint i = 0; i + 1 < COFFER_SHARE_CHARS; i++)
    {
      guint8 *d = symbols->data;
      guint8 tmp;

      if (d[i] == d[i + 1])
        continue;
      tmp = d[i]; d[i] = d[i + 1]; d[i + 1] = tmp;
      if (syndromes_zero (d) && decode (d, payload->data))
        {
          n_swaps++;
          swap = i;
        }
      tmp = d[i]; d[i] = d[i + 1]; d[i + 1] = tmp;
    }

  _coffer_typo_error (error, TRUE, substitution, n_swaps, swap);
}

CofferShare *
coffer_share_parse (const char  *text,
                    GError     **error)
{
  g_autoptr(CofferSecret) symbols = NULL;
  g_autoptr(CofferSecret) payload = NULL;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  coffer_core_init ();
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The share contains characters that are not text."));
      return NULL;
    }

  symbols = share_symbols (text, error);
  if (symbols == NULL)
    return NULL;

  payload = coffer_secret_new (PAYLOAD_BYTES);
  if (syndromes_zero (symbols->data))
    {
      if (decode (symbols->data, payload->data))
        return share_from_payload (payload->data, error);
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO,
                   _("The share looks mistyped: several characters seem wrong. Check it against the share sheet."));
      return NULL;
    }

  share_typo_error (symbols, payload, error);
  return NULL;
}

/* ---- Generations ---- */

/* "CFRG" 1 0 0 0 | count (u32) | count × entry (24 bytes):
 *   generation id (3) | needed (1) | count (1) | 3 zero |
 *   replaced (i64) | shares made (i64) */

static void
put_i64 (guint8 *p, gint64 v)
{
  guint64 u = (guint64) v;

  for (guint i = 0; i < 8; i++)
    p[i] = (guint8) (u >> (8 * i));
}

static gint64
get_i64 (const guint8 *p)
{
  guint64 u = 0;

  for (guint i = 0; i < 8; i++)
    u |= (guint64) p[i] << (8 * i);
  return (gint64) u;
}

GArray *
coffer_recovery_generations_parse (GBytes  *bytes,
                                   GError **error)
{
  g_autoptr(GArray) out = g_array_new (FALSE, TRUE, sizeof (CofferRecoveryGeneration));
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (bytes, &len);
  guint32 n;

  if (len < 12 || memcmp (p, GENERATIONS_MAGIC, 4) != 0 || p[4] != 1 || p[5] || p[6] || p[7])
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("keys/recovery-generations is damaged (bad header)."));
      return NULL;
    }
  n = (guint32) p[8] | (guint32) p[9] << 8 | (guint32) p[10] << 16 | (guint32) p[11] << 24;
  if (n > MAX_GENERATIONS || len != 12 + (gsize) n * GENERATION_ENTRY)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_CORRUPT,
                   _("keys/recovery-generations is damaged (bad length)."));
      return NULL;
    }
  for (guint32 i = 0; i < n; i++)
    {
      const guint8 *e = p + 12 + i * GENERATION_ENTRY;
      CofferRecoveryGeneration g = { { 0 } };

      memcpy (g.generation, e, 3);
      g.needed = e[3];
      g.count = e[4];
      g.replaced = get_i64 (e + 8);
      g.shares_made = get_i64 (e + 16);
      g_array_append_val (out, g);
    }
  return g_steal_pointer (&out);
}

GBytes *
coffer_recovery_generations_serialize (GArray *generations)
{
  guint n = generations != NULL ? generations->len : 0;
  gsize len = 12 + (gsize) n * GENERATION_ENTRY;
  guint8 *p = g_malloc0 (len);

  memcpy (p, GENERATIONS_MAGIC, 4);
  p[4] = 1;
  p[8] = (guint8) n; p[9] = (guint8) (n >> 8); p[10] = (guint8) (n >> 16); p[11] = (guint8) (n >> 24);
  for (guint i = 0; i < n; i++)
    {
      const CofferRecoveryGeneration *g = &g_array_index (generations, CofferRecoveryGeneration, i);
      guint8 *e = p + 12 + i * GENERATION_ENTRY;

      memcpy (e, g->generation, 3);
      e[3] = g->needed;
      e[4] = g->count;
      put_i64 (e + 8, g->replaced);
      put_i64 (e + 16, g->shares_made);
    }
  return g_bytes_new_take (p, len);
}

static char *
format_date (gint64 unix_seconds)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (unix_seconds);
  g_autoptr(GDateTime) local = utc != NULL ? g_date_time_to_local (utc) : NULL;

  if (local == NULL)
    return g_strdup (_("an unknown date"));
  /* TRANSLATORS: a g_date_time_format() format for the day a recovery key
   * was replaced, as in "replaced on 5 December 2026". */
  /* xgettext:no-c-format */
  return g_date_time_format (local, C_("share date", "%-d %B %Y"));
}

gboolean
coffer_share_check (const CofferShare *share,
                    const guint8       repo_id[16],
                    GArray            *generations,
                    GError           **error)
{
  gboolean have_current = FALSE;

  g_return_val_if_fail (share != NULL, FALSE);

  if (memcmp (share->repo_tag, repo_id, COFFER_SHARE_REPO_TAG_BYTES) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                   _("Share %u belongs to another repository (another person's backup, or another "
                   "backup of yours), not to this one."), share->index);
      return FALSE;
    }
  for (guint i = 0; generations != NULL && i < generations->len; i++)
    {
      const CofferRecoveryGeneration *g = &g_array_index (generations, CofferRecoveryGeneration, i);

      if (g->replaced == 0)
        have_current = TRUE;
      if (memcmp (g->generation, share->generation, COFFER_SHARE_GENERATION_BYTES) != 0)
        continue;
      if (g->replaced != 0)
        {
          g_autofree char *date = format_date (g->replaced);

          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                       _("Share %u belongs to the recovery key replaced on %s; it no longer opens this "
                       "backup. Ask your contacts for the shares made after that date."),
                       share->index, date);
          return FALSE;
        }
      return TRUE;
    }
  if (have_current)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                   _("Share %u does not belong to this repository's recovery key (it was made for another "
                   "backup, or for a recovery key this repository never recorded)."), share->index);
      return FALSE;
    }
  return TRUE;
}

/* ---- Combine ---- */

static gboolean
same_set (const CofferShare *a,
          const CofferShare *b)
{
  return a->needed == b->needed &&
         memcmp (a->repo_tag, b->repo_tag, sizeof a->repo_tag) == 0 &&
         memcmp (a->generation, b->generation, sizeof a->generation) == 0 &&
         memcmp (a->set_id, b->set_id, sizeof a->set_id) == 0;
}

guint
coffer_shares_missing (CofferShare * const *shares,
                       guint               n_shares)
{
  guint distinct = 0;
  guint needed;

  if (n_shares == 0)
    return COFFER_SHARES_MIN;
  needed = shares[0]->needed;
  for (guint i = 0; i < n_shares; i++)
    {
      gboolean seen = FALSE;

      for (guint m = 0; m < i; m++)
        if (shares[m]->index == shares[i]->index)
          seen = TRUE;
      if (!seen)
        distinct++;
    }
  return distinct >= needed ? 0 : needed - distinct;
}

CofferSecret *
coffer_shares_combine (CofferShare * const *shares,
                       guint               n_shares,
                       const guint8        repo_id[16],
                       GError            **error)
{
  g_autoptr(CofferSecret) key = NULL;
  guint8 generation[COFFER_SHARE_GENERATION_BYTES];
  const CofferShare *used[COFFER_SHARES_MAX];
  guint k, n_used = 0;

  if (n_shares == 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY,
                   _("No shares given."));
      return NULL;
    }
  k = shares[0]->needed;
  for (guint i = 0; i < n_shares; i++)
    {
      gboolean dup = FALSE;

      if (!same_set (shares[0], shares[i]))
        {
          g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                       _("Shares %u and %u were not made together (they belong to different sets of shares "
                       "or different recovery keys), so they cannot be combined."),
                       shares[0]->index, shares[i]->index);
          return NULL;
        }
      for (guint m = 0; m < n_used; m++)
        if (used[m]->index == shares[i]->index)
          {
            if (!coffer_secret_equal (used[m]->value, shares[i]->value))
              {
                g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                             _("Share %u was given twice with different contents."), shares[i]->index);
                return NULL;
              }
            dup = TRUE;
          }
      if (!dup && n_used < k)
        used[n_used++] = shares[i];
    }
  if (n_used < k)
    {
      guint more = k - n_used;

      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_NEEDS_RECOVERY_KEY,
                   g_dngettext (GETTEXT_PACKAGE,
                                "%u of %u shares given: %u more share is needed.",
                                "%u of %u shares given: %u more shares are needed.",
                                more),
                   n_used, k, more);
      return NULL;
    }

  /* Lagrange interpolation at 0: s = sum_i y_i prod_{m != i} x_m / (x_m - x_i). */
  key = coffer_secret_new (COFFER_RECOVERY_KEY_BYTES);
  for (guint i = 0; i < k; i++)
    {
      guint8 num = 1, den = 1, l;

      for (guint m = 0; m < k; m++)
        {
          if (m == i)
            continue;
          num = gf256_mul (num, used[m]->index);
          den = gf256_mul (den, used[m]->index ^ used[i]->index);
        }
      l = gf256_mul (num, gf256_inv (den));
      for (guint j = 0; j < COFFER_RECOVERY_KEY_BYTES; j++)
        key->data[j] ^= gf256_mul (used[i]->value->data[j], l);
    }

  /* The generation id is keyed with the result: shares that claim one set
   * but do not fit together (a damaged or altered share) show here. */
  coffer_recovery_generation_id (key, repo_id, generation);
  if (sodium_memcmp (generation, shares[0]->generation, sizeof generation) != 0)
    {
      g_set_error (error, COFFER_REPO_ERROR, COFFER_REPO_ERROR_WRONG_RECOVERY_KEY,
                   _("These shares do not fit together: combined, they do not give the recovery key they "
                   "were made from (one of them is altered, or they belong to another repository)."));
      return NULL;
    }
  return g_steal_pointer (&key);
}
