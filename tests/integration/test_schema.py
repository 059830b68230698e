"""conf/lb.schema.json, the JSON Schema editors check lb's YAML with (README
"Editor support"), against the loader, which stays the authority:

- the examples, and the configs under tests/ the loader accepts, pass the
  schema (and `lb -t`);
- every config the loader's unit tests load (conf_test writes them out with
  the loader's verdict, see tests/unit/conf/test_support.h) gets the same
  verdict from the schema: an accepted one passes, a refused one fails at
  the key path the loader's message names. Refusals no schema can express
  are listed below with the reason; the list must stay exact;
- every key of the schema is a key the loader knows (`lb -t` on full.yaml
  with the key added). The other direction, every key the loader knows is
  in the schema, is tests/unit/conf/schema_keys_test.cpp.

The YAML is read as YAML 1.2 (core schema), as yaml-language-server reads
it: `yes` and `off` are strings there, and lb reads them as the loader does.
"""

import copy
import glob
import json
import os
import re
import shutil
import subprocess

import jsonschema
import pytest
import yaml

import lbtest

SCHEMA_PATH = os.path.join(lbtest.REPO, "conf", "lb.schema.json")
EXAMPLES = sorted(glob.glob(os.path.join(lbtest.REPO, "conf", "examples", "*.yaml")))
TEST_CONFIGS = sorted(glob.glob(os.path.join(lbtest.REPO, "tests", "**", "*.yaml"), recursive=True))
MODELINE = "# yaml-language-server: $schema=../lb.schema.json"

# Loader errors the schema does not catch, as regular expressions over the
# message without its "file:line:col: ", by the reason no schema says them.
# JSON Schema checks one value at a time against its place; these need the
# YAML text, other values, other objects, the file system or lb's policy.
PATH = r"[^:]+"
NOT_IN_SCHEMA_BY_REASON = {
    "YAML's own: a parser keeps one of two equal keys (yaml-language-server flags the repeat itself)": [
        PATH + r": duplicate key '[^']+' \(first at line \d+\)"],
    "a duration is a pattern in the schema: its range, and overflow past 3650d, are the loader's": [
        PATH + r": must be between \d+[smhd] and \d+[smhd]",
        PATH + r": invalid duration '\d{12,}d': use a number with ms, s, m, h or d"],
    "a reference to another object: the target group must exist and fit the listener's protocol": [
        PATH + r": unknown target group '[^']+'( \(did you mean '[^']+'\?\))?",
        PATH + r": \w+ listener '[^']+' cannot forward to \w+ target group '[^']+'"],
    "unique across a list or the whole file (JSON Schema's uniqueItems compares whole items, and names no item)": [
        PATH + r": priority \d+ is already used by the rule at line \d+",
        PATH + r": (listener|target group) '[^']+' is already defined at line \d+",
        PATH + r": duplicate target \S+ \(first at line \d+\)",
        PATH + r": \S+ (is already used by|overlaps \S+ of) listener '[^']+' \(line \d+\)",
        PATH + r": \S+ overlaps the admin address \S+",
        PATH + r": (target group '[^']+'|status \d+) is listed twice",
        PATH + r": cookie name '[^']+' is target group '[^']+''s application cookie .*"],
    "a relation between two values": [
        PATH + r": at least one target group needs a weight above 0",
        PATH + r": redirect to the same URL would loop; .*",
        PATH + r": a non-loopback admin address needs token_file",
        PATH + r": must be less than interval \(\w+\)",
        PATH + r": must not be less than min_ttl \(\w+\)",
        PATH + r": must be at least stream_window \(\d+ bytes\)",
        PATH + r": trust: trusted_proxies needs the listener's trusted_proxies"],
    "the file system at load time": [
        PATH + r": cannot read '[^']+': .*",
        PATH + r": '[^']+' is a directory, not a file"],
    "lb's policy on names it owns, kept in one place (conf/header_template.cpp, conf/loader_target_groups.cpp)": [
        PATH + r": '[^']+' is framing or hop-by-hop: lb writes it itself",
        PATH + r": '[^']+' carries the client's identity as lb established it",
        PATH + r": Host can be set, not removed or added",
        PATH + r": Host must not be empty",
        PATH + r": '[^']+' means something else to clients or targets: it cannot carry the request id",
        PATH + r": cookie name '[^']+' is reserved for lb's own cookies \(LBTG, LBAPP-\*\)"],
    "what an address means, not how it is written (lb/base/net_address.cpp)": [
        PATH + r": (the unspecified|the broadcast|a multicast) address cannot be a target"],
}
NOT_IN_SCHEMA = {pattern: reason for reason, patterns in NOT_IN_SCHEMA_BY_REASON.items() for pattern in patterns}


# ---------------------------------------------------------------- YAML 1.2

class Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1 (`on` is true, `1:30` is 90, `<<` merges);
    editors and this schema use the 1.2 core schema: only these resolve."""


Yaml12Loader.yaml_implicit_resolvers = {}
for tag, pattern, first in (
        ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
        ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                  r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
        ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])):
    Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:" + tag, re.compile(pattern), list(first))


def construct_int(loader, node):
    text = loader.construct_scalar(node)
    return int(text, 16) if text.startswith("0x") else int(text[2:], 8) if text.startswith("0o") else int(text)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", construct_int)


def parse(text):
    """The one document of `text`; ValueError if YAML itself refuses it."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=Yaml12Loader) if d is not None]
    except yaml.YAMLError as e:
        raise ValueError(str(e)) from e
    if len(documents) > 1:
        raise ValueError("more than one document")
    return documents[0] if documents else None


# ---------------------------------------------------------------- paths

def key_text(key):
    """A key as YAML wrote it, near enough (true, 12)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return "" if key is None else str(key)


def path_text(path):
    """A JSON path as the loader writes key paths: listeners[0].tls.certificates[1]."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + key_text(part)
    return out


def node_paths(node, path=()):
    """The key path of every node of a document (keys included)."""
    yield path_text(path)
    if isinstance(node, dict):
        for key, value in node.items():
            yield from node_paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from node_paths(value, path + (index,))


POSITION = re.compile(r"^[^:]*:\d+:\d+: ")


def without_position(message):
    return POSITION.sub("", message, count=1)


def loader_path(message, document):
    """The key path a loader message names: the longest path of a node of
    the document that it starts with ("" when it names none: the root)."""
    text = without_position(message)
    named = [p for p in set(node_paths(document)) if p and text.startswith(p + ": ")]
    return max(named, key=len, default="")


def all_errors(errors):
    for error in errors:
        yield error
        yield from all_errors(error.context or ())


def schema_paths(error):
    """Where a schema error puts the fault, as loader key paths. A key that
    is not allowed (additionalProperties) or badly named (propertyNames) is
    blamed on its mapping by JSON Schema and on the key by the loader."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        return {path_text(path + [k]) for k in error.instance if k not in known}
    if "propertyNames" in error.absolute_schema_path:
        return {path_text(path + [error.instance])}
    return {path_text(path)}


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def validator(schema):
    return jsonschema.Draft7Validator(schema)


class Case:
    def __init__(self, name, test, text, result):
        self.name, self.test, self.text, self.result = name, test, text, result

    def __repr__(self):
        return f"{self.name} ({self.test}): {self.result}"


@pytest.fixture(scope="module")
def loader_cases(tmp_path_factory):
    """Every config conf_test loads, with the loader's verdict."""
    binary = os.environ.get("LB_CONF_TEST") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(lbtest.lb_binary()))), "tests", "unit", "conf", "conf_test")
    assert os.path.exists(binary), f"{binary} is missing: build the unit tests (ninja -C build)"
    directory = tmp_path_factory.mktemp("conf_cases")
    # Not SchemaKeys: that is the schema's own test, and it may fail alone.
    result = subprocess.run([binary, "--gtest_filter=-SchemaKeys.*"],
                            env=dict(os.environ, LB_CONF_TEST_CASES=str(directory)),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "conf_test failed; its cases are no reference:\n" + result.stdout[-5000:]
    cases = []
    for result_path in sorted(glob.glob(str(directory / "*.result"))):
        base = result_path[:-len(".result")]
        with open(result_path, encoding="utf-8", errors="surrogateescape") as f:
            test, _, verdict = f.read().partition("\n")
        with open(base + ".yaml", encoding="utf-8", errors="surrogateescape") as f:
            cases.append(Case(os.path.basename(base), test, f.read(), verdict))
    assert len(cases) > 300, f"only {len(cases)} cases recorded"
    return cases


def write_files_for(config_path):
    """Makes the files a config names by relative path (certificates with
    their keys, CA, token, secret) beside it, so `lb -t` can read them."""
    directory = os.path.dirname(config_path)
    with open(config_path) as f:
        config = parse(f.read()) or {}

    def place(relative, make):
        if not isinstance(relative, str) or os.path.isabs(relative):
            return
        path = os.path.join(directory, relative)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            make(path)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    def key(path):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)

    def cert(key_path, name):
        def make(path):
            openssl("req", "-x509", "-new", "-key", key_path, "-out", path, "-days", "30", "-subj", "/CN=" + name)
        return make

    def ca(path):
        key(path + ".key")
        cert(path + ".key", "ca")(path)

    def text(content):
        def write(path):
            with open(path, "wb") as out:
                out.write(content)
        return write

    settings = config.get("global") or {}
    place(settings.get("sticky_secret_file"), text(os.urandom(32)))
    place((settings.get("admin") or {}).get("token_file"), text(b"token-for-lb-t\n"))
    for listener in config.get("listeners") or []:
        for pair in ((listener.get("tls") or {}).get("certificates") or []):
            place(pair["key"], key)
            place(pair["cert"], cert(os.path.join(directory, pair["key"]), "lb.test"))
    for group in config.get("target_groups") or []:
        place((group.get("tls") or {}).get("ca_file"), ca)


def lb_check(path):
    result = lbtest.run_lb("-t", "-c", path)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def full_example(tmp_path_factory):
    """conf/examples/full.yaml in a directory with the files it names."""
    path = str(tmp_path_factory.mktemp("full") / "full.yaml")
    shutil.copy(os.path.join(lbtest.REPO, "conf", "examples", "full.yaml"), path)
    write_files_for(path)
    status, output = lb_check(path)
    assert status == 0, output
    return path


# ---------------------------------------------------------------- the schema itself

def test_schema_is_a_valid_draft_07_schema(schema):
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


def test_patterns_are_ecmascript_regular_expressions(schema):
    """Editors run `pattern` as an ECMAScript regex with the u flag, which
    refuses escapes Python's re takes (\\-, \\d in classes...)."""
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed (tools/dev installs nodejs)")
    script = ("const s = JSON.parse(require('fs').readFileSync(0, 'utf8')); const bad = [];"
              "(function walk(x) { if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) {"
              "  if (k === 'pattern') { try { new RegExp(v, 'u'); } catch (e) { bad.push(v + ': ' + e.message); } }"
              "  walk(v); } })(s); console.log(bad.join('\\n'));")
    result = subprocess.run([node, "-e", script], input=json.dumps(schema), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


# ---------------------------------------------------------------- configs that load

def test_examples_name_the_schema_in_their_first_line():
    for path in EXAMPLES:
        with open(path) as f:
            assert f.readline().rstrip("\n") == MODELINE, path
        assert os.path.exists(os.path.join(os.path.dirname(path), "../lb.schema.json"))


def config_case(path, tmp_path):
    """A config file as a Case, with the verdict of `lb -t` on a copy of it
    that has the files it names beside it."""
    with open(path) as f:
        text = f.read()
    copy_path = str(tmp_path / os.path.basename(path))
    with open(copy_path, "w") as f:
        f.write(text)
    try:
        write_files_for(copy_path)
    except (ValueError, AttributeError, TypeError):
        pass  # not a config lb can read; lb -t says why
    status, output = lb_check(copy_path)
    return Case(os.path.relpath(path, lbtest.REPO), "lb -t", text, "ok" if status == 0 else output.splitlines()[0])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: os.path.relpath(p, lbtest.REPO))
def test_example_passes_lb_t_and_the_schema(path, validator, tmp_path):
    case = config_case(path, tmp_path)
    assert case.result == "ok"
    assert accepted_mismatches([case], validator) == []


@pytest.mark.parametrize("path", TEST_CONFIGS, ids=lambda p: os.path.relpath(p, lbtest.REPO))
def test_config_under_tests_gets_the_loaders_verdict_from_the_schema(path, validator, tmp_path):
    """The YAML configs under tests/ (the fuzz seeds): the ones lb -t accepts
    pass the schema, the others fail it as the loader's unit cases must."""
    case = config_case(path, tmp_path)
    if case.result == "ok":
        assert accepted_mismatches([case], validator) == []
    else:
        assert refusal_mismatch(case, validator) is None


def accepted_mismatches(cases, validator):
    """Configs the loader accepted that the schema refuses."""
    out = []
    for case in cases:
        if case.result != "ok":
            continue
        try:
            document = parse(case.text)
        except ValueError as e:
            out.append(f"{case.name} ({case.test}): the loader accepts it, YAML 1.2 does not: {e}")
            continue
        errors = [f"{path_text(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        if errors:
            out.append(f"{case.name} ({case.test}): the loader accepts it, the schema says {errors[0]}")
    return out


def test_every_config_the_loader_tests_accept_passes_the_schema(loader_cases, validator):
    assert accepted_mismatches(loader_cases, validator) == []


# ---------------------------------------------------------------- configs that do not

def not_in_schema(case):
    """The NOT_IN_SCHEMA patterns a refusal matches."""
    return [p for p in NOT_IN_SCHEMA if re.fullmatch(p, without_position(case.result))]


def refusal_mismatch(case, validator):
    """None when the schema refuses the config at the key path the loader
    names, or the loader's error is in NOT_IN_SCHEMA (and the schema does
    not catch it after all); else what is wrong."""
    try:
        document = parse(case.text)
    except ValueError:
        return None  # YAML itself refuses it: no schema ever sees it
    where = loader_path(case.result, document)
    found = set()
    for error in all_errors(validator.iter_errors(document)):
        found |= schema_paths(error)
    listed = not_in_schema(case)
    if where in found and listed:
        return (f"{case.name} ({case.test}): the schema now catches '{case.result}': "
                f"take {listed[0]!r} off NOT_IN_SCHEMA")
    if where not in found and not listed:
        return (f"{case.name} ({case.test}): the loader says '{case.result}'; the schema "
                + (f"errs at {sorted(found)}" if found else "accepts it"))
    return None


def refused_mismatches(cases, validator):
    """refusal_mismatch of each refused case, and the NOT_IN_SCHEMA entries
    no refused case needs any more."""
    refused = [case for case in cases if case.result != "ok"]
    out = [m for m in (refusal_mismatch(case, validator) for case in refused) if m]
    used = {pattern for case in refused for pattern in not_in_schema(case)}
    return out + [f"NOT_IN_SCHEMA entry {p!r} matches no refused config" for p in NOT_IN_SCHEMA if p not in used]


def test_every_config_the_loader_tests_refuse_fails_the_schema_at_the_same_key(loader_cases, validator):
    assert refused_mismatches(loader_cases, validator) == []


# ---------------------------------------------------------------- keys

ITEMS = "[]"


def schema_places(schema):
    """(place, object schema) for each object schema with properties, as
    tests/unit/conf/schema_keys_test.cpp walks them; a place is a tuple of
    keys and ITEMS."""
    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            node = schema["definitions"][node["$ref"].split("/")[-1]]
        return node

    def walk(node, place):
        node = resolve(node)
        if not isinstance(node, dict):
            return
        if "properties" in node:
            yield place, node
            for key, value in node["properties"].items():
                yield from walk(value, place + (key,))
        if "items" in node:
            yield from walk(node["items"], place + (ITEMS,))
        for branch in node.get("anyOf", []) + node.get("oneOf", []):
            yield from walk(branch, place)

    return list(walk(schema, ()))


def instances(node, place):
    """The mappings of a document at `place`."""
    if not place:
        return [node] if isinstance(node, dict) else []
    head, rest = place[0], place[1:]
    if head == ITEMS:
        return [m for item in (node if isinstance(node, list) else []) for m in instances(item, rest)]
    return instances(node.get(head), rest) if isinstance(node, dict) else []


def place_text(place):
    return "".join(p if p == ITEMS else ("." if i else "") + p for i, p in enumerate(place)) or "(root)"


def unknown_schema_keys(schema, full_example):
    """Keys of the schema the loader calls unknown. One object schema (a
    definition) describes several places, read by the same loader code:
    each of its keys full.yaml does not write at any of them is added at
    the first of them full.yaml has, and `lb -t` runs on that."""
    with open(full_example) as f:
        full = parse(f.read())
    objects = {}
    for place, node in schema_places(schema):
        objects.setdefault(id(node), (node, []))[1].append(place)
    out = []
    for node, places in objects.values():
        found = [(place, mapping) for place in places for mapping in instances(full, place)]
        if not found:
            out.append(f"full.yaml has no {place_text(places[0])}")
            continue
        for key, property in node["properties"].items():
            if any(key in mapping for _, mapping in found):
                continue  # full.yaml writes it, and lb -t accepts full.yaml
            variant = copy.deepcopy(full)
            place = found[0][0]
            value = property.get("default", "x") if isinstance(property, dict) else "x"
            instances(variant, place)[0][key] = value
            path = os.path.join(os.path.dirname(full_example), "variant.yaml")
            with open(path, "w") as f:
                yaml.safe_dump(variant, f, sort_keys=False)
            status, output = lb_check(path)
            if f"unknown key '{key}'" in output:
                out.append(f"{place_text(place + (key,))}: in the schema, unknown to the loader: {output.strip()}")
    return out


def test_every_key_of_the_schema_is_a_key_of_the_loader(schema, full_example):
    assert unknown_schema_keys(schema, full_example) == []


# ---------------------------------------------------------------- the checks can fail

def test_a_broken_schema_is_caught(schema, loader_cases, full_example):
    """A key removed from the schema (global.zone) and a bogus one added
    (targets' bogus_key) are each reported by the checks above."""
    broken = copy.deepcopy(schema)
    broken["definitions"]["global"]["properties"].pop("zone", None)
    broken["definitions"]["target"]["properties"]["bogus_key"] = {"type": "string", "default": "x"}
    validator = jsonschema.Draft7Validator(broken)
    accepted = accepted_mismatches(loader_cases, validator)
    assert accepted and all("global: Additional properties are not allowed ('zone' was unexpected)" in m
                            for m in accepted), accepted
    unknown = unknown_schema_keys(broken, full_example)
    assert len(unknown) == 1 and "unknown key 'bogus_key'" in unknown[0], unknown
    assert unknown[0].startswith("target_groups[].targets[].bogus_key: in the schema, unknown to the loader"), unknown
