// One WebSocket to the exchange speaking protocol v1 (docs/protocol.md): requests matched to
// replies by id, pushed messages to listeners, reconnects with backoff.

/** A refused request: the server's error code, message and field. */
export class ExchError extends Error {
  constructor(msg) {
    super(msg.message);
    this.code = msg.code;
    this.field = msg.field;
  }
}

/** The WebSocket URL of the server that served this page (same origin: wss on https). */
export function sameOriginUrl(loc = window.location) {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/ws`;
}

export class Wire {
  /**
   * @param {string} url wss://HOST:PORT/ws
   * @param {{onOpen?: () => void, onPush?: (msg: object) => void, onState?: (state: string, why?: string) => void}} hooks
   *   onOpen runs after every (re)connect: log in and subscribe there.
   */
  constructor(url, hooks) {
    this.url = url;
    this.hooks = hooks;
    this.nextId = 1;
    this.pending = new Map();
    this.ws = null;
    this.backoff = 500;
    this.stopped = false;
    this.state = "closed";
  }

  start() {
    this.stopped = false;
    this.#connect();
  }

  #setState(state, why) {
    this.state = state;
    this.hooks.onState?.(state, why);
  }

  #connect() {
    this.#setState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 500;
      this.#setState("open");
      this.hooks.onOpen?.();
    };
    ws.onmessage = (ev) => this.#onFrame(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      for (const { reject } of this.pending.values()) reject(new Error("connection closed"));
      this.pending.clear();
      if (this.stopped) return;
      if (ev.code === 1008) {
        this.#setState("closed", ev.reason || "closed by the server (policy)");
        return; // disabled user: do not reconnect automatically
      }
      this.#setState("reconnecting", ev.reason || `closed (${ev.code})`);
      setTimeout(() => this.#connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  #onFrame(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    const waiter = msg.id !== undefined && msg.id !== null ? this.pending.get(msg.id) : undefined;
    if (waiter) {
      this.pending.delete(msg.id);
      if (msg.type === "error") waiter.reject(new ExchError(msg));
      else waiter.resolve(msg);
      return;
    }
    this.hooks.onPush?.(msg);
  }

  /** Send {op, ...fields}; resolve with the reply, reject with ExchError on `error`. */
  request(op, fields = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error("not connected"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ op, id, ...fields }));
    });
  }

  /** Close for good (no reconnect). */
  stop() {
    this.stopped = true;
    this.ws?.close(1000);
    this.#setState("closed");
  }

  /** Drop the connection and open a new one (e.g. to log out). */
  restart() {
    const old = this.ws;
    this.ws = null;
    old?.close(1000);
    for (const { reject } of this.pending.values()) reject(new Error("connection closed"));
    this.pending.clear();
    this.#connect();
  }
}
