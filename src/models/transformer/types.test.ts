/** Type-level pins for what GPT users write and hold (P10): each @ts-expect-error must stay an error. */
import { describe, expectTypeOf, it } from 'vitest';
import * as sl from '../../index.js';

describe('GPT option, state and key types', () => {
  it('config, state and state-dict keys are typed', () => {
    const compileOnly = (m: sl.models.GPT): void => {
      // @ts-expect-error nanoGPT's n_layer is nLayer
      new sl.models.GPT({ nLayers: 2 });
      // @ts-expect-error bias is a boolean
      new sl.models.GPT({ bias: 'yes' });
      // @ts-expect-error step takes one token per stream, not a batch of sequences
      m.step([[1, 2]], m.initState(1));
      // @ts-expect-error not a nanoGPT key
      const k: sl.models.GPTStateDictKey = 'transformer.h.0.attn.q_proj.weight';
      void k;
    };
    void compileOnly;
    expectTypeOf<sl.models.GPTState>().toEqualTypeOf<{ layers: sl.models.GPTLayerCache[] }>();
    expectTypeOf<sl.models.GPTLayerCache>().toEqualTypeOf<{ k: sl.Tensor; v: sl.Tensor }>();
    expectTypeOf<'transformer.h.11.mlp.c_proj.bias'>().toMatchTypeOf<sl.models.GPTStateDictKey>();
    expectTypeOf<sl.models.GPT['config']['nHead']>().toEqualTypeOf<number>();
    expectTypeOf<ReturnType<sl.models.GPT['step']>['logits']>().toEqualTypeOf<sl.Tensor>();
  });
});
