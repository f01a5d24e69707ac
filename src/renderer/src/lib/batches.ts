/** Cutting a list of files into the batches one request may carry. */

/**
 * `items` in order, cut into consecutive batches of at most `maxBytes` (by `sizeOf`) and at most
 * `maxCount` items each. An item larger than `maxBytes` gets a batch of its own (the engine then
 * names it as too large); nothing is reordered, so batches follow the order the user sees.
 */
export function splitBatches<T>(items: readonly T[], sizeOf: (item: T) => number, maxBytes: number, maxCount: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= maxCount)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
