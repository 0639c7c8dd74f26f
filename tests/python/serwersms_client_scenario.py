"""Drives resolver-server with the official SerwerSMS Python client (PyPI: serwersmsv2api).

Usage: python serwersms_client_scenario.py BASE_URL TOKEN SUID
BASE_URL ends with '/'. Exits non-zero with a message on the first mismatch; prints
'scenario ok' at the end. Run by tests/tests/python_client.rs against a real server.
"""
import json
import sys

from serwersms import SerwerSMS


def call(result):
    """The client returns the raw response text; every answer must be a JSON object."""
    answer = json.loads(result)
    assert isinstance(answer, dict), result
    return answer


def expect(condition, message):
    if not condition:
        raise SystemExit("scenario failed: " + message)


def main():
    base_url, token, suid = sys.argv[1], sys.argv[2], sys.argv[3]
    api = SerwerSMS(token)
    api.api_url = base_url

    # Groups: add, index, view, edit.
    first = call(api.group.add("Klienci"))
    expect(first.get("success") is True and isinstance(first.get("id"), int), "groups/add: %r" % first)
    second = call(api.group.add("Newsletter"))
    groups = call(api.group.index(None, {}))
    expect([g["name"] for g in groups["items"]] == ["Klienci", "Newsletter"], "groups/index: %r" % groups)
    expect(groups["paging"] == {"page": 1, "count": 1}, "groups/index paging: %r" % groups)
    view = call(api.group.view(first["id"]))
    expect(view == {"id": first["id"], "name": "Klienci", "count": 0}, "groups/view: %r" % view)
    edited = call(api.group.edit(first["id"], "Klienci VIP"))
    expect(edited == {"success": True, "id": first["id"]}, "groups/edit: %r" % edited)
    found = call(api.group.index("vip", {}))
    expect([g["id"] for g in found["items"]] == [first["id"]], "groups/index search: %r" % found)

    # Contacts: phone without +48, with e-mail, group_id as a list, with suid.
    added = call(api.contact.add([first["id"], second["id"]], "500600700",
                                 {"email": "Jan.Kowalski@Example.com", "first_name": "Jan",
                                  "last_name": "Kowalski", "suid": suid}))
    expect(added.get("success") is True and isinstance(added.get("id"), int), "contacts/add: %r" % added)
    plain = call(api.contact.add(first["id"], "+48 600 700 800", {"first_name": "Anna"}))
    expect(plain.get("success") is True, "contacts/add plain: %r" % plain)
    for n in range(3):
        call(api.contact.add(None, "70080090%d" % n, {"last_name": "Bez grupy %d" % n}))

    # Index with paging and search.
    page = call(api.contact.index(None, None, {"limit": 2, "page": 2}))
    expect(page["paging"] == {"page": 2, "count": 3}, "contacts/index paging: %r" % page)
    expect(len(page["items"]) == 2, "contacts/index page size: %r" % page)
    for typed in ["500600700", "48500600700", "+48500600700"]:
        hit = call(api.contact.index(None, typed, {}))
        expect([c["id"] for c in hit["items"]] == [added["id"]], "search %s: %r" % (typed, hit))
    in_group = call(api.contact.index(second["id"], None, {}))
    expect([c["phone"] for c in in_group["items"]] == ["+48500600700"], "contacts/index group: %r" % in_group)
    expect(in_group["items"][0]["group_name"] == "Newsletter", "group_name: %r" % in_group)

    # View and edit.
    contact = call(api.contact.view(added["id"]))
    expect(contact["phone"] == "+48500600700" and contact["email"] == "jan.kowalski@example.com",
           "contacts/view: %r" % contact)
    expect(contact["blacklist"] is False and "group_id" not in contact, "contacts/view fields: %r" % contact)
    changed = call(api.contact.edit(added["id"], first["id"], "500600700", {"city": "Gdańsk"}))
    expect(changed == {"success": True, "id": added["id"]}, "contacts/edit: %r" % changed)
    expect(call(api.contact.view(added["id"]))["city"] == "Gdańsk", "edit stored")

    # groups/check: the contact now belongs to the first group only. The document writes the
    # contact id of this call as a string ("id":"228274991").
    check = call(api.group.check("+48500600700"))
    expect(check == {"items": [{"id": str(added["id"]), "group_id": first["id"], "group_name": "Klienci VIP"}]},
           "groups/check: %r" % check)

    # Import: a new group with exactly the imported contacts.
    report = call(api.contact.imports("Import z pliku", [
        {"phone": "501502503", "first_name": "Piotr"},
        {"phone": "+48 502 503 504", "email": "ola@example.com"},
    ]))
    expect(report.get("success") is True and report["correct"] == 2 and report["failed"] == 0,
           "contacts/import: %r" % report)
    imported = call(api.contact.index(report["id"], None, {}))
    expect(sorted(c["phone"] for c in imported["items"]) == ["+48501502503", "+48502503504"],
           "imported group: %r" % imported)

    # Delete.
    expect(call(api.contact.delete(plain["id"])) == {"success": True}, "contacts/delete")
    gone = call(api.contact.view(plain["id"]))
    expect(gone.get("error", {}).get("code") == 1004, "deleted contact: %r" % gone)
    expect(call(api.group.delete(second["id"])) == {"success": True}, "groups/delete")
    expect(call(api.contact.view(added["id"]))["id"] == added["id"], "contacts stay after groups/delete")

    # error/{code} and a bad token.
    error = call(api.error.view(1000))
    expect(error["error"]["code"] == 1000 and error["error"]["type"] == "InvalidAction", "error/1000: %r" % error)
    bad = SerwerSMS("ssrm_not-a-real-token")
    bad.api_url = base_url
    refused = call(bad.group.index(None, {}))
    expect(refused.get("error", {}).get("code") == 1012, "bad token: %r" % refused)

    print(json.dumps({"linked_contact": added["id"]}))
    print("scenario ok")


if __name__ == "__main__":
    main()
