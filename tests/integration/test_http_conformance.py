"""lb against the RFC 9110/9112 conformance cases of
http_conformance_cases.py: each request case is sent on a fresh client
connection, each response case is a scripted target answer, and the
outcome (status, what reached the target, what the client read and whether
its connection is still sound) must be the one the RFC asks for."""

import pytest

import lbtest
from http_conformance_cases import ALL_CASES, expected, outcome, respond_by_case
from scripted_backend import ScriptedBackend


@pytest.fixture(scope="module")
def lb_and_backend(module_lb):
    backend = ScriptedBackend(respond_by_case)
    port = lbtest.free_port()
    module_lb(lbtest.make_config([lbtest.http_listener(port, "app")],
                                 [lbtest.target_group("app", [backend.target])]))
    yield port, backend
    backend.close()


@pytest.mark.parametrize("kind,case", ALL_CASES, ids=[f"{k}:{c.id}" for k, c in ALL_CASES])
def test_case(lb_and_backend, kind, case):
    port, backend = lb_and_backend
    got = outcome(kind, port, backend, case)
    want = expected(kind, case)
    assert got == want, f"{case.id} (RFC {case.rfc}): expected {want!r}, got {got!r}"
