/**
 * Parity with the reference implementation, stage by stage, through the `debug` commands.
 * Tolerances (relative L2, fixtures README): forward 1e-4, gradients and the Adam step 1e-3,
 * matches 1e-3 pixels, PCK exactly equal.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/main/engine/io/npy.js';
import { alphasCumprod } from '../../src/main/engine/sd4match/training/schedule.js';
import { runCli } from '../helpers/cli.js';
import { caseDir, caseTensor, HAVE_FIXTURES, modelPath, relErr } from '../helpers/fixtures.js';

let dir: string;
let cache: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-debug-'));
  cache = path.join(dir, 'cache');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const c = (name: string, file: string) => path.join(caseDir(name), `${file}.npy`);

async function ok(args: string[]) {
  const r = await runCli(args);
  expect(r.code, r.stderr).toBe(0);
  // a parity run on another provider (SD4MATCH_TEST_PROVIDER, passed on to the CLI) checks that provider, not a fallback
  if (process.env.SD4MATCH_TEST_PROVIDER) expect(r.stdout).toMatch(new RegExp(`^provider ${process.env.SD4MATCH_TEST_PROVIDER}$`, 'm'));
  return r;
}

describe.skipIf(!HAVE_FIXTURES)('debug commands reproduce the reference', () => {
  it('the noise schedule equals the reference alphas_cumprod bit for bit', () => {
    const ref = caseTensor('image_to_features', 'alphas_cumprod').data as Float32Array;
    expect(Array.from(alphasCumprod())).toEqual(Array.from(ref));
  });

  for (const t of [50, 261]) {
    it(`debug features: image -> VAE -> z -> z_t -> up_blocks.1 at t = ${t}`, async () => {
      const out = path.join(dir, `features_t${t}.npy`);
      const inter = path.join(dir, `inter_t${t}`);
      await ok([
        'debug',
        'features',
        '--model-dir',
        modelPath('sd'),
        '--pixels',
        c('image_to_features', 'image'),
        '--encoder-hidden-states',
        c('image_to_features', 'encoder_hidden_states'),
        '--timestep',
        String(t),
        '--vae-eps',
        c('image_to_features', 'eps_vae'),
        '--noise',
        c('image_to_features', 'noise'),
        '--cache-dir',
        cache,
        '--save-intermediates',
        inter,
        '--out',
        out,
      ]);
      expect(relErr(readNpy(out), caseTensor('image_to_features', `features_t${t}`))).toBeLessThan(1e-4);
      expect(relErr(readNpy(path.join(inter, 'latent_parameters.npy')), caseTensor('image_to_features', 'latent_parameters'))).toBeLessThan(1e-4);
      expect(relErr(readNpy(path.join(inter, 'noisy_latents.npy')), caseTensor('image_to_features', `noisy_latent_t${t}`))).toBeLessThan(1e-4);
    });
  }

  for (const method of ['kernelsoftmax', 'softmax', 'nn', 'bilinear']) {
    it(`debug match --method ${method}: matches within 1e-3 px, PCK equal`, async () => {
      const out = path.join(dir, `matches_${method}.npy`);
      await ok([
        'debug',
        'match',
        '--src-features',
        c('matching', 'src_featmaps'),
        '--trg-features',
        c('matching', 'trg_featmaps'),
        '--src-kps',
        c('matching', 'src_kps'),
        '--n-pts',
        c('matching', 'n_pts'),
        '--image-size',
        '256x256',
        '--method',
        method,
        '--trg-kps',
        c('matching', 'trg_kps'),
        '--pckthres',
        c('matching', 'pckthres'),
        '--out',
        out,
      ]);
      const got = readNpy(out).data as Float32Array;
      const ref = caseTensor('matching', `matches_${method}`).data as Float32Array;
      const nPts = Array.from(caseTensor('matching', 'n_pts').data as BigInt64Array, Number);
      let worst = 0;
      nPts.forEach((n, b) => {
        for (let i = 0; i < 2 * n; i++) worst = Math.max(worst, Math.abs(got[b * 40 + i] - ref[b * 40 + i]));
      });
      expect(worst).toBeLessThan(1e-3);
      for (const a of ['0.05', '0.1', '0.15']) {
        expect(Array.from(readNpy(out.replace(/\.npy$/, `.pck_${a}.npy`)).data as Float32Array)).toEqual(Array.from(caseTensor('matching', `pck_${method}_${a}`).data as Float32Array));
      }
    });
  }

  it('debug loss: loss and both feature gradients', async () => {
    const out = path.join(dir, 'loss');
    await ok([
      'debug',
      'loss',
      '--src-features',
      c('loss', 'src_featmaps'),
      '--trg-features',
      c('loss', 'trg_featmaps'),
      '--src-kps',
      c('loss', 'src_kps'),
      '--trg-kps',
      c('loss', 'trg_kps'),
      '--n-pts',
      c('loss', 'n_pts'),
      '--image-size',
      '256x256',
      '--out',
      out,
    ]);
    expect(relErr(readNpy(path.join(out, 'loss.npy')), caseTensor('loss', 'loss'))).toBeLessThan(1e-4);
    expect(relErr(readNpy(path.join(out, 'grad_src_featmaps.npy')), caseTensor('loss', 'grad_src_featmaps'))).toBeLessThan(1e-3);
    expect(relErr(readNpy(path.join(out, 'grad_trg_featmaps.npy')), caseTensor('loss', 'grad_trg_featmaps'))).toBeLessThan(1e-3);
  });

  it('debug cpm: token embeddings and every parameter gradient', async () => {
    const out = path.join(dir, 'cpm');
    await ok([
      'debug',
      'cpm',
      '--params',
      caseDir('cpm'),
      '--src-patches',
      c('cpm', 'src_dino_patches'),
      '--trg-patches',
      c('cpm', 'trg_dino_patches'),
      '--sos-eos',
      c('cpm', 'sos_eos_embeds'),
      '--cotangent',
      c('cpm', 'cotangent'),
      '--out',
      out,
    ]);
    expect(relErr(readNpy(path.join(out, 'token_embeds.npy')), caseTensor('cpm', 'token_embeds'))).toBeLessThan(1e-4);
    for (const p of ['global_embeds', 'positional_embedding', 'alpha_cond', 'linear_C_weight', 'linear_C_bias', 'linear_N_weight', 'linear_N_bias']) {
      expect(relErr(readNpy(path.join(out, `grad_${p}.npy`)), caseTensor('cpm', `grad_${p}`)), p).toBeLessThan(1e-3);
    }
  });

  it('debug step: one SD4Match-Single step end to end', async () => {
    const out = path.join(dir, 'step');
    await ok([
      'debug',
      'step',
      '--model-dir',
      modelPath('sd'),
      '--prompt-ids',
      c('single_step', 'prompt_ids'),
      '--noisy-latents',
      c('single_step', 'noisy_latents'),
      '--src-kps',
      c('single_step', 'src_kps'),
      '--trg-kps',
      c('single_step', 'trg_kps'),
      '--n-pts',
      c('single_step', 'n_pts'),
      '--image-size',
      '256x256',
      '--timestep',
      '261',
      '--lr',
      '1e-2',
      '--cache-dir',
      cache,
      '--out',
      out,
    ]);
    expect(relErr(readNpy(path.join(out, 'loss_before.npy')), caseTensor('single_step', 'loss_before'))).toBeLessThan(1e-4);
    expect(relErr(readNpy(path.join(out, 'grad_learnable.npy')), caseTensor('single_step', 'grad_learnable'))).toBeLessThan(1e-3);
    expect(relErr(readNpy(path.join(out, 'learnable_after_adam.npy')), caseTensor('single_step', 'learnable_after_adam'))).toBeLessThan(1e-3);
    expect(relErr(readNpy(path.join(out, 'loss_after.npy')), caseTensor('single_step', 'loss_after'))).toBeLessThan(1e-3);
  });
});
