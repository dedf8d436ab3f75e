// The README's training snippet, repeated for a few steps, as a new user would paste it into an app.
import * as sl from 'seqlab';

async function main() {
  await sl.ready();
  const model = new sl.models.RecurrentLM({ cell: 'lstm', vocabSize: 65, hiddenSize: 128, numLayers: 2 });
  const opt = new sl.optim.AdamW(model.parameters(), { lr: 3e-3 });
  const tokens = [[1, 2, 3, 4]], targets = [[2, 3, 4, 5]];
  const losses = [];
  for (let i = 0; i < 20; i++) {
    const loss = sl.losses.crossEntropy(model.forward(tokens).logits, targets);
    opt.zeroGrad();
    loss.backward();
    sl.clipGradNorm(model.parameters(), 1.0);
    opt.step();
    losses.push(loss.item());
  }
  return { backend: sl.getBackend(), losses };
}

main().then(
  (r) => { window.RESULT = r; },
  (e) => { window.RESULT = { error: String(e && e.stack || e) }; },
);
