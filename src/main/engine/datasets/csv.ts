/**
 * A small RFC 4180 CSV reader for benchmark pair lists: comma-separated, optional double quotes
 * ("" inside quotes is a quote), LF or CRLF line ends, a UTF-8 byte-order mark tolerated, blank
 * lines ignored. Every row keeps its 1-based line number for error messages.
 */
import { AppError } from '../../shared/errors.js';

export interface CsvRow {
  /** 1-based line number where the row starts. */
  line: number;
  fields: string[];
}

export interface CsvTable {
  header: string[];
  rows: CsvRow[];
}

/** Parses CSV text; throws DATASET_INVALID naming `file` and the line of an unterminated quote. */
export function parseCsv(text: string, file: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let atFieldStart = true;
    for (;;) {
      if (i >= n) {
        fields.push(field);
        break;
      }
      const ch = text[i]!;
      if (ch === '"' && atFieldStart) {
        // quoted field
        i++;
        for (;;) {
          if (i >= n) throw new AppError('DATASET_INVALID', `${file}: line ${start}: unterminated quoted field`);
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        atFieldStart = false;
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw new AppError('DATASET_INVALID', `${file}: line ${line}: unexpected text after a closing quote`);
        }
        continue;
      }
      if (ch === ',') {
        fields.push(field);
        field = '';
        atFieldStart = true;
        i++;
        continue;
      }
      if (ch === '\r' || ch === '\n') {
        fields.push(field);
        i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        break;
      }
      field += ch;
      atFieldStart = false;
      i++;
    }
    if (!(fields.length === 1 && fields[0]!.trim() === '')) rows.push({ line: start, fields });
  }
  return rows;
}

/** Parses CSV with a header row; every row must have the header's number of fields. */
export function parseCsvTable(text: string, file: string): CsvTable {
  const rows = parseCsv(text, file);
  if (rows.length === 0) throw new AppError('DATASET_INVALID', `${file}: the file is empty (expected a header row)`);
  const header = rows[0]!.fields.map((h) => h.trim());
  return { header, rows: rows.slice(1) };
}
