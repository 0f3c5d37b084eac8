// The workflow bundle's entry: every workflow type the worker registers.
export { launchExperiment } from './launch';
export { stageRun } from './stage';
export { reapLeakedVms } from './reaper';
export { refreshOfferPrices } from './price-refresh';
