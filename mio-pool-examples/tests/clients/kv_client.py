"""The client-library script for `kv`, with redis-py in its default settings
(RESP3 from redis-py 8 on). Usage: python kv_client.py PORT

The same steps as kv_client.js (node-redis): the handshake, every supported
command, a 10,000-command pipeline, a transaction, a WATCH conflict between
two connections, SCAN over 10,000 keys returning each key once. Prints
`ok: N checks` and exits 0, or raises.
"""

import sys
import time

import redis

port = int(sys.argv[1])
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def eq(got, want, what):
    check(got == want, f"{what}: got {got!r}, want {want!r}")


def ttl_is(key, want, since, what, early=0.0):
    """`key`'s TTL is `want` seconds less the time since `since` (read just
    before the command that set it): TTL rounds to the nearest second, and a
    loaded machine can pause for longer than the half second that hides.
    `early`: how much sooner the expiry may be (a deadline in whole
    seconds of the wall clock)."""
    got = r.ttl(key)
    passed = time.monotonic() - since
    check(
        want - early - passed - 0.5 <= got <= want,
        f"{what}: got {got!r}, want {want!r} less the {passed:.2f} s since it was set",
    )


r = redis.Redis(host="127.0.0.1", port=port)

# The handshake: redis-py sent HELLO 3 and CLIENT SETINFO when it connected.
eq(r.ping(), True, "ping")
me = r.client_info()
eq(str(me["resp"]), "3", "RESP3 by default")
eq(me["lib-name"], "redis-py", "CLIENT SETINFO")
eq(r.echo("hi"), b"hi", "echo")
eq(r.execute_command("SELECT", 0), True, "select 0")
eq(r.client_setname("py-client"), True, "client setname")
check(r.client_getname() in ("py-client", b"py-client"), "client getname")
check(isinstance(r.client_id(), int), "client id")
info = r.info()
eq(info["redis_version"], "7.0.15", "info redis_version")
check("connected_clients" in info and "used_memory" in info, "info sections")
check(isinstance(r.info("keyspace"), dict), "info keyspace")
eq(r.config_get("save"), {"save": ""}, "config get")
check(r.command_count() > 40, "command count")
eq(r.flushall(), True, "flushall")

# Strings.
eq(r.set("k", "v"), True, "set")
eq(r.get("k"), b"v", "get")
eq(r.get("missing"), None, "get missing")
eq(r.set("k", "v2", nx=True), None, "set nx")
eq(r.set("k", "v2", xx=True), True, "set xx")
eq(r.set("k", "v3", get=True), b"v2", "set get")
since = time.monotonic()
eq(r.set("k", "v", ex=100), True, "set ex")
ttl_is("k", 100, since, "ttl")
since = time.monotonic()
eq(r.set("k", "v", px=100000, xx=True), True, "set px")
pttl = r.pttl("k")
check(100000 - (time.monotonic() - since) * 1000 - 1 <= pttl <= 100000, f"pttl {pttl}")
eq(r.set("k", "v", keepttl=True), True, "set keepttl")
ttl_is("k", 100, since, "keepttl kept")
since = time.monotonic()
eq(r.set("k", "v", exat=int(time.time()) + 200), True, "set exat")
ttl_is("k", 200, since, "exat ttl", early=1)
since = time.monotonic()
eq(r.set("k", "v", pxat=int(time.time() * 1000) + 300000), True, "set pxat")
ttl_is("k", 300, since, "pxat ttl", early=0.001)
eq(r.setnx("k", "x"), False, "setnx existing")
eq(r.setnx("k2", "x"), True, "setnx new")
since = time.monotonic()
eq(r.setex("k3", 50, "v"), True, "setex")
ttl_is("k3", 50, since, "setex ttl")
since = time.monotonic()
eq(r.psetex("k3", 60000, "v"), True, "psetex")
ttl_is("k3", 60, since, "psetex ttl")
eq(r.getset("k3", "new"), b"v", "getset")
eq(r.ttl("k3"), -1, "getset clears ttl")
eq(r.getdel("k3"), b"new", "getdel")
eq(r.exists("k3"), 0, "getdel deleted")
r.set("g", "v")
since = time.monotonic()
eq(r.getex("g", ex=30), b"v", "getex ex")
ttl_is("g", 30, since, "getex ttl")
eq(r.getex("g", persist=True), b"v", "getex persist")
eq(r.ttl("g"), -1, "persisted")
eq(r.append("s", "hello"), 5, "append new")
eq(r.append("s", " world"), 11, "append")
eq(r.strlen("s"), 11, "strlen")
eq(r.getrange("s", 0, 4), b"hello", "getrange")
eq(r.getrange("s", -5, -1), b"world", "getrange negative")
eq(r.setrange("s", 6, "there"), 11, "setrange")
eq(r.get("s"), b"hello there", "setrange result")
eq(r.incr("n"), 1, "incr")
eq(r.incrby("n", 10), 11, "incrby")
eq(r.decr("n"), 10, "decr")
eq(r.decrby("n", 4), 6, "decrby")
eq(r.incrbyfloat("f", 0.1), 0.1, "incrbyfloat")
eq(r.incrbyfloat("f", 0.2), 0.3, "incrbyfloat sums like Redis")
eq(r.mset({"a": "1", "b": "2"}), True, "mset")
eq(r.mget("a", "missing", "b"), [b"1", None, b"2"], "mget")
eq(r.msetnx({"a": "9", "c": "3"}), False, "msetnx existing")
eq(r.msetnx({"c": "3", "d": "4"}), True, "msetnx new")
r.set("x", "abc")
try:
    r.incr("x")
    check(False, "incr on a string must fail")
except redis.ResponseError as e:
    eq(str(e), "value is not an integer or out of range", "incr error")

# Keys.
eq(r.delete("a", "missing"), 1, "delete")
eq(r.unlink("b"), 1, "unlink")
eq(r.exists("c", "d", "missing"), 2, "exists")
eq(r.type("c"), b"string", "type")
eq(r.type("missing"), b"none", "type none")
since = time.monotonic()
eq(r.expire("c", 100), True, "expire")
ttl_is("c", 100, since, "expire ttl")
eq(r.expire("c", 50, gt=True), False, "expire gt")
eq(r.expire("c", 50, lt=True), True, "expire lt")
since = time.monotonic()
eq(r.pexpire("c", 70000), True, "pexpire")
ttl_is("c", 70, since, "pexpire ttl")
since = time.monotonic()
eq(r.expireat("c", int(time.time()) + 80), True, "expireat")
ttl_is("c", 80, since, "expireat ttl", early=1)
since = time.monotonic()
eq(r.pexpireat("c", int(time.time() * 1000) + 90000), True, "pexpireat")
ttl_is("c", 90, since, "pexpireat ttl", early=0.001)
eq(r.persist("c"), True, "persist")
eq(r.ttl("c"), -1, "persist ttl")
eq(r.pttl("missing"), -2, "pttl missing")
eq(sorted(r.keys("[cd]")), [b"c", b"d"], "keys")
check(r.randomkey() is not None, "randomkey")
eq(r.rename("c", "c2"), True, "rename")
eq(r.renamenx("c2", "d"), False, "renamenx existing")
eq(r.renamenx("c2", "c3"), True, "renamenx")
try:
    r.rename("missing", "z")
    check(False, "rename of a missing key must fail")
except redis.ResponseError as e:
    eq(str(e), "no such key", "rename error")
check(r.dbsize() > 0, "dbsize")
eq(r.flushdb(), True, "flushdb")
eq(r.dbsize(), 0, "flushdb emptied")

# A 10,000-command pipeline, answered in order.
pipe = r.pipeline(transaction=False)
for i in range(5000):
    pipe.set(f"p{i}", i)
    pipe.incr(f"p{i}")
replies = pipe.execute()
eq(len(replies), 10000, "pipeline replies")
check(all(replies[2 * i + 1] == i + 1 for i in range(5000)), "pipeline order")

# A transaction.
pipe = r.pipeline()
pipe.set("t", 1).incr("t").get("t")
eq(pipe.execute(), [True, 2, b"2"], "transaction")

# WATCH: another connection changes the key; EXEC must fail.
other = redis.Redis(host="127.0.0.1", port=port)
with r.pipeline() as pipe:
    pipe.watch("w")
    other.set("w", "theirs")
    pipe.multi()
    pipe.set("w", "mine")
    try:
        pipe.execute()
        check(False, "EXEC after a WATCH conflict must fail")
    except redis.WatchError:
        checks += 1
eq(r.get("w"), b"theirs", "watch kept theirs")
with r.pipeline() as pipe:
    pipe.watch("w")
    pipe.multi()
    pipe.set("w", "mine")
    eq(pipe.execute(), [True], "exec without conflict")
other.close()

# SCAN over 10,000 keys: each exactly once.
r.flushall()
pipe = r.pipeline(transaction=False)
for i in range(10000):
    pipe.set(f"scan:{i}", i)
pipe.execute()
seen = []
cursor = 0
while True:
    cursor, keys = r.scan(cursor=cursor, match="scan:*", count=100)
    seen.extend(keys)
    if cursor == 0:
        break
eq(len(seen), 10000, "scan count")
eq(len(set(seen)), 10000, "scan returns each key once")
eq(sum(1 for _ in r.scan_iter(match="scan:1*")), 1111, "scan_iter match")
r.flushall()

# RESET and QUIT, on a connection of their own.
last = redis.Redis(host="127.0.0.1", port=port)
check(last.execute_command("RESET") in (b"RESET", "RESET"), "reset")
last.close()
r.close()
print(f"ok: {checks} checks")
