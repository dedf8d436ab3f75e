/**
 * The fused streaming steps (one kernel call per block, src/kernels/step.ts) through the models: under
 * `noGrad` a family's `step` takes the fused path (checked by a spy on the kernel), and its logits and final
 * state equal the whole-sequence `forward` over the same tokens, for batch 1 and 7, continuing a prefix whose
 * state went through serializeState/deserializeState. The caller's state is never changed by a step, and
 * the fused step equals the op-by-op step (with recording on). Runs on the default backend and on ref.
 */
import { describe, expect, it, vi } from 'vitest';
import * as sl from '../../src/index.js';
import { kernels } from '../../src/kernels/index.js';
import type { StepKernels } from '../../src/kernels/step.js';
import { expectClose } from '../helpers.js';

interface Case { family: string; config: Record<string, unknown>; kernel: keyof StepKernels }

const CASES: Case[] = [
  { family: 'mamba', config: { dModel: 16, nLayer: 2, vocabSize: 13, dState: 5, dConv: 4, bias: true }, kernel: 'mambaStep' },
  { family: 'rwkv7', config: { dModel: 16, numLayers: 3, vocabSize: 13, headSize: 8 }, kernel: 'rwkv7Step' },
  { family: 'mamba2', config: { dModel: 16, nLayer: 2, vocabSize: 13, dState: 5, headdim: 8, ngroups: 2, chunkSize: 3, DHasHdim: true }, kernel: 'mamba2Step' },
  { family: 'mamba2', config: { dModel: 16, nLayer: 2, vocabSize: 13, dState: 8, headdim: 4, chunkSize: 4, bias: true }, kernel: 'mamba2Step' },
  { family: 'rwkv6', config: { dModel: 16, numLayers: 3, vocabSize: 13, headSize: 8 }, kernel: 'rwkv6Step' },
  { family: 'gpt', config: { nEmbd: 16, nLayer: 2, nHead: 2, vocabSize: 13, blockSize: 80 }, kernel: 'gptStep' },
  { family: 'gpt', config: { nEmbd: 12, nLayer: 1, nHead: 3, vocabSize: 13, blockSize: 80, bias: false }, kernel: 'gptStep' },
];

type Tree = sl.Tensor | Tree[] | { [k: string]: Tree };
const leaves = (t: unknown): sl.Tensor[] =>
  t instanceof sl.Tensor ? [t] : Array.isArray(t) ? t.flatMap(leaves) : t !== null && typeof t === 'object' ? Object.values(t).flatMap(leaves) : [];
const snapshot = (t: Tree): number[][] => leaves(t).map((x) => Array.from(x.data));

const tokens = (n: number, t: number, V: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from({ length: t }, (_, j) => (i * 5 + j * 3 + ((i * j) % 4) + 1) % V));

/** Random-ish weights everywhere (official inits zero some matrices, which would hide a wrong path). */
function perturb(m: sl.nn.Module): void {
  let i = 0;
  for (const p of m.parameters()) for (let j = 0; j < p.size; j++) p.data[j]! += 0.05 * Math.sin(++i * 0.7);
}

describe('fused streaming steps == forward', () => {
  for (const c of CASES) {
    for (const n of [1, 7]) {
      it(`${c.family}, batch ${n}, after a deserialized prefix`, () => {
        sl.manualSeed(3);
        const m = sl.models.createModel(c.family, c.config);
        perturb(m);
        const V = m.vocabSize, T = 6, P = 2;
        const ids = tokens(n, T, V);
        const full = sl.noGrad(() => m.forward(ids));
        const prefix = sl.noGrad(() => m.forward(ids.map((r) => r.slice(0, P))));
        let state = sl.deserializeState<typeof prefix.state>(sl.serializeState(prefix.state));
        const spy = vi.spyOn(kernels(), c.kernel);
        try {
          for (let t = P; t < T; t++) {
            const before = snapshot(state as Tree);
            const col = ids.map((r) => r[t]!);
            const r = sl.noGrad(() => m.step(col, state));
            expect(snapshot(state as Tree), 'the caller\'s state is unchanged').toEqual(before);
            expectClose(r.logits, sl.reshape(sl.narrow(full.logits, 1, t, 1), [n, V]), 1e-5, 1e-4, `${c.family} token ${t}`);
            // The op-by-op step (recording on, parameters require grad) from the same state.
            const slow = m.step(col, state);
            expectClose(r.logits, slow.logits.detach(), 1e-5, 1e-4, `${c.family} token ${t}: fused vs op-by-op`);
            state = r.state;
          }
          expect(spy).toHaveBeenCalled();
        } finally {
          spy.mockRestore();
        }
        const got = leaves(state as Tree), want = leaves(full.state as Tree);
        expect(got.map((t) => t.shape)).toEqual(want.map((t) => t.shape));
        got.forEach((t, i) => expectClose(t, want[i]!, 1e-5, 1e-4, `${c.family} final state leaf ${i}`));
      });
    }
  }
});

describe('GPT: the KV cache grows in place without changing what older states see', () => {
  it('two continuations of one state, then a longer run, each equal to forward', () => {
    sl.manualSeed(4);
    const m = sl.models.createModel('gpt', { nEmbd: 16, nLayer: 2, nHead: 2, vocabSize: 13, blockSize: 200 });
    perturb(m);
    const row = (t: number) => (t * 5 + 2) % 13;
    const seq = Array.from({ length: 150 }, (_, t) => row(t));
    sl.noGrad(() => {
      let s = m.initState(1);
      for (let t = 0; t < 3; t++) s = m.step([seq[t]!], s).state;
      const a = m.step([seq[3]!], s), b = m.step([7], s); // b branches off s after a extended it
      const fullA = m.forward([seq.slice(0, 4)]).logits, fullB = m.forward([[...seq.slice(0, 3), 7]]).logits;
      expectClose(a.logits, sl.reshape(sl.narrow(fullA, 1, 3, 1), [1, 13]), 1e-5, 1e-4, 'branch a');
      expectClose(b.logits, sl.reshape(sl.narrow(fullB, 1, 3, 1), [1, 13]), 1e-5, 1e-4, 'branch b');
      // continuing branch a past several slab doublings
      let sa = a.state, last = a.logits;
      for (let t = 4; t < 150; t++) ({ state: sa, logits: last } = m.step([seq[t]!], sa));
      const full = m.forward([seq]).logits;
      expectClose(last, sl.reshape(sl.narrow(full, 1, 149, 1), [1, 13]), 1e-5, 1e-4, 'after 150 tokens');
      expect((sa as sl.models.GPTState).layers[0]!.k.shape).toEqual([1, 150, 16]);
      // branch b still continues from its own 4 tokens
      const b2 = m.step([1], b.state);
      const fullB2 = m.forward([[...seq.slice(0, 3), 7, 1]]).logits;
      expectClose(b2.logits, sl.reshape(sl.narrow(fullB2, 1, 4, 1), [1, 13]), 1e-5, 1e-4, 'branch b continued');
    });
  });
});

describe('GPT: several streams share one slab per layer, grown in place', () => {
  it('batch 3: a branch, growth past the first capacity, and states read in between, each equal to forward', () => {
    sl.manualSeed(5);
    const m = sl.models.createModel('gpt', { nEmbd: 16, nLayer: 2, nHead: 2, vocabSize: 13, blockSize: 200 });
    perturb(m);
    const n = 3, T = 140, V = 13;
    const seqs = tokens(n, T, V), col = (t: number) => seqs.map((r) => r[t]!);
    const last = (logits: sl.Tensor, t: number) => sl.reshape(sl.narrow(logits, 1, t, 1), [n, V]);
    sl.noGrad(() => {
      const full = m.forward(seqs).logits;
      let s = m.step(col(0), m.initState(n)).state;
      for (let t = 1; t < 5; t++) s = m.step(col(t), s).state;
      const a = m.step(col(5), s), b = m.step([1, 2, 3], s); // b branches off s after a extended its slab
      expectClose(a.logits, last(full, 5), 1e-5, 1e-4, 'branch a');
      const fullB = m.forward(seqs.map((r, i) => [...r.slice(0, 5), i + 1])).logits;
      expectClose(b.logits, last(fullB, 5), 1e-5, 1e-4, 'branch b');
      let sa = a.state, out = a.logits, read: sl.Tensor | null = null, readCopy: number[] = [];
      for (let t = 6; t < T; t++) {
        ({ state: sa, logits: out } = m.step(col(t), sa));
        if (t === 70) { read = (sa as sl.models.GPTState).layers[1]!.v; readCopy = Array.from(read.data); }
        if (t % 40 === 0) expectClose(out, last(full, t), 1e-5, 1e-4, `token ${t}`);
      }
      expectClose(out, last(full, T - 1), 1e-5, 1e-4, `after ${T} tokens (slabs of 64 rows doubled)`);
      // A state read mid-way (the stream then went on from it) is a value: [n, p, C], unchanged by the later
      // steps, and writing into it reaches none of them.
      expect(read!.shape).toEqual([n, 71, 16]);
      expect(Array.from(read!.data)).toEqual(readCopy);
      read!.data.fill(7);
      const want = m.forward(seqs).state as sl.models.GPTState, got = sa as sl.models.GPTState;
      const bytes = sl.serializeState(got), again = sl.deserializeState<sl.models.GPTState>(bytes);
      expectClose(got.layers[1]!.v, want.layers[1]!.v, 1e-5, 1e-4, 'final v cache');
      const next = m.step([4, 5, 6], sa).logits, fromBytes = m.step([4, 5, 6], again).logits;
      expect(Array.from(next.data)).toEqual(Array.from(fromBytes.data));
      // branch b continues from its own 6 tokens in its own slab
      const b2 = m.step([2, 2, 2], b.state);
      const fullB2 = m.forward(seqs.map((r, i) => [...r.slice(0, 5), i + 1, 2])).logits;
      expectClose(b2.logits, last(fullB2, 6), 1e-5, 1e-4, 'branch b continued');
    });
  });
});

describe('StreamSession: the state stays put, and leaves only as a copy', () => {
  for (const c of CASES) {
    it(`${c.family}: session steps == model steps; exported states are values`, () => {
      sl.manualSeed(6);
      const m = sl.models.createModel(c.family, c.config);
      perturb(m);
      const n = 3, V = m.vocabSize;
      const session = new sl.StreamSession(m, { batch: n });
      let state = m.initState(n);
      let exported: ReturnType<typeof m.initState> | null = null, exportedBytes: number[][] = [];
      sl.noGrad(() => {
        for (let t = 0; t < 5; t++) {
          const col = Array.from({ length: n }, (_, i) => (t * 3 + i) % V);
          const a = session.step(col);
          const b = m.step(col, state);
          state = b.state;
          expect(Array.from(a.data), `token ${t}`).toEqual(Array.from(b.logits.data));
          if (t === 1) { exported = session.state; exportedBytes = snapshot(exported as Tree); }
        }
      });
      // The exported copy did not move with the session, and writing into it does not reach the session.
      expect(snapshot(exported! as Tree)).toEqual(exportedBytes);
      for (const leaf of leaves(exported!)) leaf.data.fill(123);
      const next = sl.noGrad(() => [session.step([1, 2, 3]), m.step([1, 2, 3], state).logits] as const);
      expect(Array.from(next[0].data)).toEqual(Array.from(next[1].data));
      // reset continues from a given state (copied in)
      session.reset(sl.deserializeState(sl.serializeState(state)));
      const again = sl.noGrad(() => [session.step([4, 5, 6]), m.step([4, 5, 6], state).logits] as const);
      expect(Array.from(again[0].data)).toEqual(Array.from(again[1].data));
    });
  }
});

describe("the fused step's own buffers (resident at 16 streams × d 64)", () => {
  const WIDE: Case[] = [
    { family: 'mamba2', config: { dModel: 64, nLayer: 2, vocabSize: 67, dState: 8, headdim: 16, chunkSize: 4 }, kernel: 'mamba2Step' },
    { family: 'rwkv7', config: { dModel: 64, numLayers: 2, vocabSize: 67, headSize: 16 }, kernel: 'rwkv7Step' },
    { family: 'gpt', config: { nEmbd: 64, nLayer: 2, nHead: 4, vocabSize: 67, blockSize: 16 }, kernel: 'gptStep' },
  ];
  for (const c of WIDE) {
    it(`${c.family}: returned logits stay the caller's, and batches of 16, 1, 16 in turn equal separate models`, () => {
      const make = () => { sl.manualSeed(9); const m = sl.models.createModel(c.family, c.config); perturb(m); return m; };
      const mixed = make(), only16 = make(), only1 = make(), V = mixed.vocabSize;
      const col = (t: number, n: number) => Array.from({ length: n }, (_, i) => (t * 7 + i * 3) % V);
      let s16 = mixed.initState(16), s1 = mixed.initState(1), r16 = only16.initState(16), r1 = only1.initState(1);
      let prev: { logits: sl.Tensor; kept: number[] } | null = null;
      sl.noGrad(() => {
        for (let t = 0; t < 3; t++) {
          const a = mixed.step(col(t, 16), s16), kept = Array.from(a.logits.data);
          if (prev) expect(Array.from(prev.logits.data), `token ${t - 1}'s logits after the next step`).toEqual(prev.kept);
          prev = { logits: a.logits, kept };
          const b = mixed.step(col(t, 1), s1);
          expect(Array.from(a.logits.data), `token ${t}: the batch-16 logits after a batch-1 step`).toEqual(kept);
          const a2 = only16.step(col(t, 16), r16), b2 = only1.step(col(t, 1), r1);
          expect(kept, `token ${t}, batch 16`).toEqual(Array.from(a2.logits.data));
          expect(Array.from(b.logits.data), `token ${t}, batch 1`).toEqual(Array.from(b2.logits.data));
          s16 = a.state; s1 = b.state; r16 = a2.state; r1 = b2.state;
        }
      });
    });
  }
});
