#!/usr/bin/env python3
"""Users and groups: CRUD, validation, and that nobody can escalate.

Proves: create/read/update/disable/delete of users and groups with their audit rows; names
and passwords are validated; a user manager (users.admin only) cannot add themselves or anyone
to a group holding permissions they lack, cannot add such permissions to a group (their own
included), cannot take over an admin (password reset, disable, delete, revoking their tokens —
their own tokens and those of weaker users they may revoke), cannot change their own groups or
disable/delete themselves; the last admin stays; the built-in groups keep their
names and admins keeps every permission.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Client, Hive, admin, audit_rows, expect, login, make_group, \
    make_user  # noqa: E402

BIN = cplib.binary_from_argv()


def test_user_crud():
    with Hive(BIN) as h:
        a = admin(h)
        r = expect(a.post("/api/v1/users", {"username": "frank", "password": "frank-password"}),
                   201)
        u = r.json
        assert r.header("Location") == "/api/v1/users/%d" % u["id"]
        assert [g["name"] for g in u["groups"]] == ["users"]        # the default group
        assert u["permissions"] == ["jobs.read", "jobs.write"]
        assert "password" not in json.dumps(u) and "hash" not in json.dumps(u)
        expect(a.post("/api/v1/users", {"username": "FRANK", "password": "another-pass"}), 409,
               "exists")
        got = expect(a.get("/api/v1/users/%d" % u["id"]), 200).json
        assert got["username"] == "frank"
        names = [x["username"] for x in expect(a.get("/api/v1/users"), 200).json["items"]]
        assert names == ["admin", "frank"]
        assert len(expect(a.get("/api/v1/users?limit=1"), 200).json["items"]) == 1
        expect(a.get("/api/v1/users?limit=0"), 400, "invalid_parameter")

        g = make_group(a, "auditors", ["audit.read", "logs.read"])
        r = expect(a.patch("/api/v1/users/%d" % u["id"], {"groups": [g["id"], "users"]}), 200)
        assert set(r.json["permissions"]) == {"jobs.read", "jobs.write", "audit.read", "logs.read"}
        f = login(h, "frank", "frank-password")
        expect(f.get("/api/v1/audit"), 200)
        r = expect(a.patch("/api/v1/users/%d" % u["id"], {"password": "frank-password-2"}), 200)
        expect(f.get("/api/v1/auth/me"), 401)           # a reset ends their sessions
        login(h, "frank", "frank-password-2")
        expect(a.delete("/api/v1/users/%d" % u["id"]), 204)
        expect(a.get("/api/v1/users/%d" % u["id"]), 404)
        expect(a.delete("/api/v1/users/%d" % u["id"]), 404)

        actions = [r["action"] for r in audit_rows(h) if r["target"] == "user:frank"]
        assert actions == ["user.create", "user.update", "auth.login", "user.update",
                           "auth.login", "user.delete"], actions
        # no secret in any audit row
        for row in audit_rows(h):
            assert "frank-password" not in row["detail"], row


def test_validation():
    with Hive(BIN) as h:
        a = admin(h)
        for bad in ("", "-lead", "has space", "semi;colon", "x" * 65, "new\nline", "(cn=*)",
                    "../etc"):
            expect(a.post("/api/v1/users", {"username": bad, "password": "long-enough"}), 400)
        expect(a.post("/api/v1/users", {"username": "ok.name@x", "password": "short"}), 400,
               "weak_password")
        expect(a.post("/api/v1/users", {"username": "ok", "password": "long-enough",
                                        "groups": ["no-such-group"]}), 400, "unknown_group")
        expect(a.post("/api/v1/users", {"username": "ok", "password": "long-enough",
                                        "role": "admin"}), 400, "unknown_field")
        expect(a.post("/api/v1/users", {"username": "ok", "password": "long-enough",
                                        "disabled": "yes"}), 400, "invalid_field")
        expect(a.post("/api/v1/users", ["not", "an", "object"]), 400, "invalid_body")
        expect(a.post("/api/v1/groups", {"name": "Bad Name"}), 400)
        expect(a.post("/api/v1/groups", {"name": "x", "permissions": ["root"]}), 400,
               "unknown_permission")
        expect(a.patch("/api/v1/users/1", {}), 400, "missing_field")


def test_group_crud_and_builtins():
    with Hive(BIN) as h:
        a = admin(h)
        groups = {g["name"]: g for g in expect(a.get("/api/v1/groups"), 200).json["items"]}
        assert groups["admins"]["builtin"] and groups["users"]["builtin"]
        assert set(groups["admins"]["permissions"]) == set(
            p["name"] for p in expect(a.get("/api/v1/permissions"), 200).json["items"])
        assert groups["users"]["permissions"] == ["jobs.read", "jobs.write"]

        g = make_group(a, "ops", ["drones.admin"])
        r = expect(a.patch("/api/v1/groups/%d" % g["id"], {"name": "operators",
                                                           "description": "runs probes",
                                                           "permissions": ["drones.admin",
                                                                           "logs.read"]}), 200)
        assert r.json["name"] == "operators" and r.json["permissions"] == ["drones.admin",
                                                                            "logs.read"]
        expect(a.post("/api/v1/groups", {"name": "operators"}), 409, "exists")
        expect(a.get("/api/v1/groups/%d" % g["id"]), 200)
        expect(a.delete("/api/v1/groups/%d" % g["id"]), 204)
        expect(a.get("/api/v1/groups/%d" % g["id"]), 404)

        adm, usr = groups["admins"]["id"], groups["users"]["id"]
        expect(a.patch("/api/v1/groups/%d" % adm, {"name": "root"}), 409, "builtin")
        expect(a.patch("/api/v1/groups/%d" % adm, {"permissions": ["jobs.read"]}), 409, "builtin")
        expect(a.delete("/api/v1/groups/%d" % adm), 409, "builtin")
        expect(a.delete("/api/v1/groups/%d" % usr), 409, "builtin")
        # what researchers may do is the admins' call
        r = expect(a.patch("/api/v1/groups/%d" % usr, {"permissions": ["jobs.read"]}), 200)
        assert r.json["permissions"] == ["jobs.read"]
        actions = [r["action"] for r in audit_rows(h) if r["action"].startswith("group.")]
        assert actions == ["group.create", "group.update", "group.delete", "group.update"], actions


def test_no_escalation():
    with Hive(BIN) as h:
        a = admin(h)
        groups = {g["name"]: g for g in expect(a.get("/api/v1/groups"), 200).json["items"]}
        managers = make_group(a, "managers", ["users.admin"])
        m = make_user(a, "mallory", "mallory-password", groups=["managers"])
        mc = login(h, "mallory", "mallory-password")
        me = m["id"]
        admin_id = 1

        # cannot join admins, nor get a permission through any group
        expect(mc.patch("/api/v1/users/%d" % me, {"groups": ["admins"]}), 403, "escalation")
        expect(mc.patch("/api/v1/users/%d" % me, {"groups": ["managers"]}), 403, "escalation")
        expect(mc.patch("/api/v1/groups/%d" % managers["id"],
                        {"permissions": ["users.admin", "logs.read"]}), 403, "escalation")
        expect(mc.post("/api/v1/groups", {"name": "mine", "permissions": ["audit.read"]}), 403,
               "escalation")
        # ... nor through an accomplice
        acc = make_user(mc, "accomplice", "accomplice-pass", groups=[])
        expect(mc.patch("/api/v1/users/%d" % acc["id"], {"groups": ["admins"]}), 403,
               "escalation")
        expect(mc.post("/api/v1/users", {"username": "sock", "password": "sock-password",
                                         "groups": [groups["admins"]["id"]]}), 403, "escalation")
        # ... nor by taking over someone stronger
        expect(mc.patch("/api/v1/users/%d" % admin_id, {"password": "pwned-password"}), 403,
               "escalation")
        expect(mc.patch("/api/v1/users/%d" % admin_id, {"disabled": True}), 403, "escalation")
        expect(mc.delete("/api/v1/users/%d" % admin_id), 403, "escalation")
        expect(mc.delete("/api/v1/groups/%d" % groups["admins"]["id"]), 409, "builtin")
        ops = make_group(a, "ops", ["drones.admin"])
        expect(mc.delete("/api/v1/groups/%d" % ops["id"]), 403, "escalation")
        expect(mc.patch("/api/v1/groups/%d" % ops["id"], {"permissions": []}), 403, "escalation")
        # what they hold, they may hand on
        g = expect(mc.post("/api/v1/groups", {"name": "helpers", "permissions": ["users.admin"]}),
                   201).json
        expect(mc.patch("/api/v1/users/%d" % acc["id"], {"groups": [g["id"]]}), 200)
        # self: groups, disable, delete
        expect(mc.patch("/api/v1/users/%d" % me, {"groups": []}), 403, "escalation")
        expect(mc.patch("/api/v1/users/%d" % me, {"disabled": True}), 409, "self_lockout")
        expect(mc.delete("/api/v1/users/%d" % me), 409, "self_lockout")
        expect(mc.patch("/api/v1/users/%d" % me, {"password": "mallory-password-2"}), 200)

        # nothing changed for mallory
        perms = expect(mc.get("/api/v1/auth/me"), 200).json["user"]["permissions"]
        assert perms == ["users.admin"], perms
        expect(Client(h).post("/api/v1/auth/login", {"username": "admin",
                                                     "password": h.admin_password}), 200)


def test_token_revocation_follows_the_takeover_rule():
    with Hive(BIN) as h:
        a = admin(h)
        make_group(a, "managers", ["users.admin"])
        make_user(a, "mallory", "mallory-password", groups=["managers"])
        make_user(a, "plain", "plain-password", groups=[])        # holds nothing
        mc = login(h, "mallory", "mallory-password")
        admin_tok = cplib.make_token(a, "admin-script")
        plain_tok = cplib.make_token(login(h, "plain", "plain-password"), "plain-script")
        own_tok = cplib.make_token(mc, "own")

        # a users.admin who is no admin cannot cut an admin off
        r = expect(mc.delete("/api/v1/tokens/%d" % admin_tok["id"]), 403, "escalation")
        assert "users.admin" not in r.json["error"]["message"], r.json    # names what is missing
        assert "audit.read" in r.json["error"]["message"], r.json
        expect(cplib.as_token(h, admin_tok["token"]).get("/api/v1/auth/me"), 200)
        # their own token, and one of a user holding nothing they lack: allowed
        expect(mc.delete("/api/v1/tokens/%d" % own_tok["id"]), 204)
        expect(cplib.as_token(h, own_tok["token"]).get("/api/v1/auth/me"), 401)
        expect(mc.delete("/api/v1/tokens/%d" % plain_tok["id"]), 204)
        expect(cplib.as_token(h, plain_tok["token"]).get("/api/v1/auth/me"), 401)
        # an admin may revoke anyone's
        t2 = cplib.make_token(mc, "second")
        expect(a.delete("/api/v1/tokens/%d" % t2["id"]), 204)
        # the refusal changed nothing and left no revoke row
        revoked = [json.loads(x["detail"])["owner"] for x in audit_rows(h, "token.revoke")]
        assert revoked == ["mallory", "plain", "mallory"], revoked


def test_last_admin():
    with Hive(BIN) as h:
        a = admin(h)
        everything = [p["name"] for p in expect(a.get("/api/v1/permissions"), 200).json["items"]]
        make_group(a, "super", everything)
        make_user(a, "sup", "sup-password", groups=["super"])
        s = login(h, "sup", "sup-password")
        # sup holds every permission, but admin is the last enabled member of admins
        expect(s.patch("/api/v1/users/1", {"disabled": True}), 409, "last_admin")
        expect(s.patch("/api/v1/users/1", {"groups": ["users"]}), 409, "last_admin")
        expect(s.delete("/api/v1/users/1"), 409, "last_admin")
        make_user(a, "second", "second-password", groups=["admins"])
        expect(s.patch("/api/v1/users/1", {"disabled": True}), 200)
        t = login(h, "second", "second-password")
        expect(t.get("/api/v1/users"), 200)
        expect(s.delete("/api/v1/users/1"), 204)
        names = [u["username"] for u in expect(t.get("/api/v1/users"), 200).json["items"]]
        assert names == ["sup", "second"], names


if __name__ == "__main__":
    cplib.run_tests(globals())
