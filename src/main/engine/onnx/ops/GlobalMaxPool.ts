import { globalPoolInfer } from './families.js';
import type { OpDef } from './op.js';

// shape: [N, C, 1, ...]
export const GlobalMaxPool: OpDef = {
  opType: 'GlobalMaxPool',
  infer: globalPoolInfer,
};
