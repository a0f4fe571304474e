// The console's router: hash routes (#/models, #/models/iris-rf, #/keys ...), so the same
// static files work from the local stack, an S3 bucket or CloudFront with no rewrite rules.
import { session } from "./api.js";
import { destroyCharts } from "./charts.js";
import { h } from "./dom.js";
import { loginPage, signupPage } from "./pages/auth.js";
import { batchPage } from "./pages/batch.js";
import { keysPage } from "./pages/keys.js";
import { modelPage } from "./pages/model.js";
import { modelsPage } from "./pages/models.js";
import { registerPage } from "./pages/register.js";
import { trainingPage } from "./pages/training.js";
import { usagePage } from "./pages/usage.js";

const PUBLIC = { login: loginPage, signup: signupPage };
const PAGES = {
  models: modelsPage,
  model: modelPage,
  keys: keysPage,
  usage: usagePage,
  batch: batchPage,
  training: trainingPage,
  register: registerPage,
};
let generation = 0; // a page that finishes loading after the user moved on is dropped

function parse() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "models" && parts[1]) return { page: "model", args: parts.slice(1) };
  return { page: parts[0] || "models", args: parts.slice(1) };
}

function chrome(loggedIn) {
  document.getElementById("nav").hidden = !loggedIn;
  document.getElementById("who").hidden = !loggedIn;
  document.getElementById("who-email").textContent = session.email;
  const current = location.hash.split("/").slice(0, 2).join("/");
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function render() {
  const mine = ++generation;
  let { page, args } = parse();
  const loggedIn = Boolean(session.token);
  if (!loggedIn && !PUBLIC[page]) {
    page = "login";
  } else if (loggedIn && PUBLIC[page]) {
    location.hash = "#/models";
    return;
  }
  chrome(loggedIn);
  destroyCharts();
  const main = document.getElementById("main");
  const view = PUBLIC[page] || PAGES[page];
  if (!view) {
    main.replaceChildren(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/models" }, "Models")));
    return;
  }
  const content = h("div", { class: "page", "data-page": page });
  main.replaceChildren(content);
  try {
    await view(content, ...args);
  } catch (error) {
    if (mine === generation) {
      if (!content.querySelector("h1")) content.prepend(h("h1", {}, "Something went wrong"));
      content.append(h("p", { class: "error", role: "alert" }, error.message));
    }
  }
  if (mine === generation) {
    document.title = `${content.querySelector("h1")?.textContent || "aiaas"} · aiaas console`;
    main.focus({ preventScroll: true });
  }
}

document.getElementById("logout").addEventListener("click", () => {
  session.clear();
  location.hash = "#/login";
  render();
});
window.addEventListener("aiaas:logged-out", () => { if (location.hash !== "#/login") location.hash = "#/login"; });
window.addEventListener("hashchange", render);
render();
