/**
 * The Electron IPC adapter — the only main-process file that uses `ipcMain`.
 *
 * One `ipcMain.handle` per contract method (channel = method name). Each call is accepted only from
 * the main frame of our window showing our renderer page; arguments are validated against the
 * method's zod schema and the outcome is returned encoded as `{result}` or `{error: {code, message}}`
 * (Electron keeps only `message` of a thrown error). Engine events are forwarded to the window.
 * An error's log-only `detail` never crosses to the renderer: `dispatch` logs it (shared/log.ts, the
 * main process's stderr) and encodes code, message and field only.
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { INVOKE_METHOD_NAMES, type Envelope } from '../contract/index.js';
import type { Api } from '../api/handlers.js';
import { dispatch } from '../transport/dispatch.js';

export interface IpcOptions {
  /** The window whose renderer may call the API (null while there is none). */
  getWindow: () => BrowserWindow | null;
  /** Whether a frame URL is our renderer page. */
  isRendererUrl: (url: string) => boolean;
}

/** Sender check: our window's top frame, currently showing our page. */
function isTrustedSender(event: IpcMainInvokeEvent, options: IpcOptions): boolean {
  const win = options.getWindow();
  if (!win || win.isDestroyed()) return false;
  const frame = event.senderFrame;
  if (!frame || event.sender !== win.webContents || frame !== win.webContents.mainFrame) return false;
  return options.isRendererUrl(frame.url);
}

/** Registers a handler per contract method and forwards events; returns the function that undoes it. */
export function registerIpc(api: Api, options: IpcOptions): () => void {
  for (const method of INVOKE_METHOD_NAMES) {
    ipcMain.handle(method, async (event, rawArgs: unknown): Promise<Envelope<unknown>> => {
      if (!isTrustedSender(event, options)) {
        const url = event.senderFrame?.url ?? 'a destroyed frame';
        console.warn(`refused IPC '${method}' from ${url}`);
        return { error: { code: 'FORBIDDEN', message: `IPC call '${method}' refused: the sender is not the application window` } };
      }
      return dispatch(api, method, rawArgs);
    });
  }

  const unsubscribe = api.events.onAny((event, payload) => {
    const win = options.getWindow();
    if (win && !win.isDestroyed() && !win.webContents.isDestroyed()) win.webContents.send(event, payload);
  });

  return () => {
    unsubscribe();
    for (const method of INVOKE_METHOD_NAMES) ipcMain.removeHandler(method);
  };
}
