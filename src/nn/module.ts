/**
 * `Module`: the bookkeeping every layer shares — named parameters, buffers and sub-modules in insertion
 * order, dotted state-dict keys (`0.weight`, `lstm.weight_ih_l0`), train/eval mode and strict weight loading.
 * The maths lives in src/ops; a module only owns tensors and checks shapes on entry.
 *
 * Subclasses register what they own in the constructor and declare their own typed `forward`:
 *
 * @example
 * class Head extends Module {
 *   readonly proj = this.registerModule('proj', new Linear({ inFeatures: 8, outFeatures: 4 }));
 *   forward(x: Tensor): Tensor { return this.proj.forward(x); }
 * }
 */
import { residentCopy } from '../kernels/index.js';
import { ConfigError, WeightImportError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Mark a tensor as a trainable leaf (like `nn.Parameter(t)`): a new leaf sharing `t`'s storage, with
 * requiresGrad = true and no history.
 */
export function parameter(t: Tensor): Tensor {
  return new Tensor(t.buf, t.shape, true);
}

export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true). Mis-shaped keys are rejected either way, as in PyTorch. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Counts registrations in every module, so a cached parameter list can tell when it may be stale. */
let registrations = 0;

export class Module {
  /** Training mode (dropout active); set through `train()` / `eval()` so children follow. */
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, { t: Tensor; persistent: boolean }>();
  private readonly mods = new Map<string, Module | null>();
  private paramCache: { at: number; list: readonly Tensor[] } | null = null;

  private checkName(kind: string, name: string): void {
    if (name === '' || name.includes('.')) {
      throw new ConfigError({ op: `${kind}`, expected: 'a non-empty name without "."', got: JSON.stringify(name) });
    }
    const taken = this.params.has(name) ? 'parameter' : this.buffers.has(name) ? 'buffer' : this.mods.has(name) ? 'module' : null;
    if (taken !== null) {
      throw new ConfigError({ op: kind, expected: 'a name not registered yet', got: `"${name}" (already a ${taken})` });
    }
  }

  /** Register a parameter (null keeps the slot, e.g. `bias: false`, but it is not in the state dict). Returns it. */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    this.checkName('registerParameter', name);
    registrations++;
    this.params.set(name, t);
    if (t !== null) {
      t.name ??= name;
      // Parameters live as long as the module: keep them where the kernels work (wasm memory, when
      // the wasm backend runs on shared memory) so no call copies them. Values are unchanged.
      t.buf = residentCopy(t.buf);
    }
    return t;
  }

  /** Register a sub-module; its parameters appear under `name.`. Returns it. */
  registerModule<M extends Module | null>(name: string, m: M): M {
    this.checkName('registerModule', name);
    registrations++;
    this.mods.set(name, m);
    return m;
  }

  /** Register a non-trainable tensor (running statistics, masks). Non-persistent buffers stay out of the state dict. */
  registerBuffer(name: string, t: Tensor, opts: { persistent?: boolean } = {}): Tensor {
    this.checkName('registerBuffer', name);
    this.buffers.set(name, { t, persistent: opts.persistent ?? true });
    return t;
  }

  /** Direct sub-modules with their names, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.mods].filter((e): e is [string, Module] => e[1] !== null);
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every descendant (each once), depth-first, with dotted names ('' for this one). */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.namedChildren()) out.push(...m.namedModules(prefix === '' ? n : `${prefix}.${n}`, seen));
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every parameter with its dotted name; a tensor shared by two modules appears once (first name wins). */
  namedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, p] of m.params) {
        if (p === null || seen.has(p)) continue;
        seen.add(p);
        out.push([prefix === '' ? n : `${prefix}.${n}`, p]);
      }
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /**
   * @internal `parameters()` kept from call to call (read only): a streaming step checks its parameters every
   * token and must not rebuild the list each time. Any registration, in any module, renews it.
   */
  parameterList(): readonly Tensor[] {
    if (this.paramCache?.at !== registrations) this.paramCache = { at: registrations, list: this.parameters() };
    return this.paramCache.list;
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, b] of m.buffers) out.push([prefix === '' ? n : `${prefix}.${n}`, b.t]);
    }
    return out;
  }

  /** Number of parameter values (shared tensors counted once). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.parameters().reduce((s, p) => s + (opts.trainableOnly && !p.requiresGrad ? 0 : p.size), 0);
  }

  /**
   * The live tensors behind the state dict, PyTorch's order: each module's parameters, then its persistent
   * buffers, then its children. Unlike `namedParameters`, tied tensors appear under every name (as PyTorch).
   */
  private stateEntries(prefix = ''): [string, Tensor][] {
    const key = (n: string): string => (prefix === '' ? n : `${prefix}.${n}`);
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.params) if (p !== null) out.push([key(n), p]);
    for (const [n, b] of this.buffers) if (b.persistent) out.push([key(n), b.t]);
    for (const [n, m] of this.mods) if (m !== null) out.push(...m.stateEntries(key(n)));
    return out;
  }

  /** Parameters and persistent buffers by dotted key, as detached tensors sharing storage (like PyTorch). */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, t] of this.stateEntries()) out[k] = new Tensor(t.buf, t.shape);
    return out;
  }

  /**
   * Copy values from `dict` into the existing parameter and buffer storage, so optimizers that hold the
   * parameters keep working. Strict mode (default) reports every missing, unexpected and mis-shaped key in
   * one WeightImportError and loads nothing; non-strict returns the missing/unexpected keys but still
   * rejects mis-shaped ones. Values are converted to each target's dtype.
   */
  loadStateDict(dict: Readonly<Record<string, Tensor>>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const entries = this.stateEntries();
    const expected = new Set(entries.map(([k]) => k));
    const missingKeys = entries.map(([k]) => k).filter((k) => !Object.hasOwn(dict, k));
    const unexpectedKeys = Object.keys(dict).filter((k) => !expected.has(k));
    const misShaped = entries.filter(([k, t]) => Object.hasOwn(dict, k) && !sameShape(dict[k]!.shape, t.shape));
    if (misShaped.length > 0 || (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0))) {
      const lines: string[] = [];
      if (strict && missingKeys.length) lines.push(`missing keys: ${missingKeys.map((k) => `"${k}"`).join(', ')}`);
      if (strict && unexpectedKeys.length) {
        const pool = missingKeys.length ? missingKeys : [...expected];
        const hint = (k: string): string => {
          const near = nearestKey(k, pool);
          return near === null ? `"${k}"` : `"${k}" (did you mean "${near}"?)`;
        };
        lines.push(`unexpected keys: ${unexpectedKeys.map(hint).join(', ')}`);
      }
      if (misShaped.length) {
        const desc = misShaped.map(([k, t]) => `"${k}" expected ${fmtShape(t.shape)}, got ${fmtShape(dict[k]!.shape)}`);
        lines.push(`mis-shaped keys: ${desc.join('; ')}`);
      }
      throw new WeightImportError(
        {
          op: `${this.constructor.name}.loadStateDict`,
          hint: strict
            ? 'pass { strict: false } to load a partial state dict (mis-shaped keys are rejected either way)'
            : 'a state dict from a model with other sizes cannot be loaded; check the config',
        },
        `the state dict does not match the module:\n  ${lines.join('\n  ')}`,
      );
    }
    for (const [k, t] of entries) if (Object.hasOwn(dict, k)) t.buf.set(dict[k]!.buf);
    return { missingKeys, unexpectedKeys };
  }

  /** Set training mode here and in every descendant (dropout is active only in training). Returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Drop every parameter's gradient (sets `.grad = null`, PyTorch's set_to_none=True default). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate, if it is close enough to be a plausible typo or renaming (at most half the key changed). */
export function nearestKey(key: string, candidates: readonly string[]): string | null {
  let best: string | null = null, bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(key, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(key.length / 2)) ? best : null;
}
