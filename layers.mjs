// The folders of the code and what each may import, top to bottom: a folder imports only the
// folders it lists (and itself). eslint.config.mjs turns this into import-x zones, so `npm run lint`
// fails on an import against it; docs/architecture.md draws the same picture.

/** @type {Record<string, { role: string, imports: string[] }>} */
export const LAYERS = {
  bin: { role: 'the `mlfleet` executable', imports: ['cli'] },
  cli: { role: 'the `mlfleet` commands: HTTP calls to the API, or processes started through server/', imports: ['server', 'client', 'emulators', 'clouds', 'storage', 'workflows', 'domain'] },
  emulators: { role: 'local fakes of EC2, GCP and Azure compute for the demo and tests', imports: ['server', 'domain'] },
  server: { role: 'process assembly: configuration, embedded PostgreSQL and Temporal, the worker, the whole stack', imports: ['api', 'client', 'activities', 'workflows', 'clouds', 'agent', 'storage', 'store', 'domain'] },
  api: { role: 'the HTTP API (Fastify): MLflow REST routes, /api/v1, access control', imports: ['client', 'workflows', 'clouds', 'storage', 'store', 'domain'] },
  client: { role: 'Temporal client code: starting launches, schedules, search attributes', imports: ['workflows', 'domain'] },
  activities: { role: 'Temporal activities: the side effects workflows ask for', imports: ['clouds', 'storage', 'store', 'domain'] },
  // Workflows import activities as types only (proxyActivities): eslint.config.mjs holds that with allowTypeImports.
  workflows: { role: 'Temporal workflows: deterministic orchestration of a launch and its stages', imports: ['activities', 'domain'] },
  clouds: { role: 'cloud drivers, the local provider and the offer catalog', imports: ['agent', 'domain'] },
  agent: { role: 'the stage agent: runs one stage on a VM or locally', imports: ['storage', 'domain'] },
  store: { role: 'PostgreSQL: SQL statements, rows parsed at the edge', imports: ['domain'] },
  storage: { role: 'artifacts, object stores, code bundles and pinned data snapshots', imports: ['domain'] },
  domain: { role: 'types, zod schemas and pure rules', imports: [] },
};

/** Folders outside the layers: they may import the code, and the code never imports them. */
export const OUTSIDE = ['bench', 'examples', 'scripts', 'test'];

/** One import-x `no-restricted-paths` zone per folder: every other folder it does not list is off limits. */
export function layerZones(layers) {
  const folders = Object.keys(layers);
  return folders.flatMap((folder) => {
    const banned = [...folders, ...OUTSIDE].filter((other) => other !== folder && !layers[folder].imports.includes(other));
    return banned.length === 0
      ? []
      : [{ target: `./${folder}`, from: banned.map((other) => `./${other}`), message: `${folder}/ may import only ${layers[folder].imports.join(', ') || 'nothing outside itself'} (layers.mjs).` }];
  });
}
