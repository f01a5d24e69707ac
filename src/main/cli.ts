/**
 * `sd4match` — the engine headless. Never imports 'electron'.
 * Each command group lives in src/main/cli/<group>.ts and registers itself on the program.
 */
import { Command, CommanderError } from 'commander';
import { reportError } from './cli/common.js';
import { registerDatasetCommands } from './cli/datasets.js';
import { registerDebugCommands } from './cli/debug.js';
import { registerGenerateCommand } from './cli/generate.js';
import { registerGraphCommands } from './cli/graph.js';
import { registerModelCommands } from './cli/models.js';
import { registerRunCommands } from './cli/runs.js';
import { registerServeCommand } from './cli/serve.js';
import { registerSuggestCommands } from './cli/suggest.js';
import { ENGINE_VERSION } from './shared/version.js';

export function buildProgram(): Command {
  const program = new Command('sd4match')
    .description('SD4Match Workstation engine: datasets, prompt tuning and evaluation with ONNX Runtime')
    .version(ENGINE_VERSION)
    .option('--db <file>', 'the SQLite database (default: $SD4MATCH_DB, else workstation.db in the app-data folder)')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerGraphCommands(program);
  registerDatasetCommands(program);
  registerDebugCommands(program);
  registerModelCommands(program);
  registerRunCommands(program);
  registerGenerateCommand(program);
  registerServeCommand(program);
  registerSuggestCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed help or the usage error
      return err.exitCode;
    }
    return reportError(err);
  }
}

const invokedDirectly = process.argv[1] && /cli\.(ts|js|mjs)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.exitCode = reportError(err);
    },
  );
}
