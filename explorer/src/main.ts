/**
 * The explorer page. seqlab runs only in the Worker (worker.ts); this file drives it through
 * seqlab/worker's message API and draws what comes back with Vega-Lite.
 */
import { SeqlabWorker, type ModelInfo, type WorkerEvent, type WorkerInfo } from 'seqlab/worker';
import shakespeareUrl from '../../data/tinyshakespeare.txt?url';
import { chart, flowSpec, gatesSpec, gradNormSpec, lossSpec, stateSpec, type Chart } from './charts';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const fmt = (n: number, d = 3): string => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(d));
const kb = (b: number): string => (b < 1024 ? `${b} B` : `${(b / 1024).toFixed(1)} kB`);

const worker = new SeqlabWorker(new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'seqlab-explorer' }));
let model: ModelInfo | null = null;
let training = false;
let shakespeare: string | null = null;

const buttons = ['build', 'train', 'flow-run', 'gates-run', 'stream-run', 'save'] as const;
function setBusy(busy: boolean): void {
  for (const id of buttons) $<HTMLButtonElement>(id).disabled = busy || (id !== 'build' && model === null);
  $<HTMLInputElement>('load').disabled = busy;
  $<HTMLInputElement>('drop-file').disabled = busy;
  $<HTMLButtonElement>('stop').disabled = !training;
}

function status(id: string, text: string, error = false): void {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', error);
}

/** Run `fn` with the controls disabled; a failure is shown in `statusId`, never thrown to the console. */
async function task(statusId: string, fn: () => Promise<void>): Promise<void> {
  setBusy(true);
  try {
    await fn();
  } catch (e) {
    status(statusId, (e as Error).message, true);
  } finally {
    training = false;
    setBusy(false);
  }
}

/** Collect rows and flush them to a chart at most once per animation frame. */
function batcher(target: () => Chart | null): { push(r: Record<string, string | number>): void; flush(): Promise<void> } {
  let rows: Record<string, string | number>[] = [];
  let scheduled = false;
  const flush = async (): Promise<void> => {
    scheduled = false;
    const c = target();
    if (!c || rows.length === 0) return;
    const out = rows;
    rows = [];
    await c.append(out);
  };
  return {
    push(r) {
      rows.push(r);
      if (!scheduled) { scheduled = true; requestAnimationFrame(() => void flush()); }
    },
    flush,
  };
}

function describeModel(m: ModelInfo): string {
  const grows = m.stateBytes[1] > m.stateBytes[0];
  const state = grows ? `KV cache ${kb(m.stateBytes[0])} after 1 token, ${kb(m.stateBytes[1])} after 1,024` : `state ${kb(m.stateBytes[0])} per stream, whatever the length`;
  const inputs = m.vocabSize > 0 ? `vocabulary ${m.vocabSize}` : 'real-valued inputs (a sequence regressor)';
  return `${m.family.toUpperCase()} · ${fmt(m.params)} parameters · ${inputs} · ${state} · task ${m.task}`;
}

function modelReady(m: ModelInfo): void {
  model = m;
  status('model-info', describeModel(m));
  document.body.dataset['family'] = m.family;
}

let lossChart: Chart | null = null, gradChart: Chart | null = null, stateChart: Chart | null = null;

async function resetTrainingCharts(): Promise<void> {
  lossChart = await chart($('loss-chart'), lossSpec, 'Training loss by step');
  gradChart = await chart($('grad-chart'), gradNormSpec, 'Gradient norm by step');
}

async function taskSpec(): Promise<Record<string, unknown>> {
  const kind = $<HTMLSelectElement>('task').value;
  if (kind === 'shakespeare') {
    shakespeare ??= await (await fetch(shakespeareUrl)).text();
    return { kind: 'text', text: shakespeare };
  }
  if (kind === 'text') return { kind: 'text', text: $<HTMLTextAreaElement>('own-text').value };
  return { kind: 'synthetic', name: kind };
}

async function build(): Promise<void> {
  await task('model-info', async () => {
    status('model-info', 'Building…');
    const m = await worker.call<ModelInfo>('build', {
      family: $<HTMLSelectElement>('family').value, task: await taskSpec(), params: Number($<HTMLSelectElement>('params').value),
    });
    modelReady(m);
    status('train-stats', '');
    await resetTrainingCharts();
  });
}

interface StepEvent { step: number; loss: number; gradNorm: number; itemsPerSec: number; elapsedMs: number }

async function train(): Promise<void> {
  await task('train-stats', async () => {
    training = true;
    setBusy(true);
    const stats = $('train-stats');
    const loss = batcher(() => lossChart), grad = batcher(() => gradChart);
    let first: number | undefined, last: StepEvent | undefined;
    const r = await worker.call<{ steps: number; reason: string }>('train', {
      seconds: Number($<HTMLInputElement>('seconds').value), lr: Number($<HTMLInputElement>('lr').value),
    }, (e: WorkerEvent) => {
      if (e.event !== 'step') return;
      const s = e.data as StepEvent;
      first ??= s.loss;
      last = s;
      loss.push({ step: s.step, loss: s.loss });
      grad.push({ step: s.step, gradNorm: Math.max(s.gradNorm, 1e-12) });
      stats.textContent = `step ${s.step} · loss ${s.loss.toFixed(3)} (start ${first.toFixed(3)}) · gradient norm ${s.gradNorm.toFixed(3)} · ${fmt(Math.round(s.itemsPerSec))} tokens/s`;
    });
    await loss.flush();
    await grad.flush();
    if (last && first !== undefined) {
      stats.dataset['firstLoss'] = String(first);
      stats.dataset['lastLoss'] = String(last.loss);
      stats.dataset['steps'] = String(last.step);
      stats.textContent = `${r.reason === 'interrupted' ? 'stopped' : 'done'} after ${fmt(r.steps)} steps · loss ${first.toFixed(3)} → ${last.loss.toFixed(3)} · ${fmt(Math.round(last.itemsPerSec))} tokens/s`;
    }
  });
}

async function gradientFlow(): Promise<void> {
  await task('train-stats', async () => {
    const rows = await worker.call<Record<string, string | number>[]>('gradientFlow');
    await chart($('flow-chart'), () => flowSpec(rows), 'Gradient norm ratio against distance k for RNN, LSTM and GRU');
    $('flow-chart').dataset['models'] = String(new Set(rows.map((r) => `${r['model']} ${r['condition']}`)).size);
  });
}

async function gates(): Promise<void> {
  await task('train-stats', async () => {
    const r = await worker.call<{ family: string; rows: Record<string, string | number>[] }>('gates', { text: $<HTMLInputElement>('gates-text').value });
    await chart($('gates-chart'), (w) => gatesSpec(r.rows, r.family, w), `${r.family} gate activations over the sequence`);
  });
}

async function stream(): Promise<void> {
  await task('stream-stats', async () => {
    const n = Number($<HTMLInputElement>('stream-tokens').value);
    const out = $('stream-out');
    const prompt = $<HTMLInputElement>('prompt').value;
    out.textContent = prompt;
    stateChart = await chart($('state-chart'), stateSpec, 'Bytes of state while streaming: this model against a GPT KV cache');
    const gpt = await worker.call<number[]>('gptCache', { tokens: n });
    const rows = batcher(() => stateChart);
    const name = `${model!.family.toUpperCase()} (this model)`;
    let count = 0, bytes = 0;
    await worker.call('generate', { prompt, maxTokens: n, temperature: Number($<HTMLInputElement>('temperature').value), seed: Date.now() % 1e6 }, (e) => {
      if (e.event !== 'token') return;
      const t = e.data as { text: string; index: number; stateBytes: number };
      out.textContent += t.text;
      count = t.index;
      bytes = t.stateBytes;
      rows.push({ tokens: t.index, bytes: t.stateBytes, model: name });
      if (model!.family !== 'gpt') rows.push({ tokens: t.index, bytes: gpt[t.index - 1]!, model: 'GPT of the same size (KV cache)' });
      status('stream-stats', `${count} tokens · this model holds ${kb(bytes)} of state · a GPT of the same size: ${kb(gpt[t.index - 1]!)}`);
    });
    await rows.flush();
    out.scrollTop = out.scrollHeight;
    $('stream-stats').dataset['tokens'] = String(count);
  });
}

async function fingerprint(): Promise<string> {
  const f = await worker.call<{ sum: number; sq: number } | null>('fingerprint');
  if (!f) return '';
  $('file-stats').dataset['sum'] = String(f.sum);
  $('file-stats').dataset['sq'] = String(f.sq);
  return `weights: Σw = ${f.sum.toPrecision(10)}, Σw² = ${f.sq.toPrecision(10)}`;
}

async function save(): Promise<void> {
  await task('file-stats', async () => {
    const bytes = await worker.call<Uint8Array<ArrayBuffer>>('save');
    const name = `${model!.family}-${model!.task.replace(/[^a-z0-9-]+/gi, '-')}.safetensors`;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    status('file-stats', `saved ${name} (${kb(bytes.length)}) · ${await fingerprint()}`);
  });
}

async function loadFile(file: File, op: 'load' | 'loadStateDict'): Promise<void> {
  await task('file-stats', async () => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let m: ModelInfo | undefined;
    if (op === 'load') m = await worker.call<ModelInfo>('load', { bytes, name: file.name });
    else {
      // The picked family first, then every other one (recurrent families tell themselves apart by key names).
      const picked = $<HTMLSelectElement>('family').value;
      const order = [picked, ...[...$<HTMLSelectElement>('family').options].map((o) => o.value).filter((f) => f !== picked)];
      let firstError: Error | undefined;
      for (const family of order) {
        try { m = await worker.call<ModelInfo>('loadStateDict', { bytes, name: file.name, family }); break; } catch (e) { firstError ??= e as Error; }
      }
      if (!m) throw firstError!;
    }
    modelReady(m);
    await resetTrainingCharts();
    status('file-stats', `loaded ${file.name} as ${m.family.toUpperCase()} · ${await fingerprint()}`);
  });
}

async function start(): Promise<void> {
  const info = await worker.call<WorkerInfo>('init', { threads: navigator.hardwareConcurrency || 1 });
  const t = info.threads;
  status('env', `seqlab ${info.version} · ${info.backend} backend in a Web Worker · ${t.threads} thread${t.threads > 1 ? 's' : ''}` +
    (t.reason ? ` (${t.reason})` : info.crossOriginIsolated ? ' (cross-origin isolated)' : ''));
  const families = await worker.call<{ name: string; title: string }[]>('families');
  $<HTMLSelectElement>('family').replaceChildren(...families.map((f) => new Option(f.title, f.name, f.name === 'lstm', f.name === 'lstm')));
  $('task').addEventListener('change', () => { $('own-text-label').hidden = $<HTMLSelectElement>('task').value !== 'text'; });
  $('build').addEventListener('click', () => void build());
  $('train').addEventListener('click', () => void train());
  $('stop').addEventListener('click', () => void worker.call('stop'));
  $('flow-run').addEventListener('click', () => void gradientFlow());
  $('gates-run').addEventListener('click', () => void gates());
  $('stream-run').addEventListener('click', () => void stream());
  $('save').addEventListener('click', () => void save());
  $<HTMLInputElement>('load').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void loadFile(f, 'load');
  });
  const drop = $('drop');
  $<HTMLInputElement>('drop-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void loadFile(f, 'loadStateDict');
  });
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('drop-file').click(); } });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void loadFile(f, 'loadStateDict');
  });
  setBusy(false);
  document.body.dataset['ready'] = '1';
}

start().catch((e: Error) => status('env', `The worker failed to start: ${e.message}`, true));
