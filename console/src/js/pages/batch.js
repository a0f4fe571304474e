// Batch jobs: upload a file (the create route answers a presigned POST), watch progress,
// download the output.
import { api, curlFor, presignedUpload } from "../api.js";
import { busy, errorBox, field, h, num, sentBox, table } from "../dom.js";
import { attached, download, modelSelect, poll } from "../jobs.js";

const FINISHED = ["SUCCEEDED", "PARTIALLY_FAILED", "FAILED", "CANCELLED"];
const when = (s) => (s ? new Date(s * 1000).toISOString().replace("T", " ").slice(0, 19) : "—");

function jobView(job) {
  const counts = job.counts || {};
  const view = h("div", { class: "job", "data-status": job.status },
    h("p", {}, "Job ", h("code", {}, job.id), ": ", h("strong", { class: "job-status" }, job.status),
      ` · ${counts.succeeded ?? 0} succeeded, ${counts.failed ?? 0} failed of ${counts.total ?? "?"}`),
    job.error ? h("p", { class: "error" }, typeof job.error === "string" ? job.error : job.error.message) : null);
  if (job.output_url) {
    const errors = errorBox();
    const button = h("button", { type: "button", class: "download" }, "Download output");
    const preview = h("pre", { class: "preview" });
    button.addEventListener("click", () => busy(button, errors, async () => {
      const blob = await download(job.output_url, `${job.id}.jsonl`);
      preview.textContent = (await blob.text()).split("\n").slice(0, 5).join("\n");
    }));
    view.append(button, errors, preview);
  }
  return view;
}

/** The batch jobs page. */
export async function batchPage(root) {
  const model = await modelSelect("model", ["embedding", "text-classification", "tabular-classification", "tabular-regression", "image-classification", "custom"]);
  const format = h("select", { name: "input_format" }, h("option", { value: "jsonl" }, "JSONL"), h("option", { value: "csv" }, "CSV (tabular)"));
  const file = h("input", { type: "file", name: "file", required: true, accept: ".jsonl,.json,.csv,.txt" });
  const submit = h("button", { type: "submit" }, "Start job");
  const errors = errorBox();
  const sent = sentBox();
  const current = h("div", { "aria-live": "polite" });
  const listing = h("div");
  const form = h("form", { class: "panel", "aria-labelledby": "new-job" }, h("h2", { id: "new-job" }, "New job"),
    field("Model", model), field("Input format", format), field("Input file", file,
      'JSONL: one {"id": "r1", "input": ...} per line. CSV: a header row, then numbers.'), submit, errors, sent, current);
  const refresh = async () => {
    const jobs = (await api("/v1/batch-jobs?limit=20")).data || [];
    listing.replaceChildren(table(["id", "model", "status", "rows", "created"], jobs.map((j) => [
      h("code", {}, j.id), j.model, j.status, num(j.counts?.total), when(j.created_at)]), "Your batch jobs"));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, errors, async () => {
      const json = { model: model.value, input_format: format.value };
      sent.show(curlFor("POST", "/v1/batch-jobs", json));
      const job = await api("/v1/batch-jobs", { method: "POST", json });
      current.replaceChildren(jobView(job));
      await presignedUpload(job.upload, file.files[0]);
      await poll(`/v1/batch-jobs/${job.id}`, (j) => FINISHED.includes(j.status),
        (j) => current.replaceChildren(jobView(j)), { alive: attached(current) });
      await refresh();
    });
  });
  root.append(h("h1", {}, "Batch jobs"), form,
    h("section", { class: "panel", "aria-labelledby": "jobs-title" }, h("h2", { id: "jobs-title" }, "Your jobs"), listing));
  await refresh();
}
