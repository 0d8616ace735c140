// Compiled, not run (`npm run typecheck`): an Express application written in TypeScript
// against the package's declarations (the `require` build's; esm.mts checks the `import` one). `req.stint` is typed without a cast, the shapes come
// from Stint's OpenAPI document, and wrong calls do not compile.
import express from "express";
import { stint, StintError, type Session, type StintContext } from "stint-express";

const app = express();
const middleware = stint({ url: "http://127.0.0.1:8080", serviceKey: process.env.STINT_SERVICE_KEY ?? "", timeoutMs: 100 });
app.use(middleware);

app.get("/", (req, res) => {
  const session: Session | null = req.stint.session;
  const views: number | undefined = session?.pageViews;
  const kind: "ANONYMOUS" | "CUSTOMER" | undefined = session?.type;
  const degraded: boolean = req.stint.degraded;
  res.json({ views, kind, degraded, visitor: req.stint.visitorId });
});

app.post("/orders", async (req, res) => {
  const context: StintContext = req.stint;
  try {
    const after = await context.convert({ orderId: "o-1", total: 42.5, currency: "EUR" });
    const converted: boolean = after.converted;
    res.json({ converted });
  } catch (error) {
    if (error instanceof StintError && error.outage) res.json({ converted: false });
    else throw error;
  }
});

app.post("/cart", async (req, res) => {
  const data = await req.stint.data.update({ set: { items: [] }, remove: ["coupon"] });
  await req.stint.track("wishlist_add", { productId: "p-1", metadata: { from: "grid" } });
  const { revoked } = await req.stint.revokeOtherSessions();
  res.json({ data, revoked });
});

async function wrong(context: StintContext): Promise<void> {
  // @ts-expect-error: total is a number
  await context.convert({ orderId: "o-1", total: "42.5" });
  // @ts-expect-error: login takes the customer id
  await context.login({ customerId: "c-1" });
  // @ts-expect-error: the session is read-only
  context.session = null;
  // @ts-expect-error: no such field in Stint's session shape
  void context.session?.pageViewz;
}
void wrong;

export async function devices(customerId: string): Promise<string[]> {
  const sessions = await middleware.client.customerSessions(customerId);
  return sessions.map((s) => s.sessionId);
}
