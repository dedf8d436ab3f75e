/**
 * `npm run fuzz`: a million or more fuzz cases over every registered parser (test/fuzz/parsers.ts), with
 * the harness of test/fuzz/harness.ts. Cases run in child processes of CHUNK cases each; a child that
 * reports no progress for HANG_MS is killed and counted as a hang (an endless loop cannot be timed out
 * from inside). Prints one table row per parser — cases, clean errors, crashes, hangs, slow cases, the
 * largest result allocated and its ratio to the input, against the parser's stated bound — and the peak
 * RSS of any child; writes the same as JSON to the path given with --json.
 *
 *   npm run fuzz [-- --cases 1000000] [--seed 1] [--jobs 2] [--json fuzz.json]
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import '../test/fuzz/parsers.js';
import { fuzz, registeredParsers, type Summary } from '../test/fuzz/harness.js';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const CHUNK = 25_000, HANG_MS = 60_000;

// Child: run cases [from, to) of one parser, print progress lines and then the summary.
if (argv[0] === '--child') {
  const [, name, seed, from, to] = argv;
  const p = registeredParsers().find((x) => x.name === name)!;
  let last = 0;
  const s = fuzz(p, Number(seed), Number(from), Number(to), 1000, (i) => {
    if (i - last >= 200) {
      last = i;
      process.stdout.write(`progress ${i}\n`);
    }
  });
  process.stdout.write(`summary ${JSON.stringify({ ...s, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
  process.exit(0);
}

/** Share of the cases per parser (the torch reader's cases cost ~20× a safetensors case). */
const WEIGHT: Record<string, number> = { safetensors: 0.45, 'checkpoint metadata': 0.25, 'torch.save (zip + pickle)': 0.05, 'ONNX (protobuf + graph import)': 0.25 };

function runChunk(name: string, seed: number, from: number, to: number): Promise<Summary & { maxRssKiB: number; hangs: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', fileURLToPath(import.meta.url), '--child', name, String(seed), String(from), String(to)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '', at = from, summary: (Summary & { maxRssKiB: number }) | null = null, timer: NodeJS.Timeout;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
    };
    arm();
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('progress ')) { at = Number(line.slice(9)); arm(); }
        if (line.startsWith('summary ')) summary = JSON.parse(line.slice(8)) as Summary & { maxRssKiB: number };
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (summary) return resolve({ ...summary, hangs: 0 });
      // Killed by the watchdog or died: everything from the last progress report on is one hang (or crash).
      resolve({
        parser: name, cases: at - from + 1, ok: 0, errors: 0, crashes: code === null ? 0 : 1, slow: 0, overBound: 0, maxMs: HANG_MS, maxAllocated: 0, maxRatio: 0,
        bound: '', maxRssKiB: 0, hangs: code === null ? 1 : 0, firstCrash: { index: at, message: `child exited with ${code ?? 'SIGKILL (no progress)'}` },
      });
    });
  });
}

const total = Number(opt('cases') ?? 1_000_000), seed = Number(opt('seed') ?? 1), jobs = Number(opt('jobs') ?? 2);
const t0 = Date.now();
type Row = Summary & { maxRssKiB: number; hangs: number };
const rows: Row[] = registeredParsers().map((p) => ({ parser: p.name, cases: 0, ok: 0, errors: 0, crashes: 0, slow: 0, overBound: 0, maxMs: 0, maxAllocated: 0, maxRatio: 0, bound: p.boundText, maxRssKiB: 0, hangs: 0 }));
// Every chunk of every parser, run `jobs` at a time.
const queue = registeredParsers().flatMap((p, i) => {
  const n = Math.round(total * (WEIGHT[p.name] ?? 0.1));
  return Array.from({ length: Math.ceil(n / CHUNK) }, (_, c) => ({ row: i, name: p.name, from: c * CHUNK, to: Math.min(n, (c + 1) * CHUNK), n }));
});
async function worker(): Promise<void> {
  for (let job = queue.shift(); job; job = queue.shift()) {
    const r = await runChunk(job.name, seed, job.from, job.to), acc = rows[job.row]!;
    for (const k of ['cases', 'ok', 'errors', 'crashes', 'slow', 'overBound', 'hangs'] as const) acc[k] += r[k];
    for (const k of ['maxMs', 'maxAllocated', 'maxRatio', 'maxRssKiB'] as const) acc[k] = Math.max(acc[k], r[k]);
    if (r.firstCrash && !acc.firstCrash) acc.firstCrash = r.firstCrash;
    process.stderr.write(`${job.name}: ${acc.cases.toLocaleString('en-US')} / ${job.n.toLocaleString('en-US')} cases, ${acc.crashes} crashes, ${acc.hangs} hangs (${Math.round((Date.now() - t0) / 1000)} s)\n`);
  }
}
await Promise.all(Array.from({ length: jobs }, () => worker()));

const fmt = (n: number): string => n.toLocaleString('en-US');
const lines = [
  `| parser | cases | parsed | clean errors | crashes | hangs | > 1 s | largest result | result/input | over bound | bound |`,
  `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`,
  ...rows.map((r) => `| ${r.parser} | ${fmt(r.cases)} | ${fmt(r.ok)} | ${fmt(r.errors)} | ${r.crashes} | ${r.hangs} | ${r.slow} | ${fmt(r.maxAllocated)} B | ${r.maxRatio.toFixed(2)} | ${r.overBound} | ${r.bound} |`),
];
process.stdout.write(`${lines.join('\n')}\n\n${fmt(rows.reduce((s, r) => s + r.cases, 0))} cases in ${Math.round((Date.now() - t0) / 1000)} s (seed ${seed}); slowest case ${Math.max(...rows.map((r) => r.maxMs)).toFixed(0)} ms; peak RSS of a fuzz process ${fmt(Math.round(Math.max(...rows.map((r) => r.maxRssKiB)) / 1024))} MiB\n`);
for (const r of rows) if (r.firstCrash) process.stdout.write(`${r.parser}: first crash at case ${r.firstCrash.index}: ${r.firstCrash.message}\n`);
const json = opt('json');
if (json) writeFileSync(json, `${JSON.stringify({ seed, rows }, null, 1)}\n`);
process.exitCode = rows.some((r) => r.crashes > 0 || r.hangs > 0 || r.overBound > 0) ? 1 : 0;
