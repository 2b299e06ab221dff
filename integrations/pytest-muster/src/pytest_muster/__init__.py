"""pytest-muster: ties pytest's tests to the disruptions of a muster stack.

The plugin (``pytest_muster.plugin``) is loaded by pytest through the ``pytest11``
entry point ``muster`` and stays inert unless ``MUSTER_TESTS_FILE`` is set, which
``muster run`` does for the command it runs.
"""

__version__ = "0.1.0"
