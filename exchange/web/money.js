// Prices and cash are integer cents on the wire (10125 is $101.25); a person types and reads
// dollars and cents. Parsing is done on the text, never through floats.
// Timestamps are integer nanoseconds since the epoch, beyond 2^53: JSON.parse rounds them to
// the nearest double (within 256 ns), so this client reads them at millisecond precision only.

const GROUP = new Intl.NumberFormat("en-US");

/** 10125 -> "101.25" ("-" for null); grouped: "1,234.50". */
export function price(cents, grouped = false) {
  if (cents === null || cents === undefined) return "-";
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100);
  const frac = String(abs % 100).padStart(2, "0");
  return `${sign}${grouped ? GROUP.format(whole) : whole}.${frac}`;
}

/** Cash with thousands separators and a dollar sign: 123456789 -> "$1,234,567.89". */
export function money(cents) {
  return cents < 0 ? `-$${price(-cents, true)}` : `$${price(cents, true)}`;
}

/** A quantity with thousands separators ("-" for null). */
export function qty(n) {
  return n === null || n === undefined ? "-" : GROUP.format(n);
}

/** "101.25" or "$1,010.5" -> 10125 / 101050 cents. Throws Error with a readable message. */
export function parsePrice(text) {
  const raw = String(text).trim().replace(/^\$/, "").replace(/,/g, "");
  if (raw === "") throw new Error("enter a price");
  const m = /^(\d*)(?:\.(\d*))?$/.exec(raw);
  if (!m || (m[1] === "" && (m[2] ?? "") === "")) throw new Error(`'${String(text).trim()}' is not a price`);
  const frac = (m[2] ?? "").replace(/0+$/, "");
  if (frac.length > 2) throw new Error(`${raw} has more than 2 decimals (whole cents only)`);
  const cents = Number(m[1] || "0") * 100 + Number(frac.padEnd(2, "0"));
  if (!Number.isSafeInteger(cents)) throw new Error(`${raw} is too large`);
  if (cents <= 0) throw new Error("the price must be positive");
  return cents;
}

/** "1,000" -> 1000. Throws Error unless a positive whole number. */
export function parseQty(text) {
  const raw = String(text).trim().replace(/[,_]/g, "");
  if (raw === "") throw new Error("enter a quantity");
  if (!/^\d+$/.test(raw)) throw new Error(`'${String(text).trim()}' is not a whole number of shares`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${raw} is too large`);
  if (n <= 0) throw new Error("the quantity must be positive");
  return n;
}

/** A wire timestamp (ns) as milliseconds since the epoch. */
export function tsMs(ts) {
  return Math.floor(Number(ts) / 1e6);
}

/** Wall time HH:MM:SS (local) of a wire timestamp. */
export function clock(ts) {
  const d = new Date(tsMs(ts));
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** When an order expires, as a person reads it: HH:MM today (local), else YYYY-MM-DD HH:MM. */
export function until(ts, now = new Date()) {
  const d = new Date(tsMs(ts));
  const p = (n) => String(n).padStart(2, "0");
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return d.toDateString() === now.toDateString() ? hm : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}`;
}

/** A wire timestamp (ns) for a time in ms: whole seconds, so the JSON number is exact past 2^53. */
export function nsOfMs(ms) {
  return Math.floor(ms / 1000) * 1e9;
}
