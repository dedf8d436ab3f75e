/**
 * Tensor methods (`x.add(y)`, `loss.backward()`…), attached to the Tensor prototype here so the tensor
 * layer does not import the ops above it. Imported once by src/index.ts; package.json's `sideEffects` lists
 * both files, or a bundler that trusts it drops this import from a production build (test/browser/bundlers).
 */
import { backward, detach } from '../autograd/tape.js';
import { Tensor } from '../tensor/tensor.js';
import { mean } from './composite.js';
import * as P from './primitives.js';

declare module '../tensor/tensor.js' {
  interface Tensor {
    add(other: P.TensorLike): Tensor;
    sub(other: P.TensorLike): Tensor;
    mul(other: P.TensorLike): Tensor;
    div(other: P.TensorLike): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    pow(alpha: number): Tensor;
    matmul(other: Tensor): Tensor;
    sum(dim?: number | readonly number[], keepdim?: boolean): Tensor;
    mean(dim?: number | readonly number[], keepdim?: boolean): Tensor;
    max(dim: number, keepdim?: boolean): Tensor;
    argmax(dim: number): Tensor;
    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    permute(perm: readonly number[]): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    softmax(dim?: number): Tensor;
    logSoftmax(dim?: number): Tensor;
    /** Backpropagate from this (one-element) tensor; see `backward` in autograd. */
    backward(grad?: Tensor): void;
    /** Same values, cut from the graph. */
    detach(): Tensor;
    /** A copy with its own storage and no history. */
    clone(): Tensor;
  }
}

const proto = Tensor.prototype;
proto.add = function (o) { return P.add(this, o); };
proto.sub = function (o) { return P.sub(this, o); };
proto.mul = function (o) { return P.mul(this, o); };
proto.div = function (o) { return P.div(this, o); };
proto.neg = function () { return P.neg(this); };
proto.exp = function () { return P.exp(this); };
proto.log = function () { return P.log(this); };
proto.sqrt = function () { return P.sqrt(this); };
proto.tanh = function () { return P.tanh(this); };
proto.sigmoid = function () { return P.sigmoid(this); };
proto.relu = function () { return P.relu(this); };
proto.pow = function (a) { return P.pow(this, a); };
proto.matmul = function (o) { return P.matmul(this, o); };
proto.sum = function (dim, keepdim) { return P.sum(this, dim, keepdim); };
proto.mean = function (dim, keepdim) { return mean(this, dim, keepdim); };
proto.max = function (dim, keepdim) { return P.max(this, dim, keepdim); };
proto.argmax = function (dim) { return P.argmax(this, dim); };
proto.reshape = function (s) { return P.reshape(this, s); };
proto.view = function (s) { return P.reshape(this, s); };
proto.transpose = function (a, b) { return P.transpose(this, a, b); };
proto.permute = function (p) { return P.permute(this, p); };
proto.narrow = function (d, s, l) { return P.narrow(this, d, s, l); };
proto.softmax = function (d) { return P.softmax(this, d); };
proto.logSoftmax = function (d) { return P.logSoftmax(this, d); };
proto.backward = function (g) { backward(this, g); };
proto.detach = function () { return detach(this); };
proto.clone = function () { return new Tensor(this.buf.slice(), this.shape); };
