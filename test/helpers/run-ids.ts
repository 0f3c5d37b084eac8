import { randomUUID } from 'node:crypto';

/** A run id as MLflow makes them: 32 lowercase hex digits. */
export const newRunId = (): string => randomUUID().replace(/-/g, '');
