import { azureFailure, classifyAzureError, isAzureNotFound } from '../../clouds/azure/azure-errors';

// How Azure's failures reach the driver: a RestError (HTTP status, code from the ARM error body),
// a failed long-running operation (a plain Error in @azure/core-lro's wording), a credential
// error from @azure/identity, or a network error.

const restError = (statusCode: number | undefined, code: string, message = `${code} happened`): Error =>
  Object.assign(new Error(message), { name: 'RestError', code, statusCode });
const operationFailed = (code: string, message = 'Allocation failed. We do not have sufficient capacity.'): Error =>
  new Error(`The long-running operation has failed. ${code}. ${message}`);
const named = (name: string, message: string): Error => Object.assign(new Error(message), { name });

test.each([
  ['SkuNotAvailable on the PUT, zone requested', 'zone', restError(409, 'SkuNotAvailable'), true],
  ['SkuNotAvailable on the PUT, no zone', 'region', restError(409, 'SkuNotAvailable'), false],
  ['AllocationFailed in the operation', 'region', operationFailed('AllocationFailed'), false],
  ['ZonalAllocationFailed in the operation', 'zone', operationFailed('ZonalAllocationFailed'), true],
  ['OverconstrainedAllocationRequest, no zone', 'region', operationFailed('OverconstrainedAllocationRequest'), false],
  ['OverconstrainedZonalAllocationRequest, zone', 'zone', operationFailed('OverconstrainedZonalAllocationRequest'), true],
  ['quota (OperationNotAllowed), even with a zone', 'region', restError(409, 'OperationNotAllowed', 'Operation could not be completed as it results in exceeding approved LowPriorityCores quota.'), true],
  ['OperationNotAllowed on a VM being deleted', 'retry', restError(409, 'OperationNotAllowed', "Operation 'PUT' is not allowed on VM 'vm' since the VM is marked for deletion."), false],
  ['spot price above the max price', 'region', restError(409, 'SpotPriceGreaterThanProvidedMaxPrice'), true],
  ['no spot for this VM size', 'region', restError(400, 'AzureSpotIsNotSupportedForThisVMSize'), true],
  ['AuthorizationFailed', 'cloud', restError(403, 'AuthorizationFailed'), false],
  ['InvalidAuthenticationToken', 'cloud', restError(401, 'InvalidAuthenticationToken'), false],
  ['spot not enabled for the subscription', 'cloud', restError(400, 'AzureSpotFeatureNotEnabledForSubscription'), false],
  ['an unknown 403', 'cloud', restError(403, 'SomethingForbidden'), false],
  ['no credential at all', 'cloud', named('CredentialUnavailableError', 'DefaultAzureCredential failed to retrieve a token'), false],
  ['throttled', 'retry', restError(429, 'TooManyRequests'), false],
  ['a 500', 'retry', restError(500, 'InternalServerError'), false],
  ['a 503 with no code', 'retry', restError(503, ''), false],
  ['an internal error in the operation', 'retry', operationFailed('InternalExecutionError', 'An internal execution error occurred.'), true],
  ['the request never got an answer', 'retry', restError(undefined, 'REQUEST_SEND_ERROR', 'socket hang up'), false],
  ['a connection reset', 'retry', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), false],
  ['a malformed request', 'fatal', restError(400, 'InvalidParameter'), false],
  ['an invalid max price', 'fatal', restError(400, 'MaxPriceValueInvalid'), false],
  ['an unknown failure in the operation', 'fatal', operationFailed('VMExtensionProvisioningError', 'extension failed'), false],
])('%s → %s', (_case, scope, err, zoneRequested) => {
  const classified = classifyAzureError(err, { zoneRequested });
  expect(classified.scope).toBe(scope);
  expect(classified.code).toBe(azureFailure(err).code);
});

test('the code and message of a failed operation come out of core-lro wording', () => {
  const failure = azureFailure(operationFailed('ZonalAllocationFailed', 'Allocation failed in zone 2. Try another zone.'));
  expect(failure).toEqual({ code: 'ZonalAllocationFailed', message: 'Allocation failed in zone 2. Try another zone.' });
  expect(classifyAzureError(operationFailed('ZonalAllocationFailed'), { zoneRequested: true })).toMatchObject({
    name: 'ProvisionError',
    code: 'ZonalAllocationFailed',
    message: 'Allocation failed. We do not have sufficient capacity.',
  });
});

test('a RestError keeps its status; one without a code is named by it', () => {
  expect(azureFailure(restError(409, 'SkuNotAvailable', 'not available'))).toEqual({ code: 'SkuNotAvailable', statusCode: 409, message: 'not available' });
  expect(azureFailure(Object.assign(new Error('Unexpected status code: 502'), { name: 'RestError', statusCode: 502 }))).toMatchObject({ code: 'HTTP502' });
});

test('only a 404 means not found', () => {
  expect(isAzureNotFound(restError(404, 'ResourceNotFound'))).toBe(true);
  expect(isAzureNotFound(restError(404, 'ResourceGroupNotFound'))).toBe(true);
  expect(isAzureNotFound(restError(409, 'NotFound'))).toBe(false);
  expect(isAzureNotFound(new Error('ResourceNotFound'))).toBe(false);
});
