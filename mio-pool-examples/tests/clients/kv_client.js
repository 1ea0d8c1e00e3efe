// The client-library script for `kv`, with node-redis in its default
// settings (RESP3 in node-redis 6). Usage: node kv_client.js PORT
//
// The same steps as kv_client.py (redis-py): the handshake, every supported
// command, a 10,000-command pipeline, a transaction, a WATCH conflict
// between two connections, SCAN over 10,000 keys returning each key once.
// Prints `ok: N checks` and exits 0, or exits 1 with the failure.

'use strict';
// CommonJS, so that NODE_PATH finds the project-local node_modules.
const { createClient, WatchError } = require('redis');
const assert = require('node:assert/strict');

const port = Number(process.argv[2]);
const url = `redis://127.0.0.1:${port}`;
let checks = 0;
const eq = (got, want, what) => {
  assert.deepStrictEqual(got, want, what);
  checks++;
};
const ok = (cond, what) => {
  assert.ok(cond, what);
  checks++;
};
const now = () => Math.floor(Date.now() / 1000);

async function main() {
  const r = createClient({ url });
  // `key`'s TTL is `want` s less the time since `since` (read just before
  // the command that set it): TTL rounds to the nearest second, and a
  // loaded machine can pause for longer than the half second that hides.
  // `early`: how much sooner the expiry may be (a deadline in whole seconds).
  const ttlIs = async (key, want, since, what, early = 0) => {
    const got = await r.ttl(key);
    const passed = (performance.now() - since) / 1000;
    ok(
      want - early - passed - 0.5 <= got && got <= want,
      `${what}: got ${got}, want ${want} less the ${passed.toFixed(2)} s since it was set`
    );
  };
  r.on('error', (e) => { throw e; });
  await r.connect();

  // The handshake: node-redis sent HELLO 3 and CLIENT SETINFO.
  eq(await r.ping(), 'PONG', 'ping');
  const me = await r.clientInfo();
  eq(me.resp, 3, 'RESP3 by default');
  eq(await r.echo('hi'), 'hi', 'echo');
  await r.select(0); // node-redis resolves it to undefined on success
  checks++;
  eq(await r.clientSetName('node-client'), 'OK', 'client setname');
  eq(await r.clientGetName(), 'node-client', 'client getname');
  ok(typeof (await r.clientId()) === 'number', 'client id');
  const info = await r.info();
  ok(info.includes('redis_version:7.0.15'), 'info redis_version');
  ok(info.includes('# Keyspace'), 'info keyspace');
  eq(await r.configGet('save'), { save: '' }, 'config get');
  ok((await r.commandCount()) > 40, 'command count');
  eq(await r.flushAll(), 'OK', 'flushall');

  // Strings.
  eq(await r.set('k', 'v'), 'OK', 'set');
  eq(await r.get('k'), 'v', 'get');
  eq(await r.get('missing'), null, 'get missing');
  eq(await r.set('k', 'v2', { condition: 'NX' }), null, 'set nx');
  eq(await r.set('k', 'v2', { condition: 'XX' }), 'OK', 'set xx');
  eq(await r.set('k', 'v3', { GET: true }), 'v2', 'set get');
  let since = performance.now();
  eq(await r.set('k', 'v', { expiration: { type: 'EX', value: 100 } }), 'OK', 'set ex');
  await ttlIs('k', 100, since, 'ttl');
  since = performance.now();
  eq(await r.set('k', 'v', { expiration: { type: 'PX', value: 100000 } }), 'OK', 'set px');
  const pttl = await r.pTTL('k');
  ok(100000 - (performance.now() - since) - 1 <= pttl && pttl <= 100000, `pttl ${pttl}`);
  eq(await r.set('k', 'v', { expiration: 'KEEPTTL' }), 'OK', 'set keepttl');
  await ttlIs('k', 100, since, 'keepttl kept');
  since = performance.now();
  eq(await r.set('k', 'v', { expiration: { type: 'EXAT', value: now() + 200 } }), 'OK', 'set exat');
  await ttlIs('k', 200, since, 'exat ttl', 1);
  since = performance.now();
  eq(await r.set('k', 'v', { expiration: { type: 'PXAT', value: Date.now() + 300000 } }), 'OK', 'set pxat');
  await ttlIs('k', 300, since, 'pxat ttl', 0.001);
  eq(await r.setNX('k', 'x'), 0, 'setnx existing');
  eq(await r.setNX('k2', 'x'), 1, 'setnx new');
  since = performance.now();
  eq(await r.setEx('k3', 50, 'v'), 'OK', 'setex');
  await ttlIs('k3', 50, since, 'setex ttl');
  since = performance.now();
  eq(await r.pSetEx('k3', 60000, 'v'), 'OK', 'psetex');
  await ttlIs('k3', 60, since, 'psetex ttl');
  eq(await r.getSet('k3', 'new'), 'v', 'getset');
  eq(await r.ttl('k3'), -1, 'getset clears ttl');
  eq(await r.getDel('k3'), 'new', 'getdel');
  eq(await r.exists('k3'), 0, 'getdel deleted');
  await r.set('g', 'v');
  since = performance.now();
  eq(await r.getEx('g', { type: 'EX', value: 30 }), 'v', 'getex ex');
  await ttlIs('g', 30, since, 'getex ttl');
  eq(await r.getEx('g', { type: 'PERSIST' }), 'v', 'getex persist');
  eq(await r.ttl('g'), -1, 'persisted');
  eq(await r.append('s', 'hello'), 5, 'append new');
  eq(await r.append('s', ' world'), 11, 'append');
  eq(await r.strLen('s'), 11, 'strlen');
  eq(await r.getRange('s', 0, 4), 'hello', 'getrange');
  eq(await r.getRange('s', -5, -1), 'world', 'getrange negative');
  eq(await r.setRange('s', 6, 'there'), 11, 'setrange');
  eq(await r.get('s'), 'hello there', 'setrange result');
  eq(await r.incr('n'), 1, 'incr');
  eq(await r.incrBy('n', 10), 11, 'incrby');
  eq(await r.decr('n'), 10, 'decr');
  eq(await r.decrBy('n', 4), 6, 'decrby');
  eq(String(await r.incrByFloat('f', 0.1)), '0.1', 'incrbyfloat');
  eq(String(await r.incrByFloat('f', 0.2)), '0.3', 'incrbyfloat sums like Redis');
  eq(await r.mSet({ a: '1', b: '2' }), 'OK', 'mset');
  eq(await r.mGet(['a', 'missing', 'b']), ['1', null, '2'], 'mget');
  eq(await r.mSetNX({ a: '9', c: '3' }), 0, 'msetnx existing');
  eq(await r.mSetNX({ c: '3', d: '4' }), 1, 'msetnx new');
  await r.set('x', 'abc');
  await assert.rejects(r.incr('x'), /value is not an integer or out of range/, 'incr error');
  checks++;

  // Keys.
  eq(await r.del(['a', 'missing']), 1, 'del');
  eq(await r.unlink('b'), 1, 'unlink');
  eq(await r.exists(['c', 'd', 'missing']), 2, 'exists');
  eq(await r.type('c'), 'string', 'type');
  eq(await r.type('missing'), 'none', 'type none');
  since = performance.now();
  eq(await r.expire('c', 100), 1, 'expire');
  await ttlIs('c', 100, since, 'expire ttl');
  eq(await r.expire('c', 50, 'GT'), 0, 'expire gt');
  eq(await r.expire('c', 50, 'LT'), 1, 'expire lt');
  since = performance.now();
  eq(await r.pExpire('c', 70000), 1, 'pexpire');
  await ttlIs('c', 70, since, 'pexpire ttl');
  since = performance.now();
  eq(await r.expireAt('c', now() + 80), 1, 'expireat');
  await ttlIs('c', 80, since, 'expireat ttl', 1);
  since = performance.now();
  eq(await r.pExpireAt('c', Date.now() + 90000), 1, 'pexpireat');
  await ttlIs('c', 90, since, 'pexpireat ttl', 0.001);
  eq(await r.persist('c'), 1, 'persist');
  eq(await r.ttl('c'), -1, 'persist ttl');
  eq(await r.pTTL('missing'), -2, 'pttl missing');
  eq((await r.keys('[cd]')).sort(), ['c', 'd'], 'keys');
  ok((await r.randomKey()) !== null, 'randomkey');
  eq(await r.rename('c', 'c2'), 'OK', 'rename');
  eq(await r.renameNX('c2', 'd'), 0, 'renamenx existing');
  eq(await r.renameNX('c2', 'c3'), 1, 'renamenx');
  await assert.rejects(r.rename('missing', 'z'), /no such key/, 'rename error');
  checks++;
  ok((await r.dbSize()) > 0, 'dbsize');
  eq(await r.flushDb(), 'OK', 'flushdb');
  eq(await r.dbSize(), 0, 'flushdb emptied');

  // A 10,000-command pipeline, answered in order.
  const pipe = r.multi();
  for (let i = 0; i < 5000; i++) {
    pipe.set(`p${i}`, String(i));
    pipe.incr(`p${i}`);
  }
  const replies = await pipe.execAsPipeline();
  eq(replies.length, 10000, 'pipeline replies');
  ok(replies.every((v, j) => j % 2 === 0 ? v === 'OK' : v === (j - 1) / 2 + 1), 'pipeline order');

  // A transaction.
  eq(await r.multi().set('t', '1').incr('t').get('t').exec(), ['OK', 2, '2'], 'transaction');

  // WATCH: another connection changes the key; EXEC must fail.
  const other = createClient({ url });
  await other.connect();
  const watcher = await r.duplicate().connect();
  await watcher.watch('w');
  await other.set('w', 'theirs');
  await assert.rejects(watcher.multi().set('w', 'mine').exec(), WatchError, 'watch conflict');
  checks++;
  eq(await r.get('w'), 'theirs', 'watch kept theirs');
  await watcher.watch('w');
  eq(await watcher.multi().set('w', 'mine').exec(), ['OK'], 'exec without conflict');
  await watcher.close();
  await other.close();

  // SCAN over 10,000 keys: each exactly once.
  await r.flushAll();
  const fill = r.multi();
  for (let i = 0; i < 10000; i++) fill.set(`scan:${i}`, String(i));
  await fill.execAsPipeline();
  const seen = [];
  let cursor = '0';
  do {
    const res = await r.scan(cursor, { MATCH: 'scan:*', COUNT: 100 });
    cursor = String(res.cursor);
    seen.push(...res.keys);
  } while (cursor !== '0');
  eq(seen.length, 10000, 'scan count');
  eq(new Set(seen).size, 10000, 'scan returns each key once');
  let matched = 0;
  for await (const keys of r.scanIterator({ MATCH: 'scan:1*' })) matched += keys.length;
  eq(matched, 1111, 'scanIterator match');
  await r.flushAll();

  // RESET and QUIT, on a connection of their own.
  const last = createClient({ url });
  await last.connect();
  eq(await last.sendCommand(['RESET']), 'RESET', 'reset');
  eq(await last.sendCommand(['QUIT']), 'OK', 'quit');
  await r.close();
  console.log(`ok: ${checks} checks`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
