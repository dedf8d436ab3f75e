import * as sl from 'seqlab';
import { formatMetrics, loadCheckpoint, loadOnnx, loadOnnxGraph, loadWeights } from 'seqlab/node';
import type { Command } from '../args.js';
import { fmtInt } from '../setup.js';
import { detectFamilies } from '../weights.js';

const shape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Scalars and short lists of a torch checkpoint's other entries (model_args, iter_num, config…), one level deep. */
function describeObjects(objects: Record<string, unknown>): string[] {
  const brief = (v: unknown): string => v instanceof sl.Tensor ? `tensor ${shape(v.shape)}`
    : typeof v === 'object' && v !== null ? (Array.isArray(v) ? `list of ${v.length}` : `{${Object.keys(v).slice(0, 6).join(', ')}${Object.keys(v).length > 6 ? ', …' : ''}}`)
    : JSON.stringify(typeof v === 'bigint' ? String(v) : v);
  return Object.entries(objects).map(([k, v]) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof sl.Tensor) && Object.values(v).every((x) => typeof x !== 'object' || x === null)) {
      return `  ${k}: ${Object.entries(v).map(([a, b]) => `${a}=${brief(b)}`).join(', ')}`;
    }
    return `  ${k}: ${brief(v)}`;
  });
}

const ELEM: Record<number, string> = { 1: 'float32', 6: 'int32', 7: 'int64', 10: 'float16', 11: 'float64', 9: 'bool' };

/** An ONNX file: opset, inputs and outputs with types and shapes, node counts, and what it imports as. */
async function inspectOnnx(path: string, json: boolean, out: (s: string) => unknown): Promise<number> {
  const g = await loadOnnxGraph(path);
  const io = (v: sl.io.OnnxValueInfo): { name: string; type: string; shape: (string | number)[] } => ({ name: v.name, type: ELEM[v.elemType] ?? `type ${v.elemType}`, shape: v.shape });
  const ops = new Map<string, number>();
  for (const n of g.nodes) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
  let imports: string;
  try {
    const imp = await loadOnnx(path);
    imports = `${imp.kind === 'lm' ? `${imp.cell} language model` : `${imp.cell.toUpperCase()} layer`} ${JSON.stringify(imp.config)}`;
  } catch (e) {
    imports = `nothing (${e instanceof Error ? e.message : String(e)})`;
  }
  if (json) {
    out(JSON.stringify({ file: path, kind: 'onnx', opset: g.opset, producer: g.producer, inputs: g.inputs.map(io), outputs: g.outputs.map(io), ops: Object.fromEntries(ops), importsAs: imports }));
    return 0;
  }
  out(`${path}: ONNX, opset ${g.opset}, ${g.nodes.length} nodes${g.producer ? `, written by ${g.producer}` : ''}`);
  const row = (v: sl.io.OnnxValueInfo): [string, string, string] => { const r = io(v); return [r.name, r.type, `[${r.shape.join(', ')}]`]; };
  out(`inputs\n${table(g.inputs.map(row))}`);
  out(`outputs\n${table(g.outputs.map(row))}`);
  out(`nodes       ${[...ops].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  out(`imports as  ${imports}`);
  return 0;
}

function table(rows: [string, string, string][]): string {
  const w0 = Math.max(...rows.map((r) => r[0].length)), w1 = Math.max(...rows.map((r) => r[1].length)), w2 = Math.max(...rows.map((r) => r[2].length));
  return rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c.padStart(w2)}`).join('\n');
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'summarise a checkpoint or safetensors file: model, parameters per layer, tokenizer, training state',
  usage: 'seqlab inspect FILE [--json]',
  options: { json: { type: 'boolean', help: 'print the summary as JSON' } },
  examples: ['seqlab inspect runs/tinyshakespeare-lstm.safetensors', 'seqlab inspect pytorch_lstm.safetensors'],
  async run(args, io) {
    const path = args.maxPositionals(1).required('a file path', 0);
    if (path.toLowerCase().endsWith('.onnx')) return inspectOnnx(path, args.flag('json'), (s) => io.stdout.write(`${s}\n`));
    const { tensors, metadata, objects, format } = await loadWeights(path);
    const out = (s: string): unknown => io.stdout.write(`${s}\n`);
    if (metadata['format'] !== sl.CHECKPOINT_FORMAT) {
      const rows = Object.entries(tensors).map(([k, t]) => [k, shape(t.shape), fmtInt(t.size)] as [string, string, string]);
      const total = Object.values(tensors).reduce((s, t) => s + t.size, 0);
      const fams = detectFamilies(tensors);
      if (args.flag('json')) {
        const plain = JSON.parse(JSON.stringify(objects, (_k, v: unknown) => (v instanceof sl.Tensor ? { shape: v.shape } : typeof v === 'bigint' ? String(v) : v))) as unknown;
        out(JSON.stringify({ file: path, kind: format, tensors: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape])), metadata, objects: plain, loadsAs: fams }));
        return 0;
      }
      out(`${path}: ${format === 'torch' ? 'torch.save file' : 'safetensors'}, ${Object.keys(tensors).length} tensors, ${fmtInt(total)} values (not a seqlab checkpoint)`);
      if (rows.length) out(table(rows));
      if (Object.keys(metadata).length) out(`metadata: ${JSON.stringify(metadata)}`);
      if (Object.keys(objects).length) out(['other entries:', ...describeObjects(objects)].join('\n'));
      out(fams.length ? `loads as: ${fams.join(', ')} (seqlab convert ${path} OUT.safetensors --model ${fams[0]})` : `loads as: none of ${sl.models.familyNames().join(', ')}`);
      return 0;
    }
    const ckpt = await loadCheckpoint(path);
    const model = sl.modelFromCheckpoint(ckpt);
    const params = model.namedParameters();
    const total = params.reduce((s, [, p]) => s + p.size, 0);
    const tr = ckpt.training;
    if (args.flag('json')) {
      out(JSON.stringify({
        file: path, kind: 'checkpoint', formatVersion: ckpt.formatVersion, seqlabVersion: ckpt.seqlabVersion, model: ckpt.model, parameters: total,
        layers: Object.fromEntries(params.map(([k, p]) => [k, { shape: p.shape, size: p.size }])), tokenizer: ckpt.tokenizer ?? null, task: ckpt.task ?? null,
        metrics: ckpt.metrics ?? null, stateBytes: model.stateBytes(1), training: tr ? { step: tr.step, optimizer: tr.optimizer.name, best: tr.best, options: tr.options } : null,
      }));
      return 0;
    }
    const family = ckpt.model.kind === 'lm' ? ckpt.model.family : `${String(ckpt.model.config.cell)} regressor`;
    out(`${path}: seqlab checkpoint (format ${ckpt.formatVersion}, written by seqlab ${ckpt.seqlabVersion})`);
    out(`model       ${family} ${JSON.stringify(ckpt.model.config)}`);
    out(`parameters  ${fmtInt(total)}`);
    out(table(params.map(([k, p]) => [k, shape(p.shape), fmtInt(p.size)])));
    if (ckpt.tokenizer) {
      const t = ckpt.tokenizer;
      const desc = t.kind === 'char' ? `char, ${t.chars.length} symbols ${JSON.stringify(t.chars.join('').slice(0, 40))}${t.chars.length > 40 ? '…' : ''}`
        : t.kind === 'word' ? `word, ${t.words.length} words`
        : t.kind === 'rwkv-world' || t.kind === 'hf' ? `${t.kind === 'hf' ? 'Hugging Face tokenizer.json' : 'RWKV World'}, ${fmtInt(sl.data.tokenizerFromJSON(t).vocabSize)} ids`
        : 'byte (UTF-8), 256 symbols';
      out(`tokenizer   ${desc}`);
    }
    if (ckpt.normalizer) out(`normalizer  ${ckpt.normalizer.columns.map((c, i) => `${c} (mean ${ckpt.normalizer!.mean[i]!.toFixed(3)}, std ${ckpt.normalizer!.std[i]!.toFixed(3)})`).join(', ')}`);
    if (ckpt.task) out(`task        ${JSON.stringify(ckpt.task)}`);
    out(`state       ${fmtInt(model.stateBytes(1))} bytes per stream`);
    if (ckpt.metrics) out(`metrics     ${formatMetrics(ckpt.metrics)}`);
    if (tr) {
      out(`training    step ${tr.step}, ${tr.optimizer.name}, ${(tr.elapsedMs / 1000).toFixed(1)} s, ${fmtInt(tr.itemsSeen)} items${tr.best ? `; best val loss ${tr.best.loss.toFixed(4)} at step ${tr.best.step}` : ''}`);
      out(`options     ${JSON.stringify(tr.options)}`);
    }
    return 0;
  },
};
