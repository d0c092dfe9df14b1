/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A small pattern-based password scorer in the spirit of zxcvbn: a password
 * is only as strong as the cheapest way an attacker could build it.
 *
 * The rule: the password is split into pieces, each piece costs a number of
 * guesses, and the estimate is the cheapest split:
 *
 *   guesses = n! × Π guesses(piece) + 10000^(n−1)     (n pieces)
 *
 * (n! because the attacker does not know the order of the kinds of pieces;
 * the second term keeps splitting into many tiny pieces from looking cheap.)
 * A piece is one of:
 *   - a dictionary word: a common password or word, compared in lower case
 *     with leet substitutions undone (0→o, 1→i/l, 3→e, 4→a, 5→s, 7→t, @→a,
 *     $→s, !→i, +→t) and also reversed. Costs its rank in the list, ×2 per
 *     substituted character kind, ×2 for a capital first letter (more for
 *     other capitals), ×2 when reversed;
 *   - a keyboard walk of 3+ neighbouring keys (qwerty/qwertz rows, the
 *     number row, the keypad): 100 × length²;
 *   - a sequence of 3+ characters with a constant step of ±1 or ±2 ("abc",
 *     "9753"): 26 × length;
 *   - a year 1900–2099: 200;
 *   - a repeat: one character 3+ times, or a block repeated ("abcabc"):
 *     the block's own cost × the number of repeats;
 *   - anything else, character by character: 10 for a digit, 26 for a
 *     letter, 33 for anything else (a brute-force search of that class).
 * bits = log2 (guesses). "Tr0ub4dor&3" is a listed word with two leet
 * substitutions and a capital plus two characters, about 2^28 guesses:
 * very weak, however many character classes it uses. A passphrase of four
 * unusual words separated by spaces stays strong. Passwords over 128
 * characters are scored on their first 128 (and are strong anyway). */
#define G_LOG_DOMAIN "coffer-password"

#include <math.h>
#include <string.h>
#include <glib/gi18n.h>

#include "coffer-password-strength.h"

#define MAX_LEN 128

/* Most used first: the rank is the number of guesses. Common leaked
 * passwords, then frequent words and names seen in leaked-password lists. */
static const char * const words[] = {
  "123456", "password", "12345678", "qwerty", "123456789", "12345", "1234", "111111", "1234567",
  "dragon", "123123", "baseball", "abc123", "football", "monkey", "letmein", "696969", "shadow",
  "master", "666666", "qwertyuiop", "123321", "mustang", "1234567890", "michael", "654321", "superman",
  "1qaz2wsx", "7777777", "121212", "000000", "qazwsx", "123qwe", "killer", "trustno1", "jordan",
  "jennifer", "zxcvbnm", "asdfgh", "hunter", "buster", "soccer", "harley", "batman", "andrew", "tigger",
  "sunshine", "iloveyou", "fuckyou", "2000", "charlie", "robert", "thomas", "hockey", "ranger",
  "daniel", "starwars", "klaster", "112233", "george", "computer", "michelle", "jessica", "pepper",
  "1111", "zxcvbn", "555555", "11111111", "131313", "freedom", "777777", "pass", "maggie", "159753",
  "aaaaaa", "ginger", "princess", "joshua", "cheese", "amanda", "summer", "love", "ashley", "nicole",
  "chelsea", "biteme", "matthew", "access", "yankees", "987654321", "dallas", "austin", "thunder",
  "taylor", "matrix", "admin", "welcome", "passwort", "hallo", "schatz", "azerty", "secret", "login",
  "coffer", "backup", "troubador", "troubadour", "correcthorsebatterystaple", "dolphin", "flower",
  "hello", "orange", "banana", "cookie", "silver", "golden", "summer", "winter", "spring", "autumn",
  "purple", "yellow", "green", "black", "white", "red", "blue", "heaven", "angel", "lucky", "happy",
  "music", "money", "family", "friend", "friends", "forever", "house", "horse", "apple", "tiger",
  "lion", "bear", "eagle", "falcon", "wolf", "snake", "rabbit", "kitten", "puppy", "doggy", "cat",
  "dog", "fish", "bird", "baby", "girl", "boy", "man", "woman", "king", "queen", "prince", "knight",
  "wizard", "magic", "power", "energy", "water", "fire", "earth", "wind", "storm", "rain", "snow",
  "sun", "moon", "star", "stars", "sky", "ocean", "river", "mountain", "forest", "garden", "rose",
  "lily", "daisy", "sweet", "sugar", "honey", "candy", "chocolate", "coffee", "pizza", "beer",
  "whiskey", "vodka", "party", "game", "games", "player", "gamer", "soccer", "tennis", "golf",
  "hockey", "racing", "ferrari", "porsche", "mercedes", "bmw", "corvette", "mustang", "camaro",
  "harley", "yamaha", "honda", "toyota", "nissan", "ford", "chevy", "jesus", "christ", "god", "lord",
  "church", "faith", "hope", "peace", "trust", "truth", "freedom", "liberty", "america", "germany",
  "deutschland", "berlin", "london", "paris", "france", "england", "canada", "mexico", "china",
  "japan", "russia", "india", "brazil", "italia", "spain", "europe", "world", "nature", "school",
  "college", "student", "teacher", "doctor", "nurse", "office", "work", "business", "company",
  "internet", "google", "yahoo", "facebook", "twitter", "apple", "microsoft", "windows", "linux",
  "ubuntu", "debian", "gnome", "system", "server", "network", "secure", "security", "private",
  "public", "change", "changeme", "default", "guest", "user", "root", "test", "testing", "demo",
  "sample", "example", "temp", "temporary", "mypass", "mypassword", "passw0rd", "p4ssw0rd",
  "qwert", "asdf", "asdfghjkl", "zxcv", "abcdef", "abcd", "abc", "xyz", "iloveu", "loveme",
  "lovely", "sexy", "hottie", "babygirl", "princess", "angel1", "sunflower", "butterfly",
  "rainbow", "unicorn", "dragonfly", "phoenix", "shadow", "ghost", "ninja", "samurai", "pirate",
  "viking", "spartan", "warrior", "soldier", "hunter", "sniper", "killer", "legend", "hero",
  "champion", "winner", "victory", "success", "diamond", "crystal", "pearl", "ruby", "emerald",
  "marine", "navy", "army", "captain", "general", "major", "maverick", "rocket", "galaxy",
  "universe", "planet", "cosmos", "orion", "apollo", "zeus", "athena", "thor", "odin", "loki",
  "merlin", "gandalf", "frodo", "hobbit", "matrix", "neo", "trinity", "batman", "joker", "spider",
  "spiderman", "ironman", "hulk", "superman", "pokemon", "pikachu", "mario", "zelda", "sonic",
  "minecraft", "fortnite", "anna", "maria", "michael", "thomas", "andreas", "stefan", "peter",
  "alex", "alexander", "david", "john", "james", "william", "richard", "joseph", "charles",
  "christopher", "daniel", "paul", "mark", "steven", "kevin", "brian", "george", "edward", "sarah",
  "laura", "lisa", "julia", "emma", "olivia", "sophia", "isabella", "mia", "charlotte", "amelia",
  "hannah", "lena", "lea", "marie", "sophie", "monika", "sabine", "susanne", "claudia", "petra",
  "alice", "bob", "eve", "mallory", "oscar", "victor", "charlie", "delta", "echo", "foxtrot",
  "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "papa", "quebec", "romeo",
  "sierra", "tango", "uniform", "whiskey", "xray", "yankee", "zulu", "january", "february",
  "march", "april", "may", "june", "july", "august", "september", "october", "december", "monday",
  "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "one", "two", "three",
  "four", "five", "six", "seven", "eight", "nine", "ten", "hundred", "thousand", "million",
  "correct", "battery", "staple", "please", "thanks", "thankyou", "sorry", "yes", "no", "ok",
  "okay", "good", "bad", "best", "better", "great", "super", "cool", "nice", "fun", "funny", "crazy",
  "smile", "kiss", "heart", "sweetheart", "darling", "honey", "babe", "dream", "dreams", "dreamer",
  NULL
};

/* Keyboard rows, for walks: neighbours in the same row or the row below. */
static const char * const rows[] = {
  "`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
  "^1234567890ß´", "qwertzuiopü+", "asdfghjklöä#", "<yxcvbnm,.-",
  "789", "456", "123", "0", NULL
};

static GHashTable *
word_ranks (void)
{
  static GHashTable *ranks;

  if (g_once_init_enter (&ranks))
    {
      GHashTable *table = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; words[i] != NULL; i++)
        if (!g_hash_table_contains (table, words[i]))
          g_hash_table_insert (table, (gpointer) words[i], GUINT_TO_POINTER (i + 1));
      g_once_init_leave (&ranks, table);
    }
  return ranks;
}

static char
unleet (char c)
{
  switch (c)
    {
    case '0': return 'o';
    case '1': return 'i';
    case '3': return 'e';
    case '4': return 'a';
    case '5': return 's';
    case '7': return 't';
    case '@': return 'a';
    case '$': return 's';
    case '!': return 'i';
    case '+': return 't';
    case '|': return 'l';
    default: return c;
    }
}

/* Guesses for s[i..j) as a dictionary word, or 0. */
static double
dictionary_guesses (const char *s, int i, int j)
{
  GHashTable *ranks = word_ranks ();
  char plain[MAX_LEN + 1], leet[MAX_LEN + 1], alt[MAX_LEN + 1], reversed[MAX_LEN + 1];
  int n = j - i, upper = 0, subs_kinds = 0;
  gboolean first_upper = g_ascii_isupper (s[i]);
  gboolean seen[128] = { 0 };
  double best = 0;
  const char *candidates[4];

  for (int k = 0; k < n; k++)
    {
      char c = s[i + k];
      char low = g_ascii_tolower (c);
      if (g_ascii_isupper (c))
        upper++;
      plain[k] = low;
      leet[k] = unleet (low);
      alt[k] = low == '1' ? 'l' : leet[k];
      if (leet[k] != low && !seen[(guchar) low])
        {
          seen[(guchar) low] = TRUE;
          subs_kinds++;
        }
      reversed[n - 1 - k] = low;
    }
  plain[n] = leet[n] = alt[n] = reversed[n] = '\0';
  candidates[0] = plain;
  candidates[1] = leet;
  candidates[2] = alt;
  candidates[3] = reversed;
  for (guint c = 0; c < G_N_ELEMENTS (candidates); c++)
    {
      guint rank = GPOINTER_TO_UINT (g_hash_table_lookup (ranks, candidates[c]));
      double guesses;

      if (rank == 0)
        continue;
      guesses = rank;
      if (c == 1 || c == 2)
        guesses *= pow (2, MAX (subs_kinds, 1));
      if (c == 3)
        guesses *= 2;
      if (upper == n && n > 1)
        guesses *= 2;
      else if (upper == 1 && first_upper)
        guesses *= 2;
      else if (upper > 0)
        guesses *= pow (2, MIN (upper, 8)) * 2;
      if (best == 0 || guesses < best)
        best = guesses;
    }
  return best;
}

static gboolean
adjacent_keys (char a, char b)
{
  a = g_ascii_tolower (a);
  b = g_ascii_tolower (b);
  for (guint r = 0; rows[r] != NULL; r++)
    {
      const char *pa = strchr (rows[r], a);
      if (pa == NULL || a == '\0')
        continue;
      if ((pa > rows[r] && pa[-1] == b) || pa[1] == b)
        return TRUE;
      /* the key below-left and below-right in the next row of the layout */
      if (rows[r + 1] != NULL && r % 4 != 3 && r < 8)
        {
          gsize col = pa - rows[r];
          const char *next = rows[r + 1];
          gsize len = strlen (next);
          if ((col < len && next[col] == b) || (col > 0 && col - 1 < len && next[col - 1] == b))
            return TRUE;
        }
      if (r > 0 && r % 4 != 0 && r < 8)
        {
          gsize col = pa - rows[r];
          const char *prev = rows[r - 1];
          gsize len = strlen (prev);
          if ((col < len && prev[col] == b) || (col + 1 < len && prev[col + 1] == b))
            return TRUE;
        }
    }
  return FALSE;
}

static double
pattern_guesses (const char *s, int i, int j)
{
  int n = j - i;
  gboolean walk = n >= 3, sequence = n >= 3;
  int step = n >= 2 ? (int) s[i + 1] - (int) s[i] : 0;
  double best = 0;

#define TAKE(g) G_STMT_START { double g_ = (g); if (best == 0 || g_ < best) best = g_; } G_STMT_END

  for (int k = i + 1; k < j; k++)
    {
      if (!adjacent_keys (s[k - 1], s[k]))
        walk = FALSE;
      if ((int) s[k] - (int) s[k - 1] != step || step == 0 || ABS (step) > 2)
        sequence = FALSE;
    }
  if (walk)
    TAKE (100.0 * n * n);
  if (sequence && (g_ascii_isalnum (s[i])))
    TAKE (26.0 * n);
  if (n == 4 && g_ascii_isdigit (s[i]) && g_ascii_isdigit (s[i + 1]) && g_ascii_isdigit (s[i + 2]) &&
      g_ascii_isdigit (s[i + 3]) && ((s[i] == '1' && s[i + 1] == '9') || (s[i] == '2' && s[i + 1] == '0')))
    TAKE (200);
  /* Repeats: a block of length b repeated n / b times. */
  for (int b = 1; b <= n / 2; b++)
    {
      gboolean repeat = n % b == 0 && (b > 1 || n >= 3);
      for (int k = i + b; repeat && k < j; k++)
        if (s[k] != s[k - b])
          repeat = FALSE;
      if (repeat)
        {
          double block = b == 1 ? (g_ascii_isdigit (s[i]) ? 10 : g_ascii_isalpha (s[i]) ? 26 : 33)
                                : MAX (pattern_guesses (s, i, i + b), 0);
          double word = b > 1 ? dictionary_guesses (s, i, i + b) : 0;
          if (block == 0)
            {
              block = 1;
              for (int k = i; k < i + b; k++)
                block *= g_ascii_isdigit (s[k]) ? 10 : g_ascii_isalpha (s[k]) ? 26 : 33;
            }
          if (word > 0 && word < block)
            block = word;
          TAKE (block * (n / b));
          break;
        }
    }
#undef TAKE
  return best;
}

static double
char_guesses (char c)
{
  return g_ascii_isdigit (c) ? 10 : g_ascii_isalpha (c) ? 26 : 33;
}

static double
log2_factorial (int n)
{
  return lgamma (n + 1.0) / log (2.0);
}

/* log2 of the guesses needed for the whole string; s is ASCII here
 * (non-ASCII bytes count as "anything else", byte by byte). */
static double
estimate_bits (const char *s, int len)
{
  /* best[j][l]: the least log2 Π guesses for s[0..j) in l pieces. */
  double best[MAX_LEN + 1][MAX_LEN + 1];
  double result = HUGE_VAL;

  for (int j = 0; j <= len; j++)
    for (int l = 0; l <= len; l++)
      best[j][l] = HUGE_VAL;
  best[0][0] = 0;
  for (int j = 1; j <= len; j++)
    for (int i = 0; i < j; i++)
      {
        double g = dictionary_guesses (s, i, j);
        double p = pattern_guesses (s, i, j);
        double brute = 0;
        double piece;

        for (int k = i; k < j; k++)
          brute += log2 (char_guesses (s[k]));
        piece = brute;
        if (g > 0)
          piece = MIN (piece, log2 (g));
        if (p > 0)
          piece = MIN (piece, log2 (p));
        for (int l = 0; l < j; l++)
          if (best[i][l] < HUGE_VAL && best[i][l] + piece < best[j][l + 1])
            best[j][l + 1] = best[i][l] + piece;
      }
  for (int l = 1; l <= len; l++)
    if (best[len][l] < HUGE_VAL)
      {
        /* log2 (l! × Π + 10000^(l−1)) */
        double a = log2_factorial (l) + best[len][l];
        double b = (l - 1) * log2 (10000.0);
        double total = MAX (a, b) + log2 (1 + exp2 (MIN (a, b) - MAX (a, b)));
        result = MIN (result, total);
      }
  return len == 0 ? 0 : result;
}

double
coffer_password_strength (const char *password, const char **out_label)
{
  char ascii[MAX_LEN + 1];
  int len = 0;
  double bits;

  if (password == NULL)
    password = "";
  /* Non-ASCII characters become one byte each of "anything else". */
  for (const char *p = password; *p && len < MAX_LEN; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      ascii[len++] = c < 128 ? (char) c : '\x7f';
    }
  ascii[len] = '\0';
  bits = estimate_bits (ascii, len);

  if (out_label != NULL)
    {
      if (len == 0)
        *out_label = _("Enter a password");
      else if (bits < 35)
        *out_label = _("Very weak: easy to guess");
      else if (bits < COFFER_PASSWORD_MIN_BITS)
        *out_label = _("Weak: add more words or characters");
      else if (bits < COFFER_PASSWORD_GOOD_BITS)
        *out_label = _("Fair");
      else if (bits < 90)
        *out_label = _("Strong");
      else
        *out_label = _("Very strong");
    }
  return bits;
}

void
coffer_password_meter_init (GtkLevelBar *bar)
{
  gtk_level_bar_set_min_value (bar, 0);
  gtk_level_bar_set_max_value (bar, 4);
  /* Named offsets become style classes of the filled block (style.css):
   * red up to "very weak", orange up to "weak". */
  gtk_level_bar_remove_offset_value (bar, GTK_LEVEL_BAR_OFFSET_LOW);
  gtk_level_bar_remove_offset_value (bar, GTK_LEVEL_BAR_OFFSET_HIGH);
  gtk_level_bar_remove_offset_value (bar, GTK_LEVEL_BAR_OFFSET_FULL);
  gtk_level_bar_add_offset_value (bar, "strength-very-weak", 1);
  gtk_level_bar_add_offset_value (bar, "strength-weak", 1.5);
  gtk_level_bar_add_offset_value (bar, "strength-fair", 2.5);
  gtk_level_bar_add_offset_value (bar, "strength-strong", 4);
}

double
coffer_password_meter_update (GtkLevelBar *bar, GtkLabel *label, const char *password)
{
  const char *text = NULL;
  double bits = coffer_password_strength (password, &text);

  gtk_level_bar_set_value (bar, bits <= 0 ? 0 : bits < 35 ? 1 : bits < COFFER_PASSWORD_MIN_BITS ? 1.5
                                : bits < COFFER_PASSWORD_GOOD_BITS ? 2.5 : bits < 90 ? 3 : 4);
  if (label != NULL)
    gtk_label_set_text (label, text);
  return bits;
}
