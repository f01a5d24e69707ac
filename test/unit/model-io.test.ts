import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Model, readTensor } from '../../src/main/engine/onnx/ir.js';
import { decodeModel, encodeModel, loadModel, saveModel } from '../../src/main/engine/onnx/model-io.js';
import { runModel } from '../../src/main/engine/graph/run.js';
import { constToTensorValue } from '../../src/main/engine/onnx/specialize.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-io-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function sampleModel(weights: number[]): Model {
  return {
    irVersion: 8,
    opsets: [{ domain: '', version: 17 }],
    producerName: 'test',
    producerVersion: '1',
    docString: '',
    metadata: { origin: 'unit test' },
    functions: [],
    source: 'sample',
    graph: {
      name: 'g',
      nodes: [
        {
          name: 'mul',
          opType: 'Mul',
          domain: '',
          inputs: ['x', 'w'],
          outputs: ['y'],
          attrs: {},
          metadata: { namespace: ': M/blocks.0: pkg.Block/mul: aten.mul' },
        },
        {
          name: 'slice',
          opType: 'Slice',
          domain: '',
          inputs: ['y', 'starts', 'ends', 'axes'],
          outputs: ['z'],
          attrs: {},
          metadata: {},
        },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: ['n', weights.length] }],
      outputs: [{ name: 'z', dtype: 'float32', shape: null }],
      initializers: new Map([
        ['w', constToTensorValue('w', { dtype: 'float32', dims: [weights.length], v: weights })],
        ['starts', constToTensorValue('starts', { dtype: 'int64', dims: [1], v: [1] })],
        ['ends', constToTensorValue('ends', { dtype: 'int64', dims: [1], v: [9.3e18] })],
        ['axes', constToTensorValue('axes', { dtype: 'int64', dims: [1], v: [-1] })],
      ]),
      valueInfo: new Map(),
    },
  };
}

describe('model files', () => {
  it('round-trips nodes, attributes, metadata and int64 extremes through protobuf', () => {
    const m = sampleModel([1, 2, 3]);
    m.graph.nodes[0].attrs = {
      f: { type: 'float', value: 0.5 },
      i: { type: 'int', value: -7 },
      s: { type: 'string', value: 'héllo' },
      fs: { type: 'floats', value: [0.25, -1] },
      is: { type: 'ints', value: [1, 2, 3] },
      ss: { type: 'strings', value: ['a', 'b'] },
    };
    const back = decodeModel(encodeModel(m), 'mem', tmp);
    expect(back.graph.nodes[0].attrs).toEqual(m.graph.nodes[0].attrs);
    expect(back.graph.nodes[0].metadata.namespace).toBe(': M/blocks.0: pkg.Block/mul: aten.mul');
    expect(back.metadata).toEqual({ origin: 'unit test' });
    expect(back.graph.inputs[0].shape).toEqual(['n', 3]);
    const ends = readTensor(back.graph.initializers.get('ends')!);
    expect(ends.data[0]).toBe(2n ** 63n - 1n); // saturated, never wrapped to INT64_MIN
  });

  it('writes large tensors to an external-data file and reads them back', async () => {
    const weights = Array.from({ length: 5000 }, (_, i) => i / 7);
    const file = path.join(tmp, 'ext', 'model.onnx');
    saveModel(sampleModel(weights), file, { externalData: 'always' });
    expect(fs.existsSync(`${file}.data`)).toBe(true);
    const m = loadModel(file);
    const w = m.graph.initializers.get('w')!;
    expect(w.data.kind).toBe('external');
    expect(Array.from(readTensor(w).data as Float32Array).slice(0, 3)).toEqual([0, Math.fround(1 / 7), Math.fround(2 / 7)]);
    const out = await runModel(m, { x: { dtype: 'float32', dims: [1, 5000], data: new Float32Array(5000).fill(2) } });
    expect(out.z.dims).toEqual([1, 4999]);
    expect((out.z.data as Float32Array)[0]).toBeCloseTo(2 / 7, 6);
  });

  it('re-saving a model with external data hard-links the weights instead of copying them', () => {
    const src = path.join(tmp, 'ext', 'model.onnx');
    const dst = path.join(tmp, 'copy', 'model.onnx');
    saveModel(loadModel(src), dst);
    const linked = fs.readdirSync(path.dirname(dst)).find((f) => f.endsWith('.data'))!;
    expect(fs.statSync(path.join(path.dirname(dst), linked)).ino).toBe(fs.statSync(`${src}.data`).ino);
    expect(Array.from(readTensor(loadModel(dst).graph.initializers.get('w')!).data as Float32Array).length).toBe(5000);
  });

  it('handles a model above the 2 GiB protobuf limit without reading its weights', () => {
    const dir = path.join(tmp, 'huge');
    fs.mkdirSync(dir, { recursive: true });
    const count = 600_000_000; // 2.4 GB of float32, as a sparse file
    const dataFile = path.join(dir, 'weights.bin');
    fs.closeSync(fs.openSync(dataFile, 'w'));
    fs.truncateSync(dataFile, count * 4);
    const m = sampleModel([1]);
    m.graph.initializers.set('w', { name: 'w', dtype: 'float32', dims: [count], data: { kind: 'external', file: dataFile, offset: 0, length: count * 4 } });
    m.graph.inputs = [{ name: 'x', dtype: 'float32', shape: [count] }];
    const file = path.join(dir, 'huge.onnx');
    const rssBefore = process.memoryUsage().rss;
    saveModel(m, file); // external weights stay where they are (same folder: referenced in place)
    const back = loadModel(file);
    const copy = path.join(tmp, 'huge-copy', 'huge.onnx');
    saveModel(back, copy); // another folder: hard-linked
    const grown = process.memoryUsage().rss - rssBefore;
    expect(fs.statSync(file).size).toBeLessThan(10_000);
    expect(back.graph.initializers.get('w')!.data).toMatchObject({ kind: 'external', length: count * 4 });
    expect(grown).toBeLessThan(200 * 1024 * 1024);
    expect(() => encodeModel(back)).toThrow(/lives in external data; save the model to a file instead/);
  });
});
