"""``from pcapkit.plots import ladder`` is the function whatever was imported before (a
submodule of the same name would shadow it once imported)."""

import subprocess
import sys


def test_ladder_is_the_function_after_the_report_imported_the_module():
    code = ("import pcapkit.report.html, pcapkit.plots.ladders\n"
            "from pcapkit.plots import ladder\n"
            "assert callable(ladder) and ladder.__name__ == 'ladder', ladder\n")
    subprocess.run([sys.executable, "-c", code], check=True)
