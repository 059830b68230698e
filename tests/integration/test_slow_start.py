"""Slow start (target_groups[].slow_start): a target entering service gets
a share that grows from nothing to full over the duration, through the real
binary. Each test would see an even split at once without it."""

import time
from collections import Counter

import requests

from lbtest import backend_of, free_port, health_check, http_listener, make_config, target_group

SLOW_START = 10  # seconds


def share_of(port, name, n):
    answered = Counter(backend_of(port) for _ in range(n))
    assert sum(answered.values()) == n and None not in answered, answered
    return answered[name] / n


def config_with(port, targets, admin=None, **group_extra):
    config = make_config([http_listener(port, "web")],
                         [target_group("web", targets, slow_start=f"{SLOW_START}s", **group_extra)])
    if admin:
        config["global"]["admin"] = admin
    return config


def test_target_turning_healthy_ramps_up(start_lb, backends):
    b1, b2 = backends[:2]
    port = free_port()
    config = config_with(port, [b1], health_check=health_check())
    lb = start_lb(config)
    lb.wait_log(rf"target 127\.0\.0\.1:{b1.port} is healthy")
    # b1 was healthy first; b2 joins by a reload and ramps once it passes.
    lb.reload(config_with(port, [b1, b2], config["global"]["admin"], health_check=health_check()))
    lb.wait_log(rf"target 127\.0\.0\.1:{b2.port} is healthy")
    joined = time.monotonic()
    early = share_of(port, "b2", 100)
    early_window = time.monotonic() - joined
    # Over the first second or two its share is at most ~20% of a full one:
    # about 10% of the requests; a full share would be 50%.
    assert early < 0.3, (early, early_window)
    time.sleep(max(0.0, SLOW_START - (time.monotonic() - joined)) + 0.5)
    late = share_of(port, "b2", 200)
    assert 0.4 <= late <= 0.6, late
    print(f"\nb2 share: {early:.0%} in the first {early_window:.1f}s, {late:.0%} after slow start")


def test_target_registered_in_an_unchecked_group_ramps_up(start_lb, backends):
    b1, b2 = backends[:2]
    port = free_port()
    lb = start_lb(config_with(port, [b1, b2]))
    # Present at start: no ramp, an even split at once.
    assert 0.4 <= share_of(port, "b2", 100) <= 0.6
    b3 = backends[2]
    lb.reload(config_with(port, [b1, b2, b3]))
    joined = time.monotonic()
    early = share_of(port, "b3", 150)
    assert early < 0.2, (early, time.monotonic() - joined)  # a full share would be a third


def test_admin_api_shows_the_ramp(start_lb, backends):
    b1, b2 = backends[:2]
    port = free_port()
    config = config_with(port, [b1])
    lb = start_lb(config)
    lb.reload(config_with(port, [b1, b2], config["global"]["admin"]))
    admin = "http://" + config["global"]["admin"]["listen"]
    targets = {t["id"]: t for t in requests.get(admin + "/api/v1/target-groups/web", timeout=5).json()["targets"]}
    assert "slow_start_share" not in targets[f"127.0.0.1:{b1.port}"]
    share = targets[f"127.0.0.1:{b2.port}"]["slow_start_share"]
    assert 0.0 <= share < 0.5, share  # reloaded just now; 1.0 would be a full share
