/**
 * What components show of the API client without calling it: the URLs of store and generated
 * images (an `<img src>`), and how this window reaches the engine. Calls to the engine belong to
 * the state modules (lib/state); components import these instead of the client.
 */
import { getApi } from './api.js';

/** URL of a store image by id (a thumbnail fitting in size x size when `size` is given). */
export function imageUrl(id: number, size?: number): string {
  return getApi().imageUrl(id, size);
}

/** URL of a generated image (PNG) by id. */
export function generatedUrl(id: number): string {
  return getApi().generatedUrl(id);
}

/** `electron` over IPC, or `browser` over WebSocket. */
export function apiMode(): 'electron' | 'browser' {
  return getApi().mode;
}
