// A line-oriented bridge from pytest to a real Chromium (Debian's /usr/bin/chromium) through
// playwright-core. One JSON request per stdin line, one JSON reply per stdout line:
//   {"method": "goto", "args": ["https://..."]}      -> {"ok": true, "value": ...}
// `method` is a Playwright Page method; "logs" returns (and clears) the console messages and
// page errors seen so far; "close" ends the browser. Launch options come from argv[2] (JSON).
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const opts = JSON.parse(process.argv[2]);
const context = await chromium.launchPersistentContext(opts.userDataDir, {
  executablePath: opts.executablePath,
  headless: true,
  args: opts.args,
  viewport: opts.viewport,
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(opts.timeoutMs ?? 15000);
let logs = [];
page.on("console", (m) => logs.push({ kind: m.type(), text: m.text() }));
page.on("pageerror", (e) => logs.push({ kind: "pageerror", text: String(e) }));

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
out({ ok: true, value: "ready" });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { method, args = [] } = JSON.parse(line);
  try {
    if (method === "close") {
      await context.close();
      out({ ok: true, value: null });
      break;
    }
    if (method === "logs") {
      out({ ok: true, value: logs });
      logs = [];
      continue;
    }
    if (typeof page[method] !== "function") throw new Error(`no page method ${method}`);
    const value = await page[method](...args);
    out({ ok: true, value: value === undefined || typeof value === "object" && value !== null && !Array.isArray(value) && value.constructor?.name !== "Object" ? null : value });
  } catch (e) {
    out({ ok: false, error: String(e.message ?? e).split("\n").slice(0, 12).join("\n") });
  }
}
process.exit(0);
