// A small exch client in Node.js, written from docs/protocol.md alone.
//
//   npm ci
//   EXCH_URL=wss://127.0.0.1:8443/ws EXCH_CA=ca.pem EXCH_USER=alice EXCH_PASSWORD='…' node client.mjs
//
// It logs in, keeps a local level-3 book of EXCH_SYMBOL (default ACME) from
// snapshot + l3 updates (resubscribing on a gap), places one limit order
// (EXCH_SIDE, EXCH_PRICE, EXCH_QTY; default a buy of 1 at 100), prints its
// fills, and exits when the order is done — or, if it rests, after printing
// the book (EXCH_WAIT=1 waits for it to finish instead). Exit code 0 on
// success, 1 on any error (printed as one line).
import fs from "node:fs";
import WebSocket from "ws";

const env = process.env;
const URL = env.EXCH_URL ?? "wss://127.0.0.1:8443/ws";
const SYMBOL = env.EXCH_SYMBOL ?? "ACME";

// Nanosecond timestamps exceed 2^53: read integers that do not fit a Number as BigInt.
// (The reviver's third argument is Node >= 21; older Nodes keep the rounded Number.)
const parse = (text) =>
  JSON.parse(text, (key, value, ctx) =>
    typeof value === "number" && !Number.isSafeInteger(value) && Number.isInteger(value) && ctx?.source
      ? BigInt(ctx.source)
      : value);

/** A local level-3 book: per side, orders by id, and the algorithm of docs/protocol.md. */
class Book {
  constructor() { this.reset(); }
  reset() { this.seq = null; this.orders = new Map(); this.buffer = []; }
  load(snapshot) {
    this.orders = new Map();
    let at = 0;
    for (const [side, rows] of [["buy", snapshot.bids], ["sell", snapshot.asks]]) {
      for (const [id, price, qty] of rows) this.orders.set(id, { side, price, qty, at: at++ });
    }
    this.seq = snapshot.seq;
    this.next = at;
    const buffered = this.buffer;
    this.buffer = [];
    for (const m of buffered) if (m.seq > this.seq && !this.apply(m)) return false;
    return true;
  }
  /** Apply one l3 message; false on a gap (the caller resubscribes). */
  apply(m) {
    if (this.seq === null) { this.buffer.push(m); return true; }
    if (m.seq <= this.seq) return true;
    if (m.seq !== this.seq + 1) return false;
    this.seq = m.seq;
    if (m.event === "open") this.orders.set(m.order_id, { side: m.side, price: m.price, qty: m.qty, at: this.next++ });
    else if (m.event === "match") { const o = this.orders.get(m.maker_order_id); if (o) o.qty -= m.qty; }
    else if (m.event === "change") { const o = this.orders.get(m.order_id); if (o) o.qty = m.qty; }
    else if (m.event === "done") this.orders.delete(m.order_id);
    return true;
  }
  /** [[price, qty], …] best first. */
  levels(side) {
    const levels = new Map();
    for (const o of this.orders.values()) if (o.side === side && o.qty > 0) levels.set(o.price, (levels.get(o.price) ?? 0) + o.qty);
    return [...levels].sort((a, b) => (side === "buy" ? b[0] - a[0] : a[0] - b[0]));
  }
}

function connect() {
  const options = { perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 };
  if (env.EXCH_CA) options.ca = fs.readFileSync(env.EXCH_CA);
  const ws = new WebSocket(URL, options);
  let nextId = 1;
  const waiting = new Map();
  const handlers = [];
  ws.on("message", (data) => {
    const msg = parse(data.toString());
    const waiter = msg.id !== null && waiting.get(msg.id);
    if (waiter) {
      waiting.delete(msg.id);
      if (msg.type === "error") waiter.reject(new Error(`${msg.code}${msg.field ? ` (${msg.field})` : ""}: ${msg.message}`));
      else waiter.resolve(msg);
      if (msg.type !== "subscribed") return; // snapshots follow a subscribed: the pushes still see it
    }
    for (const h of handlers) h(msg);
  });
  const opened = new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  const call = (op, fields = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    ws.send(JSON.stringify({ op, id, ...fields }));
  });
  return { ws, opened, call, onPush: (h) => handlers.push(h) };
}

async function main() {
  const { ws, opened, call, onPush } = connect();
  const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
  await opened;
  const login = await call("login", { username: env.EXCH_USER, password: env.EXCH_PASSWORD });
  console.log(`logged in as ${login.user} (${login.role})`);

  const book = new Book();
  let orderId = null;
  let finished;
  const done = new Promise((resolve) => { finished = resolve; });
  const early = []; // fills/done can only be ours once we know our order_id: the ack comes first
  onPush((msg) => {
    if (msg.type === "snapshot" && msg.channel === "level3" && msg.symbol === SYMBOL) {
      if (!book.load(msg)) resync();
    } else if (msg.type === "l3" && msg.symbol === SYMBOL) {
      if (!book.apply(msg)) resync();
    } else if (msg.type === "fill" || msg.type === "done") {
      if (orderId === null) early.push(msg); else mine(msg);
    } else if (msg.type === "shutdown") {
      console.log(`server shutting down: ${msg.reason}`);
      finished("shutdown");
    }
  });
  const mine = (msg) => {
    if (msg.order_id !== orderId) return;
    if (msg.type === "fill") console.log(`fill ${msg.qty} @ ${msg.price} (${msg.liquidity}), ${msg.remaining} left`);
    else { console.log(`done: ${msg.reason}`); finished(msg.reason); }
  };
  const resync = () => {
    console.log(`gap at seq ${book.seq}: resubscribing`);
    book.reset();
    call("subscribe", { channels: ["level3"], symbols: [SYMBOL] }).catch((e) => fail(e));
  };

  await call("subscribe", { channels: ["level3"], symbols: [SYMBOL] });
  const ack = await call("order", {
    symbol: SYMBOL,
    side: env.EXCH_SIDE ?? "buy",
    price: Number(env.EXCH_PRICE ?? 100),
    qty: Number(env.EXCH_QTY ?? 1),
    client_order_id: `node-${Date.now()}`,
  });
  orderId = ack.order_id;
  console.log(`ack: order ${ack.order_id} ${ack.status}, ${ack.remaining} open`);
  early.splice(0).forEach(mine);
  if (ack.remaining > 0 && env.EXCH_WAIT !== "1") {
    await call("ping"); // replies come in order: the book has caught up with our order
    const [bids, asks] = [book.levels("buy"), book.levels("sell")].map((l) => JSON.stringify(l));
    console.log(`book ${SYMBOL} seq ${book.seq}: bids ${bids} asks ${asks}`);
  } else {
    await done; // an order with nothing open always gets its done (filled or expired)
  }
  const balance = await call("balance");
  const position = balance.positions[SYMBOL] ?? { qty: 0, held: 0 }; // absent means 0
  console.log(`cash ${balance.cash} (held ${balance.cash_held}), ${SYMBOL} ${position.qty} (held ${position.held})`);
  ws.close(1000);
  await closed;
}

function fail(err) {
  console.error(`error: ${err.message ?? err}`);
  process.exit(1);
}

main().catch(fail);
