"""The text a bench child program starts with to get a `harness.plugin.HihSession` outside pytest: the session's
command-line options stood in for by their defaults (the bench scripts that build connectors and mocks as the plugin
does, scenario by scenario)."""
from __future__ import annotations

SESSION = """
from harness.plugin import HihSession

class Options:
    values = {"--hih-contracts-dir": None, "--hih-contract": [], "--hih-contracts-checked": False,
              "--hih-connector": [], "--hih-timeout": 5.0}
    def getoption(self, name):
        return self.values[name]
"""
