/**
 * The wasm kernel module's exports. Memory is owned by the JavaScript side (src/kernels/wasm/arena.ts):
 * every pointer argument is a byte address in this module's memory, and no function allocates.
 */
export { packB, packedBSize, gemmScratch, gemmPackedScratch } from './gemm';
export { gemm, gemmNT, gemmPacked, setThreadControl, setMainWait, workerLoop, stopWorkers, threadControlSize, poolTestHold, poolTestJob } from './parallel';

/** First byte past the module's static data: the arena starts here. */
export function heapBase(): usize {
  return __heap_base;
}
export { recurrentForward, recurrentBackward, recurrentForwardScratch, recurrentBackwardScratch } from './recurrent';
export { unaryF32, unaryBackwardF32, binaryF32, reduceSumF32 } from './parallel';
export {
  softmaxRows, softmaxBackwardRows, crossEntropyForwardRows, crossEntropyBackwardRows,
  layerNormForwardRows, layerNormBackwardRows, rmsNormForwardRows, rmsNormBackwardRows,
} from './rows';
export { sgdUpdate } from './optim';
export { tokenMixF32, tokenMixBackwardF32, reluSquareF32, reluSquareBackwardF32 } from './elementwise';
export { adamUpdate } from './parallel';
export { wkv6Forward, wkv6Backward, wkv7Forward, wkv7Backward, wkvBackwardScratch } from './parallel';
export {
  causalConv1dForward, causalConv1dBackward, causalConv1dScratch,
} from './scan';
export { selectiveScanForward, selectiveScanBackward, selectiveScanBackwardScratch, recurrentStep } from './parallel';
export { recurrentStepScratch } from './recurrent-step';
export { ssdForward, ssdBackward, ssdScratch } from './parallel';
export { attentionForward, attentionBackward, attentionScratch, attentionDecode, attentionDecodeScratch } from './parallel';
export { mambaStep, mambaStepScratch, rwkv7Step, rwkv7StepScratch, mamba2Step, mamba2StepScratch, rwkv6Step, rwkv6StepScratch, gptStep, gptStepScratch } from './step';
export { fmaPeak } from './roofline';
