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
