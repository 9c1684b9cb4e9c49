// The depth chart: cumulative bid and ask quantity against price, drawn on a canvas.
import { price, qty } from "./money.js";

const BID = "#26a69a";
const ASK = "#ef5350";
const GRID = "#2a2e39";
const TEXT = "#8a8f9c";

/** Cumulative steps of one side's levels ([{price, qty}] best first): [[price, cumulative], ...]. */
export function cumulative(levels) {
  let total = 0;
  return levels.map((l) => [l.price, (total += l.qty)]);
}

export class DepthChart {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.bids = [];
    this.asks = [];
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** Show these levels (best first on each side). */
  set(bids, asks) {
    this.bids = cumulative(bids);
    this.asks = cumulative(asks);
    const total = (s) => (s.length ? s[s.length - 1][1] : 0);
    this.canvas.setAttribute(
      "aria-label",
      `Depth: bids ${this.bids.length} levels ${total(this.bids)} shares` +
        (this.bids.length ? ` from ${price(this.bids[0][0])}` : "") +
        `; asks ${this.asks.length} levels ${total(this.asks)} shares` +
        (this.asks.length ? ` from ${price(this.asks[0][0])}` : ""),
    );
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const hgt = c.clientHeight;
    if (!w || !hgt) return;
    c.width = Math.round(w * dpr);
    c.height = Math.round(hgt * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.font = "11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
    const pad = { l: 8, r: 56, t: 10, b: 20 };
    const pw = w - pad.l - pad.r;
    const ph = hgt - pad.t - pad.b;
    const all = [...this.bids, ...this.asks];
    if (!all.length) {
      g.fillStyle = TEXT;
      g.textAlign = "center";
      g.fillText("no orders on the book", w / 2, hgt / 2);
      return;
    }
    let lo = Math.min(...all.map((p) => p[0]));
    let hi = Math.max(...all.map((p) => p[0]));
    // Centre on the spread so both sides get room.
    const mid = this.bids.length && this.asks.length ? (this.bids[0][0] + this.asks[0][0]) / 2 : (lo + hi) / 2;
    const half = Math.max(mid - lo, hi - mid, 1) * 1.05;
    lo = mid - half;
    hi = mid + half;
    const top = Math.max(...all.map((p) => p[1])) * 1.1;
    const x = (p) => pad.l + ((p - lo) / (hi - lo)) * pw;
    const y = (q) => pad.t + ph - (q / top) * ph;

    g.strokeStyle = GRID;
    g.lineWidth = 1;
    g.fillStyle = TEXT;
    g.textAlign = "left";
    for (let i = 0; i <= 4; i++) {
      const q = (top / 4) * i;
      const yy = Math.round(y(q)) + 0.5;
      g.beginPath();
      g.moveTo(pad.l, yy);
      g.lineTo(pad.l + pw, yy);
      g.stroke();
      if (i > 0) g.fillText(qty(Math.round(q)), pad.l + pw + 6, yy + 4);
    }
    g.textAlign = "center";
    for (let i = 0; i <= 4; i++) {
      const p = lo + ((hi - lo) / 4) * i;
      g.fillText(price(Math.round(p)), Math.min(Math.max(x(p), 24), pad.l + pw - 24), hgt - 5);
    }

    const side = (steps, color, dir) => {
      if (!steps.length) return;
      g.beginPath();
      g.moveTo(x(steps[0][0]), y(0));
      let prev = 0;
      for (const [p, q] of steps) {
        g.lineTo(x(p), y(prev));
        g.lineTo(x(p), y(q));
        prev = q;
      }
      g.lineTo(dir < 0 ? pad.l : pad.l + pw, y(prev));
      g.lineTo(dir < 0 ? pad.l : pad.l + pw, y(0));
      g.closePath();
      g.fillStyle = color + "33";
      g.fill();
      g.strokeStyle = color;
      g.lineWidth = 1.5;
      g.stroke();
    };
    side(this.bids, BID, -1);
    side(this.asks, ASK, 1);
    if (!this.bids.length || !this.asks.length) return; // no spread: no mid line
    g.strokeStyle = "#5d606b";
    g.setLineDash([3, 3]);
    g.beginPath();
    g.moveTo(Math.round(x(mid)) + 0.5, pad.t);
    g.lineTo(Math.round(x(mid)) + 0.5, pad.t + ph);
    g.stroke();
    g.setLineDash([]);
  }
}
