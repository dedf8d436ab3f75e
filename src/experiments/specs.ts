/**
 * Vega-Lite specifications of the experiments' charts: plain data → plain objects, importing nothing at run
 * time, so a web page can import this module and hand the same specification to vega-embed. Each chart
 * takes an experiment result (or just `{ name, rows }`) and puts the rows in as inline data.
 */
import type { TopLevelSpec } from 'vega-lite';

export type VegaLiteSpec = TopLevelSpec;

type Rows = readonly Record<string, string | number | boolean | null>[];

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const W = 360, H = 240;
const q = (field: string, title: string, extra: Record<string, unknown> = {}) => ({ field, type: 'quantitative' as const, title, ...extra });
const color = (title = 'model') => ({ field: 'model', type: 'nominal' as const, title });
const log = { type: 'log' as const };

function gradientFlow(rows: Rows): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    title: { text: 'Gradient reaching k steps back, relative to the last step', subtitle: '‖∂L/∂h_{T−k}‖ / ‖∂L/∂h_T‖, mean over seeds' },
    data: { values: rows.filter((r) => typeof r['ratio'] === 'number' && (r['ratio'] as number) > 0) as Record<string, unknown>[] },
    facet: { column: { field: 'condition', type: 'nominal', title: 'condition', sort: ['init', 'open-gates', 'trained'] } },
    spec: {
      width: 260, height: H,
      mark: { type: 'line', clip: true },
      encoding: {
        x: q('k', 'k (steps back from the loss)'),
        y: q('ratio', 'gradient ratio (log)', { scale: { ...log, domainMin: 1e-12 } }),
        color: color(),
      },
    },
  };
}

function exploding(rows: Rows): VegaLiteSpec {
  const panel = (field: string, title: string) => ({
    width: W, height: H,
    mark: { type: 'line' as const, clip: true },
    encoding: {
      x: q('step', 'training step'),
      y: q(field, title, { scale: log }),
      color: color(),
      strokeDash: { field: 'clipping', type: 'nominal' as const, title: 'clipping' },
    },
  });
  return {
    $schema: SCHEMA,
    title: { text: 'Exploding gradients and clipping (tanh-RNN, adding problem, SGD)', subtitle: 'rnn-rX: W_h scaled to spectral radius X; solid: clipGradNorm(1.0), dashed: no clipping' },
    data: { values: rows as Record<string, unknown>[] },
    transform: [{ calculate: "datum.clip ? 'clip 1.0' : 'no clip'", as: 'clipping' }],
    hconcat: [panel('gradNorm', 'gradient norm before clipping (log)'), panel('loss', 'training loss (log)')],
  };
}

function adding(rows: Rows): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    title: { text: 'The adding problem: test MSE vs sequence length', subtitle: 'equal parameters and steps; grey: predicting the mean (≈ 0.167)' },
    width: W, height: H,
    data: { values: rows as Record<string, unknown>[] },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { x: q('T', 'sequence length T (log)', { scale: { type: 'log', nice: false } }), y: q('mse', 'test MSE (log)', { scale: log }), color: color() } },
      { mark: { type: 'line', color: 'grey', strokeDash: [4, 4] }, encoding: { x: q('T', 'sequence length T (log)', { scale: { type: 'log', nice: false } }), y: { aggregate: 'mean', field: 'baseline', type: 'quantitative' } } },
    ],
  };
}

function accuracyBars(rows: Rows, title: string, subtitle: string): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    title: { text: title, subtitle },
    width: W, height: H,
    data: { values: rows as Record<string, unknown>[] },
    layer: [
      { mark: 'bar', encoding: { x: { field: 'model', type: 'nominal', title: 'model', sort: null, axis: { labelAngle: 0 } }, y: q('accuracy', 'accuracy', { scale: { domain: [0, 1] } }), color: color() } },
      { mark: { type: 'rule', color: 'black', strokeDash: [4, 4] }, encoding: { y: { aggregate: 'mean', field: 'chance', type: 'quantitative' } } },
    ],
  };
}

function induction(rows: Rows): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    title: { text: 'Induction heads: accuracy at longer test lengths', subtitle: 'trained at one length, tested at 1×–16×; missing points: past GPT\'s block size' },
    width: W, height: H,
    data: { values: rows.filter((r) => r['accuracy'] !== null) as Record<string, unknown>[] },
    mark: { type: 'line', point: true },
    encoding: {
      x: q('testLength', 'test length (log₂)', { scale: { type: 'log', base: 2, nice: false } }),
      y: q('accuracy', 'accuracy', { scale: { domain: [0, 1] } }),
      color: color(),
    },
  };
}

function memory(rows: Rows): VegaLiteSpec {
  const panel = (field: string, title: string) => ({
    width: W, height: H,
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: q('context', 'context length (tokens, log)', { scale: { type: 'log' as const, nice: false } }),
      y: q(field, title, { scale: log }),
      color: color(),
    },
  });
  return {
    $schema: SCHEMA,
    title: { text: 'Streaming: state per stream and time per token vs context', subtitle: 'recurrent and state-space state stays flat; the transformer\'s KV cache grows' },
    data: { values: rows as Record<string, unknown>[] },
    hconcat: [panel('stateBytes', 'state bytes per stream (log)'), panel('usPerToken', 'µs per token (log)')],
  };
}

function sequential(rows: Rows): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    title: { text: 'Training step time vs sequence length on this CPU', subtitle: 'forward + backward + Adam, batch 4; columns: kernel threads' },
    data: { values: rows as Record<string, unknown>[] },
    facet: { column: { field: 'threads', type: 'ordinal', title: 'threads' } },
    spec: {
      width: 300, height: H,
      mark: { type: 'line', point: true },
      encoding: {
        x: q('T', 'sequence length T (log₂)', { scale: { type: 'log', base: 2, nice: false } }),
        y: q('msPerStep', 'ms per training step (log)', { scale: log }),
        color: color(),
      },
    },
  };
}

function gruVsLstm(rows: Rows): VegaLiteSpec {
  const bar = (field: string, title: string) => ({
    width: 200, height: H,
    mark: 'bar' as const,
    encoding: { x: { field: 'model', type: 'nominal' as const, title: 'model', axis: { labelAngle: 0 } }, y: q(field, title), color: color() },
  });
  return {
    $schema: SCHEMA,
    title: { text: 'GRU vs LSTM at equal hidden size', subtitle: 'parameters, and Tiny Shakespeare val loss after equal training time' },
    data: { values: rows as Record<string, unknown>[] },
    hconcat: [bar('params', 'parameters'), bar('recurrentParams', 'recurrent-layer parameters'), { ...bar('valLoss', 'val loss (nats/char)'), encoding: { ...bar('valLoss', '').encoding, y: q('valLoss', 'val loss (nats/char)', { scale: { zero: false } }) } }],
  };
}

/** The chart of an experiment's result. */
export function chartSpec(result: { name: string; rows: Rows }): VegaLiteSpec {
  const r = result.rows.map((row) => ({ ...row })); // copies: Vega tags the data objects it is given
  switch (result.name) {
    case 'gradient-flow': return gradientFlow(r);
    case 'exploding': return exploding(r);
    case 'adding': return adding(r);
    case 'selective-copy': return accuracyBars(r, 'Selective copying', 'held-out accuracy of the copied tokens; dashed: chance');
    case 'induction': return induction(r);
    case 'bidirectional': return accuracyBars(r, 'Tagging with a label from the future', '"is token X within the next 5 positions"; dashed: majority-class rate');
    case 'memory': return memory(r);
    case 'sequential': return sequential(r);
    case 'gru-vs-lstm': return gruVsLstm(r);
    default: throw new Error(`chartSpec: no chart for experiment ${JSON.stringify(result.name)}`);
  }
}
