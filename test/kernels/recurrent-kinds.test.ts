// The recurrent kinds' codes and gate counts have one source (src/kernels/recurrent-kinds.ts, imported by
// both the TypeScript side and wasm/assembly/recurrent.ts), and the generated WasmExports matches the module.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as RK from '../../src/kernels/recurrent-kinds.js';
import { CELL_GATES, GATES, RECURRENT_KINDS } from '../../src/kernels/types.js';
import { WASM_EXPORT_NAMES } from '../../src/kernels/wasm/generated/modules.js';
import { loadWasmModuleSync } from '../../src/kernels/wasm/index.js';

const assembly = new URL('../../wasm/assembly/', import.meta.url);

describe('recurrent kinds: one source of truth', () => {
  it('codes are distinct and gate counts agree everywhere on the TypeScript side', () => {
    const codes = Object.values(RECURRENT_KINDS).map((k) => k.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [kind, { gates }] of Object.entries(RECURRENT_KINDS)) expect(GATES[kind as keyof typeof GATES]).toBe(gates);
    expect(CELL_GATES).toEqual({ rnn: GATES.rnn_tanh, lstm: GATES.lstm, gru: GATES.gru });
    expect([GATES.rnn_tanh, GATES.rnn_relu, GATES.lstm, GATES.gru, GATES.gru_reset_before]).toEqual([1, 1, 4, 3, 3]);
  });

  it('the GRU kinds are exactly the codes ≥ GRU (wasm/assembly/recurrent.ts gatesOf relies on it)', () => {
    for (const [kind, { code }] of Object.entries(RECURRENT_KINDS)) expect(code >= RK.GRU, kind).toBe(kind.startsWith('gru'));
  });

  it('the AssemblyScript side imports the shared file and defines no kind constants of its own', () => {
    const sources = readdirSync(assembly).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(new URL(f, assembly), 'utf8'));
    const recurrent = readFileSync(new URL('recurrent.ts', assembly), 'utf8');
    expect(recurrent).toMatch(/from '\.\.\/\.\.\/src\/kernels\/recurrent-kinds'/);
    for (const text of sources) expect(text).not.toMatch(/\bconst\s+(RNN_TANH|RNN_RELU|LSTM|GRU|GRU_RB|GRU_RESET_BEFORE)\s*=/);
  });
});

describe('generated WasmExports', () => {
  it('names exactly the functions the module exports', () => {
    const mod = loadWasmModuleSync('simd')!;
    const exported = WebAssembly.Module.exports(mod.module).filter((e) => e.kind === 'function').map((e) => e.name).sort();
    expect([...WASM_EXPORT_NAMES].sort()).toEqual(exported);
  });
});
