// A line-oriented bridge from pytest to a real Chromium (Debian's /usr/bin/chromium) through
// playwright-core. One JSON request per stdin line, one JSON reply per stdout line:
//   {"method": "goto", "args": ["https://..."]}      -> {"ok": true, "value": ...}
// `method` is a Playwright Page method (for evaluate and waitForFunction, args[0] is the source of
// a JS function); "logs" returns (and clears) the console messages and
// page errors seen so far; "routeWs", "dropNext" and "wsFrames" cut into the page's WebSocket
// (to lose a frame on purpose); "close" ends the browser. Launch options come from argv[2] (JSON).
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
let dropNext = null;
const wsSent = [];
const wsDropped = [];
page.on("console", (m) => logs.push({ kind: m.type(), text: m.text() }));
page.on("pageerror", (e) => logs.push({ kind: "pageerror", text: String(e) }));

process.stdout.write(JSON.stringify({ seq: 0, ok: true, value: "ready" }) + "\n");
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { seq, method, args = [] } = JSON.parse(line);
  const out = (obj) => process.stdout.write(JSON.stringify({ seq, ...obj }) + "\n");
  try {
    if (method === "close") {
      await context.close();
      out({ ok: true, value: null });
      break;
    }
    if (method === "routeWs") {
      // Put this bridge between the page and the server's WebSocket: it records what the page
      // sends, and drops the next server frame containing the text given to "dropNext".
      await page.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => { wsSent.push(String(m)); server.send(m); });
        server.onMessage((m) => {
          if (dropNext !== null && String(m).includes(dropNext)) {
            dropNext = null;
            wsDropped.push(String(m));
            return;
          }
          ws.send(m);
        });
      });
      out({ ok: true, value: null });
      continue;
    }
    if (method === "dropNext") {
      dropNext = args[0];
      out({ ok: true, value: null });
      continue;
    }
    if (method === "wsFrames") {
      out({ ok: true, value: { sent: wsSent.splice(0), dropped: wsDropped.splice(0) } });
      continue;
    }
    if (method === "logs") {
      out({ ok: true, value: logs });
      logs = [];
      continue;
    }
    if (typeof page[method] !== "function") throw new Error(`no page method ${method}`);
    // Playwright treats a string as an expression: "() => x" would evaluate to a function (truthy,
    // so a wait would end at once). Turn function source into a function before passing it.
    if ((method === "evaluate" || method === "waitForFunction") && typeof args[0] === "string") {
      args[0] = new Function(`return (${args[0]});`)();
    }
    const value = await page[method](...args);
    out({ ok: true, value: value === undefined || typeof value === "object" && value !== null && !Array.isArray(value) && value.constructor?.name !== "Object" ? null : value });
  } catch (e) {
    out({ ok: false, error: String(e.message ?? e).split("\n").slice(0, 12).join("\n") });
  }
}
process.exit(0);
