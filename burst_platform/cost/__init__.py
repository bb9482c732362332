"""`burst cost`: what a useful GPU-hour costs on spot and on on-demand once interruptions,
checkpoints and restarts are paid for.

`model` holds the formulas (Daly's exact expected wall-clock time, the optimal checkpoint
interval, Young's and Daly's estimates, the break-even interruption rate), `simulate` a Monte-Carlo
simulation of the same process, `prices` the pinned price table, `cli` the subcommand.
"""
