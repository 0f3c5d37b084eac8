import type { BenchConfig, SystemName } from './config';
import type { Sample } from './results';

// What run.ts drives: a system brought up once, then rounds of the three workloads on it.

/** A system that cannot be installed or started here: the bench reports it as skipped, with why. */
export class SkipSystem extends Error {
  override readonly name = 'SkipSystem';
}

export interface StartContext {
  config: BenchConfig;
  /** A scratch folder of this system's own, removed after the run. */
  workDir: string;
  log: (line: string) => void;
}

/** One round: a cold launch, then two relaunches that build on it. */
export interface Round {
  cold(): Promise<Sample>;
  /** The same pipeline again, nothing changed. */
  cached(cold: Sample): Promise<Sample>;
  /** Re-execution from stage `config.from`, taking the stages before it from `cold`. */
  from(cold: Sample): Promise<Sample>;
}

export interface RunningSystem {
  version: string;
  settings: string;
  startSeconds?: number;
  /** A round whose cold launch shares no cached result with any earlier round. */
  newRound(index: number): Round;
  stop(): Promise<void>;
}

export interface SystemDriver {
  name: SystemName;
  /** Installs what is missing and starts the system; throws SkipSystem when it cannot run here. */
  start(ctx: StartContext): Promise<RunningSystem>;
}
