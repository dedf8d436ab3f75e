/**
 * Showing a training run: a one-line progress bar on a terminal (step, loss, tokens/s, ETA), plain log lines
 * when the output is a file or a CI log, and a JSONL metrics log (one JSON object per event).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Metrics } from '../train/checkpoint.js';
import type { TrainEvent } from '../train/trainer.js';

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatRate(perSec: number): string {
  return perSec >= 10_000 ? `${(perSec / 1000).toFixed(1)}k` : perSec >= 100 ? perSec.toFixed(0) : perSec.toFixed(1);
}

/** `val loss 1.4920 · 2.152 bits/char · ppl 4.45 · acc 55.1%` (only the metrics present). */
export function formatMetrics(m: Metrics, unit = 'char'): string {
  const parts = [`val loss ${m.loss.toFixed(4)}`];
  if (m.bpc !== undefined) parts.push(`${m.bpc.toFixed(3)} bits/${unit}`);
  if (m.ppl !== undefined) parts.push(`ppl ${m.ppl.toFixed(2)}`);
  if (m.acc !== undefined) parts.push(`acc ${(m.acc * 100).toFixed(1)}%`);
  if (m.mae !== undefined) parts.push(`mae ${m.mae.toFixed(4)}`);
  return parts.join(' · ');
}

export interface ProgressOptions {
  /** Where to write (default process.stderr). */
  stream?: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Force the bar on or off (default: the stream's isTTY). */
  tty?: boolean;
  /** Plain mode: at most one step line per this many ms (default 5000; the first and last steps always print). */
  intervalMs?: number;
  /** What the task counts, for the rate: 'tok' (default) or e.g. 'ex'. */
  itemName?: string;
  /** What bits are per: 'char', 'byte', 'token'. */
  unit?: string;
}

/**
 * An `onEvent` handler that draws progress. The bar line is redrawn in place (at most 10 times a second);
 * evaluations and the final message are printed as lines of their own.
 */
export function progressReporter(opts: ProgressOptions = {}): (e: TrainEvent) => void {
  const out = opts.stream ?? process.stderr;
  const tty = opts.tty ?? out.isTTY === true;
  const interval = opts.intervalMs ?? 5000, item = opts.itemName ?? 'tok';
  let lastDraw = 0, barShown = false, timeLimitMs = Infinity, startElapsed = 0;
  const clear = (): void => {
    if (barShown) out.write('\r\x1b[K');
    barShown = false;
  };
  const line = (s: string): void => {
    clear();
    out.write(`${s}\n`);
  };
  return (e) => {
    switch (e.type) {
      case 'start':
        timeLimitMs = e.timeLimit * 1000;
        line(`training ${e.params.toLocaleString('en-US')} parameters${e.resumed ? `, resuming at step ${e.step}` : ''}${e.stateful ? ' (state carried across windows)' : ''}`);
        return;
      case 'step': {
        const t = performance.now();
        const last = e.step === e.totalSteps;
        if (!last && e.step !== 1 && t - lastDraw < (tty ? 100 : interval)) return;
        lastDraw = t;
        if (startElapsed === 0) startElapsed = e.elapsedMs;
        const total = Number.isFinite(e.totalSteps) ? `/${e.totalSteps}` : '';
        const frac = Number.isFinite(e.totalSteps) ? e.step / e.totalSteps : Number.isFinite(timeLimitMs) ? e.elapsedMs / timeLimitMs : 0;
        const stats = `loss ${e.loss.toFixed(4)} · ${formatRate(e.itemsPerSec)} ${item}/s · ETA ${formatDuration(e.etaMs)}`;
        if (tty) {
          const width = 20, filled = Math.max(0, Math.min(width, Math.round(frac * width)));
          const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
          let s = `step ${e.step}${total} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% · ${stats}`;
          if (out.columns && s.length > out.columns - 1) s = s.slice(0, out.columns - 1);
          out.write(`\r\x1b[K${s}`);
          barShown = true;
        } else {
          line(`step ${e.step}${total} · ${stats} · lr ${e.lr.toExponential(2)} · elapsed ${formatDuration(e.elapsedMs)}`);
        }
        return;
      }
      case 'eval':
        line(`step ${e.step}: ${formatMetrics(e.metrics, opts.unit)}${e.best ? ' (best)' : ''}`);
        return;
      case 'checkpoint':
        return;
      case 'stop':
        line(e.message);
        return;
      default:
        e satisfies never;
    }
  };
}

/** An `onEvent` handler appending every event as one JSON line (with a timestamp) to `path`. */
export function metricsLogger(path: string): (e: TrainEvent) => void {
  mkdirSync(dirname(path), { recursive: true });
  return (e) => {
    const rec = { time: new Date().toISOString(), ...e, ...('totalSteps' in e && !Number.isFinite(e.totalSteps) ? { totalSteps: null } : {}) };
    appendFileSync(path, `${JSON.stringify(rec)}\n`);
  };
}
