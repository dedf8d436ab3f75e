/**
 * A broadcast binary op's layout as the wasm kernel takes it (wasm/assembly/elementwise.ts): the output
 * shape with size-1 dims dropped and neighbouring dims merged wherever both operands step through them
 * as one (a contiguous run, or a broadcast over both), padded to four dims in front.
 */

/**
 * Writes [n0, n1, n2, n3, as0 … as3, bs0 … bs3] into `dst` (12 slots) and returns true, or false when
 * more than four dims remain after merging (the caller then takes the JavaScript path).
 */
export function collapseBroadcast(as: readonly number[], bs: readonly number[], shape: readonly number[], dst: Int32Array): boolean {
  let r = 0; // dims kept so far, innermost first in dst's slots 3, 2, 1, 0
  for (let i = shape.length - 1; i >= 0; i--) {
    const n = shape[i]!;
    if (n === 1) continue;
    const a = as[i]!, b = bs[i]!;
    if (r > 0) {
      const j = 4 - r, inner = dst[j]!;
      // Dim i continues the dim kept last when stepping i by one is stepping that dim by its whole size.
      if (a === dst[4 + j]! * inner && b === dst[8 + j]! * inner) {
        dst[j] = inner * n;
        continue;
      }
    }
    if (r === 4) return false;
    const j = 3 - r;
    dst[j] = n; dst[4 + j] = a; dst[8 + j] = b;
    r++;
  }
  for (let j = 0; j < 4 - r; j++) { dst[j] = 1; dst[4 + j] = 0; dst[8 + j] = 0; }
  return true;
}
