// The playground: the public HTTP API only (GET /translate/languages, POST /translate,
// POST /translate/file, POST /summarize, with "stream": true for newline-delimited JSON events).
// Nothing else is fetched.
// The apps' route prefixes come in the page's data attributes (the router fills them in).
"use strict";

const $ = (id) => document.getElementById(id);
const PREFIXES = { translate: document.body.dataset.translate, summarize: document.body.dataset.summarize };
const APP_PATH = (task, path = "") => {
  const prefix = PREFIXES[task];
  if (!prefix) throw new Error(`the ${task === "translate" ? "translation" : "summarization"} app is not deployed`);
  return prefix.replace(/\/$/, "") + path;
};
const LONG_SAMPLE = Array(10).fill("Hello world! Good morning. Thank you very much. How are you?").join(" ");

function requestHeaders(json = true) {
  const headers = { Accept: "application/json, application/x-ndjson" };
  if (json) headers["Content-Type"] = "application/json";
  const key = $("api-key").value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

// The API's own message: every error answer is {"error": "...", "details": [...]}.
async function errorMessage(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && body.error) return `${response.status}: ${body.error}`;
  } catch (_) {
    // not JSON: say what came
  }
  return `${response.status} ${response.statusText}${text ? `: ${text.slice(0, 300)}` : ""}`;
}

// Each line of an application/x-ndjson body, parsed, as it arrives.
async function* ndjsonEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) yield JSON.parse(line);
    }
    if (done) break;
  }
  if (buffer.trim()) yield JSON.parse(buffer);
}

function showModel(task, model, detected) {
  const from = detected ? ` (detected ${detected.language}, confidence ${detected.confidence})` : "";
  $(`${task}-model`).textContent = model ? `answered by ${model}${from}` : "";
  if (model && model.startsWith("demo:")) {
    const banner = $("demo-banner");
    banner.textContent =
      `Demo mode: ${model} answers. The demo models are tiny models built on this machine; they know ` +
      'only a few phrases ("Hello world!" among them). Configure a real model in serve_config.yaml.';
    banner.hidden = false;
  }
}

// One task's run: the UI state around `work`, its errors shown as the API's message.
async function run(task, work) {
  const button = $(`${task}-button`);
  const error = $(`${task}-error`);
  const progress = $(`${task}-progress`);
  error.hidden = true;
  error.textContent = "";
  $(`${task}-output`).textContent = "";
  $(`${task}-model`).textContent = "";
  $(`${task}-status`).textContent = "working…";
  progress.hidden = true;
  button.disabled = true;
  try {
    await work();
    $(`${task}-status`).textContent = "done";
  } catch (exc) {
    error.textContent = exc.message;
    error.hidden = false;
    $(`${task}-status`).textContent = "failed";
  } finally {
    button.disabled = false;
  }
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: requestHeaders(), body: JSON.stringify(body) });
  if (!response.ok) throw new Error(await errorMessage(response));
  return response;
}

// A stream's events, each given to `onEvent`; the `done` event is returned, an `error` event thrown.
async function streamed(response, onEvent) {
  for await (const event of ndjsonEvents(response)) {
    if (event.event === "error") throw new Error(`${event.status}: ${event.error}`);
    if (event.event === "done") return event;
    onEvent(event);
  }
  throw new Error("the stream ended before its answer (no done event): try again");
}

function setProgress(task, done, total, label) {
  const progress = $(`${task}-progress`);
  progress.hidden = false;
  progress.max = total;
  progress.value = done;
  $(`${task}-status`).textContent = label;
}

// A document sent as a file: its translation offered for download (a text shown as text too)
async function translateFile(file) {
  const form = new FormData();
  form.append("file", file);
  for (const [field, id] of [["source_lang", "source-lang"], ["target_lang", "target-lang"]]) {
    if ($(id).value) form.append(field, $(id).value);
  }
  const response = await fetch(APP_PATH("translate", "/file"), {
    method: "POST",
    headers: requestHeaders(false), // the browser writes the multipart Content-Type
    body: form,
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = decodeURIComponent(disposition.split("filename*=UTF-8''")[1] || file.name);
  const blob = await response.blob();
  const link = $("translate-download");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.textContent = `download ${name}`;
  link.hidden = false;
  if (!name.endsWith(".docx")) $("translate-output").textContent = await blob.text();
  const detected = response.headers.get("X-Detected-Language");
  const [language, confidence] = detected ? detected.split("; confidence=") : [];
  showModel("translate", decodeURIComponent(response.headers.get("X-Model") || ""), detected && { language, confidence });
}

async function translate() {
  $("translate-download").hidden = true;
  const file = $("translate-file").files[0];
  if (file) return translateFile(file);
  const format = $("translate-format").value;
  const body = {
    text: $("translate-text").value,
    source_lang: $("source-lang").value || undefined,
    target_lang: $("target-lang").value || undefined,
    format: format === "text" ? undefined : format,
  };
  // a marked-up document is answered whole; its markup is shown as text, never rendered
  if (!$("translate-stream").checked || format !== "text") {
    const answer = await (await post(APP_PATH("translate"), body)).json();
    $("translate-output").textContent = answer.translation;
    showModel("translate", answer.model, answer.detected_language);
    return;
  }
  const output = $("translate-output");
  const done = await streamed(await post(APP_PATH("translate"), { ...body, stream: true }), (event) => {
    output.textContent += event.translation + event.separator;
    setProgress("translate", event.index + 1, event.total, `sentence ${event.index + 1} of ${event.total}`);
  });
  output.textContent = done.translation;
  showModel("translate", done.model, done.detected_language);
}

async function summarize() {
  const body = { text: $("summarize-text").value };
  const maxLength = $("max-length").value.trim();
  if (maxLength) body.max_length = Number(maxLength);
  if (!$("summarize-stream").checked) {
    const answer = await (await post(APP_PATH("summarize"), body)).json();
    $("summarize-output").textContent = answer.summary;
    showModel("summarize", answer.model);
    return;
  }
  const done = await streamed(await post(APP_PATH("summarize"), { ...body, stream: true }), (event) => {
    setProgress("summarize", event.done, event.total, `level ${event.level}: ${event.done} of ${event.total} chunks`);
  });
  $("summarize-output").textContent = done.summary;
  showModel("summarize", done.model);
}

let languages = []; // GET /translate/languages: every source with its targets

function languageOptions(codes) {
  const names = Object.fromEntries(languages.map((language) => [language.code, language.name]));
  return codes.map((code) => new Option(`${names[code] || code} (${code})`, code));
}

function showTargets(preferred) {
  const chosen = $("source-lang").value;
  const source = languages.find((language) => language.code === chosen);
  const select = $("target-lang");
  // detected: any target some source reaches (a pair the text's language cannot reach is a 422)
  const every = [...new Set(languages.flatMap((language) => language.targets))].sort();
  const targets = chosen === "auto" ? every : source ? source.targets : [];
  select.replaceChildren(...languageOptions(targets));
  select.value = targets.includes(preferred) ? preferred : targets[0] || "";
}

async function loadLanguages() {
  const error = $("translate-error");
  let response;
  try {
    response = await fetch(APP_PATH("translate", "/languages"), { headers: requestHeaders() });
    if (!response.ok) throw new Error(await errorMessage(response));
  } catch (exc) {
    error.textContent = `target languages could not be listed: ${exc.message}`;
    error.hidden = false;
    return;
  }
  const answer = await response.json();
  languages = answer.languages;
  $("translate-file").accept = answer.file_types.join(",");
  $("source-lang").replaceChildren(
    new Option("detect", "auto"),
    ...languageOptions(languages.map((language) => language.code)),
  );
  $("source-lang").value = answer.default_source_lang;
  showTargets(answer.default_target_lang);
  error.hidden = true;
  showModel("translate", answer.models[0]);
  $("translate-model").textContent = "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = sessionStorage.getItem("textserve-api-key") || "";
  $("api-key").addEventListener("change", () => {
    sessionStorage.setItem("textserve-api-key", $("api-key").value.trim());
    loadLanguages();
  });
  $("source-lang").addEventListener("change", () => showTargets($("target-lang").value));
  $("translate-format").addEventListener("change", () => {
    const plain = $("translate-format").value === "text";
    $("translate-stream").disabled = !plain; // the API streams plain text only
    if (!plain) $("translate-stream").checked = false;
  });
  $("long-sample").addEventListener("click", () => {
    $("translate-text").value = LONG_SAMPLE;
    $("translate-format").value = "text";
    $("translate-stream").disabled = false;
    $("translate-stream").checked = true;
  });
  $("translate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run("translate", translate);
  });
  $("summarize-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run("summarize", summarize);
  });
  loadLanguages();
});
