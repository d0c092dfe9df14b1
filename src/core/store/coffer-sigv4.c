/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "coffer-sigv4.h"

#include <nettle/sha2.h>
#include <sodium.h>
#include <string.h>

/* Every byte uploaded to S3 is hashed here (x-amz-content-sha256), so this
 * is on the upload path: nettle uses the CPU's SHA instructions or
 * assembler (about 1 GB/s with SHA-NI), libsodium's portable C about
 * 150 MB/s, which made S3 backups CPU-bound on small machines. */
char *
coffer_sigv4_sha256_hex (const void *data, gsize len)
{
  struct sha256_ctx ctx;
  guint8 digest[SHA256_DIGEST_SIZE];
  char hex[SHA256_DIGEST_SIZE * 2 + 1];

  sha256_init (&ctx);
  sha256_update (&ctx, len, data);
  sha256_digest (&ctx, sizeof digest, digest);
  sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
  return g_strdup (hex);
}

char *
coffer_sigv4_uri_encode (const char *s, gboolean keep_slash)
{
  GString *out = g_string_sized_new (strlen (s) + 16);

  for (const guchar *p = (const guchar *) s; *p; p++)
    {
      if (g_ascii_isalnum (*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~'
          || (keep_slash && *p == '/'))
        g_string_append_c (out, *p);
      else
        g_string_append_printf (out, "%%%02X", *p);
    }
  return g_string_free (out, FALSE);
}

typedef struct
{
  char *name;
  char *value;
} Pair;

static int
compare_pairs (gconstpointer a, gconstpointer b)
{
  const Pair *pa = a, *pb = b;
  int c = strcmp (pa->name, pb->name);
  return c != 0 ? c : strcmp (pa->value, pb->value);
}

static void
clear_pair (gpointer p)
{
  Pair *pair = p;
  g_free (pair->name);
  g_free (pair->value);
}

static char *
decode_component (const char *s, gssize len)
{
  g_autofree char *copy = len < 0 ? g_strdup (s) : g_strndup (s, len);
  char *decoded = g_uri_unescape_string (copy, NULL);
  /* Malformed escapes: sign the text as it is. */
  return decoded ? decoded : g_steal_pointer (&copy);
}

char *
coffer_sigv4_canonical_query (const char *query)
{
  g_autoptr(GArray) pairs = g_array_new (FALSE, TRUE, sizeof (Pair));
  g_auto(GStrv) parts = NULL;
  GString *out = g_string_new (NULL);

  g_array_set_clear_func (pairs, clear_pair);
  if (query == NULL || query[0] == '\0')
    return g_string_free (out, FALSE);

  parts = g_strsplit (query, "&", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *eq = strchr (parts[i], '=');
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;
      Pair pair;

      if (parts[i][0] == '\0')
        continue;
      name = decode_component (parts[i], eq ? eq - parts[i] : -1);
      value = eq ? decode_component (eq + 1, -1) : g_strdup ("");
      pair.name = coffer_sigv4_uri_encode (name, FALSE);
      pair.value = coffer_sigv4_uri_encode (value, FALSE);
      g_array_append_val (pairs, pair);
    }
  g_array_sort (pairs, compare_pairs);
  for (guint i = 0; i < pairs->len; i++)
    {
      Pair *pair = &g_array_index (pairs, Pair, i);
      if (i > 0)
        g_string_append_c (out, '&');
      g_string_append_printf (out, "%s=%s", pair->name, pair->value);
    }
  return g_string_free (out, FALSE);
}

static char *
canonical_header_value (const char *value)
{
  GString *out = g_string_new (NULL);
  gboolean space = FALSE;

  for (const char *p = value; *p; p++)
    {
      if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        {
          space = TRUE;
          continue;
        }
      if (space && out->len > 0)
        g_string_append_c (out, ' ');
      space = FALSE;
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Pair *) a)->name, ((const Pair *) b)->name);
}

char *
coffer_sigv4_canonical_request (const char *method, const char *path, const char *query,
                                const CofferSigv4Header *headers, guint n_headers,
                                const char *payload_hash, char **signed_headers)
{
  g_autoptr(GArray) hs = g_array_new (FALSE, TRUE, sizeof (Pair));
  g_autofree char *cpath = coffer_sigv4_uri_encode (path[0] ? path : "/", TRUE);
  g_autofree char *cquery = coffer_sigv4_canonical_query (query);
  GString *out = g_string_new (NULL);
  GString *names = g_string_new (NULL);

  g_array_set_clear_func (hs, clear_pair);
  for (guint i = 0; i < n_headers; i++)
    {
      Pair pair = { g_ascii_strdown (headers[i].name, -1),
                    canonical_header_value (headers[i].value) };
      g_array_append_val (hs, pair);
    }
  /* Stable sort keeps the order of repeated headers, which are joined. */
  g_array_sort (hs, compare_names);

  g_string_append_printf (out, "%s\n%s\n%s\n", method, cpath, cquery);
  for (guint i = 0; i < hs->len; i++)
    {
      Pair *pair = &g_array_index (hs, Pair, i);
      if (i > 0 && g_str_equal (pair->name, g_array_index (hs, Pair, i - 1).name))
        {
          g_string_append_printf (out, ",%s", pair->value);
          continue;
        }
      if (i > 0)
        {
          g_string_append_c (out, '\n');
          g_string_append_c (names, ';');
        }
      g_string_append_printf (out, "%s:%s", pair->name, pair->value);
      g_string_append (names, pair->name);
    }
  g_string_append_printf (out, "\n\n%s\n%s", names->str, payload_hash);
  if (signed_headers)
    *signed_headers = g_string_free (names, FALSE);
  else
    g_string_free (names, TRUE);
  return g_string_free (out, FALSE);
}

char *
coffer_sigv4_string_to_sign (const char *amz_date, const char *scope,
                             const char *canonical_request)
{
  g_autofree char *hash = coffer_sigv4_sha256_hex (canonical_request, strlen (canonical_request));
  return g_strdup_printf ("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hash);
}

static void
hmac (guint8 out[crypto_auth_hmacsha256_BYTES], const guint8 *key, gsize key_len,
      const char *msg)
{
  crypto_auth_hmacsha256_state st;

  crypto_auth_hmacsha256_init (&st, key, key_len);
  crypto_auth_hmacsha256_update (&st, (const guint8 *) msg, strlen (msg));
  crypto_auth_hmacsha256_final (&st, out);
  sodium_memzero (&st, sizeof st);
}

CofferSecret *
coffer_sigv4_signing_key (const CofferSecret *secret_key, const char *date, const char *region,
                          const char *service)
{
  g_autoptr(CofferSecret) k0 = coffer_secret_new (4 + secret_key->len);
  g_autoptr(CofferSecret) a = coffer_secret_new (crypto_auth_hmacsha256_BYTES);
  CofferSecret *b = coffer_secret_new (crypto_auth_hmacsha256_BYTES);

  memcpy (k0->data, "AWS4", 4);
  memcpy (k0->data + 4, secret_key->data, secret_key->len);
  hmac (a->data, k0->data, k0->len, date);
  hmac (b->data, a->data, a->len, region);
  hmac (a->data, b->data, b->len, service);
  hmac (b->data, a->data, a->len, "aws4_request");
  return b;
}

char *
coffer_sigv4_signature (const CofferSecret *signing_key, const char *string_to_sign)
{
  guint8 mac[crypto_auth_hmacsha256_BYTES];
  char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];

  hmac (mac, signing_key->data, signing_key->len, string_to_sign);
  sodium_bin2hex (hex, sizeof hex, mac, sizeof mac);
  return g_strdup (hex);
}

char *
coffer_sigv4_authorization (const char *access_key_id, const CofferSecret *secret_key,
                            const char *region, const char *service, const char *amz_date,
                            const char *method, const char *path, const char *query,
                            const CofferSigv4Header *headers, guint n_headers,
                            const char *payload_hash)
{
  g_autofree char *date = g_strndup (amz_date, 8);
  g_autofree char *scope = g_strdup_printf ("%s/%s/%s/aws4_request", date, region, service);
  g_autofree char *signed_headers = NULL;
  g_autofree char *creq = coffer_sigv4_canonical_request (method, path, query, headers,
                                                          n_headers, payload_hash,
                                                          &signed_headers);
  g_autofree char *sts = coffer_sigv4_string_to_sign (amz_date, scope, creq);
  g_autoptr(CofferSecret) key = coffer_sigv4_signing_key (secret_key, date, region, service);
  g_autofree char *sig = coffer_sigv4_signature (key, sts);

  return g_strdup_printf ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                          access_key_id, scope, signed_headers, sig);
}
