// Usage per day and model, as a chart and a table (GET /v1/usage).
import { api } from "../api.js";
import { barChart } from "../charts.js";
import { busy, errorBox, field, h, table } from "../dom.js";

const iso = (date) => date.toISOString().slice(0, 10);

/** The usage page. */
export async function usagePage(root) {
  const today = new Date();
  const start = h("input", { type: "date", name: "start", value: iso(new Date(today.getTime() - 29 * 86400000)) });
  const end = h("input", { type: "date", name: "end", value: iso(today) });
  const show = h("button", { type: "submit" }, "Show");
  const errors = errorBox();
  const out = h("div", { "aria-live": "polite" });
  const load = async () => {
    const report = await api(`/v1/usage?start=${start.value}&end=${end.value}`);
    const days = Object.keys(report.by_day);
    const models = Object.keys(report.by_model);
    const cell = new Map();
    for (const row of report.rows) {
      const k = `${row.day}|${row.model}`;
      cell.set(k, (cell.get(k) || 0) + row.requests);
    }
    out.replaceChildren(
      h("p", { class: "usage-total" }, `${report.total} requests from ${report.start} to ${report.end}`),
      days.length ? barChart(days, models.map((m) => ({ label: m, data: days.map((d) => cell.get(`${d}|${m}`) || 0) })),
        { title: "Requests per day and model", stacked: true }) : h("p", { class: "muted" }, "No requests in this range."),
      table(["day", "model", "requests"], [...cell.entries()].sort().map(([k, v]) => [...k.split("|"), String(v)]), "Requests per day and model"));
  };
  const form = h("form", { class: "panel row" }, field("From", start), field("To", end), show);
  form.addEventListener("submit", (event) => { event.preventDefault(); busy(show, errors, load); });
  root.append(h("h1", {}, "Usage"), form, errors, out);
  await load();
}
