"""Learning rules: EqProp (symmetric two-phase), BPTT baseline, training loop."""
