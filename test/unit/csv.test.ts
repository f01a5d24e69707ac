import { describe, expect, it } from 'vitest';
import { parseCsv, parseCsvTable } from '../../src/main/engine/datasets/csv.js';

describe('parseCsv', () => {
  it('reads quoted fields, doubled quotes, CRLF, a BOM and skips blank lines, keeping line numbers', () => {
    const rows = parseCsv('\ufeffa,b\r\n"x, y","say ""hi"""\r\n\r\n3,\n', 'f.csv');
    expect(rows).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 4, fields: ['3', ''] },
    ]);
  });

  it('keeps newlines inside quotes and counts lines across them', () => {
    expect(parseCsv('"a\nb",c\nd,e', 'f.csv')).toEqual([
      { line: 1, fields: ['a\nb', 'c'] },
      { line: 3, fields: ['d', 'e'] },
    ]);
  });

  it('names the file and line of an unterminated quote', () => {
    expect(() => parseCsv('a,b\n"open,c\n', 'pairs.csv')).toThrow(/^pairs\.csv: line 2: unterminated quoted field/);
  });

  it('rejects an empty file as having no header', () => {
    expect(() => parseCsvTable('', 'e.csv')).toThrow(/e\.csv: the file is empty/);
    expect(parseCsvTable(' source_image , target_image\nx,y', 't.csv').header).toEqual(['source_image', 'target_image']);
  });
});
