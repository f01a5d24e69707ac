/**
 * Reading a file that should hold JSON (engine/datasets/fs-util.ts): the syntax validator that
 * places an error agrees with JSON.parse on what is valid, errors are placed by line and column,
 * and a file that is not JSON is named for what it seems to be without quoting it.
 */
import { describe, expect, it } from 'vitest';
import { jsonSyntaxError, parseJsonBytes } from '../../src/main/engine/datasets/fs-util.js';
import { Rng } from '../helpers/random.js';

describe('JSON files', () => {
  it('the validator accepts exactly what JSON.parse accepts (random token soup)', () => {
    const rng = new Rng(22);
    const tokens = ['{', '}', '[', ']', ',', ':', '"a"', '"\\u00e9"', '"\\x"', '1', '-', '0', '.5', 'e3', '1.5e-3', 'true', 'null', 'fals', ' ', '\n', '"', '\\', 'x', '"\t"'];
    let checked = 0;
    for (let k = 0; k < 50_000; k++) {
      let s = '';
      const n = rng.int(0, 9);
      for (let j = 0; j < n; j++) s += tokens[rng.int(0, tokens.length)];
      let valid = true;
      try {
        JSON.parse(s);
      } catch {
        valid = false;
      }
      expect(jsonSyntaxError(s) === null, JSON.stringify(s)).toBe(valid);
      checked++;
    }
    expect(checked).toBe(50_000);
  });

  it('places a syntax error by line and column and says what was expected', () => {
    expect(parseJsonBytes(Buffer.from('{"a": 1,\n "b": [1 2]}'))).toEqual({ problem: "malformed JSON: expected ',' or ']' after a list element (line 2, column 10)" });
    expect(parseJsonBytes(Buffer.from('{"a": 1,}'))).toEqual({ problem: 'malformed JSON: expected a property name in double quotes (line 1, column 9)' });
    expect(parseJsonBytes(Buffer.from('[1, 2'))).toEqual({ problem: 'malformed JSON: the file ends inside a list (line 1, column 6)' });
  });

  it('names what a file that is not JSON seems to be, never quoting it', () => {
    const cases: [Buffer, string][] = [
      [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]), 'it looks like a JPEG image'],
      [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), 'it looks like a PNG image'],
      [Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.from('secret.txt')]), 'it looks like a ZIP archive'],
      [Buffer.from([0x1f, 0x8b, 8, 0]), 'it looks like a gzip archive'],
      [Buffer.from('%PDF-1.7 secret'), 'it looks like a PDF document'],
      [Buffer.from('\uFEFF{"a": 1}', 'utf16le'), 'it is UTF-16 text; save it as UTF-8'],
      [Buffer.from([1, 2, 3, 0, 5]), 'it holds binary data'],
      [Buffer.from('\n\n  secret = 1\n'), 'it starts with text that is not JSON (line 3, column 3)'],
      [Buffer.alloc(0), 'the file is empty'],
    ];
    for (const [bytes, reason] of cases) {
      const r = parseJsonBytes(bytes);
      expect(r).toEqual({ problem: `not a JSON file: ${reason}` });
      expect((r as { problem: string }).problem).not.toContain('secret');
    }
  });

  it('reads JSON written with a byte-order mark', () => {
    expect(parseJsonBytes(Buffer.from('\uFEFF{"images": []}'))).toEqual({ value: { images: [] } });
  });
});
