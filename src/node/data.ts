/** Reading data files for the Trainer: text corpora and CSV tables, with errors that name the file. */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseCSV, type CSVTable } from '../data/csv.js';
import { DataError } from '../data/errors.js';

/** A UTF-8 text file; a missing or unreadable file is a DataError naming the path. */
export async function readTextFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code ?? String(e);
    const what = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : code;
    throw new DataError({ op: path, expected: 'a readable text file', got: `${what}${what === code ? '' : ` (${code})`}` });
  }
}

/** A CSV file parsed strictly; errors name the file (by its base name), line and column. */
export async function readCSVFile(path: string): Promise<CSVTable> {
  return parseCSV(await readTextFile(path), basename(path));
}
