// A tiny in-process stand-in for the console's back end: serves dist/ and the JSON + SSE API
// of the contract on the same origin, with a few laps of a race (one degraded prediction, a
// safety car lap, a pit stop) and a qualifying session. Used by e2e/smoke.mjs; also runnable
// by hand to look at the built app: `npm run build && npm run mock` (prints the URL).
//
// Keys: "engineer-key" -> engineer, "viewer-key" -> viewer, anything else -> 401. The viewer
// gets 403 from /api/model and /api/live/{key}/explain/{driver}, as from the back end.
// The first live connection to the race is cut after a few events, so the browser reconnects
// with Last-Event-ID; the mock then replays from that id inclusive (one duplicate on purpose,
// which the client must merge idempotently).
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KEYS = {
  'engineer-key': { role: 'engineer', key_id: 'eng-01' },
  'viewer-key': { role: 'viewer', key_id: 'view-07' },
};
const COOKIE = 'f1c_session';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const MODEL = '12';

function lap(driver, team, n, over = {}) {
  return {
    driver,
    team,
    lap_number: n,
    lap_time_s: null,
    sector1_s: null,
    sector2_s: null,
    sector3_s: null,
    compound: 'MEDIUM',
    tyre_life: n + 2,
    stint: 1,
    position: null,
    track_status: '1',
    pit_in: false,
    pit_out: false,
    lap_start_time_s: null,
    session_time_s: null,
    ...over,
  };
}

function pred(driver, n, lapTime, over = {}) {
  return {
    driver,
    lap_number: n,
    lap_time: lapTime,
    lower: Number((lapTime - 0.9).toFixed(3)),
    upper: Number((lapTime + 0.9).toFixed(3)),
    model_version: MODEL,
    degraded: false,
    context: 'session',
    ...over,
  };
}

/** A race: three drivers, laps 1-5 in the snapshot, lap 6 and predictions for lap 7 live. */
function raceData() {
  const drivers = [
    ['VER', 'Red Bull Racing', 0, [97.284, 95.112, 111.903, 95.604, 95.337, 95.201]],
    ['NOR', 'McLaren', 1.1, [97.901, 95.433, 111.215, 99.872, 117.455, 95.902]],
    ['LEC', 'Ferrari', 2.4, [98.337, 95.691, 111.02, 95.771, 95.512, 95.488]],
  ];
  const laps = [];
  const preds = [];
  const live = [];
  const ends = {};
  for (const [d, team, startOffset, times] of drivers) {
    let t = 3600 + startOffset;
    times.forEach((lt, i) => {
      const n = i + 1;
      const start = t;
      t += lt;
      ends[`${d}${n}`] = t;
      const nor = d === 'NOR';
      const l = lap(d, team, n, {
        lap_time_s: lt,
        sector1_s: Number((lt * 0.31).toFixed(3)),
        sector2_s: Number((lt * 0.42).toFixed(3)),
        sector3_s: Number((lt - lt * 0.31 - lt * 0.42).toFixed(3)),
        track_status: n === 3 ? '4' : n === 4 ? '41' : '1',
        pit_in: nor && n === 4,
        pit_out: nor && n === 5,
        compound: nor && n >= 5 ? 'HARD' : 'MEDIUM',
        tyre_life: nor && n >= 5 ? n - 4 : n + 2,
        stint: nor && n >= 5 ? 2 : 1,
        lap_start_time_s: Number(start.toFixed(3)),
        session_time_s: Number(t.toFixed(3)),
      });
      (n <= 5 ? laps : live).push({ kind: 'lap', lap: l });
    });
  }
  // positions by session time at the end of each lap
  const byLap = {};
  for (const { lap: l } of [...laps, ...live]) (byLap[l.lap_number] ??= []).push(l);
  for (const list of Object.values(byLap)) {
    list.sort((a, b) => a.session_time_s - b.session_time_s).forEach((l, i) => (l.position = i + 1));
  }
  const predicted = {
    VER: [97.0, 95.4, 110.8, 95.9, 95.5, 95.3, 95.1],
    NOR: [97.6, 95.7, 111.5, 99.1, 116.2, 96.1, 95.6],
    LEC: [98.1, 95.9, 111.3, 95.9, 95.7, 95.6, 95.5],
  };
  for (const [d, list] of Object.entries(predicted)) {
    list.forEach((v, i) => {
      const n = i + 1;
      if (n === 1) return;
      const p =
        d === 'LEC' && n === 6
          ? // the one degraded prediction: baseline, no interval (model not loaded at that moment)
            pred(d, n, 95.512, { lower: null, upper: null, model_version: null, degraded: true })
          : d === 'NOR' && n === 3
            ? pred(d, n, v, { context: 'request' })
            : pred(d, n, v);
      (n <= 6 ? preds : live).push({ kind: 'prediction', prediction: p });
    });
  }
  // live order: each driver's lap 6 lands, then its lap 7 prediction
  const liveOrdered = [];
  for (const d of ['VER', 'NOR', 'LEC']) {
    liveOrdered.push(...live.filter((e) => (e.lap ?? e.prediction).driver === d && e.kind === 'lap'));
    liveOrdered.push(...live.filter((e) => (e.lap ?? e.prediction).driver === d && e.kind === 'prediction'));
  }
  return {
    session: {
      session_key: '2024_01_R',
      season: 2024,
      event_name: 'Bahrain Grand Prix',
      session_name: 'Race',
      session_type: 'race',
    },
    laps: laps.map((e) => e.lap),
    predictions: preds.map((e) => e.prediction),
    live: liveOrdered,
    updated_at: 1709395200,
  };
}

function qualiData() {
  const laps = [
    lap('LEC', 'Ferrari', 1, { lap_time_s: 90.558, compound: 'SOFT', tyre_life: 1, session_time_s: 900 }),
    lap('VER', 'Red Bull Racing', 1, { lap_time_s: 89.179, compound: 'SOFT', tyre_life: 1, session_time_s: 910 }),
    lap('VER', 'Red Bull Racing', 2, { lap_time_s: 89.407, compound: 'SOFT', tyre_life: 2, session_time_s: 1000 }),
    lap('NOR', 'McLaren', 1, { lap_time_s: null, compound: 'SOFT', tyre_life: 1, pit_out: true, session_time_s: 950 }),
  ];
  return {
    session: {
      session_key: '2024_01_Q',
      season: 2024,
      event_name: 'Bahrain Grand Prix',
      session_name: 'Qualifying',
      session_type: 'qualifying',
    },
    laps,
    predictions: [
      pred('VER', 2, 89.6),
      pred('VER', 3, 89.5),
      pred('LEC', 2, 90.1),
      // NOR has only a degraded prediction: its chart must have no band
      pred('NOR', 2, 90.2, { lower: null, upper: null, model_version: null, degraded: true }),
    ],
    live: [],
    updated_at: 1709301600,
  };
}

const round3 = (v) => Number(v.toFixed(3));

/**
 * The explanation of a driver's next-lap prediction (the lap after their last one in the mock's
 * data): reference + bias + contributions = lap_time. For NOR the top contributions leave out
 * 0.12 s (a residual); a degraded prediction has no reference or bias. null: no lap yet.
 */
function explanation(data, driver) {
  const laps = [...data.laps, ...data.live.filter((e) => e.kind === 'lap').map((e) => e.lap)].filter((l) => l.driver === driver);
  if (laps.length === 0) return null;
  const last = laps.reduce((a, b) => (b.lap_number > a.lap_number ? b : a));
  const preds = [...data.predictions, ...data.live.filter((e) => e.kind === 'prediction').map((e) => e.prediction)];
  const p = preds.find((x) => x.driver === driver && x.lap_number === last.lap_number + 1);
  const { driver: _d, lap_number: _n, ...prediction } = p ?? {
    lap_time: null,
    lower: null,
    upper: null,
    model_version: null,
    degraded: true,
    context: 'session',
  };
  const base = { lap_number: last.lap_number + 1, prediction };
  if (!p || p.degraded || p.lap_time === null) return { ...base, reference: null, bias: null, contributions: [] };
  const age = (last.tyre_life ?? 0) + 1;
  const contributions = [
    { feature: 'tyre_life', value: age, contribution: round3(0.035 * age) },
    { feature: 'fuel_load_kg', value: round3(100 - 1.6 * last.lap_number), contribution: -0.284 },
    { feature: 'compound', value: last.compound, contribution: last.compound === 'HARD' ? 0.212 : 0.081 },
    { feature: 'track_status', value: last.track_status, contribution: last.track_status === '1' ? -0.016 : 0.64 },
  ];
  const bias = 0.05;
  const hidden = driver === 'NOR' ? 0.12 : 0;
  const sum = contributions.reduce((a, c) => a + c.contribution, 0);
  return { ...base, reference: round3(p.lap_time - bias - sum - hidden), bias, contributions };
}

function parseCookies(header = '') {
  const out = {};
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Start the mock. Options: root (folder holding dist/), host, port (0: any),
 * eventIntervalMs (gap between live events), dropAfter (cut the first race stream after
 * this many live events; 0: never).
 */
export async function startMock({ root, host = '127.0.0.1', port = 0, eventIntervalMs = 250, dropAfter = 3 } = {}) {
  const dist = resolve(root, 'dist');
  const tokens = new Map(); // token -> {role, key_id}
  const sessions = { '2024_01_R': raceData(), '2024_01_Q': qualiData() };
  const stats = { connections: [], dropped: 0, requests: [] };
  const streams = new Set();
  let droppedOnce = dropAfter <= 0;

  const who = (req) => tokens.get(parseCookies(req.headers.cookie)[COOKIE]) ?? null;

  function sse(req, res, data) {
    const lastIdHeader = req.headers['last-event-id'];
    const lastId = lastIdHeader === undefined ? null : Number(lastIdHeader);
    stats.connections.push({ session: data.session.session_key, lastEventId: lastId });
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    res.write('retry: 800\n\n');
    const send = (id, event, payload) => res.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
    // ids: 1 is the snapshot, live event i has id i + 2
    let next;
    if (lastId === null || !Number.isFinite(lastId)) {
      send(1, 'snapshot', { session: data.session, laps: data.laps, predictions: data.predictions, now: Date.now() / 1000 });
      next = 0;
    } else {
      next = Math.max(0, lastId - 2); // from lastId inclusive: at-least-once, one duplicate
    }
    const dropHere = !droppedOnce && data.live.length > 0 ? dropAfter : Infinity;
    if (dropHere !== Infinity) droppedOnce = true;
    let sent = 0;
    const timer = setInterval(() => {
      if (next < data.live.length) {
        const e = data.live[next];
        send(next + 2, e.kind, e.kind === 'lap' ? { lap: e.lap } : { prediction: e.prediction });
        next += 1;
        sent += 1;
        if (sent >= dropHere) {
          stats.dropped += 1;
          cleanup();
          res.end(); // the browser reconnects with Last-Event-ID
        }
      } else {
        res.write(': keepalive\n\n');
      }
    }, eventIntervalMs);
    const cleanup = () => {
      clearInterval(timer);
      streams.delete(res);
    };
    streams.add(res);
    req.on('close', cleanup);
  }

  async function api(req, res, path) {
    if (path === '/api/login' && req.method === 'POST') {
      let body;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return json(res, 400, { error: 'body must be JSON {"api_key": string}' });
      }
      const me = KEYS[body?.api_key];
      if (!me) return json(res, 401, { error: 'invalid API key' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, me);
      return json(res, 200, me, { 'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` });
    }
    if (path === '/api/logout' && req.method === 'POST') {
      tokens.delete(parseCookies(req.headers.cookie)[COOKIE]);
      res.writeHead(204, { 'Set-Cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
      return res.end();
    }
    const me = who(req);
    // as the back end: nobody signed in is an answer, not an error
    if (path === '/api/me' && req.method === 'GET') return json(res, 200, me ?? { role: null, key_id: null });
    if (!me) return json(res, 401, { error: 'not signed in' });
    if (path === '/api/sessions' && req.method === 'GET') {
      return json(res, 200, {
        sessions: Object.values(sessions).map((s) => ({
          session_key: s.session.session_key,
          season: s.session.season,
          event_name: s.session.event_name,
          session_name: s.session.session_name,
          laps: s.laps.length,
          drivers: new Set(s.laps.map((l) => l.driver)).size,
          updated_at: s.updated_at,
        })),
      });
    }
    if (path === '/api/model' && req.method === 'GET') {
      if (me.role === 'viewer') return json(res, 403, { error: "role 'viewer' may not read the model" });
      return json(res, 200, {
        serving: MODEL,
        degraded: false,
        last_error: null,
        online_store: { backend: 'redis', available: true, error: null },
        card: {
          version: MODEL,
          aliases: ['champion'],
          metrics: { mae_s: 0.412, coverage_90: 0.897 },
          data_version: '2024-03-02',
        },
      });
    }
    const x = /^\/api\/live\/([^/]+)\/explain\/([^/]+)$/.exec(path);
    if (x && req.method === 'GET') {
      if (me.role === 'viewer') return json(res, 403, { error: "role 'viewer' may not see this; it needs 'engineer'" });
      const data = sessions[decodeURIComponent(x[1])];
      if (!data) return json(res, 404, { error: 'no such live session' });
      const e = explanation(data, decodeURIComponent(x[2]));
      if (!e) return json(res, 404, { error: `no lap for ${decodeURIComponent(x[2])} yet` });
      return json(res, 200, e);
    }
    const m = /^\/api\/live\/([^/]+)\/events$/.exec(path);
    if (m && req.method === 'GET') {
      const data = sessions[decodeURIComponent(m[1])];
      if (!data) return json(res, 404, { error: 'no such live session' });
      return sse(req, res, data);
    }
    return json(res, 404, { error: `no route ${req.method} ${path}` });
  }

  async function file(req, res, path) {
    let p = normalize(decodeURIComponent(path)).replace(/^([/\\])+/, '');
    let full = join(dist, p);
    if (!full.startsWith(dist + sep) && full !== dist) return json(res, 400, { error: 'bad path' });
    let s = await stat(full).catch(() => null);
    if (!s || s.isDirectory()) {
      full = join(dist, 'index.html'); // SPA fallback
      s = await stat(full).catch(() => null);
    }
    if (!s) return json(res, 404, { error: 'dist/index.html missing: run npm run build' });
    res.writeHead(200, { 'Content-Type': TYPES[extname(full)] ?? 'application/octet-stream' });
    res.end(await readFile(full));
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    stats.requests.push(`${req.method} ${url.pathname}`);
    const handler = url.pathname.startsWith('/api/') ? api : file;
    handler(req, res, url.pathname).catch((e) => {
      if (!res.headersSent) json(res, 500, { error: String(e) });
      else res.end();
    });
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const { port: actual } = server.address();
  return {
    url: `http://${host}:${actual}/`,
    stats,
    close: () =>
      new Promise((ok) => {
        for (const r of streams) r.end();
        server.closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const port = Number(process.argv[2] ?? 5174);
  const mock = await startMock({ root, port, eventIntervalMs: 3000, dropAfter: 0 });
  console.log(`mock console back end on ${mock.url} (keys: ${Object.keys(KEYS).join(', ')})`);
}
