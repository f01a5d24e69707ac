/** What the renderer may take from src/main at run time: shared by the layering test and the bundle test. */

/** Engine modules of pure constants and types that the contract may load (and so the renderer). */
export const PURE_ENGINE_MODULES = [
  'src/main/engine/sd4match/training/train-config.ts',
  'src/main/engine/onnx/providers.ts',
  'src/main/engine/datasets/domain.ts',
  'src/main/engine/models/facts.ts',
  'src/main/engine/suggest/reliability.ts',
];

/** Where code in the renderer's run-time closure of src/main may live. */
export const RENDERER_SAFE = (r: string): boolean => r.startsWith('src/main/contract/') || r.startsWith('src/main/shared/') || PURE_ENGINE_MODULES.includes(r);
