/**
 * bidirectional — a tag that depends on the future: "is token X among the next 5 positions?". A
 * unidirectional LSTM, reading left to right, cannot know and stays near the majority-class rate; a
 * bidirectional one (the reverse direction has read the future) solves it. The price: the reverse
 * direction starts at the end of the sequence, so the model cannot step one token at a time, and cannot
 * generate (the article's reason) — `step()` refuses with the library's error.
 */
import * as sl from '../index.js';
import { bySize, claim, explain, pct, trainSteps } from './common.js';
import type { Claim, Context, Experiment, ExperimentBody, Measured, Row } from './types.js';

const X = 0, AHEAD = 5;

function draw(rng: sl.Generator, b: number, t: number, symbols: number): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(b * t), y = new Int32Array(b * t);
  for (let i = 0; i < x.length; i++) x[i] = rng.randint(symbols);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < t; i++) {
      let hit = 0;
      for (let j = i + 1; j <= i + AHEAD && j < t; j++) if (x[r * t + j] === X) hit = 1;
      y[r * t + i] = hit;
    }
  }
  return { x, y };
}

class Tagger extends sl.nn.Module {
  readonly emb: sl.nn.Embedding;
  readonly lstm: sl.nn.LSTM;
  readonly head: sl.nn.Linear;
  constructor(symbols: number, hidden: number, bidirectional: boolean) {
    super();
    this.emb = this.registerModule('emb', new sl.nn.Embedding({ numEmbeddings: symbols, embeddingDim: 16 }));
    this.lstm = this.registerModule('lstm', new sl.nn.LSTM({ inputSize: 16, hiddenSize: hidden, batchFirst: true, bidirectional }));
    this.head = this.registerModule('head', new sl.nn.Linear({ inFeatures: (bidirectional ? 2 : 1) * hidden, outFeatures: 2 }));
  }
  forward(x: Int32Array, b: number, t: number): sl.Tensor {
    return this.head.forward(this.lstm.forward(this.emb.forward(x, [b, t])).output);
  }
}


/** The claims, computed from the measurements. */
function judge({ rows, summary = [], config }: Measured): Claim[] {
  const chance = rows[0]!['chance'] as number, steps = config['steps'] as number;
  const stepError = String(summary.find((r) => r['stepError'] !== undefined)?.['stepError'] ?? '');
  const acc = (m: string): number => rows.find((r) => r.model === m)!.accuracy as number;
  return explain([
    claim('A unidirectional LSTM stays near chance (within 5 points of the majority-class rate): the label depends on tokens it has not read.',
      Math.abs(acc('lstm') - chance) <= 0.05, `lstm ${pct(acc('lstm'))}, majority class ${pct(chance)}.`),
    claim('A bidirectional LSTM solves it (accuracy ≥ 95%).', acc('lstm-bidir') >= 0.95, `lstm-bidir ${pct(acc('lstm-bidir'))} after ${steps} steps.`),
    claim('The bidirectional model cannot stream or generate: step() fails with the library\'s clear error.',
      /bidirectional/i.test(stepError) && /stream|generate/i.test(stepError), stepError ? `step() threw: "${stepError}"` : 'step() did not throw.'),
  ], [
    'the unidirectional LSTM can still learn the prior of each tag from the tokens it has read (e.g. near the end of the sequence fewer positions follow), which moves it a few points off the majority rate',
    'the bidirectional LSTM did not converge within the step budget',
    undefined,
  ]);
}

export const bidirectional: Experiment = {
  name: 'bidirectional',
  title: 'Bidirectional models see the future, and cannot generate',
  source: 'Schuster & Paliwal 1997; the article: a bidirectional RNN needs the whole sequence, so it cannot generate',
  judge,
  run(ctx: Context): ExperimentBody {
    const t = 32, symbols = 8, b = 16, lr = 1e-2;
    const steps = bySize(ctx.size, { tiny: 60, quick: 200, full: 400 });
    const hidden = bySize(ctx.size, { tiny: 16, quick: 32, full: 32 });
    const test = draw(new sl.Generator(0x5eed), 256, t, symbols);
    const ones = test.y.reduce((a, v) => a + v, 0) / test.y.length;
    const chance = Math.max(ones, 1 - ones);
    ctx.plan(2);
    const rows: Row[] = [];
    let stepError = '';
    for (const bi of [false, true]) {
      const name = bi ? 'lstm-bidir' : 'lstm';
      ctx.tick(name);
      sl.manualSeed(ctx.seed);
      const model = new Tagger(symbols, hidden, bi);
      const rng = new sl.Generator(ctx.seed + 1);
      trainSteps(model.parameters(), steps, () => {
        const d = draw(rng, b, t, symbols);
        return sl.losses.crossEntropy(model.forward(d.x, b, t), d.y);
      }, { lr, clip: 1, status: ctx.status });
      const logits = sl.noGrad(() => model.forward(test.x, 256, t)).data;
      let correct = 0;
      for (let i = 0; i < test.y.length; i++) correct += Number((logits[2 * i + 1]! > logits[2 * i]! ? 1 : 0) === test.y[i]);
      rows.push({ model: name, accuracy: correct / test.y.length, chance, params: model.numParameters() });
      if (bi) {
        try {
          model.lstm.step(sl.zeros([1, 16]), model.lstm.initState(1));
          stepError = '';
        } catch (e) {
          stepError = e instanceof Error ? e.message : String(e);
        }
      }
    }
    return {
      config: { length: t, symbols, X, ahead: AHEAD, hiddenSize: hidden, steps, batch: b, lr },
      rows,
      summary: [{ model: 'lstm-bidir', stepError }],
      notes: [
        `Random sequences of ${t} tokens over ${symbols} symbols; the tag at position i is 1 when token ${X} occurs among positions i+1 … i+${AHEAD}. Embedding(16) → LSTM (hidden ${hidden}, one direction or both) → Linear(2), ${steps} Adam steps (lr ${lr}, clip 1.0, batch ${b}), accuracy over every position of 256 held-out sequences. Chance is the majority-class rate of those tags (${pct(chance)}).`,
      ],
      table: { head: ['model', 'params', 'accuracy', 'chance'], body: rows.map((r) => [String(r.model), String(r.params), pct(r.accuracy as number), pct(chance)]) },
    };
  },
};
