/**
 * The op registry (engine/onnx/ops): one file per op type, listed once; a missing shape or folding
 * rule is an error naming the op and the node; every op of the fixture models has a shape rule.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GRADIENT_RULES } from '../../src/main/engine/autodiff/registry.js';
import { evalNode } from '../../src/main/engine/onnx/constant-fold.js';
import { loadModel } from '../../src/main/engine/onnx/model-io.js';
import { Add } from '../../src/main/engine/onnx/ops/Add.js';
import { MatMul } from '../../src/main/engine/onnx/ops/MatMul.js';
import { buildOpRegistry, opRegistry, OPS } from '../../src/main/engine/onnx/ops/registry.js';
import { inferNode } from '../../src/main/engine/onnx/shape-infer.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { node } from '../helpers/graphs.js';

const OPS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/main/engine/onnx/ops');

describe('op registry', () => {
  it('refuses an op type defined twice, naming it', () => {
    expect(() => buildOpRegistry([Add, MatMul, Add])).toThrow('op Add is registered twice');
  });

  it('names the op and the node of a missing shape rule', () => {
    const n = node('/blocks.0/Frob_3', 'Frobnicate', ['x'], ['y']);
    expect(() => inferNode(n, [{ dtype: 'float32', dims: [2] }], 17)).toThrow(
      expect.objectContaining({ code: 'ONNX_UNSUPPORTED', message: "node '/blocks.0/Frob_3': shape inference does not know op Frobnicate" }),
    );
  });

  it('knows only the default domain: a same-named op of another domain has no rule', () => {
    const n = { ...node('fused', 'Add', ['a', 'b'], ['y']), domain: 'com.microsoft' };
    expect(() => opRegistry.shapeRule(n)).toThrow("node 'fused': shape inference does not know op Add (domain com.microsoft)");
    expect(opRegistry.shapeRule({ ...n, domain: 'ai.onnx' })).toBe(Add.infer);
  });

  it('names the op and the node when asked to fold an op without a folding rule', () => {
    const n = node('proj', 'MatMul', ['a', 'b'], ['y']);
    const c = { dtype: 'float32' as const, dims: [1, 1], v: [2] };
    expect(opRegistry.canFold('MatMul')).toBe(false);
    expect(() => evalNode(n, [c, c], [{ dtype: 'float32', dims: [1, 1] }], 17)).toThrow(
      expect.objectContaining({ code: 'ONNX_UNSUPPORTED', message: "node 'proj': no constant-folding rule for op MatMul" }),
    );
  });

  it('folds through the registry', () => {
    const n = node('sum', 'Add', ['a', 'b'], ['y']);
    const a = { dtype: 'int64' as const, dims: [2], v: [1, 2] };
    const b = { dtype: 'int64' as const, dims: [], v: [10] };
    expect(opRegistry.canFold('Add')).toBe(true);
    expect(evalNode(n, [a, b], [{ dtype: 'int64', dims: [2] }], 17)).toEqual([{ dtype: 'int64', dims: [2], v: [11, 12] }]);
  });

  it('lists every op file once, each named after its op type', () => {
    const files = fs
      .readdirSync(OPS_DIR)
      .filter((f) => /^[A-Z]\w*\.ts$/.test(f))
      .map((f) => f.slice(0, -3))
      .sort();
    expect(OPS.map((o) => o.opType).sort()).toEqual(files);
  });

  it('has a shape rule for every op a gradient formula exists for', () => {
    const missing = GRADIENT_RULES.filter((r) => r.kind === 'build' && !opRegistry.opTypes().includes(r.opType)).map((r) => r.opType);
    expect(missing).toEqual([]);
  });

  it.skipIf(!HAVE_FIXTURES)('has a shape rule for every op type of the fixture models', () => {
    const models = ['sd/text_encoder', 'sd/unet', 'sd/vae_encoder', 'sd/vae_decoder', 'dinov2', 'unet-dynamo'];
    const seen = new Set<string>();
    for (const m of models) {
      for (const n of loadModel(modelPath(`${m}/model.onnx`)).graph.nodes) {
        expect(() => opRegistry.shapeRule(n), `${m}: node '${n.name}'`).not.toThrow();
        seen.add(n.opType);
      }
    }
    // The fixtures cover the ops of real exports: a sanity floor so an empty walk cannot pass.
    expect(seen.size).toBeGreaterThan(30);
  });
});
