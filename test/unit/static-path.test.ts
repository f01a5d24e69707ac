import { describe, expect, it } from 'vitest';
import { safeRelativePath } from '../../src/main/server.js';

describe('safeRelativePath', () => {
  it('maps directory paths to their index.html', () => {
    expect(safeRelativePath('/')).toBe('index.html');
    expect(safeRelativePath('/docs/')).toBe('docs/index.html');
  });

  it('decodes percent escapes once', () => {
    expect(safeRelativePath('/assets/a%20b.js')).toBe('assets/a b.js');
    expect(safeRelativePath('/%252e%252e')).toBe('%2e%2e');
  });

  it.each(['/..', '/../x', '/a/../../x', '/%2e%2e/x', '/%2E%2e%2Fx', '/.%2e/x', '/./x', '/a%5c..%5cx', '/x%00', '/%E0%A4%A', 'x', ''])('refuses %j', (raw) => {
    expect(safeRelativePath(raw)).toBeNull();
  });
});
