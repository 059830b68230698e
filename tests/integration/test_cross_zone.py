"""Cross-zone weighting through the real binary (issue 6): with cross_zone
on, traffic splits by target weight over all targets; off, equally across
zones (or by zone_weights) first, then by weight inside each zone; a zone
with no target that may take traffic drops out. Ten backends: two in zone-a,
eight in zone-b."""

import collections
import threading

import pytest

import lbtest
from lbtest import HttpConn, build_request, free_port, health_check, http_listener, make_config, target_group
from test_health import key, wait_state

REQUESTS = 20000
CONNECTIONS = 4
BATCH = 50   # pipelined requests per write


@pytest.fixture
def zoned(start_backend):
    """{name: (backend, zone)} for a1, a2 in zone-a and b1..b8 in zone-b."""
    out = {}
    for name, zone in [(f"a{i}", "zone-a") for i in (1, 2)] + [(f"b{i}", "zone-b") for i in range(1, 9)]:
        out[name] = (start_backend(name), zone)
    return out


def zone_targets(zoned, weights=None):
    return [dict(backend.target, zone=zone, weight=(weights or {}).get(name, 1))
            for name, (backend, zone) in zoned.items()]


def shares(port, total=REQUESTS):
    """Share of `total` requests each backend answered, over CONNECTIONS
    keep-alive connections sending pipelined batches."""
    counts = collections.Counter()
    lock = threading.Lock()
    errors = []
    batch = build_request("GET", "/") * BATCH

    def client(n):
        mine = collections.Counter()
        try:
            with HttpConn(port, timeout=30) as conn:
                for _ in range(n // BATCH):
                    conn.send(batch)
                    for _ in range(BATCH):
                        response = conn.read_response()
                        assert response.status == 200, response
                        mine[response.header("X-Backend")] += 1
        except Exception as error:  # surfaced below, in the test's thread
            errors.append(error)
        with lock:
            counts.update(mine)

    threads = [threading.Thread(target=client, args=(total // CONNECTIONS,)) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(counts.values()) == total
    return {name: count / total for name, count in counts.items()}


def assert_shares(measured, expected):
    """Each target within 2% (relative) of its expected share."""
    assert set(measured) == {name for name, share in expected.items() if share > 0}, measured
    for name, share in expected.items():
        assert abs(measured.get(name, 0) - share) <= 0.02 * share, (name, measured, expected)


def start(start_lb, zoned, workers=2, **group_extra):
    port = free_port()
    lb = start_lb(make_config([http_listener(port, "web")],
                              [target_group("web", zone_targets(zoned, group_extra.pop("weights", None)),
                                            **group_extra)], workers=workers))
    return lb, port


def test_cross_zone_on_splits_over_all_targets(start_lb, zoned):
    _, port = start(start_lb, zoned, cross_zone=True)
    assert_shares(shares(port), {name: 0.10 for name in zoned})


def test_cross_zone_off_splits_equally_across_zones_first(start_lb, zoned):
    _, port = start(start_lb, zoned, cross_zone=False)
    # 2 targets in zone-a share half: 25% each; 8 in zone-b: 6.25% each.
    assert_shares(shares(port), {name: 0.25 if name.startswith("a") else 0.0625 for name in zoned})


def test_cross_zone_off_target_weights_apply_inside_the_zone(start_lb, zoned):
    _, port = start(start_lb, zoned, cross_zone=False, weights={"a1": 3, "b1": 2})
    # zone-a: a1 3/4, a2 1/4 of 50%; zone-b: b1 2/9, the others 1/9 of 50%.
    expected = {"a1": 0.375, "a2": 0.125, "b1": 0.5 * 2 / 9}
    expected.update({f"b{i}": 0.5 / 9 for i in range(2, 9)})
    assert_shares(shares(port, 9000), expected)


def test_zone_weights_override_the_equal_split(start_lb, zoned):
    _, port = start(start_lb, zoned, cross_zone=False, zone_weights={"zone-a": 1, "zone-b": 3})
    # zone-a gets 1/4 (12.5% per target), zone-b 3/4 (9.375% per target).
    assert_shares(shares(port, 8000), {name: 0.125 if name.startswith("a") else 0.09375 for name in zoned})


def test_a_zone_without_eligible_targets_drops_out(start_lb, zoned):
    # Weight 0 targets take no new traffic: zone-a has none left.
    _, port = start(start_lb, zoned, cross_zone=False, weights={"a1": 0, "a2": 0})
    assert_shares(shares(port, 8000), {name: 0.0 if name.startswith("a") else 0.125 for name in zoned})


def test_a_zone_whose_targets_are_unhealthy_drops_out_and_comes_back(start_lb, zoned):
    lb, port = start(start_lb, zoned, cross_zone=False, health_check=health_check())
    for backend, _ in zoned.values():
        wait_state(lb, key(backend), "healthy")
    for name in ("a1", "a2"):
        zoned[name][0].set_health(False)
    for name in ("a1", "a2"):
        wait_state(lb, key(zoned[name][0]), "unhealthy")
    # zone-b's 8 targets share everything: 12.5% each, not 6.25%.
    assert_shares(shares(port, 8000), {name: 0.0 if name.startswith("a") else 0.125 for name in zoned})
    zoned["a1"][0].set_health(True)
    wait_state(lb, key(zoned["a1"][0]), "healthy", count=2)
    # One healthy target is enough for zone-a to take its half again.
    assert_shares(shares(port, 8000), {"a1": 0.5, "a2": 0.0, **{f"b{i}": 0.0625 for i in range(1, 9)}})
