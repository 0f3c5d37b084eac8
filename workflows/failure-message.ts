import { ApplicationFailure } from '@temporalio/workflow';

/** The innermost message of a Temporal failure chain: "stage 'train' failed: …", not "Activity task failed". */
export function failureMessage(err: unknown): string {
  let current: unknown = err;
  while (current instanceof Error && current.cause instanceof Error && !(current instanceof ApplicationFailure)) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
