"""Google Drive and Docs: sign-in, reading a class's submissions, writing feedback.

- :mod:`~gradebot_cli.google.auth` finds credentials (environment, then the
  stored sign-in) and :mod:`~gradebot_cli.google.login` runs the browser sign-in.
- :mod:`~gradebot_cli.google.client` builds the Drive v3 and Docs v1 clients and
  runs every call with retries.
- :mod:`~gradebot_cli.google.source` is the Drive folder source and
  :mod:`~gradebot_cli.google.publish` writes feedback Docs.

Nothing here imports the Google client libraries at import time of this package,
so ``gradebot --help`` stays fast.
"""
