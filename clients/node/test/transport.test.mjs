// The client's HTTP/1.1 connections to Stint, against servers that misbehave in ways a real
// Stint does not (or a proxy in front of it might): answers in chunks, garbage, a connection
// dropped mid-answer, silence; and Stint behind TLS.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { StintClient } from "stint-express";

import { Log } from "./support.mjs";

const envelope = (data) => JSON.stringify({ success: true, data });

async function listen(server) {
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

function client(url, options = {}) {
  return new StintClient({ url, serviceKey: "k", logger: new Log(), ...options });
}

test("answers in chunks, in order, many at once on few connections", async () => {
  let connections = 0;
  const server = await listen(
    http.createServer((req, res) => {
      // Chunked (no Content-Length), in two writes, a little later for odd ids: the answers
      // of one connection still come back in the order of its requests.
      const id = Number(req.url.split("/").pop());
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        const body = envelope({ id, auth: req.headers.authorization });
        setTimeout(() => {
          res.write(body.slice(0, 7));
          res.end(body.slice(7));
        }, id % 2);
      });
    }),
  );
  server.on("connection", () => (connections += 1));
  const c = client(`http://127.0.0.1:${server.address().port}`, { maxConnections: 3 });
  try {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => c.call("GET", `/api/v1/sessions/${i}`)));
    answers.forEach((a, i) => assert.deepEqual(a, { id: i, auth: "Bearer k" }));
    assert.ok(connections <= 3, `${connections} connections`);
  } finally {
    c.close();
    server.close();
  }
});

test("garbage, a dropped connection and silence reject, and the next call starts afresh", async () => {
  let mode = "garbage";
  const server = await listen(
    net.createServer((socket) => {
      socket.on("data", () => {
        if (mode === "garbage") socket.end("SSH-2.0-OpenSSH_9.2\r\n\r\n");
        else if (mode === "dropped") socket.end("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"succ");
        else if (mode === "ok") socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${envelope(1).length}\r\n\r\n${envelope(1)}`);
        // "silent": nothing
      });
    }),
  );
  const c = client(`http://127.0.0.1:${server.address().port}`, { callTimeoutMs: 200 });
  try {
    await assert.rejects(c.call("GET", "/x"), (e) => e.kind === "unreachable" && /not an HTTP answer/.test(e.message));
    mode = "dropped";
    await assert.rejects(c.call("GET", "/x"), (e) => e.kind === "unreachable");
    mode = "silent";
    const started = Date.now();
    const silent = await Promise.allSettled([c.call("GET", "/x"), c.call("GET", "/y"), c.call("GET", "/z")]);
    assert.ok(Date.now() - started < 2000);
    for (const s of silent) assert.equal(s.reason?.kind, "timeout");
    mode = "ok";
    assert.equal(await c.call("GET", "/x"), 1);
  } finally {
    c.close();
    server.close();
  }
});

test("nothing listening: unreachable at once", async () => {
  const port = await new Promise((r) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => r(port));
    });
  });
  const c = client(`http://127.0.0.1:${port}`);
  await assert.rejects(c.call("GET", "/x"), (e) => e.kind === "unreachable" && /ECONNREFUSED/.test(e.message));
  c.close();
});

test("https: Stint behind TLS, with the CA given; a certificate of no trusted CA is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stint-tls-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ], { stdio: "ignore" });
    const cert = readFileSync(join(dir, "cert.pem"));
    const server = await listen(
      https.createServer({ key: readFileSync(join(dir, "key.pem")), cert }, (req, res) => {
        req.resume();
        res.writeHead(200, { "content-type": "application/json" });
        res.end(envelope({ path: req.url }));
      }),
    );
    const { port } = server.address();
    const trusted = client(`https://localhost:${port}/stint`, { ca: cert });
    const untrusted = client(`https://localhost:${port}`);
    try {
      assert.deepEqual(await trusted.call("GET", "/api/v1/sessions/s"), { path: "/stint/api/v1/sessions/s" });
      await assert.rejects(untrusted.call("GET", "/x"), (e) => e.kind === "unreachable" && /certificate/i.test(e.message));
    } finally {
      trusted.close();
      untrusted.close();
      server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
