// Metrics: response-time percentiles, throughput by status class and memory, one point a
// minute from `GET /apps/{app}/metrics`, drawn as inline SVG with a marker at each release.

import { api, seg } from "./api.js";
import { h, replace, s, say } from "./dom.js";

const REFRESH_MS = 15000;
const W = 600, H = 220, LEFT = 52, RIGHT = 12, TOP = 12, BOTTOM = 26;

/** The metrics of `name` in `root`, refreshed every 15 s; gives back what stops it. */
export function metricsView(root, name) {
  const range = h("select", { id: "metrics-since" },
    [["1h", "Last hour"], ["6h", "Last 6 hours"], ["24h", "Last 24 hours"]].map(([v, t]) => h("option", { value: v }, t)));
  const charts = h("div", { class: "charts", id: "charts", "aria-busy": "true" });
  const load = async () => {
    try {
      const [metrics, releases] = await Promise.all([
        api("GET", `/apps/${seg(name)}/metrics?since=${range.value}`),
        api("GET", `/apps/${seg(name)}/releases`, undefined, { range: "version ..; max=200, order=desc" }),
      ]);
      draw(charts, metrics, releases);
    } catch (error) {
      say(error.message, "error");
    }
    charts.removeAttribute("aria-busy");
  };
  range.addEventListener("change", load);
  replace(root,
    h("form", { class: "row" }, h("label", { for: "metrics-since" }, "Period "), range,
      h("span", { class: "muted" }, "One point a minute; dashed lines are releases.")),
    charts);
  load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}

function draw(root, metrics, releases) {
  const points = metrics.points.map((p) => ({ ...p, t: Date.parse(p.time) }));
  const from = Date.parse(metrics.since);
  const markers = releases.map((r) => ({ t: Date.parse(r.created_at), label: `v${r.version}` }))
    .filter((m) => m.t >= from);
  // To the end of the last closed minute, or further to a release made in the minute running now.
  const to = Math.max(Date.parse(metrics.until) + 60000, ...markers.map((m) => m.t));
  const pick = (f) => points.map((p) => [p.t, f(p)]);
  const ms = (k) => pick((p) => (p.response_time_ms ? p.response_time_ms[k] : null));
  replace(root,
    chart("chart-latency", "Response time (ms)", from, to, markers,
      [["p50", ms("p50")], ["p95", ms("p95")], ["p99", ms("p99")]]),
    chart("chart-throughput", "Throughput (requests a minute, by status)", from, to, markers,
      ["2xx", "3xx", "4xx", "5xx"].map((k) => [k, pick((p) => p.requests[k])])),
    chart("chart-memory", "Memory (MiB)", from, to, markers,
      [["memory", pick((p) => p.memory_bytes / 1048576)]]));
}

/** One chart: a figure holding an SVG of `series` ([label, [[time, value|null]…]]). */
function chart(id, title, from, to, markers, series) {
  const values = series.flatMap(([, pts]) => pts.map(([, v]) => v)).filter((v) => v !== null && v !== undefined);
  const max = nice(Math.max(0, ...values));
  const x = (t) => LEFT + ((t - from) / Math.max(1, to - from)) * (W - LEFT - RIGHT);
  const y = (v) => TOP + (1 - v / max) * (H - TOP - BOTTOM);
  const latest = series.map(([label, pts]) => {
    const last = [...pts].reverse().find(([, v]) => v !== null && v !== undefined);
    return `${label} ${last ? round(last[1]) : "none"}`;
  }).join(", ");
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}; latest: ${latest}` },
    [0, 0.5, 1].map((f) => [
      s("line", { class: "axis", x1: LEFT, x2: W - RIGHT, y1: y(max * f), y2: y(max * f) }),
      s("text", { x: LEFT - 6, y: y(max * f) + 3, "text-anchor": "end" }, round(max * f)),
    ]),
    s("text", { x: LEFT, y: H - 8 }, clock(from)),
    s("text", { x: W - RIGHT, y: H - 8, "text-anchor": "end" }, clock(to)),
    markers.map((m) => [
      s("line", { class: "deploy", x1: x(m.t), x2: x(m.t), y1: TOP, y2: H - BOTTOM }),
      s("text", { class: "deploy-label", x: x(m.t) + 3, y: TOP + 9 }, m.label),
    ]),
    series.map(([label, pts], i) => {
      const known = pts.filter(([, v]) => v !== null && v !== undefined);
      return s("g", { class: `c${i}`, "data-series": label },
        s("polyline", { class: "series", points: known.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }),
        known.map(([t, v]) => s("circle", { class: "point", cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5, "data-value": v },
          s("title", {}, `${label} ${round(v)} at ${clock(t)}`))));
    }));
  return h("figure", { id },
    h("figcaption", {}, title), svg,
    h("ul", { class: "legend" }, series.map(([label], i) =>
      h("li", {}, h("span", { class: `swatch c${i}`, "aria-hidden": "true" }), label))));
}

/** A round upper bound for the axis: 1, 2 or 5 times a power of ten. */
function nice(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value);
}

function round(v) {
  return Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 10) / 10;
}

function clock(t) {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
