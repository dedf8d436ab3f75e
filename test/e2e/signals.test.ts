/**
 * Signals and pipes with the real executable in a child process: SIGINT, SIGTERM and SIGHUP save a
 * resumable checkpoint and exit 130 / 143 / 129; a reader that goes away (`| head`, `| tee` killed by
 * Ctrl-C) never stops training — progress output degrades to nothing and the run goes on and saves; and
 * no temp file is left behind on any of these paths.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPEAT_WINDOW_MS } from '../../cli/main.js';
import { loadCheckpoint } from '../../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'seqlab-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = new URL('../../cli/seqlab.ts', import.meta.url).pathname;
writeFileSync(join(dir, 'tiny.txt'), readFileSync(new URL('../../data/tinyshakespeare.txt', import.meta.url), 'utf8').slice(0, 20_000));
const TRAIN = ['train', '--data', join(dir, 'tiny.txt'), '--model', 'gru', '--hidden', '32', '--layers', '1', '--batch', '4', '--seq-len', '16', '--eval-tokens', '256'];

interface Run { code: number | null; signal: string | null; stderr: string }

/**
 * Start `seqlab ARGS`; once stderr shows `ready` call `then(child)`. stderr is read until `closeStderrAt`
 * appears, then our end of the pipe is closed (the child's next write fails with EPIPE).
 */
function start(args: string[], opts: { ready?: string; then?: (kill: (s: NodeJS.Signals) => void) => void; closeStderrAt?: string; closeStdout?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out: ${args.join(' ')}`)); }, 60_000);
    let err = '', fired = false, closed = false;
    if (opts.closeStdout) child.stdout.destroy();
    else child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => {
      if (closed) return;
      err += d.toString();
      if (opts.closeStderrAt !== undefined && err.includes(opts.closeStderrAt)) { closed = true; child.stderr.destroy(); }
      if (!fired && opts.ready !== undefined && err.includes(opts.ready)) {
        fired = true;
        opts.then?.((s) => child.kill(s));
      }
    });
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr: err }); });
  });
}

const tmpFiles = (): string[] => readdirSync(dir).filter((f) => f.includes('.tmp'));

describe('signals: save, then exit 128 + signal number', () => {
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`${sig} saves a resumable checkpoint and exits ${code}`, async () => {
      const out = join(dir, `${sig}.safetensors`);
      const r = await start([...TRAIN, '--steps', '100000', '--eval-every', '0', '--out', out], { ready: 'step 1', then: (kill) => kill(sig) });
      expect(r.signal, r.stderr).toBeNull();
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(/stopped at step \d+; the latest checkpoint resumes it/);
      const ckpt = await loadCheckpoint(out);
      expect(ckpt.training!.step).toBeGreaterThanOrEqual(1);
      expect(tmpFiles()).toEqual([]);
    });
  }
});

/** Resolves once `child` wrote `text` to stdout (or stderr). */
function waitFor(child: ChildProcess, text: string, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    child[stream]!.on('data', (d: Buffer) => { got += d.toString(); if (got.includes(text)) resolve(got); });
  });
}

describe('a signal relayed by a wrapper is not a second signal', () => {
  // systemd, docker and a terminal signal the whole process group; npm run, npx and tsx also relay the signal
  // they get to their child, so seqlab receives it twice within milliseconds. That must still save.
  const root = new URL('../..', import.meta.url).pathname;
  // The tsx CLI SIGKILLs a child that has not acknowledged a signal within 60 ms (a training step can take
  // longer), so the package scripts run `node --import tsx`; with the tsx CLI this test failed 3 times in 4.
  for (const round of [1, 2]) {
    it(`SIGTERM to the process group of \`npm run seqlab -- train\` saves the checkpoint (round ${round})`, async () => {
      const out = join(dir, `group-${round}.safetensors`);
      const child = spawn('npm', ['run', '--silent', 'seqlab', '--', ...TRAIN, '--steps', '100000', '--eval-every', '0', '--out', out], { cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
      await waitFor(child, 'step 1/', 'stderr');
      process.kill(-child.pid!, 'SIGTERM');
      // The wrappers die at once and may take seqlab's stderr with them; wait until the whole group is gone.
      const alive = (): boolean => { try { process.kill(-child.pid!, 0); return true; } catch { return false; } };
      while (alive()) await new Promise((r) => setTimeout(r, 100));
      clearTimeout(timer);
      expect((await loadCheckpoint(out)).training!.step).toBeGreaterThanOrEqual(1);
      expect(tmpFiles()).toEqual([]);
    });
  }

  it(`a repeat within ${REPEAT_WINDOW_MS} ms is the same request; a later one quits at once with the signal's code`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', new URL('./fixtures/interrupt-repeat.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    await waitFor(child, 'ready');
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    child.kill('SIGTERM');
    await sleep(100);
    child.kill('SIGTERM'); // the relayed echo
    await sleep(300);
    expect(child.exitCode).toBeNull();
    expect(out.match(/stop /g)).toHaveLength(1);
    await sleep(REPEAT_WINDOW_MS);
    child.kill('SIGTERM'); // the user insists
    expect(await exited).toBe(143);
    expect(out).toContain('stop SIGTERM 143');
  });
});

describe('broken pipes never stop training', () => {
  it('stderr closed by the reader (| head): the run finishes every step and saves, exit 0', async () => {
    const out = join(dir, 'epipe.safetensors');
    const r = await start([...TRAIN, '--steps', '40', '--eval-every', '5', '--out', out], { closeStderrAt: 'step 1' });
    expect(r.code, r.stderr).toBe(0);
    expect((await loadCheckpoint(out)).training!.step).toBe(40);
    const log = readFileSync(join(dir, 'epipe.metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(log.at(-1)!.type).toBe('stop');
    expect(tmpFiles()).toEqual([]);
  });

  it('| tee, then Ctrl-C (tee dies first): the checkpoint is saved and the exit code is 130', async () => {
    const out = join(dir, 'tee.safetensors');
    const r = await start([...TRAIN, '--steps', '100000', '--eval-every', '5', '--out', out], {
      closeStdout: true, closeStderrAt: 'step 1', ready: 'step 1', then: (kill) => setTimeout(() => kill('SIGINT'), 300),
    });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(130);
    expect((await loadCheckpoint(out)).training!.step).toBeGreaterThanOrEqual(1);
    expect(tmpFiles()).toEqual([]);
  });

  it('generate | head: a closed stdout ends the program quietly (exit 0)', async () => {
    const out = join(dir, 'epipe.safetensors');
    const r = await start(['generate', out, '--tokens', '5000000'], { closeStdout: true }); // minutes of work unless it stops at once
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});
