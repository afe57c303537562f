"""`python -m tools.sim`: the simulated Envoy and cloud on 127.0.0.1 until Ctrl-C (make sim)."""

from tools.sim import main

main()
