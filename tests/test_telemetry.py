import sys

import pytest

from functions.runtime.telemetry import InvocationMeter, ToolError, run_tool


def test_run_tool_measures_child_cpu():
    meter = InvocationMeter()
    burn = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.2: pass"
    run = run_tool([sys.executable, "-c", burn], meter)
    assert run.returncode == 0
    assert run.cpu_ms >= 150  # the child's own CPU, measured through wait4
    assert run.maxrss_mb > 1
    metrics = meter.finish()
    assert metrics["child_cpu_ms"] >= 150
    assert metrics["cpu_ms"] >= metrics["child_cpu_ms"]
    assert metrics["tools"][0]["tool"].startswith("python")


def test_run_tool_failure_has_stderr_tail():
    with pytest.raises(ToolError, match="boom"):
        run_tool([sys.executable, "-c", "import sys; sys.exit('boom')"])


def test_run_tool_timeout_kills():
    with pytest.raises(ToolError, match="timed out"):
        run_tool([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.3)
