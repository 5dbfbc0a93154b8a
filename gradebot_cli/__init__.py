"""gradebot: grade student work against a rubric with Claude.

The command-line tool lives in :mod:`gradebot_cli.cli`; the Python API for scripts
is in :mod:`gradebot_cli.api`. Importing this package stays cheap: the Anthropic
and Google clients load only when a command needs them.
"""

__version__ = "0.1.0"
