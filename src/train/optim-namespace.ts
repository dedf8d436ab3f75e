/**
 * `sl.optim`: the optimisers and, as `sl.optim.lrScheduler`, the learning-rate schedules — PyTorch's
 * `torch.optim` / `torch.optim.lr_scheduler` layout. Gathered here so that optim.ts and schedule.ts (which
 * steers an optimizer) do not import each other.
 */
export * from './optim.js';
export * as lrScheduler from './schedule.js';
