// exch web client: market view for anyone, trading after login. Talks only the public wire
// protocol (docs/protocol.md) over one WebSocket to the server that served this page.
import { BookFeed } from "./book.js";
import { CandleChart, INTERVALS } from "./candles.js";
import { DepthChart } from "./depth.js";
import { byId, fill, h } from "./dom.js";
import { clock, money, nsOfMs, parsePrice, parseQty, price, qty, until } from "./money.js";
import { ExchError, Wire, sameOriginUrl } from "./wire.js";

const LADDER_DEPTH = 15; // levels shown per side
const DEPTH_LEVELS = 50; // levels per side in the depth chart
const TAPE_KEPT = 80;
const FILLS_KEPT = 200;
const CANDLES_LIMIT = 300;
const TOKEN_KEY = "exch.token";

const S = {
  symbols: new Map(), // symbol -> {symbol, tick, lot, status}
  symbol: null,
  tickers: new Map(), // symbol -> last ticker
  feed: null, // BookFeed of the selected symbol
  tape: [], // trades of the selected symbol, newest first
  user: null,
  role: null,
  orders: [],
  balance: null,
  fills: [], // newest first
  side: "buy",
  intervalS: 60,
  editing: null, // {order_id, price, qty} while an open order is being modified
};

const dirty = new Set();
let frame = 0;
/** Re-render these parts on the next animation frame. */
function touch(...parts) {
  for (const p of parts) dirty.add(p);
  if (!frame) frame = requestAnimationFrame(render);
}

const wire = new Wire(sameOriginUrl(), { onOpen, onPush, onState });
const candleChart = new CandleChart(byId("candles"), byId("candles-empty"));
const depthChart = new DepthChart(byId("depth"));

// ------------------------------------------------------------------ connection

async function onOpen() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    try {
      loggedIn(await wire.request("login", { token }));
    } catch {
      sessionStorage.removeItem(TOKEN_KEY); // expired or revoked: log in with the password
      loggedOut();
    }
  }
  const reply = await wire.request("symbols");
  S.symbols = new Map(reply.symbols.map((s) => [s.symbol, s]));
  const wanted = decodeURIComponent(location.hash.slice(1)).toUpperCase();
  const first = S.symbols.has(wanted) ? wanted : S.symbols.has(S.symbol) ? S.symbol : reply.symbols[0]?.symbol;
  await wire.request("subscribe", { channels: ["ticker"] }); // every symbol, for the tabs
  S.symbol = null;
  if (first) await select(first);
  if (S.user) refreshPrivate();
  touch("tabs", "ticker");
}

function onState(state, why) {
  const el = byId("conn");
  el.dataset.state = state;
  el.textContent = why ? `${state}: ${why}` : state;
  if (state !== "open") S.feed?.reset();
  touch("ladder");
}

function onPush(m) {
  switch (m.type) {
    case "snapshot":
      if (m.channel === "ticker") {
        S.tickers.set(m.symbol, m.ticker);
        touch("tabs", "ticker");
      } else if (m.symbol !== S.symbol) {
        return;
      } else if (m.channel === "level3") {
        S.feed?.onSnapshot(m);
      } else if (m.channel === "trades") {
        S.tape = [...(m.trades ?? [])].reverse();
        touch("tape");
      }
      break;
    case "l3":
      if (m.symbol === S.symbol) S.feed?.onL3(m);
      break;
    case "trade":
      if (m.symbol !== S.symbol) return;
      S.tape.unshift(m);
      S.tape.length = Math.min(S.tape.length, TAPE_KEPT);
      candleChart.addTrade(m);
      touch("tape");
      break;
    case "ticker":
      S.tickers.set(m.symbol, m);
      touch("tabs", "ticker");
      break;
    case "status": {
      const s = S.symbols.get(m.symbol);
      S.symbols.set(m.symbol, { ...s, symbol: m.symbol, status: m.status, tick: m.tick, lot: m.lot });
      touch("tabs", "ticker", "form");
      break;
    }
    case "fill":
      S.fills.unshift(m);
      S.fills.length = Math.min(S.fills.length, FILLS_KEPT);
      touch("fills");
      refreshPrivate();
      break;
    case "done":
      refreshPrivate();
      break;
    case "triggered": // one of my stops: a trade went through its stop price, it entered the market
      say(`stop ${m.order_id} triggered at ${price(m.stop_price)}: ${m.status.replace("_", " ")}`, "ok");
      refreshPrivate();
      break;
    case "shutdown":
      byId("conn").textContent = `server: ${m.reason}`;
      break;
    case "error":
      say(`${m.code}: ${m.message}`, "error");
      break;
  }
}

// ------------------------------------------------------------------ market data

async function select(symbol) {
  if (symbol === S.symbol) return;
  const old = S.symbol;
  S.symbol = symbol;
  S.tape = [];
  S.feed = new BookFeed(symbol, { resubscribe, onChange: () => touch("ladder", "depth", "orders") });
  if (location.hash.slice(1) !== symbol) history.replaceState(null, "", `#${symbol}`);
  touch("tabs", "ticker", "ladder", "depth", "tape", "form", "orders");
  if (old && wire.state === "open") {
    await wire.request("unsubscribe", { channels: ["level3", "trades"], symbols: [old] }).catch(() => {});
  }
  await wire.request("subscribe", { channels: ["level3", "trades"], symbols: [symbol] });
  await loadCandles();
}

/** A gap in level3: unsubscribe and subscribe again; the new snapshot resynchronises the book. */
async function resubscribe(symbol) {
  try {
    await wire.request("unsubscribe", { channels: ["level3"], symbols: [symbol] });
    await wire.request("subscribe", { channels: ["level3"], symbols: [symbol] });
  } catch {
    // the connection dropped: onOpen subscribes again
  }
}

async function loadCandles() {
  const symbol = S.symbol;
  const intervalS = S.intervalS;
  try {
    const r = await wire.request("candles", { symbol, interval_s: intervalS, limit: CANDLES_LIMIT });
    if (symbol === S.symbol && intervalS === S.intervalS) candleChart.load(intervalS, r.candles);
  } catch (e) {
    candleChart.load(intervalS, []);
    if (e instanceof ExchError) say(`candles: ${e.message}`, "error");
  }
}

// ------------------------------------------------------------------ login and private state

function loggedIn(reply) {
  S.user = reply.user;
  S.role = reply.role;
  sessionStorage.setItem(TOKEN_KEY, reply.token);
  touch("who", "form", "balance", "orders");
}

function loggedOut() {
  Object.assign(S, { user: null, role: null, orders: [], balance: null, fills: [], editing: null });
  touch("who", "form", "balance", "orders", "fills", "ladder");
}

byId("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const msg = byId("login-msg");
  msg.textContent = "";
  try {
    loggedIn(await wire.request("login", { username: byId("login-user").value.trim(), password: byId("login-pass").value }));
    byId("login-pass").value = "";
    refreshPrivate();
  } catch (e) {
    msg.textContent = e instanceof ExchError ? e.message : String(e.message ?? e);
  }
});

byId("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  loggedOut();
  wire.restart(); // a connection stays logged in: start an anonymous one
});

let refreshing = null;
let again = false;
/** Ask for open orders and balance (coalesced: at most one round in flight, one queued). */
function refreshPrivate() {
  if (S.role !== "trader") return;
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = Promise.all([wire.request("orders"), wire.request("balance")])
    .then(([o, b]) => {
      S.orders = o.orders;
      S.balance = b;
      touch("orders", "balance", "ladder");
    })
    .catch(() => {})
    .finally(() => {
      refreshing = null;
      if (again) {
        again = false;
        refreshPrivate();
      }
    });
}

// ------------------------------------------------------------------ order entry

const form = byId("order");
const fType = byId("o-type");
const fPrice = byId("o-price");
const fQty = byId("o-qty");
const fTif = byId("o-tif");
const fPost = byId("o-post");
const fStop = byId("o-stop");
const fShow = byId("o-show");
const fUntil = byId("o-until");
/** Order types with a limit price (they may rest, show part of their size and expire on a date). */
const LIMIT_TYPES = ["limit", "stop_limit"];
const STOP_TYPES = ["stop", "stop_limit"];
/** Times in force whose remainder rests on the book (post-only and icebergs need one). */
const RESTING_TIFS = ["gtc", "gtd"];

for (const b of form.querySelectorAll(".side")) {
  b.addEventListener("click", () => {
    S.side = b.dataset.side;
    touch("form");
  });
}
for (const el of [fType, fTif, fPrice, fQty, fPost, fStop, fShow, fUntil]) el.addEventListener("input", () => touch("form"));
let limitTif = "gtc"; // what the person chose for limit orders (market orders cannot be GTC)
fTif.addEventListener("input", () => { if (LIMIT_TYPES.includes(fType.value)) limitTif = fTif.value; });
fType.addEventListener("input", () => { if (LIMIT_TYPES.includes(fType.value)) fTif.value = limitTif; });
fTif.addEventListener("input", () => {
  if (fTif.value === "gtd" && !fUntil.value) { // a start the person edits: one hour from now, to the minute
    const d = new Date(Date.now() + 3600e3 - new Date().getTimezoneOffset() * 60e3);
    fUntil.value = d.toISOString().slice(0, 16);
  }
});

function say(text, kind = "") {
  const el = byId("o-msg");
  el.textContent = text;
  el.className = `msg ${kind}`;
}

/** The order request the form describes; throws Error naming the bad field. */
function orderFromForm() {
  const info = S.symbols.get(S.symbol);
  const type = fType.value;
  const req = { symbol: S.symbol, side: S.side, type, tif: fTif.value };
  const bad = (el, text) => Object.assign(new Error(text), { el });
  const read = (el, parse) => {
    try {
      return parse(el.value);
    } catch (e) {
      throw bad(el, e.message);
    }
  };
  req.qty = read(fQty, parseQty);
  if (info && req.qty % info.lot) throw bad(fQty, `quantity must be a multiple of the lot, ${info.lot}`);
  if (STOP_TYPES.includes(type)) {
    req.stop_price = read(fStop, parsePrice);
    if (info && req.stop_price % info.tick) throw bad(fStop, `stop price must be a multiple of $${price(info.tick)}`);
  }
  if (LIMIT_TYPES.includes(type)) {
    req.price = read(fPrice, parsePrice);
    if (info && req.price % info.tick) throw bad(fPrice, `price must be a multiple of $${price(info.tick)}`);
    if (fPost.checked && type === "limit" && RESTING_TIFS.includes(req.tif)) req.post_only = true;
    if (fShow.value.trim() && RESTING_TIFS.includes(req.tif)) {
      req.display_qty = read(fShow, parseQty);
      if (req.display_qty >= req.qty) throw bad(fShow, "show less than the whole quantity, or leave it empty");
      if (info && req.display_qty % info.lot) throw bad(fShow, `shown quantity must be a multiple of the lot, ${info.lot}`);
    }
  }
  if (req.tif === "gtd") {
    const ms = Date.parse(fUntil.value); // datetime-local: local time
    if (!fUntil.value || Number.isNaN(ms)) throw bad(fUntil, "give the date and time the order expires");
    if (ms <= Date.now()) throw bad(fUntil, "the expiry has passed: give a later time");
    req.expire_ts = nsOfMs(ms);
  }
  return req;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  for (const el of [fPrice, fQty, fStop, fShow, fUntil]) el.classList.remove("invalid");
  let req;
  try {
    req = orderFromForm();
  } catch (e) {
    e.el?.classList.add("invalid");
    e.el?.focus();
    say(e.message, "error");
    return;
  }
  say("sending…");
  try {
    const ack = await wire.request("order", req);
    const left = ack.remaining ? `, ${qty(ack.remaining)} open` : "";
    say(`order ${ack.order_id} ${ack.status.replace("_", " ")}${left}`, "ok");
    fQty.select();
  } catch (e) {
    if (e instanceof ExchError) {
      ({ price: fPrice, qty: fQty, stop_price: fStop, display_qty: fShow, expire_ts: fUntil })[e.field]?.classList.add("invalid");
      say(`${e.code}: ${e.message}`, "error");
    } else say(String(e.message ?? e), "error");
  }
  refreshPrivate();
});

// ------------------------------------------------------------------ open orders

byId("cancel-all").addEventListener("click", () => act("cancel_all", {}));

async function act(op, fields) {
  try {
    const r = await wire.request(op, fields);
    if (op === "cancel") say(`order ${r.order_id} canceled`, "ok");
    else if (op === "cancel_all") say(`${r.count} orders canceled`, "ok");
    else if (op === "replace") say(`order ${r.order_id} replaced: ${r.status.replace("_", " ")}`, "ok");
    if (op === "replace") S.editing = null;
  } catch (e) {
    say(e instanceof ExchError ? `${e.code}: ${e.message}` : String(e.message ?? e), "error");
  }
  refreshPrivate();
}

function replaceEdited() {
  const e = S.editing;
  const o = S.orders.find((x) => x.order_id === e.order_id);
  if (!o) return;
  const fields = { order_id: o.order_id };
  try {
    const q = parseQty(e.qty);
    if (q !== o.remaining) fields.qty = q;
    if (e.price !== undefined) {
      const p = parsePrice(e.price);
      if (p !== o.price) fields.price = p;
    }
    if (e.stop_price !== undefined) {
      const sp = parsePrice(e.stop_price);
      if (sp !== o.stop_price) fields.stop_price = sp;
    }
  } catch (err) {
    say(err.message, "error");
    return;
  }
  if (fields.price === undefined && fields.qty === undefined && fields.stop_price === undefined) {
    S.editing = null;
    touch("orders");
    return;
  }
  act("replace", fields);
}

// ------------------------------------------------------------------ rendering

function render() {
  frame = 0;
  const parts = new Set(dirty);
  dirty.clear();
  if (parts.has("tabs")) renderTabs();
  if (parts.has("ticker")) renderTicker();
  if (parts.has("ladder")) renderLadder();
  if (parts.has("depth") || parts.has("ladder")) renderDepth();
  if (parts.has("tape")) renderTape();
  if (parts.has("who")) renderWho();
  if (parts.has("form")) renderForm();
  if (parts.has("balance")) renderBalance();
  if (parts.has("orders")) renderOrders();
  if (parts.has("fills")) renderFills();
}

function renderTabs() {
  fill(byId("symbols"), [...S.symbols.keys()].sort().map((sym) => {
    const t = S.tickers.get(sym);
    return h("button", { type: "button", class: sym === S.symbol ? "active" : "", onclick: () => select(sym) },
      sym, h("span", { class: "last" }, t?.last != null ? price(t.last) : ""));
  }));
}

function renderTicker() {
  const t = S.tickers.get(S.symbol) ?? {};
  const info = S.symbols.get(S.symbol);
  const kv = (k, v, cls = "") => h("span", {}, h("span", { class: "k" }, k), h("span", { class: cls }, v));
  const spread = t.bid != null && t.ask != null ? price(t.ask - t.bid) : "-";
  fill(byId("ticker"),
    kv("Last", price(t.last)), kv("Bid", price(t.bid), "buy-t"), kv("Ask", price(t.ask), "sell-t"),
    kv("Spread", spread), kv("Volume", qty(t.volume ?? 0)),
    info?.status === "halted" ? h("span", { class: "halted" }, "HALTED") : null);
}

/** My open orders on the selected symbol by side and price. */
function mineAt() {
  const at = new Map();
  for (const o of S.orders) {
    if (o.symbol !== S.symbol) continue;
    const key = `${o.side}:${o.price}`;
    at.set(key, [...(at.get(key) ?? []), o]);
  }
  return at;
}

function renderLadder() {
  const feed = S.feed;
  const el = byId("ladder");
  byId("book-state").textContent = !feed ? "" : feed.synced ? `seq ${feed.book.seq}` : "syncing…";
  el.classList.toggle("stale", !feed?.synced);
  if (!feed) return fill(el);
  const asks = feed.book.depth("sell", LADDER_DEPTH);
  const bids = feed.book.depth("buy", LADDER_DEPTH);
  const mine = mineAt();
  const cum = (levels) => {
    let t = 0;
    return levels.map((l) => (t += l.qty));
  };
  const askCum = cum(asks);
  const bidCum = cum(bids);
  const max = Math.max(1, askCum.at(-1) ?? 0, bidCum.at(-1) ?? 0);
  const row = (l, total, side) => {
    const own = mine.get(`${side}:${l.price}`) ?? [];
    const marks = own.map((o) => {
      const q = feed.book.queue(o.order_id);
      return q ? `${qty(o.remaining)} #${q.position}/${q.of}` : qty(o.remaining);
    });
    return h("div", {
      class: `row ${side === "sell" ? "ask" : "bid"}${own.length ? " own" : ""}`, role: "row",
      dataset: { price: l.price, side, qty: l.qty }, title: "click: use this price",
      onclick: () => { fPrice.value = price(l.price); touch("form"); },
    },
    h("span", { class: "bar" }),
    h("span", { class: "px" }, price(l.price)), h("span", {}, qty(l.qty)), h("span", {}, qty(total)),
    h("span", {}, l.orders.length), h("span", { class: "mine" }, marks.join(" ")));
  };
  const askRows = asks.map((l, i) => row(l, askCum[i], "sell")).reverse();
  const bidRows = bids.map((l, i) => row(l, bidCum[i], "buy"));
  const bb = bids[0]?.price;
  const ba = asks[0]?.price;
  const spread = h("div", { class: "spread" },
    bb != null && ba != null ? `spread ${price(ba - bb)} · mid ${price(Math.round((ba + bb) / 2))}` : "—");
  fill(el, askRows.length || bidRows.length ? [...askRows, spread, ...bidRows] : h("div", { class: "empty" }, "empty book"));
  // Bar widths via the CSSOM (allowed by the page's CSP, unlike style attributes).
  const rows = [...askRows, ...bidRows];
  const totals = [...askCum.slice().reverse(), ...bidCum];
  rows.forEach((r, i) => { r.firstChild.style.width = `${(100 * totals[i]) / max}%`; });
}

function renderDepth() {
  const book = S.feed?.book;
  depthChart.set(book ? book.depth("buy", DEPTH_LEVELS) : [], book ? book.depth("sell", DEPTH_LEVELS) : []);
}

function renderTape() {
  fill(byId("tape"), S.tape.map((t) => h("div", { class: "row", role: "row" },
    h("span", {}, clock(t.ts)),
    h("span", { class: t.taker_side === "buy" ? "buy-t" : "sell-t" }, price(t.price)),
    h("span", {}, qty(t.qty)))));
}

function renderWho() {
  byId("login").hidden = !!S.user;
  byId("who").hidden = !S.user;
  byId("who-name").textContent = S.user ? `${S.user}${S.role === "admin" ? " (admin)" : ""}` : "";
  byId("cancel-all").hidden = S.role !== "trader";
}

function renderForm() {
  const trader = S.role === "trader";
  form.classList.toggle("locked", !trader);
  byId("o-submit").disabled = !trader;
  const type = fType.value;
  const market = !LIMIT_TYPES.includes(type); // market and stop orders: the remainder never rests
  fPrice.disabled = market;
  for (const opt of fTif.options) opt.disabled = market && RESTING_TIFS.includes(opt.value);
  if (market && RESTING_TIFS.includes(fTif.value)) fTif.value = "ioc";
  fPost.disabled = type !== "limit" || !RESTING_TIFS.includes(fTif.value);
  if (fPost.disabled) fPost.checked = false;
  byId("o-stop-row").hidden = !STOP_TYPES.includes(type);
  byId("o-show-row").hidden = market || !RESTING_TIFS.includes(fTif.value);
  byId("o-until-row").hidden = fTif.value !== "gtd";
  for (const b of form.querySelectorAll(".side")) b.classList.toggle("active", b.dataset.side === S.side);
  const submit = byId("o-submit");
  submit.className = `submit ${S.side}`;
  submit.textContent = trader ? `${S.side === "buy" ? "Buy" : "Sell"} ${S.symbol ?? ""}` : S.user ? "Admins cannot trade" : "Log in to trade";
  let est = "";
  try {
    const q = parseQty(fQty.value);
    est = market ? `${qty(q)} at market` : `${S.side === "buy" ? "cost" : "proceeds"} ${money(parsePrice(fPrice.value) * q)}`;
    if (STOP_TYPES.includes(type)) est += ` once a trade prints at ${price(parsePrice(fStop.value))}${S.side === "buy" ? " or above" : " or below"}`;
  } catch {
    est = "";
  }
  byId("o-est").textContent = est;
}

function renderBalance() {
  const b = S.balance;
  const el = byId("balance");
  if (!b) return fill(el, h("span", { class: "muted" }, S.user ? "…" : "Log in to trade."));
  const kv = (k, v) => [h("span", { class: "k" }, k), h("span", { class: "v" }, v)];
  const rows = [kv("Cash", money(b.cash)), kv("Available", money(b.cash - b.cash_held)), kv("Held", money(b.cash_held))];
  for (const [sym, p] of Object.entries(b.positions).sort()) {
    if (p.qty || p.held) rows.push(kv(sym, `${qty(p.qty)} sh${p.held ? ` (${qty(p.held)} held)` : ""}`));
  }
  fill(el, rows.flat());
}

function renderOrders() {
  const tbody = byId("orders");
  const book = S.feed?.book;
  // Rows are rebuilt as the book moves (queue positions): keep the focus of a Modify being typed.
  const active = tbody.contains(document.activeElement) ? document.activeElement : null;
  const focus = active?.getAttribute("aria-label");
  const caret = active?.selectionStart;
  fill(tbody, S.orders.map((o) => {
    const editing = S.editing?.order_id === o.order_id;
    const waiting = o.status === "pending"; // a stop: off the book until a trade goes through its stop price
    const q = o.symbol === S.symbol ? book?.queue(o.order_id) : null;
    const queue = waiting ? "waiting for its trigger" : q ? `#${q.position} of ${q.of} · ${qty(q.ahead)} ahead` : "";
    const kind = [o.type.replace("_", "-"), o.post_only ? "post" : "", o.tif,
      o.display_qty != null ? `show ${qty(o.display_qty)}` : "",
      o.expire_ts != null ? `until ${until(o.expire_ts)}` : ""].filter(Boolean).join(" ");
    const stop = waiting ? `stop ${o.side === "buy" ? "≥" : "≤"} ${price(o.stop_price)}` : "";
    const limit = o.price != null ? price(o.price) : "market";
    const input = (key) => h("input", {
      value: S.editing[key], "aria-label": key,
      oninput: (ev) => { S.editing[key] = ev.target.value; },
      onkeydown: (ev) => { if (ev.key === "Enter") replaceEdited(); if (ev.key === "Escape") { S.editing = null; touch("orders"); } },
    });
    const actions = editing
      ? [h("button", { type: "button", class: "small", onclick: replaceEdited }, "Save"),
         h("button", { type: "button", class: "small", onclick: () => { S.editing = null; touch("orders"); } }, "Back")]
      : [h("button", { type: "button", class: "small", onclick: () => {
          S.editing = { order_id: o.order_id, qty: String(o.remaining) };
          if (o.price != null) S.editing.price = price(o.price);
          if (waiting) S.editing.stop_price = price(o.stop_price);
          touch("orders");
        } }, "Modify"),
         h("button", { type: "button", class: "small", onclick: () => act("cancel", { order_id: o.order_id }) }, "Cancel")];
    const priceCell = editing
      ? [waiting ? input("stop_price") : "", o.price != null ? input("price") : ""]
      : [stop ? h("div", { class: "stop" }, stop) : "", limit];
    return h("tr", { dataset: { orderId: o.order_id } },
      h("td", {}, clock(o.ts)), h("td", {}, `${o.symbol} ${o.order_id}`),
      h("td", { class: o.side === "buy" ? "buy-t" : "sell-t" }, o.side),
      h("td", {}, kind),
      h("td", { class: "num" }, ...priceCell),
      h("td", { class: "num" }, qty(o.qty)),
      h("td", { class: "num" }, editing ? input("qty") : qty(o.remaining)),
      h("td", { class: "muted" }, queue), h("td", {}, actions));
  }));
  if (!S.orders.length) fill(tbody, h("tr", {}, h("td", { colspan: 9, class: "muted" }, S.user ? "no open orders" : "")));
  const again = focus ? tbody.querySelector(`input[aria-label="${focus}"]`) : null;
  if (again) {
    again.focus();
    if (caret != null) again.setSelectionRange(caret, caret);
  }
}

function renderFills() {
  fill(byId("fills"), S.fills.map((f) => h("tr", { dataset: { tradeId: f.trade_id } },
    h("td", {}, clock(f.ts)), h("td", { title: `${f.symbol} order ${f.order_id}, trade ${f.trade_id}` }, f.order_id),
    h("td", { class: f.side === "buy" ? "buy-t" : "sell-t" }, f.side),
    h("td", { class: "num" }, price(f.price)), h("td", { class: "num" }, qty(f.qty)),
    h("td", { class: "muted" }, f.liquidity))));
}

// ------------------------------------------------------------------ start

fill(byId("intervals"), INTERVALS.map(([label, s]) => h("button", {
  type: "button", class: s === S.intervalS ? "active" : "", dataset: { interval: s },
  onclick: (ev) => {
    S.intervalS = s;
    for (const b of byId("intervals").children) b.classList.toggle("active", b === ev.currentTarget);
    loadCandles();
  },
}, label)));
window.addEventListener("hashchange", () => {
  const sym = decodeURIComponent(location.hash.slice(1)).toUpperCase();
  if (S.symbols.has(sym)) select(sym);
});
touch("who", "form", "balance", "orders", "fills", "ladder");
wire.start();
