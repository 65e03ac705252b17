"""User-facing errors.

Every error a user can cause with bad input derives from :class:`NeurotepError`. The CLI prints
its message as one line on stderr and exits with code 2, so messages must say what is wrong and
how to fix it, in one sentence.
"""


class NeurotepError(Exception):
    """Base class for errors caused by bad input or a missing resource."""

    exit_code = 2


class GraphError(NeurotepError):
    """A graph is malformed: the message names the node and the exact problem."""


class ModelFileError(NeurotepError):
    """A saved network is missing, corrupt, truncated or of an unknown format version."""


class DataError(NeurotepError):
    """A data set is unknown, missing, or malformed."""


class BackendError(NeurotepError):
    """A backend or device was requested that is unknown or unavailable here."""


class MismatchError(NeurotepError):
    """Two runs that must agree spike for spike do not (``run --check-lava``): exit code 1, a
    failed check rather than bad input."""

    exit_code = 1


class RuleError(NeurotepError):
    """A learning rule or learning rate that Loihi's learning engine cannot express."""
