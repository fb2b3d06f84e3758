"""Numerical tests of built models: tolerances, group elements, equivariance and influence.

Nothing here imports escnn: functions take callables, representation matrices and duck-typed groups, so
the same code checks an escnn model at build time and a saved artifact later (``eqdesign verify``).
"""
