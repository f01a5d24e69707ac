/** DDIM as diffusers' DDIMScheduler: inference timesteps per spacing, and one step per prediction type. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DDIM_DEFAULTS, type DdimConfig, DdimSampler, ddimTimesteps, readDdimConfig } from '../../src/main/engine/sd4match/generation/ddim.js';

const SD21: DdimConfig = { ...DDIM_DEFAULTS, predictionType: 'v_prediction', stepsOffset: 1, timestepSpacing: 'leading', clipSample: false, setAlphaToOne: false };
const desc = (from: number, step: number, n: number) => Array.from({ length: n }, (_, i) => from - i * step);

describe('ddimTimesteps (diffusers set_timesteps)', () => {
  it.each(['v_prediction', 'epsilon'] as const)('leading spacing with steps_offset 1 (SD 2-1), %s: 4, 25 and 50 steps', (predictionType) => {
    const cfg = { ...SD21, predictionType };
    expect(ddimTimesteps(cfg, 4)).toEqual([751, 501, 251, 1]);
    expect(ddimTimesteps(cfg, 25)).toEqual(desc(961, 40, 25));
    expect(ddimTimesteps(cfg, 50)).toEqual(desc(981, 20, 50));
  });
  it('trailing and linspace spacing, and no offset', () => {
    expect(ddimTimesteps({ ...SD21, timestepSpacing: 'trailing' }, 4)).toEqual([999, 749, 499, 249]);
    expect(ddimTimesteps({ ...SD21, timestepSpacing: 'trailing' }, 3)).toEqual([999, 666, 332]);
    expect(ddimTimesteps({ ...SD21, timestepSpacing: 'linspace' }, 4)).toEqual([999, 666, 333, 0]);
    expect(ddimTimesteps({ ...SD21, stepsOffset: 0 }, 4)).toEqual([750, 500, 250, 0]);
  });
  it('refuses zero or too many steps', () => {
    expect(() => ddimTimesteps(SD21, 0)).toThrow(/steps must be an integer in 1\.\.1000, got 0/);
    expect(() => ddimTimesteps(SD21, 1001)).toThrow(/1\.\.1000/);
  });
});

describe('DdimSampler.step', () => {
  // with the exact x0 and noise, a DDIM step lands on sqrt(ᾱ_prev) x0 + sqrt(1 - ᾱ_prev) ε
  const x0 = Float32Array.from([0.3, -0.7, 0.1, 0.9]);
  const eps = Float32Array.from([1.2, 0.4, -0.8, -1.5]);
  it.each(['epsilon', 'v_prediction', 'sample'] as const)('%s: the exact model output gives the exact previous sample', (predictionType) => {
    const s = new DdimSampler({ ...SD21, predictionType }, 4);
    const t = 501;
    const [a, aPrev] = [s.acp[t], s.acp[251]];
    const x = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
    const out = predictionType === 'epsilon' ? eps : predictionType === 'sample' ? x0 : eps.map((e, i) => Math.sqrt(a) * e - Math.sqrt(1 - a) * x0[i]);
    const prev = s.step(out, t, x);
    for (let i = 0; i < 4; i++) expect(prev[i]).toBeCloseTo(Math.sqrt(aPrev) * x0[i] + Math.sqrt(1 - aPrev) * eps[i], 5);
  });
  it('the last step uses ᾱ_0, or 1 with set_alpha_to_one; clip_sample clamps x0', () => {
    const t = 1;
    for (const setAlphaToOne of [false, true]) {
      const s = new DdimSampler({ ...SD21, predictionType: 'sample', setAlphaToOne }, 4);
      const aPrev = setAlphaToOne ? 1 : s.acp[0];
      const x = Float32Array.from([0.5]);
      const prev = s.step(Float32Array.from([0.2]), t, x);
      const e = (0.5 - Math.sqrt(s.acp[t]) * 0.2) / Math.sqrt(1 - s.acp[t]);
      expect(prev[0]).toBeCloseTo(Math.sqrt(aPrev) * 0.2 + Math.sqrt(1 - aPrev) * e, 5);
    }
    const clip = new DdimSampler({ ...SD21, predictionType: 'sample', clipSample: true, clipSampleRange: 1, setAlphaToOne: true }, 4);
    // ᾱ_prev = 1: the result is the clipped x0 (the direction term vanishes)
    expect(clip.step(Float32Array.from([3]), 1, Float32Array.from([0.5]))[0]).toBeCloseTo(1, 6);
  });
});

describe('readDdimConfig', () => {
  const write = (cfg: Record<string, unknown>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-ddim-'));
    const f = path.join(dir, 'scheduler_config.json');
    fs.writeFileSync(f, JSON.stringify(cfg));
    return f;
  };
  it("reads SD 2-1's keys and diffusers' defaults", () => {
    const c = readDdimConfig(write({ prediction_type: 'v_prediction', steps_offset: 1, clip_sample: false, set_alpha_to_one: false, timestep_spacing: 'leading' }));
    expect(c).toMatchObject({ predictionType: 'v_prediction', stepsOffset: 1, clipSample: false, setAlphaToOne: false, timestepSpacing: 'leading', numTrainTimesteps: 1000 });
    expect(readDdimConfig(write({}))).toMatchObject({ predictionType: 'epsilon', stepsOffset: 0, clipSample: true, setAlphaToOne: true });
  });
  it('names what it does not support', () => {
    expect(() => readDdimConfig(write({ prediction_type: 'flow' }))).toThrow(/prediction_type 'flow' is not supported \(epsilon, v_prediction, sample\)/);
    expect(() => readDdimConfig(write({ timestep_spacing: 'karras' }))).toThrow(/timestep_spacing 'karras'/);
    expect(() => readDdimConfig(write({ thresholding: true }))).toThrow(/thresholding is not supported/);
  });
});
