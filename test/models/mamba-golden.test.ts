/**
 * MambaLM / Mamba2LM against PyTorch (tools/golden/gen_mamba.py, written from mamba_ssm's reference
 * paths): logits at every position, the final conv and SSM caches, and the gradient of every parameter
 * for the fixture's upstream gradient. The models are built with `fromStateDict` from the official keys,
 * and Mamba-2 is run with several chunk lengths, dividing the sequence or not.
 */
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { loadFixture, type Fixture } from '../golden/load.js';
import { expectClose } from '../helpers.js';

function check(f: Fixture, m: sl.models.LanguageModel<sl.models.MambaState>): void {
  const tokens = sl.tensor(f.ints('in.tokens'), f.get('in.tokens').shape);
  const { logits, state } = m.forward(tokens);
  expectClose(logits, f.get('out.logits'), 2e-5, 2e-4, `${f.name} logits`);
  state.layers.forEach((l, i) => {
    expectClose(l.conv, f.get(`out.conv_state.${i}`), 2e-5, 2e-4, `${f.name} conv_state.${i}`);
    expectClose(l.ssm, f.get(`out.ssm_state.${i}`), 2e-5, 2e-4, `${f.name} ssm_state.${i}`);
  });
  m.zeroGrad();
  sl.sum(sl.mul(logits, f.get('up.logits'))).backward();
  const params = Object.fromEntries(m.namedParameters());
  const names = f.keys('grad.param.');
  expect(names.length).toBe(m.parameters().length);
  for (const k of names) expectClose(params[k]!.grad!, f.get(`grad.param.${k}`), 2e-5, 2e-4, `${f.name} grad ${k}`);
}

const params = (f: Fixture) => Object.fromEntries(f.keys('param.').map((k) => [k, f.get(`param.${k}`)]));

describe('Mamba-1 matches PyTorch (selective_scan_ref)', () => {
  for (const name of ['mamba_tiny', 'mamba_bias_short']) {
    it(name, () => {
      const f = loadFixture(name);
      const m = sl.models.MambaLM.fromStateDict(params(f));
      expect(m.config).toMatchObject({
        dModel: f.config['dModel'], nLayer: f.config['nLayer'], dState: f.config['dState'], dConv: f.config['dConv'],
        dtRank: f.config['dtRank'], bias: f.config['bias'], convBias: f.config['convBias'],
      });
      check(f, m);
    });
  }
});

describe('Mamba-2 matches PyTorch (ssd_minimal_discrete), for every chunk length', () => {
  for (const name of ['mamba2_tiny', 'mamba2_groups']) {
    for (const chunkSize of [1, 2, 4, 64]) {
      it(`${name}, chunks of ${chunkSize}`, () => {
        const f = loadFixture(name);
        const m = sl.models.Mamba2LM.fromStateDict(params(f), { ngroups: f.config['ngroups'] as number, chunkSize });
        expect(m.config).toMatchObject({ headdim: f.config['headdim'], DHasHdim: f.config['DHasHdim'], dState: f.config['dState'] });
        check(f, m);
      });
    }
  }
});
