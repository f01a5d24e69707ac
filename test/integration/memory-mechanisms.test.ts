/**
 * What keeps memory bounded at full size, on the tiny fixture model: ensembles averaged over chunks
 * of draws equal the one-run average; one live session per large model part (evicted only after
 * its runs finish); built step graphs cached on disk and reused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';
import { SessionCache } from '../../src/main/engine/onnx/session-cache.js';
import { createSession } from '../../src/main/engine/onnx/runtime.js';
import { promptHiddenStates } from '../../src/main/engine/sd4match/prompts/prompts.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { StepGraph } from '../../src/main/engine/sd4match/training/step-graph-cache.js';
import { HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';
import { Rng } from '../helpers/random.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let work: string;
let sd: SdModel;

const normals = (dims: number[], seed: number): HostTensor => {
  const rng = new Rng(seed);
  return { dtype: 'float32', dims, data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.normal()) };
};

describe.skipIf(!HAVE_FIXTURES)('memory at scale, on the tiny model', () => {
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-mem-'));
    sd = SdModel.open(tinySdWithTokenizer(modelPath('sd'), path.join(work, 'sd')), { cacheDir: path.join(work, 'cache') });
  });
  afterAll(async () => {
    await sd.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('an ensemble averaged over chunks of draws equals the average of one run over all draws', async () => {
    const [B, K, c, h] = [2, 4, 4, 16];
    const args = {
      moments: normals([B, 2 * c, h, h], 1),
      eps: normals([B, c, h, h], 2),
      noise: normals([B, K, c, h, h], 3),
      encoderHiddenStates: repeat(await promptHiddenStates(sd, ''), B),
      timestep: 50,
    };
    const whole = await sd.features({ ...args, chunk: 4 });
    for (const chunk of [1, 2]) {
      const parts = await sd.features({ ...args, chunk });
      expect(parts.features.dims).toEqual(whole.features.dims);
      expect(relErr(parts.features, whole.features)).toBeLessThan(1e-6);
      // every draw's noisy latents, in the same (image, draw) order
      expect(relErr(parts.noisyLatents, whole.noisyLatents)).toBeLessThan(1e-7);
    }
    await expect(sd.features({ ...args, chunk: 3 })).rejects.toThrow(/ensemble of 4 draws cannot run 3 at a time/);
  });

  it('the draws per run follow the activation budget', () => {
    const previous = process.env.SD4MATCH_ACTIVATION_BUDGET_GB;
    try {
      process.env.SD4MATCH_ACTIVATION_BUDGET_GB = '1e-9';
      expect(sd.ensembleChunk(1, 8, 16, 16)).toBe(1);
      process.env.SD4MATCH_ACTIVATION_BUDGET_GB = '100';
      expect(sd.ensembleChunk(1, 8, 16, 16)).toBe(8);
    } finally {
      if (previous === undefined) delete process.env.SD4MATCH_ACTIVATION_BUDGET_GB;
      else process.env.SD4MATCH_ACTIVATION_BUDGET_GB = previous;
    }
  });

  it('holds one session per model part, disposing the other once its run in flight is done', async () => {
    const cache = new SessionCache(8);
    const open = () => createSession(sd.compiled.embed, { providers: ['cpu'] });
    const a = await cache.getOrCreate('a', open, ['part']);
    const ids: HostTensor = { dtype: 'int64', dims: [1, 77], data: new BigInt64Array(77) };
    const running = a.run({ input_ids: ids });
    const b = await cache.getOrCreate('b', open, ['part']);
    // the run that was in flight on the evicted session finished normally
    expect((await running).embeds.dims).toEqual([1, 77, sd.folder.hiddenSize]);
    expect(cache.keys()).toEqual(['b']);
    await expect(a.run({ input_ids: ids })).rejects.toThrow();
    expect((await b.run({ input_ids: ids })).embeds.dims[2]).toBe(sd.folder.hiddenSize);
    // sessions without a shared part live side by side
    await cache.getOrCreate('c', open, ['other']);
    await cache.getOrCreate('d', open);
    expect(cache.keys()).toEqual(['b', 'c', 'd']);
    await cache.clear();
  });

  it('caches a built step graph on disk by what shapes it, and reuses it', () => {
    const shape = { B: 1, N: 4, h: 16, w: 16, latents: 'moments' as const, frame: { h: 128, w: 128 } };
    const first = new StepGraph(sd, shape).build();
    const file = path.join(new StepGraph(sd, shape).dir, 'step.onnx');
    const mtime = fs.statSync(file).mtimeMs;
    const again = new StepGraph(sd, shape).build();
    expect(again).toEqual(first);
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
    expect(first.activationBytes).toBeGreaterThan(0);
    expect(first.weightBytes).toBeGreaterThan(0);
    // another batch is another graph
    expect(new StepGraph(sd, { ...shape, B: 2 }).dir).not.toBe(new StepGraph(sd, shape).dir);
  });

  it('the step graph a memory check builds is the one the run uses, once the provider is known', async () => {
    // the attention form depends on the provider (attention.ts): a check made after the model's
    // provider is known (services await sd.provider() first) must not leave a graph the run rebuilds
    const shape = { B: 1, N: 3, h: 16, w: 16, latents: 'moments' as const, frame: { h: 128, w: 128 } };
    await sd.provider();
    const checked = new StepGraph(sd, shape);
    checked.build();
    const run = new StepGraph(sd, shape);
    await run.ready();
    expect(run.dir).toBe(checked.dir);
  });
});

function repeat(t: HostTensor, n: number): HostTensor {
  const data = new Float32Array(t.data.length * n);
  for (let i = 0; i < n; i++) data.set(t.data as Float32Array, i * t.data.length);
  return { dtype: 'float32', dims: [n, ...t.dims.slice(1)], data };
}
