/**
 * Training tokens/s of the d_model 256 language models (bench/models/lm.ts's configs and step) on 1 and 2
 * threads, interleaved step by step in one process so that both see the same machine load; medians.
 * With --kernels, also the time per kernel method (top-level calls) on each thread count, which shows what
 * stays serial.
 *
 *   node --import tsx bench/train-threads.ts [--families mamba,mamba2,rwkv6,rwkv7,gpt] [--steps 5] [--kernels]
 *
 * Run it under `flock /tmp/seqlab-heavy.lock` on a shared machine; never assert its numbers in a test.
 */
import { loadavg } from 'node:os';
import * as sl from '../src/index.js';
import { kernels, setThreads } from '../src/kernels/index.js';
import { LM_BENCH_CONFIGS, trainer } from './models/lm.js';

const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
const families = (opt('families') ?? Object.keys(LM_BENCH_CONFIGS).join(',')).split(',');
const steps = Number(opt('steps') ?? 5);
const perKernel = args.includes('--kernels');
const N = 8, T = 64;

sl.setBackend('wasm');
const k = kernels() as unknown as Record<string, unknown>;
const spent = new Map<string, number>();
if (perKernel) {
  let depth = 0; // only top-level calls: a kernel that calls another counts once
  for (const [name, f] of Object.entries(k)) {
    if (typeof f !== 'function' || name === 'resident' || name === 'setThreads') continue;
    const fn = f as (...a: unknown[]) => unknown;
    k[name] = (...a: unknown[]) => {
      if (depth > 0) return fn(...a);
      depth++;
      const t0 = performance.now();
      try { return fn(...a); } finally { depth--; spent.set(name, (spent.get(name) ?? 0) + performance.now() - t0); }
    };
  }
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const lines: string[] = [];
for (const family of families) {
  const step = trainer(family, LM_BENCH_CONFIGS[family]!, N, T);
  const ms: Record<number, number[]> = { 1: [], 2: [] };
  const byKernel: Record<number, Map<string, number>> = { 1: new Map(), 2: new Map() };
  for (const threads of [1, 2]) { setThreads(threads); step(); } // warm-up
  for (let r = 0; r < steps; r++) {
    for (const threads of [1, 2]) {
      setThreads(threads);
      spent.clear();
      const t0 = performance.now();
      step();
      ms[threads]!.push(performance.now() - t0);
      for (const [name, v] of spent) byKernel[threads]!.set(name, (byKernel[threads]!.get(name) ?? 0) + v / steps);
    }
  }
  const one = median(ms[1]!), two = median(ms[2]!);
  const tok = (m: number) => ((N * T) / (m / 1000)).toFixed(0);
  const line = `| ${family} | ${tok(one)} | ${tok(two)} | ${(one / two).toFixed(2)}× | ${loadavg()[0]!.toFixed(2)} |`;
  lines.push(line);
  console.error(line);
  if (perKernel) {
    let s1 = 0, s2 = 0;
    for (const [name, a] of [...byKernel[1]!].sort((x, y) => y[1] - x[1])) {
      const b = byKernel[2]!.get(name) ?? 0;
      s1 += a; s2 += b;
      if (a >= 0.5) console.error(`    ${name.padEnd(24)} ${a.toFixed(1).padStart(7)} ms ${b.toFixed(1).padStart(7)} ms`);
    }
    console.error(`    ${'between kernels'.padEnd(24)} ${(one - s1).toFixed(1).padStart(7)} ms ${(two - s2).toFixed(1).padStart(7)} ms`);
  }
}
console.log(`\n| family (train step n=${N} t=${T} d=256) | 1 thread tokens/s | 2 threads tokens/s | 2T / 1T | load (1 min) |\n|---|---|---|---|---|\n${lines.join('\n')}`);
