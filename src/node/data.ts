/** Reading data files for the Trainer: text corpora and CSV tables, with errors that name the file. */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseCSV, type CSVTable } from '../data/csv.js';
import { DataError } from '../data/errors.js';

function readError(path: string, e: unknown): DataError {
  const code = (e as { code?: string }).code ?? String(e);
  const what = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : code;
  return new DataError({ op: path, expected: 'a readable text file', got: `${what}${what === code ? '' : ` (${code})`}` });
}

/** A UTF-8 text file; a missing or unreadable file is a DataError naming the path. */
export async function readTextFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw readError(path, e);
  }
}

/**
 * A data file's bytes, and its text when it is text: UTF-8 without NUL bytes. Otherwise `text` is null
 * and `binary` says why (an executable or an image is not a corpus unless its bytes are the point).
 */
export async function readDataFile(path: string): Promise<{ bytes: Uint8Array; text: string | null; binary: string | null }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw readError(path, e);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { bytes, text: null, binary: `a NUL byte at offset ${nul}` };
  try {
    return { bytes, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), binary: null };
  } catch {
    return { bytes, text: null, binary: 'not valid UTF-8' };
  }
}

/** A CSV file parsed strictly; errors name the file (by its base name), line and column. */
export async function readCSVFile(path: string): Promise<CSVTable> {
  return parseCSV(await readTextFile(path), basename(path));
}
