import type { FloatArray } from '../types.js';

/**
 * C[m, n] (+)= op(A)[m, k] · op(B)[k, n] with explicit leading dimensions. The loop order follows the
 * layout so the innermost loop reads contiguous memory (a dot product when B is transposed, an axpy
 * over C's row otherwise); the arithmetic is the plain definition either way.
 */
export function mm(
  m: number, n: number, k: number,
  A: FloatArray, aOff: number, lda: number, transA: boolean,
  B: FloatArray, bOff: number, ldb: number, transB: boolean,
  C: FloatArray, cOff: number, ldc: number, accumulate: boolean,
): void {
  const aAt = (i: number, p: number) => (transA ? A[aOff + p * lda + i]! : A[aOff + i * lda + p]!);
  for (let i = 0; i < m; i++) {
    const ci = cOff + i * ldc;
    if (transB) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        const bj = bOff + j * ldb;
        if (transA) for (let p = 0; p < k; p++) s += A[aOff + p * lda + i]! * B[bj + p]!;
        else { const ai = aOff + i * lda; for (let p = 0; p < k; p++) s += A[ai + p]! * B[bj + p]!; }
        C[ci + j] = accumulate ? C[ci + j]! + s : s;
      }
    } else {
      if (!accumulate) for (let j = 0; j < n; j++) C[ci + j] = 0;
      for (let p = 0; p < k; p++) {
        const a = aAt(i, p);
        if (a === 0) continue;
        const bp = bOff + p * ldb;
        for (let j = 0; j < n; j++) C[ci + j]! += a * B[bp + j]!;
      }
    }
  }
}
