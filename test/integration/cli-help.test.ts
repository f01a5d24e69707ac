/** Every command answers --help with its usage (the README's CLI section relies on it). */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/main/cli.js';
import type { Command } from 'commander';
import { runCli } from '../helpers/cli.js';

function leafPaths(cmd: Command, prefix: string[] = []): string[][] {
  const subs = cmd.commands as Command[];
  if (subs.length === 0) return [prefix];
  return [prefix, ...subs.flatMap((c) => leafPaths(c, [...prefix, c.name()]))];
}

describe('sd4match --help', () => {
  const paths = leafPaths(buildProgram());
  it('covers the graph tools', () => {
    const names = paths.map((p) => p.join(' '));
    for (const c of ['graph info', 'graph tap', 'graph cut', 'graph run', 'graph vjp', 'graph scopes']) expect(names).toContain(c);
  });
  for (const p of paths) {
    it(`sd4match ${[...p, '--help'].join(' ')}`, async () => {
      const r = await runCli([...p, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: sd4match/);
    });
  }
});
