/**
 * One SD4Match-Single step on explicit tensors (the `debug step` command): the prompt is
 * [SOS, 75 learnable rows, EOS] initialised from the embeddings of `promptIds`; the same prompt
 * conditions the source and target images; one Adam step; the loss again with the new prompt.
 */
import { AppError } from '../../shared/errors.js';
import type { HostTensor } from '../onnx/ir.js';
import { adamStep, zerosLike } from './adam.js';
import type { SdModel } from './sd-model.js';
import { promptIndex, rows, StepGraph, withRows } from './training-step.js';

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
  const learn0 = rows(tokens, 1, 76);
  const step = new StepGraph(sd, { B, N: a.N, h: a.noisyLatents.dims[2], w: a.noisyLatents.dims[3], latents: 'noisy', frame: a.frame });
  await step.ready();
  const plans = step.plans({ srcKps: a.srcKps, trgKps: a.trgKps, nPts: a.nPts, N: a.N });
  const ts: HostTensor =
    sd.folder.timestepRank === 0
      ? { dtype: 'int64', dims: [], data: BigInt64Array.from([BigInt(a.timestep)]) }
      : { dtype: 'int64', dims: [n], data: new BigInt64Array(n).fill(BigInt(a.timestep)) };
  // every image shares the prompt
  const index = promptIndex(new Array(B).fill(0));
  const lossAndGrad = async (learn: HostTensor) => {
    const r = await step.run({ tokens: withRows(tokens, 1, learn), prompt_index: index, noisy_latents: a.noisyLatents, timestep: ts, ...plans });
    return { loss: r.loss, grad: rows(r.gradTokens, 1, 76) };
  };
  const before = await lossAndGrad(learn0);
  const st = await adamStep(sd.sessions, learn0, before.grad, { m: zerosLike(learn0), v: zerosLike(learn0) }, 1, a.lr);
  const after = await lossAndGrad(st.param);
  return { lossBefore: before.loss, gradLearnable: before.grad, learnableAfter: st.param, lossAfter: after.loss };
}
