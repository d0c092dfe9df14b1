/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include <sodium.h>
#include <glib/gi18n-lib.h>

#include "coffer-recovery-key.h"
#include "coffer-recovery-key-private.h"
#include "coffer-error.h"

/* The codec (docs/FORMAT.md "Recovery key"):
 *
 *   130-bit string = 128 key bits (byte 0 first, most significant bit first)
 *                    || the top two bits of BLAKE2b-256("coffer-recovery-key" || key)[0]
 *   symbols s0..s25 = that string in 5-bit groups, most significant bit first
 *   symbols s26, s27 = Reed-Solomon check symbols over GF(32) = GF(2)[a]/(a^5 + a^2 + 1):
 *     c(x) = s0 x^27 + s1 x^26 + ... + s27 with c(a) = c(a^2) = 0,
 *     i.e. s26 x + s27 = (s0 x^27 + ... + s25 x^2) mod (x + a)(x + a^2).
 *
 * Two syndromes detect any one or two wrong symbols; a single wrong symbol
 * is located from S2 / S1 = a^(27 - i). A location is only reported when
 * correcting that symbol also satisfies the two hash bits, which rejects
 * three out of four double errors that would otherwise be mislocated.
 * Every swap of two neighbours that yields a valid key is found too; when
 * exactly one does, the message names it (alongside the single-character
 * location when both explain the input), so a swap is never reported as a
 * lone, misleading "check character N". */

#define DATA_SYMBOLS  26
#define GROUP_CHARS    4
#define GROUPS         7
#define FORMATTED_LEN (COFFER_RECOVERY_KEY_CHARS + GROUPS - 1)
#define HASH_LABEL    "coffer-recovery-key"

G_STATIC_ASSERT (COFFER_RECOVERY_KEY_CHARS == GROUP_CHARS * GROUPS);
G_STATIC_ASSERT (DATA_SYMBOLS * 5 == COFFER_RECOVERY_KEY_BYTES * 8 + 2);

const char coffer_base32_alphabet[33] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* ---- GF(32) ---- */

static guint8 gf_exp[62];
static guint8 gf_log[32];

static void
gf_init (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      guint x = 1;

      for (guint i = 0; i < 31; i++)
        {
          gf_exp[i] = gf_exp[i + 31] = x;
          gf_log[x] = i;
          x <<= 1;
          if (x & 0x20)
            x ^= 0x25;   /* a^5 = a^2 + 1 */
        }
      gf_log[0] = 0;   /* unused */
      g_once_init_leave (&initialized, 1);
    }
}

static inline guint8
gf_mul (guint8 a, guint8 b)
{
  if (a == 0 || b == 0)
    return 0;
  return gf_exp[gf_log[a] + gf_log[b]];
}

/* Generator g(x) = (x + a)(x + a^2) = x^2 + (a + a^2) x + a^3 */
#define G1 (0x02 ^ 0x04)
#define G0 0x08

/* Check symbols for a codeword of n_data data symbols (the recovery
 * shares reuse this with their own lengths). */
void
_coffer_rs32_check_symbols (const guint8 *symbols,
                            guint         n_data,
                            guint8       *check)
{
  guint8 r1 = 0, r0 = 0;

  gf_init ();
  for (guint i = 0; i < n_data; i++)
    {
      guint8 feedback = symbols[i] ^ r1;

      r1 = r0 ^ gf_mul (feedback, G1);
      r0 = gf_mul (feedback, G0);
    }
  check[0] = r1;
  check[1] = r0;
}

static void
rs_check_symbols (const guint8 *symbols,
                  guint8       *check)
{
  _coffer_rs32_check_symbols (symbols, DATA_SYMBOLS, check);
}

/* S_k = c(a^k) by Horner's rule, over a codeword of n symbols. */
guint8
_coffer_rs32_syndrome (const guint8 *symbols,
                       guint         n,
                       guint         k)
{
  guint8 root;
  guint8 s = 0;

  gf_init ();
  root = gf_exp[k];
  for (guint i = 0; i < n; i++)
    s = gf_mul (s, root) ^ symbols[i];
  return s;
}

static guint8
rs_syndrome (const guint8 *symbols,
             guint         k)
{
  return _coffer_rs32_syndrome (symbols, COFFER_RECOVERY_KEY_CHARS, k);
}

int
_coffer_rs32_locate (const guint8 *symbols,
                     guint         n,
                     guint8       *value)
{
  guint8 s1 = _coffer_rs32_syndrome (symbols, n, 1);
  guint8 s2 = _coffer_rs32_syndrome (symbols, n, 2);
  guint j;

  if (s1 == 0 || s2 == 0)
    return -1;
  j = (gf_log[s2] + 31 - gf_log[s1]) % 31;
  if (j >= n)
    return -1;
  *value = gf_exp[(2 * gf_log[s1] + 31 - gf_log[s2]) % 31];
  return (int) (n - 1 - j);
}

/* ---- Bits ---- */

static guint8
hash_bits (const guint8 *key)
{
  crypto_generichash_state state;
  guint8 h[32];
  guint8 bits;

  crypto_generichash_init (&state, NULL, 0, sizeof h);
  crypto_generichash_update (&state, (const guint8 *) HASH_LABEL, strlen (HASH_LABEL));
  crypto_generichash_update (&state, key, COFFER_RECOVERY_KEY_BYTES);
  crypto_generichash_final (&state, h, sizeof h);
  bits = h[0] >> 6;
  sodium_memzero (h, sizeof h);
  sodium_memzero (&state, sizeof state);
  return bits;
}

static inline guint
get_bit (const guint8 *bytes, guint bit)
{
  return (bytes[bit / 8] >> (7 - bit % 8)) & 1;
}

/* key (16 bytes) -> all 28 symbols */
static void
encode_symbols (const guint8 *key,
                guint8       *symbols)
{
  guint8 extra = hash_bits (key);

  for (guint i = 0; i < DATA_SYMBOLS; i++)
    {
      guint8 v = 0;

      for (guint b = 0; b < 5; b++)
        {
          guint bit = i * 5 + b;
          guint value;

          if (bit < COFFER_RECOVERY_KEY_BYTES * 8)
            value = get_bit (key, bit);
          else
            value = (extra >> (1 - (bit - COFFER_RECOVERY_KEY_BYTES * 8))) & 1;
          v = (v << 1) | value;
        }
      symbols[i] = v;
    }
  rs_check_symbols (symbols, symbols + DATA_SYMBOLS);
}

/* 26 data symbols -> key (16 bytes); returns whether the hash bits match. */
static gboolean
decode_symbols (const guint8 *symbols,
                guint8       *key)
{
  guint8 extra = 0;

  memset (key, 0, COFFER_RECOVERY_KEY_BYTES);
  for (guint bit = 0; bit < DATA_SYMBOLS * 5; bit++)
    {
      guint value = (symbols[bit / 5] >> (4 - bit % 5)) & 1;

      if (bit < COFFER_RECOVERY_KEY_BYTES * 8)
        key[bit / 8] |= value << (7 - bit % 8);
      else
        extra = (extra << 1) | value;
    }
  return hash_bits (key) == extra;
}

/* ---- Public API ---- */

CofferSecret *
coffer_recovery_key_generate (void)
{
  return coffer_secret_new_random (COFFER_RECOVERY_KEY_BYTES);
}

CofferSecret *
coffer_recovery_key_format (const CofferSecret *key)
{
  g_autoptr(CofferSecret) symbols = NULL;
  CofferSecret *text;
  guint pos = 0;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (key->len == COFFER_RECOVERY_KEY_BYTES, NULL);

  gf_init ();
  coffer_core_init ();

  symbols = coffer_secret_new (COFFER_RECOVERY_KEY_CHARS);
  encode_symbols (key->data, symbols->data);

  text = coffer_secret_new (FORMATTED_LEN + 1);
  text->len = FORMATTED_LEN;
  for (guint i = 0; i < COFFER_RECOVERY_KEY_CHARS; i++)
    {
      if (i > 0 && i % GROUP_CHARS == 0)
        text->data[pos++] = '-';
      text->data[pos++] = coffer_base32_alphabet[symbols->data[i]];
    }
  text->data[pos] = '\0';
  g_assert (pos == FORMATTED_LEN);

  return text;
}

/* Crockford value of an ASCII character, -1 if it is not one. */
int
_coffer_base32_value (gunichar c)
{
  if (c >= 'a' && c <= 'z')
    c = c - 'a' + 'A';
  switch (c)
    {
    case 'O': return 0;
    case 'I':
    case 'L': return 1;
    case 'U': return -1;
    default:
      break;
    }
  for (int v = 0; v < 32; v++)
    if (coffer_base32_alphabet[v] == (char) c && c < 0x80)
      return v;
  return -1;
}

gboolean
_coffer_base32_is_separator (gunichar c)
{
  return c == '-' || g_unichar_isspace (c) ||
         /* dashes and spaces that come with copy and paste from documents */
         (c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0x00A0 || c == 0x202F;
}

static void
swap_symbols (guint8 *symbols,
              guint   i)
{
  guint8 tmp = symbols[i];

  symbols[i] = symbols[i + 1];
  symbols[i + 1] = tmp;
}

/* The advice after "… looks mistyped:", one whole sentence per case. */
static char *
typo_advice (gboolean is_share,
             int      substitution,
             guint    n_swaps,
             guint    swap)
{
  guint s_char = substitution % GROUP_CHARS + 1, s_group = substitution / GROUP_CHARS + 1;
  guint w_char = swap % GROUP_CHARS + 1, w_group = swap / GROUP_CHARS + 1;
  gboolean in_group = swap / GROUP_CHARS == (swap + 1) / GROUP_CHARS;

  if (substitution >= 0 && n_swaps == 1 && in_group)
    return g_strdup_printf (_("check character %u of group %u, and whether characters %u and %u of "
                              "group %u are swapped."),
                            s_char, s_group, w_char, w_char + 1, w_group);
  if (substitution >= 0 && n_swaps == 1)
    return g_strdup_printf (_("check character %u of group %u, and whether character %u of group %u "
                              "and character 1 of group %u are swapped."),
                            s_char, s_group, GROUP_CHARS, w_group, w_group + 1);
  if (substitution >= 0 && n_swaps > 1)
    return g_strdup_printf (_("check character %u of group %u, or look for two swapped neighbours."),
                            s_char, s_group);
  if (substitution >= 0)
    return g_strdup_printf (_("check character %u of group %u."), s_char, s_group);
  if (n_swaps == 1 && in_group)
    return g_strdup_printf (_("check whether characters %u and %u of group %u are swapped."),
                            w_char, w_char + 1, w_group);
  if (n_swaps == 1)
    return g_strdup_printf (_("check whether character %u of group %u and character 1 of group %u "
                              "are swapped."),
                            GROUP_CHARS, w_group, w_group + 1);
  if (is_share)
    return g_strdup (_("more than one character seems wrong. Check it against the share sheet."));
  return g_strdup (_("more than one character seems wrong. Check it against the emergency kit."));
}

void
_coffer_typo_error (GError  **error,
                    gboolean  is_share,
                    int       substitution,
                    guint     n_swaps,
                    guint     swap)
{
  g_autofree char *advice = typo_advice (is_share, substitution, n_swaps, swap);

  /* TRANSLATORS: %s is one of the "check character …" sentences. */
  if (is_share)
    g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO,
                 _("The share looks mistyped: %s"), advice);
  else
    g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO,
                 _("The recovery key looks mistyped: %s"), advice);
}

/* coffer_recovery_key_parse, step 1: the base32 symbols of the text,
 * separators skipped, exactly COFFER_RECOVERY_KEY_CHARS of them. */
static CofferSecret *
recovery_key_symbols (const char  *text,
                      GError     **error)
{
  g_autoptr(CofferSecret) symbols = coffer_secret_new (COFFER_RECOVERY_KEY_CHARS);
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
          if (c == 'U' || c == 'u')
            g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                         _("The recovery key cannot contain the letter “%s”: recovery keys use the digits 0–9 and the letters A–Z except I, L, O and U."),
                         utf8);
          else
            g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                         _("The recovery key cannot contain “%s”: recovery keys use only the digits 0–9 and the letters A–Z."),
                         utf8);
          return NULL;
        }
      if (count < COFFER_RECOVERY_KEY_CHARS)
        symbols->data[count] = (guint8) v;
      count++;
    }

  if (count != COFFER_RECOVERY_KEY_CHARS)
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   g_dngettext (GETTEXT_PACKAGE,
                                "The recovery key has %u character, but a recovery key has %d.",
                                "The recovery key has %u characters, but a recovery key has %d.",
                                count),
                   count, COFFER_RECOVERY_KEY_CHARS);
      return NULL;
    }
  return g_steal_pointer (&symbols);
}

/* Step 2, for symbols that do not decode (syndromes s1, s2): which single
 * wrong character or which swapped neighbours would make them decode, as a
 * COFFER_CRYPTO_ERROR_TYPO. key is scratch space for the decoding. */
static void
recovery_key_typo_error (CofferSecret  *symbols,
                         CofferSecret  *key,
                         guint8         s1,
                         guint8         s2,
                         GError       **error)
{
  int substitution = -1;
  guint n_swaps = 0, swap = 0;

  /* Hypothesis 1: one wrong character. e a^j = S1, e a^2j = S2 with
   * degree j = 27 - i, so a^j = S2 / S1 and e = S1^2 / S2. */
  if (s1 != 0 && s2 != 0)
    {
      guint j = (gf_log[s2] + 31 - gf_log[s1]) % 31;

      if (j < COFFER_RECOVERY_KEY_CHARS)
        {
          guint i = COFFER_RECOVERY_KEY_CHARS - 1 - j;
          guint8 e = gf_exp[(2 * gf_log[s1] + 31 - gf_log[s2]) % 31];
          guint8 saved = symbols->data[i];

          symbols->data[i] ^= e;
          if (decode_symbols (symbols->data, key->data))
            substitution = i;
          symbols->data[i] = saved;
        }
    }

  /* Hypothesis 2: two neighbours swapped. */
  for (guint i = 0; i + 1 < COFFER_RECOVERY_KEY_CHARS; i++)
    {
      guint8 *d = symbols->data;

      if (d[i] == d[i + 1])
        continue;
      swap_symbols (d, i);
      if (rs_syndrome (d, 1) == 0 && rs_syndrome (d, 2) == 0 &&
          decode_symbols (d, key->data))
        {
          n_swaps++;
          swap = i;
        }
      swap_symbols (d, i);
    }

  _coffer_typo_error (error, FALSE, substitution, n_swaps, swap);
}

CofferSecret *
coffer_recovery_key_parse (const char  *text,
                           GError     **error)
{
  g_autoptr(CofferSecret) symbols = NULL;
  g_autoptr(CofferSecret) key = NULL;
  guint8 s1, s2;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gf_init ();
  coffer_core_init ();

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_INVALID,
                   _("The recovery key contains characters that are not text."));
      return NULL;
    }

  symbols = recovery_key_symbols (text, error);
  if (symbols == NULL)
    return NULL;

  key = coffer_secret_new (COFFER_RECOVERY_KEY_BYTES);
  s1 = rs_syndrome (symbols->data, 1);
  s2 = rs_syndrome (symbols->data, 2);

  if (s1 == 0 && s2 == 0)
    {
      if (decode_symbols (symbols->data, key->data))
        return g_steal_pointer (&key);
      /* A valid Reed-Solomon word with the wrong hash bits: at least three
       * wrong characters. */
      g_set_error (error, COFFER_CRYPTO_ERROR, COFFER_CRYPTO_ERROR_TYPO,
                   _("The recovery key looks mistyped: several characters seem wrong. Check it against the emergency kit."));
      return NULL;
    }

  recovery_key_typo_error (symbols, key, s1, s2, error);
  return NULL;
}
