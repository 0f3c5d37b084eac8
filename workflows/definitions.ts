import { defineQuery } from '@temporalio/workflow';
import type { LaunchProgress } from '../domain/launch';

/** Live per-stage progress of a launch; answered from workflow state, so it costs no history. */
export const launchProgressQuery = defineQuery<LaunchProgress>('launchProgress');
