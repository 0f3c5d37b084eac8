import type { FastifyRequest } from 'fastify';
import { principalName } from '../../domain/auth';
import { recordAuditEvent } from '../../store/audit';
import type { Queryable } from '../../store/pool';

/** The identity and permission changes the audit trail records (denials are `access.denied`). */
export type AuditAction =
  | 'user.create'
  | 'user.delete'
  | 'user.update-password'
  | 'user.update-admin'
  | 'permission.grant'
  | 'permission.update'
  | 'permission.revoke'
  | 'team.create'
  | 'team.update'
  | 'team.delete'
  | 'team.add-member'
  | 'team.remove-member'
  | 'token.create'
  | 'token.revoke';

/** What an event is about: `user:alice`, `experiment:12`, `registered_model:churn`, `team:ml`, `token:7`. */
export type AuditTarget = `${'user' | 'experiment' | 'registered_model' | 'team' | 'token'}:${string}`;

/**
 * Records a change made by the request's caller. Pass the transaction that made the change, so
 * the change and its record commit together. `detail` must never hold a password or a token:
 * whoever may read the trail may not necessarily sign in as the people in it.
 */
export async function auditChange(
  db: Queryable,
  request: FastifyRequest,
  action: AuditAction,
  target: AuditTarget,
  detail: Record<string, unknown> = {},
): Promise<void> {
  const actor = principalName(request.principal);
  await recordAuditEvent(db, { at: Date.now(), ...(actor !== undefined && { actor }), action, target, detail, clientIp: request.ip });
}

/** The same, for changes made outside any request (the first admin, `mlfleet admin create`). */
export async function auditSystemChange(db: Queryable, action: AuditAction, target: AuditTarget, detail: Record<string, unknown>): Promise<void> {
  await recordAuditEvent(db, { at: Date.now(), action, target, detail, clientIp: '' });
}
