"use strict";
// The embedstack page: plain JavaScript against /ui/api (no framework, no network).
const $ = (id) => document.getElementById(id);
let collections = [];

function setStatus(message, isError) {
  $("status").textContent = message;
  $("status").className = isError ? "error" : "";
}

async function call(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || ("request failed: " + response.status));
  return data;
}

function current() {
  return collections.find((c) => c.name === $("collection").value);
}

function chooseCollection() {
  const info = current();
  if (!info) return;
  const retriever = $("retriever");
  retriever.replaceChildren(...info.retrievers.map((name) => new Option(name, name)));
  $("upload-label").classList.toggle("hidden", info.kind !== "image");
  $("results").replaceChildren();
  setStatus(`${info.name}: ${info.count} ${info.kind === "image" ? "images" : "documents"} (${info.model})`);
}

function stageText(stages) {
  return Object.entries(stages || {})
    .map(([name, s]) => `${name} ${Number(s.score).toFixed(4)} (#${s.rank})`).join(" · ");
}

function render(hits, kind) {
  const list = $("results");
  list.className = kind === "image" ? "images" : "text";
  list.replaceChildren(...hits.map((hit, i) => {
    const item = document.createElement("li");
    item.className = "hit";
    item.dataset.id = hit.id;
    if (kind === "image" && hit.thumbnail) {
      const img = document.createElement("img");
      img.src = hit.thumbnail;
      img.alt = hit.id;
      item.append(img);
    }
    const meta = document.createElement("div");
    meta.className = "meta";
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = Number(hit.score).toFixed(4);
    const id = document.createElement("span");
    id.className = "hit-id";
    id.textContent = hit.id;
    meta.append(`${i + 1}. `, score, " ", id);
    const stages = document.createElement("div");
    stages.className = "stages";
    stages.textContent = stageText(hit.stages);
    item.append(meta, stages);
    if (kind !== "image") {
      const text = document.createElement("p");
      text.className = "text";
      text.textContent = hit.text;
      item.append(text);
    }
    return item;
  }));
  setStatus(hits.length ? `${hits.length} results` : "no results");
}

async function search(event) {
  event.preventDefault();
  const info = current();
  const query = $("query").value;
  if (!info || !query.trim()) return;
  setStatus("searching…");
  try {
    const data = await call("/ui/api/search",
      {collection: info.name, query, retriever: $("retriever").value, k: 12});
    render(data.hits, info.kind);
  } catch (error) {
    setStatus(error.message, true);
  }
}

function upload() {
  const info = current();
  const file = $("upload").files[0];
  if (!info || !file) return;
  const reader = new FileReader();
  reader.onload = async () => {
    setStatus("searching by image…");
    try {
      const data = await call("/ui/api/search-image",
        {collection: info.name, image: reader.result, k: 12});
      render(data.hits, info.kind);
    } catch (error) {
      setStatus(error.message, true);
    }
  };
  reader.readAsDataURL(file);
}

async function start() {
  try {
    collections = await call("/ui/api/collections");
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  if (!collections.length) {
    setStatus("no collections here: make one with `embedstack index` or `embedstack index-images`", true);
    return;
  }
  $("collection").replaceChildren(...collections.map((c) => new Option(`${c.name} (${c.kind})`, c.name)));
  chooseCollection();
  document.body.dataset.ready = "true";
}

$("collection").addEventListener("change", chooseCollection);
$("search-form").addEventListener("submit", search);
$("upload").addEventListener("change", upload);
start();
