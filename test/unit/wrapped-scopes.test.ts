/**
 * Exports that wrap the model (`torch.onnx.export(Wrapper(unet))`) put every module one level
 * deeper: TorchScript names nodes `/u/up_blocks.1/...`, the dynamo exporter records
 * `: __main__.W/u: pkg.UNet/u.up_blocks.1: ...`. Module scopes must still be found by the path
 * the user knows (`up_blocks.1`), and the tapped graphs must compute the same features.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../src/main/engine/onnx/model-io.js';
import type { HostTensor, Model } from '../../src/main/engine/onnx/ir.js';
import { createModelSession } from '../../src/main/engine/onnx/runtime.js';
import { listScopes, resolveScope } from '../../src/main/engine/onnx/scopes.js';
import { tap } from '../../src/main/engine/onnx/transforms.js';
import { compileSd } from '../../src/main/engine/sd4match/model/compile.js';
import { inspectSdFolder } from '../../src/main/engine/sd4match/model/model-folder.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { Rng } from '../helpers/random.js';

const TORCHSCRIPT_UNET = 'sd/unet/model.onnx';
const DYNAMO_UNET = 'unet-dynamo/model.onnx';
const HAVE_DYNAMO = HAVE_FIXTURES && fs.existsSync(modelPath(DYNAMO_UNET));
if (HAVE_FIXTURES && !HAVE_DYNAMO) console.warn(`[skip] dynamo fixture not found at ${modelPath(DYNAMO_UNET)}; the dynamo wrapped-export tests need it`);

/** A TorchScript export of `W(u=unet)`: every scoped node name gains a leading `/u`. */
function wrapTorchScript(model: Model, attr = 'u'): Model {
  for (const n of model.graph.nodes) if (n.name.startsWith('/')) n.name = `/${attr}${n.name}`;
  return model;
}

/**
 * A dynamo export of `W(u=unet)`: the root segment becomes the wrapper, the UNet becomes module
 * `u`, and every module path below it gains `u.`; the last segment (the aten op) is unchanged.
 * Only `namespace` is rewritten: it is the entry scopes.ts reads.
 */
function wrapDynamo(model: Model, attr = 'u'): Model {
  for (const n of model.graph.nodes) {
    const ns = n.metadata.namespace;
    if (ns === undefined) continue;
    const segments = ns.split('/');
    const rootClass = segments[0].replace(/^:\s*/, '');
    const modules = segments.slice(1, -1).map((s) => `${attr}.${s}`);
    n.metadata.namespace = [': __main__.W', `${attr}: ${rootClass}`, ...modules, segments[segments.length - 1]].join('/');
  }
  return model;
}

function randomTensor(rng: Rng, dims: number[]): HostTensor {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { dtype: 'float32', dims, data };
}

/** Seeded UNet inputs at the fixtures' latent size (32 x 32, 77 tokens of width 32). */
function unetFeeds(seed: number): Record<string, HostTensor> {
  const rng = new Rng(seed);
  return {
    sample: randomTensor(rng, [1, 4, 32, 32]),
    timestep: { dtype: 'int64', dims: [], data: BigInt64Array.of(500n) },
    encoder_hidden_states: randomTensor(rng, [1, 77, 32]),
  };
}

async function features(model: Model, feeds: Record<string, HostTensor>): Promise<HostTensor> {
  // One thread: bit-identical results and no competition with other work on the machine.
  const session = await createModelSession(model, { providers: ['cpu'], intraOpThreads: 1 });
  try {
    return (await session.run(feeds)).features;
  } finally {
    await session.dispose();
  }
}

describe.skipIf(!HAVE_FIXTURES)('module scopes of a wrapped TorchScript export', () => {
  const plain = () => loadModel(modelPath(TORCHSCRIPT_UNET));
  const wrapped = () => wrapTorchScript(plain());

  it('turns /u/up_blocks.1/... node names into scopes under u', () => {
    const scopes = listScopes(wrapped().graph);
    expect(scopes.has('u.up_blocks.1')).toBe(true);
    expect(scopes.has('u.up_blocks.1.upsamplers.0.conv')).toBe(true);
    expect(scopes.has('up_blocks.1')).toBe(false);
  });

  it('resolves up_blocks.1 to the unique scope ending in .up_blocks.1', () => {
    expect(resolveScope(wrapped().graph, 'up_blocks.1')).toBe('u.up_blocks.1');
    expect(resolveScope(wrapped().graph, 'u.up_blocks.1')).toBe('u.up_blocks.1');
  });

  it('taps the same tensor as on the unwrapped model, and ONNX Runtime gives identical features', async () => {
    const a = tap(plain(), 'up_blocks.1', 'features');
    const b = tap(wrapped(), 'up_blocks.1', 'features');
    expect(a.scope).toBe('up_blocks.1');
    expect(b.scope).toBe('u.up_blocks.1');
    expect(b.tensor).toBe(a.tensor);
    expect(b.model.metadata['sd4match.tap']).toBe('u.up_blocks.1');
    const feeds = unetFeeds(11);
    const fa = await features(a.model, feeds);
    const fb = await features(b.model, feeds);
    expect(fb.dims).toEqual(fa.dims);
    expect(fa.dims).toEqual([1, 32, 16, 16]);
    expect(fa.data.every((v) => Number.isFinite(v))).toBe(true);
    expect(fb.data).toEqual(fa.data);
  });

  it('calls a suffix ambiguous when two wrappers both hold an up_blocks.1, naming both', () => {
    const m = wrapped();
    // a second wrapper `v` with its own up_blocks.1 (one node is enough to own a scope)
    m.graph.nodes.push({ name: '/v/up_blocks.1/Identity', opType: 'Identity', domain: '', inputs: ['sample'], outputs: ['v_sample'], attrs: {}, metadata: {} });
    m.graph.outputs.push({ name: 'v_sample', dtype: 'float32', shape: null });
    expect(() => resolveScope(m.graph, 'up_blocks.1')).toThrow("module scope 'up_blocks.1' is ambiguous; it matches u.up_blocks.1, v.up_blocks.1");
    expect(() => tap(m, 'up_blocks.1')).toThrow(/ambiguous; it matches u\.up_blocks\.1, v\.up_blocks\.1/);
    // the full path still picks one
    expect(resolveScope(m.graph, 'u.up_blocks.1')).toBe('u.up_blocks.1');
  });

  it('lists nearby scopes, u.up_blocks.1 among them, for a scope that matches nothing', () => {
    let message = '';
    try {
      resolveScope(wrapped().graph, 'up_blocks.9');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^module scope 'up_blocks\.9' does not exist in this model; scopes nearby: /);
    const nearby = message.slice(message.indexOf('scopes nearby: ') + 'scopes nearby: '.length).split(', ');
    expect(nearby).toContain('u.up_blocks.1');
    expect(nearby.slice(0, 4)).toEqual(['u.up_blocks.0', 'u.up_blocks.1', 'u.up_blocks.2', 'u.up_blocks.3']);
  });
});

describe.skipIf(!HAVE_DYNAMO)('module scopes of a wrapped dynamo export', () => {
  const plain = () => loadModel(modelPath(DYNAMO_UNET));
  const wrapped = () => wrapDynamo(plain());

  it('reads the wrapper from the namespace metadata', () => {
    const g = wrapped().graph;
    const conv = g.nodes.find((n) => n.metadata.namespace?.includes('/u.up_blocks.1.upsamplers.0: '));
    expect(conv?.metadata.namespace).toMatch(/^: __main__\.W\/u: __main__\.\w+\/u\.up_blocks\.1: [\w.]+\/u\.up_blocks\.1\.upsamplers\.0: /);
    const scopes = listScopes(g);
    expect(scopes.has('u.up_blocks.1')).toBe(true);
    expect(scopes.has('up_blocks.1')).toBe(false);
    expect(resolveScope(g, 'up_blocks.1')).toBe('u.up_blocks.1');
  });

  it('taps the same tensor as on the unwrapped model, and ONNX Runtime gives identical features', async () => {
    const a = tap(plain(), 'up_blocks.1', 'features');
    const b = tap(wrapped(), 'up_blocks.1', 'features');
    expect(b.scope).toBe('u.up_blocks.1');
    expect(b.tensor).toBe(a.tensor);
    const feeds = unetFeeds(12);
    const fa = await features(a.model, feeds);
    const fb = await features(b.model, feeds);
    expect(fa.dims).toEqual([1, 32, 16, 16]);
    expect(fb.dims).toEqual(fa.dims);
    expect(fa.data.every((v) => Number.isFinite(v))).toBe(true);
    expect(fb.data).toEqual(fa.data);
  });

  it('lists nearby scopes, u.up_blocks.1 among them, for a scope that matches nothing', () => {
    expect(() => resolveScope(wrapped().graph, 'up_blocks.9')).toThrow(/does not exist in this model; scopes nearby: .*\bu\.up_blocks\.1\b/);
  });
});

describe.skipIf(!HAVE_FIXTURES)('a Stable Diffusion folder with a wrapped UNet export', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-wrapped-'));
    const src = path.dirname(path.dirname(modelPath(TORCHSCRIPT_UNET)));
    for (const part of ['model_index.json', 'scheduler', 'text_encoder', 'vae_encoder']) {
      fs.cpSync(path.join(src, part), path.join(dir, 'sd', part), { recursive: true });
    }
    fs.cpSync(path.join(src, 'unet', 'config.json'), path.join(dir, 'sd', 'unet', 'config.json'));
    saveModel(wrapTorchScript(loadModel(modelPath(TORCHSCRIPT_UNET))), path.join(dir, 'sd', 'unet', 'model.onnx'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('passes folder validation and compiles a feature graph tapped at u.up_blocks.1', async () => {
    const folder = inspectSdFolder(path.join(dir, 'sd'));
    const compiled = compileSd(folder, path.join(dir, 'cache'));
    const unet = loadModel(compiled.unetFeatures);
    expect(unet.metadata['sd4match.tap']).toBe('u.up_blocks.1');
    expect(unet.graph.outputs.map((o) => o.name)).toEqual(['features']);
    const feeds = unetFeeds(13);
    const expected = await features(tap(loadModel(modelPath(TORCHSCRIPT_UNET)), 'up_blocks.1', 'features').model, feeds);
    expect((await features(unet, feeds)).data).toEqual(expected.data);
  });
});
