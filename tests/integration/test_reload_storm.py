"""The reload storm of issue 3's "Done when": 200 SIGHUPs while wrk runs and
1,000 WebSockets stay open. Expect 0 non-2xx, 0 socket errors, every
WebSocket still echoing afterwards, and lb's RSS growing less than 5%."""

import asyncio
import re
import shutil
import signal
import subprocess
import time

import pytest
import websockets

import lbtest

RELOADS = 200
WEBSOCKETS = 1000


def listener(port, version):
    l = lbtest.http_listener(port, "web")
    l["rules"] = [{"priority": 10, "conditions": {"path": ["/version"]},
                   "action": {"fixed_response": {"status": 200, "body": f"v{version}"}}}]
    return l


def parse_wrk(output):
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return requests, int(non2xx.group(1)) if non2xx else 0, \
        sum(int(x) for x in errors.groups()) if errors else 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (tools/dev install provides it)")
def test_reload_storm_under_load_with_open_websockets(start_lb, backends):
    port = lbtest.free_port()
    config = lbtest.make_config([listener(port, 0)], [lbtest.target_group("web", backends)], workers=2,
                                access_log={"format": "off"})
    lb = start_lb(config)
    duration = 25 if lbtest.SANITIZED else 12

    async def scenario():
        sockets = []
        for start in range(0, WEBSOCKETS, 100):
            batch = await asyncio.gather(*[websockets.connect(f"ws://127.0.0.1:{port}/ws", max_queue=4)
                                           for _ in range(start, min(start + 100, WEBSOCKETS))])
            sockets.extend(batch)
        await asyncio.gather(*[ws.send(f"hello {i}") for i, ws in enumerate(sockets)])
        replies = await asyncio.gather(*[ws.recv() for ws in sockets])
        assert replies == [f"hello {i}" for i in range(len(sockets))]

        # Warm up: a few reloads and some traffic so allocator pools settle.
        for i in range(1, 6):
            config["listeners"] = [listener(port, i)]
            with open(lb.config_path, "w") as f:
                f.write(lbtest.to_yaml(config))
            lb.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while lb.stderr().count("reloaded: generation") < i and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
        warm = subprocess.run(["wrk", "-t1", "-c16", "-d2s", f"http://127.0.0.1:{port}/"],
                              capture_output=True, text=True, timeout=60)
        assert parse_wrk(warm.stdout)[1:] == (0, 0), warm.stdout
        rss_before = lb.rss_kib()

        served_before = sum(b.stats()["requests"] for b in backends)
        wrk = await asyncio.create_subprocess_exec(
            "wrk", "-t1", "-c32", f"-d{duration}s", "--latency", f"http://127.0.0.1:{port}/",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        # The storm starts once wrk's traffic is flowing through lb.
        deadline = time.monotonic() + 10
        while sum(b.stats()["requests"] for b in backends) < served_before + 100:
            assert time.monotonic() < deadline, "wrk's requests never reached the targets"
            await asyncio.sleep(0.01)
        started = time.monotonic()
        for i in range(6, 6 + RELOADS):
            config["listeners"] = [listener(port, i)]
            with open(lb.config_path, "w") as f:
                f.write(lbtest.to_yaml(config))
            # Standard signals coalesce: wait until this one became a reload.
            expected = i
            lb.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while lb.stderr().count("reloaded: generation") < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.01)
        storm_seconds = time.monotonic() - started
        out, _ = await wrk.communicate()
        output = out.decode()

        await asyncio.gather(*[ws.send(f"again {i}") for i, ws in enumerate(sockets)])
        again = await asyncio.gather(*[ws.recv() for ws in sockets])
        echoing = sum(1 for i, reply in enumerate(again) if reply == f"again {i}")
        await asyncio.gather(*[ws.close() for ws in sockets])
        return output, storm_seconds, echoing, rss_before

    output, storm_seconds, echoing, rss_before = asyncio.run(scenario())
    rss_after = lb.rss_kib()
    requests, non2xx, socket_errors = parse_wrk(output)
    reloaded = lb.stderr().count("reloaded: generation")
    growth = (rss_after - rss_before) / rss_before
    print(f"\nreload storm: {RELOADS} SIGHUPs in {storm_seconds:.1f}s ({reloaded} logged), "
          f"{requests} requests, {non2xx} non-2xx, {socket_errors} socket errors, "
          f"{echoing}/{WEBSOCKETS} WebSockets echoing, RSS {rss_before} -> {rss_after} KiB "
          f"({growth * 100:+.2f}%)")
    assert reloaded == RELOADS + 5   # the warm-up's five and the storm's 200
    assert non2xx == 0, output
    assert socket_errors == 0, output
    assert requests > 1000, output
    assert echoing == WEBSOCKETS
    assert growth < 0.05, (rss_before, rss_after)
    assert lbtest.get(port, "/version").body == f"v{5 + RELOADS}".encode()
