// API keys: create (the secret shown once, with a copy button), list, revoke. The console
// never stores a key: it calls the API with the login token.
import { api, curlFor } from "../api.js";
import { announce, busy, copyButton, errorBox, field, h, sentBox, table } from "../dom.js";

const SCOPES = ["predict", "models:read", "models:write", "batch", "training", "keys:manage"];
const when = (seconds) => (seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 16) : "—");

/** The keys page. */
export async function keysPage(root) {
  const name = h("input", { type: "text", name: "name", required: true, value: "my app" });
  const days = h("input", { type: "number", name: "expires_in_days", min: "1", placeholder: "never" });
  const boxes = SCOPES.map((scope) => h("input", { type: "checkbox", name: "scope", value: scope, checked: ["predict", "models:read"].includes(scope) }));
  const scopes = h("fieldset", {}, h("legend", {}, "Scopes"),
    boxes.map((box) => h("label", { style: "font-weight: normal; display: inline-block; margin-right: 1em" }, box, " ", box.value)));
  const submit = h("button", { type: "submit" }, "Create key");
  const errors = errorBox();
  const sent = sentBox();
  const secret = h("div", { "aria-live": "polite" });
  const listing = h("div");
  const form = h("form", { class: "panel", "aria-labelledby": "new-key" }, h("h2", { id: "new-key" }, "New key"),
    field("Name", name), scopes, field("Expires in days", days, "Empty: the key does not expire."), submit, errors, secret, sent);

  const refresh = async () => {
    const keys = (await api("/v1/keys")).data;
    listing.replaceChildren(table(["name", "prefix", "scopes", "created", "last used", "expires", "state", h("span", { class: "visually-hidden" }, "actions")],
      keys.map((key) => [key.name, h("code", {}, key.prefix), key.scopes.join(" "), when(key.created_at), when(key.last_used_at),
        when(key.expires_at), key.revoked_at ? "revoked" : "active",
        key.revoked_at ? "" : h("button", { type: "button", class: "danger", "data-key": key.id,
          "aria-label": `Revoke ${key.name} (${key.prefix})`, onclick: (event) => revoke(event.currentTarget, key) }, "Revoke")]), "Your API keys"));
  };
  const revoke = (button, key) => busy(button, errors, async () => {
    if (!window.confirm(`Revoke ${key.name} (${key.prefix})? Calls with it stop within 30 seconds.`)) return;
    sent.show(curlFor("DELETE", `/v1/keys/${key.id}`));
    await api(`/v1/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
    announce(`Key ${key.name} revoked`);
    await refresh();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, errors, async () => {
      const json = { name: name.value, scopes: boxes.filter((b) => b.checked).map((b) => b.value) };
      if (days.value) json.expires_in_days = Number(days.value);
      sent.show(curlFor("POST", "/v1/keys", json));
      const created = await api("/v1/keys", { method: "POST", json });
      secret.replaceChildren(h("div", { class: "secret" },
        h("p", {}, h("strong", {}, "Copy the key now: "), "it is shown once and the console does not keep it."),
        h("code", { class: "new-key" }, created.key), " ", copyButton(created.key, "Copy key")));
      await refresh();
    });
  });
  root.append(h("h1", {}, "API keys"), form, h("section", { class: "panel", "aria-labelledby": "your-keys" },
    h("h2", { id: "your-keys" }, "Your keys"), listing));
  await refresh();
}
