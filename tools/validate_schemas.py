#!/usr/bin/env python3
"""validate_schemas.py - the oracle of the grammar oracle test: every line of
the JSONL file is {"schema": path, "seed": n, "output": text}; the output must
parse as JSON and validate against the schema with Python's jsonschema
(Draft 2020-12, format checking on). Exit 0 when all do, 1 otherwise (the
failures are printed)."""
import json
import sys

import jsonschema


def main():
    bad = n = 0
    cache = {}
    for line in open(sys.argv[1], encoding="utf-8"):
        rec = json.loads(line)
        n += 1
        path = rec["schema"]
        if path not in cache:
            with open(path, encoding="utf-8") as f:
                s = json.load(f)
            jsonschema.Draft202012Validator.check_schema(s)
            cache[path] = jsonschema.Draft202012Validator(
                s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        try:
            inst = json.loads(rec["output"])
            errs = list(cache[path].iter_errors(inst))
        except ValueError as e:
            errs = ["not JSON: %s" % e]
        if errs:
            bad += 1
            print("%s seed %s: %r: %s" % (path, rec["seed"], rec["output"], "; ".join(str(e)[:200] for e in errs)))
    print("validate_schemas: %d outputs, %d invalid" % (n, bad))
    return 1 if bad or not n else 0


if __name__ == "__main__":
    sys.exit(main())
