/**
 * Every schema migration, in order. A migration is never edited once shipped: change the schema
 * by adding `NNNN-description.ts` and listing it here. Versions are 1, 2, 3... (checked on open).
 */
import type { Migration } from '../sql.js';
import { migration as m0001 } from './0001-init.js';
import { migration as m0002 } from './0002-eval-results.js';
import { migration as m0003 } from './0003-annotation-history.js';
import { migration as m0004 } from './0004-run-active-time.js';
import { migration as m0005 } from './0005-suggestions.js';
import { migration as m0006 } from './0006-generated-images.js';
import { migration as m0007 } from './0007-provider.js';
import { migration as m0008 } from './0008-flip-pairs.js';

export type { Migration } from '../sql.js';

export const MIGRATIONS: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0008];
