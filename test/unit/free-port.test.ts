import { PortInUseError, startOnFreePort } from '../../server/free-port';

test('startOnFreePort takes another port after a PortInUseError, and gives up after its attempts', async () => {
  const tried: number[] = [];
  const started = await startOnFreePort((port) => {
    tried.push(port);
    return tried.length < 3 ? Promise.reject(new PortInUseError(port, 'taken')) : Promise.resolve(`listening on ${port}`);
  });
  expect(tried).toHaveLength(3);
  expect(started).toBe(`listening on ${tried[2]}`);

  let calls = 0;
  const always = startOnFreePort((port) => {
    calls++;
    return Promise.reject(new PortInUseError(port, 'taken'));
  }, 2);
  await expect(always).rejects.toBeInstanceOf(PortInUseError);
  expect(calls).toBe(2);
});

test('startOnFreePort does not retry other failures', async () => {
  let calls = 0;
  const failure = startOnFreePort(() => {
    calls++;
    return Promise.reject(new Error('initdb failed'));
  });
  await expect(failure).rejects.toThrow('initdb failed');
  expect(calls).toBe(1);
});
