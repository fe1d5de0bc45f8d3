"""The examples a newcomer runs first must run and give the right answers."""

import math
import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_recovers_the_exact_integral(capsys):
    ns = runpy.run_path(str(EXAMPLES / "quickstart.py"))
    r, f = ns["result"], ns["f"]
    assert abs(r.mean - f.exact) < 5 * r.sdev and r.sdev / f.exact < 1e-2
    assert "bootstrap median of max" in capsys.readouterr().out


def test_user_matrix_element_gives_the_textbook_cross_section():
    ns = runpy.run_path(str(EXAMPLES / "user_matrix_element.py"))
    r, exact = ns["result"], ns["sigma_exact"]
    assert math.isclose(exact, 10.4425, rel_tol=1e-4)
    assert abs(r.mean - exact) < 5 * r.sdev and r.sdev / exact < 1e-3


def test_multichannel_example_builds_channels_for_a_user_process():
    ns = runpy.run_path(str(EXAMPLES / "multichannel_channels.py"))
    mc, vegas = ns["results"]["multichannel-vegas"], ns["results"]["vegas"]
    assert ns["process"].channels()[1].ring == (1, 2, 3, 0)
    assert abs(mc.mean - vegas.mean) < 5 * math.hypot(mc.sdev, vegas.sdev)
    assert mc.sdev / mc.mean < 0.05
    assert abs(sum(ns["proposal"].weights) - 1) < 1e-12
