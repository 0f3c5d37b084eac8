import { loadConfig } from '../../server/config';

describe('MLFLEET_ARTIFACT_ROOT', () => {
  const root = (value: string) => loadConfig({}, { MLFLEET_ARTIFACT_ROOT: value }).artifactRoot;

  test('file:/// folders and s3://bucket[/prefix] are accepted as given', () => {
    for (const value of ['file:///var/lib/mlfleet/artifacts', 's3://my-bucket', 's3://my-bucket/', 's3://my.bucket-2/team/artifacts', 's3://abc/a/b/']) {
      expect(root(value)).toBe(value);
    }
    expect(loadConfig({ dataDir: '/tmp/mlfleet-x' }, {}).artifactRoot).toBe('file:///tmp/mlfleet-x/artifacts');
  });

  test('anything else is refused with the expected shapes', () => {
    for (const value of ['/var/artifacts', 'file://host/x', 'gs://bucket/x', 's3://', 's3://Bucket/x', 's3://ab', 's3://bucket//x', 's3://bucket/../x', 's3://bucket/a/./b', 'file:///a/../b']) {
      expect(() => root(value)).toThrow(`MLFLEET_ARTIFACT_ROOT='${value}': expected file:///absolute/folder or s3://bucket[/prefix]`);
    }
  });
});

describe('MLFLEET_AUTH', () => {
  const auth = (env: NodeJS.ProcessEnv) => loadConfig({}, env).auth;

  test('off, with NO_PERMISSIONS as the default, unless the environment says otherwise', () => {
    expect(auth({})).toEqual({ enabled: false, defaultPermission: 'NO_PERMISSIONS' });
    expect(auth({ MLFLEET_AUTH: 'on', MLFLEET_AUTH_DEFAULT_PERMISSION: 'READ' })).toEqual({ enabled: true, defaultPermission: 'READ' });
    expect(auth({ MLFLEET_AUTH: 'TRUE' }).enabled).toBe(true);
  });

  test('values it does not know are refused, naming the variable', () => {
    expect(() => auth({ MLFLEET_AUTH: 'maybe' })).toThrow("MLFLEET_AUTH='maybe': expected on or off");
    expect(() => auth({ MLFLEET_AUTH_DEFAULT_PERMISSION: 'WRITE' })).toThrow(
      "MLFLEET_AUTH_DEFAULT_PERMISSION='WRITE': expected one of NO_PERMISSIONS, READ, EDIT, MANAGE",
    );
  });
});
