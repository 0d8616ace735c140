// The package as it ships: both module systems, the files `npm pack` puts in it, and the
// OpenAPI document its types are generated from, which must be the one Stint serves.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as esm from "stint-express";

import { Stint, send } from "./support.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

test("require and import both give the package", () => {
  const cjs = createRequire(import.meta.url)("stint-express");
  for (const module of [cjs, esm]) {
    assert.equal(typeof module.stint, "function");
    assert.equal(typeof module.StintClient, "function");
    assert.equal(typeof module.StintError, "function");
    const middleware = module.stint({ url: "http://127.0.0.1:1", serviceKey: "k" });
    assert.equal(middleware.length, 3, "an Express middleware");
    assert.ok(middleware.client instanceof module.StintClient);
  }
  assert.match(readFileSync(join(root, "dist/cjs/index.js"), "utf8"), /exports\.stint/);
  assert.match(readFileSync(join(root, "dist/esm/index.js"), "utf8"), /^export \{ stint \}/m);
});

test("a wrong configuration is refused when the middleware is made, naming the option", () => {
  assert.throws(() => esm.stint({ url: "http://127.0.0.1:8080" }), /serviceKey is required/);
  assert.throws(() => esm.stint({ url: "not a url", serviceKey: "k" }), /url .* is not a URL/);
  assert.throws(() => esm.stint({ url: "ftp://host", serviceKey: "k" }), /http:\/\/ or https:\/\//);
  assert.throws(() => esm.stint({ url: "http://h", serviceKey: "k", timeoutMs: 0 }), /timeoutMs/);
  assert.throws(() => esm.stint(), /options/);
});

test("npm pack ships the compiled code and declarations of both builds, and nothing else", () => {
  const [pack] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" }));
  const files = pack.files.map((f) => f.path).sort();
  for (const expected of [
    "README.md",
    "package.json",
    "dist/cjs/index.js",
    "dist/cjs/index.d.ts",
    "dist/cjs/package.json",
    "dist/esm/index.js",
    "dist/esm/index.d.ts",
    "dist/esm/package.json",
  ]) {
    assert.ok(files.includes(expected), `${expected} is not in the package: ${files.join(", ")}`);
  }
  assert.deepEqual(
    files.filter((f) => !f.startsWith("dist/") && !["README.md", "package.json"].includes(f)),
    [],
    "only the build, the README and package.json",
  );
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  assert.deepEqual(manifest.dependencies ?? {}, {}, "no runtime dependency");
});

test("openapi.json is the document the binary under test serves", async () => {
  const stint = await Stint.start();
  try {
    const served = await send(`${stint.url}/api/openapi.json`);
    assert.equal(served.status, 200);
    const committed = JSON.parse(readFileSync(join(root, "openapi.json"), "utf8"));
    assert.deepEqual(
      committed,
      served.json,
      "clients/node/openapi.json is stale: run `npm run openapi -- URL` against a Stint built from this tree, then `npm run build`",
    );
  } finally {
    await stint.close();
  }
});
