import { describe, it } from 'vitest';
import type { RecurrentKind } from '../../src/kernels/index.js';
import { recurrentLayer } from '../../src/ops/recurrent.js';
import { expectGradOk, leaf64 } from '../helpers.js';

const G: Record<RecurrentKind, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3, gru_reset_before: 3 };

function setup(kind: RecurrentKind, T: number, N: number, I: number, H: number, P: number, bias: boolean) {
  const x = leaf64([T, N, I], 1);
  const wih = leaf64([G[kind] * H, I], 2, 0.5);
  const whh = leaf64([G[kind] * H, P], 3, 0.5);
  const bih = bias ? leaf64([G[kind] * H], 4, 0.5) : null;
  const bhh = bias ? leaf64([G[kind] * H], 5, 0.5) : null;
  const whr = P !== H ? leaf64([P, H], 6, 0.5) : null;
  const h0 = leaf64([N, P], 7, 0.5);
  const c0 = kind === 'lstm' ? leaf64([N, H], 8, 0.5) : null;
  const inputs = [x, wih, whh, bih, bhh, whr, h0, c0].filter((t) => t !== null);
  const run = (reverse: boolean, lengths: Int32Array | null) => () => {
    const r = recurrentLayer(kind, x, { wih, whh, bih, bhh, whr }, h0, c0, { reverse, lengths });
    return r.cn ? [r.y, r.hn, r.cn] : [r.y, r.hn];
  };
  return { inputs, run };
}

describe('fused recurrent layer: float64 finite differences w.r.t. input, initial state and every weight', () => {
  const kinds: RecurrentKind[] = ['rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'gru_reset_before'];
  for (const kind of kinds) {
    for (const reverse of [false, true]) {
      it(`${kind}${reverse ? ' reverse' : ''}`, () => {
        const { inputs, run } = setup(kind, 4, 3, 3, 4, 4, true);
        expectGradOk(run(reverse, null), inputs);
      });
      it(`${kind}${reverse ? ' reverse' : ''} with lengths [4, 2, 1]`, () => {
        const { inputs, run } = setup(kind, 4, 3, 3, 4, 4, true);
        expectGradOk(run(reverse, Int32Array.from([4, 2, 1])), inputs);
      });
    }
    it(`${kind} without bias, batch 1, one step`, () => {
      const { inputs, run } = setup(kind, 1, 1, 2, 3, 3, false);
      expectGradOk(run(false, null), inputs);
    });
  }
  it('lstm with projection (P < H), both directions, lengths', () => {
    const { inputs, run } = setup('lstm', 4, 2, 3, 5, 2, true);
    expectGradOk(run(false, null), inputs);
    expectGradOk(run(true, Int32Array.from([3, 4])), inputs);
  });
});
