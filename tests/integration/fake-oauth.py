#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake OAuth 2 authorization server on 127.0.0.1 for the sign-in tests.

The only fake in Coffer's tests: Google's, Microsoft's and Dropbox's servers
cannot be reached from the test machines. rclone takes the addresses through
RCLONE_<BACKEND>_AUTH_URL / _TOKEN_URL, so `rclone authorize` talks to this
server exactly as it would to the provider:

  GET  /auth?redirect_uri=…&state=…   -> 302 redirect_uri?code=…&state=…
                                         (the user "signed in" at once)
  POST /token grant_type=authorization_code (the code from /auth)
                                      -> a token; access and refresh tokens
                                         are random and unique per run
  POST /token grant_type=refresh_token
                                      -> a new token, or with --revoked
                                         400 {"error": "invalid_grant"}

Usage: fake-oauth.py [--expires-in SECONDS] [--revoked] PORTFILE
Writes its port to PORTFILE (and a line on stdout) once it listens, and the tokens it issued to
PORTFILE.tokens (one per line) for the test to look for; serves until killed.
"""
import argparse
import http.server
import json
import secrets
import sys
import urllib.parse

args = None
codes = set()


def issue_token():
    token = {
        "access_token": "fake-access-" + secrets.token_hex(16),
        "refresh_token": "fake-refresh-" + secrets.token_hex(16),
        "token_type": "Bearer",
        "expires_in": args.expires_in,
    }
    with open(args.portfile + ".tokens", "a") as f:
        f.write(token["access_token"] + "\n" + token["refresh_token"] + "\n")
    return token


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        sys.stderr.write("fake-oauth: " + (fmt % a) + "\n")

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path != "/auth" or "redirect_uri" not in q or "state" not in q:
            self.reply(404, {"error": "not_found"})
            return
        code = "fake-code-" + secrets.token_hex(8)
        codes.add(code)
        target = q["redirect_uri"][0] + "?" + urllib.parse.urlencode(
            {"state": q["state"][0], "code": code})
        self.reply(302, None, [("Location", target)])

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        grant = form.get("grant_type", [""])[0]
        if self.path != "/token":
            self.reply(404, {"error": "not_found"})
        elif grant == "authorization_code" and form.get("code", [""])[0] in codes:
            codes.discard(form["code"][0])
            self.reply(200, issue_token())
        elif grant == "refresh_token" and not args.revoked:
            self.reply(200, issue_token())
        else:
            self.reply(400, {"error": "invalid_grant",
                             "error_description": "Token has been expired or revoked."})


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--revoked", action="store_true")
    p.add_argument("portfile")
    args = p.parse_args()
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    with open(args.portfile + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(args.portfile + ".tmp", args.portfile)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
