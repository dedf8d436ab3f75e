/**
 * ONNX graphs of recurrent layers → seqlab modules under PyTorch names (`sl.io.readOnnx`).
 *
 * Accepted: the graphs `torch.onnx.export` (opsets 9–17) and tf2onnx write for stacked, optionally
 * bidirectional RNN / GRU / LSTM layers. The data path from the first graph input is followed node by node:
 *
 *   [Gather(embedding, tokens)] → [Transpose 1,0,2 (batch first)] → layer₀ → glue → layer₁ … → glue
 *     → [Transpose 1,0,2] → [MatMul(W) + Add(b) | Gemm (head)]
 *
 * where the glue after a layer is `Squeeze(axis 1)` (one direction) or `Transpose(0,2,1,3) + Reshape` (two),
 * plus Identity / Dropout. Nodes off that path may only compute shapes and slice or concatenate states
 * (Shape, Gather, Slice, Concat, Unsqueeze, Squeeze, Expand, ConstantOfShape, Cast, Constant, Split, Identity).
 * Each layer's attributes must be ones PyTorch has (default activations, or Relu for RNN; no clip, peepholes
 * or input_forget; not reverse-only). Anything else is refused naming the first node that does not fit, never
 * imported in part. Weights are reordered from ONNX gate order to PyTorch's by `onnxToTorchWeights`.
 */
import { noGrad } from '../autograd/tape.js';
import { transpose } from '../ops/index.js';
import { ConfigError, SeqlabError, WeightImportError, fmtShape } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { onnxToTorchWeights, parseOnnxRecurrentAttributes, type OnnxRecurrentOperator } from './onnx-rnn.js';
import { decodeOnnx, type OnnxArray, type OnnxGraph, type OnnxNode } from './onnx-proto.js';

export type RecurrentCell = 'rnn' | 'lstm' | 'gru';

export interface OnnxImport {
  /** `layer`: a bare RNN/LSTM/GRU stack (config for `sl.nn.RNN/LSTM/GRU`); `lm`: a RecurrentLM (embedding, stack, head). */
  kind: 'layer' | 'lm';
  cell: RecurrentCell;
  /** Constructor options of `sl.nn.<LSTM|GRU|RNN>` (layer) or `sl.models.RecurrentLM` (lm). */
  config: Record<string, unknown>;
  /** PyTorch names: `weight_ih_l0`, … (layer) or `emb.weight`, `<cell>.weight_ih_l0`, `head.weight`, `head.bias` (lm). */
  stateDict: Record<string, Tensor>;
  opset: number;
  producer: string;
}

const op = 'readOnnx';
const SIDE_OPS = new Set(['Shape', 'Gather', 'Slice', 'Concat', 'Unsqueeze', 'Squeeze', 'Expand', 'ConstantOfShape', 'Cast', 'Constant', 'Split', 'Identity']);
const RECURRENT: Record<string, RecurrentCell> = { LSTM: 'lstm', GRU: 'gru', RNN: 'rnn' };

function refuse(n: OnnxNode, why: string, source: string): never {
  throw new WeightImportError({
    op, expected: 'a graph of RNN/GRU/LSTM layers with the glue torch.onnx.export writes (see sl.io.readOnnx)',
    got: `node ${JSON.stringify(n.name)} (op ${n.opType}) ${why} in ${source}`,
  });
}

const toTensor = (a: OnnxArray): Tensor => new Tensor(a.data instanceof Float32Array ? a.data : Float32Array.from(a.data), a.dims);

/** A node's integer list from an attribute (older opsets) or a constant input (newer). */
function ints(g: OnnxGraph, n: OnnxNode, attr: string, input: number): number[] | null {
  const a = n.attributes[attr];
  if (Array.isArray(a)) return a as number[];
  const c = n.inputs[input] ? g.constants.get(n.inputs[input]!) : undefined;
  return c?.data ? Array.from(c.data) : null;
}

/** Read an ONNX model of recurrent layers (see the module comment for what is accepted). */
export function readOnnx(bytes: Uint8Array, source = 'onnx'): OnnxImport {
  try {
    return importGraph(decodeOnnx(bytes, source), source);
  } catch (e) {
    // A shape or config error from the weights (e.g. W not [D, G·H, I]) is a bad file, reported as one.
    if (e instanceof SeqlabError && !(e instanceof WeightImportError)) throw new WeightImportError({ op, expected: 'weights of the shapes the nodes declare', got: `${e.message} (in ${source})` });
    if (e instanceof SeqlabError) throw e;
    // Safety net (found by test/fuzz): a graph of the wrong shape that slipped past the checks is still a bad file.
    throw new WeightImportError({ op, expected: 'an ONNX graph of the documented form', got: `${e instanceof Error ? e.message : String(e)} (in ${source}): the file is corrupted` });
  }
}

function importGraph(g: OnnxGraph, source: string): OnnxImport {
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const onPath = new Set<OnnxNode>();
  const first = g.inputs[0];
  if (!first) throw new WeightImportError({ op, expected: 'a graph with an input', got: `none in ${source}` });

  let cur = first.name, batchFirst = false, cell: RecurrentCell | null = null, pendingGlue: 'squeeze' | 'bidir' | null = null;
  const layers: { node: OnnxNode; D: 1 | 2; hidden: number; input: number; resetAfter: boolean; relu: boolean }[] = [];
  const dict: Record<string, Tensor> = {};
  let emb: Tensor | null = null, headW: Tensor | null = null, headB: Tensor | null = null;
  const isConst = (name: string | undefined): name is string => name !== undefined && g.constants.has(name);

  for (;;) {
    const next = (consumers.get(cur) ?? []).filter((n) => !(n.opType === 'Shape' || (n.opType === 'Gather' && n.inputs[0] === cur && isConst(n.inputs[1]))));
    if (next.length === 0) break;
    if (next.length > 1) refuse(next[1]!, `also reads ${JSON.stringify(cur)}, which only one node on the data path may`, source);
    const n = next[0]!;
    onPath.add(n);
    const out = (): void => { cur = n.outputs[0]!; };
    if (n.opType in RECURRENT) {
      if (pendingGlue) refuse(n, 'follows a layer without the Squeeze / Transpose + Reshape between layers', source);
      const c = RECURRENT[n.opType]!;
      if (cell && c !== cell) refuse(n, `mixes ${n.opType} with ${cell.toUpperCase()} layers`, source);
      cell = c;
      if (n.inputs[0] !== cur) refuse(n, 'takes the data path as another input than X', source);
      const [W, R, B] = [n.inputs[1], n.inputs[2], n.inputs[3]];
      if (!isConst(W) || !isConst(R) || (B && !isConst(B))) refuse(n, 'has W, R or B that are not constants', source);
      if (n.inputs[7]) refuse(n, 'has peephole weights P, which PyTorch layers do not have', source);
      const Rt = toTensor(g.constants.get(R)!);
      let attrs;
      try {
        attrs = parseOnnxRecurrentAttributes({ operator: n.opType as OnnxRecurrentOperator, attributes: n.attributes }, Rt);
      } catch (e) {
        if (e instanceof ConfigError) refuse(n, `has attributes seqlab cannot read (${e.message})`, source);
        throw e;
      }
      const names = attrs.activations.flat().map((a) => a.name);
      const relu = c === 'rnn' && names.every((x) => x === 'Relu');
      const defaults = { lstm: ['Sigmoid', 'Tanh', 'Tanh'], gru: ['Sigmoid', 'Tanh'], rnn: ['Tanh'] }[c];
      const standard = names.every((x, i) => x === defaults[i % defaults.length]);
      if (!standard && !relu) refuse(n, `uses activations ${names.join(', ')}, which no PyTorch layer has`, source);
      if (attrs.clip !== null || attrs.inputForget || attrs.direction === 'reverse' || attrs.layout !== 0) {
        refuse(n, `sets ${attrs.clip !== null ? 'clip' : attrs.inputForget ? 'input_forget' : attrs.direction === 'reverse' ? "direction 'reverse'" : 'layout 1'}, which PyTorch layers do not have`, source);
      }
      const Wt = toTensor(g.constants.get(W)!);
      const k = layers.length;
      Object.assign(dict, onnxToTorchWeights(n.opType as OnnxRecurrentOperator, { W: Wt, R: Rt, B: B ? toTensor(g.constants.get(B)!) : null }, { layer: k }));
      layers.push({ node: n, D: attrs.numDirections, hidden: attrs.hiddenSize, input: Wt.shape[2]!, resetAfter: c !== 'gru' || attrs.linearBeforeReset, relu });
      if (k > 0 && layers[k]!.input !== layers[k - 1]!.hidden * layers[k - 1]!.D) refuse(n, `takes inputs of width ${layers[k]!.input} from a layer of width ${layers[k - 1]!.hidden * layers[k - 1]!.D}`, source);
      pendingGlue = attrs.numDirections === 2 ? 'bidir' : 'squeeze';
      out();
    } else if (n.opType === 'Squeeze' && pendingGlue === 'squeeze' && (ints(g, n, 'axes', 1) ?? []).join() === '1') {
      pendingGlue = null;
      out();
    } else if (n.opType === 'Transpose' && pendingGlue === 'bidir' && (n.attributes['perm'] as number[] | undefined)?.join() === '0,2,1,3') {
      out();
    } else if (n.opType === 'Reshape' && pendingGlue === 'bidir') {
      const shape = ints(g, n, '', 1);
      if (!shape || shape.length !== 3 || shape[2] !== -1 && shape[2] !== 2 * layers.at(-1)!.hidden) refuse(n, `reshapes to ${shape ? fmtShape(shape) : 'a computed shape'}, expected [T, N, 2·hidden]`, source);
      pendingGlue = null;
      out();
    } else if (n.opType === 'Transpose' && !pendingGlue && (n.attributes['perm'] as number[] | undefined)?.join() === '1,0,2') {
      if (layers.length > 0 && !batchFirst) refuse(n, 'transposes the output of a sequence-first stack', source);
      if (layers.length === 0) batchFirst = true;
      out();
    } else if (n.opType === 'Gather' && layers.length === 0 && !emb && isConst(n.inputs[0]) && n.inputs[1] === cur) {
      emb = toTensor(g.constants.get(n.inputs[0])!);
      out();
    } else if (n.opType === 'MatMul' && layers.length > 0 && !pendingGlue && !headW && isConst(n.inputs[1])) {
      headW = noGrad(() => transpose(toTensor(g.constants.get(n.inputs[1]!)!), 0, 1).clone());
      out();
    } else if (n.opType === 'Gemm' && layers.length > 0 && !pendingGlue && !headW && isConst(n.inputs[1])) {
      const w = toTensor(g.constants.get(n.inputs[1]!)!);
      headW = n.attributes['transB'] === 1 ? w : noGrad(() => transpose(w, 0, 1).clone());
      if (isConst(n.inputs[2])) headB = toTensor(g.constants.get(n.inputs[2])!);
      out();
    } else if (n.opType === 'Add' && headW && !headB && n.inputs.some(isConst)) {
      headB = toTensor(g.constants.get(n.inputs.find(isConst)!)!);
      out();
    } else if (n.opType === 'Identity' || n.opType === 'Dropout') {
      out();
    } else {
      refuse(n, pendingGlue ? 'comes where the glue between layers (Squeeze / Transpose + Reshape) belongs' : 'is not part of an RNN/GRU/LSTM stack', source);
    }
  }
  if (!cell || layers.length === 0) throw new WeightImportError({ op, expected: 'a graph with RNN, GRU or LSTM nodes', got: `none in ${source}` });
  for (const n of g.nodes) if (!onPath.has(n) && !SIDE_OPS.has(n.opType)) refuse(n, 'is not part of an RNN/GRU/LSTM stack', source);
  if (pendingGlue) refuse(layers.at(-1)!.node, 'ends the graph without its output reshaped to [T, N, D·hidden]', source);

  const L = layers[0]!;
  if (layers.some((l) => l.D !== L.D || l.hidden !== L.hidden || l.resetAfter !== L.resetAfter || l.relu !== L.relu)) {
    refuse(layers.find((l) => l.D !== L.D || l.hidden !== L.hidden || l.resetAfter !== L.resetAfter || l.relu !== L.relu)!.node, 'differs from the first layer in width, direction or form', source);
  }
  const common = {
    hiddenSize: L.hidden, numLayers: layers.length,
    ...(cell === 'gru' && !L.resetAfter ? { resetAfter: false } : {}), ...(cell === 'rnn' && L.relu ? { nonlinearity: 'relu' } : {}),
  };
  const meta = { opset: g.opset, producer: g.producer };
  if (emb || headW) {
    if (!emb || !headW || L.D !== 1 || !batchFirst) {
      throw new WeightImportError({ op, expected: 'a language model as Embedding (Gather) → unidirectional batch-first stack → Linear (MatMul + Add)', got: `${emb ? 'an embedding' : 'no embedding'}, ${headW ? 'a head' : 'no head'}, ${L.D} direction(s)${batchFirst ? '' : ', sequence first'} in ${source}` });
    }
    const stateDict: Record<string, Tensor> = { 'emb.weight': emb, 'head.weight': headW };
    if (headB) stateDict['head.bias'] = headB;
    for (const [k, v] of Object.entries(dict)) stateDict[`${cell}.${k}`] = v;
    return { kind: 'lm', cell, config: { cell, vocabSize: emb.shape[0]!, embeddingDim: emb.shape[1]!, ...common }, stateDict, ...meta };
  }
  return { kind: 'layer', cell, config: { inputSize: L.input, ...common, ...(L.D === 2 ? { bidirectional: true } : {}), ...(batchFirst ? { batchFirst: true } : {}) }, stateDict: dict, ...meta };
}
