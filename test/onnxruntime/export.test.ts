/**
 * sl.io.toOnnx checked by running the files in ONNX Runtime (onnxruntime-node, installed in this folder with
 * --ignore-scripts by install.mjs, which `npm test` runs first): outputs and final states equal seqlab's
 * forward to 1e-5 for RNN/LSTM/GRU stacks (layers, directions, batch-first, both GRU forms, ReLU, no bias,
 * sequence_lens) and a RecurrentLM carrying its state across calls; the files read back with readOnnx.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { expectClose } from '../helpers.js';

interface OrtTensor { data: Float32Array; dims: readonly number[] }
interface Ort {
  Tensor: new (type: string, data: Float32Array | BigInt64Array | Int32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(bytes: Uint8Array): Promise<{ run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>; inputNames: string[]; outputNames: string[] }> };
}

const here = new URL('./', import.meta.url);
if (!existsSync(new URL('node_modules/onnxruntime-node/package.json', here))) {
  throw new Error('onnxruntime-node is not installed in test/onnxruntime: run `node test/onnxruntime/install.mjs` (npm test does it first)');
}
const ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;

const f32 = (t: sl.Tensor): OrtTensor => new ort.Tensor('float32', Float32Array.from(t.buf), [...t.shape]);
const fromOrt = (t: OrtTensor): sl.Tensor => sl.tensor(Float32Array.from(t.data), [...t.dims]);

async function run(bytes: Uint8Array, feeds: Record<string, OrtTensor>): Promise<Record<string, sl.Tensor>> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
}

type Layer = sl.nn.RNN | sl.nn.LSTM | sl.nn.GRU;

async function checkLayer(m: Layer, opts: { T: number; N: number; opset?: number; lengths?: number[] }): Promise<void> {
  const I = m.inputSize, S = m.numLayers * (m.bidirectional ? 2 : 1), H = m.hiddenSize;
  const x = sl.randn(m.batchFirst ? [opts.N, opts.T, I] : [opts.T, opts.N, I], { seed: 3 });
  const h = sl.randn([S, opts.N, H], { seed: 4 }), c = sl.randn([S, opts.N, H], { seed: 5 });
  const isLstm = m instanceof sl.nn.LSTM;
  const want = sl.noGrad(() => (isLstm ? m.forward(x, { h, c }, opts.lengths ? { lengths: opts.lengths } : {}) : (m as sl.nn.GRU).forward(x, { h }, opts.lengths ? { lengths: opts.lengths } : {})));
  const bytes = sl.io.toOnnx(m, { ...(opts.opset ? { opset: opts.opset } : {}), ...(opts.lengths ? { lengths: true } : {}) });
  const feeds: Record<string, OrtTensor> = { input: f32(x), 'state_in.h': f32(h) };
  if (isLstm) feeds['state_in.c'] = f32(c);
  if (opts.lengths) feeds['sequence_lens'] = new ort.Tensor('int32', Int32Array.from(opts.lengths), [opts.N]);
  const got = await run(bytes, feeds);
  expectClose(got['output']!, want.output, 1e-5, 1e-5, 'output');
  expectClose(got['state_out.h']!, want.state.h, 1e-5, 1e-5, 'state_out.h');
  if (isLstm) expectClose(got['state_out.c']!, (want.state as unknown as { c: sl.Tensor }).c, 1e-5, 1e-5, 'state_out.c');
  // …and the file reads back into the same layer.
  const back = sl.io.readOnnx(bytes);
  for (const [k, v] of Object.entries(m.stateDict())) expectClose(back.stateDict[k]!, v, 0, 0, k);
}

describe('toOnnx layers run in ONNX Runtime and equal seqlab', () => {
  it('LSTM, 2 layers, bidirectional (opset 17 and 9)', async () => {
    sl.manualSeed(1);
    const m = new sl.nn.LSTM({ inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true });
    await checkLayer(m, { T: 6, N: 3 });
    await checkLayer(m, { T: 6, N: 3, opset: 9 });
  });
  it('GRU in both forms (linear_before_reset 1 and 0), 2 layers, batch first', async () => {
    sl.manualSeed(2);
    await checkLayer(new sl.nn.GRU({ inputSize: 4, hiddenSize: 6, numLayers: 2, batchFirst: true }), { T: 5, N: 2 });
    await checkLayer(new sl.nn.GRU({ inputSize: 4, hiddenSize: 6, numLayers: 2, resetAfter: false }), { T: 5, N: 2, opset: 13 });
  });
  it('ReLU RNN without biases, and a bidirectional GRU with sequence_lens', async () => {
    sl.manualSeed(3);
    await checkLayer(new sl.nn.RNN({ inputSize: 3, hiddenSize: 5, nonlinearity: 'relu', bias: false }), { T: 7, N: 2, opset: 11 });
    await checkLayer(new sl.nn.GRU({ inputSize: 3, hiddenSize: 4, bidirectional: true }), { T: 6, N: 3, lengths: [6, 2, 4] });
  });
  it('refuses an LSTM with projSize and an opset outside 9–17', () => {
    expect(() => sl.io.toOnnx(new sl.nn.LSTM({ inputSize: 3, hiddenSize: 4, projSize: 2 }))).toThrow(/without projSize/);
    expect(() => sl.io.toOnnx(new sl.nn.GRU({ inputSize: 3, hiddenSize: 4 }), { opset: 8 })).toThrow(/opset an integer in 9–17, got 8/);
  });
});

describe('a RecurrentLM in ONNX Runtime', () => {
  it('tokens → logits with the state as inputs and outputs: two calls carrying it equal one forward', async () => {
    sl.manualSeed(4);
    const m = new sl.models.RecurrentLM({ cell: 'lstm', vocabSize: 13, hiddenSize: 8, embeddingDim: 6, numLayers: 2 });
    const tokens = [[1, 5, 2, 9, 0, 12, 3], [4, 4, 7, 1, 8, 2, 6]];
    const want = sl.noGrad(() => m.forward(tokens));
    const bytes = sl.io.toOnnx(m);
    const s0 = m.initState(2) as { h: sl.Tensor; c: sl.Tensor };
    const ids = (rows: number[][]): OrtTensor => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]);
    const a = await run(bytes, { tokens: ids(tokens.map((r) => r.slice(0, 4))), 'state_in.h': f32(s0.h), 'state_in.c': f32(s0.c) });
    const b = await run(bytes, { tokens: ids(tokens.map((r) => r.slice(4))), 'state_in.h': f32(a['state_out.h']!), 'state_in.c': f32(a['state_out.c']!) });
    const logits = sl.concat([a['logits']!, b['logits']!], 1);
    expectClose(logits, want.logits, 1e-5, 1e-5, 'logits');
    expectClose(b['state_out.h']!, (want.state as { h: sl.Tensor }).h, 1e-5, 1e-5, 'state_out.h');
    const back = sl.io.readOnnx(bytes);
    expect(back).toMatchObject({ kind: 'lm', cell: 'lstm', config: { vocabSize: 13, hiddenSize: 8, embeddingDim: 6, numLayers: 2 } });
    const again = new sl.models.RecurrentLM(back.config as unknown as sl.models.RecurrentLMConfig);
    again.loadStateDict(back.stateDict);
    expectClose(sl.noGrad(() => again.forward(tokens)).logits, want.logits, 1e-6, 1e-6, 'read back');
  });
});
