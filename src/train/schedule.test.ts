import { describe, expect, it } from 'vitest';
import * as sl from '../index.js';

const { StepLR, CosineAnnealingLR, ConstantLR, WarmupCosineLR, warmupCosineLr } = sl.optim.lrScheduler;

const opt = (lr = 0.1) => new sl.optim.SGD([sl.zeros([1], { requiresGrad: true })], { lr });

/** The lr in effect at steps 0..n−1 when `step()` is called after each optimizer step. */
function trace(s: { step(): void; optimizer: { paramGroups: { lr: number }[] } }, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) { out.push(s.optimizer.paramGroups[0]!.lr); s.step(); }
  return out;
}

describe('LR schedulers', () => {
  it('StepLR, ConstantLR and CosineAnnealingLR follow their closed forms', () => {
    expect(trace(new StepLR(opt(), { stepSize: 2, gamma: 0.5 }), 5)).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
    expect(trace(new ConstantLR(opt(0.3), { factor: 0.5, totalIters: 2 }), 4)).toEqual([0.15, 0.15, 0.3, 0.3]);
    const cos = trace(new CosineAnnealingLR(opt(), { tMax: 4, etaMin: 0.01 }), 5);
    expect(cos[0]).toBeCloseTo(0.1, 12);
    expect(cos[2]).toBeCloseTo(0.055, 12);
    expect(cos[4]).toBeCloseTo(0.01, 12);
  });

  it("WarmupCosineLR is nanoGPT's get_lr", () => {
    const o = { warmupSteps: 2, decaySteps: 6, maxLr: 1, minLr: 0.1 };
    const s = new WarmupCosineLR(opt(), o);
    const lrs = trace(s, 9);
    expect(lrs.slice(0, 2)).toEqual([1 / 3, 2 / 3]);
    expect(lrs[2]).toBe(1);
    expect(lrs[4]).toBeCloseTo(0.55, 12);
    expect(lrs.slice(6)).toEqual([0.1, 0.1, 0.1]); // the cosine ends at minLr at decaySteps, then stays
    expect(s.lrAt(3)).toBe(warmupCosineLr(3, o));
    expect(s.getLastLr()).toEqual([0.1]);
  });

  it('state dict round trip continues the schedule', () => {
    const a = new StepLR(opt(), { stepSize: 2, gamma: 0.5 });
    trace(a, 3);
    const o2 = opt();
    const b = new StepLR(o2, { stepSize: 2, gamma: 0.5 });
    b.loadStateDict(a.stateDict());
    a.step(); b.step();
    expect(b.getLastLr()).toEqual(a.getLastLr());
    expect(o2.paramGroups[0]!.lr).toBe(a.optimizer.paramGroups[0]!.lr);
  });

  it('validates options', () => {
    expect(() => new WarmupCosineLR(opt(), { warmupSteps: 5, decaySteps: 5, minLr: 0 })).toThrowErrorMatchingInlineSnapshot(`[ConfigError: WarmupCosineLR: expected decaySteps > warmupSteps (5), got 5.]`);
  });
});
