// The Whippet web console: plain JavaScript over the broker's HTTP API (the same routes the
// CLI and the iggy SDK use), no libraries, no build step.
"use strict";

const state = { token: sessionStorage.getItem("whippet-token"), kafkaStream: "kafka", topics: [] };
const $ = (selector) => document.querySelector(selector);

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function table(headers, rows, numeric) {
  const head = element("tr", {}, ...headers.map((h) => element("th", {}, h)));
  const body = rows.map((row) =>
    element("tr", {}, ...row.map((cell, i) =>
      element("td", numeric && numeric.includes(i) ? { class: "num" } : {}, cell))));
  return element("table", {}, element("thead", {}, head), element("tbody", {}, ...body));
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

class Unauthenticated extends Error {}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const value = text ? JSON.parse(text) : null;
  if (response.status === 401 && !path.startsWith("/users/login")) {
    $("#login").hidden = false;
    throw new Unauthenticated("log in first");
  }
  if (!response.ok) {
    const reason = value && (value.reason || value.error) || response.statusText;
    throw new Error(`${method} ${path}: ${reason} (HTTP ${response.status})`);
  }
  return value;
}

async function guarded(action) {
  try {
    showError("");
    await action();
  } catch (error) {
    if (!(error instanceof Unauthenticated)) showError(error.message);
  }
}

const segment = (text) => encodeURIComponent(text);

function bytes(count) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = count, unit = 0;
  while (size >= 1024 && unit < units.length - 1) { size /= 1024; unit += 1; }
  return unit === 0 ? `${count} B` : `${size.toFixed(1)} ${units[unit]}`;
}

async function loadCluster() {
  const info = await api("GET", "/cluster/info");
  state.kafkaStream = info.kafka_stream;
  $("#cluster").textContent =
    `v${info.version} · kafka ${info.listeners.kafka} · native ${info.listeners.native}` +
    ` · ${info.topics} topics · ${info.messages} messages`;
}

async function loadTopics() {
  state.topics = await api("GET", "/kafka/topics");
  const container = $("#topics");
  container.replaceChildren();
  if (state.topics.length === 0) container.append(element("p", { class: "muted" }, "No topics yet."));
  for (const topic of state.topics) {
    const remove = element("button", { onclick: () => guarded(() => deleteTopic(topic)) }, "Delete");
    container.append(element("h3", { class: "topic" }, topic.name, " ", remove));
    container.append(table(
      ["Partition", "Log start", "High watermark", "Messages", "Size", "Segments"],
      topic.partitions.map((p) => [p.partition, p.log_start_offset, p.high_watermark, p.messages,
        bytes(p.size_bytes), p.segments]),
      [0, 1, 2, 3, 4, 5]));
  }
  const select = $("#browse-topic");
  const chosen = select.value;
  select.replaceChildren(...state.topics.map((t) =>
    element("option", { value: `${t.stream_id}/${t.topic_id}` }, t.name)));
  if (chosen) select.value = chosen;
}

async function createTopic(form) {
  const name = form.name.value.trim();
  const partitions = Number(form.partitions.value) || 1;
  const [stream, topic] = name.includes("/") ? name.split("/", 2) : [state.kafkaStream, name];
  const streams = await api("GET", "/streams");
  if (!streams.some((s) => s.name === stream)) await api("POST", "/streams", { name: stream });
  await api("POST", `/streams/${segment(stream)}/topics`, { name: topic, partitions_count: partitions });
  form.name.value = "";
  await loadTopics();
}

async function deleteTopic(topic) {
  if (!confirm(`Delete topic ${topic.name} and all its messages?`)) return;
  await api("DELETE", `/streams/${topic.stream_id}/topics/${topic.topic_id}`);
  await loadTopics();
}

async function loadGroups() {
  const groups = await api("GET", "/kafka/groups");
  const rows = [];
  for (const group of groups) {
    const described = await api("GET", `/kafka/groups/${segment(group.group_id)}`);
    if (described.offsets.length === 0) rows.push([group.group_id, described.state, "-", "-", "-", "-", "-"]);
    for (const o of described.offsets) {
      rows.push([group.group_id, described.state, o.topic, o.partition, o.committed_offset,
        o.high_watermark, o.lag]);
    }
  }
  $("#kafka-groups").replaceChildren(rows.length
    ? table(["Group", "State", "Topic", "Partition", "Committed", "High watermark", "Lag"], rows, [3, 4, 5, 6])
    : element("p", { class: "muted" }, "No Kafka consumer groups."));
  if (state.topics.length === 0) await loadTopics();
  const native = [];
  for (const topic of state.topics) {
    const list = await api("GET", `/streams/${topic.stream_id}/topics/${topic.topic_id}/consumer-groups`);
    for (const g of list) {
      native.push([topic.name, g.name, g.members_count, g.partitions_count, await nativeLag(g.name, topic.name)]);
    }
  }
  $("#native-groups").replaceChildren(native.length
    ? table(["Topic", "Group", "Members", "Partitions", "Lag"], native, [2, 3, 4])
    : element("p", { class: "muted" }, "No native consumer groups."));
}

// A native group's offsets live in the same store as Kafka groups' (under its name): its lag
// on `topic` summed over partitions, "-" before it stored any offset.
async function nativeLag(group, topic) {
  try {
    const described = await api("GET", `/kafka/groups/${segment(group)}`);
    const mine = described.offsets.filter((o) => o.topic === topic);
    return mine.length ? mine.reduce((sum, o) => sum + o.lag, 0) : "-";
  } catch (error) {
    if (error instanceof Unauthenticated) throw error;
    return "-";
  }
}

function decodeBase64(text) {
  const raw = atob(text || "");
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });
const hex = (data) => Array.from(data, (b) => b.toString(16).padStart(2, "0")).join(" ");

function render(data, format) {
  if (format === "hex") return hex(data);
  const text = utf8.decode(data);
  if (format === "json") {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
  }
  return text;
}

function headerValue(field, format) {
  const data = decodeBase64(field.value);
  return field.kind === "string" || field.kind === "raw" ? render(data, format) : hex(data);
}

async function browse(form) {
  const [streamId, topicId] = form.topic.value.split("/");
  const query = new URLSearchParams({
    consumer_id: "0", partition_id: form.partition.value, kind: "offset",
    value: form.offset.value, count: form.count.value,
  });
  const polled = await api("GET", `/streams/${streamId}/topics/${topicId}/messages?${query}`);
  const format = form.format.value;
  const rows = polled.messages.map((m) => {
    const headers = Array.isArray(m.user_headers) ? m.user_headers : [];
    const keyHeader = headers.find((h) => utf8.decode(decodeBase64(h.key.value)) === "__whippet.key");
    const others = headers.filter((h) => h !== keyHeader)
      .map((h) => `${utf8.decode(decodeBase64(h.key.value))}: ${headerValue(h.value, format)}`);
    return [m.header.offset, new Date(m.header.origin_timestamp / 1000).toISOString(),
      keyHeader ? headerValue(keyHeader.value, format) : "",
      element("pre", { class: "value" }, render(decodeBase64(m.payload), format)),
      element("pre", {}, others.join("\n"))];
  });
  $("#messages").replaceChildren(rows.length
    ? table(["Offset", "Timestamp", "Key", "Value", "Headers"], rows, [0])
    : element("p", { class: "muted" }, "No messages at this offset."));
}

const samples = [];
let previous = null;

async function sample() {
  const stats = await api("GET", "/stats");
  const now = performance.now();
  if (previous) {
    const seconds = (now - previous.at) / 1000;
    const rate = Math.max(0, (stats.messages_count - previous.count) / seconds);
    samples.push(rate);
    if (samples.length > 60) samples.shift();
    $("#rate").textContent = `${rate.toFixed(1)} messages/s now · ${stats.messages_count} stored`;
    draw();
  }
  previous = { at: now, count: stats.messages_count };
}

function draw() {
  const canvas = $("#chart");
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const top = Math.max(1, ...samples);
  context.strokeStyle = "#d0d7de";
  context.fillStyle = "#6e7781";
  context.font = "12px sans-serif";
  for (const fraction of [0, 0.5, 1]) {
    const y = height - 20 - fraction * (height - 40);
    context.beginPath(); context.moveTo(40, y); context.lineTo(width, y); context.stroke();
    context.fillText((top * fraction).toFixed(0), 2, y + 4);
  }
  context.strokeStyle = "#0969da";
  context.lineWidth = 2;
  context.beginPath();
  samples.forEach((rate, i) => {
    const x = 40 + (i / 59) * (width - 50);
    const y = height - 20 - (rate / top) * (height - 40);
    if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
  });
  context.stroke();
}

const loaders = { topics: loadTopics, groups: loadGroups, messages: loadTopics, throughput: sample };

function show(view) {
  for (const button of document.querySelectorAll("nav button")) {
    button.classList.toggle("active", button.dataset.view === view);
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  guarded(loaders[view]);
}

async function start() {
  await loadCluster();
  $("#login").hidden = true;
  await loadTopics();
}

for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => show(button.dataset.view));
}
$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  guarded(async () => {
    const identity = await api("POST", "/users/login",
      { username: form.username.value, password: form.password.value });
    state.token = identity.access_token.token;
    sessionStorage.setItem("whippet-token", state.token);
    await start();
  });
});
$("#create-topic").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(() => createTopic(event.target));
});
$("#browse").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(() => browse(event.target));
});
setInterval(() => { if (!$("#view-throughput").hidden) guarded(sample); }, 2000);
guarded(start);
