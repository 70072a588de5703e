// bench/ort/run.js — ONNX Runtime (npm onnxruntime-node 1.30, CPU, one thread), for two jobs:
//
//   node run.js time MODEL.onnx INPUT.f32 N,C,H,W RUNS
//     times the model on a raw float32 NCHW input (the first run is a warm-up) and prints
//     "ort_ms: <median>", "ort_fastest_ms: <min>", "ort_peak_rss_mib: <process peak>" and the
//     output's sum (bench-nn compares it with vigie's in the same run);
//
//   node run.js ref MODEL.onnx IMAGE.rgb WIDTH HEIGHT OUT_PREFIX
//     makes YOLOX-Nano reference tensors for tests/unit/test_onnx.c (scripts/onnx-refs): the
//     letterboxed input (the frame scaled by min(416/W, 416/H) with bilinear half-pixel sampling,
//     as OpenCV's INTER_LINEAR and vigie's detector do, placed top-left on a 114 grey square, BGR
//     0..255, NCHW) -> OUT_PREFIX.input.f32; the raw head [1, 3549, 85] -> OUT_PREFIX.output.f32;
//     the boxes decoded here, independently of vigie's C decoder (grid + stride, exp sizes,
//     score = objectness x class probability > 0.3, per-class NMS at IoU 0.5, back to frame
//     pixels) -> OUT_PREFIX.decoded.json.
const fs = require('fs');
const ort = require('onnxruntime-node');

const SIZE = 416;
const opts = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

function readF32(path) {
  const raw = fs.readFileSync(path);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

async function time(model, input, shapeArg, runsArg) {
  const s = await ort.InferenceSession.create(model, opts);
  const shape = shapeArg.split(',').map(Number);
  const x = new ort.Tensor('float32', readF32(input), shape);
  const feeds = { [s.inputNames[0]]: x };
  const runs = Number(runsArg || 9);
  const times = [];
  let sum = 0;
  for (let i = 0; i <= runs; i++) {
    const t0 = process.hrtime.bigint();
    const out = await s.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i > 0) times.push(ms);
    sum = out[s.outputNames[0]].data.reduce((a, b) => a + b, 0);
  }
  times.sort((a, b) => a - b);
  console.log(`ort_ms: ${times[Math.floor(times.length / 2)].toFixed(2)}`);
  console.log(`ort_fastest_ms: ${times[0].toFixed(2)}`);
  console.log(`ort_peak_rss_mib: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)}`);
  console.log(`ort_output_sum: ${sum}`);
}

// Bilinear, half-pixel centres (src = (dst + 0.5) * in / out - 0.5, clamped), of HWC RGB bytes.
function letterbox(rgb, w, h) {
  const scale = Math.min(SIZE / w, SIZE / h);
  const nw = Math.floor(w * scale + 1e-3), nh = Math.floor(h * scale + 1e-3); // as YOLOX: int(w * r)
  const x = new Float32Array(3 * SIZE * SIZE).fill(114);
  for (let y = 0; y < nh; y++) {
    let sy = ((y + 0.5) * h) / nh - 0.5;
    sy = Math.min(Math.max(sy, 0), h - 1);
    const y0 = Math.floor(sy), y1 = Math.min(y0 + 1, h - 1), fy = sy - y0;
    for (let xx = 0; xx < nw; xx++) {
      let sx = ((xx + 0.5) * w) / nw - 0.5;
      sx = Math.min(Math.max(sx, 0), w - 1);
      const x0 = Math.floor(sx), x1 = Math.min(x0 + 1, w - 1), fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const p = (yy, xq) => rgb[(yy * w + xq) * 3 + c];
        const top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * fx;
        const bot = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * fx;
        // BGR planes: RGB channel c goes to plane 2 - c
        x[(2 - c) * SIZE * SIZE + y * SIZE + xx] = top + (bot - top) * fy;
      }
    }
  }
  return { x, scale };
}

function iou(a, b) {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const i = ix * iy;
  const u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i;
  return u > 0 ? i / u : 0;
}

function decode(head, scale, smin) {
  const cand = [];
  let row = 0;
  for (const s of [8, 16, 32]) {
    const g = SIZE / s;
    for (let gy = 0; gy < g; gy++)
      for (let gx = 0; gx < g; gx++, row++) {
        const r = head.subarray(row * 85, row * 85 + 85);
        let best = 0;
        for (let c = 1; c < 80; c++) if (r[5 + c] > r[5 + best]) best = c;
        const score = r[4] * r[5 + best];
        if (score <= smin) continue;
        const cx = (r[0] + gx) * s, cy = (r[1] + gy) * s;
        const bw = Math.exp(r[2]) * s, bh = Math.exp(r[3]) * s;
        cand.push({
          cls: best,
          score,
          box: [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2].map((v) => v / scale),
        });
      }
  }
  cand.sort((a, b) => b.score - a.score || a.cls - b.cls);
  const kept = [];
  for (const c of cand)
    if (!kept.some((k) => k.cls === c.cls && iou(k.box, c.box) > 0.5)) kept.push(c);
  return kept;
}

async function ref(model, image, wArg, hArg, prefix) {
  const w = Number(wArg), h = Number(hArg);
  const rgb = fs.readFileSync(image);
  if (rgb.length !== w * h * 3) throw new Error(`${image}: not ${w}x${h} RGB bytes`);
  const { x, scale } = letterbox(rgb, w, h);
  const s = await ort.InferenceSession.create(model, opts);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, SIZE, SIZE]) });
  const head = out[s.outputNames[0]].data;
  fs.writeFileSync(`${prefix}.input.f32`, Buffer.from(x.buffer));
  fs.writeFileSync(`${prefix}.output.f32`, Buffer.from(head.buffer, head.byteOffset, head.byteLength));
  const dets = decode(head, scale, 0.3).map((d) => ({
    class: d.cls,
    score: Number(d.score.toFixed(5)),
    box_xyxy_px: d.box.map((v) => Number(v.toFixed(2))),
  }));
  const doc = {
    made_by: `bench/ort/run.js ref (onnxruntime-node ${require('onnxruntime-node/package.json').version}, one thread)`,
    image: require('path').basename(image),
    width: w,
    height: h,
    scale,
    decode: 'grid+stride, exp sizes, objectness x class > 0.3, per-class NMS 0.5, / scale',
    detections: dets,
  };
  fs.writeFileSync(`${prefix}.decoded.json`, JSON.stringify(doc, null, 1) + '\n');
  console.log(`${prefix}: ${dets.length} detections`);
}

const [mode, ...args] = process.argv.slice(2);
(mode === 'time' ? time(...args) : mode === 'ref' ? ref(...args) : Promise.reject(new Error('usage: run.js time|ref ...'))).catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
