/**
 * Threads in Chromium: a page bundled from the sources (esbuild) trains the same LSTM on 1 and on 2
 * threads. Served with COOP/COEP (cross-origin isolated) the pool of Web Workers starts and the results are
 * bit-identical to one thread; the main thread only spins (it may not block). Without isolation it runs on
 * one thread and says why. The speed ratio is printed, not asserted (2 shared cores, other load).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, serveStatic, type BrowserSession } from './harness.js';
import { bundleFromSource } from './bundle.js';

interface ThreadsResult {
  error?: string; isolated: boolean; syncBackend: string; memory: string; granted: number; identical: boolean; nParams: number; losses: number[];
  ms1: number; ms2: number; hardwareConcurrency: number; info: { threads: number; online: number; max: number; reason: string | null };
}

let dir: string;
let session: BrowserSession;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqlab-threads-'));
  await bundleFromSource(resolve(import.meta.dirname, 'apps/threads/main.ts'), dir);
  session = await launch();
});

afterAll(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(isolated: boolean): Promise<{ r: ThreadsResult; errors: string[]; warnings: string[] }> {
  const server = await serveStatic(dir, isolated);
  const { page, errors } = await session.page();
  const warnings: string[] = [];
  page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  try {
    await page.goto(server.url);
    await page.waitForFunction(() => (window as { RESULT?: unknown }).RESULT !== undefined, null, { timeout: 90_000 });
    return { r: await page.evaluate(() => (window as { RESULT?: unknown }).RESULT) as ThreadsResult, errors, warnings };
  } finally {
    await page.close();
    await server.close();
  }
}

describe('threads in Chromium', () => {
  it('cross-origin isolated: 2 threads start and train bit-identically to 1', async () => {
    const { r, errors } = await run(true);
    expect(r.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(r.isolated).toBe(true);
    expect(r.granted).toBe(2);
    expect(r.info).toMatchObject({ threads: 2, online: 1, reason: null });
    expect(r.nParams).toBeGreaterThan(300_000);
    expect(r.losses[5]!).toBeLessThan(r.losses[0]!);
    expect(r.identical).toBe(true);
    console.log(`threads in Chromium: 1 thread ${r.ms1.toFixed(1)} ms/step, 2 threads ${r.ms2.toFixed(1)} ms/step, ` +
      `speed-up ${(r.ms1 / r.ms2).toFixed(2)}× (hardwareConcurrency ${r.hardwareConcurrency})`);
  });

  it('not isolated: one thread, and it says why', async () => {
    const { r, errors, warnings } = await run(false);
    expect(r.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(r.isolated).toBe(false);
    // What the docs once said Chromium refuses: synchronous compilation on the main thread, and a shared
    // memory without isolation.
    expect(r.syncBackend).toBe('wasm');
    expect(r.memory).toBe('[object SharedArrayBuffer]');
    expect(r.granted).toBe(1);
    expect(r.info.reason).toMatch(/cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
    expect(warnings.some((w) => /setThreads\(2\): using 1 thread: this page is not cross-origin isolated/.test(w))).toBe(true);
    expect(r.identical).toBe(true);
  });
});
