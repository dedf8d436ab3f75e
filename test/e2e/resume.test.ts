/**
 * Resume = one go: a run of N steps and the same run stopped halfway (by --steps, or by Ctrl-C in a real
 * process) and continued with `--resume` log the same numbers — every loss, learning rate, gradient norm,
 * validation metric and "best" mark — bit for bit, and end with the same weights. Flags that contradict
 * the checkpoint are errors naming both values; a --steps the run has already passed is refused.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { IO } from '../../cli/args.js';
import { main } from '../../cli/main.js';
import { loadCheckpoint } from '../../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'seqlab-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);
writeFileSync(p('tiny.txt'), readFileSync(new URL('../../data/tinyshakespeare.txt', import.meta.url), 'utf8').slice(0, 30_000));

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const io: IO = { stdout: { write: () => undefined }, stderr: { write: (s: string) => { err += s; } }, async *stdinLines() { /* none */ }, onInterrupt: () => () => undefined };
  return { code: await main(argv, io), err };
}

/** Every logged number that does not measure time: steps, losses, lrs, grad norms, metrics, best marks, saves. */
function numbers(log: string): unknown[] {
  const out: unknown[] = [];
  for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
    const e = JSON.parse(line) as Record<string, unknown>;
    if (e['type'] === 'step') out.push(['step', e['step'], e['loss'], e['lr'], e['gradNorm']]);
    else if (e['type'] === 'eval') out.push(['eval', e['step'], e['metrics'], e['best']]);
    else if (e['type'] === 'checkpoint') out.push(['checkpoint', e['step'], e['kind']]);
  }
  return out;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

async function sameWeights(a: string, b: string): Promise<void> {
  const [x, y] = [await loadCheckpoint(a), await loadCheckpoint(b)];
  expect(Object.keys(y.weights)).toEqual(Object.keys(x.weights));
  for (const k of Object.keys(x.weights)) expect(Buffer.from(y.weights[k]!.data.buffer).equals(Buffer.from(x.weights[k]!.data.buffer)), k).toBe(true);
}

// --eval-tokens 300 is not the training default (16384): a resumed run must keep it without being told.
const RUNS = {
  'lstm, state carried across windows, dropout': ['--model', 'lstm', '--hidden', '24', '--layers', '2', '--dropout', '0.1', '--batch', '4', '--seq-len', '16'],
  'gpt, random windows, warmup': ['--model', 'gpt', '--params', '20000', '--batch', '4', '--seq-len', '16', '--warmup', '6'],
};

describe('one go = half + --resume, every logged number bit for bit', () => {
  for (const [name, flags] of Object.entries(RUNS)) {
    it(name, async () => {
      const tag = name.split(',')[0]!;
      const base = ['train', '--data', p('tiny.txt'), ...flags, '--eval-every', '5', '--eval-tokens', '300', '--quiet'];
      expect((await run([...base, '--steps', '20', '--out', p(`${tag}-one.safetensors`)])).code).toBe(0);
      expect((await run([...base, '--steps', '10', '--out', p(`${tag}-two.safetensors`)])).code).toBe(0);
      const r = await run(['train', '--resume', p(`${tag}-two.safetensors`), '--steps', '20', '--quiet']);
      expect(r.code, r.err).toBe(0);
      const one = numbers(p(`${tag}-one.metrics.jsonl`)), two = numbers(p(`${tag}-two.metrics.jsonl`));
      expect(one.filter((e) => (e as unknown[])[0] === 'eval')).toHaveLength(4);
      expect(two).toEqual(one);
      await sameWeights(p(`${tag}-one.safetensors`), p(`${tag}-two.safetensors`));
      await sameWeights(p(`${tag}-one.best.safetensors`), p(`${tag}-two.best.safetensors`));
    });
  }

  it('stopped by Ctrl-C in a real process, then resumed with no flags', async () => {
    const flags = ['--data', p('tiny.txt'), ...RUNS['lstm, state carried across windows, dropout'], '--steps', '150', '--eval-every', '7', '--eval-tokens', '300'];
    const cli = new URL('../../cli/seqlab.ts', import.meta.url).pathname;
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', cli, 'train', ...flags, '--out', p('int.safetensors')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '', sent = false;
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (!sent && err.includes('step 1')) { sent = true; child.kill('SIGINT'); }
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code).toBe(130);
    const stoppedAt = (await loadCheckpoint(p('int.safetensors'))).training!.step;
    expect(stoppedAt).toBeLessThan(150);
    const r = await run(['train', '--resume', p('int.safetensors'), '--quiet']);
    expect(r.code, r.err).toBe(0);
    expect((await run(['train', ...flags, '--quiet', '--out', p('int-one.safetensors')])).code).toBe(0);
    // The interrupted run has one save more: its checkpoint at the step where Ctrl-C stopped it (the last
    // save logged at that step, after any evaluation's own saves there).
    const resumed = numbers(p('int.metrics.jsonl'));
    let extra = resumed.length - 1;
    while (extra >= 0 && !same(resumed[extra], ['checkpoint', stoppedAt, 'last'])) extra--;
    expect(extra).toBeGreaterThanOrEqual(0);
    resumed.splice(extra, 1);
    expect(resumed).toEqual(numbers(p('int-one.metrics.jsonl')));
    await sameWeights(p('int-one.safetensors'), p('int.safetensors'));
  });
});

describe('flags that contradict the checkpoint', () => {
  const ckpt = (): string => p('lstm-one.safetensors'); // 20 steps of the lstm run above
  it('model, data and seed flags: exit 2, one line naming each flag, its value and the checkpoint\'s', async () => {
    const r = await run(['train', '--resume', ckpt(), '--steps', '30', '--batch', '8', '--hidden', '64', '--model', 'gru', '--tokenizer', 'byte', '--seed', '7', '--eval-tokens', '500']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('seqlab train: --resume: these flags contradict the checkpoint:');
    for (const s of ['--model gru (checkpoint: lstm)', '--hidden 64 (checkpoint: 24)', '--batch 8 (checkpoint: 4)', '--tokenizer byte (checkpoint: char)', '--seed 7 (checkpoint: 1337)', '--eval-tokens 500 (checkpoint: 300)']) expect(r.err).toContain(s);
  });

  it('the same values as the checkpoint are fine (the first command line with --resume added)', async () => {
    const before = (await loadCheckpoint(ckpt())).training!;
    const r = await run(['train', '--resume', ckpt(), '--data', p('tiny.txt'), ...RUNS['lstm, state carried across windows, dropout'], '--eval-every', '5', '--eval-tokens', '300', '--steps', '25']);
    expect(r.code, r.err).toBe(0);
    // The summary's rate and seconds are this run's 5 steps; the whole training's clock is named apart.
    const m = /tokens\/s over ([\d.]+) s for this run's 5 steps \(25 steps and ([\d.]+) s in all, runs before the checkpoint included\)\n$/.exec(r.err);
    expect(m, r.err).not.toBeNull();
    const whole = (await loadCheckpoint(ckpt())).training!.elapsedMs / 1000;
    expect(Number(m![2])).toBeCloseTo(whole, 0);
    expect(Number(m![1])).toBeCloseTo(whole - before.elapsedMs / 1000, 0);
  });

  it('training options need --override, which is then taken', async () => {
    const r = await run(['train', '--resume', ckpt(), '--steps', '28', '--lr', '0.01']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--lr 0.01 (checkpoint: 0.002)');
    expect(r.err).toContain('--override');
    const o = await run(['train', '--resume', ckpt(), '--steps', '28', '--lr', '0.01', '--override', '--quiet']);
    expect(o.code, o.err).toBe(0);
    expect((await loadCheckpoint(ckpt())).training!.options['lr']).toBe(0.01);
  });

  it('--steps at or below the step the checkpoint reached is refused; so is resuming a finished run', async () => {
    const at = (await loadCheckpoint(ckpt())).training!.step;
    const r = await run(['train', '--resume', ckpt(), '--steps', '5']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`seqlab train: --steps 5: the run in ${JSON.stringify(ckpt())} is already at step ${at}; give more steps than that to train further.\n`);
    const done = await run(['train', '--resume', p('gpt-one.safetensors')]);
    expect(done.code).toBe(2);
    expect(done.err).toContain('already at step 20 of its 20');
  });
});
