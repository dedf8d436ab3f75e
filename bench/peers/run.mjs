/**
 * `npm run bench:peers`: seqlab's workloads on PyTorch (CPU, Debian's python3-torch through /usr/bin/python3,
 * at 1 and N threads, when importable), TensorFlow.js (wasm backend) and ONNX Runtime (node, inference
 * only: the W4 streaming step), next to seqlab's own numbers from the same run, with ratios.
 *
 * Install once: `npm --prefix bench/peers install --ignore-scripts` (onnxruntime-node's install script
 * fetches optional GPU files from the network; its CPU binary is in the package). The root script
 * `npm run bench:peers` does that and runs this file. Options: --large (adds W5), --quick, --w4 (the W4
 * streaming step alone on every runtime: a minute instead of a quarter of an hour; last-run.json is kept).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const args = process.argv.slice(2);
const large = args.includes('--large');
const quick = args.includes('--quick');
const w4 = args.includes('--w4');
const N = cpus().length;
const rows = [];
const add = (peer, workload, unit, value, runs) => {
  rows.push({ peer, workload, unit, value, runs });
  console.error(`  ${peer.padEnd(14)} ${workload.padEnd(44)} ${value.toFixed(2).padStart(12)} ${unit}`);
};

function median(ts) { ts.sort((a, b) => a - b); return ts[ts.length >> 1]; }
async function timeMs(fn, { warmup = 2, minRuns = 5, minTime = 1500, maxRuns = 1000 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const ts = [];
  const start = performance.now();
  while (ts.length < maxRuns && (ts.length < minRuns || performance.now() - start < minTime)) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return { ms: median(ts), runs: ts.length };
}

// --render: no measuring; the table again from the rows and versions the last run saved.
const saved = args.includes('--render') ? JSON.parse(readFileSync(join(here, 'last-run.json'), 'utf8')) : null;
if (saved) rows.push(...saved.rows);

// ---------------------------------------------------------------- seqlab (wasm, 1 and N threads)
if (!saved) {
console.error('seqlab');
  const r = spawnSync('npx', ['tsx', 'bench/run.ts', '--backends', 'wasm', '--json', ...(large ? ['--large'] : []), ...(quick ? ['--quick'] : []),
    ...(w4 ? ['--only', 'w4'] : [])],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('[{'));
  if (!line) { console.error(r.stderr); throw new Error('bench/run.ts --json printed no rows'); }
  for (const row of JSON.parse(line)) add(`seqlab ${row.backend.replace('wasm ', '')}`, row.workload, row.unit, row.value, row.timing.runs);
}

// ---------------------------------------------------------------- PyTorch
const onnxDir = mkdtempSync(join(tmpdir(), 'seqlab-peers-'));
let blas = 'n/a';
const torchOk = !saved && existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (torchOk) {
  // PyTorch at its best: Debian's python3-torch calls whatever libblas.so.3 is installed (the reference
  // BLAS unless libopenblas0-pthread is), and OpenBLAS 0.3.21 does not recognise recent Xeons (it falls
  // back to its Prescott kernels), so name the widest kernel this CPU runs. Recorded in the table header.
  const flags = readFileSync('/proc/cpuinfo', 'utf8');
  const env = { ...process.env, OPENBLAS_VERBOSE: '2' };
  delete env.OPENBLAS_L2_SIZE;
  env.OPENBLAS_CORETYPE = /\bavx512f\b/.test(flags) ? 'SkylakeX' : /\bavx2\b/.test(flags) ? 'Haswell' : '';
  if (!env.OPENBLAS_CORETYPE) delete env.OPENBLAS_CORETYPE;
  for (const t of N > 1 ? [1, N] : [1]) {
    console.error(`pytorch ${t}T`);
    const r = spawnSync('/usr/bin/python3', [join(here, 'torch_bench.py'), '--threads', String(t), ...(large ? ['--large'] : []),
      ...(t === 1 ? ['--onnx', onnxDir] : []), ...(w4 ? ['--w4'] : [])], { env: { ...env, OPENBLAS_NUM_THREADS: String(t) }, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`torch_bench.py failed:\n${r.stderr}`);
    blas = /Core: (\S+)/.exec(r.stderr)?.[1] ? `OpenBLAS (${/Core: (\S+)/.exec(r.stderr)[1]} kernels)` : 'the reference BLAS (apt-get install libopenblas0-pthread for OpenBLAS)';
    for (const l of r.stdout.split('\n')) if (l.startsWith('{')) { const j = JSON.parse(l); add(j.peer, j.workload, j.unit, j.value, j.runs); }
  }
} else if (!saved) {
  console.error('pytorch: /usr/bin/python3 cannot import torch; skipped');
}

// ---------------------------------------------------------------- TensorFlow.js (wasm backend)
let tfjsVersion = 'n/a', ortVersion = 'n/a';
const torchVersion = torchOk ? spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim() : 'n/a';
if (!saved && !w4) try {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  await tf.ready();
  tfjsVersion = `${tf.version.tfjs} (${tf.getBackend()} backend)`;
  console.error(`tfjs ${tfjsVersion}`);
  for (const [m, n, k] of [[32, 256, 1024], [2048, 128, 1024], [1024, 1024, 1024]]) {
    const a = tf.randomNormal([m, k]), b = tf.randomNormal([k, n]);
    const t = await timeMs(() => { const c = tf.matMul(a, b); c.dataSync(); c.dispose(); }, { minTime: quick ? 300 : 1500 });
    add('tfjs-wasm', `GEMM ${m}×${n}×${k}`, 'GFLOP/s', (2 * m * n * k) / t.ms / 1e6, t.runs);
  }
  const T = 64, Nb = 32, I = 128, H = 256;
  for (const [label, layer] of [['W1 LSTM train step', 'lstm'], ['W2 GRU train step', 'gru'], ['W3 RNN train step', 'simpleRNN']]) {
    const model = tf.sequential();
    model.add(tf.layers[layer]({ units: H, returnSequences: true, inputShape: [T, I] }));
    model.compile({ optimizer: tf.train.sgd(1e-3), loss: 'meanSquaredError' });
    const x = tf.randomNormal([Nb, T, I]), y = tf.randomNormal([Nb, T, H]);
    const t = await timeMs(() => model.trainOnBatch(x, y), { warmup: 1, minRuns: quick ? 1 : 3, minTime: 0, maxRuns: 5 });
    add('tfjs-wasm', `${label} T=${T} N=${Nb} I=${I} H=${H}`, 'tokens/s', (T * Nb) / (t.ms / 1000), t.runs);
  }
} catch (e) {
  console.error(`tfjs: skipped (${e.message}); run npm --prefix bench/peers install --ignore-scripts`);
}

// ---------------------------------------------------------------- ONNX Runtime (inference: the W4 step)
if (!saved) try {
  const ort = await import('onnxruntime-node');
  ortVersion = JSON.parse(readFileSync(join(here, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
  const file = join(onnxDir, 'w4_lstm.onnx');
  if (!existsSync(file)) throw new Error('no exported model (PyTorch was skipped)');
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const I = 128, H = 256;
  const xs = Array.from({ length: 16 }, (_, i) => new ort.Tensor('float32', Float32Array.from({ length: I }, (_, j) => Math.sin(i + j)), [1, 1, I]));
  let h = new ort.Tensor('float32', new Float32Array(H), [1, 1, H]), c = new ort.Tensor('float32', new Float32Array(H), [1, 1, H]);
  let i = 0;
  const t = await timeMs(async () => { const r = await session.run({ x: xs[i++ & 15], h, c }); h = r.hn; c = r.cn; },
    { warmup: 50, minRuns: 200, minTime: quick ? 300 : 2000, maxRuns: 100000 });
  add('onnxruntime', 'W4 LSTM stream step N=1 I=128 H=256', 'µs', t.ms * 1000, t.runs);
} catch (e) {
  console.error(`onnxruntime: skipped (${e.message})`);
}

// ---------------------------------------------------------------- table
// Rows with no peer value (seqlab-only workloads) are left out; "best" is the better of the thread counts.
const isBetter = (unit, a, b) => (unit === 'µs' || unit === 'ms' ? a < b : a > b);
const bestOf = (w, prefix) => rows.filter((r) => r.workload === w && r.peer.startsWith(prefix))
  .reduce((a, r) => (a && !isBetter(r.unit, r.value, a.value) ? a : r), null);
const peerNames = [...new Set(rows.map((r) => r.peer))];
const others = [...new Set(peerNames.filter((p) => !p.startsWith('seqlab')).map((p) => (p.startsWith('pytorch') ? 'pytorch' : p)))];
const workloads = [...new Set(rows.map((r) => r.workload))].filter((w) => rows.some((r) => r.workload === w && !r.peer.startsWith('seqlab')));
const fmt = (v) => (v >= 1e4 ? Math.round(v).toLocaleString('en-US') : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const head = ['workload', 'unit', ...peerNames, ...others.map((p) => `seqlab best / ${p}${p === 'pytorch' ? ' best' : ''}`)];
const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
for (const w of workloads) {
  const unit = rows.find((r) => r.workload === w).unit;
  const lower = unit === 'µs' || unit === 'ms';
  const cell = (p) => { const r = rows.find((x) => x.workload === w && x.peer === p); return r ? fmt(r.value) : '—'; };
  const s = bestOf(w, 'seqlab');
  const ratio = (p) => { const r = bestOf(w, p); return r && s ? `${fmt(lower ? r.value / s.value : s.value / r.value)}×` : '—'; };
  lines.push(`| ${w} | ${unit} | ${[...peerNames.map(cell), ...others.map(ratio)].join(' | ')} |`);
}
const versions = saved?.versions ?? { blas, tfjsVersion, ortVersion, torchVersion };
if (!saved && !w4) writeFileSync(join(here, 'last-run.json'), JSON.stringify({ rows, versions })); // for --render
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const cpu = (() => { try { return execFileSync('lscpu', { encoding: 'utf8' }).match(/Model name:\s*(.+)/)?.[1]?.trim(); } catch { return cpus()[0]?.model; } })();
const md = `Machine: ${cpu}, ${N} cores; Node ${process.version}; date ${new Date().toISOString().slice(0, 10)}; load average at the end ${load}. ` +
  `PyTorch ${versions.torchVersion} on ${versions.blas}; tfjs ${versions.tfjsVersion}; onnxruntime-node ${versions.ortVersion}.\n\n${lines.join('\n')}\n`;
console.log(`\n${md}`);
if (args.includes('--write') && !w4) {
  const file = join(root, 'bench', 'RESULTS.md');
  const begin = '<!-- peers:begin -->', end = '<!-- peers:end -->';
  const prev = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const at = prev.indexOf(begin), to = prev.indexOf(end);
  const next = at >= 0 && to > at ? `${prev.slice(0, at + begin.length)}\n${md}${prev.slice(to)}` : `${prev}\n## Peers (npm run bench:peers)\n\n${begin}\n${md}${end}\n`;
  writeFileSync(file, next);
  console.error('wrote bench/RESULTS.md');
}
