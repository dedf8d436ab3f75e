import { describe, expect, it } from 'vitest';
import { DataError } from './errors.js';
import { columnIndex, numericColumn, numericColumnNames, parseCSV } from './csv.js';

const catchErr = (f: () => unknown): DataError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected an error');
};

describe('parseCSV', () => {
  it('reads quoted fields, doubled quotes, embedded newlines, CRLF and skips blank lines', () => {
    const t = parseCSV('text,label\r\n"hi, there",pos\r\n\r\n"say ""no""\nnow",neg\n', 'x.csv');
    expect(t.header).toEqual(['text', 'label']);
    expect(t.rows).toEqual([['hi, there', 'pos'], ['say "no"\nnow', 'neg']]);
    expect(t.lines).toEqual([2, 4]);
  });

  it('a ragged row names the file, the line and both counts', () => {
    const e = catchErr(() => parseCSV('a,b,c\n1,2,3\n4,5\n', 'ragged.csv'));
    expect(e.message).toMatchInlineSnapshot(`"ragged.csv line 3: expected 3 comma-separated fields, as in the header, got 2."`);
    expect(e.line).toBe(3);
  });

  it('a non-numeric or empty cell names the line and the column', () => {
    const t = parseCSV('date,HUFL,OT\n2016-07-01,5.8,30.5\n2016-07-02,abc,30.1\n2016-07-03,1,\n', 'etth1.csv');
    expect(catchErr(() => numericColumn(t, 'HUFL')).message).toMatchInlineSnapshot(
      `"etth1.csv line 3, column "HUFL" (column 2): expected a number, got "abc"."`,
    );
    const e = catchErr(() => numericColumn(t, 'OT'));
    expect(e.message).toMatchInlineSnapshot(`"etth1.csv line 4, column "OT" (column 3): expected a number, got an empty cell."`);
    expect([e.line, e.column]).toEqual([4, 'OT']);
  });

  it('a missing column lists the columns and suggests the nearest', () => {
    const t = parseCSV('date,HUFL,OT\n1,2,3\n', 'etth1.csv');
    expect(catchErr(() => columnIndex(t, 'HULF')).message).toMatchInlineSnapshot(
      `"etth1.csv: expected a column named "HULF", got columns "date", "HUFL", "OT". Hint: did you mean "HUFL"?"`,
    );
  });

  it('finds numeric columns from the first row; rejects empty files, duplicate headers, open quotes', () => {
    expect(numericColumnNames(parseCSV('date,a,b\n2016-01-01,1,2e3\n'))).toEqual(['a', 'b']);
    expect(catchErr(() => parseCSV('', 'e.csv')).message).toBe('e.csv: expected a header row and data rows, got an empty file.');
    expect(catchErr(() => parseCSV('a,a\n1,2\n', 'd.csv')).message).toBe('d.csv line 1: expected distinct column names in the header, got "a" twice (column 2).');
    expect(catchErr(() => parseCSV('a,b\n"1,2\n', 'q.csv')).message).toBe('q.csv line 2: expected a closing quote ("), got the end of the file.');
  });
});
