import { afterEach, describe, expect, it } from 'vitest';
import { startIpcChild } from '../../bench/ipc.js';

// The benchmarks' load generators run behind this channel (bench/mcp/population-driver.ts, bench/mcp/cold-client.ts):
// answers must reach the command that asked, errors must surface, and a child that dies must not leave a caller waiting.
describe('bench IPC child', () => {
  let child: ReturnType<typeof startIpcChild> | undefined;
  afterEach(() => {
    child?.child.kill();
    child = undefined;
  });

  it('answers each command with its own result, also when several are in flight', async () => {
    child = startIpcChild('test/bench/fixtures/ipc-echo-child.ts');
    expect(await child.ready).toBe('ready');
    const answers = await Promise.all([1, 2, 3].map((n) => child!.call({ op: 'echo', value: { n, list: [n, n * 2] } })));
    expect(answers).toEqual([1, 2, 3].map((n) => ({ n, list: [n, n * 2] })));
    // NaN marks an unanswered request in an open-loop result: it must arrive as NaN, not as JSON's null.
    expect(await child.call({ op: 'echo', value: [1.5, NaN] })).toEqual([1.5, NaN]);
  });

  it("rejects with the child's error, and the channel keeps working", async () => {
    child = startIpcChild('test/bench/fixtures/ipc-echo-child.ts');
    await child.ready;
    await expect(child.call({ op: 'fail' })).rejects.toThrow(/refused on purpose/);
    expect(await child.call({ op: 'echo', value: 'still here' })).toBe('still here');
  });

  it('rejects whatever is pending when the child exits', async () => {
    child = startIpcChild('test/bench/fixtures/ipc-echo-child.ts');
    await child.ready;
    await expect(child.call({ op: 'exit' })).rejects.toThrow(/exited with 3/);
  });
});
