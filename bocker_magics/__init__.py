"""bocker-magics: a real Linux container engine in Python, with IPython magics and views.

The engine lives in :mod:`bocker_magics.engine`; the ``bocker`` command is
:mod:`bocker_magics.cli`.
"""

__version__ = "0.1.0"
