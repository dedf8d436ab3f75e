/**
 * Labelled sequences from CSV: sequence classification (a text column and a label column) and per-token
 * tagging (a column of space-separated tokens and a column of as many space-separated tags). Examples are
 * shuffled with a fixed seed and split 90/10, so a file sorted by label still gets a mixed validation set.
 */
import { Generator } from '../tensor/random.js';
import { columnIndex, type CSVTable } from './csv.js';
import { DataError } from './errors.js';

export interface ClassificationExample {
  text: string;
  label: string;
}

export interface TaggingExample {
  tokens: string[];
  tags: string[];
}

/** Pick a column: the given name, else the first header name in `guesses`, else the column at `fallback`. */
function pick(table: CSVTable, name: string | undefined, guesses: readonly string[], fallback: number): number {
  if (name !== undefined) return columnIndex(table, name);
  const lower = table.header.map((h) => h.toLowerCase());
  const g = guesses.map((x) => lower.indexOf(x)).find((i) => i >= 0);
  return g ?? (fallback < 0 ? table.header.length + fallback : fallback);
}

/** `text,label` rows (columns chosen by name, or `text`/`label`, or first and last). */
export function readClassification(table: CSVTable, opts: { textColumn?: string; labelColumn?: string } = {}): { examples: ClassificationExample[]; labels: string[] } {
  const tc = pick(table, opts.textColumn, ['text', 'sentence', 'review'], 0);
  const lc = pick(table, opts.labelColumn, ['label', 'class', 'category'], -1);
  if (tc === lc) throw new DataError({ op: table.source, expected: 'a text column and a different label column', got: `one column "${table.header[tc]}"` });
  const examples = table.rows.map((r, i) => {
    const label = r[lc]!.trim();
    if (label === '') throw new DataError({ op: `${table.source} line ${table.lines[i]}, column "${table.header[lc]}" (column ${lc + 1})`, expected: 'a label', got: 'an empty cell', line: table.lines[i]! });
    return { text: r[tc]!, label };
  });
  return { examples, labels: [...new Set(examples.map((e) => e.label))].sort() };
}

/** `tokens,tags` rows: both space-separated, one tag per token. */
export function readTagging(table: CSVTable, opts: { tokensColumn?: string; tagsColumn?: string } = {}): { examples: TaggingExample[]; tags: string[] } {
  const kc = pick(table, opts.tokensColumn, ['tokens', 'words', 'text'], 0);
  const gc = pick(table, opts.tagsColumn, ['tags', 'labels', 'tag'], -1);
  const split = (s: string): string[] => s.split(/\s+/).filter((w) => w !== '');
  const examples = table.rows.map((r, i) => {
    const tokens = split(r[kc]!), tags = split(r[gc]!);
    if (tokens.length === 0 || tokens.length !== tags.length) {
      throw new DataError({
        op: `${table.source} line ${table.lines[i]}, column "${table.header[gc]}" (column ${gc + 1})`,
        expected: `one tag per token (${tokens.length} tokens in "${table.header[kc]}")`, got: `${tags.length} tags`, line: table.lines[i]!, column: table.header[gc]!,
      });
    }
    return { tokens, tags };
  });
  return { examples, tags: [...new Set(examples.flatMap((e) => e.tags))].sort() };
}

/** Shuffle with a fixed seed (Fisher–Yates) and split: the first ⌈90%⌉ train, the rest validate (at least one). */
export function shuffleSplit<T>(items: readonly T[], trainFraction = 0.9, seed = 0): { train: T[]; val: T[] } {
  if (items.length < 2) throw new DataError({ op: 'shuffleSplit', expected: 'at least 2 examples (train and val)', got: `${items.length}` });
  const a = [...items], g = new Generator(seed);
  for (let i = a.length - 1; i > 0; i--) {
    const j = g.randint(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  const n = Math.min(a.length - 1, Math.max(1, Math.round(a.length * trainFraction)));
  return { train: a.slice(0, n), val: a.slice(n) };
}
