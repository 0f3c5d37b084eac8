import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { agentBundleCode } from '../../clouds/local/agent-bundle';
import { PUBLIC } from '../auth/access-rule';
import { v1Route } from './route';

/**
 * `GET /api/v1/agent.js`: the stage agent as one script, which a stage VM's boot script downloads
 * and runs with the image's node (clouds/boot-script.ts), so VM images need no mlfleet install.
 */
export function registerAgentRoute(app: FastifyInstance): void {
  v1Route(
    app,
    {
      method: 'GET',
      path: '/api/v1/agent.js',
      summary: 'The stage agent, one CommonJS script for node 20: what a stage VM runs',
      access: PUBLIC,
      response: z.string().describe('application/javascript'),
    },
    async ({ reply }) => reply.type('application/javascript').send(Buffer.from(await agentBundleCode())),
  );
}
