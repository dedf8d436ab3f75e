/** Type-level pins for what Mamba users write and hold (P10): each @ts-expect-error must stay an error. */
import { describe, expectTypeOf, it } from 'vitest';
import * as sl from '../../index.js';

describe('Mamba option, state and key types', () => {
  it('config, state and state-dict keys are typed', () => {
    const compileOnly = (m: sl.models.MambaLM, m2: sl.models.Mamba2LM): void => {
      // @ts-expect-error mamba_ssm's d_model is dModel, and it is required with nLayer and vocabSize
      new sl.models.MambaLM({ d_model: 8, nLayer: 1, vocabSize: 5 });
      // @ts-expect-error dtRank is a number or 'auto'
      new sl.models.MambaLM({ dModel: 8, nLayer: 1, vocabSize: 5, dtRank: 'half' });
      // @ts-expect-error headdim is a Mamba-2 option
      new sl.models.MambaLM({ dModel: 8, nLayer: 1, vocabSize: 5, headdim: 4 });
      // @ts-expect-error AInitRange is a pair
      new sl.models.Mamba2LM({ dModel: 8, nLayer: 1, vocabSize: 5, AInitRange: [1, 4, 16] });
      // @ts-expect-error step takes one token per stream
      m.step([[1, 2]], m.initState(1));
      // @ts-expect-error x_proj is Mamba-1's; Mamba-2 has no such key
      const k2: sl.models.Mamba2StateDictKey = 'backbone.layers.0.mixer.x_proj.weight';
      // @ts-expect-error dt_bias is Mamba-2's
      const k1: sl.models.MambaStateDictKey = 'backbone.layers.0.mixer.dt_bias';
      void [k1, k2, m2];
    };
    void compileOnly;
    expectTypeOf<sl.models.MambaState>().toEqualTypeOf<{ layers: sl.models.MambaLayerState[] }>();
    expectTypeOf<sl.models.MambaLayerState>().toEqualTypeOf<{ conv: sl.Tensor; ssm: sl.Tensor }>();
    expectTypeOf<'backbone.layers.23.mixer.A_log'>().toMatchTypeOf<sl.models.MambaStateDictKey>();
    expectTypeOf<'backbone.layers.0.mixer.norm.weight'>().toMatchTypeOf<sl.models.Mamba2StateDictKey>();
    expectTypeOf<sl.models.MambaLM['config']['dtRank']>().toEqualTypeOf<number>();
    expectTypeOf<sl.models.Mamba2LM['config']['chunkSize']>().toEqualTypeOf<number>();
    expectTypeOf<sl.models.MambaLM['family']>().toEqualTypeOf<'mamba'>();
    expectTypeOf<ReturnType<sl.models.Mamba2LM['forward']>['state']>().toEqualTypeOf<sl.models.MambaState>();
  });
});
