// The `import` build's declarations, as an ES module application sees them.
import express from "express";
import { stint, type Session } from "stint-express";

const app = express();
app.use(stint({ url: "http://127.0.0.1:8080", serviceKey: "key" }));
app.get("/", (req, res) => {
  const session: Session | null = req.stint.session;
  res.json({ id: session?.sessionId ?? null });
});
// @ts-expect-error: url is required
stint({ serviceKey: "key" });
