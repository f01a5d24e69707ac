/** Reading files with errors that name the file and say what went wrong. */
import fs from 'node:fs';
import { AppError } from '../../shared/errors.js';

export function readFileOrThrow(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AppError('NOT_FOUND', code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot be read (${code})`);
  }
}
