/**
 * sl.io.readTorch against files torch.save wrote (tools/golden/gen_torch.py, PyTorch 1.13): official-named
 * RWKV-6/7 in bf16, a tied Mamba .bin, nanoGPT's ckpt.pt (4 heads of 32), an nn.LSTM state dict, views and
 * every storage dtype; logits equal PyTorch's. A pickle naming another global is refused by name.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.js';
import { loadTorch } from '../../src/node/index.js';
import { expectClose } from '../helpers.js';
import { f32Bytes, statePickle, torchArchive, type FakeTensor } from './torch-builder.js';

const dir = fileURLToPath(new URL('../golden/torch/', import.meta.url));
const bytes = (name: string): Uint8Array => new Uint8Array(readFileSync(dir + name));
const expected = (name: string): Record<string, sl.Tensor> => sl.io.readSafetensors(bytes(`${name}.expected.safetensors`)).tensors;
const tokensOf = (t: sl.Tensor): number[][] => (t.toArray() as number[][]).map((r) => r.map(Math.round));

describe('readTorch: language models in their official formats', () => {
  for (const v of [6, 7]) {
    it(`RWKV-${v} .pth in bfloat16 under the official names: logits equal PyTorch's`, () => {
      const { tensors, objects } = sl.io.readTorch(bytes(`rwkv${v}_bf16.pth`));
      expect(objects).toEqual({});
      expect(tensors['emb.weight']).toBeDefined();
      const want = expected(`rwkv${v}_bf16`);
      const m = sl.models.RWKV.fromStateDict(tensors);
      expect(m.config.version).toBe(v);
      expectClose(m.forward(tokensOf(want['tokens']!)).logits, want['logits']!, 2e-5, 1e-4);
    });
  }

  it('a Mamba pytorch_model.bin with lm_head tied to the embedding (one storage, two names)', () => {
    const { tensors } = sl.io.readTorch(bytes('mamba_tied.bin'));
    expect(tensors['lm_head.weight']).toBe(tensors['backbone.embedding.weight']);
    const want = expected('mamba_tied');
    const m = sl.models.MambaLM.fromStateDict(tensors);
    expectClose(m.forward(tokensOf(want['tokens']!)).logits, want['logits']!, 2e-5, 1e-4);
  });

  it("nanoGPT's ckpt.pt: the model entry without _orig_mod., model_args and the rest as plain values", () => {
    const { tensors, objects } = sl.io.readTorch(bytes('nanogpt_ckpt.pt'));
    expect(Object.keys(tensors).every((k) => !k.startsWith('_orig_mod.'))).toBe(true);
    expect(objects['model_args']).toEqual({ n_layer: 1, n_head: 4, n_embd: 128, block_size: 16, bias: true, vocab_size: 65, dropout: 0 });
    expect(objects['iter_num']).toBe(250);
    expect(objects['best_val_loss']).toBeCloseTo(1.8765, 6);
    expect((objects['config'] as Record<string, unknown>)['dataset']).toBe('shakespeare_char');
    const opt = objects['optimizer'] as { state: Record<string, { exp_avg: sl.Tensor }>; param_groups: { lr: number }[] };
    expect(opt.param_groups[0]!.lr).toBe(1e-3);
    expect(opt.state['0']!.exp_avg.shape).toEqual(tensors['transformer.wte.weight']!.shape);
    expect('model' in objects).toBe(false);
    const want = expected('nanogpt_ckpt');
    const m = sl.models.GPT.fromStateDict(tensors, sl.models.GPT.configFromModelArgs(objects['model_args']));
    expect(m.config.nHead).toBe(4);
    expectClose(m.forward(tokensOf(want['tokens']!)).logits, want['logits']!, 2e-5, 1e-4);
    // Without model_args nothing guesses the head count (width/64 would say 2 and be off by far).
    expect(() => sl.models.GPT.fromStateDict(tensors)).toThrow(/expected config\.nHead .*--n-head N/);
  });

  it('a plain nn.LSTM state dict loads into sl.nn.LSTM and gives PyTorch outputs', async () => {
    const { tensors } = await loadTorch(dir + 'lstm_state_dict.pth');
    const lstm = new sl.nn.LSTM({ inputSize: 8, hiddenSize: 12, numLayers: 2, bidirectional: true });
    lstm.loadStateDict(tensors);
    const want = expected('lstm_state_dict');
    const { output, state } = lstm.forward(want['input']!);
    expectClose(output, want['output']!, 1e-6, 1e-5);
    expectClose(state.h, want['h']!, 1e-6, 1e-5);
    expectClose((state as { c: sl.Tensor }).c, want['c']!, 1e-6, 1e-5);
  });
});

describe('readTorch: storages and views', () => {
  const { tensors } = sl.io.readTorch(bytes('views.pt'));
  const want = expected('views');
  it('reads every tensor (offsets, transposes, strides, stride 0, empty, 0-d, every dtype) as PyTorch holds it', () => {
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(want).sort());
    for (const [k, t] of Object.entries(want)) {
      expect(tensors[k]!.shape, k).toEqual(t.shape);
      expect(Array.from(tensors[k]!.buf), k).toEqual(Array.from(t.buf));
    }
  });
  it('int64 beyond float32 precision rounds like float32', () => {
    expect(tensors['i64']!.buf[2]).toBe(Math.fround(2 ** 40));
  });
});

describe('readTorch: refusals', () => {
  it('refuses a pickle naming any global outside the allow-list, by name, without running it', () => {
    expect(() => sl.io.readTorch(bytes('evil.pt'), 'evil.pt')).toThrow(/the global posix\.system in evil\.pt/);
  });
  it('names the legacy format and non-zip files', () => {
    expect(() => sl.io.readTorch(Uint8Array.of(0x80, 2, 0x8a, 0x0a))).toThrow(/legacy pickle format/);
    expect(() => sl.io.readTorch(new TextEncoder().encode('{"a": 1}'))).toThrow(/zip archive/);
  });
  const good = (extra: Partial<FakeTensor> = {}): Uint8Array =>
    torchArchive(statePickle([{ name: 'w', storage: '0', numel: 6, size: [2, 3], stride: [3, 1], ...extra }]), { '0': f32Bytes([1, 2, 3, 4, 5, 6]) });
  it('reads a hand-built archive (the builder the fuzz test mutates)', () => {
    expect(sl.io.readTorch(good()).tensors['w']!.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(sl.io.readTorch(good({ stride: [1, 2] })).tensors['w']!.toArray()).toEqual([[1, 3, 5], [2, 4, 6]]);
  });
  it('refuses a view reaching past its storage, an unknown storage type, a missing storage entry', () => {
    expect(() => sl.io.readTorch(good({ offset: 1 }))).toThrow(/a view inside its storage of 6 elements, got size \[2, 3\], stride \[3, 1\], offset 1/);
    expect(() => sl.io.readTorch(good({ storageType: 'ComplexFloatStorage' }))).toThrow(/the global torch\.ComplexFloatStorage/);
    expect(() => sl.io.readTorch(good({ storage: '7' }))).toThrow(/the storage entry archive\/data\/7/);
    expect(() => sl.io.readTorch(good({ numel: 100 }))).toThrow(/400 bytes of float32 storage 0/);
  });
  it('refuses a stride-0 view that would expand far beyond the file', () => {
    expect(() => sl.io.readTorch(good({ size: [1 << 20, 1 << 10], stride: [0, 0] }))).toThrow(/at most 16 elements per byte/);
  });
});
