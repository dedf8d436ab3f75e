// Threads in a page: train the same LSTM from the same seed on 1 thread and on 2, compare every parameter
// bit for bit and time a training step each way (reported, not asserted).
import * as sl from 'seqlab';

interface Run { losses: number[]; params: number[]; msPerStep: number }

function train(steps: number): Run {
  sl.manualSeed(7);
  const model = new sl.models.RecurrentLM({ cell: 'lstm', vocabSize: 64, hiddenSize: 256, numLayers: 1 });
  const opt = new sl.optim.AdamW(model.parameters(), { lr: 3e-3 });
  const g = new sl.Generator(3);
  const T = 32, N = 32;
  // One fixed batch, so the loss must fall as it is memorised.
  const rows = Array.from({ length: N }, () => Array.from({ length: T + 1 }, () => Math.floor(g.uniform() * 64)));
  const losses: number[] = [];
  let ms = 0;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const loss = sl.losses.crossEntropy(model.forward(rows.map((r) => r.slice(0, T))).logits, rows.map((r) => r.slice(1)));
    opt.zeroGrad();
    loss.backward();
    opt.step();
    losses.push(loss.item());
    if (i > 0) ms += performance.now() - t0; // the first step warms up
  }
  const params = model.parameters().flatMap((p) => Array.from(new Uint32Array(p.toFloat32Array().buffer)));
  return { losses, params, msPerStep: ms / (steps - 1) };
}

async function main() {
  // Before ready(): Chromium compiles the module synchronously on the main thread.
  const syncBackend = sl.getBackend();
  await sl.ready();
  // A resident parameter lives in wasm memory: shared even on a page without isolation.
  const probe = new sl.nn.Linear({ inFeatures: 64, outFeatures: 64 });
  const memory = Object.prototype.toString.call(probe.weight.data.buffer);
  const isolated = crossOriginIsolated;
  sl.setThreads(1);
  const one = train(6);
  const granted = sl.setThreads(2);
  const t0 = performance.now();
  while (granted > 1 && sl.threadInfo().online < granted - 1) {
    if (performance.now() - t0 > 10_000) throw new Error('workers did not come online');
    await new Promise((r) => setTimeout(r, 5));
  }
  const two = train(6);
  let same = one.params.length === two.params.length && one.losses.every((l, i) => l === two.losses[i]);
  for (let i = 0; same && i < one.params.length; i++) same = one.params[i] === two.params[i];
  return {
    isolated, syncBackend, memory, granted, info: sl.threadInfo(), hardwareConcurrency: navigator.hardwareConcurrency,
    identical: same, nParams: one.params.length, losses: one.losses, ms1: one.msPerStep, ms2: two.msPerStep,
  };
}

main().then(
  (r) => { (window as { RESULT?: unknown }).RESULT = r; },
  (e) => { (window as { RESULT?: unknown }).RESULT = { error: String((e as Error)?.stack ?? e) }; },
);
