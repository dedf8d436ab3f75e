/**
 * The `seqlab` CLI end to end in a temp dir: train 20 steps → generate → eval → inspect → convert (both
 * ways) → stream → resume; the other tasks; and bad input (one line, exit code 2, no stack trace).
 * Commands run in-process through `main` (fast); one test spawns the real executable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { IO } from '../../cli/args.js';

const dir = mkdtempSync(join(tmpdir(), 'seqlab-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);

async function run(argv: string[], stdin: string[] = []): Promise<{ code: number; out: string; err: string; writes: number }> {
  let out = '', err = '', writes = 0;
  const io: IO = {
    stdout: { write: (s: string) => { out += s; writes++; } },
    stderr: { write: (s: string) => { err += s; } },
    async *stdinLines() { yield* stdin; },
    onInterrupt: () => () => undefined,
  };
  const code = await main(argv, io);
  return { code, out, err, writes };
}

const corpus = readFileSync(new URL('../../data/tinyshakespeare.txt', import.meta.url), 'utf8').slice(0, 20_000);
writeFileSync(p('tiny.txt'), corpus);
const TINY = ['--model', 'lstm', '--hidden', '32', '--layers', '1', '--batch', '8', '--seq-len', '32'];

describe('seqlab CLI: train → generate → eval → inspect → convert → stream → resume', () => {
  it('train 20 steps writes the latest and best checkpoints and a JSONL metrics log', async () => {
    const r = await run(['train', '--data', p('tiny.txt'), ...TINY, '--steps', '20', '--eval-every', '10', '--out', p('m.safetensors')]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('step 10: val loss');
    expect(r.err).toContain('finished 20 steps');
    expect(existsSync(p('m.safetensors')) && existsSync(p('m.best.safetensors'))).toBe(true);
    const log = readFileSync(p('m.metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; loss?: number });
    expect(log.filter((e) => e.type === 'step').map((e) => e.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(log.filter((e) => e.type === 'eval').map((e) => e.step)).toEqual([10, 20]);
    expect(log.at(-1)!.type).toBe('stop');
  });

  it('generate streams tokens one by one', async () => {
    const r = await run(['generate', p('m.best.safetensors'), '--prompt', 'ROMEO:', '--tokens', '40', '--seed', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('ROMEO:')).toBe(true);
    expect(r.out.length).toBe('ROMEO:'.length + 40 + 1);
    expect(r.writes).toBeGreaterThanOrEqual(40);
    const again = await run(['generate', p('m.best.safetensors'), '--prompt', 'ROMEO:', '--tokens', '40', '--seed', '1']);
    expect(again.out).toBe(r.out);
  });

  it('eval reproduces the val loss recorded at the last evaluation', async () => {
    const r = await run(['eval', p('m.safetensors'), '--json']);
    expect(r.code, r.err).toBe(0);
    const m = JSON.parse(r.out) as { loss: number; bpc: number };
    const log = readFileSync(p('m.metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; metrics?: { loss: number } });
    expect(m.loss).toBeCloseTo(log.filter((e) => e.type === 'eval').at(-1)!.metrics!.loss, 6);
    expect(m.bpc).toBeCloseTo(m.loss / Math.LN2, 10);
  });

  it('inspect lists the parameters per layer and the training state', async () => {
    const r = await run(['inspect', p('m.safetensors')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/model {7}lstm \{"cell":"lstm","vocabSize":\d+,"hiddenSize":32,"numLayers":1\}/);
    expect(r.out).toMatch(/lstm\.weight_hh_l0 +\[128, 32\] +4,096/);
    expect(r.out).toContain('training    step 20, adam');
    expect(r.out).toContain('state       256 bytes per stream');
  });

  it('convert: checkpoint → PyTorch state dict → checkpoint gives the same model', async () => {
    expect((await run(['convert', p('m.safetensors'), p('pt.safetensors')])).code).toBe(0);
    const insp = await run(['inspect', p('pt.safetensors')]);
    expect(insp.out).toContain('not a seqlab checkpoint');
    expect(insp.out).toContain('loads as: lstm');
    const back = await run(['convert', p('pt.safetensors'), p('back.safetensors'), '--model', 'lstm', '--vocab-from', p('tiny.txt')]);
    expect(back.code, back.err).toBe(0);
    const a = await run(['generate', p('m.safetensors'), '--tokens', '30', '--greedy']);
    const b = await run(['generate', p('back.safetensors'), '--tokens', '30', '--greedy']);
    expect(b.out).toBe(a.out);
  });

  it('stream reads lines and prints a prediction per line with the state size', async () => {
    const r = await run(['stream', p('m.safetensors')], ['ROMEO:', 'JULIET:']);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/^ROMEO:\\n {2}→ next: ".+" \d+%, .* \[256 B state, \d+ µs\/token\]$/);
  });

  it('--resume continues the run to more steps', async () => {
    const r = await run(['train', '--resume', p('m.safetensors'), '--steps', '25', '--quiet']);
    expect(r.code, r.err).toBe(0);
    const insp = await run(['inspect', p('m.safetensors'), '--json']);
    expect((JSON.parse(insp.out) as { training: { step: number } }).training.step).toBe(25);
  });
});

describe('seqlab CLI: other tasks', () => {
  it('forecast: a CSV time series, normalised on train only, streamed row by row', async () => {
    const rows = ['date,load,temp', ...Array.from({ length: 300 }, (_, i) => `2020-01-01 ${i},${(Math.sin(i / 5) * 10 + 50).toFixed(3)},${(Math.cos(i / 7) * 3 + 20).toFixed(3)}`)];
    writeFileSync(p('ts.csv'), rows.join('\n'));
    const r = await run(['train', '--data', p('ts.csv'), '--model', 'gru', '--hidden', '16', '--window', '12', '--horizon', '3', '--steps', '5', '--out', p('f.safetensors'), '--quiet']);
    expect(r.code, r.err).toBe(0);
    const insp = await run(['inspect', p('f.safetensors')]);
    expect(insp.out).toContain('"kind":"forecast","features":["load","temp"],"targets":["temp"],"window":12,"horizon":3');
    expect(insp.out).toMatch(/normalizer {2}load \(mean 5\d\.\d{3}, std \d\.\d{3}\)/);
    const s = await run(['stream', p('f.safetensors')], ['load,temp', '50,20', '52,21']);
    expect(s.out.trim().split('\n')).toHaveLength(2);
    expect(s.out).toMatch(/^row 2: next temp -?\d+\.\d{3} … \+3: temp -?\d+\.\d{3} {2}\[\d+ B state, \d+ µs\]/);
    expect((await run(['eval', p('f.safetensors'), '--json'])).out).toMatch(/"mse":/);
  });

  it('classify and tag: CSV labels trained through the language-model contract', async () => {
    const cls = ['text,label', ...Array.from({ length: 40 }, (_, i) => (i % 2 ? `"good, fine ${i}",pos` : `bad awful ${i},neg`))];
    writeFileSync(p('cls.csv'), cls.join('\n'));
    const c = await run(['train', '--data', p('cls.csv'), '--model', 'gru', '--hidden', '16', '--layers', '1', '--steps', '30', '--lr', '1e-2', '--out', p('c.safetensors'), '--quiet']);
    expect(c.code, c.err).toBe(0);
    const e = JSON.parse((await run(['eval', p('c.safetensors'), '--json'])).out) as { acc: number };
    expect(e.acc).toBe(1);
    const s = await run(['stream', p('c.safetensors')], ['so bad', 'good, fine 99']);
    expect(s.code, s.err).toBe(0);
    expect(s.out).toMatch(/^neg \(\d+\.\d%\) {2}so bad {2}\[\d+ B state\]\npos \(\d+\.\d%\) {2}good, fine 99/);
    const tag = ['tokens,tags', ...Array.from({ length: 30 }, (_, i) => `the cat ${i % 3 ? 'sat' : 'ran'},DET NOUN VERB`)];
    writeFileSync(p('tag.csv'), tag.join('\n'));
    const t = await run(['train', '--data', p('tag.csv'), '--model', 'lstm', '--hidden', '16', '--layers', '1', '--steps', '5', '--out', p('t.safetensors'), '--quiet']);
    expect(t.code, t.err).toBe(0);
    expect((await run(['stream', p('t.safetensors')], ['the cat sat'])).out).toMatch(/^the\/\w+ cat\/\w+ sat\/\w+/);
  });

  it('synthetic tasks train from generated batches', async () => {
    const r = await run(['train', '--data', 'synthetic:copy', '--model', 'lstm', '--hidden', '16', '--layers', '1', '--steps', '3', '--out', p('copy.safetensors'), '--quiet']);
    expect(r.code, r.err).toBe(0);
  });
});

describe('seqlab compare (the main job, shortened)', () => {
  it('trains the families for equal time, writes the table as Markdown and JSON, samples the best', async () => {
    const r = await run(['compare', '--data', p('tiny.txt'), '--models', 'rnn,gru', '--time', '2s', '--params', '5000', '--eval-tokens', '256', '--sample', '30', '--out', p('runs')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('| model | params | train tok/s | steps | val loss | bits/char | state bytes/stream | stream µs/token |');
    expect(r.out).toMatch(/\| \*{0,2}RNN\*{0,2} \| [\d,]+ \| [\d,]+ \| \d+ \| \d\.\d{4} \| \d\.\d{3} \| [\d,]+ \| [\d,]+ \|/);
    expect(r.out).toMatch(/\n30 characters from (RNN|GRU) \(val loss \d\.\d{4}\), temperature 0\.8:\n.+/s);
    const json = readdirSync(p('runs')).find((f) => f.endsWith('.json'))!;
    const table = JSON.parse(readFileSync(join(p('runs'), json), 'utf8')) as { rows: { family: string; steps: number; stateBytes: number }[] };
    expect(table.rows.map((x) => x.family)).toEqual(['rnn', 'gru']);
    expect(table.rows.every((x) => x.steps > 0 && x.stateBytes > 0)).toBe(true);
  });
});

describe('seqlab CLI: bad input is one line, exit code 2, no stack trace', () => {
  const bad = async (argv: string[]): Promise<string> => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
    return r.err.trim();
  };

  it('flags and paths', async () => {
    expect(await bad(['train', '--stesp', '5'])).toBe("seqlab train: unknown option '--stesp'. See 'seqlab train --help'.");
    expect(await bad(['train', '--steps', 'ten'])).toBe('seqlab train: --steps: expected a positive integer, got "ten". See \'seqlab train --help\'.');
    expect(await bad(['train', '--data', p('missing.txt')])).toBe(`seqlab train: ${p('missing.txt')}: expected a readable text file, got no such file (ENOENT).`);
    expect(await bad(['generate', p('tiny.txt')])).toMatch(/^seqlab generate: .*tiny\.txt: header length too large/);
    expect(await bad(['eval'])).toBe("seqlab eval: missing a checkpoint path. See 'seqlab eval --help'.");
    expect(await bad(['nonsense'])).toMatch(/^seqlab: unknown command "nonsense"/);
  });

  it('bad CSV files name the line and the column', async () => {
    writeFileSync(p('ragged.csv'), 'date,a,b\n1,2,3\n4,5\n');
    expect(await bad(['train', '--data', p('ragged.csv'), '--task', 'forecast'])).toBe('seqlab train: ragged.csv line 3: expected 3 comma-separated fields, as in the header, got 2.');
    writeFileSync(p('text.csv'), 'date,a,b\n1,2,3\n4,x,6\n7,8,9\n');
    expect(await bad(['train', '--data', p('text.csv'), '--task', 'forecast', '--window', '1', '--horizon', '1'])).toBe(
      'seqlab train: text.csv line 3, column "a" (column 2): expected a number, got "x".',
    );
    expect(await bad(['train', '--data', p('text.csv'), '--task', 'forecast', '--columns', 'a,c'])).toBe(
      'seqlab train: text.csv: expected a column named "c", got columns "date", "a", "b". Hint: did you mean "a"?',
    );
  });

  it('--verbose adds the stack trace', async () => {
    const r = await run(['train', '--data', p('ragged.csv'), '--task', 'forecast', '--verbose']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/\n\s+at /);
  });
});

it('the real executable (tsx, as npm run seqlab): --help exits 0, a bad flag exits 2 with one line', () => {
  const cli = new URL('../../cli/seqlab.ts', import.meta.url).pathname;
  const node = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', cli, ...args], { encoding: 'utf8' });
  const help = node(['train', '--help']);
  expect(help.status).toBe(0);
  expect(help.stdout).toContain('Usage: seqlab train');
  const ambiguous = node(['generate', '--top-k', '-1', 'x']);
  expect(ambiguous.status).toBe(2);
  expect(ambiguous.stderr).toBe("seqlab generate: --top-k: a value starting with '-' must be written --top-k=VALUE. See 'seqlab generate --help'.\n");
  const badValue = node(['generate', '--top-k=-1', 'x']);
  expect(badValue.status).toBe(2);
  expect(badValue.stderr).toBe('seqlab generate: --top-k: expected an integer ≥ 0, got "-1". See \'seqlab generate --help\'.\n');
});
