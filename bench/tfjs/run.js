// bench/tfjs/run.js MODELS_DIR MODEL INPUT.f32 SHAPE(comma) RUNS [DTYPE]
// (DTYPE int32: the float values are rounded into an int32 tensor, for graphs with int32 inputs)
// Times one model with the TF.js WebAssembly backend (one thread, as vigie's bench) on a raw float32
// input, and prints "tfjs_wasm_ms: <median>" and the first output's sum (to check it ran the same graph).
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-wasm');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const converter = require('@tensorflow/tfjs-converter');

async function main() {
  const [dir, name, input, shapeArg, runsArg, dtype] = process.argv.slice(2);
  wasm.setWasmPaths(path.join(__dirname, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
  wasm.setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  const json = JSON.parse(fs.readFileSync(path.join(dir, name + '.json')));
  const bin = fs.readFileSync(path.join(dir, name + '.bin'));
  const weights = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const model = await converter.loadGraphModel(
      tf.io.fromMemory({modelTopology: json.modelTopology, weightSpecs: specs, weightData: weights}));
  const shape = shapeArg.split(',').map(Number);
  const raw = fs.readFileSync(input);
  const data = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const x = dtype === 'int32' ? tf.tensor(Int32Array.from(data, Math.round), shape, 'int32')
                              : tf.tensor(data, shape, 'float32');
  const runs = Number(runsArg || 5);
  const times = [];
  let sum = 0;
  for (let i = 0; i <= runs; i++) {
    const t0 = process.hrtime.bigint();
    const out = model.execute(x);
    const first = Array.isArray(out) ? out[0] : out;
    const v = first.dataSync();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i > 0) times.push(ms); // the first run compiles kernels
    sum = v.reduce((a, b) => a + b, 0);
    tf.dispose(out);
  }
  times.sort((a, b) => a - b);
  console.log(`tfjs_wasm_ms: ${times[Math.floor(times.length / 2)].toFixed(1)}`);
  console.log(`tfjs_first_output_sum: ${sum}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
