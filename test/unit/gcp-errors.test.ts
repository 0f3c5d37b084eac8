import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InstancesClient } from '@google-cloud/compute';
import { PassThroughClient } from 'google-auth-library';
import { googleProvisionError, httpStatusOf, operationProvisionError } from '../../clouds/gcp/gcp-errors';
import { ProvisionError, type ProvisionScope } from '../../clouds/provision-error';
import { freePort } from '../../server/free-port';

// How Compute Engine failures become ProvisionError scopes, on both paths: a finished operation's
// error.errors[], and an HTTP error envelope that the real SDK decodes and throws (served here by
// a tiny local server, so the errors are the SDK's own GoogleErrors, not hand-made look-alikes).

/** The SDK's InstancesClient on a local port, wired as the driver wires it for an emulator. */
function clientOn(port: number): InstancesClient {
  const authClient = new PassThroughClient({ transporterOptions: { fetchImplementation: fetch } });
  return new InstancesClient({ projectId: 'p', apiEndpoint: '127.0.0.1', port, protocol: 'http', fallback: true, authClient });
}

describe('operation errors', () => {
  const cases: { name: string; errors: { code: string; message: string }[]; scope: ProvisionScope; code: string }[] = [
    { name: 'a stockout', errors: [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: "The zone 'projects/p/zones/us-central1-a' does not have enough resources" }], scope: 'zone', code: 'ZONE_RESOURCE_POOL_EXHAUSTED' },
    { name: 'a detailed stockout', errors: [{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS', message: 'A n1-standard-4 VM instance with 1 nvidia-tesla-t4 is currently unavailable' }], scope: 'zone', code: 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS' },
    { name: 'a preemption during creation', errors: [{ code: 'UNSUPPORTED_OPERATION', message: 'unsupported' }], scope: 'zone', code: 'UNSUPPORTED_OPERATION' },
    { name: 'insufficient capacity', errors: [{ code: 'insufficientCapacity', message: 'no capacity' }], scope: 'zone', code: 'insufficientCapacity' },
    { name: 'a regional quota', errors: [{ code: 'QUOTA_EXCEEDED', message: "Quota 'CPUS' exceeded. Limit: 24.0 in region us-west1." }], scope: 'region', code: 'QUOTA_EXCEEDED' },
    { name: 'the global GPU quota', errors: [{ code: 'QUOTA_EXCEEDED', message: "Quota 'GPUS_ALL_REGIONS' exceeded. Limit: 1.0 globally." }], scope: 'cloud', code: 'QUOTA_EXCEEDED' },
    { name: 'a missing VPC (global)', errors: [{ code: 'VPC_NOT_FOUND', message: 'network default not found' }], scope: 'cloud', code: 'VPC_NOT_FOUND' },
    { name: 'an IAM denial', errors: [{ code: 'IAM_PERMISSION_DENIED', message: "Permission 'compute.instances.create' denied" }], scope: 'fatal', code: 'IAM_PERMISSION_DENIED' },
    { name: 'an unknown code (SkyPilot blocks the zone)', errors: [{ code: 'SOMETHING_NEW', message: '?' }], scope: 'zone', code: 'SOMETHING_NEW' },
    {
      name: 'a stockout and a quota error together (the wider block wins)',
      errors: [
        { code: 'ZONE_RESOURCE_POOL_EXHAUSTED', message: 'stockout' },
        { code: 'QUOTA_EXCEEDED', message: "Quota 'CPUS' exceeded. Limit: 8.0 in region us-central1." },
      ],
      scope: 'region',
      code: 'QUOTA_EXCEEDED',
    },
    { name: 'an error without entries', errors: [], scope: 'zone', code: 'mlfleet.Unknown' },
  ];

  it.each(cases)('$name → $scope', ({ errors, scope, code }) => {
    const error = operationProvisionError(errors, 'us-central1-a');
    expect(error).toBeInstanceOf(ProvisionError);
    expect({ scope: error.scope, code: error.code }).toEqual({ scope, code });
    expect(error.message).toContain('us-central1-a');
    for (const e of errors) expect(error.message).toContain(e.message);
  });
});

describe('HTTP errors thrown by the SDK', () => {
  let server: Server;
  let client: InstancesClient;
  let reply: { status: number; body: unknown } = { status: 500, body: {} };

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    client = clientOn(port);
  });

  afterAll(async () => {
    await client?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** What the SDK throws for an insert answered with `status` and the GCE error envelope. */
  async function thrownFor(status: number, message: string, reasons: string[]): Promise<unknown> {
    reply = { status, body: { error: { code: status, message, errors: reasons.map((reason) => ({ message, domain: 'global', reason })) } } };
    // No retries: insert is non-idempotent in the SDK's retry config, so one request gives one error.
    return client.insert({ project: 'p', zone: 'us-central1-a', instanceResource: { name: 'vm' } }).then(
      () => {
        throw new Error('the insert should have failed');
      },
      (err: unknown) => err,
    );
  }

  const cases: { name: string; status: number; message: string; reasons: string[]; scope: ProvisionScope; code: string }[] = [
    { name: 'a regional quota (403)', status: 403, message: "Quota 'NVIDIA_T4_GPUS' exceeded. Limit: 0.0 in region us-central1.", reasons: ['quotaExceeded'], scope: 'region', code: 'quotaExceeded' },
    { name: 'the global GPU quota (403)', status: 403, message: "Quota 'GPUS_ALL_REGIONS' exceeded. Limit: 0.0 globally.", reasons: ['quotaExceeded'], scope: 'cloud', code: 'quotaExceeded' },
    { name: 'a rate limit sent as 403', status: 403, message: 'Rate Limit Exceeded', reasons: ['rateLimitExceeded'], scope: 'retry', code: 'rateLimitExceeded' },
    { name: 'a 429', status: 429, message: 'Too many requests', reasons: [], scope: 'retry', code: 'HTTP_429' },
    { name: 'a 500', status: 500, message: 'Internal error', reasons: ['backendError'], scope: 'retry', code: 'backendError' },
    { name: 'a 503', status: 503, message: 'Service unavailable', reasons: [], scope: 'retry', code: 'HTTP_503' },
    { name: 'bad credentials (401)', status: 401, message: 'Request had invalid authentication credentials.', reasons: ['authError'], scope: 'fatal', code: 'authError' },
    { name: 'a permission denial (403)', status: 403, message: "Required 'compute.instances.create' permission for 'projects/p'", reasons: ['forbidden'], scope: 'fatal', code: 'forbidden' },
    { name: 'a malformed request (400)', status: 400, message: "Invalid value for field 'resource.machineType'", reasons: ['invalid'], scope: 'fatal', code: 'invalid' },
    { name: 'a zone the project may not use', status: 403, message: 'Location us-east1-d is not found or access is unauthorized.', reasons: ['forbidden'], scope: 'zone', code: 'forbidden' },
    { name: 'a zone that does not exist (404)', status: 404, message: "The resource 'projects/p/zones/us-central1-z' was not found", reasons: ['notFound'], scope: 'zone', code: 'notFound' },
    { name: 'a synchronous capacity error', status: 503, message: 'no capacity', reasons: ['insufficientCapacity'], scope: 'zone', code: 'insufficientCapacity' },
  ];

  it.each(cases)('$name → $scope', async ({ status, message, reasons, scope, code }) => {
    const thrown = await thrownFor(status, message, reasons);
    expect(httpStatusOf(thrown)).toBe(status);
    const error = googleProvisionError(thrown);
    expect({ scope: error.scope, code: error.code }).toEqual({ scope, code });
    expect(error.message).toContain(message);
  });

  it('an unreachable endpoint is worth retrying', async () => {
    const unreachable = clientOn(await freePort());
    try {
      const thrown = await unreachable.insert({ project: 'p', zone: 'us-central1-a', instanceResource: { name: 'vm' } }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(httpStatusOf(thrown)).toBeUndefined();
      expect(googleProvisionError(thrown)).toMatchObject({ scope: 'retry', code: 'mlfleet.Unreachable' });
    } finally {
      await unreachable.close();
    }
  });

  it('a programming error is not retried', () => {
    expect(googleProvisionError(new TypeError('x is not a function'))).toMatchObject({ scope: 'fatal', code: 'mlfleet.Unknown' });
  });

  it('an already classified error passes through unchanged', () => {
    const classified = new ProvisionError('region', 'QUOTA_EXCEEDED', 'quota');
    expect(googleProvisionError(classified)).toBe(classified);
  });
});
