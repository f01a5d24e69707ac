/**
 * The types every handler file shares: what a handler receives (the contract's parsed arguments
 * and the application's context) and returns. Their own module, so that handlers.ts (which
 * merges the handler files) and the handler files do not import each other.
 */
import type { AppContext } from '../services/app/app.js';
import type { InvokeMethod, InvokeParsedArgs, InvokeResult } from '../contract/index.js';

/** What every handler can reach: the application's services (services/app/app.ts). */
export type ApiContext = AppContext;

export type Handler<M extends InvokeMethod> = (args: InvokeParsedArgs<M>, ctx: ApiContext) => Promise<InvokeResult<M>>;
export type Handlers = { readonly [M in InvokeMethod]: Handler<M> };
/** The handlers of one channel prefix (`<prefix>:*`). */
export type DomainHandlers<M extends InvokeMethod> = { readonly [K in M]: Handler<K> };
