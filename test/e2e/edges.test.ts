/**
 * Validation at the edges of the CLI, each a defect found by trying seqlab as a new user would: every case
 * ends in one line and exit code 2 (or works), never a stack trace, an internal error, a silent change or
 * a surprise after training has started.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { IO } from '../../cli/args.js';
import { main } from '../../cli/main.js';
import * as sl from '../../src/index.js';
import { saveCheckpoint } from '../../src/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'seqlab-edges-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);
writeFileSync(p('tiny.txt'), readFileSync(new URL('../../data/tinyshakespeare.txt', import.meta.url), 'utf8').slice(0, 5_000));
const TINY = ['--model', 'gru', '--hidden', '16', '--layers', '1', '--batch', '2', '--seq-len', '8', '--eval-tokens', '64', '--quiet'];

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: IO = { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } }, async *stdinLines() { /* none */ }, onInterrupt: () => () => undefined };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return { code: await main(argv, io), out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

/** Exit 2 and exactly one line on stderr, which contains `text`. */
function oneLine(r: { code: number; err: string }, text: string): void {
  expect(r.code, r.err).toBe(2);
  expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
  expect(r.err).toContain(text);
  expect(r.err).not.toContain('internal error');
}

/** A safetensors file whose header is `header` (JSON text). */
function rawSafetensors(path: string, header: string): void {
  const h = new TextEncoder().encode(header), b = new Uint8Array(8 + h.length + 4);
  new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
  b.set(h, 8);
  writeFileSync(path, b);
}

describe('environment variables', () => {
  it('SEQLAB_BACKEND=nosuch: --help still works, a command is one line and exit 2 (real process: it used to throw at import)', () => {
    const cli = new URL('../../cli/seqlab.ts', import.meta.url).pathname;
    const node = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', cli, ...args], { encoding: 'utf8', env: { ...process.env, SEQLAB_BACKEND: 'nosuch' } });
    const help = node(['--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('SEQLAB_BACKEND');
    const r = node(['inspect', p('none.safetensors')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('seqlab inspect: environment variable SEQLAB_BACKEND: expected one of ref, wasm, got "nosuch".\n');
  });

  it('SEQLAB_THREADS=0, abc, -2, 99999 and a bad SEQLAB_WASM_VARIANT are refused before any work', async () => {
    for (const v of ['0', 'abc', '-2', '99999']) {
      oneLine(await run(['train', '--data', p('tiny.txt'), ...TINY, '--steps', '1', '--out', p('env.safetensors')], { SEQLAB_THREADS: v }), `environment variable SEQLAB_THREADS: expected an integer from 1 to 256, got "${v}".`);
    }
    oneLine(await run(['inspect', p('none')], { SEQLAB_WASM_VARIANT: 'avx' }), 'SEQLAB_WASM_VARIANT: expected one of simd, relaxed, simd-shared, relaxed-shared, got "avx"');
    expect(existsSync(p('env.safetensors'))).toBe(false);
  });

  it('every command\'s --help (train\'s too) lists the environment variables', async () => {
    for (const cmd of ['train', 'generate', 'inspect']) {
      const r = await run([cmd, '--help']);
      for (const v of sl.ENVIRONMENT) expect(r.out, cmd).toContain(v.name);
    }
  });
});

describe('files', () => {
  it('a binary --data is refused unless --tokenizer byte, which then models its raw bytes', async () => {
    writeFileSync(p('prog.bin'), Uint8Array.from({ length: 3000 }, (_, i) => (i * 37) % 256));
    oneLine(await run(['train', '--data', p('prog.bin'), ...TINY, '--steps', '1', '--out', p('bin.safetensors')]),
      `--data: expected a text file, got ${JSON.stringify(p('prog.bin'))}: a NUL byte at offset 0. To model its raw bytes anyway, pass --tokenizer byte`);
    writeFileSync(p('latin1.txt'), Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    oneLine(await run(['train', '--data', p('latin1.txt'), ...TINY, '--steps', '1']), 'not valid UTF-8');
    const ok = await run(['train', '--data', p('prog.bin'), ...TINY, '--tokenizer', 'byte', '--steps', '2', '--out', p('bin.safetensors')]);
    expect(ok.code, ok.err).toBe(0);
  });

  it('--out and --log are checked writable before training starts', async () => {
    mkdirSync(p('adir'));
    writeFileSync(p('afile'), 'x');
    const train = (...extra: string[]) => run(['train', '--data', p('tiny.txt'), ...TINY, '--steps', '1', ...extra]);
    oneLine(await train('--out', p('adir')), `--out: cannot write ${JSON.stringify(p('adir'))}: it is a directory; give a file path`);
    oneLine(await train('--out', join(p('afile'), 'm.safetensors')), 'cannot be created (');
    oneLine(await train('--out', '/proc/seqlab-test.safetensors'), 'does not take new files');
    oneLine(await train('--out', p('ok.safetensors'), '--log', p('adir')), `--log: cannot write ${JSON.stringify(p('adir'))}: it is a directory`);
    expect(existsSync(p('ok.safetensors'))).toBe(false);
  });

  it('convert X X is refused and leaves X as it was', async () => {
    expect((await run(['train', '--data', p('tiny.txt'), ...TINY, '--steps', '2', '--out', p('c.safetensors')])).code).toBe(0);
    const before = readFileSync(p('c.safetensors'));
    oneLine(await run(['convert', p('c.safetensors'), p('c.safetensors')]), 'OUT: expected a path other than the input');
    oneLine(await run(['convert', p('c.safetensors'), join(dir, '.', 'c.safetensors')]), 'converting in place would overwrite the only copy');
    expect(readFileSync(p('c.safetensors')).equals(before)).toBe(true);
  });
});

describe('checkpoints and headers', () => {
  it('inspect shows a checkpoint whose perplexity overflowed', async () => {
    const m = sl.models.createModel('gru', { vocabSize: 5, hiddenSize: 4 });
    await saveCheckpoint(p('inf.safetensors'), { model: sl.modelSpec(m), weights: m.stateDict(), metrics: { loss: 800, bpc: 800 / Math.LN2, ppl: Infinity } });
    const r = await run(['inspect', p('inf.safetensors')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('ppl Infinity');
  });

  it('an edited config value is caught (CRC over the metadata); a re-checksummed one cannot allocate', async () => {
    const m = sl.models.createModel('lstm', { vocabSize: 5, hiddenSize: 8 });
    const bytes = sl.encodeCheckpoint({ model: sl.modelSpec(m), weights: m.stateDict() });
    const text = Buffer.from(bytes).toString('latin1');
    writeFileSync(p('edited.safetensors'), Buffer.from(text.replace('\\"hiddenSize\\":8', '\\"hiddenSize\\":8000'), 'latin1'));
    oneLine(await run(['inspect', p('edited.safetensors')]), 'the file is corrupted');
    writeFileSync(p('crafted.safetensors'), sl.encodeCheckpoint({ model: { kind: 'lm', family: 'lstm', config: { cell: 'lstm', vocabSize: 5, hiddenSize: 8000 } }, weights: m.stateDict() }));
    oneLine(await run(['inspect', p('crafted.safetensors')]), 'expected a config whose model fits the');
  });

  it('a header of 5,000 nested [ is one clear line, not a stack overflow', async () => {
    rawSafetensors(p('nested.safetensors'), `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    const r = await run(['inspect', p('nested.safetensors')]);
    oneLine(r, 'tensor "a" entry is not an object');
    expect(r.err).not.toContain('bug');
  });

  it('a tensor named __proto__ is kept, not dropped', async () => {
    rawSafetensors(p('proto.safetensors'), '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    const r = await run(['inspect', p('proto.safetensors')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('1 tensors');
    expect(r.out).toContain('__proto__');
    const { tensors } = sl.io.readSafetensors(readFileSync(p('proto.safetensors')));
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(Object.keys(sl.io.readSafetensors(sl.io.writeSafetensors(tensors)).tensors)).toEqual(['__proto__']);
  });
});

describe('flags', () => {
  it('--top-p: the help and the check say the same range, (0, 1]', async () => {
    expect((await run(['generate', '--help'])).out).toContain('a number in (0, 1]');
    for (const v of ['0', '1.5', 'x']) oneLine(await run(['generate', p('c.safetensors'), '--top-p', v]), `--top-p: expected a number in (0, 1], got "${v}"`);
    expect((await run(['generate', p('c.safetensors'), '--top-p', '1', '--tokens', '3'])).code).toBe(0);
  });
});

it('statSync is used on real files only (sanity of this suite)', () => {
  expect(statSync(dir).isDirectory()).toBe(true);
});
