// An alert's clip in the console, in headless Chromium (Debian's chromium, driven by
// playwright-core) — issue #27: vigie serve on loopback with vtest.avi, a forbidden zone over the
// walkway and a privacy mask in the top right corner.
//
//  - an operator opens an intrusion's page; its clip (VP9 in WebM) plays, in a loop, muted: its
//    time advances; its duration is clip_before + clip_after (5 + 5 s) at most, or 30 s when
//    it is shared by events that started while it was being captured (issue #24);
//  - the timeline's mark sits where the event starts (clip_at / duration);
//  - a frame of the clip at the event, drawn by Chromium's own decoder into a canvas: the mean
//    level inside the privacy mask is 0; the blocks inside the event's box (the person) are flat
//    (pixelated: the spread of their pixels), unlike the picture elsewhere;
//  - the clip's first picture, when the clip starts with the camera (before the detector's first
//    answer: nobody can be told apart yet), is pixelated all over;
//  - the page and its clip in the light and dark themes pass axe-core's WCAG 2.1 A/AA rules.
//
// Screenshots go to $SHOTS (default: console-shots/ here). Exit 77 (skipped) when chromium or
// playwright-core is missing; 0 passed; 1 failed.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const VIGIE = process.env.VIGIE_BIN || path.join(here, '../../build/vigie');
const MODELS = process.env.VG_MODELS || path.join(here, '../../models');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const SHOTS = process.env.SHOTS || path.join(here, 'console-shots');
const PW = 'correct horse battery';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.log('SKIP: playwright-core is not installed (scripts/setup runs npm ci in tests/e2e)');
  process.exit(77);
}
for (const [f, what] of [[CHROMIUM, 'chromium (apt-get install chromium)'], [VTEST, 'vtest.avi (opencv-doc)'], [VIGIE, 'the vigie binary']]) {
  if (!fs.existsSync(f)) { console.log(`SKIP: ${what} is missing: ${f}`); process.exit(77); }
}
const AXE_JS = path.join(here, 'node_modules/axe-core/axe.min.js');

let failures = 0;
function check(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures++;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigie-clip-'));
fs.mkdirSync(SHOTS, { recursive: true });
fs.writeFileSync(path.join(dir, 'hall.yaml'),
  'camera: hall\nzones:\n  - name: walkway\n    kind: forbidden\n' +
  '    polygon: [[200, 150], [568, 150], [568, 576], [200, 576]]\n' +
  'masks:\n  privacy:\n    - [[576, 0], [768, 0], [768, 96], [576, 96]]\n');
fs.writeFileSync(path.join(dir, 'serve.yaml'),
  'listen: 127.0.0.1:0\nstorage: store\nevidence: {clip_before: 5, clip_after: 5, clip_fps: 8}\n' +
  `cameras:\n  - name: hall\n    input: ${VTEST}\n    loop: true\n    scene: hall.yaml\n` +
  `    settings: {detector.models_dir: '${MODELS}'}\n`);
const config = path.join(dir, 'serve.yaml');
execFileSync(VIGIE, ['user', 'add', '--config', config, 'olga', '--role', 'operator'], { input: PW + '\n', stdio: ['pipe', 'ignore', 'ignore'] });

const portFile = path.join(dir, 'port');
const log = fs.openSync(path.join(dir, 'serve.log'), 'a');
const server = spawn(VIGIE, ['serve', '--config', config, '--port-file', portFile], { stdio: ['ignore', 'ignore', log] });
for (let i = 0; i < 600 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 100));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'] });
try {
  if (!fs.existsSync(portFile)) throw new Error('vigie serve did not start: see ' + path.join(dir, 'serve.log'));
  const base = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 }, locale: 'en-GB', bypassCSP: true });
  await ctx.addInitScript(() => localStorage.setItem('vigie.grouped', 'off'));
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { console.log('page error: ' + e.message); failures++; });
  await page.goto(base + '/');
  await page.fill('#login-user', 'olga');
  await page.fill('#login-password', PW);
  await page.click('#login-submit');
  await page.waitForSelector('#who');

  /* an intrusion with a box; its page opened at once, before its clip exists (it is made
   * clip_after seconds after the event): the page says so, then shows it without a reload */
  let young = null;
  for (const t0 = Date.now(); !young && Date.now() - t0 < 120000;) {
    young = await page.evaluate(async () => {
      const r = await fetch('/api/events?camera=hall&type=intrusion&limit=50');
      const list = r.ok ? await r.json() : [];
      return list.find((e) => e.box && !e.clip) || null;
    });
    if (!young) await new Promise((r) => setTimeout(r, 250));
  }
  if (!young) throw new Error('no intrusion within 120 s: see ' + path.join(dir, 'serve.log'));
  await page.evaluate((id) => { location.hash = '#/event/' + id; }, young.id);
  await page.waitForSelector('#clip-wait, #clip', { timeout: 20000 });
  const waited = !!(await page.$('#clip-wait'));
  await page.waitForSelector('video#clip', { timeout: 60000 });
  check(true, `an alert opened before its clip was made ${waited ? 'says the clip is being made, then shows it' : 'shows its clip'} without a reload`);
  const ev = await page.evaluate(async (id) => (await fetch('/api/events/' + id)).json(), young.id);
  check(typeof ev.clip === 'string' && /^[0-9a-f]{32}\.webm$/.test(ev.clip) && ev.clip_at >= 0 && ev.clip_at <= 25.01,
    `the event has its clip ${ev.clip}, the event ${ev.clip_at} s into it`);

  /* it plays: loaded, looping, muted, time advancing */
  await page.waitForFunction(() => { const v = document.getElementById('clip'); return v.readyState >= 2 && v.duration > 0; }, null, { timeout: 30000 });
  const t1 = await page.evaluate(() => document.getElementById('clip').currentTime);
  await page.waitForFunction((t) => { const v = document.getElementById('clip'); return v.currentTime !== t && !v.paused; }, t1, { timeout: 15000 });
  const v = await page.evaluate(() => { const e = document.getElementById('clip'); return { d: e.duration, loop: e.loop, muted: e.muted, w: e.videoWidth, h: e.videoHeight, paused: e.paused, t: e.currentTime }; });
  check(v.loop && v.muted && !v.paused, `Chromium plays the clip, looping and muted (${v.w}x${v.h}, now at ${v.t.toFixed(2)} s)`);
  check(v.d >= 4.7 && v.d <= 30.5 && ev.clip_at <= v.d, `its duration ${v.d.toFixed(2)} s: from at most 5 s before the event (25 s when it shares the clip of events before it) to 5 s or more after it`);
  const markPct = await page.evaluate(() => parseFloat(document.getElementById('clip-mark').style.left));
  check(Math.abs(markPct - (100 * ev.clip_at) / v.d) < 1, `the timeline marks the event at ${markPct.toFixed(1)} % of the clip`);
  await page.screenshot({ path: path.join(SHOTS, 'clip-alert.png'), fullPage: true });

  /* a frame at the event, decoded by Chromium: privacy mask and pixelation */
  const px = await page.evaluate(async ({ at, box }) => {
    const vid = document.getElementById('clip');
    vid.pause();
    await new Promise((r) => { vid.addEventListener('seeked', r, { once: true }); vid.currentTime = at; });
    const w = vid.videoWidth, h = vid.videoHeight;
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(vid, 0, 0, w, h);
    const d = g.getImageData(0, 0, w, h).data;
    const lum = (x, y) => { const i = (y * w + x) * 4; return (d[i] + d[i + 1] + d[i + 2]) / 3; };
    /* the privacy mask (576..768 x 0..96 of 768x576), 8 px in from its edges */
    let m = 0, nm = 0;
    for (let y = 8; y < h / 6 - 8; y++) for (let x = Math.ceil(w * 0.75) + 8; x < w - 8; x++) { m += lum(x, y); nm++; }
    /* blocks of 12 px (evidence.pixel_block), 2 px in from their edges: inside the event's box
     * (3 px in from the box drawn round it) and in the lower half away from it */
    const sx = w / 768, sy = h / 576;
    const bx = box[0] * sx, by = box[1] * sy, bw = box[2] * sx, bh = box[3] * sy, bs = 12;
    let inS = 0, nIn = 0, outS = 0, nOut = 0;
    for (let y0 = 0; y0 + bs <= h; y0 += bs)
      for (let x0 = 0; x0 + bs <= w; x0 += bs) {
        let s1 = 0, s2 = 0, n = 0;
        for (let y = y0 + 2; y < y0 + bs - 2; y++) for (let x = x0 + 2; x < x0 + bs - 2; x++) { const l = lum(x, y); s1 += l; s2 += l * l; n++; }
        const sd = Math.sqrt(Math.max(0, s2 / n - (s1 / n) ** 2));
        if (x0 >= bx + 3 && x0 + bs <= bx + bw - 3 && y0 >= by + 3 && y0 + bs <= by + bh - 3) { inS += sd; nIn++; }
        else if (y0 > h / 2 && (x0 + bs < bx - bs || x0 > bx + bw + bs)) { outS += sd; nOut++; }
      }
    return { mask: m / nm, nm, inSd: inS / nIn, nIn, outSd: outS / nOut, nOut, cur: vid.currentTime };
  }, { at: ev.clip_at, box: ev.box });
  check(Math.abs(px.cur - ev.clip_at) < 0.2, `the player seeks to the event (${px.cur.toFixed(2)} s; the server answers its byte ranges)`);
  check(px.nm > 100 && px.mask < 1, `the mean level inside the privacy mask is ${px.mask.toFixed(2)} (${px.nm} px)`);
  check(px.nIn >= 1 && px.inSd < 3.5 && px.inSd < 0.5 * px.outSd,
    `the person is pixelated: spread within the ${px.nIn} blocks of the event's box ${px.inSd.toFixed(2)}, within ${px.nOut} blocks elsewhere ${px.outSd.toFixed(2)}`);

  /* the camera's first pictures, before the detector's first answer: nobody can be told apart
   * yet, so the whole picture is pixelated (blocks crossed by the drawn box left out) */
  if (ev.t - ev.clip_at < 0.3) {
    const first = await page.evaluate(async () => {
      const vid = document.getElementById('clip');
      await new Promise((r) => { vid.addEventListener('seeked', r, { once: true }); vid.currentTime = 0; });
      const w = vid.videoWidth, h = vid.videoHeight, bs = 12;
      const c = document.createElement('canvas');
      c.width = w; c.height = h;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(vid, 0, 0, w, h);
      const d = g.getImageData(0, 0, w, h).data;
      let sum = 0, n = 0;
      for (let y0 = 0; y0 + bs <= h; y0 += bs)
        for (let x0 = 0; x0 + bs <= w; x0 += bs) {
          let s1 = 0, s2 = 0, k = 0, amber = false;
          for (let y = y0; y < y0 + bs; y++) for (let x = x0; x < x0 + bs; x++) {
            const i = (y * w + x) * 4;
            if (d[i] > 170 && d[i + 2] < 110 && d[i] - d[i + 2] > 110) amber = true;
            if (y < y0 + 2 || y >= y0 + bs - 2 || x < x0 + 2 || x >= x0 + bs - 2) continue;
            const l = (d[i] + d[i + 1] + d[i + 2]) / 3; s1 += l; s2 += l * l; k++;
          }
          if (amber) continue;
          sum += Math.sqrt(Math.max(0, s2 / k - (s1 / k) ** 2)); n++;
        }
      return { sd: sum / n, n };
    });
    check(first.n > 1000 && first.sd < 3.5, `the clip's first picture, before the detector's first answer, is pixelated all over: spread within its ${first.n} blocks ${first.sd.toFixed(2)}`);
  }
  await page.evaluate(() => document.getElementById('clip').play());

  /* accessibility of the page with its clip, both themes */
  if (fs.existsSync(AXE_JS)) {
    await page.addScriptTag({ content: fs.readFileSync(AXE_JS, 'utf8') });
    for (const theme of ['light', 'dark']) {
      await page.evaluate((th) => { document.documentElement.dataset.theme = th; }, theme);
      const found = await page.evaluate(async () => {
        const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
        return r.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical').map((x) => `${x.id} (${x.nodes[0] ? x.nodes[0].target.join(' ') : ''})`);
      });
      check(found.length === 0, `accessibility of the alert page with its clip (${theme} theme): ${found.length} serious violations${found.length ? ': ' + found.join('; ') : ''}`);
      await page.screenshot({ path: path.join(SHOTS, `clip-alert-${theme}.png`) });
    }
  }
} catch (e) {
  console.log('FAIL ' + (e.stack || e));
  failures++;
} finally {
  await browser.close();
  if (server.exitCode === null) {
    const done = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await done;
  }
  if (!process.env.VG_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`screenshots: ${SHOTS}`);
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
