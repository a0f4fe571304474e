// The API client: the login token lives in sessionStorage (never localStorage); API keys are
// never stored. Every call goes to the console's own origin (same origin as the API).

const TOKEN = "aiaas.token";
const EMAIL = "aiaas.email";
const EXPIRES = "aiaas.expires";

export const session = {
  get token() {
    const expires = Number(sessionStorage.getItem(EXPIRES) || 0);
    if (expires && Date.now() > expires) this.clear();
    return sessionStorage.getItem(TOKEN);
  },
  get email() { return sessionStorage.getItem(EMAIL) || ""; },
  start(token, email, expiresIn) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(EMAIL, email);
    sessionStorage.setItem(EXPIRES, String(Date.now() + (expiresIn - 10) * 1000));
  },
  clear() {
    for (const name of [TOKEN, EMAIL, EXPIRES]) sessionStorage.removeItem(name);
  },
};

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** The API's own words for an error body, whichever shape it came in. */
export function errorWords(body, status) {
  if (body && typeof body === "object") {
    const error = body.error;
    if (error && typeof error === "object" && error.message) return error.message;
    if (typeof error === "string") return error;
    if (typeof body.detail === "string") return body.detail;
    if (typeof body.message === "string") return body.message;
  }
  return `HTTP ${status}`;
}

/** Headers of a call: the login token as bearer (unless `anonymous`). */
export function authHeaders(anonymous = false) {
  const token = session.token;
  return !anonymous && token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * Call the API; the parsed JSON body (null for 204). Throws ApiError with the API's message.
 * A 401 on a guarded call ends the session (the token expired) and shows the login page.
 */
export async function api(path, { method = "GET", json, body, headers = {}, anonymous = false } = {}) {
  const init = { method, headers: { ...authHeaders(anonymous), ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["content-type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
  if (!response.ok) {
    if (response.status === 401 && !anonymous) {
      session.clear();
      window.dispatchEvent(new Event("aiaas:logged-out"));
    }
    throw new ApiError(response.status, errorWords(parsed, response.status), parsed);
  }
  return parsed;
}

/** A curl command for a call, to copy: the token stays a `$TOKEN` placeholder. */
export function curlFor(method, path, json, { anonymous = false } = {}) {
  const parts = [`curl -s -X ${method} '${location.origin}${path}'`];
  if (!anonymous) parts.push(`-H "authorization: Bearer $TOKEN"`);
  if (json !== undefined) {
    parts.push("-H 'content-type: application/json'");
    const text = JSON.stringify(json);
    parts.push(`-d '${text.length > 4000 ? text.slice(0, 4000) + "…" : text.replaceAll("'", "'\\''")}'`);
  }
  return parts.join(" \\\n  ");
}

/**
 * Upload a file with a presigned POST form (S3): the form's fields first, the file last.
 * Resolves when S3 accepted it; throws with S3's own message otherwise.
 */
export async function presignedUpload(form, file, filename) {
  const data = new FormData();
  for (const [name, value] of Object.entries(form.fields)) data.append(name, value);
  data.append("file", file, filename || file.name || "upload");
  const response = await fetch(form.url, { method: "POST", body: data });
  if (!response.ok) {
    const text = await response.text();
    const message = /<Message>(.*?)<\/Message>/s.exec(text)?.[1] || `upload refused (HTTP ${response.status})`;
    throw new ApiError(response.status, message, text);
  }
}
