/**
 * The seqlab/worker message API without a browser: `serve` on one end of a MessageChannel, `SeqlabWorker`
 * on the other (the same structured-clone path a Web Worker uses). test/browser/explorer.test.ts runs it
 * in a real Worker in Chromium.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import * as sl from 'seqlab';
import { SeqlabWorker, serve, type ModelInfo, type WorkerEvent } from 'seqlab/worker';

const TEXT = 'the quick brown fox jumps over the lazy dog. '.repeat(40);

function pair(): { client: SeqlabWorker; close(): void } {
  const { port1, port2 } = new MessageChannel();
  // Node's ports deliver events through the same EventTarget shape as a Worker.
  const scope = {
    set onmessage(fn: ((e: MessageEvent) => void) | null) { (port2 as unknown as { onmessage: unknown }).onmessage = fn; },
    postMessage: (m: unknown, t?: Transferable[]) => port2.postMessage(m, t as never),
  };
  serve({}, scope as never);
  const page = Object.assign(port1 as MessagePort, { terminate: () => port1.close() });
  return { client: new SeqlabWorker(page as never), close: () => { port1.close(); port2.close(); } };
}

let close: (() => void) | undefined;
afterEach(() => close?.());

describe('seqlab/worker', () => {
  it('builds, trains with step events, streams tokens and round-trips a checkpoint', async () => {
    const p = pair();
    close = p.close;
    const w = p.client;
    const info = await w.call<{ backend: string; threads: sl.ThreadInfo }>('init');
    expect(['wasm', 'ref']).toContain(info.backend);
    const m = await w.call<ModelInfo>('build', { family: 'lstm', task: { kind: 'text', text: TEXT, seqLen: 32, batchSize: 8 }, params: 20_000 });
    expect(m.family).toBe('lstm');
    expect(m.stateBytes[0]).toBe(m.stateBytes[1]);
    const losses: number[] = [];
    const r = await w.call<sl.TrainResult>('train', { steps: 30, lr: 1e-2 }, (e: WorkerEvent) => {
      if (e.event === 'step') losses.push((e.data as { loss: number }).loss);
    });
    expect(r.steps).toBe(30);
    expect(losses).toHaveLength(30);
    expect(losses[29]!).toBeLessThan(losses[0]! * 0.8);

    const tokens: string[] = [];
    const g = await w.call<{ text: string }>('generate', { prompt: 'the ', maxTokens: 50, seed: 1 }, (e) => tokens.push((e.data as { text: string }).text));
    expect(tokens).toHaveLength(50);
    expect(g.text).toBe(tokens.join(''));

    const bytes = await w.call<Uint8Array>('save');
    const ckpt = sl.decodeCheckpoint(bytes);
    expect(ckpt.model).toMatchObject({ kind: 'lm', family: 'lstm' });
    const again = await w.call<ModelInfo>('load', { bytes });
    expect(again.params).toBe(m.params);
    expect(await w.call<Uint8Array>('save')).toEqual(bytes);
  });

  it('stop ends a running train; errors come back as rejections with the message', async () => {
    const p = pair();
    close = p.close;
    const w = p.client;
    await expect(w.call('train')).rejects.toThrow(/'build' or 'load' first/);
    await expect(w.call('nonsense')).rejects.toThrow(/one of init, .*"nonsense"/);
    // Arguments are read from the wire: each bad one is named.
    await expect(w.call('build', { family: 3, task: { kind: 'text', text: 'x' } })).rejects.toThrow(/build: expected family: a model family name, got 3/);
    await expect(w.call('build', { family: 'gru', task: { kind: 'synthetic', name: 'cpy' } })).rejects.toThrow(/expected task.name one of copy, adding, selective-copy, induction, got "cpy"/);
    await expect(w.call('build', { family: 'gru', task: { kind: 'synthetic', name: 'copy', length: '9' } })).rejects.toThrow(/expected length to be a number, got "9"/);
    await expect(w.call('build', { family: 'gru', task: { kind: 'poem' } })).rejects.toThrow(/expected task.kind 'text' or 'synthetic', got "poem"/);
    await expect(w.call('build', { family: 'gpt', task: { kind: 'synthetic', name: 'adding' } })).rejects.toThrow(/rnn, lstm or gru for synthetic:adding/);
    const reg = await w.call<ModelInfo>('build', { family: 'lstm', task: { kind: 'synthetic', name: 'adding', length: 20 }, params: 4_000 });
    expect(reg).toMatchObject({ family: 'lstm', vocabSize: 0, task: 'synthetic:adding' });
    await w.call('train', { steps: 3 });
    await expect(w.call('generate', { prompt: 'x', maxTokens: 3 })).rejects.toThrow(/generate.*language model.*sequence regressor/s);
    await w.call('build', { family: 'gru', task: { kind: 'synthetic', name: 'copy' }, params: 10_000 });
    let seen = 0;
    const running = w.call<sl.TrainResult>('train', { steps: 100_000 }, () => { if (++seen === 3) void w.call('stop'); });
    const r = await running;
    expect(r.reason).toBe('interrupted');
    expect(r.steps).toBeLessThan(100);
    await expect(w.call('generate', { prompt: 'a', maxTokens: '5' })).rejects.toThrow(/generate: expected maxTokens: a number, got "5"/);
    await expect(w.call('generate', { prompt: 'a', maxTokens: 5, topK: 'all' })).rejects.toThrow(/expected topK to be a number, got "all"/);
  });
});
