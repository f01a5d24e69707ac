/**
 * The one place where an untrusted invocation becomes a typed handler call: the method name is
 * checked against the contract, the arguments are parsed with the method's zod schema, and the
 * outcome is encoded as `{result}` or `{error: {code, message}}`. Every adapter (Electron IPC,
 * WebSocket, in-memory) calls `dispatch`; handlers never see unvalidated input. What the client is
 * not told (an AppError's `detail`, a bug's stack) goes to the engine's log here, once for all three.
 */
import type { z } from 'zod';
import type { Envelope, InvokeMethod } from '../contract/index.js';
import { INVOKE_METHOD_NAMES, invokeMethods, isInvokeMethod } from '../contract/index.js';
import { AppError, explainError, FieldError, serializeError } from '../shared/errors.js';
import { logError } from '../shared/log.js';
import type { Api, Handler } from '../api/handlers.js';

/** Formats zod issues as one line that names each offending field. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.map(String).join('.') : 'arguments';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

/** Checks the method name and parses its arguments; throws an `AppError` naming the culprit. */
export function parseInvocation(method: unknown, rawArgs: unknown): { method: InvokeMethod; args: unknown } {
  if (!isInvokeMethod(method)) {
    const name = typeof method === 'string' ? `'${method}'` : `of type ${typeof method}`;
    throw new AppError('NOT_FOUND', `unknown method ${name}; known methods: ${INVOKE_METHOD_NAMES.join(', ')}`);
  }
  // Methods without arguments may be called with none (JSON drops `undefined`).
  const parsed = invokeMethods[method].args.safeParse(rawArgs === undefined ? {} : rawArgs);
  if (!parsed.success) {
    const message = `invalid arguments for '${method}': ${describeIssues(parsed.error.issues)}`;
    // A form can show the message next to the input when one top-level argument is at fault.
    const fields = new Set(parsed.error.issues.map((i) => i.path[0]).filter((p) => typeof p === 'string'));
    const [field] = fields;
    if (fields.size === 1 && field !== undefined && parsed.error.issues.every((i) => i.path.length > 0)) throw new FieldError('INVALID_ARGUMENT', field, message);
    throw new AppError('INVALID_ARGUMENT', message);
  }
  return { method, args: parsed.data };
}

/** Validates, runs the handler and encodes the outcome. Never rejects. */
export async function dispatch(api: Api, method: unknown, rawArgs: unknown): Promise<Envelope<unknown>> {
  try {
    const invocation = parseInvocation(method, rawArgs);
    const handler = api.handlers[invocation.method] as Handler<InvokeMethod>;
    const result = await handler(invocation.args as never, api.context);
    return { result };
  } catch (err) {
    // The client gets code and message (serializeError builds a fresh object: no detail); the log
    // gets the detail of an expected error and the stack of a bug.
    // (a damaged database or a full disk is logged as what the client is told, with SQLite's words as detail)
    logError(`handler for ${typeof method === 'string' ? `'${method}'` : 'an invalid method'}`, explainError(err));
    return { error: serializeError(err) };
  }
}
