// Compiles src/ twice, for `require` (dist/cjs) and for `import`
// (dist/esm), each with its declarations, and marks each folder with the
// module kind Node must read it as.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(join(root, "dist"), { recursive: true, force: true });
for (const [config, folder, type] of [
  ["tsconfig.cjs.json", "cjs", "commonjs"],
  ["tsconfig.esm.json", "esm", "module"],
]) {
  execFileSync(process.execPath, [tsc, "-p", join(root, config)], { stdio: "inherit", cwd: root });
  mkdirSync(join(root, "dist", folder), { recursive: true });
  writeFileSync(join(root, "dist", folder, "package.json"), JSON.stringify({ type }) + "\n");
}
