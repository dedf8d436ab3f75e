/**
 * Charts: a Vega-Lite specification (specs.ts) compiled to Vega and rendered headless to SVG by Vega's own
 * `View.toSVG()` — no browser, no canvas (text widths are Vega's estimates). The same specification can be
 * embedded in a web page with vega-embed.
 */
import { View, parse } from 'vega';
import { compile } from 'vega-lite';
import { chartSpec, type VegaLiteSpec } from './specs.js';
import type { ExperimentResult } from './types.js';

/** Any Vega-Lite specification → SVG text. */
export async function specToSVG(spec: VegaLiteSpec): Promise<string> {
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** An experiment's chart as SVG. */
export function renderSVG(result: ExperimentResult): Promise<string> {
  return specToSVG(chartSpec(result));
}
