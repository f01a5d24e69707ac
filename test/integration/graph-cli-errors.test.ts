/**
 * Bad input to the graph commands: each gives one clear line on stderr, a non-zero exit code and
 * no stack trace.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/main/engine/io/npy.js';
import { runCli, expectCleanFailure } from '../helpers/cli.js';
import { caseDir, HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';

describe.skipIf(!HAVE_FIXTURES)('graph commands reject bad input cleanly', () => {
  let dir: string;
  let tapped: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-bad-'));
    tapped = path.join(dir, 'tap.onnx');
    const r = await runCli(['graph', 'tap', modelPath('sd/unet/model.onnx'), '--module', 'up_blocks.1', '--output-name', 'features', '-o', tapped]);
    expect(r.code).toBe(0);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A copy of a fixture case folder with one tensor replaced. */
  function inputsWith(name: string, tensor: Parameters<typeof encodeNpy>[0] | Uint8Array): string {
    const d = fs.mkdtempSync(path.join(dir, 'inputs-'));
    for (const f of fs.readdirSync(caseDir('unet_tap_vjp_b1'))) fs.copyFileSync(path.join(caseDir('unet_tap_vjp_b1'), f), path.join(d, f));
    fs.writeFileSync(path.join(d, `${name}.npy`), tensor instanceof Uint8Array ? tensor : encodeNpy(tensor));
    return d;
  }

  it('rejects a file that is not ONNX', async () => {
    const f = path.join(dir, 'notes.onnx');
    fs.writeFileSync(f, 'these are my notes, not a model\n'.repeat(20));
    expectCleanFailure(await runCli(['graph', 'info', f]), /notes\.onnx is not (a valid )?(an )?ONNX model/);
  });

  it('rejects a truncated model file', async () => {
    const f = path.join(dir, 'truncated.onnx');
    const full = fs.readFileSync(modelPath('sd/text_encoder/model.onnx'));
    fs.writeFileSync(f, full.subarray(0, Math.floor(full.length / 2)));
    expectCleanFailure(await runCli(['graph', 'info', f]), /truncated\.onnx is not a valid ONNX model: the protobuf data is truncated or corrupt/);
  });

  it('names a missing external-data file', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'noext-'));
    fs.copyFileSync(modelPath('unet-dynamo/model.onnx'), path.join(d, 'model.onnx'));
    expectCleanFailure(await runCli(['graph', 'info', path.join(d, 'model.onnx')]), /external data file 'model\.onnx\.data' .* is missing/);
  });

  it('lists the scopes nearby for an unknown scope', async () => {
    const r = await runCli(['graph', 'tap', modelPath('sd/unet/model.onnx'), '--module', 'up_blocks.7', '-o', path.join(dir, 'x.onnx')]);
    expectCleanFailure(r, /module scope 'up_blocks\.7' does not exist in this model; scopes nearby: up_blocks\.0, up_blocks\.1, up_blocks\.2, up_blocks\.3/);
  });

  it('refuses --wrt on an input that is not float', async () => {
    const c = caseDir('unet_tap_vjp_b1');
    const r = await runCli(['graph', 'vjp', tapped, '--wrt', 'timestep', '--cotangent', path.join(c, 'cotangent.npy'), '--inputs', c, '--out', path.join(dir, 'o1')]);
    expectCleanFailure(r, /--wrt 'timestep' is not a float input of the graph \(it is int64\); float inputs: sample, encoder_hidden_states/);
  });

  it('refuses --wrt on a name that is not an input', async () => {
    const c = caseDir('unet_tap_vjp_b1');
    const r = await runCli(['graph', 'vjp', tapped, '--wrt', 'conv_in.weight', '--cotangent', path.join(c, 'cotangent.npy'), '--inputs', c, '--out', path.join(dir, 'o2')]);
    expectCleanFailure(r, /--wrt 'conv_in\.weight' is not a float input/);
  });

  it('rejects an .npy of the wrong shape, naming the input and the expected dimension', async () => {
    const bad = inputsWith('encoder_hidden_states', { dtype: 'float32', dims: [1, 77, 31], data: new Float32Array(77 * 31) });
    const r = await runCli(['graph', 'run', tapped, '--inputs', bad, '--out', path.join(dir, 'o3')]);
    expectCleanFailure(r, /input 'encoder_hidden_states' is declared \[batch, sequence, 32\]; got \[1, 77, 31\] \(dimension 2 must be 32\)/);
  });

  it('rejects an .npy of the wrong dtype, naming the file', async () => {
    const bad = inputsWith('timestep', { dtype: 'float32', dims: [], data: new Float32Array([50]) });
    const r = await runCli(['graph', 'run', tapped, '--inputs', bad, '--out', path.join(dir, 'o4')]);
    expectCleanFailure(r, /timestep\.npy: input 'timestep' must be int64, got float32/);
  });

  it('rejects a corrupt .npy file', async () => {
    const bad = inputsWith('sample', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]));
    const r = await runCli(['graph', 'run', tapped, '--inputs', bad, '--out', path.join(dir, 'o5')]);
    expectCleanFailure(r, /sample\.npy: not a NumPy \.npy file/);
  });

  it('rejects a cotangent that does not match the output', async () => {
    const c = caseDir('unet_tap_vjp_b1');
    const cot = path.join(dir, 'cot.npy');
    fs.writeFileSync(cot, encodeNpy({ dtype: 'float32', dims: [1, 32, 8, 8], data: new Float32Array(32 * 64) }));
    const r = await runCli(['graph', 'vjp', tapped, '--wrt', 'encoder_hidden_states', '--cotangent', cot, '--inputs', c, '--out', path.join(dir, 'o6')]);
    expectCleanFailure(r, /the cotangent must have the shape of output 'features' \[1, 32, 16, 16\], got \[1, 32, 8, 8\]/);
  });

  it('names a missing input file', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'empty-'));
    const r = await runCli(['graph', 'run', tapped, '--inputs', d, '--out', path.join(dir, 'o7')]);
    expectCleanFailure(r, /sample\.npy is missing: the graph needs input 'sample' \(float32 \[batch, 4, height, width\]\)/);
  });
});
