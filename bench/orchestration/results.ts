import type { Machine } from '../common/machine';
import type { BenchConfig, SystemName } from './config';

// What one run of the orchestration benchmark measured, as written to bench/results/orchestration-*.json.

export const WORKLOADS = ['cold', 'cached', 'from'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface Sample {
  seconds: number;
  /** The launch id (mlfleet) or run id (Metaflow) this sample made. */
  id: string;
  /** Stages (steps) whose command actually executed, where the system says so. */
  ran?: number;
  /** How the system accounted for every stage, e.g. `ran 6, reused 14` or `19 cloned, 1 ran`. */
  detail: string;
}

export interface WorkloadResult {
  samples: Sample[];
  /** One entry per failed attempt (HTTP status and message, or the failed stages). */
  errors: string[];
}

export interface SystemResult {
  name: SystemName;
  version?: string;
  /** What a reader needs to reproduce the figures: processes, stores, options. */
  settings?: string;
  /** Seconds to bring the system up (mlfleet's stack); Metaflow has no service to start. */
  startSeconds?: number;
  /** Why the system was not measured at all. */
  skipped?: string;
  workloads: Record<Workload, WorkloadResult>;
}

export interface BenchResults {
  date: string;
  machine: Machine & { python?: string };
  config: BenchConfig;
  systems: SystemResult[];
  durationSeconds: number;
}

export const emptyWorkloads = (): Record<Workload, WorkloadResult> => ({
  cold: { samples: [], errors: [] },
  cached: { samples: [], errors: [] },
  from: { samples: [], errors: [] },
});

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
