"""Seeded corpus for the benchmarks: FILES files of MIB_PER_FILE MiB in DIR, one app per file as
on a real server, the formats of the samples in turn: Rails, nginx access, pm2 (`--time`, with
stack traces), gunicorn, sidekiq, pino JSON. Every line carries random ids, so none repeats.
Time runs forward through each file, as in a real log, from 2026-11-23 10:00 to 10:59 UTC.
Usage: python3 benches/corpus.py DIR FILES MIB_PER_FILE"""
import datetime, os, random, sys

d, files, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d)
rnd = random.Random(20261123)
START = datetime.datetime(2026, 11, 23, 10, tzinfo=datetime.timezone.utc)
now = START  # the time of the line being made: moved forward as the file fills


def rails():
    return (f'I, [{now:%Y-%m-%dT%H:%M:%S.%f} '
            f'#{rnd.randrange(9999)}]  INFO -- : [{rnd.getrandbits(64):016x}] Completed 200 OK in '
            f'{rnd.randrange(900)}ms (Views: {rnd.random()*50:.1f}ms | ActiveRecord: {rnd.random()*20:.1f}ms)\n')


def nginx():
    return (f'10.0.{rnd.randrange(255)}.{rnd.randrange(255)} - - [{now:%d/%b/%Y:%H:%M:%S} +0000] '
            f'"GET /api/v1/items/{rnd.randrange(10**6)} HTTP/1.1" {rnd.choice([200, 200, 200, 304, 404, 500, 502])} '
            f'{rnd.randrange(10**5)} "-" "Mozilla/5.0"\n')


def pm2():
    t = f'{now:%Y-%m-%dT%H:%M:%S}'
    port = rnd.randrange(1024, 65535)
    if rnd.randrange(4):
        return f'{t}: GET /orders/{rnd.randrange(10**7)} 200 {rnd.randrange(500)}ms session={rnd.getrandbits(48):012x}\n'
    return (f'{t}: Error: connect ECONNREFUSED 127.0.0.1:{port}\n'
            f'{t}:     at TCPConnectWrap.afterConnect [as oncomplete] (node:net:{rnd.randrange(2000)}:16)\n')


def gunicorn():
    return (f'[{now:%Y-%m-%d %H:%M:%S} +0000] [{rnd.randrange(99999)}] '
            f'[INFO] Booting worker with pid: {rnd.randrange(99999)}\n')


def sidekiq():
    return (f'{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z '
            f'pid={rnd.randrange(99999)} tid={rnd.getrandbits(20):x} class=HardWorker '
            f'jid={rnd.getrandbits(96):024x} INFO: done: {rnd.random()*3:.3f} sec\n')


def pino():
    return (f'{{"level":"{rnd.choice(["info", "info", "info", "warn", "error"])}",'
            f'"time":{int(now.timestamp() * 1000)},"pid":{rnd.randrange(99999)},"hostname":"web-1",'
            f'"trace_id":"{rnd.getrandbits(128):032x}","msg":"Charge request received.",'
            f'"amount":{rnd.randrange(10**5)}}}\n')


FORMATS = [rails, nginx, pm2, gunicorn, sidekiq, pino]
for f in range(files):
    make = FORMATS[f % len(FORMATS)]
    with open(os.path.join(d, f"app{f:03d}.log"), "w") as out:
        size = 0
        while size < mib << 20:
            now = START + datetime.timedelta(seconds=3599.999 * size / (mib << 20))
            chunk = "".join(make() for _ in range(2000))
            out.write(chunk)
            size += len(chunk)
