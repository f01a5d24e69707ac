/// <reference types="svelte" />
/// <reference types="vite/client" />
import type { BridgeApi } from '../../main/contract/index.js';

declare global {
  interface Window {
    /** Set by the preload in Electron; absent in browser mode. */
    readonly api?: BridgeApi;
  }
}
