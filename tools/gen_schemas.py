#!/usr/bin/env python3
"""gen_schemas.py - writes varied JSON schemas for the grammar oracle test
(tests/unit/runtime/test_json_schema_oracle.c samples the demo model under
each schema's grammar and tools/validate_schemas.py checks every output with
Python's jsonschema). Seeded, so a re-run writes the same files.

Usage: tools/gen_schemas.py [--count 120] [--seed 14] [--out tests/fixtures/schemas]
Only features the converter supports are used; sizes stay small so that the
demo model's 256-token context holds a complete instance."""
import argparse
import json
import os
import random

WORDS = ["name", "age", "id", "tags", "items", "kind", "value", "score", "title", "ok",
         "city", "zip", "naïve", "a\"b", "x", "count", "when", "email", "ip", "note"]
PATTERNS = ["^[A-Z]{2}-[0-9]{3}$", "^[a-z]+$", "^(cat|dog|bird)s?$", "^\\d{2}:\\d{2}$",
            "^[A-Fa-f0-9]{4,8}$", "^v[0-9]+\\.[0-9]+$", "^[^\\s]{1,5}$", "^\\w+@\\w+\\.com$",
            "^(ab|c)*d$", "^.{2,4}$", "^[\"\\\\]x$", "^\\S\\s\\D$"]
FORMATS = ["date", "time", "date-time", "uuid", "email", "ipv4", "hostname", "uri"]
ENUM_STRINGS = ["red", "green", "blue", "ünïcode", "line\nbreak", "quote\"d", "", "tab\t"]


def leaf(rng):
    k = rng.randrange(11)
    if k == 0:
        s = {"type": "string"}
        if rng.random() < 0.7:
            s["maxLength"] = rng.randrange(1, 12)
        if rng.random() < 0.4:
            s["minLength"] = rng.randrange(0, s.get("maxLength", 5) + 1)
        return s
    if k == 1:
        return {"type": "string", "pattern": rng.choice(PATTERNS)}
    if k == 2:
        return {"type": "string", "format": rng.choice(FORMATS)}
    if k == 3:
        s = {"type": "integer"}
        if rng.random() < 0.7:
            s["minimum"] = rng.randrange(-500, 100)
        if rng.random() < 0.7:
            s["maximum"] = s.get("minimum", -50) + rng.randrange(0, 3000)
        if rng.random() < 0.2:
            s["exclusiveMinimum"] = s.pop("minimum", 0)
        return s
    if k == 4:
        s = {"type": "number"}
        if rng.random() < 0.3:
            s["minimum"] = rng.randrange(0, 10)
            s["maximum"] = s["minimum"] + rng.randrange(1, 100) + 0.5
        return s
    if k == 5:
        return {"type": "boolean"}
    if k == 6:
        return {"type": rng.choice(["null", ["string", "null"], ["integer", "boolean"]])}
    if k == 7:
        vals = rng.sample(ENUM_STRINGS, rng.randrange(1, 4)) + rng.sample([1, 2.5, None, True, -3], rng.randrange(0, 3))
        return {"enum": vals}
    if k == 8:
        return {"const": rng.choice(["fixed", 42, None, [1, "a"], {"k": False}])}
    if k == 9:
        return {"type": "string", "enum": rng.sample(ENUM_STRINGS, 3)}
    return {}  # any value


def schema(rng, depth):
    if depth <= 0 or rng.random() < 0.35:
        return leaf(rng)
    k = rng.randrange(6)
    if k <= 1:
        return obj(rng, depth - 1)
    if k == 2:
        s = {"type": "array", "items": schema(rng, depth - 1)}
        if rng.random() < 0.6:
            s["maxItems"] = rng.randrange(0, 4)
        if rng.random() < 0.5:
            s["minItems"] = rng.randrange(0, s.get("maxItems", 2) + 1)
        return s
    if k == 3:
        s = {"type": "array", "prefixItems": [schema(rng, depth - 1) for _ in range(rng.randrange(1, 3))]}
        if rng.random() < 0.5:
            s["items"] = False
        else:
            s["items"] = leaf(rng)
            s["maxItems"] = len(s["prefixItems"]) + rng.randrange(0, 3)
        if rng.random() < 0.5:
            s["minItems"] = rng.randrange(0, len(s["prefixItems"]) + 1)
        return s
    if k == 4:
        return {"anyOf": [schema(rng, depth - 1) for _ in range(rng.randrange(2, 4))]}
    types = rng.sample(["string", "integer", "boolean", "null", "array", "object"], rng.randrange(2, 4))
    return {"oneOf": [{"type": t} if t not in ("array", "object") else
                      ({"type": "array", "maxItems": 2, "items": {"type": "integer"}} if t == "array" else obj(rng, 0))
                      for t in types]}


def obj(rng, depth):
    keys = rng.sample(WORDS, rng.randrange(1, 5))
    props = {k: schema(rng, depth) for k in keys}
    s = {"type": "object", "properties": props}
    req = [k for k in keys if rng.random() < 0.5]
    if req:
        s["required"] = req
    if rng.random() < 0.5:
        s["additionalProperties"] = False
    return s


def special(rng, i):
    """Every few schemas a fixed shape the random walk rarely makes."""
    k = i % 5
    if k == 0:  # recursion through $defs
        return {"$defs": {"node": {"type": "object", "properties": {
            "v": {"type": "integer", "minimum": 0, "maximum": 9},
            "kids": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/node"}}}, "required": ["v"]}},
            "$ref": "#/$defs/node"}
    if k == 1:  # allOf of objects
        first = obj(rng, 0)
        first.pop("additionalProperties", None)  # would forbid "extra": unsatisfiable
        return {"allOf": [first, {"properties": {"extra": leaf(rng)}, "required": ["extra"]}]}
    if k == 2:  # map
        return {"type": "object", "additionalProperties": rng.choice(
            [leaf(rng), {"type": "integer", "minimum": 0, "maximum": 99}])}
    if k == 3:  # definitions + refs to siblings
        return {"definitions": {"p": {"type": "string", "format": rng.choice(FORMATS)}},
                "type": "object", "properties": {"a": {"$ref": "#/definitions/p"}, "b": {"$ref": "#/definitions/p"}},
                "required": ["a"]}
    return {"type": "array", "items": obj(rng, 1), "minItems": 1, "maxItems": 2}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--out", default="tests/fixtures/schemas")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.count):
        s = special(rng, i) if i % 4 == 3 else (obj(rng, 2) if rng.random() < 0.7 else schema(rng, 2))
        s = dict({"$schema": "https://json-schema.org/draft/2020-12/schema"}, **s)
        with open(os.path.join(a.out, "%03d.json" % i), "w", encoding="utf-8") as f:
            json.dump(s, f, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
