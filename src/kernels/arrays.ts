/**
 * The array type every kernel takes: float32, or float64 for finite-difference gradient checks. In a file of
 * its own so that the interface files (types.ts, step.ts) can share it without importing each other.
 */
export type FloatArray = Float32Array | Float64Array;
