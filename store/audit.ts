import { z } from 'zod';
import type { Queryable } from './pool';

export interface AuditEvent {
  eventId: string;
  at: number;
  actor?: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
  clientIp: string;
}

export type NewAuditEvent = Omit<AuditEvent, 'eventId'>;

const AuditRow = z.object({
  event_id: z.number().int(),
  at: z.number().int(),
  actor: z.string().nullable(),
  action: z.string(),
  target: z.string(),
  detail: z.record(z.string(), z.unknown()),
  client_ip: z.string(),
});

export async function recordAuditEvent(db: Queryable, event: NewAuditEvent): Promise<void> {
  await db.query('INSERT INTO audit_events (at, actor, action, target, detail, client_ip) VALUES ($1, $2, $3, $4, $5, $6)', [
    event.at,
    event.actor ?? null,
    event.action,
    event.target,
    JSON.stringify(event.detail),
    event.clientIp,
  ]);
}

export interface AuditCursor {
  at: number;
  eventId: string;
}

/** Newest first, a page at a time, optionally one action (e.g. `access.denied`) or one actor. */
export async function listAuditEvents(
  db: Queryable,
  opts: { limit: number; action?: string; actor?: string; before?: AuditCursor },
): Promise<{ events: AuditEvent[]; next?: AuditCursor }> {
  const { rows } = await db.query(
    `SELECT event_id, at, actor, action, target, detail, client_ip FROM audit_events
     WHERE ($1::text IS NULL OR action = $1) AND ($2::text IS NULL OR actor = $2)
       AND ($3::bigint IS NULL OR (at, event_id) < ($3, $4::bigint))
     ORDER BY at DESC, event_id DESC LIMIT $5`,
    [opts.action ?? null, opts.actor ?? null, opts.before?.at ?? null, opts.before?.eventId ?? null, opts.limit + 1],
  );
  const events = rows.slice(0, opts.limit).map((raw): AuditEvent => {
    const row = AuditRow.parse(raw);
    return {
      eventId: String(row.event_id),
      at: row.at,
      ...(row.actor !== null && { actor: row.actor }),
      action: row.action,
      target: row.target,
      detail: row.detail,
      clientIp: row.client_ip,
    };
  });
  const last = events.at(-1);
  return rows.length > opts.limit && last ? { events, next: { at: last.at, eventId: last.eventId } } : { events };
}
