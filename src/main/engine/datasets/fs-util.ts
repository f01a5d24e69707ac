/** File-system helpers for the dataset readers (synchronous: small files, read between yields). */
import fs from 'node:fs';
import path from 'node:path';

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Why a path given as text cannot name a file, or null: a NUL byte (which the file system APIs
 * reject with an error that reads as a bug, and which no file name can hold).
 */
export function pathTextProblem(p: string): string | null {
  return p.includes('\0') ? 'the path contains a NUL byte, which no file path can hold' : null;
}

/** Names of the visible subdirectories of `dir`, sorted. */
export function subdirectories(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(dir, e.name)))))
    .map((e) => e.name)
    .sort();
}

/** The file's text, or null when it does not exist. Other read errors are thrown. */
export function readTextIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** JSON.parse's message without the engine's prefix, nor the snippet of the input V8 quotes in it. */
export function jsonError(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/^JSON\.parse: /, '').replace(/, ".*" is not valid JSON$/s, '');
}

/** Formats' signatures, checked at the start of a file that should hold JSON. */
const MAGIC: { what: string; at?: number; bytes: number[] | string }[] = [
  { what: 'a JPEG image', bytes: [0xff, 0xd8, 0xff] },
  { what: 'a PNG image', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { what: 'a GIF image', bytes: 'GIF8' },
  { what: 'a WebP image', at: 8, bytes: 'WEBP' },
  { what: 'a TIFF image', bytes: [0x49, 0x49, 0x2a, 0x00] },
  { what: 'a TIFF image', bytes: [0x4d, 0x4d, 0x00, 0x2a] },
  { what: 'a ZIP archive', bytes: [0x50, 0x4b, 0x03, 0x04] },
  { what: 'a ZIP archive', bytes: [0x50, 0x4b, 0x05, 0x06] },
  { what: 'a gzip archive', bytes: [0x1f, 0x8b] },
  { what: 'a 7-Zip archive', bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { what: 'an xz archive', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { what: 'a bzip2 archive', bytes: 'BZh' },
  { what: 'a tar archive', at: 257, bytes: 'ustar' },
  { what: 'a PDF document', bytes: '%PDF-' },
  { what: 'an SQLite database', bytes: 'SQLite format 3\0' },
  { what: 'a MATLAB file', bytes: 'MATLAB' },
  { what: 'a NumPy array (.npy)', bytes: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] },
  { what: 'a program (ELF)', bytes: [0x7f, 0x45, 0x4c, 0x46] },
];

function startsWith(bytes: Buffer, at: number, sig: number[] | string): boolean {
  const sigBytes = typeof sig === 'string' ? Buffer.from(sig, 'latin1') : Buffer.from(sig);
  return bytes.length >= at + sigBytes.length && bytes.subarray(at, at + sigBytes.length).equals(sigBytes);
}

/** 1-based line and column of the character at `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Where the JSON syntax of `text` first breaks, and what was expected there: a small validator,
 * run only after JSON.parse failed, because V8's messages quote the input instead of placing the
 * error (and the input may be anything: a user's private file picked by mistake).
 */
export function jsonSyntaxError(text: string): { offset: number; reason: string } | null {
  const n = text.length;
  const stack: string[] = [];
  let i = 0;
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  /** Reads the string at i; returns why it is not one, or null. */
  const string = (): string | null => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return null;
      }
      if (c < 0x20) return 'a control character (a raw line break or tab) inside a string';
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return 'a \\u escape without 4 hex digits';
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return 'an invalid escape sequence in a string';
      } else i++;
    }
    return 'a string that is never closed';
  };
  let state: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    ws();
    if (state === 'value') {
      if (i >= n) return { offset: i, reason: 'the file ends where a value was expected' };
      const c = text[i]!;
      if (c === '{' || c === '[') {
        stack.push(c);
        i++;
        ws();
        if (text[i] === (c === '{' ? '}' : ']')) {
          stack.pop();
          i++;
          state = 'after';
        } else state = c === '{' ? 'key' : 'value';
      } else if (c === '"') {
        const bad = string();
        if (bad) return { offset: i, reason: bad };
        state = 'after';
      } else if (text.startsWith('true', i) || text.startsWith('null', i)) {
        i += 4;
        state = 'after';
      } else if (text.startsWith('false', i)) {
        i += 5;
        state = 'after';
      } else {
        NUMBER.lastIndex = i;
        const m = NUMBER.exec(text);
        if (!m || m[0] === '' || m[0] === '-') return { offset: i, reason: 'expected a value (an object, a list, a string in double quotes, a number, true, false or null)' };
        i += m[0].length;
        state = 'after';
      }
    } else if (state === 'key') {
      if (text[i] !== '"') return { offset: i, reason: i >= n ? 'the file ends inside an object' : 'expected a property name in double quotes' };
      const bad = string();
      if (bad) return { offset: i, reason: bad };
      ws();
      if (text[i] !== ':') return { offset: i, reason: "expected ':' after a property name" };
      i++;
      state = 'value';
    } else {
      const top = stack.at(-1);
      if (top === undefined) return i < n ? { offset: i, reason: 'more content after the end of the JSON value' } : null;
      const close = top === '{' ? '}' : ']';
      if (text[i] === ',') {
        i++;
        state = top === '{' ? 'key' : 'value';
      } else if (text[i] === close) {
        stack.pop();
        i++;
      } else if (i >= n) return { offset: i, reason: `the file ends inside ${top === '{' ? 'an object' : 'a list'}` };
      else return { offset: i, reason: top === '{' ? "expected ',' or '}' after a property value" : "expected ',' or ']' after a list element" };
    }
  }
}

/**
 * What the bytes of a file that should hold JSON seem to be instead, judged by their signature and
 * whether they are text at all; null when they look like JSON text. Never quotes the content.
 */
export function notJsonReason(bytes: Buffer): string | null {
  for (const m of MAGIC) if (startsWith(bytes, m.at ?? 0, m.bytes)) return `it looks like ${m.what}`;
  if (startsWith(bytes, 0, [0xff, 0xfe]) || startsWith(bytes, 0, [0xfe, 0xff])) return 'it is UTF-16 text; save it as UTF-8';
  const head = bytes.subarray(0, 4096);
  if (head.some((b) => b < 0x09 || (b > 0x0d && b < 0x20))) return 'it holds binary data';
  const bom = startsWith(bytes, 0, [0xef, 0xbb, 0xbf]) ? 3 : 0;
  let start = bom;
  while (start < head.length && [0x20, 0x09, 0x0a, 0x0d].includes(head[start]!)) start++;
  if (start >= head.length) return bytes.length === 0 ? 'the file is empty' : head.length < 4096 ? 'the file holds only white space' : null;
  if (!'{["-0123456789tfn'.includes(String.fromCharCode(head[start]!))) {
    const blank = head.subarray(bom, start).toString('latin1');
    const { line, column } = lineColumn(blank, blank.length);
    return `it starts with text that is not JSON (line ${line}, column ${column})`;
  }
  return null;
}

/** A parsed JSON file, or why it is not one: 'not a JSON file: ...' or 'malformed JSON: ... (line L, column C)'. */
export function parseJsonBytes(bytes: Buffer): { value: unknown } | { problem: string } {
  const notJson = notJsonReason(bytes);
  if (notJson) return { problem: `not a JSON file: ${notJson}` };
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a BOM, as Windows editors write
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    const at = jsonSyntaxError(text);
    if (!at) return { problem: `malformed JSON: ${jsonError(err)}` };
    const { line, column } = lineColumn(text, at.offset);
    return { problem: `malformed JSON: ${at.reason} (line ${line}, column ${column})` };
  }
}

/** The file name without directory and extension ('a/b/2008_000123.jpg' -> '2008_000123'). */
export function stem(p: string): string {
  const base = p.split('/').pop() ?? p;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}
