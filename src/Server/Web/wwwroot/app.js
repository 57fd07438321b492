// StreamMtl web view: one WebSocket carries every visible stream's results (binary, see ViewerMessage.cs);
// the page colourises the label map, depth and normals itself. Off-screen tiles and hidden tabs are unsubscribed.
const PART = { input: 1, labels: 2, depth: 3, normals: 4 };
// A part kind with this bit has no bytes: the stream's last part of that kind still holds (a task held at a reduced level).
const UNCHANGED = 0x80;
// The message format this page reads (ViewerMessage.Version); another one means the server was updated under the page.
const MESSAGE_VERSION = 3;
const TASK_OF_LAYER = { seg: 'segmentation', depth: 'depth', normals: 'normals' };
const SPARK_SECONDS = 60;

const state = { model: null, colours: [], tiles: new Map(), socket: null, retry: 0 };
// For tests and curious operators: per-stream counters and glass-to-page latencies (ms).
window.streammtl = { tiles: {}, notices: [] };

function el(selector, root = document) { return root.querySelector(selector); }

async function api(path, init) {
  const response = await fetch(path, { credentials: 'same-origin', ...init });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { error: text }; }
  return { ok: response.ok, status: response.status, body };
}

async function start() {
  const model = await api('/api/model');
  if (model.status === 401) {
    el('#login').hidden = false;
    if (location.hash === '#login-failed') el('#login-error').textContent = 'that key was not accepted';
    return;
  }
  if (!model.ok) { el('#connection').textContent = `error ${model.status}`; return; }
  if (location.hash === '#login-failed') history.replaceState(null, '', '/');
  state.model = model.body;
  state.colours = (model.body.classes || []).map(c => [(c.color >> 16) & 255, (c.color >> 8) & 255, c.color & 255]);
  el('#model').textContent = `${model.body.version || 'model'} · ${model.body.inputSize.width}x${model.body.inputSize.height} · ${model.body.precision}`;
  el('#legend').replaceChildren(...(model.body.classes || []).map(c => {
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = `#${c.color.toString(16).padStart(6, '0')}`;
    item.append(swatch, c.name);
    return item;
  }));
  el('#app').hidden = false;
  el('#logout').hidden = false;
  el('#add').addEventListener('submit', addStream);
  document.addEventListener('visibilitychange', sendShow);
  window.addEventListener('hashchange', route);
  await refreshStreams();
  route();
  setInterval(refreshStreams, 2000);
  setInterval(updateReadouts, 500);
  connect();
}

function connect() {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => { state.retry = 0; el('#connection').textContent = 'live'; el('#connection').className = 'badge online'; sendShow(); };
  socket.onclose = () => {
    el('#connection').textContent = 'offline'; el('#connection').className = 'badge';
    state.socket = null;
    setTimeout(connect, Math.min(10000, 500 * 2 ** state.retry++));
  };
  socket.onmessage = event => typeof event.data === 'string' ? notice(JSON.parse(event.data)) : frame(event.data);
  state.socket = socket;
}

// The whole wanted state: visible tiles and the tasks their enabled layers need (input alone still needs one task).
function sendShow() {
  if (!state.socket || state.socket.readyState !== WebSocket.OPEN) return;
  const show = {};
  if (document.visibilityState === 'visible') {
    for (const [id, tile] of state.tiles) {
      if (!tile.visible || !tile.running) continue;
      const tasks = Object.entries(TASK_OF_LAYER).filter(([layer]) => tile.layers[layer]).map(([, task]) => task)
        .filter(task => tile.tasks.includes(task));
      show[id] = tasks.length ? tasks : [tile.tasks[0] || 'segmentation'];
    }
  }
  const text = JSON.stringify({ show });
  if (text !== state.lastShow) { state.lastShow = text; state.socket.send(text); }
}

function notice(message) {
  window.streammtl.notices.push(message);
  const tile = state.tiles.get(message.stream);
  if (tile) el('.error', tile.root).textContent = message.message;
  if (message.type === 'ended') state.lastShow = null;
}

const observer = new IntersectionObserver(entries => {
  for (const entry of entries) {
    const tile = state.tiles.get(entry.target.dataset.stream);
    if (tile) tile.visible = entry.isIntersecting;
  }
  sendShow();
});

async function refreshStreams() {
  const list = await api('/api/streams');
  if (!list.ok) return;
  const seen = new Set();
  for (const info of list.body.streams || []) {
    seen.add(info.id);
    const tile = state.tiles.get(info.id) || addTile(info);
    tile.tasks = (info.tasks || []).map(t => t.replace('TASK_', '').toLowerCase());
    const badge = el('.state', tile.root);
    const stateName = (info.state || '').replace('STREAM_STATE_', '');
    const name = stateName.charAt(0) + stateName.slice(1).toLowerCase();
    badge.textContent = name; badge.className = `state badge ${name}`;
    tile.running = name === 'Running' || name === 'Idle' || name === 'Connecting';
    el('.error', tile.root).textContent = info.lastError || el('.error', tile.root).textContent;
  }
  for (const [id, tile] of state.tiles) {
    if (!seen.has(id)) { observer.unobserve(tile.root); tile.root.remove(); state.tiles.delete(id); delete window.streammtl.tiles[id]; }
  }
  sendShow();
}

function addTile(info) {
  const root = el('#tile').content.firstElementChild.cloneNode(true);
  root.dataset.stream = info.id;
  el('.name', root).textContent = info.id;
  el('.name', root).title = info.sourceUri;
  const tile = {
    root, canvas: el('.frame', root), visible: false, running: false, tasks: [],
    layers: { input: true, seg: true, depth: false, normals: false, overlay: false }, opacity: 0.6,
    pending: null, last: null, arrivals: [], spark: [], decoded: {},
    stats: { frames: 0, painted: 0, latencies: [], arrivals: [], fps: 0, saved: null, dropped: 0, unchanged: 0, missing: 0 },
  };
  window.streammtl.tiles[info.id] = tile.stats;
  for (const box of root.querySelectorAll('[data-layer]')) {
    box.addEventListener('change', () => { tile.layers[box.dataset.layer] = box.checked; sendShow(); if (tile.last) paint(tile, tile.last); });
  }
  el('.opacity input', root).addEventListener('input', e => { tile.opacity = e.target.value / 100; if (tile.last) paint(tile, tile.last); });
  el('.remove', root).addEventListener('click', async () => {
    const result = await api(`/api/streams/${encodeURIComponent(info.id)}`, { method: 'DELETE' });
    if (!result.ok) el('.error', root).textContent = result.body?.error || `error ${result.status}`;
    await refreshStreams();
  });
  // The stream page: #stream=ID shows this tile alone, large; the other tiles are hidden, so they are unsubscribed.
  el('.enlarge', root).addEventListener('click', () => {
    location.hash = focused() === info.id ? '' : `stream=${encodeURIComponent(info.id)}`;
  });
  tile.canvas.addEventListener('mousemove', e => underCursor(tile, e));
  el('#grid').append(root);
  state.tiles.set(info.id, tile);
  observer.observe(root);
  place(tile, info.id);
  return tile;
}

// The stream a #stream=ID page shows, or null on the grid.
function focused() {
  const match = /^#stream=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function place(tile, id) {
  const focus = focused();
  tile.root.hidden = focus !== null && focus !== id;
  tile.root.classList.toggle('large', focus === id);
  el('.enlarge', tile.root).title = focus === id ? 'back to all streams' : 'stream page: larger view';
}

function route() {
  const focus = focused();
  el('#add').hidden = focus !== null;
  el('#all').hidden = focus === null;
  document.title = focus === null ? 'StreamMtl' : `${focus} · StreamMtl`;
  for (const [id, tile] of state.tiles) place(tile, id);
}

async function addStream(event) {
  event.preventDefault();
  const form = event.target;
  const error = el('#add-error');
  error.textContent = '';
  const body = {
    id: form.elements.id.value.trim(),
    uri: form.elements.uri.value.trim(),
    tasks: [...form.querySelectorAll('input[name=tasks]:checked')].map(b => b.value),
    reuse: { dense: form.elements.dense.checked, adaptive: form.elements.adaptive.checked },
  };
  if (form.elements.level.value !== '') body.reuse.level = form.elements.level.value;
  if (form.elements.floor.value !== '') body.reuse.floor = form.elements.floor.value;
  if (form.elements.threshold.value !== '') body.reuse.threshold = Number(form.elements.threshold.value);
  if (form.elements.keyframeInterval.value !== '') body.reuse.keyframeInterval = Number(form.elements.keyframeInterval.value);
  if (form.elements.computeBudget.value !== '') body.reuse.computeBudget = Number(form.elements.computeBudget.value);
  if (form.elements.fullKeyframes.checked) body.reuse.fullKeyframes = true;
  const result = await api('/api/streams', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!result.ok) { error.textContent = result.body?.error || `error ${result.status}`; return; }
  form.reset();
  await refreshStreams();
}

// The pipeline's compute levels by their number in the message (ComputeLevel).
const COMPUTE_LEVELS = ['full', 'reduced', 'minimal', 'lean', 'coarse'];

function parse(buffer) {
  const view = new DataView(buffer);
  if (view.getUint8(0) !== MESSAGE_VERSION) {
    el('#connection').textContent = 'reload the page: the server sends a newer format';
    return null;
  }
  const idLength = view.getUint16(2, true);
  const streamId = new TextDecoder().decode(new Uint8Array(buffer, 4, idLength));
  let at = 4 + idLength;
  const header = {
    streamId, keyframe: (view.getUint8(1) & 1) === 1,
    frameIndex: Number(view.getBigInt64(at, true)), captureMs: view.getFloat64(at + 8, true),
    saved: view.getFloat32(at + 16, true), recomputed: view.getInt32(at + 20, true), total: view.getInt32(at + 24, true),
    depthScale: view.getFloat32(at + 28, true), dropped: Number(view.getBigInt64(at + 32, true)),
    budget: view.getFloat32(at + 40, true), level: COMPUTE_LEVELS[view.getUint8(at + 44)] ?? 'full', parts: {}, unchanged: new Set(),
  };
  const count = view.getUint8(at + 45);
  at += 46;
  for (let i = 0; i < count; i++) {
    const kind = view.getUint8(at), length = view.getUint32(at + 1, true);
    if (kind & UNCHANGED) header.unchanged.add(kind & ~UNCHANGED);
    else header.parts[kind] = new Uint8Array(buffer, at + 5, length);
    at += 5 + length;
  }
  return header;
}

async function decode(bytes, type) {
  if (!bytes) return null;
  // Exact values matter (labels, depth): no colour management, no premultiplication.
  const bitmap = await createImageBitmap(new Blob([bytes], { type }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

async function frame(buffer) {
  const message = parse(buffer);
  if (!message) return;
  const tile = state.tiles.get(message.streamId);
  if (!tile) return;
  tile.stats.frames++;
  tile.stats.dropped = message.dropped;
  const now = performance.now();
  // Capture to arrival on the page: the service's share of the glass-to-page latency (decode and paint are the rest).
  tile.stats.arrivals.push(performance.timeOrigin + now - message.captureMs);
  if (tile.stats.arrivals.length > 1000) tile.stats.arrivals.shift();
  tile.arrivals.push(now);
  tile.spark.push([now, message.saved]);
  // An unchanged part reuses the stream's last decoding of its kind; the promise is kept before awaiting, so a message
  // that arrives while the one before it is still decoding gets that decoding.
  const layer = (kind, type) => {
    if (message.unchanged.has(kind)) {
      tile.stats.unchanged++;
      return tile.decoded[kind] ?? Promise.resolve(null);
    }
    const decoding = decode(message.parts[kind], type);
    tile.decoded[kind] = decoding;
    return decoding;
  };
  const [input, labels, depth, normals] = await Promise.all([
    layer(PART.input, 'image/jpeg'), layer(PART.labels, 'image/png'), layer(PART.depth, 'image/png'), layer(PART.normals, 'image/png')]);
  const decoded = { ...message, input, labels, depth, normals };
  // Only the newest frame is painted; one that arrives before the next paint replaces the older one.
  const scheduled = tile.pending !== null;
  tile.pending = decoded;
  if (!scheduled) {
    requestAnimationFrame(() => {
      const next = tile.pending;
      tile.pending = null;
      paint(tile, next);
      tile.last = next;
      tile.stats.painted++;
      // A frame painted without a layer the tile shows (none should be, once a layer's first frame arrived).
      if ((tile.layers.depth && !next.depth) || (tile.layers.normals && !next.normals)) tile.stats.missing++;
      const latency = performance.timeOrigin + performance.now() - next.captureMs;
      tile.stats.latencies.push(latency);
      if (tile.stats.latencies.length > 1000) tile.stats.latencies.shift();
      tile.latency = latency;
      const badge = el('.keyframe', tile.root);
      badge.hidden = !next.keyframe;
    });
  }
}

// Side by side: [input with segmentation overlay] [depth] [normals], each panel only when its layer is on.
function paint(tile, f) {
  const base = f.input || f.labels || f.depth || f.normals;
  if (!base) return;
  const w = base.width, h = base.height;
  const panels = [];
  if (tile.layers.input || tile.layers.seg) panels.push(compose(tile, f, w, h));
  const extra = [];
  if (tile.layers.depth && f.depth) extra.push(colourDepth(tile, f.depth));
  el('.depth-scale', tile.root).hidden = !(tile.layers.depth && f.depth);
  if (tile.layers.normals && f.normals) extra.push(f.normals);
  if (tile.layers.overlay && panels.length) extra.forEach(layer => blend(panels[0], layer, tile.opacity));
  else panels.push(...extra);
  const width = w * Math.max(1, panels.length);
  if (tile.canvas.width !== width || tile.canvas.height !== h) { tile.canvas.width = width; tile.canvas.height = h; }
  const context = tile.canvas.getContext('2d');
  context.fillStyle = '#000';
  context.fillRect(0, 0, width, h);
  panels.forEach((panel, i) => context.putImageData(panel, i * w, 0));
  tile.panels = panels.length;
}

// Overlay mode: depth and normals over the first panel at the overlay opacity.
function blend(target, layer, a) {
  if (layer.width !== target.width || layer.height !== target.height) return;
  const t = target.data, l = layer.data;
  for (let i = 0; i < t.length; i += 4) {
    for (let k = 0; k < 3; k++) t[i + k] = t[i + k] * (1 - a) + l[i + k] * a;
  }
}

function compose(tile, f, w, h) {
  const out = new ImageData(w, h);
  const o = out.data;
  if (tile.layers.input && f.input && f.input.width === w) o.set(f.input.data);
  else for (let i = 3; i < o.length; i += 4) o[i] = 255;
  if (tile.layers.seg && f.labels && f.labels.width === w) {
    const a = tile.opacity, l = f.labels.data;
    for (let i = 0; i < o.length; i += 4) {
      const c = state.colours[l[i]];
      if (!c) continue;
      o[i] = o[i] * (1 - a) + c[0] * a;
      o[i + 1] = o[i + 1] * (1 - a) + c[1] * a;
      o[i + 2] = o[i + 2] * (1 - a) + c[2] * a;
      o[i + 3] = 255;
    }
  }
  return out;
}

// Turbo-like ramp, near to far. The browser decodes PNG16 to 8 bits: value ~ byte * 257 * scale metres.
const RAMP = [[48, 18, 59], [70, 134, 251], [27, 229, 181], [164, 252, 59], [251, 185, 56], [228, 70, 10], [122, 4, 3]];
function ramp(t) {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1), i = Math.min(RAMP.length - 2, Math.floor(x)), u = x - i;
  return [0, 1, 2].map(k => RAMP[i][k] + (RAMP[i + 1][k] - RAMP[i][k]) * u);
}

function colourDepth(tile, depth) {
  const d = depth.data;
  let min = 255, max = 0;
  for (let i = 0; i < d.length; i += 4) { if (d[i] < min) min = d[i]; if (d[i] > max) max = d[i]; }
  const span = Math.max(1, max - min);
  const out = new ImageData(depth.width, depth.height);
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b] = ramp((d[i] - min) / span);
    out.data[i] = r; out.data[i + 1] = g; out.data[i + 2] = b; out.data[i + 3] = 255;
  }
  const metres = v => (v * 257 * (tile.last?.depthScale || tile.pending?.depthScale || 0.001)).toFixed(1);
  const scale = el('.depth-scale', tile.root);
  el('.min', scale).textContent = `${metres(min)} m`;
  el('.max', scale).textContent = `${metres(max)} m`;
  return out;
}

function underCursor(tile, event) {
  const f = tile.last;
  if (!f) return;
  const rect = tile.canvas.getBoundingClientRect();
  const base = f.input || f.labels || f.depth || f.normals;
  const x = Math.floor((event.clientX - rect.left) / rect.width * tile.canvas.width) % base.width;
  const y = Math.floor((event.clientY - rect.top) / rect.height * tile.canvas.height);
  const i = (y * base.width + x) * 4;
  const parts = [];
  if (f.labels) parts.push(state.model.classes[f.labels.data[i]]?.name ?? `class ${f.labels.data[i]}`);
  if (f.depth) parts.push(`${(f.depth.data[i] * 257 * f.depthScale).toFixed(2)} m`);
  if (f.normals) {
    const n = [0, 1, 2].map(k => (f.normals.data[i + k] / 127.5 - 1).toFixed(2));
    parts.push(`normal (${n.join(', ')})`);
  }
  el('.under-cursor', tile.root).textContent = parts.join(' · ');
}

function updateReadouts() {
  const now = performance.now();
  for (const tile of state.tiles.values()) {
    tile.arrivals = tile.arrivals.filter(t => now - t <= 2000);
    tile.spark = tile.spark.filter(([t]) => now - t <= SPARK_SECONDS * 1000);
    tile.stats.fps = tile.arrivals.length / 2;
    const last = tile.last;
    el('.fps', tile.root).textContent = tile.stats.fps.toFixed(1);
    if (last) {
      tile.stats.saved = last.saved;
      el('.saved', tile.root).textContent = `${(last.saved * 100).toFixed(1)} %`;
      el('.tokens', tile.root).textContent = `${last.recomputed} / ${last.total}`;
      el('.compute', tile.root).textContent = `${last.level} · budget ${last.budget.toFixed(2)}`;
      el('.latency', tile.root).textContent = `${tile.latency.toFixed(0)} ms`;
    }
    sparkline(tile);
  }
}

function sparkline(tile) {
  const canvas = el('.sparkline', tile.root), context = canvas.getContext('2d');
  const now = performance.now();
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = '#4da3ff';
  context.beginPath();
  tile.spark.forEach(([t, saved], i) => {
    const x = canvas.width * (1 - (now - t) / (SPARK_SECONDS * 1000)), y = canvas.height * (1 - Math.max(0, saved));
    i ? context.lineTo(x, y) : context.moveTo(x, y);
  });
  context.stroke();
}

start();
