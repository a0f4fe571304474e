// Charts with Chart.js (bundled from npm into vendor/, loaded by index.html). Each chart is a
// canvas with a text label for screen readers; the numbers are also on the page as text.
import { h } from "./dom.js";

const live = new Set();
const PALETTE = ["#0a58ca", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0969da"];

/** Destroy the charts of the previous page. */
export function destroyCharts() {
  for (const chart of live) chart.destroy();
  live.clear();
}

function make(kind, labels, datasets, { title, horizontal = false, stacked = false, yLabel } = {}) {
  const canvas = h("canvas", { role: "img", "aria-label": title });
  const box = h("div", { class: "chart" }, canvas);
  if (!window.Chart) return box; // the page still shows its numbers as text
  const axis = { stacked, beginAtZero: true, title: yLabel ? { display: true, text: yLabel } : undefined };
  const chart = new window.Chart(canvas, {
    type: kind,
    data: {
      labels,
      datasets: datasets.map((set, i) => ({
        backgroundColor: set.colors || PALETTE[i % PALETTE.length],
        borderColor: PALETTE[i % PALETTE.length],
        ...set,
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      indexAxis: horizontal ? "y" : "x",
      plugins: { title: { display: Boolean(title), text: title }, legend: { display: datasets.length > 1 } },
      scales: horizontal ? { x: axis, y: { stacked } } : { x: { stacked }, y: axis },
    },
  });
  live.add(chart);
  return box;
}

/** A bar chart; `datasets` are {label, data}. */
export const barChart = (labels, datasets, options) => make("bar", labels, datasets, options);

/** A line chart; `datasets` are {label, data}. */
export const lineChart = (labels, datasets, options) => make("line", labels, datasets, options);

/** Colors for signed values (positive blue, negative red). */
export const signColors = (values) => values.map((v) => (v >= 0 ? "#0a58ca" : "#d1242f"));
