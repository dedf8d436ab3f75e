/**
 * A small, strict CSV reader (RFC 4180: comma-separated, a header row, "quoted" fields that may hold commas,
 * doubled quotes and newlines; CRLF or LF). Strict means every problem is an error naming the file, the
 * 1-based line and the column — a ragged row, a non-numeric cell, a missing column — never a silent NaN.
 */
import { nearestKey } from '../nn/module.js';
import { DataError } from './errors.js';

export interface CSVTable {
  /** The file name used in messages. */
  source: string;
  header: string[];
  /** Data rows (blank lines skipped), each with header.length fields. */
  rows: string[][];
  /** The 1-based line where each row starts. */
  lines: number[];
}

/** Split CSV text into records of fields, each with the line it starts on. */
function records(text: string, source: string): { fields: string[]; line: number }[] {
  const out: { fields: string[]; line: number }[] = [];
  let fields: string[] = [], field = '', line = 1, start = 1, quoted = false, atFieldStart = true;
  const endRecord = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) out.push({ fields, line: start }); // skip blank lines
    fields = [];
    field = '';
    atFieldStart = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && atFieldStart) { quoted = true; atFieldStart = false; continue; }
    if (c === ',') { fields.push(field); field = ''; atFieldStart = true; continue; }
    if (c === '\r' && text[i + 1] === '\n') continue;
    if (c === '\n') { endRecord(); line++; start = line; continue; }
    field += c;
    atFieldStart = false;
  }
  if (quoted) throw new DataError({ op: `${source} line ${start}`, expected: 'a closing quote (")', got: 'the end of the file', line: start });
  if (field !== '' || fields.length > 0) endRecord();
  return out;
}

/** Parse CSV text with a header row. Every data row must have as many fields as the header. */
export function parseCSV(text: string, source = 'csv'): CSVTable {
  const recs = records(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, source);
  if (recs.length === 0) throw new DataError({ op: source, expected: 'a header row and data rows', got: 'an empty file' });
  const header = recs[0]!.fields.map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (seen.has(h)) throw new DataError({ op: `${source} line ${recs[0]!.line}`, expected: 'distinct column names in the header', got: `"${h}" twice (column ${i + 1})`, line: recs[0]!.line });
    seen.add(h);
  });
  const rows: string[][] = [], lines: number[] = [];
  for (const r of recs.slice(1)) {
    if (r.fields.length !== header.length) {
      throw new DataError({
        op: `${source} line ${r.line}`, expected: `${header.length} comma-separated fields, as in the header`, got: `${r.fields.length}`, line: r.line,
      });
    }
    rows.push(r.fields);
    lines.push(r.line);
  }
  if (rows.length === 0) throw new DataError({ op: source, expected: 'data rows after the header', got: 'only a header' });
  return { source, header, rows, lines };
}

/** The index of a column by name; a missing name is an error listing the columns and the nearest one. */
export function columnIndex(table: CSVTable, name: string): number {
  const i = table.header.indexOf(name);
  if (i < 0) {
    const near = nearestKey(name, table.header);
    throw new DataError({
      op: table.source, expected: `a column named "${name}"`, got: `columns ${table.header.map((h) => `"${h}"`).join(', ')}`, column: name,
      ...(near !== null ? { hint: `did you mean "${near}"?` } : {}),
    });
  }
  return i;
}

/** A finite number, or undefined (empty, text, NaN, ±Infinity). */
export function parseNumber(cell: string): number | undefined {
  const s = cell.trim();
  if (s === '') return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

/** The values of a column as numbers; a cell that is not a finite number is an error naming line and column. */
export function numericColumn(table: CSVTable, name: string): Float64Array {
  const c = columnIndex(table, name);
  const out = new Float64Array(table.rows.length);
  table.rows.forEach((row, r) => {
    const v = parseNumber(row[c]!);
    if (v === undefined) {
      const line = table.lines[r]!;
      throw new DataError({
        op: `${table.source} line ${line}, column "${name}" (column ${c + 1})`, expected: 'a number',
        got: row[c]!.trim() === '' ? 'an empty cell' : JSON.stringify(row[c]), line, column: name,
      });
    }
    out[r] = v;
  });
  return out;
}

/** Columns whose first data row holds a number (e.g. every column of ETTh1 but `date`). */
export function numericColumnNames(table: CSVTable): string[] {
  return table.header.filter((_, i) => parseNumber(table.rows[0]![i]!) !== undefined);
}
