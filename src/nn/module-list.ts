/**
 * ModuleList: sub-modules named '0', '1', … (state-dict keys `blocks.0.ln1.weight` as PyTorch's
 * nn.ModuleList gives), for stacks whose layers take more than one tensor. Sequential is a ModuleList whose
 * forward chains one-tensor layers.
 */
import { ConfigError } from '../tensor/errors.js';
import { Module } from './module.js';

export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  private readonly items: M[];

  constructor(modules: readonly M[]) {
    super();
    modules.forEach((m, i) => {
      if (!(m instanceof Module)) throw new ConfigError({ op: new.target.name, expected: 'Module instances', got: `${typeof m} at position ${i}` });
      this.registerModule(String(i), m);
    });
    this.items = [...modules];
  }

  get length(): number {
    return this.items.length;
  }

  /** The i-th module (negative counts from the end). */
  at(i: number): M | undefined {
    return this.items.at(i);
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
