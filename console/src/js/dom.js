// Small DOM helpers: elements, labelled fields, copy buttons, tables and announcements.

/** Create an element: h("button", {type: "button", onclick}, "text", child...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let ids = 0;
/** A unique element id. */
export const uid = (prefix = "f") => `${prefix}-${++ids}`;

/** A label and its control, linked by id. */
export function field(labelText, control, hint) {
  control.id ||= uid();
  const parts = [h("label", { for: control.id }, labelText), control];
  if (hint) {
    const hintId = uid("hint");
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("div", { id: hintId, class: "muted" }, hint));
  }
  return h("div", { class: "field" }, ...parts);
}

/** Say something to screen readers (the page's polite live region). */
export function announce(text) {
  const region = document.getElementById("status");
  if (region) region.textContent = text;
}

/** A button that copies `text()` (or a string) to the clipboard. */
export function copyButton(text, label = "Copy") {
  const button = h("button", { type: "button", class: "secondary" }, label);
  button.addEventListener("click", async () => {
    const value = typeof text === "function" ? text() : text;
    try {
      await navigator.clipboard.writeText(value);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    announce("Copied to the clipboard");
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}

/** The request a panel sent, as curl, with a copy button. */
export function sentBox() {
  const pre = h("pre", { class: "request", "aria-label": "Request sent" });
  const box = h("details", { class: "sent" }, h("summary", {}, "Request sent"), pre,
    copyButton(() => pre.textContent, "Copy request"));
  box.show = (curl) => { pre.textContent = curl; box.hidden = false; box.open = true; };
  box.hidden = true;
  return box;
}

/** An element for errors, announced when set. */
export function errorBox() {
  const box = h("p", { class: "error", role: "alert" });
  box.show = (error) => { box.textContent = error ? (error.message || String(error)) : ""; };
  return box;
}

/** A table from rows of cells; `head` names the columns. */
export function table(head, rows, caption) {
  return h("div", { class: "scroll" }, h("table", {},
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, head.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell)))))));
}

/** Format a number for people (up to `digits` significant digits). */
export function num(value, digits = 3) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value !== "number") return String(value);
  return Number(value.toPrecision(digits)).toLocaleString("en-US");
}

/** Run `work` with `button` disabled; errors go to `errors`. */
export async function busy(button, errors, work) {
  button.disabled = true;
  errors?.show(null);
  try {
    return await work();
  } catch (error) {
    errors?.show(error);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/** Wait `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
