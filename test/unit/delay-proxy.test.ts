// The bad-network test's TCP proxy delays chunks and models loss as an extra retransmission
// wait, but must never reorder a stream: a reordered Kafka stream is garbage to the client's
// decoder (one clean-clone CI run crashed kafkajs that way), which no real lossy link produces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { DelayProxy } from '../kit/delay-proxy.js';

test('a delayed, lossy link delivers every byte in order, then the end of the stream', async () => {
  const received: Buffer[] = [];
  const target = createServer((s) => {
    s.on('data', (b: Buffer) => received.push(b));
    s.on('end', () => target.emit('done'));
  });
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  const proxy = await DelayProxy.start('127.0.0.1', 0, '127.0.0.1', (target.address() as AddressInfo).port);
  try {
    proxy.set({ delayMs: 2, lossPct: 30, rtoMs: 7 });
    const client = connect(proxy.port, '127.0.0.1');
    await once(client, 'connect');
    const N = 3000;
    const sent = Buffer.alloc(N * 4);
    for (let i = 0; i < N; i++) {
      sent.writeUInt32BE(i, i * 4);
      client.write(sent.subarray(i * 4, i * 4 + 4));
      // Separate chunks on the proxy's side: let the loop turn between writes now and then.
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    client.end();
    await once(target, 'done');
    const got = Buffer.concat(received);
    assert.equal(got.length, sent.length);
    for (let i = 0; i < N; i++) assert.equal(got.readUInt32BE(i * 4), i, `value at position ${i}`);
    client.destroy();
  } finally {
    await proxy.close();
    target.close();
  }
});
