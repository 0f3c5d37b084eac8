import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { classifyEc2Error } from '../../clouds/aws/aws-errors';
import { ProvisionError, type ProvisionScope } from '../../clouds/provision-error';

/** An SDK v3 EC2 error as the client throws it: the EC2 code is the error's name. */
const ec2Error = (code: string, httpStatusCode: number): EC2ServiceException =>
  new EC2ServiceException({ name: code, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message: `${code} happened` });

/** A network failure: the SDK adds $metadata (attempts) but no status. */
const networkError = (code: string): Error => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code, $metadata: { attempts: 1 } });

describe('classifyEc2Error', () => {
  test.each<[string, number, ProvisionScope]>([
    // Capacity is per pool (type × zone): the next zone may have it.
    ['InsufficientInstanceCapacity', 500, 'zone'],
    ['InsufficientCapacity', 500, 'zone'],
    ['InsufficientHostCapacity', 500, 'zone'],
    ['UnfulfillableCapacity', 400, 'zone'],
    // Quotas, prices and the types on sale are per region.
    ['SpotMaxPriceTooLow', 400, 'region'],
    ['MaxSpotInstanceCountExceeded', 400, 'region'],
    ['VcpuLimitExceeded', 400, 'region'],
    ['InstanceLimitExceeded', 400, 'region'],
    ['Unsupported', 400, 'region'],
    ['InvalidParameterCombination', 400, 'region'],
    ['OptInRequired', 401, 'region'],
    // The account cannot launch anywhere in AWS.
    ['Blocked', 403, 'cloud'],
    ['PendingVerification', 401, 'cloud'],
    // Credentials, permissions, images and malformed requests: no other offer helps.
    ['AuthFailure', 401, 'fatal'],
    ['UnauthorizedOperation', 403, 'fatal'],
    ['InvalidAMIID.NotFound', 400, 'fatal'],
    ['InvalidAMIID.Malformed', 400, 'fatal'],
    ['InvalidParameterValue', 400, 'fatal'],
    ['MissingParameter', 400, 'fatal'],
    ['IdempotentParameterMismatch', 400, 'fatal'],
    // Throttling and EC2's own failures are transient.
    ['RequestLimitExceeded', 503, 'retry'],
    ['InternalError', 500, 'retry'],
    ['ServiceUnavailable', 503, 'retry'],
    ['SomethingNew', 502, 'retry'],
    // An unknown client error blocks the tried zone, as SkyPilot does for AWS.
    ['SomethingElse', 400, 'zone'],
  ])('%s (HTTP %i) → %s', (code, status, scope) => {
    const classified = classifyEc2Error(ec2Error(code, status));
    expect(classified).toBeInstanceOf(ProvisionError);
    expect({ scope: classified.scope, code: classified.code }).toEqual({ scope, code });
    expect(classified.message).toContain(`${code} happened`);
  });

  test.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'])('a network failure (%s) is retried, under its Node code', (code) => {
    expect(classifyEc2Error(networkError(code))).toMatchObject({ scope: 'retry', code });
  });

  test('an SDK timeout with no answer from EC2 is retried', () => {
    const timeout = Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' });
    expect(classifyEc2Error(timeout)).toMatchObject({ scope: 'retry', code: 'TimeoutError' });
  });
});
