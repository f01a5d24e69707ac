/**
 * `sd4match` — the engine headless. Never imports 'electron'.
 * Each command group lives in src/main/cli/<group>.ts and registers itself on the program.
 */
import { Command, CommanderError, Option } from 'commander';
import { PROVIDER_CHOICES, parseProviderChoice, setProviderChoice } from './engine/onnx/providers.js';
import { PRECISION_CHOICES, PRECISION_ENV, parsePrecisionChoice, setPrecisionChoice } from './engine/onnx/precision.js';
import { resolveProviders, setProviderProbeCache } from './engine/onnx/runtime.js';
import { resolveStoreLocation } from './store/paths.js';
import { reportError } from './cli/common.js';
import { registerDatasetCommands } from './cli/datasets.js';
import { registerDbCommands } from './cli/db.js';
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
    .addOption(
      new Option(
        '--provider <name>',
        `execution provider: ${PROVIDER_CHOICES.join(' | ')}; auto takes the fastest that works here and never a software GPU (default: the store's setting, else auto)`,
      ).env('SD4MATCH_PROVIDER'),
    )
    .addOption(
      new Option(
        '--precision <p>',
        `feature-graph precision: ${PRECISION_CHOICES.join(' | ')}; fp16 runs weights and activations in float16 (softmax, normalisation and reductions in float32) and needs a provider with float16 kernels; auto takes fp16 on a GPU provider that has them, fp32 on the CPU (default: fp32)`,
      ).env(PRECISION_ENV),
    )
    .hook('preAction', async (_program, action) => {
      // before any session: where this machine's provider probe is kept, and the provider asked for
      // (one that cannot run here is refused now, naming the option, not deep inside a job)
      const o = action.optsWithGlobals<{ db?: string; provider?: string; precision?: string }>();
      setProviderProbeCache(resolveStoreLocation(o.db).cacheDir);
      if (o.provider !== undefined) {
        const where = program.getOptionValueSource('provider') === 'env' ? 'SD4MATCH_PROVIDER' : '--provider';
        const choice = parseProviderChoice(o.provider, where);
        if (choice !== 'auto' && choice !== 'cpu') await resolveProviders(choice, where);
        setProviderChoice(choice, 'option');
      }
      if (o.precision !== undefined) setPrecisionChoice(parsePrecisionChoice(o.precision, program.getOptionValueSource('precision') === 'env' ? PRECISION_ENV : '--precision'));
    })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerGraphCommands(program);
  registerDatasetCommands(program);
  registerDbCommands(program);
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
