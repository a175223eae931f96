#!/usr/bin/env python3
"""control/openapi.json against the route table, both directions, and against live answers.

Proves: every route `tide-control --list-routes` prints is described with the same method,
path and permission (x-tide-permission), and the file describes no route that does not exist;
every operation declares its path parameters, a success answer and (unless public) 401; every
$ref resolves; and real answers of the running Hive match the documented schemas (a small
validator: type, required, properties, additionalProperties, items, enum, const, allOf, oneOf).
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402
from cplib import Hive, admin, expect, make_token  # noqa: E402

BIN = cplib.binary_from_argv()
HERE = os.path.dirname(os.path.abspath(__file__))
SPEC_PATH = os.path.join(HERE, "..", "..", "control", "hive", "openapi.json")
if "--openapi" in sys.argv:
    i = sys.argv.index("--openapi")
    SPEC_PATH = sys.argv[i + 1]
    del sys.argv[i:i + 2]
METHODS = ("get", "post", "put", "patch", "delete")


def spec():
    with open(SPEC_PATH) as f:
        return json.load(f)


def deref(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def documented(doc):
    out = set()
    for path, ops in doc["paths"].items():
        for m, o in ops.items():
            if m in METHODS:
                out.add((m.upper(), path, o.get("x-tide-permission")))
    return out


def test_routes_match_both_ways():
    doc = spec()
    have = set(cplib.routes(BIN))
    desc = documented(doc)
    missing = sorted(have - desc)
    extra = sorted(desc - have)
    assert not missing, "routes without (or with a different) description: %s" % missing
    assert not extra, "described routes that do not exist: %s" % extra


def test_operations_complete():
    doc = spec()
    assert doc["openapi"].startswith("3.")
    for path, ops in doc["paths"].items():
        params = set(re.findall(r"\{([^}]+)\}", path))
        for m, o in ops.items():
            if m not in METHODS:
                continue
            where = "%s %s" % (m.upper(), path)
            declared = {p["name"] for p in o.get("parameters", []) if p["in"] == "path"}
            assert declared == params, (where, declared, params)
            codes = set(o["responses"])
            assert any(c.startswith("2") for c in codes), where
            if o["x-tide-permission"] != "public":
                assert "401" in codes, where
            else:
                assert o.get("security") == [], where
            if m in ("post", "patch", "put") and "requestBody" in o:
                assert {"400", "413", "415"} <= codes, where
    # every reference resolves
    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                deref(doc, node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)


def check(doc, schema, value, where="$"):
    """Raises AssertionError when value does not match schema."""
    if "$ref" in schema:
        return check(doc, deref(doc, schema["$ref"]), value, where)
    for s in schema.get("allOf", []):
        check(doc, s, value, where)
    if "oneOf" in schema:
        ok = 0
        for s in schema["oneOf"]:
            try:
                check(doc, s, value, where)
                ok += 1
            except AssertionError:
                pass
        assert ok == 1, (where, value)
        return
    if "const" in schema:
        assert value == schema["const"], (where, value)
    if "enum" in schema:
        assert value in schema["enum"], (where, value, schema["enum"])
    types = schema.get("type")
    if types:
        types = types if isinstance(types, list) else [types]
        pytypes = {"object": dict, "array": list, "string": str, "boolean": bool,
                   "null": type(None)}
        good = any((t == "integer" and isinstance(value, int) and not isinstance(value, bool))
                   or (t in pytypes and isinstance(value, pytypes[t])) for t in types)
        assert good, (where, value, types)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            assert k in value, (where, "missing", k)
        for k, v in value.items():
            if k in props:
                check(doc, props[k], v, where + "." + k)
            else:
                assert schema.get("additionalProperties", True) is not False, (where, "extra", k)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            check(doc, schema["items"], v, "%s[%d]" % (where, i))


def response_schema(doc, method, path, status):
    r = doc["paths"][path][method]["responses"][str(status)]
    r = deref(doc, r["$ref"]) if "$ref" in r else r
    return r["content"]["application/json"]["schema"]


def test_live_answers_match():
    doc = spec()
    with Hive(BIN) as h:
        anon = cplib.Client(h)
        r = expect(anon.post("/api/v1/auth/login", {"username": "admin",
                                                    "password": h.admin_password}), 200)
        check(doc, response_schema(doc, "post", "/api/v1/auth/login", 200), r.json)
        a = admin(h)
        t = expect(a.post("/api/v1/tokens", {"name": "t", "expires_in": 3600}), 201)
        check(doc, response_schema(doc, "post", "/api/v1/tokens", 201), t.json)
        b = cplib.as_token(h, t.json["token"])
        for path in ("/api/v1/health", "/api/v1/permissions", "/api/v1/audit", "/api/v1/auth/me",
                     "/api/v1/tokens", "/api/v1/users", "/api/v1/groups", "/api/v1/users/{id}",
                     "/api/v1/groups/{id}", "/api/v1/meta/tuning"):
            for client in (a, b):
                r = expect(client.get(cplib.concrete(path)), 200)
                check(doc, response_schema(doc, "get", path, 200), r.json)
        g = expect(a.post("/api/v1/groups", {"name": "g", "permissions": ["logs.read"]}), 201)
        check(doc, response_schema(doc, "post", "/api/v1/groups", 201), g.json)
        u = expect(a.post("/api/v1/users", {"username": "u1", "password": "password-1"}), 201)
        check(doc, response_schema(doc, "post", "/api/v1/users", 201), u.json)
        err = expect(a.get("/api/v1/users/424242"), 404)
        check(doc, deref(doc, "#/components/schemas/Error"), err.json)
        make_token(a)


if __name__ == "__main__":
    cplib.run_tests(globals())
