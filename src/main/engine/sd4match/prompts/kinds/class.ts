/** SD4Match-Class: one set of learnable rows per category of the training pairs. */
import { LearnableRowPrompts } from './learnable-rows.js';
import type { PromptKindSpec } from './strategy.js';

const PREFIX = 'learnable.';

export const CLASS: PromptKindSpec = {
  checkModels() {},
  // at most one category per pair
  promptsPerStep: (B) => B,
  create(ctx) {
    // sorted, so a run's parameters and their initial draws do not depend on the pairs' order
    const categories = [...new Set(ctx.train.map((p) => p.category))].sort();
    return new LearnableRowPrompts('class', ctx, {
      names: categories.map((c) => PREFIX + c),
      nameOf: (p) => PREFIX + p.category,
      fileKey: (name) => `token_embeds.${name.slice(PREFIX.length)}`,
      categories,
    });
  },
};
