/**
 * Which WebGPU adapter this machine has, and whether it is a software one. onnxruntime-node's
 * WebGPU provider (Dawn) asks for a high-performance adapter and takes whatever it gets: on a
 * Linux desktop without a GPU driver that is Mesa's lavapipe (llvmpipe), on which SD 2-1 ran ~29x
 * slower than the CPU provider (172.6 s against 5.9 s for one SPair pair at 256 px). ONNX Runtime
 * does not report the adapter, so the probe learns it from the Vulkan loader (its device list,
 * printed with VK_LOADER_DEBUG=info) or, failing that, from the installed Vulkan drivers' manifests;
 * the decision itself is `classifyAdapter`, a pure function of that description.
 */

/** A GPU adapter as a driver describes it. */
export interface AdapterDescription {
  /** The device name, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`, `NVIDIA H100 80GB HBM3`. */
  name: string;
  /** The device type where the runtime or the driver reports one (WebGPU's / Vulkan's). */
  type?: 'cpu' | 'discrete-gpu' | 'integrated-gpu' | 'virtual-gpu' | 'other';
  /** The driver it came from (a Vulkan ICD manifest or library), when known. */
  driver?: string;
}

export interface AdapterClass {
  /** A software rasteriser running on the CPU: slower than the CPU provider, never chosen automatically. */
  software: boolean;
  /** Why, in words for the user (also for a hardware adapter: what it is). */
  reason: string;
}

/** Software implementations of Vulkan / WebGPU / D3D, by the names their drivers give. */
const SOFTWARE_ADAPTERS: { pattern: RegExp; what: string }[] = [
  { pattern: /\bllvmpipe\b/i, what: "Mesa's llvmpipe" },
  { pattern: /\blavapipe\b|\blvp\b|vulkan_lvp/i, what: "Mesa's lavapipe" },
  { pattern: /swiftshader/i, what: 'SwiftShader' },
  { pattern: /\bsoftpipe\b/i, what: "Mesa's softpipe" },
  { pattern: /microsoft basic render driver|\bwarp\b/i, what: 'Microsoft WARP' },
];

/**
 * Whether an adapter is a software one (llvmpipe, lavapipe, SwiftShader, WARP, or any adapter
 * reported as a CPU device), and why.
 */
export function classifyAdapter(d: AdapterDescription): AdapterClass {
  const text = `${d.name} ${d.driver ?? ''}`;
  const known = SOFTWARE_ADAPTERS.find((s) => s.pattern.test(text));
  if (known) return { software: true, reason: `software adapter ${d.name} is slower than the CPU provider (${known.what} renders on the CPU)` };
  if (d.type === 'cpu') return { software: true, reason: `software adapter ${d.name} is slower than the CPU provider (the driver reports it as a CPU device)` };
  return { software: false, reason: `hardware adapter ${d.name}` };
}

/**
 * The adapter WebGPU gets among the devices the driver lists: Dawn asks for high performance, so
 * a hardware device wins over a software one; with only software devices, the first of them.
 */
export function webgpuAdapterOf(devices: AdapterDescription[]): AdapterDescription | null {
  return devices.find((d) => !classifyAdapter(d).software) ?? devices[0] ?? null;
}

const VK_TYPES: Record<string, AdapterDescription['type']> = {
  cpu: 'cpu',
  'discrete gpu': 'discrete-gpu',
  'integrated gpu': 'integrated-gpu',
  'virtual gpu': 'virtual-gpu',
};

/**
 * The physical devices in a Vulkan loader's log (VK_LOADER_DEBUG=info), e.g.
 * `INFO:  linux_read_sorted_physical_devices:` ... `Sorted order:` ... `[0] llvmpipe (LLVM 15.0.6, 256 bits)`.
 * Each device once, in the loader's sorted order.
 */
export function parseVulkanLoaderDevices(log: string): AdapterDescription[] {
  const out: AdapterDescription[] = [];
  const seen = new Set<string>();
  let inList = false;
  for (const raw of log.split(/\r?\n/)) {
    const line = raw.replace(/^\s*(?:[A-Z]+\s*\|\s*)*[A-Z]+:\s*/, '').trim();
    if (/^(Original|Sorted) order:?$/i.test(line)) {
      inList = true;
      continue;
    }
    const m = /^\[\d+\]\s+(.+?)\s*$/.exec(line);
    if (inList && m) {
      let name = m[1];
      let type: AdapterDescription['type'];
      const t = /\s{2,}(CPU|Discrete GPU|Integrated GPU|Virtual GPU)\s*$/i.exec(name);
      if (t) {
        type = VK_TYPES[t[1].toLowerCase()];
        name = name.slice(0, t.index).trim();
      }
      if (!seen.has(name)) {
        seen.add(name);
        out.push(type ? { name, type } : { name });
      }
      continue;
    }
    inList = false;
  }
  return out;
}

/** Vulkan drivers by their library, for when the loader does not list devices. */
const SOFTWARE_ICD_LIBRARIES: { pattern: RegExp; name: string }[] = [
  { pattern: /vulkan_lvp/i, name: 'lavapipe (llvmpipe)' },
  { pattern: /swiftshader/i, name: 'SwiftShader' },
];

/**
 * The adapter implied by the installed Vulkan drivers when only software ones are installed
 * (every ICD manifest names lavapipe or SwiftShader); null when a hardware driver is installed
 * or none is (then nothing can be said without asking the driver).
 */
export function softwareOnlyIcd(icds: { file: string; library: string }[]): AdapterDescription | null {
  if (icds.length === 0) return null;
  const kinds = icds.map((i) => SOFTWARE_ICD_LIBRARIES.find((s) => s.pattern.test(i.library)));
  if (kinds.some((k) => !k)) return null;
  return { name: kinds[0]!.name, type: 'cpu', driver: icds[0].file };
}
