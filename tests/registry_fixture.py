#!/usr/bin/env python3
"""registry_fixture.py - a loopback HTTP server for the store tests that speaks
the Ollama registry protocol (GET /v2/<ns>/<model>/manifests/<tag>, blobs by
digest with a redirect to a "CDN" path that honours Range) and the Hugging
Face endpoints xllm uses (GET /api/models/<user>/<repo>?blobs=true, GET
/<user>/<repo>/resolve/<rev>/<file> with a redirect). Python standard library
only.

Models (all generated at start, small):
  library/tiny:latest   GGUF (vocabulary-less, padded to ~2.5 MB) + template,
                        system, params, license layers
  library/shared        same model blob as tiny, other params (refcounting)
  library/kjv-demo      models/kjv-demo.gguf when present (a runnable model)
  library/corrupt       a blob whose bytes do not match its digest
  library/truncated     a blob sent half, then the connection is closed
  library/stall         a blob sent half, then nothing (the client's stall timeout)
  library/missingblob   a manifest whose model blob answers 404
  anything else         404 {"errors":[{"code":"MANIFEST_UNKNOWN"}]}
HF repos: tester/tiny-GGUF (tiny-Q4_K_M.gguf, tiny-Q8_0.gguf, README.md),
  tester/tiny-llama (tests/fixtures/models/llama as a safetensors repo),
  tester/gated (needs "Authorization: Bearer fixture-token").
GET /_fixture/bump/tiny changes tiny's params (a newer version upstream).

Usage: registry_fixture.py --port-file F [--log F] [--time-limit S]
Binds 127.0.0.1 on a free port, writes the port to F, exits after S seconds
(default 60) or on SIGTERM. Every request is appended to --log as
"METHOD PATH | range=... | accept=... | auth=...".
"""
import argparse
import hashlib
import json
import os
import signal
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MT_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
BLOBS = {}      # digest -> bytes (what the digest was computed from)
SERVE = {}      # digest -> (mode, bytes served)
MANIFESTS = {}  # "ns/model:tag" -> manifest bytes
HF = {}         # "user/repo" -> (sha, [(name, bytes, lfs)])
LOCK = threading.Lock()


def gguf_bytes(name, pad):
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    kv = [("general.architecture", "llama"), ("general.name", name), ("xllm.padding", "x" * pad)]
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for k, v in kv:
        out += s(k) + struct.pack("<I", 8) + s(v)
    return out


def blob(data, mode="ok"):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    BLOBS[d] = data
    served = data
    if mode == "corrupt":
        served = bytearray(data)
        served[len(served) // 2] ^= 0xFF
        served = bytes(served)
    SERVE[d] = (mode, served)
    return d


def layer(mt, data, mode="ok"):
    return {"mediaType": mt, "digest": blob(data, mode), "size": len(data)}


def manifest(key, layers):
    cfg = json.dumps({"model_format": "gguf", "model_family": "llama", "model_families": ["llama"],
                      "model_type": "1M", "file_type": "F32", "architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
    m = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
         "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": blob(cfg), "size": len(cfg)},
         "layers": layers}
    MANIFESTS[key] = json.dumps(m, indent=None).encode()


def build_tiny(params):
    model = gguf_bytes("tiny", 2_500_000)
    return [layer("application/vnd.ollama.image.model", model),
            layer("application/vnd.ollama.image.template", b"{{ .System }} {{ .Prompt }}"),
            layer("application/vnd.ollama.image.system", b"You are tiny."),
            layer("application/vnd.ollama.image.params", json.dumps(params).encode()),
            layer("application/vnd.ollama.image.license", b"Tiny License 1.0\nUse freely.")]


def build():
    manifest("library/tiny:latest", build_tiny({"stop": ["<|end|>"], "temperature": 0.5}))
    shared = build_tiny({"temperature": 0.9})
    manifest("library/shared:latest", shared)
    demo = os.path.join(ROOT, "models", "kjv-demo.gguf")
    if os.path.exists(demo):
        with open(demo, "rb") as f:
            manifest("library/kjv-demo:latest", [layer("application/vnd.ollama.image.model", f.read())])
    for mode in ("corrupt", "truncated", "stall"):
        manifest("library/%s:latest" % mode,
                 [layer("application/vnd.ollama.image.template", ("ok layer of " + mode).encode()),
                  layer("application/vnd.ollama.image.model", gguf_bytes(mode, 400_000), mode)])
    d = "sha256:" + hashlib.sha256(b"never served").hexdigest()
    MANIFESTS["library/missingblob:latest"] = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": d, "size": 12}]}).encode()
    q4, q8 = gguf_bytes("hf-q4", 300_000), gguf_bytes("hf-q8", 500_000)
    HF["tester/tiny-GGUF"] = ("0123456789abcdef0123456789abcdef01234567",
                              [("README.md", b"# tiny\n", False), ("tiny-Q4_K_M.gguf", q4, True),
                               ("tiny-Q8_0.gguf", q8, True)])
    files = []
    llama = os.path.join(ROOT, "tests", "fixtures", "models", "llama")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "generation_config.json", "model.safetensors", "reference.json"):
        p = os.path.join(llama, name)
        if os.path.exists(p):
            with open(p, "rb") as f:
                files.append((name, f.read(), name.endswith(".safetensors")))
    HF["tester/tiny-llama"] = ("fedcba9876543210fedcba9876543210fedcba98", files)
    HF["tester/gated"] = ("1111111111111111111111111111111111111111",
                          [("gated-Q4_0.gguf", gguf_bytes("gated", 1000), True)])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log_request_line(self):
        if self.server.log_path:
            line = "%s %s | range=%s | accept=%s | auth=%s\n" % (
                self.command, self.path, self.headers.get("Range", ""), self.headers.get("Accept", ""),
                self.headers.get("Authorization", ""))
            with LOCK, open(self.server.log_path, "a") as f:
                f.write(line)

    def reply(self, code, body=b"", ctype="application/json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, where):
        self.reply(307, b"", "text/plain", {"Location": where})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.log_request_line()
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        try:
            if path.startswith("/_fixture/bump/"):
                return self.bump(parts[2])
            if parts[0] == "v2" and len(parts) == 5 and parts[3] == "manifests":
                return self.manifest("%s/%s:%s" % (parts[1], parts[2], parts[4]))
            if parts[0] == "v2" and len(parts) == 5 and parts[3] == "blobs":
                if parts[4] not in SERVE:
                    return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
                return self.redirect("/cdn/" + parts[4])
            if parts[0] == "cdn" and len(parts) == 2:
                return self.cdn(parts[1])
            if parts[0] == "api" and parts[1] == "models" and len(parts) == 4:
                return self.hf_list(parts[2] + "/" + parts[3])
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.hf_file(parts[0] + "/" + parts[1], "/".join(parts[4:]))
            if parts[0] == "hfcdn" and len(parts) == 2:
                return self.cdn(parts[1])
        except (BrokenPipeError, ConnectionResetError):
            return
        self.reply(404, b'{"error":"not found"}')

    def bump(self, name):
        manifest("library/%s:latest" % name, build_tiny({"temperature": 0.1, "bumped": time.time()}))
        self.reply(200, b"{}")

    def manifest(self, key):
        if self.headers.get("Accept", "") != MT_MANIFEST:
            return self.reply(400, b'{"errors":[{"code":"BAD_ACCEPT"}]}')
        body = MANIFESTS.get(key)
        if body is None:
            return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
        d = "sha256:" + hashlib.sha256(body).hexdigest()
        self.reply(200, body, MT_MANIFEST, {"Docker-Content-Digest": d})

    def cdn(self, digest):
        from urllib.parse import unquote
        digest = unquote(digest)
        if digest not in SERVE:
            return self.reply(404, b"no such blob", "text/plain")
        mode, data = SERVE[digest]
        start, end, code = 0, len(data) - 1, 200
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            a, b = rng[6:].split("-", 1)
            start, end, code = int(a), (int(b) if b else len(data) - 1), 206
        chunk = data[start:end + 1]
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(chunk)))
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))
        self.end_headers()
        if mode in ("truncated", "stall"):
            self.wfile.write(chunk[:len(chunk) // 2])
            self.wfile.flush()
            if mode == "stall":
                time.sleep(30)
            self.close_connection = True
            return
        self.wfile.write(chunk)

    def hf_list(self, repo):
        if repo not in HF:
            return self.reply(401, b'{"error":"Repository not found"}')
        if repo == "tester/gated" and self.headers.get("Authorization") != "Bearer fixture-token":
            return self.reply(401, b'{"error":"Access to model tester/gated is restricted."}')
        sha, files = HF[repo]
        sibs = []
        for name, data, lfs in files:
            s = {"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
            if lfs:
                s["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            sibs.append(s)
        self.reply(200, json.dumps({"id": repo, "sha": sha, "siblings": sibs}).encode())

    def hf_file(self, repo, name):
        if repo not in HF:
            return self.reply(404, b"")
        if repo == "tester/gated" and self.headers.get("Authorization") != "Bearer fixture-token":
            return self.reply(401, b"")
        for fname, data, lfs in HF[repo][1]:
            if fname == name:
                return self.redirect("/hfcdn/" + blob(data))
        self.reply(404, b"")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--time-limit", type=float, default=60)
    a = ap.parse_args()
    build()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.log_path = a.log
    threading.Timer(a.time_limit, lambda: os._exit(3)).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
