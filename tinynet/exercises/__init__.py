"""Exercises a learner fills in: ``tinynet exercises list``, ``start NAME``, ``check NAME``.

Each exercise is a short file to complete (``skeletons/NAME.py.template``: signatures, docstrings with the shapes
and the formulas to derive, and ``TODO``s) and a set of checks (``checks/NAME.py``: parts, each PASS or FAIL, a failure
saying what is wrong, where, and a hint). ``tinynet exercises check`` runs the checks on the learner's file in a
separate process with a time limit (``grading`` and ``runner``), so an endless loop or a crash is reported, not
hung. The list, in lesson order, is ``registry.EXERCISES``.
"""

from tinynet.exercises.registry import EXERCISES, Exercise, find

__all__ = ["EXERCISES", "Exercise", "find"]
