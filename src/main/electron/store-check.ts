/**
 * The store opens before the first window: a damaged or foreign database (store/db.ts refuses it,
 * naming the file, what is wrong and the newest good backup with how to restore it) is shown in a
 * dialog and the app quits, rather than every call of the UI failing with the same error.
 */
import { app, dialog } from 'electron';
import type { Api } from '../api/handlers.js';
import { explainError } from '../shared/errors.js';

/** Opens the API's store; on failure shows why in a dialog, exits with status 1 and returns false. */
export function openStoreOrExplain(api: Api): boolean {
  try {
    api.context.services();
    return true;
  } catch (err) {
    const e = explainError(err);
    dialog.showErrorBox('SD4Match Workstation cannot open its database', e instanceof Error ? e.message : String(e));
    app.exit(1);
    return false;
  }
}
