// A playground per task. Each panel shows the request it sent, as curl, to copy.
import { ApiError, api, authHeaders, curlFor, errorWords } from "./api.js";
import { barChart, signColors } from "./charts.js";
import { busy, errorBox, field, h, num, sentBox, table } from "./dom.js";
import { digitsPanel, imagePanel } from "./vision.js";

const predictPath = (model) => `/v1/models/${encodeURIComponent(model.id)}/predict`;
const explainPath = (model) => `/v1/models/${encodeURIComponent(model.id)}/explain`;

function panel(title, ...children) {
  return h("section", { class: "panel", "aria-labelledby": "pg-title" }, h("h2", { id: "pg-title" }, title), ...children);
}

function embeddingPanel(model) {
  const a = h("textarea", { name: "text-a" }, "A cat sits on the mat.");
  const b = h("textarea", { name: "text-b" }, "A kitten is resting on a rug.");
  const run = h("button", { type: "button" }, "Compare");
  const errors = errorBox();
  const sent = sentBox();
  const result = h("p", { class: "answer", "aria-live": "polite" });
  run.addEventListener("click", () => busy(run, errors, async () => {
    const json = { inputs: [a.value, b.value] };
    sent.show(curlFor("POST", predictPath(model), json));
    const [x, y] = (await api(predictPath(model), { method: "POST", json })).outputs.map((o) => o.embedding);
    const cosine = x.reduce((sum, v, i) => sum + v * y[i], 0) / Math.sqrt(x.reduce((s, v) => s + v * v, 0) * y.reduce((s, v) => s + v * v, 0));
    result.textContent = `Cosine similarity: ${cosine.toFixed(4)} (${x.length} dimensions)`;
  }));
  return panel("Try it: two texts", field("First text", a), field("Second text", b), run, errors, result, sent);
}

function sentimentPanel(model) {
  const text = h("textarea", { name: "text" }, "The food was wonderful but the service was terribly slow.");
  const run = h("button", { type: "button" }, "Classify");
  const errors = errorBox();
  const sent = sentBox();
  const result = h("div", { class: "result", "aria-live": "polite" });
  run.addEventListener("click", () => busy(run, errors, async () => {
    const json = { inputs: [text.value] };
    sent.show(`${curlFor("POST", predictPath(model), json)}\n\n${curlFor("POST", explainPath(model), json)}`);
    const [answer, explained] = await Promise.all([
      api(predictPath(model), { method: "POST", json }),
      api(explainPath(model), { method: "POST", json }).catch(() => null),
    ]);
    const output = answer.outputs[0];
    const tokens = explained?.explanations?.[0]?.tokens || [];
    const top = Math.max(1e-9, ...tokens.map((t) => Math.abs(t.attribution)));
    const marked = h("p", { class: "tokens", "aria-label": "Token attributions" });
    let at = 0;
    for (const token of tokens) {
      marked.append(text.value.slice(at, token.start));
      const share = token.attribution / top;
      const color = share >= 0 ? `rgba(10,88,202,${Math.abs(share) * 0.5})` : `rgba(209,36,47,${Math.abs(share) * 0.5})`;
      marked.append(h("mark", { style: `background:${color}`, title: `attribution ${num(token.attribution)}` },
        text.value.slice(token.start, token.end)));
      at = token.end;
    }
    marked.append(text.value.slice(at));
    result.replaceChildren(h("p", {}, "Label: ", h("strong", { class: "label" }, output.label), ` (score ${num(output.score)})`),
      tokens.length ? h("p", { class: "muted" }, "Highlighted: each token's share of the predicted class (blue for, red against).") : null,
      tokens.length ? marked : null);
  }));
  return panel("Try it: a text", field("Text", text), run, errors, result, sent);
}

/** The columns of a tabular model: names, whether each is a string column, and whether the
 * model knows the names (else rows go as arrays in column order, from its input's width). */
function tabularColumns(model, version) {
  const trained = version?.training?.columns || version?.training?.inputs;
  if (Array.isArray(trained) && trained.length) {
    return trained.map((c) => (typeof c === "string" ? { name: c, kind: "number", named: true }
      : { name: c.name, kind: c.type === "string" ? "string" : "number", named: true }));
  }
  if (model.features?.length) return model.features.map((name) => ({ name, kind: "number", named: true }));
  const width = model.inputs?.[0]?.shape?.at(-1);
  return width > 0 ? Array.from({ length: width }, (_, i) => ({ name: `x${i}`, kind: "number", named: false })) : [];
}

function tabularPanel(model, version) {
  const columns = tabularColumns(model, version);
  const inputs = columns.map((c) => h("input", { type: c.kind === "number" ? "number" : "text", step: "any", name: c.name, "data-feature": c.name }));
  const run = h("button", { type: "submit" }, "Predict");
  const errors = errorBox();
  const sent = sentBox();
  const result = h("div", { class: "result", "aria-live": "polite" });
  const form = h("form", {}, h("div", { class: "grid" }, columns.map((c, i) => field(c.name, inputs[i]))), run);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(run, errors, async () => {
      const values = columns.map((c, i) => (inputs[i].value === "" ? null : c.kind === "number" ? Number(inputs[i].value) : inputs[i].value));
      const row = columns[0].named ? Object.fromEntries(columns.map((c, i) => [c.name, values[i]])) : values;
      const json = { inputs: [row] };
      sent.show(`${curlFor("POST", predictPath(model), json)}\n\n${curlFor("POST", explainPath(model), json)}`);
      const answer = await api(predictPath(model), { method: "POST", json });
      const output = answer.outputs[0];
      const parts = [output.label !== undefined
        ? h("p", {}, "Label: ", h("strong", { class: "label" }, output.label), ` (score ${num(output.score)})`)
        : h("p", {}, "Value: ", h("strong", { class: "label" }, num(output.value, 6)))];
      const explained = await api(explainPath(model), { method: "POST", json }).catch((error) => error);
      const attributions = explained?.explanations?.[0]?.attributions;
      if (attributions) {
        const values = attributions.map((a) => a.attribution);
        parts.push(barChart(attributions.map((a) => a.feature), [{ label: "attribution", data: values, colors: signColors(values) }],
          { title: `Why: each feature's Shapley value (${explained.explanations[0].method || "explanation"})`, horizontal: true }),
        table(["feature", "value", "attribution"], attributions.map((a) => [a.feature, String(a.value), num(a.attribution)]), "Attributions"));
      } else if (explained instanceof ApiError) {
        parts.push(h("p", { class: "muted" }, `No explanation: ${explained.message}`));
      }
      result.replaceChildren(...parts);
    });
  });
  if (!columns.length) return panel("Try it", h("p", {}, "This model declares no features."));
  return panel("Try it: one row", form, errors, result, sent);
}

/** Server-sent events from a fetch response: each `data:` payload, as it arrives. */
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) if (line.startsWith("data:")) yield line.slice(5).trim();
    }
  }
}

function chatPanel(model) {
  const messages = [];
  const log = h("div", { class: "chat-log", role: "log", "aria-label": "Conversation", "aria-live": "polite" });
  const prompt = h("textarea", { name: "prompt" }, "What is the capital of France?");
  const send = h("button", { type: "submit" }, "Send");
  const errors = errorBox();
  const sent = sentBox();
  const form = h("form", {}, field("Message", prompt), send);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(send, errors, async () => {
      messages.push({ role: "user", content: prompt.value });
      log.append(h("p", {}, h("strong", {}, "You: "), prompt.value));
      const json = { model: model.id, messages, stream: true, max_tokens: 64 };
      sent.show(curlFor("POST", "/v1/chat/completions", json));
      const response = await fetch("/v1/chat/completions", {
        method: "POST", headers: { ...authHeaders(), "content-type": "application/json" }, body: JSON.stringify(json),
      });
      if (!response.ok) throw new ApiError(response.status, errorWords(await response.json().catch(() => null), response.status));
      const reply = h("span", { class: "reply" });
      log.append(h("p", {}, h("strong", {}, "Model: "), reply));
      for await (const data of events(response)) {
        if (data === "[DONE]") break;
        const delta = JSON.parse(data).choices?.[0]?.delta?.content;
        if (delta) reply.textContent += delta;
      }
      messages.push({ role: "assistant", content: reply.textContent });
      prompt.value = "";
    });
  });
  return panel("Try it: chat (streamed)", log, form, errors, sent);
}

function transcriptionPanel(model) {
  const file = h("input", { type: "file", accept: "audio/*", name: "file" });
  const format = h("select", { name: "response_format" }, ["json", "text", "verbose_json", "srt", "vtt"].map((f) => h("option", { value: f }, f)));
  const run = h("button", { type: "submit" }, "Transcribe");
  const errors = errorBox();
  const sent = sentBox();
  const result = h("pre", { class: "answer", "aria-live": "polite" });
  const form = h("form", {}, field("Audio file", file), field("Response format", format), run);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(run, errors, async () => {
      if (!file.files[0]) throw new Error("Choose an audio file first.");
      const data = new FormData();
      data.append("model", model.id);
      data.append("response_format", format.value);
      data.append("file", file.files[0]);
      sent.show(`curl -s -X POST '${location.origin}/v1/audio/transcriptions' -H "authorization: Bearer $TOKEN" \\\n  -F model=${model.id} -F response_format=${format.value} -F file=@${file.files[0].name}`);
      const response = await fetch("/v1/audio/transcriptions", { method: "POST", headers: authHeaders(), body: data });
      const text = await response.text();
      if (!response.ok) throw new ApiError(response.status, errorWords(JSON.parse(text || "null"), response.status));
      result.textContent = format.value === "json" ? JSON.parse(text).text : text;
    });
  });
  return panel("Try it: transcribe", form, errors, result, sent);
}

function customPanel(model) {
  const body = h("textarea", { name: "body", rows: "6" }, JSON.stringify({ inputs: [[0, 0, 0, 0]] }));
  const run = h("button", { type: "button" }, "Send");
  const errors = errorBox();
  const sent = sentBox();
  const result = h("pre", { class: "answer", "aria-live": "polite" });
  run.addEventListener("click", () => busy(run, errors, async () => {
    const json = JSON.parse(body.value);
    sent.show(curlFor("POST", predictPath(model), json));
    result.textContent = JSON.stringify(await api(predictPath(model), { method: "POST", json }), null, 1);
  }));
  return panel("Try it: a JSON body", field("Request body", body), run, errors, result, sent);
}

/** The playground panel for a model's task. */
export function playground(model, version) {
  const small = model.preprocessing?.height && model.preprocessing.height <= 16;
  switch (model.task) {
    case "embedding": return embeddingPanel(model);
    case "text-classification": return sentimentPanel(model);
    case "tabular-classification":
    case "tabular-regression": return tabularPanel(model, version);
    case "image-classification": return small || model.id === "digits-cnn" ? digitsPanel(model) : imagePanel(model);
    case "face-detection":
    case "object-detection":
    case "ocr": return imagePanel(model);
    case "chat": return chatPanel(model);
    case "speech-recognition": return transcriptionPanel(model);
    default: return customPanel(model);
  }
}
