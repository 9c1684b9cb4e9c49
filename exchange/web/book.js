// A local level-3 book kept from the public `level3` channel, exactly as docs/protocol.md
// "Building a local book" says: buffer updates until the snapshot, drop those it already
// holds, check that every l3 seq is the previous + 1, and on a gap resubscribe.
// No DOM here: tests run this module under Node.

/** An l3 message whose seq is not the book's seq + 1: something was missed. */
export class GapError extends Error {}

export class L3Book {
  constructor() {
    this.seq = 0;
    /** order_id -> {id, side, price, qty} */
    this.orders = new Map();
    /** side -> (price -> [order_id, ...] in queue order) */
    this.levels = { buy: new Map(), sell: new Map() };
  }

  /** Load a `level3` snapshot (replaces everything). */
  load(snap) {
    this.seq = snap.seq;
    this.orders.clear();
    this.levels.buy.clear();
    this.levels.sell.clear();
    for (const [side, rows] of [["buy", snap.bids ?? []], ["sell", snap.asks ?? []]]) {
      for (const [id, price, qty] of rows) this.#add(id, side, price, qty);
    }
  }

  /** Apply one `l3`; false if the book already has it; throws GapError on a gap. */
  apply(m) {
    if (m.seq <= this.seq) return false;
    if (m.seq !== this.seq + 1) throw new GapError(`l3 ${m.symbol}: expected seq ${this.seq + 1}, got ${m.seq}`);
    this.seq = m.seq;
    switch (m.event) {
      case "open":
        this.#add(m.order_id, m.side, m.price, m.qty);
        break;
      case "match": {
        const o = this.orders.get(m.maker_order_id);
        if (o) {
          o.qty -= m.qty;
          if (o.qty <= 0) this.#remove(o.id);
        }
        break;
      }
      case "change": {
        const o = this.orders.get(m.order_id);
        if (o) o.qty = m.qty;
        break;
      }
      case "done":
        this.#remove(m.order_id);
        break;
    }
    return true;
  }

  #add(id, side, price, qty) {
    this.orders.set(id, { id, side, price, qty });
    const level = this.levels[side].get(price);
    if (level) level.push(id);
    else this.levels[side].set(price, [id]);
  }

  #remove(id) {
    const o = this.orders.get(id);
    if (!o) return;
    this.orders.delete(id);
    const level = this.levels[o.side].get(o.price);
    if (!level) return;
    const i = level.indexOf(id);
    if (i >= 0) level.splice(i, 1);
    if (level.length === 0) this.levels[o.side].delete(o.price);
  }

  /** Prices of a side, best first. */
  prices(side) {
    const ps = [...this.levels[side].keys()];
    return side === "buy" ? ps.sort((a, b) => b - a) : ps.sort((a, b) => a - b);
  }

  /** The best `depth` levels of a side: [{price, qty, orders: [{id, qty}, ...]}], best first. */
  depth(side, depth = Infinity) {
    return this.prices(side).slice(0, depth).map((price) => {
      const orders = this.levels[side].get(price).map((id) => ({ id, qty: this.orders.get(id).qty }));
      return { price, qty: orders.reduce((s, o) => s + o.qty, 0), orders };
    });
  }

  /** Best price of a side (null when empty). */
  best(side) {
    return this.prices(side)[0] ?? null;
  }

  /** Where an order stands in its level: {position (1 = next to trade), of, ahead (qty)} or null. */
  queue(orderId) {
    const o = this.orders.get(orderId);
    if (!o) return null;
    const ids = this.levels[o.side].get(o.price);
    const i = ids.indexOf(orderId);
    let ahead = 0;
    for (let k = 0; k < i; k++) ahead += this.orders.get(ids[k]).qty;
    return { position: i + 1, of: ids.length, ahead };
  }
}

/**
 * The `level3` feed of one symbol: waits for the snapshot (buffering), applies updates, and on a
 * gap marks itself unsynced, counts a resync and calls `resubscribe()` (unsubscribe + subscribe):
 * the next snapshot makes it synced again. While unsynced the book keeps its last contents.
 */
export class BookFeed {
  constructor(symbol, { resubscribe, onChange = () => {} }) {
    this.symbol = symbol;
    this.book = new L3Book();
    this.synced = false;
    this.resyncs = 0;
    this.buffer = [];
    this.resubscribe = resubscribe;
    this.onChange = onChange;
  }

  /** A `snapshot` of channel level3 for this symbol. */
  onSnapshot(snap) {
    this.book.load(snap);
    const buffered = this.buffer;
    this.buffer = [];
    this.synced = true;
    for (const m of buffered) if (!this.#apply(m)) return;
    this.onChange(this);
  }

  /** An `l3` message for this symbol. */
  onL3(m) {
    if (!this.synced) {
      this.buffer.push(m);
      return;
    }
    if (this.#apply(m)) this.onChange(this);
  }

  /** The connection was lost: wait for the snapshot of the next subscription. */
  reset() {
    this.synced = false;
    this.buffer = [];
  }

  #apply(m) {
    try {
      this.book.apply(m);
      return true;
    } catch (e) {
      if (!(e instanceof GapError)) throw e;
      this.synced = false;
      this.buffer = [];
      this.resyncs += 1;
      this.onChange(this);
      this.resubscribe(this.symbol);
      return false;
    }
  }
}
