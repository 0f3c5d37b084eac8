import type { AgentJob, AgentStatus } from '../domain/agent-job';

export type StageState = { state: 'running' } | { state: 'exited'; status: AgentStatus } | { state: 'lost'; reason: string };

/**
 * Runs stage agents somewhere: a local process today, a spot VM per cloud later. Every call is
 * keyed by the stage's workflow id, so a retried activity adopts what an earlier attempt started
 * instead of starting a second copy, and teardown works by key even if start died mid-flight.
 */
export interface ComputeProvider {
  readonly name: string;
  /** Starts the agent for `key` unless it already runs or has finished. */
  start(key: string, job: AgentJob): Promise<void>;
  poll(key: string): Promise<StageState>;
  /** Stops everything running for `key`; a no-op when nothing is. */
  terminate(key: string): Promise<void>;
  /**
   * The worker is shutting down while the stage runs. A provider either leaves the stage running
   * for the next attempt to adopt (a VM), or stops it so that the next start() runs it anew
   * (a local process, which would lose the API it logs to).
   */
  interrupt(key: string): Promise<void>;
}
