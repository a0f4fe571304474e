// What the batch, training and registration pages share: the model picker, polling a
// resource until it settles, and uploading through a presigned POST.
import { api } from "./api.js";
import { h, sleep } from "./dom.js";

/** A select of the catalog's models (optionally of some tasks). */
export async function modelSelect(name = "model", tasks) {
  const models = (await api("/v1/models?limit=200")).data.filter((m) => !tasks || tasks.includes(m.task));
  return h("select", { name }, models.map((m) => h("option", { value: m.id }, `${m.id} (${m.task})`)));
}

/** Poll `path` every `everyMs` until `done(resource)`; calls `onUpdate` each time. */
export async function poll(path, done, onUpdate, { everyMs = 1000, timeoutMs = 15 * 60 * 1000, alive = () => true } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && alive()) {
    const resource = await api(path);
    onUpdate(resource);
    if (done(resource)) return resource;
    await sleep(everyMs);
  }
  return null;
}

/** Whether `element` is still on the page (a page left behind stops polling). */
export const attached = (element) => () => element.isConnected;

/** Download `url` as a file named `filename` (fetched, then saved from a blob). */
export async function download(url, filename) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`download failed (HTTP ${response.status})`);
  const blob = await response.blob();
  const link = h("a", { href: URL.createObjectURL(blob), download: filename, hidden: true });
  document.body.append(link);
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  return blob;
}
