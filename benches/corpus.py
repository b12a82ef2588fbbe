"""Seeded corpus for the benchmarks: FILES files of MIB_PER_FILE MiB in DIR, a mix of Rails,
nginx, pm2 and gunicorn lines. Usage: python3 benches/corpus.py DIR FILES MIB_PER_FILE"""
import os, random, sys
d, files, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d)
rnd = random.Random(20261123)
def line():
    kind = rnd.randrange(4)
    if kind == 0:
        return (f'I, [2026-11-23T10:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}.{rnd.randrange(10**6):06d} #{rnd.randrange(9999)}]  INFO -- : '
                f'[{rnd.getrandbits(64):016x}] Completed 200 OK in {rnd.randrange(900)}ms (Views: {rnd.random()*50:.1f}ms | ActiveRecord: {rnd.random()*20:.1f}ms)')
    if kind == 1:
        return (f'10.0.{rnd.randrange(255)}.{rnd.randrange(255)} - - [23/Nov/2026:10:{rnd.randrange(60):02d}:00 +0000] '
                f'"GET /api/v1/items/{rnd.randrange(10**6)} HTTP/1.1" {rnd.choice([200, 200, 200, 304, 404, 500, 502])} {rnd.randrange(10**5)} "-" "Mozilla/5.0"')
    if kind == 2:
        return f'2026-11-23T10:00:{rnd.randrange(60):02d}: Error: connect ECONNREFUSED 127.0.0.1:{rnd.randrange(1024, 65535)}'
    return f'[2026-11-23 10:00:00 +0000] [{rnd.randrange(99999)}] [INFO] Booting worker with pid: {rnd.randrange(99999)}'
for f in range(files):
    with open(os.path.join(d, f"app{f:03d}.log"), "w") as out:
        size = 0
        while size < mib << 20:
            chunk = "".join(line() + "\n" for _ in range(2000))
            out.write(chunk)
            size += len(chunk)
