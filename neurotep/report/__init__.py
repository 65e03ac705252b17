"""Reports of run directories: ``report.md``, a self-contained ``report.html``, PNG figures (spike
rasters, firing rates, activity over time, energy breakdown, cross-run scatter) and the recorded
spikes as NIR data. Entry point: :func:`write_report`; CLI: :mod:`neurotep.report.cli`."""

from neurotep.report.writer import write_report

__all__ = ["write_report"]
