import { loadConfig } from '../../workers/config';

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
