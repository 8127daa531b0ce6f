"""What goes wrong in the grader itself (never in a student's code, which is recorded as data)."""


class GraderError(Exception):
    """Base of every error the grader raises; the CLI prints it as one line and exits non-zero."""


class SpecError(GraderError):
    """An assignment spec or its files are invalid. The message names the file and the field."""


class ReleaseError(GraderError):
    """A release could not be built or read (e.g. the public-test bundle is missing or corrupt)."""


class SandboxUnavailable(GraderError):
    """The requested isolation cannot be provided on this machine."""


class KernelStartError(GraderError):
    """A kernel could not be started at all (environment problem, not the submission's fault)."""
