#!/usr/bin/env python3
"""dashboard: config/grafana-vhostgw.json queries only metrics that
vhostgw-exporter serves.

Every PromQL expression of the dashboard (each panel's targets, and the
template variables' label_values queries) is parsed for the metric names it
selects: identifiers followed by a label matcher `{`, a range `[` or used
as a bare selector; not functions, aggregations, keywords, label names
(by/without/on/ignoring/group_left/group_right lists, matchers), strings,
durations or Grafana variables. The dashboard's structure is checked too:
uid and title, a prometheus `datasource` variable that every panel and
target uses, a `device` variable from label_values, each panel with
targets that have an expr, the migration phase as a state timeline.

Then a real gateway runs under vhostgw-keeper: a net xconnect a<->b and an
fs device. vufront-net receives on b; the gateway is killed once (SIGKILL)
and the keeper replays b into the next one (the keeper's restart count and
b's recovery time); vufront-net sends through a to b; vufront-fs runs its
basic scenario on fs1 and waits at its last SYNC. The exporter reads the
control socket, /metrics is scraped, and every metric the dashboard uses
must have at least one sample (the missing ones are listed).

  test_dashboard.py VHOSTGW VHOSTGW_KEEPER VUFRONT_NET VUFRONT_FS

$VGW_DASHBOARD names another dashboard file to check (default: the
source tree's config/grafana-vhostgw.json).
"""
import json
import os
import re
import sys
import time
import urllib.request

import vgwtest as t
from test_fs_ring import Front, prepare_share

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
N = 2000

# --- PromQL -----------------------------------------------------------------

# functions and aggregations (Prometheus 2.x); an identifier followed by
# "(" must be one of these
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month",
    "deg", "delta", "deriv", "exp", "floor", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_sum", "holt_winters", "hour", "idelta", "increase",
    "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
    "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear",
    "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar",
    "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time",
    "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp", "vector",
    "year",
}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                "count_values", "bottomk", "topk", "quantile"}
FUNCTIONS |= AGGREGATIONS
# keywords that are never metric names; those that take a label list
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# numbers and durations (5m, 1h30m, 1e3, 0x10)
NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?"
                    r"(?:ms|[smhdwy])?)+|\.")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# Grafana's variables: $name, ${name}, ${name:format}, [[name]]
VARIABLE = re.compile(r"\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[^\]]*\]\]")


class PromQLError(Exception):
    pass


def skip_group(s, i, open_, close):
    """s[i] is open_: the index after its matching close."""
    depth = 0
    while i < len(s):
        if s[i] == open_:
            depth += 1
        elif s[i] == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLError(f"unbalanced {open_!r}")


def metric_names(expr):
    """The metric names a PromQL expression selects, and the functions it
    calls: (set, set). PromQLError for what it cannot read."""
    s = STRING.sub('""', expr)
    s = VARIABLE.sub("1", s)
    stack = []
    for c in s:
        if c in "([{":
            stack.append(")]}"["([{".index(c)])
        elif c in ")]}" and (not stack or stack.pop() != c):
            raise PromQLError(f"unbalanced {c!r}: {expr}")
    if stack:
        raise PromQLError(f"{stack[-1]!r} missing: {expr}")
    metrics, funcs = set(), set()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "{":
            # a matcher without a name before it: {__name__="..."} is not
            # followed here (the strings are gone): refuse it
            if re.search(r"__name__", s[i:skip_group(s, i, "{", "}")]):
                raise PromQLError(f"a __name__ matcher: {expr}")
            i = skip_group(s, i, "{", "}")
            continue
        if c == "[":
            i = skip_group(s, i, "[", "]")  # a range or subquery: durations
            continue
        if c.isdigit() or (c == "." and i + 1 < len(s) and s[i + 1].isdigit()):
            i = NUMBER.match(s, i).end()
            continue
        m = IDENT.match(s, i)
        if m is None:
            i += 1
            continue
        name, i = m.group(0), m.end()
        j = i
        while j < len(s) and s[j].isspace():
            j += 1
        nxt = s[j] if j < len(s) else ""
        low = name.lower()
        if low in LABEL_LISTS:
            # by (a, b): label names, not metrics (group_left may have none)
            if nxt == "(":
                i = skip_group(s, j, "(", ")")
            continue
        if low in KEYWORDS:
            continue
        after = IDENT.match(s, j)
        if name in AGGREGATIONS and after and after.group(0).lower() in ("by", "without"):
            funcs.add(name)  # sum by (x) (...)
            continue
        if nxt == "(":
            if name not in FUNCTIONS:
                raise PromQLError(f"{name}(: not a PromQL function, in {expr}")
            funcs.add(name)
            continue
        metrics.add(name)
    return metrics, funcs


def self_test():
    """The parser on expressions whose answers are known."""
    cases = [
        ('sum by (device, queue) (rate(a_total{device=~"$device",q="x{y}"}[$__rate_interval]))',
         {"a_total"}),
        ("b / on (device) group_left (phase) c offset 5m", {"b", "c"}),
        ("sum without (lcore) (irate(d[5m])) > bool 0.5 and e unless f", {"d", "e", "f"}),
        ('max(g{x="sum(h)"}) * 1e3 + 0x10', {"g"}),
        ("histogram_quantile(0.9, sum by (le) (rate(i_bucket[1m:30s])))", {"i_bucket"}),
        ("rate(k[${__range}]) or vector(0)", {"k"}),
        ("sum by(instance)(l) / ignoring(queue) m", {"l", "m"}),
    ]
    for expr, want in cases:
        got, _ = metric_names(expr)
        t.check(got == want, f"PromQL parser: {expr!r}: {sorted(got)}, expected {sorted(want)}")
    for bad in ("rat(x[5m])", "sum(x", '{__name__="x"}'):
        try:
            metric_names(bad)
        except PromQLError:
            continue
        raise t.TestFailure(f"PromQL parser took {bad!r}")


def label_values_metric(query):
    """label_values(METRIC{...}, LABEL) -> (metric names, label)."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*", query)
    t.check(m is not None, f"variable query {query!r} is not label_values(METRIC, LABEL)")
    names, _ = metric_names(m.group(1))
    return names, m.group(2)


# --- the dashboard ----------------------------------------------------------

def uses_variable(ds):
    return isinstance(ds, dict) and ds.get("uid") in ("${datasource}", "$datasource")


def check_dashboard(path):
    """Structure checks; {metric: [where used]}."""
    with open(path) as f:
        try:
            d = json.load(f)
        except ValueError as e:
            raise t.TestFailure(f"{path}: not JSON: {e}") from None
    t.check(isinstance(d.get("uid"), str) and d["uid"] and isinstance(d.get("title"), str)
            and d["title"], f"{path}: uid {d.get('uid')!r}, title {d.get('title')!r}")
    t.check(isinstance(d.get("schemaVersion"), int) and d["schemaVersion"] >= 30,
            f"schemaVersion {d.get('schemaVersion')}")
    t.check(d.get("id") is None, f"id {d.get('id')!r}: an importable dashboard has none")
    used = {}
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    t.check(ds is not None and ds.get("type") == "datasource" and
            ds.get("query") == "prometheus",
            f"no datasource variable of type prometheus: {ds}")
    dev = variables.get("device")
    t.check(dev is not None and dev.get("type") == "query", f"no device query variable: {dev}")
    for name, v in variables.items():
        if v.get("type") != "query":
            continue
        t.check(uses_variable(v.get("datasource")),
                f"variable {name}: datasource {v.get('datasource')}, not ${{datasource}}")
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        names, label = label_values_metric(q)
        t.check(v.get("definition") in (None, q), f"variable {name}: definition "
                f"{v.get('definition')!r} differs from its query {q!r}")
        if name == "device":
            t.check(label == "device", f"device variable: label_values of {label!r}")
        for n in names:
            used.setdefault(n, []).append(f"variable {name}")

    panels = d.get("panels")
    t.check(isinstance(panels, list) and panels, "no panels")
    ids, kinds = set(), {}
    for p in panels:
        kind, title, pid = p.get("type"), p.get("title"), p.get("id")
        t.check(isinstance(pid, int) and pid not in ids, f"panel {title!r}: id {pid!r}")
        ids.add(pid)
        g = p.get("gridPos", {})
        t.check(all(isinstance(g.get(k), int) for k in "hwxy") and g["x"] + g["w"] <= 24,
                f"panel {title!r}: gridPos {g}")
        t.check(isinstance(title, str) and title, f"panel {pid}: no title")
        if kind == "row":
            t.check(not p.get("targets"), f"row {title!r} has targets")
            continue
        kinds.setdefault(kind, []).append(title)
        t.check(uses_variable(p.get("datasource")),
                f"panel {title!r}: datasource {p.get('datasource')}, not ${{datasource}}")
        targets = p.get("targets")
        t.check(isinstance(targets, list) and targets, f"panel {title!r}: no targets")
        refs = [x.get("refId") for x in targets]
        t.check(len(set(refs)) == len(refs) and all(refs), f"panel {title!r}: refIds {refs}")
        t.check(p.get("description"), f"panel {title!r}: no description")
        for x in targets:
            expr = x.get("expr")
            t.check(isinstance(expr, str) and expr.strip(),
                    f"panel {title!r} target {x.get('refId')}: no expr")
            t.check(uses_variable(x.get("datasource")),
                    f"panel {title!r} target {x.get('refId')}: datasource "
                    f"{x.get('datasource')}, not ${{datasource}}")
            try:
                names, _ = metric_names(expr)
            except PromQLError as e:
                raise t.TestFailure(f"panel {title!r}: {e}") from None
            t.check(names, f"panel {title!r}: {expr!r} selects no metric")
            for n in names:
                used.setdefault(n, []).append(title)
    # the phase over time
    phase_panels = [p for p in panels if p.get("type") == "state-timeline"]
    t.check(any("vhostgw_device_phase_code" in x.get("expr", "")
                for p in phase_panels for x in p["targets"]),
            "no state-timeline panel on vhostgw_device_phase_code")
    t.log(f"dashboard {d['uid']!r} ({d['title']}): {len(panels)} panels "
          f"({', '.join(f'{len(v)} {k}' for k, v in sorted(kinds.items()))}), "
          f"{len(used)} metrics: {' '.join(sorted(used))}")
    return used


# --- the exposition ---------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """{name: [(labels, value)]}, {name: type}."""
    samples, types = {}, {}
    for x in text.splitlines():
        if x.startswith("# TYPE "):
            _, _, name, kind = x.split(" ", 3)
            types[name] = kind
        elif x and not x.startswith("#"):
            m = SAMPLE.match(x)
            t.check(m is not None, f"bad sample line {x!r}")
            labels = dict(LABEL.findall(m.group(2) or ""))
            samples.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return samples, types


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        t.check(r.status == 200, f"GET /metrics: {r.status}")
        return r.read().decode()


def main():
    binary, keeper, vnet, vfs = sys.argv[1:5]
    vnet, vfs = os.path.abspath(vnet), os.path.abspath(vfs)
    self_test()
    dashboard = os.environ.get("VGW_DASHBOARD") or os.path.join(SRC, "config",
                                                                 "grafana-vhostgw.json")
    used = check_dashboard(dashboard)

    wd = t.workdir("dashboard")
    share = os.path.join(wd, "share")
    os.makedirs(share)
    prepare_share(share)
    sock = {n: os.path.join(wd, f"{n}.sock") for n in ("a", "b", "fs1")}
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "a", "type": "net", "socket": sock["a"]},
                       {"name": "b", "type": "net", "socket": sock["b"]},
                       {"name": "fs1", "type": "fs", "socket": sock["fs1"],
                        "shared_dir": share, "tag": "myfs", "queues": 1}],
           "links": [{"xconnect": ["a", "b"]}]}
    kp = t.Keeper(keeper, binary, wd, cfg, keeper_args=["--no-standby"]).start()

    # b's front-end waits for frames; the gateway is killed and the keeper
    # replays b into the next one
    common = ["--timeout-ms", "60000", "--size", "60-1514", "--seed", "3"]
    rb = t.VufrontNet(vnet, wd, "recv-b", ["--socket", sock["b"], "--recv", str(N),
                                            "--verify"] + common)
    rb.wait_ready()
    t.wait_for("b running", lambda: kp.device("b")["phase"] == "running", 30)
    n_b = len(kp.replays("b"))
    pid = kp.kill_gateway()
    t.wait_for(f"gateway {pid} replaced and b replayed",
               lambda: len(kp.gateway_pids()) >= 2 and len(kp.replays("b")) > n_b, 30)
    t.wait_for("b resumed", lambda: kp.device("b")["phase"] == "resumed", 10)
    st = kp.stats("b")
    t.check(st.get("recoveries") == 1 and isinstance(st.get("last_recovery_ms"), int),
            f"b after the replay: {st}")
    t.log(f"gateway {pid} killed; b replayed, {st['last_recovery_ms']} ms after the crash")

    sa = t.VufrontNet(vnet, wd, "send-a", ["--socket", sock["a"], "--send", str(N),
                                           "--rate", "5000"] + common)
    sa.wait_ready()
    out_b, _ = rb.finish(), sa.finish()
    t.check(rb.field(out_b, "received") == N, f"b received {rb.field(out_b, 'received')}")

    fe = Front(vfs, sock["fs1"], "basic", wd)
    exporter = t.Proc("exporter", [sys.executable, os.path.join(SRC, "usertools",
                                                                "vhostgw-exporter"),
                                   "-s", kp.ctl_path, "--listen", "127.0.0.1:0"], wd)
    try:
        fe.sync("done")
        t.check(exporter.wait_output(r"serving http://127\.0\.0\.1:\d+/metrics", 20),
                f"exporter did not start:\n{exporter.output()}")
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/metrics", exporter.output()).group(1))
        body = scrape(port)
        fe.go()
        fe.finish()
    finally:
        fe.kill()
        exporter.stop()
    with open(os.path.join(wd, "metrics.txt"), "w") as f:
        f.write(body)
    samples, types = parse_exposition(body)

    missing = sorted(n for n in used if not samples.get(n))
    t.check(not missing, "the dashboard queries metrics the exporter did not serve: " +
            "; ".join(f"{n} (in {', '.join(sorted(set(used[n])))})" for n in missing))
    untyped = sorted(n for n in used if n not in types)
    t.check(not untyped, f"no TYPE line for {untyped}")

    # what the panels will show: every device, every queue, the recovery
    def values(name, **labels):
        return [v for lab, v in samples.get(name, [])
                if all(lab.get(k) == str(x) for k, x in labels.items())]
    t.check(values("vhostgw_up") == [1], "vhostgw_up")
    for dev in ("a", "b", "fs1"):
        t.check(len(values("vhostgw_device_phase_code", device=dev)) == 1,
                f"no phase code for {dev}")
        t.check(values("vhostgw_rx_packets_total", device=dev, queue=0),
                f"no queue 0 series for {dev}")
    t.check(values("vhostgw_rx_packets_total", device="a", queue=0)[0] >= N and
            values("vhostgw_tx_packets_total", device="b", queue=0)[0] >= N,
            "a's and b's counters did not count the frames")
    t.check(values("vhostgw_requests_total", device="fs1", queue=0)[0] > 0,
            "fs1 counted no requests")
    t.check(values("vhostgw_keeper_restarts_total") == [1], "keeper restarts")
    rec = values("vhostgw_device_last_recovery_seconds", device="b")
    t.check(rec == [st["last_recovery_ms"] / 1000], f"b's recovery time: {rec}")
    t.log(f"scrape: all {len(used)} metrics of the dashboard served; "
          f"{sum(len(v) for v in samples.values())} samples")
    kp.stop()


if __name__ == "__main__":
    t.run(main)
