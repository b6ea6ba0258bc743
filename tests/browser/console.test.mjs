// console.test.mjs — the console's page in a real headless Chromium
// (puppeteer-core). Run by tests/integration/it_console_browser.sh, which
// stores the alerts of FW_ALERTS_FILE and passes in the environment:
//   FW_CONSOLE_URL, FW_CONSOLE_TOKEN, FW_BIN, FW_ALERTS_TOPIC, FW_ALERTS_FILE,
//   FW_LIVE_FILE (one alert produced during the test), FW_SCREENSHOTS,
//   FW_TIMEOUT_S (a scaled wait), CHROMIUM.
// Prints each check and each skip (an endpoint the console does not serve);
// exits 1 on a mismatch, naming both values, or on any page error or CSP
// violation.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const env = process.env;
const BASE = env.FW_CONSOLE_URL.replace(/\/$/, '');
const TIMEOUT = 1000 * Number(env.FW_TIMEOUT_S || 10);
const alerts = readFileSync(env.FW_ALERTS_FILE, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const liveAlert = JSON.parse(readFileSync(env.FW_LIVE_FILE, 'utf8'));
const byRule = (r) => alerts.find((a) => a.rule === r);
const hostile = alerts.find((a) => a.entity_id.includes('<img'));
const HOSTILE_MERCHANT = hostile.evidence[0].merchant_id;

const skipped = [];
let checks = 0;
function ok(what, value) {
  checks++;
  console.log(`ok: ${what}${value === undefined ? '' : ` = ${value}`}`);
}
function skip(what, why) {
  skipped.push(`${what}: ${why}`);
  console.log(`SKIP: ${what}: ${why}`);
}
function fail(msg) {
  throw new Error(msg);
}
function eq(expected, actual, what) {
  if (expected !== actual) fail(`${what}: expected '${expected}', got '${actual}'`);
  ok(what, actual);
}

// What the console serves, asked without the browser: a missing endpoint is a skip.
async function status(method, path, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(TIMEOUT),
  });
  await res.body?.cancel();
  return res.status;
}
const served = (s) => s !== 404 && s !== 405;
const shown = (iso) => iso.replace('T', ' ').replace('.000Z', 'Z'); // as the page writes times

const errors = [];
const browser = await puppeteer.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
let shots = 0;
let failed = null;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.setDefaultTimeout(TIMEOUT);
  // Page errors, console errors and CSP violations fail the test; a failed
  // request of the API with a status the page handles (401, 404, 405) is
  // the graceful path and only noted.
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const t = m.text(),
      url = (m.location() && m.location().url) || '';
    if (m.type() !== 'error') return;
    if (/status of (401|404|405)/.test(t) && url.startsWith(BASE + '/api/')) return;
    // the comparison asked with a bad argument on purpose, below
    if (/status of 400/.test(t) && url.startsWith(BASE + '/api/rules/compare?') &&
        url.includes('within_minutes=0')) return;
    if (/^EventSource's response has/.test(t)) return; // no /api/stream: a 404 in JSON
    errors.push(`console error: ${t} (${url})`);
  });
  await page.evaluateOnNewDocument(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });
  const shot = async (name) => {
    await page.evaluate(() => document.fonts.ready);
    const path = join(env.FW_SCREENSHOTS, `${String(++shots).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  };
  // A view is done when its section says so; the one before is marked stale
  // first, since the hash changes before the new view replaces it.
  const stale = () =>
    page.evaluate(() => {
      document.querySelector('section.view').dataset.stale = 'true';
    });
  const ready = () => page.waitForSelector('section.view[data-ready="true"]:not([data-stale])');
  const go = async (hash) => {
    await stale();
    await page.evaluate((h) => {
      if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
      else location.hash = h;
    }, hash);
    await ready();
  };
  const clickTo = async (sel) => {
    await stale();
    await page.click(sel);
    await ready();
  };
  // A write asks to sign in when the tab has no token yet.
  const signInIfAsked = async () => {
    const form = await page.waitForSelector('#signin:not([hidden])', { timeout: 1000 })
      .catch(() => null);
    if (!form) return;
    await page.$eval('#signin input[name="name"]', (e) => { e.value = 'Ada Analyst'; });
    await page.type('#signin input[name="token"]', env.FW_CONSOLE_TOKEN);
    await page.click('#signin button[type="submit"]');
  };
  const textOf = (sel) => page.$eval(sel, (e) => e.textContent.trim());
  const hashOf = () => page.evaluate(() => location.hash);
  const noXss = async (where) => {
    const xss = await page.evaluate(() => typeof window.__xss);
    eq('undefined', xss, `window.__xss after ${where}`);
    const imgs = await page.$$eval('img', (l) => l.length);
    eq(0, imgs, `img elements on the page after ${where}`);
  };

  // ---- rule health: a shadow rule against its live counterpart ----
  // velocity_v2 runs in shadow beside the live velocity (it_console_browser.sh).
  // The expected counts come from the alerts produced, by the definition of
  // GET /api/rules/compare: a shadow alert is raised live when a live alert of
  // the same entity (type and id) has an event time within N minutes of it.
  const SHADOW_RULE = 'velocity_v2', LIVE_RULE = 'velocity';
  const expectedCompare = (mins) => {
    const all = [...alerts, liveAlert];
    const sh = all.filter((a) => a.rule === SHADOW_RULE && a.shadow === true);
    const lv = all.filter((a) => a.rule === LIVE_RULE && a.shadow !== true);
    const near = (a, b) =>
      a.entity_type === b.entity_type && a.entity_id === b.entity_id &&
      Math.abs(Date.parse(a.event_time) - Date.parse(b.event_time)) <= mins * 60000;
    const both = sh.filter((s) => lv.some((l) => near(s, l))).length;
    return { shadow_alerts: sh.length, live_alerts: lv.length, both,
             only_shadow: sh.length - both,
             only_live: lv.filter((l) => !sh.some((s) => near(s, l))).length };
  };
  const PARTS = ['only_live', 'both', 'only_shadow'];
  // The counts, bar and sentence on the page against the data and the API.
  const checkCompare = async (mins) => {
    const want = expectedCompare(mins);
    const api = await (await fetch(`${BASE}/api/rules/compare?shadow=${SHADOW_RULE}&live=` +
                                   `${LIVE_RULE}&within_minutes=${mins}&days=30`)).json();
    const shownCounts = await page.$$eval('#compare-result [data-count]', (l) =>
      Object.fromEntries(l.map((e) => [e.dataset.count, e.textContent])));
    for (const k of PARTS) {
      eq(want[k], api[k], `compare within ${mins} min: ${k} from the API`);
      eq(String(want[k]), shownCounts[k], `compare within ${mins} min: ${k} on the page`);
    }
    eq(want.shadow_alerts, api.shadow_alerts, `compare within ${mins} min: shadow alerts (API)`);
    eq(want.live_alerts, api.live_alerts, `compare within ${mins} min: live alerts (API)`);
    eq(
      `${want.both} of ${want.shadow_alerts} shadow alerts are also raised live within ` +
        `${mins} min; ${want.only_live} live alerts the shadow rule would not raise`,
      await textOf('#compare-result .cmp-sentence'),
      `compare within ${mins} min: the sentence`,
    );
    // The stacked bar: only live, both, only shadow, each as wide as its share.
    const segs = await page.$$eval('#compare-result svg.cmpbar rect.seg', (l) =>
      l.map((r) => [r.dataset.part, Number(r.getAttribute('width'))]));
    const total = PARTS.reduce((n, k) => n + want[k], 0);
    eq(PARTS.filter((k) => want[k] > 0).join(','), segs.map((x) => x[0]).join(','),
       `compare within ${mins} min: the bar's segments`);
    for (const [k, w] of segs)
      if (Math.abs(w - (300 * want[k]) / total) > 0.01)
        fail(`the ${k} segment: width ${w}, expected ${(300 * want[k]) / total}`);
    ok(`compare within ${mins} min: segment widths in proportion`,
       segs.map((x) => x[1].toFixed(1)).join(' | '));
  };
  const compareRules = async () => {
    const want60 = expectedCompare(60), want150 = expectedCompare(150);
    // The data must tell the parts apart, and the window matter.
    if (!PARTS.every((k) => want60[k] > 0) || want150.both <= want60.both)
      fail(`the produced alerts do not exercise the comparison: ${JSON.stringify(want60)}`);
    const cmpStatus = await status('GET', `/api/rules/compare?shadow=${SHADOW_RULE}`);
    const healthServed = served(await status('GET', '/api/rules/health?days=30'));
    const wantHash = `#/rules?days=30&shadow=${SHADOW_RULE}&live=${LIVE_RULE}&within_minutes=60`;
    if (healthServed) {
      await go('#/rules?days=30');
      const [shadowRows, withLink, liveLinks] = await page.evaluate(() => [
        document.querySelectorAll('#rules tr[data-shadow="true"]').length,
        document.querySelectorAll('#rules tr[data-shadow="true"] a.compare').length,
        document.querySelectorAll('#rules tr[data-shadow="false"] a.compare').length,
      ]);
      eq(shadowRows, withLink, 'shadow rows with a compare link');
      eq(0, liveLinks, 'live rows with a compare link');
      // velocity_v2 has no live version: its link picks the live velocity.
      await clickTo(`#rules tr[data-rule="${SHADOW_RULE}"] a.compare`);
      eq(wantHash, await hashOf(), 'the compare link of velocity_v2');
    } else {
      skip('the compare links of the rule rows', 'GET /api/rules/health is not served');
      await go(wantHash);
    }
    const fields = await page.$$eval('#compare input', (l) => l.map((e) => e.value).join(','));
    eq(`${SHADOW_RULE},${LIVE_RULE},60`, fields, 'the comparison form, filled in');
    const stray = await page.evaluate(() => [...document.querySelectorAll('section.view *')]
      .some((e) => [...e.childNodes].some((n) => n.nodeType === 3 &&
                                                /^(null|undefined)$/.test(n.data.trim()))));
    eq(false, stray, 'a text "null" or "undefined" on the rule-health page');
    if (!served(cmpStatus)) {
      const notice = await textOf('#compare-box .notice');
      if (!notice.includes(`answered ${cmpStatus}`))
        fail(`compare: expected a notice, got '${notice}'`);
      ok('compare: the page says', notice);
      skip('comparing a shadow rule with a live one',
           `GET /api/rules/compare answered ${cmpStatus}`);
      await shot('rules-compare');
      return;
    }
    await checkCompare(60);
    await shot('rules-compare');
    // The form: a wider window, 2 h, takes in velocity_v2's alert of A3.
    await page.$eval('#compare input[name="within_minutes"]', (e) => { e.value = '150'; });
    await clickTo('#compare button[type="submit"]');
    eq(wantHash.replace('=60', '=150'), await hashOf(), "the form's route");
    await checkCompare(150);
    // A bad argument: the console's 400, said on the page.
    await go(wantHash.replace('=60', '=0'));
    const bad = await textOf('#compare-box .notice');
    if (!bad.includes('answered 400'))
      fail(`within_minutes=0: expected a 400 notice, got '${bad}'`);
    ok('compare within_minutes=0: the page says', bad);
  };

  // ---- the feed ----
  await page.goto(BASE + '/', { waitUntil: 'domcontentloaded' });
  await ready();
  await page.waitForFunction(
    (n) => document.querySelectorAll('#feed tbody tr').length >= n,
    {},
    alerts.length,
  );
  const ids = await page.$$eval('#feed tbody tr', (rows) => rows.map((r) => r.dataset.id));
  for (const a of alerts) if (!ids.includes(a.alert_id)) fail(`${a.alert_id} is not in the feed`);
  eq(alerts.length, ids.length, 'alerts in the feed');
  const shadowId = alerts.find((a) => a.shadow).alert_id;
  eq(
    1,
    await page.$$eval(`#feed tr[data-id="${shadowId}"] .badge.shadow`, (l) => l.length),
    'the shadow alert marked shadow',
  );
  eq(
    alerts.filter((a) => a.shadow).length,
    await page.$$eval('#feed .badge.shadow', (l) => l.length),
    'shadow badges in the feed',
  );
  const hostileRow = await textOf(`#feed tr[data-id="${hostile.alert_id}"] td:nth-child(4)`);
  eq(`${hostile.entity_type} ${hostile.entity_id}`, hostileRow, 'the hostile entity id, as text');
  await noXss('the feed');

  // The connection: SSE when the console has /api/stream, else polling.
  await page.waitForFunction(() => document.querySelector('#conn').dataset.state !== 'connecting');
  const conn = await page.$eval('#conn', (e) => [e.dataset.state, e.textContent]);
  const sse = conn[0] === 'live';
  if (sse) ok('connection state', conn[1]);
  else
    skip(
      'live updates by SSE',
      `the page says "${conn[1]}" (GET /api/stream: ` +
        `${await status('GET', '/api/stream').catch((e) => e.message)})`,
    );
  await shot('feed');

  const t0 = Date.now();
  const prod = spawnSync(
    env.FW_BIN,
    ['produce', '--quiet', '-t', env.FW_ALERTS_TOPIC, '-i', env.FW_LIVE_FILE],
    { encoding: 'utf8' },
  );
  if (prod.status !== 0) fail(`fraudwatch produce exited ${prod.status}: ${prod.stderr}`);
  const liveSel = `#feed tbody tr:first-child[data-id="${liveAlert.alert_id}"]`;
  await page.waitForSelector(liveSel, { timeout: sse ? TIMEOUT / 2 : 3 * TIMEOUT });
  ok(
    `the new alert on top of the feed ${sse ? 'by SSE' : 'by polling'}, without a reload`,
    `${((Date.now() - t0) / 1000).toFixed(1)} s after produce`,
  );
  await shot('feed-live');

  // Filters re-query the list.
  await page.$eval('form.filters input[name="rule"]', (e) => {
    e.value = 'velocity';
  });
  await page.$eval('form.filters select[name="shadow"]', (e) => {
    e.value = 'false';
  });
  await clickTo('form.filters button[type="submit"]');
  eq(
    '#/?rule=velocity&shadow=false',
    await page.evaluate(() => location.hash),
    "the filters' route",
  );
  const rules = await page.$$eval('#feed tbody tr', (rows) =>
    rows.map((r) => r.children[2].textContent.trim()),
  );
  const wantVelocity = [...alerts, liveAlert].filter((a) => a.rule === 'velocity' && !a.shadow);
  eq(wantVelocity.length, rules.length, 'rows with filter rule=velocity, shadow=false');
  eq('velocity', [...new Set(rules)].join(','), 'their rule');

  // ---- the alert page ----
  await go('#/');
  await clickTo(`#feed tr[data-id="${hostile.alert_id}"] td:first-child a`);
  eq(hostile.reason, await textOf('#reason'), 'the alert page: reason');
  const evRows = await page.$$eval('#evidence tbody tr', (rows) =>
    rows.map((r) => [...r.children].map((c) => c.textContent)),
  );
  eq(hostile.evidence.length, evRows.length, 'evidence rows');
  const heads = await page.$$eval('#evidence thead th', (l) => l.map((h) => h.textContent));
  eq('transaction_id,timestamp,amount,merchant_id', heads.join(','), 'evidence columns');
  eq(hostile.evidence[0].transaction_id, evRows[0][0], 'evidence transaction id');
  eq(String(hostile.evidence[0].amount), evRows[0][2], 'evidence amount');
  eq(HOSTILE_MERCHANT, evRows[0][3], 'the hostile merchant_id shown as text');
  eq(
    `${hostile.entity_type} ${hostile.entity_id}`,
    await page.$eval('#entity', (e) => e.textContent),
    'the hostile entity, as text',
  );
  await page.waitForFunction(
    () => !document.querySelector('#entity-alerts p.muted')?.textContent.includes('Loading'),
  );
  ok("the entity's other alerts section", await textOf('#entity-alerts'));
  await noXss('the alert page');
  await shot('alert-hostile');

  const loc = byRule('location_jump');
  await go('#/alert/' + encodeURIComponent(loc.alert_id));
  eq(
    [loc.window_start, loc.window_end].map(shown).join(' → '),
    await textOf('#window'),
    'window bounds',
  );
  const pts = await page.$eval('svg.map polyline', (e) => e.getAttribute('points'));
  eq(2, pts.split(' ').length, 'map line points (evidence, then the transaction)');
  ok('map caption', await textOf('.mapbox figcaption'));
  await shot('alert-location');

  const ml = byRule('ml_score');
  await go('#/alert/' + encodeURIComponent(ml.alert_id));
  eq(
    ml.ml.top_features.length,
    await page.$$eval('svg.bars rect.bar', (l) => l.length),
    'ML contribution bars',
  );
  eq(1, await page.$$eval('svg.bars rect.bar.down', (l) => l.length), 'negative contributions');
  await shot('alert-ml');

  const pair = alerts.filter((a) => a.entity_id.includes('/'));
  await go('#/alert/' + encodeURIComponent(pair[0].alert_id));
  await page.waitForSelector('#entity-alerts table');
  eq(
    pair[1].alert_id,
    await page.$eval('#entity-alerts tbody tr', (r) => r.dataset.id),
    `the other alert of entity ${pair[0].entity_id} ("/", "=", ">" in the path)`,
  );

  // ---- a verdict, and the rule-health page it changes ----
  const verdictPath = `/api/alerts/${hostile.alert_id}/verdict`;
  const verdictStatus = await status('POST', verdictPath, { verdict: 'not_sure', actor: 'x' });
  const healthStatus = await status('GET', '/api/rules/health?days=30');
  const countsOf = async (rule) => {
    await go('#/rules?days=30');
    return page
      .$eval(`#rules tr[data-rule="${rule}"] .verdict-counts`, (e) => e.textContent)
      .catch(() => null);
  };
  let before = null, recorded = false;
  if (served(healthStatus)) before = await countsOf(hostile.rule);
  await go('#/alert/' + encodeURIComponent(hostile.alert_id));
  await page.click('button[data-verdict="confirmed_fraud"]');
  await page.waitForSelector('#signin:not([hidden])');
  ok('a write asks to sign in first');
  await page.type('#signin input[name="name"]', 'Ada Analyst');
  if (served(verdictStatus)) {
    eq(401, verdictStatus, `POST ${verdictPath} without a token`);
    await page.type('#signin input[name="token"]', 'not-the-token');
    await page.click('#signin button[type="submit"]');
    await page.waitForFunction(() => /401/.test(document.querySelector('#flash').textContent));
    ok('a wrong token: the page says', await textOf('#flash'));
    await page.waitForSelector('#signin:not([hidden])');
    await page.type('#signin input[name="token"]', env.FW_CONSOLE_TOKEN);
    await page.click('#signin button[type="submit"]');
    await page.waitForFunction(() =>
      /Confirmed fraud/.test(document.querySelector('#verdict-now')?.textContent || ''),
    );
    ok('verdict recorded', await textOf('#verdict-now'));
    recorded = true;
    await shot('alert-verdict');
    const stored = await (await fetch(`${BASE}/api/alerts/${hostile.alert_id}`)).json();
    eq('confirmed_fraud', stored.verdict, 'the verdict as GET /api/alerts/ID gives it');
    if (served(healthStatus)) {
      const after = await countsOf(hostile.rule);
      const fraud = (s) => Number(String(s).split('/')[0]);
      eq(fraud(before) + 1, fraud(after), `rule health: ${hostile.rule}'s confirmed frauds`);
    } else {
      skip('rule health after a verdict', `GET /api/rules/health answered ${healthStatus}`);
    }
  } else {
    await page.type('#signin input[name="token"]', env.FW_CONSOLE_TOKEN);
    await page.click('#signin button[type="submit"]');
    await page.waitForFunction(
      (s) => document.querySelector('#flash').textContent.includes(`answered ${s}`),
      {},
      verdictStatus,
    );
    ok('no verdict endpoint: the page says', await textOf('#flash'));
    skip('recording a verdict', `POST ${verdictPath} answered ${verdictStatus}`);
    skip('rule health after a verdict', 'no verdict endpoint');
  }

  // ---- cases, rule health, engines: content, or a visible message ----
  const pageOrNotice = async (name, hash, endpoint, sel) => {
    const s = await status('GET', endpoint);
    await go(hash);
    if (served(s)) {
      await page.waitForSelector(sel);
      ok(
        `${name}: ${endpoint} answered ${s}`,
        `${await page.$$eval(sel + ' tbody tr', (l) => l.length)} rows`,
      );
    } else {
      const notice = await textOf('.notice');
      if (!notice.includes(`answered ${s}`)) fail(`${name}: expected a notice, got '${notice}'`);
      ok(`${name}: the page says`, notice);
      skip(name, `GET ${endpoint} answered ${s}`);
    }
    await shot(name);
    return served(s);
  };
  if (await pageOrNotice('cases', '#/cases', '/api/cases?limit=1', '#cases')) {
    if (await page.$('#cases tbody tr a')) {
      await clickTo('#cases tbody tr a');
      if (await page.$('.notice')) fail(`the case view: ${await textOf('.notice')}`);
      await page.waitForSelector('#audit');
      ok('the case view', await textOf('h1'));
      // The hostile entity's case: a note (hostile too) and a status change.
      const item = await (await fetch(`${BASE}/api/alerts/${hostile.alert_id}`)).json();
      if (item.case_id == null) fail(`the hostile alert has no case: ${JSON.stringify(item)}`);
      await go(`#/case/${item.case_id}`);
      const auditBefore = await page.$$eval('#audit tbody tr', (l) => l.length);
      const note = `looked at it ${HOSTILE_MERCHANT}`;
      await page.type('form.note-form textarea', note);
      await stale();
      await page.click('form.note-form button[type="submit"]');
      await signInIfAsked();
      await ready();
      eq(note, await page.$eval('.notes li:last-child .note-text', (e) => e.textContent),
         'the note, as text');
      await page.select('form.filters select[name="status"]', 'investigating');
      await page.$eval('form.filters input[name="assignee"]', (e) => { e.value = 'Ada Analyst'; });
      await clickTo('form.filters button[type="submit"]');
      eq('investigating', await textOf('h1 .badge'), 'the case status after saving');
      const auditAfter = await page.$$eval('#audit tbody tr', (l) => l.length);
      if (auditAfter < auditBefore + 2)
        fail(`audit rows: expected at least ${auditBefore + 2}, got ${auditAfter}`);
      ok('audit trail rows after a note and a status change', `${auditBefore} -> ${auditAfter}`);
      await noXss('the case view');
      await shot('case');
    } else {
      skip('the case view', 'no case in the store');
    }
  }
  if (await pageOrNotice('rules', '#/rules?days=30', '/api/rules/health?days=30', '#rules')) {
    const flagged = await page.$$eval('#rules tr.flagged', (l) => l.length);
    const withFlags = await page.$$eval(
      '#rules tr',
      (l) => l.filter((r) => r.querySelector('.badge.flag')).length,
    );
    eq(withFlags, flagged, 'flagged rules highlighted');
    if (recorded) eq('100 %', await textOf(`#rules tr[data-rule="${hostile.rule}"] .precision`),
       `${hostile.rule}'s precision after one confirmed fraud`);
    eq(30, await page.$$eval(`#rules tr[data-rule="${hostile.rule}"] svg.spark rect.bar`,
                             (l) => l.length), 'alerts-per-day bars over 30 days');
  }
  await compareRules();
  if (await pageOrNotice('engines', '#/engines', '/api/engines', '#engines'))
    eq('down', await textOf('#engines tbody tr .badge'), 'the engine nothing listens for');

  await noXss('every page');
  const csp = await page.evaluate(() => window.__csp);
  eq('', csp.join('; '), 'CSP violations');
} catch (e) {
  failed = e;
} finally {
  await browser.close();
}
if (errors.length) console.error(`errors on the page:\n  ${errors.join('\n  ')}`);
if (failed || errors.length) {
  console.error(
    `FAIL (browser): ${failed ? failed.stack || failed.message : 'errors on the page'}`,
  );
  process.exit(1);
}
eq(0, errors.length, 'page and console errors');
console.log(
  `browser test: ${checks} checks passed, ${skipped.length} skipped` +
    (skipped.length ? `:\n  ${skipped.join('\n  ')}` : ''),
);
