/**
 * `seqlab compare` — the main job (`npm start`): every registered model family trained on the same data
 * with the same parameter budget and the same wall-clock budget, then one table. Budgets are in seconds,
 * not steps, so the job takes about as long on any backend; a faster backend simply trains more steps.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as sl from 'seqlab';
import { formatDuration, progressReporter, readTextFile, saveCheckpoint } from 'seqlab/node';
import { UsageError, type Command } from '../args.js';
import { DEFAULT_DATA, fmtInt } from '../setup.js';

export interface CompareRow {
  family: string;
  title: string;
  params: number;
  config: Record<string, unknown>;
  steps: number;
  trainTokensPerSec: number;
  trainSeconds: number;
  valLoss: number;
  bitsPerChar: number;
  stateBytes: number;
  streamMicrosPerToken: number;
  checkpoint: string;
  error?: string;
}

/** Mean µs per `step` at batch 1 over `ids` (after a short warm-up), and the state size after them. */
export function streamingCost(model: sl.models.LanguageModel, ids: Int32Array): { micros: number; stateBytes: number } {
  model.eval();
  return sl.noGrad(() => {
    let state = model.initState(1);
    for (let i = 0; i < 8; i++) state = model.step([ids[i]!], state).state;
    const t0 = performance.now();
    for (let i = 8; i < ids.length; i++) state = model.step([ids[i]!], state).state;
    return { micros: ((performance.now() - t0) * 1000) / (ids.length - 8), stateBytes: model.stateBytes(1, ids.length) };
  });
}

const fixed = (v: number, d: number): string => (Number.isFinite(v) ? v.toFixed(d) : '—');

export function markdownTable(rows: CompareRow[], best: string | undefined): string {
  const head = '| model | params | train tok/s | steps | val loss | bits/char | state bytes/stream | stream µs/token |\n|---|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map((r) => r.error
    ? `| ${r.title} | ${fmtInt(r.params)} | — | — | — | — | — | failed: ${r.error.replace(/\|/g, '\\|').slice(0, 80)} |`
    : `| ${r.family === best ? `**${r.title}**` : r.title} | ${fmtInt(r.params)} | ${fmtInt(Math.round(r.trainTokensPerSec))} | ${r.steps} | ${fixed(r.valLoss, 4)} | ${fixed(r.bitsPerChar, 3)} | ${fmtInt(r.stateBytes)} | ${fmtInt(Math.round(r.streamMicrosPerToken))} |`);
  return [head, ...body].join('\n');
}

export const compare: Command = {
  name: 'compare',
  summary: 'train every model family with the same parameter and time budget on Tiny Shakespeare, and compare',
  usage: 'seqlab compare [--time 3m] [--params N] [--models a,b] [--data PATH] [--out DIR]',
  options: {
    data: { type: 'string', value: 'PATH', help: 'a text corpus (char-level, split 90/10)', default: 'the bundled Tiny Shakespeare' },
    time: { type: 'string', value: 'DURATION', help: 'total wall-clock budget, shared equally by the families', default: '3m' },
    params: { type: 'string', value: 'N', help: 'parameter budget of every model', default: '50000' },
    models: { type: 'string', value: 'A,B', help: 'families to compare', default: 'every registered family' },
    batch: { type: 'string', value: 'N', help: 'sequences per step', default: '8' },
    'seq-len': { type: 'string', value: 'N', help: 'tokens per sequence', default: '32' },
    lr: { type: 'string', value: 'LR', help: 'Adam learning rate (the same for all)', default: '3e-3' },
    'eval-tokens': { type: 'string', value: 'N', help: 'validation tokens for the val loss (the same for all)', default: '4096' },
    sample: { type: 'string', value: 'N', help: 'characters to sample from the best model', default: '200' },
    seed: { type: 'string', value: 'N', help: 'seed for every model', default: '1337' },
    out: { type: 'string', value: 'DIR', help: 'where the table (Markdown and JSON) and checkpoints go', default: 'runs' },
  },
  notes: [
    'Every family gets a config of about --params parameters (its registry configForBudget), the same batches of',
    'characters, Adam with the same learning rate and clipping, and an equal share of --time (minus evaluation).',
    'Families with a constant-size state train statefully (state carried across windows); others on random windows.',
  ],
  examples: ['seqlab compare                       # what npm start runs', 'seqlab compare --time 10m --params 200000 --models lstm,gru'],
  async run(args, io) {
    args.maxPositionals(0);
    const started = performance.now();
    const total = args.seconds('time') ?? 180;
    const params = args.int('params') ?? 50_000;
    const batchSize = args.int('batch') ?? 8, seqLen = args.int('seq-len') ?? 32;
    const lr = args.num('lr', 0) ?? 3e-3, evalTokens = args.int('eval-tokens') ?? 4096, sampleN = args.int('sample', 0) ?? 200, seed = args.int('seed', 0) ?? 1337;
    const known = sl.models.familyNames();
    const families = args.list('models') ?? known;
    for (const f of families) if (!known.includes(f)) throw new UsageError(`--models: expected names among ${known.join(', ')}, got ${JSON.stringify(f)}`);
    const dataPath = args.str('data') ?? DEFAULT_DATA();
    const text = await readTextFile(dataPath);
    const tokenizer = sl.data.CharTokenizer.fromText(text);
    const { train, val } = sl.data.splitTrainVal(tokenizer.encode(text));
    const stamp = new Date().toISOString().replace(/[:T]/g, '-').replace(/\..*$/, '');
    const outDir = args.str('out') ?? 'runs';
    const ckptDir = join(outDir, `compare-${stamp}`);
    mkdirSync(ckptDir, { recursive: true });
    const err = (s: string): unknown => io.stderr.write(`${s}\n`);
    err(`compare: ${families.join(', ')} on ${basename(dataPath)} (${fmtInt(train.length)} train / ${fmtInt(val.length)} val chars), ~${fmtInt(params)} parameters each, ${formatDuration(total * 1000)} in all, backend ${sl.getBackend()}`);

    const rows: CompareRow[] = [];
    const models = new Map<string, sl.models.LanguageModel>();
    // Every family trains for the same time; 15% of the budget is set aside for evaluation and timing,
    // which take longer for slower families (their time is reported, not taken from the others).
    const reserve = 5; // seconds for the sample and the table
    const budget = Math.max(1, ((total - reserve) * 0.85) / families.length);
    for (const [i, family] of families.entries()) {
      const spec = sl.models.getFamily(family);
      const row: CompareRow = { family, title: spec.title, params: 0, config: {}, steps: 0, trainTokensPerSec: NaN, trainSeconds: 0, valLoss: NaN, bitsPerChar: NaN, stateBytes: NaN, streamMicrosPerToken: NaN, checkpoint: '' };
      rows.push(row);
      try {
        sl.manualSeed(seed);
        row.config = { ...spec.configForBudget(tokenizer.vocabSize, params), vocabSize: tokenizer.vocabSize };
        const model = sl.models.createModel(family, row.config);
        row.params = model.numParameters();
        err(`\n[${i + 1}/${families.length}] ${spec.title} ${JSON.stringify(row.config)}: ${formatDuration(budget * 1000)} of training`);
        const task = sl.lmTask({ train, val, tokenizer, batchSize, seqLen, evalTokens, source: { data: dataPath } });
        row.checkpoint = join(ckptDir, `${family}.safetensors`);
        const trainer = new sl.Trainer(model, task, { timeLimit: budget, evalEvery: 0, lr, seed }, {
          onEvent: progressReporter({ stream: io.stderr, intervalMs: 15_000 }),
          save: (c, kind) => (kind === 'last' ? saveCheckpoint(row.checkpoint, c) : undefined),
        });
        const t0 = performance.now();
        const r = await trainer.run();
        row.trainSeconds = Math.min(budget, (performance.now() - t0) / 1000);
        row.steps = r.steps;
        row.trainTokensPerSec = r.itemsPerSec;
        row.valLoss = r.metrics?.loss ?? NaN;
        row.bitsPerChar = row.valLoss / Math.LN2;
        const s = streamingCost(model, val.subarray(0, 136));
        row.stateBytes = s.stateBytes;
        row.streamMicrosPerToken = s.micros;
        models.set(family, model);
      } catch (e) {
        row.error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
        err(`${spec.title} failed: ${row.error}`);
      }
    }

    const ok = rows.filter((r) => !r.error && Number.isFinite(r.valLoss));
    const best = ok.sort((a, b) => a.valLoss - b.valLoss)[0];
    const md = markdownTable(rows, best?.family);
    const seconds = (performance.now() - started) / 1000;
    const caption = `${basename(dataPath)}, char-level (${tokenizer.vocabSize} symbols), ~${fmtInt(params)} parameters and ${formatDuration(budget * 1000)} of training per model, batch ${batchSize}×${seqLen}, Adam lr ${lr}, clip 1.0, val loss on the first ${fmtInt(evalTokens)} val chars; backend ${sl.getBackend()}, ${seconds.toFixed(0)} s in all.`;
    const mdPath = join(outDir, `compare-${stamp}.md`), jsonPath = join(outDir, `compare-${stamp}.json`);
    writeFileSync(mdPath, `# seqlab compare ${stamp}\n\n${md}\n\n${caption}\n`);
    writeFileSync(jsonPath, `${JSON.stringify({ stamp, data: dataPath, params, timeBudgetSeconds: total, batchSize, seqLen, lr, evalTokens, backend: sl.getBackend(), seconds, rows }, null, 2)}\n`);
    io.stdout.write(`\n${md}\n\n${caption}\nwritten: ${mdPath}, ${jsonPath}, checkpoints in ${ckptDir}/\n`);
    if (!best) {
      io.stderr.write('seqlab compare: no model finished training\n');
      return 1;
    }
    if (sampleN > 0) {
      io.stdout.write(`\n${sampleN} characters from ${best.title} (val loss ${best.valLoss.toFixed(4)}), temperature 0.8:\n`);
      const dec = tokenizer.decoder();
      for (const id of sl.generate(models.get(best.family)!, tokenizer.encode('\n'), { maxTokens: sampleN, temperature: 0.8, seed })) io.stdout.write(dec.push(id));
      io.stdout.write('\n');
    }
    return 0;
  },
};
