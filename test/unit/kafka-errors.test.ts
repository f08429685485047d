// Fencing and INVALID_TXN_STATE are recognised by the Kafka error's type/code wherever the client
// puts it: kafkajs wraps it in a cause chain, @platformatic/kafka aggregates it (MultipleErrors of
// its retries, ResponseError of a response). Built with the clients' own error classes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type * as KafkaJS from 'kafkajs';
import { MultipleErrors, ProtocolError, ResponseError, UserError } from '@platformatic/kafka';
import { isFencedError, isInvalidTxnStateError, isRebalanceError, kafkaErrorNames } from '../../src/kafka/kafka-errors.js';

const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => KafkaJS.KafkaJSProtocolError };
// kafkajs is CommonJS: its error classes are not named exports Node can see from ESM.
const { KafkaJSNumberOfRetriesExceeded } = require('kafkajs') as typeof KafkaJS;
/** What kafkajs raises for a response carrying `code`. */
const kafkajsError = createErrorFromCode;
/** What @platformatic/kafka raises for a response carrying `code` (API 26 = EndTxn). */
const platformaticResponse = (code: number) => new ResponseError(26, 4, { '/': [code, null] }, {});

describe('isFencedError', () => {
  for (const code of [47, 52]) {
    test(`kafkajs: protocol error ${code}, alone and wrapped by retries`, () => {
      const e = kafkajsError(code);
      assert.equal(isFencedError(e), true);
      assert.equal(isFencedError(new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 100 })), true);
      assert.equal(isFencedError(new Error('transaction failed', { cause: new KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 100 }) })), true);
    });
  }

  for (const [id, code] of [['PRODUCER_FENCED', 90], ['INVALID_PRODUCER_EPOCH', 47], ['TRANSACTION_COORDINATOR_FENCED', 52]] as const) {
    test(`@platformatic/kafka: ${id} in a response, and among its retries' errors`, () => {
      assert.equal(isFencedError(new ProtocolError(id)), true);
      const response = platformaticResponse(code);
      assert.equal(isFencedError(response), true);
      const retries = new MultipleErrors('endTransaction failed 2 times.', [platformaticResponse(51), response]);
      assert.equal(isFencedError(retries), true);
      assert.equal(isFencedError(new Error('commit failed', { cause: retries })), true);
    });
  }

  test('other errors are not fencing, including look-alike messages and non-error values', () => {
    for (const e of [
      kafkajsError(51), // CONCURRENT_TRANSACTIONS
      kafkajsError(22), // ILLEGAL_GENERATION
      platformaticResponse(51),
      new MultipleErrors('produce failed 3 times.', [platformaticResponse(6), platformaticResponse(7)]),
      new UserError('There is a newer producer with the same transactionalId which fences the current one.'),
      new Error('PRODUCER_FENCED'),
      null,
      undefined,
      'PRODUCER_FENCED',
      90,
    ]) assert.equal(isFencedError(e), false, String(e));
  });

  test('a cyclic cause chain or aggregate ends the search', () => {
    const a = new Error('a') as Error & { cause?: unknown; errors?: unknown[] };
    const b = new Error('b', { cause: a });
    a.cause = b;
    a.errors = [a, b];
    assert.equal(isFencedError(a), false);
  });
});

describe('isInvalidTxnStateError', () => {
  test('both clients, and only that error', () => {
    assert.equal(isInvalidTxnStateError(kafkajsError(48)), true);
    assert.equal(isInvalidTxnStateError(new MultipleErrors('endTransaction failed 1 times.', [platformaticResponse(48)])), true);
    assert.equal(isInvalidTxnStateError(platformaticResponse(90)), false);
    assert.equal(isInvalidTxnStateError(kafkajsError(47)), false);
  });
});

describe('isRebalanceError', () => {
  test('the group refusing offsets of a generation: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS', () => {
    for (const code of [22, 25, 27]) {
      assert.equal(isRebalanceError(kafkajsError(code)), true, `kafkajs ${code}`);
      assert.equal(isRebalanceError(new MultipleErrors('commit failed 1 times.', [new ResponseError(28, 4, { '/topics/0/partitions/0': [code, null] }, {})])), true, `platformatic ${code}`);
    }
    assert.equal(isRebalanceError(platformaticResponse(90)), false);
    assert.equal(isRebalanceError(kafkajsError(47)), false);
  });
});

describe('kafkaErrorNames', () => {
  test("every Kafka error name along the chain, once: what the clients' own messages leave out", () => {
    const e = new Error('transaction failed', { cause: new MultipleErrors('commit failed 3 times.', [platformaticResponse(51), platformaticResponse(51), platformaticResponse(47)]) });
    assert.deepEqual(kafkaErrorNames(e), ['CONCURRENT_TRANSACTIONS', 'INVALID_PRODUCER_EPOCH']);
    assert.deepEqual(kafkaErrorNames(new KafkaJSNumberOfRetriesExceeded(kafkajsError(6), { retryCount: 1, retryTime: 1 })), ['NOT_LEADER_FOR_PARTITION']);
    assert.deepEqual(kafkaErrorNames(new Error('plain')), []);
  });
});
