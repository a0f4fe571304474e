// Training jobs: upload a CSV, pick the target from its header, run; the leaderboard,
// metrics, confusion matrix, feature importance chart, and a link to the registered model.
import { api, curlFor, presignedUpload } from "../api.js";
import { barChart } from "../charts.js";
import { busy, errorBox, field, h, num, sentBox, table } from "../dom.js";
import { attached, poll } from "../jobs.js";

const FINISHED = ["SUCCEEDED", "FAILED", "CANCELLED"];
const ALGORITHMS = ["random_forest", "gradient_boosting", "logistic_regression", "ridge", "extra_trees", "knn"];

/** The CSV's header row, as column names. */
function headerOf(text) {
  const line = text.split(/\r?\n/, 1)[0] || "";
  return line.split(",").map((c) => c.trim().replace(/^"|"$/g, "")).filter(Boolean);
}

function resultView(job) {
  const parts = [h("p", {}, "Job ", h("code", {}, job.id), ": ", h("strong", { class: "job-status" }, job.status),
    ` · ${job.progress?.candidates_done ?? 0} of ${job.progress?.candidates_total ?? "?"} candidates`)];
  if (job.reason) parts.push(h("p", { class: "error" }, job.reason));
  if (job.leaderboard?.length) {
    parts.push(h("h3", {}, "Leaderboard"), table(["rank", "algorithm", "parameters", `CV ${job.metric}`, "std", "fit s"],
      job.leaderboard.slice(0, 20).map((c) => [String(c.rank ?? "—"), c.algorithm || "", JSON.stringify(c.params || {}),
        num(c.cv_mean, 4), num(c.cv_std, 2), num(c.fit_time_s, 2)]), "Leaderboard"));
  }
  const metrics = job.metrics;
  if (metrics) {
    const scalars = Object.entries(metrics).filter(([, v]) => typeof v === "number");
    parts.push(h("h3", {}, "Held-out metrics"), table(["metric", "value"], scalars.map(([k, v]) => [k, num(v, 4)]), "Held-out metrics"));
    const confusion = metrics.confusion_matrix;
    if (confusion) {
      parts.push(h("h3", {}, "Confusion matrix (rows: true, columns: predicted)"),
        table(["", ...confusion.labels], confusion.matrix.map((row, i) => [confusion.labels[i], ...row.map(String)]), "Confusion matrix"));
    }
  }
  if (job.feature_importance?.length) {
    const items = job.feature_importance;
    parts.push(h("h3", {}, "Feature importance"), barChart(items.map((f) => f.feature),
      [{ label: "permutation importance", data: items.map((f) => f.importance ?? 0) }], { title: "Permutation importance per column", horizontal: true }));
  }
  if (job.registered) {
    parts.push(h("p", { class: "ok" }, "Registered: ",
      h("a", { href: `#/models/${encodeURIComponent(job.registered.model)}`, class: "registered" },
        `${job.registered.model} version ${job.registered.version}`), " (try it there)."));
  }
  return h("div", { class: "job", "data-status": job.status }, ...parts);
}

/** The training page. */
export async function trainingPage(root) {
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const target = h("select", { name: "target", required: true, disabled: true }, h("option", { value: "" }, "choose a CSV first"));
  const name = h("input", { type: "text", name: "model", required: true, value: "my-model" });
  const task = h("select", { name: "task" }, h("option", { value: "classification" }, "classification"), h("option", { value: "regression" }, "regression"));
  const algorithm = h("select", { name: "algorithm" }, h("option", { value: "" }, "default: a small grid of each"),
    ALGORITHMS.map((a) => h("option", { value: a }, a)));
  const submit = h("button", { type: "submit" }, "Train");
  const errors = errorBox();
  const sent = sentBox();
  const current = h("div", { "aria-live": "polite" });
  let csv = null;
  file.addEventListener("change", async () => {
    csv = file.files[0];
    const columns = csv ? headerOf(await csv.slice(0, 65536).text()) : [];
    target.replaceChildren(...columns.map((c) => h("option", { value: c }, c)));
    target.disabled = !columns.length;
    if (columns.length) target.value = columns.at(-1);
  });
  const form = h("form", { class: "panel", "aria-labelledby": "new-training" }, h("h2", { id: "new-training" }, "New training job"),
    field("CSV file (a header row, then data)", file), field("Target column", target), field("Model name", name),
    field("Task", task), field("Algorithm", algorithm), submit, errors, sent, current);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, errors, async () => {
      const json = { model: name.value, task: task.value, target: target.value };
      if (algorithm.value) json.algorithms = [algorithm.value];
      sent.show(curlFor("POST", "/v1/training-jobs", json));
      const job = await api("/v1/training-jobs", { method: "POST", json });
      current.replaceChildren(resultView(job));
      await presignedUpload(job.upload, csv);
      await poll(`/v1/training-jobs/${job.id}`, (j) => FINISHED.includes(j.status),
        (j) => current.replaceChildren(resultView(j)), { alive: attached(current) });
    });
  });
  const jobs = (await api("/v1/training-jobs?limit=10")).data || [];
  root.append(h("h1", {}, "Training jobs"), form, h("section", { class: "panel", "aria-labelledby": "past" }, h("h2", { id: "past" }, "Your jobs"),
    table(["id", "model", "status", "best"], jobs.map((j) => [h("code", {}, j.id), j.model, j.status, j.best ? `${j.best.algorithm} ${num(j.best.cv_mean, 4)}` : "—"]), "Your training jobs")));
}
