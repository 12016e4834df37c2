"""The one thing pyproject.toml cannot say without setuptools' experimental table: the pairing
engine's compiled solver (pairing/_transport.c, plain C against Python's own headers, no
library).  It solves capacities above 1 about five times faster than lapx or scipy up to
1,000 per side, 2.5 times at 2,000 (pairing/README.md).  Optional: without a C compiler the install still succeeds and the engine
solves with lapx and scipy."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("pairing._transport", ["pairing/_transport.c"], optional=True)])
