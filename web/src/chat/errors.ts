import { ApiError } from '../api/client';
import type { ChatError, ErrorKind, RetryKind } from './types';

function kindOf(error: unknown): ErrorKind {
  if (!(error instanceof ApiError)) return 'network';
  if (error.status === 429) return 'rateLimited';
  if (error.status === 413) return 'tooLarge';
  return error.status >= 500 ? 'server' : 'refused';
}

/** A failure as the UI shows it: a kind it can translate, and when Retry may be pressed. */
export function chatError(error: unknown, retry: RetryKind | null): ChatError {
  const retryAfterS = error instanceof ApiError ? error.retryAfterS : null;
  return {
    message: error instanceof Error ? error.message : String(error),
    kind: kindOf(error),
    retry,
    retryAt: retryAfterS ? Date.now() + retryAfterS * 1000 : null,
  };
}
