import type { LaunchProgress } from '../../domain/launch';
import { launchJson, renderRunTree } from '../../cli/render';

const RAN = 'a'.repeat(32);
const EARLIER = 'b'.repeat(32);
const progress: LaunchProgress = {
  launch_id: 'l1',
  experiment_id: '4',
  run_id: 'c'.repeat(32),
  status: 'FINISHED',
  stages: [
    { name: 'prepare', run_id: RAN, status: 'FINISHED', duration_s: 0, source: 'reused', reused_from: EARLIER },
    { name: 'train', run_id: RAN, status: 'FINISHED', duration_s: 0, source: 'cached', cached_from: EARLIER, input_digests: { table: 'sha256:t' } },
    { name: 'evaluate', run_id: RAN, status: 'FINISHED', duration_s: 1.5, source: 'ran', input_digests: { model: 'sha256:m' } },
    { name: 'report', run_id: '', status: 'SKIPPED' },
  ],
};

test('the run tree says where each result came from; status adds the input digests', () => {
  expect(renderRunTree(progress).split('\n').slice(1)).toEqual([
    '  STAGE     STATUS    DURATION  RUN ID                            SOURCE',
    `  prepare   FINISHED  0.0s      ${RAN}  reused from ${EARLIER}`,
    `  train     FINISHED  0.0s      ${RAN}  cached from ${EARLIER}`,
    `  evaluate  FINISHED  1.5s      ${RAN}  ran`,
    '  report    SKIPPED   -         -                                 -',
  ]);
  expect(renderRunTree(progress, { digests: true }).split('\n').slice(-4)).toEqual(['', '  INPUT DIGESTS', '  train.table  sha256:t', '  evaluate.model  sha256:m']);
});

test('--json carries the source fields only where they are set', () => {
  expect(launchJson(progress)).toMatchObject({
    stages: [
      { name: 'prepare', source: 'reused', reused_from: EARLIER },
      { name: 'train', source: 'cached', cached_from: EARLIER, input_digests: { table: 'sha256:t' } },
      { name: 'evaluate', source: 'ran' },
      { name: 'report', run_id: '', status: 'SKIPPED' },
    ],
  });
  expect(Object.keys((launchJson(progress) as { stages: object[] }).stages[3]!)).toEqual(['name', 'run_id', 'status']);
});
