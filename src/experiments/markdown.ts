/** The Markdown report of an experiment: the claims (held / did not hold, with the numbers), notes, table, chart. */
import type { ExperimentResult } from './types.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdownTable(t: ExperimentResult['table']): string {
  return [`| ${t.head.map(cell).join(' | ')} |`, `|${t.head.map(() => '---').join('|')}|`, ...t.body.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

export function markdown(r: ExperimentResult, opts: { title?: string; source?: string; svg?: string } = {}): string {
  const held = r.claims.filter((c) => c.holds).length;
  return [
    `# ${r.name}${opts.title ? ` — ${opts.title}` : ''}`,
    '',
    ...(opts.source ? [`Source of the claims: ${opts.source}.`, ''] : []),
    `Size **${r.size}**, seed ${r.seed}, backend ${r.backend}, ${r.seconds.toFixed(0)} s. ${held} of ${r.claims.length} claims held.`
      + (r.environment ? ` Ran on ${r.environment.cpus} × ${r.environment.cpu}, Node ${r.environment.node}, 1-minute load average ${r.environment.loadAverage[0].toFixed(1)} before and ${r.environment.loadAverage[1].toFixed(1)} after (the machine is shared: timings are measured under that load).` : ''),
    '',
    '## Claims',
    '',
    ...r.claims.map((c) => `- **${c.holds ? 'held' : 'did not hold'}** — ${c.text}  \n  ${c.evidence}${c.why ? `  \n  Why: ${c.why}.` : ''}`),
    '',
    ...(opts.svg ? [`![${r.name}](${opts.svg})`, ''] : []),
    '## What was measured',
    '',
    ...r.notes.flatMap((n) => [n, '']),
    '## Results',
    '',
    markdownTable(r.table),
    '',
    `Configuration: \`${JSON.stringify(r.config)}\``,
    '',
  ].join('\n');
}

/** One line per claim of several results: the index of a directory of reports (`experiment all` writes it). */
export function summaryMarkdown(results: readonly ExperimentResult[], opts: { title?: string; intro?: string } = {}): string {
  const held = results.reduce((a, r) => a + r.claims.filter((c) => c.holds).length, 0);
  const total = results.reduce((a, r) => a + r.claims.length, 0);
  return [
    `# ${opts.title ?? 'The article, measured'}`,
    '',
    ...(opts.intro ? [opts.intro, ''] : []),
    `${results.length} experiments, ${held} of ${total} claims held (size ${[...new Set(results.map((r) => r.size))].join('/')}, ${results.reduce((a, r) => a + r.seconds, 0).toFixed(0)} s in all, backend ${results[0]?.backend ?? '?'}).`,
    '',
    ...results.flatMap((r) => [
      `## [${r.name}](${r.name}.md)`,
      '',
      `![${r.name}](${r.name}.svg)`,
      '',
      ...r.claims.map((c) => `- **${c.holds ? 'held' : 'did not hold'}** — ${c.text} ${c.evidence}${c.why ? ` Why: ${c.why}.` : ''}`),
      '',
    ]),
  ].join('\n');
}
