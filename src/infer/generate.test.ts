import { describe, expect, it } from 'vitest';
import { noGrad } from '../autograd/tape.js';
import type { LanguageModel } from '../models/lm.js';
import { RecurrentLM } from '../models/recurrent/lm.js';
import { Generator, manualSeed } from '../tensor/random.js';
import { generate, sampleLogits } from './generate.js';

function histogram(logits: number[], opts: Parameters<typeof sampleLogits>[1], n = 4000): number[] {
  const g = new Generator(0), h = logits.map(() => 0);
  for (let i = 0; i < n; i++) h[sampleLogits(logits, opts, g)]!++;
  return h.map((c) => c / n);
}

describe('sampleLogits', () => {
  const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)];

  it('greedy and temperature 0 take the argmax', () => {
    expect(sampleLogits(logits, { greedy: true }, new Generator(0))).toBe(0);
    expect(sampleLogits([1, 3, 2], { temperature: 0 }, new Generator(0))).toBe(1);
  });

  it('temperature 1 follows the softmax; top-k and top-p cut the tail and renormalise', () => {
    const p = histogram(logits, {});
    [0.5, 0.3, 0.15, 0.05].forEach((q, i) => expect(Math.abs(p[i]! - q)).toBeLessThan(0.03));
    expect(histogram(logits, { topK: 2 }).slice(2)).toEqual([0, 0]);
    expect(Math.abs(histogram(logits, { topK: 2 })[0]! - 0.625)).toBeLessThan(0.03);
    const nucleus = histogram(logits, { topP: 0.75 }); // {0.5, 0.3} is the smallest set reaching 0.75
    expect(nucleus.slice(2)).toEqual([0, 0]);
    expect(histogram(logits, { topP: 0.01 })).toEqual([1, 0, 0, 0]); // at least one token
  });

  it('low temperature sharpens', () => {
    expect(histogram(logits, { temperature: 0.25 })[0]!).toBeGreaterThan(0.85);
  });

  it('rejects bad options', () => {
    const m = new RecurrentLM({ cell: 'gru', vocabSize: 5, hiddenSize: 4 });
    expect(() => generate(m, [0], { maxTokens: 1, topP: 0 }).next()).toThrow('sample: expected topP in (0, 1], got 0.');
    expect(() => generate(m, [], { maxTokens: 1 }).next()).toThrow(/expected a prompt of at least one token, got an empty prompt/);
  });
});

describe('generate', () => {
  it('streams through step (never re-running the prefix) and equals re-running forward on the whole text', () => {
    manualSeed(3);
    const model = new RecurrentLM({ cell: 'lstm', vocabSize: 11, hiddenSize: 8, numLayers: 2 });
    let tokensRead = 0;
    const counting = new Proxy(model, {
      get(target, key, recv) {
        if (key === 'forward') return (x: number[][], s: unknown) => { tokensRead += x[0]!.length; return target.forward(x, s as never); };
        if (key === 'step') return (x: number[], s: unknown) => { tokensRead += x.length; return target.step(x, s as never); };
        // The session advances a recurrent state in place (null would send it to step: counted there).
        if (key === 'stepInPlace') return (x: number[], s: unknown) => { const y = target.stepInPlace(x, s as never); if (y) tokensRead += x.length; return y; };
        return Reflect.get(target, key, recv) as unknown;
      },
    }) as LanguageModel;
    const prompt = [1, 2, 3, 4];
    const out = [...generate(counting, prompt, { maxTokens: 12, greedy: true })];
    expect(tokensRead).toBe(prompt.length + 12 - 1); // each token read once
    // Reference: greedy by re-running the whole text each time.
    const ref: number[] = [];
    noGrad(() => {
      for (let i = 0; i < 12; i++) {
        const seq = [...prompt, ...ref];
        const { logits } = model.forward([seq]);
        const row = Array.from(logits.data.subarray((seq.length - 1) * 11, seq.length * 11));
        ref.push(row.indexOf(Math.max(...row)));
      }
    });
    expect(out).toEqual(ref);
    expect(model.training).toBe(true); // restored
  });

  it('is reproducible for a seed', () => {
    const model = new RecurrentLM({ cell: 'gru', vocabSize: 7, hiddenSize: 6 });
    const a = [...generate(model, [0], { maxTokens: 20, seed: 5, temperature: 1.5 })];
    expect([...generate(model, [0], { maxTokens: 20, seed: 5, temperature: 1.5 })]).toEqual(a);
    expect([...generate(model, [0], { maxTokens: 20, seed: 6, temperature: 1.5 })]).not.toEqual(a);
  });

  it('a model with a finite context (config.blockSize) restarts from the last half of it when it fills', () => {
    manualSeed(4);
    const inner = new RecurrentLM({ cell: 'gru', vocabSize: 9, hiddenSize: 6 });
    let inState = 0, maxInState = 0;
    const reads: number[][] = [];
    const bounded = new Proxy(inner, {
      get(target, key, recv) {
        if (key === 'config') return { ...target.config, blockSize: 8 };
        if (key === 'forward') return (x: number[][], s: unknown) => { reads.push([...x[0]!]); inState = x[0]!.length; return target.forward(x, s as never); };
        if (key === 'step') return (x: number[], s: unknown) => { if (++inState > 8) throw new Error('context overflow'); maxInState = Math.max(maxInState, inState); return target.step(x, s as never); };
        if (key === 'stepInPlace') return (x: number[], s: unknown) => { if (++inState > 8) throw new Error('context overflow'); maxInState = Math.max(maxInState, inState); return target.stepInPlace(x, s as never); };
        return Reflect.get(target, key, recv) as unknown;
      },
    }) as LanguageModel;
    const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2];
    const out = [...generate(bounded, prompt, { maxTokens: 30, seed: 2 })];
    expect(out).toHaveLength(30);
    expect(reads[0]).toEqual(prompt.slice(-8)); // the prompt cropped to the context
    expect(reads.slice(1).every((r) => r.length === 4)).toBe(true); // refills from the last half
    expect(reads[1]!.at(-1)).toBe(out[0]); // …ending with the token just produced
    expect(maxInState).toBe(8);
  });
});

