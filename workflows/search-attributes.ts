import { defineSearchAttributeKey, type SearchAttributePair, SearchAttributeType } from '@temporalio/common';

/** Search attributes on launch and stage workflows; `mlfleet up` registers them with the dev server. */
export const MlfleetExperiment = defineSearchAttributeKey('MlfleetExperiment', SearchAttributeType.KEYWORD);
export const MlfleetLaunch = defineSearchAttributeKey('MlfleetLaunch', SearchAttributeType.KEYWORD);
export const MlfleetStage = defineSearchAttributeKey('MlfleetStage', SearchAttributeType.KEYWORD);
export const MlfleetTrigger = defineSearchAttributeKey('MlfleetTrigger', SearchAttributeType.KEYWORD);

export const mlfleetSearchAttributes = [MlfleetExperiment, MlfleetLaunch, MlfleetStage, MlfleetTrigger];

/** A launch's search attributes: its stages' add MlfleetStage. The API starts a launch with them. */
export const launchSearchAttributes = (experiment: string, launchId: string, trigger: string): SearchAttributePair[] => [
  { key: MlfleetExperiment, value: experiment },
  { key: MlfleetLaunch, value: launchId },
  { key: MlfleetTrigger, value: trigger },
];

/** Set by Temporal on workflows a schedule starts: which schedule, and the nominal start time. */
export const TemporalScheduledById = defineSearchAttributeKey('TemporalScheduledById', SearchAttributeType.KEYWORD);
export const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);
