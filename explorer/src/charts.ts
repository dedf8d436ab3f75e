/**
 * The explorer's charts: Vega-Lite specifications rendered by vega-embed (SVG). Live charts keep a named
 * dataset and receive rows through `view.insert`, so a training run redraws without rebuilding the chart.
 */
import embed from 'vega-embed';
import type { View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { chartSpec } from 'seqlab/experiments';

type Row = Record<string, string | number>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const base = (width: number) => ({ $schema: SCHEMA, width, height: 200 }) as const;
const log = { type: 'log' } as const;

export function lossSpec(width: number): TopLevelSpec {
  return {
    ...base(width),
    title: 'Training loss',
    data: { name: 'points' },
    mark: { type: 'line', interpolate: 'monotone' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: 'cross-entropy (nats)', scale: { zero: false } },
    },
  };
}

export function gradNormSpec(width: number): TopLevelSpec {
  return {
    ...base(width),
    title: 'Gradient norm (before clipping)',
    data: { name: 'points' },
    mark: { type: 'line', color: '#c05621' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'gradNorm', type: 'quantitative', title: '‖∇‖ (log)', scale: log },
    },
  };
}

/**
 * The gradient-flow chart of `seqlab experiment gradient-flow` (its Vega-Lite spec, one panel per condition),
 * retitled: here it is one sequence and one seed, measured on the model you trained.
 */
export function flowSpec(rows: Row[]): TopLevelSpec {
  return {
    ...chartSpec({ name: 'gradient-flow', rows }),
    title: { text: 'Gradient flow: how much of the loss reaches k steps back', subtitle: '‖∂L/∂h(T−k)‖ / ‖∂L/∂h(T−1)‖, log scale; left untrained, right this model' },
  } as TopLevelSpec;
}

export function gatesSpec(rows: Row[], family: string, width: number): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: { text: `${family.toUpperCase()} gate activations, layer 1`, subtitle: 'first 16 hidden units over the sequence' },
    data: { values: rows },
    facet: { row: { field: 'gate', type: 'nominal', title: null, sort: [...new Set(rows.map((r) => String(r['gate'])))] } },
    spec: {
      width, height: 90,
      mark: 'rect',
      encoding: {
        x: { field: 't', type: 'ordinal', title: 'position', axis: { labelExpr: "''", ticks: false } },
        y: { field: 'unit', type: 'ordinal', title: 'unit', axis: null },
        color: { field: 'value', type: 'quantitative', title: 'activation', scale: { scheme: 'viridis', domain: [-1, 1] } },
        tooltip: [{ field: 'char', title: 'input' }, { field: 'unit' }, { field: 'value', format: '.3f' }],
      },
    },
  } as TopLevelSpec;
}

export function stateSpec(width: number): TopLevelSpec {
  return {
    ...base(width),
    title: { text: 'Memory while streaming', subtitle: "this model's state vs a GPT of the same size (its KV cache)" },
    data: { name: 'points' },
    mark: { type: 'line' },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', title: 'tokens generated' },
      y: { field: 'bytes', type: 'quantitative', title: 'bytes of state', scale: { zero: true }, axis: { format: '~s' } },
      color: { field: 'model', type: 'nominal', title: null, legend: { orient: 'bottom' } },
    },
  };
}

export interface Chart { view: View; append(rows: Row[]): Promise<void>; clear(): Promise<void> }

/**
 * Render the spec `make(width)` into `el`, sized to the element's width now (CSS scales the SVG down when
 * the window narrows later); `append` adds rows to the spec's named dataset `points`.
 */
export async function chart(el: HTMLElement, make: (width: number) => TopLevelSpec, description: string): Promise<Chart> {
  const width = Math.max(200, Math.floor(el.clientWidth) - 130);
  const { view } = await embed(el, make(width), { actions: false, renderer: 'svg' });
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', description);
  return {
    view,
    async append(rows) { await view.insert('points', rows).runAsync(); },
    async clear() { await view.remove('points', () => true).runAsync(); },
  };
}
