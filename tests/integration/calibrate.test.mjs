// Replay calibration end to end (issue #27; docs/calibration.md), driven as a supervisor would:
//
//  - bad input first: a footage folder with no video, a camera without footage, footage of
//    another size than the scene: clear messages, exit 2, 2 and 1;
//  - `vigie calibrate` over the vtest, AVSS and ABODA clips with their example scenes, and a
//    sweep of abandoned_object.unattended_time (15 s) on the AVSS platform camera — every alert
//    with its picture and clip;
//  - `vigie serve --review` over the calibration store: no camera analysed (the store does not
//    grow), a script labels every alert through the API (acknowledge, then confirmed or false
//    alert by a rule of its own) and counts by hand what it gave;
//  - `vigie calibrate report`: its CSV's rows equal those counts, alerts per hour and false
//    alerts per camera-hour are the counts over the footage's hours (ffprobe's durations), and
//    each sweep row adds up (true + false + not relevant + unlabelled + new = alerts, alerts =
//    the sweep store's count);
//  - `vigie calibrate choose`: the scene with the value chosen parses, carries the figures, is
//    the camera's scene in the calibration store, and the choice is in its audit trail.
//
// Exit 77 (skipped) without the footage or the models; 0 passed; 1 failed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(here, '../..');
const VIGIE = process.env.VIGIE_BIN || path.join(SRC, 'build/vigie');
const MODELS = process.env.VG_MODELS || path.join(SRC, 'models');
const SHARED = process.env.VG_SHARED || path.join(SRC, '../shared');
const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const AVSS = path.join(SHARED, 'data/aod-avss/AVSS_corto.mov');
const ABODA = path.join(SHARED, 'data/aboda/video4.avi');
const PW = 'correct horse battery';

for (const [f, what] of [[VIGIE, 'the vigie binary'], [VTEST, 'vtest.avi (opencv-doc)'], [AVSS, 'the AVSS clip (../shared/data)'], [ABODA, 'the ABODA clip (../shared/data)'], [path.join(MODELS, 'nanodet.json'), 'the models (scripts/setup)']]) {
  if (!fs.existsSync(f)) { console.log(`SKIP: ${what} is missing: ${f}`); process.exit(77); }
}

let failures = 0;
function check(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures++;
}
const run = (args, opts = {}) => spawnSync(VIGIE, args, { encoding: 'utf8', ...opts });
const sqlite = (db, sql) => execFileSync('sqlite3', ['-cmd', '.timeout 10000', db, sql], { encoding: 'utf8' }).trim();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigie-calibrate-'));
const scene = (name) => path.join(SRC, 'docs/examples', name);
const cam = (name, footage, sc) =>
  `  - name: ${name}\n    footage: ${footage}\n    scene: ${sc}\n    settings: {detector.models_dir: '${MODELS}'}\n`;
const write = (name, text) => { fs.writeFileSync(path.join(dir, name), text); return path.join(dir, name); };
let server = null;

try {
  /* ---- bad input ---- */
  fs.mkdirSync(path.join(dir, 'empty'));
  fs.writeFileSync(path.join(dir, 'empty/notes.txt'), 'no video here\n');
  let r = run(['calibrate', '--config', write('empty.yaml', `storage: s1\ncameras:\n${cam('hall', path.join(dir, 'empty'), scene('vtest.yaml'))}`)]);
  check(r.status === 2 && /holds no video file/.test(r.stderr), `an empty footage folder: exit ${r.status}, "${r.stderr.trim()}"`);
  r = run(['calibrate', '--config', write('live.yaml', `storage: s2\ncameras:\n  - name: hall\n    input: ${VTEST}\n`)]);
  check(r.status === 2 && /has no footage/.test(r.stderr), `a camera without footage: exit ${r.status}, "${r.stderr.trim()}"`);
  r = run(['calibrate', '-q', '--config', write('size.yaml', `storage: s3\ncameras:\n${cam('hall', VTEST, scene('avss-platform.yaml'))}`)], { timeout: 120000 });
  check(r.status === 1 && /drawn for 720x576 pictures but the input is 768x576/.test(r.stderr), `footage of another size than the scene: exit ${r.status}, "${r.stderr.trim()}"`);

  /* ---- the replay ---- */
  /* clips at 4 pictures a second: the test's time is the replay's */
  const config = write('cal.yaml', 'listen: 127.0.0.1:0\nstorage: store\nevidence: {clip_fps: 4}\ncameras:\n' +
    cam('hall', VTEST, scene('vtest.yaml')) + cam('platform', `[${AVSS}]`, scene('avss-platform.yaml')) +
    cam('cabinet', path.dirname(ABODA), scene('aboda-video4.yaml')));
  const t0 = Date.now();
  r = run(['calibrate', '-q', '--config', config, '--sweep', 'abandoned_object.unattended_time=15',
    '--sweep-camera', 'platform'], { timeout: 900000 });
  check(r.status === 0, `vigie calibrate over vtest, AVSS and ABODA with a sweep: exit ${r.status} in ${((Date.now() - t0) / 1000).toFixed(0)} s${r.status ? ': ' + r.stderr : ''}`);
  const db = path.join(dir, 'store/vigie.db');
  const sweepDb = path.join(dir, 'store/sweep/abandoned_object.unattended_time=15/vigie.db');
  const nEvents = Number(sqlite(db, 'SELECT count(*) FROM events'));
  const nClips = Number(sqlite(db, "SELECT count(DISTINCT event) FROM evidence WHERE kind = 'clip'"));
  const nPics = Number(sqlite(db, "SELECT count(DISTINCT event) FROM evidence WHERE kind = 'blurred'"));
  check(nEvents > 0 && nClips === nEvents && nPics === nEvents, `${nEvents} alerts replayed, each with its picture (${nPics}) and its clip (${nClips})`);
  const runs = sqlite(db, 'SELECT camera, count(*) FROM runs GROUP BY camera ORDER BY camera');
  check(runs === 'cabinet|1\nhall|1\nplatform|1', `one run per footage file: ${runs.replace(/\n/g, ', ')}`);

  /* ---- labelling through the API, the store under review ---- */
  execFileSync(VIGIE, ['user', 'add', '--config', config, 'sam', '--role', 'supervisor'], { input: PW + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
  const portFile = path.join(dir, 'port');
  server = spawn(VIGIE, ['serve', '--config', config, '--review', '--port-file', portFile], { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'review.log'), 'a')] });
  for (let i = 0; i < 600 && !fs.existsSync(portFile); i++) await new Promise((res) => setTimeout(res, 100));
  const base = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
  const login = await fetch(base + '/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'sam', password: PW }) });
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const { csrf } = await login.json();
  const api = async (method, p, body) => {
    const res = await fetch(base + p, { method, headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, json: res.headers.get('content-type')?.includes('json') ? await res.json() : null };
  };
  const cams = (await api('GET', '/api/cameras')).json;
  check(cams.every((c) => c.status === 'review'), `under review no camera is analysed: ${cams.map((c) => c.name + ' ' + c.status).join(', ')}`);
  const events = (await api('GET', '/api/events?limit=1000')).json;
  check(events.length === nEvents && events.every((e) => e.clip), `the console lists the ${events.length} replayed alerts, each with its clip`);
  /* the labeller's rule: every third alert confirmed, the others false alerts (reason: other) */
  const hand = {};
  let labelled = 0;
  for (const e of events) {
    const k = `${e.camera},${e.type}`;
    hand[k] ??= { alerts: 0, confirmed: 0, false: 0 };
    hand[k].alerts++;
    const confirmed = e.id % 3 === 0;
    const a = await api('POST', `/api/events/${e.id}/ack`, {});
    const d = await api('POST', `/api/events/${e.id}/decision`, confirmed ? { qualification: 'confirmed' } : { qualification: 'false_alert', reason: 'other', note: 'calibration' });
    if (a.status === 200 && d.status === 200) labelled++;
    hand[k][confirmed ? 'confirmed' : 'false']++;
  }
  check(labelled === events.length, `the script labelled ${labelled} alerts through the API`);
  check(Number(sqlite(db, 'SELECT count(*) FROM events')) === nEvents, 'the review added no event');
  server.kill('SIGTERM');
  await new Promise((res) => server.once('exit', res));
  server = null;

  /* run again: the replay and its labels kept, nothing replayed twice */
  r = run(['calibrate', '-q', '--config', config, '--sweep', 'abandoned_object.unattended_time=15', '--sweep-camera', 'platform']);
  check(r.status === 0 && /already holds the replay/.test(r.stderr) && /replayed already: kept/.test(r.stderr) &&
    Number(sqlite(db, 'SELECT count(*) FROM runs')) === 3 && Number(sqlite(db, 'SELECT count(*) FROM events WHERE qualification IS NOT NULL')) === nEvents,
  'run again, vigie calibrate keeps the replay, its labels and the sweep already made');

  /* ---- the report against the hand counts ---- */
  const csvPath = path.join(dir, 'report.csv');
  r = run(['calibrate', 'report', '--config', config, '--csv', csvPath]);
  check(r.status === 0, `vigie calibrate report: exit ${r.status}`);
  console.log(r.stdout.trimEnd().split('\n').map((l) => '     ' + l).join('\n'));
  const rows = fs.readFileSync(csvPath, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const dur = (f) => Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', f], { encoding: 'utf8' }));
  const hours = { hall: dur(VTEST) / 3600, platform: dur(AVSS) / 3600, cabinet: dur(ABODA) / 3600 };
  let matched = 0;
  for (const [k, h] of Object.entries(hand)) {
    const [camera, type] = k.split(',');
    const row = rows.find((x) => x[0] === 'as replayed' && x[1] === camera && x[2] === type);
    const ok = row && Number(row[3]) === h.alerts && Number(row[4]) === h.confirmed && Number(row[5]) === h.false &&
      Number(row[7]) === 0 && Math.abs(Number(row[9]) - hours[camera]) < 1e-4 &&
      Math.abs(Number(row[10]) - h.alerts / hours[camera]) < 0.01 * h.alerts / hours[camera] &&
      Math.abs(Number(row[11]) - h.false / hours[camera]) <= 0.01 * h.false / hours[camera] + 1e-9;
    check(ok, `${camera} ${type}: report ${row ? row.slice(3, 12).join(' ') : 'missing'}; by hand ${h.alerts} alerts, ${h.confirmed} confirmed, ${h.false} false in ${hours[camera].toFixed(4)} h (${(h.alerts / hours[camera]).toFixed(2)}/h, ${(h.false / hours[camera]).toFixed(2)} false/cam-h)`);
    if (ok) matched++;
  }
  check(matched === Object.keys(hand).length && rows.filter((x) => x[0] === 'as replayed').length === matched, 'every camera and type of the replay is in the report, once');
  const sweepRows = rows.filter((x) => x[0] === 'abandoned_object.unattended_time=15');
  const sweepCount = Number(sqlite(sweepDb, 'SELECT count(*) FROM events'));
  check(sweepRows.length === 1 && sweepRows[0][1] === 'platform' && sweepRows.reduce((s, x) => s + Number(x[3]), 0) === sweepCount &&
    sweepRows.every((x) => Number(x[4]) + Number(x[5]) + Number(x[6]) + Number(x[7]) + Number(x[8]) === Number(x[3])),
  `the sweep's row (the one camera swept) adds up: ${sweepCount} alerts at unattended_time 15 s, each known true, known false or new`);
  const plat = sweepRows.find((x) => x[1] === 'platform' && x[2] === 'abandoned_object');
  check(plat && Number(plat[3]) < (hand['platform,abandoned_object']?.alerts ?? 0) + 1, `at 15 s the AVSS platform raises ${plat ? plat[3] : '?'} abandoned objects (the example scene's 5 s: ${hand['platform,abandoned_object']?.alerts ?? 0})`);

  /* ---- the choice ---- */
  const chosen = path.join(dir, 'platform-chosen.yaml');
  r = run(['calibrate', 'choose', '--config', config, '--camera', 'platform', '--set', 'abandoned_object.unattended_time=15', '--out', chosen]);
  check(r.status === 0, `vigie calibrate choose: exit ${r.status}${r.status ? ': ' + r.stderr : ''}`);
  const text = fs.readFileSync(chosen, 'utf8');
  check(/unattended_time: 15/.test(text) && /# .*as replayed, abandoned_object: \d+ alerts/.test(text), 'the chosen scene holds the value and the calibration\'s figures');
  const a = run(['analyze', '-q', '-s', chosen, '--set', `detector.models_dir=${MODELS}`, '-o', path.join(dir, 'chk.jsonl'), AVSS]);
  check(a.status === 0, `the chosen scene is one vigie analyze takes (exit ${a.status})`);
  check(sqlite(db, "SELECT count(*) FROM scenes WHERE camera = 'platform'") === '1' &&
    sqlite(db, "SELECT count(*) FROM audit WHERE action = 'calibration_choice' AND target = 'platform'") === '1',
  'saved as the camera\'s scene in the calibration store, the choice audited');
  r = run(['audit', 'verify', '--config', config]);
  check(r.status === 0, `the calibration store's audit trail verifies: ${r.stdout.trim()}`);
  /* a report of a config that never replayed */
  r = run(['calibrate', 'report', '--config', write('none.yaml', `storage: never\ncameras:\n${cam('hall', VTEST, scene('vtest.yaml'))}`)]);
  check(r.status === 1 && /no calibration store/.test(r.stderr), `a report before any replay: exit ${r.status}, "${r.stderr.trim()}"`);
} catch (e) {
  console.log('FAIL ' + (e.stack || e));
  failures++;
} finally {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (!process.env.VG_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
