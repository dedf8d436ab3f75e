/**
 * The explorer's Worker: seqlab/worker's operations plus the explorer's own measurements (analysis.ts).
 */
import * as sl from 'seqlab';
import { serve, type Session } from 'seqlab/worker';
import { gateActivations, gradientFlow, isRecurrent, type FlowRow } from './analysis';

const FLOW_LEN = 48;

function sampleTokens(s: Session, n: number, rng: sl.Generator): { ids: number[]; chars: string[] } {
  const vocab = s.model && !(s.model instanceof sl.SequenceRegressor) ? s.model.vocabSize : 65;
  const ids = Array.from({ length: n }, () => Math.floor(rng.uniform() * vocab));
  return { ids, chars: ids.map((i) => s.tokenizer?.decode([i]) ?? String(i)) };
}

serve({
  /** Registry names and titles, for the family picker (the page itself does not load seqlab). */
  families() {
    return sl.models.familyNames().map((name) => ({ name, title: sl.models.getFamily(name).title }));
  },

  /** ‖∂L/∂h_{T−k}‖ for fresh RNN, LSTM and GRU of one size, plus the current model when it is recurrent. */
  gradientFlow(_args, s) {
    const rng = new sl.Generator(11);
    const { ids } = sampleTokens(s, FLOW_LEN + 1, rng);
    const vocabSize = s.model && !(s.model instanceof sl.SequenceRegressor) ? s.model.vocabSize : 65;
    const hiddenSize = isRecurrent(s.model) ? (s.model.config['hiddenSize'] as number) : 64;
    const rows: FlowRow[] = [];
    sl.manualSeed(5);
    for (const cell of ['rnn', 'lstm', 'gru'] as const) {
      const fresh = new sl.models.RecurrentLM({ cell, vocabSize, hiddenSize });
      rows.push(...gradientFlow(fresh, ids, cell.toUpperCase(), 'init'));
    }
    if (isRecurrent(s.model)) rows.push(...gradientFlow(s.model, ids, s.model.family.toUpperCase(), 'trained'));
    return rows;
  },

  /** First-layer gate activations over `text` (or a sample of the vocabulary). */
  gates(args, s) {
    if (!isRecurrent(s.model) || s.model.family === 'rnn') {
      throw new sl.ConfigError({ op: 'gates', expected: 'an LSTM or GRU model', got: s.model ? s.model.family : 'no model' });
    }
    const text = typeof args['text'] === 'string' ? args['text'] : '';
    const tok = s.tokenizer;
    let ids: number[], chars: string[];
    if (tok && text) {
      chars = [...text].filter((ch) => { try { tok.encode(ch); return true; } catch { return false; } }).slice(0, 40);
      ids = chars.map((ch) => tok.encode(ch)[0]!);
    } else ({ ids, chars } = sampleTokens(s, 40, new sl.Generator(3)));
    return { family: s.model.family, rows: gateActivations(s.model, ids, chars).rows };
  },

  /** KV-cache bytes of a GPT with the current model's budget after 1 … n tokens (its context crops it). */
  gptCache(args, s) {
    const n = Number(args['tokens'] ?? 200);
    const vocabSize = s.model && !(s.model instanceof sl.SequenceRegressor) ? s.model.vocabSize : 65;
    const params = s.model ? s.model.parameters().reduce((a, p) => a + p.size, 0) : 100_000;
    const gpt = sl.models.createModel('gpt', { ...sl.models.getFamily('gpt').configForBudget(vocabSize, params), vocabSize });
    const limit = sl.contextLimit(gpt);
    return Array.from({ length: n }, (_, i) => gpt.stateBytes(1, Math.min(i + 1, limit)));
  },

  /** Σw and Σw² over every weight in state-dict order: shows that a loaded checkpoint is the saved one. */
  fingerprint(_args, s) {
    if (!s.model) return null;
    let sum = 0, sq = 0;
    for (const t of Object.values(s.model.stateDict())) for (const v of t.data) { sum += v; sq += v * v; }
    return { sum, sq };
  },
});
