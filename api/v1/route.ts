import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { formatSpecIssues, specErrorMap } from '../../domain/pipeline-spec';
import type { AccessRule } from '../auth/access-rule';
import { MlflowError } from '../mlflow/errors';

/**
 * One /api/v1 route: its schemas are the zod schemas of domain/, which validate the request here
 * and describe it in the OpenAPI document (api/openapi.ts reads `v1Routes`).
 */
export interface V1RouteDef<Body, Query, Params> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify path syntax, e.g. `/api/v1/schedules/:name`. */
  path: string;
  summary: string;
  /** Who may call it (api/auth/access-rule.ts); the OpenAPI document states it. */
  access: AccessRule;
  body?: z.ZodType<Body>;
  query?: z.ZodType<Query>;
  params?: z.ZodType<Params>;
  /** Headers the route reads, documented (not validated) by name. */
  headers?: Record<string, string>;
  /** Success status and the schema of its body. */
  status?: number;
  response: z.ZodType;
  /** Extra error answers besides 400 (e.g. 404, 409), for the document. */
  errors?: number[];
}

export interface V1Request<Body, Query, Params> {
  body: Body;
  query: Query;
  params: Params;
  request: FastifyRequest;
  reply: FastifyReply;
}

type AnyRouteDef = V1RouteDef<unknown, unknown, unknown>;

/** Every /api/v1 route registered so far, in registration order (the OpenAPI document's source). */
export const v1Routes: AnyRouteDef[] = [];

/** Parses one part of a request, or throws a 400 naming every problem (`body.name: …`). */
export function parseRequestPart<T>(schema: z.ZodType<T>, value: unknown, root: string): T {
  const parsed = schema.safeParse(value, { error: specErrorMap });
  if (parsed.success) return parsed.data;
  throw new MlflowError('INVALID_PARAMETER_VALUE', formatSpecIssues(parsed.error, [], value, root).join('\n'));
}

/** Registers a validated /api/v1 route and records it for the OpenAPI document. */
export function v1Route<Body = undefined, Query = undefined, Params = undefined>(
  app: FastifyInstance,
  def: V1RouteDef<Body, Query, Params>,
  handler: (req: V1Request<Body, Query, Params>) => Promise<unknown>,
): void {
  if (!v1Routes.some((r) => r.method === def.method && r.path === def.path)) v1Routes.push(def);
  app.route({
    method: def.method,
    url: def.path,
    config: { access: def.access },
    handler: async (request, reply) => {
      const body = (def.body ? parseRequestPart(def.body, request.body ?? {}, 'body') : undefined) as Body;
      const query = (def.query ? parseRequestPart(def.query, request.query ?? {}, 'query') : undefined) as Query;
      const params = (def.params ? parseRequestPart(def.params, request.params ?? {}, 'params') : undefined) as Params;
      const result = await handler({ body, query, params, request, reply });
      if (!reply.sent) await reply.status(def.status ?? 200).send(result);
      return reply;
    },
  });
}
