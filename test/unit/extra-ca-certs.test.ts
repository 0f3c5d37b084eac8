import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { agentEnv, commandEnv, DEFERRED_CA_CERTS, deferredCa } from '../../agent/extra-ca-certs';

test("a local agent's environment defers NODE_EXTRA_CA_CERTS, and its command's restores it", () => {
  const worker = { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/proxy-ca.pem' };
  const agent = agentEnv(worker);
  expect(agent).toEqual({ PATH: '/bin', [DEFERRED_CA_CERTS]: '/etc/proxy-ca.pem' });
  expect(commandEnv(agent)).toEqual(worker);
  // Nothing to defer: the environment passes as it is, both ways.
  expect(agentEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin' });
  expect(commandEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin' });
});

test("a TLS client of the agent trusts Node's CAs and the deferred file's, and nothing changes without one", async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'extra-ca-')), 'ca.pem');
  writeFileSync(file, '-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n');
  const ca = await deferredCa({ [DEFERRED_CA_CERTS]: file });
  expect(ca).toHaveLength(rootCertificates.length + 1);
  expect(ca?.at(-1)).toContain('proxy');
  expect(await deferredCa({})).toBeUndefined();
});
