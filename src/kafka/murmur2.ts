/**
 * Kafka's murmur2 key hash (the Java client's Utils.murmur2, kafkajs's DefaultPartitioner), in
 * 32-bit integer arithmetic. @platformatic/kafka's own murmur2 computes it in BigInt, and its
 * default partitioner takes `hash >>> 0` instead of the Java client's `hash & 0x7fffffff`: a key
 * would land on another partition than with kafkajs or any Java producer. This is the Java one.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;

export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[length4 + 2] << 16;
    if (tail >= 2) h ^= data[length4 + 1] << 8;
    h ^= data[length4];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a keyed record among `partitions`, as the Java client and kafkajs's DefaultPartitioner choose it. */
export function keyPartition(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
