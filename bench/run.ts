/**
 * `npm run bench` — seqlab's benchmarks for the `ref` and `wasm` backends, in one process so the ratios
 * compare like with like. Prints a markdown table; `--write` also records it in bench/RESULTS.md with
 * the machine, date and commit.
 *
 *   npm run bench -- [--quick] [--large] [--write] [--json] [--only gemm,optim,train,stream,w4] [--backends ref,wasm] [--threads N]
 *                    [--families mamba,gpt,…]
 *
 * wasm runs twice: on 1 thread and on N (default: the number of cores), labelled `wasm 1T` and `wasm NT`.
 * `--only w4` is the W4 LSTM streaming step alone (`stream` includes it, with every language model's step).
 * --large adds W5 (LSTM T=128 N=64 I=H=1024 forward+backward; minutes on ref, so ref skips it).
 * The machine may be shared: run this when you need numbers, and never assert timings in tests.
 */
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import * as sl from '../src/index.js';
import { kernels, setThreads } from '../src/kernels/index.js';
import { defaultThreads } from '../src/kernels/wasm/index.js';
import { table, type Row } from './harness.js';
import { benchAdam } from './kernels/adam.js';
import { benchGemm } from './kernels/gemm.js';
import { benchLarge, benchStreamStep, benchTrainStep } from './models/recurrent.js';
import { LM_BENCH_CONFIGS, benchLMStream, benchLMTrain } from './models/lm.js';
import { benchPeak } from './roofline.js';

const args = process.argv.slice(2);
const FLAGS = ['quick', 'large', 'write', 'json'], OPTIONS = ['only', 'backends', 'threads', 'families'];
if (args.includes('--help') || args.includes('-h')) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*|^ \* ?/gm, ''));
  process.exit(0);
}
// A mistyped flag must not start minutes of benchmarks with the defaults.
for (let i = 0; i < args.length; i++) {
  const name = args[i]!.replace(/^--/, '');
  if (OPTIONS.includes(name)) i++;
  else if (!FLAGS.includes(name)) {
    console.error(`bench: unknown argument ${JSON.stringify(args[i])}: expected --${FLAGS.join(', --')} or --${OPTIONS.join(' X, --')} X (see --help)`);
    process.exit(2);
  }
}
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
const quick = flag('quick');
const only = new Set((opt('only') ?? 'gemm,optim,train,stream').split(','));
const backends = (opt('backends') ?? 'ref,wasm').split(',');
const maxThreads = Number(opt('threads') ?? defaultThreads());
/** Language-model families to run (default: every one in LM_BENCH_CONFIGS). */
const families = opt('families')?.split(',') ?? Object.keys(LM_BENCH_CONFIGS);
const unknownFamily = families.find((f) => !(f in LM_BENCH_CONFIGS));
if (unknownFamily !== undefined) throw new Error(`--families: no bench config for '${unknownFamily}' (have ${Object.keys(LM_BENCH_CONFIGS).join(', ')})`);
/** Each backend once; wasm on 1 thread and on maxThreads. */
const runs = backends.flatMap((b) => (b === 'wasm' && maxThreads > 1 ? [{ b, threads: 1 }, { b, threads: maxThreads }] : [{ b, threads: 1 }]));
const labelOf = (r: { b: string; threads: number }) => (r.b === 'wasm' ? `wasm ${r.threads}T` : r.b);
let label = '';

const rows: Row[] = [];
const log = (r: Row) => {
  r.backend = label;
  rows.push(r);
  console.error(`  ${r.backend.padEnd(7)} ${r.workload.padEnd(44)} ${r.value.toFixed(2).padStart(12)} ${r.unit}  (median of ${r.timing.runs}, ${r.timing.median.toFixed(3)} ms)`);
};

const wasmInfo = (): string => {
  sl.setBackend('wasm');
  const k = kernels() as { variant?: string };
  return k.variant ?? '?';
};
const variant = backends.includes('wasm') ? wasmInfo() : 'n/a';

for (const run of runs) {
  const b = run.b;
  sl.setBackend(b);
  if (b === 'wasm') setThreads(run.threads);
  label = labelOf(run);
  const k = kernels();
  console.error(`backend ${label}${b === 'wasm' ? ` (${variant})` : ''}`);
  if (only.has('gemm')) benchGemm(k, quick).forEach(log);
  if (only.has('optim')) benchAdam(k, quick).forEach(log);
  if (only.has('train')) {
    log(benchTrainStep(b, 'lstm', 'W1 LSTM train step', quick));
    log(benchTrainStep(b, 'gru', 'W2 GRU train step', quick));
    log(benchTrainStep(b, 'rnn', 'W3 RNN train step', quick));
    if (flag('large') && b !== 'ref') log(benchLarge(b, quick));
  }
  if (only.has('stream') || only.has('w4')) benchStreamStep(b, quick).forEach(log);
  // The arithmetic peak per thread (bench/roofline.ts), for the batch-16 rows' bound: measured once per backend run.
  const roofline = only.has('stream') && b === 'wasm';
  if (roofline) benchPeak(b).forEach(log);
  for (const family of families) { // language models at d_model 256 (bench/models/lm.ts)
    if (only.has('train')) log(benchLMTrain(b, family, quick));
    if (only.has('stream')) benchLMStream(b, family, quick, roofline, run.threads).forEach(log);
  }
}

const cpu = (() => {
  try { return execSync('lscpu', { encoding: 'utf8' }).match(/Model name:\s*(.+)/)?.[1]?.trim() ?? cpus()[0]?.model; } catch { return cpus()[0]?.model; }
})();
const commit = (() => { try { return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } })();
const load = (() => { try { return execSync('cat /proc/loadavg', { encoding: 'utf8' }).split(' ').slice(0, 3).join(' '); } catch { return '?'; } })();
const header = `Machine: ${cpu}, ${cpus().length} cores; Node ${process.version}; wasm variant: ${variant}; ` +
  `date ${new Date().toISOString().slice(0, 10)}; commit ${commit}; load average at the end ${load}${quick ? '; --quick' : ''}`;
const md = `${header}\n\n${table(rows, runs.map(labelOf))}\n`;
console.log(`\n${md}`);
if (flag('json')) console.log(JSON.stringify(rows)); // one line, for bench/peers/run.mjs

if (flag('write')) {
  const file = new URL('./RESULTS.md', import.meta.url);
  const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
  const prev = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmark results\n\n${begin}\n${end}\n`;
  const at = prev.indexOf(begin), to = prev.indexOf(end);
  const next = at >= 0 && to > at ? `${prev.slice(0, at + begin.length)}\n${md}${prev.slice(to)}` : `${prev}\n${begin}\n${md}${end}\n`;
  writeFileSync(file, next);
  console.error('wrote bench/RESULTS.md');
}
