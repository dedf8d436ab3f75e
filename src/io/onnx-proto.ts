/**
 * ONNX files as plain records, through `onnx-proto` (the ONNX protobuf schema compiled with protobufjs): the
 * graph's nodes with decoded attributes, initializers and constants as arrays, inputs and outputs with
 * shapes. Nothing here knows what the graph computes; `onnx-import.ts` and `onnx-export.ts` do.
 */
import onnxProto from 'onnx-proto';
import { WeightImportError, fmtShape } from '../tensor/errors.js';

export const { onnx } = onnxProto;

/** ONNX TensorProto.DataType values seqlab reads or writes. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;

type LongLike = number | { toNumber(): number };
const num = (v: LongLike | null | undefined): number => (v == null ? 0 : typeof v === 'number' ? v : v.toNumber());

export interface OnnxArray {
  dims: number[];
  dataType: number;
  /** Values widened to numbers (float32 for floating types; integers exact up to 2^53). */
  data: Float32Array | number[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, unknown>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** Dimension sizes, or the symbolic name of a free dimension. */
  shape: (number | string)[];
}

export interface OnnxGraph {
  opset: number;
  producer: string;
  nodes: OnnxNode[];
  /** Initializers and Constant node outputs by name. */
  constants: Map<string, OnnxArray>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

const op = 'readOnnx';

function tensorData(t: InstanceType<typeof onnx.TensorProto>, source: string): OnnxArray {
  const dims = t.dims.map(num);
  const n = dims.reduce((a, b) => a * b, 1);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new WeightImportError({ op, expected: 'non-negative tensor dimensions', got: `${fmtShape(dims)} for ${t.name} in ${source}` });
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : null;
  const size: Record<number, number> = { [DT.FLOAT]: 4, [DT.DOUBLE]: 8, [DT.INT64]: 8, [DT.INT32]: 4, [DT.FLOAT16]: 2, [DT.UINT8]: 1, [DT.INT8]: 1, [DT.BOOL]: 1 };
  const item = size[t.dataType];
  if (item === undefined) throw new WeightImportError({ op, expected: 'tensors of float, double, float16, int64, int32, int8, uint8 or bool', got: `data type ${t.dataType} for ${t.name} in ${source}` });
  const have = view ? view.byteLength / item : t.dataType === DT.FLOAT ? t.floatData.length : t.dataType === DT.DOUBLE ? t.doubleData.length : t.dataType === DT.INT64 ? t.int64Data.length : t.int32Data.length;
  if (have !== n) throw new WeightImportError({ op, expected: `${n} values for ${t.name} ${fmtShape(dims)}`, got: `${have} in ${source}` });
  const read = (i: number): number => {
    if (!view) {
      switch (t.dataType) {
        case DT.FLOAT: return t.floatData[i]!;
        case DT.DOUBLE: return t.doubleData[i]!;
        case DT.INT64: return num(t.int64Data[i]);
        default: return t.int32Data[i]!; // int32, int8, uint8, bool, float16 bits
      }
    }
    switch (t.dataType) {
      case DT.FLOAT: return view.getFloat32(i * 4, true);
      case DT.DOUBLE: return view.getFloat64(i * 8, true);
      case DT.INT64: return Number(view.getBigInt64(i * 8, true));
      case DT.INT32: return view.getInt32(i * 4, true);
      case DT.INT8: return view.getInt8(i);
      default: return view.getUint8(i);
    }
  };
  if (t.dataType === DT.FLOAT16) throw new WeightImportError({ op, expected: 'float32 weights (float16 ONNX models are not read yet)', got: `float16 ${t.name} in ${source}` });
  const isFloat = t.dataType === DT.FLOAT || t.dataType === DT.DOUBLE;
  const data = isFloat ? new Float32Array(n) : new Array<number>(n);
  for (let i = 0; i < n; i++) data[i] = read(i);
  return { dims, dataType: t.dataType, data };
}

function attribute(a: InstanceType<typeof onnx.AttributeProto>, source: string): unknown {
  const text = (b: Uint8Array): string => new TextDecoder().decode(b);
  switch (a.type) {
    case onnx.AttributeProto.AttributeType.FLOAT: return a.f;
    case onnx.AttributeProto.AttributeType.INT: return num(a.i);
    case onnx.AttributeProto.AttributeType.STRING: return text(a.s);
    case onnx.AttributeProto.AttributeType.TENSOR: return a.t ? tensorData(a.t as InstanceType<typeof onnx.TensorProto>, source) : null;
    case onnx.AttributeProto.AttributeType.FLOATS: return [...a.floats];
    case onnx.AttributeProto.AttributeType.INTS: return a.ints.map(num);
    case onnx.AttributeProto.AttributeType.STRINGS: return a.strings.map(text);
    default: return { unsupportedAttributeType: a.type };
  }
}

function valueInfo(v: InstanceType<typeof onnx.ValueInfoProto>): OnnxValueInfo {
  const tt = v.type?.tensorType;
  return {
    name: v.name, elemType: tt?.elemType ?? 0,
    shape: (tt?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : num(d.dimValue as LongLike | null))),
  };
}

/** Decode an .onnx file's graph. Malformed protobuf is a WeightImportError naming the file. */
export function decodeOnnx(bytes: Uint8Array, source = 'onnx'): OnnxGraph {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new WeightImportError({ op, expected: 'an ONNX model (protobuf ModelProto)', got: `undecodable bytes in ${source} (${e instanceof Error ? e.message : String(e)})` });
  }
  const g = model.graph as InstanceType<typeof onnx.GraphProto> | null;
  if (!g || !g.node.length) throw new WeightImportError({ op, expected: 'an ONNX model with a graph of nodes', got: `${g ? 'an empty graph' : 'no graph'} in ${source}` });
  const opset = Math.max(0, ...model.opsetImport.filter((o) => !o.domain || o.domain === 'ai.onnx').map((o) => num(o.version)));
  const constants = new Map<string, OnnxArray>();
  for (const t of g.initializer) constants.set(t.name ?? '', tensorData(t as InstanceType<typeof onnx.TensorProto>, source));
  const nodes: OnnxNode[] = (g.node as InstanceType<typeof onnx.NodeProto>[]).map((n, i) => {
    const attributes: Record<string, unknown> = {};
    for (const a of n.attribute) attributes[a.name ?? ''] = attribute(a as InstanceType<typeof onnx.AttributeProto>, source);
    return { name: n.name || `#${i}`, opType: n.opType, domain: n.domain, inputs: [...n.input], outputs: [...n.output], attributes };
  });
  for (const n of nodes) if (n.opType === 'Constant' && n.attributes['value'] && n.outputs[0]) constants.set(n.outputs[0], n.attributes['value'] as OnnxArray);
  const initNames = new Set(g.initializer.map((t) => t.name));
  return {
    opset, producer: `${model.producerName} ${model.producerVersion}`.trim(), nodes, constants,
    inputs: g.input.filter((v) => !initNames.has(v.name)).map((v) => valueInfo(v as InstanceType<typeof onnx.ValueInfoProto>)),
    outputs: g.output.map((v) => valueInfo(v as InstanceType<typeof onnx.ValueInfoProto>)),
  };
}
