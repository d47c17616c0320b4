import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STALL_MS, admit, judge, type LastReply, type SlaveFacts } from '../../../coordinator/builds/slave-liveness.ts';

const BUSY_TIMEOUT = 300_000;
const facts = (lastReply: LastReply, over: Partial<SlaveFacts> = {}): SlaveFacts => ({
  lastReply, inFlight: false, lastSeen: 0, repliedAt: 0, lastFileActivity: undefined, busyTimeoutMs: BUSY_TIMEOUT, ...over,
});

describe('slave liveness', () => {
  test('after BUILD or CONT a slave owes a request within STALL_MS', () => {
    for (const reply of ['BUILD', 'CONT'] as const) {
      assert.equal(judge(facts(reply), STALL_MS).kind, 'keep');
      assert.deepEqual(judge(facts(reply), STALL_MS + 1), { kind: 'stalled', silentMs: STALL_MS + 1 });
    }
  });

  test('the silence counts from the later of request and reply (a held IDLE)', () => {
    assert.equal(judge(facts('BUILD', { lastSeen: 0, repliedAt: 10_000 }), STALL_MS + 5_000).kind, 'keep');
    assert.equal(judge(facts('BUILD', { lastSeen: 0, repliedAt: 10_000 }), STALL_MS + 10_001).kind, 'stalled');
  });

  test('after SEND, frames on the file endpoint are signs of life', () => {
    assert.equal(judge(facts('SEND', { lastFileActivity: 100_000 }), 100_000 + STALL_MS).kind, 'keep');
    assert.equal(judge(facts('SEND', { lastFileActivity: 100_000 }), 100_001 + STALL_MS).kind, 'stalled');
    assert.equal(judge(facts('SEND'), STALL_MS + 1).kind, 'stalled', 'a transfer that never started');
    assert.equal(judge(facts('SEND', { lastFileActivity: 0, repliedAt: 50_000 }), 50_000 + STALL_MS).kind, 'keep', 'activity of an earlier file does not count against it');
  });

  test('an acknowledged slave that never asks for work is half-open', () => {
    assert.equal(judge(facts('ACK'), STALL_MS).kind, 'keep');
    assert.equal(judge(facts('ACK'), STALL_MS + 1).kind, 'half-open');
  });

  test('asleep, done, or before any reply: the busy timeout applies', () => {
    for (const reply of ['SLEEP', 'DONE', undefined] as const) {
      assert.equal(judge(facts(reply), BUSY_TIMEOUT).kind, 'keep');
      assert.equal(judge(facts(reply), BUSY_TIMEOUT + 1).kind, 'expired');
    }
    assert.equal(judge(facts('BUILD', { busyTimeoutMs: 1000 }), 1001).kind, 'expired', 'a short busy timeout still applies mid-build');
  });

  test('a slave whose request is being handled is never given up on', () => {
    for (const reply of ['ACK', 'SLEEP', 'BUILD', 'SEND', 'DONE'] as const) {
      assert.equal(judge(facts(reply, { inFlight: true }), 10 * BUSY_TIMEOUT).kind, 'keep');
    }
  });

  test('admission: room, eviction of the stalest half-open slave, or refusal', () => {
    const slaves = [
      { id: 1, lastReply: 'SLEEP' as LastReply, inFlight: false, lastSeen: 0 },
      { id: 2, lastReply: 'ACK' as LastReply, inFlight: false, lastSeen: 20 },
      { id: 3, lastReply: 'ACK' as LastReply, inFlight: false, lastSeen: 10 },
      { id: 4, lastReply: 'ACK' as LastReply, inFlight: true, lastSeen: 5 },
    ];
    assert.deepEqual(admit(slaves, slaves.length, 5), { kind: 'admit' });
    assert.deepEqual(admit(slaves, slaves.length, 4), { kind: 'evict', slave: slaves[2] });
    assert.deepEqual(admit([slaves[0]!, slaves[3]!], 2, 2), { kind: 'refuse' });
  });
});
