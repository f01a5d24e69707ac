/// <reference types="svelte" />
/// <reference types="vite/client" />
import type { BridgeApi } from '../../main/api/contract.js';

declare global {
  interface Window {
    /** Set by the preload in Electron; absent in browser mode. */
    readonly api?: BridgeApi;
  }
}
