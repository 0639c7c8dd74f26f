#!/usr/bin/env python3
"""Links COUNT known visitors to the contacts scripts/load/import.py made: visitor k (suid
00000000-0000-4000-8000-00000000000k) calls trackUser with contact k's e-mail, from its own
client address (X-Forwarded-For; the resolver runs with --behind-proxy).

Usage: link_visitors.py BASE_URL SITE_KEY ORIGIN COUNT. Standard library only."""
import http.client
import json
import sys
import urllib.parse


def main():
    base, site, origin, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    for k in range(count):
        body = json.dumps(
            {
                "site": site,
                "suid": "00000000-0000-4000-8000-%012x" % k,
                "value": "klient.%d@example.com" % k,
            }
        )
        headers = {
            "Origin": origin,
            "Content-Type": "text/plain",
            "X-Forwarded-For": "10.%d.%d.%d" % (k >> 16 & 255, k >> 8 & 255, k & 255),
        }
        connection.request("POST", "/t/identify", body, headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 200 or not answer.get("success"):
            sys.exit("trackUser of visitor %d failed: %s %s" % (k, response.status, answer))


if __name__ == "__main__":
    main()
