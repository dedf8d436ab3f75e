/**
 * The experiments at their tiny size, with fixed seeds: the claims that must hold at that size (the ones
 * that do not depend on training long or on timing), the result object's shape, that every claim is
 * recomputed from the rows the same way, and that each SVG is a well-formed plot with axes, a legend and
 * one legend entry per series. Timing claims are never asserted (bench/ is for timing).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as experiments from 'seqlab/experiments';
import { main } from '../../cli/main.js';
import { byClass, parseSvg, textsIn, type SvgNode } from './svg.js';

const TEXT = readFileSync(new URL('../../data/tinyshakespeare.txt', import.meta.url), 'utf8');
const results = new Map<string, experiments.ExperimentResult>();
const svgs = new Map<string, SvgNode>();

beforeAll(async () => {
  for (const name of experiments.experimentNames) {
    const r = await experiments.run(name, { size: 'tiny', seed: 1337, text: TEXT });
    results.set(name, r);
    svgs.set(name, parseSvg(await experiments.renderSVG(r)));
  }
}, 120_000);

const res = (name: string): experiments.ExperimentResult => results.get(name)!;
const claimAbout = (name: string, words: RegExp): experiments.Claim => {
  const c = res(name).claims.find((x) => words.test(x.text));
  if (!c) throw new Error(`${name}: no claim matching ${words}`);
  return c;
};

describe('every experiment', () => {
  it('has the nine names of the issue', () => {
    expect([...experiments.experimentNames]).toEqual(['gradient-flow', 'exploding', 'adding', 'selective-copy', 'induction', 'bidirectional', 'memory', 'sequential', 'gru-vs-lstm']);
  });

  it.each(['gradient-flow', 'exploding', 'adding', 'selective-copy', 'induction', 'bidirectional', 'memory', 'sequential', 'gru-vs-lstm'])('%s returns the result object with rows and computed claims', (name) => {
    const r = res(name);
    expect(r.name).toBe(name);
    expect(r.size).toBe('tiny');
    expect(r.quick).toBe(true);
    expect(r.seed).toBe(1337);
    expect(r.rows.length).toBeGreaterThan(0);
    expect(r.claims.length).toBeGreaterThan(0);
    for (const c of r.claims) {
      expect(typeof c.holds).toBe('boolean');
      expect(c.text.length).toBeGreaterThan(10);
      expect(c.evidence.length).toBeGreaterThan(10);
    }
    // JSON round trip: nothing that JSON cannot hold (NaN, undefined, functions).
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    const md = experiments.markdown(r);
    for (const c of r.claims) expect(md).toContain(c.text);
    expect(md).toMatch(/\| .* \|\n\|---/);
  });

  it.each([
    ['gradient-flow', ['rnn', 'lstm', 'lstm-c', 'gru'], ['k (steps back from the loss)', 'gradient ratio (log)']],
    ['exploding', ['rnn', 'rnn-r1.5', 'rnn-r3'], ['training step', 'gradient norm before clipping (log)', 'training loss (log)']],
    ['adding', ['rnn', 'lstm'], ['sequence length T (log)', 'test MSE (log)']],
    ['selective-copy', ['mamba', 'mamba-lti', 'lstm', 'gpt'], ['model', 'accuracy']],
    ['induction', ['mamba', 'lstm', 'gpt'], ['test length (log₂)', 'accuracy']],
    ['bidirectional', ['lstm', 'lstm-bidir'], ['model', 'accuracy']],
    ['memory', ['rnn', 'lstm', 'gru', 'gpt', 'mamba', 'mamba2', 'rwkv6', 'rwkv7'], ['context length (tokens, log)', 'state bytes per stream (log)', 'µs per token (log)']],
    ['sequential', ['lstm', 'gpt', 'mamba2', 'rwkv7'], ['sequence length T (log₂)', 'ms per training step (log)']],
    ['gru-vs-lstm', ['lstm', 'gru'], ['model', 'parameters', 'val loss (nats/char)']],
  ])('%s.svg is a plot: axes with titles, a legend naming each series, marks', (name, series, axisTitles) => {
    const extraLegend = name === 'exploding' ? ['clip 1.0', 'no clip'] : []; // its second legend: clipping
    const svg = svgs.get(name)!;
    expect(Number(svg.attrs['width'])).toBeGreaterThan(100);
    expect(byClass(svg, 'role-axis').length).toBeGreaterThanOrEqual(2);
    const titles = textsIn(svg, 'role-axis-title');
    for (const t of axisTitles) expect(titles).toContain(t);
    expect(new Set(textsIn(svg, 'role-legend-label'))).toEqual(new Set([...series, ...extraLegend]));
    // The series in the data are the legend's (nothing plotted that the legend does not name).
    expect(new Set(res(name).rows.map((r) => r['model']))).toEqual(new Set(series));
    expect(byClass(svg, 'role-mark').length).toBeGreaterThan(0);
    expect(textsIn(svg, 'role-title-text')[0]!.length).toBeGreaterThan(5);
  });
});

describe('claims that must hold at the tiny size', () => {
  it('gradient-flow: the tanh-RNN\'s e-folding distance is short, shorter than the open-gated LSTM\'s and GRU\'s', () => {
    const s = res('gradient-flow').summary!;
    const ef = (m: string, c: string) => s.find((r) => r.model === m && r.condition === c)!['efold'] as number | null;
    expect(ef('rnn', 'init')).not.toBeNull();
    expect(ef('rnn', 'init')!).toBeLessThan(15);
    const lstmOpen = ef('lstm-c', 'open-gates') ?? Infinity;
    expect(lstmOpen).toBeGreaterThan(5 * ef('rnn', 'open-gates')!);
    expect(ef('gru', 'open-gates') ?? Infinity).toBeGreaterThan(ef('rnn', 'open-gates')!);
    expect(claimAbout('gradient-flow', /10–15 steps/).holds).toBe(true);
    expect(claimAbout('gradient-flow', /carries gradient further than the plain RNN/).holds).toBe(true);
    // Ratios start at 1 (k = 0) and the rows cover k = 0 … T−1 for every model and condition.
    const rows = res('gradient-flow').rows;
    const T = res('gradient-flow').config['T'] as number;
    for (const r of rows.filter((x) => x['k'] === 0)) expect(r['ratio']).toBeCloseTo(1, 6);
    expect(rows.length).toBe(4 * 3 * T);
  });

  it('exploding: a larger spectral radius gives a larger first-step gradient; clipped runs stay finite', () => {
    const c = claimAbout('exploding', /first step/);
    expect(c.holds).toBe(true);
    const first = (m: string) => res('exploding').rows.find((r) => r['model'] === m && r['clip'] === false && r['step'] === 0)!['gradNorm'] as number;
    expect(first('rnn-r3')).toBeGreaterThan(first('rnn-r1.5'));
    expect(first('rnn-r1.5')).toBeGreaterThan(first('rnn'));
    // Clipped runs stay finite.
    for (const r of res('exploding').rows.filter((x) => x['clip'] === true)) expect(Number.isFinite(r['loss'])).toBe(true);
  });

  it('adding: every MSE is finite and the baseline is about 1/6', () => {
    for (const r of res('adding').rows) {
      expect(Number.isFinite(r['mse'])).toBe(true);
      expect(r['baseline'] as number).toBeGreaterThan(0.12);
      expect(r['baseline'] as number).toBeLessThan(0.22);
    }
  });

  it('induction: GPT past its block size is reported as not runnable, not crashed', () => {
    const gpt = res('induction').rows.filter((r) => r['model'] === 'gpt');
    expect(gpt.filter((r) => (r['testLength'] as number) > (r['trainLength'] as number)).every((r) => r['accuracy'] === null && /block size/.test(String(r['note'])))).toBe(true);
    expect(gpt.find((r) => r['testLength'] === r['trainLength'])!['accuracy']).not.toBeNull();
    expect(claimAbout('induction', /block size/).holds).toBe(true);
  });

  it('bidirectional: the unidirectional LSTM is at chance, the bidirectional one solves it and cannot step', () => {
    for (const c of res('bidirectional').claims) expect(c.holds, c.text).toBe(true);
    expect(claimAbout('bidirectional', /step\(\)/).evidence).toMatch(/bidirectional model needs the whole sequence/);
  });

  it('memory: the KV cache grows while every recurrent state stays the same size', () => {
    expect(claimAbout('memory', /constant state/).holds).toBe(true);
    expect(claimAbout('memory', /KV cache grows/).holds).toBe(true);
    const rows = res('memory').rows;
    const gpt = rows.filter((r) => r['model'] === 'gpt').map((r) => r['stateBytes'] as number);
    for (let i = 1; i < gpt.length; i++) expect(gpt[i]!).toBeGreaterThan(gpt[i - 1]!);
  });

  it('sequential: the serial chain is T per layer for the LSTM, the layer count for GPT', () => {
    for (const r of res('sequential').rows) {
      if (r['model'] === 'lstm' || r['model'] === 'rwkv7') expect(r['serialSteps']).toBe(2 * (r['T'] as number));
      if (r['model'] === 'gpt') expect(r['serialSteps']).toBe(2);
      expect(r['msPerStep'] as number).toBeGreaterThan(0);
    }
  });

  it('gru-vs-lstm: the recurrent-parameter ratio is exactly 0.75', () => {
    expect(claimAbout('gru-vs-lstm', /25% fewer/).holds).toBe(true);
    const p = (m: string) => res('gru-vs-lstm').rows.find((r) => r['model'] === m)!['recurrentParams'] as number;
    expect(p('gru') / p('lstm')).toBe(0.75);
  });
});

describe('API and CLI errors', () => {
  it('an unknown name or size is a clear error', async () => {
    await expect(experiments.run('nope')).rejects.toThrow(/experiments\.run: expected an experiment name among gradient-flow, .*got "nope"/);
    await expect(experiments.run('memory', { size: 'huge' as experiments.ExperimentSize })).rejects.toThrow(/size one of tiny, quick, full/);
    await expect(experiments.run('gru-vs-lstm', { size: 'tiny' })).rejects.toThrow(/options\.text/);
  });

  it('seqlab experiment writes NAME.json, NAME.svg and NAME.md; bad names exit 2 with one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqlab-exp-'));
    let out = '', err = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, stdinLines: async function* () {}, onInterrupt: () => () => {} };
    expect(await main(['experiment', 'bidirectional', '--size', 'tiny', '--out', dir], io)).toBe(0);
    for (const ext of ['json', 'svg', 'md']) expect(existsSync(join(dir, `bidirectional.${ext}`))).toBe(true);
    const json = JSON.parse(readFileSync(join(dir, 'bidirectional.json'), 'utf8')) as experiments.ExperimentResult;
    expect(json.claims.map((c) => c.holds)).toEqual([true, true, true]);
    expect(out).toMatch(/held {8} {2}A bidirectional LSTM solves it/);
    expect(readFileSync(join(dir, 'bidirectional.md'), 'utf8')).toMatch(/!\[bidirectional\]\(bidirectional\.svg\)/);
    // --from re-judges the JSON without running: edit a row, and the rewritten report follows it.
    const edited = { ...json, rows: json.rows.map((r) => (r['model'] === 'lstm-bidir' ? { ...r, accuracy: 0.5 } : r)) };
    writeFileSync(join(dir, 'bidirectional.json'), JSON.stringify(edited));
    expect(await main(['experiment', 'bidirectional', '--from', dir], io)).toBe(0);
    expect(readFileSync(join(dir, 'bidirectional.md'), 'utf8')).toMatch(/\*\*did not hold\*\* — A bidirectional LSTM solves it/);
    err = '';
    expect(await main(['experiment', 'nope'], io)).toBe(2);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/NAME: expected one of gradient-flow, .* or all, got "nope"/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('claims are computed from the rows', () => {
  it('judge() on a result\'s own rows gives its claims; on edited rows the claims follow the edit', () => {
    for (const name of experiments.experimentNames) expect(experiments.judge(res(name))).toEqual(res(name).claims);
    // A KV cache that stops growing, and an RNN whose gradient stops decaying: the claims turn.
    const mem = res('memory');
    const flatGpt = { ...mem, rows: mem.rows.map((r) => (r['model'] === 'gpt' ? { ...r, stateBytes: 1000 } : r)) };
    expect(experiments.judge(flatGpt).find((c) => /KV cache grows/.test(c.text))!.holds).toBe(false);
    const gf = res('gradient-flow');
    const noDecay = { ...gf, rows: gf.rows.map((r) => (r['model'] === 'rnn' ? { ...r, ratio: 1 } : r)) };
    const turned = experiments.judge(noDecay);
    expect(turned.find((c) => /10–15 steps/.test(c.text))!.holds).toBe(false);
    expect(turned.find((c) => /carries gradient further than the plain RNN/.test(c.text))!.holds).toBe(false);
  });
});
