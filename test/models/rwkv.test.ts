/**
 * RWKV-6 (x060) and RWKV-7 (x070): PyTorch goldens (tools/golden/gen_rwkv.py — logits at every position, final
 * state, every parameter's and the initial state's gradient), the streaming contract (step == forward, chunks
 * with carried state == one pass, constant state size), the official key table, a float64 whole-model gradient
 * check, and the errors for bad input.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { RWKV, rwkvParameterCount, type RWKVConfig, type RWKVVersion } from '../../src/models/rwkv/model.js';
import type { RWKVState } from '../../src/models/rwkv/state.js';
import { rwkvParameterShapes } from '../../src/models/rwkv/weights.js';
import { resolveRWKVConfig } from '../../src/models/rwkv/model.js';
import { loadFixture, type Fixture } from '../golden/load.js';
import { expectClose, expectGradOk } from '../helpers.js';

/** |a − b| ≤ tol·max(1, max|b|) elementwise: whole-model float32 values span orders of magnitude. */
function expectScaled(actual: sl.Tensor, expected: sl.Tensor, tol: number, what: string): void {
  let m = 1;
  for (let i = 0; i < expected.size; i++) m = Math.max(m, Math.abs(expected.buf[i]!));
  expectClose(actual, expected, tol * m, 0, what);
}

const KEYS = [['attXPrev', 'att_x_prev'], ['wkv', 'wkv'], ['ffnXPrev', 'ffn_x_prev']] as const;

function fixtureState(f: Fixture, layers: number): RWKVState {
  return {
    layers: Array.from({ length: layers }, (_, i) => {
      const get = (k: string) => { const t = f.get(`in.state.${i}.${k}`); t.requiresGrad = true; return t; };
      return { attXPrev: get('att_x_prev'), wkv: get('wkv'), ffnXPrev: get('ffn_x_prev') };
    }),
  };
}

describe('golden: PyTorch reference of the official code (GPT mode)', () => {
  for (const name of ['rwkv6_tiny', 'rwkv6_tiny_state', 'rwkv7_tiny', 'rwkv7_tiny_state']) {
    it(name, () => {
      const f = loadFixture(name);
      const c = f.config as { version: RWKVVersion; numLayers: number; batch: number; steps: number; initialState: boolean };
      const dict = Object.fromEntries(f.keys('param.').map((k) => [k, f.get(`param.${k}`)]));
      const m = RWKV.fromStateDict(dict);
      expect(m.family).toBe(`rwkv${c.version}`);
      expect(m.config).toMatchObject({ dModel: 16, headSize: 8, numLayers: 2, vocabSize: 13 });
      const ids = f.ints('in.tokens');
      const tokens = Array.from({ length: c.batch }, (_, b) => ids.slice(b * c.steps, (b + 1) * c.steps));
      const s0 = c.initialState ? fixtureState(f, c.numLayers) : null;
      const { logits, state } = m.forward(tokens, s0);
      expectScaled(logits, f.get('out.logits'), 1e-5, 'logits');
      let loss = sl.sum(sl.mul(logits, f.get('up.logits')));
      state.layers.forEach((l, i) => {
        for (const [ours, theirs] of KEYS) {
          expectScaled(l[ours], f.get(`out.state.${i}.${theirs}`), 1e-5, `state ${i} ${theirs}`);
          loss = sl.add(loss, sl.sum(sl.mul(l[ours], f.get(`up.state.${i}.${theirs}`))));
        }
      });
      loss.backward();
      const params = Object.fromEntries(m.namedParameters());
      expect(Object.keys(params).sort()).toEqual(f.keys('grad.param.').sort());
      for (const k of f.keys('grad.param.')) expectScaled(params[k]!.grad!, f.get(`grad.param.${k}`), 1e-4, `grad ${k}`);
      if (s0) {
        s0.layers.forEach((l, i) => {
          for (const [ours, theirs] of KEYS) expectScaled(l[ours].grad!, f.get(`grad.in.state.${i}.${theirs}`), 1e-4, `grad state ${i} ${theirs}`);
        });
      }
    });
  }
});

const tiny = (version: RWKVVersion, extra: Partial<RWKVConfig> = {}): RWKVConfig => ({
  version, vocabSize: 11, dModel: 16, numLayers: 2, headSize: 8, mixLora: 4, decayLora: 5, aLora: 3, vLora: 2, gateLora: 6, ...extra,
});

/** A model whose every parameter is random (the official init zeroes output projections, which would hide bugs). */
function randomModel(config: RWKVConfig, seed = 1): RWKV {
  sl.manualSeed(seed);
  const m = new RWKV(config);
  const g = new sl.Generator(seed);
  for (const [name, p] of m.namedParameters()) {
    const scale = /ln|time_maa_|\.x_/.test(name) ? 0.2 : /w2$|v2$|a2$|g2$|maa_w2/.test(name) ? 0.3 : 0.5;
    for (let i = 0; i < p.size; i++) p.buf[i]! += scale * g.normal();
  }
  return m;
}

const stackSteps = (m: RWKV, tokens: number[][], state: RWKVState) => {
  const logits: sl.Tensor[] = [];
  for (let t = 0; t < tokens[0]!.length; t++) {
    const r = m.step(tokens.map((row) => row[t]!), state);
    logits.push(r.logits);
    state = r.state;
  }
  return { logits: sl.stack(logits, 1), state };
};

type Cmp = (a: sl.Tensor, b: sl.Tensor, what: string) => void;
/** Bit for bit: the reference kernels run the same arithmetic on one token as on a whole chunk. */
const exact: Cmp = (a, b, what) => expect(Array.from(a.data), what).toEqual(Array.from(b.data));
/** Within 1e-5 of the scale: fast kernels may sum a matmul in another order for another number of rows. */
const near: Cmp = (a, b, what) => expectScaled(a, b, 1e-5, what);

function expectSameState(a: RWKVState, b: RWKVState, cmp: Cmp): void {
  a.layers.forEach((l, i) => {
    for (const [k] of KEYS) cmp(l[k], b.layers[i]![k], `layer ${i} ${k}`);
  });
}

function checkStreaming(m: RWKV, cmp: Cmp): void {
  const tokens = [[1, 5, 2, 9, 0, 3, 3, 7, 10, 4, 6, 2, 8, 1, 1, 0, 5, 9, 2, 3], [4, 4, 0, 10, 2, 6, 1, 8, 3, 3, 9, 7, 5, 0, 2, 1, 6, 4, 10, 8]];
  const full = m.forward(tokens);
  const stepped = stackSteps(m, tokens, m.initState(2));
  cmp(stepped.logits, full.logits, 'step logits');
  expectSameState(stepped.state, full.state, cmp);
  const a = m.forward(tokens.map((r) => r.slice(0, 7)));
  const b = m.forward(tokens.map((r) => r.slice(7, 8)), a.state);
  const c = m.forward(tokens.map((r) => r.slice(8)), b.state);
  cmp(sl.concat([a.logits, b.logits, c.logits], 1), full.logits, 'chunked logits');
  expectSameState(c.state, full.state, cmp);
}

describe('streaming: step == forward, chunks == one pass, constant state', () => {
  for (const version of [6, 7] as const) {
    it(`RWKV-${version}: exactly equal on the reference kernels`, () => {
      const before = sl.getBackend();
      sl.setBackend('ref');
      try {
        checkStreaming(randomModel(tiny(version)), exact);
      } finally {
        sl.setBackend(before);
      }
    });
    it(`RWKV-${version}: within 1e-5 on the default kernels; state size constant; serialised state continues`, () => {
      const m = randomModel(tiny(version));
      checkStreaming(m, near);
      const { state } = m.forward([[1, 2, 3], [4, 5, 6]]);
      const leaves = state.layers.flatMap((l) => [l.attXPrev, l.wkv, l.ffnXPrev]);
      expect(m.stateBytes(2)).toBe(4 * leaves.reduce((s, t) => s + t.size, 0));
      expect(m.stateBytes(2)).toBe(4 * 2 * 2 * (16 + 16 + 2 * 8 * 8));
      const back = sl.deserializeState<RWKVState>(sl.serializeState(state));
      expect(Array.from(m.step([1, 2], back).logits.data)).toEqual(Array.from(m.step([1, 2], state).logits.data));
    });
  }
  it('zero tokens return empty logits and the same state', () => {
    const m = randomModel(tiny(7));
    const s = m.initState(1);
    const r = m.forward([[]], s);
    expect(r.logits.shape).toEqual([1, 0, 11]);
    expect(r.state).toBe(s);
  });
  it('gradients flow through a carried state into the previous chunk (truncated BPTT), detachState cuts them', () => {
    const m = randomModel(tiny(7));
    const a = m.forward([[1, 2, 3]]);
    sl.sum(m.forward([[4, 5]], a.state).logits).backward();
    const rowNorm = (id: number) => Array.from(m.emb.weight.grad!.data.subarray(id * 16, id * 16 + 16)).reduce((s, v) => s + Math.abs(v), 0);
    expect(rowNorm(1)).toBeGreaterThan(0);
    m.zeroGrad();
    sl.sum(m.forward([[4, 5]], sl.detachState(a.state)).logits).backward();
    expect(rowNorm(1)).toBe(0);
  });
});

describe('official state files (blocks.{i}.att.time_state, stored S[value, key])', () => {
  for (const version of [6, 7] as const) {
    it(`RWKV-${version}: load into every stream, export one stream back; x060 transposes into its key-major state`, () => {
      const m = randomModel(tiny(version));
      const dict: Record<string, sl.Tensor> = {};
      for (let i = 0; i < 2; i++) dict[`blocks.${i}.att.time_state`] = sl.tensor(Array.from({ length: 2 * 8 * 8 }, (_, e) => e + 1000 * i), [2, 8, 8]);
      const state = m.stateFromTimeState(dict, 3);
      const wkv = state.layers[1]!.wkv; // [3, 2, 8, 8]
      // head 1, row 2, column 5 of stream 2
      const at = (b: number, h: number, r: number, c: number) => wkv.buf[((b * 2 + h) * 8 + r) * 8 + c];
      const file = (h: number, r: number, c: number) => 1000 + (h * 8 + r) * 8 + c;
      expect(at(2, 1, 2, 5)).toBe(version === 6 ? file(1, 5, 2) : file(1, 2, 5));
      expect(Array.from(state.layers[0]!.attXPrev.data).every((v) => v === 0)).toBe(true);
      const back = m.timeStateDict(state, 2);
      for (const k of Object.keys(dict)) expect(Array.from(back[k]!.data)).toEqual(Array.from(dict[k]!.data));
      expect(() => m.timeStateDict(state, 3)).toThrow('rwkv.timeStateDict: expected stream in [0, 3), got 3.');
      expect(() => m.stateFromTimeState({ 'blocks.0.att.time_state': sl.zeros([2, 8, 8]) })).toThrow(
        "RWKV.stateFromTimeState: expected 'blocks.{i}.att.time_state' [2, 8, 8] for each of 2 layers, got blocks.1.att.time_state: missing.");
      expect(m.step([1, 2, 3], state).logits.shape).toEqual([3, 11]);
    });
  }
});

describe('weights: the official key table', () => {
  for (const version of [6, 7] as const) {
    it(`RWKV-${version}: stateDict keys and shapes in PyTorch's order; fromStateDict round-trips`, () => {
      const m = randomModel(tiny(version));
      const sd = m.stateDict();
      expect(Object.entries(sd).map(([k, t]) => [k, [...t.shape]])).toEqual(rwkvParameterShapes(resolveRWKVConfig(tiny(version))));
      expect(m.numParameters()).toBe(rwkvParameterCount(tiny(version)));
      const back = RWKV.fromStateDict(sd);
      expect(back.config).toEqual(m.config);
      expect(Array.from(back.forward([[1, 2, 3]]).logits.data)).toEqual(Array.from(m.forward([[1, 2, 3]]).logits.data));
    });
  }
  it('reads squeezed tensors and drops the unused blocks.0.att.v0/v1/v2 of x070 training checkpoints', () => {
    const m = randomModel(tiny(7));
    const sd = m.stateDict();
    const squeezed: Record<string, sl.Tensor> = {};
    for (const [k, t] of Object.entries(sd)) squeezed[k] = t.shape[0] === 1 && t.shape[1] === 1 ? sl.reshape(t, [-1]) : k.endsWith('r_k') ? sl.reshape(t, [-1]) : t;
    squeezed['blocks.0.att.v0'] = sl.zeros([1, 1, 16]);
    squeezed['blocks.0.att.v1'] = sl.zeros([16, 2]);
    squeezed['blocks.0.att.v2'] = sl.zeros([2, 16]);
    const back = RWKV.fromStateDict(squeezed, { headSize: 8 });
    expect(Array.from(back.forward([[3, 1]]).logits.data)).toEqual(Array.from(m.forward([[3, 1]]).logits.data));
  });
  it('official x070 0.1B layout: 191M parameters with the default LoRA widths', () => {
    // rwkv7-g1a-0.1b: L12, D768, vocab 65536, head 64; LoRA widths 64/64/32/128 as rwkv_v7_demo.py sets them.
    // Training-code dicts hold 49,920 more: block 0's unused v0 [768], v1 [768, 32], v2 [32, 768].
    const c = { version: 7, vocabSize: 65536, dModel: 768, numLayers: 12 } as const;
    expect(resolveRWKVConfig(c)).toMatchObject({ headSize: 64, dimFfn: 3072, decayLora: 64, aLora: 64, vLora: 32, gateLora: 128 });
    expect(rwkvParameterCount(c)).toBe(191_034_624);
    expect(resolveRWKVConfig({ version: 6, vocabSize: 65536, dModel: 2048, numLayers: 24 })).toMatchObject({ dimFfn: 7168, mixLora: 32, decayLora: 64 });
  });
});

describe('initialisation follows the official code', () => {
  it('RWKV-7 (train_temp/src/model.py + generate_init_weight)', () => {
    const m = new RWKV({ version: 7, vocabSize: 20, dModel: 32, numLayers: 2, headSize: 16 });
    const att = (l: number, k: string) => m.stateDict()[`blocks.${l}.att.${k}`]!;
    expect(Array.from(att(0, 'k_a').data).every((v) => Math.abs(v - 1.02) < 1e-6)).toBe(true);
    expect(Array.from(att(1, 'r_k').data).every((v) => Math.abs(v + 0.04) < 1e-6)).toBe(true);
    expect(att(0, 'ln_x.weight').data[0]).toBeCloseTo(0.5 ** 0.7, 6);
    expect(Array.from(att(0, 'output.weight').data).every((v) => v === 0)).toBe(true);
    expect(Array.from(m.stateDict()['blocks.0.ffn.value.weight']!.data).every((v) => v === 0)).toBe(true);
    // w0[n] = −6 + 6 (n/(C−1))^(1 + r01^0.3) + 0.5 + 2.5·zigzag[n]; n = 0, layer 0: −6 + 0.5 − 2.5
    expect(att(0, 'w0').data[0]).toBeCloseTo(-8, 5);
    expect(Math.max(...Array.from(m.emb.weight.data, Math.abs))).toBeLessThanOrEqual(1e-4);
  });
  it('RWKV-6 (rwkv_v6_demo.py __init__ + init_params)', () => {
    const m = new RWKV({ version: 6, vocabSize: 20, dModel: 32, numLayers: 3, headSize: 16 });
    const sd = m.stateDict();
    // time_decay[n] = −6 + 5 (n/(C−1))^(0.7 + 1.3 r01): −6 at n = 0, −1 at n = C − 1
    expect(sd['blocks.1.att.time_decay']!.data[0]).toBeCloseTo(-6, 6);
    expect(sd['blocks.1.att.time_decay']!.data[31]).toBeCloseTo(-1, 6);
    // time_faaaa[n] = r01 (1 − n/(C−1)) + ((n+1)%3 − 1)·0.1 with r01 = 1 in the last layer: n = 0 → 1
    expect(sd['blocks.2.att.time_faaaa']!.data[0]).toBeCloseTo(1, 6);
    expect(Array.from(sd['blocks.0.ffn.receptance.weight']!.data).every((v) => v === 0)).toBe(true);
    expect(Array.from(sd['blocks.0.att.time_maa_w1']!.data).every((v) => v === 0)).toBe(true);
  });
});

describe('float64 whole-model gradient check (tiny model)', () => {
  for (const version of [6, 7] as const) {
    it(`RWKV-${version}: every parameter and the initial state`, () => {
      const m = randomModel({ version, vocabSize: 5, dModel: 4, numLayers: 2, headSize: 2, mixLora: 2, decayLora: 2, aLora: 2, vLora: 2, gateLora: 2, dimFfn: 6 }, 3);
      for (const p of m.parameters()) { p.buf = Float64Array.from(p.buf); (p as { dtype: string }).dtype = 'float64'; }
      const s0 = m.initState(2);
      for (const l of s0.layers) for (const t of [l.attXPrev, l.wkv, l.ffnXPrev]) { for (let i = 0; i < t.size; i++) t.buf[i] = Math.sin(i + t.size); t.requiresGrad = true; }
      const stateLeaves = s0.layers.flatMap((l) => [l.attXPrev, l.wkv, l.ffnXPrev]);
      expectGradOk(() => {
        const r = m.forward([[1, 4, 0], [2, 2, 3]], s0);
        return [r.logits, ...r.state.layers.map((l) => l.wkv)];
      }, [...m.parameters(), ...stateLeaves], { atol: 1e-5, rtol: 1e-4 });
    });
  }
});

describe('registry and public API', () => {
  it('families rwkv6 and rwkv7 build, load and size models', () => {
    expect(sl.models.familyNames()).toEqual(expect.arrayContaining(['rwkv6', 'rwkv7']));
    const m = sl.models.createModel('rwkv7', { vocabSize: 7, dModel: 16, numLayers: 1, headSize: 8 });
    expect(m).toBeInstanceOf(sl.models.RWKV);
    expect(m.family).toBe('rwkv7');
    const again = sl.models.createModel('rwkv7', m.config as Record<string, unknown>);
    expect(again.config).toEqual(m.config);
    const loaded = sl.models.modelFromStateDict('rwkv7', m.stateDict());
    expect(loaded.config).toEqual(m.config);
    for (const fam of ['rwkv6', 'rwkv7']) {
      const cfg = sl.models.getFamily(fam).configForBudget(65, 200_000);
      const n = rwkvParameterCount(cfg as unknown as RWKVConfig);
      expect(n).toBeLessThanOrEqual(200_000);
      expect(rwkvParameterCount({ ...(cfg as unknown as RWKVConfig), dModel: (cfg['dModel'] as number) + 32 })).toBeGreaterThan(200_000);
    }
  });
});

describe('bad input', () => {
  const v6 = () => randomModel(tiny(6)).stateDict();
  const v7 = () => randomModel(tiny(7)).stateDict();
  it('a state dict of another family names what it found and what was expected', () => {
    const mamba = { 'backbone.embedding.weight': sl.zeros([4, 2]), 'backbone.layers.0.mixer.A_log': sl.zeros([4, 2]) };
    expect(() => RWKV.fromStateDict(mamba)).toThrow(
      "RWKV.fromStateDict: expected an RWKV-6 (x060, 'blocks.0.att.time_maa_w1') or RWKV-7 (x070, 'blocks.0.att.w0') state dict, got a Mamba state dict ('backbone.embedding.weight', 'backbone.layers.0.mixer.A_log').");
    expect(() => RWKV.fromStateDict({ 'transformer.wte.weight': sl.zeros([2, 2]) })).toThrow(/got a GPT \(nanoGPT\) state dict/);
    expect(() => RWKV.fromStateDict({})).toThrow(/got keys an empty dict/);
  });
  it('a state dict of the other version', () => {
    expect(() => RWKV.fromStateDict(v6(), { version: 7 })).toThrow(
      "RWKV.fromStateDict: expected an RWKV-7 state dict (version 7 was asked for), got an RWKV-6 state dict ('blocks.0.att.time_maa_w1'). Hint: omit version to take it from the keys");
    expect(() => sl.models.modelFromStateDict('rwkv6', v7())).toThrow(/expected an RWKV-6 state dict .* got an RWKV-7 state dict/);
  });
  it('missing and mis-shaped keys are all listed', () => {
    const sd = v7();
    delete sd['blocks.1.att.k_a'];
    sd['blocks.0.ffn.x_k'] = sl.zeros([1, 1, 15]);
    expect(() => RWKV.fromStateDict(sd)).toThrow(sl.WeightImportError);
    expect(() => RWKV.fromStateDict(sd)).toThrow(/blocks\.1\.att\.k_a[\s\S]*blocks\.0\.ffn\.x_k/);
  });
  it('configs, tokens and states are checked at the boundary', () => {
    expect(() => new RWKV({ version: 7, vocabSize: 5, dModel: 24, numLayers: 1, headSize: 16 })).toThrow(
      'RWKV: expected dModel a multiple of headSize (16), got dModel=24. Hint: pass headSize, e.g. 64 or a divisor of dModel');
    expect(() => new RWKV({ version: 5 as RWKVVersion, vocabSize: 5, dModel: 16, numLayers: 1 })).toThrow('RWKV: expected version 6 or 7, got 5.');
    const m = randomModel(tiny(6));
    expect(() => m.forward([[1, 11]])).toThrow(/ids in \[0, 11\)/);
    expect(() => m.step([1], m.initState(2))).toThrow(
      'rwkv.step: expected state.layers[0].attXPrev [1, 16] for batch 1, got [2, 16]. Hint: a state belongs to one model and one batch size; create it with initState(batch)');
    expect(() => m.forward([[1]], { layers: [] })).toThrow('rwkv.forward: expected a state with 2 layers (from initState), got 0 layers.');
  });
});
