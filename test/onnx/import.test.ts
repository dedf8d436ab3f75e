/**
 * sl.io.readOnnx on files torch.onnx.export wrote (tools/golden/gen_onnx_export.py, PyTorch 1.13): the
 * imported module gives PyTorch's outputs; a graph with anything else is refused naming the node.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { expectClose } from '../helpers.js';

const dir = fileURLToPath(new URL('../golden/onnx-export/', import.meta.url));
const onnxFile = (name: string): Uint8Array => new Uint8Array(readFileSync(`${dir}${name}.onnx`));
const expected = (name: string): Record<string, sl.Tensor> => sl.io.readSafetensors(new Uint8Array(readFileSync(`${dir}${name}.expected.safetensors`))).tensors;

/** The imported layer as a function of (input, state): the module each cell names. */
function layer(imp: sl.io.OnnxImport): { forward(x: sl.Tensor, s?: { h: sl.Tensor; c?: sl.Tensor }): { output: sl.Tensor; state: { h: sl.Tensor } } } {
  const c = imp.config as { inputSize: number; hiddenSize: number };
  if (imp.cell === 'lstm') {
    const m = new sl.nn.LSTM(c);
    m.loadStateDict(imp.stateDict);
    return { forward: (x, s) => m.forward(x, s ? { h: s.h, c: s.c! } : undefined) };
  }
  const m = imp.cell === 'gru' ? new sl.nn.GRU(c) : new sl.nn.RNN(c);
  m.loadStateDict(imp.stateDict);
  return { forward: (x, s) => m.forward(x, s) };
}

describe('readOnnx: graphs from torch.onnx.export match PyTorch', () => {
  for (const opset of [9, 14]) {
    it(`2-layer bidirectional LSTM (opset ${opset}): weights under PyTorch names, outputs equal`, () => {
      const name = `lstm_2layer_bidir_opset${opset}`;
      const imp = sl.io.readOnnx(onnxFile(name));
      expect(imp).toMatchObject({ kind: 'layer', cell: 'lstm', opset, config: { inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true } });
      const want = expected(name);
      for (const [k, v] of Object.entries(imp.stateDict)) expectClose(v, want[`param.rnn.${k}`]!, 0, 0, k);
      const { output, state } = layer(imp).forward(want['in.x']!, { h: want['in.h0']!, c: want['in.c0']! });
      expectClose(output, want['out.y']!, 1e-6, 1e-5);
      expectClose(state.h, want['out.hn']!, 1e-6, 1e-5);
    });
  }

  it('2-layer GRU with linear_before_reset=1 (opset 13)', () => {
    const imp = sl.io.readOnnx(onnxFile('gru_opset13'));
    expect(imp.config).toEqual({ inputSize: 4, hiddenSize: 6, numLayers: 2 });
    const want = expected('gru_opset13');
    const { output, state } = layer(imp).forward(want['in.x']!, { h: want['in.h0']! });
    expectClose(output, want['out.y']!, 1e-6, 1e-5);
    expectClose(state.h, want['out.hn']!, 1e-6, 1e-5);
  });

  it('a ReLU RNN (opset 11) with a computed zero initial state', () => {
    const imp = sl.io.readOnnx(onnxFile('rnn_opset11'));
    expect(imp.config).toEqual({ inputSize: 3, hiddenSize: 5, numLayers: 1, nonlinearity: 'relu' });
    const want = expected('rnn_opset11');
    expectClose(layer(imp).forward(want['in.x']!).output, want['out.y']!, 1e-6, 1e-5);
  });

  it('Embedding → LSTM (batch first) → Linear imports as a RecurrentLM', () => {
    const imp = sl.io.readOnnx(onnxFile('lm_lstm_opset14'));
    expect(imp).toMatchObject({ kind: 'lm', cell: 'lstm', config: { cell: 'lstm', vocabSize: 11, embeddingDim: 6, hiddenSize: 8, numLayers: 1 } });
    const m = new sl.models.RecurrentLM(imp.config as unknown as sl.models.RecurrentLMConfig);
    m.loadStateDict(imp.stateDict);
    const want = expected('lm_lstm_opset14');
    const tokens = (want['in.tokens']!.toArray() as number[][]).map((r) => r.map(Math.round));
    expectClose(m.forward(tokens).logits, want['out.logits']!, 1e-6, 1e-5);
  });
});

describe('readOnnx: refusals', () => {
  it('names the first node it cannot map', () => {
    expect(() => sl.io.readOnnx(onnxFile('softmax_head'), 'softmax_head.onnx')).toThrow(/node "\/Softmax" \(op Softmax\) is not part of an RNN\/GRU\/LSTM stack in softmax_head\.onnx/);
  });
  it('refuses bytes that are not an ONNX model', () => {
    expect(() => sl.io.readOnnx(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), 'x.onnx')).toThrow(/expected an ONNX model/);
  });
});
