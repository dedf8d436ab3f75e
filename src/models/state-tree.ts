/**
 * What a model's streaming state is, for the code that handles any state without knowing its family
 * (serialising, detaching, checkpointing: infer/state.ts): a tensor, or an object/array whose leaves are
 * tensors (e.g. `{ h, c }`). Defined here, under the models that own states, so models need nothing above them.
 */
export type StateTree = object;
