// Unit tests of the web client's pure modules under Node's test runner (run by test_modules.py,
// which passes the module directory in EXCH_WEB_MODULES: copies named .mjs).
import assert from "node:assert/strict";
import { test } from "node:test";

const dir = process.env.EXCH_WEB_MODULES;
const { BookFeed, GapError, L3Book } = await import(`${dir}/book.mjs`);
const money = await import(`${dir}/money.mjs`);

const snap = (seq, bids, asks) => ({ type: "snapshot", channel: "level3", symbol: "ACME", seq, bids, asks });
const l3 = (seq, event, fields) => ({ type: "l3", symbol: "ACME", seq, event, ...fields });

test("a snapshot then open, match, change and done keep levels and queue positions", () => {
  const book = new L3Book();
  book.load(snap(10, [[1, 10000, 5], [2, 10000, 7], [3, 9990, 1]], [[4, 10100, 3]]));
  assert.deepEqual(book.depth("buy").map((l) => [l.price, l.qty, l.orders.length]), [[10000, 12, 2], [9990, 1, 1]]);
  assert.deepEqual(book.queue(2), { position: 2, of: 2, ahead: 5 });
  book.apply(l3(11, "open", { order_id: 5, side: "buy", price: 10000, qty: 2 }));
  assert.deepEqual(book.queue(5), { position: 3, of: 3, ahead: 12 });
  book.apply(l3(12, "match", { maker_order_id: 1, taker_order_id: 9, side: "buy", price: 10000, qty: 5 }));
  assert.equal(book.orders.has(1), false);
  assert.deepEqual(book.queue(5), { position: 2, of: 2, ahead: 7 });
  book.apply(l3(13, "change", { order_id: 2, side: "buy", price: 10000, qty: 4 }));
  book.apply(l3(14, "done", { order_id: 4, reason: "canceled" }));
  assert.deepEqual(book.depth("buy", 1), [{ price: 10000, qty: 6, orders: [{ id: 2, qty: 4 }, { id: 5, qty: 2 }] }]);
  assert.equal(book.best("sell"), null);
  assert.equal(book.apply(l3(14, "done", { order_id: 2 })), false, "an update the book already has is ignored");
  assert.throws(() => book.apply(l3(16, "done", { order_id: 2 })), GapError);
});

test("updates before the snapshot are buffered; those it already holds are dropped", () => {
  const calls = [];
  const feed = new BookFeed("ACME", { resubscribe: (s) => calls.push(s) });
  feed.onL3(l3(10, "open", { order_id: 1, side: "sell", price: 10100, qty: 1 })); // in the snapshot
  feed.onL3(l3(11, "open", { order_id: 2, side: "sell", price: 10100, qty: 2 }));
  assert.equal(feed.synced, false);
  feed.onSnapshot(snap(10, [], [[1, 10100, 1]]));
  assert.equal(feed.synced, true);
  assert.equal(feed.book.seq, 11);
  assert.deepEqual(feed.book.depth("sell").map((l) => l.qty), [3]);
  assert.deepEqual(calls, []);
});

test("a gap marks the book unsynced, resubscribes once, and the next snapshot resyncs it", () => {
  const calls = [];
  const feed = new BookFeed("ACME", { resubscribe: (s) => calls.push(s) });
  feed.onSnapshot(snap(5, [[1, 10000, 5]], []));
  feed.onL3(l3(6, "change", { order_id: 1, side: "buy", price: 10000, qty: 4 }));
  feed.onL3(l3(8, "done", { order_id: 1 })); // 7 was missed
  assert.deepEqual(calls, ["ACME"]);
  assert.equal(feed.synced, false);
  assert.equal(feed.resyncs, 1);
  assert.equal(feed.book.orders.get(1).qty, 4, "the stale book keeps its last contents");
  feed.onL3(l3(9, "open", { order_id: 2, side: "buy", price: 9990, qty: 1 })); // buffered
  feed.onSnapshot(snap(8, [], []));
  assert.equal(feed.synced, true);
  assert.equal(feed.book.seq, 9);
  assert.deepEqual(feed.book.depth("buy").map((l) => [l.price, l.qty]), [[9990, 1]]);
  assert.deepEqual(calls, ["ACME"]);
});

test("a gap right after the snapshot (among buffered updates) also resubscribes", () => {
  const calls = [];
  const feed = new BookFeed("ACME", { resubscribe: (s) => calls.push(s) });
  feed.onL3(l3(12, "open", { order_id: 3, side: "buy", price: 9990, qty: 1 }));
  feed.onSnapshot(snap(10, [], []));
  assert.deepEqual(calls, ["ACME"]);
  assert.equal(feed.synced, false);
});

test("prices are parsed exactly from text and shown in dollars and cents", () => {
  assert.equal(money.parsePrice("101.25"), 10125);
  assert.equal(money.parsePrice("$1,010.5"), 101050);
  assert.equal(money.parsePrice("0.29"), 29); // 0.29 * 100 is 28.999999999999996 in floats
  assert.equal(money.parsePrice("1.10"), 110);
  assert.equal(money.parsePrice(".5"), 50);
  for (const bad of ["", "abc", "1.005", "-1", "0", "1e3", "1.2.3", "."]) assert.throws(() => money.parsePrice(bad));
  assert.equal(money.parseQty("1,000"), 1000);
  for (const bad of ["", "1.5", "-3", "0", "ten"]) assert.throws(() => money.parseQty(bad));
  assert.equal(money.price(10125), "101.25");
  assert.equal(money.price(5), "0.05");
  assert.equal(money.price(null), "-");
  assert.equal(money.money(123456789), "$1,234,567.89");
  assert.equal(money.money(-150), "-$1.50");
});

test("nanosecond timestamps beyond 2^53 are read at millisecond precision", () => {
  const frame = '{"ts": 1700000000123456789}';
  assert.equal(money.tsMs(JSON.parse(frame).ts), 1700000000123);
});

test("expiries are sent in whole seconds (exact as JSON numbers) and read back as local times", () => {
  const ms = new Date(2031, 4, 6, 7, 8, 9, 500).getTime();
  const ns = money.nsOfMs(ms);
  assert.equal(JSON.stringify({ expire_ts: ns }), `{"expire_ts":${BigInt(Math.floor(ms / 1000)) * 1000000000n}}`);
  assert.equal(money.until(ns, new Date(2031, 4, 6, 1)), "07:08");
  assert.equal(money.until(ns, new Date(2031, 4, 5, 23)), "2031-05-06 07:08");
});
