/**
 * Execution-provider choice: software WebGPU adapters are recognised from their description and
 * never chosen by `auto` (with the reason), a provider asked for by name is used or refused with
 * why, and sessions follow an injected machine probe (a real probe file, real ORT sessions).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyAdapter, parseVulkanLoaderDevices, softwareOnlyIcd, webgpuAdapterOf } from '../../src/main/engine/onnx/adapter.js';
import { type MachineProbe, type ProbedProvider, resolveProviderChoice } from '../../src/main/engine/onnx/provider-probe.js';
import { parseProviderChoice } from '../../src/main/engine/onnx/providers.js';
import { createSession, probeProvider, providerProbeKey, setProviderProbeCache } from '../../src/main/engine/onnx/runtime.js';
import { encodeModel } from '../../src/main/engine/onnx/model-io.js';
import { AppError } from '../../src/main/shared/errors.js';

/** What Mesa 25's lavapipe and the Vulkan loader 1.3.239 print with VK_LOADER_DEBUG=info (captured on Debian 12). */
const LOADER_LOG = `INFO:             Vulkan Loader Version 1.3.239
INFO:             linux_read_sorted_physical_devices:
INFO:                  Original order:
INFO:                        [0] llvmpipe (LLVM 15.0.6, 256 bits)
INFO:                  Sorted order:
INFO:                        [0] llvmpipe (LLVM 15.0.6, 256 bits)  
INFO:             linux_read_sorted_physical_devices:
INFO:                  Original order:
INFO:                        [0] llvmpipe (LLVM 15.0.6, 256 bits)
INFO:                  Sorted order:
INFO:                        [0] llvmpipe (LLVM 15.0.6, 256 bits)  
Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.`;

describe('classifyAdapter', () => {
  it('recognises software adapters by name and says why they are skipped', () => {
    for (const name of ['llvmpipe (LLVM 15.0.6, 256 bits)', 'lavapipe', 'SwiftShader Device (Subzero) (0x0000C0DE)', 'Microsoft Basic Render Driver']) {
      const c = classifyAdapter({ name });
      expect(c.software, name).toBe(true);
      expect(c.reason).toMatch(new RegExp(`^software adapter ${name.replace(/[()]/g, '\\$&')} is slower than the CPU provider`));
    }
    expect(classifyAdapter({ name: 'llvmpipe (LLVM 15.0.6, 256 bits)' }).reason).toBe(
      "software adapter llvmpipe (LLVM 15.0.6, 256 bits) is slower than the CPU provider (Mesa's llvmpipe renders on the CPU)",
    );
    // the driver library names lavapipe when the device name does not
    expect(classifyAdapter({ name: 'Vulkan device', driver: '/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so' }).software).toBe(true);
  });

  it('treats any adapter the runtime reports as a CPU device as software', () => {
    const c = classifyAdapter({ name: 'Some Renderer 2.0', type: 'cpu' });
    expect(c).toEqual({ software: true, reason: 'software adapter Some Renderer 2.0 is slower than the CPU provider (the driver reports it as a CPU device)' });
  });

  it('keeps hardware adapters', () => {
    expect(classifyAdapter({ name: 'NVIDIA H100 80GB HBM3', type: 'discrete-gpu' })).toEqual({ software: false, reason: 'hardware adapter NVIDIA H100 80GB HBM3' });
    expect(classifyAdapter({ name: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }).software).toBe(false);
    expect(classifyAdapter({ name: 'Intel(R) UHD Graphics 770 (ADL-S GT1)', type: 'integrated-gpu' }).software).toBe(false);
  });
});

describe('the adapter WebGPU gets', () => {
  it('reads the devices from the Vulkan loader log, once each', () => {
    expect(parseVulkanLoaderDevices(LOADER_LOG)).toEqual([{ name: 'llvmpipe (LLVM 15.0.6, 256 bits)' }]);
    expect(parseVulkanLoaderDevices('nothing here\n[0] not a device list')).toEqual([]);
  });

  it('picks a hardware device over a software one (Dawn asks for high performance)', () => {
    const log = `INFO:  Sorted order:\nINFO:    [0] NVIDIA H100 80GB HBM3  Discrete GPU\nINFO:    [1] llvmpipe (LLVM 15.0.6, 256 bits)  CPU`;
    const devices = parseVulkanLoaderDevices(log);
    expect(devices).toEqual([
      { name: 'NVIDIA H100 80GB HBM3', type: 'discrete-gpu' },
      { name: 'llvmpipe (LLVM 15.0.6, 256 bits)', type: 'cpu' },
    ]);
    expect(webgpuAdapterOf([...devices].reverse())?.name).toBe('NVIDIA H100 80GB HBM3');
    expect(webgpuAdapterOf([{ name: 'llvmpipe' }])?.name).toBe('llvmpipe');
    expect(webgpuAdapterOf([])).toBeNull();
  });

  it('infers a software adapter when only software Vulkan drivers are installed', () => {
    expect(softwareOnlyIcd([{ file: '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', library: 'libvulkan_lvp.so' }])).toMatchObject({ type: 'cpu' });
    expect(
      softwareOnlyIcd([
        { file: 'lvp_icd.json', library: 'libvulkan_lvp.so' },
        { file: 'nvidia_icd.json', library: 'libGLX_nvidia.so.0' },
      ]),
    ).toBeNull();
    expect(softwareOnlyIcd([])).toBeNull();
  });
});

const llvmpipe = { name: 'llvmpipe (LLVM 15.0.6, 256 bits)', ...classifyAdapter({ name: 'llvmpipe (LLVM 15.0.6, 256 bits)' }) };
const h100 = { name: 'NVIDIA H100 80GB HBM3', ...classifyAdapter({ name: 'NVIDIA H100 80GB HBM3' }) };

function probeWith(providers: ProbedProvider[]): Pick<MachineProbe, 'providers' | 'platform'> {
  return { platform: 'linux-x64', providers: [...providers, { provider: 'cpu', ok: true }] };
}

describe('resolveProviderChoice', () => {
  const notInstalled = { provider: 'cuda', ok: false, reason: 'cuda provider libraries are not installed (see README: GPU execution providers)' } as const;

  it('auto never picks a software adapter: CPU, with the reason', () => {
    const r = resolveProviderChoice('auto', probeWith([notInstalled, { provider: 'webgpu', ok: true, adapter: llvmpipe }]));
    expect(r.provider).toBe('cpu');
    expect(r.providers).toEqual(['cpu']);
    expect(r.skipped).toEqual([
      { provider: 'cuda', ok: false, reason: notInstalled.reason },
      { provider: 'webgpu', ok: false, reason: `skipped: ${llvmpipe.reason}` },
    ]);
    expect(r.note).toBe(`auto -> cpu (webgpu skipped: ${llvmpipe.reason})`);
  });

  it('auto takes a hardware adapter, CPU behind it', () => {
    const r = resolveProviderChoice('auto', probeWith([notInstalled, { provider: 'webgpu', ok: true, adapter: h100 }]));
    expect(r).toMatchObject({ provider: 'webgpu', providers: ['webgpu', 'cpu'], note: 'auto -> webgpu' });
  });

  it('a provider asked for by name is used, even on a software adapter', () => {
    const r = resolveProviderChoice('webgpu', probeWith([{ provider: 'webgpu', ok: true, adapter: llvmpipe }]));
    expect(r).toMatchObject({ provider: 'webgpu', providers: ['webgpu'], skipped: [] });
    expect(r.note).toBe(`webgpu (asked for; ${llvmpipe.reason})`);
    expect(resolveProviderChoice('cpu', probeWith([]))).toMatchObject({ provider: 'cpu', providers: ['cpu'] });
  });

  it('refuses a provider that cannot run here, or does not exist here, with the reason', () => {
    const probe = probeWith([notInstalled, { provider: 'webgpu', ok: true, adapter: llvmpipe }]);
    expect(() => resolveProviderChoice('cuda', probe, '--provider')).toThrow(
      new AppError('INVALID_ARGUMENT', `the cuda execution provider (--provider) cannot run on this machine: ${notInstalled.reason}`),
    );
    expect(() => resolveProviderChoice('dml', probe)).toThrow(/^the dml execution provider is not available on linux-x64; providers here: cuda, webgpu, cpu$/);
  });
});

describe('parseProviderChoice', () => {
  it('accepts the names in any case and refuses others naming the source and the choices', () => {
    expect(parseProviderChoice('CPU', '--provider')).toBe('cpu');
    expect(parseProviderChoice(' webgpu ', '--provider')).toBe('webgpu');
    let err: unknown;
    try {
      parseProviderChoice('gpu', 'SD4MATCH_PROVIDER');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('INVALID_ARGUMENT');
    expect((err as AppError).message).toBe("unknown execution provider 'gpu' in SD4MATCH_PROVIDER; expected one of: auto, cpu, webgpu, cuda, tensorrt, dml, coreml");
  });
});

describe('sessions follow the machine probe', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-probe-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('auto with a probe that found only a software WebGPU adapter opens a CPU session and says why', async () => {
    // inject the probe through its cache file (the key is this machine's, so it is believed)
    const probe: MachineProbe = {
      format: 1,
      key: providerProbeKey(),
      probedAt: 1,
      ortVersion: 'test',
      platform: `${process.platform}-${process.arch}`,
      providers: [
        { provider: 'webgpu', ok: true, adapter: llvmpipe },
        { provider: 'cpu', ok: true },
      ],
      log: {},
    };
    fs.writeFileSync(path.join(dir, 'provider-probe.json'), JSON.stringify(probe));
    setProviderProbeCache(dir);
    const model = encodeModel({
      irVersion: 8,
      opsets: [{ domain: '', version: 14 }],
      producerName: 'test',
      producerVersion: '',
      docString: '',
      metadata: {},
      functions: [],
      source: 'test',
      graph: {
        name: 'g',
        nodes: [{ name: 'n', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['y'], attrs: {}, metadata: {} }],
        inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
        outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
        initializers: new Map(),
        valueInfo: new Map(),
      },
    });
    const s = await createSession(model, { providers: 'auto' });
    try {
      expect(s.provider).toBe('cpu');
      expect(s.attempts).toEqual([
        { provider: 'webgpu', ok: false, reason: `skipped: ${llvmpipe.reason}` },
        { provider: 'cpu', ok: true },
      ]);
      const y = await s.run({ x: { dtype: 'float32', dims: [2], data: new Float32Array([-1, 2]) } });
      expect([...(y.y.data as Float32Array)]).toEqual([0, 2]);
    } finally {
      await s.dispose();
    }
    const status = await probeProvider('auto');
    expect(status).toMatchObject({ requested: 'auto', provider: 'cpu', note: `auto -> cpu (webgpu skipped: ${llvmpipe.reason})`, adapter: { name: llvmpipe.name, software: true } });
    expect(status.attempts).toContainEqual({ provider: 'webgpu', ok: false, reason: `skipped: ${llvmpipe.reason}` });
  });
});
