/**
 * Generation against the reference: `debug generate` on the fixture's initial latents and hidden
 * states (DDIM from the folder's scheduler_config.json, 4 steps, guidance 7.5, the UNet on
 * [uncond, cond] as one batch) matches diffusers' latents after every step and the decoded image
 * within 1e-4 relative L2; the VAE decoder alone matches `vae_decode`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/main/engine/io/npy.js';
import { Generator } from '../../src/main/engine/sd4match/generation/generate.js';
import { inspectSdFolder } from '../../src/main/engine/sd4match/model/model-folder.js';
import { runCli } from '../helpers/cli.js';
import { caseDir, caseTensor, HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';

let dir: string;

describe.skipIf(!HAVE_FIXTURES)('generation parity with diffusers (tiny fixtures)', () => {
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-generate-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("debug generate: every step's latents and the image within 1e-4 of diffusers", async () => {
    const c = caseDir('generate');
    const out = path.join(dir, 'gen');
    const r = await runCli([
      'debug',
      'generate',
      '--model-dir',
      modelPath('sd'),
      '--initial-latents',
      path.join(c, 'initial_latents.npy'),
      '--cond',
      path.join(c, 'cond_hidden_states.npy'),
      '--uncond',
      path.join(c, 'uncond_hidden_states.npy'),
      '--steps',
      '4',
      '--guidance',
      '7.5',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const ts = Array.from(caseTensor('generate', 'timesteps').data as BigInt64Array, Number);
    expect(r.stdout).toContain(`timesteps ${ts.join(' ')}`);
    // a parity run on another provider (SD4MATCH_TEST_PROVIDER, passed on to the CLI) checks that provider, not a fallback
    if (process.env.SD4MATCH_TEST_PROVIDER) expect(r.stdout).toMatch(new RegExp(`^provider ${process.env.SD4MATCH_TEST_PROVIDER}$`, 'm'));
    for (let i = 0; i < 4; i++) {
      const e = relErr(readNpy(path.join(out, `latents_after_step${i}.npy`)), caseTensor('generate', `latents_after_step${i}`));
      expect(e, `step ${i}`).toBeLessThan(1e-4);
    }
    expect(relErr(readNpy(path.join(out, 'image.npy')), caseTensor('generate', 'image'))).toBeLessThan(1e-4);
  }, 120_000);

  it('with every attention core rewritten (fused MultiHeadAttention, or blocked standard ops) every step and the image stay within 1e-4 of diffusers', async () => {
    const folder = inspectSdFolder(modelPath('sd'));
    for (const mode of ['fused', 'blocked'] as const) {
      const g = new Generator(folder, { attention: { mode, minBytes: 0, blockBytes: 4096 } });
      try {
        const [h, w] = caseTensor('generate', 'initial_latents').dims.slice(2);
        const r = await g.generate({
          latents: caseTensor('generate', 'initial_latents'),
          cond: caseTensor('generate', 'cond_hidden_states'),
          uncond: caseTensor('generate', 'uncond_hidden_states'),
          steps: 4,
          guidance: 7.5,
        });
        r.perStep.forEach((t, i) => expect(relErr(t, caseTensor('generate', `latents_after_step${i}`)), `${mode} step ${i}`).toBeLessThan(1e-4));
        expect(relErr(r.image, caseTensor('generate', 'image')), `${mode} image`).toBeLessThan(1e-4);
        // the graphs that ran (their provider known): no control flow; fused where the provider's
        // kernel is exact (on WebGPU the cores of 32 queries and more fall back to blocked ops:
        // attention-webgpu.ts), blocked otherwise
        for (const graph of [g.unetGraph(h, w).model, g.decoderGraph(h, w).model]) {
          const ops = graph.graph.nodes.map((n) => n.opType);
          expect(ops.some((op) => op === 'Scan' || op === 'Loop')).toBe(false);
          const mha = ops.includes('MultiHeadAttention');
          if (mode === 'blocked') expect(mha, mode).toBe(false);
          else if (g.provider === 'cpu') expect(mha && !ops.includes('Softmax'), `${mode}: every core fused on the CPU`).toBe(true);
        }
        if (mode === 'fused') expect(g.unetGraph(h, w).model.graph.nodes.some((n) => n.opType === 'MultiHeadAttention')).toBe(true);
      } finally {
        await g.dispose();
      }
    }
  }, 120_000);

  it('the VAE decoder matches vae_decode', async () => {
    const g = new Generator(inspectSdFolder(modelPath('sd')));
    try {
      const img = await g.decode(caseTensor('vae_decode', 'latent_sample'));
      expect(relErr(img, caseTensor('vae_decode', 'sample'))).toBeLessThan(1e-4);
    } finally {
      await g.dispose();
    }
  });

  it('refuses a folder without vae_decoder, zero steps and a negative guidance scale', async () => {
    const c = caseDir('generate');
    const noDecoder = path.join(dir, 'sd-no-decoder');
    fs.cpSync(modelPath('sd'), noDecoder, { recursive: true });
    fs.rmSync(path.join(noDecoder, 'vae_decoder'), { recursive: true });
    const args = (model: string, extra: string[]) => [
      'debug',
      'generate',
      '--model-dir',
      model,
      '--initial-latents',
      path.join(c, 'initial_latents.npy'),
      '--cond',
      path.join(c, 'cond_hidden_states.npy'),
      '--uncond',
      path.join(c, 'uncond_hidden_states.npy'),
      '--out',
      path.join(dir, 'x'),
      ...extra,
    ];
    const a = await runCli(args(noDecoder, ['--steps', '2']));
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/has no vae_decoder\/model\.onnx: generating images needs the VAE decoder/);
    const b = await runCli(args(modelPath('sd'), ['--steps', '0']));
    expect(b.stderr).toMatch(/--steps must be at least 1, got 0/);
    const n = await runCli(args(modelPath('sd'), ['--steps', '2', '--guidance', '-1']));
    expect(n.stderr).toMatch(/--guidance must be >= 0, got -1/);
    expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
  }, 120_000);
});
