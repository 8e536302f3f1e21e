"""bocker-magics: a real Linux container engine in Python, with IPython magics and views.

The engine lives in :mod:`bocker_magics.engine`; the ``bocker`` command is
:mod:`bocker_magics.cli`.
"""

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # `%load_ext bocker_magics`
    """Register %bocker / %%bocker (IPython and the views are imported only now)."""
    from .magics import load

    load(ipython)


def unload_ipython_extension(ipython):  # `%unload_ext bocker_magics` (and %reload_ext)
    """Remove the magics and close the engine (its shim exits)."""
    from .magics import unload

    unload(ipython)
