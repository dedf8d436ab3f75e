/**
 * What the explorer measures inside its worker, on the public API only.
 *
 * - Gradient flow: ‖∂L/∂h_{T−k}‖ for the loss at the last step, over k. A zero "probe" tensor is added to
 *   the hidden state before every step; its gradient is the gradient with respect to that hidden state.
 * - Gate activations of the first LSTM/GRU layer over a sequence, recomputed from the weights with
 *   PyTorch's equations (gate orders i, f, g, o and r, z, n), checked against the model's own step.
 */
import * as sl from 'seqlab';

type Recurrent = sl.models.RecurrentLM;
const RECURRENT = ['rnn', 'lstm', 'gru'];

export function isRecurrent(m: sl.TaskModel | null): m is Recurrent {
  return m instanceof sl.models.RecurrentLM && RECURRENT.includes(m.family);
}

export interface FlowRow { model: string; condition: string; k: number; norm: number; ratio: number }

/** Gradient norms of the last step's loss w.r.t. the hidden state k steps back, k = 1 … tokens.length − 1. */
export function gradientFlow(model: Recurrent, tokens: readonly number[], label: string, condition = 'init'): FlowRow[] {
  const T = tokens.length - 1;
  let state = model.initState(1);
  const probes: sl.Tensor[] = [];
  let logits: sl.Tensor | null = null;
  for (let t = 0; t < T; t++) {
    const z = sl.zeros([...state.h.shape], { requiresGrad: true });
    probes.push(z);
    state = { ...state, h: sl.add(state.h, z) };
    const r = model.step([tokens[t]!], state);
    logits = r.logits;
    state = r.state;
  }
  const loss = sl.losses.crossEntropy(logits!, [tokens[T]!]);
  loss.backward();
  const norms = probes.map((p) => Math.hypot(...(p.grad?.data ?? [0])));
  const last = norms[T - 1]! || 1;
  const rows: FlowRow[] = [];
  for (let k = 1; k <= T; k++) {
    const norm = norms[T - k]!;
    rows.push({ model: label, condition, k, norm, ratio: norm / last });
  }
  for (const p of model.parameters()) p.grad = null;
  return rows;
}

export interface GateRow { t: number; unit: number; gate: string; value: number; char: string }

/** First-layer gate activations of an LSTM or GRU over `tokens`, for the first `units` hidden units. */
export function gateActivations(model: Recurrent, tokens: readonly number[], chars: readonly string[], units = 16): { rows: GateRow[]; h: Float32Array } {
  if (model.family === 'rnn') throw new sl.ConfigError({ op: 'gates', expected: 'an LSTM or GRU', got: 'a vanilla RNN (it has no gates)' });
  const sd = model.stateDict();
  const cell = model.family;
  const G = cell === 'lstm' ? 4 : 3;
  const whhT = sd[`${cell}.weight_hh_l0`]!;
  const H = whhT.shape[1]!;
  // A layer built with bias: false has no bias tensors: zeros then.
  const get = (k: string): Float32Array => sd[`${cell}.${k}`]?.data ?? new Float32Array(G * H);
  const emb = sd['emb.weight']!;
  const E = emb.shape[1]!;
  const wih = get('weight_ih_l0'), whh = whhT.data, bih = get('bias_ih_l0'), bhh = get('bias_hh_l0');
  const names = cell === 'lstm' ? ['input i', 'forget f', 'cell g', 'output o'] : ['reset r', 'update z', 'new n'];
  const sig = (v: number): number => 1 / (1 + Math.exp(-v));
  let h = new Float32Array(H), c = new Float32Array(H);
  const rows: GateRow[] = [];
  const ax = new Float64Array(G * H), ah = new Float64Array(G * H);
  tokens.forEach((tok, t) => {
    const x = emb.data.subarray(tok * E, (tok + 1) * E);
    for (let r = 0; r < G * H; r++) {
      let sx = bih[r]!, shh = bhh[r]!;
      for (let j = 0; j < E; j++) sx += wih[r * E + j]! * x[j]!;
      for (let j = 0; j < H; j++) shh += whh[r * H + j]! * h[j]!;
      ax[r] = sx;
      ah[r] = shh;
    }
    const gate = new Float64Array(G * H);
    const hn = new Float32Array(H), cn = new Float32Array(H);
    for (let u = 0; u < H; u++) {
      if (cell === 'lstm') {
        const i = sig(ax[u]! + ah[u]!), f = sig(ax[H + u]! + ah[H + u]!);
        const g = Math.tanh(ax[2 * H + u]! + ah[2 * H + u]!), o = sig(ax[3 * H + u]! + ah[3 * H + u]!);
        cn[u] = f * c[u]! + i * g;
        hn[u] = o * Math.tanh(cn[u]!);
        gate[u] = i; gate[H + u] = f; gate[2 * H + u] = g; gate[3 * H + u] = o;
      } else {
        const r = sig(ax[u]! + ah[u]!), z = sig(ax[H + u]! + ah[H + u]!);
        const n = Math.tanh(ax[2 * H + u]! + r * ah[2 * H + u]!);
        hn[u] = (1 - z) * n + z * h[u]!;
        gate[u] = r; gate[H + u] = z; gate[2 * H + u] = n;
      }
    }
    for (let gi = 0; gi < G; gi++) {
      for (let u = 0; u < Math.min(units, H); u++) rows.push({ t, unit: u, gate: names[gi]!, value: gate[gi * H + u]!, char: chars[t] ?? '' });
    }
    h = hn;
    c = cn;
  });
  return { rows, h };
}
