import { cpus, totalmem } from 'node:os';
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { renderBootScript } from '../clouds/boot-script';
import { leaseIdOf } from '../clouds/lease-id';
import { currentOffers } from './prices';
import { ProvisionError } from '../clouds/provision-error';
import type { VmCloud, VmDriver, VmRef } from '../clouds/vm-driver';
import { AgentStatus, type AgentInput, type AgentJob, type StageCredentials } from '../domain/agent-job';
import { PROVISION_BLOCKED_FAILURE, type PlacementBlock } from '../domain/offer';
import { rankOffers, type InputFootprint, type RankedOffer } from '../domain/placement';
import { SnapshotManifest } from '../domain/snapshot';
import type { Cloud, Resources } from '../domain/pipeline-spec';
import { recordStageAttempt, type AttemptPlacement, type StageAttemptStatus } from '../store/launches';
import { medianStageHours } from '../store/stage-durations';
import { extendLease, getLease, markLeaseLive, openLease, releaseLease, type VmLease } from '../store/vm-leases';
import { joinUri } from '../storage/object-store';
import { readStoredText } from '../storage/snapshots';
import { stageAccessOf, StageCredentialsError } from '../storage/stage-credentials';
import { agentJobOf, pollInterval, type RunStageInput } from './compute';
import type { ActivityDeps, CloudDeps } from './deps';



/** Terminates whatever VM a lease holds, idempotently: by id, or (when the create's answer never arrived) by its lease tag. */
export async function terminateLeasedVm(driver: VmDriver, lease: VmLease): Promise<void> {
  if (lease.vmId) {
    await driver.terminate({ cloud: lease.cloud, vmId: lease.vmId, region: lease.region, zone: lease.zone });
    return;
  }
  for (const vm of await driver.listTagged('mlfleet-lease', [lease.region], lease.leaseId)) await driver.terminate(vm);
}

export interface PlaceStageInput {
  launchId: string;
  stage: string;
  experimentId: string;
  resources: Resources;
  /** Zones, regions and clouds earlier attempts of this stage found closed. */
  blocks: PlacementBlock[];
  inputs: Record<string, AgentInput>;
}

/** Where the stage goes next: this machine, or the cheapest offer still open, with its cost terms. */
export type StagePlacement = { cloud: 'local' } | { cloud: VmCloud; ranked: RankedOffer; alternatives: number };

export interface ProvisionVmInput {
  stage: RunStageInput;
  placementAttempt: number;
  ranked: RankedOffer;
}

export interface ProvisionedVm {
  leaseId: string;
  vm: VmRef;
  spot: boolean;
  statusUri: string;
}

export type VmOutcome = { outcome: 'exited'; status: AgentStatus } | { outcome: 'preempted'; reason: string };

export interface ReleaseVmInput {
  launchId: string;
  stage: string;
  leaseId: string;
  placementAttempt: number;
  /** How the attempt ended, for the attempt row: FINISHED, FAILED, PREEMPTED or KILLED. */
  status: StageAttemptStatus;
  reason: string;
  error?: string;
}

// A VM the cloud does not list yet right after create is not gone (EC2 is eventually consistent).
const NOT_FOUND_GRACE_MS = 15_000;
// Renew the lease this often while the stage runs; it expires after deps' leaseTtlMs without renewal.
const LEASE_RENEW_MS = 30_000;

/** The machine the worker runs on, as a placement candidate: free, CPU only. */
function fitsLocally(resources: Resources, enabled: readonly Cloud[]): boolean {
  if (!enabled.includes('local') || resources.gpu) return false;
  if (resources.clouds && !resources.clouds.includes('local')) return false;
  return (resources.cpus ?? 0) <= cpus().length && (resources.memory_gb ?? 0) <= totalmem() / 2 ** 30;
}

/** Label values every cloud accepts: lowercase letters, digits, `_` and `-`, at most 63. */
const labelValue = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .slice(0, 63);

/**
 * A create failure as it may travel on (Temporal failures, worker logs): only a ProvisionError's
 * fields or an error's name, message and stack, with the stage's secrets cut out, so no SDK error
 * property can carry the boot script along.
 */
function withoutSecrets(err: unknown, credentials: StageCredentials | undefined): unknown {
  if (!credentials) return err;
  const redact = (text: string): string => [credentials.secret_access_key, credentials.session_token].reduce((t, secret) => t.split(secret).join('[redacted]'), text);
  const source = err instanceof Error ? err : new Error(String(err));
  const clean = err instanceof ProvisionError ? new ProvisionError(err.scope, err.code, redact(err.message)) : new Error(redact(source.message));
  if (!(clean instanceof ProvisionError)) clean.name = source.name;
  if (source.stack) clean.stack = redact(source.stack);
  return clean;
}

const placementOf = (ranked: RankedOffer): AttemptPlacement => ({
  cloud: ranked.offer.cloud,
  region: ranked.offer.region,
  zone: ranked.offer.zone,
  instanceType: ranked.offer.instance_type,
  spot: ranked.spot,
  pricePerHour: ranked.price_per_hour,
});

/** Placement and cloud VM activities: rank, lease and create, watch, and release by lease. */
export function createVmComputeActivities(deps: ActivityDeps) {
  const { pool, store } = deps;
  const clouds = (): CloudDeps => {
    if (!deps.clouds) throw ApplicationFailure.nonRetryable('this worker has no cloud configured (MLFLEET_CLOUDS)', 'NoCloudConfigured');
    return deps.clouds;
  };
  const driverFor = (cloud: VmCloud): VmDriver => {
    const driver = clouds().drivers[cloud];
    if (!driver) throw ApplicationFailure.nonRetryable(`no ${cloud} driver on this worker`, 'NoCloudConfigured');
    return driver;
  };

  /**
   * The VM's credentials for this job, or none (no stage role, or a stage that touches no s3://).
   * mlfleet has no per-stage timeout, so they last as long as the configured maximum allows.
   */
  async function credentialsFor(job: AgentJob, sessionName: string): Promise<StageCredentials | undefined> {
    const issue = clouds().stageCredentials;
    if (!issue) return undefined;
    try {
      return await issue(await stageAccessOf(job, store), { sessionName });
    } catch (err) {
      if (err instanceof StageCredentialsError) throw ApplicationFailure.nonRetryable(err.message, 'StageCredentialsRefused');
      throw err;
    }
  }

  /** Where the stage's inputs live and how big they are: egress is priced from them. */
  async function footprints(inputs: Record<string, AgentInput>): Promise<InputFootprint[]> {
    const result: InputFootprint[] = [];
    for (const input of Object.values(inputs)) {
      let bytes = 0;
      if (input.manifest) {
        const manifest = SnapshotManifest.parse(JSON.parse(await readStoredText(store, input.manifest)));
        for (const entry of manifest.entries) bytes += entry.size;
      } else {
        for await (const page of store.listCurrent(input.uri, { versions: false })) for (const object of page) bytes += object.size;
      }
      result.push(input.uri.startsWith('s3://') ? { cloud: 'aws', region: deps.dataRegion ?? null, bytes } : { cloud: 'local', region: null, bytes });
    }
    return result;
  }

  return {
    async placeStage(input: PlaceStageInput): Promise<StagePlacement> {
      const { enabled } = clouds();
      if (fitsLocally(input.resources, enabled)) return { cloud: 'local' };
      const history = await medianStageHours(pool, input.experimentId, input.stage);
      const ranked = rankOffers(
        await currentOffers(pool),
        {
          resources: input.resources,
          inputs: await footprints(input.inputs),
          enabledClouds: enabled.filter((cloud) => cloud !== 'local' && clouds().drivers[cloud] !== undefined),
          ...(history ? { historyHours: history.hours } : {}),
        },
        input.blocks,
      );
      const best = ranked[0];
      if (!best) {
        const blocked = input.blocks.length > 0 ? `; blocked by earlier attempts: ${input.blocks.map((b) => b.reason).join('; ')}` : '';
        throw ApplicationFailure.nonRetryable(`stage '${input.stage}': no offer fits its resources ${JSON.stringify(input.resources)}${blocked}`, 'NoOfferFits');
      }
      return { cloud: best.offer.cloud as VmCloud, ranked: best, alternatives: ranked.length - 1 };
    },

    /**
     * Leases, then creates the stage's VM for this placement attempt. The lease row comes first, so
     * no VM exists that no row names; name and idempotency token come from the lease, so a retry
     * after a crash finds the VM the first call created instead of making a second.
     */
    async provisionVm(input: ProvisionVmInput): Promise<ProvisionedVm> {
      const { stage, ranked, placementAttempt } = input;
      const cloud = ranked.offer.cloud as VmCloud;
      const driver = driverFor(cloud);
      const leaseId = leaseIdOf(stage.key, placementAttempt);
      const statusUri = joinUri(stage.artifactUri, 'mlfleet', `attempt-${placementAttempt}`, 'status.json');
      // The job, with its credentials, lives only in this activity and the VM's boot script: never in a workflow payload, a heartbeat or a log.
      const baseJob = agentJobOf(stage, deps.trackingUri, { statusUri });
      // Minted before the lease, so a refusal leaves nothing to release.
      const credentials = await credentialsFor(baseJob, leaseId);
      const job: AgentJob = credentials ? { ...baseJob, credentials } : baseJob;
      const now = Date.now();
      const lease = await openLease(pool, {
        leaseId,
        ownerWorkflowId: stage.key,
        launchId: stage.launchId,
        stage: stage.stage,
        placementAttempt,
        cloud,
        region: ranked.offer.region,
        zone: ranked.offer.zone,
        instanceType: ranked.offer.instance_type,
        spot: ranked.spot,
        pricePerHour: ranked.price_per_hour,
        createdAt: now,
        expiresAt: now + clouds().leaseTtlMs,
      });
      if (lease.state === 'released') throw ApplicationFailure.nonRetryable(`lease ${leaseId} was already released`, 'LeaseReleased');
      const attempt = { launchId: stage.launchId, stage: stage.stage, attempt: placementAttempt, provider: cloud, placement: placementOf(ranked) };
      await recordStageAttempt(pool, { ...attempt, status: 'RUNNING', startedAt: now });
      // The cloud's create operation can take minutes: keep heartbeating so a dead worker is noticed.
      const beating = setInterval(() => heartbeat({ leaseId }), 5_000);
      try {
        const vm = await driver.create({
          name: leaseId,
          idempotencyToken: leaseId,
          offer: ranked.offer,
          spot: ranked.spot,
          bootScript: renderBootScript({ agentUrl: clouds().agentUrl, job }),
          tags: { 'mlfleet-lease': leaseId, 'mlfleet-launch': labelValue(stage.launchId), 'mlfleet-stage': labelValue(stage.stage) },
        });
        await markLeaseLive(pool, leaseId, vm.vmId, Date.now(), vm.zone);
        heartbeat({ leaseId, vmId: vm.vmId });
        return { leaseId, vm, spot: ranked.spot, statusUri };
      } catch (caught) {
        const err = withoutSecrets(caught, credentials);
        if (!(err instanceof ProvisionError) || err.scope === 'retry') throw err;
        // Nothing was created: the lease ends here, and the workflow tries elsewhere (or gives up).
        await releaseLease(pool, leaseId, { at: Date.now(), reason: `create-failed: ${err.code}` });
        await recordStageAttempt(pool, { ...attempt, status: 'FAILED', endedAt: Date.now(), error: `${err.code}: ${err.message}`, costUsd: 0 });
        if (err.scope === 'fatal') throw ApplicationFailure.nonRetryable(`${cloud}: ${err.code}: ${err.message}`, 'ProvisionFatal');
        const { offer } = ranked;
        const block: PlacementBlock = {
          scope: err.scope,
          cloud: offer.cloud,
          ...(err.scope !== 'cloud' ? { region: offer.region } : {}),
          ...(err.scope === 'zone' && offer.zone ? { zone: offer.zone } : {}),
          reason: `${offer.cloud}/${offer.region}${offer.zone ? `/${offer.zone}` : ''} ${offer.instance_type}: ${err.code}`,
        };
        // A zone error for an offer priced region-wide cannot block one zone: it blocks the region.
        if (block.scope === 'zone' && !block.zone) block.scope = 'region';
        throw ApplicationFailure.create({ type: PROVISION_BLOCKED_FAILURE, nonRetryable: true, message: block.reason, details: [block] });
      } finally {
        clearInterval(beating);
      }
    },

    /**
     * Waits until the agent on the VM uploaded its status record, or the VM is gone. Heartbeats and
     * renews the lease while it waits; a cancellation ends the wait (the workflow then releases).
     */
    async awaitVm(input: ProvisionedVm): Promise<VmOutcome> {
      const driver = driverFor(input.vm.cloud);
      const waiting = Date.now();
      let renewed = 0;
      for (;;) {
        heartbeat({ leaseId: input.leaseId, vmId: input.vm.vmId });
        if (Date.now() - renewed > LEASE_RENEW_MS) {
          await extendLease(pool, input.leaseId, Date.now() + clouds().leaseTtlMs);
          renewed = Date.now();
        }
        if (await store.exists(input.statusUri)) {
          return { outcome: 'exited', status: AgentStatus.parse(JSON.parse(await readStoredText(store, input.statusUri))) };
        }
        const state = await driver.describe(input.vm);
        if (state.state === 'gone') {
          // The agent may have uploaded its status just before the VM went.
          if (await store.exists(input.statusUri)) continue;
          // A spot VM that vanished before mlfleet released it was reclaimed, whatever the cloud reports
          // (Azure and GCP delete evicted spot VMs with `Delete` eviction/termination actions).
          if (state.preempted || input.spot) return { outcome: 'preempted', reason: state.reason };
          if (Date.now() - waiting > NOT_FOUND_GRACE_MS) {
            throw ApplicationFailure.nonRetryable(`the stage's VM ${input.vm.vmId} is gone without a status record: ${state.reason}`, 'StageVmLost');
          }
        }
        await Context.current().sleep(pollInterval(Date.now() - waiting));
      }
    },

    /** Terminates the lease's VM (idempotently) and releases the lease, billing its seconds; returns the attempt's cost. */
    async releaseVm(input: ReleaseVmInput): Promise<{ costUsd: number }> {
      const lease = await getLease(pool, input.leaseId);
      if (!lease) return { costUsd: 0 };
      if (lease.state !== 'released') await terminateLeasedVm(driverFor(lease.cloud), lease);
      const released = await releaseLease(pool, input.leaseId, { at: Date.now(), reason: input.reason, preempted: input.status === 'PREEMPTED' });
      const costUsd = released?.costUsd ?? 0;
      await recordStageAttempt(pool, {
        launchId: input.launchId,
        stage: input.stage,
        attempt: input.placementAttempt,
        provider: lease.cloud,
        status: input.status,
        endedAt: Date.now(),
        costUsd,
        ...(input.error !== undefined ? { error: input.error } : {}),
      });
      return { costUsd };
    },
  };
}
