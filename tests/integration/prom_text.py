"""A strict reader of the Prometheus text exposition format 0.0.4, for tests.

parse_exposition(text) checks the rules promtool's `check metrics` and the
Prometheus text parser care about, raising AssertionError("line N: ...") on
the first violation, and returns {series: value} where series is
`name{label="value",...}` with labels sorted by name (just `name` when there
are none) and value a float.

Checked:
  * metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
    [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__";
  * every family has one HELP and one TYPE, both before its first sample,
    and its lines are contiguous (no family reappears after another);
  * counter families are named *_total and their samples carry that name
    and a non-negative value; gauge samples carry the family name;
  * histogram samples are <name>_bucket (with le), <name>_sum, <name>_count;
    per label set the buckets are written in ascending le, are cumulative
    (non-decreasing), end with le="+Inf", and +Inf equals _count;
  * no series (name plus label set) appears twice.

Only the standard library; Debian's /usr/bin/python3 is enough.
"""

import math
import re

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
NUMBER = re.compile(r"[+-]?(Inf|NaN|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _fail(lineno, msg):
    raise AssertionError("line %d: %s" % (lineno, msg))


def _number(text, lineno, what):
    if not NUMBER.match(text):
        _fail(lineno, "%s %r is not a valid float" % (what, text))
    return float(text)


def _unescape_help(text):
    return text.replace("\\\\", "\0").replace("\\n", "\n").replace("\0", "\\")


def _escape_label_value(value):
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def series_key(name, labels):
    """`name{a="x",b="y"}` with labels sorted by name; `name` without labels."""
    if not labels:
        return name
    return name + "{" + ",".join('%s="%s"' % (k, _escape_label_value(labels[k]))
                                 for k in sorted(labels)) + "}"


def _parse_labels(text, pos, lineno):
    """Parses `{...}` starting at text[pos] == '{'. Returns (labels, end)."""
    labels = {}
    i = pos + 1
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        m = re.compile(r"[^=\s{}\",]*").match(text, i)
        name = m.group(0)
        if not LABEL_NAME.match(name):
            _fail(lineno, "invalid label name %r" % name)
        if name.startswith("__"):
            _fail(lineno, "label name %r is reserved (starts with __)" % name)
        if name in labels:
            _fail(lineno, "label %r given twice" % name)
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i >= len(text) or text[i] != "=":
            _fail(lineno, "expected '=' after label name %r" % name)
        i += 1
        while i < len(text) and text[i] in " \t":
            i += 1
        if i >= len(text) or text[i] != '"':
            _fail(lineno, "label value of %r must be double-quoted" % name)
        i += 1
        value = []
        while True:
            if i >= len(text):
                _fail(lineno, "unterminated label value for %r" % name)
            c = text[i]
            if c == "\\":
                if i + 1 >= len(text) or text[i + 1] not in '\\"n':
                    _fail(lineno, "invalid escape in label value of %r" % name)
                value.append("\n" if text[i + 1] == "n" else text[i + 1])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        labels[name] = "".join(value)
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ",":
            i += 1
        elif i < len(text) and text[i] == "}":
            return labels, i + 1
        else:
            _fail(lineno, "expected ',' or '}' after label %r" % name)


def _parse_sample(line, lineno):
    m = re.compile(r"[^{\s]*").match(line)
    name = m.group(0)
    if not METRIC_NAME.match(name):
        _fail(lineno, "invalid metric name %r" % name)
    labels, i = {}, m.end()
    if i < len(line) and line[i] == "{":
        labels, i = _parse_labels(line, i, lineno)
    rest = line[i:].split()
    if not rest or len(rest) > 2 or (i < len(line) and line[i] not in " \t"):
        _fail(lineno, "expected `name{labels} value [timestamp]`, got %r" % line)
    value = _number(rest[0], lineno, "value")
    if len(rest) == 2 and not re.match(r"-?\d+\Z", rest[1]):
        _fail(lineno, "timestamp %r is not an integer" % rest[1])
    return name, labels, value


class _Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.has_samples = False
        # histogram: label-set key (without le) -> state
        self.hist = {}


def _family_of(families, name):
    """The TYPE'd family a sample name belongs to, and the sample's suffix."""
    f = families.get(name)
    if f is not None and f.type in ("counter", "gauge", "untyped", "summary"):
        return f, ""  # a summary's quantile samples carry the family name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = families.get(name[:-len(suffix)])
            if base is not None and base.type in ("histogram", "summary"):
                return base, suffix
    return None, None


def _check_histogram(f, lineno):
    for key, h in f.hist.items():
        where = "histogram %s%s" % (f.name, key)
        if not h["buckets"]:
            _fail(lineno, "%s has no _bucket samples" % where)
        if h["buckets"][-1][0] != math.inf:
            _fail(lineno, '%s does not end with le="+Inf"' % where)
        if h["count"] is None:
            _fail(lineno, "%s has no _count" % where)
        if h["sum"] is None:
            _fail(lineno, "%s has no _sum" % where)
        if h["buckets"][-1][1] != h["count"]:
            _fail(lineno, '%s: le="+Inf" bucket %r != _count %r'
                  % (where, h["buckets"][-1][1], h["count"]))


def parse_exposition(text):
    families = {}
    closed = set()
    current = None
    out = {}

    def switch_to(f, lineno):
        nonlocal current
        if current is f:
            return
        if f.name in closed:
            _fail(lineno, "family %s appears again after other families "
                          "(a family's lines must be contiguous)" % f.name)
        if current is not None:
            if current.type == "histogram":
                _check_histogram(current, lineno)
            closed.add(current.name)
        current = f

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif text:
        _fail(len(lines), "exposition must end with a newline")
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) < 2 or parts[1] not in ("HELP", "TYPE"):
                continue  # a plain comment
            if len(parts) < 3:
                _fail(lineno, "%s line without a metric name" % parts[1])
            name = parts[2]
            if not METRIC_NAME.match(name):
                _fail(lineno, "invalid metric name %r in %s" % (name, parts[1]))
            f = families.setdefault(name, _Family(name))
            switch_to(f, lineno)
            if f.has_samples:
                _fail(lineno, "%s for %s comes after its samples" % (parts[1], name))
            if parts[1] == "HELP":
                if f.help is not None:
                    _fail(lineno, "second HELP for %s" % name)
                f.help = _unescape_help(parts[3] if len(parts) > 3 else "")
            else:
                if f.type is not None:
                    _fail(lineno, "second TYPE for %s" % name)
                t = parts[3].strip() if len(parts) > 3 else ""
                if t not in TYPES:
                    _fail(lineno, "unknown TYPE %r for %s" % (t, name))
                if t == "counter" and not name.endswith("_total"):
                    _fail(lineno, "counter %s should have the _total suffix" % name)
                f.type = t
            continue

        name, labels, value = _parse_sample(line, lineno)
        f, suffix = _family_of(families, name)
        if f is None:
            _fail(lineno, "sample %s has no TYPE line before it" % name)
        if f.help is None:
            _fail(lineno, "sample %s: family %s has no HELP line before it" % (name, f.name))
        switch_to(f, lineno)
        f.has_samples = True
        key = series_key(name, labels)
        if key in out:
            _fail(lineno, "duplicate series %s" % key)
        out[key] = value

        if f.type == "counter" and (math.isnan(value) or value < 0):
            _fail(lineno, "counter %s has value %r (must be >= 0)" % (key, value))
        if f.type != "histogram":
            continue
        if suffix != "_bucket" and "le" in labels:
            _fail(lineno, "%s must not have an le label" % key)
        rest = dict(labels)
        le = rest.pop("le", None)
        h = f.hist.setdefault(series_key("", rest),
                              {"buckets": [], "count": None, "sum": None})
        if suffix == "_bucket":
            if le is None:
                _fail(lineno, "bucket %s has no le label" % key)
            bound = _number(le, lineno, "le")
            if math.isnan(bound):
                _fail(lineno, "bucket %s has le=NaN" % key)
            if h["buckets"]:
                prev_le, prev_v = h["buckets"][-1]
                if bound <= prev_le:
                    _fail(lineno, "bucket %s: le not ascending (after le=%r)" % (key, prev_le))
                if value < prev_v:
                    _fail(lineno, "bucket %s: %r < previous bucket %r (buckets are cumulative)"
                          % (key, value, prev_v))
            h["buckets"].append((bound, value))
        elif suffix == "_count":
            h["count"] = value
        elif suffix == "_sum":
            h["sum"] = value

    if current is not None and current.type == "histogram":
        _check_histogram(current, len(lines))
    for f in families.values():
        if f.type is None:
            _fail(len(lines), "family %s has HELP but no TYPE" % f.name)
        if f.help is None:
            _fail(len(lines), "family %s has TYPE but no HELP" % f.name)
    return out
