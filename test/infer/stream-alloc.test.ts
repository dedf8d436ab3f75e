/**
 * A streamed token allocates nothing in JavaScript (issue 12, "state that stays put"): a StreamSession with
 * reused logits is stepped in a child process with --expose-gc and a 64 MB young generation, so that the
 * bytes the JS heap and the ArrayBuffers grow by over 10,000 tokens, with no collection in between, are
 * the bytes those tokens allocated. Before, the fused step allocated ~30 KB per token (parameter lists,
 * argument objects per kernel call, state views), and the LSTM, GRU and RNN language models 0.8–5.2 KB
 * (shape and weight records, state views, message strings per call); a new logits tensor per token is ~400 B. The controls
 * show the measurement sees such allocations: the same session handing out new logits, and `model.step`,
 * which returns a new state every token. The models are small but wide enough that every call of the step
 * runs in wasm (the ref fallback of a tiny GEMM boxes numbers).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const child = fileURLToPath(new URL('./stream-alloc-child.ts', import.meta.url));

interface Measured { backend: string; bytesPerStep: number; scavenges: number; steps: number }

async function measure(family: string, mode: 'session' | 'fresh' | 'values', warm = 5000, steps = 10000, batch = 1): Promise<Measured> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64', '--import', 'tsx', '--conditions=source',
    child, family, mode, String(warm), String(steps), String(batch),
  ], { cwd: root, env: { ...process.env, SEQLAB_BACKEND: 'wasm', SEQLAB_THREADS: '1' } });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Measured;
}

/** Bytes per token allowed for "nothing": what V8 itself may add while the code settles, amortised. */
const NOTHING = 128;

const FAMILIES = ['mamba', 'mamba2', 'rwkv6', 'rwkv7', 'lstm', 'gru', 'rnn'];

describe('StreamSession: a streamed token allocates nothing', () => {
  // All children at once (each ~2 s, mostly start-up).
  const runs = Promise.all([...FAMILIES.map((f) => measure(f, 'session')), measure('mamba', 'fresh'), measure('mamba', 'values')]);
  // The GPT's KV cache grows a row per token in the session's slab (wasm memory): past its last doubling
  // (8,446 rows) and below its blockSize (16,384), 7,600 more tokens add rows and nothing else.
  const gpt = measure('gpt', 'session', 8500, 7600);
  // 16 streams at once: nothing per stream either (the head's bias broadcast over rows took ~60 B per step).
  const batched = measure('gru', 'session', 3000, 6000, 16);

  it.each(FAMILIES.map((f, i) => [f, i] as const))(`%s: under ${NOTHING} B per token over 10,000 tokens (reused logits)`, async (_family, i) => {
    const m = (await runs)[i]!;
    expect(m.backend).toBe('wasm');
    expect(m.steps).toBe(15200); // warm-up, 200 after the collections, measured
    expect(m.scavenges, 'no collection during the measured tokens').toBe(0);
    expect(m.bytesPerStep).toBeLessThan(NOTHING);
  });

  it(`gpt, KV cache growing in place: under ${NOTHING} B per token over 7,600 tokens (reused logits)`, async () => {
    const m = await gpt;
    expect(m.backend).toBe('wasm');
    expect(m.steps).toBe(16300);
    expect(m.scavenges, 'no collection during the measured tokens').toBe(0);
    expect(m.bytesPerStep).toBeLessThan(NOTHING);
  });

  it(`gru, 16 streams: under ${NOTHING} B per step over 6,000 steps (reused logits)`, async () => {
    const m = await batched;
    expect(m.steps).toBe(9200);
    expect(m.scavenges, 'no collection during the measured steps').toBe(0);
    expect(m.bytesPerStep).toBeLessThan(NOTHING);
  });

  it('the measurement sees a new logits tensor per token, and a new state per token', async () => {
    const r = await runs, fresh = r[FAMILIES.length]!, values = r[FAMILIES.length + 1]!;
    expect(fresh.scavenges).toBe(0);
    expect(fresh.bytesPerStep).toBeGreaterThan(256); // 64 float32 logits alone
    expect(values.bytesPerStep).toBeGreaterThan(1000);
  });
});
