/** Handlers of `files:*`: the path pickers' folder listing (services/files/list.ts). */
import { listFiles } from '../../services/files/list.js';
import type { DomainHandlers } from '../handler-types.js';

export const fileHandlers: DomainHandlers<'files:list'> = {
  'files:list': (a) => listFiles(a),
};
