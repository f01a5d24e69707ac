/**
 * The stored PCK table of a split (`evals:table`) as the table and the chart both show it: loaded
 * for the query, again when an evaluation finishes (`compare.evalRevision`), the latest query wins.
 * Call it while a component initialises (it owns an effect).
 */
import type { PckTable, Split } from '../../../../../main/contract/index.js';
import { getApi } from '../../api.js';
import { handleError } from '../../errors.js';
import { compare, type MatchMethod } from '../../state/compare.svelte.js';

export interface PckTableQuery {
  datasetId: number;
  split: Split;
  method: MatchMethod;
  alpha: number;
}

export function loadPckTable(query: () => PckTableQuery): { readonly table: PckTable | null; readonly loading: boolean } {
  let table = $state<PckTable | null>(null);
  let loading = $state(false);
  $effect(() => {
    const q = query();
    void compare.evalRevision;
    let stale = false;
    loading = true;
    getApi()
      .invoke('evals:table', q)
      .then(
        (t) => {
          if (!stale) table = t;
        },
        (err: unknown) => {
          if (!stale) handleError(err, 'Loading the PCK table');
        },
      )
      .finally(() => {
        if (!stale) loading = false;
      });
    return () => {
      stale = true;
    };
  });
  return {
    get table() {
      return table;
    },
    get loading() {
      return loading;
    },
  };
}
