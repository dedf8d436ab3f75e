/**
 * MambaLM and Mamba2LM: the streaming contract (step == forward, chunked == one pass, constant state),
 * a whole-model float64 gradient check through the carried state, mamba_ssm's initialisation, the
 * official key names, import in every accepted layout, and the errors for wrong input.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../index.js';
import { gradcheck } from '../../autograd/gradcheck.js';
import { expectClose } from '../../../test/helpers.js';
import { mamba2ParamCount, mambaParamCount, resolveMamba2Config, resolveMambaConfig } from './model.js';

type LM = sl.models.MambaLM | sl.models.Mamba2LM;

const tiny1 = { dModel: 8, nLayer: 2, vocabSize: 11, dState: 3, dConv: 3 };
const tiny2 = { dModel: 8, nLayer: 2, vocabSize: 11, dState: 3, dConv: 3, headdim: 4, ngroups: 2, chunkSize: 3 };
const makers: Record<string, () => LM> = {
  'Mamba-1': () => new sl.models.MambaLM(tiny1),
  'Mamba-2 (4 heads, 2 groups, chunks of 3)': () => new sl.models.Mamba2LM(tiny2),
};

const tokens = (n: number, t: number, V: number, seed: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from({ length: t }, (_, j) => (seed * 7 + i * 5 + j * 3 + ((i * j) % 4)) % V));

function expectStatesClose(a: sl.models.MambaState, b: sl.models.MambaState, tol: number, what: string): void {
  a.layers.forEach((l, i) => {
    expectClose(l.conv, b.layers[i]!.conv, tol, tol, `${what} conv ${i}`);
    expectClose(l.ssm, b.layers[i]!.ssm, tol, tol, `${what} ssm ${i}`);
  });
}

describe('streaming: step == forward, chunks == one pass, constant state', () => {
  for (const [name, make] of Object.entries(makers)) {
    it(name, () => {
      sl.manualSeed(5);
      const m = make();
      const n = 2, T = 7;
      const ids = tokens(n, T, 11, 1);
      const full = m.forward(ids);
      expect(full.logits.shape).toEqual([n, T, 11]);
      // token by token
      let s = m.initState(n);
      const bytes0 = m.stateBytes(n);
      for (let t = 0; t < T; t++) {
        const r = m.step(ids.map((row) => row[t]!), s);
        expect(r.logits.shape).toEqual([n, 11]);
        expectClose(r.logits, sl.reshape(sl.narrow(full.logits, 1, t, 1), [n, 11]), 1e-5, 1e-5, `step ${t}`);
        s = r.state;
      }
      expectStatesClose(s, full.state, 1e-5, 'stepped');
      // chunks of 3 + 4 (Mamba-2: the first chunk boundary is inside the second call's first SSD chunk)
      const a = m.forward(ids.map((r) => r.slice(0, 3)));
      const b = m.forward(ids.map((r) => r.slice(3)), a.state);
      expectClose(sl.concat([a.logits, b.logits], 1), full.logits, 1e-5, 1e-5, 'chunked logits');
      expectStatesClose(b.state, full.state, 1e-5, 'chunked');
      // constant-size state, equal to the tensors it holds
      const held = s.layers.reduce((acc, l) => acc + 4 * (l.conv.size + l.ssm.size), 0);
      expect(m.stateBytes(n)).toBe(held);
      expect(m.stateBytes(n)).toBe(bytes0);
      // a serialized state continues the stream identically
      const back = sl.deserializeState<sl.models.MambaState>(sl.serializeState(s));
      expect(Array.from(m.step([1, 2], back).logits.data)).toEqual(Array.from(m.step([1, 2], s).logits.data));
    });
  }
});

const float64 = (m: sl.nn.Module): void => {
  for (const p of m.parameters()) { p.buf = Float64Array.from(p.buf); (p as { dtype: string }).dtype = 'float64'; }
};
const state64 = (s: sl.models.MambaState, seed: number): sl.Tensor[] => s.layers.flatMap((l, i) => {
  const mk = (t: sl.Tensor, k: number) => sl.randn(t.shape, { seed: seed + 2 * i + k, dtype: 'float64', requiresGrad: true });
  l.conv = mk(l.conv, 0); l.ssm = mk(l.ssm, 1);
  return [l.conv, l.ssm];
});

describe('an empty sequence (t = 0)', () => {
  for (const [name, make] of Object.entries(makers)) {
    it(`${name}: no logits, the state passes through unchanged`, () => {
      sl.manualSeed(6);
      const m = make();
      const s = m.forward(tokens(2, 4, 11, 3)).state;
      const r = m.forward([[], []], s);
      expect(r.logits.shape).toEqual([2, 0, 11]);
      expectStatesClose(r.state, s, 0, 'empty');
    });
  }
});

describe('whole-model float64 gradient check (every parameter and the initial state)', () => {
  const cases: Record<string, () => LM> = {
    'Mamba-1': () => new sl.models.MambaLM({ dModel: 4, nLayer: 1, vocabSize: 5, dState: 2, dConv: 2 }),
    'Mamba-2': () => new sl.models.Mamba2LM({ dModel: 4, nLayer: 1, vocabSize: 5, dState: 2, dConv: 2, headdim: 4, chunkSize: 2 }),
  };
  for (const [name, make] of Object.entries(cases)) {
    it(name, () => {
      sl.manualSeed(9);
      const m = make();
      float64(m);
      const s = m.initState(1);
      const leaves = [...m.parameters(), ...state64(s, 40)];
      const ids = [[1, 3, 0]];
      const bad = gradcheck(() => {
        const r = m.forward(ids, s);
        return [r.logits, ...r.state.layers.flatMap((l) => [l.conv, l.ssm])];
      }, leaves, { atol: 1e-6, rtol: 1e-5 });
      expect(bad.slice(0, 3)).toEqual([]);
    });
  }
});

describe('mamba_ssm initialisation', () => {
  it('Mamba-1: A_log = log(1..n) per channel, D = 1, Δ₀ ∈ [dtMin, dtMax], dt_proj ~ U(±1/√r), out_proj scaled by 1/√nLayer', () => {
    sl.manualSeed(1);
    const m = new sl.models.MambaLM({ dModel: 32, nLayer: 4, vocabSize: 7 });
    const p = Object.fromEntries(m.namedParameters());
    const di = 64, n = 16, r = 2;
    const aLog = p['backbone.layers.0.mixer.A_log']!;
    expect(aLog.shape).toEqual([di, n]);
    for (let i = 0; i < di * n; i++) expect(aLog.data[i]).toBeCloseTo(Math.log(1 + (i % n)), 6);
    expect(Array.from(p['backbone.layers.0.mixer.D']!.data).every((v) => v === 1)).toBe(true);
    const dt = Array.from(p['backbone.layers.0.mixer.dt_proj.bias']!.data, (b) => Math.log1p(Math.exp(b)));
    expect(Math.min(...dt)).toBeGreaterThanOrEqual(0.001 * (1 - 1e-5));
    expect(Math.max(...dt)).toBeLessThanOrEqual(0.1 * (1 + 1e-5));
    expect(Math.max(...Array.from(p['backbone.layers.0.mixer.dt_proj.weight']!.data, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(r));
    const outBound = 1 / Math.sqrt(di) / Math.sqrt(4);
    expect(Math.max(...Array.from(p['backbone.layers.0.mixer.out_proj.weight']!.data, Math.abs))).toBeLessThanOrEqual(outBound);
    const e = p['backbone.embedding.weight']!.data;
    const std = Math.sqrt(e.reduce((a, v) => a + v * v, 0) / e.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
  });
  it('Mamba-2: −A ∈ [1, 16] per head, Δ₀ ∈ [dtMin, dtMax], D and the gated norm start at 1', () => {
    sl.manualSeed(2);
    const m = new sl.models.Mamba2LM({ dModel: 64, nLayer: 1, vocabSize: 7, headdim: 16 });
    const p = Object.fromEntries(m.namedParameters());
    const A = Array.from(p['backbone.layers.0.mixer.A_log']!.data, Math.exp);
    expect(A.length).toBe(8);
    expect(Math.min(...A)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...A)).toBeLessThanOrEqual(16);
    const dt = Array.from(p['backbone.layers.0.mixer.dt_bias']!.data, (b) => Math.log1p(Math.exp(b)));
    expect(Math.min(...dt)).toBeGreaterThanOrEqual(0.001 * (1 - 1e-5));
    expect(Math.max(...dt)).toBeLessThanOrEqual(0.1 * (1 + 1e-5));
    expect(Array.from(p['backbone.layers.0.mixer.D']!.data)).toEqual(new Array(8).fill(1));
    expect(Array.from(p['backbone.layers.0.mixer.norm.weight']!.data).every((v) => v === 1)).toBe(true);
  });
});

describe('official names, shapes and parameter counts', () => {
  it('Mamba-1 keys as mamba_ssm (mamba-130m layout), lm_head tied', () => {
    const m = new sl.models.MambaLM({ dModel: 16, nLayer: 1, vocabSize: 10, padVocabSizeMultiple: 8 });
    const sd = m.stateDict();
    expect(Object.entries(sd).map(([k, t]) => `${k}:${t.shape.join('x')}`)).toEqual([
      'backbone.embedding.weight:16x16',
      'backbone.layers.0.mixer.A_log:32x16', 'backbone.layers.0.mixer.D:32',
      'backbone.layers.0.mixer.in_proj.weight:64x16', 'backbone.layers.0.mixer.conv1d.weight:32x1x4',
      'backbone.layers.0.mixer.conv1d.bias:32', 'backbone.layers.0.mixer.x_proj.weight:33x32',
      'backbone.layers.0.mixer.dt_proj.weight:32x1', 'backbone.layers.0.mixer.dt_proj.bias:32',
      'backbone.layers.0.mixer.out_proj.weight:16x32', 'backbone.layers.0.norm.weight:16',
      'backbone.norm_f.weight:16', 'lm_head.weight:16x16',
    ]);
    expect(m.vocabSize).toBe(16); // padded to a multiple of 8
    expect(sd['lm_head.weight']!.buf).toBe(sd['backbone.embedding.weight']!.buf);
  });
  it('Mamba-2 keys as mamba_ssm (mamba2-130m layout)', () => {
    const m = new sl.models.Mamba2LM({ dModel: 16, nLayer: 1, vocabSize: 10, dState: 8, headdim: 8 });
    expect(Object.entries(m.stateDict()).map(([k, t]) => `${k}:${t.shape.join('x')}`)).toEqual([
      'backbone.embedding.weight:10x16',
      'backbone.layers.0.mixer.dt_bias:4', 'backbone.layers.0.mixer.A_log:4', 'backbone.layers.0.mixer.D:4',
      'backbone.layers.0.mixer.in_proj.weight:84x16', 'backbone.layers.0.mixer.conv1d.weight:48x1x4',
      'backbone.layers.0.mixer.conv1d.bias:48', 'backbone.layers.0.mixer.norm.weight:32',
      'backbone.layers.0.mixer.out_proj.weight:16x32', 'backbone.layers.0.norm.weight:16',
      'backbone.norm_f.weight:16', 'lm_head.weight:10x16',
    ]);
  });
  it('parameter counts: the formulas equal the modules; mamba-130m’s shapes give 129.1M', () => {
    for (const c of [tiny1, { ...tiny1, bias: true, convBias: false, dtRank: 5 }]) {
      expect(mambaParamCount(resolveMambaConfig(c))).toBe(new sl.models.MambaLM(c).numParameters());
    }
    for (const c of [tiny2, { ...tiny2, bias: true, DHasHdim: true }]) {
      expect(mamba2ParamCount(resolveMamba2Config(c))).toBe(new sl.models.Mamba2LM(c).numParameters());
    }
    // state-spaces/mamba-130m: d_model 768, 24 layers, vocab 50277 padded to 50280 → 129,135,360 parameters.
    expect(mambaParamCount(resolveMambaConfig({ dModel: 768, nLayer: 24, vocabSize: 50277, padVocabSizeMultiple: 8 }))).toBe(129135360);
  });
  it('registry: both families build, and configForBudget fits the budget', () => {
    for (const fam of ['mamba', 'mamba2']) {
      expect(sl.models.familyNames()).toContain(fam);
      const spec = sl.models.getFamily(fam);
      const cfg = spec.configForBudget(65, 60_000);
      const m = spec.create(cfg);
      expect(m.numParameters()).toBeLessThanOrEqual(60_000);
      expect(m.numParameters()).toBeGreaterThan(30_000);
      expect(sl.models.createModel(fam, m.config as Record<string, unknown>).numParameters()).toBe(m.numParameters());
    }
  });
});

describe('fromStateDict', () => {
  const rename = (sd: Record<string, sl.Tensor>, f: (k: string) => string | null) =>
    Object.fromEntries(Object.entries(sd).flatMap(([k, v]) => { const r = f(k); return r === null ? [] : [[r, v]]; }));
  for (const [name, make] of Object.entries(makers)) {
    it(`${name}: mamba_ssm keys, no prefix, HF's embeddings., without lm_head — same logits`, () => {
      sl.manualSeed(3);
      const m = make();
      const fam = sl.models.getFamily(m.family);
      const ids = tokens(1, 5, 11, 2);
      const want = Array.from(m.forward(ids).logits.data);
      const sd = m.stateDict();
      const layouts = [
        sd,
        rename(sd, (k) => (k === 'lm_head.weight' ? null : k.replace(/^backbone\./, ''))),
        rename(sd, (k) => (k === 'lm_head.weight' ? null : k.replace('embedding.', 'embeddings.'))),
      ];
      for (const dict of layouts) {
        const back = fam.fromStateDict(dict, m.family === 'mamba2' ? { ngroups: 2, chunkSize: 4 } : {});
        expect(back.config).toEqual({ ...m.config, ...(m.family === 'mamba2' ? { chunkSize: 4 } : {}) });
        expect(Array.from(back.forward(ids).logits.data)).toEqual(want);
      }
    });
  }
});

describe('bad input gives clear errors', () => {
  const m1 = new sl.models.MambaLM(tiny1);
  const m2 = new sl.models.Mamba2LM(tiny2);
  it('a state dict of another family, or of the other Mamba version', () => {
    const rwkv = { 'emb.weight': sl.zeros([11, 8]), 'blocks.0.att.key.weight': sl.zeros([8, 8]), 'ln_out.weight': sl.zeros([8]) };
    expect(() => sl.models.MambaLM.fromStateDict(rwkv)).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: MambaLM.fromStateDict: expected mamba_ssm keys 'backbone.embedding.weight', 'backbone.layers.0.mixer.in_proj.weight', 'backbone.norm_f.weight', … (also without 'backbone.', or HF's 'embeddings.'; missing: 'backbone.embedding.weight', 'backbone.layers.0.mixer.in_proj.weight', 'backbone.norm_f.weight'), got 3 keys: 'emb.weight', 'blocks.0.att.key.weight', 'ln_out.weight' — this looks like an RWKV checkpoint. Hint: load it with its own family (sl.models.getFamily(name).fromStateDict)]`);
    expect(() => sl.models.MambaLM.fromStateDict(m2.stateDict())).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: MambaLM.fromStateDict: expected a Mamba-1 checkpoint (mixer.x_proj.weight, mixer.dt_proj.*, A_log [di, n]), got a Mamba-2 checkpoint (mixer.dt_bias, mixer.norm.weight, A_log [nh]), A_log [4]. Hint: load it with Mamba2LM.fromStateDict (family 'mamba2')]`);
    expect(() => sl.models.Mamba2LM.fromStateDict(m1.stateDict())).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: Mamba2LM.fromStateDict: expected a Mamba-2 checkpoint (mixer.dt_bias, mixer.norm.weight, A_log [nh]), got a Mamba-1 checkpoint (mixer.x_proj.weight, mixer.dt_proj.*, A_log [di, n]), A_log [16, 3]. Hint: load it with MambaLM.fromStateDict (family 'mamba')]`);
  });
  it('inconsistent dicts: a mis-shaped or missing tensor, an untied head, the wrong ngroups', () => {
    const sd = m1.stateDict();
    const bad = { ...sd, 'backbone.layers.1.mixer.D': sl.zeros([15]) };
    delete (bad as Record<string, sl.Tensor>)['backbone.layers.1.mixer.dt_proj.bias'];
    expect(() => sl.models.MambaLM.fromStateDict(bad)).toThrow(/dt_proj\.bias[\s\S]*D|D[\s\S]*dt_proj\.bias/);
    expect(() => sl.models.MambaLM.fromStateDict(bad)).toThrow(sl.WeightImportError);
    expect(() => sl.models.MambaLM.fromStateDict({ ...sd, 'lm_head.weight': sl.zeros([11, 8]) })).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: MambaLM.fromStateDict: expected lm_head.weight equal to the embedding [11, 8] (mamba_ssm ties the output head to it), got a different lm_head.weight [11, 8].]`);
    expect(() => sl.models.Mamba2LM.fromStateDict(m2.stateDict(), { ngroups: 4 })).toThrowErrorMatchingInlineSnapshot(`[WeightImportError: Mamba2LM.fromStateDict: expected conv1d channels di + 2·ngroups·dState with di=16 (norm.weight) divisible by nh=4 (A_log) and ngroups=4, got 28 conv1d channels. Hint: pass the checkpoint's ngroups: Mamba2LM.fromStateDict(dict, { ngroups })]`);
  });
  it('a state of the wrong shape, bad tokens, bad options', () => {
    const s = m1.initState(2);
    expect(() => m1.forward([[1, 2]], s)).toThrowErrorMatchingInlineSnapshot(`[ShapeError: mamba.forward: expected state.layers[0].conv of shape [1, 16, 3] ([n, channels, k], batch=1), got [2, 16, 3].]`);
    expect(() => m2.step([1], { layers: [] })).toThrowErrorMatchingInlineSnapshot(`[ShapeError: mamba2.step: expected a Mamba state with 2 layers (nLayer=2), got 0. Hint: create it with model.initState(batch)]`);
    expect(() => m1.forward([[1, 11]])).toThrow(/ids in \[0, 11\)/);
    expect(() => new sl.models.MambaLM({ dModel: 8, nLayer: 1, vocabSize: 5, dStat: 4 } as never)).toThrowErrorMatchingInlineSnapshot(`[ConfigError: MambaLM: expected config keys (dModel, nLayer, vocabSize, dState, dConv, expand, dtRank, rmsNormEps, padVocabSizeMultiple, bias, convBias, dtMin, dtMax, dtInitFloor, dtScale), got 'dStat'. Hint: did you mean 'dState'?]`);
    expect(() => new sl.models.Mamba2LM({ dModel: 8, nLayer: 1, vocabSize: 5, headdim: 5 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: Mamba2LM: expected expand · dModel (16) to be a multiple of headdim, got headdim=5.]`);
  });
});
