// A model's page: versions and their status, tensors, snippets to call it, its metrics
// (requests, errors, p50/p99 latency), drift where known, and the playground.
import { ApiError, api } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { copyButton, h, num, table } from "../dom.js";
import { playground } from "../playground.js";
import { snippets } from "../snippets.js";
import { costText, p50, qualitySummary } from "./models.js";

function tensors(title, list) {
  return list?.length ? [h("h3", {}, title), table(["name", "datatype", "shape"],
    list.map((t) => [t.name, t.datatype, JSON.stringify(t.shape)]), title)] : [];
}

async function metricsSection(name) {
  const section = h("section", { class: "panel", "aria-labelledby": "metrics-title" }, h("h2", { id: "metrics-title" }, "Metrics (your calls, last 24 hours)"));
  try {
    const report = await api(`/v1/models/${encodeURIComponent(name)}/metrics?granularity=hour`);
    const periods = report.data || [];
    const total = report.total || {};
    const errorsOf = (entry) => Object.values(entry.errors || {}).reduce((a, b) => a + b, 0);
    section.append(h("p", { class: "metrics-total" }, `${total.requests || 0} requests, ${errorsOf(total)} errors, p50 ${num(total.latency_ms?.p50)} ms, p99 ${num(total.latency_ms?.p99)} ms`));
    if (periods.length) {
      const labels = periods.map((p) => String(p.period).replace(/^\d{4}-/, ""));
      section.append(
        barChart(labels, [{ label: "requests", data: periods.map((p) => p.requests) }, { label: "errors", data: periods.map(errorsOf) }], { title: "Requests and errors per hour" }),
        lineChart(labels, [{ label: "p50 ms", data: periods.map((p) => p.latency_ms?.p50 ?? null) }, { label: "p99 ms", data: periods.map((p) => p.latency_ms?.p99 ?? null) }], { title: "Latency per hour (ms)", yLabel: "ms" }));
    }
  } catch (error) {
    section.append(h("p", { class: "muted" }, error.message));
  }
  return section;
}

async function driftSection(name) {
  const section = h("section", { class: "panel", "aria-labelledby": "drift-title" }, h("h2", { id: "drift-title" }, "Drift"));
  try {
    const reports = (await api(`/v1/models/${encodeURIComponent(name)}/drift`)).data || [];
    const known = reports.filter((r) => r.report);
    if (!known.length) section.append(h("p", { class: "muted" }, "No drift report yet (reports need a baseline and captured requests)."));
    for (const entry of known) {
      const report = entry.report;
      section.append(h("p", {}, `Version ${entry.version}: ${report.rows} rows, drifted: ${(report.drifted || []).join(", ") || "none"}`),
        table(["feature", "type", "statistic", "p-value", "PSI", "drift"], (report.features || []).map((f) => [
          f.name, f.type, num(f.ks?.statistic ?? f.chi2?.statistic), num(f.ks?.p_value ?? f.chi2?.p_value), num(f.psi), f.drift ? "yes" : "no"]), "Drift by feature"));
    }
  } catch (error) {
    section.append(h("p", { class: "muted" }, error instanceof ApiError && error.status === 404 ? "Drift is reported to a model's owner only." : error.message));
  }
  return section;
}

/** The model page. */
export async function modelPage(root, name) {
  const path = `/v1/models/${encodeURIComponent(name)}`;
  const [model, versions] = await Promise.all([api(path), api(`${path}/versions`).catch(() => ({ data: [] }))]);
  const list = versions.data || [];
  const current = list.find((v) => String(v.version) === String(model.default_version)) || list[0];
  const latency = model.latency || {};
  const parts = [
    h("h1", {}, model.id),
    h("p", {}, h("span", { class: "tag" }, model.task), " ", model.description || ""),
    h("dl", { class: "facts" },
      h("dt", {}, "Visibility"), h("dd", {}, model.visibility || "—"),
      h("dt", {}, "Runtime"), h("dd", {}, model.runtime || "cpu"),
      h("dt", {}, "Default version"), h("dd", {}, String(model.default_version ?? "—")),
      h("dt", {}, "Quality"), h("dd", {}, qualitySummary(model.quality, latency.variant, 4)),
      h("dt", {}, "p50 latency"), h("dd", {}, `batch 1: ${num(p50(latency, 1))} ms; batch 32: ${num(p50(latency, 32))} ms`),
      h("dt", {}, "Cost / 1M"), h("dd", {}, costText(latency))),
    h("details", {}, h("summary", {}, "Quality and latency records"),
      h("pre", {}, JSON.stringify({ quality: model.quality, latency: model.latency }, null, 1))),
    playground(model, current),
    h("section", { class: "panel", "aria-labelledby": "versions-title" }, h("h2", { id: "versions-title" }, "Versions"),
      table(["version", "status", "reason", "variant", "size"], list.map((v) => [String(v.version), v.status, v.reason || "",
        v.latency?.variant || (v.variants ? Object.keys(v.variants).join(", ") : ""), v.size ? `${num(v.size / 1e6)} MB` : ""]), "Versions"),
      ...tensors("Inputs", model.inputs), ...tensors("Outputs", model.outputs)),
    h("section", { class: "panel", "aria-labelledby": "code-title" }, h("h2", { id: "code-title" }, "Call it"),
      snippets(model).map(([title, code]) => h("div", {}, h("h3", {}, title), h("pre", {}, code), copyButton(code, `Copy ${title}`)))),
    await metricsSection(name),
    model.visibility === "public" ? null : await driftSection(name)];
  root.append(...parts.filter(Boolean));
}
