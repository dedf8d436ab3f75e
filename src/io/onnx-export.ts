/**
 * seqlab recurrent models → ONNX (`sl.io.toOnnx`), with the state as explicit graph inputs and outputs so a
 * streaming runtime can carry it between calls.
 *
 * - `sl.nn.RNN / LSTM / GRU`: inputs `input` ([time, batch, I], or [batch, time, I] with batchFirst),
 *   `state_in.h` (and `state_in.c`) [numLayers·D, batch, H]; outputs `output`, `state_out.h` (`state_out.c`).
 * - `RecurrentLM`: input `tokens` (int64 [batch, time]) and the state inputs; outputs `logits`
 *   [batch, time, vocab] and the state outputs.
 * - `{ lengths: true }` adds `sequence_lens` (int32 [batch]) for right-padded batches, fed to every layer.
 *
 * Each layer is one ONNX RNN/GRU/LSTM node (weights reordered to ONNX's gate order by `torchToOnnxWeights`;
 * a GRU in PyTorch's form is `linear_before_reset=1`), with the glue torch.onnx.export writes between layers,
 * so `readOnnx` reads the file back. LSTM projections (projSize) have no ONNX form and are refused.
 */
import { noGrad } from '../autograd/tape.js';
import { GRU } from '../models/gru/model.js';
import { LSTM } from '../models/lstm/model.js';
import { RecurrentLM } from '../models/recurrent/lm.js';
import { RNN } from '../models/rnn/model.js';
import { transpose } from '../ops/index.js';
import { ConfigError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { torchToOnnxWeights, type OnnxRecurrentOperator } from './onnx-rnn.js';
import { DT, onnx } from './onnx-proto.js';

export interface ToOnnxOptions {
  /** ONNX opset, 9–17 (default 17). */
  opset?: number;
  /** Add the input `sequence_lens` (int32 [batch]) for right-padded variable-length batches. */
  lengths?: boolean;
}

type Dim = number | string;
interface ValueInfo { name: string; type: { tensorType: { elemType: number; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } } } }

const valueInfo = (name: string, elemType: number, shape: Dim[]): ValueInfo => ({
  name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

/** IR version that goes with an opset (onnx/helper.py VERSION_TABLE). */
const irFor = (opset: number): number => (opset <= 9 ? 4 : opset === 10 ? 5 : opset === 11 ? 6 : opset <= 14 ? 7 : 8);

class GraphBuilder {
  readonly nodes: Record<string, unknown>[] = [];
  readonly initializers: Record<string, unknown>[] = [];
  private n = 0;
  constructor(readonly opset: number) {}

  tensor(name: string, t: Tensor): string {
    const data = t.dtype === 'float32' ? (t.buf as Float32Array) : Float32Array.from(t.buf);
    this.initializers.push({ name, dims: [...t.shape], dataType: DT.FLOAT, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
    return name;
  }

  ints(name: string, values: number[]): string {
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], dataType: DT.INT64, rawData: new Uint8Array(raw.buffer) });
    return name;
  }

  node(opType: string, inputs: string[], outputs: string[] | number, attrs: Record<string, number | string | number[] | string[]> = {}): string[] {
    const id = this.n++;
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => `${opType}_${id}_${i}`) : outputs;
    const attribute = Object.entries(attrs).map(([name, v]) => {
      const A = onnx.AttributeProto.AttributeType;
      if (typeof v === 'number') return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
      if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
      if (v.every((x) => typeof x === 'string')) return { name, type: A.STRINGS, strings: (v as string[]).map((x) => new TextEncoder().encode(x)) };
      return { name, type: A.INTS, ints: v as number[] };
    });
    this.nodes.push({ name: `${opType}_${id}`, opType, input: inputs, output: outs, attribute });
    return outs;
  }

  squeeze1(x: string): string {
    return this.opset >= 13 ? this.node('Squeeze', [x, this.ints(`axes_${this.n}`, [1])], 1)[0]! : this.node('Squeeze', [x], 1, { axes: [1] })[0]!;
  }
}

type Stack = RNN | LSTM | GRU;

/** One ONNX node per layer, reading the layer's initial state out of state_in and collecting the final ones. */
function emitStack(b: GraphBuilder, stack: Stack, x: string, hasC: boolean, seqLens: string): { y: string; h: string[]; c: string[] } {
  const opType: OnnxRecurrentOperator = stack instanceof LSTM ? 'LSTM' : stack instanceof GRU ? 'GRU' : 'RNN';
  const sd = stack.stateDict();
  const D = stack.bidirectional ? 2 : 1, H = stack.hiddenSize;
  const h: string[] = [], c: string[] = [];
  for (let l = 0; l < stack.numLayers; l++) {
    const w = torchToOnnxWeights(opType, sd, { layer: l });
    const idx = b.ints(`state_index_l${l}`, Array.from({ length: D }, (_, d) => l * D + d));
    const h0 = b.node('Gather', ['state_in.h', idx], 1, { axis: 0 })[0]!;
    const c0 = hasC ? b.node('Gather', ['state_in.c', idx], 1, { axis: 0 })[0]! : '';
    const attrs: Record<string, number | string | string[]> = { hidden_size: H };
    if (D === 2) attrs['direction'] = 'bidirectional';
    if (stack instanceof GRU) attrs['linear_before_reset'] = stack.resetAfter ? 1 : 0;
    if (stack instanceof RNN && stack.nonlinearity === 'relu') attrs['activations'] = new Array<string>(D).fill('Relu');
    const inputs = [x, b.tensor(`W_l${l}`, w.W), b.tensor(`R_l${l}`, w.R), w.B ? b.tensor(`B_l${l}`, w.B) : '', seqLens, h0, ...(hasC ? [c0] : [])];
    const [Y, Yh, Yc] = b.node(opType, inputs, hasC ? 3 : 2, attrs);
    h.push(Yh!);
    if (Yc) c.push(Yc);
    x = D === 1 ? b.squeeze1(Y!) : b.node('Reshape', [b.node('Transpose', [Y!], 1, { perm: [0, 2, 1, 3] })[0]!, b.ints(`shape_l${l}`, [0, 0, -1])], 1)[0]!;
  }
  return { y: x, h, c };
}

/** Serialise an RNN/LSTM/GRU layer stack or a RecurrentLM as an ONNX model (see the module comment). */
export function toOnnx(model: RNN | LSTM | GRU | RecurrentLM, opts: ToOnnxOptions = {}): Uint8Array {
  const op = 'toOnnx';
  const opset = opts.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 9 || opset > 17) throw new ConfigError({ op, expected: 'opset an integer in 9–17', got: String(opts.opset) });
  const lm = model instanceof RecurrentLM ? model : null;
  const stack = lm ? lm.stack : model;
  if (!(stack instanceof RNN || stack instanceof LSTM || stack instanceof GRU)) {
    throw new ConfigError({ op, expected: 'an sl.nn.RNN, LSTM or GRU, or a RecurrentLM', got: (model as object)?.constructor?.name ?? String(model) });
  }
  if (stack instanceof LSTM && stack.projSize > 0) throw new ConfigError({ op, expected: 'an LSTM without projSize (ONNX LSTM has no projection)', got: `projSize ${stack.projSize}` });
  const b = new GraphBuilder(opset);
  const hasC = stack instanceof LSTM;
  const D = stack.bidirectional ? 2 : 1, S = stack.numLayers * D, H = stack.hiddenSize;
  const stateShape: Dim[] = [S, 'batch', H];
  const inputs: ValueInfo[] = [], outputs: ValueInfo[] = [];
  if (opts.lengths) inputs.push(valueInfo('sequence_lens', DT.INT32, ['batch']));
  let x: string;
  if (lm) {
    inputs.unshift(valueInfo('tokens', DT.INT64, ['batch', 'time']));
    const e = b.node('Gather', [b.tensor('emb.weight', lm.emb.weight), 'tokens'], 1, { axis: 0 })[0]!;
    x = b.node('Transpose', [e], 1, { perm: [1, 0, 2] })[0]!;
  } else {
    inputs.unshift(valueInfo('input', DT.FLOAT, stack.batchFirst ? ['batch', 'time', stack.inputSize] : ['time', 'batch', stack.inputSize]));
    x = stack.batchFirst ? b.node('Transpose', ['input'], 1, { perm: [1, 0, 2] })[0]! : 'input';
  }
  inputs.push(valueInfo('state_in.h', DT.FLOAT, stateShape));
  if (hasC) inputs.push(valueInfo('state_in.c', DT.FLOAT, stateShape));
  const r = emitStack(b, stack, x, hasC, opts.lengths ? 'sequence_lens' : '');
  const collect = (parts: string[], name: string): void => {
    b.node(parts.length === 1 ? 'Identity' : 'Concat', parts, [name], parts.length === 1 ? {} : { axis: 0 });
  };
  if (lm) {
    const bt = b.node('Transpose', [r.y], 1, { perm: [1, 0, 2] })[0]!;
    const wT = noGrad(() => transpose(lm.head.weight, 0, 1).clone());
    const mm = b.node('MatMul', [bt, b.tensor('head.weight.T', wT)], 1)[0]!;
    if (lm.head.bias) b.node('Add', [mm, b.tensor('head.bias', lm.head.bias)], ['logits']);
    else b.node('Identity', [mm], ['logits']);
    outputs.push(valueInfo('logits', DT.FLOAT, ['batch', 'time', lm.vocabSize]));
  } else {
    if (stack.batchFirst) b.node('Transpose', [r.y], ['output'], { perm: [1, 0, 2] });
    else b.node('Identity', [r.y], ['output']);
    outputs.push(valueInfo('output', DT.FLOAT, stack.batchFirst ? ['batch', 'time', D * H] : ['time', 'batch', D * H]));
  }
  collect(r.h, 'state_out.h');
  outputs.push(valueInfo('state_out.h', DT.FLOAT, stateShape));
  if (hasC) {
    collect(r.c, 'state_out.c');
    outputs.push(valueInfo('state_out.c', DT.FLOAT, stateShape));
  }
  const message = {
    irVersion: irFor(opset), producerName: 'seqlab', producerVersion: '0.1',
    opsetImport: [{ domain: '', version: opset }],
    graph: { name: lm ? `seqlab_${lm.family}_lm` : 'seqlab_recurrent', node: b.nodes, initializer: b.initializers, input: inputs, output: outputs },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(message)).finish();
}
