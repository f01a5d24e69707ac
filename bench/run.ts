/**
 * `npm run bench -- <name> [options]`: speed and memory benchmarks that print a table.
 * Benchmarks live in bench/<name>.ts and export `run(args: string[]): Promise<void>`.
 */
const BENCHES: Record<string, () => Promise<{ run: (args: string[]) => Promise<void>; description: string }>> = {
  autodiff: () => import('./autodiff.js'),
  features: () => import('./features.js'),
  train: () => import('./train.js'),
  import: () => import('./import.js'),
  scale: () => import('./scale.js'),
  suggest: () => import('./suggest.js'),
  generate: () => import('./generate.js'),
  attention: () => import('./attention.js'),
  roundtrip: () => import('./roundtrip.js'),
  profile: () => import('./profile.js'),
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || name === '--help' || !BENCHES[name]) {
    const lines = await Promise.all(Object.entries(BENCHES).map(async ([k, load]) => `  ${k.padEnd(12)} ${(await load()).description}`));
    process.stdout.write(`usage: npm run bench -- <name> [options]\n\nbenchmarks:\n${lines.join('\n')}\n`);
    process.exitCode = name && name !== '--help' ? 1 : 0;
    return;
  }
  // before the bench loads anything: a wrong --provider is refused, and the output says what ran
  const { benchProvider } = await import('./table.js');
  const provider = await benchProvider(args);
  process.stdout.write(`provider: ${provider.note}\n`);
  await (await BENCHES[name]()).run(args);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
