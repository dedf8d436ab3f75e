/**
 * A small benchmark harness: time a function until both a minimum number of runs and a minimum time
 * are reached, report the median (and the spread), and print/write result tables. Medians, not means:
 * the machine is shared, and a neighbour's burst should not move the number. Ratios are only
 * meaningful between rows measured in the same run.
 */
export interface Timing {
  /** Median milliseconds per run. */
  median: number;
  min: number;
  max: number;
  runs: number;
}

export interface MeasureOptions {
  /** Untimed runs first (wasm tier-up, allocation warm-up). */
  warmup?: number;
  minRuns?: number;
  maxRuns?: number;
  /** Keep running until this much time (ms) has been spent, within maxRuns. */
  minTime?: number;
}

export function measure(fn: () => void, o: MeasureOptions = {}): Timing {
  const warmup = o.warmup ?? 2, minRuns = o.minRuns ?? 5, maxRuns = o.maxRuns ?? 1000, minTime = o.minTime ?? 1000;
  for (let i = 0; i < warmup; i++) fn();
  const ts: number[] = [];
  const start = performance.now();
  while (ts.length < maxRuns && (ts.length < minRuns || performance.now() - start < minTime)) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[ts.length >> 1]!, min: ts[0]!, max: ts[ts.length - 1]!, runs: ts.length };
}

export interface Row {
  group: string;
  workload: string;
  backend: string;
  timing: Timing;
  /** The headline number and its unit, e.g. 31.2 GFLOP/s, 18400 tokens/s, 17.3 µs. */
  value: number;
  unit: string;
  note?: string;
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e4) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

/** Markdown table: one line per workload, one column per backend, plus wasm/ref ratios. */
export function table(rows: Row[], backends: string[], base = 'ref'): string {
  const workloads = [...new Set(rows.map((r) => `${r.group}\u0000${r.workload}`))];
  const others = backends.filter((b) => b !== base);
  const head = ['workload', 'unit', ...backends, ...others.map((b) => `${b} / ${base}`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const key of workloads) {
    const [group, workload] = key.split('\u0000') as [string, string];
    const byBackend = new Map(rows.filter((r) => r.group === group && r.workload === workload).map((r) => [r.backend, r]));
    const any = [...byBackend.values()][0]!;
    const lowerIsBetter = any.unit === 'µs' || any.unit === 'ms';
    const cells = backends.map((b) => {
      const r = byBackend.get(b);
      return r ? `${fmt(r.value)}${r.timing.runs < 3 ? ` (n=${r.timing.runs})` : ''}` : '—';
    });
    const ratios = others.map((b) => {
      const r = byBackend.get(b), q = byBackend.get(base);
      if (!r || !q) return '—';
      return `${fmt(lowerIsBetter ? q.value / r.value : r.value / q.value)}×`;
    });
    lines.push(`| ${workload} | ${any.unit} | ${[...cells, ...ratios].join(' | ')} |`);
  }
  return lines.join('\n');
}
