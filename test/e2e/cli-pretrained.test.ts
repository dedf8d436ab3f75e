/**
 * The CLI on pretrained-model files as PyTorch writes them (test/golden/torch, from tools/golden/gen_torch.py)
 * with their tokenizer files (test/golden/tokenizers): generate, stream, eval, inspect and convert take
 * `.pth` / `.bin` / `ckpt.pt` directly; what they print equals what the API computes from the same file;
 * without a tokenizer or a head count they say what to pass.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { IO } from '../../cli/args.js';
import * as sl from '../../src/index.js';
import { loadCheckpoint, loadTorch, saveSafetensors } from '../../src/node/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'seqlab-pre-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const T = (f: string): string => fileURLToPath(new URL(`../golden/torch/${f}`, import.meta.url));
const K = (f: string): string => fileURLToPath(new URL(`../golden/tokenizers/${f}`, import.meta.url));
const SHAKESPEARE = fileURLToPath(new URL('../../data/tinyshakespeare.txt', import.meta.url));

async function run(argv: string[], stdin: string[] = []): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: IO = {
    stdout: { write: (s: string) => { out += s; } },
    stderr: { write: (s: string) => { err += s; } },
    async *stdinLines() { yield* stdin; },
    onInterrupt: () => () => undefined,
  };
  return { code: await main(argv, io), out, err };
}

/** What greedy sampling through the API gives for the same weights and tokenizer. */
function greedy(model: sl.models.LanguageModel, tok: sl.data.Tokenizer, prompt: string, n: number): string {
  return prompt + tok.decode([...sl.generate(model, tok.encode(prompt), { maxTokens: n, greedy: true })]) + '\n';
}

describe('generate / stream / eval on .pth and .bin files with their tokenizers', () => {
  it('without a tokenizer every command says what to pass', async () => {
    for (const cmd of ['generate', 'stream', 'eval']) {
      const r = await run([cmd, T('rwkv7_cli.pth')]);
      expect(r.code, cmd).toBe(2);
      expect(r.err, cmd).toMatch(/this model has no tokenizer; pass --tokenizer FILE: the RWKV World vocabulary .* or a Hugging Face tokenizer\.json/);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });

  it('an official-format RWKV-7 .pth (bf16) + RWKV World vocabulary: one generate command', async () => {
    const r = await run(['generate', T('rwkv7_cli.pth'), '--tokenizer', K('rwkv_vocab_tiny.txt'), '--prompt', 'hello the', '--tokens', '12', '--greedy']);
    expect(r.code, r.err).toBe(0);
    const model = sl.models.RWKV.fromStateDict((await loadTorch(T('rwkv7_cli.pth'))).tensors);
    expect(r.out).toBe(greedy(model, new sl.data.RWKVWorldTokenizer(readFileSync(K('rwkv_vocab_tiny.txt'), 'utf8')), 'hello the', 12));
  });

  it('a tied Mamba pytorch_model.bin + tokenizer.json', async () => {
    const r = await run(['generate', T('mamba_cli.bin'), '--tokenizer', K('tokenizer.json'), '--prompt', 'hello world', '--tokens', '12', '--greedy']);
    expect(r.code, r.err).toBe(0);
    const model = sl.models.MambaLM.fromStateDict((await loadTorch(T('mamba_cli.bin'))).tensors);
    expect(r.out).toBe(greedy(model, new sl.data.HFTokenizer(readFileSync(K('tokenizer.json'), 'utf8')), 'hello world', 12));
  });

  it('stream and eval take the same file and tokenizer', async () => {
    const s = await run(['stream', T('rwkv7_cli.pth'), '--tokenizer', K('rwkv_vocab_tiny.txt')], ['hello world']);
    expect(s.code, s.err).toBe(0);
    expect(s.out).toMatch(/next: /);
    const e = await run(['eval', T('mamba_cli.bin'), '--tokenizer', K('tokenizer.json'), '--data', SHAKESPEARE, '--eval-tokens', '200', '--seq-len', '16', '--batch', '2', '--json']);
    expect(e.code, e.err).toBe(0);
    expect(Number.isFinite((JSON.parse(e.out) as { loss: number }).loss)).toBe(true);
  });
});

describe("nanoGPT's ckpt.pt: the head count from model_args, never guessed", () => {
  it('inspect lists the tensors and model_args; convert keeps nHead 4 and a char tokenizer; generate runs', async () => {
    const i = await run(['inspect', T('nanogpt_ckpt.pt')]);
    expect(i.code, i.err).toBe(0);
    expect(i.out).toContain('torch.save file');
    expect(i.out).toContain('model_args: n_layer=1, n_head=4, n_embd=128');
    const c = await run(['convert', T('nanogpt_ckpt.pt'), join(tmp, 'gpt.safetensors'), '--vocab-from', SHAKESPEARE]);
    expect(c.code, c.err).toBe(0);
    const ckpt = await loadCheckpoint(join(tmp, 'gpt.safetensors'));
    expect(ckpt.model).toMatchObject({ family: 'gpt', config: { nHead: 4, nEmbd: 128 } });
    const g = await run(['generate', join(tmp, 'gpt.safetensors'), '--prompt', 'ROMEO:', '--tokens', '10', '--greedy']);
    expect(g.code, g.err).toBe(0);
    const model = sl.models.GPT.fromStateDict((await loadTorch(T('nanogpt_ckpt.pt'))).tensors, { nHead: 4 });
    expect(g.out).toBe(greedy(model, sl.data.CharTokenizer.fromText(readFileSync(SHAKESPEARE, 'utf8')), 'ROMEO:', 10));
  });

  it('the same weights without model_args fail asking for --n-head, and load with it', async () => {
    await saveSafetensors(join(tmp, 'bare-gpt.safetensors'), (await loadTorch(T('nanogpt_ckpt.pt'))).tensors);
    const bad = await run(['convert', join(tmp, 'bare-gpt.safetensors'), join(tmp, 'x.safetensors')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/the number of attention heads is not in the file .*; pass --n-head N/);
    const ok = await run(['convert', join(tmp, 'bare-gpt.safetensors'), join(tmp, 'x.safetensors'), '--n-head', '4']);
    expect(ok.code, ok.err).toBe(0);
    expect((await loadCheckpoint(join(tmp, 'x.safetensors'))).model).toMatchObject({ config: { nHead: 4 } });
    const viaConfig = await run(['convert', join(tmp, 'bare-gpt.safetensors'), join(tmp, 'y.safetensors'), '--config', '{"nHead": 2}']);
    expect(viaConfig.code, viaConfig.err).toBe(0);
    expect((await loadCheckpoint(join(tmp, 'y.safetensors'))).model).toMatchObject({ config: { nHead: 2 } });
  });
});

describe('convert and inspect on other torch files', () => {
  it('a bare nn.LSTM state dict converts to the PyTorch-named safetensors sl.nn.LSTM loads', async () => {
    const r = await run(['convert', T('lstm_state_dict.pth'), join(tmp, 'lstm.safetensors')]);
    expect(r.code, r.err).toBe(0);
    const { tensors } = sl.io.readSafetensors(new Uint8Array(readFileSync(join(tmp, 'lstm.safetensors'))));
    new sl.nn.LSTM({ inputSize: 8, hiddenSize: 12, numLayers: 2, bidirectional: true }).loadStateDict(tensors);
  });

  it('a pickle naming a global outside the allow-list: one line, exit 2, the global named', async () => {
    for (const cmd of ['inspect', 'generate', 'convert']) {
      const r = await run([cmd, T('evil.pt'), ...(cmd === 'convert' ? [join(tmp, 'e.safetensors')] : [])]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/the global posix\.system/);
    }
  });
});

describe('ONNX files: convert in, export out, inspect', () => {
  const O = (f: string): string => fileURLToPath(new URL(`../golden/onnx-export/${f}`, import.meta.url));
  it('convert a torch.onnx.export language model to a checkpoint, export it again, inspect the inputs and outputs', async () => {
    const c = await run(['convert', O('lm_lstm_opset14.onnx'), join(tmp, 'lm.safetensors')]);
    expect(c.code, c.err).toBe(0);
    expect((await loadCheckpoint(join(tmp, 'lm.safetensors'))).model).toEqual({ kind: 'lm', family: 'lstm', config: { cell: 'lstm', vocabSize: 11, embeddingDim: 6, hiddenSize: 8, numLayers: 1 } });
    const e = await run(['export', join(tmp, 'lm.safetensors'), join(tmp, 'lm.onnx'), '--opset', '13']);
    expect(e.code, e.err).toBe(0);
    const i = await run(['inspect', join(tmp, 'lm.onnx'), '--json']);
    expect(i.code, i.err).toBe(0);
    const info = JSON.parse(i.out) as { opset: number; inputs: { name: string; type: string; shape: unknown[] }[]; outputs: { name: string }[] };
    expect(info.opset).toBe(13);
    expect(info.inputs).toEqual([
      { name: 'tokens', type: 'int64', shape: ['batch', 'time'] },
      { name: 'state_in.h', type: 'float32', shape: [1, 'batch', 8] },
      { name: 'state_in.c', type: 'float32', shape: [1, 'batch', 8] },
    ]);
    expect(info.outputs.map((o) => o.name)).toEqual(['logits', 'state_out.h', 'state_out.c']);
    const text = await run(['inspect', join(tmp, 'lm.onnx')]);
    expect(text.out).toMatch(/state_in\.c\s+float32\s+\[1, batch, 8\]/);
    expect(text.out).toContain('imports as  lstm language model');
  });

  it('a bare layer graph converts to its state dict; export refuses families ONNX cannot express', async () => {
    const c = await run(['convert', O('gru_opset13.onnx'), join(tmp, 'gru.safetensors')]);
    expect(c.code, c.err).toBe(0);
    const { tensors } = sl.io.readSafetensors(new Uint8Array(readFileSync(join(tmp, 'gru.safetensors'))));
    new sl.nn.GRU({ inputSize: 4, hiddenSize: 6, numLayers: 2 }).loadStateDict(tensors);
    const r = await run(['export', T('rwkv7_cli.pth'), join(tmp, 'r.onnx')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/expected an rnn, lstm or gru language model .*got a rwkv7 model/);
    const bad = await run(['convert', O('softmax_head.onnx'), join(tmp, 's.safetensors')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/node "\/Softmax" \(op Softmax\)/);
  });
});
