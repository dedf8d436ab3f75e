/**
 * The Trainer end to end on small models: it learns (a 200-character text to near-zero loss), it resumes bit
 * for bit, and it stops cleanly on a non-finite loss or a time limit.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';

// The first 200 characters of Tiny Shakespeare.
const TEXT = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\nFirst Citizen:\nFirst, you';

function setup(cell: string, opts: { batching?: 'contiguous' | 'random'; dropout?: number } = {}) {
  const tok = sl.data.CharTokenizer.fromText(TEXT);
  const ids = tok.encode(TEXT);
  sl.manualSeed(0);
  const model = sl.models.createModel(cell, { vocabSize: tok.vocabSize, hiddenSize: 24, numLayers: 2, dropout: opts.dropout ?? 0 });
  const task = sl.lmTask({ train: ids, val: ids, tokenizer: tok, batchSize: 2, seqLen: 16, ...(opts.batching ? { batching: opts.batching } : {}) });
  return { tok, ids, model, task };
}

const bytesOf = (m: sl.TaskModel): number[] => m.parameters().flatMap((p) => Array.from(new Uint32Array(p.data.slice().buffer)));

describe('Trainer', () => {
  it('overfits a 200-character text to near-zero loss and then recites it', async () => {
    expect(TEXT.length).toBe(200);
    const tok = sl.data.CharTokenizer.fromText(TEXT);
    const ids = tok.encode(TEXT);
    sl.manualSeed(0);
    const model = sl.models.createModel('lstm', { vocabSize: tok.vocabSize, hiddenSize: 32, numLayers: 1 });
    const task = sl.lmTask({ train: ids, val: ids, tokenizer: tok, batchSize: 1, seqLen: 66 });
    const r = await new sl.Trainer(model, task, { steps: 120, lr: 2e-2, evalEvery: 0 }).run();
    expect(r.reason).toBe('done');
    expect(r.metrics!.loss).toBeLessThan(0.08); // from ln(31) = 3.43 at the start
    expect(r.metrics!.acc).toBeGreaterThan(0.98);
    const lm = model as sl.models.LanguageModel;
    const out = tok.decode([...sl.generate(lm, tok.encode('First Citizen:\nYou'), { maxTokens: 20, greedy: true })]);
    expect(out).toBe(' are all resolved ra');
  });

  for (const [cell, batching, dropout] of [['lstm', 'contiguous', 0.1], ['gru', 'random', 0]] as const) {
    it(`resume equals an uninterrupted run bit for bit (${cell}, ${batching} batches${dropout ? ', dropout' : ''})`, async () => {
      const options: sl.TrainerOptions = { steps: 12, evalEvery: 4, lr: 5e-3, schedule: 'cosine', warmupSteps: 2, seed: 42 };
      // Uninterrupted.
      const a = setup(cell, { batching, dropout });
      const lossesA: number[] = [];
      await new sl.Trainer(a.model, a.task, options, { onEvent: (e) => e.type === 'step' && lossesA.push(e.loss) }).run();
      // Interrupted after step 5 (mid-way between evaluations), checkpoint through bytes, resumed in a fresh model.
      const b = setup(cell, { batching, dropout });
      const saved: { bytes?: Uint8Array } = {};
      const lossesB: number[] = [];
      const t1: sl.Trainer = new sl.Trainer(b.model, b.task, options, {
        onEvent: (e) => { if (e.type === 'step') { lossesB.push(e.loss); if (e.step === 5) t1.stop(); } },
        save: (c, kind) => { if (kind === 'last') saved.bytes = sl.encodeCheckpoint(c); },
      });
      const r1 = await t1.run();
      expect([r1.reason, r1.steps]).toEqual(['interrupted', 5]);
      sl.manualSeed(999); // disturb the global generator: resume must not depend on it
      const ckpt = sl.decodeCheckpoint(saved.bytes!);
      expect(ckpt.training!.step).toBe(5);
      const model2 = sl.modelFromCheckpoint(ckpt);
      const t2 = new sl.Trainer(model2, b.task, options, { onEvent: (e) => e.type === 'step' && lossesB.push(e.loss) }).restore(ckpt.training!);
      const r2 = await t2.run();
      expect(r2.steps).toBe(12);
      expect(lossesB).toEqual(lossesA);
      expect(bytesOf(model2)).toEqual(bytesOf(a.model));
      // A run already at (or past) its length cannot be continued: that is an error, not "finished".
      expect(() => new sl.Trainer(sl.modelFromCheckpoint(ckpt), b.task, { ...options, steps: 5 }).restore(ckpt.training!))
        .toThrow("Trainer.restore: expected steps greater than the checkpoint's step 5, got 5.");
    });
  }

  it('a resumed run reports its own steps and wall time apart from the whole training\'s', async () => {
    const a = setup('gru');
    const options: sl.TrainerOptions = { steps: 6, evalEvery: 0 };
    const saved: { c?: sl.Checkpoint } = {};
    const t1: sl.Trainer = new sl.Trainer(a.model, a.task, options, {
      onEvent: (e) => { if (e.type === 'step' && e.step === 2) t1.stop(); },
      save: (c) => { saved.c = c; },
    });
    const r1 = await t1.run();
    expect([r1.steps, r1.runSteps, r1.elapsedMs]).toEqual([2, 2, r1.runMs]);
    // As if the first part had taken an hour: the whole training's clock carries it, this run's does not.
    const hour = 3_600_000;
    const t0 = performance.now();
    const r2 = await new sl.Trainer(sl.modelFromCheckpoint(saved.c!), a.task, options).restore({ ...saved.c!.training!, elapsedMs: hour }).run();
    const wall = performance.now() - t0;
    expect([r2.steps, r2.runSteps]).toEqual([6, 4]);
    expect(r2.runMs).toBeGreaterThan(0);
    expect(r2.runMs).toBeLessThanOrEqual(wall);
    expect(r2.elapsedMs).toBe(hour + r2.runMs);
  });

  it('a non-finite loss stops training without updating the model; the last checkpoint stays', async () => {
    const { model, task } = setup('gru');
    const saves: number[] = [];
    let before: number[] = [];
    const r = await new sl.Trainer(model, task, { steps: 20, evalEvery: 2 }, {
      save: (c, kind) => { if (kind === 'last') saves.push(c.training!.step); },
      onEvent: (e) => {
        if (e.type === 'step' && e.step === 3) {
          (model as sl.models.RecurrentLM).head.bias!.buf[0] = NaN; // poison the model
          before = bytesOf(model);
        }
      },
    }).run();
    expect(r.reason).toBe('non-finite');
    expect(r.steps).toBe(3);
    expect(r.message).toBe('training stopped at step 4: the loss is NaN. The model was not updated and the last good checkpoint (step 2) is intact. Hint: lower the learning rate (now 0.002).');
    expect(saves).toEqual([2]);
    expect(bytesOf(model)).toEqual(before);
  });

  it('keeps the best checkpoint and stops early after `patience` evaluations without improvement', async () => {
    const { model, task } = setup('gru');
    const scripted = [3, 2, 2.5, 1.9, 2.2, 2.3, 1.0];
    let evals = 0;
    const fake: sl.Task = { ...task, evaluate: () => ({ loss: scripted[evals++]! }) };
    const saved: string[] = [];
    const r = await new sl.Trainer(model, fake, { steps: 100, evalEvery: 2, patience: 2 }, {
      save: (c, kind) => { saved.push(`${kind}@${c.training!.step}`); },
    }).run();
    expect(r.reason).toBe('early-stop');
    expect(r.steps).toBe(12);
    expect(r.best).toEqual({ step: 8, loss: 1.9 });
    expect(r.message).toBe('early stop: no better val loss in 2 evaluations (best at step 8)');
    expect(saved.filter((x) => x.startsWith('best'))).toEqual(['best@2', 'best@4', 'best@8']);
    expect(saved.filter((x) => x.startsWith('last'))).toEqual(['last@2', 'last@4', 'last@6', 'last@8', 'last@10', 'last@12']);
  });

  it('stops at the time limit and evaluates at the end', async () => {
    const { model, task } = setup('rnn');
    const r = await new sl.Trainer(model, task, { timeLimit: 0.3, evalEvery: 0 }).run();
    expect(r.reason).toBe('time');
    expect(r.steps).toBeGreaterThan(0);
    expect(r.metrics!.bpc).toBeCloseTo(r.metrics!.loss / Math.LN2, 10);
  });

  it('rejects bad options with one clear message', () => {
    const { model, task } = setup('rnn');
    expect(() => new sl.Trainer(model, task, { lr: -1 })).toThrow('Trainer: expected lr > 0, got -1.');
    expect(() => new sl.Trainer(model, task, { timeLimit: 5, schedule: 'cosine' })).toThrow('Trainer: expected a number of steps for the cosine schedule, got a time limit only.');
  });
});
