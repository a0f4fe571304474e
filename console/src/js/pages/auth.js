// Sign up and log in. Errors are shown as the API words them (weak password, email taken,
// logins locked for a while).
import { api, curlFor, session } from "../api.js";
import { busy, errorBox, field, h } from "../dom.js";

function credentialsForm(title, submitText, onSubmit, footer) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", {
    type: "password", name: "password", required: true,
    autocomplete: submitText === "Sign up" ? "new-password" : "current-password",
  });
  const errors = errorBox();
  const submit = h("button", { type: "submit" }, submitText);
  const form = h("form", { class: "panel", "aria-labelledby": "auth-title" },
    field("Email", email),
    field("Password", password, submitText === "Sign up" ? "12 to 256 characters." : undefined),
    submit, errors, footer);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, errors, () => onSubmit(email.value.trim(), password.value, errors));
  });
  return [h("h1", { id: "auth-title" }, title), form];
}

async function login(email, password) {
  const token = await api("/v1/auth/login", { method: "POST", json: { email, password }, anonymous: true });
  session.start(token.access_token, email, token.expires_in);
  location.hash = "#/models";
}

/** The login page. */
export function loginPage(root) {
  root.append(...credentialsForm("Log in", "Log in", login,
    h("p", {}, "No account yet? ", h("a", { href: "#/signup" }, "Sign up"), ".")));
}

/** The signup page: creates the account, then logs in. */
export function signupPage(root) {
  const sent = h("pre", { hidden: true });
  root.append(...credentialsForm("Sign up", "Sign up", async (email, password) => {
    sent.textContent = curlFor("POST", "/v1/auth/signup", { email, password: "…" }, { anonymous: true });
    await api("/v1/auth/signup", { method: "POST", json: { email, password }, anonymous: true });
    await login(email, password);
  }, h("p", {}, "Have an account? ", h("a", { href: "#/login" }, "Log in"), ".")), sent);
}
