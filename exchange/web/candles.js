// OHLC candles: history from the server's `candles` query, then every `trade` folded in live.
import { CandlestickSeries, ColorType, HistogramSeries, createChart } from "./vendor/lightweight-charts.mjs";
import { price, tsMs } from "./money.js";

export const INTERVALS = [
  ["1m", 60],
  ["5m", 300],
  ["15m", 900],
  ["1h", 3600],
  ["1D", 86400],
];

/** The start (s since the epoch) of the interval holding a wire timestamp (ns). */
export function bucket(ts, intervalS) {
  const s = Math.floor(tsMs(ts) / 1000);
  return s - (s % intervalS);
}

export class CandleChart {
  /**
   * @param {HTMLElement} el where the chart goes
   * @param {HTMLElement} empty shown while there is no candle
   */
  constructor(el, empty) {
    this.el = el;
    this.empty = empty;
    this.intervalS = 60;
    this.bars = new Map(); // time (s) -> {time, open, high, low, close, volume}
    this.chart = createChart(el, {
      autoSize: true,
      // No logo: it injects an inline <style>, which the page's CSP refuses; index.html credits
      // TradingView with a link next to the chart instead.
      layout: {
        background: { type: ColorType.Solid, color: "#131722" }, textColor: "#8a8f9c", fontSize: 11,
        attributionLogo: false,
      },
      grid: { vertLines: { color: "#1e222d" }, horzLines: { color: "#1e222d" } },
      rightPriceScale: { borderColor: "#2a2e39" },
      timeScale: { borderColor: "#2a2e39", timeVisible: true, secondsVisible: false, barSpacing: 9, rightOffset: 4 },
      crosshair: { mode: 0 },
    });
    this.series = this.chart.addSeries(CandlestickSeries, {
      upColor: "#26a69a", downColor: "#ef5350", wickUpColor: "#26a69a", wickDownColor: "#ef5350",
      borderVisible: false, priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "", priceFormat: { type: "volume" }, color: "#3a3f4b",
      lastValueVisible: false, priceLineVisible: false,
    });
    this.volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  }

  /** Replace the history: candles from the `candles` reply (prices in cents, ts in ns). */
  load(intervalS, candles) {
    this.intervalS = intervalS;
    this.bars.clear();
    for (const c of candles) {
      const time = bucket(c.ts, intervalS);
      this.bars.set(time, { time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });
    }
    const sorted = [...this.bars.values()].sort((a, b) => a.time - b.time);
    this.series.setData(sorted.map(dollars));
    this.volume.setData(sorted.map(vol));
    this.chart.timeScale().scrollToRealTime();
    this.#label();
  }

  /** Fold one `trade` message into its candle. */
  addTrade(t) {
    const time = bucket(t.ts, this.intervalS);
    const last = [...this.bars.keys()].pop();
    if (last !== undefined && time < last) return; // older than what is drawn: history has it
    let bar = this.bars.get(time);
    if (!bar) {
      bar = { time, open: t.price, high: t.price, low: t.price, close: t.price, volume: 0 };
      this.bars.set(time, bar);
    }
    bar.high = Math.max(bar.high, t.price);
    bar.low = Math.min(bar.low, t.price);
    bar.close = t.price;
    bar.volume += t.qty;
    this.series.update(dollars(bar));
    this.volume.update(vol(bar));
    this.#label();
  }

  #label() {
    const bars = [...this.bars.values()];
    const last = bars[bars.length - 1];
    this.empty.hidden = bars.length > 0;
    this.el.setAttribute(
      "aria-label",
      `Candles: ${bars.length}` + (last ? `, last close ${price(last.close)} volume ${last.volume}` : ""),
    );
  }
}

function dollars(b) {
  return { time: b.time, open: b.open / 100, high: b.high / 100, low: b.low / 100, close: b.close / 100 };
}

function vol(b) {
  return { time: b.time, value: b.volume, color: b.close >= b.open ? "#26a69a55" : "#ef535055" };
}
