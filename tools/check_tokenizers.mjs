// Cross-checks every tokenizer_reference.json under a fixture root with tokenizers.js
// (@huggingface/tokenizers, HF's JS port), with HF tokenizers' Rust core (the npm
// `tokenizers` node binding in the repo's node_modules, after `npm ci`; skipped if
// absent), and chat templates with @huggingface/jinja.
// Usage: JSDEPS=/tmp/jsdeps node tools/check_tokenizers.mjs tests/fixtures/models [more dirs]
// where $JSDEPS holds node_modules with @huggingface/tokenizers and @huggingface/jinja
// (npm install there, not in the repo).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const deps = process.env.JSDEPS || "/tmp/jsdeps";
const require = createRequire(path.join(path.resolve(deps), "noop.js"));
const { Tokenizer } = require("@huggingface/tokenizers");
const { Template } = require("@huggingface/jinja");
let rust = null;
try {
  rust = createRequire(path.join(process.cwd(), "noop.js"))("tokenizers");
} catch (e) {
  console.log("HF tokenizers (Rust core) not found in ./node_modules: skipped");
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
let pass = 0, fail = 0;
const check = (ok, what) => { if (ok) pass++; else { fail++; console.log("FAIL", what); } };

async function checkRust(d, ref) {
  const tok = rust.Tokenizer.fromFile(path.join(d, "tokenizer.json"));
  for (const c of ref.cases) {
    const plain = (await tok.encode(c.text, null, { addSpecialTokens: false })).getIds();
    const spec = (await tok.encode(c.text, null, { addSpecialTokens: true })).getIds();
    check(same(plain, c.ids), `${d} rust encode ${JSON.stringify(c.text)}: ${JSON.stringify(plain)} ref ${JSON.stringify(c.ids)}`);
    check(same(spec, c.ids_with_special), `${d} rust encode+special ${JSON.stringify(c.text)}: ${JSON.stringify(spec)} ref ${JSON.stringify(c.ids_with_special)}`);
  }
  for (const c of (ref.decode || []).filter((x) => x.ids.length)) {
    const text = await tok.decode(c.ids, false);
    check(text === c.text, `${d} rust decode ${JSON.stringify(c.ids)}: ${JSON.stringify(text)} ref ${JSON.stringify(c.text)}`);
  }
  if (ref.chat) {
    const ids = (await tok.encode(ref.chat.rendered, null, { addSpecialTokens: false })).getIds();
    check(same(ids, ref.chat.ids), `${d} rust chat ids`);
  }
}

async function checkDir(d) {
  const refPath = path.join(d, "tokenizer_reference.json");
  if (!fs.existsSync(refPath)) return;
  const tj = JSON.parse(fs.readFileSync(path.join(d, "tokenizer.json"), "utf8"));
  const tc = JSON.parse(fs.readFileSync(path.join(d, "tokenizer_config.json"), "utf8"));
  const ref = JSON.parse(fs.readFileSync(refPath, "utf8"));
  const tok = new Tokenizer(tj, tc);
  for (const c of ref.cases) {
    const plain = tok.encode(c.text, { add_special_tokens: false }).ids;
    const spec = tok.encode(c.text, { add_special_tokens: true }).ids;
    check(same(plain, c.ids), `${d} encode ${JSON.stringify(c.text)}: js ${JSON.stringify(plain)} ref ${JSON.stringify(c.ids)}`);
    check(same(spec, c.ids_with_special), `${d} encode+special ${JSON.stringify(c.text)}: js ${JSON.stringify(spec)} ref ${JSON.stringify(c.ids_with_special)}`);
  }
  if (tj.model.type === "BPE") {
    for (const c of (ref.decode || []).filter((x) => x.ids.length)) {
      const text = tok.decode(c.ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      check(text === c.text, `${d} decode ${JSON.stringify(c.ids)}: js ${JSON.stringify(text)} ref ${JSON.stringify(c.text)}`);
    }
  }
  if (ref.chat) {
    const t = new Template(tc.chat_template);
    const text = t.render({ messages: ref.chat.messages, add_generation_prompt: true,
                            bos_token: ref.chat.bos_token, eos_token: ref.chat.eos_token });
    check(text === ref.chat.rendered, `${d} chat render: js ${JSON.stringify(text)} ref ${JSON.stringify(ref.chat.rendered)}`);
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    check(same(ids, ref.chat.ids), `${d} chat ids`);
  }
  if (rust) await checkRust(d, ref);
}

for (const root of process.argv.slice(2)) {
  const dirs = fs.existsSync(path.join(root, "tokenizer.json"))
    ? [root] : fs.readdirSync(root).map((n) => path.join(root, n));
  for (const d of dirs) if (fs.statSync(d).isDirectory()) await checkDir(d);
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
