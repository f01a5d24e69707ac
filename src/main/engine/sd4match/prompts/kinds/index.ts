/** The prompt kinds a run can train, by name: the trainer and the memory estimate pick theirs here. */
import type { PromptKind } from '../prompts.js';
import { CLASS } from './class.js';
import { CPM } from './cpm.js';
import { SINGLE } from './single.js';
import type { PromptKindSpec } from './strategy.js';

export type { BatchPrompts, Params, PromptContext, PromptKindSpec, PromptStrategy } from './strategy.js';

export const PROMPT_KINDS: Record<PromptKind, PromptKindSpec> = { single: SINGLE, class: CLASS, cpm: CPM };
