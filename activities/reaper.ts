import { heartbeat } from '@temporalio/activity';
import { currentOffers } from './prices';
import type { TaggedVm, VmCloud, VmDriver } from '../clouds/vm-driver';
import { getLease, listOpenLeases, releaseLease } from '../store/vm-leases';
import type { ActivityDeps } from './deps';
import { terminateLeasedVm } from './vm-compute';

/** One VM the reaper terminated, and why. */
export interface ReapedVm {
  cloud: VmCloud;
  vmId: string;
  leaseId: string;
  owner?: string;
  reason: string;
}

export interface SweepReport {
  reaped: ReapedVm[];
  /** Open leases and tagged VMs looked at. */
  checked: number;
}

/**
 * The leaked-VM sweep: terminates the VM of every open lease whose owner workflow is closed or whose
 * lease expired (a terminated launch skips its `finally`; a dead worker stops renewing), and every
 * VM tagged by mlfleet that no open lease holds.
 */
export function createReaperActivities(deps: ActivityDeps) {
  const { pool } = deps;

  return {
    async sweepLeakedVms(): Promise<SweepReport> {
      const clouds = deps.clouds;
      if (!clouds) return { reaped: [], checked: 0 };
      const reaped: ReapedVm[] = [];
      const now = Date.now();
      const open = await listOpenLeases(pool);
      for (const lease of open) {
        heartbeat();
        const driver = clouds.drivers[lease.cloud];
        if (!driver) continue;
        const owner = await clouds.workflowLiveness(lease.ownerWorkflowId);
        const reason = owner !== 'running' ? `owner workflow ${owner}` : lease.expiresAt < now ? 'lease expired' : undefined;
        if (!reason) continue;
        await terminateLeasedVm(driver, lease);
        await releaseLease(pool, lease.leaseId, { at: Date.now(), reason: `reaped: ${reason}` });
        reaped.push({ cloud: lease.cloud, vmId: lease.vmId ?? lease.leaseId, leaseId: lease.leaseId, owner: lease.ownerWorkflowId, reason });
      }
      // Tagged VMs no open lease holds: a lease released while its VM lived on, or a VM of another database.
      const regions = new Map<VmCloud, Set<string>>();
      for (const offer of await currentOffers(pool)) {
        if (offer.cloud !== 'local') (regions.get(offer.cloud) ?? regions.set(offer.cloud, new Set()).get(offer.cloud)!).add(offer.region);
      }
      let tagged = 0;
      for (const [cloud, driver] of Object.entries(clouds.drivers) as [VmCloud, VmDriver][]) {
        const vms: TaggedVm[] = await driver.listTagged('mlfleet-lease', [...(regions.get(cloud) ?? [])]);
        tagged += vms.length;
        for (const vm of vms) {
          heartbeat();
          const leaseId = vm.tags['mlfleet-lease'] ?? vm.name;
          const lease = await getLease(pool, leaseId);
          if (lease && lease.state !== 'released') continue;
          await driver.terminate(vm);
          reaped.push({ cloud, vmId: vm.vmId, leaseId, ...(lease ? { owner: lease.ownerWorkflowId } : {}), reason: lease ? 'lease already released' : 'no lease' });
        }
      }
      return { reaped, checked: open.length + tagged };
    },
  };
}
