/**
 * Train a character-level LSTM on the bundled Tiny Shakespeare from code (what `seqlab train` does), then
 * stream a sample. Run: npx tsx --conditions=source examples/train-char-lm.ts [SECONDS]   (default 180)
 *
 * Expected output (2 cores, WASM backend, 180 s): a progress line every few seconds, evaluations such as
 * `step 1800: val loss 1.60 · 2.31 bits/char …` on the first 16,384 validation characters, then 300 characters
 * of Shakespeare-like text. Checkpoints: runs/example-lstm.last.safetensors and runs/example-lstm.best.safetensors.
 */
import { mkdirSync } from 'node:fs';
import * as sl from 'seqlab';
import { progressReporter, readTextFile, saveCheckpoint } from 'seqlab/node';

const seconds = Number(process.argv[2] ?? 180);
const text = await readTextFile(new URL('../data/tinyshakespeare.txt', import.meta.url).pathname);
const tokenizer = sl.data.CharTokenizer.fromText(text); // nanoGPT's 65-character vocabulary
const { train, val } = sl.data.splitTrainVal(tokenizer.encode(text)); // nanoGPT's 90/10 split

sl.manualSeed(1337);
const model = sl.models.createModel('lstm', { vocabSize: tokenizer.vocabSize, hiddenSize: 104, numLayers: 2 });
const task = sl.lmTask({ train, val, tokenizer, batchSize: 16, seqLen: 64, evalTokens: 16_384 });
mkdirSync('runs', { recursive: true });
const trainer = new sl.Trainer(model, task, { timeLimit: seconds, lr: 4e-3, evalEvery: 100 }, {
  onEvent: progressReporter(),
  save: (ckpt, kind) => saveCheckpoint(`runs/example-lstm.${kind}.safetensors`, ckpt),
});
const result = await trainer.run();
console.log(`${result.message}; val loss ${result.metrics?.loss.toFixed(4)}`);

const decoder = tokenizer.decoder();
process.stdout.write('ROMEO:');
for (const id of sl.generate(model, tokenizer.encode('ROMEO:'), { maxTokens: 300, temperature: 0.8, seed: 7 })) {
  process.stdout.write(decoder.push(id));
}
process.stdout.write('\n');
