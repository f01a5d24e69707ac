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

/** The validation report of a folder: every problem and warning, named. */
export interface ModelValidation {
  ok: boolean;
  kind: ModelKind;
  /** Absolute path as the engine resolved it. */
  folder: string;
  problems: string[];
  warnings: string[];
  facts: ModelFacts;
}
