/**
 * Sequential: children named '0', '1', … (so state-dict keys read `0.weight` as in PyTorch), each fed the
 * previous one's output. A ModuleList with a forward that chains.
 */
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';
import { ModuleList } from './module-list.js';

/** A module that maps one tensor to one tensor: what Sequential can chain. */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}

export class Sequential extends ModuleList<TensorModule> {
  constructor(...modules: TensorModule[]) {
    super(modules);
  }

  forward(x: Tensor): Tensor {
    for (const m of this) x = m.forward(x);
    return x;
  }
}
