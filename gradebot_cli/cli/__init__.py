"""Click commands. Each command parses options, calls one core function, prints.

Command modules import only click and gradebot's light modules at import time, so
``gradebot --help`` never loads the Anthropic or Google clients.
"""
