import { z } from 'zod';

/** A marketplace image, e.g. Canonical's `ubuntu-24_04-lts` / `server` / `latest`. */
export const AzureImageReference = z
  .object({
    publisher: z.string().min(1),
    offer: z.string().min(1),
    sku: z.string().min(1),
    version: z.string().min(1),
  })
  .strict();
export type AzureImageReference = z.infer<typeof AzureImageReference>;

/**
 * Where and how the Azure driver creates stage VMs. Every VM goes into one resource group and gets
 * its own NIC on `subnetId` (created and deleted with the VM), so nothing outlives it.
 */
export const AzureConfig = z
  .object({
    subscriptionId: z.string().min(1),
    resourceGroup: z.string().min(1),
    /** `/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/…`; needs outbound internet (e.g. a NAT gateway) for the agent. */
    subnetId: z.string().min(1),
    image: AzureImageReference,
    adminUsername: z.string().min(1).default('mlfleet'),
    /** Azure requires a credential on a Linux VM; nobody logs in, so any public key will do. */
    sshPublicKey: z.string().min(1),
    /** The ARM endpoint; defaults to the public cloud's `https://management.azure.com`. */
    endpoint: z.url().optional(),
    /** PEM of the only CA to trust for `endpoint` (a local fake's self-signed certificate). */
    ca: z.string().min(1).optional(),
    /** How often to poll a long-running create or delete when Azure sends no Retry-After. */
    pollIntervalMs: z.number().int().positive().default(2_000),
  })
  .strict();
export type AzureConfig = z.infer<typeof AzureConfig>;
/** A config as written, before defaults are filled in. */
export type AzureConfigInput = z.input<typeof AzureConfig>;
