"""Self-test of prom_text.parse_exposition: it accepts valid exposition text
(including the C++ renderer's expected output from tests/proxy/metrics_test.cc)
and rejects each rule violation with an AssertionError naming the rule.

Needs no server: CTest passes `--strata PATH` like every integration test,
and it is accepted and ignored here."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from prom_text import parse_exposition  # noqa: E402

# RenderPrometheus(SmallSnapshot()) in tests/proxy/metrics_test.cc.
RENDERED = """\
# HELP strata_requests_total Requests handled, by method and result
# TYPE strata_requests_total counter
strata_requests_total{method="get",result="ok"} 1234567
strata_requests_total{method="set",result="error"} 3
# HELP strata_errors_total Requests answered with an error
# TYPE strata_errors_total counter
strata_errors_total 2
# HELP strata_l1_hits_total L1 lookups that found a live entry
# TYPE strata_l1_hits_total counter
strata_l1_hits_total 40
# HELP strata_l1_bytes Bytes held in L1
# TYPE strata_l1_bytes gauge
strata_l1_bytes 1048576
# HELP strata_load A fraction
# TYPE strata_load gauge
strata_load 0.25
# HELP strata_request_duration_seconds Request latency
# TYPE strata_request_duration_seconds histogram
strata_request_duration_seconds_bucket{method="get",le="1e-06"} 2
strata_request_duration_seconds_bucket{method="get",le="2e-06"} 3
strata_request_duration_seconds_bucket{method="get",le="5e-06"} 4
strata_request_duration_seconds_bucket{method="get",le="+Inf"} 5
strata_request_duration_seconds_sum{method="get"} 0.002007
strata_request_duration_seconds_count{method="get"} 5
"""

HIST = """\
# HELP h Latency
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="1"} 3
h_bucket{le="+Inf"} 4
h_sum 2.5
h_count 4
"""


class AcceptsValid(unittest.TestCase):
    def test_renderer_output(self):
        got = parse_exposition(RENDERED)
        self.assertEqual(got['strata_requests_total{method="get",result="ok"}'], 1234567)
        self.assertEqual(got["strata_l1_hits_total"], 40)
        self.assertEqual(got["strata_load"], 0.25)
        self.assertEqual(got['strata_request_duration_seconds_bucket{le="+Inf",method="get"}'], 5)
        self.assertEqual(got['strata_request_duration_seconds_sum{method="get"}'], 0.002007)
        self.assertEqual(len(got), 12)

    def test_labels_sorted_and_escaped_in_keys(self):
        text = ('# HELP g G\n# TYPE g gauge\n'
                'g{z="1",a="q\\"x\\\\y\\nz"} 7\n')
        got = parse_exposition(text)
        self.assertEqual(got, {'g{a="q\\"x\\\\y\\nz",z="1"}': 7.0})

    def test_histogram_and_special_values(self):
        got = parse_exposition(HIST + "# HELP g G\n# TYPE g gauge\ng NaN\ng{x=\"1\"} -Inf 123\n")
        self.assertEqual(got['h_bucket{le="1"}'], 3)
        self.assertEqual(got["h_count"], 4)
        self.assertNotEqual(got["g"], got["g"])  # NaN
        self.assertEqual(got['g{x="1"}'], float("-inf"))

    def test_plain_comments_and_blank_lines_ignored(self):
        text = "# just a comment\n\n# HELP c_total C\n# TYPE c_total counter\nc_total 1\n"
        self.assertEqual(parse_exposition(text), {"c_total": 1.0})

    def test_empty(self):
        self.assertEqual(parse_exposition(""), {})


class RejectsInvalid(unittest.TestCase):
    def reject(self, text, needle):
        with self.assertRaises(AssertionError) as cm:
            parse_exposition(text)
        self.assertIn(needle, str(cm.exception))

    def test_sample_without_type(self):
        self.reject("g 1\n", "no TYPE")

    def test_sample_without_help(self):
        self.reject("# TYPE g gauge\ng 1\n", "no HELP")

    def test_help_after_samples(self):
        self.reject("# TYPE g gauge\n# HELP g G\ng 1\n# HELP g again\n", "after its samples")
        self.reject("# TYPE g gauge\ng 1\n# HELP g G\n", "no HELP")

    def test_help_twice(self):
        self.reject("# HELP g G\n# HELP g H\n# TYPE g gauge\ng 1\n", "second HELP")

    def test_type_twice(self):
        self.reject("# HELP g G\n# TYPE g gauge\n# TYPE g gauge\ng 1\n", "second TYPE")

    def test_type_without_help_at_end(self):
        self.reject("# TYPE g gauge\n", "no HELP")

    def test_unknown_type(self):
        self.reject("# HELP g G\n# TYPE g meter\ng 1\n", "unknown TYPE")

    def test_family_not_contiguous(self):
        self.reject("# HELP a A\n# TYPE a gauge\na{x=\"1\"} 1\n"
                    "# HELP b B\n# TYPE b gauge\nb 1\n"
                    "a{x=\"2\"} 2\n", "contiguous")

    def test_counter_without_total(self):
        self.reject("# HELP c C\n# TYPE c counter\nc 1\n", "_total")

    def test_counter_sample_name_must_match(self):
        self.reject("# HELP c_total C\n# TYPE c_total counter\nc 1\n", "no TYPE")

    def test_negative_counter(self):
        self.reject("# HELP c_total C\n# TYPE c_total counter\nc_total -1\n", ">= 0")

    def test_invalid_metric_name(self):
        self.reject("# HELP 1g G\n", "invalid metric name")
        self.reject("g-x 1\n", "invalid metric name")

    def test_invalid_label_name(self):
        self.reject("# HELP g G\n# TYPE g gauge\ng{1x=\"a\"} 1\n", "invalid label name")
        self.reject("# HELP g G\n# TYPE g gauge\ng{__x=\"a\"} 1\n", "reserved")

    def test_bad_label_syntax(self):
        self.reject("# HELP g G\n# TYPE g gauge\ng{x=a} 1\n", "double-quoted")
        self.reject("# HELP g G\n# TYPE g gauge\ng{x=\"a\\t\"} 1\n", "invalid escape")
        self.reject("# HELP g G\n# TYPE g gauge\ng{x=\"a} 1\n", "unterminated")

    def test_bad_value(self):
        self.reject("# HELP g G\n# TYPE g gauge\ng 1.2.3\n", "not a valid float")
        self.reject("# HELP g G\n# TYPE g gauge\ng 1_000\n", "not a valid float")
        self.reject("# HELP g G\n# TYPE g gauge\ng\n", "expected")

    def test_duplicate_series(self):
        self.reject("# HELP g G\n# TYPE g gauge\ng{a=\"1\",b=\"2\"} 1\ng{b=\"2\",a=\"1\"} 2\n",
                    "duplicate series")

    def test_missing_final_newline(self):
        self.reject("# HELP g G\n# TYPE g gauge\ng 1", "newline")

    def test_histogram_not_cumulative(self):
        self.reject(HIST.replace('h_bucket{le="1"} 3', 'h_bucket{le="1"} 0'), "cumulative")

    def test_histogram_le_not_ascending(self):
        self.reject(HIST.replace('le="1"', 'le="0.05"'), "ascending")

    def test_histogram_without_inf(self):
        self.reject(HIST.replace('h_bucket{le="+Inf"} 4\n', ""), "+Inf")

    def test_histogram_inf_not_count(self):
        self.reject(HIST.replace("h_count 4", "h_count 5"), "!= _count")

    def test_histogram_missing_count_or_sum(self):
        self.reject(HIST.replace("h_count 4\n", ""), "no _count")
        self.reject(HIST.replace("h_sum 2.5\n", ""), "no _sum")

    def test_histogram_bucket_without_le(self):
        self.reject(HIST.replace('h_bucket{le="0.1"} 1', "h_bucket 1"), "no le")

    def test_histogram_checked_when_followed_by_another_family(self):
        self.reject(HIST.replace("h_count 4", "h_count 5") + "# HELP g G\n# TYPE g gauge\ng 1\n",
                    "!= _count")


def strip_strata_arg(argv):
    """Drops `--strata PATH` / `--strata=PATH`: this test runs no server."""
    rest, i = [argv[0]], 1
    while i < len(argv):
        if argv[i] == "--strata":
            i += 2
            continue
        if not argv[i].startswith("--strata="):
            rest.append(argv[i])
        i += 1
    return rest


if __name__ == "__main__":
    unittest.main(argv=strip_strata_arg(sys.argv))
