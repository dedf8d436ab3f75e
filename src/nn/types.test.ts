/** Type-level pins for the options users write (P10): each @ts-expect-error must stay an error. */
import { describe, expectTypeOf, it } from 'vitest';
import * as sl from '../index.js';

describe('option and state types', () => {
  it('reject missing or mistyped options at compile time', () => {
    const ps = [sl.zeros([1], { requiresGrad: true })];
    const compileOnly = (): void => {
      // @ts-expect-error outFeatures is required
      new sl.nn.Linear({ inFeatures: 3 });
      // @ts-expect-error SGD needs a learning rate (PyTorch 1.13 has no default)
      new sl.optim.SGD(ps, {});
      // @ts-expect-error betas is a pair
      new sl.optim.Adam(ps, { betas: [0.9] });
      // @ts-expect-error reduction is a literal union
      sl.losses.mse(ps[0]!, ps[0]!, { reduction: 'avg' });
    };
    void compileOnly;
    expectTypeOf<sl.optim.ParamState["exp_avg"]>().toEqualTypeOf<sl.Tensor | undefined>();
    expectTypeOf(new sl.nn.Linear({ inFeatures: 1, outFeatures: 1 }).bias).toEqualTypeOf<sl.Tensor | null>();
    expectTypeOf(sl.clipGradNorm).returns.toEqualTypeOf<number>();
  });
});
