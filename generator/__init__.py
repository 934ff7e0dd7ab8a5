"""mu: a deterministic policy compiler and verifier (A = μ(O)).

The package is μ, the generator. Its stages live in separate modules
(load → validate → parse conditions → lower to IR → render → write); `cli.py`
is the only place that talks to a terminal.
"""

NAME = "mu"
__version__ = "0.1.0"
