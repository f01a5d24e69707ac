/**
 * The engine's settings (`app:settings`, kept with the database): shared by every window and by
 * the jobs they start, as opposed to this window's preferences (theme), which stay in the browser.
 * The first is the execution provider; changing it refreshes what the status bar shows.
 */
import type { EngineSettings, ProviderChoice } from '../../../../main/contract/index.js';
import { describeError, getApi } from '../api.js';
import { backend } from './backend.svelte.js';

/** What each provider choice means, for the Settings and run-form selects. */
export const PROVIDER_LABELS: Record<ProviderChoice, string> = {
  auto: 'Automatic (never a software GPU)',
  cpu: 'CPU',
  webgpu: 'WebGPU (Vulkan, D3D12, Metal)',
  cuda: 'CUDA (NVIDIA)',
  tensorrt: 'TensorRT (NVIDIA)',
  dml: 'DirectML (Windows)',
  coreml: 'Core ML (macOS)',
};

class BackendSettingsState {
  value = $state<EngineSettings | null>(null);
  saving = $state(false);
  /** Why the last load or save failed (null when fine). */
  error = $state<string | null>(null);

  async load(): Promise<void> {
    try {
      this.value = await getApi().invoke('app:settings');
      this.error = null;
    } catch (err) {
      this.error = describeError(err);
    }
  }

  /** Stores the provider; the engine's status (provider in use, why others were skipped) follows. */
  async setProvider(provider: ProviderChoice): Promise<void> {
    this.saving = true;
    try {
      this.value = await getApi().invoke('app:setSettings', { provider });
      this.error = null;
      await backend.load();
    } catch (err) {
      this.error = describeError(err);
    } finally {
      this.saving = false;
    }
  }
}

export const backendSettings = new BackendSettingsState();
