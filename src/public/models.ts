/** The public `models` namespace: language-model families and the registry that lists them. */
export { RecurrentLM, type RecurrentLMConfig, type RecurrentLMState, type RecurrentCellName } from '../models/recurrent/lm.js';
export type { LanguageModel, FamilySpec, TokenBatch } from '../models/lm.js';
export { familyNames, getFamily, createModel, modelFromStateDict } from '../models/registry.js';
