/**
 * Preload (sandboxed, CommonJS): exposes exactly one object, `window.api`, typed from the contract.
 * No logic here: validation and sender checks happen in the main process (src/main/electron/ipc.ts).
 * The listener wrapper drops the IpcRendererEvent, which must never reach the page.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { BridgeApi, EventName, EventPayload } from '../main/contract/index.js';

const api: BridgeApi = {
  invoke: (method, args) => ipcRenderer.invoke(method, args),
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    const forward = (_event: IpcRendererEvent, payload: EventPayload<E>) => listener(payload);
    ipcRenderer.on(event, forward);
    return () => {
      ipcRenderer.removeListener(event, forward);
    };
  },
};

contextBridge.exposeInMainWorld('api', api);
