/**
 * The published package in a user's app: `npm pack` the repository (prepack builds dist/), install the
 * tarball into a tiny app running the README's training snippet, bundle it with Vite (production, minified)
 * and with esbuild, and run each bundle in headless Chromium. Training must work (the loss falls) with no
 * console error — a bundler that drops the tensor methods breaks `loss.backward()` here.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, serveStatic, type BrowserSession } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const APP_SRC = resolve(import.meta.dirname, 'apps/train');

interface TrainResult { backend?: string; losses?: number[]; error?: string }

let work: string;
let app: string;
let session: BrowserSession;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'seqlab-bundlers-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string }[];
  const tarball = join(work, packed[0]!.filename);
  app = join(work, 'app');
  mkdirSync(app);
  cpSync(APP_SRC, app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { seqlab: `file:${tarball}` } }));
  // The tarball's runtime dependencies (used only by seqlab/experiments and the PyTorch/tokenizer readers) are in
  // npm's cache after `npm ci`; prefer it, fall back to the registry.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, stdio: 'pipe' });
  session = await launch();
}, 180_000);

afterAll(async () => {
  await session?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function runBundle(dir: string): Promise<{ result: TrainResult; errors: string[] }> {
  const server = await serveStatic(dir);
  const { page, errors } = await session.page();
  try {
    await page.goto(server.url);
    await page.waitForFunction(() => (window as { RESULT?: unknown }).RESULT !== undefined, null, { timeout: 60_000 });
    const result = await page.evaluate(() => (window as { RESULT?: unknown }).RESULT) as TrainResult;
    return { result, errors };
  } finally {
    await page.close();
    await server.close();
  }
}

function expectTrains({ result, errors }: { result: TrainResult; errors: string[] }): void {
  expect(result.error).toBeUndefined();
  expect(errors).toEqual([]);
  expect(result.backend).toBe('wasm');
  const losses = result.losses ?? [];
  expect(losses).toHaveLength(20);
  expect(losses.every(Number.isFinite)).toBe(true);
  // ln 65 ≈ 4.17 at the start; 20 AdamW steps on one fixed batch memorise it.
  expect(losses[0]).toBeGreaterThan(3.5);
  expect(losses[19]!).toBeLessThan(losses[0]! * 0.5);
}

describe('the packed package in a bundled app, in Chromium', () => {
  it('Vite production build (minified) trains', async () => {
    const { build } = await import('vite');
    const outDir = join(app, 'dist-vite');
    await build({ root: app, configFile: false, logLevel: 'warn', mode: 'production', build: { outDir, minify: true } });
    expectTrains(await runBundle(outDir));
  }, 120_000);

  it('esbuild bundle (minified) trains', async () => {
    const esbuild = await import('esbuild');
    const outDir = join(app, 'dist-esbuild');
    await esbuild.build({ entryPoints: [join(app, 'main.js')], absWorkingDir: app, bundle: true, minify: true, format: 'esm', outdir: outDir, logLevel: 'warning' });
    cpSync(join(app, 'index.html'), join(outDir, 'index.html'));
    expectTrains(await runBundle(outDir));
  }, 120_000);
});
