#!/usr/bin/env python3
"""Loads N contacts into a running resolver through SerwerSMS `contacts/import`, 5,000 per call,
one call at a time, and prints the seconds it took and the first contact id.

Usage: import.py BASE_URL TOKEN COUNT  (contact k: phone 5xxxxxxxx = 500000000 + k,
e-mail klient.k@example.com). Standard library only."""
import http.client
import json
import sys
import time
import urllib.parse

PER_CALL = 5000


def main():
    base, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    started = time.monotonic()
    first_group = None
    for start in range(0, count, PER_CALL):
        items = [
            {
                "phone": str(500000000 + k),
                "email": "klient.%d@example.com" % k,
                "first_name": "Jan",
                "last_name": "Kowalski %d" % k,
            }
            for k in range(start, min(count, start + PER_CALL))
        ]
        body = json.dumps({"group_name": "import %d" % start, "contact": items})
        connection.request("POST", "/contacts/import.json", body, headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 200 or not answer.get("success") or answer.get("failed"):
            sys.exit("import failed at %d: %s %s" % (start, response.status, answer))
        if first_group is None:
            first_group = answer["id"]
    elapsed = time.monotonic() - started
    print("%.1f %d" % (elapsed, first_group))


if __name__ == "__main__":
    main()
