export {
  add, sub, mul, div, maximum, minimum, neg, exp, log, sqrt, tanh, sigmoid, relu, abs, softplus, silu, gelu, pow,
  matmul, sum, max, argmax, reshape, expand, permute, transpose, narrow, concat, stack, indexSelect,
  softmax, logSoftmax, sumToShape, empty, toIndices, rules, type TensorLike, type PrimitiveName,
} from './primitives.js';
export { mean, variance, square, linear, dropout, layerNormComposite, rmsNormComposite } from './composite.js';
export { layerNorm, rmsNorm, crossEntropyRows, squaredErrorSum } from './fused.js';
export { wkv6, wkv7, wkv6Composite, wkv7Composite, type WkvResult } from './wkv.js';
export { groupNorm } from './group-norm.js';
export { causalConv1d, selectiveScan, ssd } from './scan.js';
