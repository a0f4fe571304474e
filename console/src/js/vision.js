// Image panels: drag and drop (or pick) a picture, then top-5 bars, boxes drawn on the
// picture (faces, objects) or boxes and text (OCR); and the 8x8 digits drawing canvas.
import { api, curlFor } from "./api.js";
import { barChart } from "./charts.js";
import { busy, errorBox, field, h, num, sentBox, table, uid } from "./dom.js";

const MAX_IMAGE_BYTES = 4 * 1024 * 1024;

/** A drop zone with a file input; calls `onImage({base64, url, file})`. */
function dropZone(onImage, errors) {
  const input = h("input", { type: "file", accept: "image/png,image/jpeg", class: "visually-hidden" });
  input.id = uid("image");
  const zone = h("div", { class: "drop" },
    h("p", {}, "Drop a PNG or JPEG here, or "),
    h("label", { for: input.id, class: "button-like", tabindex: "0", role: "button" }, "choose a picture"), input);
  const take = async (file) => {
    if (!file) return;
    if (file.size > MAX_IMAGE_BYTES) { errors.show(new Error("The picture is over 4 MB.")); return; }
    const url = await new Promise((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.readAsDataURL(file);
    });
    onImage({ base64: String(url).split(",", 2)[1], url, file });
  };
  input.addEventListener("change", () => take(input.files[0]));
  zone.querySelector("label").addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    take(event.dataTransfer.files[0]);
  });
  return zone;
}

/** Draw the picture with shapes on a canvas; shapes are {points: [[x,y]...], text}. */
async function drawn(url, shapes, label) {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = h("canvas", { width: image.naturalWidth, height: image.naturalHeight, role: "img", "aria-label": label });
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const scale = Math.max(1, image.naturalWidth / 400);
  ctx.lineWidth = 2 * scale;
  ctx.font = `${Math.round(12 * scale)}px sans-serif`;
  for (const shape of shapes) {
    ctx.strokeStyle = "#ff1744";
    ctx.beginPath();
    shape.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.stroke();
    if (shape.text) {
      const [x, y] = shape.points[0];
      ctx.fillStyle = "#ff1744";
      ctx.fillText(shape.text, x + 2, Math.max(12 * scale, y - 4));
    }
  }
  canvas.dataset.shapes = String(shapes.length);
  return h("div", { class: "picture" }, canvas);
}

const rect = ([x1, y1, x2, y2]) => [[x1, y1], [x2, y1], [x2, y2], [x1, y2]];

function topFive(output) {
  const top = (output.top_k || []).slice(0, 5);
  const items = top.length ? top : Object.entries(output.probabilities || {})
    .sort((a, b) => b[1] - a[1]).slice(0, 5).map(([label, score]) => ({ label, score }));
  return h("div", { class: "top5" },
    h("p", { class: "answer" }, h("strong", {}, output.label), ` (${num(output.score)})`),
    barChart(items.map((t) => t.label), [{ label: "score", data: items.map((t) => t.score) }],
      { title: "Top 5 classes", horizontal: true }),
    table(["class", "score"], items.map((t) => [t.label, num(t.score)]), "Top 5 classes"));
}

async function showOutput(task, output, picture) {
  if (task === "face-detection") {
    const faces = output.faces || [];
    return [h("p", { class: "answer" }, `${faces.length} face(s)`),
      await drawn(picture.url, faces.map((f) => ({ points: rect(f.box), text: num(f.score, 2) })), `${faces.length} faces boxed`)];
  }
  if (task === "object-detection") {
    const objects = output.objects || [];
    return [h("p", { class: "answer" }, `${objects.length} object(s)`),
      await drawn(picture.url, objects.map((o) => ({ points: rect(o.box), text: `${o.label} ${num(o.score, 2)}` })), `${objects.length} objects boxed`),
      table(["label", "score", "box"], objects.map((o) => [o.label, num(o.score), o.box.map((v) => Math.round(v)).join(", ")]))];
  }
  if (task === "ocr") {
    const lines = output.lines || [];
    return [await drawn(picture.url, lines.map((l) => ({ points: l.box })), `${lines.length} lines of text boxed`),
      h("pre", { class: "answer" }, output.text || "(no text found)")];
  }
  return [topFive(output)];
}

/** The panel of an image model (classification, faces, objects, OCR). */
export function imagePanel(model) {
  const errors = errorBox();
  const sent = sentBox();
  const result = h("div", { class: "result", "aria-live": "polite" });
  const path = `/v1/models/${encodeURIComponent(model.id)}/predict`;
  const zone = dropZone(async (picture) => {
    result.replaceChildren(h("p", { class: "muted" }, "Running…"));
    const json = { inputs: [picture.base64], ...(model.task === "image-classification" ? { parameters: { top_k: 5 } } : {}) };
    sent.show(curlFor("POST", path, { ...json, inputs: ["<base64 of " + (picture.file.name || "the picture") + ">"] }));
    try {
      const answer = await api(path, { method: "POST", json });
      result.replaceChildren(...await showOutput(model.task, answer.outputs[0], picture));
    } catch (error) {
      result.replaceChildren();
      errors.show(error);
    }
  }, errors);
  return h("section", { class: "panel", "aria-labelledby": "pg-title" },
    h("h2", { id: "pg-title" }, "Try it"), zone, errors, result, sent);
}

/** The digits panel: draw on an 8x8 grid (0..16 ink), then classify. */
export function digitsPanel(model) {
  const size = model.preprocessing?.height || 8;
  const cells = Array.from({ length: size }, () => new Array(size).fill(0));
  const canvas = h("canvas", { class: "draw", width: size * 24, height: size * 24, tabindex: "0",
    "aria-label": `Drawing area, ${size} by ${size} cells: draw with the mouse or a finger, or move with the arrow keys and ink a cell with Space` });
  const cursor = { x: Math.floor(size / 2), y: Math.floor(size / 2), shown: false };
  const ctx = canvas.getContext("2d");
  const paint = () => {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    cells.forEach((row, y) => row.forEach((ink, x) => {
      ctx.fillStyle = `rgba(0,0,0,${ink / 16})`;
      ctx.fillRect(x * 24, y * 24, 24, 24);
    }));
    if (cursor.shown) {
      ctx.strokeStyle = "#fb8c00";
      ctx.lineWidth = 3;
      ctx.strokeRect(cursor.x * 24 + 1.5, cursor.y * 24 + 1.5, 21, 21);
    }
  };
  const MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  canvas.addEventListener("keydown", (event) => {
    if (MOVES[event.key]) {
      cursor.x = Math.min(size - 1, Math.max(0, cursor.x + MOVES[event.key][0]));
      cursor.y = Math.min(size - 1, Math.max(0, cursor.y + MOVES[event.key][1]));
    } else if (event.key === " " || event.key === "Enter") {
      cells[cursor.y][cursor.x] = cells[cursor.y][cursor.x] ? 0 : 16;
    } else {
      return;
    }
    event.preventDefault();
    cursor.shown = true;
    paint();
  });
  canvas.addEventListener("blur", () => { cursor.shown = false; paint(); });
  const ink = (event) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.floor(((event.clientX - box.left) / box.width) * size);
    const y = Math.floor(((event.clientY - box.top) / box.height) * size);
    for (const [dx, dy, amount] of [[0, 0, 16], [1, 0, 6], [-1, 0, 6], [0, 1, 6], [0, -1, 6]]) {
      const row = cells[y + dy];
      if (row && x + dx >= 0 && x + dx < size) row[x + dx] = Math.min(16, row[x + dx] + amount);
    }
    paint();
  };
  let drawing = false;
  canvas.addEventListener("pointerdown", (event) => { drawing = true; canvas.setPointerCapture(event.pointerId); ink(event); });
  canvas.addEventListener("pointermove", (event) => drawing && ink(event));
  canvas.addEventListener("pointerup", () => { drawing = false; });
  paint();
  const errors = errorBox();
  const sent = sentBox();
  const result = h("div", { class: "result", "aria-live": "polite" });
  const path = `/v1/models/${encodeURIComponent(model.id)}/predict`;
  const run = h("button", { type: "button" }, "Classify");
  const clear = h("button", { type: "button", class: "secondary" }, "Clear");
  clear.addEventListener("click", () => { cells.forEach((row) => row.fill(0)); paint(); result.replaceChildren(); });
  run.addEventListener("click", () => busy(run, errors, async () => {
    const json = { inputs: [cells], parameters: { top_k: 5 } };
    sent.show(curlFor("POST", path, json));
    const answer = await api(path, { method: "POST", json });
    result.replaceChildren(topFive(answer.outputs[0]));
  }));
  return h("section", { class: "panel", "aria-labelledby": "pg-title" },
    h("h2", { id: "pg-title" }, "Try it: draw a digit"), canvas, h("div", {}, run, clear), errors, result, sent);
}

