/**
 * The modern families at test size: 2 layers of width `d`, heads of 8 (the GPT: 2 heads), Mamba's state 4,
 * Mamba-2's chunks of 4. Plain TypeScript (no vitest), so child processes can import it too.
 */
export const MODERN_FAMILIES = ['mamba', 'mamba2', 'rwkv6', 'rwkv7', 'gpt'] as const;
export type ModernFamily = (typeof MODERN_FAMILIES)[number];

export function tinyConfig(family: ModernFamily, d: number, vocabSize: number, blockSize = 16): Record<string, unknown> {
  switch (family) {
    case 'mamba': return { dModel: d, nLayer: 2, vocabSize, dState: 4 };
    case 'mamba2': return { dModel: d, nLayer: 2, vocabSize, dState: 4, headdim: 8, chunkSize: 4 };
    case 'rwkv6': case 'rwkv7': return { dModel: d, numLayers: 2, vocabSize, headSize: 8 };
    case 'gpt': return { nEmbd: d, nLayer: 2, nHead: 2, vocabSize, blockSize };
  }
}

/** Every modern family's tinyConfig, by name. */
export function tinyConfigs(d: number, vocabSize: number, blockSize = 16): Record<ModernFamily, Record<string, unknown>> {
  return Object.fromEntries(MODERN_FAMILIES.map((f) => [f, tinyConfig(f, d, vocabSize, blockSize)])) as Record<ModernFamily, Record<string, unknown>>;
}
