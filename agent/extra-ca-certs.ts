import { readFile } from 'node:fs/promises';

// Node reads and parses NODE_EXTRA_CA_CERTS as it starts, TLS or not, which slows every local
// agent's start on a machine that sets it (a proxy's CA), where most stages never open a TLS
// connection. The local provider hands the file to the agent under another name; the agent loads
// it only for a TLS client (its s3:// store), and gives the stage's command the variable back.

/** Where the agent finds the file NODE_EXTRA_CA_CERTS named for the worker. */
export const DEFERRED_CA_CERTS = 'MLFLEET_EXTRA_CA_CERTS';

/** The environment a local agent starts with: the worker's, NODE_EXTRA_CA_CERTS deferred. */
export function agentEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: extra, ...rest } = env;
  return extra ? { ...rest, [DEFERRED_CA_CERTS]: extra } : rest;
}

/** The environment of the stage's command: NODE_EXTRA_CA_CERTS as the worker had it. */
export function commandEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { [DEFERRED_CA_CERTS]: extra, ...rest } = env;
  return extra ? { ...rest, NODE_EXTRA_CA_CERTS: extra } : rest;
}

/** The CAs a TLS client of the agent trusts when the certificates were deferred: Node's own and the extra ones. */
export async function deferredCa(env: NodeJS.ProcessEnv): Promise<string[] | undefined> {
  const file = env[DEFERRED_CA_CERTS];
  if (!file) return undefined;
  // Loaded here, not with the module: most agents never open a TLS connection.
  const { rootCertificates } = process.getBuiltinModule('node:tls');
  return [...rootCertificates, await readFile(file, 'utf8')];
}
