/**
 * Sequential: children named '0', '1', … (so state-dict keys read `0.weight` as in PyTorch), each fed the
 * previous one's output.
 */
import { ConfigError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** A module that maps one tensor to one tensor: what Sequential can chain. */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}

export class Sequential extends Module {
  private readonly layers: TensorModule[];

  constructor(...modules: TensorModule[]) {
    super();
    modules.forEach((m, i) => {
      if (!(m instanceof Module)) throw new ConfigError({ op: 'Sequential', expected: 'Module instances', got: `${typeof m} at position ${i}` });
      this.registerModule(String(i), m);
    });
    this.layers = modules;
  }

  get length(): number {
    return this.layers.length;
  }

  /** The i-th layer (negative counts from the end). */
  at(i: number): TensorModule | undefined {
    return this.layers.at(i);
  }

  [Symbol.iterator](): Iterator<TensorModule> {
    return this.layers[Symbol.iterator]();
  }

  forward(x: Tensor): Tensor {
    for (const m of this.layers) x = m.forward(x);
    return x;
  }
}
