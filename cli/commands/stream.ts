import * as sl from 'seqlab';
import { UsageError, type Command } from '../args.js';
import { fmtInt } from '../setup.js';
import { MODEL_FILE_OPTIONS, NO_TOKENIZER_HINT, openModelFile } from '../weights.js';

const show = (s: string): string => JSON.stringify(s).slice(1, -1);

/** Top-k entries of softmax(logits[lo..hi)) as [id, p]. */
function top(logits: Float32Array, k: number, lo = 0, hi = logits.length): [number, number][] {
  let max = -Infinity;
  for (let i = lo; i < hi; i++) max = Math.max(max, logits[i]!);
  let z = 0;
  for (let i = lo; i < hi; i++) z += Math.exp(logits[i]! - max);
  const all: [number, number][] = [];
  for (let i = lo; i < hi; i++) all.push([i, Math.exp(logits[i]! - max) / z]);
  return all.sort((a, b) => b[1] - a[1]).slice(0, k);
}

export const stream: Command = {
  name: 'stream',
  summary: 'read stdin line by line and print each prediction as it arrives, with the state size',
  usage: 'seqlab stream CKPT|WEIGHTS [--tokenizer FILE] [--top N]',
  options: {
    ...MODEL_FILE_OPTIONS,
    top: { type: 'string', value: 'N', help: 'language models: show the N most likely next characters', default: '3' },
  },
  notes: [
    'Language models read each line (and its newline) one character at a time through step(), carrying the state',
    'from line to line, and print the most likely next characters. Classifiers and taggers label each line.',
    'Forecasters read one CSV row of the input columns per line (a header line is skipped) and print the forecast.',
  ],
  examples: ["printf 'ROMEO:\\nJULIET:\\n' | seqlab stream runs/tinyshakespeare-lstm.best.safetensors", 'tail -f sensor.csv | seqlab stream forecast.safetensors'],
  async run(args, io) {
    const path = args.maxPositionals(1).required('a checkpoint path', 0);
    const ckpt = await openModelFile(path, args);
    const model = sl.modelFromCheckpoint(ckpt);
    if (ckpt.model.kind === 'lm' && !ckpt.tokenizer) throw new UsageError(`${path}: this model has no tokenizer; ${NO_TOKENIZER_HINT}`);
    model.eval();
    const kind = String(ckpt.task?.['kind'] ?? 'lm');
    const k = args.int('top') ?? 3;
    const bytes = (): string => `${fmtInt(model.stateBytes(1))} B state`;
    const timed = <T>(f: () => T): [T, number] => {
      const t0 = performance.now();
      const r = f();
      return [r, performance.now() - t0];
    };

    if (model instanceof sl.SequenceRegressor) {
      let state = model.initState(1);
      const norm = new sl.data.Normalizer(ckpt.normalizer!);
      const features = ckpt.task!['features'] as string[], targets = ckpt.task!['targets'] as string[], horizon = ckpt.task!['horizon'] as number;
      const fi = features.map((c) => norm.index(c)), ti = targets.map((c) => norm.index(c));
      let row = 0;
      io.stderr.write(`reading rows of ${features.join(',')}; forecasting ${targets.join(',')} for the next ${horizon} rows\n`);
      for await (const line of io.stdinLines()) {
        row++;
        const cells = line.split(',');
        const values = cells.slice(-features.length).map((c) => sl.data.parseNumber(c));
        if (values.length !== features.length || values.some((v) => v === undefined)) {
          if (row === 1) continue; // a header
          io.stderr.write(`seqlab stream: stdin line ${row}: expected ${features.length} numbers (${features.join(',')}), got ${JSON.stringify(line)}; skipped\n`);
          continue;
        }
        const x = sl.tensor(Float32Array.from(values, (v, j) => norm.normalize(fi[j]!, v!)), [1, features.length]);
        const [r, ms] = timed(() => sl.noGrad(() => model.step(x, state)));
        state = r.state;
        const y = r.output.data;
        const first = targets.map((c, g) => `${c} ${norm.denormalize(ti[g]!, y[g]!).toFixed(3)}`).join(', ');
        const last = targets.map((c, g) => `${c} ${norm.denormalize(ti[g]!, y[(horizon - 1) * targets.length + g]!).toFixed(3)}`).join(', ');
        io.stdout.write(`row ${row}: next ${first}${horizon > 1 ? ` … +${horizon}: ${last}` : ''}  [${bytes()}, ${(ms * 1000).toFixed(0)} µs]\n`);
      }
      return 0;
    }

    const lm: sl.models.LanguageModel = model;
    const tok = sl.data.tokenizerFromJSON(ckpt.tokenizer!);
    if (kind === 'classify' || kind === 'tag') {
      const labels = (ckpt.task![kind === 'classify' ? 'labels' : 'tags'] as string[]);
      const V = tok.vocabSize, first = kind === 'classify' ? V + 2 : V + 1;
      for await (const line of io.stdinLines()) {
        if (kind === 'classify') {
          const ids = [...tok.encode(line), V]; // text, SEP
          const { logits } = sl.noGrad(() => lm.forward([ids]));
          const row = logits.data.subarray((ids.length - 1) * logits.shape[2]!, ids.length * logits.shape[2]!);
          const [[id, p]] = top(Float32Array.from(row), 1, first, first + labels.length) as [[number, number]];
          io.stdout.write(`${labels[id - first]} (${(p * 100).toFixed(1)}%)  ${show(line)}  [${bytes()}]\n`);
        } else {
          const words = line.split(/\s+/).filter((w) => w !== '');
          if (words.length === 0) continue;
          const ids = (tok as sl.data.WordTokenizer).encodeTokens(words);
          const { logits } = sl.noGrad(() => lm.forward([Array.from(ids)]));
          const Vt = logits.shape[2]!;
          const tags = words.map((w, j) => `${w}/${labels[top(logits.data.slice(j * Vt, (j + 1) * Vt), 1, first, first + labels.length)[0]![0] - first]}`);
          io.stdout.write(`${tags.join(' ')}  [${bytes()}]\n`);
        }
      }
      return 0;
    }

    // Warm up (JIT, kernel set-up) on a throwaway state, so the times shown are the steady per-token cost.
    sl.noGrad(() => {
      let s = lm.initState(1);
      for (let i = 0; i < 16; i++) s = lm.step([i % tok.vocabSize], s).state;
    });
    let state = lm.initState(1);
    // A finite context (the transformer's blockSize) restarts from its last half when full, as generate does.
    const limit = sl.contextLimit(lm), recent: number[] = [];
    for await (const line of io.stdinLines()) {
      let last: Float32Array | null = null, tokens = 0, ms = 0;
      for (const id of tok.encode(`${line}\n`)) {
        if (Number.isFinite(limit)) recent.push(id); // (a recurrent model needs no history)
        const full = recent.length > limit;
        if (full) recent.splice(0, recent.length - Math.floor(limit / 2));
        const [r, dt] = timed(() => sl.noGrad(() => {
          if (!full) return lm.step([id], state);
          const f = lm.forward([recent], null), V = f.logits.shape[2]!;
          return { state: f.state, logits: { data: f.logits.data.slice((recent.length - 1) * V) } };
        }));
        state = r.state;
        last = r.logits.data;
        tokens++;
        ms += dt;
      }
      const guesses = top(last!, k).map(([id, p]) => `${JSON.stringify(tok.decode([id]))} ${(p * 100).toFixed(0)}%`).join(', ');
      io.stdout.write(`${show(`${line}\n`)}  → next: ${guesses}  [${bytes()}, ${((ms / tokens) * 1000).toFixed(0)} µs/token]\n`);
    }
    return 0;
  },
};
