/**
 * SD + DINOv2 feature fusion (engine/sd4match/features/fusion.ts) against values worked out by
 * hand: bilinear resampling with half-pixel centres (torch's interpolate, align_corners=False),
 * per-location L2 normalisation and the weighted concatenation along channels.
 */
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/main/engine/onnx/ir.js';
import { checkFeatureChoice, featureLabel, fuseFeatures, methodLabel, resampleBilinear } from '../../src/main/engine/sd4match/features/fusion.js';

const map = (C: number, h: number, w: number, values: number[]): HostTensor => ({ dtype: 'float32', dims: [1, C, h, w], data: Float32Array.from(values) });

function expectClose(actual: HostTensor, dims: number[], values: number[]) {
  expect(actual.dims).toEqual(dims);
  expect(Array.from(actual.data as Float32Array).map((v) => Math.round(v * 1e6) / 1e6)).toEqual(values);
}

describe('resampleBilinear (half-pixel centres)', () => {
  it('2 x 2 up to 4 x 4: output cell o reads the input at o/2 - 1/4, clamped at the edges', () => {
    // input [[0, 1], [2, 3]]: along each axis the read positions are 0 (clamped from -0.25),
    // 0.25, 0.75, 1 (1.25 clamped to the last cell), so cell (y, x) = px + 2·py with
    // p ∈ {0, 0.25, 0.75, 1}; torch.nn.functional.interpolate gives the same table
    const out = resampleBilinear(map(1, 2, 2, [0, 1, 2, 3]), 4, 4);
    expectClose(out, [1, 1, 4, 4], [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
  });

  it('3 down to 2 along x, per channel: reads at 0.25 and 1.75', () => {
    // channel 0 [0, 10, 40]: 0·0.75 + 10·0.25 = 2.5 and 10·0.25 + 40·0.75 = 32.5; channel 1 is -1 x channel 0
    const out = resampleBilinear(map(2, 1, 3, [0, 10, 40, 0, -10, -40]), 1, 2);
    expectClose(out, [1, 2, 1, 2], [2.5, 32.5, -2.5, -32.5]);
  });

  it('the same grid is a copy', () => {
    const t = map(1, 2, 2, [1, 2, 3, 4]);
    const out = resampleBilinear(t, 2, 2);
    expectClose(out, [1, 1, 2, 2], [1, 2, 3, 4]);
    expect(out.data).not.toBe(t.data);
  });
});

describe('fuseFeatures', () => {
  it('[w · sd/‖sd‖, (1 - w) · dino/‖dino‖] per location, along channels', () => {
    // location 0: sd (3, 4) -> (0.6, 0.8), dino -2 -> -1; location 1: sd (0, 0) stays 0, dino 0.5 -> 1
    const sd = map(2, 1, 2, [3, 0, 4, 0]);
    const dino = map(1, 1, 2, [-2, 0.5]);
    expectClose(fuseFeatures(sd, dino, 0.25), [1, 3, 1, 2], [0.15, 0, 0.2, 0, -0.75, 0.75]);
    expectClose(fuseFeatures(sd, dino, 1), [1, 3, 1, 2], [0.6, 0, 0.8, 0, -0, 0]);
  });

  it('resampled DINOv2 fused with SD on a 1 x 2 grid', () => {
    // a 1 x 1 DINOv2 map resampled to 1 x 2 is constant: both locations read the single cell
    const dino = resampleBilinear(map(2, 1, 1, [3, -4]), 1, 2);
    expectClose(dino, [1, 2, 1, 2], [3, 3, -4, -4]);
    const sd = map(1, 1, 2, [5, -2]);
    // sd -> (1, -1); dino -> (0.6, -0.8) at both; w = 0.5
    expectClose(fuseFeatures(sd, dino, 0.5), [1, 3, 1, 2], [0.5, -0.5, 0.3, 0.3, -0.4, -0.4]);
  });

  it('refuses maps on different grids', () => {
    expect(() => fuseFeatures(map(1, 1, 2, [1, 1]), map(1, 2, 1, [1, 1]), 0.5)).toThrow(/different grids: SD 1x2, DINOv2 2x1/);
  });
});

describe('feature choice', () => {
  it('labels: SD alone keeps the prompt name; DINOv2 and the fusion say which', () => {
    expect(featureLabel({ features: 'sd+dino', weight: 0.5 })).toBe('SD+DINOv2 (w=0.5)');
    expect(methodLabel('empty prompt', { features: 'sd+dino', weight: 0.25 })).toBe('SD+DINOv2 (w=0.25), empty prompt');
    expect(methodLabel('empty prompt', { features: 'sd', weight: 0.5 })).toBe('empty prompt');
    expect(methodLabel('empty prompt', { features: 'dino', weight: 0.5 })).toBe('DINOv2 (SD grid)');
  });

  it('refuses unknown features and weights outside [0, 1]', () => {
    expect(() => checkFeatureChoice({ features: 'clip' as never, weight: 0.5 })).toThrow("--features must be one of sd, dino, sd+dino, got 'clip'");
    expect(() => checkFeatureChoice({ features: 'sd+dino', weight: 1.5 })).toThrow('the fusion weight must be a number from 0 to 1, got 1.5');
  });
});
