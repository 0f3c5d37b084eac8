import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { LaunchProgress } from '../domain/launch';

/** Live per-stage progress of a launch; answered from workflow state, so it costs no history. */
export const launchProgressQuery = defineQuery<LaunchProgress>('launchProgress');

/**
 * A launch's progress once it has begun (its run recorded, its stages listed, the memoized and
 * reused ones settled) or ended. An update, not a query: sent with the start it is answered in the
 * workflow task that gets there, with no query task after it (a fully cached launch's answer is
 * its end).
 */
export const launchBegunUpdate = defineUpdate<LaunchProgress>('launchBegun');
