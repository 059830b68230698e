"""tools/layers, the check that keeps lb's layers in order (CI runs it here
and at the start of `tools/dev test`): the tree passes, and a copy with one
deliberately upward include fails, naming the file and line."""

import os
import shutil
import subprocess

import lbtest

LAYERS = os.path.join(lbtest.REPO, "tools", "layers")


def run_layers(root):
    return subprocess.run([LAYERS, root], capture_output=True, text=True, timeout=60)


def copy_sources(destination):
    for top in ("lb", "conf", "tls", "health", "listeners"):
        shutil.copytree(os.path.join(lbtest.REPO, top), os.path.join(destination, top),
                        ignore=shutil.ignore_patterns("examples"))


def test_the_tree_keeps_its_layers():
    result = run_layers(lbtest.REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_include_is_refused(tmp_path):
    copy_sources(str(tmp_path))
    victim = tmp_path / "lb" / "io" / "tcp_stream.cpp"
    lines = victim.read_text().splitlines(keepends=True)
    victim.write_text(lines[0] + '#include "listeners/http_session.h"\n' + "".join(lines[1:]))
    result = run_layers(str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ("lb/io/tcp_stream.cpp:2: lb/io includes listeners/http_session.h "
                             "from the higher layer listeners\n")


def test_a_folder_outside_the_layers_is_refused(tmp_path):
    copy_sources(str(tmp_path))
    (tmp_path / "lb" / "misc").mkdir()
    (tmp_path / "lb" / "misc" / "thing.h").write_text("#pragma once\n")
    result = run_layers(str(tmp_path))
    assert result.returncode == 1
    assert "lb/misc/thing.h: folder lb/misc is in no layer" in result.stdout
