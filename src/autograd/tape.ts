/**
 * Reverse-mode autodiff on a tape. Each op that sees an input with `requiresGrad` attaches a GradNode to
 * its outputs; `backward(loss)` walks the nodes in reverse topological order, calls each node's backward
 * rule once with the summed gradients of its outputs, and accumulates into leaves' `.grad`.
 *
 * Two kinds of node exist: primitives, whose rules sit in one typed table (src/ops/primitives.ts), and
 * fused ops (a whole LSTM sequence, cross-entropy…), registered with `fusedOp` as an explicit
 * forward/backward pair sharing a typed record of saved values.
 */
import { ShapeError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor, allocFloat, type FloatArray, type GradNode } from '../tensor/tensor.js';
import { outsideGradPool, withGradPool } from './grad-pool.js';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` without recording anything on the tape (like `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Attach a node to `outputs` when recording is on and some input needs a gradient. */
export function record(
  op: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  backward: (gradOutputs: readonly (Tensor | null)[]) => (Tensor | null)[],
): void {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return;
  const node: GradNode = { op, inputs, numOutputs: outputs.length, backward };
  outputs.forEach((o, i) => {
    o.node = node;
    o.outIndex = i;
    o.requiresGrad = true;
  });
}

/** Names of every fused op registered, so gradient checks can prove they cover each one. */
export const fusedOpNames = new Set<string>();

/**
 * Register a fused op: a hand-written forward (done by the caller, which also builds the typed `saved`
 * record) paired with a backward that consumes `saved`. Returns the function that records one call.
 */
export function fusedOp<S>(
  name: string,
  backward: (saved: S, gradOutputs: readonly (Tensor | null)[]) => (Tensor | null)[],
): (inputs: readonly Tensor[], outputs: readonly Tensor[], saved: S) => void {
  fusedOpNames.add(name);
  return (inputs, outputs, saved) => record(name, inputs, outputs, (g) => backward(saved, g));
}

/** out = a + b elementwise over equal lengths (out may be a). */
export type GradientAdder = (a: FloatArray, b: FloatArray, out: FloatArray) => void;

let addGradients: GradientAdder = (a, b, out) => { for (let i = 0; i < out.length; i++) out[i] = a[i]! + b[i]!; };

/**
 * The sum the tape accumulates gradients with. The ops layer installs the active backend's elementwise add
 * (autograd sits below the kernels), which is exactly this loop's arithmetic, only faster.
 */
export function setGradientAdder(add: GradientAdder): void {
  addGradients = add;
}

/**
 * prev + g as the gradient of `target`. `owned` holds the sums this backward pass allocated and nobody else
 * has seen yet: those are added into in place (a tensor leaves the set when it is handed to a rule).
 */
function accumulate(op: string, prev: Tensor | null, g: Tensor, target: Tensor, owned: Set<Tensor>): Tensor {
  if (!sameShape(g.shape, target.shape)) {
    throw new ShapeError({
      op: `backward(${op})`,
      expected: `a gradient of shape ${fmtShape(target.shape)}`,
      got: fmtShape(g.shape),
      hint: 'this is a bug in a backward rule; please report it',
    });
  }
  // A leaf's .grad must own its storage: rules may hand the same tensor to several inputs (add returns
  // [g, g]) or pass the caller's upstream gradient through, and in-place users (clipGradNorm) would
  // otherwise scale one buffer twice or write into the caller's tensor. PyTorch's AccumulateGrad copies too.
  // A leaf's .grad outlives the pass: its storage never comes from the pass's recycled buffers.
  const leaf = target.node === null;
  if (prev === null) {
    if (!leaf) return g;
    const own = outsideGradPool(() => allocFloat(g.dtype, g.size));
    own.set(g.buf);
    const t = new Tensor(own, g.shape);
    owned.add(t);
    return t;
  }
  if (owned.has(prev)) {
    addGradients(prev.buf, g.buf, prev.buf);
    return prev;
  }
  const out = new Tensor(leaf ? outsideGradPool(() => allocFloat(prev.dtype, prev.size)) : allocFloat(prev.dtype, prev.size, false), prev.shape);
  addGradients(prev.buf, g.buf, out.buf);
  owned.add(out);
  return out;
}

/**
 * Backpropagate from `root`. Without `grad`, root must have one element (its gradient is 1).
 * Gradients accumulate into `.grad` of every leaf with `requiresGrad`; the graph stays usable.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) {
    throw new ShapeError({
      op: 'backward',
      expected: 'a tensor that requires grad (computed from parameters or inputs with requiresGrad)',
      got: 'a tensor with requiresGrad=false',
      hint: 'was it computed inside noGrad(), or from tensors without requiresGrad?',
    });
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new ShapeError({
        op: 'backward',
        expected: 'a one-element tensor (a scalar loss)',
        got: `shape ${fmtShape(root.shape)}`,
        hint: 'reduce it first, e.g. loss.sum() or loss.mean(), or pass the upstream gradient',
      });
    }
    const one = root.dtype === 'float64' ? new Float64Array(1) : new Float32Array(1);
    one[0] = 1;
    grad = new Tensor(one, root.shape);
  } else if (!sameShape(grad.shape, root.shape)) {
    throw new ShapeError({ op: 'backward', expected: `grad of shape ${fmtShape(root.shape)}`, got: fmtShape(grad.shape) });
  }

  if (root.node === null) {
    root.grad = accumulate('leaf', root.grad, grad, root, new Set());
    return;
  }

  // Topological order of nodes reachable from root (iterative DFS: deep BPTT graphs must not overflow).
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  const stack: [GradNode, number][] = [[root.node, 0]];
  seen.add(root.node);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i]!.node;
      if (child !== null && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }

  const pending = new Map<GradNode, (Tensor | null)[]>();
  pending.set(root.node, Array.from({ length: root.node.numOutputs }, (_, k) => (k === root.outIndex ? grad! : null)));
  const owned = new Set<Tensor>();
  // Every float32 buffer the pass allocates is internal to it (leaves' .grad are copies made outside the
  // pool): recycled for the next pass (grad-pool.ts).
  withGradPool(() => noGrad(() => {
    for (let n = order.length - 1; n >= 0; n--) {
      const node = order[n]!;
      const gouts = pending.get(node);
      pending.delete(node);
      if (gouts === undefined || gouts.every((g) => g === null)) continue;
      for (const g of gouts) if (g !== null) owned.delete(g); // a rule may pass it on to several inputs
      const gins = node.backward(gouts);
      node.inputs.forEach((inp, k) => {
        const g = gins[k];
        if (g === null || g === undefined || !inp.requiresGrad) return;
        if (inp.node === null) {
          inp.grad = accumulate(node.op, inp.grad, g, inp, owned);
        } else {
          let slot = pending.get(inp.node);
          if (slot === undefined) {
            slot = new Array<Tensor | null>(inp.node.numOutputs).fill(null);
            pending.set(inp.node, slot);
          }
          slot[inp.outIndex] = accumulate(node.op, slot[inp.outIndex] ?? null, g, inp, owned);
        }
      });
    }
  }));
}

/** A tensor sharing `t`'s values with no history (like `torch.Tensor.detach`). */
export function detach(t: Tensor): Tensor {
  return new Tensor(t.buf, t.shape, false);
}
