"""`python -m simulation`: the same as `towline-simulate`."""

from simulation.cli import main

main()
