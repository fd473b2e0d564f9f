#!/usr/bin/python3
"""Run the suite: /usr/bin/python3 tests/run.py [--strata PATH] [-v]

Equivalent to ``python3 -m unittest discover -s tests -t .`` from
clients/python with STRATA_BIN set; ``--strata PATH`` sets STRATA_BIN."""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
args = sys.argv[1:]
if "--strata" in args:
    i = args.index("--strata")
    os.environ["STRATA_BIN"] = os.path.abspath(args[i + 1])
    del args[i:i + 2]
sys.path.insert(0, root)
suite = unittest.defaultTestLoader.discover(here, top_level_dir=root)
result = unittest.TextTestRunner(verbosity=2 if "-v" in args else 1).run(suite)
sys.exit(0 if result.wasSuccessful() else 1)
