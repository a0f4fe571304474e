// The catalog as cards, filterable by task: task, quality, latency at batch 1 and 32, cost.
import { api } from "../api.js";
import { field, h, num } from "../dom.js";

const COUNTS = /^(n|runs|size|bytes|rows|count|images|lines|faces|texts|tokens|candidates|reference_lines|exact_lines|kept)$|^ms_/i;

/** Numbers of one level of a quality record, as "name value" (counts left out). */
const numbersOf = (record) => Object.entries(record || {})
  .filter(([key, value]) => typeof value === "number" && !COUNTS.test(key))
  .map(([key, value]) => `${key.replaceAll("_", " ")} ${num(value)}`);

/** A short line from a model's quality record (the model page shows more): its metric for
 * int8 and fp32, else its own numbers, else those of the variant it serves. */
export function qualitySummary(quality, variant, limit = 2) {
  if (!quality || typeof quality !== "object") return "—";
  const named = ["int8", "fp32"].filter((v) => typeof quality[v] === "number");
  if (typeof quality.metric === "string" && named.length) {
    return `${quality.metric}: ${named.map((v) => `${v} ${num(quality[v])}`).join(", ")}`;
  }
  const found = [...numbersOf(quality), ...numbersOf(quality[variant]), ...numbersOf(quality.fp32)];
  return found.length ? [...new Set(found)].slice(0, limit).join("; ") : "—";
}

/** Latency (p50 ms) at a batch size, from the catalog's latency profile. */
export const p50 = (latency, batch) => latency?.p50_ms?.[String(batch)];

/** The cost line of a model: per 1M predictions (or generated tokens for chat). */
export function costText(latency) {
  if (!latency) return "—";
  if (latency.cost_per_million_output_tokens_usd !== undefined) {
    return `$${num(latency.cost_per_million_output_tokens_usd)} / 1M output tokens`;
  }
  if (latency.cost_per_audio_hour_usd !== undefined) return `$${num(latency.cost_per_audio_hour_usd)} / hour of audio`;
  if (latency.cost_per_million_usd === undefined || latency.cost_per_million_usd === null) return "—";
  const batched = latency.cost_per_million_batched_usd;
  return `$${num(latency.cost_per_million_usd)} (batched: ${batched ? "$" + num(batched) : "—"})`;
}

function card(model) {
  const latency = model.latency || {};
  return h("li", { class: "card", "data-model": model.id },
    h("h2", {}, h("a", { href: `#/models/${encodeURIComponent(model.id)}` }, model.id)),
    h("p", {}, h("span", { class: "tag" }, model.task), " ", model.visibility === "private" ? "yours" : ""),
    model.description ? h("p", { class: "muted" }, model.description) : null,
    h("dl", {},
      h("dt", {}, "Quality"), h("dd", {}, qualitySummary(model.quality, latency.variant)),
      h("dt", {}, "p50, batch 1"), h("dd", {}, p50(latency, 1) !== undefined ? `${num(p50(latency, 1))} ms` : "—"),
      h("dt", {}, "p50, batch 32"), h("dd", {}, p50(latency, 32) !== undefined ? `${num(p50(latency, 32))} ms` : "—"),
      h("dt", {}, "Cost / 1M"), h("dd", {}, costText(latency))));
}

/** The models page. */
export async function modelsPage(root) {
  root.append(h("h1", {}, "Models"));
  const models = (await api("/v1/models?limit=200")).data;
  const tasks = [...new Set(models.map((m) => m.task))].sort();
  const filter = h("select", { name: "task" }, h("option", { value: "" }, "All tasks"),
    tasks.map((task) => h("option", { value: task }, task)));
  const list = h("ul", { class: "grid", "aria-label": "Models", style: "list-style: none; padding: 0" });
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const show = () => {
    const shown = models.filter((m) => !filter.value || m.task === filter.value);
    list.replaceChildren(...shown.map(card));
    count.textContent = `${shown.length} of ${models.length} models`;
  };
  filter.addEventListener("change", show);
  root.append(h("div", { class: "row" }, field("Task", filter)), count, list);
  show();
}
