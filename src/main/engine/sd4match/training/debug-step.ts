/**
 * One SD4Match-Single step on explicit tensors (the `debug step` command): the prompt is
 * [SOS, 75 learnable rows, EOS] initialised from the embeddings of `promptIds`; the same prompt
 * conditions the source and target images; one Adam step; the loss again with the new prompt.
 */
import { AppError } from '../../../shared/errors.js';
import type { HostTensor } from '../../onnx/ir.js';
import { adamStep, zerosLike } from './adam.js';
import type { SdModel } from '../model/sd-model.js';
import { promptIndex, StepGraph } from './step-graph-cache.js';
import { CONTEXT_LENGTH } from '../model/tokenizer.js';
import { rows, withRows } from '../prompts/token-rows.js';

/** The learnable rows of the debug step's prompt: every row between SOS and EOS. */
const LEARNABLE = { start: 1, end: CONTEXT_LENGTH - 1 };

export interface SingleStepArgs {
  promptIds: HostTensor;
  noisyLatents: HostTensor;
  srcKps: Float32Array;
  trgKps: Float32Array;
  nPts: number[];
  N: number;
  frame: { h: number; w: number };
  timestep: number;
  lr: number;
}

export async function singleStep(sd: SdModel, a: SingleStepArgs): Promise<{ lossBefore: number; gradLearnable: HostTensor; learnableAfter: HostTensor; lossAfter: number }> {
  const n = a.noisyLatents.dims[0];
  const B = n / 2;
  if (!Number.isInteger(B) || B < 1) throw new AppError('INVALID_ARGUMENT', `noisy latents hold ${n} images; a step needs sources and targets (an even number)`);
  const tokens = await sd.embedIds(a.promptIds);
  const learn0 = rows(tokens, LEARNABLE.start, LEARNABLE.end);
  const step = new StepGraph(sd, { B, N: a.N, h: a.noisyLatents.dims[2], w: a.noisyLatents.dims[3], latents: 'noisy', frame: a.frame });
  await step.ready();
  const plans = step.plans({ srcKps: a.srcKps, trgKps: a.trgKps, nPts: a.nPts, N: a.N });
  const ts = step.timestep(a.timestep);
  // every image shares the prompt
  const index = promptIndex(new Array(B).fill(0));
  const lossAndGrad = async (learn: HostTensor) => {
    const r = await step.run({ tokens: withRows(tokens, LEARNABLE.start, learn), prompt_index: index, noisy_latents: a.noisyLatents, timestep: ts, ...plans });
    return { loss: r.loss, grad: rows(r.gradTokens, LEARNABLE.start, LEARNABLE.end) };
  };
  const before = await lossAndGrad(learn0);
  const st = await adamStep(sd.sessions, learn0, before.grad, { m: zerosLike(learn0), v: zerosLike(learn0) }, 1, a.lr);
  const after = await lossAndGrad(st.param);
  return { lossBefore: before.loss, gradLearnable: before.grad, learnableAfter: st.param, lossAfter: after.loss };
}
