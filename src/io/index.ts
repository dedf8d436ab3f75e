/**
 * Weights I/O on bytes (no file system: that is `seqlab/node`). safetensors is the exchange format with
 * PyTorch: `safetensors.torch.save_file(model.state_dict(), path)` loads here with no renaming.
 */
import { Tensor } from '../tensor/tensor.js';
import { decodeSafetensors, encodeSafetensors, setOwn } from './safetensors.js';

export { decodeSafetensors, encodeSafetensors, f16ToF32, bf16ToF32, f32ToF16, f32ToBf16 } from './safetensors.js';
export type { SafetensorsDType, RawTensor, DecodedSafetensors } from './safetensors.js';

/** Parse safetensors bytes into tensors (F16/BF16/F64/int widened or narrowed to float32) and metadata. */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) setOwn(out, k, new Tensor(t.data, t.shape)); // a tensor named __proto__ stays a tensor
  return { tensors: out, metadata };
}

/** Serialise tensors as F32 safetensors (keys sorted; float64 tensors are rounded to float32). */
export function writeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const raw: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const [k, t] of Object.entries(tensors)) setOwn(raw, k, { shape: t.shape, data: t.dtype === 'float32' ? (t.buf as Float32Array) : Float32Array.from(t.buf) });
  return encodeSafetensors(raw, metadata);
}

// ONNX RNN / GRU / LSTM operator semantics on seqlab's fused layers, and PyTorch ⇄ ONNX weight layouts.
export {
  runOnnxRecurrent, parseOnnxRecurrentAttributes, onnxActivation, onnxToTorchWeights, torchToOnnxWeights,
  reorderGateBlocks, ONNX_GATES, ONNX_GATE_ORDER, TORCH_GATE_ORDER, ONNX_FROM_TORCH, TORCH_FROM_ONNX,
} from './onnx-rnn.js';
export type {
  OnnxRecurrentNode, OnnxRecurrentInputs, OnnxRecurrentOutputs, OnnxRecurrentAttributes, OnnxActivation,
  RunOnnxRecurrentOptions, OnnxRecurrentWeights, OnnxRecurrentOperator, OnnxDirection,
} from './onnx-rnn.js';

// PyTorch checkpoints (torch.save's zip format) through a restricted unpickler.
export { readTorch } from './torch.js';
export type { TorchFile } from './torch.js';

// ONNX files (onnx-proto): recurrent graphs in, seqlab models out.
export { readOnnx } from './onnx-import.js';
export type { OnnxImport } from './onnx-import.js';
export { decodeOnnx } from './onnx-proto.js';
export type { OnnxGraph, OnnxNode, OnnxValueInfo, OnnxArray } from './onnx-proto.js';
export { toOnnx } from './onnx-export.js';
export type { ToOnnxOptions } from './onnx-export.js';
