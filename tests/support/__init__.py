"""Helpers shared by the test suite: real databases, real server processes, spec checks.

Test modules import them as ``from support.spec import assert_matches`` (pytest puts
``tests/`` on ``sys.path`` because ``tests/conftest.py`` lives there).
"""
