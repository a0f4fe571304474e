// Code to call a model, filled with its name: curl, Python `openai` or `tritonclient`.
const EXAMPLES = {
  "embedding": ["hello world"],
  "text-classification": ["I loved it"],
  "image-classification": ["<base64 PNG or JPEG>"],
  "face-detection": ["<base64 PNG or JPEG>"],
  "object-detection": ["<base64 PNG or JPEG>"],
  "ocr": ["<base64 PNG or JPEG>"],
};

function exampleInputs(model) {
  if (EXAMPLES[model.task]) return EXAMPLES[model.task];
  const width = model.features?.length || model.inputs?.[0]?.shape?.at(-1);
  return [new Array(width > 0 ? width : 4).fill(0)];
}

function curl(model, base) {
  if (model.task === "chat") {
    return `curl -s ${base}/v1/chat/completions -H "x-api-key: $KEY" -H 'content-type: application/json' \\\n  -d '${JSON.stringify({ model: model.id, messages: [{ role: "user", content: "Hello!" }] })}'`;
  }
  if (model.task === "speech-recognition") {
    return `curl -s ${base}/v1/audio/transcriptions -H "x-api-key: $KEY" -F model=${model.id} -F file=@speech.wav`;
  }
  return `curl -s ${base}/v1/models/${model.id}/predict -H "x-api-key: $KEY" -H 'content-type: application/json' \\\n  -d '${JSON.stringify({ inputs: exampleInputs(model) })}'`;
}

function python(model, base) {
  const host = base.replace(/^https?:\/\//, "");
  if (["embedding", "chat", "speech-recognition"].includes(model.task)) {
    const call = {
      "embedding": `client.embeddings.create(model="${model.id}", input=["hello world"])`,
      "chat": `client.chat.completions.create(\n    model="${model.id}", messages=[{"role": "user", "content": "Hello!"}]\n)`,
      "speech-recognition": `client.audio.transcriptions.create(model="${model.id}", file=open("speech.wav", "rb"))`,
    }[model.task];
    return `from openai import OpenAI\n\nclient = OpenAI(base_url="${base}/v1", api_key=KEY)\nprint(${call})`;
  }
  const input = model.inputs?.[0] || { name: "input", datatype: "FP32", shape: [-1, 4] };
  const shape = input.shape.map((d) => (d < 0 ? 1 : d));
  const dtype = { FP32: "np.float32", INT64: "np.int64", BYTES: "np.object_" }[input.datatype] || "np.float32";
  return `import numpy as np\nimport tritonclient.http as triton\n\nclient = triton.InferenceServerClient(url="${host}"${base.startsWith("https") ? ", ssl=True" : ""})\n`
    + `tensor = triton.InferInput("${input.name}", ${JSON.stringify(shape)}, "${input.datatype}")\n`
    + `tensor.set_data_from_numpy(np.zeros(${JSON.stringify(shape)}, dtype=${dtype}))\n`
    + `result = client.infer("${model.id}", [tensor], headers={"x-api-key": KEY})\nprint(result.get_response())`;
}

/** Snippets for a model: [[title, code]...]. */
export function snippets(model, base = location.origin) {
  return [["curl", curl(model, base)], ["Python", python(model, base)]];
}
