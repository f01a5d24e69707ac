import { describe, expect, it } from 'vitest';
import { providerLabel, providerText } from '../../src/renderer/src/lib/provider.js';

describe('provider label', () => {
  it('names only the provider when the first choice worked', () => {
    expect(providerText({ provider: 'cuda', providerAttempts: [{ provider: 'cuda', ok: true }] })).toBe('cuda');
  });

  it('says why faster providers were passed over', () => {
    const info = {
      provider: 'cpu',
      providerAttempts: [
        { provider: 'cuda', ok: false, reason: 'provider libraries are not installed' },
        { provider: 'webgpu', ok: false, reason: 'no WebGPU adapter' },
        { provider: 'cpu', ok: true },
      ],
    };
    expect(providerLabel(info)).toEqual({ name: 'cpu', note: 'cuda: provider libraries are not installed; webgpu: no WebGPU adapter' });
    expect(providerText(info)).toBe('cpu (cuda: provider libraries are not installed; webgpu: no WebGPU adapter)');
  });

  it('copes with a failure that has no reason', () => {
    expect(
      providerText({
        provider: 'cpu',
        providerAttempts: [
          { provider: 'dml', ok: false },
          { provider: 'cpu', ok: true },
        ],
      }),
    ).toBe('cpu (dml: unavailable)');
  });
});

describe('provider label wording', () => {
  it('does not repeat the provider name at the start of its reason', () => {
    expect(
      providerText({
        provider: 'cpu',
        providerAttempts: [
          { provider: 'cuda', ok: false, reason: 'cuda provider libraries are not installed' },
          { provider: 'cpu', ok: true },
        ],
      }),
    ).toBe('cpu (cuda: provider libraries are not installed)');
  });
});
