#!/usr/bin/env python3
"""check_templates_transformers.py - confirms that tools/make_template_goldens.py
configures Jinja2 as transformers does: every corpus template is compiled by
transformers' own _compile_jinja_template (its environment, filters, extensions and
globals) and rendered with the same contexts; the results must equal the committed
goldens (output, or raising). Only strftime_now is pinned to SOURCE_DATE_EPOCH (the
goldens' convention; transformers uses the current time). Run where transformers is
installed (the lent GPU machine):  python3 tools/check_templates_transformers.py
"""
import json
import os
import sys
from datetime import datetime, timezone

import transformers
from transformers.utils import chat_template_utils as ctu

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "templates")


def main():
    conv_doc = json.load(open(os.path.join(FIX, "conversations.json")))
    sde = conv_doc["source_date_epoch"]
    convs = {c["id"]: c["context"] for c in conv_doc["conversations"]}
    same = differ = 0
    for name in sorted(json.load(open(os.path.join(FIX, "sources.json")))):
        gold = json.load(open(os.path.join(FIX, "goldens", name + ".json"), encoding="utf-8"))
        with open(os.path.join(FIX, "corpus", name + ".jinja"), encoding="utf-8", newline="") as f:
            src = f.read()
        tpl = ctu._compile_jinja_template(src)
        tpl.environment.globals["strftime_now"] = \
            lambda fmt: datetime.fromtimestamp(sde, tz=timezone.utc).strftime(fmt)
        for case in gold["cases"]:
            ctx = dict(convs[case["conv"]])
            for k, v in gold["tokens"].items():
                ctx.setdefault(k, v)
            try:
                got = {"output": tpl.render(**ctx)}
            except Exception as e:
                got = {"error": type(e).__name__}
            ok = ("output" in got and got["output"] == case.get("output")) or ("error" in got and "error" in case)
            same += ok
            if not ok:
                differ += 1
                if differ <= 10:
                    print("DIFF %s / %s: transformers %r, golden %r" % (name, case["conv"], str(got)[:120],
                                                                      str(case)[:120]))
    feats = json.load(open(os.path.join(FIX, "goldens", "features.json"), encoding="utf-8"))
    for case in feats["cases"]:
        ctx = dict(feats["vars"])
        ctx["add_generation_prompt"] = True
        try:
            tpl = ctu._compile_jinja_template(case["template"])
            tpl.environment.globals["strftime_now"] = \
                lambda fmt: datetime.fromtimestamp(sde, tz=timezone.utc).strftime(fmt)
            got = {"output": tpl.render(**ctx)}
        except Exception as e:
            got = {"error": type(e).__name__}
        ok = ("output" in got and got["output"] == case.get("output")) or ("error" in got and "error" in case)
        same += ok
        if not ok:
            differ += 1
            print("DIFF feature %s: transformers %r, golden %r" % (case["name"], str(got)[:120], str(case)[:160]))
    print("transformers %s, jinja2 %s: %d identical to the goldens, %d differ" %
          (transformers.__version__, __import__("jinja2").__version__, same, differ))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
