// fraudwatch console: the analysts' page. Plain DOM, no framework. Every value
// from the API reaches the page through textContent or setAttribute, never as
// markup: alerts carry whatever the transactions held.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const VERDICTS = [['confirmed_fraud', 'Confirmed fraud'], ['false_positive', 'False positive'],
                  ['not_sure', 'Not sure']];
const VERDICT_LABEL = Object.fromEntries(VERDICTS);
const SEVERITIES = ['low', 'medium', 'high', 'critical'];
const POLL_MS = 5000; // the feed's fallback when the console has no /api/stream

// ---- DOM helpers ----

// el('tr', {class: 'x'}, 'text', node...): strings become text nodes.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, kids);
  return e;
}
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG, tag);
  setAttrs(e, attrs);
  append(e, kids);
  return e;
}
function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}
function append(e, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    e.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}
const $ = (sel, root = document) => root.querySelector(sel);
const text = (v) => (v === null || v === undefined ? '—' : String(v));
const time = (iso) => (iso ? String(iso).replace('T', ' ').replace('.000Z', 'Z') : '—');
const num = (v, d = 2) => (typeof v === 'number' ? +v.toFixed(d) + '' : '—');
// A hash link; ids are encoded per segment so "/", "=" and ">" survive.
const href = (...parts) => '#/' + parts.map((p) => encodeURIComponent(String(p))).join('/');

// ---- session (sessionStorage: gone when the tab closes) ----

const session = {
  get name() { return sessionStorage.getItem('fw.name') || ''; },
  get token() { return sessionStorage.getItem('fw.token') || ''; },
  set(name, token) {
    sessionStorage.setItem('fw.name', name);
    sessionStorage.setItem('fw.token', token);
  },
  clear() { sessionStorage.removeItem('fw.name'); sessionStorage.removeItem('fw.token'); },
};

function showWho() {
  const who = $('#who');
  who.replaceChildren();
  if (session.token) {
    const out = () => { session.clear(); showWho(); };
    who.append('Signed in as ', el('strong', {}, session.name), ' ',
               el('button', { type: 'button', class: 'link', onclick: out }, 'Sign out'));
  } else {
    who.append(el('button', { type: 'button', onclick: () => askSignIn() }, 'Sign in'));
  }
}

let afterSignIn = null;
function askSignIn(then) {
  afterSignIn = then || null;
  const f = $('#signin');
  f.hidden = false;
  f.elements.name.value = session.name;
  f.elements.name.focus();
}

function flash(msg, kind = 'error') {
  const f = $('#flash');
  f.className = 'flash ' + kind;
  f.textContent = msg;
  f.hidden = !msg;
}

// ---- the API ----

class ApiError extends Error {
  constructor(status, message, method, path) {
    super(message);
    this.status = status;
    this.method = method;
    this.path = path;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.headers.Authorization = 'Bearer ' + session.token;
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'the console does not answer', method, path);
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* an empty or non-JSON body */ }
  if (!res.ok) {
    const why = data && typeof data.error === 'string' ? data.error : res.statusText;
    throw new ApiError(res.status, why, method, path);
  }
  return data;
}

// A visible message for a failed request; 404 and 405 on an endpoint mean this
// console does not serve it (yet): the view says so instead of breaking.
function problem(err) {
  const where = `${err.method} ${err.path.split('?')[0]}`;
  let msg;
  if (err.status === 401) msg = `${where}: the console refused the token (401). Sign in again.`;
  else if (err.status === 404) msg = `${where} answered 404: ${err.message}`;
  else if (err.status === 405) msg = `${where} answered 405: not accepted here (${err.message})`;
  else if (err.status === 0) msg = `${where}: ${err.message}`;
  else msg = `${where} answered ${err.status}: ${err.message}`;
  return el('p', { class: 'notice', 'data-status': err.status }, msg);
}

// Runs a write signed with the analyst's name (in field `who`, added when it
// is sent, since signing in may come first); on 401 asks to sign in again.
async function write(path, fields, done, who = 'actor') {
  const again = () => write(path, fields, done, who);
  if (!session.token) {
    askSignIn(again);
    return;
  }
  try {
    const data = await api('POST', path, { ...fields, [who]: session.name });
    flash('');
    done(data);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    flash(problem(err).textContent);
    if (err.status === 401) {
      sessionStorage.removeItem('fw.token');
      showWho();
      askSignIn(again);
    }
  }
}

// ---- live alerts: Server-Sent Events, or polling when the stream is missing ----

// handler: the view's use of a new alert; onReconnect: its refresh after a gap.
const live = { handler: null, onReconnect: null, known: new Set() };

function connState(state, label) {
  const c = $('#conn');
  c.dataset.state = state;
  c.textContent = label;
}

function deliver(item) {
  const id = item && item.alert && item.alert.alert_id;
  if (!id || live.known.has(id)) return;
  live.known.add(id);
  if (live.handler) live.handler(item);
}

function startLive() {
  const es = new EventSource('/api/stream');
  let dropped = false;
  es.addEventListener('open', () => {
    connState('live', 'live');
    if (dropped && live.onReconnect) live.onReconnect(); // alerts missed while down
    dropped = false;
  });
  es.addEventListener('alert', (ev) => {
    let item;
    try { item = JSON.parse(ev.data); } catch (e) { console.warn('a stream event not in JSON'); }
    deliver(item);
  });
  es.addEventListener('error', async () => {
    dropped = true;
    if (es.readyState === EventSource.CONNECTING) {
      connState('reconnecting', 'reconnecting…');
      return;
    }
    // Closed for good: find out why (an EventSource does not say).
    let status = 0;
    try {
      const ctl = new AbortController();
      const res = await fetch('/api/stream', { signal: ctl.signal });
      status = res.status;
      ctl.abort();
    } catch (e) { /* the console is down */ }
    if (status === 200 || status === 0) { // a hiccup, or the console is down: try again
      setTimeout(startLive, 3000);
      connState('reconnecting', status ? 'reconnecting…' : 'offline: no answer');
    } else {
      startPolling(`GET /api/stream answered ${status}`);
    }
  });
}

function startPolling(why) {
  connState('polling', `polling every ${POLL_MS / 1000} s: ${why}`);
  let first = true;
  const poll = async () => {
    try {
      const data = await api('GET', '/api/alerts?limit=100');
      const items = data.alerts.slice().reverse(); // oldest first: the newest ends on top
      for (const it of items) {
        if (first) live.known.add(it.alert.alert_id);
        else deliver(it);
      }
      first = false;
    } catch (e) { /* shown by the views; try again */ }
    setTimeout(poll, POLL_MS);
  };
  poll();
}

// ---- shared pieces ----

function severityBadge(sev) {
  const s = SEVERITIES.includes(sev) ? sev : 'unknown';
  return el('span', { class: 'sev sev-' + s }, text(sev));
}
function shadowBadge(alert) {
  return alert && alert.shadow === true
    ? el('span', { class: 'badge shadow', title: 'shadow rule: evaluated, not acted on' }, 'shadow')
    : null;
}
function verdictBadge(v) {
  return v ? el('span', { class: 'badge verdict v-' + v }, VERDICT_LABEL[v] || text(v)) : null;
}
function table(headers, rows, attrs) {
  return el('table', attrs || {},
            el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
            el('tbody', {}, rows));
}
function dl(pairs) {
  return el('dl', { class: 'facts' },
            pairs.filter((p) => p).map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}
function verdictButtons(current, onPick) {
  const note = el('input', { name: 'note', placeholder: 'note (optional)', maxlength: 2000 });
  return el('div', { class: 'verdicts' },
            VERDICTS.map(([v, label]) =>
              el('button', { type: 'button', class: 'verdict-btn v-' + v, 'data-verdict': v,
                             'aria-pressed': current === v ? 'true' : 'false',
                             onclick: () => onPick(v, note.value.trim() || undefined) }, label)),
            note);
}

function alertRow(item, fresh) {
  const a = item.alert;
  const go = href('alert', a.alert_id);
  const cls = [fresh ? 'fresh' : '', a.shadow ? 'is-shadow' : ''].join(' ').trim();
  return el('tr', { 'data-id': a.alert_id, class: cls || null,
                    onclick: (ev) => { if (!ev.target.closest('a')) location.hash = go; } },
            el('td', { class: 'when' }, el('a', { href: go }, time(a.event_time))),
            el('td', {}, severityBadge(a.severity)),
            el('td', {}, text(a.rule), ' ', shadowBadge(a)),
            el('td', {}, el('span', { class: 'muted' }, text(a.entity_type) + ' '),
               text(a.entity_id)),
            el('td', { class: 'reason' }, text(a.reason)),
            el('td', {}, verdictBadge(item.verdict || null)));
}
const ALERT_HEAD = ['event time', 'severity', 'rule', 'entity', 'reason', 'verdict'];

// ---- views ----

const FILTERS = ['rule', 'severity', 'entity_type', 'entity_id', 'shadow', 'from', 'to'];

// The feed: the stored alerts matching the filters, newest first; live ones on top.
async function viewAlerts(view, q) {
  const form = el('form', { class: 'filters' },
    el('label', {}, 'Rule ', el('input', { name: 'rule', value: q.get('rule') || '' })),
    el('label', {}, 'Severity ', el('select', { name: 'severity' },
      ['', ...SEVERITIES].map((s) => el('option', { value: s, selected: q.get('severity') === s },
                                        s || 'any')))),
    el('label', {}, 'Entity type ', el('input', { name: 'entity_type', size: 10,
                                                  value: q.get('entity_type') || '' })),
    el('label', {}, 'Entity id ', el('input', { name: 'entity_id',
                                                value: q.get('entity_id') || '' })),
    el('label', {}, 'Shadow ', el('select', { name: 'shadow' },
      [['any', 'any'], ['false', 'live rules only'], ['true', 'shadow only']].map(([v, l]) =>
        el('option', { value: v, selected: (q.get('shadow') || 'any') === v }, l)))),
    el('label', {}, 'From ', el('input', { name: 'from', placeholder: '2024-01-31T00:00:00Z',
                                           value: q.get('from') || '' })),
    el('label', {}, 'To ', el('input', { name: 'to', placeholder: 'ISO 8601, UTC',
                                         value: q.get('to') || '' })),
    el('button', { type: 'submit' }, 'Apply'),
    el('a', { href: '#/', class: 'link' }, 'Clear'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const f of FILTERS) {
      const v = form.elements[f].value.trim();
      if (v && !(f === 'shadow' && v === 'any')) p.set(f, v);
    }
    location.hash = '#/' + (p.toString() ? '?' + p : '');
  });
  const tbody = el('tbody');
  const more = el('button', { type: 'button', hidden: true }, 'Older alerts');
  const status = el('div');
  view.append(el('h1', {}, 'Alerts'), form, status,
              el('table', { id: 'feed', class: 'alerts' },
                 el('thead', {}, el('tr', {}, ALERT_HEAD.map((h) => el('th', {}, h)))), tbody),
              more);

  const base = new URLSearchParams();
  for (const f of FILTERS) if (q.get(f)) base.set(f, q.get(f));
  let next = null;
  const load = async (before, replace) => {
    const p = new URLSearchParams(base);
    p.set('limit', '100');
    if (before) p.set('before', before);
    try {
      const data = await api('GET', '/api/alerts?' + p);
      if (!view.isConnected) return;
      status.replaceChildren();
      if (replace) tbody.replaceChildren();
      for (const it of data.alerts) {
        live.known.add(it.alert.alert_id);
        if (!tbody.querySelector(`tr[data-id="${CSS.escape(it.alert.alert_id)}"]`))
          tbody.append(alertRow(it, false));
      }
      next = data.next;
      more.hidden = !next;
      if (!tbody.children.length)
        status.replaceChildren(el('p', { class: 'muted' }, 'No alerts match.'));
    } catch (err) {
      status.replaceChildren(problem(err));
    }
  };
  more.addEventListener('click', () => load(next, false));
  const matches = (a) =>
    (!q.get('rule') || a.rule === q.get('rule')) &&
    (!q.get('severity') || a.severity === q.get('severity')) &&
    (!q.get('entity_type') || a.entity_type === q.get('entity_type')) &&
    (!q.get('entity_id') || a.entity_id === q.get('entity_id')) &&
    (q.get('shadow') !== 'true' || a.shadow === true) &&
    (q.get('shadow') !== 'false' || a.shadow !== true) &&
    (!q.get('from') || Date.parse(a.event_time) >= Date.parse(q.get('from'))) &&
    (!q.get('to') || Date.parse(a.event_time) < Date.parse(q.get('to')));
  live.handler = (item) => {
    if (!matches(item.alert)) return;
    tbody.prepend(alertRow(item, true));
    status.replaceChildren();
  };
  live.onReconnect = () => load(null, true);
  await load(null, true);
}

// Where the alert happened, when it says: evidence entries or the transaction
// with lat/lon. Plain equirectangular projection, no map tiles.
function mapLine(alert) {
  const located = (o) => o && typeof o.lat === 'number' && typeof o.lon === 'number' &&
                         Math.abs(o.lat) <= 90 && Math.abs(o.lon) <= 180;
  const tx = alert.transaction && typeof alert.transaction === 'object' ? alert.transaction : null;
  const pts = [];
  // In evidence order (oldest first); the triggering transaction lends its
  // coordinates to its evidence entry, or comes last when it has none.
  for (const e of Array.isArray(alert.evidence) ? alert.evidence : []) {
    if (located(e)) pts.push(e);
    else if (located(tx) && e && e.transaction_id === tx.transaction_id) pts.push({ ...e, ...tx });
  }
  if (located(tx) && !pts.some((p) => p.transaction_id === tx.transaction_id)) pts.push(tx);
  if (!pts.length) return null;
  const x = (lon) => lon + 180, y = (lat) => 90 - lat;
  const map = svg('svg', { viewBox: '0 0 360 180', class: 'map', role: 'img',
                           'aria-label': 'transaction locations' },
    svg('rect', { x: 0, y: 0, width: 360, height: 180, class: 'map-bg' }));
  for (let lon = -150; lon < 180; lon += 30)
    map.append(svg('line', { x1: x(lon), y1: 0, x2: x(lon), y2: 180, class: 'grid' }));
  for (let lat = -60; lat <= 60; lat += 30)
    map.append(svg('line', { x1: 0, y1: y(lat), x2: 360, y2: y(lat),
                             class: lat ? 'grid' : 'grid equator' }));
  if (pts.length > 1)
    map.append(svg('polyline', { points: pts.map((p) => `${x(p.lon)},${y(p.lat)}`).join(' '),
                                 class: 'route' }));
  pts.forEach((p, i) => {
    map.append(svg('circle', { cx: x(p.lon), cy: y(p.lat), r: 2.5, class: i ? 'pt last' : 'pt' },
                   svg('title', {}, `${text(p.transaction_id)} ${text(p.country)} ` +
                                    `${p.lat}, ${p.lon}`)),
               svg('text', { x: x(p.lon) + 4, y: y(p.lat) - 3, class: 'pt-label' },
                   `${i + 1} ${p.country || ''}`));
  });
  let caption = 'Only one located transaction in this alert.';
  if (pts.length > 1) {
    const km = pts.slice(1).reduce((s, p, i) => s + haversine(pts[i], p), 0);
    caption = `${pts.length} located transactions, ${Math.round(km)} km apart in total.`;
  }
  return el('figure', { class: 'mapbox' }, map, el('figcaption', {}, caption));
}
function haversine(a, b) {
  const r = Math.PI / 180;
  const h = Math.sin((b.lat - a.lat) * r / 2) ** 2 +
            Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin((b.lon - a.lon) * r / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

// The model's top features as bars of their log-odds contribution.
function mlChart(ml) {
  const feats = Array.isArray(ml.top_features) ? ml.top_features : [];
  const box = el('section', { class: 'ml' }, el('h2', {}, 'Model'),
    dl([['score', num(ml.score, 4)], ['threshold', num(ml.threshold, 4)],
        ['model', text(ml.model)]]));
  if (!feats.length) {
    box.append(el('p', { class: 'muted' }, 'No feature contributions (scored remotely).'));
    return box;
  }
  const max = Math.max(...feats.map((f) => Math.abs(+f.contribution || 0)), 1e-9);
  const rowH = 18, labelW = 170, barW = 220, mid = labelW + barW / 2;
  const chart = svg('svg', { viewBox: `0 0 ${labelW + barW + 70} ${feats.length * rowH + 8}`,
                             class: 'bars', role: 'img', 'aria-label': 'feature contributions' },
    svg('line', { x1: mid, y1: 0, x2: mid, y2: feats.length * rowH + 8, class: 'axis' }));
  feats.forEach((f, i) => {
    const c = +f.contribution || 0, w = (Math.abs(c) / max) * (barW / 2), yy = i * rowH + 4;
    chart.append(
      svg('text', { x: labelW - 6, y: yy + 12, class: 'lbl', 'text-anchor': 'end' },
          `${text(f.feature)} = ${text(f.value)}`),
      svg('rect', { x: c >= 0 ? mid : mid - w, y: yy + 2, width: Math.max(w, 0.5), height: rowH - 6,
                    class: c >= 0 ? 'bar up' : 'bar down' }),
      svg('text', { x: labelW + barW + 4, y: yy + 12, class: 'lbl' },
          (c >= 0 ? '+' : '') + num(c, 3)));
  });
  box.append(chart,
             el('p', { class: 'muted' }, 'Contribution in log-odds: right pushes towards fraud.'));
  return box;
}

function kvTable(obj) {
  return table(['field', 'value'], Object.entries(obj).map(([k, v]) =>
    el('tr', {}, el('th', {}, k), el('td', {}, typeof v === 'object' && v !== null
      ? JSON.stringify(v) : text(v)))), { class: 'kv' });
}

async function viewAlert(view, id) {
  let item;
  try {
    item = await api('GET', '/api/alerts/' + encodeURIComponent(id));
  } catch (err) {
    view.append(el('h1', {}, 'Alert'), problem(err));
    return;
  }
  const a = item.alert, st = item.stored || {};
  const verdictBox = el('div');
  const showVerdict = (it) => {
    verdictBox.replaceChildren(el('h2', {}, 'Verdict'),
      el('p', { id: 'verdict-now' }, it.verdict ? verdictBadge(it.verdict) : 'No verdict yet.'),
      verdictButtons(it.verdict, (v, note) =>
        write(`/api/alerts/${encodeURIComponent(id)}/verdict`,
              { verdict: v, note }, (res) => {
                flash(`Recorded: ${VERDICT_LABEL[v]}.`, 'ok');
                showVerdict(res && res.alert ? res : { ...it, verdict: v });
              })));
  };
  showVerdict(item);
  const ev = Array.isArray(a.evidence) ? a.evidence : [];
  const cols = ['transaction_id', 'timestamp', 'amount'];
  for (const e of ev) for (const k of Object.keys(e || {})) if (!cols.includes(k)) cols.push(k);
  const entityLink = '#/?' + new URLSearchParams({ entity_type: a.entity_type,
                                                   entity_id: a.entity_id });
  view.append(
    el('h1', {}, text(a.rule), ' ', severityBadge(a.severity), ' ', shadowBadge(a)),
    el('p', { class: 'reason', id: 'reason' }, text(a.reason)),
    dl([['alert', el('code', {}, text(a.alert_id))],
        ['rule version', text(a.rule_version)],
        ['entity', el('a', { href: entityLink, id: 'entity' },
                      `${text(a.entity_type)} ${text(a.entity_id)}`)],
        ['event time', time(a.event_time)], ['detected at', time(a.detected_at)],
        (a.window_start || a.window_end) &&
          ['window', el('span', { id: 'window' },
                        `${time(a.window_start)} → ${time(a.window_end)}`)],
        ['stored', `${text(st.topic)} [${text(st.partition)}] @ ${text(st.offset)}, ` +
                   time(st.stored_at)],
        ['case', item.case_id != null
          ? el('a', { href: href('case', item.case_id) }, '#' + item.case_id) : 'none']]),
    verdictBox,
    el('h2', {}, `Evidence (${ev.length})`),
    table(cols, ev.map((e) => el('tr', {}, cols.map((c) =>
      el('td', {}, e && typeof e[c] === 'object' ? JSON.stringify(e[c]) : text(e && e[c]))))),
      { id: 'evidence' }));
  if (a.values && typeof a.values === 'object')
    view.append(el('h2', {}, 'Values'), kvTable(a.values));
  if (a.ml && typeof a.ml === 'object') view.append(mlChart(a.ml));
  const m = mapLine(a);
  if (m) view.append(el('h2', {}, 'Where'), m);
  if (a.transaction && typeof a.transaction === 'object')
    view.append(el('h2', {}, 'Triggering transaction'), kvTable(a.transaction));
  const others = el('div', { id: 'entity-alerts' }, el('p', { class: 'muted' }, 'Loading…'));
  view.append(el('h2', {}, 'Other alerts of this entity'), others);
  try {
    const data = await api('GET', `/api/entities/${encodeURIComponent(a.entity_type)}/` +
                                  `${encodeURIComponent(a.entity_id)}/alerts?limit=50`);
    const rows = data.alerts.filter((it) => it.alert.alert_id !== a.alert_id);
    others.replaceChildren(rows.length
      ? table(ALERT_HEAD, rows.map((it) => alertRow(it)), { class: 'alerts' })
      : el('p', { class: 'muted' }, 'None.'));
  } catch (err) {
    others.replaceChildren(problem(err));
  }
}

const STATUSES = ['open', 'investigating', 'closed'];
function caseRow(c) {
  const v = c.verdicts || {};
  return el('tr', { 'data-case': c.case_id },
    el('td', {}, el('a', { href: href('case', c.case_id) }, '#' + text(c.case_id))),
    el('td', {}, el('span', { class: 'muted' }, text(c.entity_type) + ' '), text(c.entity_id)),
    el('td', {}, el('span', { class: 'badge st-' + (STATUSES.includes(c.status) ? c.status : 'x') },
                    text(c.status))),
    el('td', {}, text(c.assignee)), el('td', {}, text(c.alerts)),
    el('td', {}, `${v.confirmed_fraud || 0} / ${v.false_positive || 0} / ${v.not_sure || 0}`),
    el('td', {}, time(c.updated_at)));
}

async function viewCases(view, q) {
  const sel = el('select', { name: 'status' }, ['', ...STATUSES].map((s) =>
    el('option', { value: s, selected: (q.get('status') || '') === s }, s || 'any status')));
  sel.addEventListener('change', () => {
    location.hash = '#/cases' + (sel.value ? '?status=' + sel.value : '');
  });
  const tbody = el('tbody'), status = el('div');
  const more = el('button', { type: 'button', hidden: true }, 'Older cases');
  view.append(el('h1', {}, 'Cases'),
    el('div', { class: 'filters' }, el('label', {}, 'Status ', sel)), status,
    el('table', { id: 'cases' }, el('thead', {}, el('tr', {},
      ['case', 'entity', 'status', 'assignee', 'alerts', 'fraud / false pos. / not sure', 'updated']
        .map((h) => el('th', {}, h)))), tbody), more);
  let next = null;
  const load = async (before) => {
    const p = new URLSearchParams({ limit: '100' });
    if (q.get('status')) p.set('status', q.get('status'));
    if (before) p.set('before', before);
    try {
      const data = await api('GET', '/api/cases?' + p);
      tbody.append(...data.cases.map(caseRow));
      next = data.next;
      more.hidden = !next;
      if (!tbody.children.length) status.replaceChildren(el('p', { class: 'muted' }, 'No cases.'));
    } catch (err) {
      status.replaceChildren(problem(err));
    }
  };
  more.addEventListener('click', () => load(next));
  await load(null);
}

async function viewCase(view, id) {
  const path = '/api/cases/' + encodeURIComponent(id);
  let data;
  try {
    data = await api('GET', path);
  } catch (err) {
    view.append(el('h1', {}, 'Case #' + id), problem(err));
    return;
  }
  const c = data.case;
  const rerender = () => route();
  const statusSel = el('select', { name: 'status' }, STATUSES.map((s) =>
    el('option', { value: s, selected: c.status === s }, s)));
  const assignee = el('input', { name: 'assignee', value: c.assignee || '',
                                 placeholder: 'nobody' });
  const edit = el('form', { class: 'filters' }, el('label', {}, 'Status ', statusSel),
                  el('label', {}, 'Assignee ', assignee), el('button', { type: 'submit' }, 'Save'),
                  el('button', { type: 'button', class: 'link',
                                 onclick: () => { assignee.value = session.name; } }, 'Take it'));
  edit.addEventListener('submit', (ev) => {
    ev.preventDefault();
    write(path, { status: statusSel.value, assignee: assignee.value.trim() || null },
          () => { flash('Case saved.', 'ok'); rerender(); });
  });
  const noteText = el('textarea', { name: 'text', rows: 3, required: true });
  const noteForm = el('form', { class: 'note-form' }, noteText,
                      el('button', { type: 'submit' }, 'Add note'));
  noteForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!noteText.value.trim()) return;
    write(path + '/notes', { text: noteText.value.trim() },
          () => { flash('Note added.', 'ok'); rerender(); }, 'author');
  });
  const v = c.verdicts || {};
  view.append(
    el('h1', {}, `Case #${text(c.case_id)} `,
       el('span', { class: 'badge st-' + (STATUSES.includes(c.status) ? c.status : 'x') },
          text(c.status))),
    dl([['entity', el('a', { href: '#/?' + new URLSearchParams({ entity_type: c.entity_type,
                                                                 entity_id: c.entity_id }) },
                      `${text(c.entity_type)} ${text(c.entity_id)}`)],
        ['assignee', text(c.assignee)], ['opened', time(c.opened_at)],
        ['updated', time(c.updated_at)],
        ['verdicts', `${v.confirmed_fraud || 0} confirmed fraud, ${v.false_positive || 0} false ` +
                     `positive, ${v.not_sure || 0} not sure`]]),
    edit,
    el('h2', {}, 'Verdict for every alert of the case'),
    verdictButtons(null, (verdict, note) =>
      write(path + '/verdict', { verdict, note },
            () => { flash(`Recorded: ${VERDICT_LABEL[verdict]}.`, 'ok'); rerender(); })),
    el('h2', {}, `Alerts (${(data.alerts || []).length})`),
    table(ALERT_HEAD, (data.alerts || []).map((it) => alertRow(it)), { class: 'alerts' }),
    el('h2', {}, 'Notes'),
    el('ul', { class: 'notes' }, (data.notes || []).map((n) =>
      el('li', {}, el('div', { class: 'muted' }, `${text(n.author)}, ${time(n.at)}`),
         el('div', { class: 'note-text' }, text(n.text))))),
    noteForm,
    el('h2', {}, 'Audit trail'),
    table(['when', 'who', 'what', 'detail'], (data.audit || []).map((e) =>
      el('tr', {}, el('td', {}, time(e.at)), el('td', {}, text(e.actor)),
         el('td', {}, text(e.action)),
         el('td', {}, typeof e.detail === 'object' && e.detail !== null ? JSON.stringify(e.detail)
                                                                         : text(e.detail)))),
      { id: 'audit' }));
}

// Alerts per day as small bars over the whole window, days without alerts
// included; the day is in each bar's tooltip.
function sparkBars(perDay, n) {
  const counts = new Map(perDay.map((d) => [String(d.day), +d.alerts || 0]));
  const end = Math.max(Date.now(), ...perDay.map((d) => Date.parse(d.day) || 0));
  const days = [];
  for (let i = Math.max(1, Math.min(n, 366)) - 1; i >= 0; i--) {
    const day = new Date(end - i * 86400000).toISOString().slice(0, 10);
    days.push({ day, alerts: counts.get(day) || 0 });
  }
  const w = 4, h = 24, max = Math.max(1, ...days.map((d) => d.alerts));
  const s = svg('svg', { viewBox: `0 0 ${Math.max(days.length, 1) * w} ${h}`, class: 'spark',
                         preserveAspectRatio: 'none', role: 'img',
                         'aria-label': 'alerts per day' },
                svg('rect', { x: 0, y: h - 1, width: days.length * w, height: 1, class: 'base' }));
  days.forEach((d, i) => {
    const bh = ((+d.alerts || 0) / max) * h;
    s.append(svg('rect', { x: i * w + 0.5, y: h - bh, width: w - 1, height: Math.max(bh, 0.01),
                           class: 'bar' },
                 svg('title', {}, `${text(d.day)}: ${text(d.alerts)}`)));
  });
  return s;
}
function precisionBar(p) {
  const s = svg('svg', { viewBox: '0 0 100 10', class: 'pbar', role: 'img',
                         'aria-label': 'precision' },
                svg('rect', { x: 0, y: 0, width: 100, height: 10, class: 'track' }));
  if (typeof p === 'number')
    s.append(svg('rect', { x: 0, y: 0, width: Math.max(0, Math.min(1, p)) * 100, height: 10,
                           class: p < 0.5 ? 'fill low' : 'fill' }));
  return s;
}

// Shadow against live: the three counts of GET /api/rules/compare as one
// stacked bar (only live | both | only shadow) and a sentence.
const plural = (n, one, many) => `${text(n)} ${n === 1 ? one : many}`;
const COMPARE_PARTS = [['only_live', 'only live'], ['both', 'both'],
                       ['only_shadow', 'only shadow']];
function compareBar(c) {
  const total = COMPARE_PARTS.reduce((s, [k]) => s + Math.max(0, +c[k] || 0), 0);
  const s = svg('svg', { viewBox: '0 0 300 14', class: 'cmpbar', preserveAspectRatio: 'none',
                         role: 'img', 'aria-label': 'only live, both, only shadow' },
                svg('rect', { x: 0, y: 0, width: 300, height: 14, class: 'track' }));
  let x = 0;
  for (const [k, label] of COMPARE_PARTS) {
    const w = total ? (Math.max(0, +c[k] || 0) / total) * 300 : 0;
    if (w > 0)
      s.append(svg('rect', { x, y: 0, width: w, height: 14, class: 'seg ' + k,
                             'data-part': k },
                   svg('title', {}, `${label}: ${text(c[k])}`)));
    x += w;
  }
  return s;
}
function compareResult(c) {
  const mins = text(c.within_minutes);
  const sentence =
    `${text(c.both)} of ${plural(c.shadow_alerts, 'shadow alert', 'shadow alerts')} ` +
    `${c.both === 1 ? 'is' : 'are'} also raised live within ${mins} min; ` +
    `${plural(c.only_live, 'live alert', 'live alerts')} the shadow rule would not raise`;
  return el('div', { id: 'compare-result', class: 'compare-result' },
    el('p', { class: 'muted' },
       el('strong', {}, text(c.shadow)), ' (shadow, ', plural(c.shadow_alerts, 'alert', 'alerts'),
       ') against ', el('strong', {}, text(c.live)), ' (live, ',
       plural(c.live_alerts, 'alert', 'alerts'), '), last ', plural(c.days, 'day', 'days'),
       ', same entity within ', mins, ' min'),
    compareBar(c),
    el('ul', { class: 'cmp-counts' }, COMPARE_PARTS.map(([k, label]) =>
      el('li', { class: k }, el('span', { class: 'swatch ' + k }), label, ' ',
         el('strong', { 'data-count': k }, text(c[k]))))),
    el('p', { class: 'cmp-sentence' }, sentence));
}

// The live rule a shadow row is compared with: its own id when that rule has
// a live version listed, else the longest listed live rule its id starts with
// followed by "_", "-" or "." (velocity_v2 → velocity), else its own id. The
// form shows the choice; it can be changed there.
function liveCounterpart(rule, liveRules) {
  if (liveRules.has(rule)) return rule;
  let best = null;
  for (const l of liveRules)
    if (rule.startsWith(l) && '_-.'.includes(rule.charAt(l.length)) && rule.length > l.length &&
        (!best || l.length > best.length))
      best = l;
  return best || rule;
}

// The rule-health route: #/rules?days=D, plus shadow=&live=&within_minutes= for
// a comparison (so a comparison has a link, and Back goes to the one before).
function rulesHash(days, cmp) {
  const p = new URLSearchParams({ days });
  if (cmp) for (const k of ['shadow', 'live', 'within_minutes']) if (cmp[k]) p.set(k, cmp[k]);
  return '#/rules?' + p;
}

async function viewRules(view, q) {
  const days = q.get('days') || '30';
  const cmpNow = q.get('shadow')
    ? { shadow: q.get('shadow'), live: q.get('live') || '',
        within_minutes: q.get('within_minutes') || '60' }
    : null;
  const sel = el('select', { name: 'days' }, ['7', '30', '90'].map((d) =>
    el('option', { value: d, selected: d === days }, `last ${d} days`)));
  sel.addEventListener('change', () => { location.hash = rulesHash(sel.value, cmpNow); });
  const healthBox = el('div');
  const liveList = el('datalist', { id: 'live-rules' });
  const form = el('form', { class: 'filters compare-form', id: 'compare' },
    el('label', {}, 'Shadow rule ', el('input', { name: 'shadow', required: true, size: 16,
                                                  value: cmpNow ? cmpNow.shadow : '' })),
    el('label', {}, 'Live rule ', el('input', { name: 'live', size: 16, list: 'live-rules',
                                                placeholder: 'the same id',
                                                value: cmpNow ? cmpNow.live : '' })),
    el('label', {}, 'Within ', el('input', { name: 'within_minutes', type: 'number', min: 1,
                                             max: 10080, required: true, class: 'minutes',
                                             value: cmpNow ? cmpNow.within_minutes : '60' }),
       ' min'),
    el('button', { type: 'submit' }, 'Compare'), liveList);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = form.elements;
    location.hash = rulesHash(days, { shadow: f.shadow.value.trim(), live: f.live.value.trim(),
                                      within_minutes: f.within_minutes.value.trim() });
  });
  const cmpBox = el('div', { id: 'compare-box' });
  view.append(el('h1', {}, 'Rule health'), el('div', { class: 'filters' }, sel), healthBox,
              el('h2', {}, 'Shadow against live'),
              el('p', { class: 'muted' }, 'A shadow alert counts as raised live when the live ' +
                 'rule alerted on the same entity within that many minutes of it.'),
              form, cmpBox);

  const health = async () => {
    let data;
    try {
      data = await api('GET', '/api/rules/health?days=' + encodeURIComponent(days));
    } catch (err) {
      healthBox.replaceChildren(problem(err));
      return;
    }
    const all = data.rules || [];
    const liveRules = new Set(all.filter((r) => !r.shadow).map((r) => String(r.rule)));
    liveList.replaceChildren(...[...liveRules].sort().map((r) => el('option', { value: r })));
    const rows = all.map((r) => {
      const v = r.verdicts || {}, flags = Array.isArray(r.flags) ? r.flags : [];
      const cmp = r.shadow === true
        ? el('a', { class: 'compare', title: 'compare with the live rule',
                    href: rulesHash(days, { shadow: r.rule,
                                            live: liveCounterpart(String(r.rule), liveRules),
                                            within_minutes: form.elements.within_minutes.value
                                              || '60' }) }, 'compare')
        : null;
      return el('tr', { 'data-rule': r.rule, 'data-shadow': r.shadow === true ? 'true' : 'false',
                        class: flags.length ? 'flagged' : null },
        el('td', {}, el('a', { href: '#/?' + new URLSearchParams({ rule: r.rule }) },
                        text(r.rule)), ' ',
           r.shadow ? el('span', { class: 'badge shadow' }, 'shadow') : null, ' ', cmp),
        el('td', {}, text(r.rule_version)),
        el('td', { class: 'n' }, text(r.alerts)),
        el('td', {}, sparkBars(Array.isArray(r.alerts_per_day) ? r.alerts_per_day : [],
                               +data.days || +days)),
        el('td', { class: 'verdict-counts' },
           `${v.confirmed_fraud || 0} / ${v.false_positive || 0} / ${v.not_sure || 0}`),
        el('td', {}, precisionBar(r.precision), ' ',
           el('span', { class: 'precision' }, typeof r.precision === 'number'
             ? Math.round(r.precision * 100) + ' %' : '—')),
        el('td', {}, r.median_hours_to_verdict == null
          ? '—' : num(r.median_hours_to_verdict, 1) + ' h'),
        el('td', {}, time(r.last_alert_at)),
        el('td', {}, flags.map((f) => el('span', { class: 'badge flag' }, text(f)))));
    });
    healthBox.replaceChildren(
      table(['rule', 'version', 'alerts', 'per day', 'fraud / false pos. / not sure',
             'precision', 'median to verdict', 'last alert', 'flags'], rows, { id: 'rules' }));
    if (!rows.length)
      healthBox.append(el('p', { class: 'muted' }, 'No rule raised an alert in that time.'));
  };
  const compare = async () => {
    if (!cmpNow) return;
    const p = new URLSearchParams({ shadow: cmpNow.shadow });
    if (cmpNow.live) p.set('live', cmpNow.live);
    p.set('within_minutes', cmpNow.within_minutes);
    p.set('days', days);
    cmpBox.replaceChildren(el('p', { class: 'muted' }, 'Comparing…'));
    try {
      const c = await api('GET', '/api/rules/compare?' + p);
      cmpBox.replaceChildren(compareResult(c || {}));
    } catch (err) {
      const n = problem(err);
      if (err.status === 404 || err.status === 405)
        n.append(' (this console does not compare rules yet)');
      cmpBox.replaceChildren(n);
    }
  };
  await Promise.all([health(), compare()]);
}

async function viewEngines(view) {
  const box = el('div');
  view.append(el('h1', {}, 'Engines'), box);
  const load = async () => {
    try {
      const data = await api('GET', '/api/engines');
      const head = ['engine', 'state', 'transactions/s', 'lag', 'p99 latency', 'error'];
      box.replaceChildren(table(head,
        (data.engines || []).map((e) => el('tr', { class: e.up ? null : 'down' },
          el('td', {}, el('code', {}, text(e.url))),
          el('td', {}, el('span', { class: 'badge ' + (e.up ? 'up' : 'down') },
                          e.up ? 'up' : 'down')),
          el('td', { class: 'n' }, num(e.transactions_per_second, 1)),
          el('td', { class: 'n' }, text(e.lag)),
          el('td', { class: 'n' }, e.latency_p99_ms == null
            ? '—' : num(e.latency_p99_ms, 1) + ' ms'),
          el('td', {}, text(e.error)))), { id: 'engines' }));
    } catch (err) {
      box.replaceChildren(problem(err));
      return; // nothing to refresh
    }
    if (view.isConnected) setTimeout(load, 5000);
  };
  await load();
}

// ---- routing: #/, #/alert/ID, #/cases, #/case/ID, #/rules, #/engines ----

async function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  let parts;
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch (e) {
    parts = ['?'];
  }
  const q = new URLSearchParams(query || '');
  const view = el('section', { class: 'view' });
  $('#main').replaceChildren(view);
  live.handler = null;
  live.onReconnect = null;
  const nav = { alert: 'alerts', case: 'cases' }[parts[0]] || parts[0] || 'alerts';
  document.querySelectorAll('nav a').forEach((a) =>
    a.classList.toggle('active', a.dataset.nav === nav));
  window.scrollTo(0, 0);
  const [name, arg] = parts;
  if (!name || name === 'alerts') await viewAlerts(view, q);
  else if (name === 'alert' && arg) await viewAlert(view, arg);
  else if (name === 'cases') await viewCases(view, q);
  else if (name === 'case' && arg) await viewCase(view, arg);
  else if (name === 'rules') await viewRules(view, q);
  else if (name === 'engines') await viewEngines(view);
  else view.append(el('h1', {}, 'Not found'),
                   el('p', {}, el('a', { href: '#/' }, 'Back to the alerts')));
  view.dataset.ready = 'true'; // for tests: the view has what its requests gave
}

document.addEventListener('DOMContentLoaded', () => {
  const f = $('#signin');
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    session.set(f.elements.name.value.trim(), f.elements.token.value);
    f.elements.token.value = '';
    f.hidden = true;
    showWho();
    flash('');
    const then = afterSignIn;
    afterSignIn = null;
    if (then) then();
  });
  $('#signin-cancel').addEventListener('click', () => { f.hidden = true; afterSignIn = null; });
  showWho();
  window.addEventListener('hashchange', () => { flash(''); route(); });
  route();
  startLive();
});
