/**
 * `seqlab experiment NAME|all` — run the article's experiments (seqlab/experiments) and write, per
 * experiment, DIR/NAME.json (the result object), DIR/NAME.svg (its chart) and DIR/NAME.md (claims, notes,
 * table). The library computes everything; this command only prints and writes.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import * as experiments from 'seqlab/experiments';
import { atomicWriteFileSync, formatDuration } from 'seqlab/node';
import { UsageError, type Command, type IO } from '../args.js';
import { DEFAULT_DATA } from '../setup.js';

const SIZES = ['tiny', 'quick', 'full'] as const;
const writeText = (path: string, text: string): void => atomicWriteFileSync(path, new TextEncoder().encode(text));

/** A progress reporter: one line redrawn in place on a terminal, a line every few seconds otherwise. */
function progressLine(out: IO['stderr']): (p: experiments.ExperimentProgress) => void {
  const tty = out.isTTY === true;
  let last = -Infinity, lastUnit = '';
  const t0 = performance.now();
  return (p) => {
    const now = performance.now();
    const elapsed = formatDuration(now - t0);
    const line = `${p.experiment} [${p.done}/${p.total}] ${p.label} · ${elapsed}`;
    if (tty) {
      if (now - last < 100 && p.label !== 'done') return; // at most 10 redraws a second
      out.write(`\r\x1b[K${line.slice(0, Math.max(20, (out.columns || 100) - 1))}`);
      if (p.label === 'done') out.write('\r\x1b[K');
      last = now;
    } else if (now - last > 5000 || `${p.experiment}/${p.done}` !== lastUnit) {
      // a plain log: each new unit of work, and otherwise a line every 5 s
      out.write(`${line}\n`);
      last = now;
      lastUnit = `${p.experiment}/${p.done}`;
    }
  };
}

/** A result from its JSON file, with its claims judged again from its rows by the current code. */
function readResult(dir: string, name: string): experiments.ExperimentResult {
  const path = join(dir, `${name}.json`);
  let r: experiments.ExperimentResult;
  try {
    r = JSON.parse(readFileSync(path, 'utf8')) as experiments.ExperimentResult;
  } catch (e) {
    throw new UsageError(`--from: expected ${path} written by 'seqlab experiment ${name}', got ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  if (r.name !== name || !Array.isArray(r.rows)) throw new UsageError(`--from: expected ${path} to hold the result of '${name}', got ${JSON.stringify(r.name)}`);
  return { ...r, claims: experiments.judge(r) };
}

function printResult(io: IO, r: experiments.ExperimentResult): void {
  const w = r.table.head.map((h, i) => Math.max(h.length, ...r.table.body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  io.stdout.write(`\n${r.name} (${r.size}, ${r.seconds.toFixed(0)} s)\n${line(r.table.head)}\n${line(w.map((n) => '-'.repeat(n)))}\n`);
  for (const row of r.table.body) io.stdout.write(`${line(row)}\n`);
  for (const c of r.claims) io.stdout.write(`${c.holds ? 'held        ' : 'did not hold'}  ${c.text}\n              ${c.evidence}\n`);
}

export const experiment: Command = {
  name: 'experiment',
  summary: 'measure a claim about recurrence, with numbers and a plot (gradient flow, adding problem, memory …)',
  usage: 'seqlab experiment NAME|all [--quick] [--out DIR] [--seed N] [--threads N]',
  options: {
    quick: { type: 'boolean', help: 'the CI size: every experiment smaller (all nine in ≤ 10 minutes on 2 cores)' },
    size: { type: 'string', value: 'SIZE', help: 'tiny | quick | full (tiny: seconds, for tests)', default: 'full, or quick with --quick' },
    out: { type: 'string', value: 'DIR', help: 'where NAME.json, NAME.svg and NAME.md go', default: 'runs/experiments' },
    seed: { type: 'string', value: 'N', help: 'base seed of every model and data draw', default: '1337' },
    threads: { type: 'string', value: 'N', help: 'kernel threads', default: 'every core' },
    data: { type: 'string', value: 'PATH', help: 'the corpus of gru-vs-lstm', default: 'the bundled Tiny Shakespeare' },
    from: { type: 'string', value: 'DIR', help: 'run nothing: re-judge the claims of DIR/NAME.json and rewrite the reports (into --out, default DIR)' },
  },
  notes: [
    `Experiments: ${experiments.experimentNames.join(', ')}. 'all' runs them in this order and also writes DIR/README.md,`,
    'one line per claim.',
    'Each prints its table and its claims (held / did not hold, with the numbers); claims are computed from the',
    'measured rows. The same from code: import * as experiments from \'seqlab/experiments\'; await experiments.run(name, options).',
  ],
  examples: ['seqlab experiment gradient-flow', 'seqlab experiment all --quick --out runs/quick', 'seqlab experiment all --from docs/experiments   # re-judge committed results'],
  async run(args, io) {
    args.maxPositionals(1);
    const which = args.required('NAME', 0);
    const names = which === 'all' ? [...experiments.experimentNames] : [which];
    for (const n of names) {
      if (!experiments.experimentNames.includes(n)) throw new UsageError(`NAME: expected one of ${experiments.experimentNames.join(', ')} or all, got ${JSON.stringify(n)}. See 'seqlab experiment --help'.`);
    }
    const sizeFlag = args.str('size');
    if (sizeFlag !== undefined && !(SIZES as readonly string[]).includes(sizeFlag)) throw new UsageError(`--size: expected one of ${SIZES.join(', ')}, got ${JSON.stringify(sizeFlag)}. See 'seqlab experiment --help'.`);
    const size = (sizeFlag ?? (args.flag('quick') ? 'quick' : 'full')) as experiments.ExperimentSize;
    const seed = args.int('seed', 0) ?? 1337;
    const threads = args.int('threads');
    const from = args.str('from');
    const outDir = args.str('out') ?? from ?? join('runs', 'experiments');
    const text = names.includes('gru-vs-lstm') && from === undefined ? readFileSync(args.str('data') ?? DEFAULT_DATA(), 'utf8') : undefined;
    mkdirSync(outDir, { recursive: true });
    const onProgress = progressLine(io.stderr);
    const t0 = performance.now();
    let held = 0, total = 0;
    const results: experiments.ExperimentResult[] = [];
    for (const name of names) {
      const load0 = loadavg()[0]!;
      const r = from !== undefined ? readResult(from, name) : await experiments.run(name, { size, seed, onProgress, ...(threads !== undefined ? { threads } : {}), ...(text !== undefined ? { text } : {}) });
      if (from === undefined) r.environment = { cpus: cpus().length, cpu: cpus()[0]?.model.trim() ?? 'unknown CPU', node: process.version, loadAverage: [load0, loadavg()[0]!] };
      const info = experiments.experimentInfo(name);
      const svg = await experiments.renderSVG(r);
      writeText(join(outDir, `${name}.json`), `${JSON.stringify(r, null, 2)}\n`);
      writeText(join(outDir, `${name}.svg`), svg);
      writeText(join(outDir, `${name}.md`), experiments.markdown(r, { title: info.title, source: info.source, svg: `${name}.svg` }));
      printResult(io, r);
      results.push(r);
      held += r.claims.filter((c) => c.holds).length;
      total += r.claims.length;
    }
    if (which === 'all') {
      const how = from !== undefined
        ? `Measured by \`seqlab experiment all${results[0]!.size === 'full' ? '' : ` --size ${results[0]!.size}`}\` (seed ${results[0]!.seed}); reports rewritten from the JSON by \`--from\` on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}. `
        : `Written by \`seqlab experiment all${size === 'full' ? '' : ` --size ${size}`}\` (seed ${seed}) on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}. `;
      const intro = how
        + 'Each section links the experiment\'s report (what was measured, the table, why a claim did or did not hold); each claim is computed from the rows in NAME.json.';
      writeText(join(outDir, 'README.md'), experiments.summaryMarkdown(results, { intro }));
    }
    io.stdout.write(`\n${names.length} experiment${names.length > 1 ? 's' : ''}, ${held} of ${total} claims held, ${formatDuration(performance.now() - t0)}; written to ${outDir}/\n`);
    return 0;
  },
};
