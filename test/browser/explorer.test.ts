/**
 * The explorer, built as a static site (vite build) and served with COOP/COEP, driven in Chromium as a
 * learner would: build an LSTM on Tiny Shakespeare, train it a few seconds (the loss must fall), measure
 * gradient flow (RNN, LSTM, GRU and this model), show gates, stream 50 tokens, save a checkpoint that Node
 * then loads with the same parameters, load it back, and drop a PyTorch state dict. Any console error
 * fails. Screenshots at 1280×800 and at phone width go to test/browser/artefacts/.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sl from 'seqlab';
import { ARTEFACTS, launch, serveStatic, type BrowserSession, type StaticServer } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');

let session: BrowserSession;
let server: StaticServer;
let page: Page;
let errors: string[];
let work: string;

function weightSums(model: sl.TaskModel): { sum: number; sq: number } {
  let sum = 0, sq = 0;
  for (const t of Object.values(model.stateDict())) for (const v of t.data) { sum += v; sq += v * v; }
  return { sum, sq };
}

async function fileStats(): Promise<{ sum: number; sq: number }> {
  const d = await page.locator('#file-stats').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
  return { sum: Number(d['sum']), sq: Number(d['sq']) };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'seqlab-explorer-'));
  const out = join(work, 'site');
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'explorer/vite.config.ts'), logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
  server = await serveStatic(out, true);
  session = await launch();
  ({ page, errors } = await session.page());
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
  mkdirSync(ARTEFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await session?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the explorer in Chromium', () => {
  it('starts the worker on wasm with threads (cross-origin isolated)', async () => {
    const env = await page.locator('#env').textContent();
    expect(env).toMatch(/wasm backend in a Web Worker · \d+ threads? /);
    const hc = await page.evaluate(() => navigator.hardwareConcurrency);
    if (hc > 1) expect(env).toContain(`${hc} threads (cross-origin isolated)`);
  });

  it('is keyboard-usable: Tab reaches the pickers and the build button in order', async () => {
    await page.locator('#family').focus();
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement?.id ?? ''));
    }
    expect(order).toEqual(['task', 'params', 'build']);
  });

  it('builds an LSTM on Tiny Shakespeare and trains it in the worker: the loss falls', async () => {
    await page.selectOption('#family', 'lstm');
    await page.selectOption('#task', 'shakespeare');
    await page.selectOption('#params', '25000');
    await page.keyboard.press('Enter'); // focus is on Build (previous test)
    await page.waitForSelector('body[data-family="lstm"]', { timeout: 30_000 });
    expect(await page.locator('#model-info').textContent()).toMatch(/LSTM · [\d,]+ parameters · vocabulary 65 · state .* whatever the length/);
    await page.fill('#seconds', '4');
    await page.fill('#lr', '0.01');
    await page.click('#train');
    await page.waitForSelector('#train-stats[data-last-loss]', { timeout: 60_000 });
    const d = await page.locator('#train-stats').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
    const first = Number(d['firstLoss']), last = Number(d['lastLoss']);
    expect(Number(d['steps'])).toBeGreaterThan(5);
    expect(first).toBeGreaterThan(3.5); // ≈ ln 65 at the start
    expect(last).toBeLessThan(first - 0.5);
    expect(await page.locator('#loss-chart svg path').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTEFACTS, 'explorer-trained-1280.png') });
  });

  it('shows gradient flow for RNN, LSTM, GRU and this model, and the gates', async () => {
    await page.click('#flow-run');
    await page.waitForSelector('#flow-chart[data-models="4"] svg', { timeout: 60_000 });
    const legend = await page.locator('#flow-chart svg').textContent();
    for (const m of ['RNN', 'LSTM', 'GRU', 'init', 'trained']) expect(legend).toContain(m);
    await page.click('#gates-run');
    await page.waitForSelector('#gates-chart svg', { timeout: 30_000 });
    expect(await page.locator('#gates-chart svg').textContent()).toContain('forget f');
    await page.locator('#flow').screenshot({ path: join(ARTEFACTS, 'explorer-gradient-flow.png') });
  });

  it('streams 50 tokens with a constant state next to the growing KV cache', async () => {
    await page.fill('#stream-tokens', '50');
    await page.fill('#prompt', 'ROMEO:');
    await page.click('#stream-run');
    await page.waitForSelector('#stream-stats[data-tokens="50"]', { timeout: 30_000 });
    const text = await page.locator('#stream-out').textContent();
    expect([...(text ?? '')].length).toBe('ROMEO:'.length + 50);
    expect(await page.locator('#state-chart svg').textContent()).toContain('GPT of the same size (KV cache)');
    await page.locator('#stream').screenshot({ path: join(ARTEFACTS, 'explorer-stream.png') });
    await page.screenshot({ path: join(ARTEFACTS, 'explorer-1280-full.png'), fullPage: true });
    // The top of the page with every chart of a run: the README's picture (docs/explorer.png is a copy).
    const bottom = await page.locator('#flow').evaluate((el) => el.getBoundingClientRect().bottom + window.scrollY);
    await page.screenshot({ path: join(ARTEFACTS, 'explorer-readme.png'), fullPage: true, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) + 16 } });
  });

  it('saves a checkpoint that Node loads with the same parameters, and loads it back', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    const file = join(work, download.suggestedFilename());
    await download.saveAs(file);
    await page.waitForSelector('#file-stats[data-sum]');
    const inPage = await fileStats();
    const ckpt = sl.decodeCheckpoint(new Uint8Array(readFileSync(file)));
    expect(ckpt.model).toMatchObject({ kind: 'lm', family: 'lstm' });
    expect(ckpt.tokenizer?.kind).toBe('char');
    const model = sl.modelFromCheckpoint(ckpt);
    expect(weightSums(model)).toEqual(inPage);
    // And back into the page: the same weights again.
    await page.locator('#file-stats').evaluate((el) => { delete (el as HTMLElement).dataset['sum']; });
    await page.setInputFiles('#load', file);
    await page.waitForSelector('#file-stats[data-sum]');
    expect(await fileStats()).toEqual(inPage);
    expect(await page.locator('#file-stats').textContent()).toMatch(/^loaded lstm-lm\.safetensors as LSTM/);
  });

  it('loads a PyTorch state dict (weights trained by torch) dropped as safetensors', async () => {
    // The golden file's final weights come from PyTorch 1.13 (tools/golden/gen_recurrent.py); keep the state dict.
    const { tensors } = sl.io.readSafetensors(new Uint8Array(readFileSync(join(ROOT, 'test/golden/char_lm_trajectory.safetensors'))));
    const dict: Record<string, sl.Tensor> = {};
    for (const [k, t] of Object.entries(tensors)) if (k.startsWith('out.final.')) dict[k.slice('out.final.'.length)] = t;
    const file = join(work, 'torch_lstm.safetensors');
    writeFileSync(file, sl.io.writeSafetensors(dict));
    await page.locator('#file-stats').evaluate((el) => { delete (el as HTMLElement).dataset['sum']; });
    await page.setInputFiles('#drop-file', file);
    await page.waitForSelector('#file-stats[data-sum]');
    expect(await page.locator('#file-stats').textContent()).toMatch(/^loaded torch_lstm\.safetensors as LSTM/);
    expect(await fileStats()).toEqual(weightSums(sl.models.modelFromStateDict('lstm', dict)));
  });

  it('fits a phone-width screen, with no console errors all along', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(ARTEFACTS, 'explorer-phone.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(errors).toEqual([]);
  });
});
