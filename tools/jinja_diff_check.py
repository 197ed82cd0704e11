#!/usr/bin/env python3
"""jinja_diff_check.py - differential check of xllm's Jinja2 against Python's Jinja2
(configured by make_template_goldens.make_env, as transformers configures it) on a
directory of templates, e.g. a fuzzer's corpus. For each file: both render with the
fuzz target's chat context; a difference where Python rendered is a bug, unless
xllm reported "unsupported" or a limit (listed apart). Prints a summary.
Usage: python3 tools/jinja_diff_check.py build/xllm DIR [MAX_FILES]
"""
import json
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_template_goldens as mtg  # noqa: E402

CTX = {
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": [{"type": "text", "text": "Hi \u00e9"}, {"type": "image"}]},
                 {"role": "assistant", "content": "", "reasoning_content": "think",
                  "tool_calls": [{"id": "c1", "type": "function",
                                  "function": {"name": "f", "arguments": {"x": 1.5, "y": [None, True]}}}]},
                 {"role": "tool", "tool_call_id": "c1", "content": "{\"ok\":1}"},
                 {"role": "user", "content": "again"}],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
        "type": "object", "properties": {"x": {"type": "number"}}}}}],
    "documents": None, "add_generation_prompt": True, "bos_token": "<s>", "eos_token": "</s>",
    "enable_thinking": False, "n": 3, "s": "  str  ",
}


class Timeout(BaseException):
    pass


def on_alarm(signum, frame):
    raise Timeout()


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    xllm, d = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 30
    os.environ["SOURCE_DATE_EPOCH"] = str(mtg.SOURCE_DATE_EPOCH)
    env = mtg.make_env()
    ctxf = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(CTX, ctxf)
    ctxf.close()
    stats = {"same": 0, "both_raise": 0, "bad_render": 0, "we_raise": 0, "we_unsupported": 0, "skipped": 0}
    bad = []
    for i, name in enumerate(sorted(os.listdir(d))):
        if i >= limit:
            break
        path = os.path.join(d, name)
        with open(path, "rb") as f:
            raw = f.read()
        try:
            src = raw.decode("utf-8")
        except UnicodeDecodeError:
            stats["skipped"] += 1
            continue
        signal.alarm(5)  # Python's Jinja2 has no step limit
        try:
            py = ("ok", env.from_string(src).render(**CTX))
        except Exception as e:
            py = ("err", type(e).__name__)
        except Timeout:
            stats["skipped"] += 1
            continue
        finally:
            signal.alarm(0)
        r = subprocess.run([xllm, "template", path, ctxf.name], capture_output=True, timeout=60)
        if py[0] == "err":
            if r.returncode != 0:
                stats["both_raise"] += 1
            else:
                stats["bad_render"] += 1
                bad.append((name, "python raised %s, xllm rendered" % py[1]))
        elif r.returncode != 0:
            err = r.stderr.decode("utf-8", "replace")
            if "unsupported" in err.split(":")[1] or "limit" in err.split(":")[1]:
                stats["we_unsupported"] += 1
            else:
                stats["we_raise"] += 1
                bad.append((name, "xllm raised: " + err.strip()[:200]))
        elif r.stdout == py[1].encode("utf-8"):
            stats["same"] += 1
        else:
            stats["bad_render"] += 1
            bad.append((name, "renders differ"))
    os.unlink(ctxf.name)
    for name, why in bad[:30]:
        print("%s: %s" % (name, why))
    print(stats)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
