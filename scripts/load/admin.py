#!/usr/bin/env python3
"""Times the admin pages one request at a time (an operator's browser, idle server): signs in
through the login form, then asks N random pages of /contacts, /search?q= by name and by
e-mail, and /contacts?q= by company, and prints one line per page: name, requests, p50, p99
(ms). A page that does not answer 200 stops the script.

Usage: admin.py BASE_URL LOGIN PASSWORD CONTACTS [N]  (contacts as scripts/load/import.py
made them). Standard library only."""
import http.cookiejar
import random
import re
import sys
import time
import urllib.parse
import urllib.request


def main():
    base, login, password, contacts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(base + "/login").read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    if not csrf:
        sys.exit("admin: no CSRF field on the login page")
    body = urllib.parse.urlencode(
        {"csrf": csrf.group(1), "username": login, "password": password}).encode()
    signed_in = opener.open(base + "/login", body)
    if "/login" in signed_in.geturl():
        sys.exit("admin: login refused")
    pages = max(1, contacts // 50)
    rows = [
        ("admin /contacts?page=N (50 of %d pages)" % pages,
         lambda: "/contacts?page=%d" % random.randint(1, pages)),
        ("admin /search?q= last name",
         lambda: "/search?q=" + urllib.parse.quote("Kowalski %d" % random.randrange(contacts))),
        ("admin /search?q= e-mail",
         lambda: "/search?q=" + urllib.parse.quote("klient.%d@" % random.randrange(contacts))),
        ("admin /search?phone= caller number",
         lambda: "/search?phone=%d" % (500000000 + random.randrange(contacts))),
    ]
    for name, path in rows:
        took = []
        for _ in range(count):
            started = time.monotonic()
            answer = opener.open(base + path())
            answer.read()
            took.append((time.monotonic() - started) * 1000)
            if answer.status != 200 or "/login" in answer.geturl():
                sys.exit("admin: %s answered %s" % (name, answer.status))
        took.sort()
        p50 = took[len(took) // 2]
        p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
        print("%s\t%d\t%.1f\t%.1f" % (name, count, p50, p99))


if __name__ == "__main__":
    main()
