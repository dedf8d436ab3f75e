/**
 * Errors in user data (a CSV cell, a text the tokenizer cannot encode). Like every seqlab error the message
 * names where (file, line, column), what was expected and what arrived; `line` and `column` are also fields.
 */
import { SeqlabError, type ErrorFields } from '../tensor/errors.js';

export class DataError extends SeqlabError {
  /** 1-based line in the source file, when the problem is in one line. */
  readonly line: number | undefined;
  /** Column name, when the problem is in one column. */
  readonly column: string | undefined;
  constructor(fields: ErrorFields & { line?: number; column?: string }, what = '') {
    super(fields, what);
    this.line = fields.line;
    this.column = fields.column;
  }
}
