// Every ```mermaid block of the given Markdown files (or whole .mmd files), parsed by Mermaid itself
// (the npm package GitHub's renderer is built on), so a diagram that would not render fails here.
// Usage: node tools/mermaid_check.mjs README.md docs/architecture.md build/diagram/*.md   Exit 1 on any error.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, "../build/node/package.json"));
// Mermaid sanitises labels with DOMPurify, which needs a DOM: jsdom's, as in a browser.
const { JSDOM } = require("jsdom");
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import(pathToFileURL(require.resolve("mermaid")).href);
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

function blocks(file, text) {
  if (file.endsWith(".mmd")) return [{ line: 1, source: text }];
  const found = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```mermaid") continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== "```") end++;
    found.push({ line: start + 1, source: lines.slice(start, end).join("\n") });
    i = end;
  }
  return found;
}

let errors = 0;
let count = 0;
for (const file of process.argv.slice(2)) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    errors++;
    console.log(`${file}: cannot be read: ${error.code ?? error.message}`);
    continue;
  }
  for (const block of blocks(file, text)) {
    count++;
    try {
      const result = await mermaid.parse(block.source);
      if (!result || result.diagramType !== "flowchart-v2") throw new Error(`not a flowchart: ${result?.diagramType}`);
    } catch (error) {
      errors++;
      const message = String(error?.message ?? error).split("\n").slice(0, 4).join(" | ");
      console.log(`${file}:${block.line}: invalid Mermaid: ${message}`);
    }
  }
}
console.log(`mermaid: ${errors} invalid of ${count} diagram(s)`);
process.exit(errors || count === 0 ? 1 : 0);
