/**
 * The recurrent cell kinds' numeric codes and gate counts — the one place they are written. The
 * TypeScript side builds `RecurrentKind`, `GATES` and the wasm kind codes from it (types.ts), and the
 * AssemblyScript kernels import this very file (wasm/assembly/recurrent.ts; wasm/build.mjs hashes it), so
 * the two cannot drift. It must stay valid in both languages: integer constants only, no imports, no types.
 */
export const RNN_TANH = 0;
export const RNN_RELU = 1;
export const LSTM = 2;
/** GRU in PyTorch's reset-after form. */
export const GRU = 3;
/** GRU in the original reset-before form (ONNX's default). */
export const GRU_RESET_BEFORE = 4;

/** Gate blocks per cell: RNN one, LSTM four (i, f, g, o), GRU three (r, z, n). */
export const RNN_GATES = 1;
export const LSTM_GATES = 4;
export const GRU_GATES = 3;
