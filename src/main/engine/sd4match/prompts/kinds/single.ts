/** SD4Match-Single: one set of learnable rows for the whole dataset. */
import { LearnableRowPrompts } from './learnable-rows.js';
import type { PromptKindSpec } from './strategy.js';

export const SINGLE: PromptKindSpec = {
  checkModels() {},
  // every image shares the one prompt
  promptsPerStep: () => 1,
  create: (ctx) => new LearnableRowPrompts('single', ctx, { names: ['learnable'], nameOf: () => 'learnable', fileKey: () => 'token_embeds', categories: [] }),
};
