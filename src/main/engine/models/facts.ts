/** The model kinds the workstation knows, and what validating a folder reports. Types and constants only. */

export type ModelKind = 'stable-diffusion' | 'dinov2';
export const MODEL_KINDS = ['stable-diffusion', 'dinov2'] as const satisfies readonly ModelKind[];

/** What validation learnt about a folder. */
export interface ModelFacts {
  /** Text-encoder width = the UNet's cross-attention width (SD); DINOv2 token width. */
  hiddenSize?: number;
  latentChannels?: number;
  scalingFactor?: number;
  /** A CLIP tokenizer is present (text prompts such as the template baseline need it). */
  tokenizer?: boolean;
  /** DINOv2 patch size. */
  patch?: number;
}

/**
 * What a Stable Diffusion folder can be used for, each stated by what it needs:
 * - `features`: features with the empty prompt (Suggest, Compare and evaluations with it);
 * - `textPrompts`: the template baseline and free text (Gallery);
 * - `training`: learning Single, Class and CPM prompts;
 * - `generation`: generating images (Gallery);
 * - `cpm`: training CPM prompts, which also needs a registered DINOv2 model.
 * Learned prompts and the DINOv2 baseline need none of these beyond a valid folder.
 */
export const CAPABILITIES = ['features', 'textPrompts', 'training', 'generation', 'cpm'] as const;
export type CapabilityName = (typeof CAPABILITIES)[number];

/** One capability: whether the folder has it, and when not, why (the missing part first, then what needs it). */
export interface Capability {
  ok: boolean;
  reason: string | null;
}

export type ModelCapabilities = Record<CapabilityName, Capability>;

/** The action a capability allows, as an error message says it ("model 'x' cannot …"). */
export const CAPABILITY_VERBS: Record<CapabilityName, string> = {
  features: 'compute features with the empty prompt',
  textPrompts: 'use text prompts',
  training: 'train prompts',
  generation: 'generate images',
  cpm: 'train CPM prompts',
};

/** The validation report of a folder: every problem and warning, named. */
export interface ModelValidation {
  ok: boolean;
  kind: ModelKind;
  /** Absolute path as the engine resolved it. */
  folder: string;
  problems: string[];
  warnings: string[];
  facts: ModelFacts;
  /** What a usable Stable Diffusion folder can do; null for a DINOv2 folder and an unusable one. */
  capabilities: ModelCapabilities | null;
}
