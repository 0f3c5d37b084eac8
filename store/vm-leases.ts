import { z } from 'zod';
import { VM_CLOUDS, type VmCloud } from '../domain/clouds';
import type { Queryable } from './pool';

export const LeaseState = z.enum(['creating', 'live', 'released']);
export type LeaseState = z.infer<typeof LeaseState>;

export interface VmLease {
  leaseId: string;
  ownerWorkflowId: string;
  launchId: string;
  stage: string;
  placementAttempt: number;
  cloud: VmCloud;
  region: string;
  zone: string | null;
  instanceType: string;
  spot: boolean;
  pricePerHour: number;
  vmId: string | null;
  state: LeaseState;
  createdAt: number;
  expiresAt: number;
  vmStartedAt: number | null;
  releasedAt: number | null;
  endReason: string | null;
  preempted: boolean;
  costUsd: number;
}

export type OpenLeaseInput = Pick<
  VmLease,
  'leaseId' | 'ownerWorkflowId' | 'launchId' | 'stage' | 'placementAttempt' | 'cloud' | 'region' | 'zone' | 'instanceType' | 'spot' | 'pricePerHour' | 'createdAt' | 'expiresAt'
>;

const LeaseRow = z.object({
  lease_id: z.string(),
  owner_workflow_id: z.string(),
  launch_id: z.string(),
  stage: z.string(),
  placement_attempt: z.number().int(),
  cloud: z.enum(VM_CLOUDS),
  region: z.string(),
  zone: z.string().nullable(),
  instance_type: z.string(),
  spot: z.boolean(),
  price_per_hour: z.number(),
  vm_id: z.string().nullable(),
  state: LeaseState,
  created_at: z.number(),
  expires_at: z.number(),
  vm_started_at: z.number().nullable(),
  released_at: z.number().nullable(),
  end_reason: z.string().nullable(),
  preempted: z.boolean(),
  cost_usd: z.number(),
});

function toLease(row: unknown): VmLease {
  const r = LeaseRow.parse(row);
  return {
    leaseId: r.lease_id,
    ownerWorkflowId: r.owner_workflow_id,
    launchId: r.launch_id,
    stage: r.stage,
    placementAttempt: r.placement_attempt,
    cloud: r.cloud,
    region: r.region,
    zone: r.zone,
    instanceType: r.instance_type,
    spot: r.spot,
    pricePerHour: r.price_per_hour,
    vmId: r.vm_id,
    state: r.state,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    vmStartedAt: r.vm_started_at,
    releasedAt: r.released_at,
    endReason: r.end_reason,
    preempted: r.preempted,
    costUsd: r.cost_usd,
  };
}

/**
 * Writes the lease before the VM is created, or returns the one an earlier attempt of the same
 * activity wrote (same lease id): a retried create adopts it rather than leasing twice.
 */
export async function openLease(db: Queryable, input: OpenLeaseInput): Promise<VmLease> {
  const { rows } = await db.query(
    `WITH inserted AS (
       INSERT INTO vm_leases (lease_id, owner_workflow_id, launch_id, stage, placement_attempt, cloud, region, zone,
                              instance_type, spot, price_per_hour, state, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'creating', $12, $13)
       ON CONFLICT (lease_id) DO NOTHING
       RETURNING *
     )
     SELECT * FROM inserted UNION ALL SELECT * FROM vm_leases WHERE lease_id = $1 AND NOT EXISTS (SELECT 1 FROM inserted)`,
    [
      input.leaseId,
      input.ownerWorkflowId,
      input.launchId,
      input.stage,
      input.placementAttempt,
      input.cloud,
      input.region,
      input.zone,
      input.instanceType,
      input.spot,
      input.pricePerHour,
      input.createdAt,
      input.expiresAt,
    ],
  );
  return toLease(rows[0]);
}

export async function getLease(db: Queryable, leaseId: string): Promise<VmLease | undefined> {
  const { rows } = await db.query('SELECT * FROM vm_leases WHERE lease_id = $1', [leaseId]);
  return rows.length === 0 ? undefined : toLease(rows[0]);
}

/** The create call returned: the lease holds a live VM from now on (a released lease stays released). */
export async function markLeaseLive(db: Queryable, leaseId: string, vmId: string, at: number, zone: string | null): Promise<void> {
  await db.query(
    `UPDATE vm_leases SET vm_id = $2, zone = COALESCE($4, zone), state = 'live', vm_started_at = COALESCE(vm_started_at, $3)
      WHERE lease_id = $1 AND state <> 'released'`,
    [leaseId, vmId, at, zone],
  );
}

/** The stage is still watching its VM: push the lease's expiry forward. */
export async function extendLease(db: Queryable, leaseId: string, expiresAt: number): Promise<void> {
  await db.query(`UPDATE vm_leases SET expires_at = GREATEST(expires_at, $2) WHERE lease_id = $1 AND state <> 'released'`, [leaseId, expiresAt]);
}

/**
 * The VM is gone (or was never created): release the lease once, billing the seconds it lived at its
 * price. Returns the lease as stored; releasing a released lease changes nothing.
 */
export async function releaseLease(db: Queryable, leaseId: string, outcome: { at: number; reason: string; preempted?: boolean }): Promise<VmLease | undefined> {
  const { rows } = await db.query(
    `UPDATE vm_leases SET
       state = 'released',
       released_at = $2,
       end_reason = $3,
       preempted = preempted OR $4,
       cost_usd = CASE WHEN vm_started_at IS NULL THEN 0 ELSE price_per_hour * GREATEST($2 - vm_started_at, 0) / 3600000.0 END
     WHERE lease_id = $1 AND state <> 'released'
     RETURNING *`,
    [leaseId, outcome.at, outcome.reason, outcome.preempted ?? false],
  );
  return rows.length === 0 ? getLease(db, leaseId) : toLease(rows[0]);
}

/** Leases still holding (or about to hold) a VM; with `expiredBy`, only those whose expiry passed. */
export async function listOpenLeases(db: Queryable, opts: { expiredBy?: number } = {}): Promise<VmLease[]> {
  const { rows } = await db.query(
    `SELECT * FROM vm_leases WHERE state <> 'released' AND ($1::bigint IS NULL OR expires_at < $1) ORDER BY created_at, lease_id`,
    [opts.expiredBy ?? null],
  );
  return rows.map(toLease);
}

/** Every lease of a stage of a launch, oldest first: its placement attempts. */
export async function listStageLeases(db: Queryable, launchId: string, stage: string): Promise<VmLease[]> {
  const { rows } = await db.query('SELECT * FROM vm_leases WHERE launch_id = $1 AND stage = $2 ORDER BY placement_attempt', [launchId, stage]);
  return rows.map(toLease);
}

/** What a launch's VMs cost and how often the spot market took one, per stage. */
export async function leaseTotals(db: Queryable, launchId: string): Promise<Map<string, { costUsd: number; preemptions: number }>> {
  const { rows } = await db.query(
    `SELECT stage, SUM(cost_usd)::float8 AS cost_usd, COUNT(*) FILTER (WHERE preempted)::int AS preemptions
       FROM vm_leases WHERE launch_id = $1 GROUP BY stage`,
    [launchId],
  );
  const parsed = z.array(z.object({ stage: z.string(), cost_usd: z.number(), preemptions: z.number().int() })).parse(rows);
  return new Map(parsed.map((r) => [r.stage, { costUsd: r.cost_usd, preemptions: r.preemptions }]));
}
