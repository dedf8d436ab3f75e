/**
 * The worker pool's wake/park protocol (wasm/assembly/parallel.ts) at any thread count: many short jobs of
 * every width over 1 … 64 threads, and whole training runs at SEQLAB_THREADS=32 and 64, each in a child
 * process with a deadline (a hang in wasm cannot be interrupted in-process). Before per-worker wake-ups,
 * both hung: a job that woke "any T−1 sleepers" could wake non-participants and leave its own asleep.
 * And the chunk claiming: jobs finish with workers held, asleep or late, each unit run exactly once.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { setThreads } from '../../src/index.js';
import { loadWasmModuleSync } from '../../src/kernels/wasm/index.js';
import { checkThreads, defaultThreads, DEFAULT_MAX_THREADS, MAX_THREADS } from '../../src/kernels/wasm/threads.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'seqlab-threads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const shared = loadWasmModuleSync('relaxed-shared') !== null;

describe.runIf(shared)('worker pool stress', () => {
  it('3,400 short GEMMs over 1 … 64 threads finish and equal one thread bit for bit', () => {
    const counts = ['1', '2', '3', '4', '5', '7', '8', '9', '15', '16', '17', '31', '32', '33', '48', '63', '64'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', join(root, 'test/kernels/fixtures/thread-stress.ts'), ...counts],
      { encoding: 'utf8', timeout: 90_000, env: { ...process.env, STRESS_JOBS: '200' } });
    expect(r.signal, `hung (killed by ${r.signal}); stderr: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ jobs: 3400, mismatches: 0, online: 63 });
  });

  // Chunks are claimed, so nobody has to take part: a worker held mid-claim, asleep, or let go late never
  // stalls a job, runs a unit twice or runs one with another job's arguments (fixtures/pool-claims.ts).
  for (const threads of ['2', '4', '9']) {
    it(`chunks are claimed once each with workers held, asleep and late (${threads} threads)`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', join(root, 'test/kernels/fixtures/pool-claims.ts'), threads],
        { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CLAIM_JOBS: '3000' } });
      expect(r.signal, `hung (killed by ${r.signal}); stderr: ${r.stderr}`).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ jobs: 3263, gemms: 150, mismatches: 0, errors: [], workersRan: true });
    });
  }

  for (const threads of ['32', '64']) {
    it(`training with SEQLAB_THREADS=${threads} finishes, twice`, () => {
      for (let run = 0; run < 2; run++) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', join(root, 'cli/seqlab.ts'), 'train', '--model', 'lstm', '--hidden', '64',
          '--layers', '1', '--steps', '3', '--eval-every', '3', '--eval-tokens', '256', '--quiet', '--out', join(dir, `t${threads}-${run}.safetensors`)],
          { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SEQLAB_THREADS: threads } });
        expect(r.signal, `hung (killed by ${r.signal}); stderr: ${r.stderr}`).toBeNull();
        expect(r.status, r.stderr).toBe(0);
      }
    });
  }
});

describe('thread counts', () => {
  it('an invalid count is refused with a message naming where it came from', () => {
    for (const bad of [0, -3, 2.5, Number.NaN, MAX_THREADS + 1, 1e9]) {
      expect(() => setThreads(bad)).toThrow(`setThreads: expected an integer from 1 to ${MAX_THREADS} (threads in all, this one included), got ${bad}.`);
    }
    for (const bad of ['abc', '0', '-1', '', '4x', '99999']) expect(() => checkThreads(bad, 'SEQLAB_THREADS')).toThrow(`SEQLAB_THREADS: expected an integer from 1 to ${MAX_THREADS}`);
    expect(checkThreads(' 12 ', 'SEQLAB_THREADS')).toBe(12);
  });

  it('SEQLAB_THREADS is validated; unset, the default is the core count capped at DEFAULT_MAX_THREADS', () => {
    const saved = process.env['SEQLAB_THREADS'];
    try {
      process.env['SEQLAB_THREADS'] = 'abc';
      expect(() => defaultThreads()).toThrow('SEQLAB_THREADS: expected an integer from 1 to 256 (threads in all, this one included), got "abc".');
      process.env['SEQLAB_THREADS'] = '40';
      expect(defaultThreads()).toBe(40);
      delete process.env['SEQLAB_THREADS'];
      expect(defaultThreads()).toBeGreaterThanOrEqual(1);
      expect(defaultThreads()).toBeLessThanOrEqual(DEFAULT_MAX_THREADS);
    } finally {
      if (saved === undefined) delete process.env['SEQLAB_THREADS'];
      else process.env['SEQLAB_THREADS'] = saved;
    }
  });
});
