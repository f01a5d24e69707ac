/**
 * The cancellation flag a job process raises for the worker thread it hosts (progress.ts): a
 * worker busy in a long synchronous step still sees it at its next check. The whole path, from a
 * cancelled job to a blocked worker in a child process, is tested in job-process.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/main/shared/errors.js';
import { SharedFlagToken } from '../../src/main/engine/jobs/progress.js';

describe('the shared cancellation flag', () => {
  it('a token sees a cancel raised from another holder of the buffer', () => {
    const buffer = new SharedArrayBuffer(4);
    const token = new SharedFlagToken(buffer);
    expect(token.cancelled).toBe(false);
    SharedFlagToken.raise(buffer);
    expect(token.cancelled).toBe(true);
    expect(() => token.throwIfCancelled()).toThrow(CancelledError);
  });
});
