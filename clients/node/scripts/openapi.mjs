// Refreshes openapi.json, the document the package's types are generated
// from, from a running Stint: `npm run openapi [-- URL]` (default
// http://127.0.0.1:8080). The package's tests compare it with the document
// the binary under test serves.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const base = process.argv[2] ?? process.env.STINT_URL ?? "http://127.0.0.1:8080";
const response = await fetch(new URL("/api/openapi.json", base));
if (!response.ok) {
  console.error(`${base}/api/openapi.json answered ${response.status}`);
  process.exit(1);
}
const document = await response.json();
const target = join(dirname(fileURLToPath(import.meta.url)), "..", "openapi.json");
writeFileSync(target, JSON.stringify(document, null, 2) + "\n");
console.log(`wrote ${target}`);
