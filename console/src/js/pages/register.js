// Register your own model: create it, upload the ONNX (presigned POST), watch
// VALIDATING -> READY or FAILED with the reason.
import { api, curlFor, presignedUpload } from "../api.js";
import { busy, errorBox, field, h, sentBox } from "../dom.js";
import { attached, poll } from "../jobs.js";

const TASKS = ["tabular-classification", "tabular-regression", "image-classification", "embedding", "object-detection", "custom"];
const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

/** The registration page. */
export function registerPage(root) {
  const name = h("input", { type: "text", name: "name", required: true });
  const task = h("select", { name: "task" }, TASKS.map((t) => h("option", { value: t }, t)));
  const description = h("input", { type: "text", name: "description" });
  const labels = h("input", { type: "text", name: "labels", placeholder: "setosa, versicolor, virginica" });
  const features = h("input", { type: "text", name: "features", placeholder: "x0, x1, x2, x3" });
  const file = h("input", { type: "file", name: "file", accept: ".onnx", required: true });
  const submit = h("button", { type: "submit" }, "Register");
  const errors = errorBox();
  const sent = sentBox();
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "panel" }, field("Name", name, "Lower case letters, digits, dots, dashes."), field("Task", task),
    field("Description", description), field("Labels (classifiers, comma-separated)", labels),
    field("Features (tabular, comma-separated)", features), field("ONNX file", file), submit, errors, sent, status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, errors, async () => {
      const json = { name: name.value, task: task.value };
      if (description.value) json.description = description.value;
      if (labels.value) json.labels = list(labels.value);
      if (features.value) json.features = list(features.value);
      const path = `/v1/models/${encodeURIComponent(name.value)}`;
      sent.show(`${curlFor("POST", "/v1/models", json)}\n\n${curlFor("POST", `${path}/versions`)}`);
      await api("/v1/models", { method: "POST", json }).catch(async (error) => {
        if (error.status !== 409) throw error; // an existing model of yours: add a version
      });
      const version = await api(`${path}/versions`, { method: "POST" });
      status.replaceChildren(h("p", {}, `Version ${version.version}: uploading…`));
      await presignedUpload(version.upload, file.files[0], "model.onnx");
      await poll(`${path}/versions/${version.version}`, (v) => ["READY", "FAILED"].includes(v.status), (v) => {
        status.replaceChildren(h("p", { "data-status": v.status }, `Version ${v.version}: `, h("strong", { class: "version-status" }, v.status)),
          v.reason ? h("p", { class: v.status === "FAILED" ? "error" : "muted" }, v.reason) : null,
          v.status === "READY" ? h("p", {}, h("a", { href: `#/models/${encodeURIComponent(name.value)}` }, `Open ${name.value}`)) : null);
      }, { alive: attached(status) });
    });
  });
  root.append(h("h1", {}, "Register your own model"), form);
}
