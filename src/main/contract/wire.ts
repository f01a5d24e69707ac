/**
 * Frames of the WebSocket protocol (browser mode). JSON text frames, one message each.
 *
 *   client -> server  {type: 'invoke', id, method, args}
 *   server -> client  {type: 'response', id, result} | {type: 'response', id, error: {code, message}}
 *   server -> client  {type: 'event', event, payload}
 *
 * A frame that cannot be read gets a response with `id: null`. The renderer imports these types
 * with `import type` only.
 */
import type { EventMap, EventName } from './index.js';
import type { SerializedError } from '../shared/errors.js';

/**
 * Path of the WebSocket endpoint on the server. A type, so the renderer (type-only imports) can
 * declare `const WS_PATH: WsPath = '/api'` and the compiler keeps both sides in step.
 */
export type WsPath = '/api';
export const WS_PATH: WsPath = '/api';

/** Query parameter carrying the access token, in the page URL and in the WebSocket URL. */
export type TokenParam = 'token';
export const TOKEN_PARAM: TokenParam = 'token';

/** Thumbnail sides the image route serves (`?size=N`, pixels); a size outside them is refused. */
export const MIN_THUMBNAIL_SIDE = 16;
export const MAX_THUMBNAIL_SIDE = 2048;

export interface InvokeFrame {
  type: 'invoke';
  /** Chosen by the client, echoed in the response. */
  id: number;
  method: string;
  args?: unknown;
}

export type ResponseFrame = { type: 'response'; id: number | null; result: unknown } | { type: 'response'; id: number | null; error: SerializedError };

export type EventFrame = { [E in EventName]: { type: 'event'; event: E; payload: EventMap[E] } }[EventName];

export type ClientFrame = InvokeFrame;
export type ServerFrame = ResponseFrame | EventFrame;
