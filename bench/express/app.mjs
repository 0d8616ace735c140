// The Express contenders of stint-bench, one route answering what every contender answers:
//
//   node app.mjs plain     Express alone
//   node app.mjs stint     Express with stint-express (STINT_URL, STINT_SERVICE_KEY): each page
//                          resumes its session and is recorded, through the session API
//   node app.mjs session   Express with express-session and connect-redis (REDIS_URL), as our
//                          users' documents wire them, the handler counting page views in the
//                          session so that each page writes it back
//
// Prints `listening ADDR` once it accepts connections; stops on SIGINT or SIGTERM.
import express from "express";

const mode = process.argv[2];
const body = process.env.STINT_BENCH_BODY ?? "{}";
const app = express();
app.disable("x-powered-by");
app.disable("etag");

let close = async () => {};
if (mode === "stint") {
  const { stint } = await import("stint-express");
  const middleware = stint({ url: process.env.STINT_URL, serviceKey: process.env.STINT_SERVICE_KEY, timeoutMs: 1000 });
  app.use(middleware);
  close = async () => middleware.client.close();
} else if (mode === "session") {
  const session = (await import("express-session")).default;
  const { RedisStore } = await import("connect-redis");
  const { createClient } = await import("redis");
  const client = createClient({ url: process.env.REDIS_URL });
  await client.connect();
  app.use(
    session({
      store: new RedisStore({ client, prefix: "bench:sess:" }),
      secret: "bench-secret-bench-secret-bench-secret",
      resave: false,
      saveUninitialized: true,
      name: "session",
      cookie: { httpOnly: true, sameSite: "lax", maxAge: 30 * 60 * 1000 },
    }),
  );
  app.use((req, _res, next) => {
    req.session.views = (req.session.views ?? 0) + 1;
    next();
  });
  close = async () => client.quit();
} else if (mode !== "plain") {
  console.error("usage: node app.mjs plain|stint|session");
  process.exit(2);
}

app.get("/api/storefront/products", (_req, res) => {
  res.type("application/json").send(body);
});

const server = app.listen(0, "127.0.0.1", () => {
  const { address, port } = server.address();
  console.log(`listening ${address}:${port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections?.();
    close().finally(() => process.exit(0));
  });
}
