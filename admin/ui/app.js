// glassmq dashboard: one page in plain JavaScript over the native admin API.
// No framework and no build step: the file is served as written, from the
// broker's binary, and draws its charts as inline SVG.
'use strict';

const POLL_MS = 1000;
const POINTS = 60; // one minute of one-second samples per chart
const PAGE = 50;
const COLORS = ['#1f6feb', '#d9480f', '#2b8a3e', '#9c36b5', '#e67700', '#0c8599', '#c2255c', '#5c940d', '#364fc7', '#862e9c'];

const app = { csrf: '', authRequired: false, timer: null, gen: 0, clustered: false };

// h builds a DOM element; text children are text nodes, never HTML.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v; // CSSOM: allowed by the page's style-src 'self'
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const kid of kids.flat()) if (kid) el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return el;
}

function fmtNum(n) {
  if (n === undefined || n === null) return '';
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(2) + 'G';
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + ' ' + units[i];
}

function fmtTime(ms) {
  if (!ms) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
}

function ago(ms) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}

class Unauthorized extends Error {}

// api fetches a native API path as JSON. A 401 shows the login form.
async function api(path, opts = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
  if (opts.method && opts.method !== 'GET' && app.csrf) headers['X-CSRF-Token'] = app.csrf;
  const r = await fetch(path, Object.assign({}, opts, { headers, credentials: 'same-origin', cache: 'no-store' }));
  if (r.status === 401) {
    showLogin();
    throw new Unauthorized('log in first');
  }
  const body = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const e = new Error((body && body.error && body.error.message) || ('HTTP ' + r.status));
    e.code = body && body.error && body.error.code;
    throw e;
  }
  return body;
}

function setLive(ok) {
  const el = document.getElementById('live');
  el.className = 'live ' + (ok ? 'on' : 'err');
}

// every runs fn now and each POLL_MS while the page it belongs to is shown.
function every(fn, ms = POLL_MS) {
  const gen = app.gen;
  const run = async () => {
    if (gen !== app.gen) return;
    try {
      await fn();
      setLive(true);
    } catch (e) {
      if (e instanceof Unauthorized) return;
      setLive(false);
      showError(e);
    }
    if (gen === app.gen) app.timer = setTimeout(run, ms);
  };
  run();
}

function showError(e) {
  const el = document.getElementById('page-error');
  if (el) { el.textContent = String(e.message || e); el.hidden = false; }
}

function clearError() {
  const el = document.getElementById('page-error');
  if (el) el.hidden = true;
}

function mount(...kids) {
  const main = document.getElementById('main');
  main.replaceChildren(h('p', { id: 'page-error', class: 'error', hidden: true }), ...kids);
}

// Series keeps the last POINTS rates of each named line, from counters.
class Series {
  constructor() { this.prev = null; this.lines = new Map(); this.times = []; }
  // add takes counters {name: total} read at time t (ms) and records rates.
  add(t, counters) {
    if (this.prev && t > this.prev.t) {
      const dt = (t - this.prev.t) / 1000;
      this.times.push(t);
      if (this.times.length > POINTS) this.times.shift();
      for (const [name, v] of Object.entries(counters)) {
        if (!this.lines.has(name)) this.lines.set(name, new Array(this.times.length - 1).fill(0));
      }
      for (const [name, pts] of this.lines) {
        const before = this.prev.c[name] || 0;
        const now = counters[name] || 0;
        pts.push(Math.max(0, (now - before) / dt));
        while (pts.length > this.times.length) pts.shift();
      }
    }
    this.prev = { t, c: counters };
  }
  last(name) { const p = this.lines.get(name); return p && p.length ? p[p.length - 1] : 0; }
}

// lineChart draws series as an SVG line chart, rates per second.
function lineChart(series, unit, names) {
  const W = 600, H = 160, L = 44, B = 16, T = 8;
  const keys = names || [...series.lines.keys()];
  let max = 1;
  for (const k of keys) for (const v of series.lines.get(k) || []) max = Math.max(max, v);
  const x = i => L + (W - L - 4) * i / (POINTS - 1);
  const y = v => T + (H - T - B) * (1 - v / max);
  const el = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' },
    svg('line', { class: 'axis', x1: L, y1: y(0), x2: W, y2: y(0) }),
    svg('line', { class: 'axis', x1: L, y1: y(max), x2: W, y2: y(max) }),
    svg('text', { x: 2, y: y(max) + 4 }, fmtNum(max) + unit),
    svg('text', { x: 2, y: y(0) }, '0'),
    svg('text', { x: L, y: H - 2 }, '−' + (POINTS - 1) + 's'),
    svg('text', { x: W - 24, y: H - 2 }, 'now'));
  keys.forEach((k, i) => {
    const pts = series.lines.get(k) || [];
    if (pts.length < 1) return;
    const off = POINTS - pts.length;
    const d = pts.map((v, j) => `${x(off + j).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    el.append(svg('polyline', { points: pts.length === 1 ? d + ' ' + d : d, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }));
  });
  const legend = h('div', { class: 'legend' }, keys.map((k, i) =>
    h('span', null, h('i', { style: `background:${COLORS[i % COLORS.length]}` }), `${k} ${fmtNum(series.last(k))}${unit}`)));
  return h('div', null, el, legend);
}

// ---- overview ----

function pageOverview() {
  const stats = h('div', { class: 'grid', id: 'stats' });
  const rates = h('div', { id: 'rates-chart' });
  const bytes = h('div', { id: 'bytes-chart' });
  const drops = h('div', { id: 'drops' });
  const loops = h('div', { id: 'loops' });
  const store = h('p', { class: 'error', id: 'store', hidden: true });
  mount(h('h1', null, 'Overview'), store, stats,
    h('div', { class: 'cols' },
      h('div', { class: 'card' }, h('h2', null, 'Messages per second'), rates),
      h('div', { class: 'card' }, h('h2', null, 'Bytes per second'), bytes)),
    h('div', { class: 'cols' },
      h('div', { class: 'card' }, h('h2', null, 'Dropped messages'), drops),
      h('div', { class: 'card' }, h('h2', null, 'Event loops'), loops)));
  const msgs = new Series(), byts = new Series(), drop = new Series(), loop = new Series();
  every(async () => {
    const o = await api('/api/v1/overview');
    clearError();
    msgs.add(o.time_ms, { in: o.messages_received, out: o.messages_sent });
    byts.add(o.time_ms, { in: o.bytes_received, out: o.bytes_sent });
    drop.add(o.time_ms, o.dropped);
    const lc = {};
    for (const l of o.loops) { lc[`in ${l.loop}`] = l.messages_received; lc[`out ${l.loop}`] = l.messages_sent; }
    loop.add(o.time_ms, lc);
    const stat = (k, v, id) => h('div', { class: 'stat' }, h('div', { class: 'v', id, 'data-value': v }, fmtNum(v)), h('div', { class: 'k' }, k));
    stats.replaceChildren(
      stat('connections', o.connections, 'stat-connections'),
      stat('sessions', o.sessions, 'stat-sessions'),
      stat('subscriptions', o.subscriptions, 'stat-subscriptions'),
      stat('retained', o.retained, 'stat-retained'),
      stat('queued QoS 1/2', o.queued, 'stat-queued'),
      stat('messages in/s', msgs.last('in'), 'stat-in'),
      stat('messages out/s', msgs.last('out'), 'stat-out'),
      stat('connects', o.connects, 'stat-connects'),
      stat('malformed + protocol errors', o.malformed + o.protocol_errors, 'stat-errors'));
    rates.replaceChildren(lineChart(msgs, '/s'));
    bytes.replaceChildren(lineChart(byts, ' B/s'));
    drops.replaceChildren(h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'reason'), h('th', { class: 'num' }, 'total'), h('th', { class: 'num' }, 'per second'))),
      h('tbody', null, Object.entries(o.dropped).map(([k, v]) =>
        h('tr', null, h('td', null, k), h('td', { class: 'num' }, fmtNum(v)), h('td', { class: 'num' }, fmtNum(drop.last(k))))))));
    let top = 1;
    for (const l of o.loops) top = Math.max(top, loop.last(`in ${l.loop}`), loop.last(`out ${l.loop}`));
    loops.replaceChildren(h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'loop'), h('th', { class: 'num' }, 'in/s'), h('th', { class: 'num' }, 'out/s'), h('th', null, 'load'),
        h('th', { class: 'num' }, 'hand-off batches'), h('th', { class: 'num' }, 'hand-off bytes'))),
      h('tbody', null, o.loops.map(l => {
        const i = loop.last(`in ${l.loop}`), out = loop.last(`out ${l.loop}`);
        return h('tr', null, h('td', null, l.loop), h('td', { class: 'num' }, fmtNum(i)), h('td', { class: 'num' }, fmtNum(out)),
          h('td', { style: 'width:40%' }, h('div', { class: 'bar', style: `width:${(100 * i / top).toFixed(1)}%` }), h('div', { class: 'bar out', style: `width:${(100 * out / top).toFixed(1)}%` })),
          h('td', { class: 'num' }, fmtNum(l.handoff_batches)), h('td', { class: 'num' }, fmtBytes(l.handoff_bytes)));
      }))));
    store.hidden = !o.store_error;
    store.textContent = o.store_error ? 'Store failing: ' + o.store_error : '';
  });
}

// ---- client list ----

function pageClients(params) {
  const q = {
    prefix: params.get('prefix') || '', username: params.get('username') || '',
    status: params.get('status') || 'all', sort: params.get('sort') || 'id',
  };
  const cursors = ['']; // cursors[i] fetches page i
  let pageNo = 0, next = '';
  const prefix = h('input', { id: 'f-prefix', placeholder: 'client ID prefix', value: q.prefix });
  const user = h('input', { id: 'f-username', placeholder: 'user name (exact)', value: q.username });
  const status = h('select', { id: 'f-status' }, ['all', 'online', 'offline'].map(s => h('option', { value: s, selected: s === q.status }, s)));
  const sort = h('select', { id: 'f-sort' }, [['id', 'by client ID'], ['traffic', 'by traffic'], ['connect_time', 'by connect time']].map(([v, t]) => h('option', { value: v, selected: v === q.sort }, t)));
  const head = h('thead');
  const body = h('tbody');
  const prev = h('button', { class: 'secondary', id: 'prev', disabled: true }, '← Previous');
  const more = h('button', { class: 'secondary', id: 'next', disabled: true }, 'Next →');
  const where = h('span', { class: 'muted' });
  mount(h('h1', null, 'Clients'),
    h('div', { class: 'toolbar' }, prefix, user, status, sort),
    h('div', { class: 'card' }, h('table', { id: 'client-table' }, head, body),
    h('div', { class: 'pager' }, prev, more, where)));

  const load = async () => {
    const u = new URLSearchParams({ limit: PAGE, sort: q.sort, status: q.status });
    if (q.prefix) u.set('prefix', q.prefix);
    if (q.username) u.set('username', q.username);
    if (cursors[pageNo]) u.set('cursor', cursors[pageNo]);
    const list = await api('/api/v1/clients?' + u);
    clearError();
    next = list.next_cursor;
    // In a cluster every entry names the node holding its session.
    const nodes = app.clustered || list.clients.some(c => c.node);
    const cols = ['client ID', 'status', ...(nodes ? ['node'] : []), 'user name', 'address', 'connected', 'received', 'sent'];
    head.replaceChildren(h('tr', null, cols.map((t, i) => h('th', { class: i >= cols.length - 2 ? 'num' : null }, t))));
    body.replaceChildren(...list.clients.map(c => h('tr', { class: 'row', 'data-id': c.client_id, onclick: () => { location.hash = '#/client/' + encodeURIComponent(c.client_id); } },
      h('td', null, h('a', { href: '#/client/' + encodeURIComponent(c.client_id) }, c.client_id)),
      h('td', null, h('span', { class: 'badge ' + c.status }, c.status)),
      nodes ? h('td', { 'data-node': c.node || '' }, c.node || '—') : null,
      h('td', null, c.username), h('td', null, c.client_address),
      h('td', { title: fmtTime(c.connect_time_ms) }, ago(c.connect_time_ms)),
      h('td', { class: 'num' }, fmtBytes(c.received_bytes)), h('td', { class: 'num' }, fmtBytes(c.sent_bytes)))));
    if (!list.clients.length) body.append(h('tr', null, h('td', { colspan: cols.length, class: 'muted' }, 'No clients match.')));
    prev.disabled = pageNo === 0;
    more.disabled = !next;
    where.textContent = `page ${pageNo + 1}`;
  };
  let debounce = null;
  const changed = () => {
    q.prefix = prefix.value; q.username = user.value; q.status = status.value; q.sort = sort.value;
    cursors.length = 1; pageNo = 0;
    const u = new URLSearchParams(Object.entries(q).filter(([, v]) => v && v !== 'all' && v !== 'id'));
    history.replaceState(null, '', '#/clients' + (u.toString() ? '?' + u : ''));
    clearTimeout(debounce);
    debounce = setTimeout(() => load().catch(showError), 250);
  };
  for (const el of [prefix, user]) el.addEventListener('input', changed);
  for (const el of [status, sort]) el.addEventListener('change', changed);
  prev.addEventListener('click', () => { if (pageNo > 0) { pageNo--; load().catch(showError); } });
  more.addEventListener('click', () => { if (next) { cursors[pageNo + 1] = next; pageNo++; load().catch(showError); } });
  every(load, 2000);
}

// ---- one client ----

function countersOf(traffic) {
  const c = {};
  for (const p of traffic.packets) c[`${p.type} q${p.qos}`] = p.count;
  return c;
}

function pageClient(id) {
  const title = h('h1', null, id, ' ', h('span', { id: 'status', class: 'badge' }));
  const kick = h('button', { class: 'danger', id: 'kick', hidden: true }, 'Kick…');
  const confirmBox = h('span', { class: 'confirm', hidden: true },
    'Close this client\'s connection?',
    h('button', { class: 'danger', id: 'kick-confirm' }, 'Kick'),
    h('button', { class: 'secondary', id: 'kick-cancel' }, 'Cancel'));
  const kickMsg = h('span', { id: 'kick-result', class: 'muted' });
  const fields = h('tbody');
  const subs = h('div', { id: 'subs' });
  const recvChart = h('div'), sentChart = h('div');
  const counts = h('div', { id: 'counts' });
  const timeline = h('ul', { class: 'timeline', id: 'timeline' });
  const trace = h('div', { class: 'card', id: 'trace', hidden: true });
  mount(title, h('div', { class: 'toolbar' }, kick, confirmBox, kickMsg),
    h('div', { class: 'cols' },
      h('div', { class: 'card' }, h('h2', null, 'Session'), h('table', { class: 'kv', id: 'fields' }, fields)),
      h('div', null,
        h('div', { class: 'card' }, h('h2', null, 'Subscriptions'), subs),
        h('div', { class: 'card' }, h('h2', null, 'Connects and disconnects'), timeline))),
    h('div', { class: 'cols' },
      h('div', { class: 'card' }, h('h2', null, 'Received from the client, packets/s'), recvChart),
      h('div', { class: 'card' }, h('h2', null, 'Sent to the client, packets/s'), sentChart)),
    h('div', { class: 'card' }, h('h2', null, 'Packets by type and QoS (totals)'), counts),
    trace);
  kick.addEventListener('click', () => { kick.hidden = true; confirmBox.hidden = false; });
  document.getElementById('kick-cancel').addEventListener('click', () => { confirmBox.hidden = true; kick.hidden = false; });
  document.getElementById('kick-confirm').addEventListener('click', async () => {
    confirmBox.hidden = true;
    try {
      const r = await api('/api/v1/clients/' + encodeURIComponent(id), { method: 'DELETE' });
      kickMsg.textContent = r.kicked ? 'Kicked.' : 'Not kicked.';
    } catch (e) {
      kickMsg.textContent = 'Kick failed: ' + e.message;
    }
  });
  const recv = new Series(), sent = new Series();
  let ended = false;
  every(async () => {
    if (ended) return;
    let c;
    try {
      c = await api('/api/v1/clients/' + encodeURIComponent(id));
    } catch (e) {
      if (e.code !== 'not_found') throw e;
      // A clean session ends with its connection; an offline one expires.
      ended = true;
      const st = document.getElementById('status');
      st.textContent = 'no session';
      st.className = 'badge offline';
      kick.hidden = true;
      showError(new Error('The session has ended: the client disconnected with a clean session, or its offline session expired.'));
      return;
    }
    clearError();
    const st = document.getElementById('status');
    st.textContent = c.status;
    st.className = 'badge ' + c.status;
    kick.hidden = c.status !== 'online' || !confirmBox.hidden;
    const t = Date.now();
    recv.add(t, countersOf(c.received));
    sent.add(t, countersOf(c.sent));
    const row = (k, v, key) => h('tr', null, h('td', null, k), h('td', { 'data-field': key }, v));
    fields.replaceChildren(
      row('client ID', c.client_id, 'client_id'), row('status', c.status, 'status'),
      ...(c.node ? [row('node', c.node, 'node')] : []), // the node holding the session, in a cluster
      row('address', c.client_address, 'client_address'), row('listener', c.listener, 'listener'),
      row('user name', c.username + (c.username ? (c.authenticated ? ' (verified)' : ' (not verified)') : ''), 'username'),
      row('protocol', c.protocol_version === 5 ? 'MQTT 5.0' : c.protocol_version === 4 ? 'MQTT 3.1.1' : c.protocol_version === 3 ? 'MQTT 3.1' : c.protocol_version, 'protocol_version'),
      row('keep-alive', c.keep_alive_seconds + ' s', 'keep_alive_seconds'),
      row('clean session', String(c.clean_session), 'clean_session'),
      row('session expiry', c.session_expiry_seconds + ' s', 'session_expiry_seconds'),
      row('created', fmtTime(c.create_time_ms), 'create_time'),
      row('connected', fmtTime(c.connect_time_ms), 'connect_time'),
      row('disconnected', fmtTime(c.disconnect_time_ms), 'disconnect_time'),
      row('last activity', fmtTime(c.last_activity_ms) + ' ' + ago(c.last_activity_ms), 'last_activity'),
      row('connections', c.connections, 'connections'),
      row('last disconnect', c.disconnect_reason + (c.disconnect_detail ? ': ' + c.disconnect_detail : '') +
        (c.disconnect_reason_code ? ` (DISCONNECT ${c.disconnect_reason_code.hex} ${c.disconnect_reason_code.name}, sent by the ${c.disconnect_reason_code.by})` : ''), 'disconnect_reason'),
      row('will topic', c.will_topic || '—', 'will_topic'),
      ...mqtt5Rows(c.mqtt5, row),
      row('queued (lag)', `${c.queue.len} / ${c.queue.max}, ${c.queue.dropped} dropped`, 'queue'),
      row('in flight', `${c.inflight.len} / ${c.inflight.max}`, 'inflight'),
      row('awaiting PUBREL', c.awaiting_pubrel, 'awaiting_pubrel'),
      row('bytes received', fmtBytes(c.received.bytes), 'received_bytes'),
      row('bytes sent', fmtBytes(c.sent.bytes), 'sent_bytes'));
    subs.replaceChildren(
      h('p', { class: 'muted' }, `Lag: ${c.queue.len} queued of ${c.queue.max} (${c.queue.dropped} dropped); in flight ${c.inflight.len} of ${c.inflight.max}; ${c.awaiting_pubrel} awaiting PUBREL.`),
      c.subscriptions.length ? h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'topic filter'), h('th', { class: 'num' }, 'QoS'))),
        h('tbody', null, c.subscriptions.map(s => h('tr', null, h('td', null, s.topic_filter), h('td', { class: 'num' }, s.qos)))))
        : h('p', { class: 'muted' }, 'No subscriptions.'));
    recvChart.replaceChildren(lineChart(recv, '/s'));
    sentChart.replaceChildren(lineChart(sent, '/s'));
    const keys = [...new Set([...c.received.packets, ...c.sent.packets].map(p => `${p.type} q${p.qos}`))].sort();
    const rc = countersOf(c.received), sc = countersOf(c.sent);
    counts.replaceChildren(h('table', { id: 'count-table' },
      h('thead', null, h('tr', null, h('th', null, 'packet'), h('th', { class: 'num' }, 'received'), h('th', { class: 'num' }, 'sent'))),
      h('tbody', null, keys.map(k => h('tr', null, h('td', null, k),
        h('td', { class: 'num', 'data-count': 'received ' + k, 'data-value': rc[k] || 0 }, rc[k] || 0),
        h('td', { class: 'num', 'data-count': 'sent ' + k, 'data-value': sc[k] || 0 }, sc[k] || 0))))));
    timeline.replaceChildren(...[...c.history].reverse().map(e => h('li', { class: e.event },
      h('strong', null, e.event), ' ', fmtTime(e.time_ms), ' from ', e.address,
      e.reason ? h('span', { class: 'muted' }, ' — ', e.reason, e.detail ? ': ' + e.detail : '') : null)));
    if (!c.history.length) timeline.replaceChildren(h('li', { class: 'muted' }, 'No events yet.'));
    // The message trace appears when the broker records one for this client.
    const tr = Array.isArray(c.trace) ? c.trace : [];
    trace.hidden = tr.length === 0;
    if (tr.length) {
      const cols = [...new Set(tr.flatMap(e => Object.keys(e)))];
      trace.replaceChildren(h('h2', null, 'Message trace'), h('table', null,
        h('thead', null, h('tr', null, cols.map(k => h('th', null, k)))),
        h('tbody', null, tr.map(e => h('tr', null, cols.map(k => h('td', null, typeof e[k] === 'object' ? JSON.stringify(e[k]) : e[k])))))));
    }
  });
}

// mqtt5Rows returns the client page's rows of what a 5.0 client's CONNECT
// said (the native answer's mqtt5 block), none for a 3.1.1 client.
function mqtt5Rows(m, row) {
  if (!m) return [];
  const props = m.user_properties.map(p => p.name + ' = ' + p.value).join(', ');
  return [
    row('receive maximum', m.receive_maximum || '— (65535)', 'receive_maximum'),
    row('topic alias maximum', m.topic_alias_maximum, 'topic_alias_maximum'),
    row('maximum packet size', m.maximum_packet_size ? fmtBytes(m.maximum_packet_size) : '— (no limit)', 'maximum_packet_size'),
    row('authentication method', m.authentication_method || '—', 'authentication_method'),
    row('user properties', (props || '—') + (m.user_properties_truncated ? ' … (more not kept)' : ''), 'user_properties'),
  ];
}

// ---- retained ----

function pageRetained(params) {
  const prefix = h('input', { id: 'r-prefix', placeholder: 'topic prefix', value: params.get('prefix') || '' });
  const body = h('tbody');
  const prev = h('button', { class: 'secondary', disabled: true }, '← Previous');
  const more = h('button', { class: 'secondary', disabled: true }, 'Next →');
  const cursors = [''];
  let pageNo = 0, next = '';
  mount(h('h1', null, 'Retained messages'), h('div', { class: 'toolbar' }, prefix),
    h('div', { class: 'card' }, h('table', { id: 'retained-table' },
      h('thead', null, h('tr', null, h('th', null, 'topic'), h('th', { class: 'num' }, 'QoS'), h('th', { class: 'num' }, 'size'), h('th', null, 'payload'))),
      body), h('div', { class: 'pager' }, prev, more)));
  const load = async () => {
    const u = new URLSearchParams({ limit: PAGE, prefix: prefix.value });
    if (cursors[pageNo]) u.set('cursor', cursors[pageNo]);
    const list = await api('/api/v1/retained?' + u);
    clearError();
    next = list.next_cursor;
    body.replaceChildren(...list.messages.map(m => h('tr', { 'data-topic': m.topic },
      h('td', null, m.topic), h('td', { class: 'num' }, m.qos), h('td', { class: 'num' }, fmtBytes(m.payload_bytes)),
      h('td', null, h('pre', null, m.payload_text !== undefined ? m.payload_text : 'base64: ' + (m.payload_base64 || ''), m.truncated ? ' …' : '')))));
    if (!list.messages.length) body.append(h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No retained messages match.')));
    prev.disabled = pageNo === 0;
    more.disabled = !next;
  };
  let debounce = null;
  prefix.addEventListener('input', () => {
    cursors.length = 1; pageNo = 0;
    history.replaceState(null, '', '#/retained' + (prefix.value ? '?' + new URLSearchParams({ prefix: prefix.value }) : ''));
    clearTimeout(debounce);
    debounce = setTimeout(() => load().catch(showError), 250);
  });
  prev.addEventListener('click', () => { if (pageNo > 0) { pageNo--; load().catch(showError); } });
  more.addEventListener('click', () => { if (next) { cursors[pageNo + 1] = next; pageNo++; load().catch(showError); } });
  every(load, 5000);
}

// ---- cluster ----

// replicaBad reports whether a replica needs an operator's eye: offline,
// not current, or behind its leader.
function replicaBad(r) { return r.offline || !r.current || r.lag > 0; }

function pageCluster() {
  const stats = h('div', { class: 'grid', id: 'cluster-stats' });
  const nodes = h('tbody');
  const repl = h('tbody');
  const routes = h('tbody');
  const counters = h('tbody');
  const jsErr = h('p', { class: 'error', id: 'cluster-js-error', hidden: true });
  const th = (t, num) => h('th', { class: num ? 'num' : null }, t);
  mount(h('h1', null, 'Cluster'), jsErr, stats,
    h('div', { class: 'card' }, h('h2', null, 'Nodes'), h('table', { id: 'node-table' },
      h('thead', null, h('tr', null, th('node'), th('MQTT address'), th('state'), th('last seen'), th('connections', true), th('sessions', true))), nodes)),
    h('div', { class: 'card' }, h('h2', null, 'JetStream replication'),
      h('p', { class: 'muted' }, 'Each replicated stream and key-value bucket: its leader, and each replica\'s lag in operations behind it. Offline, stale or lagging replicas are highlighted.'),
      h('table', { id: 'repl-table' },
        h('thead', null, h('tr', null, th('asset'), th('kind'), th('leader'), th('replicas (lag)'), th('messages', true), th('size', true))), repl)),
    h('div', { class: 'cols' },
      h('div', { class: 'card' }, h('h2', null, 'Routes of this node'), h('table', { id: 'route-table' },
        h('thead', null, h('tr', null, th('peer'), th('address'), th('RTT'), th('messages in', true), th('messages out', true))), routes)),
      h('div', { class: 'card' }, h('h2', null, 'Counters of this node'), h('table', { class: 'kv', id: 'cluster-counters' }, counters))));
  every(async () => {
    const c = await api('/api/v1/cluster');
    clearError();
    const alive = c.nodes.filter(n => n.alive).length;
    const stat = (k, v, id) => h('div', { class: 'stat' }, h('div', { class: 'v', id, 'data-value': v }, v), h('div', { class: 'k' }, k));
    stats.replaceChildren(
      stat('cluster', c.name, 'stat-cluster'),
      stat('answered by', c.node, 'stat-node'),
      stat('nodes alive', `${alive} / ${c.nodes.length}`, 'stat-alive'),
      stat('JetStream meta leader', c.jetstream.meta_leader || '—', 'stat-meta'),
      stat('lagging assets', c.replication.filter(a => !a.leader || a.replicas.some(replicaBad)).length, 'stat-lagging'));
    const jerr = [c.jetstream.error, c.replication_error].filter(Boolean).join('; ');
    jsErr.hidden = !jerr;
    jsErr.textContent = jerr ? 'JetStream: ' + jerr : '';
    nodes.replaceChildren(...c.nodes.map(n => h('tr', { 'data-node': n.name, class: n.alive ? null : 'warn' },
      h('td', null, n.name, n.name === c.node ? h('span', { class: 'muted' }, ' (this node)') : null),
      h('td', null, n.address),
      h('td', null, h('span', { class: 'badge ' + (n.alive ? 'online' : 'dead') }, n.alive ? 'alive' : 'dead')),
      h('td', { title: fmtTime(n.last_seen_ms) }, ago(n.last_seen_ms)),
      h('td', { class: 'num' }, fmtNum(n.connections)), h('td', { class: 'num' }, fmtNum(n.sessions)))));
    repl.replaceChildren(...c.replication.map(a => {
      const bad = !a.leader || a.replicas.some(replicaBad);
      return h('tr', { 'data-asset': a.name, class: bad ? 'warn' : null },
        h('td', { title: 'stream ' + a.stream }, a.name), h('td', null, a.kind),
        h('td', null, a.leader || h('span', { class: 'error' }, 'no leader')),
        h('td', null, a.replicas.map(r => h('span', { class: 'replica' + (replicaBad(r) ? ' bad' : ''), 'data-replica': r.name, 'data-lag': r.lag },
          r.name, r.name === a.leader ? ' ★' : '', ` ${fmtNum(r.lag)}`, r.offline ? ' offline' : !r.current ? ' stale' : ''))),
        h('td', { class: 'num' }, fmtNum(a.messages)), h('td', { class: 'num' }, fmtBytes(a.bytes)));
    }));
    if (!c.replication.length) repl.append(h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No replication state: JetStream did not answer in time.')));
    routes.replaceChildren(...c.routes.map(r => h('tr', null, h('td', null, r.remote), h('td', null, r.address), h('td', null, r.rtt),
      h('td', { class: 'num' }, fmtNum(r.in_msgs)), h('td', { class: 'num' }, fmtNum(r.out_msgs)))));
    if (!c.routes.length) routes.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No routes (an external NATS, or no peer yet).')));
    counters.replaceChildren(...Object.entries(c.counters).map(([k, v]) =>
      h('tr', null, h('td', null, k.replaceAll('_', ' ')), h('td', { class: 'num', 'data-counter': k }, fmtNum(v)))));
  }, 2000);
}

// ---- login and routing ----

function showLogin() {
  app.gen++;
  clearTimeout(app.timer);
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  const main = document.getElementById('main');
  main.replaceChildren(document.getElementById('login-tpl').content.cloneNode(true));
  const form = document.getElementById('login');
  document.getElementById('secret').focus();
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const err = document.getElementById('login-error');
    const r = await fetch('/ui/login', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ secret: document.getElementById('secret').value }) });
    const body = await r.json().catch(() => null);
    if (!r.ok) {
      err.textContent = (body && body.error && body.error.message) || ('HTTP ' + r.status);
      err.hidden = false;
      return;
    }
    app.csrf = body.csrf || '';
    route();
  });
}

function route() {
  app.gen++;
  clearTimeout(app.timer);
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = !app.authRequired;
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  let page = 'overview';
  if (path.startsWith('/client/')) { page = 'clients'; pageClient(decodeURIComponent(path.slice('/client/'.length))); }
  else if (path === '/clients') { page = 'clients'; pageClients(params); }
  else if (path === '/retained') { page = 'retained'; pageRetained(params); }
  else if (path === '/cluster') { page = 'cluster'; pageCluster(); }
  else pageOverview();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
}

async function start() {
  const r = await fetch('/ui/session', { credentials: 'same-origin', cache: 'no-store' });
  const s = await r.json();
  app.authRequired = s.auth_required;
  app.csrf = s.csrf || '';
  app.clustered = !!s.cluster; // the node answers /api/v1/cluster
  document.getElementById('nav-cluster').hidden = !app.clustered;
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/ui/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': app.csrf } });
    app.csrf = '';
    showLogin();
  });
  window.addEventListener('hashchange', () => { if (app.csrf || !app.authRequired) route(); });
  if (s.authenticated) route(); else showLogin();
}

start().catch(e => {
  document.getElementById('main').replaceChildren(h('p', { class: 'error' }, 'Cannot reach the admin API: ' + e.message));
});
