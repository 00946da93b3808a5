// equispec serve: the page. Talks to /api only; draws with the plotly.js the server ships.
"use strict";

const state = { jobs: new Map(), shown: null, polling: new Set() };
const $ = (id) => document.getElementById(id);

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  let body = null;
  try { body = await response.json(); } catch (e) { body = { error: `the server answered ${response.status}` }; }
  return { ok: response.ok, status: response.status, body };
}

async function loadOptions() {
  const { ok, body } = await api("/api/options");
  if (!ok) { showError(body.error); return; }
  $("version").textContent = `(version ${body.version})`;
  for (const [id, values] of [["model", body.models], ["mode", body.modes]]) {
    $(id).replaceChildren(...values.map((v) => new Option(v, v)));
  }
  state.defaultPotentials = body.default_potentials;
  $("potential").replaceChildren(new Option("the model's default", ""), ...body.potentials.map((v) => new Option(v, v)));
  $("mp-id-label").hidden = !body.mp_ids;
  $("structure").accept = body.structure_suffixes.join(",");
  $("measured").accept = body.measured_suffixes.join(",");
  syncPotential();
}

function syncPotential() {
  // the default is the potential the model's hybrid was fitted with; XAS models have no physics modes
  const fallback = (state.defaultPotentials || {})[$("model").value];
  $("potential").options[0].text = fallback ? `default (${fallback})` : "none (fast mode only)";
  $("potential").disabled = $("mode").value === "fast" || !fallback;
}

function jobLabel(job) {
  const names = (job.names || []).join(", ") || "job";
  return `${names} · ${job.mode || ""}`;
}

function renderJob(job) {
  let item = document.getElementById(`job-${job.id}`);
  if (!item) {
    item = document.createElement("li");
    item.id = `job-${job.id}`;
    item.innerHTML = '<span class="label"></span><progress max="1"></progress><span class="stage"></span>' +
      '<button type="button" class="cancel">Cancel</button>';
    item.querySelector(".label").addEventListener("click", () => showResult(job.id));
    item.querySelector(".cancel").addEventListener("click", () => cancelJob(job.id));
    $("jobs").prepend(item);
  }
  item.className = job.status;
  item.dataset.status = job.status;
  item.querySelector(".label").textContent = jobLabel(job);
  item.querySelector("progress").value = job.progress;
  item.querySelector(".stage").textContent = job.status === "failed" ? job.error
    : FINISHED.includes(job.status) ? job.status : `${job.status}: ${job.stage}`;
  item.querySelector(".cancel").hidden = FINISHED.includes(job.status);
}

const FINISHED = ["done", "failed", "cancelled"];

function remember(job, names, mode) {
  const known = state.jobs.get(job.id) || { names, mode };
  if (FINISHED.includes(known.status) && !FINISHED.includes(job.status)) return known;  // a poll sent before a cancel
  Object.assign(known, job);
  state.jobs.set(job.id, known);
  renderJob(known);
  return known;
}

async function poll(id) {
  if (state.polling.has(id)) return;
  state.polling.add(id);
  while (true) {
    const { ok, body } = await api(`/api/jobs/${id}`);
    if (!ok) { showError(body.error); break; }
    const job = remember(body);
    if (FINISHED.includes(job.status)) {
      if (job.status === "done" && (state.shown === null || state.shown === id)) showResult(id);
      if (job.status === "failed" && state.shown === id) showError(job.error);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  state.polling.delete(id);
}

async function cancelJob(id) {
  const { ok, body } = await api(`/api/jobs/${id}`, { method: "DELETE" });
  if (!ok) { showError(body.error); return; }
  remember(body);
}

function showResult(id) {
  const job = state.jobs.get(id);
  state.shown = id;
  if (!job || job.status !== "done") return;
  const result = job.result;
  showError("");
  $("result").hidden = false;
  $("result").dataset.job = id;
  $("result-title").textContent = result.action === "compare" ? "Comparison" : "Prediction";
  const fill = (listId, lines) => $(listId).replaceChildren(...(lines || []).filter(Boolean).map((line) => {
    const li = document.createElement("li"); li.textContent = line; return li;
  }));
  fill("summary", result.summary);
  fill("reliability", result.reliability);
  fill("notes", result.notes);
  const body = $("scores").querySelector("tbody");
  body.replaceChildren();
  if (result.scores) {
    for (const [key, value] of Object.entries(result.scores)) {
      if (typeof value !== "number") continue;
      const row = body.insertRow();
      row.dataset.score = key;
      row.dataset.value = String(value);  // the full number; the cell shows six digits
      row.insertCell().textContent = key;
      row.insertCell().textContent = Number.isInteger(value) ? String(value) : value.toPrecision(6);
    }
  }
  $("scores").hidden = !result.scores;
  const figures = $("figures");
  figures.replaceChildren();
  let row = null;
  for (const figure of result.figures) {
    const div = document.createElement("div");
    div.id = `plot-${figure.id}`;
    div.className = "figure";
    if (figure.id.startsWith("map-")) {
      if (!row) { row = document.createElement("div"); row.className = "map-row"; figures.append(row); }
      row.append(div);
    } else {
      figures.append(div);
    }
    Plotly.newPlot(div, figure.data, figure.layout, { responsive: true, displaylogo: false });
  }
  $("downloads").replaceChildren(...result.downloads.map((d) => {
    const a = document.createElement("a");
    a.href = d.url; a.textContent = d.name; a.className = "download"; a.download = d.name;
    return a;
  }));
  figures.dataset.ready = id;
}

async function submit(event) {
  event.preventDefault();
  showError("");
  const form = $("job-form");
  const data = new FormData(form);
  const names = [...$("structure").files].map((f) => f.name);
  if ($("mp-id").value) names.push($("mp-id").value);
  const mode = $("mode").value;
  $("submit").disabled = true;
  try {
    const { ok, status, body } = await api("/api/jobs", { method: "POST", body: data });
    if (!ok && !body.id) { showError(body.error || `the server answered ${status}`); return; }
    const job = remember(body, names, mode);
    state.shown = job.id;
    if (job.status === "failed") { showError(job.error); return; }
    if (job.status === "done") { showResult(job.id); return; }
    poll(job.id);
  } finally {
    $("submit").disabled = false;
  }
}

window.addEventListener("DOMContentLoaded", () => {
  $("job-form").addEventListener("submit", submit);
  $("mode").addEventListener("change", syncPotential);
  $("model").addEventListener("change", syncPotential);
  loadOptions();
});
